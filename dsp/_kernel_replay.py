"""Kernel replays over the learning phase's buffer: back to row 0, over a span, and clean again.

The learning flow (:mod:`hipflex.dsp.learning_flow`) starts the session's
kernel at the thigh's pose at buffer row 0 (:func:`_rewind`), and the
flexion sign and the sensor's position (:mod:`hipflex.dsp.flexion_sign`)
are read from short runs of trial kernels over buffered rows
(:func:`_run_span`), which share one history array (:func:`_clear_history`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap import _pg_finish
from hipflex.dsp._kern_run import _run_chunk
from hipflex.dsp._kernel_setup import _EMPTY3, _EVENT_ROWS, _Kernel
from hipflex.dsp.learn import Calibration

if TYPE_CHECKING:
    from hipflex.dsp.stream_state import StreamState

__all__: list[str] = []  # private to the learning flow and the sign: its names are underscored


def _rewind(
    kern: _Kernel, state: StreamState, cal: Calibration, scratch: np.ndarray | None = None, ev: np.ndarray | None = None
) -> None:
    """Set the orientation of a fresh kernel to the thigh's at buffer row 0.

    The kernel starts at rest in the calibrated pose, which holds at the
    window, not at row 0 if the thigh moved before it.  Run backwards in time
    from the window (times, gyro and gyro bias negated) the same filters
    track the thigh back to row 0: the gyro turns "up" back exactly, and the
    pendulum model is the same backwards (its rate changes sign, its
    acceleration does not).  The state found there starts the forward run.
    ``scratch``: an all-zero array shaped as ``kern.hist`` for the backward
    run's history (left all zero again), instead of a copy of the fresh
    kernel's (all zero too).  ``ev``: scratch for the dropped events (:func:`_run_rows`).
    """
    s = cal.start_row
    if s <= 0:
        return
    back = _Kernel(kern.prm, kern.fstate.copy(), kern.ist.copy(), kern.hist.copy() if scratch is None else scratch)
    back.fstate[L.F_BIAS : L.F_BIAS + 3] = -cal.gyro_bias_dps
    t = np.ascontiguousarray(-state.buf_t[s::-1])
    acc = np.ascontiguousarray(state.buf_acc[s::-1])
    gyr = np.ascontiguousarray(-state.buf_gyr[s::-1]) if state.buf_gyr is not None else _EMPTY3
    _run_rows(back, t, acc, gyr, np.empty(t.shape[0]), ev)
    if back.fstate[L.F_PG_S] > 0.0:
        _pg_finish(back.prm, back.fstate, back.ist, back.hist)  # re-anchor "up" after a gap near row 0
    if scratch is not None:
        _clear_history(back)
    fstate = kern.fstate
    fstate[L.F_UP : L.F_UP + 3] = back.fstate[L.F_UP : L.F_UP + 3]
    fstate[L.F_G_EST] = back.fstate[L.F_G_EST]
    fstate[L.F_ZLP : L.F_ZLP + 3] = back.fstate[L.F_ZLP : L.F_ZLP + 3]
    fstate[L.F_ZANCHOR : L.F_ZANCHOR + 3] = back.fstate[L.F_ZANCHOR : L.F_ZANCHOR + 3]
    # The backward run's steps are the candidate's too (flexion_sign._identify's reuse).
    fstate[L.F_ID_XMIN] = min(fstate[L.F_ID_XMIN], back.fstate[L.F_ID_XMIN])
    # Pendulum state (theta, rate, acceleration): forwards the rate is negated,
    # and with it its covariances with the angle and the acceleration.
    flip = np.array([1.0, -1.0, 1.0])
    fstate[L.F_X : L.F_X + L.PX] = back.fstate[L.F_X : L.F_X + L.PX] * flip
    p = back.fstate[L.F_P : L.F_P + L.PX * L.PX].reshape(L.PX, L.PX)
    fstate[L.F_P : L.F_P + L.PX * L.PX] = (p * np.outer(flip, flip)).ravel()


def _clear_history(kern: _Kernel) -> None:
    """Zero what a run wrote into ``kern.hist`` (from fresh): the ring slots of the samples it processed.

    Every write to the history is to the slot of a processed sample (the step,
    the post-gap window's redraw, the rep smoother), so clearing those slots
    leaves the array as a fresh kernel's: a fraction of its size, where
    allocating a fresh one (megabytes, zeroed) cost more than the short run
    of a lever candidate.
    """
    n = int(kern.ist[L.I_SAMPLE])
    kern.hist[: min(n, kern.hist.shape[0])] = 0.0


def _run_span(kern: _Kernel, state: StreamState, start: int, stop: int, ev: np.ndarray | None = None) -> np.ndarray:
    """Run ``kern`` over buffer rows ``start:stop`` for its state alone (events dropped); the angle, deg.

    ``ev``: scratch for the dropped events (:func:`_run_rows`).
    """
    t = state.buf_t[start:stop]
    gyr = state.buf_gyr[start:stop] if state.buf_gyr is not None else _EMPTY3
    acc = state.buf_acc[start:stop]
    theta = np.full(t.shape[0], np.nan)
    _run_rows(kern, t, acc, gyr, theta, ev)
    return theta


def _event_scratch() -> np.ndarray:
    """An event buffer for :func:`_run_rows` (shape as the kernel's own), to share between replays."""
    return np.zeros((_EVENT_ROWS + 8, L.EV_N))


def _run_rows(
    kern: _Kernel, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, theta: np.ndarray, ev: np.ndarray | None = None
) -> None:
    """Run ``kern`` over rows (``t`` s, ``acc`` g, ``gyr`` deg/s), the angle into ``theta``; its events dropped.

    ``ev``: an :func:`_event_scratch` to write the dropped events into, left as they leave it (the kernels
    clear an event row before they fill it and read no other), so the lever search's ~70 replays share one:
    a fresh one is 460 kB zeroed.
    """
    if ev is None:
        ev = _event_scratch()
    done = 0
    while done < t.shape[0]:
        k, _ = _run_chunk(
            kern.prm, kern.fstate, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev
        )
        done += k

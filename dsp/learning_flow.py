"""The learning flow: calibration, the axis lock and the sign, and the kernel they start.

The streaming core (:mod:`hipflex.dsp.pipeline`) buffers rows until the rest
pose is known (:func:`learn`) and the sign of flexion is confirmed over
``sign_confirm_s`` after the lock; :func:`ready_kernel` then checks the
gyro's frame, fixes the axes and the sign, identifies an accelerometer-only
sensor's position, and returns a kernel set to the thigh's pose at the
buffer's first row (:func:`_rewind`).  The search primitives are in
:mod:`hipflex.dsp.learn`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kernel_replay import _rewind
from hipflex.dsp._kernel_setup import _Kernel, _make_kernel
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.departure_sign import departure_end
from hipflex.dsp.flexion_sign import reads_departure, sign_and_lever
from hipflex.dsp.gyro_frame import accelerometer_floor_deg, check_gyro_frame
from hipflex.dsp.identify import LeverFit
from hipflex.dsp.learn import (
    L_LOCK_ROW,
    L_SCANNED,
    Axes,
    Calibration,
    lock_axes,
    new_lock_state,
    scan_before,
    scan_lock,
)
from hipflex.dsp.no_stand import rest_at_first_row
from hipflex.dsp.other_pose import settled_elsewhere
from hipflex.dsp.quiet_window import Q_BEST_SCORE, find_quiet_window, new_quiet_state
from hipflex.dsp.rotation_set import rotation_axes
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.validate import check_gravity_g

__all__ = ["begin_lock", "correct_gyro", "learn", "ready_kernel", "rest_window"]

# Without a quiet window of calib_still_s, quiet windows this much shorter are
# searched (longest first) before the quietest full window is taken.
_SHORT_WINDOW_FRACTIONS = (0.5, 0.25)


def _quiet_window(
    settings: Settings,
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None,
    win_s: float,
    max_gap_s: float,
    period_s: float,
    qs: np.ndarray,
    *,
    force: bool,
    stillest: bool = False,
) -> Calibration | None:
    """:func:`find_quiet_window` over the rows with the settings' stillness thresholds (its search state ``qs``)."""
    return find_quiet_window(
        t,
        acc,
        gyr,
        win_s,
        settings.still_acc_g,
        settings.still_gyr_dps,
        max_gap_s,
        qs,
        force=force,
        period_s=period_s,
        stillest=stillest,
    )


def _short_quiet_window(
    settings: Settings,
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None,
    max_gap_s: float,
    period_s: float,
    fractions: tuple[float, ...] = _SHORT_WINDOW_FRACTIONS,
) -> tuple[Calibration, float, float] | None:
    """The stillest quiet window of the longest of ``_SHORT_WINDOW_FRACTIONS`` of ``calib_still_s`` that has one.

    Called when no window of ``calib_still_s`` in the rows is still: a shorter
    one that is (the pause before a squat, the stand after it) knows the rest
    pose and the gyro bias far better than a window through a movement, whose
    mean rate is no bias.  Of those the stillest, not the first: a brief pause
    at the bottom of a squat is less still than standing.

    Returns
    -------
    (Calibration, window_s, motion) or None
    """
    for frac in fractions:
        win_s = settings.calib_still_s * frac
        qs = new_quiet_state()

        if _quiet_window(settings, t, acc, gyr, win_s, max_gap_s, period_s, qs, force=False) is None:
            continue
        # The stillest of every window (reported as not quiet by the search).
        best = _quiet_window(settings, t, acc, gyr, win_s, max_gap_s, period_s, qs, force=False, stillest=True)
        assert best is not None
        return dataclasses.replace(best, quiet=True), win_s, float(qs[Q_BEST_SCORE])
    return None


def _in_a_short_recording(
    settings: Settings,
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None,
    max_gap_s: float,
    period_s: float,
) -> tuple[Calibration, float, float] | None:
    """The quietest window of a recording shorter than ``calib_still_s`` that moved all through, or None.

    No window of ``calib_still_s`` fits, quiet or not, and such a recording
    was not analysed at all: one-rep clips cut under 1 s (tuning clips 23,
    125, 140 and 181, with a gyro or without) were counted 0.  The quietest
    of the longest of :data:`_SHORT_WINDOW_FRACTIONS` that fits is taken, as
    a longer recording with no quiet window takes its quietest.  One that
    holds a quiet window of that length stood still: too short a stand to
    learn the rest pose from, it stays uncalibrated as before.

    Returns
    -------
    (Calibration, window_s, motion) or None
    """
    for frac in _SHORT_WINDOW_FRACTIONS:
        win_s = settings.calib_still_s * frac
        if t[-1] - t[0] < win_s:
            continue
        qs = new_quiet_state()
        cal = _quiet_window(settings, t, acc, gyr, win_s, max_gap_s, period_s, qs, force=True)
        if cal is None or cal.quiet:
            return None
        return cal, win_s, float(qs[Q_BEST_SCORE])
    return None


def learn(settings: Settings, state: StreamState, force: bool) -> StreamState:
    """Advance calibration and the axis lock over the buffered rows.

    Each search only looks at rows up to ``max_learn_s`` after its own start;
    the fallback (quietest window, evidence so far) is taken once a row past
    that limit has arrived, or at the end of the stream.  Both decisions thus
    depend on rows, not on where chunks happened to end.
    """
    t, acc, gyr = state.buf_t, state.buf_acc, state.buf_gyr
    if t.size == 0 or state.axes is not None:
        return state  # nothing yet, or locked and waiting for the sign window
    cal = state.cal
    qstate = state.qstate.copy()
    lstate = None if state.lstate is None else state.lstate.copy()
    if cal is None:
        lim = int(np.searchsorted(t, t[0] + settings.max_learn_s, side="right"))
        g_lim = None if gyr is None else gyr[:lim]
        max_gap_s = settings.max_bridge_gyro_s if gyr is not None else settings.max_interp_gap_s
        win_s = settings.calib_still_s
        period_s = state.timeline.period0_s
        t_lim, acc_lim, forced = t[:lim], acc[:lim], force or lim < t.size
        cal = _quiet_window(settings, t_lim, acc_lim, g_lim, win_s, max_gap_s, period_s, qstate, force=forced)
        score = float(qstate[Q_BEST_SCORE])
        if cal is not None and not cal.quiet:
            short = _short_quiet_window(settings, t_lim, acc_lim, g_lim, max_gap_s, period_s)
            if short is not None:
                cal, win_s, score = short
        elif cal is None and force and lim == t.size and t[-1] - t[0] < win_s:
            short = _in_a_short_recording(settings, t, acc, gyr, max_gap_s, period_s)
            if short is not None:
                cal, win_s, score = short
        if cal is not None and not cal.quiet:
            # A window that moved measures no bias: its mean rate is the motion's
            # (CMU-MBL's one-rep files, which never stand still: 3-80 deg/s), and
            # integrated as a bias it drifted the angle through the rep and
            # turned its sign.  The gyro's own zero is within a few deg/s
            # (_kern_still._MAX_BIAS_DPS bounds a still window's mean at 20).
            cal = dataclasses.replace(cal, gyro_bias_dps=np.zeros(3, dtype=np.float64))
        if cal is not None:
            check_gravity_g(cal.gravity_g, score)
            cal = dataclasses.replace(cal, window_s=win_s, motion=score)
            lstate = begin_lock(settings, t, acc, gyr, cal)
    axes = None
    if cal is not None and lstate is not None:
        lim = int(np.searchsorted(t, t[cal.end_row] + settings.max_learn_s, side="right"))
        gyr_lim = None if gyr is None else gyr[:lim]
        row = int(lstate[L_LOCK_ROW])
        if row < 0:
            row = scan_lock(t[:lim], acc[:lim], gyr_lim, cal, settings.lock_deg, lstate)
        if row >= 0 or force or lim < t.size:
            axes = lock_axes(cal, lstate, state.has_gyro)
    return dataclasses.replace(state, qstate=qstate, lstate=lstate, cal=cal, axes=axes)


def rest_window(settings: Settings, state: StreamState, start: int, stop: int) -> Calibration | None:
    """The stillest quiet window in buffer rows ``start:stop`` (a dwell in the rest pose), or None.

    Windows of ``calib_still_s`` first, then the shorter ones of
    :func:`_short_quiet_window`; rows are buffer rows.
    """
    t, acc = state.buf_t[start:stop], state.buf_acc[start:stop]
    gyr = None if state.buf_gyr is None else state.buf_gyr[start:stop]
    max_gap_s = settings.max_bridge_gyro_s if gyr is not None else settings.max_interp_gap_s
    found = _short_quiet_window(
        settings, t, acc, gyr, max_gap_s, state.timeline.period0_s, (1.0, *_SHORT_WINDOW_FRACTIONS)
    )
    if found is None:
        return None
    cal, win_s, score = found
    check_gravity_g(cal.gravity_g, score)
    return dataclasses.replace(
        cal, start_row=cal.start_row + start, end_row=cal.end_row + start, window_s=win_s, motion=score
    )


def ready_kernel(settings: Settings, state: StreamState, at_end: bool = False) -> tuple[StreamState, _Kernel | None]:
    """Once calibrated and locked, a kernel ready to run over the buffer from its first row (else None).

    The sign is confirmed over a fixed span after the lock row, so the
    kernel is ready once that span is buffered (or the stream ends).  If over
    that span the thigh came to rest in a clearly different pose and did not
    rest in the calibrated one again (:func:`hipflex.dsp.other_pose.settled_elsewhere`), the rest
    pose is re-learned there first, and the span runs on from the new lock.
    The rows before the calibration window are analysed too: the kernel
    starts at the thigh's pose at row 0, found by running the filter back
    from the window (:func:`_rewind`).
    """
    while True:
        if state.axes is None or state.cal is None or state.lstate is None:
            return state, None
        cal = state.cal
        lock_row = int(state.lstate[L_LOCK_ROW])
        if lock_row < 0:
            lock_row = max(cal.end_row, int(state.lstate[L_SCANNED]) - 1)
        stop = int(np.searchsorted(state.buf_t, state.buf_t[lock_row] + settings.sign_confirm_s, side="right"))
        if stop >= state.buf_t.size and not at_end:
            return state, None
        decided, new = settled_elsewhere(settings, state, cal, stop, at_end)
        if not decided:
            return state, None
        if new is None:
            break
        # The rest pose is re-learned: the calibration moves to the new
        # window (always later in the buffer, so this ends), the axes are
        # locked afresh from it, and the span to confirm the sign is counted
        # from the new lock.
        state = dataclasses.replace(
            state,
            cal=new,
            lstate=begin_lock(settings, state.buf_t, state.buf_acc, state.buf_gyr, new),
            axes=None,
            recalibrated_from_s=(*state.recalibrated_from_s, float(state.buf_t[cal.start_row])),
        )
        state = learn(settings, state, force=at_end)
    departed = 0
    if reads_departure(settings, state, cal):
        # The sign may be read from the first move out of the calibrated rest
        # (hipflex.dsp.departure_sign), which can come after the span.
        end = departure_end(state.buf_t, state.buf_acc, cal, stop, at_end)
        if end is None:
            return state, None
        departed = end
    if state.has_gyro:
        state, cal = _check_gyro_frame(state, cal, stop)
    assert state.axes is not None and state.lstate is not None
    axes = state.axes
    if state.has_gyro and state.buf_gyr is not None:
        # The flexion axis from all the motion until the sign is confirmed
        # (before the calibration window too), not only the first lock_deg of
        # the first excursion, which can be mostly a lift-off jolt (Eurobench
        # subject 03: 48 deg off the flexion axis).
        rate = state.buf_gyr[:stop] - cal.gyro_bias_dps
        rate = rate[~np.isnan(rate).any(axis=1)]
        axes = lock_axes(cal, state.lstate, True, rate.T @ rate)
        # A rotation about the thigh's long axis (standing hip rotation) tilts nothing.
        rot = rotation_axes(state.buf_t[:stop], state.buf_gyr[:stop], cal, min(settings.lock_deg, settings.min_rom_deg))
    else:
        rot = None
    if rot is None:
        # Before the sign and the lever: both are read from the rest pose (dsp/no_stand.py).
        cal, axes = rest_at_first_row(settings, state, cal, axes, stop)
        axes, lever = sign_and_lever(settings, state, cal, axes, stop, departed)
    else:
        axes, lever = rot, None
    kern = _start_kernel(settings, state, cal, axes, lever)
    kern.prm[L.P_AX_ROT] = 0.0 if rot is None else 1.0
    # The session's kernel learns the rep axis again at a set in another
    # plane or pose (dsp/_kern_axis.py; without a gyro, in another pose:
    # dsp/_kern_axis_acc.py), from the thigh's pose at row 0.
    kern.prm[L.P_AX_WATCH] = 1.0
    kern.fstate[L.F_AX_REF : L.F_AX_REF + 3] = _pose_at_row0(state.has_gyro, kern.fstate)
    # The still stretch a recording starts in is no rest between sets (as
    # in rest_pose): the rest is counted from the first excursion on.
    kern.fstate[L.F_AX_QUIET_S] = -math.inf
    state = dataclasses.replace(state, cal=cal, axes=axes, lever=lever)
    return state, kern


def begin_lock(
    settings: Settings, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, cal: Calibration
) -> np.ndarray:
    """A lock-scan state starting at ``cal``, with the rows before the window already read (backwards)."""
    lstate = new_lock_state(cal, acc, settings.tilt_tau_s, settings.still_gyr_dps, settings.gyro_bias_tau_s)
    # The thigh may have moved before it first rested (people press
    # record and start): those rows count as evidence too, and an
    # excursion among them locks the axes at once.
    scan_before(t, acc, gyr, cal, settings.lock_deg, lstate)
    return lstate


def _check_gyro_frame(state: StreamState, cal: Calibration, stop: int) -> tuple[StreamState, Calibration]:
    """Judge the gyro's frame on buffer rows ``cal.start_row:stop``; apply the correction it finds.

    The learning phase's rows are those the lock and the sign are decided
    on, so every later decision (axes, sign, angles) sees the corrected
    rate.  The correction is a fixed 3x3 matrix, applied to the whole buffer
    here and to every later chunk in :func:`step`; the bias measured on the
    stand turns with it.  A state that carries a verdict already (a re-run
    with the bias measured at the first rest, ``pipeline._rebias``, where
    the gyro was taken as given) keeps it.
    """
    gyr = state.buf_gyr
    assert gyr is not None
    check = state.gyro_frame
    if check is None:
        s = cal.start_row
        # Only a still stand's magnitude measures the accelerometer (a quietest
        # window's includes the motion: CMU-MBL's single-rep files, 0.8-1.05 g).
        floor = accelerometer_floor_deg(cal.gravity_g) if cal.quiet else 0.0
        check = check_gyro_frame(
            state.buf_t[s:stop], state.buf_acc[s:stop], gyr[s:stop], cal.gyro_bias_dps, cal.up, cal.gravity_g, floor
        )
        state = dataclasses.replace(state, gyro_frame=check)
    if check.verdict != "corrected":
        return state, cal
    m = check.matrix
    cal = dataclasses.replace(cal, gyro_bias_dps=np.ascontiguousarray(m @ cal.gyro_bias_dps))
    return dataclasses.replace(state, buf_gyr=np.ascontiguousarray(gyr @ m.T), cal=cal), cal


def correct_gyro(state: StreamState, gyr: np.ndarray) -> np.ndarray:
    """The chunk's gyro rows with the frame correction found in the learning phase (if any)."""
    check = state.gyro_frame
    if check is None or check.verdict != "corrected" or gyr.shape[0] == 0:
        return gyr
    return np.ascontiguousarray(gyr @ check.matrix.T)


def _pose_at_row0(has_gyro: bool, fstate: np.ndarray) -> np.ndarray:
    """ "Up" in the sensor frame at buffer row 0, as the session's axis watch reads it (unit vector).

    With a gyro the tilt filter's "up" (``F_UP``, run back to row 0 by
    :func:`_rewind`).  Without one ``F_UP`` is the calibrated rest pose, not
    the thigh's at row 0: the watch reads the pendulum filter's low-passed
    force (``F_ZLP``, also run back to row 0).  A recording that starts lying
    down before the first standing set would otherwise begin with the thigh
    90 deg from its reference: the lying stretch counted as a rest between
    sets, getting up held and taken for a set in another pose (tuning seeds
    with ``start=lying``: set 1 counted in the lying pose's axes).
    """
    up = fstate[L.F_UP : L.F_UP + 3]
    if has_gyro:
        return up.copy()
    f = fstate[L.F_ZLP : L.F_ZLP + 3]
    n = float(np.linalg.norm(f))
    return f / n if n > 0.0 else up.copy()


def _start_kernel(
    settings: Settings,
    state: StreamState,
    cal: Calibration,
    axes: Axes,
    lever: LeverFit | None,
    identify: bool = False,
) -> _Kernel:
    """A kernel ready to run from buffer row 0 (see :func:`_rewind`)."""
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever, identify)
    _rewind(kern, state, cal)
    return kern

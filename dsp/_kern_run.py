"""The per-sample main loop: timeline reconstruction, gap bridging, clip counting,
orientation and rep detection, over one chunk of rows.

One kernel serves live chunks and whole files: the state arrays carry
everything between calls, so any chunking gives the same result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_axis import _axis_release, _axis_watch
from hipflex.dsp._kern_axis_acc import _acc_watch
from hipflex.dsp._kern_clip import _CLIP_AXES, _CLIP_ROW, _clip_flags
from hipflex.dsp._kern_filters import _tilt_step_called
from hipflex.dsp._kern_gap import _pg_close, _pg_finish, _pg_needs_sum, _pg_start
from hipflex.dsp._kern_gap_acc import _APG_GAP_S, _APG_WINDOW_S, _apg_snap
from hipflex.dsp._kern_mode import per_mode
from hipflex.dsp._kern_pendulum import _pendulum_reanchor, _pendulum_step
from hipflex.dsp._kern_reps import _carry, _catch_up, _detect, _interrupt
from hipflex.dsp._layout import (
    EG_BRIDGED,
    EG_T_HAT,
    EG_T_IN,
    EV_GAP,
    EV_KIND,
    F_BIAS,
    F_JOLT,
    F_LAST_SIGMA,
    F_LOST_S,
    F_P,
    F_PERIOD,
    F_PG_CNT,
    F_PG_MAX_SHIFT,
    F_PG_S,
    F_PREV_ACC,
    F_PREV_GYR,
    F_PREV_OA,
    F_PREV_W,
    F_PREV_W2,
    F_REANCHOR_S,
    F_T_HAT,
    F_X,
    H_ACC,
    H_CLIP,
    H_DT,
    H_FLAG,
    H_FLAG_BRIDGED,
    H_FLAG_CLIPPED,
    H_JOLT,
    H_P,
    H_SIGMA,
    H_THETA,
    H_TIME,
    H_VEL,
    H_X,
    I_AX_HOLD,
    I_CAP,
    I_DET,
    I_GAPS,
    I_PG_END,
    I_PG_GAP0,
    I_SAMPLE,
    I_STARTED,
    P_AX_WATCH,
    P_HAS_GYRO,
    P_MAX_INTERP_S,
    REJ_GAP,
    REJ_UNFINISHED,
)

__all__: list[str] = []

# Timeline phase-locked loop gains (critically damped second order): the
# reconstructed time follows the input time column with jitter attenuated and
# tracks a sample period that differs from nominal (clock drift).
_PLL_ALPHA = 0.1
_PLL_BETA = 0.0025
# Over a gap longer than _REANCHOR_GAP_S (bridged or not) the gyro missed
# rotation: the bridge holds the orientation and, with a gyro, a post-gap window
# of _PG_WINDOW_S (about two strides, s) re-anchors it (see _kern_gap).  A
# straight line between the rates either side of 0.17 s inside a ballistic
# swing missed up to 8 deg, and the tilt pull, gated off while the thigh
# swings, left it in every peak of the set (0.25 s until session 7).
_REANCHOR_GAP_S = 0.1
_PG_WINDOW_S = 1.5
# ... and waits up to this much longer (s) for the thigh to turn at both ends
# of its sum (see _kern_filters._PG_SUM_MIN_S).
_PG_SEEK_S = 1.0
# A shorter gap is bridged with the rate linear between the rows either side,
# which misses the hump of a swing's rate inside it: a fifth of the rotation
# (a ballistic swing at 200 Hz turned 60 deg in 0.085 s, bridged 13 deg short,
# carried into every later peak of the set).  A post-gap window re-anchors to
# a deg or two, so it opens too when the thigh may have turned more than this
# (deg) in the gap: the gap times the larger rate either side.
_BRIDGE_TURN_DEG = 8.0
# ... and re-anchors by at most this fraction of that turn: the bridge is off
# by less, and a window's mean force tilted further is not gravity's (a runner
# speeding up or stopping: 0.3-0.8 g forward, 20-40 deg).
_BRIDGE_MISS_FRAC = 0.5
# Without a gyro, the detector carries its state across an unbridged gap up
# to this long (s) and reads on once the re-anchored filter has had
# _REANCHOR_SETTLE_S to converge (those rows are flagged as bridged): a hold's rise or
# descent that fell in the gap shows as a step.  Longer gaps end the rep.
_CARRY_GAP_S = 4.0
_REANCHOR_SETTLE_S = 0.3
# The detector waits for an open window, and its rep metrics read up to 90 %
# of the history ring back from the sample it reads, so the window (bridge
# included) may span at most this fraction of the ring: with the default
# history that is several seconds more than the longest window; with a short
# history_s the window ends early.
_PG_RING_DIV = 16
# Whether a kernel made by per_mode has a gyro: each of its two copies reads its
# own constant here (dsp/_kern_mode.py); this plain value only serves the plain
# functions (_run_chunk_py, _open_gap_py), which nothing calls.
_WITH_GYRO = True


def _process_py(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    t: float,
    ax: float,
    ay: float,
    az: float,
    gx: float,
    gy: float,
    gz: float,
    flag: float,
    clip: int,
    has_gyro: bool,
) -> float:
    """Orientation + history for one processed sample; returns theta, deg.

    ``clip`` holds the row's clip bits (``_clip_flags``).  The detector
    reads the history afterwards (``_catch_up``), at once or, after a gap,
    when the post-gap window has corrected it.  ``has_gyro``: the main
    loop's mode, a constant there (``dsp/_kern_mode.py``), so that only
    that mode's callees are compiled into it.
    """
    dt = fstate[F_PERIOD]
    if has_gyro:
        # Any axis at full scale: the row's direction is not gravity's.
        theta, vel = _tilt_step_called(prm, fstate, ax, ay, az, gx, gy, gz, dt, clip != 0)
        sig = 0.0
    else:
        theta, vel, sig = _pendulum_step(prm, fstate, ax, ay, az, dt, clip & _CLIP_AXES)
    fstate[F_LAST_SIGMA] = sig
    s = ist[I_SAMPLE]
    slot = s & (ist[I_CAP] - 1)
    if not has_gyro:
        # The posterior the rep smoother reads (_kern_smooth).
        for i in range(3):
            hist[slot, H_X + i] = fstate[F_X + i]
        hist[slot, H_P] = fstate[F_P]
        hist[slot, H_P + 1] = fstate[F_P + 1]
        hist[slot, H_P + 2] = fstate[F_P + 2]
        hist[slot, H_P + 3] = fstate[F_P + 4]
        hist[slot, H_P + 4] = fstate[F_P + 5]
        hist[slot, H_P + 5] = fstate[F_P + 8]
        hist[slot, H_DT] = dt
        # What the swing model did not explain (a foot strike's jolt; the rep
        # detector reads it after each swing's peak, for the walking classifier).
        hist[slot, H_JOLT] = fstate[F_JOLT]
        # What the filter read, for a re-run (the post-gap window, _kern_gap_acc; an axis hold).
        hist[slot, H_ACC] = ax
        hist[slot, H_ACC + 1] = ay
        hist[slot, H_ACC + 2] = az
        hist[slot, H_CLIP] = clip & _CLIP_AXES
    hist[slot, H_THETA] = theta
    hist[slot, H_VEL] = vel
    hist[slot, H_TIME] = t
    if fstate[F_REANCHOR_S] > 0.0:
        fstate[F_REANCHOR_S] -= dt
        flag = 1.0
    hist[slot, H_FLAG] = H_FLAG_BRIDGED if flag > 0.0 else (H_FLAG_CLIPPED if clip & _CLIP_ROW else 0.0)
    hist[slot, H_SIGMA] = sig
    fstate[F_T_HAT] = t
    ist[I_SAMPLE] = s + 1
    if has_gyro:
        theta = _axis_watch(prm, fstate, ist, hist, s, theta)  # the rep axis per set (dsp/_kern_axis.py)
    elif prm[P_AX_WATCH] > 0.0:
        # Without a gyro, from the pendulum filter's force (dsp/_kern_axis_acc.py).
        theta = _acc_watch(prm, fstate, ist, hist, s, theta, ax, ay, az, clip & _CLIP_AXES)
    if fstate[F_PG_S] > 0.0:
        fstate[F_PG_S] -= dt
        if fstate[F_PG_S] <= 0.0 or s + 1 - ist[I_PG_GAP0] >= ist[I_CAP] // _PG_RING_DIV:
            _pg_close(prm, fstate, ist, hist, has_gyro)
    return theta


@njit_borrowed_inline
def _acc_window(prm: np.ndarray, ist: np.ndarray, gap_s: float, overrun: bool) -> bool:
    """Whether a gap of ``gap_s`` opens the accelerometer-only post-gap window (``_kern_gap_acc``).

    A bridged gap longer than ``_APG_GAP_S`` without a gyro, unless an axis
    hold is on (the hold re-runs those rows itself).
    """
    return (
        prm[P_HAS_GYRO] <= 0.0
        and gap_s > _APG_GAP_S
        and gap_s <= prm[P_MAX_INTERP_S]
        and not overrun
        and ist[I_AX_HOLD] == 0
    )


def _open_gap_py(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
    t_hat: float,
    t_in: float,
    period: float,
    gap_s: float,
    steps: int,
    overrun: bool,
    turned: bool,
    turn_deg: float,
) -> tuple[int, float, int, float, bool, bool, bool]:
    """A gap of ``steps - 1`` rows (``gap_s``, s) before the row at ``t_in``, s: count it and open what it needs.

    Writes the gap's event; a gap too long to bridge (or that would overrun
    the history) interrupts or carries the detector and restarts the
    timeline at this row; a long gap with a gyro, or a short one the thigh
    may have turned ``turn_deg`` > ``_BRIDGE_TURN_DEG`` in (``turned``),
    opens a post-gap window.

    Called, not inlined into ``_run_chunk``: gaps are rare, and the main
    loop's compile (the first run's critical path) need not type and
    optimise this block; it compiles in the ``rep_ends`` group
    (``dsp/_precompile.py``), one kernel per mode (``_open_gap_gyro``,
    ``_open_gap_acc``; ``dsp/_kern_mode.py``).

    Returns
    -------
    n_ev : int
        Event rows now in ``ev``.
    t_hat : float
        The reconstructed time of the row before this one, s.
    n_bridge : int
        Rows to bridge (0 unless bridged).
    steps_f : float
        ``steps`` when bridged, else 1.
    hold, window, reanchored : bool
        The bridge holds the orientation (a gap longer than
        ``_REANCHOR_GAP_S``); a post-gap window opened; the pendulum
        filter re-anchored (no gyro, not bridged).
    """
    has_gyro = _WITH_GYRO
    n_bridge = 0
    steps_f = 1.0
    reanchored = False
    fstate[F_LOST_S] += gap_s
    ist[I_GAPS] += 1
    bridged = gap_s <= prm[P_MAX_INTERP_S] and not overrun
    ev[n_ev, :] = 0.0
    ev[n_ev, EV_KIND] = EV_GAP
    ev[n_ev, EG_T_HAT] = t_hat
    ev[n_ev, EG_T_IN] = t_in
    ev[n_ev, EG_BRIDGED] = 1.0 if bridged else 0.0
    n_ev += 1
    hold = gap_s > _REANCHOR_GAP_S
    window = (hold and has_gyro) or turned
    acc_window = _acc_window(prm, ist, gap_s, overrun)
    if not bridged:
        # Too long to bridge: restart the timeline here and let the
        # accelerometer re-anchor; close what the detector holds
        # unless it carries across (see _CARRY_GAP_S).
        if has_gyro:
            n_ev = _interrupt(prm, fstate, ist, hist, ev, n_ev, REJ_GAP)
        else:
            if gap_s > _CARRY_GAP_S:
                n_ev = _interrupt(prm, fstate, ist, hist, ev, n_ev, REJ_GAP)
            else:
                n_ev = _carry(prm, fstate, ist, hist, ev, n_ev)
            _pendulum_reanchor(fstate)
            fstate[F_REANCHOR_S] = _REANCHOR_SETTLE_S
            reanchored = True
        fstate[F_PREV_W] = 0.0
        fstate[F_PREV_W + 1] = 0.0
        fstate[F_PREV_W + 2] = 0.0
        fstate[F_PREV_W2] = 0.0
        fstate[F_PREV_W2 + 1] = 0.0
        fstate[F_PREV_W2 + 2] = 0.0
        fstate[F_PREV_OA] = 0.0
        t_hat = t_in - period
    if window:
        _pg_start(fstate, ist, _PG_WINDOW_S + _PG_SEEK_S + (gap_s if bridged else 0.0))
        if turned and not hold:
            fstate[F_PG_MAX_SHIFT] = _BRIDGE_MISS_FRAC * turn_deg
    elif acc_window:
        _pg_start(fstate, ist, _APG_WINDOW_S + gap_s)
        _apg_snap(fstate)
        window = True
    if bridged:
        n_bridge = steps - 1
        steps_f = steps
    return n_ev, t_hat, n_bridge, steps_f, hold, window, reanchored


_open_gap_gyro, _open_gap_acc = per_mode(_open_gap_py, njit_borrowed)


def _open_gap(prm: np.ndarray, *args: Any) -> tuple[int, float, int, float, bool, bool, bool]:
    """``_open_gap_py`` from Python: the kernel of ``prm``'s mode."""
    return (_open_gap_gyro if prm[P_HAS_GYRO] > 0.0 else _open_gap_acc)(prm, *args)


# _run_chunk calls the per-sample step at one place, for the first row, the rows
# bridged over a gap and the regular rows alike, and numba inlines it there: the
# per-sample tree (_tilt_step, ...) is typed and optimised once.  Inlined at three
# places it was compiled three times over (84 of the first run's ~100 s of
# compiling; benchmarks/README.md, "The first run"); called, every regular row
# paid for the call (1.83 -> 1.75x VQF.updateBatch in one quiet run); inlined at
# the regular row and called at the two rare places, twice.
_process_inline = njit_borrowed_inline(_process_py)


def _run_chunk_py(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray,
    out_theta: np.ndarray,
    ev: np.ndarray,
) -> tuple[int, int]:
    """Process rows until the input ends or the event buffer is nearly full.

    Parameters
    ----------
    time_s : ndarray, shape (n,)
    acc_g, gyr_dps : ndarray, shape (n, 3)
        ``gyr_dps`` is ignored (may be an empty (n, 3) array) without gyro.
    out_theta : ndarray, shape (n,)
        Flexion angle at each input row, deg (NaN for dropped rows).
    ev : ndarray, shape (m, 14)
        Event rows written from 0.

    Returns
    -------
    rows_done, n_events : int

    Notes
    -----
    Compiled once per mode (``_run_chunk_gyro``, ``_run_chunk_acc``;
    ``dsp/_kern_mode.py``): each copy types and compiles only its mode's
    per-sample step, post-gap window and axis watch.
    """
    has_gyro = _WITH_GYRO
    n = time_s.shape[0]
    # int(0) is an int64, not the literal 0: numba compiles a called kernel once per
    # distinct literal argument, so this would make a second _catch_up (and
    # _close_rep, _rep_metrics under it) specialised on that constant.
    n_ev = int(0)  # noqa: UP018, RUF046
    max_ev = ev.shape[0] - 4
    if fstate[F_PG_S] <= 0.0:
        n_ev = _catch_up(prm, fstate, ist, hist, ev, n_ev, max_ev)
    k = 0
    while k < n and n_ev < max_ev:
        t_in = time_s[k]
        ax = acc_g[k, 0]
        ay = acc_g[k, 1]
        az = acc_g[k, 2]
        gx = 0.0
        gy = 0.0
        gz = 0.0
        if has_gyro:
            gx = gyr_dps[k, 0]
            gy = gyr_dps[k, 1]
            gz = gyr_dps[k, 2]
        if math.isnan(t_in + ax + ay + az + gx + gy + gz):
            out_theta[k] = math.nan
            k += 1
            continue
        period = fstate[F_PERIOD]
        started = ist[I_STARTED] != 0
        missing = 0
        gap_s = 0.0
        overrun = False
        turned = False
        merged = False
        turn_deg = 0.0
        reanchored = False
        if started:
            since_s = t_in - fstate[F_T_HAT]
            if period > 0.0 and since_s < 1.4 * period:
                # The common row: no gap (the rounded count below is at most 1,
                # with room for rounding), without its division.
                steps = 1
            else:
                steps = math.floor(since_s / period + 0.5)
                if steps < 1:
                    steps = 1
            missing = steps - 1
            gap_s = missing * period
            # A gap that opens a window or interrupts the detector: settle the
            # previous window and the detector first.  Shorter gaps are bridged
            # inside an open window (a lost row must not end it after a few
            # samples: "up" would be re-anchored on them alone).
            # A bridge may not overrun the history the detector still reads
            # (a period taken from rows stamped 1 us apart made one gap of
            # 0.1 s 100,000 rows, which overwrote the rep in progress).
            overrun = missing > ist[I_CAP] // _PG_RING_DIV
            if has_gyro and missing > 0 and gap_s <= _REANCHOR_GAP_S:
                w_new = gx * gx + gy * gy + gz * gz
                w_old = (
                    fstate[F_PREV_GYR] * fstate[F_PREV_GYR]
                    + fstate[F_PREV_GYR + 1] * fstate[F_PREV_GYR + 1]
                    + fstate[F_PREV_GYR + 2] * fstate[F_PREV_GYR + 2]
                )
                turn_deg = gap_s * math.sqrt(max(w_new, w_old))
                turned = turn_deg > _BRIDGE_TURN_DEG
                if (
                    turned
                    and fstate[F_PG_S] > 0.0
                    and gap_s <= prm[P_MAX_INTERP_S]
                    and not overrun
                    and _pg_needs_sum(ist, hist)
                ):
                    # A window whose sum re-anchors is kept open across
                    # this gap too (bridged inside it), and its sum then
                    # re-anchors both: closed here, it re-anchored on a
                    # sum of a fraction of a second, no gravity (a ballistic
                    # swing at +-2 g, most rows clipped: 0.17 s between two
                    # gaps turned "up" 25 deg, 12 deg more than the first
                    # bridge had missed, into every later peak of the set).
                    turned = False
                    merged = True
            settle = (
                gap_s > prm[P_MAX_INTERP_S]
                or overrun
                or (has_gyro and gap_s > _REANCHOR_GAP_S)
                or turned
                or (missing > 0 and _acc_window(prm, ist, gap_s, overrun))
            )
            if missing > 0 and settle and (fstate[F_PG_S] > 0.0 or ist[I_DET] < ist[I_SAMPLE]):
                _axis_release(ist)
                if fstate[F_PG_S] > 0.0:
                    _pg_close(prm, fstate, ist, hist, has_gyro)
                n_ev = _catch_up(prm, fstate, ist, hist, ev, n_ev, max_ev)
                if ist[I_DET] < ist[I_SAMPLE]:
                    break  # no room for the events: this row again next call
        clip = _clip_flags(prm, fstate, ist, ax, ay, az)
        # Rows bridged over a gap go through the same call of the per-sample
        # step as this row (iterations before it), so that numba compiles the
        # step once, inlined, instead of a second, called copy for them.
        n_bridge = 0
        steps_f = 1.0
        hold = False
        window = False
        t_hat = fstate[F_T_HAT]
        if started and missing > 0:
            if has_gyro:
                n_ev, t_hat, n_bridge, steps_f, hold, window, reanchored = _open_gap_gyro(
                    prm, fstate, ist, hist, ev, n_ev, t_hat, t_in, period, gap_s, steps, overrun, turned, turn_deg
                )
                if merged:
                    # The window's span does not shrink by the bridge, and it may
                    # re-anchor by what this bridge too can have missed.
                    fstate[F_PG_S] += gap_s
                    if fstate[F_PG_MAX_SHIFT] > 0.0:
                        fstate[F_PG_MAX_SHIFT] += _BRIDGE_MISS_FRAC * turn_deg
            else:
                # (Without a gyro ``turned`` stays the constant False, a literal to numba:
                # bool() keeps the one signature _precompile compiles.)
                n_ev, t_hat, n_bridge, steps_f, hold, window, reanchored = _open_gap_acc(
                    prm, fstate, ist, hist, ev, n_ev, t_hat, t_in, period, gap_s, steps, overrun, bool(turned), turn_deg
                )
        j = 1
        while True:
            if j <= n_bridge:
                # Linear bridge in every channel; flagged in the history.
                # Over a longer gap interpolating the rate invents rotation
                # (a swing's up and down rates do not average linearly), so
                # the orientation is held; the post-gap window re-anchors it
                # and redraws the bridge (the accelerometer-only filter
                # takes the bridged rows as measurements).  Inside a window
                # bridged rows are no measurements (processed as clipped).
                f = j / steps_f
                th = t_hat + j * period
                bx = fstate[F_PREV_ACC] + f * (ax - fstate[F_PREV_ACC])
                by = fstate[F_PREV_ACC + 1] + f * (ay - fstate[F_PREV_ACC + 1])
                bz = fstate[F_PREV_ACC + 2] + f * (az - fstate[F_PREV_ACC + 2])
                if hold:
                    hx = fstate[F_BIAS]
                    hy = fstate[F_BIAS + 1]
                    hz = fstate[F_BIAS + 2]
                else:
                    hx = fstate[F_PREV_GYR] + f * (gx - fstate[F_PREV_GYR])
                    hy = fstate[F_PREV_GYR + 1] + f * (gy - fstate[F_PREV_GYR + 1])
                    hz = fstate[F_PREV_GYR + 2] + f * (gz - fstate[F_PREV_GYR + 2])
                flag = 1.0
                row_clip = _CLIP_ROW if fstate[F_PG_S] > 0.0 else 0
            else:
                if not started:
                    ist[I_STARTED] = 1
                    fstate[F_T_HAT] = t_in
                    th = t_in
                else:
                    if n_bridge > 0:
                        t_hat = fstate[F_T_HAT]
                    if window:
                        ist[I_PG_END] = ist[I_SAMPLE]
                        fstate[F_PG_CNT] = 0.0  # the window's sum starts at this row
                        # The rate before this row was not measured: its angular
                        # acceleration is unknown (NaN; see _tilt_step).
                        fstate[F_PREV_OA] = math.nan
                    pred = t_hat + period
                    err = t_in - pred
                    th = pred + _PLL_ALPHA * err
                    fstate[F_PERIOD] = period + _PLL_BETA * err
                bx = ax
                by = ay
                bz = az
                hx = gx
                hy = gy
                hz = gz
                flag = 0.0
                row_clip = clip
            theta = _process_inline(prm, fstate, ist, hist, th, bx, by, bz, hx, hy, hz, flag, row_clip, has_gyro)
            if j > n_bridge:
                break
            j += 1
        if reanchored:
            # No prediction links this row to the one before the gap: the
            # rep smoother must not carry it back (_kern_smooth).
            hist[(ist[I_SAMPLE] - 1) & (ist[I_CAP] - 1), H_DT] = math.nan
        if fstate[F_PG_S] <= 0.0:
            d = ist[I_DET]
            if d == ist[I_SAMPLE] - 1 and ist[I_AX_HOLD] == 0 and n_ev < max_ev:
                # The common case, inlined: the detector reads the sample just
                # processed.  (_catch_up is a call: after a window it has many.)
                n_ev = _detect(prm, fstate, ist, hist, d, hist[d & (ist[I_CAP] - 1), H_THETA], ev, n_ev)
                ist[I_DET] = d + 1
            else:
                n_ev = _catch_up(prm, fstate, ist, hist, ev, n_ev, max_ev)
        fstate[F_PREV_ACC] = ax
        fstate[F_PREV_ACC + 1] = ay
        fstate[F_PREV_ACC + 2] = az
        fstate[F_PREV_GYR] = gx
        fstate[F_PREV_GYR + 1] = gy
        fstate[F_PREV_GYR + 2] = gz
        out_theta[k] = theta
        k += 1
    return k, n_ev


_run_chunk_gyro, _run_chunk_acc = per_mode(_run_chunk_py, njit_borrowed)


def _run_chunk(prm: np.ndarray, *args: Any) -> tuple[int, int]:
    """``_run_chunk_py`` from Python (same arguments): the main loop kernel of ``prm``'s mode."""
    return (_run_chunk_gyro if prm[P_HAS_GYRO] > 0.0 else _run_chunk_acc)(prm, *args)


def _finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray) -> tuple[int, bool]:
    """End of the stream: close a post-gap window, let the detector catch up, close an open rep.

    Returns the number of event rows and whether everything is done (call
    again with an emptied ``ev`` when it is not).

    Plain Python calling the compiled kernels, a few calls per stream: compiled,
    it linked ``_pg_finish``, ``_catch_up`` and ``_interrupt`` (with the rep
    metrics under them) into its own module and had LLVM optimise and emit them
    again, ~0.5 s of a first run's compile in the main loop's group for no work
    of its own.  Python ints reach the kernels as int64 and the rejection code
    as a float64, the signatures ``dsp/_precompile.py`` compiles.
    """
    if fstate[F_PG_S] > 0.0:
        _pg_finish(prm, fstate, ist, hist)
    ist[I_AX_HOLD] = 0  # _axis_release: a hold ends undecided, the detector reads on
    n_ev = int(_catch_up(prm, fstate, ist, hist, ev, 0, int(ev.shape[0]) - 4))
    if ist[I_DET] < ist[I_SAMPLE]:
        return n_ev, False
    return int(_interrupt(prm, fstate, ist, hist, ev, n_ev, float(REJ_UNFINISHED))), True

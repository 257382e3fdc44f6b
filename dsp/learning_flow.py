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
from collections.abc import Callable

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap import _pg_finish
from hipflex.dsp._kern_run import _run_chunk
from hipflex.dsp._kernel_setup import _EMPTY3, _EVENT_ROWS, _Kernel, _make_kernel
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gyro_frame import check_gyro_frame
from hipflex.dsp.identify import LeverFit, identify_lever
from hipflex.dsp.learn import (
    L_LOCK_ROW,
    L_SCANNED,
    Q_BEST_SCORE,
    Axes,
    Calibration,
    find_quiet_window,
    lock_axes,
    new_lock_state,
    new_quiet_state,
    scan_before,
    scan_lock,
)
from hipflex.dsp.other_pose import settled_elsewhere
from hipflex.dsp.rotation_set import rotation_axes
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.validate import check_gravity_g

__all__ = ["begin_lock", "correct_gyro", "learn", "ready_kernel", "rest_window"]

# The sensor-position search judges its candidates within at least this much
# extension behind standing (deg), even where the tracking filter is held closer
# (``pendulum_max_extension_deg``, 40): the true position's trace overshoots a
# runner's backward swing for a moment (a sensor 10 cm in front of the femur:
# its centripetal term near 1 g), and held at a tighter bound it fitted worse
# than a wrong position (12 cm in front identified as 18 cm behind).
_ID_MIN_EXTENSION_DEG = 60.0

# Without a gyro, rows further apart than this (below 20 Hz) whose trace is
# ambiguous (neither way's excursions _CLEAR_EXCURSION_RATIO times the other's)
# leave the flexion sign to the likelihood of the identified model's two mirror
# images (:func:`_sign_by_likelihood`): at 12.5 Hz a stride's swing spans 3-5
# rows, the trace spins through +-120 deg both ways and its excursions come out
# alike (tuning strides traced mirrored: 1.1-2.1 times, the likelihood right;
# where the trace was right at 12.5 Hz it was decisive, 4.9 times and more, and
# the likelihood wrong in ballistic kicks, holds and marches).  At 25 Hz and
# above an ambiguous trace is still the better witness (tuning strides where
# the two disagreed and the trace was ambiguous: the likelihood right in 9 of 20).
_TRACE_SIGN_MAX_PERIOD_S = 0.05
_CLEAR_EXCURSION_RATIO = 3.0

# Without a quiet window of calib_still_s, quiet windows this much shorter are
# searched (longest first) before the quietest full window is taken.
_SHORT_WINDOW_FRACTIONS = (0.5, 0.25)


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

        def search(force: bool, qs: np.ndarray = qs, win_s: float = win_s) -> Calibration | None:
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
            )

        if search(False) is None:
            continue
        while search(False) is not None:
            pass  # every quiet window, for the stillest
        best = search(True)  # the stillest window seen (reported as not quiet by the search)
        assert best is not None
        return dataclasses.replace(best, quiet=True), win_s, float(qs[Q_BEST_SCORE])
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
        cal = find_quiet_window(
            t[:lim],
            acc[:lim],
            g_lim,
            win_s,
            settings.still_acc_g,
            settings.still_gyr_dps,
            max_gap_s,
            qstate,
            force=force or lim < t.size,
            period_s=state.timeline.period0_s,
        )
        score = float(qstate[Q_BEST_SCORE])
        if cal is not None and not cal.quiet:
            short = _short_quiet_window(settings, t[:lim], acc[:lim], g_lim, max_gap_s, state.timeline.period0_s)
            if short is not None:
                cal, win_s, score = short
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
        axes, lever = _sign_and_lever(settings, state, cal, axes, stop)
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
    state = dataclasses.replace(state, axes=axes, lever=lever)
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
    stand turns with it.
    """
    gyr = state.buf_gyr
    assert gyr is not None
    s = cal.start_row
    check = check_gyro_frame(
        state.buf_t[s:stop], state.buf_acc[s:stop], gyr[s:stop], cal.gyro_bias_dps, cal.up, cal.gravity_g
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
    """"Up" in the sensor frame at buffer row 0, as the session's axis watch reads it (unit vector).

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


def _rewind(kern: _Kernel, state: StreamState, cal: Calibration, scratch: np.ndarray | None = None) -> None:
    """Set the orientation of a fresh kernel to the thigh's at buffer row 0.

    The kernel starts at rest in the calibrated pose, which holds at the
    window, not at row 0 if the thigh moved before it.  Run backwards in time
    from the window (times, gyro and gyro bias negated) the same filters
    track the thigh back to row 0: the gyro turns "up" back exactly, and the
    pendulum model is the same backwards (its rate changes sign, its
    acceleration does not).  The state found there starts the forward run.
    ``scratch``: an all-zero array shaped as ``kern.hist`` for the backward
    run's history (left all zero again), instead of a copy of the fresh
    kernel's (all zero too).
    """
    s = cal.start_row
    if s <= 0:
        return
    back = _Kernel(kern.prm, kern.fstate.copy(), kern.ist.copy(), kern.hist.copy() if scratch is None else scratch)
    back.fstate[L.F_BIAS : L.F_BIAS + 3] = -cal.gyro_bias_dps
    t = np.ascontiguousarray(-state.buf_t[s::-1])
    acc = np.ascontiguousarray(state.buf_acc[s::-1])
    gyr = np.ascontiguousarray(-state.buf_gyr[s::-1]) if state.buf_gyr is not None else _EMPTY3
    theta = np.empty(t.shape[0])
    ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
    done = 0
    while done < t.shape[0]:
        k, _ = _run_chunk(
            back.prm, back.fstate, back.ist, back.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev
        )
        done += k
    if back.fstate[L.F_PG_S] > 0.0:
        _pg_finish(back.prm, back.fstate, back.ist, back.hist)  # re-anchor "up" after a gap near row 0
    if scratch is not None:
        _clear_history(back)
    fstate = kern.fstate
    fstate[L.F_UP : L.F_UP + 3] = back.fstate[L.F_UP : L.F_UP + 3]
    fstate[L.F_G_EST] = back.fstate[L.F_G_EST]
    fstate[L.F_ZLP : L.F_ZLP + 3] = back.fstate[L.F_ZLP : L.F_ZLP + 3]
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


def _run_span(kern: _Kernel, state: StreamState, start: int, stop: int) -> np.ndarray:
    """Run ``kern`` over buffer rows ``start:stop`` for its state alone (events dropped); the angle, deg."""
    t = state.buf_t[start:stop]
    gyr = state.buf_gyr[start:stop] if state.buf_gyr is not None else _EMPTY3
    acc = state.buf_acc[start:stop]
    theta = np.full(t.shape[0], np.nan)
    ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
    done = 0
    while done < t.shape[0]:
        k, _ = _run_chunk(
            kern.prm, kern.fstate, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev
        )
        done += k
    return theta


def _sign_and_lever(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int
) -> tuple[Axes, LeverFit | None]:
    """The flexion sign and (accelerometer only, when identified) the sensor's place on the thigh.

    Without a gyro the sign is read from the trace of the identified model,
    not from one with no offset in front of the femur: in a fast stride the
    offset's centripetal term (``d theta'^2``, near 1 g for a sensor 8-10 cm
    in front) is read by a model without it as the thigh tilting backwards,
    so its backward excursions came out larger than the flexions and the
    whole session was traced the wrong way round (its peaks at the true
    troughs, a set counted 10 short).  The pendulum model maps onto itself
    under ``(w, theta, d) -> (-w, -theta, -d)``, so the identification (over
    an offset grid symmetric about the femur, with the thigh's range the
    same both ways) does not depend on the provisional sign, and the sign it
    leaves open is decided on its trace, or, below 20 Hz where the trace is
    ambiguous, on the likelihood of its two mirror images within the thigh's
    range (:func:`_sign_by_likelihood`).
    """
    if state.has_gyro or not settings.identify_lever:
        return _confirm_sign(settings, state, cal, axes, stop), None
    fit = _identify(settings, state, cal, axes, stop, symmetric=True)
    tie_break = None
    if fit.identified and cal.period_s > _TRACE_SIGN_MAX_PERIOD_S:

        def tie_break() -> Axes:
            return _sign_by_likelihood(settings, state, cal, axes, stop, fit)

    axes = _confirm_sign(settings, state, cal, axes, stop, fit if fit.identified else None, tie_break)
    # Once the sign is known, the position is identified again within the
    # thigh's own range: with extension allowed as far as flexion, a wrong
    # position could trace a stride's backward swings 90 deg and more behind
    # the standing line and fit them better than the right one (a front
    # sensor 27 cm down identified at 18 cm on the femur axis, peaks 30 deg off).
    return axes, _identify(settings, state, cal, axes, stop)


def _sign_by_likelihood(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int, fit: LeverFit
) -> Axes:
    """The flexion sign (accelerometer only) from the two mirror images of the identified model.

    ``fit`` was identified with the thigh's range the same both ways, where
    the model maps onto itself under ``(w, theta, d) -> (-w, -theta, -d)``
    and both signs fit alike.  The thigh's own range is not symmetric: it
    flexes to 70-90 deg in a stride, and extends 20-30 deg.  So each mirror
    image is run over the identification's rows within that range (extension
    to ``_ID_MIN_EXTENSION_DEG``, as the position search) and the sign whose
    innovations are the more likely is kept; traced the wrong way round, the
    flexions run into the extension bound and the innovations grow there.
    The excursions' sizes on one trace (:func:`_confirm_sign`) decided wrongly
    where the filter tracks a swing poorly: at 12.5-25 Hz, or clipped at
    +-2 g, the trace spun to +-120 deg both ways and a whole session was
    traced mirrored (tuning seeds 1203 and 9578, 12.5 Hz: sets 3-14 short).
    Used below 20 Hz where the trace is ambiguous only (``_TRACE_SIGN_MAX_PERIOD_S``).
    """
    flipped = Axes(axes.u, -axes.w, -axes.a)
    first = cal.start_row if state.recalibrated_from_s else 0
    nll: list[float] = []
    for ax, offset_m in ((axes, fit.sensor_offset_m), (flipped, -fit.sensor_offset_m)):
        kern = _make_kernel(settings, False, cal, ax, LeverFit(fit.lever_arm_m, offset_m, True, 0.0), True)
        kern.prm[L.P_THETA_MIN] = min(kern.prm[L.P_THETA_MIN], -math.radians(_ID_MIN_EXTENSION_DEG))
        if first == 0:
            _rewind(kern, state, cal)
        _run_span(kern, state, first, stop)
        nll.append(float(kern.fstate[L.F_NLL]))
    return axes if nll[0] <= nll[1] else flipped


def _confirm_sign(
    settings: Settings,
    state: StreamState,
    cal: Calibration,
    axes: Axes,
    stop: int,
    lever: LeverFit | None = None,
    tie_break: Callable[[], Axes] | None = None,
) -> Axes:
    """Make the thigh's larger excursions positive (flexion).

    ``lever`` (accelerometer only): the sensor's place the trace is computed
    with, identified under the provisional sign; by default the prior lever
    with no offset.  ``tie_break`` (accelerometer only): decides instead
    where neither way's excursions are ``_CLEAR_EXCURSION_RATIO`` times the
    other's.

    The lock takes its sign from the first excursion, which can be a step
    backwards, or (accelerometer only) a low-pass misled by the offset term of
    a front-mounted sensor during fast swings, or (calibrated after the first
    reps) nothing at all; the angle over buffer rows ``0:stop`` is a far more
    reliable witness.  It is read from
    the kernel's history once any post-gap window is closed: the live trace
    of a window is the gyro's uncorrected guess, which after a gap that hid a
    rise reads the following fall as a deep excursion the wrong way.
    """
    # Without a gyro, with no offset in front of the femur: then the pendulum
    # model is symmetric in the sign, and the two signs' traces mirror each
    # other.  With the prior offset one sign's filter can spin through +-180 deg
    # (a side-mounted sensor, whose true offset is ~0, in a march at 200 Hz),
    # and its garbage trace decided the sign.
    # The thigh's range must not break that symmetry either: a trace whose
    # flexions come out backwards is held at the extension bound (60 deg),
    # where the filter, fed a thigh beyond it, turns out garbage, and one
    # spurious spike forwards outweighed the whole set (a ballistic set
    # before the calibration window, 52 Hz, clipped at 4 g: every rep
    # counted the wrong way round).  The same bound both ways.
    if state.has_gyro:
        lever = None
    elif lever is None:
        lever = LeverFit(settings.lever_arm_m, 0.0, False, 0.0)
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever)
    kern.prm[L.P_THETA_MIN] = -kern.prm[L.P_THETA_MAX]
    _rewind(kern, state, cal)
    theta = _run_span(kern, state, 0, stop)
    if kern.fstate[L.F_PG_S] > 0.0:
        _pg_finish(kern.prm, kern.fstate, kern.ist, kern.hist)
    kept = kern.hist[: int(min(kern.ist[L.I_SAMPLE], kern.ist[L.I_CAP]))]
    if kept.shape[0] == 0:
        return axes
    # Rows older than the ring (a long learning phase) count with their live angle.
    older = theta[state.buf_t[:stop] < kept[:, L.H_TIME].min()]
    seen = np.concatenate([older, kept[:, L.H_THETA]])
    # An excursion leaves the rest pose and comes back.  Rows before the thigh
    # first came within candidate_deg of it (a recording that starts
    # mid-movement, one whose quietest window lies inside the only rep) show
    # the end of one at most, never its size.
    near = np.flatnonzero(np.abs(seen) <= settings.candidate_deg)
    seen = seen[near[0] :] if near.size else seen
    if np.all(np.isnan(seen)):
        return axes
    if state.has_gyro:
        # The gyro's angle: its extreme rows are measured excursions.
        forward = bool(np.nanmax(seen) >= -np.nanmin(seen))
    else:
        # The pendulum filter's: one row of it fed a clipped or gapped swing
        # can lie far out, and decided the sign the wrong way round.  The
        # excursions' sizes are the time spent how far out each way (the sums
        # of the angle's positive and negative parts), not two extreme rows.
        ahead = float(np.nansum(np.maximum(seen, 0.0)))
        behind = float(-np.nansum(np.minimum(seen, 0.0)))
        if tie_break is not None and max(ahead, behind) < _CLEAR_EXCURSION_RATIO * min(ahead, behind):
            return tie_break()
        forward = ahead >= behind
    if forward:
        return axes
    return Axes(axes.u, -axes.w, -axes.a)


def _identify(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int, symmetric: bool = False
) -> LeverFit:
    """Lever arm and offset of an accelerometer-only sensor, from the rows the sign is confirmed on.

    ``symmetric``: the thigh's range the same both ways and no prior offset,
    so the fit under one flexion sign mirrors that under the other (see
    :func:`_sign_and_lever`).

    After the rest pose was re-learned, only from the new calibration window
    on: before it the person got up from lying or sitting, which moves the
    hip, and a model of the thigh swinging about a fixed hip fitted to it
    put the sensor 9 cm off (then every swing's angle is wrong).
    """
    first = cal.start_row if state.recalibrated_from_s else 0
    # Every candidate's kernel is this one with its lever and offset set
    # (nothing else in a kernel depends on them), and runs in one history
    # array, cleared after each run (see _clear_history), as is the backward
    # run's: a fresh kernel per candidate allocated and zeroed megabytes.
    proto = _make_kernel(settings, state.has_gyro, cal, axes, LeverFit(0.0, 0.0, True, 0.0), True)
    scratch = np.zeros_like(proto.hist) if first == 0 and cal.start_row > 0 else None

    scales: dict[tuple[float, float], float] = {}

    def nll(lever_arm_m: float, sensor_offset_m: float) -> float:
        prm = proto.prm.copy()
        prm[L.P_LEVER_M] = lever_arm_m
        prm[L.P_OFFSET_M] = sensor_offset_m
        if symmetric:
            prm[L.P_THETA_MIN] = -prm[L.P_THETA_MAX]
        else:
            prm[L.P_THETA_MIN] = min(prm[L.P_THETA_MIN], -math.radians(_ID_MIN_EXTENSION_DEG))
        kern = _Kernel(prm, proto.fstate.copy(), proto.ist.copy(), proto.hist)
        if first == 0:
            _rewind(kern, state, cal, scratch)
        # else: the kernel starts at rest in the calibrated pose, where the window is.
        _run_span(kern, state, first, stop)
        _clear_history(kern)
        n = float(kern.fstate[L.F_ID_N])
        # Mean normalised innovation squared per component (2 a row).
        scales[(lever_arm_m, sensor_offset_m)] = float(kern.fstate[L.F_ID_NIS]) / (2.0 * n) if n > 0 else math.inf
        return float(kern.fstate[L.F_NLL])

    prior_offset_m = 0.0 if symmetric else settings.sensor_offset_m
    return identify_lever(nll, settings.lever_arm_m, prior_offset_m, lambda lev, off: scales[(lev, off)])

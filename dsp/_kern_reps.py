"""Rep detection: the hysteresis state machine over the angle history.

The detector sees one processed sample at a time.  A rep is a rise of at
least ``min_rom`` from a local low, confirmed when theta falls ``min_rom``
below the peak (the live "peak" event), and closed when theta either starts
the next rise or has set no new low for ``settle_s`` (the final "rep" event
with every metric, measured by :mod:`hipflex.dsp._kern_rep_metrics` from the
ring-buffered history of theta, its rate and the sample times).  A rise not
confirmed yet ends as a rejected candidate when theta comes back into its
bottom quarter and turns up again (``_swing_over``): walking steps that never
quite return to the first low are each their own swing.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_axis import _axis_report
from hipflex.dsp._kern_gap import _peak_drawn_in_gap
from hipflex.dsp._kern_rep_metrics import _h, _rep_metrics
from hipflex.dsp._kern_smooth import _smooth_span
from hipflex.dsp._layout import (
    E_CONF,
    E_END,
    E_FLEX_T,
    E_HOLD,
    E_MEAN_VEL,
    E_PEAK_DEG,
    E_PEAK_T,
    E_PEAK_VEL,
    E_ROM,
    E_START,
    E_STRIKE_G,
    EJ_REASON,
    EJ_ROM,
    EJ_T,
    EP_PEAK_DEG,
    EP_ROM,
    EP_T,
    EV_KIND,
    EV_PEAK,
    EV_REJECT,
    F_CAND_PEAK,
    F_LOW,
    F_MREF,
    F_MT0,
    F_PEAK,
    F_RLOW,
    F_TROUGH,
    H_FLAG,
    H_FLAG_BRIDGED,
    H_JOLT,
    H_STHETA,
    H_SVEL,
    H_THETA,
    H_TIME,
    H_VEL,
    I_AX_HOLD,
    I_AX_NEW,
    I_CAND_ACTIVE,
    I_CAND_IDX,
    I_CAP,
    I_DET,
    I_LOW_IDX,
    I_PEAK_IDX,
    I_PHASE,
    I_RESTED,
    I_RLOW_IDX,
    I_SAMPLE,
    I_TROUGH_IDX,
    P_CAND,
    P_HAS_GYRO,
    P_HOLD_BAND,
    P_ID,
    P_MIN_ROM,
    P_SET_GAP_S,
    P_SETTLE_S,
    PHASE_FALL,
    PHASE_RISE,
    PHASE_SEEK,
    REJ_GAP,
    REJ_RESTED,
    REJ_ROM,
    REJ_TOO_LONG,
)

__all__: list[str] = []

# Metrics need the samples around the low, so a rep may use at most this
# fraction of the history ring.
_MAX_REP_FRACTION = 0.9
# Longest time from a rep's low to min_rom above it, s.  No drill's rise takes
# this long (slow strength reps take 1-3 s); without it a filter's dip after a
# hold stayed the low of a rest for 11 s, and a 16 deg fidget counted as a rep.
_MAX_RISE_S = 6.0
# The thigh rests once theta has stayed within half of candidate_deg (the
# smallest excursion the detector considers) of one level for this long, s.
# A rest re-bases a stale low: a rep's low is where the thigh was when the
# motion that made it began, not a low from before the rest.
_REST_S = 1.0
# A low set during a rest is renewed at a theta within this fraction of
# candidate_deg of it (sensor noise at rest is ~0.1 deg; the band is 0.8 deg
# at the default candidate_deg).
_RENEW_FRACTION = 0.1
# ... once it is a rest old.  Ages on a regular sample grid tie with _REST_S
# exactly, and clocks that differ in the last bits (the kernel's and its
# twin's re-timing) fall either side of a tie: a microsecond's margin, far
# below any sample period, keeps every implementation on the same side.
_RENEW_AGE_S = _REST_S + 1e-6


# The event rows the detector writes now and then (a few per rep) are called
# kernels, not inlined: the detector is inlined into the main loop and into
# _catch_up, both on a first run's critical path of compiling, and each inlined
# copy of an event row is compiled again (benchmarks/README.md, "The first run").


@njit_borrowed
def _emit_reject(ev: np.ndarray, n_ev: int, t: float, reason: float, rom: float) -> int:
    """A rejected-candidate event row at ``n_ev``; the rows written.

    ``t``: the candidate's time, s; ``reason``: a ``REJ_*`` code; ``rom``: its rise, deg.
    """
    ev[n_ev, :] = 0.0
    ev[n_ev, EV_KIND] = EV_REJECT
    ev[n_ev, EJ_T] = t
    ev[n_ev, EJ_REASON] = reason
    ev[n_ev, EJ_ROM] = rom
    return n_ev + 1


@njit_borrowed
def _emit_peak(ev: np.ndarray, n_ev: int, t: float, peak_deg: float, rom: float) -> int:
    """A peak event row (the live "peak") at ``n_ev``; the rows written.

    ``t``: the peak's time, s; ``peak_deg``: its angle, deg; ``rom``: its rise from the low, deg.
    """
    ev[n_ev, :] = 0.0
    ev[n_ev, EV_KIND] = EV_PEAK
    ev[n_ev, EP_T] = t
    ev[n_ev, EP_PEAK_DEG] = peak_deg
    ev[n_ev, EP_ROM] = rom
    return n_ev + 1


@njit_borrowed
def _argmax_col(hist: np.ndarray, cap: int, col: int, lo: int, hi: int) -> int:
    """Index in ``lo..hi`` of the first largest value of column ``col``."""
    best = lo
    bv = _h(hist, cap, lo, col)
    for i in range(lo + 1, hi + 1):
        v = _h(hist, cap, i, col)
        if v > bv:
            bv = v
            best = i
    return best


@njit_borrowed_inline
def _strike_g(hist: np.ndarray, cap: int, lo: int, hi: int, mid_deg: float) -> float:
    """The largest foot-strike jolt (``H_JOLT``, the filter's innovation) in ``lo..hi`` (the peak to
    the trough) while the filter's angle is at or above ``mid_deg``: a foot that lands after the
    peak with the thigh still in the top half of its swing (a heel strike, walking or running), not
    at its low (a march) nor the other foot during its rise (a march again), g (0: none)."""
    best = 0.0
    for i in range(lo, hi + 1):
        if _h(hist, cap, i, H_THETA) >= mid_deg:
            best = max(best, _h(hist, cap, i, H_JOLT))
    return best


@njit_borrowed
def _close_rep(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int
) -> int:
    """Finalise the confirmed rep held in the state and emit its metrics.

    Without a gyro the peak (its angle, time and the hold around it) and the
    flexion rate come from the angle smoothed over the detector's low..trough
    (``_smooth_span``); the low, the trough and the level crossings (start,
    end, 10-90 % time) stay with the filter, because the smoother, which
    knows a rise is coming, starts it early (its white-jerk model has no
    abrupt onset).  The span ends at the trough, not at the sample that
    closes the rep, so the result does not hinge on exactly when the settle
    time runs out.

    The smoothed angle refines what the filter detected; it does not
    overrule the detection piecemeal.  Where it puts the peak less than
    ``min_rom`` above the low, the better estimate says there was no rep (a
    rejected candidate, ``REJ_ROM``); where its metrics contradict the rise
    the filter saw (a peak outside its top half, a rep that would break the
    contract), the rep
    keeps the filter's own metrics, which satisfy the contract by
    construction (issue 14: reps with negative peaks and rom below
    ``min_rom`` came from re-reading a smoothed angle that disagreed).
    """
    if prm[P_ID] > 0.0:
        # A lever candidate's run (dsp/flexion_sign._identify) is read for the
        # filter's likelihood alone and its events are dropped: nothing after
        # this reads the rep, so it is neither smoothed nor measured (the
        # smoother's angle wraps cost about as much per row as the filter).
        return n_ev
    cap = ist[I_CAP]
    low_idx = ist[I_LOW_IDX]
    peak_idx = ist[I_PEAK_IDX]
    trough_idx = ist[I_TROUGH_IDX]
    row = ev[n_ev]
    row[:] = 0.0
    if prm[P_HAS_GYRO] <= 0.0:
        _smooth_span(prm, hist, cap, low_idx - 1, trough_idx)
        # The smoothed peak, a sample on either side inside the span.
        s_peak = _argmax_col(hist, cap, H_STHETA, low_idx, trough_idx - 1)
        # int() makes the columns int64, not the literal constants numba would type them as:
        # it compiles a called kernel once per distinct literal argument, and these
        # two calls would make two copies of _rep_metrics (benchmarks/README.md, "The first run").
        angle_col, vel_col = int(H_STHETA), int(H_SVEL)
        _rep_metrics(
            prm, hist, cap, low_idx, fstate[F_LOW], s_peak, trough_idx, fstate[F_TROUGH], angle_col, vel_col, row
        )
        if row[E_ROM] < prm[P_MIN_ROM]:
            return _emit_reject(ev, n_ev, row[E_PEAK_T], REJ_ROM, row[E_ROM])
        mid = 0.5 * (fstate[F_LOW] + fstate[F_PEAK])
        strike = _strike_g(hist, cap, peak_idx, trough_idx, mid)
        # Consistent: the smoothed peak is in the top half of the rise the
        # filter saw, and the rep keeps the contract.
        if _h(hist, cap, s_peak, H_THETA) >= mid and _rep_ok(prm, row):
            row[E_STRIKE_G] = strike
            return n_ev + 1
        row[:] = 0.0
    else:
        strike = math.nan
    angle_col, vel_col = int(H_THETA), int(H_VEL)  # int64, as above
    _rep_metrics(
        prm, hist, cap, low_idx, fstate[F_LOW], peak_idx, trough_idx, fstate[F_TROUGH], angle_col, vel_col, row
    )
    row[E_STRIKE_G] = strike
    return n_ev + 1


@njit_borrowed_inline
def _rep_ok(prm: np.ndarray, row: np.ndarray) -> bool:
    """Whether a rep row keeps the contract's per-rep invariants (``hipflex.dsp.contract``)."""
    rise_s = row[E_PEAK_T] - row[E_START]
    return (
        row[E_START] < row[E_PEAK_T] <= row[E_END]
        and row[E_ROM] >= prm[P_MIN_ROM]
        and 0.0 < row[E_FLEX_T] < rise_s
        and row[E_PEAK_VEL] > 0.0
        and math.isfinite(row[E_MEAN_VEL] + row[E_PEAK_DEG] + row[E_HOLD] + row[E_CONF] + row[E_PEAK_VEL])
    )


@njit_borrowed_inline
def _settle_rep(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int
) -> int:
    """Close the confirmed rep at its trough and seek the next rise from there."""
    n_ev = _close_rep(prm, fstate, ist, hist, ev, n_ev)
    ist[I_PHASE] = PHASE_SEEK
    fstate[F_LOW] = fstate[F_TROUGH]
    ist[I_LOW_IDX] = ist[I_TROUGH_IDX]
    ist[I_CAND_ACTIVE] = 0
    return n_ev


@njit_borrowed_inline
def _new_peak(fstate: np.ndarray, ist: np.ndarray, s: int, theta: float) -> None:
    """A new peak of the rise; the return from it starts there (``F_TROUGH`` during a rise)."""
    fstate[F_PEAK] = theta
    ist[I_PEAK_IDX] = s
    fstate[F_TROUGH] = theta
    ist[I_TROUGH_IDX] = s


@njit_borrowed_inline
def _swing_over(prm: np.ndarray, fstate: np.ndarray, theta: float) -> bool:
    """Whether a rise not yet confirmed was a swing of its own that is over: theta came back
    into the bottom quarter of the rise (at least ``candidate_deg``, less than ``min_rom``) and
    rose ``candidate_deg`` again from there.

    The rep definition's hysteresis alone would keep one rise across such
    swings until one falls ``min_rom`` below the highest: walking steps of
    18-22 degrees that never quite return to the first low made one "rep"
    from a low in one walk to a peak in the next, across the rest between
    them (1.6-6 s rises), and hid the steps in between from the gait
    classifier.  A swing that came back most of the way to where it began
    and turned up again is a motion that ended; what follows is a new one,
    from where the thigh turned.  A wobble within a rise and a hold at the
    top are not; nor is the dip an accelerometer-only angle can show inside
    one fast swing (a heel strike or the hip's acceleration: 12.5 Hz
    marches and walks dip 15-17 degrees to half-way down their rise).
    """
    low = fstate[F_LOW]
    peak = fstate[F_PEAK]
    trough = fstate[F_TROUGH]
    cand = prm[P_CAND]
    return trough <= min(peak - cand, low + 0.25 * (peak - low)) and theta >= trough + cand


@njit_borrowed
def _rise_rest(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    still_s: float,
    ev: np.ndarray,
    n_ev: int,
) -> int:
    """Rest during a rise that is not confirmed yet; returns the new number of event rows.

    A call, not inlined: the detector calls it only once the thigh has rested
    (``still_s >= _REST_S`` or ``I_RESTED`` set; before that it changes nothing).

    A rest at the top is a hold, and the rise stays pending: the fall after
    it confirms the rep.  But a rise that ended in a rest may never come back
    down (the return to standing after a set's last backward swing), and the
    motion after the rest then belongs to a new rise.  So from the rest on,
    the lowest theta is kept, and

    * a rise of ``min_rom`` above it re-bases the rep: the earlier rise is
      rejected (``REJ_RESTED``) and the rep's low is where the thigh was when
      the new motion began;
    * a pause in motion of ``set_gap_s`` (the pause that separates sets)
      rejects the earlier rise, and the search for a low starts at the rest
      level, unless the thigh is held at the top: the rest's level within
      ``hold_band_deg`` of the peak and at least ``min_rom`` from the rest
      pose (theta 0).
      That is a stretch (a kneeling lunge held 30 s), an excursion held:
      the fall after it confirms it as one rep with its hold.  A rise that
      only returned to the rest pose (theta near 0) never qualifies.
    """
    if still_s >= _REST_S and (ist[I_RESTED] == 0 or theta < fstate[F_RLOW]):
        ist[I_RESTED] = 1
        fstate[F_RLOW] = theta
        ist[I_RLOW_IDX] = s
    elif ist[I_RESTED] == 1 and theta < fstate[F_RLOW]:
        fstate[F_RLOW] = theta
        ist[I_RLOW_IDX] = s
    if ist[I_RESTED] == 0:
        return n_ev
    cap = ist[I_CAP]
    # The level the rest began at, not theta: the fall out of a hold starts
    # inside the rest band, before it confirms the rep.
    held = fstate[F_MREF] >= fstate[F_PEAK] - prm[P_HOLD_BAND] and fstate[F_MREF] >= prm[P_MIN_ROM]
    if still_s >= prm[P_SET_GAP_S] and not held:
        n_ev = _emit_reject(
            ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), REJ_RESTED, fstate[F_PEAK] - fstate[F_LOW]
        )
        ist[I_PHASE] = PHASE_SEEK
        ist[I_RESTED] = 0
        ist[I_CAND_ACTIVE] = 0
        fstate[F_LOW] = theta
        ist[I_LOW_IDX] = s
    elif theta >= fstate[F_RLOW] + prm[P_MIN_ROM]:
        n_ev = _emit_reject(
            ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), REJ_RESTED, fstate[F_PEAK] - fstate[F_LOW]
        )
        ist[I_RESTED] = 0
        fstate[F_LOW] = fstate[F_RLOW]
        ist[I_LOW_IDX] = ist[I_RLOW_IDX]
        _new_peak(fstate, ist, s, theta)
    return n_ev


@njit_borrowed_inline
def _detect(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    ev: np.ndarray,
    n_ev: int,
) -> int:
    """Feed processed sample ``s`` (already written to the history) to the detector.

    Returns the new number of event rows in ``ev``.
    """
    cap = ist[I_CAP]
    if prm[P_HAS_GYRO] <= 0.0 and _h(hist, cap, s, H_FLAG) == H_FLAG_BRIDGED:
        # Without a gyro a bridged row is the filter's guess from a straight
        # line between measurements, and a guess can carry a fidget into a
        # 20 deg swing: only measured rows move the detector.
        return n_ev
    min_rom = prm[P_MIN_ROM]
    phase = ist[I_PHASE]
    now = _h(hist, cap, s, H_TIME)
    # Motion or rest: how long theta has stayed within the band around the
    # level the current motionless stretch started at.
    if not abs(theta - fstate[F_MREF]) <= 0.5 * prm[P_CAND]:
        fstate[F_MREF] = theta
        fstate[F_MT0] = now
    still_s = now - fstate[F_MT0]
    if phase == PHASE_SEEK:
        low_idx = ist[I_LOW_IDX]
        low_t = _h(hist, cap, low_idx, H_TIME)
        if still_s >= _REST_S and (
            low_t < fstate[F_MT0]
            or (now - low_t > _RENEW_AGE_S and theta <= fstate[F_LOW] + _RENEW_FRACTION * prm[P_CAND])
        ):
            # The thigh rests, and the low is from before the rest: the next
            # rise starts from the rest level (or a dip below it).  A
            # candidate that never came back down is dropped: it was a shift
            # of the rest level, not an excursion.  A low set in the rest is
            # renewed while theta is back at it, once it is a rest (1 s) old:
            # else, in a long rest, it ages past _MAX_RISE_S below and is
            # replaced wherever theta then is -- halfway up the next rise,
            # which then falls short of min_rom (a side-lying abduction set's
            # first rep, missed).  Only at the low's level (within a tenth of
            # candidate_deg), so a rise's first samples, still inside the
            # rest band, never become its low.
            fstate[F_LOW] = theta
            ist[I_LOW_IDX] = s
            ist[I_CAND_ACTIVE] = 0
        elif theta < fstate[F_LOW] or s - low_idx > cap // 2 or now - _h(hist, cap, low_idx, H_TIME) > _MAX_RISE_S:
            # A new low.  Lows older than half the history are forgotten so a
            # rep's low is always still in the ring, and lows older than
            # _MAX_RISE_S because no rise takes that long.
            fstate[F_LOW] = theta
            ist[I_LOW_IDX] = s
            ist[I_CAND_ACTIVE] = 0
        if theta >= fstate[F_LOW] + min_rom:
            ist[I_PHASE] = PHASE_RISE
            _new_peak(fstate, ist, s, theta)
            ist[I_CAND_ACTIVE] = 0
            ist[I_RESTED] = 0
        elif ist[I_CAND_ACTIVE] == 1:
            if theta > fstate[F_CAND_PEAK]:
                fstate[F_CAND_PEAK] = theta
                ist[I_CAND_IDX] = s
            elif theta <= fstate[F_CAND_PEAK] - prm[P_CAND]:
                n_ev = _emit_reject(
                    ev, n_ev, _h(hist, cap, ist[I_CAND_IDX], H_TIME), REJ_ROM, fstate[F_CAND_PEAK] - fstate[F_LOW]
                )
                ist[I_CAND_ACTIVE] = 0
                fstate[F_LOW] = theta
                ist[I_LOW_IDX] = s
        elif theta >= fstate[F_LOW] + prm[P_CAND]:
            ist[I_CAND_ACTIVE] = 1
            fstate[F_CAND_PEAK] = theta
            ist[I_CAND_IDX] = s
    elif phase == PHASE_RISE:
        if theta > fstate[F_PEAK]:
            _new_peak(fstate, ist, s, theta)
        elif theta < fstate[F_TROUGH] and theta > fstate[F_PEAK] - min_rom:
            fstate[F_TROUGH] = theta  # the lowest theta since the peak (the swing's return so far)
            ist[I_TROUGH_IDX] = s
        elif _swing_over(prm, fstate, theta):
            # A new swing began before this one was confirmed: it is over (module
            # docstring, "swings that never return to the low").
            n_ev = _emit_reject(
                ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), REJ_ROM, fstate[F_PEAK] - fstate[F_TROUGH]
            )
            ist[I_PHASE] = PHASE_SEEK
            ist[I_RESTED] = 0
            fstate[F_LOW] = fstate[F_TROUGH]
            ist[I_LOW_IDX] = ist[I_TROUGH_IDX]
            ist[I_CAND_ACTIVE] = 1
            fstate[F_CAND_PEAK] = theta
            ist[I_CAND_IDX] = s
        if ist[I_PHASE] == PHASE_RISE and theta <= fstate[F_PEAK] - min_rom:
            if _peak_drawn_in_gap(ist, hist, cap, fstate[F_LOW], ist[I_LOW_IDX], ist[I_PEAK_IDX]):
                # Not a measured peak: the search goes on from here, down to the next low.
                n_ev = _emit_reject(
                    ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), REJ_GAP, fstate[F_PEAK] - fstate[F_LOW]
                )
                ist[I_PHASE] = PHASE_SEEK
                ist[I_RESTED] = 0
                ist[I_CAND_ACTIVE] = 0
                fstate[F_LOW] = theta
                ist[I_LOW_IDX] = s
            else:
                ist[I_PHASE] = PHASE_FALL
                fstate[F_TROUGH] = theta
                ist[I_TROUGH_IDX] = s
                n_ev = _emit_peak(
                    ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), fstate[F_PEAK], fstate[F_PEAK] - fstate[F_LOW]
                )
        # _rise_rest does nothing until the thigh has rested (a called kernel: rare).
        if ist[I_PHASE] == PHASE_RISE and (still_s >= _REST_S or ist[I_RESTED] != 0):
            n_ev = _rise_rest(prm, fstate, ist, hist, s, theta, still_s, ev, n_ev)
        if ist[I_PHASE] == PHASE_RISE and s - ist[I_LOW_IDX] > int(cap * _MAX_REP_FRACTION):
            n_ev = _emit_reject(ev, n_ev, _h(hist, cap, s, H_TIME), REJ_TOO_LONG, fstate[F_PEAK] - fstate[F_LOW])
            ist[I_PHASE] = PHASE_SEEK
            fstate[F_LOW] = theta
            ist[I_LOW_IDX] = s
    else:  # PHASE_FALL
        if theta < fstate[F_TROUGH]:
            fstate[F_TROUGH] = theta
            ist[I_TROUGH_IDX] = s
        if theta >= fstate[F_TROUGH] + min_rom:
            # The next rise has begun from this trough.
            n_ev = _close_rep(prm, fstate, ist, hist, ev, n_ev)
            ist[I_PHASE] = PHASE_RISE
            fstate[F_LOW] = fstate[F_TROUGH]
            ist[I_LOW_IDX] = ist[I_TROUGH_IDX]
            _new_peak(fstate, ist, s, theta)
            ist[I_RESTED] = 0
        elif _h(hist, cap, s, H_TIME) - _h(hist, cap, ist[I_TROUGH_IDX], H_TIME) >= prm[P_SETTLE_S] or s - ist[
            I_LOW_IDX
        ] > int(cap * _MAX_REP_FRACTION):
            n_ev = _settle_rep(prm, fstate, ist, hist, ev, n_ev)
    return n_ev


@njit_borrowed
def _interrupt(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
    reason: float,
) -> int:
    """End whatever the detector holds: at a long gap or at the end of the stream.

    A confirmed rep is closed with the data so far; a rise that was never
    confirmed is rejected with ``reason`` (``REJ_GAP`` or ``REJ_UNFINISHED``).  The next sample starts a new
    search for a low.
    """
    phase = ist[I_PHASE]
    cap = ist[I_CAP]
    if phase == PHASE_FALL:
        n_ev = _close_rep(prm, fstate, ist, hist, ev, n_ev)
    elif phase == PHASE_RISE:
        n_ev = _emit_reject(ev, n_ev, _h(hist, cap, ist[I_PEAK_IDX], H_TIME), reason, fstate[F_PEAK] - fstate[F_LOW])
    ist[I_PHASE] = PHASE_SEEK
    ist[I_CAND_ACTIVE] = 0
    ist[I_RESTED] = 0
    fstate[F_LOW] = math.inf
    fstate[F_MREF] = math.nan
    return n_ev


@njit_borrowed
def _carry(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
) -> int:
    """Carry the detector across a gap it may not see into (accelerometer only).

    A confirmed rep is closed with the data so far, as at the end of its
    settle time, and the search for the next rise starts from its trough; a
    rise in progress or the search for one goes on after the gap, so a
    descent or a rise that fell in the gap shows as a step.
    """
    if ist[I_PHASE] == PHASE_FALL:
        n_ev = _settle_rep(prm, fstate, ist, hist, ev, n_ev)
    return n_ev


@njit_borrowed
def _catch_up(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int, max_ev: int
) -> int:
    """Feed the detector every processed sample it has not read yet, while ``ev`` has room.

    The detector reads the history, not the filters, so it may lag them: after
    a gap it waits until the post-gap window has corrected the history.
    """
    if ist[I_AX_NEW] > 0 and n_ev < max_ev:
        n_ev = _axis_report(prm, ist, hist, ev, n_ev)  # the axes the rows below are read in (_kern_axis)
    cap = ist[I_CAP]
    s = ist[I_DET]
    end = ist[I_SAMPLE]
    if ist[I_AX_HOLD] > 0:
        end = min(end, ist[I_AX_HOLD])  # not into a rise whose axis is not decided yet (_kern_axis)
    while s < end and n_ev < max_ev:
        n_ev = _detect(prm, fstate, ist, hist, s, hist[s & (cap - 1), H_THETA], ev, n_ev)
        s += 1
    ist[I_DET] = s
    return n_ev

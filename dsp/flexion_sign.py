"""The flexion sign and, without a gyro, the sensor's place on the thigh, from the learning phase's rows.

Called once per recording by :func:`hipflex.dsp.learning_flow.ready_kernel`
after the axis lock: the sign is confirmed over ``sign_confirm_s`` of the
angle traced by trial kernels (:mod:`hipflex.dsp._kernel_replay`), and an
accelerometer-only sensor's lever arm and offset in front of the femur are
identified by the likelihood of the candidates' runs
(:func:`hipflex.dsp.identify.identify_lever`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap import _pg_finish
from hipflex.dsp._kernel_replay import _clear_history, _event_scratch, _rewind, _run_span
from hipflex.dsp._kernel_setup import _Kernel, _make_kernel
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.departure_sign import departure_forward
from hipflex.dsp.identify import LeverFit, identify_lever
from hipflex.dsp.learn import Axes, Calibration
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.strike_sign import STRIKE_MIN_RATE_HZ, STRIKE_MIN_SWING_DEG, strike_vote

__all__ = ["reads_departure", "sign_and_lever"]

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
# The bound lies between 12.5 and 20 Hz, not on 20 Hz's 50 ms: a 20 Hz
# stream's median row spacing read 0.05000000000291 s (float time stamps; a
# clock a little slow reads more), so at exactly 0.05 its sign went to the
# likelihood, which traced 20 Hz front-strap strides mirrored (tuning focus
# stride20-30 seeds 43, 76, 97: sets up to 17 short; benchmarks/README.md, stride32).
_TRACE_SIGN_MAX_PERIOD_S = 0.06
_CLEAR_EXCURSION_RATIO = 3.0

# Without a gyro, at 20-40 Hz (rows _TRACE_SIGN_MAX_PERIOD_S or closer, but too
# far apart for a landing's jolt, STRIKE_MIN_RATE_HZ), a trace whose sizes are
# ambiguous takes its sign from the witness places (:func:`_sign_by_witness`):
# a short lever with the sensor in front of the femur and as far behind it.
# At 25 Hz the identified place is not seen (its likelihood jumps 100-200 nats
# from grid point to grid point; front straps 10-18 cm down were identified at
# 18 cm and a few cm in front) and the sizes traced with it were a coin toss
# (tuning strides traced mirrored, sets 5-17 short).  The more decisive of the
# two witnesses agreed with the truth in 244 of 250 such tuning sessions (main's
# sizes in 189) and in all 20 ambiguous ones among 25 Hz sessions of every drill
# and place; witnesses 9 cm off the femur in 240 (see benchmarks/README.md, lever26).
# The decisive witness also tells the side of the femur the sensor is on (its
# offset, mirrored with the sign it chose), and the place identified again under
# that sign is held strictly on that side: unheld, the 25 Hz likelihood put front
# straps 10-12 cm down 4.5-9 cm behind the femur, and their traces did not follow
# the strides (tuning focus seeds 4, 9, 58: sets 3-11 short; benchmarks/README.md, stride29).
_WITNESS_LEVER_M = 0.10
_WITNESS_OFFSET_M = 0.06


@dataclass
class _Replays:
    """The lever candidates' runs of one :func:`_identify` call, for the next call over the same rows.

    The sign's second search (:func:`sign_and_lever`) runs the same kernel over
    the same rows as the first whenever the sign stayed, only with the thigh's
    own lower bound instead of the symmetric one, and a run whose every step
    stayed at or above both bounds (``F_ID_XMIN``) steps alike under either:
    its likelihood and fit scale are reused, not run again (on a long
    recording 93 of the second search's 94 candidates).

    Attributes
    ----------
    key : bytes
        What the candidates' kernels share (``prm`` but its lower bound, the
        state, the rows); the runs are reused only under the same key.
    runs : dict
        ``(lever_arm_m, sensor_offset_m)`` -> ``(nll, fit scale, least angle
        rad, lower bound rad)`` of each candidate run under ``key``.
    """

    key: bytes = b""
    runs: dict[tuple[float, float], tuple[float, float, float, float]] = field(default_factory=dict)


def reads_departure(settings: Settings, state: StreamState, cal: Calibration) -> bool:
    """Whether the sign may be read from the first move out of the calibrated rest (:func:`sign_and_lever`).

    Without a gyro, identifying the place, at 20-40 Hz: where an ambiguous
    trace leaves the sign to the witness places.
    """
    return (
        not state.has_gyro
        and settings.identify_lever
        and cal.period_s <= _TRACE_SIGN_MAX_PERIOD_S
        and cal.period_s * STRIKE_MIN_RATE_HZ > 1.0
    )


def sign_and_lever(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int, departure_end: int = 0
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
    leaves open is decided on its trace; where the trace is ambiguous, at
    40 Hz and up on a stride's landings (:mod:`hipflex.dsp.strike_sign`),
    at 20-40 Hz on the thigh's first move out of the calibrated rest
    (:mod:`hipflex.dsp.departure_sign`, read on buffer rows up to
    ``departure_end``; :func:`reads_departure`) and where that does not
    tell on the traces at two witness places (:func:`_sign_by_witness`),
    below 20 Hz on the likelihood of its two mirror images within the
    thigh's range (:func:`_sign_by_likelihood`).
    """
    if state.has_gyro or not settings.identify_lever:
        return _confirm_sign(settings, state, cal, axes, stop), None
    replays = _Replays()
    if cal.from_first_row:
        # The rest pose was moved to where a recording that never stood
        # still started, and the sign read there (hipflex.dsp.no_stand).
        return axes, _identify(settings, state, cal, axes, stop, replays=replays)
    fit = _identify(settings, state, cal, axes, stop, symmetric=True, replays=replays)
    tie_break: Callable[[float], Axes | None] | None = None
    witnessed: list[int] = []
    if fit.identified and cal.period_s > _TRACE_SIGN_MAX_PERIOD_S:

        def tie_break(log_ratio: float) -> Axes | None:
            return _sign_by_likelihood(settings, state, cal, axes, stop, fit)

    elif reads_departure(settings, state, cal):

        def tie_break(log_ratio: float) -> Axes | None:
            forward = None
            if departure_end > 0:
                forward = departure_forward(state.buf_t, state.buf_acc, cal, axes, departure_end)
            ratios = _witness_ratios(settings, state, cal, axes, stop)
            decided = _sign_by_witness(ratios, axes, log_ratio)
            if forward is None or (decided is not None and (float(np.dot(decided[0].w, axes.w)) > 0.0) == forward):
                if decided is None:
                    return None
                witnessed.append(decided[1])
                return decided[0]
            # The witnesses traced a stride's swings with a wrong lever either way, and where both traced
            # their own side about as decisively the wrong one could win (tuning focus seeds 124, 138,
            # 183: sets 2-10 short); the push out of the rest is read off the raw force.  The place is
            # held on the side whose witness traces forwards under that sign (tuning seed 124: in front,
            # where the strap is).
            witnessed.append(_forward_side(ratios, not forward))
            return axes if forward else Axes(axes.u, -axes.w, -axes.a)

    signed = _confirm_sign(settings, state, cal, axes, stop, fit if fit.identified else None, tie_break)
    # Once the sign is known, the position is identified again within the
    # thigh's own range: with extension allowed as far as flexion, a wrong
    # position could trace a stride's backward swings 90 deg and more behind
    # the standing line and fit them better than the right one (a front
    # sensor 27 cm down identified at 18 cm on the femur axis, peaks 30 deg off).
    # The first fit (mirrored with the sign) stays where the second cannot tell them apart (``identify_lever``).
    earlier = None
    if fit.identified:
        flipped = float(np.dot(signed.w, axes.w)) < 0.0
        earlier = (fit.lever_arm_m, -fit.sensor_offset_m if flipped else fit.sensor_offset_m)
    side = witnessed[0] if witnessed else 0
    return signed, _identify(settings, state, cal, signed, stop, earlier=earlier, replays=replays, offset_side=side)


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
    tie_break: Callable[[float], Axes | None] | None = None,
) -> Axes:
    """Make the thigh's larger excursions positive (flexion).

    ``lever`` (accelerometer only): the sensor's place the trace is computed
    with, identified under the provisional sign; by default the prior lever
    with no offset.  Where neither way's excursions are
    ``_CLEAR_EXCURSION_RATIO`` times the other's (accelerometer only), a
    stride's landings decide (:func:`_landings_say`), and where they do not
    tell, ``tie_break`` does if given and decides (it is passed the trace's
    :func:`_log_ratio`; None: it does not tell, the larger way is kept).

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
    traced = _trace(settings, state, cal, axes, stop, lever)
    if traced is None:
        return axes
    seen, kept = traced
    if state.has_gyro:
        # The gyro's angle: its extreme rows are measured excursions.
        forward = bool(np.nanmax(seen) >= -np.nanmin(seen))
    else:
        # The pendulum filter's: one row of it fed a clipped or gapped swing
        # can lie far out, and decided the sign the wrong way round.  The
        # excursions' sizes are the time spent how far out each way (the sums
        # of the angle's positive and negative parts), not two extreme rows.
        ahead, behind = _sizes(seen)
        if max(ahead, behind) < _CLEAR_EXCURSION_RATIO * min(ahead, behind):
            # Ambiguous sizes: a stride's landings tell the sign where they
            # can be seen (hipflex.dsp.strike_sign), else the tie-break.
            landed = _landings_say(settings, cal, kept)
            if landed is not None:
                return axes if landed else Axes(axes.u, -axes.w, -axes.a)
            decided = tie_break(_log_ratio(ahead, behind)) if tie_break is not None else None
            if decided is not None:
                return decided
        forward = ahead >= behind
    if forward:
        return axes
    return Axes(axes.u, -axes.w, -axes.a)


def _trace(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int, lever: LeverFit | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The angle traced over buffer rows ``0:stop`` with the thigh's range the same both ways, deg.

    Returns the angle from the thigh's first return near the rest pose on
    (rows older than the kernel's ring with their live angle) and the
    kernel's history rows; None when nothing was traced.  ``lever``: None
    with a gyro.
    """
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever)
    kern.prm[L.P_THETA_MIN] = -kern.prm[L.P_THETA_MAX]
    _rewind(kern, state, cal)
    theta = _run_span(kern, state, 0, stop)
    if kern.fstate[L.F_PG_S] > 0.0 and not state.has_gyro:
        _pg_finish(kern.prm, kern.fstate, kern.ist, kern.hist)
    kept = kern.hist[: int(min(kern.ist[L.I_SAMPLE], kern.ist[L.I_CAP]))]
    if kern.fstate[L.F_PG_S] > 0.0:
        # A gyro's post-gap window still open where the span ends has no sum
        # to re-anchor to yet (a few rows in mid-swing are no gravity: tuning
        # seed 603, ballistic 25 Hz, a window 0.24 s old summed 6 rows from
        # the thigh's turn, turned "up" by 56 deg and the sign came out
        # backwards, every rep counted at its low), and its rows are the
        # gyro's guess from the gap on: neither they nor the gap's bridge
        # witness the sign.
        gap_t = kern.hist[int(kern.ist[L.I_PG_GAP0]) & (int(kern.ist[L.I_CAP]) - 1), L.H_TIME]
        kept = kept[kept[:, L.H_TIME] < gap_t]
    if kept.shape[0] == 0:
        return None
    # Rows older than the ring (a long learning phase) count with their live angle.
    older = theta[state.buf_t[:stop] < kept[:, L.H_TIME].min()]
    seen = np.concatenate([older, kept[:, L.H_THETA]])
    # An excursion leaves the rest pose and comes back.  Rows before the thigh
    # first came within candidate_deg of it (a recording that starts
    # mid-movement, one whose quietest window lies inside the only rep) show
    # the end of one at most, never its size.
    if not cal.quiet and state.has_gyro:
        seen = _from_first_row(older, kept)
    elif (
        not state.has_gyro
        and _maybe_a_turn(settings, cal)
        and _at_pose_once(_from_first_row(older, kept, rebase=False), settings.candidate_deg)
    ):
        # Without a gyro a slow turn passes the stillness test as a short quiet
        # window: seen from a rep's top, clips traced mirrored (tuning clips
        # 0:100 on main: 61 short windows, all counted 0; CMU-MBL acc-only 23/45).
        seen = _from_first_row(older, kept)
    else:
        near = np.flatnonzero(np.abs(seen) <= settings.candidate_deg)
        seen = seen[near[0] :] if near.size else seen
    if np.all(np.isnan(seen)):
        return None
    return seen, kept


def _maybe_a_turn(settings: Settings, cal: Calibration) -> bool:
    """Whether an accelerometer-only calibration may lie in a rep's slow turn, not in a stand.

    The quietest window (no window was quiet) and a short quiet window
    (shorter than ``calib_still_s``): without a gyro a thigh turning slowly
    at a squat's bottom holds the accelerometer within ``still_acc_g`` for
    a quarter of a second, which the stillness test cannot tell from a stand.
    """
    return not cal.quiet or cal.window_s < settings.calib_still_s


def _at_pose_once(seen: np.ndarray, near_deg: float) -> bool:
    """Whether a trace in time order shows its calibrated pose inside one rep, not a stand.

    Inside one rep: away from the pose (beyond ``near_deg``) the trace starts
    and ends on the same side, crosses to the other side at most once and
    back (a window a little off the turn sees the top of the rep overshoot
    it), and once away comes back near the pose at most twice (those
    crossings).  A stand is passed through both ways stride after stride in
    a walk, and come back to rep after rep in a set.
    """
    finite = seen[np.isfinite(seen)]
    far = np.abs(finite) > near_deg
    if not far.any():
        return False
    side = np.sign(finite[far])
    after = ~far[int(np.argmax(far)) :]
    returns = int(np.count_nonzero(after[1:] & ~after[:-1]))
    return bool(side[0] == side[-1]) and int(np.count_nonzero(side[1:] != side[:-1])) <= 2 and returns <= 2


def _from_first_row(older: np.ndarray, kept: np.ndarray, rebase: bool = True) -> np.ndarray:
    """The trace in time order, measured from its first row instead of the calibrated pose, deg.

    For a recording that never stood still (the calibration is its quietest
    window, ``Calibration.quiet`` false): that window is where the thigh
    moved slowest, the turn of a rep, its top as often as not (CMU-MBL's
    one-rep files: the bottom of a squat or a lunge, 9-50 deg/s).  Seen
    from a rep's top every excursion is backwards, and the rule "the larger
    excursions are flexion" traced 11 of those files mirrored.  The first
    row is where the person started moving: a rep's low, or on its way up.
    Without a gyro the same where the calibration may be a rep's slow turn
    (:func:`_maybe_a_turn`) and the trace shows it inside one rep
    (:func:`_at_pose_once`).  ``rebase`` false: the trace in time order as
    measured from the calibrated pose.
    """
    order = np.argsort(kept[:, L.H_TIME], kind="stable")  # a ring that wrapped holds its rows rotated
    seen = np.concatenate([older, kept[order, L.H_THETA]])
    if not rebase:
        return seen
    finite = seen[np.isfinite(seen)]
    return seen - finite[0] if finite.size else seen


def _sizes(seen: np.ndarray) -> tuple[float, float]:
    """The trace's excursions each way: the sums of its positive and negative parts (deg rows)."""
    return float(np.nansum(np.maximum(seen, 0.0))), float(-np.nansum(np.minimum(seen, 0.0)))


def _log_ratio(ahead: float, behind: float) -> float:
    """log(ahead / behind): how decisively a trace says forward (> 0) or backward; 0 when either is 0."""
    return math.log(ahead / behind) if ahead > 0.0 and behind > 0.0 else 0.0


def _witness_ratios(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int
) -> dict[float, float]:
    """The log ratios (:func:`_log_ratio`) of the traces at the two witness places under ``axes``, by offset (m).

    The trace is computed with a short lever (``_WITNESS_LEVER_M``) and the
    sensor ``_WITNESS_OFFSET_M`` in front of the femur and as far behind it,
    with the thigh's range the same both ways (as :func:`_confirm_sign`); a
    place whose trace is empty is left out.
    """
    ratios = {}
    for offset_m in (_WITNESS_OFFSET_M, -_WITNESS_OFFSET_M):
        traced = _trace(settings, state, cal, axes, stop, LeverFit(_WITNESS_LEVER_M, offset_m, True, 0.0))
        if traced is not None:
            ratios[offset_m] = _log_ratio(*_sizes(traced[0]))
    return ratios


def _sign_by_witness(ratios: dict[float, float], axes: Axes, than: float) -> tuple[Axes, int] | None:
    """The flexion sign (accelerometer only, 20-40 Hz) from traces at two witness places, not the identified one.

    ``ratios``: the witnesses' log ratios under ``axes`` (:func:`_witness_ratios`).
    The model is its own mirror image under
    ``(w, theta, d) -> (-w, -theta, -d)``, so the two witnesses are the two
    signs' traces with the offset on the side where it belongs, and where
    the identified place is not seen (25 Hz) the one on the sensor's side
    mostly traces a stride more decisively than the other; the more
    decisive one (by the log of the ratio of its sizes) tells the sign.
    Where each traces its own side about as decisively (straps 10-12 cm
    down, 7-9 cm in front) it can be wrong.  None when neither is more
    decisive than ``than``, the log ratio of the trace at hand; else the
    sign and the side of the femur the sensor is on under it (+1 in front,
    -1 behind): the decisive witness's offset, mirrored with the sign.
    """
    best = than
    side = 0
    for offset_m, log_ratio in ratios.items():
        if abs(log_ratio) > abs(best):
            best, side = log_ratio, (1 if offset_m > 0.0 else -1)
    if best == than:
        return None
    if best > 0.0:
        return axes, side
    return Axes(axes.u, -axes.w, -axes.a), -side


def _forward_side(ratios: dict[float, float], flipped: bool) -> int:
    """The side of the femur (+1 in front, -1 behind, 0 neither) whose witness traces forwards under a given sign.

    ``ratios`` under the provisional axes (:func:`_witness_ratios`);
    ``flipped``: the sign is theirs mirrored, under which the witness at an
    offset traces the mirror image of the one at the opposite offset.  Of
    the witnesses that trace forwards (a positive log ratio), the more
    decisive one's side.
    """
    best, side = 0.0, 0
    for offset_m, log_ratio in ratios.items():
        forward = -ratios.get(-offset_m, 0.0) if flipped else log_ratio
        if forward > best:
            best, side = forward, (1 if offset_m > 0.0 else -1)
    return side


def _landings_say(settings: Settings, cal: Calibration, kept: np.ndarray) -> bool | None:
    """Whether an accelerometer-only trace is the right way round, by its landings; None when they do not tell.

    ``kept``: the trace's history rows (:func:`_confirm_sign`).  Only rows
    ``STRIKE_MIN_RATE_HZ`` or faster and a trace swinging
    ``STRIKE_MIN_SWING_DEG`` or more (a stride) are judged; see
    :mod:`hipflex.dsp.strike_sign`.
    """
    if cal.period_s * STRIKE_MIN_RATE_HZ > 1.0:
        return None
    # In time order: a ring that wrapped (a long learning phase) holds its rows rotated.
    kept = kept[np.argsort(kept[:, L.H_TIME], kind="stable")]
    theta = kept[:, L.H_THETA]
    near = np.flatnonzero(np.abs(theta) <= settings.candidate_deg)
    rows = kept[near[0] :] if near.size else kept
    theta = rows[:, L.H_THETA]
    finite = theta[np.isfinite(theta)]
    if finite.size < 3 or np.percentile(finite, 97.0) - np.percentile(finite, 3.0) < STRIKE_MIN_SWING_DEG:
        return None
    # The specific force each row was filtered from (kept in the pendulum's history).
    acc_norm = np.linalg.norm(rows[:, L.H_ACC : L.H_ACC + 3], axis=1)
    vote = strike_vote(rows[:, L.H_TIME], rows[:, L.H_VEL], acc_norm)
    return vote.vote > 0.0 if vote.decisive else None


def _identify(
    settings: Settings,
    state: StreamState,
    cal: Calibration,
    axes: Axes,
    stop: int,
    symmetric: bool = False,
    earlier: tuple[float, float] | None = None,
    replays: _Replays | None = None,
    offset_side: int = 0,
) -> LeverFit:
    """Lever arm and offset of an accelerometer-only sensor, from the rows the sign is confirmed on.

    ``symmetric``: the thigh's range the same both ways and no prior offset,
    so the fit under one flexion sign mirrors that under the other (see
    :func:`sign_and_lever`).  ``earlier``: a fit kept unless a candidate is
    clearly more likely (:func:`hipflex.dsp.identify.identify_lever`).
    ``replays``: an earlier call's candidate runs, reused where they step
    alike (:class:`_Replays`), and this call's runs left there.
    ``offset_side``: the side of the femur the candidates are held on (+1
    in front, -1 behind, 0 anywhere; :func:`_sign_by_witness`).

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
    ev = _event_scratch()  # the candidates' events are dropped: one buffer for all

    scales: dict[tuple[float, float], float] = {}
    runs = _shared_runs(replays, proto, first, stop)

    def nll(lever_arm_m: float, sensor_offset_m: float) -> float:
        prm = proto.prm.copy()
        prm[L.P_LEVER_M] = lever_arm_m
        prm[L.P_OFFSET_M] = sensor_offset_m
        if symmetric:
            prm[L.P_THETA_MIN] = -prm[L.P_THETA_MAX]
        else:
            prm[L.P_THETA_MIN] = min(prm[L.P_THETA_MIN], -math.radians(_ID_MIN_EXTENSION_DEG))
        done = runs.get((lever_arm_m, sensor_offset_m))
        if done is not None and done[2] >= max(done[3], prm[L.P_THETA_MIN]):
            # Neither run's lower bound held a step: the same run (see _Replays).
            scales[(lever_arm_m, sensor_offset_m)] = done[1]
            return done[0]
        kern = _Kernel(prm, proto.fstate.copy(), proto.ist.copy(), proto.hist)
        if first == 0:
            _rewind(kern, state, cal, scratch, ev)
        # else: the kernel starts at rest in the calibrated pose, where the window is.
        _run_span(kern, state, first, stop, ev)
        _clear_history(kern)
        n = float(kern.fstate[L.F_ID_N])
        # Mean normalised innovation squared per component (2 a row).
        scale = float(kern.fstate[L.F_ID_NIS]) / (2.0 * n) if n > 0 else math.inf
        scales[(lever_arm_m, sensor_offset_m)] = scale
        value = float(kern.fstate[L.F_NLL])
        least = float(kern.fstate[L.F_ID_XMIN])
        runs[(lever_arm_m, sensor_offset_m)] = (value, scale, least, float(prm[L.P_THETA_MIN]))
        return value

    prior_offset_m = 0.0 if symmetric else settings.sensor_offset_m
    return identify_lever(
        nll,
        settings.lever_arm_m,
        prior_offset_m,
        lambda lev, off: scales[(lev, off)],
        earlier,
        offset_side,
        still_rest=cal.quiet,
    )


def _shared_runs(
    replays: _Replays | None, proto: _Kernel, first: int, stop: int
) -> dict[tuple[float, float], tuple[float, float, float, float]]:
    """The runs in ``replays`` made with kernels as ``proto``'s over rows ``first:stop`` (emptied if not)."""
    if replays is None:
        return {}
    prm = proto.prm.copy()
    prm[L.P_THETA_MIN] = 0.0  # the one parameter the reuse tests per run
    rows = np.array([first, stop, *proto.hist.shape])
    key = b"".join((prm.tobytes(), proto.fstate.tobytes(), proto.ist.tobytes(), rows.tobytes()))
    if key != replays.key:
        replays.key = key
        replays.runs = {}
    return replays.runs

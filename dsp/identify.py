"""Identify where the sensor sits on the thigh from the motion itself (accelerometer only).

The thigh-pendulum filter needs the sensor's distance below the hip ``L``
and its offset in front of the femur axis ``d`` (negative behind it): during a fast swing the
tangential (``L theta''``) and centripetal (``L theta'^2``) accelerations
are as large as gravity, and a wrong ``L`` or ``d`` turns into a steady
per-session error of 5-15 degrees at every peak.  Nobody measures these on
a strap, but the motion tells: with the right values the two sagittal
accelerometer components agree with one angle trajectory, with wrong ones
the filter's innovations grow.  So the filter is run over the first seconds
of motion once for each candidate on a grid (a multiple-model likelihood
test) and the candidate with the smallest negative log-likelihood of its
innovations is kept.

References
----------
.. [1] Magill, D. T. (1965). Optimal adaptive estimation of sampled
   stochastic processes. IEEE Transactions on Automatic Control, 10(4),
   434-439. https://doi.org/10.1109/TAC.1965.1098191
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["LeverFit", "identify_lever", "lies_across"]

# Candidate grids, metres: the operating range of DESIGN.md (straps 15-30 cm
# below the hip).  Outside it the likelihood is not trustworthy: unmodelled
# hip accelerations (running) and slow motion both favour a short lever.
# The offset is the sensor's distance in front of the femur axis: the
# thigh's surface lies 5-10 cm from the femur all round, so a strap on the
# front reads up to +10 cm, on the side ~0 and on the back of the thigh
# (a pocket, a strap turned round) down to -10 cm.  A grid that only
# allowed the front put a back sensor's centripetal term (d theta'^2, close
# to 1 g in a stride) on the wrong side: stride peaks read 30-45 deg low
# and a rep too many per set.  A sensor d behind the femur fits exactly as one
# d in front with the flexion sign flipped (the model maps onto itself), so
# the sign must be, and is, decided before this test (learning_flow's
# sign confirmation, from the larger excursions, with no offset).
_LEVER_M = (0.18, 0.30)
_OFFSET_M = (-0.10, 0.10)
_LEVER_GRID_M = np.round(np.arange(_LEVER_M[0], _LEVER_M[1] + 1e-9, 0.03), 3)
_OFFSET_GRID_M = np.round(np.arange(-0.09, _OFFSET_M[1] + 1e-9, 0.03), 3)
# Below the operating range (a strap high on the thigh, 10-17 cm down) a
# candidate is taken only when it explains the motion clearly better than the
# best one within the range: normalised innovations _SHORT_FIT_GAIN times
# smaller (the fit's scale, see identify_lever), not only a larger likelihood.
# Slow motion, a hip that bounces in running strides and 12.5 Hz swings all
# raised the likelihood of a short lever without fitting better (scales within
# 0-11 % of the in-range best: the innovation covariance shrinks with the lever,
# and its log-determinant decided); where a short lever is true, fast swings
# fit it 1.9-5.2 times better (tuning seeds; with 18 cm their sets were counted
# 2-10 short).  A squat deadlift (CMU-MBL, a hip that travels, slow) fitted
# 10 cm 1.6-1.8 times better, wrongly (its one rep lost): hence twice.
_SHORT_LEVER_M = (0.10, 0.18)
_SHORT_FIT_GAIN = 2.0
_SHORT_LEVER_GRID_M = np.round(np.arange(_SHORT_LEVER_M[0], _SHORT_LEVER_M[1] - 1e-9, 0.03), 3)
# A thigh lying down (on the side, the back or the front; a clamshell, a raise
# from the floor) turns about the hip with its lever across the rest pose's
# "up", not along it as the model's hanging thigh has it: its tangential term
# then lies along "up" and its centripetal term across it.  The model's two
# terms are linear in (L, d) as the product of (theta'' + i theta'^2) with
# (L + i d), so a lever turned a quarter turn in the plane of motion is the
# same model with (L, d) -> (-d, L) or (d, -L): an "offset" of the operating
# range's levers and a "lever" of its offsets.  Under the hanging model alone
# every return of a tuning clamshell, accelerometer only, read 10-20 deg behind
# the rest and its ROM 40-60 deg for a true 30-40 (sets taken for a walk,
# benchmarks/README.md drills12).  Taken only where it fits clearly better
# (``_LYING_FIT_GAIN``, as a short lever): tuning clamshells and side-lying
# raises fit it 2.3-16 times better (mostly 5 and more), the standing drills'
# best quarter-turned lever at most 0.55 times as well as their own (strides
# 0.75-0.99).  Only levers at or below the turning axis's line (>= 0): those
# above it fitted the identification's first reps better but ran the filter
# over the top of a larger rep later (tuning seed 1, clamshells at 50 Hz: a
# 44 deg rep read 120 deg and held there, a set 19/16; 0 to +6 cm: 16/16).
_LYING_LEVER_M = (0.0, 0.10)
_LYING_OFFSET_M = (0.18, 0.30)
_LYING_FIT_GAIN = 2.0
_LYING_LEVER_GRID_M = np.round(np.arange(0.0, _LYING_LEVER_M[1] + 1e-9, 0.03), 3)
_LYING_OFFSET_GRID_M = np.round(
    np.concatenate([-np.arange(0.30, 0.18 - 1e-9, -0.06), np.arange(0.18, 0.30 + 1e-9, 0.06)]), 3
)
# The lying lever is searched only where the motion and the rest give evidence
# of a lying thigh, since its 32 replays were a quarter of every acc-only
# session's identification (acc-only throughput 1.44 -> 1.32x VQF) and standing
# sessions never take it.  First, a still rest (the calibration window quiet):
# the quarter-turned lever is a lever across that rest's "up", and a thigh on
# the floor starts from rest; the recordings that took it without one were
# standing reps cut with no rest before them (CMU-MBL SqDL_01_rep3/rep4 and
# HeelRaise_01_rep9/rep10, acc-only; rep4's one rep lost).  Second, the grid's
# row on the turning axis's line (lever 0, every offset): some candidate there
# fits no worse (fit scale) than the best hanging lever.  Every lying lever
# taken on tuning (drills seeds 0:8 with the mixed sessions: 28) and on Bilkent
# (8) had one (the row's best 2.1-19 and 1.1-4.3 times smaller), while all 88
# standing tuning sessions and 8 lying ones that kept the hanging lever had
# none (the row's best scale 1.1-34 times the hanging one's): they skip the
# grid's other 26 candidates.
# Refinement around the best grid point, metres.
_REFINE_M = 0.015
# Less evidence than this (nats) for the best candidate over the prior keeps the prior.
_MIN_EVIDENCE = 20.0
# A candidate less likely than the best by less than this (nats) is as good: the 95 % likelihood-ratio
# region of two parameters (Wilks: chi-square with 2 degrees of freedom, 5.99, halved).  The innovations
# are correlated (fit scales of 2-8 where 1 is white), so the true region is wider; this is the least.
_TIE_NATS = 3.0


@dataclass(frozen=True)
class LeverFit:
    """The result of :func:`identify_lever`.

    Attributes
    ----------
    lever_arm_m, sensor_offset_m : float
        The values the filter will use, metres.
    identified : bool
        False when the motion did not tell (the settings' priors are kept).
    evidence_nats : float
        Negative log-likelihood of the prior minus that of the chosen
        candidate (0 when the prior is kept).
    """

    lever_arm_m: float
    sensor_offset_m: float
    identified: bool
    evidence_nats: float


def identify_lever(
    nll: Callable[[float, float], float],
    prior_lever_m: float,
    prior_offset_m: float,
    fit_scale: Callable[[float, float], float] | None = None,
    earlier: tuple[float, float] | None = None,
    offset_side: int = 0,
    still_rest: bool = True,
) -> LeverFit:
    """Choose the sensor's lever arm and offset by a grid likelihood test.

    Parameters
    ----------
    nll : callable
        ``nll(lever_arm_m, sensor_offset_m)``: negative log-likelihood of the
        pendulum filter's innovations over the identification span with those
        values (the caller runs the filter).
    prior_lever_m, prior_offset_m : float
        The settings' values, kept when the motion does not tell, metres.
    fit_scale : callable, optional
        ``fit_scale(lever_arm_m, sensor_offset_m)``: how large that
        candidate's innovations were against their predicted covariance (mean
        normalised innovation squared per component), for a candidate
        ``nll`` was called with.  Given, levers below the operating range are
        tried too, and one is kept only where it has both the larger
        likelihood and a clearly smaller scale (``_SHORT_FIT_GAIN`` times)
        than the best candidate within it.
    earlier : tuple of float, optional
        ``(lever_arm_m, sensor_offset_m)`` an earlier search over the same
        rows found (within the operating range): kept unless the best
        candidate is more likely by at least ``_TIE_NATS`` nats.  Near
        the top the likelihood is flat (tuning seed 3102, a stride set read
        at 200 Hz: three candidates 1.5 cm apart within 3 nats of ~7900),
        and which of them came out on top followed a 0.1 deg change of the
        learned flexion axis (a walk before the set); the sets counted with
        them differ by two strides.  Only a tie (``_TIE_NATS``), not up to
        ``_MIN_EVIDENCE``: tuning seed 5031 (a stride set at 50 Hz) kept a
        fit 15.7 nats less likely than the best and lost a stride.
    offset_side : int, optional
        +1: the sensor is known to be in front of the femur, -1: behind it
        (the witness places told, ``flexion_sign._sign_by_witness``); every
        hanging candidate and ``earlier`` is then taken strictly on that side
        (0, the default: anywhere).  The lying thigh's levers are not held.
    still_rest : bool, default True
        Whether the motion started from a still rest (the calibration window
        was quiet).  False: no lying thigh's lever is tried (see
        ``_search_lying``).

    Returns
    -------
    LeverFit
    """
    base = nll(prior_lever_m, prior_offset_m)
    best = _search(nll, (base, prior_lever_m, prior_offset_m), _LEVER_GRID_M, _LEVER_M, offset_side)
    if fit_scale is not None:
        short = _search(nll, (math.inf, 0.0, 0.0), _SHORT_LEVER_GRID_M, _SHORT_LEVER_M, offset_side)
        if short[0] < best[0] and _SHORT_FIT_GAIN * fit_scale(short[1], short[2]) < fit_scale(best[1], best[2]):
            best = short
        lying = _search_lying(nll, fit_scale, fit_scale(best[1], best[2])) if still_rest else (math.inf, 0.0, 0.0)
        if lying[0] < best[0] and _LYING_FIT_GAIN * fit_scale(lying[1], lying[2]) < fit_scale(best[1], best[2]):
            best = lying
    if (
        earlier is not None
        and _LEVER_M[0] <= earlier[0] <= _LEVER_M[1]
        and _on_side(earlier[1], offset_side)
        and (earlier[0], earlier[1]) != best[1:]
    ):
        v = nll(*earlier)
        if v - best[0] < _TIE_NATS:
            best = (v, earlier[0], earlier[1])
    evidence = base - best[0]
    if not np.isfinite(evidence) or evidence < _MIN_EVIDENCE:
        return LeverFit(prior_lever_m, prior_offset_m, False, 0.0)
    return LeverFit(best[1], best[2], True, float(evidence))


def _grid_refined(
    nll: Callable[[float, float], float],
    start: tuple[float, float, float],
    levers_m: Iterable[float],
    offsets_m: Iterable[float],
    inside: Callable[[float, float], bool],
) -> tuple[float, float, float]:
    """The best ``(nll, lever, offset)``: ``start`` or a point of the grid, refined around the best.

    The grid is every ``levers_m`` x ``offsets_m``; the refinement tries the
    eight neighbours ``_REFINE_M`` away that ``inside`` admits.
    """
    best = start
    for lev in levers_m:
        for off in offsets_m:
            v = nll(float(lev), float(off))
            if v < best[0]:
                best = (v, float(lev), float(off))
    if not math.isfinite(best[0]):
        return best
    _, lev0, off0 = best
    for dl in (-_REFINE_M, 0.0, _REFINE_M):
        for do in (-_REFINE_M, 0.0, _REFINE_M):
            if dl == 0.0 and do == 0.0:
                continue
            lev, off = lev0 + dl, off0 + do
            if not inside(lev, off):
                continue
            v = nll(lev, off)
            if v < best[0]:
                best = (v, lev, off)
    return best


def _search(
    nll: Callable[[float, float], float],
    start: tuple[float, float, float],
    levers_m: np.ndarray,
    lever_range_m: tuple[float, float],
    offset_side: int = 0,
) -> tuple[float, float, float]:
    """The best ``(nll, lever, offset)`` of a hanging thigh's lever: ``start`` or the grid, refined.

    The refinement stays within ``lever_range_m`` (upper end excluded below
    the operating range, where it meets it) and the offset range.
    """
    hi_ok = lever_range_m[1] == _LEVER_M[1]

    def inside(lev: float, off: float) -> bool:
        in_lever = lever_range_m[0] <= lev and (lev <= lever_range_m[1] if hi_ok else lev < lever_range_m[1])
        return in_lever and _OFFSET_M[0] <= off <= _OFFSET_M[1] and _on_side(off, offset_side)

    offsets_m = np.array([off for off in _OFFSET_GRID_M if _on_side(float(off), offset_side)])
    return _grid_refined(nll, start, levers_m, offsets_m, inside)


def _on_side(offset_m: float, offset_side: int) -> bool:
    """Whether an offset lies strictly on ``offset_side`` of the femur (+1 in front, -1 behind; 0: anywhere)."""
    return offset_side == 0 or offset_m * offset_side > 0.0


def lies_across(fit: LeverFit) -> bool:
    """True when ``fit`` is a lever turned a quarter turn (a lying thigh: its offset beyond any strap's)."""
    return fit.identified and abs(fit.sensor_offset_m) > _OFFSET_M[1]


def _search_lying(
    nll: Callable[[float, float], float],
    fit_scale: Callable[[float, float], float],
    scale_to_beat: float,
) -> tuple[float, float, float]:
    """The best ``(nll, lever, offset)`` of a lever turned a quarter turn (a lying thigh), refined around it.

    The "lever" (along the rest pose's "up") spans ``_LYING_LEVER_M``, the
    "offset" (across it) either sign of ``_LYING_OFFSET_M``.  The grid's
    first row (lever 0) is tried first; only where one of its candidates
    fits no worse than ``scale_to_beat`` (the best hanging lever's fit
    scale) is the rest of the grid searched.  Otherwise the row's best is
    returned: its scale is larger than ``scale_to_beat``, so it cannot be
    taken (``_LYING_FIT_GAIN`` times smaller is required), and no point of
    the whole grid was seen to be either (benchmarks/README.md, drills15).
    """
    seen: dict[tuple[float, float], float] = {}

    def once(lev: float, off: float) -> float:
        # The row is the grid's first: the full search reads it from here, in the same order.
        key = (lev, off)
        if key not in seen:
            seen[key] = nll(lev, off)
        return seen[key]

    row_lever = float(_LYING_LEVER_GRID_M[0])
    row = [(once(row_lever, float(off)), row_lever, float(off)) for off in _LYING_OFFSET_GRID_M]
    if min(fit_scale(lev, off) for _, lev, off in row) > scale_to_beat:
        return min(row)

    def inside(lev: float, off: float) -> bool:
        return _LYING_LEVER_M[0] <= lev <= _LYING_LEVER_M[1] and _LYING_OFFSET_M[0] <= abs(off) <= _LYING_OFFSET_M[1]

    return _grid_refined(once, (math.inf, 0.0, 0.0), _LYING_LEVER_GRID_M, _LYING_OFFSET_GRID_M, inside)

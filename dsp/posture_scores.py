"""The per-set log-likelihood of each drill prototype, from the set's features and the mounting prior.

:mod:`hipflex.dsp.posture` names a set from these scores: each row is a drill
of :data:`~hipflex.dsp.drill_prototypes.DRILL_PROTOTYPES`, each column a
feature (lever, axis tilt, the rep kinematics; the rise and the mounting
geometry where measured).  Every feature is mounting-free, or measured in the
frame the user's mounting prior names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hipflex.dsp.drill_prototypes import (
    AXIS_COS,
    DRILL_PROTOTYPES,
    LEVER_UP_UNIFORM,
    LOG_BOUNDS,
    LOG_BOUNDS_ACC_ONLY,
    LOG_CENTRE,
    LOG_HALF,
    P_ACC_ONLY_PRIOR,
    P_HANGS,
    P_LEVER_EITHER_SIGN,
    P_LEVER_UP,
    P_LEVER_UP_LOGNORM,
    P_LEVER_UP_SIGMA,
    P_RISE,
    SCORED,
    UP_COS,
)
from hipflex.dsp.session_geometry import session_fit
from hipflex.dsp.set_description import _LEVER_MAX_SLOPE, _LEVER_MIN_EFFECT_G2, SetFeatures

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__: list[str] = []

# Most one kinematic feature costs a pose (not a drill), as a 3-sigma miss: see _scores.
_POSE_KIN_FLOOR = -4.5
# A drill whose geometry misses the prior's measurement by more than this log-likelihood (3 sigma) does
# not compete.
_MIN_GEOMETRY_FIT = -4.5


def _session_fit(
    up: np.ndarray | None, axis: np.ndarray | None, named: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> np.ndarray | None:
    """:func:`~hipflex.dsp.session_geometry.session_fit` with the prototypes' geometry, at most ``_LEVER_FLOOR``."""
    return session_fit(up, axis, named, UP_COS, AXIS_COS, _LEVER_FLOOR)


# Spread of a feature's log about a prototype's range (25 %).
_LOG_SIGMA = 0.25
# A set in the ranges of two drills (a side-lying abduction or a clamshell: one rigid motion of a lying
# thigh, told apart only by tempo) scored 0 for both and went to the drill listed first.  A set's tempo is
# paced (a programme prescribes it) and its median period over many reps is precise, so within the period
# range a value far from the drill's typical (log-centre) one is less likely than one near it: a shallow
# quadratic in the log distance, per squared log unit (0.02 at half a log unit, a factor 1.65), which orders
# the drills the ranges tie and never outweighs a value outside a range (-0.5 per sigma squared, sigma 0.25).
# Not for range, rise and hold: their ranges are limits, not centred on what people do (real squats rise in
# 0.85-1.4 s, at the low end of the squat range: weighting the rise named 19 of 31 UTD-MHAD squats
# sit-to-stand).  Per scored feature (SCORED order).  Typical values within 0.1 log units (10 %: a
# person's tempo from set to set) of each other are not told apart: the distance counts beyond that.
_TYPICAL_WEIGHT = np.array([0.0, 0.0, 0.0, 0.08])
_TYPICAL_DEAD = 0.1
# The lever slope (g^2 per rad^2/s^2) each sign predicts, mean and spread: a hanging thigh 2 L / g with
# the sensor L = 0.15-0.35 m below the hip; a lifted one -2 L sin(elevation) / g, its elevation a part
# of the range (raises from lying), or a knee pivot below the sensor (squats, sit-to-stand).
_SLOPE_HANGING = (0.045, 0.015)
_SLOPE_LIFTED = (-0.02, 0.02)
# Without a gyro the slope is against the squared rate of the analysis' own angle (dsp.angle_rate_lever),
# which the pendulum filter reads fast where the thigh swings fast: its slopes come out smaller.  Tuning
# seeds 0-7 (5-95 % of sets): standing drills hanging below the hip +0.016..+0.059 (side lunges
# -0.001..+0.037), thighs lifted from lying -0.014..+0.006 (bridges -0.018..+0.006; raises on the back and
# face down, -0.007..+0.019, move too slowly to tell, their effect under _LEVER_MIN_EFFECT_G2).
_SLOPE_HANGING_ACC_ONLY = (0.02, 0.015)
_SLOPE_LIFTED_ACC_ONLY = (-0.01, 0.015)
# Most a lever part can cost a prototype (as a flat contradiction did).
_LEVER_FLOOR = -8.0


def _scores(
    feats: list[SetFeatures],
    geometry: np.ndarray | None = None,
    acc_only: bool = False,
    session: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean score per feature of each set against each prototype, shape (S, P) (0 = everything in range).

    Per feature a log-range fit: 0 inside the prototype's range, a
    log-normal tail outside (sigma 25 %), -4 for a non-positive value, and
    an unknown value (NaN) scores 0; the period counts only where both the
    set and the prototype have one.  With a gyro, the lever slope adds a
    part: its log-likelihood under the prototype's sign (hanging or lifted)
    relative to the other (:func:`_lever_loglik`, at least -8), so a slope
    too weak to take its sign as measured still leans; so do the lever's
    direction and its rise (:func:`_rise_part`).  All sets and
    prototypes at once: the scoring is per set, and a long session has many.
    ``geometry`` (S, P): the flat-on-the-skin prior's log-likelihood of each
    set under each drill (:func:`~hipflex.dsp.mounting_prior.geometry_fit`),
    one more part where given.  ``acc_only``: the sets were measured
    without a gyro, their range scored against the lying drills' ranges
    with the top raised by the accelerometer-only filter's bias in a lying
    pose (``ACC_ONLY_ROM_BIAS``), and the rise against the ranges of drills
    off a hanging thigh's flexion plane widened both ways
    (``ACC_ONLY_RISE_SPREAD``); the other drills' ranges as they are; and the
    drills pivoting at the knee (squat, sit-to-stand) lose ``P_ACC_ONLY_PRIOR``
    of their mean score.  ``session`` (S, P): the session geometry's part
    (:func:`_session_fit`), NaN rows where it tells nothing.

    Also returns each set's pose score under each prototype (S, P): the
    geometry's parts (levers, the prior's and the session's geometry)
    summed, as the log-likelihoods they are, plus the mean of the
    kinematic ones.  Pose and movement are where gravity is in the thigh's
    frame and which way it turns (:func:`_named`): the geometry decides
    them wherever it is measured, and the range and tempo (a drill's
    practice, not its geometry) only among poses it cannot tell apart.
    """
    x = np.array([[getattr(f, k) for k in SCORED] for f in feats], dtype=np.float64).reshape(-1, len(SCORED))
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = np.log(x)[:, None, :]  # (S, 1, 4)
        bounds = LOG_BOUNDS_ACC_ONLY if acc_only else LOG_BOUNDS
        below = np.maximum(bounds[None, :, :, 0] - lx, 0.0)
        above = np.maximum(lx - bounds[None, :, :, 1], 0.0)
        z = (below + above) / _LOG_SIGMA
        # Inside the range, how far the value is from the drill's typical (log-centre) one beyond the dead
        # zone, capped at the edge (outside, the tail above takes over).
        inner = np.maximum(np.minimum(np.abs(lx - LOG_CENTRE[None]), LOG_HALF[None]) - _TYPICAL_DEAD, 0.0)
        fit = np.where(x[:, None, :] > 0, -0.5 * z * z - _TYPICAL_WEIGHT * inner * inner, -4.0)  # (S, P, 4)
    finite = np.isfinite(x)[:, None, :] & np.isfinite(LOG_BOUNDS[None, :, :, 0])
    fit = np.where(finite, fit, 0.0)
    # rom, rise and hold always count; the period where both have one.
    count = 3.0 + finite[:, :, 3]
    kin = fit.sum(axis=2)
    lever_ll = np.array([_lever_loglik(f, acc_only) for f in feats]).reshape(-1, 2)  # (S, 2): hanging, lifted
    lever = np.isfinite(lever_ll[:, :1]) & (P_HANGS[None, :] != 0)
    part = np.where(P_HANGS[None, :] > 0, lever_ll[:, :1], lever_ll[:, 1:])
    total = fit.sum(axis=2) + np.where(lever, np.maximum(part, _LEVER_FLOOR), 0.0)
    count = count + lever
    # The lever's direction against the rest "up": a Gaussian part where both the set and the drill have one.
    c = np.array([f.lever_up_cos for f in feats], dtype=np.float64)[:, None]
    hang = np.isfinite(c) & np.ones(len(DRILL_PROTOTYPES), dtype=bool)[None, :]
    # A squat's or a bridge's |cosine| anywhere from its lowest up (a band: 0 inside, the spread below).
    miss = np.where(P_LEVER_EITHER_SIGN[None, :], np.maximum(P_LEVER_UP[None, :] - np.abs(c), 0.0), c - P_LEVER_UP)
    d = miss / P_LEVER_UP_SIGMA[None, :]
    with np.errstate(invalid="ignore"):
        gauss = np.maximum(-0.5 * d * d + P_LEVER_UP_LOGNORM[None, :], _LEVER_FLOOR)
        own = np.where(hang, np.where(np.isfinite(P_LEVER_UP)[None, :], gauss, LEVER_UP_UNIFORM), 0.0)
    total = total + own
    count = count + hang
    # The lever's rise against the sign the drill predicts: the lever's other angle, in its direction's part
    # (not one more feature in the mean: where the sign is as predicted nothing changes).
    rise = _rise_part(feats, c)
    rise = np.where(np.isfinite(rise), rise, 0.0)
    own = own + rise
    total = total + rise
    if acc_only:  # the knee-pivot drills lose ties without the lever (P_ACC_ONLY_PRIOR), on the mean score
        total = total + P_ACC_ONLY_PRIOR[None, :] * count
    if geometry is not None:
        measured = np.array([math.isfinite(f.face_up_cos) for f in feats])[:, None]
        own = own + np.where(measured, geometry, 0.0)
        total = total + np.where(measured, geometry, 0.0)
        count = count + measured
    if session is not None:
        told = np.isfinite(session[:, :1])
        total = total + np.where(told, session, 0.0)
        count = count + told
    # The pose score: where the set's own geometry is measured (the lever's direction, the prior), the mean
    # score plus that geometry again, summed as the log-likelihood it is, so that it decides the pose where it
    # can; and in the mean one kinematic feature far outside a drill's practice range costs at most
    # _POSE_KIN_FLOOR (a set can be done off the practice: a straight-leg raise without its hold is still a
    # raise on the back; Bilkent's fast raises, held 0.4 s, scored -53 against the 5 s raise).  Where no
    # geometry of its own is measured the pose is the best drill's, as ever.
    placed = np.array([_measured_geometry(f) for f in feats])[:, None]
    kin_pose = np.maximum(fit, _POSE_KIN_FLOOR).sum(axis=2)
    return total / count, np.where(placed, (total - kin + kin_pose) / count + own, total / count)


# The lever's rise a drill predicts (P_RISE) is a sign: no part on its side of zero (its size is the lever's
# angle from the horizontal and the sensor's offset), a Gaussian beyond it in units of _RISE_SIGMA.
_RISE_SIGMA = 0.15
# A bridge's lever flattens: its rise has the sign opposite to its cosine with "up", judged with the cosine
# taken as at least this large (near the horizontal the cosine's sign is the sensor's offset's).
_RISE_MIN_UP_COS = 0.3


def _rise_part(feats: list[SetFeatures], up_cos: np.ndarray) -> np.ndarray:
    """Each set's log-likelihood part of its lever's rise under each drill, shape (S, P); NaN rows where unmeasured.

    ``up_cos`` (S, 1): the sets' ``lever_up_cos``.
    """
    r = np.array([f.lever_rise_cos for f in feats], dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        flatten = -r * up_cos / np.maximum(np.abs(up_cos), _RISE_MIN_UP_COS)
        x = np.where(P_RISE[None, :] > 0, r, np.where(P_RISE[None, :] < 0, flatten, 0.0))
        miss = np.maximum(-x, 0.0) / _RISE_SIGMA
        part = np.where(P_RISE[None, :] != 0, np.maximum(-0.5 * miss * miss, _LEVER_FLOOR), 0.0)
    return np.where(np.isfinite(r), np.where(np.isfinite(part), part, 0.0), math.nan)


def _lever_loglik(f: SetFeatures, acc_only: bool = False) -> tuple[float, float]:
    """Log-likelihood of the set's lever slope if the thigh hangs and if it is lifted, relative to the better.

    The slope's spread is its own statistical error (slope / t) and what an
    accelerometer's scale errors can fake: a change of |a|^2 up to
    ``_LEVER_MIN_EFFECT_G2`` over the set's spread of |w|^2 (effect / slope),
    so a set whose |w|^2 barely varies (a slow raise) tells little.  NaN
    without the sums, and for a slope no lever gives; ``acc_only``: the
    slope is against the angle's rate (``_SLOPE_HANGING_ACC_ONLY``).
    """
    s, t, e = f.lever_slope, f.lever_t, f.lever_effect_g2
    if not (math.isfinite(s) and math.isfinite(t) and math.isfinite(e)) or s == 0.0 or t == 0.0 or e == 0.0:
        return math.nan, math.nan
    if abs(s) > _LEVER_MAX_SLOPE:  # no lever gives it (see SetFeatures.hangs)
        return math.nan, math.nan
    spread_w2 = e / s
    var = (s / t) ** 2 + (_LEVER_MIN_EFFECT_G2 / spread_w2) ** 2
    model = (_SLOPE_HANGING_ACC_ONLY, _SLOPE_LIFTED_ACC_ONLY) if acc_only else (_SLOPE_HANGING, _SLOPE_LIFTED)
    ll = [-0.5 * (s - mu) ** 2 / (sd * sd + var) - 0.5 * math.log(sd * sd + var) for mu, sd in model]
    top = max(ll)
    return ll[0] - top, ll[1] - top


def _measured_geometry(f: SetFeatures) -> bool:
    """Whether the set's pose was measured (the lever's direction or the prior's cosines), not only guessed."""
    return math.isfinite(f.lever_up_cos) or math.isfinite(f.face_up_cos)

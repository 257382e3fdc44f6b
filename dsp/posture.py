"""Pose, movement and drill of each set, named from what a thigh sensor of unknown mounting can tell.

What the data fix, and what they cannot
---------------------------------------
The sensor's mounting on the thigh is unknown (any rotation, either leg), so
only quantities that do not change when the sensor is turned on the thigh
or the leg is mirrored can name anything:

* the rest gravity direction and the learned rep axis are two directions
  in the sensor frame: between them only the **axis' tilt from the
  horizontal** is mounting-free (a raise turns about a horizontal axis, a
  standing rotation about a vertical one);
* the **lever**: a thigh turning about the hip at angular rate w feels a
  centripetal acceleration w^2 L towards the pivot, which adds
  ``2 w^2 L (g . e_pivot)`` to the squared magnitude of the specific force.
  Regressing ``|a|^2`` on ``|w|^2`` over a set gives its sign: positive
  when gravity points from the sensor towards the pivot, i.e. the thigh
  **hangs** below the hip (standing, kneeling, all fours: open-chain
  swings), negative when the thigh is **lifted** against gravity from
  lying or sitting, or turns about the knee (squats, sit-to-stand: closed
  chain).  Norms are rotation- and mirror-invariant.  Without a gyro the
  rate of the analysis' own angle stands in for ``|w|``
  (:mod:`hipflex.dsp.angle_rate_lever`): a weaker reading of the same sign.
* the rep kinematics: range of motion, rise time, hold, tempo.

What stays ambiguous: a thigh horizontal on the back, on the side or face
down raised against gravity (straight-leg raise, side-lying abduction,
prone raise) is the same rigid motion seen from a sensor that may sit at
any azimuth around the thigh, and so are standing flexion, abduction and
extension; the poses and movements of such drills are told apart only by
their typical range, tempo and holds, and every candidate consistent with
the measurement is listed (``pose_candidates``, ``movement_candidates``).
A user who straps the sensor flat and names its face-normal axis (and its
placement and leg) lifts part of that ambiguity: see
:mod:`hipflex.dsp.mounting_prior` (opt-in, so the default stays
mounting-free); with the normal's sense and the leg told as well, a lying
set's pose and movement are read in the thigh's own frame
(:mod:`hipflex.dsp.thigh_frame`).

Nothing here feeds back into counting: the descriptions are computed from
the finished sets when a result is built.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from hipflex.dsp.drill_prototypes import (
    DRILL_PROTOTYPES,
    INDEX_OF,
    MAX_TILT_MISS_DEG,
    MIN_ROM_DEG,
    P_RISE,
    POSES_HANGING,
    POSES_LIFTED,
    PROTO_TILT_DEG,
    REP_AXIS,
    REST_UP,
    SAME_POSE,
    DrillPrototype,
)
from hipflex.dsp.lever_sums import _lever_fit, _lever_fits
from hipflex.dsp.mounting_prior import FlatPrior, face_cosines, geometry_fit
from hipflex.dsp.posture_scores import _MIN_GEOMETRY_FIT, _measured_geometry, _scores, _session_fit
from hipflex.dsp.session_geometry import SAME_FRAME_COS, pooled_poses, unit
from hipflex.dsp.set_description import SetDescription, SetFeatures
from hipflex.dsp.set_geometry import axis_tilt_deg, lever_rise_cos, lever_up_cos
from hipflex.dsp.thigh_frame import frame_cosines, frame_pose_movement

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from hipflex.dsp.types import RepSet

__all__ = [
    "DRILL_PROTOTYPES",
    "DrillPrototype",
    "FlatPrior",
    "SetDescription",
    "SetFeatures",
    "axis_tilt_deg",
    "describe_set",
    "describe_sets",
    "set_features",
]

_Thigh = tuple[tuple[float, float, float], tuple[float, float, float], str]
_NAN3 = (math.nan, math.nan, math.nan)
# Below this best mean log-likelihood per feature the set is "unknown".
_MIN_FIT = -2.0
_D2R = math.pi / 180.0


def set_features(
    rep_set: RepSet, blocks: np.ndarray | None, axis_tilt_deg: float, face: tuple[float, float] = (math.nan, math.nan)
) -> SetFeatures:
    """The features of one set (see :class:`SetFeatures`); ``face`` from :func:`.mounting_prior.face_cosines`."""
    fit = (math.nan, math.nan, math.nan) if blocks is None else _lever_fit(blocks, rep_set.start_s, rep_set.end_s)
    return _features(rep_set, fit, axis_tilt_deg, face)


def _features(
    rep_set: RepSet,
    fit: tuple[float, float, float],
    axis_tilt_deg: float,
    face: tuple[float, float],
    lever_up_cos: float = math.nan,
    lever_rise_cos: float = math.nan,
    thigh: _Thigh | None = None,
) -> SetFeatures:
    reps = rep_set.reps
    slope, tstat, effect = fit

    def med(vals: list[float]) -> float:
        # statistics.median's checks cost more than the few values of a set: sort and pick (a rep's
        # numbers are finite, a contract invariant, so there is nothing to filter).
        v = sorted(vals)
        n = len(v)
        if not n:
            return math.nan
        return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])

    peaks = [r.peak_s for r in reps]
    return SetFeatures(
        lever_slope=slope,
        lever_t=tstat,
        lever_effect_g2=effect,
        axis_tilt_deg=axis_tilt_deg,
        rom_deg=med([r.rom_deg for r in reps]),
        rise_s=med([r.peak_s - r.start_s for r in reps]),
        hold_s=med([r.hold_s for r in reps]),
        period_s=med([b - a for a, b in itertools.pairwise(peaks)]) if len(peaks) > 1 else math.nan,
        n_reps=rep_set.rep_count,
        face_up_cos=face[0],
        face_axis_cos=face[1],
        lever_up_cos=lever_up_cos,
        lever_rise_cos=lever_rise_cos,
        thigh_up=_NAN3 if thigh is None else thigh[0],
        thigh_axis=_NAN3 if thigh is None else thigh[1],
        thigh_frame="" if thigh is None else thigh[2],
    )


def _candidates(f: SetFeatures) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if math.isfinite(f.axis_tilt_deg) and f.axis_tilt_deg > 45.0:
        return ("standing",), ("rotation",)
    moves = ("flexion", "extension", "abduction", "adduction", "rotation")
    if f.hangs > 0:
        return POSES_HANGING, moves
    if f.hangs < 0:
        return POSES_LIFTED, moves
    return ("standing", "seated", "supine", "side", "prone", "all_fours"), moves


def describe_set(f: SetFeatures, prior: FlatPrior | None = None, acc_only: bool = False) -> SetDescription:
    """Name the drill of a set from its features; ``unknown`` when no drill fits.

    Each prototype scores the mean over features of a log-range fit (0 in
    range, a log-normal tail outside); a lever sign that contradicts the
    prototype's costs it heavily, and a drill whose pose or movement is not
    among the candidates the lever and the rep axis allow does not compete.
    The confidence is the best prototype's share of ``exp(4 * score)``.
    With a flat-on-the-skin ``prior`` (and ``f.face_up_cos``, ``f.face_axis_cos``
    measured) each drill's geometry is one more part of its score, and a
    drill it rules out does not compete.  ``acc_only``: measured without a
    gyro (the range is the accelerometer-only filter's, which reads high
    where the thigh lies: the lying drills' ranges allow for it).
    """
    return _describe([f], prior, acc_only)[0]


_ALL_POSES = ("standing", "seated", "supine", "side", "prone", "all_fours")
_ALL_MOVES = ("flexion", "extension", "abduction", "adduction", "rotation")


def _narrowed(allowed: np.ndarray) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The poses and movements the allowed drills have, in the usual order."""
    protos = [p for p, a in zip(DRILL_PROTOTYPES, allowed.tolist(), strict=True) if a]
    return (
        tuple(x for x in _ALL_POSES if any(p.pose == x for p in protos)),
        tuple(x for x in _ALL_MOVES if any(p.movement == x for p in protos)),
    )


@functools.cache
def _allowed(poses: tuple[str, ...], moves: tuple[str, ...]) -> np.ndarray:
    """Which prototypes have a pose and a movement among the candidates, shape (P,)."""
    mask = np.array([p.pose in poses and p.movement in moves for p in DRILL_PROTOTYPES])
    mask.flags.writeable = False  # shared by every call with these candidates
    return mask


def _describe(
    feats: list[SetFeatures],
    prior: FlatPrior | None = None,
    acc_only: bool = False,
    session: np.ndarray | None = None,
    pooled: np.ndarray | None = None,
) -> list[SetDescription]:
    """:func:`describe_set` of every set, the scoring and choice done for all at once.

    ``session`` (S, P): each set's :func:`_session_fit` under each drill (NaN
    where the session tells nothing), one more part of the score where given.
    ``pooled`` (S, P): added to the pose scores (:func:`_pooled`).
    """
    cands, scores, pose_scores = _scored(feats, prior, acc_only, session)
    if pooled is not None:
        pose_scores = pose_scores + pooled
    return _named(feats, cands, scores, pose_scores, acc_only)


def _scored(
    feats: list[SetFeatures],
    prior: FlatPrior | None = None,
    acc_only: bool = False,
    session: np.ndarray | None = None,
) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...]]], np.ndarray, np.ndarray]:
    """Each set's pose and movement candidates, its scores and pose scores (S, P) (:func:`_scores`).

    ``-inf`` for drills that do not compete.
    """
    cands = [_candidates(f) for f in feats]
    allowed = np.array([_allowed(*c) for c in cands])
    tilt = np.array([f.axis_tilt_deg for f in feats])[:, None]
    with np.errstate(invalid="ignore"):
        allowed = allowed & ~(np.abs(tilt - PROTO_TILT_DEG[None, :]) > MAX_TILT_MISS_DEG)  # NaN tilt: all
    geometry = None
    if prior is not None:
        geometry = np.stack([geometry_fit(prior, f.face_up_cos, f.face_axis_cos, REST_UP, REP_AXIS) for f in feats])
        fits: np.ndarray = geometry >= _MIN_GEOMETRY_FIT
        # The prior narrows the lever's and the axis' candidates.  Where the two disagree the geometry
        # wins (a lever sign is taken from |a|^2, which a raise from lying also changes through its
        # tangential acceleration; the geometry is what the user said about the strap), and where no
        # drill fits the geometry (done out of any plane) the lever's candidates stay.
        both = allowed & fits
        agree = both.any(axis=1, keepdims=True)
        allowed = np.where(agree, both, np.where(fits.any(axis=1, keepdims=True), fits, allowed))
        cands = [_narrowed(row) for row in allowed]
    # Only drills whose pose and movement the measurement allows compete.
    scores, pose_scores = _scores(feats, geometry, acc_only, session)
    if prior is not None:
        _in_thigh_frame(feats, prior, allowed, cands, pose_scores)
    # A drill below its least range does not compete (after the thigh's frame, whose gate weighs the set's best
    # pose among every drill its geometry allows: the frame's own pose and movement then stand without it).
    rom = np.array([f.rom_deg for f in feats])[:, None]
    with np.errstate(invalid="ignore"):
        allowed = allowed & ~(rom < MIN_ROM_DEG[None, :])  # NaN either side: all
    return cands, np.where(allowed, scores, -math.inf), np.where(allowed, pose_scores, -math.inf)


def _in_thigh_frame(
    feats: list[SetFeatures],
    prior: FlatPrior,
    allowed: np.ndarray,
    cands: list[tuple[tuple[str, ...], tuple[str, ...]]],
    pose_scores: np.ndarray,
) -> None:
    """Where the thigh's own frame is measured (:mod:`.thigh_frame`), its pose and movement decide (in place).

    Only drills of that pose and movement compete (none: the set is named
    unknown in that pose and movement, :func:`_description`).  The frame
    holds only for a thigh lying across the vertical and turning its far
    end up (the rise's by construction; the lever's across "up" can be a
    poor fit's), so it decides only where the set's best pose among the
    drills allowed so far is one (the lever's sign and direction, the
    face's cosines, the kinematics) and its best drill no bridge, whose
    working turn lowers the thigh (``P_RISE``): it then tells which lying
    pose and which movement.  (Without this gate a simulated single-leg
    deadlift whose lever read across "up" went to a side-lying extension.)
    """
    for k, f in enumerate(feats):
        geo = frame_pose_movement(prior, f.thigh_up, f.thigh_axis)
        if geo is None:
            continue
        row = np.where(allowed[k], pose_scores[k], -math.inf)
        best = int(np.argmax(row))
        # The frame takes the thigh to lie and its working turn to lift the far end: not a bridge's (P_RISE < 0).
        if not np.isfinite(row[best]) or DRILL_PROTOTYPES[best].pose not in _POSES_ACROSS or P_RISE[best] < 0:
            continue
        allowed[k] = _in_frame(*geo)
        cands[k] = geo[0], (geo[1],)


# Poses whose thigh lies across the vertical (dsp.thigh_frame's rise frame holds there).
_POSES_ACROSS = ("supine", "side", "prone", "seated")


@functools.cache
def _in_frame(poses: tuple[str, ...], move: str) -> np.ndarray:
    """Which prototypes have one of ``poses`` and the movement ``move``, shape (P,)."""
    mask = np.array([p.pose in poses and p.movement == move for p in DRILL_PROTOTYPES])
    mask.flags.writeable = False  # shared by every call with these
    return mask


def _weights(scores: np.ndarray) -> np.ndarray:
    """Each drill's share of ``exp(4 * score)`` per set (the confidence's measure), shape as ``scores``."""
    w = np.exp(4.0 * (scores - scores.max(axis=1, keepdims=True)))
    return w / w.sum(axis=1, keepdims=True)


# Prototypes of the same pose and movement (P, P): a pose decided, the drill is the best of these.
_SAME_PAIR = np.array(
    [[(p.pose, p.movement) == (q.pose, q.movement) for q in DRILL_PROTOTYPES] for p in DRILL_PROTOTYPES]
)


def _named(
    feats: list[SetFeatures],
    cands: list[tuple[tuple[str, ...], tuple[str, ...]]],
    scores: np.ndarray,
    pose_scores: np.ndarray,
    acc_only: bool = False,
) -> list[SetDescription]:
    """The descriptions of sets scored ``scores`` and ``pose_scores`` (S, P), ``-inf`` for drills that do not compete.

    Pose and movement are those of the prototype with the best pose score;
    the drill is the best-scoring prototype of that pose and movement, its
    confidence its share of all, ``unknown`` when it fits too badly.  The
    pose and movement then stay where the set's own geometry was measured
    (the lever's direction, the flat-on-the-skin prior): a straight-leg
    raise done fast and without its hold is no known drill, and still a
    flexion lying on the back.
    """
    pair = np.argmax(pose_scores, axis=1)
    best = np.argmax(np.where(_SAME_PAIR[pair], scores, -math.inf), axis=1)
    rows = np.arange(len(feats))
    top = scores[rows, best]
    placed = np.isfinite(pose_scores[rows, pair])
    with np.errstate(invalid="ignore"):
        conf = 1.0 / np.exp(4.0 * (scores - top[:, None])).sum(axis=1)
    conf = np.where(np.isfinite(top), conf, 0.0)  # no drill competes (the thigh frame's pose and movement have none)
    return [
        _description(f, c[0], c[1], int(b), float(w), bool(s >= _MIN_FIT), bool(g and _measured_geometry(f)), acc_only)
        for f, c, b, w, s, g in zip(feats, cands, best, conf, top, placed, strict=True)
    ]


def _description(
    f: SetFeatures,
    poses: tuple[str, ...],
    moves: tuple[str, ...],
    best: int,
    conf: float,
    known: bool,
    placed: bool = False,
    acc_only: bool = False,
) -> SetDescription:
    p = DRILL_PROTOTYPES[best]
    hangs = f.hangs
    lever = (
        "no gyro: lever not measured"
        if not math.isfinite(f.lever_t)
        else (
            {1: "thigh hangs below its pivot", -1: "thigh lifted against gravity or turning about the knee"}.get(
                hangs, "lever unclear"
            )
            + f" (|a|^2 vs |w|^2 slope {f.lever_slope:+.3f}, t {f.lever_t:+.1f}, effect {f.lever_effect_g2:+.3f} g^2)"
        )
    )
    if acc_only and math.isfinite(f.lever_t):  # dsp.angle_rate_lever: |w| is the angle's rate
        lever = "no gyro, lever from the angle's rate: " + lever
    tilt = "" if not math.isfinite(f.axis_tilt_deg) else f"rep axis {f.axis_tilt_deg:.0f} deg from horizontal; "
    period = "" if not math.isfinite(f.period_s) else f", period {f.period_s:.2f} s"
    if math.isfinite(f.lever_up_cos):
        hang = math.degrees(math.acos(max(-1.0, min(1.0, f.lever_up_cos))))
        tilt += f"lever {hang:.0f} deg from the rest up; "
    if math.isfinite(f.face_up_cos):
        tilt += f"face normal . rest up {f.face_up_cos:+.2f}, face normal . rep axis {f.face_axis_cos:+.2f}; "
    if f.thigh_frame and all(math.isfinite(x) for x in (*f.thigh_up, *f.thigh_axis)):
        up3, ax3 = f.thigh_up, f.thigh_axis
        tilt += (
            f"thigh frame from the {f.thigh_frame} (normal, up the thigh, across): rest up"
            f" ({up3[0]:+.2f}, {up3[1]:+.2f}, {up3[2]:+.2f}), rep axis ({ax3[0]:+.2f}, {ax3[2]:+.2f}); "
        )
    text = (
        f"{lever}; {tilt}ROM {f.rom_deg:.0f} deg, rise {f.rise_s:.2f} s, hold {f.hold_s:.2f} s{period}, {f.n_reps} reps"
    )
    if not known:
        pose, move = (p.pose, p.movement) if placed else ("unknown", "unknown")
        if not placed and f.thigh_frame and poses and len(moves) == 1:  # the thigh frame's, no drill of them
            pose, move = poses[0], moves[0]
        return SetDescription("unknown", conf, pose, move, poses, moves, text, f)
    return SetDescription(p.name, conf, p.pose, p.movement, poses, moves, text, f)


class _Units:
    """:func:`.session_geometry.unit` of each array once per call: a session's sets share its two arrays.

    (A norm is ~4 us; every earlier set's two, at every block, were a
    thousand of them on the long recording of ``benchmarks/throughput.py``.)
    """

    def __init__(self) -> None:
        self._done: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def __call__(self, v: np.ndarray | None) -> np.ndarray | None:
        if v is None:
            return None
        hit = self._done.get(id(v))
        if hit is None:
            hit = self._done[id(v)] = (v, unit(v))  # holds v, so its id stays its own
        return hit[1]


def _pooled(
    feats: list[SetFeatures],
    per_set: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
    earlier: Sequence[tuple[RepSet, np.ndarray | None, np.ndarray | None]],
    prior: FlatPrior | None,
    acc_only: bool,
    units: Callable[[np.ndarray | None], np.ndarray | None] = unit,
) -> tuple[np.ndarray, tuple[list[tuple[tuple[str, ...], tuple[str, ...]]], np.ndarray, np.ndarray]]:
    """Each set's pose evidence from the sets before it in its own frame (:func:`.session_geometry.pooled_poses`).

    Each earlier set is judged from its own features, as when it closed: the same however the sets were batched.
    ``units``: :func:`.session_geometry.unit`, or a :class:`_Units` of the caller's.  Also returns the sets'
    own :func:`_scored` (no session part), their rows of the one scoring (each set's row is its own alone).
    """
    before = [(e.description.features, u, a) for e, u, a in earlier if e.description is not None]
    frames = [(units(u), units(a)) for _, u, a in before] + [(units(u), units(a)) for u, a in per_set]
    cands, scores, pose_scores = _scored([f for f, _, _ in before] + feats, prior, acc_only)
    n = len(before)
    return pooled_poses(frames, pose_scores, SAME_POSE, n), (cands[n:], scores[n:], pose_scores[n:])


def describe_sets(
    sets: tuple[RepSet, ...],
    blocks: np.ndarray | None,
    up: np.ndarray | None,
    axis: np.ndarray | None,
    prior: FlatPrior | None = None,
    frames: Sequence[tuple[np.ndarray | None, np.ndarray | None]] | None = None,
    earlier: Sequence[tuple[RepSet, np.ndarray | None, np.ndarray | None]] = (),
    lever: np.ndarray | None = None,
    acc_only: bool | None = None,
) -> tuple[RepSet, ...]:
    """The sets with their :class:`SetDescription` (counts and reps untouched).

    ``blocks`` are the lever sums (None without a gyro: the ranges are then
    the accelerometer-only filter's, see :func:`describe_set`), ``up`` the rest
    gravity direction and ``axis`` the learned rep axis, both sensor frame;
    ``prior`` the flat-on-the-skin prior (``FlatPrior.from_settings``), if any.
    ``frames``, if given, holds each set's own ``(up, axis)`` in place of
    ``up`` and ``axis`` (a set whose axes were learned again for it,
    ``dsp/_kern_axis.py``).  ``earlier``: the session's sets before these,
    described, each with its ``(up, axis)``: a set measured in another frame
    than an earlier one is scored by how well each drill's geometry agrees
    with the earlier set's drill (the mounting is fixed per session, see
    ``dsp.session_geometry``), and ``sets`` are then named one after the other, in
    order, so each sees the ones before it however the sets were batched.
    ``lever``: the session's unit lever, sensor frame (``GyroFrameCheck.lever``;
    the strap fixes it for the session), compared with each set's rest "up".
    ``acc_only``: measured without a gyro (default: ``blocks`` is None); its
    ``blocks``, if given, are the sums over the angle's rate
    (:mod:`hipflex.dsp.angle_rate_lever`).
    """
    if not sets:
        return sets
    per_set = [(up, axis)] * len(sets) if frames is None else list(frames)
    spans = np.array([(s.start_s, s.end_s) for s in sets], dtype=np.float64)
    fits = (
        np.full((len(sets), 3), math.nan) if blocks is None else _lever_fits(blocks, spans[:, 0], spans[:, 1])
    ).tolist()
    # Most sets share one frame (the same two arrays): its tilt and face
    # cosines computed once per frame, not per set (~10 us each).
    frame_terms: dict[tuple[int, int], tuple[float, tuple[float, float], float, float, _Thigh]] = {}
    feats = []
    for s, fit, (u, a) in zip(sets, fits, per_set, strict=True):
        key = (id(u), id(a))  # per_set holds u and a for the whole loop: their ids stay theirs
        terms = frame_terms.get(key)
        if terms is None:
            tilt, face = axis_tilt_deg(u, a), face_cosines(prior, u, a)
            terms = frame_terms[key] = (
                tilt,
                face,
                lever_up_cos(lever, u),
                lever_rise_cos(lever, u, a),
                frame_cosines(prior, lever, u, a),
            )
        feats.append(_features(s, (fit[0], fit[1], fit[2]), *terms))
    acc_only = blocks is None if acc_only is None else acc_only
    # Each earlier set by the weights of its drills from its own measurements (its features, kept in
    # its description), as the sets named here below: the same for a set whichever call named it.
    told: list[tuple[SetDescription, np.ndarray, np.ndarray]] = []
    units = _Units()
    for e, u0, a0 in earlier:
        d, u, a = e.description, units(u0), units(a0)
        if d is not None and d.drill in INDEX_OF and u is not None and a is not None:
            told.append((d, u, a))
    pooled, (own_cands, own_scores, own_pose) = _pooled(feats, per_set, earlier, prior, acc_only, units)
    if len({(id(u), id(a)) for u, a in per_set}) == 1 and _one_frame(*per_set[0], told, units):
        # One frame, and nothing before in another: the session tells nothing (every set's session
        # fit would be None), so all are named at once (a long recording's sets, named one by one
        # block after block, cost 0.2 ms each), from their scores in the pooling's.
        named = _named(feats, own_cands, own_scores, own_pose + pooled, acc_only)
    else:
        seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if told:
            own = _weights(_scored([d.features for d, _, _ in told], prior, acc_only)[1])
            seen = [(u, a, w) for (_, u, a), w in zip(told, own, strict=True)]
        named = []
        for k, (f, (u0, a0)) in enumerate(zip(feats, per_set, strict=True)):
            u, a = units(u0), units(a0)
            fit = _session_fit(u, a, seen)
            # The set's own scores name it where the session tells nothing, and weigh it for the sets after it.
            alone = (own_cands[k : k + 1], own_scores[k : k + 1], own_pose[k : k + 1])
            cands, scores, pose_scores = alone if fit is None else _scored([f], prior, acc_only, fit[None, :])
            d = _named([f], cands, scores, pose_scores + pooled[k : k + 1], acc_only)[0]
            named.append(d)
            if d.drill in INDEX_OF and u is not None and a is not None:
                seen.append((u, a, _weights(alone[1])[0]))
    return tuple(dataclasses.replace(s, description=d) for s, d in zip(sets, named, strict=True))


def _one_frame(
    up: np.ndarray | None,
    axis: np.ndarray | None,
    told: Sequence[tuple[SetDescription, np.ndarray, np.ndarray]],
    units: Callable[[np.ndarray | None], np.ndarray | None] = unit,
) -> bool:
    """Whether every earlier set lies in the frame of ``(up, axis)``, as :func:`.session_geometry.session_fit` tests.

    ``units``: :func:`.session_geometry.unit`, or a :class:`_Units` of the caller's.
    """
    u, a = units(up), units(axis)
    if u is None or a is None:
        return True
    return all(float(u @ tu) > SAME_FRAME_COS and float(a @ ta) > SAME_FRAME_COS for _, tu, ta in told)

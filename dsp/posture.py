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
  chain).  Norms are rotation- and mirror-invariant; this needs a gyro.
* the rep kinematics: range of motion, rise time, hold, tempo.

What stays ambiguous: a thigh horizontal on the back, on the side or face
down raised against gravity (straight-leg raise, side-lying abduction,
prone raise) is the same rigid motion seen from a sensor that may sit at
any azimuth around the thigh, and so are standing flexion, abduction and
extension; the poses and movements of such drills are told apart only by
their typical range, tempo and holds, and every candidate consistent with
the measurement is listed (``pose_candidates``, ``movement_candidates``).

Nothing here feeds back into counting: the descriptions are computed from
the finished sets when a result is built.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hipflex.dsp._jit import njit_borrowed

if TYPE_CHECKING:  # types.py imports this module for SetDescription
    from hipflex.dsp.types import RepSet

__all__ = [
    "BLOCK_S",
    "DRILL_PROTOTYPES",
    "DrillPrototype",
    "SetDescription",
    "SetFeatures",
    "accumulate_lever",
    "axis_tilt_deg",
    "describe_set",
    "describe_sets",
    "empty_lever_blocks",
    "set_features",
]

#: Length of the blocks the lever sums are kept in, s (memory: one row per block).
BLOCK_S = 1.0
# Columns of a lever block row.
_B_IDX, _B_N, _B_W2, _B_A2, _B_W4, _B_W2A2, _B_A4, _B_COLS = range(8)
# |t| of the lever slope beyond which its sign is taken as measured.
_LEVER_T = 3.0
# ... and the lever must change |a|^2 by more than this over the set's typical |w|^2 spread, g^2:
# an accelerometer whose axes' scales differ by 1 % reads |a|^2 up to 0.02 apart in two poses, and
# a slow rehab raise passes between its poses exactly as |w|^2 rises and falls (Bilkent subject 1:
# slopes of +0.1-0.3 while lying, where the lever predicts -0.01).
_LEVER_MIN_EFFECT_G2 = 0.02
# Below this best mean log-likelihood per feature the set is "unknown".
_MIN_FIT = -2.0
_D2R = math.pi / 180.0


def empty_lever_blocks() -> np.ndarray:
    """No lever sums yet: shape (0, 7)."""
    return np.zeros((0, _B_COLS))


@njit_borrowed
def _lever_block_sums(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, inv_block_s: float, out: np.ndarray) -> int:
    """Per-block sums of ``n, |w|^2, |a|^2, |w|^4, |w|^2 |a|^2, |a|^4`` into ``out``; the blocks used.

    ``w`` in rad/s (``gyr`` deg/s), ``a`` in g; a row with a non-finite value
    is skipped; block index ``floor(t * inv_block_s)`` (times sorted, so a
    block is a run of rows).  Twin: ``tests/naive.py:lever_block_sums``.
    """
    d2r2 = (math.pi / 180.0) ** 2
    m = 0
    cur = 0.0
    for i in range(t.shape[0]):
        w2 = (gyr[i, 0] * gyr[i, 0] + gyr[i, 1] * gyr[i, 1] + gyr[i, 2] * gyr[i, 2]) * d2r2
        a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
        if not (math.isfinite(w2) and math.isfinite(a2) and math.isfinite(t[i])):
            continue
        k = math.floor(t[i] * inv_block_s)
        if m == 0 or k != cur:
            if m == out.shape[0]:
                break  # cannot happen for sorted times (the caller sizes out for the span)
            cur = k
            out[m, _B_IDX] = k
            for c in range(1, _B_COLS):
                out[m, c] = 0.0
            m += 1
        j = m - 1
        out[j, _B_N] += 1.0
        out[j, _B_W2] += w2
        out[j, _B_A2] += a2
        out[j, _B_W4] += w2 * w2
        out[j, _B_W2A2] += w2 * a2
        out[j, _B_A4] += a2 * a2
    return m


def accumulate_lever(blocks: np.ndarray, time_s: np.ndarray, acc_g: np.ndarray, gyr_dps: np.ndarray) -> np.ndarray:
    """Add rows to the per-block sums of ``|w|^2`` (rad^2/s^2) and ``|a|^2`` (g^2).

    Parameters
    ----------
    blocks : ndarray, shape (m, 7)
        Sums so far (:func:`empty_lever_blocks` to start); not modified.
    time_s : ndarray, shape (n,)
        Row times, s (re-timed, non-decreasing).
    acc_g, gyr_dps : ndarray, shape (n, 3)
        Specific force (g) and angular rate (deg/s); rows with NaN are skipped.

    Returns
    -------
    ndarray, shape (m', 7)
        The sums with the rows added (a block split over chunks is summed
        into one row, so any chunking gives the same blocks).
    """
    if time_s.size == 0 or gyr_dps.shape[0] != time_s.size or acc_g.shape[0] != time_s.size:
        return blocks
    t = np.ascontiguousarray(time_s, dtype=np.float64)
    if not (math.isfinite(t[0]) and math.isfinite(t[-1])):
        raise ValueError("accumulate_lever needs finite, sorted times")
    # At most one block per BLOCK_S of the span, plus the partial ones at both ends.
    n_max = int(math.floor(t[-1] / BLOCK_S) - math.floor(t[0] / BLOCK_S)) + 2
    out = np.zeros((min(n_max, t.size), _B_COLS))
    m = _lever_block_sums(
        t,
        np.ascontiguousarray(acc_g, dtype=np.float64),
        np.ascontiguousarray(gyr_dps, dtype=np.float64),
        1.0 / BLOCK_S,
        out,
    )
    if m == 0:
        return blocks
    new = out[:m]
    if blocks.shape[0] and blocks[-1, _B_IDX] == new[0, _B_IDX]:
        merged = blocks.copy()
        merged[-1, 1:] += new[0, 1:]
        return np.vstack([merged, new[1:]])
    return np.vstack([blocks, new])


@dataclass(frozen=True)
class SetFeatures:
    """What a set's description rests on (all mounting-free).

    ``lever_slope`` (g^2 per rad^2/s^2) and ``lever_t`` its t statistic
    (NaN without a gyro), ``lever_effect_g2`` the slope times the standard
    deviation of ``|w|^2`` over the set (how much the lever changes
    ``|a|^2``); ``axis_tilt_deg`` the learned rep axis' angle from the
    horizontal at rest (NaN when unknown); medians over the reps of
    ``rom_deg``, ``rise_s`` (start to peak), ``hold_s`` and ``period_s``
    (peak to peak, NaN for one rep); ``n_reps``.
    """

    lever_slope: float
    lever_t: float
    lever_effect_g2: float
    axis_tilt_deg: float
    rom_deg: float
    rise_s: float
    hold_s: float
    period_s: float
    n_reps: int

    @property
    def hangs(self) -> int:
        """+1 the thigh hangs below its pivot, -1 lifted / knee pivot, 0 not measured."""
        if not math.isfinite(self.lever_t) or abs(self.lever_t) < _LEVER_T:
            return 0
        if not abs(self.lever_effect_g2) > _LEVER_MIN_EFFECT_G2:
            return 0
        return 1 if self.lever_t > 0 else -1


def _lever_fit(blocks: np.ndarray, start_s: float, end_s: float) -> tuple[float, float, float]:
    """Slope of ``|a|^2`` on ``|w|^2`` over the blocks inside [start_s, end_s], its t statistic and effect (g^2)."""
    nan = (math.nan, math.nan, math.nan)
    if blocks.shape[0] == 0:
        return nan
    # Block indices are sorted: from the block before the set's first (its lead-in rest) to the one
    # holding its end, one slice.
    lo = int(np.searchsorted(blocks[:, _B_IDX], math.floor(start_s / BLOCK_S) - 1, "left"))
    hi = int(np.searchsorted(blocks[:, _B_IDX], math.floor(end_s / BLOCK_S), "right"))
    n, sw, sa, sww, swa, saa = (float(x) for x in blocks[lo:hi, 1:].sum(axis=0))
    if n < 10:
        return nan
    vw = sww - sw * sw / n
    va = saa - sa * sa / n
    cwa = swa - sw * sa / n
    if vw <= 0 or va <= 0:
        return nan
    slope = cwa / vw
    resid = max(va - slope * cwa, 1e-30) / max(n - 2, 1.0)
    return slope, slope / math.sqrt(resid / vw), slope * math.sqrt(vw / n)


def set_features(rep_set: RepSet, blocks: np.ndarray | None, axis_tilt_deg: float) -> SetFeatures:
    """The mounting-free features of one set (see :class:`SetFeatures`)."""
    reps = rep_set.reps
    slope, tstat, effect = (
        (math.nan, math.nan, math.nan) if blocks is None else _lever_fit(blocks, rep_set.start_s, rep_set.end_s)
    )

    def med(vals: list[float]) -> float:
        v = [x for x in vals if math.isfinite(x)]
        return float(statistics.median(v)) if v else math.nan

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
    )


@dataclass(frozen=True)
class DrillPrototype:
    """What a drill looks like to a thigh sensor: its pose and movement, and typical ranges.

    ``hangs`` is the lever sign it shows (+1 open chain below the hip, -1
    lifted against gravity or turning about the knee); the ranges (lo, hi)
    are practice ranges as the analysis measures them (``hold_s`` within
    ``hold_band_deg`` of the peak includes the slow approach to it);
    ``period_s`` None for drills done as single reps or without a tempo.
    """

    name: str
    pose: str
    movement: str
    hangs: int
    rom_deg: tuple[float, float]
    rise_s: tuple[float, float]
    hold_s: tuple[float, float]
    period_s: tuple[float, float] | None


#: The drills of issue 19 (and the real recordings' exercises) as the analysis sees them.
DRILL_PROTOTYPES: tuple[DrillPrototype, ...] = (
    DrillPrototype("ballistic", "standing", "flexion", 1, (35, 85), (0.1, 0.35), (0.05, 0.35), (0.4, 0.9)),
    DrillPrototype("hold", "standing", "flexion", 1, (75, 110), (0.4, 1.0), (3.0, 4.3), (4.5, 8.0)),
    DrillPrototype("strength", "standing", "flexion", 1, (45, 95), (1.0, 1.7), (0.8, 1.5), (3.0, 4.5)),
    DrillPrototype("march", "standing", "flexion", 1, (40, 100), (0.3, 0.65), (0.15, 0.55), (0.85, 1.4)),
    DrillPrototype("stride", "standing", "flexion", 1, (45, 115), (0.2, 0.45), (0.1, 0.35), (0.55, 0.85)),
    DrillPrototype("donkey_kick", "all_fours", "extension", 1, (45, 85), (0.6, 1.3), (0.5, 1.4), (2.0, 3.6)),
    DrillPrototype("single_leg_deadlift", "standing", "extension", 1, (45, 85), (1.4, 2.7), (1.0, 2.2), (4.0, 7.5)),
    DrillPrototype("side_lunge", "standing", "abduction", 1, (22, 42), (0.7, 1.3), (1.0, 2.2), (3.0, 5.0)),
    DrillPrototype("hip_hike", "standing", "adduction", 1, (4, 12), (0.7, 1.3), (0.8, 1.8), (2.5, 4.0)),
    DrillPrototype("hip_rotation", "standing", "rotation", 0, (25, 50), (0.7, 1.3), (0.5, 1.3), (2.0, 3.5)),
    DrillPrototype("hip_flexor_stretch", "standing", "extension", 1, (12, 30), (1.4, 2.7), (24, 34), None),
    DrillPrototype("side_lying_abduction", "side", "abduction", -1, (25, 48), (0.7, 1.5), (0.8, 2.0), (2.5, 5.0)),
    DrillPrototype("clamshell", "side", "rotation", -1, (20, 42), (0.5, 1.2), (0.6, 1.8), (2.0, 4.0)),
    DrillPrototype("glute_bridge", "supine", "extension", -1, (22, 42), (0.7, 1.5), (2.0, 4.0), (4.0, 7.5)),
    DrillPrototype("straight_leg_raise", "supine", "flexion", -1, (30, 75), (0.9, 2.0), (4.8, 7.0), (8.0, 11.0)),
    DrillPrototype("prone_leg_raise", "prone", "extension", -1, (10, 40), (0.9, 2.0), (4.8, 7.0), (8.0, 11.0)),
    DrillPrototype("squat", "standing", "flexion", -1, (35, 100), (0.8, 2.5), (0.3, 2.0), (2.5, 6.0)),
    DrillPrototype("sit_to_stand", "seated", "extension", -1, (55, 100), (0.6, 2.0), (0.3, 2.5), (2.0, 5.0)),
)
_POSES_HANGING = ("standing", "all_fours")
_POSES_LIFTED = ("supine", "side", "prone", "seated", "standing")


def _log_fit(x: float, lo: float, hi: float) -> float:
    """Log-likelihood-like score of ``x`` against a range: 0 inside, a log-normal tail outside (sigma 25 %)."""
    if not math.isfinite(x) or x <= 0:
        return 0.0 if not math.isfinite(x) else -4.0
    if lo <= x <= hi:
        return 0.0
    edge = lo if x < lo else hi
    z = math.log(x / edge) / 0.25
    return -0.5 * z * z


def _score(p: DrillPrototype, f: SetFeatures, hangs: int) -> float:
    """Mean score per feature of a set against a prototype (0 = everything in range)."""
    parts = [
        _log_fit(f.rom_deg, *p.rom_deg),
        _log_fit(f.rise_s, *p.rise_s),
        _log_fit(f.hold_s, *p.hold_s),
    ]
    if p.period_s is not None and math.isfinite(f.period_s):
        parts.append(_log_fit(f.period_s, *p.period_s))
    if hangs != 0 and p.hangs != 0:
        parts.append(0.0 if hangs == p.hangs else -8.0)
    return sum(parts) / len(parts)


@dataclass(frozen=True, eq=False)
class SetDescription:
    """What a set was: the drill (or ``unknown``), its pose and movement, and what that rests on.

    Attributes
    ----------
    drill : str
        Name of the best-fitting drill, or ``"unknown"`` when none fits.
    drill_confidence : float
        0..1: the best drill's share of the likelihood over all drills.
    pose, movement : str
        The pose and movement that drill implies (``unknown`` with it).
    pose_candidates, movement_candidates : tuple of str
        Every pose / movement consistent with the measured lever and axis
        (more than one: the sensor cannot tell them apart, see the module notes).
    recognised_from : str
        Short human-readable account of the features.
    features : SetFeatures
    """

    drill: str
    drill_confidence: float
    pose: str
    movement: str
    pose_candidates: tuple[str, ...]
    movement_candidates: tuple[str, ...]
    recognised_from: str
    features: SetFeatures

    def __eq__(self, other: object) -> bool:
        """As their JSON: features that differ in the last bits (sums over other chunkings) do not count."""
        if not isinstance(other, SetDescription):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the ``drill`` block of a set)."""
        return {
            "name": self.drill,
            "confidence": round(self.drill_confidence, 3),
            "pose": self.pose,
            "movement": self.movement,
            "pose_candidates": list(self.pose_candidates),
            "movement_candidates": list(self.movement_candidates),
            "recognised_from": self.recognised_from,
        }


def _candidates(f: SetFeatures) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if math.isfinite(f.axis_tilt_deg) and f.axis_tilt_deg > 45.0:
        return ("standing",), ("rotation",)
    moves = ("flexion", "extension", "abduction", "adduction", "rotation")
    if f.hangs > 0:
        return _POSES_HANGING, moves
    if f.hangs < 0:
        return _POSES_LIFTED, moves
    return ("standing", "seated", "supine", "side", "prone", "all_fours"), moves


def describe_set(f: SetFeatures) -> SetDescription:
    """Name the drill of a set from its features; ``unknown`` when no drill fits.

    Each prototype scores the mean over features of a log-range fit (0 in
    range, a log-normal tail outside); a lever sign that contradicts the
    prototype's costs it heavily, and a drill whose pose or movement is not
    among the candidates the lever and the rep axis allow does not compete.
    The confidence is the best prototype's share of ``exp(4 * score)``.
    """
    hangs = f.hangs
    poses, moves = _candidates(f)
    # Only drills whose pose and movement the measurement allows compete.
    scores = np.array(
        [_score(p, f, hangs) if p.pose in poses and p.movement in moves else -math.inf for p in DRILL_PROTOTYPES]
    )
    best = int(np.argmax(scores))
    w = np.exp(4.0 * (scores - scores[best]))
    conf = float(w[best] / w.sum())
    p = DRILL_PROTOTYPES[best]
    known = scores[best] >= _MIN_FIT
    lever = (
        "no gyro: lever not measured"
        if not math.isfinite(f.lever_t)
        else (
            {1: "thigh hangs below its pivot", -1: "thigh lifted against gravity or turning about the knee"}.get(
                f.hangs, "lever unclear"
            )
            + f" (|a|^2 vs |w|^2 slope {f.lever_slope:+.3f}, t {f.lever_t:+.1f}, effect {f.lever_effect_g2:+.3f} g^2)"
        )
    )
    tilt = "" if not math.isfinite(f.axis_tilt_deg) else f"rep axis {f.axis_tilt_deg:.0f} deg from horizontal; "
    period = "" if not math.isfinite(f.period_s) else f", period {f.period_s:.2f} s"
    text = (
        f"{lever}; {tilt}ROM {f.rom_deg:.0f} deg, rise {f.rise_s:.2f} s, hold {f.hold_s:.2f} s{period}, {f.n_reps} reps"
    )
    if not known:
        return SetDescription("unknown", conf, "unknown", "unknown", poses, moves, text, f)
    return SetDescription(p.name, conf, p.pose, p.movement, poses, moves, text, f)


def axis_tilt_deg(up: np.ndarray | None, axis: np.ndarray | None) -> float:
    """Angle of the rep axis from the horizontal at rest, deg (NaN when either is unknown)."""
    if up is None or axis is None:
        return math.nan
    nu, na = float(np.linalg.norm(up)), float(np.linalg.norm(axis))
    if not (nu > 0 and na > 0):
        return math.nan
    return math.degrees(math.asin(min(1.0, abs(float(np.dot(up, axis))) / (nu * na))))


def describe_sets(
    sets: tuple[RepSet, ...], blocks: np.ndarray | None, up: np.ndarray | None, axis: np.ndarray | None
) -> tuple[RepSet, ...]:
    """The sets with their :class:`SetDescription` (counts and reps untouched).

    ``blocks`` are the lever sums (None without a gyro), ``up`` the rest
    gravity direction and ``axis`` the learned rep axis, both sensor frame.
    """
    tilt = axis_tilt_deg(up, axis)
    return tuple(dataclasses.replace(s, description=describe_set(set_features(s, blocks, tilt))) for s in sets)

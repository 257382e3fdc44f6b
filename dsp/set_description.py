"""What a set was (analysis schema 2): the features a description rests on and the description itself.

Result types of :mod:`hipflex.dsp.posture`, kept apart so that
:mod:`hipflex.dsp.types` (whose sets carry a description) and the naming
module need not import each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["SetDescription", "SetFeatures"]

# |t| of the lever slope beyond which its sign is taken as measured.
_LEVER_T = 3.0
# ... and the lever must change |a|^2 by more than this over the set's typical |w|^2 spread, g^2:
# an accelerometer whose axes' scales differ by 1 % reads |a|^2 up to 0.02 apart in two poses, and
# a slow rehab raise passes between its poses exactly as |w|^2 rises and falls (Bilkent subject 1:
# slopes of +0.1-0.3 while lying, where the lever predicts -0.01).
_LEVER_MIN_EFFECT_G2 = 0.02
# ... and the slope must be one a centripetal lever can give: 2 L / g with the sensor at most L = 0.5 m
# from its pivot (a thigh's length).  A steeper slope is the tangential acceleration or the strikes of a
# fast drill leaking into the regression (a fast raise from lying, 0.5 g^2 at a slope of +0.26 on
# Bilkent's prone raises), not the lever's sign.
_LEVER_MAX_SLOPE = 2.0 * 0.5 / 9.80665


@dataclass(frozen=True)
class SetFeatures:
    """What a set's description rests on (all mounting-free).

    ``lever_slope`` (g^2 per rad^2/s^2) and ``lever_t`` its t statistic
    (without a gyro against the angle's rate, :mod:`hipflex.dsp.angle_rate_lever`;
    NaN where not fitted), ``lever_effect_g2`` the slope times the standard
    deviation of ``|w|^2`` over the set (how much the lever changes
    ``|a|^2``); ``axis_tilt_deg`` the learned rep axis' angle from the
    horizontal at rest (NaN when unknown); medians over the reps of
    ``rom_deg``, ``rise_s`` (start to peak), ``hold_s`` and ``period_s``
    (peak to peak, NaN for one rep); ``n_reps``.  With the flat-on-the-skin
    prior (``Settings.face_normal_axis``, :mod:`hipflex.dsp.mounting_prior`):
    ``face_up_cos``, the cosine between the sensor's face normal and the
    rest "up" direction, and ``face_axis_cos``, ``|cos|`` between it and the
    rep axis (NaN without the prior; these two depend on the mounting).
    ``lever_up_cos``: the cosine between the session's lever (pivot to
    sensor, fitted in the learning phase: ``GyroFrameCheck.lever``) and the
    set's rest "up": -1 the thigh hangs below the hip, 0 it lies across the
    vertical (lying, seated), +1 it stands above its pivot (a squat's knee);
    NaN without a gyro or a clear lever (mounting-free: an angle between
    two directions in one sensor frame).  ``lever_rise_cos``: how fast that
    cosine grows per radian of the set's working rotation at rest,
    ``(rep axis x lever) . up``: positive when the working direction lifts
    the sensor away from its pivot against gravity (a raise from lying
    lifts the knee), negative when it lowers it; NaN as ``lever_up_cos``
    (mounting-free: the sensor's upward speed per unit working rate,
    ``omega x lever``, a physical direction whatever the rotation or leg).
    ``thigh_up`` and ``thigh_axis``: the rest "up" and the rep axis (its
    part across the thigh, unit; the middle entry 0) in the frame of the
    face normal and the lever, :func:`.thigh_frame.frame_cosines` (NaN
    without the prior's sense and leg, a lever, or a thigh lying across the
    vertical; these depend on the mounting); ``thigh_frame`` what gave the
    thigh's long axis (``"lever"``, ``"rise"``, ``""`` not measured).
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
    face_up_cos: float = math.nan
    face_axis_cos: float = math.nan
    lever_up_cos: float = math.nan
    lever_rise_cos: float = math.nan
    thigh_up: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    thigh_axis: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    thigh_frame: str = ""

    @property
    def hangs(self) -> int:
        """+1 the thigh hangs below its pivot, -1 lifted / knee pivot, 0 not measured."""
        if not math.isfinite(self.lever_t) or abs(self.lever_t) < _LEVER_T:
            return 0
        if not abs(self.lever_effect_g2) > _LEVER_MIN_EFFECT_G2 or abs(self.lever_slope) > _LEVER_MAX_SLOPE:
            return 0
        return 1 if self.lever_t > 0 else -1


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

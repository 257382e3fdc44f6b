"""A set's mounting-free geometry in the sensor frame: the rep axis' tilt and the lever's direction.

Each is a function of directions measured in one sensor frame (the rest
"up", the learned rep axis, the gyro-frame lever), so it does not change
when the sensor is turned on the thigh or the leg is mirrored;
:mod:`hipflex.dsp.posture` scores a set's drill with them
(``SetFeatures.axis_tilt_deg``, ``lever_up_cos``, ``lever_rise_cos``).
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp.session_geometry import unit

__all__ = ["axis_tilt_deg", "lever_rise_cos", "lever_up_cos"]


def axis_tilt_deg(up: np.ndarray | None, axis: np.ndarray | None) -> float:
    """Angle of the rep axis from the horizontal at rest, deg (NaN when either is unknown)."""
    if up is None or axis is None:
        return math.nan
    nu, na = float(np.linalg.norm(up)), float(np.linalg.norm(axis))
    if not (nu > 0 and na > 0):
        return math.nan
    return math.degrees(math.asin(min(1.0, abs(float(np.dot(up, axis))) / (nu * na))))


def lever_up_cos(lever: np.ndarray | None, up: np.ndarray | None) -> float:
    """Cosine between the unit ``lever`` and ``up`` (NaN when either is unknown)."""
    u = unit(up)
    if lever is None or u is None:
        return math.nan
    return float(np.dot(lever, u))


def lever_rise_cos(lever: np.ndarray | None, up: np.ndarray | None, axis: np.ndarray | None) -> float:
    """``(axis x lever) . up`` of the unit vectors (NaN when any is unknown): ``SetFeatures.lever_rise_cos``."""
    u, a = unit(up), unit(axis)
    if lever is None or u is None or a is None:
        return math.nan
    return float(np.dot(np.cross(a, lever), u))

"""The flat-on-the-skin prior: what a known face-normal axis tells about pose and movement.

With an unknown mounting, only the angle between the rest gravity and the
rep axis is mounting-free (:mod:`hipflex.dsp.posture`): a raise lying on
the back, on the side or face down is one rigid motion.  A sensor strapped
flat on the thigh adds a third direction the user can name: its face normal
``n`` (a device axis: the z axis of the Polar Verity Sense / H10 and the
MetaMotion boards), which is perpendicular to the thigh's long axis and
points out of the skin at some azimuth around the thigh.

In the thigh frame (anterior ``A``, lateral ``L``, up the thigh ``U``) a
drill fixes the rest "up" direction and the rep axis (a raise on the back:
up ``A``, axis ``L``; on the side: up ``L``, axis ``A``; standing flexion:
up ``U``, axis ``L``).  A sensor at azimuth ``psi`` has
``n = cos(psi) A + sin(psi) L``, so the drill predicts the two cosines the
sensor measures, ``up . n`` and ``|axis . n|`` (rotations keep angles; the
axis' sign and the leg's mirror are left out: both are unknown).  A drill
whose prediction misses the measurement at every azimuth the user allows
(any, or near the front or the outer side) is unlikely.

What it fixes: with the azimuth unknown, whether the thigh lies (the face
looks up or down at rest) or hangs, except where the rep axis runs along
the normal (a flexion seen from the outer side, an abduction from the
front); with the placement known as well, the plane of the movement and
the side-lying pose; with the leg known as well, the sense of the rep
axis (flexion or extension, abduction or adduction).  Off by default: a sensor in a pocket or on an arm
band is not flat on the thigh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "FACE_NORMAL_AXES",
    "PLACEMENTS",
    "FlatPrior",
    "MountingFacts",
    "face_cosines",
    "geometry_fit",
]

#: Accepted ``Settings.face_normal_axis`` values: a device axis, signed when its outward sense is known.
FACE_NORMAL_AXES = ("x", "y", "z", "+x", "+y", "+z", "-x", "-y", "-z")
#: Accepted ``Settings.sensor_placement`` values and their azimuth around the thigh, deg from anterior.
PLACEMENTS = {"front": 0.0, "lateral": 90.0}
# How far a strapped sensor sits from its nominal placement, deg (thighs are not cylinders).
_PLACEMENT_SPREAD_DEG = 30.0
# Spread of a measured cosine about the drill's prediction: straps tilt, axes wobble between reps,
# real drills are not done in one plane.
_COS_SIGMA = 0.25


class MountingFacts(Protocol):
    """What the user says of the mounting (``Settings`` has these; a protocol, so that this module
    need not import the settings, which import its vocabularies)."""

    @property
    def face_normal_axis(self) -> str | None: ...

    @property
    def sensor_placement(self) -> str | None: ...

    @property
    def sensor_leg(self) -> str | None: ...


@dataclass(frozen=True)
class FlatPrior:
    """A sensor flat on the thigh: its face normal in sensor axes and where it may sit around the thigh.

    Attributes
    ----------
    normal : ndarray, shape (3,)
        Unit face normal, sensor frame (out of the skin when ``signed``).
    signed : bool
        Whether the normal's outward sense is known.
    azimuths_deg : ndarray
        Azimuths around the thigh the sensor may sit at, deg from anterior
        towards lateral.
    leg_sign : float
        +1 right leg, -1 left, 0 unknown: with the leg (and the normal's
        sense) known, the rep axis' sense tells flexion from extension and
        abduction from adduction (a mirror turns a rotation's sense).
    """

    normal: np.ndarray
    signed: bool
    azimuths_deg: np.ndarray
    leg_sign: float = 0.0

    @classmethod
    def from_settings(cls, settings: MountingFacts) -> FlatPrior | None:
        """The prior the settings ask for (``face_normal_axis``, ``sensor_placement``), or None."""
        axis = settings.face_normal_axis
        if axis is None:
            return None
        normal = np.zeros(3)
        normal["xyz".index(axis[-1])] = -1.0 if axis.startswith("-") else 1.0
        if settings.sensor_placement is None:
            az = np.arange(0.0, 360.0, 5.0)
        else:
            c = PLACEMENTS[settings.sensor_placement]
            az = np.arange(c - _PLACEMENT_SPREAD_DEG, c + _PLACEMENT_SPREAD_DEG + 1e-9, 5.0)
        leg = {"right": 1.0, "left": -1.0}.get(settings.sensor_leg or "", 0.0)
        return cls(normal, len(axis) == 2, az, leg if len(axis) == 2 else 0.0)


def face_cosines(prior: FlatPrior | None, up: np.ndarray | None, axis: np.ndarray | None) -> tuple[float, float]:
    """``up . n`` and ``axis . n``; NaN when unknown.

    ``|up . n|`` when the normal's sense is unknown; ``|axis . n|`` unless the
    leg is known too (the rep axis is signed by the learned working
    direction: a rotation about it by a positive angle is the excursion).
    """
    if prior is None or up is None or axis is None:
        return math.nan, math.nan
    nu, na = float(np.linalg.norm(up)), float(np.linalg.norm(axis))
    if not (nu > 0 and na > 0):
        return math.nan, math.nan
    c_up = float(np.dot(up, prior.normal)) / nu
    c_axis = float(np.dot(axis, prior.normal)) / na
    return (c_up if prior.signed else abs(c_up)), (c_axis if prior.leg_sign else abs(c_axis))


def geometry_fit(prior: FlatPrior, c_up: float, c_axis: float, rest_up: np.ndarray, rep_axis: np.ndarray) -> np.ndarray:
    """Log-likelihood of the measured cosines under each drill's thigh-frame geometry, shape (P,).

    ``rest_up`` and ``rep_axis`` (P, 3) are each drill's rest up direction
    and its working rotation axis (signed as on a right leg) in thigh axes
    (anterior, lateral, up the thigh); the best azimuth the prior allows
    counts.  Zero when the cosines are unknown.
    """
    if not (math.isfinite(c_up) and math.isfinite(c_axis)):
        return np.zeros(rest_up.shape[0])
    psi = np.radians(prior.azimuths_deg)
    n_t = np.stack([np.cos(psi), np.sin(psi), np.zeros_like(psi)], axis=1)  # (K, 3)
    up_pred = rest_up @ n_t.T  # (P, K)
    if not prior.signed:
        up_pred = np.abs(up_pred)
    ax_pred = prior.leg_sign * (rep_axis @ n_t.T) if prior.leg_sign else np.abs(rep_axis @ n_t.T)
    d2 = (up_pred - c_up) ** 2 + (ax_pred - c_axis) ** 2
    return -0.5 * d2.min(axis=1) / (_COS_SIGMA * _COS_SIGMA)

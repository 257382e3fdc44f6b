"""Rigid-body model of a thigh-mounted IMU: specific force and angular rate.

Frames
------
World: x forward, y left, z up; gravity (0, 0, -9.80665) m/s^2.
Thigh: coincides with the world frame when standing; its long axis points
down from the hip (the thigh "up" axis u is +z, anterior w is +x).
Thigh orientation::

    R_thigh = R_y(-theta) . R_x(a) . R_z(c)

theta is flexion (knee forward/up positive; with flexion outermost theta is
exactly the sagittal-plane angle of the long axis), a the abduction and c
the internal rotation, signed for the leg (right leg: abduction moves the
knee to -y, internal rotation turns the front towards +y).
Sensor: ``R_s = R_thigh . R_wobble . R_mount`` where ``R_mount`` maps sensor
axes to thigh axes (placement base, then the mounting's extra rotation) and
``R_wobble`` is the soft-tissue wobble of the strap about the sensor.
Position: ``p = h + R_thigh (r_mount + d)`` with ``d`` the soft-tissue
displacement (impacts, wobble) in the thigh frame.

Outputs: accelerometer = ``R_s^T (p'' - g)`` in g, gyroscope = body rate of
``R_s`` in deg/s, both in sensor axes.  All derivatives are analytic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.units import STANDARD_GRAVITY_MPS2

from .track import Track

__all__ = [
    "BodySignals",
    "Mounting",
    "ThighKinematics",
    "euler_zyx_deg",
    "matrix_from_euler_zyx_deg",
    "rigid_body_signals",
]

FloatArray = NDArray[np.float64]


def _rot(axis: int, angle_rad: float) -> FloatArray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def matrix_from_euler_zyx_deg(rotation_deg: tuple[float, float, float]) -> FloatArray:
    """``R_z(rz) . R_y(ry) . R_x(rx)`` for ``rotation_deg = (rx, ry, rz)``, shape (3, 3)."""
    rx, ry, rz = np.radians(rotation_deg)
    return _rot(2, rz) @ _rot(1, ry) @ _rot(0, rx)


def euler_zyx_deg(m: FloatArray) -> tuple[float, float, float]:
    """Inverse of :func:`matrix_from_euler_zyx_deg`: (rx, ry, rz) degrees of a rotation matrix."""
    ry = -np.arcsin(np.clip(m[2, 0], -1.0, 1.0))
    rx = np.arctan2(m[2, 1], m[2, 2])
    rz = np.arctan2(m[1, 0], m[0, 0])
    return (float(np.degrees(rx)), float(np.degrees(ry)), float(np.degrees(rz)))


@dataclass(frozen=True)
class Mounting:
    """Where and how the sensor is strapped to the thigh.

    Attributes
    ----------
    placement : {"front", "side", "around"}
        Anterior or lateral thigh surface, or anywhere ``azimuth_deg`` around
        it.  Base sensor axes: front -> x out of the skin (anterior), y left,
        z up the thigh; side -> x out of the skin (lateral), z up the thigh,
        y = z cross x; around -> x out of the skin at ``azimuth_deg``, z up
        the thigh, y = z cross x (front and side are azimuths 0 and 90).
    rotation_deg : (rx, ry, rz)
        Extra rotation of the sensor axes relative to the base, degrees,
        applied as ``R_z(rz) R_y(ry) R_x(rx)`` (any angles, e.g. upside down).
    distance_below_hip_m : float
        Along the thigh from the hip joint, metres (typically 0.15-0.30).
    surface_offset_m : float
        From the femur axis to the skin under the sensor, metres.
    leg : {"right", "left"}
        Instrumented leg (sets the lateral side and out-of-plane signs).
    azimuth_deg : float
        With ``placement="around"``: where on the thigh's circumference the
        sensor sits, degrees from anterior towards lateral (0 front, 90 the
        outer side, 180 back, 270 the inner side).  Ignored otherwise.
    """

    placement: Literal["front", "side", "around"]
    rotation_deg: tuple[float, float, float]
    distance_below_hip_m: float = 0.22
    surface_offset_m: float = 0.07
    leg: Literal["right", "left"] = "right"
    azimuth_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.placement not in ("front", "side", "around"):
            raise ValueError(f"placement must be 'front', 'side' or 'around', got {self.placement!r}")
        if not np.isfinite(self.azimuth_deg):
            raise ValueError(f"azimuth_deg must be finite, got {self.azimuth_deg!r}")
        if self.leg not in ("right", "left"):
            raise ValueError(f"leg must be 'right' or 'left', got {self.leg!r}")
        rot = tuple(float(r) for r in self.rotation_deg)
        if len(rot) != 3 or not all(np.isfinite(rot)):
            raise ValueError(f"rotation_deg must be three finite angles, got {self.rotation_deg!r}")
        object.__setattr__(self, "rotation_deg", rot)
        if not 0.0 < self.distance_below_hip_m < 0.6:
            raise ValueError(f"distance_below_hip_m must be in (0, 0.6) m, got {self.distance_below_hip_m!r}")
        if not 0.0 <= self.surface_offset_m < 0.3:
            raise ValueError(f"surface_offset_m must be in [0, 0.3) m, got {self.surface_offset_m!r}")

    @classmethod
    def random(cls, rng: np.random.Generator) -> Mounting:
        """Front or side, either leg, a uniformly random rotation, 0.15-0.30 m below the hip."""
        q = rng.standard_normal(4)
        w, x, y, z = q / np.linalg.norm(q)
        # Unit quaternion with isotropic direction = uniform rotation (Haar measure).
        m = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )
        placement: Literal["front", "side"] = "front" if rng.random() < 0.5 else "side"
        leg: Literal["right", "left"] = "right" if rng.random() < 0.5 else "left"
        return cls(
            placement=placement,
            rotation_deg=euler_zyx_deg(m),
            distance_below_hip_m=float(rng.uniform(0.15, 0.30)),
            surface_offset_m=float(rng.uniform(0.05, 0.09) if placement == "front" else rng.uniform(0.06, 0.10)),
            leg=leg,
        )

    @classmethod
    def anywhere(cls, rng: np.random.Generator, distance_range_m: tuple[float, float] = (0.10, 0.35)) -> Mounting:
        """Anywhere on the thigh, any rotation, either leg.

        The azimuth is uniform from 45 degrees on the inner front, over the
        front and the outer side, to the back of the thigh (-45..225
        degrees: where a strap's sensor ends up, short of the inner thigh
        between the legs), the rotation uniform (Haar), the distance below
        the hip uniform in ``distance_range_m`` (metres) and the skin
        0.05-0.10 m from the femur axis.
        """
        rot = cls.random(rng).rotation_deg
        lo, hi = distance_range_m
        leg: Literal["right", "left"] = "right" if rng.random() < 0.5 else "left"
        return cls(
            placement="around",
            rotation_deg=rot,
            distance_below_hip_m=float(rng.uniform(lo, hi)),
            surface_offset_m=float(rng.uniform(0.05, 0.10)),
            leg=leg,
            azimuth_deg=float(rng.uniform(-45.0, 225.0)),
        )

    @classmethod
    def flat(
        cls,
        rng: np.random.Generator,
        azimuth_range_deg: tuple[float, float] = (-45.0, 225.0),
        tilt_deg: float = 8.0,
    ) -> Mounting:
        """Strapped flat on the thigh with the device's +z axis out of the skin, any spin about it, either leg.

        How a strapped sensor sits (the Polar Verity Sense / H10 and the
        MetaMotion boards have z normal to their face): the face normal is
        the thigh surface's outward normal, tipped by a strap's unevenness
        (a uniform 0..``tilt_deg`` degrees in a random direction), the spin
        about it uniform, the azimuth uniform in ``azimuth_range_deg``
        (degrees from anterior towards lateral; the default spans the inner
        front, the front, the outer side and the back, as
        :meth:`anywhere`), 0.15-0.30 m below the hip, skin 0.05-0.10 m from
        the femur axis.
        """
        spin = float(rng.uniform(-180.0, 180.0))
        tip_dir, tip = float(rng.uniform(0.0, 2.0 * np.pi)), np.radians(float(rng.uniform(0.0, tilt_deg)))
        # Base axes: x out of the skin.  Sensor z -> base x (R_y(90)), spun about the normal, then tipped.
        # (the tip turns about an axis in the face plane: y turned about the normal x by tip_dir)
        tipped = _rot(0, tip_dir) @ _rot(1, tip) @ _rot(0, -tip_dir)
        m = tipped @ _rot(0, np.radians(spin)) @ _rot(1, np.pi / 2)
        leg: Literal["right", "left"] = "right" if rng.random() < 0.5 else "left"
        return cls(
            placement="around",
            rotation_deg=euler_zyx_deg(m),
            distance_below_hip_m=float(rng.uniform(0.15, 0.30)),
            surface_offset_m=float(rng.uniform(0.05, 0.10)),
            leg=leg,
            azimuth_deg=float(rng.uniform(*azimuth_range_deg)),
        )

    @property
    def effective_azimuth_deg(self) -> float:
        """Azimuth of the sensor around the thigh, degrees (front 0, side 90)."""
        return {"front": 0.0, "side": 90.0}.get(self.placement, self.azimuth_deg)

    @property
    def side_sign(self) -> float:
        """+1 for the left leg (lateral is +y), -1 for the right."""
        return 1.0 if self.leg == "left" else -1.0

    def rotation_matrix(self) -> FloatArray:
        """``R_mount``: sensor axes -> thigh axes, shape (3, 3)."""
        if self.placement == "front":
            base = np.eye(3)
        elif self.placement == "side":
            base = _rot(2, self.side_sign * np.pi / 2)
        else:
            base = _rot(2, self.side_sign * np.radians(self.azimuth_deg))
        return base @ matrix_from_euler_zyx_deg(self.rotation_deg)

    def position_m(self) -> FloatArray:
        """``r_mount``: sensor position in the thigh frame relative to the hip joint, metres, (3,)."""
        if self.placement == "front":
            return np.array([self.surface_offset_m, 0.0, -self.distance_below_hip_m])
        if self.placement == "side":
            return np.array([0.0, self.side_sign * self.surface_offset_m, -self.distance_below_hip_m])
        az = np.radians(self.azimuth_deg)
        d = self.surface_offset_m
        return np.array([d * np.cos(az), self.side_sign * d * np.sin(az), -self.distance_below_hip_m])


@dataclass(frozen=True, eq=False)
class ThighKinematics:
    """Motion of the thigh and of the strap on it, on a dense time grid.

    Attributes
    ----------
    time_s : ndarray, shape (n,)
        Time, seconds.
    flexion_deg, abduction_deg, rotation_deg : Track
        Thigh flexion, abduction and internal rotation with exact
        derivatives, degrees (deg/s, deg/s^2).
    hip_acc_mps2 : ndarray, shape (n, 3)
        Acceleration of the hip joint in the world frame, m/s^2.
    wobble_rad : Track or None
        Angle of the strap's soft-tissue wobble about ``wobble_axis``, rad.
    wobble_axis : ndarray, shape (3,)
        Unit axis of that wobble, thigh frame.
    tissue_m : Track or None
        Soft-tissue displacement of the sensor in the thigh frame, metres,
        shape (n, 3).
    pose_matrix : ndarray, shape (3, 3) or (n, 3, 3), or None
        The body's rest pose: pelvis axes -> world axes (None: standing, the
        identity).  Lying, kneeling or on all fours the pelvis is turned
        against gravity; the thigh angles stay relative to the pelvis.  One
        matrix per sample when the body changes pose during the recording
        (lying down, getting up): then ``pelvis_rate_dps`` gives its turn.
    pelvis_rate_dps : ndarray, shape (n, 3), or None
        Angular rate of the pelvis in its own axes, deg/s (None: a fixed pose).
    """

    time_s: FloatArray
    flexion_deg: Track
    abduction_deg: Track
    rotation_deg: Track
    hip_acc_mps2: FloatArray
    wobble_rad: Track | None = None
    wobble_axis: FloatArray | None = None
    tissue_m: Track | None = None
    pose_matrix: FloatArray | None = None
    pelvis_rate_dps: FloatArray | None = None


@dataclass(frozen=True, eq=False)
class BodySignals:
    """Ideal (noise-free, unfiltered) sensor signals on the dense grid, sensor axes.

    ``acc_g`` (n, 3) specific force in g; ``gyr_dps`` (n, 3) angular rate in deg/s.
    """

    acc_g: FloatArray
    gyr_dps: FloatArray


def _rx(v: FloatArray, a: FloatArray) -> FloatArray:
    c, s = np.cos(a), np.sin(a)
    return np.stack([v[:, 0], c * v[:, 1] - s * v[:, 2], s * v[:, 1] + c * v[:, 2]], axis=1)


def _ry(v: FloatArray, a: FloatArray) -> FloatArray:
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * v[:, 0] + s * v[:, 2], v[:, 1], -s * v[:, 0] + c * v[:, 2]], axis=1)


def _rz(v: FloatArray, a: FloatArray) -> FloatArray:
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], axis=1)


def _axis_vec(k: int, values: FloatArray) -> FloatArray:
    out = np.zeros((values.shape[0], 3))
    out[:, k] = values
    return out


def rigid_body_signals(kin: ThighKinematics, mounting: Mounting) -> BodySignals:
    """Specific force and angular rate at the sensor, sensor axes, on the dense grid.

    Parameters
    ----------
    kin : ThighKinematics
        Thigh, hip and soft-tissue motion, n samples.
    mounting : Mounting
        Sensor placement and rotation.

    Returns
    -------
    BodySignals
        ``acc_g`` = R_s^T (p'' - g) / g0 and ``gyr_dps`` = body rate of R_s,
        shapes (n, 3).
    """
    n = kin.time_s.shape[0]
    d2r = np.pi / 180.0
    s = mounting.side_sign
    th, th1, th2 = (x * d2r for x in (kin.flexion_deg.y, kin.flexion_deg.dy, kin.flexion_deg.ddy))
    # Signed so the physiological directions match the leg (see module notes).
    a, a1, a2 = (x * s * d2r for x in (kin.abduction_deg.y, kin.abduction_deg.dy, kin.abduction_deg.ddy))
    c, c1, c2 = (x * -s * d2r for x in (kin.rotation_deg.y, kin.rotation_deg.dy, kin.rotation_deg.ddy))

    def m_t(v: FloatArray) -> FloatArray:  # (R_x(a) R_z(c))^T v
        return _rz(_rx(v, -a), -c)

    # Body rate of R_y(-theta) R_x(a) R_z(c) and its exact time derivative.
    w_a = m_t(_axis_vec(1, -th1))
    w_b = _rz(_axis_vec(0, a1), -c)
    w_c = _axis_vec(2, c1)
    omega = w_a + w_b + w_c
    omega2 = w_b + w_c  # body rate of R_x(a) R_z(c)
    dw_a = -np.cross(omega2, w_a) + m_t(_axis_vec(1, -th2))
    dw_b = -np.cross(w_c, w_b) + _rz(_axis_vec(0, a2), -c)
    domega = dw_a + dw_b + _axis_vec(2, c2)
    if kin.pelvis_rate_dps is not None:
        # The pelvis turning (the body lying down or getting up) adds its rate,
        # seen in the thigh's axes (R_thigh^T, as for the hip's acceleration
        # below); its derivative numerically: a body turns slowly, over seconds.
        w_p = m_t(_ry(np.radians(np.asarray(kin.pelvis_rate_dps, dtype=np.float64)), th))
        omega = omega + w_p
        domega = domega + np.gradient(w_p, kin.time_s, axis=0)

    r = np.broadcast_to(mounting.position_m(), (n, 3))
    rel = np.cross(domega, r) + np.cross(omega, np.cross(omega, r))
    if kin.tissue_m is not None:
        d = kin.tissue_m
        r = r + d.y
        rel = np.cross(domega, r) + np.cross(omega, np.cross(omega, r)) + 2.0 * np.cross(omega, d.dy) + d.ddy
    # Hip acceleration minus gravity, rotated into the thigh frame: R_thigh^T = R_z(-c) R_x(-a) R_y(theta).
    hip = kin.hip_acc_mps2 + np.array([0.0, 0.0, STANDARD_GRAVITY_MPS2])
    if kin.pose_matrix is not None:
        # World -> pelvis axes (row vectors: P^T v == v @ P), before the thigh's own turn.
        pose = np.asarray(kin.pose_matrix, dtype=np.float64)
        hip = hip @ pose if pose.ndim == 2 else np.einsum("ni,nij->nj", hip, pose)
    f_thigh = m_t(_ry(hip, th)) + rel

    gyr = omega
    if kin.wobble_rad is not None and kin.wobble_axis is not None:
        axis = np.asarray(kin.wobble_axis, dtype=np.float64)
        axis = axis / np.linalg.norm(axis)
        phi = kin.wobble_rad.y[:, None]
        cp, sp = np.cos(phi), np.sin(phi)

        def wob_t(v: FloatArray) -> FloatArray:  # R_wobble^T v (Rodrigues with -phi)
            return v * cp - np.cross(axis, v) * sp + np.outer(v @ axis, axis) * (1.0 - cp)

        f_thigh = wob_t(f_thigh)
        gyr = wob_t(omega) + np.outer(kin.wobble_rad.dy, axis)
    rm = mounting.rotation_matrix()
    # Row vectors: R_mount^T v == v @ R_mount.
    return BodySignals(acc_g=(f_thigh @ rm) / STANDARD_GRAVITY_MPS2, gyr_dps=np.degrees(gyr @ rm))

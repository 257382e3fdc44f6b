"""Synthetic thigh recordings for the dsp tests (no dependency on ``hipflex.sensor``).

The thigh is a rigid segment swinging about the hip in the sagittal plane.
Its flexion angle theta(t) is a sum of smooth bumps (quintic smoothstep rise,
hold, quintic fall: continuous up to the second derivative).  A sensor ``L``
metres below the hip and ``d`` metres in front of the femur axis measures, in
g units, along the thigh's "up" axis ``u`` and anterior axis ``w``::

    f.w = sin(theta) + (L theta'' - d theta'^2) / g0
    f.u = cos(theta) + (L theta'^2 + d theta'') / g0

and the gyro measures ``theta'`` about the flexion axis ``a = w x u``.  The
sensor frame is given by a rotation matrix whose columns are ``u, w, a``
expressed in sensor coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipflex.dsp import ImuSamples

G0 = 9.80665

#: Default mounting: columns u, w, a = w x u in sensor coordinates.
DEFAULT_FRAME = np.array(
    [
        [0.0, 1.0, 0.0],
        [0.0, 0.0, -1.0],
        [1.0, 0.0, 0.0],
    ]
)


@dataclass(frozen=True)
class Bump:
    """One flexion excursion: rise from 0 to ``amp_deg``, hold, return to 0.

    Attributes
    ----------
    t0 : float
        Start of the rise, s (relative to the recording start).
    rise_s, hold_s, fall_s : float
        Durations of the rise, the hold at the peak and the fall, s.
    amp_deg : float
        Peak angle, degrees.
    """

    t0: float
    rise_s: float
    hold_s: float
    fall_s: float
    amp_deg: float

    @property
    def peak_t(self) -> float:
        """Middle of the hold (the peak time when there is no hold)."""
        return self.t0 + self.rise_s + 0.5 * self.hold_s


def _smoothstep(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quintic smoothstep S(x) = 10x^3 - 15x^4 + 6x^5 on [0, 1] and its two derivatives."""
    x = np.clip(x, 0.0, 1.0)
    s = x**3 * (10.0 - 15.0 * x + 6.0 * x * x)
    d1 = 30.0 * x * x * (1.0 - x) ** 2
    d2 = 60.0 * x * (1.0 - x) * (1.0 - 2.0 * x)
    return s, d1, d2


def theta_of(t: np.ndarray, bumps: Sequence[Bump]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angle (rad), rate (rad/s) and angular acceleration (rad/s^2) of the thigh at times ``t``."""
    th = np.zeros_like(t)
    om = np.zeros_like(t)
    al = np.zeros_like(t)
    for b in bumps:
        amp = np.deg2rad(b.amp_deg)
        x = (t - b.t0) / b.rise_s
        s, d1, d2 = _smoothstep(x)
        inside = (x > 0.0) & (x < 1.0)
        th += amp * s
        om += np.where(inside, amp * d1 / b.rise_s, 0.0)
        al += np.where(inside, amp * d2 / b.rise_s**2, 0.0)
        x = (t - b.t0 - b.rise_s - b.hold_s) / b.fall_s
        s, d1, d2 = _smoothstep(x)
        inside = (x > 0.0) & (x < 1.0)
        th -= amp * s
        om -= np.where(inside, amp * d1 / b.fall_s, 0.0)
        al -= np.where(inside, amp * d2 / b.fall_s**2, 0.0)
    return th, om, al


@dataclass(frozen=True, eq=False)
class Recording:
    """A synthetic recording and the truth behind it."""

    samples: ImuSamples
    theta_deg: np.ndarray
    bumps: tuple[Bump, ...]


def record(
    bumps: Sequence[Bump],
    duration_s: float,
    fs_hz: float = 50.0,
    *,
    gyro: bool = True,
    frame: np.ndarray | None = None,
    lever_m: float = 0.22,
    offset_m: float = 0.0,
    t_origin: float = 0.0,
    acc_noise_g: float = 0.0,
    gyr_noise_dps: float = 0.0,
    gyr_bias_dps: Sequence[float] = (0.0, 0.0, 0.0),
    seed: int = 0,
) -> Recording:
    """Sample the thigh model.

    Parameters
    ----------
    bumps : sequence of Bump
        The excursions (non-overlapping).
    duration_s, fs_hz : float
        Length and rate of the recording.
    gyro : bool
        Include angular rate.
    frame : ndarray, shape (3, 3), optional
        Columns ``u, w, a`` in sensor coordinates (a rotation matrix);
        defaults to :data:`DEFAULT_FRAME`.
    lever_m, offset_m : float
        Sensor distance below the hip and in front of the femur axis, m.
    t_origin : float
        Time of the first row, s.
    acc_noise_g, gyr_noise_dps : float
        Standard deviation of white measurement noise (seeded).
    gyr_bias_dps : sequence of 3 floats
        Constant gyro bias in sensor coordinates.

    Returns
    -------
    Recording
    """
    m = DEFAULT_FRAME if frame is None else np.asarray(frame, dtype=np.float64)
    n = round(duration_s * fs_hz)
    t_rel = np.arange(n) / fs_hz
    th, om, al = theta_of(t_rel, bumps)
    fw = np.sin(th) + (lever_m * al - offset_m * om * om) / G0
    fu = np.cos(th) + (lever_m * om * om + offset_m * al) / G0
    body_acc = np.column_stack([fu, fw, np.zeros(n)])
    body_gyr = np.column_stack([np.zeros(n), np.zeros(n), np.rad2deg(om)])
    acc = body_acc @ m.T
    gyr = body_gyr @ m.T + np.asarray(gyr_bias_dps, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if acc_noise_g > 0:
        acc = acc + rng.normal(0.0, acc_noise_g, acc.shape)
    if gyr_noise_dps > 0:
        gyr = gyr + rng.normal(0.0, gyr_noise_dps, gyr.shape)
    samples = ImuSamples(t_rel + t_origin, acc, gyr if gyro else None)
    return Recording(samples, np.rad2deg(th), tuple(bumps))


def drill(n_reps: int = 3, start_s: float = 3.0, period_s: float = 1.4, amp_deg: float = 70.0) -> list[Bump]:
    """``n_reps`` equal reps after ``start_s`` of quiet standing."""
    return [Bump(start_s + i * period_s, 0.35, 0.2, 0.45, amp_deg) for i in range(n_reps)]


def record_two_axes(
    flexion: Sequence[Bump],
    abduction: Sequence[Bump],
    duration_s: float,
    fs_hz: float = 100.0,
    *,
    mount_rotvec: Sequence[float] = (0.3, -0.5, 0.2),
) -> Recording:
    """A thigh that also swings sideways, sensor at the hip (gravity only).

    The thigh's orientation is ``R_y(theta) R_x(phi) M`` (world z up, x
    anterior): flexion ``theta`` about the lateral axis, abduction ``phi``
    (the ``abduction`` bumps) about the anterior axis, ``M`` the mounting.
    The accelerometer reads "up" in sensor coordinates; the gyro the body
    rate, from central differences of the orientation (second-order accurate).
    """
    from scipy.spatial.transform import Rotation

    n = round(duration_s * fs_hz)
    t = np.arange(n) / fs_hz
    theta = theta_of(t, flexion)[0]
    phi = theta_of(t, abduction)[0]
    mount = Rotation.from_rotvec(np.asarray(mount_rotvec, dtype=np.float64))
    orient = Rotation.from_rotvec(np.outer(theta, [0.0, 1.0, 0.0])) * Rotation.from_rotvec(
        np.outer(phi, [1.0, 0.0, 0.0])
    )
    q = orient * mount
    acc = q.inv().apply([0.0, 0.0, 1.0])
    gyr = np.zeros((n, 3))
    step = q[:-2].inv() * q[2:]
    gyr[1:-1] = np.rad2deg(step.as_rotvec()) * fs_hz / 2.0
    return Recording(ImuSamples(t, acc, gyr), np.rad2deg(theta), tuple(flexion))

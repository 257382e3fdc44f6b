"""The analysis settings: one frozen value that every stage of :mod:`hipflex.dsp` reads.

Defaults are the recommended values; :meth:`Settings.with_` makes a changed copy and
every value is checked when the object is made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipflex.dsp.mounting_prior import FACE_NORMAL_AXES, PLACEMENTS

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Analysis settings.  Defaults are the recommended values.

    Attributes
    ----------
    min_rom_deg : float
        Smallest rise from a local low that counts as a rep, degrees.  The
        same amount of descent from the peak confirms the rep (hysteresis).
    set_gap_s : float
        A pause longer than this between one rep's end and the next rep's
        start splits sets, seconds.
    hold_band_deg : float
        Hold time is the time spent within this many degrees of the peak.
    onset_fraction : float
        A rep starts where theta was last within this fraction of the rise of
        its low, and ends where it first comes within this fraction of the
        fall to the trough that follows (0.05 = 5 %).
    candidate_deg : float
        Excursions at least this large that never reach ``min_rom_deg`` are
        reported as rejected candidates in the diagnostics.
    settle_s : float
        A rep is closed when theta has not set a new low for this long after
        the peak was confirmed, seconds.
    calib_still_s : float
        Length of the quiet standing period that calibrates gravity direction
        and gyro bias, seconds (1 s: people often start moving 1-2 s after
        pressing record).
    still_gyr_dps : float
        Largest deviation of the angular rate, averaged over 0.1 s, from its
        window mean that still counts as quiet, deg/s.
    still_acc_g : float
        Largest deviation of any accelerometer axis from its window mean that
        still counts as quiet, g.
    lock_deg : float
        The first excursion of the thigh this far from standing fixes the
        flexion axis and its sign (positive = towards that excursion).
    max_interp_gap_s : float
        Gaps up to this long are bridged by linear interpolation (and allowed
        inside the calibration window); longer gaps end any rep in progress
        and re-anchor the orientation, seconds.
    max_bridge_gyro_s : float
        With a gyro, gaps up to this long are bridged: the orientation after
        the gap is re-anchored from the accelerometer averaged over a window
        and the gap redrawn as a cubic between the angles and rates on either
        side, so a rep whose peak was lost is still counted; seconds.
    identify_lever : bool
        Accelerometer only: choose ``lever_arm_m`` and ``sensor_offset_m``
        from the first seconds of motion (a likelihood test over candidate
        positions, see :mod:`hipflex.dsp.identify`); the settings' values are
        the fallback when the motion does not tell.
    lever_arm_m : float
        Prior distance of the sensor below the hip joint (accelerometer-only
        pendulum model; also used to remove rotational acceleration before
        the gyro filter's accelerometer correction), metres.
    sensor_offset_m : float
        Prior anterior offset of the sensor from the femur axis (about 0.07 on
        the front of the thigh, 0 on the side, negative on the back); the
        accelerometer-only filter refines it, metres.
    acc_range_g : float or None
        Accelerometer full-scale range, g: values at it are clipped (counted,
        and taken by the filters as bounds, not values); ``None`` counts
        plateaus at the standard ranges 2/4/8/16 g and takes any value at one
        of them as a bound.
    tilt_tau_s : float
        Time constant of the accelerometer correction of the gyro filter, s.
    history_s : float
        Length of angle history kept for rep metrics; longer reps are
        rejected with reason ``too_long``, seconds.
    gyro_bias_tau_s : float
        Time constant of gyro bias learning while the thigh rests, seconds.
    pendulum_jerk_rad_s3 : float
        Accelerometer-only filter: spectral density scale of the thigh's
        angular jerk (motion model noise), rad/s^3 per sqrt(Hz).
    pendulum_acc_noise_g : float
        Accelerometer-only filter: measurement noise of the sagittal specific
        force, including unmodelled hip motion, g.
    pendulum_max_flexion_deg, pendulum_max_extension_deg : float
        Accelerometer-only filter: the thigh's range from standing, forward
        and back, degrees.  The filter's angle stays inside it, so a filter
        that overshoots a fast swing cannot turn over the top.  Back, 40: a
        runner's thigh extends 20-30 deg behind standing; a runner's push in
        stance, read as swing, drove the filter past that to the bound, where
        its outward rate stops and the next swing could be lost.
    pendulum_still_s : float
        Accelerometer-only filter: once the specific force has looked still
        (steady and within 5 % of gravity) for this long, the thigh's rate
        and acceleration are observed to be zero (a zero-velocity update),
        seconds; 0 turns it off.
    sign_confirm_s : float
        The sign of the flexion axis is confirmed on the angle from
        calibration until this long after the lock (the thigh's larger
        excursions are flexion), so the first reps of a session are reported
        up to this much later, s.
    max_learn_s : float
        Longest wait for a quiet window (from the first row) and then for the
        first excursion; after it the quietest window / the evidence so far is
        used, seconds.
    gait_min_extension_deg : float
        Walking (see :mod:`hipflex.dsp.gait`; its steps are not reps): every
        swing of a walk after its first starts at least this far behind the
        standing pose (gait extends the thigh 10-20 degrees behind standing
        on every stride; drills return to about the rest pose), degrees.
        Recommended 1 (the calibrated standing pose can be a degree or two
        off); 0 allowed.
    gait_max_flexion_deg : float
        A step's peak flexion is at most this (level walking: 20-35 degrees;
        fast walking up to about 45; marching 60-90), degrees.  Recommended 45.
    gait_max_rom_deg : float
        With a gyro, a step also rises at most this from its low (walking
        swings the thigh through 40-57 degrees; a march rises 60-95 even where
        the standing reference has drifted); without one the rise is not
        used (foot strikes stretch it), degrees.  Recommended 60.
    gait_min_stride_s, gait_max_stride_s : float
        Every stride of a walk (peak to peak) lasts this long (walking at
        60-140 steps/min; running turns over at 150 and faster), seconds.
        Recommended 0.85 and 2.0.
    gait_min_strides : int
        Swings in a row that make a walk (one more when a swing too small to
        be a rep is among them); a rep that could be a step is held back
        until the run is decided.  Recommended 2.
    face_normal_axis : str or None
        Naming only (never a count): the device axis normal to the sensor's
        face when it is strapped flat on the thigh (``"z"`` for the Polar
        Verity Sense / H10 and MetaMotion boards), ``"+z"`` / ``"-z"`` when
        that sense points out of the skin; the pose and movement of each
        set are then judged with the flat-on-the-skin prior (see
        :mod:`hipflex.dsp.mounting_prior`).  ``None`` (default): any
        mounting, only mounting-free features name the set.
    sensor_placement : str or None
        Naming only, with ``face_normal_axis``: ``"front"`` or ``"lateral"``
        (outer side) of the thigh; ``None``: anywhere around it.
    sensor_leg : str or None
        Naming only, with a signed ``face_normal_axis``: ``"right"`` or
        ``"left"``, the leg the sensor is on (tells flexion from extension
        and abduction from adduction); ``None``: either.
    """

    min_rom_deg: float = 20.0
    set_gap_s: float = 8.0
    hold_band_deg: float = 10.0
    onset_fraction: float = 0.05
    candidate_deg: float = 8.0
    settle_s: float = 0.5
    calib_still_s: float = 1.0
    still_gyr_dps: float = 6.0
    still_acc_g: float = 0.06
    lock_deg: float = 30.0
    max_interp_gap_s: float = 1.0
    max_bridge_gyro_s: float = 2.0
    lever_arm_m: float = 0.22
    sensor_offset_m: float = 0.03
    acc_range_g: float | None = None
    tilt_tau_s: float = 2.0
    history_s: float = 60.0
    gyro_bias_tau_s: float = 10.0
    pendulum_jerk_rad_s3: float = 100.0
    pendulum_acc_noise_g: float = 0.03
    pendulum_max_flexion_deg: float = 120.0
    pendulum_max_extension_deg: float = 40.0
    pendulum_still_s: float = 0.2
    sign_confirm_s: float = 8.0
    max_learn_s: float = 120.0
    identify_lever: bool = True
    gait_min_extension_deg: float = 1.0
    gait_max_flexion_deg: float = 45.0
    gait_max_rom_deg: float = 60.0
    gait_min_stride_s: float = 0.85
    gait_max_stride_s: float = 2.0
    gait_min_strides: int = 2
    face_normal_axis: str | None = None
    sensor_placement: str | None = None
    sensor_leg: str | None = None

    def __post_init__(self) -> None:
        positive = {
            "min_rom_deg": self.min_rom_deg,
            "set_gap_s": self.set_gap_s,
            "hold_band_deg": self.hold_band_deg,
            "candidate_deg": self.candidate_deg,
            "settle_s": self.settle_s,
            "calib_still_s": self.calib_still_s,
            "still_gyr_dps": self.still_gyr_dps,
            "still_acc_g": self.still_acc_g,
            "lock_deg": self.lock_deg,
            "max_interp_gap_s": self.max_interp_gap_s,
            "max_bridge_gyro_s": self.max_bridge_gyro_s,
            "lever_arm_m": self.lever_arm_m,
            "tilt_tau_s": self.tilt_tau_s,
            "history_s": self.history_s,
            "gyro_bias_tau_s": self.gyro_bias_tau_s,
            "pendulum_jerk_rad_s3": self.pendulum_jerk_rad_s3,
            "pendulum_acc_noise_g": self.pendulum_acc_noise_g,
            "sign_confirm_s": self.sign_confirm_s,
            "max_learn_s": self.max_learn_s,
            "gait_max_flexion_deg": self.gait_max_flexion_deg,
            "gait_max_rom_deg": self.gait_max_rom_deg,
            "gait_min_stride_s": self.gait_min_stride_s,
        }
        for name, value in positive.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"setting {name} must be a positive number, got {value!r}")
        if not 0.0 < self.onset_fraction < 0.5:
            raise ValueError(f"setting onset_fraction must be in (0, 0.5), got {self.onset_fraction!r}")
        if self.candidate_deg >= self.min_rom_deg:
            raise ValueError("setting candidate_deg must be smaller than min_rom_deg")
        if not (np.isfinite(self.sensor_offset_m) and abs(self.sensor_offset_m) <= 0.3):
            raise ValueError(f"setting sensor_offset_m must be finite and within +-0.3 m, got {self.sensor_offset_m!r}")
        if not self.min_rom_deg < self.pendulum_max_flexion_deg < 180.0:
            raise ValueError(
                "setting pendulum_max_flexion_deg must be above min_rom_deg and below 180, "
                f"got {self.pendulum_max_flexion_deg!r}"
            )
        if not 0.0 < self.pendulum_max_extension_deg < 180.0:
            raise ValueError(
                f"setting pendulum_max_extension_deg must be in (0, 180), got {self.pendulum_max_extension_deg!r}"
            )
        if not (np.isfinite(self.pendulum_still_s) and self.pendulum_still_s >= 0.0):
            raise ValueError(
                f"setting pendulum_still_s must be zero or a positive number, got {self.pendulum_still_s!r}"
            )
        if not (np.isfinite(self.gait_min_extension_deg) and self.gait_min_extension_deg >= 0.0):
            raise ValueError(
                f"setting gait_min_extension_deg must be zero or positive, got {self.gait_min_extension_deg!r}"
            )
        if not (np.isfinite(self.gait_max_stride_s) and self.gait_max_stride_s > self.gait_min_stride_s):
            raise ValueError(
                f"setting gait_max_stride_s must be above gait_min_stride_s, got {self.gait_max_stride_s!r}"
            )
        if not (isinstance(self.gait_min_strides, int) and self.gait_min_strides >= 2):
            raise ValueError(f"setting gait_min_strides must be an integer >= 2, got {self.gait_min_strides!r}")
        if self.face_normal_axis is not None and self.face_normal_axis not in FACE_NORMAL_AXES:
            raise ValueError(
                f"setting face_normal_axis must be one of {', '.join(FACE_NORMAL_AXES)} or None,"
                f" got {self.face_normal_axis!r}"
            )
        if self.sensor_placement is not None and (
            self.sensor_placement not in PLACEMENTS or self.face_normal_axis is None
        ):
            raise ValueError(
                f"setting sensor_placement must be one of {', '.join(PLACEMENTS)} (with face_normal_axis) or None,"
                f" got {self.sensor_placement!r}"
            )
        if self.sensor_leg is not None and (
            self.sensor_leg not in ("right", "left")
            or self.face_normal_axis is None
            or self.face_normal_axis[0] not in "+-"
        ):
            raise ValueError(
                "setting sensor_leg must be right or left (with a signed face_normal_axis such as +z) or None,"
                f" got {self.sensor_leg!r}"
            )
        if self.acc_range_g is not None and not self.acc_range_g > 0:
            raise ValueError(f"setting acc_range_g must be positive, got {self.acc_range_g!r}")

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, for provenance in results."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)

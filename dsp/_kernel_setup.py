"""The kernel's arrays and how they are set up from a calibration (shared by the learning flow and the pipeline)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_pendulum import _ZUPT_TAU_S
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.identify import LeverFit, lies_across
from hipflex.dsp.learn import Axes, Calibration

__all__: list[str] = []  # private to dsp: the pipeline and the learning flow

# Event rows the kernel may write per call before it returns.
_EVENT_ROWS = 4096
_MAX_CAP_LOG2 = 17
_EMPTY3 = np.zeros((0, 3), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Kernel:
    """Arrays the numba kernels read and update (see ``_layout``)."""

    prm: np.ndarray
    fstate: np.ndarray
    ist: np.ndarray
    hist: np.ndarray

    def copy(self) -> _Kernel:
        # prm too: the per-set axis watch writes the axes into it (dsp/_kern_axis.py).
        return _Kernel(self.prm.copy(), self.fstate.copy(), self.ist.copy(), self.hist.copy())


#: What the accelerometer-only still test allows for noise: a consumer MEMS unit's white noise
#: and a resting thigh's sway, per axis, g (the simulator's 0.008; real units 0.002-0.01).
_ZUPT_NOISE_G = 0.01
#: A still stretch ends when the low-passed force turns more than this many of the noise's standard
#: deviations (of the difference of two low-passed rows) from where it began.
_ZUPT_DRIFT_SIGMAS = 4.0
#: ... but never less than this, deg (the pendulum filter's _ZUPT_TAU_S low-pass at 50 Hz and up).
_ZUPT_MIN_DRIFT_DEG = 1.0
#: The bound applies when ``min_rom_deg`` is below this, deg: reps of a few degrees (hip hikes at 3,
#: the hip flexor stretch at 10) are lost in the lag of a thigh held still while it turns; at the
#: default 20 the rests of the wide simulator had more reps with it (drills11: held-out 300000, 5 ->
#: 11 reps in rests, acc-only 12.5-104 Hz), so there the stillness test stays as it was.
_ZUPT_DRIFT_BELOW_ROM_DEG = 15.0
#: The pendulum filter's flexion bound under a lying thigh's lever, deg (``_make_kernel``).
_LYING_MAX_FLEXION_DEG = 90.0


def _zupt_drift_deg(period_s: float) -> float:
    """The drift of the low-passed force that ends a still stretch, deg (``P_ZUPT_COS``; :mod:`._kern_pendulum`).

    The 0.1 s low-pass of the stillness test averages few rows at a low rate (at 12.5 Hz it keeps
    0.62 of the noise): a fixed 1 deg, 2 of its standard deviations there, ended rests' still
    stretches within the 0.2 s they need and let the filter ring (drills11: tuning wide sessions
    5048 and 5233 at 25 Hz, a rep too many and two in a rest, right with this bound).
    """
    a = 1.0 - math.exp(-period_s / _ZUPT_TAU_S) if period_s > 0.0 else 1.0
    sd_g = math.sqrt(2.0) * _ZUPT_NOISE_G * math.sqrt(a / (2.0 - a))
    return max(_ZUPT_MIN_DRIFT_DEG, math.degrees(_ZUPT_DRIFT_SIGMAS * sd_g))


def _make_kernel(
    settings: Settings,
    has_gyro: bool,
    cal: Calibration,
    axes: Axes,
    lever: LeverFit | None = None,
    identify: bool = False,
) -> _Kernel:
    prm = np.zeros(L.P_N)
    prm[L.P_MIN_ROM] = settings.min_rom_deg
    prm[L.P_CAND] = settings.candidate_deg
    prm[L.P_ONSET_FRAC] = settings.onset_fraction
    prm[L.P_HOLD_BAND] = settings.hold_band_deg
    prm[L.P_SETTLE_S] = settings.settle_s
    prm[L.P_MAX_INTERP_S] = settings.max_bridge_gyro_s if has_gyro else settings.max_interp_gap_s
    prm[L.P_LEVER_M] = settings.lever_arm_m if lever is None else lever.lever_arm_m
    prm[L.P_TILT_TAU] = settings.tilt_tau_s
    prm[L.P_ACC_RANGE] = settings.acc_range_g or 0.0
    prm[L.P_HAS_GYRO] = 1.0 if has_gyro else 0.0
    prm[L.P_U : L.P_U + 3] = axes.u
    prm[L.P_W : L.P_W + 3] = axes.w
    prm[L.P_A : L.P_A + 3] = axes.a
    prm[L.P_STILL_GYR] = settings.still_gyr_dps
    prm[L.P_EKF_Q] = settings.pendulum_jerk_rad_s3**2
    prm[L.P_EKF_R] = settings.pendulum_acc_noise_g
    prm[L.P_BIAS_TAU] = settings.gyro_bias_tau_s
    prm[L.P_OFFSET_M] = settings.sensor_offset_m if lever is None else lever.sensor_offset_m
    prm[L.P_ID] = 1.0 if identify else 0.0
    prm[L.P_G_CAL] = cal.gravity_g
    prm[L.P_THETA_MAX] = math.radians(settings.pendulum_max_flexion_deg)
    if not has_gyro and lever is not None and lies_across(lever):
        # A lying thigh's lever (identify.py): its working angle starts from the floor, and no drill
        # lifts it past the vertical (raises 25-75 deg, clamshells and side-lying raises under 60); a
        # fast rep that carried the filter past 90 deg, where sin(theta) reads alike both sides, went
        # over the top to the hanging thigh's bound (tuning seed 5, straight-leg raises at 50 Hz: 60
        # deg reps read 117, two reps too many).
        prm[L.P_THETA_MAX] = min(prm[L.P_THETA_MAX], math.radians(_LYING_MAX_FLEXION_DEG))
        # Identified from the first motion, it is the lying sets' only: a standing set's "up" lies
        # along the thigh, and read through this lever its reps came out many times over (tuning
        # seed 12, on the side, the back, then standing: 25 reps for 10).  The axis watch
        # (_kern_axis_acc._acc_decide) switches per set between it and the settings' hanging lever
        # by where the rest's "up" lies to the thigh, whose axis is the lever's line (hip to sensor).
        line = -lever.lever_arm_m * axes.u + lever.sensor_offset_m * axes.w
        prm[L.P_LIE_AXIS : L.P_LIE_AXIS + 3] = line / np.linalg.norm(line)
        prm[L.P_LIE_LEVER] = lever.lever_arm_m
        prm[L.P_LIE_LEVER + 1] = lever.sensor_offset_m
        prm[L.P_HANG_LEVER] = settings.lever_arm_m
        prm[L.P_HANG_LEVER + 1] = settings.sensor_offset_m
        prm[L.P_LIE_THETA_MAX] = prm[L.P_THETA_MAX]
        prm[L.P_HANG_THETA_MAX] = math.radians(settings.pendulum_max_flexion_deg)
    prm[L.P_THETA_MIN] = -math.radians(settings.pendulum_max_extension_deg)
    prm[L.P_ZUPT_S] = settings.pendulum_still_s
    # The drift bound only where reps are small (cos 180 deg: none, the test alone, as before drills11).
    small = settings.min_rom_deg < _ZUPT_DRIFT_BELOW_ROM_DEG
    prm[L.P_ZUPT_COS] = math.cos(math.radians(_zupt_drift_deg(cal.period_s) if small else 180.0))
    prm[L.P_SET_GAP_S] = settings.set_gap_s
    prm[L.P_AX_COS_LOCK] = math.cos(math.radians(settings.lock_deg))
    prm[L.P_AX_COS_DECIDE] = math.cos(math.radians(min(settings.lock_deg, settings.min_rom_deg)))
    prm[L.P_AX_COS_DECIDE_POSE] = math.cos(math.radians(min(settings.lock_deg, settings.candidate_deg)))
    # P_AX_WATCH stays 0: set by the learning flow for the session's kernel only
    # (not for its backward run, the sign's trace or a lever candidate's).
    fstate = np.zeros(L.F_N)
    fstate[L.F_ID_XMIN] = math.inf if identify else 0.0
    fstate[L.F_PERIOD] = cal.period_s
    fstate[L.F_G_EST] = cal.gravity_g
    fstate[L.F_ZLP : L.F_ZLP + 3] = cal.up * cal.gravity_g
    fstate[L.F_ZANCHOR : L.F_ZANCHOR + 3] = cal.up  # the still stretch the calibration window was
    fstate[L.F_UP : L.F_UP + 3] = cal.up  # measured gravity, not the sagittal basis vector
    fstate[L.F_BIAS : L.F_BIAS + 3] = cal.gyro_bias_dps
    # Pendulum filter starts at standing, at rest, fairly certain of the angle.
    p0 = np.diag([(2.0 * L.DEG) ** 2, (5.0 * L.DEG) ** 2, 1.0])
    fstate[L.F_P : L.F_P + L.PX * L.PX] = p0.ravel()
    fstate[L.F_LOW] = math.inf
    fstate[L.F_MREF] = math.nan  # no motionless stretch yet
    fstate[L.F_AX_REF : L.F_AX_REF + 3] = cal.up
    ist = np.zeros(L.I_N, dtype=np.int64)
    # At most 2**17 rows (history_s at over 2 kHz): a period estimated from
    # arrival-time stamps (rows 1 us apart) asked for 2**26 rows, 8 GB.
    cap = 1 << max(8, min(_MAX_CAP_LOG2, math.ceil(math.log2(settings.history_s / cal.period_s))))
    ist[L.I_CAP] = cap
    hist = np.zeros((cap, L.H_N_GYRO if has_gyro else L.H_N_PENDULUM))
    return _Kernel(np.ascontiguousarray(prm), fstate, ist, hist)

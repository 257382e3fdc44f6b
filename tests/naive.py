"""Slow, obvious twins of the numba kernels in :mod:`hipflex.dsp`.

Each function here is re-derived from the definition of what its kernel
computes (the kernel docstrings and DESIGN.md), written for a reader rather
than for speed: rotations are :class:`scipy.spatial.transform.Rotation`
objects, the Kalman filter uses explicit ``F, Q, H, S, K`` matrices, rep
metrics work on plain arrays and the detector is a readable state machine.

Every twin takes exactly the arguments of its numba counterpart and updates
the same state arrays (``_layout`` slots) in place, so tests can run both on
copies of one state and compare slot by slot.

The tuning constants (gates, time constants, bounds) are imported from the
kernel modules: they are design choices, not definitions, and the twins test
the algorithms that use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.spatial.transform import Rotation
from scipy.special import erfcx

from hipflex.dsp import _kern_axis as ka
from hipflex.dsp import _kern_axis_acc as kaa
from hipflex.dsp import _kern_censor as kc
from hipflex.dsp import _kern_clip as kcl
from hipflex.dsp import _kern_filters as kf
from hipflex.dsp import _kern_gap as kg
from hipflex.dsp import _kern_gap_acc as kga
from hipflex.dsp import _kern_pendulum as kp
from hipflex.dsp import _kern_run as kr
from hipflex.dsp import _kern_still
from hipflex.dsp import learn as kl
from hipflex.dsp import quiet_window as kq
from hipflex.dsp._kern_reps import _MAX_REP_FRACTION, _MAX_RISE_S, _RENEW_AGE_S, _RENEW_FRACTION, _REST_S
from hipflex.dsp._layout import (
    E_CONF,
    E_END,
    E_FLEX_T,
    E_HOLD,
    E_LOW_DEG,
    E_MEAN_VEL,
    E_PEAK_DEG,
    E_PEAK_T,
    E_PEAK_VEL,
    E_ROM,
    E_START,
    E_STRIKE_G,
    EV_AXES,
    EV_GAP,
    EV_KIND,
    EV_PEAK,
    EV_REJECT,
    EV_REP,
    EX_A,
    EX_T,
    EX_U,
    EX_W,
    F_APG_SNAP,
    F_AX_ANCHOR,
    F_AX_MOVE_S,
    F_AX_QUIET_S,
    F_AX_REF,
    F_AX_SNAP,
    F_AX_STILL_S,
    F_AX_YAW,
    F_BIAS,
    F_CAND_PEAK,
    F_G_EST,
    F_ID_N,
    F_ID_NIS,
    F_ID_XMIN,
    F_JOLT,
    F_LAST_SIGMA,
    F_LOST_S,
    F_LOW,
    F_MREF,
    F_MT0,
    F_N,
    F_NLL,
    F_P,
    F_PEAK,
    F_PERIOD,
    F_PG_CNT,
    F_PG_MAX_SHIFT,
    F_PG_PREV_F,
    F_PG_S,
    F_PG_SUM,
    F_PG_T,
    F_PG_TURNED,
    F_PREV_ACC,
    F_PREV_GYR,
    F_PREV_OA,
    F_PREV_RAW,
    F_PREV_W,
    F_PREV_W2,
    F_REANCHOR_S,
    F_REST_AVG_S,
    F_REST_DIFF_DEG,
    F_REST_DIFF_LP,
    F_REST_S,
    F_RLOW,
    F_T_HAT,
    F_TH_RAD,
    F_TH_ROWS,
    F_TH_UW,
    F_TROUGH,
    F_UP,
    F_X,
    F_ZANCHOR,
    F_ZLP,
    F_ZSTILL_S,
    G0_MPS2,
    H_ACC,
    H_CLIP,
    H_DT,
    H_FLAG,
    H_FLAG_BRIDGED,
    H_FLAG_CLIPPED,
    H_JOLT,
    H_N,
    H_OMEGA,
    H_P,
    H_SIGMA,
    H_STHETA,
    H_SVEL,
    H_THETA,
    H_TIME,
    H_UP,
    H_VEL,
    H_X,
    I_AX_HOLD,
    I_AX_NEW,
    I_CAND_ACTIVE,
    I_CAND_IDX,
    I_CAP,
    I_CLIPPED,
    I_DET,
    I_GAPS,
    I_LOW_IDX,
    I_PEAK_IDX,
    I_PG_END,
    I_PG_GAP0,
    I_PHASE,
    I_PREV_CLIP,
    I_RESTED,
    I_RLOW_IDX,
    I_SAMPLE,
    I_STARTED,
    I_TROUGH_IDX,
    P_A,
    P_ACC_RANGE,
    P_AX_COS_DECIDE,
    P_AX_COS_DECIDE_POSE,
    P_AX_COS_LOCK,
    P_AX_ROT,
    P_AX_WATCH,
    P_BIAS_TAU,
    P_CAND,
    P_EKF_Q,
    P_EKF_R,
    P_G_CAL,
    P_HANG_LEVER,
    P_HANG_THETA_MAX,
    P_HAS_GYRO,
    P_HOLD_BAND,
    P_ID,
    P_LEVER_M,
    P_LIE_AXIS,
    P_LIE_LEVER,
    P_LIE_THETA_MAX,
    P_MAX_INTERP_S,
    P_MIN_ROM,
    P_N,
    P_OFFSET_M,
    P_ONSET_FRAC,
    P_SET_GAP_S,
    P_SETTLE_S,
    P_STILL_GYR,
    P_THETA_MAX,
    P_THETA_MIN,
    P_TILT_TAU,
    P_U,
    P_W,
    P_ZUPT_COS,
    P_ZUPT_S,
    PHASE_FALL,
    PHASE_RISE,
    PHASE_SEEK,
    PX,
    REJ_GAP,
    REJ_RESTED,
    REJ_ROM,
    REJ_TOO_LONG,
    REJ_UNFINISHED,
)

__all__ = [
    "apg_finish",
    "catch_up",
    "detect",
    "finish",
    "interrupt",
    "parabolic",
    "pendulum_jacobian",
    "pendulum_measurement",
    "pendulum_reanchor",
    "pendulum_step",
    "pg_finish",
    "pg_start",
    "rep_metrics",
    "rep_metrics_plain",
    "run_chunk",
    "sampled_peak_rate",
    "scan_lock",
    "scan_quiet",
    "scan_stillest",
    "tilt_step",
    "window_score",
]


def _vec(arr: np.ndarray, slot: int) -> np.ndarray:
    """The three slots starting at ``slot`` as a vector (a copy)."""
    return np.array(arr[slot : slot + 3], dtype=np.float64)


# =============================================================================
# Orientation: gyro tilt filter
# =============================================================================


def tilt_step(
    prm: np.ndarray,
    fstate: np.ndarray,
    ax: float,
    ay: float,
    az: float,
    gx: float,
    gy: float,
    gz: float,
    dt: float,
    clipped: bool,
) -> tuple[float, float]:
    """Twin of ``_tilt_step``: world "up" seen from the sensor, gyro-propagated, accelerometer-corrected.

    1. The sensor turns by the bias-corrected rate; a world-fixed vector seen
       from the sensor turns the other way.  Over one sample the rotation
       vector is minus the integral of the parabola through the last three
       rates, ``(5 omega + 8 omega_prev - omega_prev2) dt / 12`` (Adams-Moulton),
       applied exactly as a rotation.
    2. The accelerometer (in units of the calibration gravity) minus the
       thigh's rotational acceleration about the hip (tangential
       ``L alpha w`` and centripetal ``L omega_a^2 u``) is gravity's
       direction; "up" moves towards it by the fraction ``dt / tau * weight``,
       the weight falling off with ``| |f| - 1 g |`` (in quadrature with half
       the tangential and centripetal terms removed: their uncertainty) and
       with the rotation rate.  Outside a rest (``F_REST_S`` at most
       ``_REST_MIN_S`` before this row) the pull's integral moves the bias
       too, by ``dt weight^2 / (4 tau^2)`` times "up" x gravity.  Inside a post-gap window (``F_PG_S > 0``) there is no
       correction: the gyro alone moves "up", and that gravity estimate is
       added to a running sum kept in world coordinates (the sum turns with
       the same rotation as "up"), for :func:`pg_finish` to re-anchor from.
       The sum starts at the first measured row after the gap, restarts at
       the thigh's first turn (flexion rate below ``_PG_TURN_RATE`` or
       through zero) and ends the window at a turn once it has run
       ``_PG_SUM_MIN_S``.  The sum is the trapezoid integral of the force
       less the change of the lever point's velocity ``L omega w`` between
       rows (the rigid rotation's acceleration cancels exactly); a clipped
       row is in no pair.  A sum that ends longer than ``g T`` by more than
       ``_PG_MEAN_TOL`` (a velocity change) is dropped and summed again from
       the next turn, at most ``_PG_RETRIES`` times.  When the previous rate was not measured
       (``F_PREV_OA`` is NaN after a gap) the row only starts the chain.
    3. The gyro bias follows the raw rate slowly once the thigh has been at
       rest for a while, and (outside a post-gap window) the integral of
       "up" x gravity: the pull's PI term, critically damped with it
       (gain ``1 / (4 tau^2)``).
    4. The flexion angle is the direction of "up" in the (u, w) plane.
    5. At rest, how far the accelerometer's own angle is from it.
    """
    u_axis, w_axis, a_axis = _vec(prm, P_U), _vec(prm, P_W), _vec(prm, P_A)
    f = np.array([ax, ay, az]) / prm[P_G_CAL]  # in units of the gravity measured while standing
    raw_rate = np.array([gx, gy, gz])
    bias = _vec(fstate, F_BIAS)

    # 1. propagate
    omega = np.deg2rad(raw_rate - bias)
    omega_prev = _vec(fstate, F_PREV_W)
    omega_prev2 = _vec(fstate, F_PREV_W2)
    turn = Rotation.from_rotvec(-(5.0 * omega + 8.0 * omega_prev - omega_prev2) / 12.0 * dt)
    up = turn.apply(_vec(fstate, F_UP))
    fstate[F_PREV_W2 : F_PREV_W2 + 3] = omega_prev
    fstate[F_PREV_W : F_PREV_W + 3] = omega
    in_window = fstate[F_PG_S] > 0.0
    if in_window:  # the window's sum of gravity estimates is a world-fixed vector too
        fstate[F_PG_SUM : F_PG_SUM + 3] = turn.apply(_vec(fstate, F_PG_SUM))

    # 2. correct
    flex_rate = float(omega @ a_axis)
    prev_rate = fstate[F_PREV_OA]
    accel_known = not math.isnan(prev_rate)  # NaN: the previous rate was not measured
    flex_accel = (flex_rate - prev_rate) / dt if accel_known else 0.0
    fstate[F_PREV_OA] = flex_rate
    lever_g = prm[P_LEVER_M] / G0_MPS2
    if in_window:
        count = fstate[F_PG_CNT]
        if count >= 0:  # summed for the re-anchoring (from the first measured row), not applied
            # the thigh turns: rate below _PG_TURN_RATE or through zero since the last row (not after a gap's NaN)
            turning = abs(flex_rate) < kf._PG_TURN_RATE or (accel_known and flex_rate * prev_rate <= 0.0)
            had_row = count > 0
            # F_PG_TURNED: 0 before the first turn, k while the k-th sum runs, -k once it was dropped
            restart = turning and fstate[F_PG_TURNED] <= 0
            ending = False
            if restart:  # the sum restarts at the first turn (after a dropped sum: the next one)
                fstate[F_PG_TURNED] = 1.0 - fstate[F_PG_TURNED]
                count = 0.0
                fstate[F_PG_SUM : F_PG_SUM + 3] = 0.0
                fstate[F_PG_T] = 0.0
            elif had_row:
                fstate[F_PG_T] += dt
                if turning and fstate[F_PG_T] >= kf._PG_SUM_MIN_S:  # long enough, at a turn: this row ends it
                    fstate[F_PG_S] = min(fstate[F_PG_S], 0.5 * dt)
                    ending = True
            # Trapezoid integral of the force less the change of the lever point's velocity L omega w, in
            # world coordinates (the last row's vectors turned into this frame like "up"), over pairs of
            # measured rows: a clipped or near-free-fall row (NaN kept) is in no pair.
            if not clipped and np.linalg.norm(f) > 0.2:
                prev_force = _vec(fstate, F_PG_PREV_F)
                if had_row and accel_known and not np.isnan(prev_force[0]):
                    prev_f = turn.apply(prev_force)
                    prev_velocity = lever_g * prev_rate * turn.apply(w_axis)
                    velocity = lever_g * flex_rate * w_axis
                    if (restart or ending) and flex_rate * prev_rate < 0:
                        # the sum starts or stops where the rate crosses zero, the force linear between the rows
                        z = prev_rate / (prev_rate - flex_rate)
                        f_zero = prev_f + z * (f - prev_f)
                        if restart:
                            fstate[F_PG_SUM : F_PG_SUM + 3] = 0.5 * (1 - z) * dt * (f_zero + f) - velocity
                            fstate[F_PG_T] = (1 - z) * dt  # the time summed, from the zero crossing
                        else:
                            fstate[F_PG_SUM : F_PG_SUM + 3] += 0.5 * z * dt * (prev_f + f_zero) + prev_velocity
                            fstate[F_PG_T] -= (1 - z) * dt  # ... to the zero crossing
                    elif not restart:
                        fstate[F_PG_SUM : F_PG_SUM + 3] += 0.5 * dt * (f + prev_f) - (velocity - prev_velocity)
                fstate[F_PG_PREV_F : F_PG_PREV_F + 3] = f
            else:
                fstate[F_PG_PREV_F] = math.nan
            fstate[F_PG_CNT] = count + 1
            # A sum longer than g T by more than the tolerance holds a change of velocity (a runner speeding
            # up): dropped at its end, summed again from the next turn (at most _PG_RETRIES times).
            summed = np.linalg.norm(_vec(fstate, F_PG_SUM))
            if ending and fstate[F_PG_TURNED] <= kf._PG_RETRIES and summed > (1 + kf._PG_MEAN_TOL) * fstate[F_PG_T]:
                fstate[F_PG_TURNED] = -fstate[F_PG_TURNED]
                fstate[F_PG_S] = kf._PG_SUM_MIN_S + 1.0
    elif not clipped and np.linalg.norm(f) > 0.2:
        gravity = f - lever_g * flex_accel * w_axis - lever_g * flex_rate**2 * u_axis
        g_norm = np.linalg.norm(gravity)
        if g_norm > 0.2:
            # The rotational terms removed are uncertain by a fraction of themselves: |f| - 1 g in quadrature.
            rot_var = kf._ROT_UNCERT2 * ((lever_g * flex_accel) ** 2 + (lever_g * flex_rate**2) ** 2)
            weight = math.exp(-0.5 * ((g_norm - 1.0) ** 2 + rot_var) / kf._ACC_GATE_G**2)
            weight /= 1.0 + (np.linalg.norm(omega) / kf._RATE_GATE) ** 2
            gain = min(dt / prm[P_TILT_TAU] * weight, 1.0)
            if fstate[F_REST_S] <= kf._REST_MIN_S + 0.5 * dt:
                # In motion the pull's integral too, at the weight squared (critically damped at any weight).
                ki = dt * weight**2 / (4.0 * prm[P_TILT_TAU] ** 2)
                fstate[F_BIAS : F_BIAS + 3] += np.degrees(ki * np.cross(up, gravity / g_norm))
            up = up + gain * (gravity / g_norm - up)
    up_uw = np.array([up @ u_axis, up @ w_axis])  # before the normalisation, as the kernel keeps it (an angle)
    up = up / np.linalg.norm(up)
    fstate[F_UP : F_UP + 3] = up

    # 3. gyro bias
    at_rest = np.linalg.norm(raw_rate - bias) < prm[P_STILL_GYR] and abs(np.linalg.norm(f) - 1.0) < 0.1 and not clipped
    fstate[F_REST_S] = fstate[F_REST_S] + dt if at_rest else 0.0
    if fstate[F_REST_S] > kf._REST_MIN_S + 0.5 * dt:
        fstate[F_BIAS : F_BIAS + 3] += dt / prm[P_BIAS_TAU] * (raw_rate - _vec(fstate, F_BIAS))
        if not in_window:  # integral of the tilt error: "up" x gravity, critically damped with the pull
            ki = dt / (4.0 * prm[P_TILT_TAU] ** 2)
            fstate[F_BIAS : F_BIAS + 3] += np.degrees(ki * np.cross(up, f / np.linalg.norm(f)))

    # 4. angle (the kernel carries it on from the last row's by the angle between their (u, w) pairs while
    # that is within _ATAN_SERIES and for at most _THETA_RESYNC_ROWS rows: the same angle to ~1e-13 rad)
    last_uw = _vec(fstate, F_TH_UW)[:2]
    turn_uw = math.atan2(last_uw[0] * up_uw[1] - last_uw[1] * up_uw[0], last_uw @ up_uw)
    carried = (
        fstate[F_TH_ROWS] < kf._THETA_RESYNC_ROWS
        and last_uw @ up_uw > 0.0
        and abs(turn_uw) < math.atan(kf._ATAN_SERIES)
    )
    fstate[F_TH_ROWS] = fstate[F_TH_ROWS] + 1.0 if carried else 0.0
    fstate[F_TH_RAD] = math.atan2(up_uw[1], up_uw[0])
    fstate[F_TH_UW : F_TH_UW + 2] = up_uw
    theta = math.degrees(fstate[F_TH_RAD])

    # 5. at rest (past _REST_MIN_S, outside a post-gap window, not clipped):
    # the accelerometer's angle minus the filter's, wrapped to +-180 deg and
    # low-passed from the first such row of the rest; its largest magnitude.
    if fstate[F_REST_S] == 0.0:
        fstate[F_REST_AVG_S] = 0.0
    elif fstate[F_REST_S] > kf._REST_MIN_S + 0.5 * dt and not in_window and not clipped:
        diff = math.degrees(math.atan2(f @ w_axis, f @ u_axis)) - theta
        diff = (diff + 180.0) % 360.0 - 180.0
        if fstate[F_REST_AVG_S] == 0.0:
            fstate[F_REST_DIFF_LP] = diff
        else:
            fstate[F_REST_DIFF_LP] += min(dt / kf._REST_DIFF_TAU_S, 1.0) * (diff - fstate[F_REST_DIFF_LP])
        fstate[F_REST_AVG_S] += dt
        fstate[F_REST_DIFF_DEG] = max(fstate[F_REST_DIFF_DEG], abs(fstate[F_REST_DIFF_LP]))
    return theta, math.degrees(flex_rate)


# =============================================================================
# Orientation: accelerometer-only pendulum EKF
# =============================================================================


# The pendulum filter's state starts with the kinematic triple (theta, theta',
# theta''); a 6-state variant also estimates the gravity scale s, the lever
# arm L and the offset d.  With 3 states those are 1, and the priors in prm.
_AUGMENTED_BOUNDS = ((0.3, 3.0), (0.05, 0.45), (-0.15, 0.15))  # s, L m, d m


def _model_state(x: np.ndarray, prm: np.ndarray) -> np.ndarray:
    """The full model vector (theta, theta', theta'', s, L, d) for a filter state ``x``."""
    if x.shape[0] == 6:
        return np.array(x)
    return np.array([*x[:3], 1.0, prm[P_LEVER_M], prm[P_OFFSET_M]])


def pendulum_measurement(m: np.ndarray) -> np.ndarray:
    """Predicted sagittal specific force ``(f.w, f.u)``, g, for m = (theta, theta', theta'', s, L, d)."""
    th, om, al, scale, lever, offset = m
    return np.array(
        [
            scale * math.sin(th) + (lever * al - offset * om**2) / G0_MPS2,
            scale * math.cos(th) + (lever * om**2 + offset * al) / G0_MPS2,
        ]
    )


def pendulum_jacobian(m: np.ndarray) -> np.ndarray:
    """d(measurement)/dm, shape (2, 6), differentiated by hand from :func:`pendulum_measurement`."""
    th, om, al, scale, lever, offset = m
    g = G0_MPS2
    return np.array(
        [
            [scale * math.cos(th), -2 * offset * om / g, lever / g, math.sin(th), al / g, -(om**2) / g],
            [-scale * math.sin(th), 2 * lever * om / g, offset / g, math.cos(th), om**2 / g, al / g],
        ]
    )


def _pendulum_fq(prm: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrix F and process noise Q of the pendulum filter for one step."""
    f = np.eye(PX)
    f[0, 1] = dt
    f[0, 2] = dt * dt / 2
    f[1, 2] = dt
    q = np.zeros((PX, PX))
    # White jerk of spectral density q through a triple integrator.
    q[:3, :3] = prm[P_EKF_Q] * np.array(
        [
            [dt**5 / 20, dt**4 / 8, dt**3 / 6],
            [dt**4 / 8, dt**3 / 3, dt**2 / 2],
            [dt**3 / 6, dt**2 / 2, dt],
        ]
    )
    if PX == 6:  # random walks of s, L and d
        q[3, 3] = kp._SCALE_WALK**2 * dt
        q[4, 4] = kp._GEOM_WALK**2 * dt
        q[5, 5] = kp._GEOM_WALK**2 * dt
    return f, q


def zupt_anchor_here(fstate: np.ndarray) -> None:
    """Twin of ``_zupt_anchor_here``: the still stretch's anchor is the low-passed force's direction."""
    lp = _vec(fstate, F_ZLP)
    n = float(np.linalg.norm(lp))
    fstate[F_ZANCHOR : F_ZANCHOR + 3] = lp / (n if n > 0.0 else 1.0)


def pendulum_step(
    prm: np.ndarray,
    fstate: np.ndarray,
    ax: float,
    ay: float,
    az: float,
    dt: float,
    clip: int,
) -> tuple[float, float, float]:
    """Twin of ``_pendulum_step``: a textbook EKF predict/update with explicit matrices.

    ``x = F x``, ``P = F P F^T + Q``; then with ``z = (f.w, f.u)`` (with a lying lever, ``|d|`` over
    ``_STRAP_OFFSET_M``, scaled up to ``|f|`` where it is shorter),
    ``v = z - h(x)``, ``S = H P H^T + R``, NIS ``v^T S^-1 v``; if NIS > 9
    the measurement noise is inflated by ``NIS / 9`` (at most
    ``_MAX_INFLATION``); ``K = P H^T S^-1``, ``x += K v``,
    ``P = (I - K H) P`` symmetrised.  Then the zero-velocity update: once the
    raw specific force has stayed within ``_ZUPT_DEV_G`` of its low-pass and
    within ``_ZUPT_GRAVITY`` of gravity, and the low-pass within
    ``_ZUPT_DRIFT_DEG`` of its direction where that began (``F_ZANCHOR``),
    for ``P_ZUPT_S``, rate and acceleration are observed to be zero (and, with a lying lever, ``|d|`` over
    ``_STRAP_OFFSET_M``, an NIS over ``_STUCK_NIS`` sets theta to ``atan2(f.w, f.u)``).  A row with
    clipped axes (``clip`` bits 0-2) skips both and ends the stillness; it is a censored measurement
    instead (:func:`censored_update`).
    Finally theta is wrapped to (-pi, pi] and held within the thigh's range
    ``[P_THETA_MIN, P_THETA_MAX]`` (outward rate and acceleration zeroed at a
    bound), and rate and acceleration (and any augmented states) are clamped
    to their physical ranges.
    """
    x = np.array(fstate[F_X : F_X + PX])
    p = np.array(fstate[F_P : F_P + PX * PX]).reshape(PX, PX)
    f_mat, q_mat = _pendulum_fq(prm, dt)
    x = f_mat @ x
    p = f_mat @ p @ f_mat.T + q_mat
    if clip == 0:
        # In units of the gravity read at rest, tracked slowly while the rate is small.
        raw = np.array([ax, ay, az])
        g_est = fstate[F_G_EST]
        if abs(np.linalg.norm(raw) / g_est - 1.0) < kp._REST_DEV:
            g_est += dt / kp._GRAVITY_TAU_S * (np.linalg.norm(raw) - g_est)
            fstate[F_G_EST] = g_est
        f = raw / g_est
        z = np.array([f @ _vec(prm, P_W), f @ _vec(prm, P_U)])
        if abs(prm[P_OFFSET_M]) > kp._STRAP_OFFSET_M and 0.0 < np.linalg.norm(z) < np.linalg.norm(f):
            z *= np.linalg.norm(f) / np.linalg.norm(z)  # a lying lever: the in-plane direction at |f|
        m = _model_state(x, prm)
        v = z - pendulum_measurement(m)
        fstate[F_JOLT] = float(np.linalg.norm(v))
        h = pendulum_jacobian(m)[:, :PX]
        r = prm[P_EKF_R] ** 2 * np.eye(2)
        s = h @ p @ h.T + r
        nis = float(v @ np.linalg.solve(s, v))
        if prm[P_ID] > 0.0:  # identification: capped Gaussian innovation likelihood
            fstate[F_NLL] += 0.5 * (np.log(np.linalg.det(s)) + min(nis, kp._NIS_CAP))
            fstate[F_ID_NIS] += min(nis, kp._NIS_CAP)
            fstate[F_ID_N] += 1.0
        if nis > 9.0:
            s = h @ p @ h.T + r * min(nis / 9.0, kp._MAX_INFLATION)
        k = p @ h.T @ np.linalg.inv(s)
        x_pred = x
        x = x + k @ v
        if kp._ITERATE_MIN_DT_S <= dt < kp._ITERATE_MAX_DT_S and abs(x_pred[1]) >= kp._ITERATE_MIN_RATE:
            # Iterated EKF: relinearise at the updated state (rate and acceleration within their bounds), the
            # innovation referred back to the prediction, the noise as inflated at the prediction.
            r_it = r * min(max(nis / 9.0, 1.0), kp._MAX_INFLATION)
            for _ in range(kp._ITERATIONS):
                x[1] = np.clip(x[1], -kp._MAX_RATE, kp._MAX_RATE)
                x[2] = np.clip(x[2], -kp._MAX_ACCEL, kp._MAX_ACCEL)
                m = _model_state(x, prm)
                h = pendulum_jacobian(m)[:, :PX]
                k = p @ h.T @ np.linalg.inv(h @ p @ h.T + r_it)
                x = x_pred + k @ (z - pendulum_measurement(m) - h @ (x_pred - x))
        p = (np.eye(PX) - k @ h) @ p
        p = 0.5 * (p + p.T)
        # Zero-velocity update: the raw specific force against its low-pass
        # (time constant _ZUPT_TAU_S); still for P_ZUPT_S -> observe rate and
        # acceleration to be zero, one joint update with diagonal R.
        lp = _vec(fstate, F_ZLP) + (1.0 - math.exp(-dt / kp._ZUPT_TAU_S)) * (raw - _vec(fstate, F_ZLP))
        fstate[F_ZLP : F_ZLP + 3] = lp
        still = np.max(np.abs(raw - lp)) < kp._ZUPT_DEV_G * g_est
        still &= abs(np.linalg.norm(raw) / g_est - 1.0) < kp._ZUPT_GRAVITY
        # ... and the low-pass stays within _ZUPT_DRIFT_DEG of its direction where the stretch began.
        anchor = _vec(fstate, F_ZANCHOR)
        cos_drift = float(lp @ anchor) / max(float(np.linalg.norm(lp)), 1e-300)
        still &= cos_drift >= prm[P_ZUPT_COS]
        fstate[F_ZSTILL_S] = fstate[F_ZSTILL_S] + dt if still else 0.0
        if not still:
            zupt_anchor_here(fstate)
        if prm[P_ZUPT_S] > 0.0 and fstate[F_ZSTILL_S] >= prm[P_ZUPT_S] - 0.5 * dt:  # half a sample's slack
            hz = np.zeros((2, PX))
            hz[0, 1] = hz[1, 2] = 1.0
            rz = np.diag([kp._ZUPT_RATE_SD**2, kp._ZUPT_ACCEL_SD**2])
            kz = p @ hz.T @ np.linalg.inv(hz @ p @ hz.T + rz)
            x = x + kz @ (-(hz @ x))
            p = (np.eye(PX) - kz @ hz) @ p
            p = 0.5 * (p + p.T)
            if nis > kp._STUCK_NIS and abs(prm[P_OFFSET_M]) > kp._STRAP_OFFSET_M:
                # A lying lever's filter held far off a still thigh: the angle the still force gives.
                x[0] = math.atan2(z[0], z[1])
    else:
        fstate[F_ZSTILL_S] = 0.0
        zupt_anchor_here(fstate)
        fstate[F_JOLT] = 0.0
        x, p = censored_update(
            prm, np.array([ax, ay, az]), [bool((clip >> c) & 1) for c in range(3)], fstate[F_G_EST], x, p
        )
    x[0] = math.atan2(math.sin(x[0]), math.cos(x[0]))
    if prm[P_ID] > 0.0:  # the least angle the lower bound was tested on
        fstate[F_ID_XMIN] = min(fstate[F_ID_XMIN], x[0])
    # The thigh's range: at a bound the angle stops and so does any motion outward.
    if x[0] > prm[P_THETA_MAX]:
        x[0], x[1], x[2] = prm[P_THETA_MAX], min(x[1], 0.0), min(x[2], 0.0)
    elif x[0] < prm[P_THETA_MIN]:
        x[0], x[1], x[2] = prm[P_THETA_MIN], max(x[1], 0.0), max(x[2], 0.0)
    x[1] = np.clip(x[1], -kp._MAX_RATE, kp._MAX_RATE)
    x[2] = np.clip(x[2], -kp._MAX_ACCEL, kp._MAX_ACCEL)
    for i, (lo, hi) in enumerate(_AUGMENTED_BOUNDS[: PX - 3]):
        x[3 + i] = np.clip(x[3 + i], lo, hi)
    fstate[F_X : F_X + PX] = x
    fstate[F_P : F_P + PX * PX] = p.ravel()
    sigma = math.sqrt(p[0, 0]) if p[0, 0] > 0 else 0.0
    return math.degrees(x[0]), math.degrees(x[1]), math.degrees(sigma)


def _truncated_moments(bound: float, mean: float, var: float) -> tuple[float, float]:
    """Mean and variance of N(mean, var) given that it lies beyond ``bound`` (away from zero)."""
    sign = 1.0 if bound > 0 else -1.0
    sd = math.sqrt(var)
    alpha = sign * (bound - mean) / sd
    lam = math.sqrt(2.0 / math.pi) / float(erfcx(alpha / math.sqrt(2.0)))  # phi(alpha) / Q(alpha)
    return mean + sign * sd * lam, var * (1.0 + alpha * lam - lam * lam)


def censored_update(
    prm: np.ndarray, raw: np.ndarray, clipped: list[bool], g_est: float, x: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of ``_censored_update``: the pendulum filter's update on a row with clipped axes.

    Each sensor axis c is a scalar measurement ``f_c = W_c f.w + U_c f.u``
    linearised at the prediction; the measured axes first, then the clipped
    ones, each as a reading known only to lie beyond its full-scale value:
    the state moves by the Kalman gain times (truncated-normal mean -
    predicted reading), and the covariance loses the gain times the variance
    the truncation removed.  NIS: measured axes ``v^2 / s``, a clipped axis
    ``alpha^2`` when its bound lies ``alpha > 0`` standard deviations beyond
    the prediction; over the chi-square gate of that many axes, the update is
    redone with R inflated by NIS / gate (at most ``_MAX_INFLATION``).
    """
    f = raw / g_est
    m = _model_state(x, prm)
    frame = np.stack([_vec(prm, P_W), _vec(prm, P_U)], axis=1)  # row c: axis c's share of (f.w, f.u)
    pred = frame @ pendulum_measurement(m)
    jac = frame @ pendulum_jacobian(m)[:, :PX]
    order = [c for c in range(3) if not clipped[c]] + [c for c in range(3) if clipped[c]]
    r = prm[P_EKF_R] ** 2

    def run(infl: float) -> tuple[np.ndarray, np.ndarray, float, int]:
        xs, ps = x.copy(), p.copy()
        nis, n = 0.0, 0
        for c in order:
            h = jac[c]
            z_pred = pred[c] + h @ (xs - x)
            s = float(h @ ps @ h) + r * infl
            k = ps @ h / s
            if clipped[c]:
                mean, var = _truncated_moments(f[c], z_pred, s)
                alpha = math.copysign(1.0, f[c]) * (f[c] - z_pred) / math.sqrt(s)
                xs = xs + k * (mean - z_pred)
                ps = ps - np.outer(k, k) * (s - var)
                if alpha > 0:
                    nis, n = nis + alpha**2, n + 1
            else:
                v = f[c] - z_pred
                xs = xs + k * v
                ps = ps - np.outer(k, k) * s
                nis, n = nis + v * v / s, n + 1
        return xs, ps, nis, n

    xs, ps, nis, n = run(1.0)
    gate = {1: kc._NIS_GATE_1, 2: kc._NIS_GATE_2, 3: kc._NIS_GATE_3}.get(n, math.inf)
    if nis > gate:
        xs, ps, _, _ = run(min(nis / gate, kp._MAX_INFLATION))
    return xs, 0.5 * (ps + ps.T)


def pendulum_reanchor(fstate: np.ndarray) -> None:
    """Twin of ``_pendulum_reanchor``: after a long gap keep the angle estimate, forget the motion.

    Rate and acceleration become zero under a wide prior: angle std 30 deg,
    rate std 50 deg/s, acceleration std 10 rad/s^2, uncorrelated.
    """
    fstate[F_X + 1 : F_X + 3] = 0.0
    p = np.zeros((PX, PX))
    p[:3, :3] = np.diag([math.radians(30.0) ** 2, math.radians(50.0) ** 2, 10.0**2])
    fstate[F_P : F_P + PX * PX] = p.ravel()


# =============================================================================
# Rep metrics and the detector
# =============================================================================


def parabolic(y0: float, y1: float, y2: float) -> tuple[float, float]:
    """Vertex of the parabola through (-1, y0), (0, y1), (1, y2).

    Returns the offset (clamped to half a sample either way) and the
    parabola's value at that offset; ``(0, y1)`` if the parabola is not
    concave.
    """
    # y(x) = a x^2 + b x + c through the three points (Lagrange, by hand).
    a = 0.5 * (y0 + y2) - y1
    b = 0.5 * (y2 - y0)
    c = y1
    if not a < 0:
        return 0.0, y1
    d = float(np.clip(-b / (2 * a), -0.5, 0.5))
    return d, float(a * d * d + b * d + c)


def _time_at_level(t0: float, t1: float, y0: float, y1: float, level: float) -> float:
    """Time at which the straight line from (t0, y0) to (t1, y1) reaches ``level``, kept within [t0, t1]."""
    if y1 == y0:
        return t0
    frac = float(np.clip((level - y0) / (y1 - y0), 0.0, 1.0))
    return t0 + frac * (t1 - t0)


def _time_above(t0: float, t1: float, y0: float, y1: float, level: float) -> float:
    """Length of time the straight line from (t0, y0) to (t1, y1) spends at or above ``level``."""
    if y0 == y1:
        return (t1 - t0) if y0 >= level else 0.0
    s = float(np.clip((level - y0) / (y1 - y0), 0.0, 1.0))  # where the line crosses, as a fraction
    above = (1.0 - s) if y1 > y0 else s
    return above * (t1 - t0)


def _bell_cdf_poly() -> np.polynomial.Polynomial:
    """The share of the bell (1 - u^2)^3 on [-1, 1] covered up to u, as a polynomial in u."""
    bell = np.polynomial.Polynomial([1.0, 0.0, -1.0]) ** 3
    cdf = bell.integ(lbnd=-1.0)
    return cdf / cdf(1.0)


def sampled_peak_rate(vel: np.ndarray, time: np.ndarray, low: int, peak: int, best: int, fallback: float) -> float:
    """Twin of ``_sampled_peak_rate`` (same model, written out with numpy's fits and root finder).

    Resolved top (both neighbours >= 0.3 of it): a least-squares parabola,
    weighted by rate^(4/3), through the cube roots of the contiguous samples
    >= 0.8 of the top (positions in sample periods), its vertex cubed plus
    the period average's loss, -curvature / 24.  Otherwise the bell
    (1 - u^2)^3 whose area shares before and up to the top window's end are
    those of the positive samples from the low to the peak (each kept in
    [0.005, 0.995]): its length in periods is one over the distance between
    those two quantiles, its peak 35/16 of its mean.
    """
    top = vel[best]
    period = (time[best + 1] - time[best - 1]) / 2
    if not (top > 0 and period > 0):
        return fallback
    if min(vel[best - 1], vel[best + 1]) < 0.3 * top:
        pos = np.maximum(vel, 0.0)
        before, after = pos[low:best].sum(), pos[best + 1 : peak + 1].sum()
        total = before + top + after
        shares = np.clip([before / total, (before + top) / total], 0.005, 0.995)
        if not shares[1] > shares[0]:
            return fallback
        cdf = _bell_cdf_poly()
        where = []
        for f in shares:
            roots = (cdf - f).roots()
            real = [r.real for r in roots if abs(r.imag) < 1e-9 and -1 - 1e-9 <= r.real <= 1 + 1e-9]
            where.append((real[0] + 1) / 2)  # u in [-1, 1] -> fraction of the length
        length = 1.0 / (where[1] - where[0])
        return max(35 / 16 * total / length, top)
    lo = best - 1
    while lo - 1 >= low and vel[lo - 1] >= 0.8 * top:
        lo -= 1
    hi = best + 1
    while hi + 1 <= peak + 1 and vel[hi + 1] >= 0.8 * top:
        hi += 1
    v = vel[lo : hi + 1]
    if not np.all(v > 0):
        return fallback
    x = (time[lo : hi + 1] - time[best]) / period
    # polyfit minimises sum (w (y - p))^2: w is the square root of the weight.
    c2, c1, c0 = np.polyfit(x, np.cbrt(v), 2, w=np.sqrt(v ** (4 / 3)))
    if not c2 < 0:
        return fallback
    x_top = -c1 / (2 * c2)
    if not lo - best - 0.5 <= x_top <= hi - best + 0.5:
        return fallback
    y_top = c0 + c1 * x_top + c2 * x_top**2
    if not y_top > 0:
        return fallback
    curvature = 3 * y_top**2 * 2 * c2  # d2(y^3)/dx2 at the vertex
    return float(y_top**3 - curvature / 24)


def midpoint_peak(
    theta: np.ndarray, vel: np.ndarray, time: np.ndarray, flag: np.ndarray, peak: int, fallback: float
) -> float:
    """Twin of ``_midpoint_peak``: the parabola through the top three angles between the rows.

    The angle half a period after row k is the row's angle plus what the
    Adams-Moulton sum (5 w_k + 8 w_k-1 - w_k-2) T / 12 still owes of the
    rectangle sum T w_k of the period-averaged rates: T (7 w_k - w_k-1) / 12.
    Four such angles, rows ``peak - 2 .. peak + 1``; ``fallback`` without
    rows ``peak - 3 .. peak + 1``, where one of them is bridged, a row step
    is more than half a mean period off, a row step of peak-1..peak+1 is off the
    Adams-Moulton sum of the rates by more than 0.1 deg + 10 %, or the first or
    last angle is the top.
    """
    if peak < 3:
        return fallback
    rows = slice(peak - 3, peak + 2)
    period = (time[peak + 1] - time[peak - 3]) / 4
    if not period > 0:
        return fallback
    if np.any(flag[rows] == H_FLAG_BRIDGED) or np.any(np.abs(np.diff(time[rows]) - period) > 0.5 * period):
        return fallback
    k = np.arange(peak - 1, peak + 2)
    am = period * (5 * vel[k] + 8 * vel[k - 1] - vel[k - 2]) / 12
    if np.any(np.abs(theta[k] - theta[k - 1] - am) > 0.1 + 0.1 * np.abs(am)):
        return fallback  # the rows' steps are not the Adams-Moulton sums of these rates
    mid = theta[peak - 2 : peak + 2] + period * (7 * vel[peak - 2 : peak + 2] - vel[peak - 3 : peak + 1]) / 12
    top = 1 if mid[1] >= mid[2] else 2
    if max(mid[0], mid[3]) > mid[top]:
        return fallback
    return parabolic(mid[top - 1], mid[top], mid[top + 1])[1]


def rep_metrics_plain(
    theta: np.ndarray,
    vel: np.ndarray,
    time: np.ndarray,
    flag: np.ndarray,
    sigma: np.ndarray,
    low: int,
    low_val: float,
    peak: int,
    trough: int,
    trough_val: float,
    onset_frac: float,
    hold_band: float,
    peak_theta: np.ndarray | None = None,
    gyro_rate: bool = False,
    gyro_peak: bool = False,
    min_rom: float = 0.0,
) -> dict[str, float]:
    """Every per-rep metric from plain arrays; indices are positions in those arrays.

    ``peak_theta`` (default ``theta``) is the angle the peak and the hold are
    read from; the level crossings read ``theta``.

    Definitions (DESIGN.md, ``_rep_metrics``): the peak is the parabolic
    vertex through the top three samples (``gyro_peak``: through the top
    three angles between the rows, :func:`midpoint_peak`, for the reported
    peak and ROM only, not below ``min_rom`` where the rows' ROM is not; the
    levels and times stay the rows'); the rep starts at the last sample
    before the peak within ``onset_frac`` of the rise above the low (exact
    time by linear interpolation), ends where theta first comes within
    ``onset_frac`` of the fall to the trough; flexion time is between the
    last upward 10 % and 90 % crossings of the rise; peak velocity is the
    largest rate between start and peak, refined by a parabola (``gyro_rate``:
    the peak of the continuous rate the samples average, :func:`sampled_peak_rate`); hold is the
    time within ``hold_band`` of the peak, linear between samples;
    confidence is the share of measured samples divided by
    ``1 + (sigma_peak / 3)^2``.
    """
    pth = theta if peak_theta is None else peak_theta
    # Peak
    d, theta_peak = parabolic(pth[peak - 1], pth[peak], pth[peak + 1])
    # fractional sample index -> time, linear between the samples
    t_peak = float(np.interp(peak + d, [peak - 1, peak, peak + 1], time[peak - 1 : peak + 2]))
    rise = theta_peak - low_val

    # Start: last sample at or below the onset level, searching back from the peak to the low.
    onset_level = low_val + onset_frac * rise
    below = [j for j in range(low, peak + 1) if theta[j] <= onset_level]
    start = max(below) if below else low
    if start < peak:
        t_start = _time_at_level(time[start], time[start + 1], theta[start], theta[start + 1], onset_level)
    else:
        t_start = time[start]

    # 10 % and 90 % of the rise: the last upward crossings before the peak.
    l90 = low_val + 0.9 * rise
    l10 = low_val + 0.1 * rise
    under90 = [j for j in range(start + 1, peak + 1) if theta[j] < l90]
    j90 = max(under90) if under90 else start
    under10 = [j for j in range(start + 1, j90 + 1) if theta[j] < l10]
    j10 = max(under10) if under10 else start
    t90 = _time_at_level(time[j90], time[j90 + 1], theta[j90], theta[j90 + 1], l90)
    t10 = _time_at_level(time[j10], time[j10 + 1], theta[j10], theta[j10 + 1], l10)
    t_peak = max(t_peak, t90)  # the rise reaches 90 % before its top

    # Peak velocity between start and peak; when the rate column has no positive
    # value there, the largest slope of the peak angle between consecutive samples.
    best = start + int(np.argmax(vel[start : peak + 1]))
    _, v_peak = parabolic(vel[best - 1], vel[best], vel[best + 1])
    if gyro_rate:
        v_peak = sampled_peak_rate(vel, time, low, peak, best, v_peak)
    if not v_peak > 0:
        slopes = [(pth[i + 1] - pth[i]) / (time[i + 1] - time[i]) for i in range(start, peak) if time[i + 1] > time[i]]
        v_peak = max([v_peak, *slopes])

    # End: first sample after the peak within onset_frac of the fall to the trough.
    end_level = trough_val + onset_frac * (theta_peak - trough_val)
    after = [k for k in range(peak + 1, trough) if theta[k] <= end_level]
    end = min(after) if after else trough
    t_end = max(_time_at_level(time[end - 1], time[end], theta[end - 1], theta[end], end_level), t_peak)

    # Hold
    hold_level = theta_peak - hold_band
    hold = sum(_time_above(time[i], time[i + 1], pth[i], pth[i + 1], hold_level) for i in range(start, end))

    measured = 1.0 - float(np.mean(flag[start : end + 1] > 0))
    confidence = measured / (1.0 + (sigma[peak] / 3.0) ** 2)
    peak_deg = theta_peak
    if gyro_peak:
        # Only the reported peak and ROM; a rep taken on the rows' ROM keeps it.
        peak_deg = midpoint_peak(pth, vel, time, flag, peak, theta_peak)
        if peak_deg - low_val < min_rom <= rise:
            peak_deg = theta_peak
        rise = peak_deg - low_val
    duration = t_peak - t_start
    return {
        "start": t_start,
        "peak_t": t_peak,
        "end": t_end,
        "peak_deg": peak_deg,
        "rom": rise,
        "flex_t": t90 - t10,
        "peak_vel": v_peak,
        "mean_vel": rise / duration if duration > 0 else math.nan,
        "hold": hold,
        "conf": confidence,
        "low_deg": low_val,
    }


_METRIC_SLOTS = {
    "start": E_START,
    "peak_t": E_PEAK_T,
    "end": E_END,
    "peak_deg": E_PEAK_DEG,
    "rom": E_ROM,
    "flex_t": E_FLEX_T,
    "peak_vel": E_PEAK_VEL,
    "mean_vel": E_MEAN_VEL,
    "hold": E_HOLD,
    "conf": E_CONF,
    "low_deg": E_LOW_DEG,
}


def _unring(hist: np.ndarray, cap: int, first: int, last: int) -> np.ndarray:
    """History rows of processed samples ``first..last`` (inclusive) as a plain (n, H_N) array."""
    return np.array([hist[i % cap] for i in range(first, last + 1)])


def rep_metrics(
    prm: np.ndarray,
    hist: np.ndarray,
    cap: int,
    low_idx: int,
    low_val: float,
    peak_idx: int,
    trough_idx: int,
    trough_val: float,
    angle_col: int,
    vel_col: int,
    row: np.ndarray,
) -> None:
    """Twin of ``_rep_metrics``: unroll the ring into plain arrays, then :func:`rep_metrics_plain`.

    ``angle_col`` and ``vel_col`` are the history columns of the angle for the peak and
    the hold and of the rate; the level crossings read ``H_THETA``.
    """
    # The velocity parabola may look one sample before the low, the gyro's
    # peak three before the peak.
    first = max(min(low_idx - 1, peak_idx - 3), 0)
    h = _unring(hist, cap, first, trough_idx)
    m = rep_metrics_plain(
        h[:, H_THETA],
        h[:, vel_col],
        h[:, H_TIME],
        h[:, H_FLAG],
        h[:, H_SIGMA],
        low_idx - first,
        low_val,
        peak_idx - first,
        trough_idx - first,
        trough_val,
        prm[P_ONSET_FRAC],
        prm[P_HOLD_BAND],
        h[:, angle_col],
        gyro_rate=bool(prm[P_HAS_GYRO] > 0 and vel_col == H_VEL),
        gyro_peak=bool(prm[P_HAS_GYRO] > 0 and angle_col == H_THETA),
        min_rom=float(prm[P_MIN_ROM]),
    )
    row[EV_KIND] = EV_REP
    for name, slot in _METRIC_SLOTS.items():
        row[slot] = m[name]


@dataclass
class _Detector:
    """Readable view of the detector's slots in the state arrays."""

    phase: int
    low: float
    low_idx: int
    peak: float
    peak_idx: int
    trough: float
    trough_idx: int
    cand_active: bool
    cand_peak: float
    cand_idx: int
    rest_ref: float
    rest_t0: float
    rested: bool
    rest_low: float
    rest_low_idx: int

    @classmethod
    def load(cls, fstate: np.ndarray, ist: np.ndarray) -> _Detector:
        return cls(
            int(ist[I_PHASE]),
            float(fstate[F_LOW]),
            int(ist[I_LOW_IDX]),
            float(fstate[F_PEAK]),
            int(ist[I_PEAK_IDX]),
            float(fstate[F_TROUGH]),
            int(ist[I_TROUGH_IDX]),
            bool(ist[I_CAND_ACTIVE]),
            float(fstate[F_CAND_PEAK]),
            int(ist[I_CAND_IDX]),
            float(fstate[F_MREF]),
            float(fstate[F_MT0]),
            bool(ist[I_RESTED]),
            float(fstate[F_RLOW]),
            int(ist[I_RLOW_IDX]),
        )

    def store(self, fstate: np.ndarray, ist: np.ndarray) -> None:
        ist[I_PHASE] = self.phase
        fstate[F_LOW] = self.low
        ist[I_LOW_IDX] = self.low_idx
        fstate[F_PEAK] = self.peak
        ist[I_PEAK_IDX] = self.peak_idx
        fstate[F_TROUGH] = self.trough
        ist[I_TROUGH_IDX] = self.trough_idx
        ist[I_CAND_ACTIVE] = int(self.cand_active)
        fstate[F_CAND_PEAK] = self.cand_peak
        ist[I_CAND_IDX] = self.cand_idx
        fstate[F_MREF] = self.rest_ref
        fstate[F_MT0] = self.rest_t0
        ist[I_RESTED] = int(self.rested)
        fstate[F_RLOW] = self.rest_low
        ist[I_RLOW_IDX] = self.rest_low_idx


class _Events:
    """Appends event rows to the kernel's event array."""

    def __init__(self, ev: np.ndarray, n: int) -> None:
        self.ev = ev
        self.n = n

    def add(self, *values: float) -> np.ndarray:
        row = self.ev[self.n]
        row[:] = 0.0
        row[: len(values)] = values
        self.n += 1
        return row


def smooth_span(prm: np.ndarray, hist: np.ndarray, cap: int, first: int, last: int) -> None:
    """Twin of ``_smooth_span``: a textbook Rauch-Tung-Striebel backward pass with explicit matrices.

    ``m_last = x_last``; for k = last-1 .. first: ``P^- = F P_k F^T + Q``,
    ``C = P_k F^T (P^-)^-1``, ``m_k = x_k + C (m_{k+1} - F x_k)`` with the
    angle difference wrapped, then the angle wrapped to (-pi, pi].  F and Q
    are the filter's for the step dt stored with sample k+1; where that is
    NaN (the filter re-anchored after a gap) ``m_k = x_k``.  Writes the
    smoothed angle and rate (deg, deg/s).
    """

    def posterior(k: int) -> tuple[np.ndarray, np.ndarray]:
        row = hist[k % cap]
        p00, p01, p02, p11, p12, p22 = row[H_P : H_P + 6]
        return np.array(row[H_X : H_X + 3]), np.array([[p00, p01, p02], [p01, p11, p12], [p02, p12, p22]])

    m, _ = posterior(last)
    hist[last % cap, H_STHETA] = math.degrees(m[0])
    hist[last % cap, H_SVEL] = math.degrees(m[1])
    for k in range(last - 1, first - 1, -1):
        x, p = posterior(k)
        dt = float(hist[(k + 1) % cap, H_DT])
        if math.isnan(dt):  # the filter re-anchored at k+1: nothing links the two
            m = x
            hist[k % cap, H_STHETA] = math.degrees(m[0])
            hist[k % cap, H_SVEL] = math.degrees(m[1])
            continue
        f_mat, q_mat = _pendulum_fq(prm, dt)
        p_pred = f_mat @ p @ f_mat.T + q_mat
        if np.linalg.det(p_pred) > 0.0:
            d = m - f_mat @ x
            d[0] = math.atan2(math.sin(d[0]), math.cos(d[0]))
            m = x + p @ f_mat.T @ np.linalg.solve(p_pred, d)
            m[0] = math.atan2(math.sin(m[0]), math.cos(m[0]))
        else:
            m = x
        hist[k % cap, H_STHETA] = math.degrees(m[0])
        hist[k % cap, H_SVEL] = math.degrees(m[1])


def _close_rep(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, cap: int, det: _Detector, out: _Events
) -> None:
    """Emit the rep's metrics; without a gyro the peak, hold and rate from the smoothed angle.

    The angle is smoothed over the detector's low..trough; its peak is the
    first highest sample in low..trough-1.  Low, trough and the level
    crossings stay with the filter.
    """
    row = out.add(EV_REP)
    if prm[P_HAS_GYRO] == 0:
        smooth_span(prm, hist, cap, det.low_idx - 1, det.trough_idx)
        peak = max(range(det.low_idx, det.trough_idx), key=lambda i: (hist[i % cap, H_STHETA], -i))
        rep_metrics(prm, hist, cap, det.low_idx, det.low, peak, det.trough_idx, det.trough, H_STHETA, H_SVEL, row)
        if row[E_ROM] < prm[P_MIN_ROM]:  # the smoothed angle says: no rep
            when, rom = float(row[E_PEAK_T]), float(row[E_ROM])
            row[:] = 0.0
            row[:4] = [EV_REJECT, when, REJ_ROM, rom]
            return
        mid = (det.low + det.peak) / 2
        # The foot strike: the largest jolt of the peak..trough rows while the thigh is in the top half.
        top = [hist[i % cap, H_JOLT] for i in range(det.peak_idx, det.trough_idx + 1) if hist[i % cap, H_THETA] >= mid]
        strike = max([0.0, *top])
        if hist[peak % cap, H_THETA] >= mid and rep_ok(prm, row):
            row[E_STRIKE_G] = strike
            return
        row[:] = 0.0
    else:
        strike = math.nan
    rep_metrics(prm, hist, cap, det.low_idx, det.low, det.peak_idx, det.trough_idx, det.trough, H_THETA, H_VEL, row)
    row[E_STRIKE_G] = strike


def rep_ok(prm: np.ndarray, row: np.ndarray) -> bool:
    """The contract's per-rep invariants on an event row (twin of ``_rep_ok``)."""
    numbers = [row[E_MEAN_VEL], row[E_PEAK_DEG], row[E_HOLD], row[E_CONF], row[E_PEAK_VEL]]
    return bool(
        row[E_START] < row[E_PEAK_T] <= row[E_END]
        and row[E_ROM] >= prm[P_MIN_ROM]
        and 0.0 < row[E_FLEX_T] < row[E_PEAK_T] - row[E_START]
        and row[E_PEAK_VEL] > 0.0
        and all(math.isfinite(x) for x in numbers)
    )


def _peak_drawn_in_gap(hist: np.ndarray, cap: int, n_rows: int, low: float, low_idx: int, peak_idx: int) -> bool:
    """Twin of ``_peak_drawn_in_gap``: the peak is a bridged row, and the rows measured just before
    and just after its run of bridged rows (after: the newest row if none is yet) are both below the
    middle of the rise (``low`` to the peak's theta)."""

    def bridged(i: int) -> bool:
        return bool(hist[i % cap, H_FLAG] == H_FLAG_BRIDGED)

    if not bridged(peak_idx):
        return False
    first = peak_idx
    while first > low_idx and bridged(first - 1):
        first -= 1
    last = peak_idx
    while last < n_rows - 1 and bridged(last + 1):
        last += 1
    mid = (low + hist[peak_idx % cap, H_THETA]) / 2
    before, after = hist[(first - 1) % cap, H_THETA], hist[min(last + 1, n_rows - 1) % cap, H_THETA]
    return bool(before < mid and after < mid)


def detect(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    ev: np.ndarray,
    n_ev: int,
) -> int:
    """Twin of ``_detect``: the rep state machine, one sample at a time.

    seeking a rise
        Track the lowest theta (a low older than half the history or than
        ``_MAX_RISE_S`` is replaced, and so is a low from before a rest or
        one more than a rest old while the thigh rests at its level (within
        ``_RENEW_FRACTION`` of ``candidate_deg``), by the rest level; a
        candidate still open then is dropped).
        Rising ``min_rom`` above it starts a rise.  A smaller
        excursion of at least ``candidate_deg`` that falls back by
        ``candidate_deg`` is reported as rejected (``rom_below_min``) and
        the search restarts from where it fell to.
    rising
        Track the peak.  Falling ``min_rom`` below it confirms it (a peak
        event) and starts the descent.  A rise longer than 90 % of the
        history is rejected (``too_long``).  Once theta has stayed within
        ``candidate_deg / 2`` of one level for ``_REST_S`` (a rest), the lowest
        theta from then on is kept: rising ``min_rom`` above it rejects the
        earlier rise (``rested``) and starts the rise from there; resting
        ``set_gap_s`` rejects it and seeks from the rest level, unless the
        rest's level is held within ``hold_band_deg`` of the peak and ``min_rom`` from the
        rest pose (a stretch).  Coming back into the bottom quarter of the
        rise (at least ``candidate_deg`` below the peak) and rising
        ``candidate_deg`` from there rejects it (``rom_below_min``, the fall
        as its range) and seeks from where theta turned, a candidate open.
    descending
        Track the trough.  Rising ``min_rom`` above it closes the rep and
        starts the next rise from the trough; so does (into seeking) no new
        trough for ``settle_s`` or a rep longer than 90 % of the history.

    Sample ``s`` is already in the history, and "now" is its time there: the
    detector may read the history later than the filters wrote it.  Without
    a gyro a bridged row (``H_FLAG_BRIDGED``) is not read at all.
    """
    cap = int(ist[I_CAP])
    if prm[P_HAS_GYRO] == 0 and hist[s % cap, H_FLAG] == H_FLAG_BRIDGED:
        return n_ev
    min_rom = prm[P_MIN_ROM]
    cand = prm[P_CAND]
    too_long = int(cap * _MAX_REP_FRACTION)
    now = float(hist[s % cap, H_TIME])
    det = _Detector.load(fstate, ist)
    out = _Events(ev, n_ev)

    def time_of(idx: int) -> float:
        return float(hist[idx % cap, H_TIME])

    # Rest: theta within cand/2 of the level a motionless stretch began at.
    if not abs(theta - det.rest_ref) <= cand / 2:
        det.rest_ref, det.rest_t0 = theta, now
    still_s = now - det.rest_t0
    if det.phase == PHASE_SEEK:
        low_t = time_of(det.low_idx)
        renew = now - low_t > _RENEW_AGE_S and theta <= det.low + _RENEW_FRACTION * cand
        if still_s >= _REST_S and (low_t < det.rest_t0 or renew):
            det.low, det.low_idx, det.cand_active = theta, s, False
        elif theta < det.low or s - det.low_idx > cap // 2 or now - time_of(det.low_idx) > _MAX_RISE_S:
            det.low, det.low_idx, det.cand_active = theta, s, False
        if theta >= det.low + min_rom:
            det.phase, det.peak, det.peak_idx, det.cand_active = PHASE_RISE, theta, s, False
            det.trough, det.trough_idx = theta, s
            det.rested = False
        elif det.cand_active:
            if theta > det.cand_peak:
                det.cand_peak, det.cand_idx = theta, s
            elif theta <= det.cand_peak - cand:
                out.add(EV_REJECT, time_of(det.cand_idx), REJ_ROM, det.cand_peak - det.low)
                det.cand_active = False
                det.low, det.low_idx = theta, s
        elif theta >= det.low + cand:
            det.cand_active, det.cand_peak, det.cand_idx = True, theta, s
    elif det.phase == PHASE_RISE:
        # During a rise, trough is the lowest theta since the peak.
        if theta > det.peak:
            det.peak, det.peak_idx, det.trough, det.trough_idx = theta, s, theta, s
        elif theta <= det.peak - min_rom:
            if _peak_drawn_in_gap(hist, cap, int(ist[I_SAMPLE]), det.low, det.low_idx, det.peak_idx):
                out.add(EV_REJECT, time_of(det.peak_idx), REJ_GAP, det.peak - det.low)
                det.phase, det.rested, det.cand_active, det.low, det.low_idx = PHASE_SEEK, False, False, theta, s
            else:
                det.phase, det.trough, det.trough_idx = PHASE_FALL, theta, s
                out.add(EV_PEAK, time_of(det.peak_idx), det.peak, det.peak - det.low)
        elif theta < det.trough:
            det.trough, det.trough_idx = theta, s
        elif det.trough <= min(det.peak - cand, det.low + (det.peak - det.low) / 4) and theta >= det.trough + cand:
            # Back into the bottom quarter of the rise and up again: that swing is over, a new one began.
            out.add(EV_REJECT, time_of(det.peak_idx), REJ_ROM, det.peak - det.trough)
            det.phase, det.rested, det.low, det.low_idx = PHASE_SEEK, False, det.trough, det.trough_idx
            det.cand_active, det.cand_peak, det.cand_idx = True, theta, s
        if det.phase == PHASE_RISE and (still_s >= _REST_S or det.rested):
            # From a rest on, keep the lowest theta; a rise of min_rom above it
            # or a pause of set_gap_s ends the pending rise (rejected, "rested").
            if theta < det.rest_low or not det.rested:
                det.rest_low, det.rest_low_idx, det.rested = theta, s, True
            # Unless held at the top away from the rest pose (a stretch): the fall confirms it.
            held = det.rest_ref >= det.peak - prm[P_HOLD_BAND] and det.rest_ref >= min_rom
            if still_s >= prm[P_SET_GAP_S] and not held:
                out.add(EV_REJECT, time_of(det.peak_idx), REJ_RESTED, det.peak - det.low)
                det.phase, det.rested, det.cand_active = PHASE_SEEK, False, False
                det.low, det.low_idx = theta, s
            elif theta >= det.rest_low + min_rom:
                out.add(EV_REJECT, time_of(det.peak_idx), REJ_RESTED, det.peak - det.low)
                det.rested = False
                det.low, det.low_idx = det.rest_low, det.rest_low_idx
                det.peak, det.peak_idx, det.trough, det.trough_idx = theta, s, theta, s
        if det.phase == PHASE_RISE and s - det.low_idx > too_long:
            out.add(EV_REJECT, now, REJ_TOO_LONG, det.peak - det.low)
            det.phase, det.low, det.low_idx = PHASE_SEEK, theta, s
    else:
        if theta < det.trough:
            det.trough, det.trough_idx = theta, s
        if theta >= det.trough + min_rom:
            _close_rep(prm, fstate, ist, hist, cap, det, out)
            det.phase = PHASE_RISE
            det.low, det.low_idx = det.trough, det.trough_idx
            det.peak, det.peak_idx, det.trough, det.trough_idx = theta, s, theta, s
            det.rested = False
        elif now - time_of(det.trough_idx) >= prm[P_SETTLE_S] or s - det.low_idx > too_long:
            _close_rep(prm, fstate, ist, hist, cap, det, out)
            det.phase = PHASE_SEEK
            det.low, det.low_idx = det.trough, det.trough_idx
            det.cand_active = False
    det.store(fstate, ist)
    return out.n


def interrupt(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
    reason: float,
) -> int:
    """Twin of ``_interrupt``: close a confirmed rep, reject an unconfirmed rise, restart the search."""
    cap = int(ist[I_CAP])
    det = _Detector.load(fstate, ist)
    out = _Events(ev, n_ev)
    if det.phase == PHASE_FALL:
        _close_rep(prm, fstate, ist, hist, cap, det, out)
    elif det.phase == PHASE_RISE:
        out.add(EV_REJECT, hist[det.peak_idx % cap, H_TIME], reason, det.peak - det.low)
    det.phase = PHASE_SEEK
    det.cand_active = False
    det.rested = False
    det.low = math.inf
    det.rest_ref = math.nan
    det.store(fstate, ist)
    return out.n


def carry(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int) -> int:
    """Twin of ``_carry``: close a confirmed rep and seek from its trough; anything else goes on."""
    det = _Detector.load(fstate, ist)
    out = _Events(ev, n_ev)
    if det.phase == PHASE_FALL:
        _close_rep(prm, fstate, ist, hist, int(ist[I_CAP]), det, out)
        det.phase, det.low, det.low_idx, det.cand_active = PHASE_SEEK, det.trough, det.trough_idx, False
        det.store(fstate, ist)
    return out.n


def catch_up(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
    max_ev: int,
) -> int:
    """Twin of ``_catch_up``: the detector reads the history samples it has not seen, oldest first.

    ``I_DET`` is the next one; reading stops at the newest processed sample
    or as soon as ``max_ev`` event rows are filled (so a later call resumes).
    """
    if ist[I_AX_NEW] > 0 and n_ev < max_ev:
        n_ev = axis_report(prm, ist, hist, ev, n_ev)
    cap = int(ist[I_CAP])
    # Not into a held rise (axis_watch): its axis is not decided yet.
    while ist[I_DET] < (min(ist[I_SAMPLE], ist[I_AX_HOLD]) if ist[I_AX_HOLD] > 0 else ist[I_SAMPLE]) and n_ev < max_ev:
        s = int(ist[I_DET])
        n_ev = detect(prm, fstate, ist, hist, s, float(hist[s % cap, H_THETA]), ev, n_ev)
        ist[I_DET] = s + 1
    return n_ev


# =============================================================================
# The rep axis per set (gyro)
# =============================================================================


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def axis_watch(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, s: int, theta: float) -> float:
    """Twin of ``_axis_watch``: keep "up" and the rate of sample ``s``; hold, release or decide a set's plane.

    The reference is "up" at the last still pose; the rest is the time "up"
    stayed within lock_deg of it.  After a rest of set_gap_s the first sample
    2 deg from the reference holds the detector; the hold is decided at the
    tilt of a rep (from the locked pose) or of a candidate (from another),
    and released undecided when still, after 3 s or a sixteenth of the ring.
    """
    if prm[P_AX_WATCH] <= 0:
        return theta
    cap = int(ist[I_CAP])
    rot = prm[P_AX_ROT] != 0
    if rot:  # a rotation set: the rate about a (up) integrated is the angle
        fstate[F_AX_YAW] += math.degrees(float(fstate[F_PREV_W : F_PREV_W + 3] @ prm[P_A : P_A + 3])) * fstate[F_PERIOD]
        still = fstate[F_REST_S] > ka._STILL_S + 0.5 * fstate[F_PERIOD]  # half a sample past: no last-bit tie
        if still and abs(fstate[F_AX_YAW]) < ka._REZERO_FRAC * prm[P_CAND]:
            fstate[F_AX_YAW] = 0.0  # still near the rest level: the rest pose again (drift removed)
        theta = float(fstate[F_AX_YAW])
        hist[s % cap, H_THETA] = theta
    up = fstate[F_UP : F_UP + 3].copy()

    def keep() -> None:  # "up" and the rate of a held row, to read it again under new axes
        hist[s % cap, H_UP : H_UP + 3] = up
        hist[s % cap, H_OMEGA : H_OMEGA + 3] = fstate[F_PREV_W : F_PREV_W + 3]

    ref = fstate[F_AX_REF : F_AX_REF + 3].copy()
    still = fstate[F_REST_S] > ka._STILL_S + 0.5 * fstate[F_PERIOD]
    cos_tilt = float(up @ ref)
    hold = int(ist[I_AX_HOLD])
    if hold != 0:
        keep()
        same_pose = float(ref @ prm[P_U : P_U + 3]) >= math.cos(math.radians(ka._POSE_DEG))
        if cos_tilt < (prm[P_AX_COS_DECIDE] if same_pose else prm[P_AX_COS_DECIDE_POSE]):
            ist[I_AX_HOLD] = 0
            fstate[F_AX_QUIET_S] = 0.0
            return axis_decide(prm, fstate, ist, hist, hold, s, theta)
        if still or s - hold >= cap // ka._RING_DIV or (s - hold) * fstate[F_PERIOD] > ka._MAX_HOLD_S:
            ist[I_AX_HOLD] = 0
    if still:
        fstate[F_AX_REF : F_AX_REF + 3] = up
        cos_tilt = 1.0
    moved = cos_tilt < prm[P_AX_COS_LOCK] or (
        rot and abs(fstate[F_AX_YAW]) > math.degrees(math.acos(prm[P_AX_COS_LOCK]))
    )
    fstate[F_AX_QUIET_S] = 0.0 if moved else fstate[F_AX_QUIET_S] + fstate[F_PERIOD]
    if (
        hold == 0
        and ist[I_AX_HOLD] == 0
        and cos_tilt < math.cos(math.radians(ka._HOLD_DEG))
        and fstate[F_AX_QUIET_S] >= prm[P_SET_GAP_S]
        and ist[I_DET] >= s
    ):
        ist[I_AX_HOLD] = s
        keep()
    return theta


def turn_axes(prm: np.ndarray, fstate: np.ndarray, v: np.ndarray) -> bool:
    """Twin of ``_turn_axes``: u = the reference, w = the turn to ``v``, a = w x u; set unless no turn or same axes."""
    ref = fstate[F_AX_REF : F_AX_REF + 3].copy()
    d = v - (v @ ref) * ref
    if np.linalg.norm(d) <= 0:
        return False
    w = _unit(d)
    a = np.cross(w, ref)
    same_axis = abs(float(a @ prm[P_A : P_A + 3])) >= math.cos(math.radians(ka._AXIS_DEG))
    same_pose = float(ref @ prm[P_U : P_U + 3]) >= math.cos(math.radians(ka._POSE_DEG))
    if same_axis and same_pose:
        return False
    prm[P_U : P_U + 3] = ref
    prm[P_W : P_W + 3] = w
    prm[P_A : P_A + 3] = a
    prm[P_AX_ROT] = 0.0  # a tilt set ends a rotation set
    return True


def fresh_search(fstate: np.ndarray, ist: np.ndarray, hold: int) -> None:
    """Twin of ``_fresh_search``: the detector searches afresh from the held row, the axes reported first."""
    ist[I_PHASE] = PHASE_SEEK
    ist[I_RESTED] = 0
    ist[I_CAND_ACTIVE] = 0
    fstate[F_LOW] = math.inf
    fstate[F_MREF] = math.nan
    ist[I_AX_NEW] = hold  # reported before the detector reads the held rows


def axis_decide(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, hold: int, s: int, theta: float
) -> float:
    """Twin of ``_decide``: new axes u = reference, w = the tilt's direction, if the plane or the pose is another.

    Then the held rows' angle and rate are those under the new axes, and the
    detector searches afresh (a confirmed rep in progress keeps the axes).
    """
    if ist[I_PHASE] == PHASE_FALL or not turn_axes(prm, fstate, fstate[F_UP : F_UP + 3].copy()):
        return theta
    ref, w, a = prm[P_U : P_U + 3].copy(), prm[P_W : P_W + 3].copy(), prm[P_A : P_A + 3].copy()
    fstate[F_AX_YAW] = 0.0
    cap = int(ist[I_CAP])
    for k in range(hold, s + 1):
        row = hist[k % cap]
        row[H_THETA] = math.degrees(math.atan2(row[H_UP : H_UP + 3] @ w, row[H_UP : H_UP + 3] @ ref))
        row[H_VEL] = math.degrees(row[H_OMEGA : H_OMEGA + 3] @ a)
    fstate[F_PREV_OA] = float(fstate[F_PREV_W : F_PREV_W + 3] @ a)
    fresh_search(fstate, ist, hold)
    return float(hist[s % cap, H_THETA])


def axis_report(prm: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int) -> int:
    """Twin of ``_axis_report``: one axes row (the new set's first held row's time, u, w, a) if one is due."""
    hold = int(ist[I_AX_NEW])
    if hold <= 0:
        return n_ev
    ist[I_AX_NEW] = 0
    ev[n_ev, :] = 0.0
    ev[n_ev, EV_KIND] = EV_AXES
    ev[n_ev, EX_T] = hist[hold % int(ist[I_CAP]), H_TIME]
    ev[n_ev, EX_U : EX_U + 3] = prm[P_U : P_U + 3]
    ev[n_ev, EX_W : EX_W + 3] = prm[P_W : P_W + 3]
    ev[n_ev, EX_A : EX_A + 3] = prm[P_A : P_A + 3]
    return n_ev + 1


# =============================================================================
# The rep axis per set (accelerometer only)
# =============================================================================


def _pendulum_row(fstate: np.ndarray, hist: np.ndarray, slot: int, theta: float, vel: float, sigma: float) -> None:
    """What a filtered row keeps in the history (as ``_process``)."""
    hist[slot, H_THETA] = theta
    hist[slot, H_VEL] = vel
    hist[slot, H_SIGMA] = sigma
    hist[slot, H_X : H_X + 3] = fstate[F_X : F_X + 3]
    hist[slot, H_P : H_P + 6] = fstate[F_P : F_P + 9].reshape(3, 3)[np.triu_indices(3)]
    hist[slot, H_JOLT] = fstate[F_JOLT]


def acc_axis_watch(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, s: int, theta: float,
    acc: np.ndarray, clip: int,
) -> float:  # fmt: skip
    """Twin of ``_acc_watch``: the gyro's watch with the pendulum filter's low-passed force for "up".

    The reference is the force's direction at the last still row (the
    filter's stillness time over 0.5 s); after a rest of set_gap_s within
    lock_deg of it, the first row 2 deg from it holds the detector and keeps
    the filter's axis-free state; held rows keep their force and clip bits;
    the hold is decided at a rep's turn (same pose) or a candidate's (another
    pose), released when still, after 3 s or a sixteenth of the ring.
    """
    f = fstate[F_ZLP : F_ZLP + 3].copy()
    if np.linalg.norm(f) <= 0:
        return theta
    up = f / np.linalg.norm(f)
    ref = fstate[F_AX_REF : F_AX_REF + 3].copy()
    cos_tilt = float(up @ ref)
    # Still: the filter's per-row test, the direction within 2 deg of where the stretch began.
    anchor = fstate[F_AX_ANCHOR : F_AX_ANCHOR + 3]
    if fstate[F_ZSTILL_S] > 0 and float(up @ anchor) >= math.cos(math.radians(kaa._HOLD_DEG)):
        fstate[F_AX_STILL_S] += fstate[F_PERIOD]
    else:
        fstate[F_AX_ANCHOR : F_AX_ANCHOR + 3] = up
        fstate[F_AX_STILL_S] = 0.0
    still = fstate[F_AX_STILL_S] > ka._STILL_S
    cap = int(ist[I_CAP])
    hold = int(ist[I_AX_HOLD])
    if hold != 0:
        hist[s % cap, H_ACC : H_ACC + 3] = acc
        hist[s % cap, H_CLIP] = clip
        same_pose = float(ref @ prm[P_U : P_U + 3]) >= math.cos(math.radians(ka._POSE_DEG))
        if cos_tilt < (prm[P_AX_COS_DECIDE] if same_pose else prm[P_AX_COS_DECIDE_POSE]):
            ist[I_AX_HOLD] = 0
            fstate[F_AX_QUIET_S] = 0.0
            return acc_axis_decide(prm, fstate, ist, hist, hold, s, theta)
        if still or s - hold >= cap // ka._RING_DIV or (s - hold) * fstate[F_PERIOD] > ka._MAX_HOLD_S:
            ist[I_AX_HOLD] = 0
    if still:
        fstate[F_AX_REF : F_AX_REF + 3] = up
        cos_tilt = 1.0
    # Quiet: within lock_deg of the reference and still by the filter's per-row test at most 0.5 s ago.
    fstate[F_AX_MOVE_S] = 0.0 if fstate[F_ZSTILL_S] > 0 else fstate[F_AX_MOVE_S] + fstate[F_PERIOD]
    quiet = cos_tilt >= prm[P_AX_COS_LOCK] and fstate[F_AX_MOVE_S] <= ka._STILL_S
    fstate[F_AX_QUIET_S] = fstate[F_AX_QUIET_S] + fstate[F_PERIOD] if quiet else 0.0
    if (
        hold == 0
        and cos_tilt < math.cos(math.radians(kaa._HOLD_DEG))
        and fstate[F_AX_QUIET_S] >= prm[P_SET_GAP_S]
        and ist[I_DET] >= s
    ):
        ist[I_AX_HOLD] = s
        fstate[F_AX_SNAP : F_AX_SNAP + 3] = f
        fstate[F_AX_SNAP + 3] = fstate[F_ZSTILL_S]
        fstate[F_AX_SNAP + 4] = fstate[F_G_EST]
    return theta


def acc_axis_decide(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, hold: int, s: int, theta: float
) -> float:
    """Twin of ``_acc_decide``: new axes from the force's turn, the filter restarted at the hold and run again.

    The restart: the filter's axis-free state as after the hold's first row,
    the angle of its low-passed force under the new axes, no rate, the
    uncertainty of an unknown rate; then each held row again as measured.
    """
    if ist[I_PHASE] == PHASE_FALL or not turn_axes(prm, fstate, fstate[F_ZLP : F_ZLP + 3].copy()):
        return theta
    ref, w = prm[P_U : P_U + 3].copy(), prm[P_W : P_W + 3].copy()
    # A lying lever's session: a standing thigh (its axis near the rest's "up") takes the hanging lever.
    c = abs(float(ref @ prm[P_LIE_AXIS : P_LIE_AXIS + 3]))
    if c > 0.0:
        upright = c >= math.cos(math.radians(kaa._UPRIGHT_DEG))
        lever = prm[P_HANG_LEVER : P_HANG_LEVER + 2] if upright else prm[P_LIE_LEVER : P_LIE_LEVER + 2]
        prm[P_LEVER_M], prm[P_OFFSET_M] = lever
        prm[P_THETA_MAX] = prm[P_HANG_THETA_MAX] if upright else prm[P_LIE_THETA_MAX]
    fstate[F_ZLP : F_ZLP + 3] = fstate[F_AX_SNAP : F_AX_SNAP + 3]
    fstate[F_ZSTILL_S] = fstate[F_AX_SNAP + 3]
    fstate[F_G_EST] = fstate[F_AX_SNAP + 4]
    zupt_anchor_here(fstate)
    f0 = fstate[F_ZLP : F_ZLP + 3]
    theta0 = math.atan2(float(f0 @ w), float(f0 @ ref))
    fstate[F_X : F_X + 3] = [theta0, 0.0, 0.0]
    fstate[F_P : F_P + 9] = np.diag(
        [math.radians(kaa._RESTART_ANGLE_SD_DEG) ** 2, math.radians(kaa._RESTART_RATE_SD_DPS) ** 2,
         kaa._RESTART_ACCEL_VAR]
    ).ravel()  # fmt: skip
    fstate[F_JOLT] = 0.0
    cap = int(ist[I_CAP])
    th, sigma = math.degrees(theta0), kaa._RESTART_ANGLE_SD_DEG
    _pendulum_row(fstate, hist, hold % cap, th, 0.0, sigma)
    hist[hold % cap, H_DT] = math.nan  # nothing links the restart to the row before
    for k in range(hold + 1, s + 1):
        row = hist[k % cap]
        th, vel, sigma = pendulum_step(prm, fstate, *row[H_ACC : H_ACC + 3], row[H_DT], int(row[H_CLIP]))
        _pendulum_row(fstate, hist, k % cap, th, vel, sigma)
    fstate[F_LAST_SIGMA] = sigma
    fresh_search(fstate, ist, hold)
    return th


# =============================================================================
# The post-gap window (gyro)
# =============================================================================


def pg_start(fstate: np.ndarray, ist: np.ndarray, duration_s: float) -> None:
    """Twin of ``_pg_start``: open a window of ``duration_s`` with an empty sum.

    The next sample to be processed is the window's first: the first bridged
    sample of the gap, or the first measured one after an unbridged gap.
    """
    fstate[F_PG_S] = duration_s
    fstate[F_PG_SUM : F_PG_SUM + 3] = 0.0
    fstate[F_PG_CNT] = -1.0  # nothing summed over the bridge: the first measured row after the gap starts it
    fstate[F_PG_T] = 0.0
    fstate[F_PG_TURNED] = 0.0
    fstate[F_PG_MAX_SHIFT] = 0.0  # no limit on the re-anchoring unless the caller sets one
    ist[I_PG_GAP0] = ist[I_SAMPLE]
    ist[I_PG_END] = ist[I_SAMPLE]


def _flexion_deg(prm: np.ndarray, up: np.ndarray) -> float:
    """Flexion angle of a world "up" direction seen in the sensor frame, deg."""
    return math.degrees(math.atan2(up @ _vec(prm, P_W), up @ _vec(prm, P_U)))


def gap_turn(hist: np.ndarray, cap: int, a: int, b: int, newest: int) -> float:
    """Twin of ``_gap_turn``: the turn from row ``a`` to row ``b`` across a bridge, deg (NaN: not known).

    Each end's angular acceleration is the rate's difference to the nearest
    row at least ``_HERM_ALPHA_SPAN_S`` away (before ``a``, after ``b``, at
    most ``_HERM_ALPHA_ROWS`` rows, no bridged row before ``a``); the turn is
    the integral of the cubic Hermite spline of the rate through both ends'
    rates and accelerations, NaN if the gap is longer than ``_HERM_MAX_GAP_S``
    if the rates either side differ in sign and by more than
    ``_HERM_TURN_DPS``, or the spline's departure from the straight line
    between the rates (``h^2 (alpha_a - alpha_b) / 12``) exceeds
    ``_HERM_MAX_CURVE_DEG``.
    """
    ta, tb = hist[a % cap, H_TIME], hist[b % cap, H_TIME]
    h = tb - ta
    if not 0 < h <= kg._HERM_MAX_GAP_S:
        return math.nan
    va, vb = hist[a % cap, H_VEL], hist[b % cap, H_VEL]
    if np.sign(va) * np.sign(vb) < 0 and abs(vb - va) > kg._HERM_TURN_DPS:
        return math.nan  # the thigh turned inside the gap
    before = a - 1
    while before > max(a - kg._HERM_ALPHA_ROWS, 0) and ta - hist[before % cap, H_TIME] < kg._HERM_ALPHA_SPAN_S:
        before -= 1
    if before < 0 or any(hist[i % cap, H_FLAG] == H_FLAG_BRIDGED for i in range(before, a + 1)):
        return math.nan
    after = b + 1
    while after < min(b + kg._HERM_ALPHA_ROWS, newest) and hist[after % cap, H_TIME] - tb < kg._HERM_ALPHA_SPAN_S:
        after += 1
    if after > newest:
        return math.nan
    alpha_a = (va - hist[before % cap, H_VEL]) / (ta - hist[before % cap, H_TIME])
    alpha_b = (hist[after % cap, H_VEL] - vb) / (hist[after % cap, H_TIME] - tb)
    spline = CubicHermiteSpline([0.0, h], [va, vb], [alpha_a, alpha_b])
    straight = 0.5 * h * (va + vb)
    turn = float(spline.integrate(0.0, h))
    if not abs(turn - straight) <= kg._HERM_MAX_CURVE_DEG:
        return math.nan
    return turn


def pg_needs_sum(ist: np.ndarray, hist: np.ndarray) -> bool:
    """Twin of ``_pg_needs_sum``: whether the open window's gap turn is unknown from the rates (its sum decides)."""
    newest = int(ist[I_SAMPLE]) - 1
    first_bridged = int(ist[I_PG_GAP0])
    first_after = int(ist[I_PG_END])
    if first_bridged >= 1 and first_bridged < first_after <= newest:
        return math.isnan(gap_turn(hist, int(ist[I_CAP]), first_bridged - 1, first_after, newest))
    return True


def pg_finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Twin of ``_pg_finish``: close the window; re-anchor "up" and correct the history it covers.

    1. Where the gap's turn is known from the rates either side
       (:func:`gap_turn`), "up" turns about the flexion axis by that turn
       less the angle the history turned from the row before the gap to the
       first after it (the short way round).  Otherwise "up" becomes the
       direction of the window's sum of gravity estimates (unchanged if
       nothing was summed, or if that would move the angle by more than
       ``F_PG_MAX_SHIFT`` when set).
    2. Every sample measured after the gap (``I_PG_END`` to the newest) was
       tracked by the gyro from the wrong start: it moves by the change of
       the current angle that this makes, taken the short way round.
    3. The bridged samples (``I_PG_GAP0 .. I_PG_END - 1``) are redrawn as the
       cubic Hermite spline in time that joins the last sample before the gap
       to the first one after it, matching angle and rate at both ends; their
       rate becomes the spline's derivative.  If the ends describe a move one
       way (neither rate points against the secant slope by more than
       ``_TURN_FRAC`` of it) the rates are first limited to three times the
       secant slope (Fritsch-Carlson), so the spline does not overshoot the
       end angles; otherwise the thigh turned inside the gap and the rates
       are used as measured.
    """
    fstate[F_PG_S] = 0.0
    if prm[P_HAS_GYRO] == 0:
        apg_finish(prm, fstate, ist, hist)  # without a gyro the window chooses the swing's phase
        return
    cap = int(ist[I_CAP])
    newest = int(ist[I_SAMPLE]) - 1
    first_bridged = int(ist[I_PG_GAP0])
    first_after = int(ist[I_PG_END])
    total = _vec(fstate, F_PG_SUM)
    shift = 0.0
    turn = math.nan
    if first_bridged >= 1 and first_bridged < first_after <= newest:
        turn = gap_turn(hist, cap, first_bridged - 1, first_after, newest)
    if not math.isnan(turn):
        # the turn the rates integrate, less what the history already turned over the bridge
        drawn = hist[first_after % cap, H_THETA] - hist[(first_bridged - 1) % cap, H_THETA]
        shift = math.remainder(turn - drawn, 360.0)
        up = _vec(fstate, F_UP)
        axis = _vec(prm, P_A)
        fstate[F_UP : F_UP + 3] = Rotation.from_rotvec(-math.radians(shift) * axis).apply(up)
    elif fstate[F_PG_CNT] > 0 and np.linalg.norm(total) > 0:
        before = _flexion_deg(prm, _vec(fstate, F_UP))
        up = total / np.linalg.norm(total)
        shift = math.remainder(_flexion_deg(prm, up) - before, 360.0)
        limit = fstate[F_PG_MAX_SHIFT]
        if (limit > 0 and abs(shift) > limit) or np.linalg.norm(total) < kg._PG_MIN_MEAN_G * fstate[F_PG_T]:
            shift = 0.0  # beyond what the bridge can have missed, or rows that cancel (not gravity): "up" is kept
        else:
            fstate[F_UP : F_UP + 3] = up
    for i in range(first_after, newest + 1):
        hist[i % cap, H_THETA] += shift
    if first_bridged >= 1 and first_bridged < first_after <= newest:
        a = hist[(first_bridged - 1) % cap]
        b = hist[first_after % cap]
        secant = (b[H_THETA] - a[H_THETA]) / (b[H_TIME] - a[H_TIME])
        rates = np.array([a[H_VEL], b[H_VEL]])
        one_way = secant != 0 and all(r * secant >= -kg._TURN_FRAC * secant**2 for r in rates)
        if one_way:
            rates = np.clip(rates, -3 * abs(secant), 3 * abs(secant))
        spline = CubicHermiteSpline([a[H_TIME], b[H_TIME]], [a[H_THETA], b[H_THETA]], rates)
        for i in range(first_bridged, first_after):
            row = hist[i % cap]
            row[H_THETA] = spline(row[H_TIME])
            row[H_VEL] = spline(row[H_TIME], 1)


# =============================================================================
# The post-gap window (accelerometer only)
# =============================================================================


def stride_rows(hist: np.ndarray, cap: int, end: int, period: float) -> int:
    """Twin of ``_stride_rows``: the stride period in rows, the first peak of the angle's autocorrelation; 0: none.

    The angle of the ``_ACF_SPAN_S`` before row ``end`` (every ``step``-th row,
    ``step`` about ``_ACF_STEP_S``) against the same stretch ``lag`` steps
    earlier, for lags of ``_T_MIN_S`` to ``_T_MAX_S``: the first local maximum
    of their correlation above ``_MIN_ACF``.
    """
    if not period > 0:
        return 0
    step = max(1, round(kga._ACF_STEP_S / period))
    lo = math.ceil(kga._T_MIN_S / period / step)
    hi = int(kga._T_MAX_S / period / step)
    span = int(kga._ACF_SPAN_S / period / step)
    n = span + hi
    if end - n * step < 0 or n * step >= cap // 4:
        return 0
    x = np.array([hist[(end - 1 - i * step) % cap, H_THETA] for i in range(n)])
    r = []
    for lag in range(lo, hi + 1):
        a, b = x[:span], x[lag : lag + span]
        r.append(float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0)
    for i in range(1, len(r) - 1):
        if r[i - 1] < r[i] > r[i + 1] and r[i] > kga._MIN_ACF:
            return (lo + i) * step
    return 0


def _filter_rows(prm: np.ndarray, fstate: np.ndarray, hist: np.ndarray, rows: range, write: bool) -> float:
    """The pendulum filter over history ``rows`` as kept (force, clip bits, step); the capped NIS it summed."""
    cap = hist.shape[0]
    before = fstate[F_ID_NIS]
    sigma = 0.0
    for k in rows:
        row = hist[k % cap]
        th, vel, sigma = pendulum_step(prm, fstate, *row[H_ACC : H_ACC + 3], row[H_DT], int(row[H_CLIP]))
        if write:
            _pendulum_row(fstate, hist, k % cap, th, vel, sigma)
    if write and len(rows) > 0:
        fstate[F_LAST_SIGMA] = sigma
    return float(fstate[F_ID_NIS] - before)


def _from_row(fstate: np.ndarray, hist: np.ndarray, slot: int) -> None:
    """The filter's state and full covariance from a history row (upper triangle kept)."""
    fstate[F_X : F_X + 3] = hist[slot, H_X : H_X + 3]
    p = np.zeros((3, 3))
    p[np.triu_indices(3)] = hist[slot, H_P : H_P + 6]
    fstate[F_P : F_P + 9] = (p + np.triu(p, 1).T).ravel()


def _before_gap(fstate: np.ndarray, hist: np.ndarray, slot: int) -> None:
    """The filter as before the gap: the snapshot's axis-free state and sums, the state of the row before."""
    snap = fstate[F_APG_SNAP : F_APG_SNAP + 8].copy()
    fstate[F_ZLP : F_ZLP + 3] = snap[:3]
    fstate[F_ZSTILL_S], fstate[F_G_EST] = snap[3], snap[4]
    zupt_anchor_here(fstate)
    fstate[F_NLL], fstate[F_ID_NIS], fstate[F_ID_N] = snap[5], snap[6], snap[7]
    _from_row(fstate, hist, slot)


def apg_finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Twin of ``_apg_finish``: after a bridged gap without a gyro, keep the run whose phase fits best.

    With ``lag`` the stride period (:func:`stride_rows`) times the fewest
    periods that reach back before the gap, two runs of the filter over the
    window (from the row before the gap, the gap's rows as bridged) are
    scored by their capped NIS summed over the measured rows after the gap:
    *bridged*, as filtered; *periodic*, restarted at the first measured row
    from the state ``lag`` rows before it.  The periodic one is kept only if
    its sum is smaller: its bridged rows become copies of the rows ``lag``
    earlier and the measured rows are filtered again from there.  Either
    way the filter's state ends as the kept run leaves it, and its
    likelihood sums move only while identifying.
    """
    cap = int(ist[I_CAP])
    last = int(ist[I_SAMPLE]) - 1
    g0, e0 = int(ist[I_PG_GAP0]), int(ist[I_PG_END])
    if ist[I_AX_HOLD] != 0 or g0 < 1 or e0 <= g0 or e0 > last:
        return
    period_rows = stride_rows(hist, cap, g0, fstate[F_PERIOD])
    if period_rows <= 0:
        return
    lag = period_rows * max(1, math.ceil((e0 - g0) / period_rows))
    if g0 - 1 - lag < 0 or (last - g0) + lag >= cap // 4:
        return
    identifying = prm[P_ID]
    prm[P_ID] = 1.0
    _before_gap(fstate, hist, (g0 - 1) % cap)
    _filter_rows(prm, fstate, hist, range(g0, e0), False)
    bridged = _filter_rows(prm, fstate, hist, range(e0, last + 1), False)
    _before_gap(fstate, hist, (g0 - 1) % cap)
    _filter_rows(prm, fstate, hist, range(g0, e0), False)
    _from_row(fstate, hist, (e0 - 1 - lag) % cap)
    periodic = _filter_rows(prm, fstate, hist, range(e0, last + 1), False)
    prm[P_ID] = identifying
    _before_gap(fstate, hist, (g0 - 1) % cap)
    if not periodic < bridged:
        _filter_rows(prm, fstate, hist, range(g0, last + 1), False)
        return
    _filter_rows(prm, fstate, hist, range(g0, e0), False)
    cols = [H_THETA, H_VEL, H_SIGMA, *range(H_X, H_X + 3), *range(H_P, H_P + 6)]
    for i in range(g0, e0):
        hist[i % cap, cols] = hist[(i - lag) % cap, cols]
        hist[i % cap, H_JOLT] = 0.0
    _from_row(fstate, hist, (e0 - 1 - lag) % cap)
    _filter_rows(prm, fstate, hist, range(e0, last + 1), True)


def apg_opens(prm: np.ndarray, ist: np.ndarray, gap_s: float, overrun: bool) -> bool:
    """Twin of ``_acc_window``: a bridged gap of more than ``_APG_GAP_S`` without a gyro and no axis hold."""
    return bool(
        prm[P_HAS_GYRO] == 0 and kga._APG_GAP_S < gap_s <= prm[P_MAX_INTERP_S] and not overrun and ist[I_AX_HOLD] == 0
    )


# =============================================================================
# The main loop
# =============================================================================


def _at_full_scale(v: float, range_g: float) -> bool:
    """|v| at the known range, or (range 0 = unknown) at one of the standard ranges."""
    tol = kcl._CLIP_TOL
    if range_g > 0:
        return abs(v) >= range_g * (1 - tol)
    return any(abs(abs(v) - r) <= r * tol for r in kcl._RANGES_G)


def clip_flags(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, acc: np.ndarray) -> tuple[bool, list[bool]]:
    """Is this row clipped, and which axes read a full-scale value?  Count clipped rows, each row once.

    With a known range a value at full scale is clipped.  Without one, a
    value at a standard range repeated on consecutive rows is a saturation
    plateau, and every row of it is a clipped sample.  A plateau's first row
    was processed before the repeat showed it up: it is counted (unless
    already counted) when the second row arrives, but not flagged.
    ``I_PREV_CLIP`` remembers whether the previous row was counted.  Every
    axis at a full-scale value is a bound for the filters, plateau or not.
    """
    range_g = prm[P_ACC_RANGE]
    prev_raw = _vec(fstate, F_PREV_RAW)
    axes = [_at_full_scale(v, range_g) for v in acc]
    if range_g > 0:
        clipped = any(axes)
    else:
        clipped = any(
            _at_full_scale(v, 0.0) and abs(v - p) <= abs(v) * kcl._CLIP_TOL for v, p in zip(acc, prev_raw, strict=True)
        )
    if clipped:
        ist[I_CLIPPED] += 1
        if range_g <= 0 and not ist[I_PREV_CLIP]:
            ist[I_CLIPPED] += 1  # the plateau's first row
    ist[I_PREV_CLIP] = int(clipped)
    fstate[F_PREV_RAW : F_PREV_RAW + 3] = acc
    return clipped, axes


def _window_open(fstate: np.ndarray) -> bool:
    return bool(fstate[F_PG_S] > 0.0)


def _process(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    t: float,
    acc: np.ndarray,
    gyr: np.ndarray,
    bridged: bool,
    clipped: bool,
    clip_axes: list[bool] | None = None,
) -> float:
    """Orientation and history for one processed sample (the detector reads it later); returns theta.

    ``clipped``: the row counts as clipped; ``clip_axes``: which axes read a
    full-scale value (the gyro filter ignores the accelerometer if any does;
    the pendulum filter takes them as bounds).

    An open post-gap window counts down by the sample period and is closed
    (:func:`pg_finish`) by the sample that uses it up, or earlier by the
    sample that makes it (from its first bridged sample) ``1 / _PG_RING_DIV``
    of the history ring long.
    """
    dt = fstate[F_PERIOD]
    axes = clip_axes if clip_axes is not None else [False, False, False]
    if prm[P_HAS_GYRO] > 0:
        theta, vel = tilt_step(prm, fstate, *acc, *gyr, dt, clipped or any(axes))
        sigma = 0.0
    else:
        clip_bits = sum(1 << c for c in range(3) if axes[c])
        theta, vel, sigma = pendulum_step(prm, fstate, *acc, dt, clip_bits)
    fstate[F_LAST_SIGMA] = sigma
    s = int(ist[I_SAMPLE])
    cap = int(ist[I_CAP])
    if fstate[F_REANCHOR_S] > 0.0:  # the pendulum filter re-converging after a gap: read like a bridged row
        fstate[F_REANCHOR_S] -= dt
        bridged = True
    flag = H_FLAG_BRIDGED if bridged else (H_FLAG_CLIPPED if clipped else 0.0)
    hist[s % cap, :H_N] = [theta, vel, t, flag, sigma]
    if prm[P_HAS_GYRO] == 0:  # the posterior the rep smoother reads
        p = fstate[F_P : F_P + 9].reshape(3, 3)
        hist[s % cap, H_X : H_X + 3] = fstate[F_X : F_X + 3]
        hist[s % cap, H_P : H_P + 6] = p[np.triu_indices(3)]
        hist[s % cap, H_DT] = dt
        hist[s % cap, H_JOLT] = fstate[F_JOLT]  # the innovation's size: a foot strike's jolt
        hist[s % cap, H_ACC : H_ACC + 3] = acc  # what the filter read, for a re-run (apg_finish, a hold)
        hist[s % cap, H_CLIP] = clip_bits
    fstate[F_T_HAT] = t
    ist[I_SAMPLE] = s + 1
    if prm[P_HAS_GYRO] > 0:
        theta = axis_watch(prm, fstate, ist, hist, s, theta)
    elif prm[P_AX_WATCH] > 0:
        theta = acc_axis_watch(prm, fstate, ist, hist, s, theta, np.asarray(acc, dtype=np.float64), clip_bits)
    if _window_open(fstate):
        fstate[F_PG_S] -= dt
        window_samples = ist[I_SAMPLE] - ist[I_PG_GAP0]
        if not _window_open(fstate) or window_samples >= cap // kr._PG_RING_DIV:
            pg_finish(prm, fstate, ist, hist)
    return theta


def open_gap(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    ev: np.ndarray,
    n_ev: int,
    t_hat: float,
    t: float,
    period: float,
    gap_s: float,
    steps: int,
    overrun: bool,
    turned: bool,
    turn_deg: float,
) -> tuple[int, float, int, float, bool, bool, bool]:
    """Twin of ``_open_gap``: a gap of ``steps - 1`` rows before the row at ``t``, counted, and what it opens.

    The gap's event; a gap too long to bridge or overrunning the history
    ends (or, without a gyro up to ``_CARRY_GAP_S``, carries) the detector's
    rep and restarts the timeline at ``t``; over a gap longer than
    ``_REANCHOR_GAP_S`` the bridge holds the rotation, and with a gyro (or
    after a short gap the thigh may have ``turned`` in) a post-gap window
    opens.  Returns the event rows, ``t_hat``, the rows to bridge, ``steps``
    as the bridge's divisor (1 when not bridged), and whether the bridge
    holds, a window opened and the filter re-anchored.
    """
    has_gyro = prm[P_HAS_GYRO] > 0
    out = _Events(ev, n_ev)
    bridged = gap_s <= prm[P_MAX_INTERP_S] and not overrun
    fstate[F_LOST_S] += gap_s
    ist[I_GAPS] += 1
    out.add(EV_GAP, t_hat, t, 1.0 if bridged else 0.0)
    hold = gap_s > kr._REANCHOR_GAP_S  # the gyro missed rotation
    window = bool((hold and has_gyro) or turned)
    reanchored = False
    if not bridged:
        # Without a gyro the detector carries across gaps up to _CARRY_GAP_S.
        if has_gyro or gap_s > kr._CARRY_GAP_S:
            out.n = interrupt(prm, fstate, ist, hist, ev, out.n, REJ_GAP)
        else:
            out.n = carry(prm, fstate, ist, hist, ev, out.n)
        if not has_gyro:
            pendulum_reanchor(fstate)
            fstate[F_REANCHOR_S] = kr._REANCHOR_SETTLE_S
            reanchored = True
        fstate[F_PREV_W : F_PREV_W + 3] = 0.0
        fstate[F_PREV_W2 : F_PREV_W2 + 3] = 0.0
        fstate[F_PREV_OA] = 0.0
        t_hat = t - period
    if window:
        pg_start(fstate, ist, kr._PG_WINDOW_S + kr._PG_SEEK_S + (gap_s if bridged else 0.0))
        if turned and not hold:  # re-anchors by at most what the linear bridge can have missed
            fstate[F_PG_MAX_SHIFT] = kr._BRIDGE_MISS_FRAC * turn_deg
    elif apg_opens(prm, ist, gap_s, overrun):
        # Without a gyro: a window in which the swing's phase is chosen (apg_finish).
        pg_start(fstate, ist, kga._APG_WINDOW_S + gap_s)
        fstate[F_APG_SNAP : F_APG_SNAP + 3] = fstate[F_ZLP : F_ZLP + 3]
        fstate[F_APG_SNAP + 3 : F_APG_SNAP + 8] = [
            fstate[F_ZSTILL_S], fstate[F_G_EST], fstate[F_NLL], fstate[F_ID_NIS], fstate[F_ID_N]
        ]  # fmt: skip
        window = True
    return out.n, t_hat, (steps - 1 if bridged else 0), (float(steps) if bridged else 1.0), hold, window, reanchored


def run_chunk(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray,
    out_theta: np.ndarray,
    ev: np.ndarray,
) -> tuple[int, int]:
    """Twin of ``_run_chunk``: rows in, processed samples through the filters, the history read by the detector.

    Per row: a row with a NaN is lost (angle NaN, nothing else happens).
    Otherwise the row's place on the reconstructed timeline is
    ``steps = floor((t - t_hat) / P + 0.5)`` periods after the last
    processed sample (at least one).  ``steps - 1`` missing samples are a
    gap: short gaps (``<= max_interp``) are bridged by samples linearly
    interpolated between the previous row and this one (flagged in the
    history); longer ones make the pendulum filter forget its motion and
    restart the timeline at this row, and interrupt the detector (without a
    gyro only beyond ``_CARRY_GAP_S``; within it a confirmed rep is closed
    and anything else goes on, see :func:`carry`: the pendulum filter's rows for
    ``_REANCHOR_SETTLE_S`` after it are flagged as bridged, and the row after
    the gap has no prediction step, ``H_DT`` NaN).  Over a gap
    longer than ``_REANCHOR_GAP_S`` the bridge holds the rotation (the rate
    is the bias) and, with a gyro, a post-gap window of ``_PG_WINDOW_S``
    (plus the bridge) opens at the gap; the first measured sample after the
    gap is remembered for the redraw, and its angular acceleration is
    unknown (the rate before it was not measured).  Bridged samples inside a
    window are no measurements (processed as clipped).  A phase-locked loop
    then places the row's sample at ``pred + alpha (t - pred)`` and nudges
    the period by ``beta (t - pred)``.  With a gyro a shorter gap opens a
    window too when ``gap x`` the larger norm of the rates either side exceeds
    ``_BRIDGE_TURN_DEG``; that window's rates are still bridged linearly, and
    it re-anchors by at most ``_BRIDGE_MISS_FRAC`` of that turn.

    The detector reads each processed sample from the history once no
    window is open: at the start of a call and after every row.  Before a
    gap that opens a window or is not bridged, an open window is closed
    early and the detector catches up (the interrupt needs it); if the event
    rows run out first the row is left for the next call.  Shorter gaps are
    bridged inside an open window, and so is a short gap the thigh turned in
    when the open window's own gap turn is not known from the rates
    (:func:`pg_needs_sum`): the window's span grows by the gap and its limit
    by ``_BRIDGE_MISS_FRAC`` of that turn.  Stops early when the event buffer is
    nearly full.
    """
    has_gyro = prm[P_HAS_GYRO] > 0
    room = ev.shape[0] - 4
    out = _Events(ev, 0)
    if not _window_open(fstate):
        out.n = catch_up(prm, fstate, ist, hist, ev, out.n, room)
    for k in range(time_s.shape[0]):
        if out.n >= room:
            return k, out.n
        t = float(time_s[k])
        acc = np.array(acc_g[k], dtype=np.float64)
        gyr = np.array(gyr_dps[k], dtype=np.float64) if has_gyro else np.zeros(3)
        if math.isnan(t) or np.isnan(acc).any() or np.isnan(gyr).any():
            out_theta[k] = math.nan
            continue
        started = bool(ist[I_STARTED])
        period = fstate[F_PERIOD]
        steps = max(1, math.floor((t - fstate[F_T_HAT]) / period + 0.5)) if started else 1
        gap_s = (steps - 1) * period
        # a bridge of more rows than a sixteenth of the ring is not bridged (it would overrun the history)
        overrun = steps - 1 > ist[I_CAP] // kr._PG_RING_DIV
        # A shorter gap opens a window too when the thigh may have turned
        # more than _BRIDGE_TURN_DEG in it (the gap times the larger rate either side).
        turn_deg = 0.0
        if started and has_gyro and steps > 1 and gap_s <= kr._REANCHOR_GAP_S:
            turn_deg = gap_s * max(np.linalg.norm(gyr), np.linalg.norm(_vec(fstate, F_PREV_GYR)))
        turned = turn_deg > kr._BRIDGE_TURN_DEG
        # An open window whose sum re-anchors stays open across such a gap
        # (bridged inside it, its limit grown by this bridge's possible miss).
        merged = bool(
            turned and _window_open(fstate) and gap_s <= prm[P_MAX_INTERP_S] and not overrun and pg_needs_sum(ist, hist)
        )
        turned = turned and not merged
        opens_window_or_interrupts = (
            gap_s > prm[P_MAX_INTERP_S]
            or overrun
            or (has_gyro and gap_s > kr._REANCHOR_GAP_S)
            or turned
            or (steps > 1 and apg_opens(prm, ist, gap_s, overrun))
        )
        detector_behind = ist[I_DET] < ist[I_SAMPLE]
        if steps > 1 and opens_window_or_interrupts and (_window_open(fstate) or detector_behind):
            ist[I_AX_HOLD] = 0  # a held rise is released undecided
            if _window_open(fstate):
                pg_finish(prm, fstate, ist, hist)
            out.n = catch_up(prm, fstate, ist, hist, ev, out.n, room)
            if ist[I_DET] < ist[I_SAMPLE]:
                return k, out.n  # no room for the detector's events: this row again next call
        clipped, clip_axes = clip_flags(prm, fstate, ist, acc)
        if not started:
            ist[I_STARTED] = 1
            fstate[F_T_HAT] = t
            theta = _process(prm, fstate, ist, hist, t, acc, gyr, False, clipped, clip_axes)
        else:
            t_hat = fstate[F_T_HAT]
            reanchored = False
            if steps > 1:
                out.n, t_hat, n_bridge, _, hold, window, reanchored = open_gap(
                    prm, fstate, ist, hist, ev, out.n, t_hat, t, period, gap_s, steps, overrun, turned, turn_deg
                )
                if merged:
                    fstate[F_PG_S] += gap_s
                    if fstate[F_PG_MAX_SHIFT] > 0:
                        fstate[F_PG_MAX_SHIFT] += kr._BRIDGE_MISS_FRAC * turn_deg
                if n_bridge > 0:
                    prev_acc, prev_gyr = _vec(fstate, F_PREV_ACC), _vec(fstate, F_PREV_GYR)
                    for j in range(1, steps):
                        a_j = np.array([np.interp(j, [0, steps], [prev_acc[c], acc[c]]) for c in range(3)])
                        if hold:  # no rotation invented: the rate is the bias
                            g_j = _vec(fstate, F_BIAS)
                        else:
                            g_j = np.array([np.interp(j, [0, steps], [prev_gyr[c], gyr[c]]) for c in range(3)])
                        _process(prm, fstate, ist, hist, t_hat + j * period, a_j, g_j, True, _window_open(fstate))
                    t_hat = fstate[F_T_HAT]
                if window:
                    ist[I_PG_END] = ist[I_SAMPLE]  # the sample about to be processed
                    fstate[F_PG_CNT] = 0.0  # it starts the window's sum
                    fstate[F_PREV_OA] = math.nan  # the rate before it was not measured
            predicted = t_hat + period
            error = t - predicted
            fstate[F_PERIOD] = period + kr._PLL_BETA * error
            theta = _process(
                prm, fstate, ist, hist, predicted + kr._PLL_ALPHA * error, acc, gyr, False, clipped, clip_axes
            )
            if reanchored:  # no prediction from before the gap: the smoother stops here
                hist[(int(ist[I_SAMPLE]) - 1) % int(ist[I_CAP]), H_DT] = math.nan
        if not _window_open(fstate):
            out.n = catch_up(prm, fstate, ist, hist, ev, out.n, room)
        fstate[F_PREV_ACC : F_PREV_ACC + 3] = acc
        fstate[F_PREV_GYR : F_PREV_GYR + 3] = gyr
        out_theta[k] = theta
    return time_s.shape[0], out.n


def finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray) -> tuple[int, bool]:
    """Twin of ``_finish``: close an open window, let the detector catch up, then interrupt it.

    Returns the event rows written and whether the stream is done; when the
    rows ran out before the detector caught up (``False``) call again with an
    emptied ``ev``.
    """
    if _window_open(fstate):
        pg_finish(prm, fstate, ist, hist)
    ist[I_AX_HOLD] = 0
    n_ev = catch_up(prm, fstate, ist, hist, ev, 0, ev.shape[0] - 4)
    if ist[I_DET] < ist[I_SAMPLE]:
        return n_ev, False
    return interrupt(prm, fstate, ist, hist, ev, n_ev, REJ_UNFINISHED), True


# =============================================================================
# Learning: quiet window and axis lock
# =============================================================================


def window_score(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    j0: int,
    k: int,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
) -> float:
    """Twin of ``_window_score``: largest deviation from the window mean in units of its threshold.

    Rows with a NaN are dropouts and left out.  ``inf`` (unusable) when the
    valid rows (with the window's first and last row times as edges) are more
    than ``max_gap_s`` apart somewhere, or fewer than 10.  Deviations: every
    accelerometer value from the mean (over ``still_acc``); with a gyro, the
    mean of the valid rows in ``(t_i - _STILL_AVG_S, t_i]`` from the window's
    mean gyro rate, for every valid row ``i`` at least ``_STILL_AVG_S`` after
    the window's first row (over ``still_gyr``), and the mean rate itself
    (over ``_MAX_BIAS_DPS``).  The magnitude of the mean acceleration is not
    looked at.
    """
    rows = np.arange(j0, k + 1)
    valid = ~np.isnan(acc[rows]).any(axis=1)
    if has_gyro:
        valid &= ~np.isnan(gyr[rows]).any(axis=1)
    rows = rows[valid]
    # The window's edges count too: dropouts at its start or end are gaps.
    if rows.size == 0 or (np.diff(np.concatenate([[t[j0]], t[rows], [t[k]]])) > max_gap_s).any():
        return math.inf
    if rows.size < 10:
        return math.inf
    a = acc[rows]
    score = float(np.abs(a - a.mean(axis=0)).max()) / still_acc
    if has_gyro:
        g = gyr[rows]
        mean_g = g.mean(axis=0)
        score = max(score, float(np.linalg.norm(mean_g)) / _kern_still._MAX_BIAS_DPS)
        for i in rows:
            if t[i] - t[j0] < _kern_still._STILL_AVG_S:
                continue
            recent = rows[(t[rows] > t[i] - _kern_still._STILL_AVG_S) & (rows <= i)]
            score = max(score, float(np.abs(gyr[recent].mean(axis=0) - mean_g).max()) / still_gyr)
    return score


def scan_quiet(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
) -> int:
    """Twin of ``_scan_quiet``: the first row ending a quiet window of ``win_s``, or -1.

    A window ending at row k starts at the last row at or before
    ``t[k] - win_s`` and is scored once it spans at least 95 % of
    ``win_s``; the best (lowest) score so far is remembered; the scan
    resumes after the rows already tested.
    """
    n = t.shape[0]
    for k in range(int(qs[kq.Q_SCANNED]), n):
        if t[k] - t[0] < 0.95 * win_s:
            continue
        j0 = int(np.searchsorted(t, t[k] - win_s, side="right")) - 1
        j0 = min(max(j0, 0), k)
        if t[k] - t[j0] < 0.95 * win_s:
            continue
        score = window_score(t, acc, gyr, has_gyro, j0, k, still_acc, still_gyr, max_gap_s)
        if score < qs[kq.Q_BEST_SCORE]:
            qs[kq.Q_BEST_SCORE] = score
            qs[kq.Q_BEST_END] = k
        if score <= 1.0:
            qs[kq.Q_SCANNED] = k + 1
            return k
    qs[kq.Q_SCANNED] = n
    return -1


def scan_stillest(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
) -> None:
    """Twin of ``_scan_stillest``: :func:`scan_quiet` called until no quiet window is left."""
    while scan_quiet(t, acc, gyr, has_gyro, win_s, still_acc, still_gyr, max_gap_s, qs) >= 0:
        pass


def lower_bounds(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    k_first: int,
    starts: np.ndarray,
    lower: np.ndarray,
) -> bool:
    """Twin of ``_kern_still._lower_bounds``: the tightest bound of all, each tested window's own score.

    Windows as :func:`scan_quiet` tests them: the one ending at row ``k``
    starts at the last row at or before ``t[k] - win_s`` and is tested once
    it spans 95 % of ``win_s`` (else its start is -1 and its bound inf).
    False (the kernel's fast path does not apply) if the times decrease or
    hold a NaN, or a valid row an infinite value.
    """
    n = t.shape[0]
    if np.any(~(t[1:] >= t[:-1])):
        return False
    valid = ~np.isnan(acc).any(axis=1)
    if has_gyro:
        valid &= ~np.isnan(gyr).any(axis=1)
        if not np.isfinite(gyr[valid]).all():
            return False
    if not np.isfinite(acc[valid]).all():
        return False
    for k in range(k_first, n):
        starts[k - k_first] = -1
        lower[k - k_first] = math.inf
        if t[k] - t[0] < 0.95 * win_s:
            continue
        j0 = min(max(int(np.searchsorted(t, t[k] - win_s, side="right")) - 1, 0), k)
        if t[k] - t[j0] < 0.95 * win_s:
            continue
        starts[k - k_first] = j0
        lower[k - k_first] = window_score(t, acc, gyr, has_gyro, j0, k, still_acc, still_gyr, max_gap_s)
    return True


def scan_lock(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    up: np.ndarray,
    bias: np.ndarray,
    lock_deg: float,
    ls: np.ndarray,
) -> int:
    """Twin of ``_scan_lock``: watch the thigh leave standing; return the row where it is ``lock_deg`` away.

    The thigh's current "up" is the tilt filter's (with gyro, run on its own
    state inside ``ls``) or a low-passed accelerometer (time constant
    ``_LOCK_LP_TAU_S``; this low-pass and a slower one for the sign,
    ``_SIGN_LP_TAU_S``, run in both cases).  Each valid row adds ``e e^T`` to
    the axis evidence, ``e`` the bias-corrected rate (gyro) or the current
    direction's component perpendicular to ``up``.
    """
    n = t.shape[0]
    lp = ls[kl.L_LP : kl.L_LP + 3]  # views: updated in place
    slow = ls[kl.L_SLOW : kl.L_SLOW + 3]
    scatter = ls[kl.L_S : kl.L_S + 9].reshape(3, 3)
    tilt_fs = ls[kl.L_FS : kl.L_FS + F_N]
    tilt_prm = ls[kl.L_PRM : kl.L_PRM + P_N]
    for k in range(int(ls[kl.L_SCANNED]), n):
        a_k = acc[k]
        g_k = gyr[k] if has_gyro else np.zeros(3)
        if math.isnan(t[k]) or np.isnan(a_k).any() or np.isnan(g_k).any():
            continue
        dt = 0.0 if math.isnan(ls[kl.L_LAST_T]) else t[k] - ls[kl.L_LAST_T]
        ls[kl.L_LAST_T] = t[k]
        lp += dt / (kl._LOCK_LP_TAU_S + dt) * (a_k - lp)
        slow += dt / (kl._SIGN_LP_TAU_S + dt) * (a_k - slow)
        if has_gyro:
            if dt > 0:
                tilt_step(tilt_prm, tilt_fs, *a_k, *g_k, dt, False)
            current = _vec(tilt_fs, F_UP)
        else:
            current = lp.copy()
        length = np.linalg.norm(current)
        if length <= 1e-9:
            continue
        direction = current / length
        tilt = math.degrees(math.acos(float(np.clip(direction @ up, -1.0, 1.0))))
        evidence = g_k - bias if has_gyro else direction - (direction @ up) * up
        scatter += np.outer(evidence, evidence)
        if tilt > ls[kl.L_MAX_TILT]:
            ls[kl.L_MAX_TILT] = tilt
            ls[kl.L_MAX_ROW] = k
        if tilt >= (lock_deg if has_gyro else lock_deg * kl._ACC_LOCK_FRACTION):
            ls[kl.L_LOCK_ROW] = k
            ls[kl.L_SCANNED] = k + 1
            return k
    ls[kl.L_SCANNED] = n
    return -1


def lowpass_rows(t: np.ndarray, x: np.ndarray, tau_s: float, out: np.ndarray) -> None:
    """Twin of ``_kern_gyro_frame._lowpass_rows``: y += dt / (tau + dt) * (x - y), from the first whole row."""
    state: np.ndarray | None = None
    last_t = math.nan
    for k in range(t.shape[0]):
        if math.isnan(t[k]) or np.isnan(x[k]).any():
            out[k] = np.nan
            continue
        if state is None:
            state = x[k].astype(float).copy()
        else:
            dt = t[k] - last_t
            state = state + dt / (tau_s + dt) * (x[k] - state)
        last_t = t[k]
        out[k] = state


def model_rows(
    t: np.ndarray,
    rate: np.ndarray,
    accel: np.ndarray,
    m: np.ndarray,
    up: np.ndarray,
    gravity_g: float,
    tau_s: float,
    stride: int,
    out: np.ndarray,
) -> float:
    """Twin of ``_kern_gyro_frame._model_rows``: the low-passed rigid-rotation model, every stride-th row.

    Gravity, seen from the sensor, turns by the rotation vector
    ``-(omega_prev + omega) / 2 * dt``; the lever's acceleration is
    ``alpha x r + omega x (omega x r)`` written as a matrix acting on ``r``.
    """
    g = np.asarray(up, dtype=float).copy()
    w_prev = np.zeros(3)
    last_t = math.nan
    lp = np.zeros(12)
    worst = 0.0
    for k in range(t.shape[0]):
        w = m @ rate[k] * math.pi / 180.0
        if math.isnan(t[k]) or np.isnan(w).any():
            if k % stride == 0:
                out[k // stride] = np.nan
            continue
        alpha = m @ accel[k] * math.pi / 180.0
        if np.isnan(alpha).any():
            alpha = np.zeros(3)
        al = 1.0
        if not math.isnan(last_t):
            dt = t[k] - last_t
            al = dt / (tau_s + dt)
            g = Rotation.from_rotvec(-0.5 * (w + w_prev) * dt).apply(g)
            g = g / np.linalg.norm(g)
        last_t = t[k]
        w_prev = w
        worst = max(worst, math.degrees(math.acos(float(np.clip(g @ up, -1.0, 1.0)))))

        def cross_matrix(v: np.ndarray) -> np.ndarray:
            return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])

        lever = cross_matrix(alpha) + cross_matrix(w) @ cross_matrix(w)
        x = np.concatenate([gravity_g * g, lever.ravel()])
        lp = lp + al * (x - lp)
        if k % stride == 0:
            out[k // stride] = lp
    return worst


def fit_lever(cols: np.ndarray, acc_lp: np.ndarray, stride: int) -> float:
    """Twin of ``_kern_gyro_frame._fit_lever``: ridge least squares for the lever, then the RMS residual angle, deg."""
    rows = [j for j in range(cols.shape[0]) if not (np.isnan(cols[j]).any() or np.isnan(acc_lp[j * stride]).any())]
    if not rows:
        return math.inf
    gravity = np.array([cols[j, :3] for j in rows])
    lever = np.array([cols[j, 3:].reshape(3, 3) for j in rows])
    acc = np.array([acc_lp[j * stride] for j in rows])
    x = lever.reshape(-1, 3)
    y = (acc - gravity).reshape(-1)
    a = x.T @ x
    a = a + (1e-9 * np.trace(a) + 1e-300) * np.eye(3)
    r = np.linalg.solve(a, x.T @ y)
    pred = gravity + lever @ r
    cos = np.sum(pred * acc, axis=1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(acc, axis=1))
    return float(np.sqrt(np.mean(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) ** 2)))


# ---- timeline (dsp/_kern_time.py) ------------------------------------------------


def naive_retime(ts: np.ndarray, t_in: np.ndarray, t_out: np.ndarray) -> None:
    """Twin of ``_kern_time._retime``: stamps -> grid, written for a reader.

    Each row takes the next grid slot (line + period).  Its offset from the
    line is compared with what the stamping explains: the envelope (lowest
    offset lately) plus where the spread (largest block range of the last
    four, widened by how much those ranges differ) expects it, plus twice
    the envelope's noise; anything half a period
    beyond that is whole lost rows.  Blocks of rows summarise the offsets; when a block's
    envelope sits whole periods above the previous one, rows were lost
    inside it: counted, while the phase takes the time up.  The period is
    the median slope from each block's envelope point to the newest; the
    phase creeps towards envelope + half the spread (at most half a period).
    """
    from hipflex.dsp import _kern_time as kt
    from hipflex.dsp import _layout as tl

    def block_spread() -> float:
        # The second largest of the last four blocks' spreads (one may hold an
        # unseen loss), widened by how much they differ; before any block the
        # current one's.
        known = sorted(ts[j] for j in (tl.T_S1, tl.T_S2, tl.T_S3, tl.T_S4) if ts[j] < math.inf)
        if not known:
            return ts[tl.T_CUR_MAX] - ts[tl.T_CUR_MIN] if ts[tl.T_CUR_N] > 0 else math.inf
        if len(known) >= 3:
            return known[-2] + (known[-2] - known[0])
        return known[0]

    for k, t in enumerate(t_in):
        p = ts[tl.T_P]
        first = ts[tl.T_ROWS] == 0
        line, idx = (t, 0.0) if first else (ts[tl.T_LINE] + p, ts[tl.T_IDX] + 1)
        if first:
            ts[tl.T_PHASE] = 0.0
        offset = t - line
        spread = ts[tl.T_SPREAD]  # the blocks' spread, as of the last block
        envelope = min(ts[tl.T_E1], ts[tl.T_CUR_MIN])
        # ... and only on a step of at least half a period from the row before.
        if spread < math.inf and envelope < math.inf and offset - ts[tl.T_PREV_U] > kt._LOSS_MARGIN * p:
            # A row of a jitter band [0, S] is late when past S + 3/4 (P - S); a
            # burst's first row is at its top; blended between P and 2 P.
            centre = 0.25 * (spread + p) if spread <= p else spread - 0.5 * p * max(0.0, 2.0 - spread / p)
            late = offset - envelope - centre - kt._ENV_NOISE_K * ts[tl.T_ENV_NOISE]
            lost = math.floor(late / p + kt._LOSS_MARGIN)
            if lost >= 1:
                line, idx, offset = line + lost * p, idx + lost, offset - lost * p
                ts[tl.T_LOST_S] += lost * p
        ts[tl.T_PREV_U] = offset
        if offset < ts[tl.T_CUR_MIN]:
            ts[tl.T_CUR_MIN], ts[tl.T_CUR_MIN_IDX], ts[tl.T_CUR_MIN_T] = offset, idx, t
        ts[tl.T_CUR_MAX] = max(ts[tl.T_CUR_MAX], offset)
        ts[tl.T_CUR_N] += 1
        known = ts[tl.T_SPREAD] if ts[tl.T_SPREAD] < math.inf else ts[tl.T_CUR_MAX] - ts[tl.T_CUR_MIN]
        target = min(ts[tl.T_E1], ts[tl.T_CUR_MIN]) + 0.5 * min(known, p)
        if first:
            ts[tl.T_PHASE] = target
        else:
            step = kt._PHASE_GAIN * (target - ts[tl.T_PHASE])
            ts[tl.T_PHASE] += float(np.clip(step, -kt._PHASE_STEP * p, kt._PHASE_STEP * p))
        t_out[k] = line + ts[tl.T_PHASE]
        if abs(t - t_out[k]) <= kt._SNAP * p:  # on the grid already: kept as stamped
            t_out[k] = t
        if ts[tl.T_CUR_N] >= ts[tl.T_BLOCK]:
            env_new, spread_new = ts[tl.T_CUR_MIN], ts[tl.T_CUR_MAX] - ts[tl.T_CUR_MIN]
            min_idx, min_t = ts[tl.T_CUR_MIN_IDX], ts[tl.T_CUR_MIN_T]
            if ts[tl.T_E1] < math.inf:
                noise = ts[tl.T_ENV_NOISE]
                lost = math.floor((env_new - ts[tl.T_E1] - kt._ENV_NOISE_K * noise) / p + kt._LOSS_MARGIN)
                rise = env_new - ts[tl.T_E1]
                if lost > kt._LATE_ABSORB_ROWS:  # too much for the phase: the grid jumps
                    line, env_new = line + lost * p, env_new - lost * p
                if lost >= 1:  # counted; a little is taken up by the phase, not a gap
                    idx, min_idx, rise = idx + lost, min_idx + lost, rise - lost * p
                    ts[tl.T_LOST_S] += lost * p
                    if lost <= kt._LATE_ABSORB_ROWS:
                        ts[tl.T_LATE_S] += lost * p
                gain = max(kt._ENV_NOISE_GAIN, 1.0 / ts[tl.T_NBLK]) if ts[tl.T_NBLK] >= 1 else 1.0
                ts[tl.T_ENV_NOISE] = noise + gain * (min(abs(rise), 0.5 * p) - noise)
            slot = int(ts[tl.T_NBLK]) % tl.T_RING_N
            ts[tl.T_RING + 2 * slot], ts[tl.T_RING + 2 * slot + 1] = min_idx, min_t
            ts[tl.T_NBLK] += 1
            ts[tl.T_E2] = ts[tl.T_E1]
            ts[tl.T_S4], ts[tl.T_S3], ts[tl.T_S2] = ts[tl.T_S3], ts[tl.T_S2], ts[tl.T_S1]
            ts[tl.T_E1], ts[tl.T_S1] = env_new, spread_new
            ts[tl.T_SPREAD] = block_spread()
            ts[tl.T_CUR_N], ts[tl.T_CUR_MIN], ts[tl.T_CUR_MAX] = 0.0, math.inf, -math.inf
            blocks = int(ts[tl.T_NBLK])
            if blocks >= 2:
                kept = min(blocks, tl.T_RING_N)
                slots = [(blocks - kept + q) % tl.T_RING_N for q in range(kept)]
                points = [(ts[tl.T_RING + 2 * j], ts[tl.T_RING + 2 * j + 1]) for j in slots]
                newest = points[-1]
                slopes = [(newest[1] - a[1]) / max(1.0, newest[0] - a[0]) for a in points[:-1]]
                ts[tl.T_P] = float(np.median(slopes))
        ts[tl.T_LINE], ts[tl.T_IDX] = line, idx
        ts[tl.T_ROWS] += 1


def lever_block_sums(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, block_s: float) -> np.ndarray:
    """Twin of ``hipflex.dsp.lever_sums._lever_block_sums``: the rows of each block, summed with numpy.

    Returns (m, 7): block index, then n, |w|^2, |a|^2, |w|^4, |w|^2 |a|^2, |a|^4 (w rad/s, a g).
    """
    w2 = np.sum(np.radians(gyr) ** 2, axis=1)
    a2 = np.sum(acc**2, axis=1)
    ok = np.isfinite(w2) & np.isfinite(a2)
    idx = np.floor(t[ok] / block_s)
    rows = []
    for k in np.unique(idx):
        sel = idx == k
        w, a = w2[ok][sel], a2[ok][sel]
        rows.append([k, sel.sum(), w.sum(), a.sum(), (w * w).sum(), (w * a).sum(), (a * a).sum()])
    return np.array(rows).reshape(-1, 7)


def rate_block_sums(
    t: np.ndarray, th: np.ndarray, last_t: float, last_th: float, acc: np.ndarray, starts: np.ndarray, out: np.ndarray
) -> None:
    """Twin of ``hipflex.dsp.angle_rate_lever._rate_block_sums``: the rate written into a gyro column, summed there.

    The angle's backward difference over the time step (the first row's from
    ``last_t, last_th``), NaN beyond ``MAX_RATE_DPS``, as the x column of a
    gyro whose other columns are zero, through ``lever_sums._lever_block_sums``
    (numpy for the rate, the gyro kernel for the sums: the path the kernel replaced).
    """
    from hipflex.dsp.angle_rate_lever import MAX_RATE_DPS
    from hipflex.dsp.lever_sums import _lever_block_sums

    gyr = np.zeros((t.size, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.diff(np.concatenate([[last_th], th])) / np.diff(np.concatenate([[last_t], t]))
    rate[~(np.abs(rate) <= MAX_RATE_DPS)] = math.nan
    gyr[:, 0] = rate
    _lever_block_sums(acc, gyr, starts, out)


def dwell_block_stats(t: np.ndarray, theta: np.ndarray, t0_s: float, first: int, n_out: int, block_s: float):  # type: ignore[no-untyped-def]
    """Twin of ``hipflex.dsp.rest_pose._block_stats``: per block, numpy over the block's rows.

    Returns ``(out, used)``: (n_out, 4) min, max, sum, count of the finite angles of blocks
    ``first .. first + n_out - 1`` (NaN min/max and count 0 where none), and how many leading rows
    fall in those blocks.
    """
    idx = np.floor((t - t0_s) / block_s).astype(np.int64) - first
    out = np.zeros((n_out, 4))
    out[:, :2] = np.nan
    for b in range(n_out):
        v = theta[(idx == b) & np.isfinite(theta)]
        if v.size:
            out[b] = v.min(), v.max(), v.sum(), v.size
    return out, int(np.sum(idx < n_out))


def scan_dwells(  # type: ignore[no-untyped-def]
    allb, spread, mean, mid, m, base, set_gap_s, settle_n, look_n, run
):
    """Twin of ``hipflex.dsp.rest_pose._scan_dwells``: the dwell state machine, one block at a time.

    A dwell opens where the angle's range over the last ``settle_n`` blocks is
    within the settle band (at the middle of that range), grows while the
    level window's mean stays within the dwell band of it (empty blocks
    neither end nor extend it), and counts, when it ends, if it was entered
    from an excursion (a look-back block outside the band) and lasted a set
    gap: in the calibrated pose as a rest (the first one's blocks kept in
    ``run[5:7]``), far from it as evidence that the rest pose is elsewhere
    if no rest came before it.
    """
    from hipflex.dsp import rest_pose as rp

    first, last, level, entered, longest = int(run[0]), int(run[1]), float(run[2]), bool(run[3]), float(run[4])
    stop = allb.shape[0]
    for j in range(m, allb.shape[0]):
        k = base + j
        empty = bool(np.isnan(allb[j, 0]))
        if first >= 0:
            if empty or abs(mean[j] - level) <= rp._DWELL_DEG:
                last = last if empty else k
            else:
                dur_s = (last + 1 - first) * rp._BLOCK_S
                if entered and dur_s >= set_gap_s:
                    if abs(level) < rp._OTHER_POSE_DEG:
                        longest = max(longest, dur_s)
                        if run[5] < 0.0:
                            run[5:7] = first, last
                    elif longest <= 0.0:
                        stop = j
                        break
                first = -1
        if first < 0 and spread[j] <= rp._SETTLE_DEG:
            first, last, level = k - settle_n + 1, k, float(mid[j])
            before = allb[max(0, j + 1 - look_n - settle_n) : j + 1 - settle_n, :2]
            with np.errstate(invalid="ignore"):
                entered = bool(np.any(np.abs(before - level) > rp._DWELL_DEG))
    run[:5] = first, last, level, float(entered), longest
    return stop


def any_inf(values: np.ndarray) -> bool:
    """Twin of ``hipflex.dsp.validate._any_inf``."""
    return bool(np.isinf(values).any())

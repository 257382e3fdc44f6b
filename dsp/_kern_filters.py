"""Per-sample orientation kernels: gyro tilt filter and accelerometer-only pendulum filter.

Both produce the flexion angle theta (deg) and its rate (deg/s) for one
sample and update the float state in place.  They are private; the public
path is :mod:`hipflex.dsp.pipeline`.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_censor import _censored_update
from hipflex.dsp._layout import (
    DEG,
    F_BIAS,
    F_G_EST,
    F_ID_N,
    F_ID_NIS,
    F_JOLT,
    F_NLL,
    F_P,
    F_PG_CNT,
    F_PG_S,
    F_PG_SUM,
    F_PREV_OA,
    F_PREV_W,
    F_PREV_W2,
    F_REST_AVG_S,
    F_REST_DIFF_DEG,
    F_REST_DIFF_LP,
    F_REST_S,
    F_UP,
    F_X,
    F_ZLP,
    F_ZSTILL_S,
    G0_MPS2,
    P_A,
    P_BIAS_TAU,
    P_EKF_Q,
    P_EKF_R,
    P_G_CAL,
    P_ID,
    P_LEVER_M,
    P_OFFSET_M,
    P_STILL_GYR,
    P_THETA_MAX,
    P_THETA_MIN,
    P_TILT_TAU,
    P_U,
    P_W,
    P_ZUPT_S,
    RAD,
)

__all__: list[str] = []

# Gyro samples quieter than this (and a steady accelerometer) count as rest
# for bias learning only after REST_MIN_S of continuous rest.
_REST_MIN_S = 0.5
# Time constant of the accelerometer-vs-filter angle difference at rest, s.
_REST_DIFF_TAU_S = 0.25
# Width of the |f| - 1 g gate on the accelerometer correction, g.
_ACC_GATE_G = 0.06
# Rate at which the accelerometer correction is halved, rad/s (~40 deg/s).
_RATE_GATE = 0.7
# Relative uncertainty of the tangential and centripetal terms removed from the
# specific force, squared: the lever arm is known to about half (10-35 cm
# against a 22 cm prior), and a backward-difference angular acceleration at a
# rep's turn is off by as much as itself at 25 Hz.
_ROT_UNCERT2 = 0.5 * 0.5


@njit_borrowed_inline
def _rotation_coefficients(a2: float) -> tuple[float, float, float]:
    """``cos a``, ``sin(a)/a`` and ``(1 - cos a)/a^2`` of a rotation by ``a = sqrt(a2)`` rad (Rodrigues).

    For the small per-sample angles of >= 50 Hz sampling, series (exact to
    rounding for a < 0.2 rad) save the square root and the trig calls.
    """
    if a2 < 0.04:
        c = 1.0 - a2 * (0.5 - a2 * (1.0 / 24.0 - a2 * (1.0 / 720.0 - a2 / 40320.0)))
        sa = 1.0 - a2 * (1.0 / 6.0 - a2 * (1.0 / 120.0 - a2 * (1.0 / 5040.0 - a2 / 362880.0)))
        ca = 0.5 - a2 * (1.0 / 24.0 - a2 * (1.0 / 720.0 - a2 * (1.0 / 40320.0 - a2 / 3628800.0)))
        return c, sa, ca
    ang = math.sqrt(a2)
    c = math.cos(ang)
    return c, math.sin(ang) / ang, (1.0 - c) / a2


@njit_borrowed_inline
def _tilt_step(
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
    """Advance the gyro+accelerometer tilt filter by one sample.

    Tracks the world "up" direction in the sensor frame.  The gyro rotates
    it (rate integrated by a 3rd-order quadrature, exact Rodrigues rotation, so 25 Hz ballistic reps
    do not lose angle); the accelerometer pulls it back with time constant
    ``P_TILT_TAU`` after removing the thigh's rotational acceleration about
    the hip (tangential L*alpha and centripetal L*omega^2 along the learned
    axes).  The pull is gated by how far |f| is from 1 g (the removed
    terms counted as uncertain by half of themselves) and by the rate.
    At rest the gyro bias follows the mean rate and the pull's integral
    (a PI loop: no standing tilt error from a bias off by a little); in
    motion the integral runs at the pull's weight squared, so a bias error
    left by a calibration window that was still settling is learned at the
    slow instants of each rep of a continuous set.
    Inside a post-gap window (``F_PG_S > 0``, see ``_kern_gap``) there is
    no pull: the compensated specific force is summed in world coordinates
    instead, for the window's end to re-anchor "up" on.

    Returns
    -------
    theta_deg, rate_dps : float
    """
    # The constant parameters, read before the first store to fstate: numba
    # cannot tell the arrays apart, so a read after a store is repeated.
    pu0 = prm[P_U]
    pu1 = prm[P_U + 1]
    pu2 = prm[P_U + 2]
    pw0 = prm[P_W]
    pw1 = prm[P_W + 1]
    pw2 = prm[P_W + 2]
    pa0 = prm[P_A]
    pa1 = prm[P_A + 1]
    pa2 = prm[P_A + 2]
    gcal = prm[P_G_CAL]
    lever_m = prm[P_LEVER_M]
    tilt_tau = prm[P_TILT_TAU]
    still_gyr = prm[P_STILL_GYR]
    bias_tau = prm[P_BIAS_TAU]
    bias0 = fstate[F_BIAS]
    bias1 = fstate[F_BIAS + 1]
    bias2 = fstate[F_BIAS + 2]
    wx = (gx - bias0) * DEG
    wy = (gy - bias1) * DEG
    wz = (gz - bias2) * DEG
    # A world-fixed vector seen from the sensor turns by -omega dt, the rate
    # integrated over the sample by the parabola through the last three
    # (Adams-Moulton, 3rd order): the trapezoid cuts the top off a swing's
    # peaked rate, and every rise read short until the fall gave it back
    # (sampled truth: -2.0 deg at 12.5 Hz, -0.6 at 25, -0.1 at 52 on the
    # peaks; this quadrature 0.0 / -0.1 / 0.0).
    c12 = dt / 12.0
    rx = -(5.0 * wx + 8.0 * fstate[F_PREV_W] - fstate[F_PREV_W2]) * c12
    ry = -(5.0 * wy + 8.0 * fstate[F_PREV_W + 1] - fstate[F_PREV_W2 + 1]) * c12
    rz = -(5.0 * wz + 8.0 * fstate[F_PREV_W + 2] - fstate[F_PREV_W2 + 2]) * c12
    fstate[F_PREV_W2] = fstate[F_PREV_W]
    fstate[F_PREV_W2 + 1] = fstate[F_PREV_W + 1]
    fstate[F_PREV_W2 + 2] = fstate[F_PREV_W + 2]
    fstate[F_PREV_W] = wx
    fstate[F_PREV_W + 1] = wy
    fstate[F_PREV_W + 2] = wz
    ux = fstate[F_UP]
    uy = fstate[F_UP + 1]
    uz = fstate[F_UP + 2]
    # v' = v cos a + (r x v) sin(a)/a + r (r.v) (1 - cos a)/a^2, a = |r|.
    a2 = rx * rx + ry * ry + rz * rz
    c, sa, ca = _rotation_coefficients(a2)
    rdot = rx * ux + ry * uy + rz * uz
    cx = ry * uz - rz * uy
    cy = rz * ux - rx * uz
    cz = rx * uy - ry * ux
    ux, uy, uz = (
        ux * c + cx * sa + rx * rdot * ca,
        uy * c + cy * sa + ry * rdot * ca,
        uz * c + cz * sa + rz * rdot * ca,
    )

    in_window = fstate[F_PG_S] > 0.0
    if in_window:
        # Post-gap window: the sum of specific force turns with the sensor
        # like any world-fixed vector, so it stays the world-frame sum.
        sx = fstate[F_PG_SUM]
        sy = fstate[F_PG_SUM + 1]
        sz = fstate[F_PG_SUM + 2]
        sdot = rx * sx + ry * sy + rz * sz
        fstate[F_PG_SUM] = sx * c + (ry * sz - rz * sy) * sa + rx * sdot * ca
        fstate[F_PG_SUM + 1] = sy * c + (rz * sx - rx * sz) * sa + ry * sdot * ca
        fstate[F_PG_SUM + 2] = sz * c + (rx * sy - ry * sx) * sa + rz * sdot * ca

    # Flexion rate and its derivative about the learned axis.
    oa = wx * pa0 + wy * pa1 + wz * pa2
    # F_PREV_OA is NaN when the previous rate was not measured (the first row
    # after a gap): the angular acceleration is unknown, taken as 0.
    alpha_known = not math.isnan(fstate[F_PREV_OA])
    alpha = (oa - fstate[F_PREV_OA]) / dt if alpha_known else 0.0
    fstate[F_PREV_OA] = oa

    # In units of the gravity measured while standing: scale and bias errors of
    # a few percent must not read as acceleration.
    ax /= gcal
    ay /= gcal
    az /= gcal
    fnorm_raw = math.sqrt(ax * ax + ay * ay + az * az)
    if not clipped and fnorm_raw > 0.2:
        # Remove the rigid rotation of a sensor L below the hip (g units).
        lg = lever_m / G0_MPS2
        tan_g = lg * alpha
        cen_g = lg * oa * oa
        fx = ax - tan_g * pw0 - cen_g * pu0
        fy = ay - tan_g * pw1 - cen_g * pu1
        fz = az - tan_g * pw2 - cen_g * pu2
        fn = math.sqrt(fx * fx + fy * fy + fz * fz)
        if in_window:
            # Summed, not applied: the hip's own accelerations (bounce, foot
            # strikes) average out over a stride, not over one sample.  Not
            # without the tangential term: there is no |f| gate here, and a
            # swing's L*alpha reaches several g.
            if alpha_known:
                fstate[F_PG_SUM] += fx
                fstate[F_PG_SUM + 1] += fy
                fstate[F_PG_SUM + 2] += fz
                fstate[F_PG_CNT] += 1.0
        elif fn > 0.2:
            # The rotational terms removed are uncertain by a fraction of
            # themselves (the lever is a prior or a fit; the angular
            # acceleration a backward difference, half a sample late, and at
            # a rep's turn, where the rate is low and the pull open, it
            # changes fastest): a deviation of |f| from 1 g in quadrature.
            en2 = ((fn - 1.0) * (fn - 1.0) + _ROT_UNCERT2 * (tan_g * tan_g + cen_g * cen_g)) / (
                _ACC_GATE_G * _ACC_GATE_G
            )
            wrate2 = (wx * wx + wy * wy + wz * wz) / (_RATE_GATE * _RATE_GATE)
            # Beyond 12 widths the weight is below 1e-31: skip the exp.
            weight = math.exp(-0.5 * en2) / (1.0 + wrate2) if en2 < 144.0 else 0.0
            k = dt / tilt_tau * weight
            if k > 1.0:
                k = 1.0
            gx_n = fx / fn
            gy_n = fy / fn
            gz_n = fz / fn
            if fstate[F_REST_S] <= _REST_MIN_S:
                # In motion the pull's integral runs too, at the pull's weight
                # squared (the loop stays critically damped at any weight).
                ki_m = dt * weight * weight / (4.0 * tilt_tau * tilt_tau) * RAD
                fstate[F_BIAS] += ki_m * (uy * gz_n - uz * gy_n)
                fstate[F_BIAS + 1] += ki_m * (uz * gx_n - ux * gz_n)
                fstate[F_BIAS + 2] += ki_m * (ux * gy_n - uy * gx_n)
            ux += k * (gx_n - ux)
            uy += k * (gy_n - uy)
            uz += k * (gz_n - uz)
    n = math.sqrt(ux * ux + uy * uy + uz * uz)
    ux /= n
    uy /= n
    uz /= n
    fstate[F_UP] = ux
    fstate[F_UP + 1] = uy
    fstate[F_UP + 2] = uz

    # Gyro bias: learn slowly while the thigh is at rest (rate and |f| steady).
    dev2 = (gx - bias0) ** 2 + (gy - bias1) ** 2 + (gz - bias2) ** 2
    # In motion the square alone decides (1 % margin: rounding cannot flip
    # it), without the square root.
    still = dev2 < 1.01 * still_gyr * still_gyr and math.sqrt(dev2) < still_gyr
    if still and abs(fnorm_raw - 1.0) < 0.1 and not clipped:
        fstate[F_REST_S] += dt
    else:
        fstate[F_REST_S] = 0.0
    if fstate[F_REST_S] > _REST_MIN_S:
        kb = dt / bias_tau
        fstate[F_BIAS] += kb * (gx - fstate[F_BIAS])
        fstate[F_BIAS + 1] += kb * (gy - fstate[F_BIAS + 1])
        fstate[F_BIAS + 2] += kb * (gz - fstate[F_BIAS + 2])
        if not in_window:
            # The pull alone leaves "up" behind gravity by bias x tau at rest
            # (a bias 1 deg/s off, read from a calibration window that was
            # still settling, held every angle 2 deg off until the mean rate
            # above had learned it, 10 s of rest or more).  Its integral
            # closes that gap (a PI loop, critically damped with the pull):
            # "up" x gravity points along the bias error's horizontal part.
            ki = dt / (4.0 * tilt_tau * tilt_tau) * RAD / fnorm_raw
            fstate[F_BIAS] += ki * (uy * az - uz * ay)
            fstate[F_BIAS + 1] += ki * (uz * ax - ux * az)
            fstate[F_BIAS + 2] += ki * (ux * ay - uy * ax)

    up_u = ux * pu0 + uy * pu1 + uz * pu2
    up_w = ux * pw0 + uy * pw1 + uz * pw2
    theta = math.atan2(up_w, up_u) * RAD
    if fstate[F_REST_S] == 0.0:
        fstate[F_REST_AVG_S] = 0.0
    elif fstate[F_REST_S] > _REST_MIN_S and not in_window and not clipped:
        # At rest the accelerometer reads gravity alone, so its angle checks
        # what the gyro carried the filter to since the last rest: a gyro
        # scale error or a sensor turning in its strap shows here (Eurobench
        # subject 03: ~30 deg after each stand-up; sound units a few deg).
        # Low-passed: the first sample of the next movement can pass the rest
        # test on the gyro while the accelerometer already swings.
        # The angle from "up" to the accelerometer in the (u, w) plane, in
        # (-180, 180]: atan2 of their cross and dot products.
        f_u = ax * pu0 + ay * pu1 + az * pu2
        f_w = ax * pw0 + ay * pw1 + az * pw2
        diff = math.atan2(f_w * up_u - f_u * up_w, f_u * up_u + f_w * up_w) * RAD
        if fstate[F_REST_AVG_S] == 0.0:
            fstate[F_REST_DIFF_LP] = diff
        else:
            fstate[F_REST_DIFF_LP] += min(dt / _REST_DIFF_TAU_S, 1.0) * (diff - fstate[F_REST_DIFF_LP])
        fstate[F_REST_AVG_S] += dt
        if abs(fstate[F_REST_DIFF_LP]) > fstate[F_REST_DIFF_DEG]:
            fstate[F_REST_DIFF_DEG] = abs(fstate[F_REST_DIFF_LP])
    return theta, oa * RAD


# Pendulum filter: physical bounds keep a filter that was fed nonsense
# (impacts, a dropped sensor) from running away, and the robust update never
# inflates the measurement noise more than _MAX_INFLATION times.
_MAX_RATE = 40.0  # rad/s (2300 deg/s)
_MAX_ACCEL = 2000.0  # rad/s^2
_MAX_INFLATION = 100.0
# Cap on one innovation's share of the identification likelihood (NIS units).
_NIS_CAP = 25.0
# Gravity-magnitude tracking of the pendulum filter: only while |f| is within
# _REST_DEV of the estimate (not the filter's own rate: a wrong magnitude makes
# the filter spin, which would close such a gate), time constant
# _GRAVITY_TAU_S (s), slow enough not to absorb slow swings' centripetal terms.
_REST_DEV = 0.1
_GRAVITY_TAU_S = 20.0
# Zero-velocity update: once the specific force has stayed within _ZUPT_DEV_G
# of its _ZUPT_TAU_S low-pass, and within _ZUPT_GRAVITY of gravity, for
# P_ZUPT_S (a setting), the thigh is still, and its rate and acceleration are observed
# to be zero (std _ZUPT_RATE_SD rad/s, _ZUPT_ACCEL_SD rad/s^2).
_ZUPT_TAU_S = 0.1
_ZUPT_DEV_G = 0.04
_ZUPT_GRAVITY = 0.05
_ZUPT_RATE_SD = 0.01
_ZUPT_ACCEL_SD = 0.1


@njit_borrowed_inline
def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


@njit_borrowed_inline
def _predict_cov(
    p00: float, p01: float, p02: float, p11: float, p12: float, p22: float, dt: float, q: float
) -> tuple[float, float, float, float, float, float]:
    """Predicted covariance F P F^T + Q of the pendulum filter (the six distinct entries).

    F = [[1, dt, dt^2/2], [0, 1, dt], [0, 0, 1]]; Q is white jerk of
    spectral density ``q`` through the triple integrator.  Shared by the
    filter and the rep smoother (``_kern_smooth``), which must predict alike.
    """
    h2 = 0.5 * dt * dt
    # F P F^T, expanded: A = F P, then N = A F^T (symmetric).
    a00 = p00 + dt * p01 + h2 * p02
    a01 = p01 + dt * p11 + h2 * p12
    a02 = p02 + dt * p12 + h2 * p22
    a11 = p11 + dt * p12
    a12 = p12 + dt * p22
    n00 = a00 + dt * a01 + h2 * a02
    n01 = a01 + dt * a02
    n02 = a02
    n11 = a11 + dt * a12
    n12 = a12
    n22 = p22
    dt2 = dt * dt
    dt3 = dt2 * dt
    n00 += q * dt3 * dt2 / 20.0
    n01 += q * dt3 * dt / 8.0
    n02 += q * dt3 / 6.0
    n11 += q * dt3 / 3.0
    n12 += q * dt2 / 2.0
    n22 += q * dt
    return n00, n01, n02, n11, n12, n22


@njit_borrowed_inline
def _observe_zero(
    j: int,
    sd: float,
    x0: float,
    x1: float,
    x2: float,
    p00: float,
    p01: float,
    p02: float,
    p11: float,
    p12: float,
    p22: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """Kalman update of the pendulum state on the pseudo-measurement x_j = 0 (std ``sd``).

    ``j`` is 1 (rate) or 2 (acceleration).  Returns the state and the six
    distinct covariance entries.
    """
    # Column j of P: c_i = P_ij.
    c0 = p01 if j == 1 else p02
    c1 = p11 if j == 1 else p12
    c2 = p12 if j == 1 else p22
    v = -(x1 if j == 1 else x2)
    s = (c1 if j == 1 else c2) + sd * sd
    k0 = c0 / s
    k1 = c1 / s
    k2 = c2 / s
    return (
        x0 + k0 * v,
        x1 + k1 * v,
        x2 + k2 * v,
        p00 - k0 * c0,
        p01 - k0 * c1,
        p02 - k0 * c2,
        p11 - k1 * c1,
        p12 - k1 * c2,
        p22 - k2 * c2,
    )


# Called, not inlined: the filter is typed and optimised once instead of once per
# copy of the per-sample step that inlines it (the first run's compile time; no
# measurable cost per sample, benchmarks/README.md "The first run").
@njit_borrowed
def _pendulum_step(
    prm: np.ndarray,
    fstate: np.ndarray,
    ax: float,
    ay: float,
    az: float,
    dt: float,
    clip: int,
) -> tuple[float, float, float]:
    """Advance the accelerometer-only thigh pendulum filter by one sample.

    An extended Kalman filter on x = (theta, theta', theta'') with a
    constant-acceleration motion model (white jerk).  The measurement is the
    specific force in the sagittal plane of a sensor L below the hip:

        f.w = sin(theta) + (L theta'' - d theta'^2) / g0   (gravity + tangential)
        f.u = cos(theta) + (L theta'^2 + d theta'') / g0   (gravity + centripetal)

    with L the sensor's distance below the hip and d its offset in front of
    the femur axis (priors from the settings)

    so fast swings are modelled instead of low-passed away.  Innovations far
    outside their covariance (foot strikes, wobble) inflate the measurement
    noise (at most ``_MAX_INFLATION`` times); the state is kept within
    physical bounds.  ``clip`` (bits 0-2: x, y, z) marks axes at full scale:
    such a row is a censored measurement (``_kern_censor``), the axes that
    measured are used and a clipped one only as the bound it is.

    Returns
    -------
    theta_deg, rate_dps, sigma_deg : float
        Angle, rate and the filter's angle standard deviation.
    """
    x0 = fstate[F_X]
    x1 = fstate[F_X + 1]
    x2 = fstate[F_X + 2]
    # P as scalars (symmetric), row-major slots.
    p00 = fstate[F_P]
    p01 = fstate[F_P + 1]
    p02 = fstate[F_P + 2]
    p11 = fstate[F_P + 4]
    p12 = fstate[F_P + 5]
    p22 = fstate[F_P + 8]

    # Predict: F = [[1, dt, dt^2/2], [0, 1, dt], [0, 0, 1]].
    h2 = 0.5 * dt * dt
    x0 = x0 + dt * x1 + h2 * x2
    x1 = x1 + dt * x2
    n00, n01, n02, n11, n12, n22 = _predict_cov(p00, p01, p02, p11, p12, p22, dt, prm[P_EKF_Q])

    if clip == 0:
        # In units of the gravity the sensor reads at rest, so a sensor that
        # reads 1.05 g standing is not taken to be spinning (centripetal term).
        # Tracked slowly while |f| is near it: scale drifts over long streams.
        gcal = fstate[F_G_EST]
        fn = math.sqrt(ax * ax + ay * ay + az * az)
        if abs(fn / gcal - 1.0) < _REST_DEV:
            gcal += dt / _GRAVITY_TAU_S * (fn - gcal)
            fstate[F_G_EST] = gcal
        fw = (ax * prm[P_W] + ay * prm[P_W + 1] + az * prm[P_W + 2]) / gcal
        fu = (ax * prm[P_U] + ay * prm[P_U + 1] + az * prm[P_U + 2]) / gcal
        lg = prm[P_LEVER_M] / G0_MPS2
        dg = prm[P_OFFSET_M] / G0_MPS2
        s0 = math.sin(x0)
        c0 = math.cos(x0)
        # Innovation.
        v0 = fw - (s0 + lg * x2 - dg * x1 * x1)
        v1 = fu - (c0 + lg * x1 * x1 + dg * x2)
        fstate[F_JOLT] = math.sqrt(v0 * v0 + v1 * v1)
        # H = [[c0, -2 dg x1, lg], [-s0, 2 lg x1, dg]].
        h00 = c0
        h01 = -2.0 * dg * x1
        h02 = lg
        h10 = -s0
        h11 = 2.0 * lg * x1
        h12 = dg
        # PH^T (3x2).
        b00 = n00 * h00 + n01 * h01 + n02 * h02
        b10 = n01 * h00 + n11 * h01 + n12 * h02
        b20 = n02 * h00 + n12 * h01 + n22 * h02
        b01 = n00 * h10 + n01 * h11 + n02 * h12
        b11 = n01 * h10 + n11 * h11 + n12 * h12
        b21 = n02 * h10 + n12 * h11 + n22 * h12
        r = prm[P_EKF_R] * prm[P_EKF_R]
        s00 = h00 * b00 + h01 * b10 + h02 * b20 + r
        s01 = h00 * b01 + h01 * b11 + h02 * b21
        s11 = h10 * b01 + h11 * b11 + h12 * b21 + r
        det = s00 * s11 - s01 * s01
        nis = (v0 * v0 * s11 - 2.0 * v0 * v1 * s01 + v1 * v1 * s00) / det
        if prm[P_ID] > 0.0:
            # Gaussian innovation likelihood, capped like the robust update so
            # a foot strike does not outvote a swing (see identify.py).
            capped = min(nis, _NIS_CAP)
            fstate[F_NLL] += 0.5 * (math.log(det) + capped)
            # Their mean, the fit's scale, judges a lever below the operating range (identify.py).
            fstate[F_ID_NIS] += capped
            fstate[F_ID_N] += 1.0
        if nis > 9.0:
            # Robust update: inflate R until the innovation is plausible.
            infl = min(nis / 9.0, _MAX_INFLATION)
            r2 = r * infl
            s00 += r2 - r
            s11 += r2 - r
            det = s00 * s11 - s01 * s01
        i00 = s11 / det
        i01 = -s01 / det
        i11 = s00 / det
        k00 = b00 * i00 + b01 * i01
        k01 = b00 * i01 + b01 * i11
        k10 = b10 * i00 + b11 * i01
        k11 = b10 * i01 + b11 * i11
        k20 = b20 * i00 + b21 * i01
        k21 = b20 * i01 + b21 * i11
        x0 += k00 * v0 + k01 * v1
        x1 += k10 * v0 + k11 * v1
        x2 += k20 * v0 + k21 * v1
        # P = P - K (PH^T)^T.
        n00 -= k00 * b00 + k01 * b01
        n01 -= k00 * b10 + k01 * b11
        n02 -= k00 * b20 + k01 * b21
        n11 -= k10 * b10 + k11 * b11
        n12 -= k10 * b20 + k11 * b21
        n22 -= k20 * b20 + k21 * b21

        # Zero-velocity update.  A thigh at rest leaves the pendulum model
        # a free oscillation about its angle (sin theta + L theta''/g
        # balances with a ~1 s period), which the accelerometer alone
        # cannot tell from a swing; stillness of the specific force can.
        a = 1.0 - math.exp(-dt / _ZUPT_TAU_S) if dt > 0.0 else 0.0
        fstate[F_ZLP] += a * (ax - fstate[F_ZLP])
        fstate[F_ZLP + 1] += a * (ay - fstate[F_ZLP + 1])
        fstate[F_ZLP + 2] += a * (az - fstate[F_ZLP + 2])
        dev = max(abs(ax - fstate[F_ZLP]), abs(ay - fstate[F_ZLP + 1]), abs(az - fstate[F_ZLP + 2]))
        if dev < _ZUPT_DEV_G * gcal and abs(fn / gcal - 1.0) < _ZUPT_GRAVITY:
            fstate[F_ZSTILL_S] += dt
        else:
            fstate[F_ZSTILL_S] = 0.0
        # (Half a sample's slack: summed sample periods must not miss the mark by a rounding error.)
        if prm[P_ZUPT_S] > 0.0 and fstate[F_ZSTILL_S] >= prm[P_ZUPT_S] - 0.5 * dt:
            x0, x1, x2, n00, n01, n02, n11, n12, n22 = _observe_zero(
                1, _ZUPT_RATE_SD, x0, x1, x2, n00, n01, n02, n11, n12, n22
            )
            x0, x1, x2, n00, n01, n02, n11, n12, n22 = _observe_zero(
                2, _ZUPT_ACCEL_SD, x0, x1, x2, n00, n01, n02, n11, n12, n22
            )
    else:
        # A clipped row: no stillness, no gravity tracking, no share of the
        # identification likelihood (its axes differ from row to row), no jolt.
        fstate[F_ZSTILL_S] = 0.0
        fstate[F_JOLT] = 0.0
        x0, x1, x2, n00, n01, n02, n11, n12, n22 = _censored_update(
            prm, ax, ay, az, clip, fstate[F_G_EST], _MAX_INFLATION, x0, x1, x2, n00, n01, n02, n11, n12, n22
        )

    # Keep the state physical; theta stays in (-pi, pi].
    # A plain +-2 pi wrap (theta moves far less than pi per sample), then the
    # thigh's range.
    if x0 > math.pi:
        x0 -= 2.0 * math.pi
    elif x0 <= -math.pi:
        x0 += 2.0 * math.pi
    # A thigh does not swing past its range.  Without this bound a filter
    # that overshoots a fast swing beyond 90 deg (where gravity along w,
    # sin(theta), is the same on both sides) could turn over the top and wrap:
    # a spurious rep and a peak off by 100 deg and more.  At the bound the
    # motion outward stops.
    if x0 > prm[P_THETA_MAX]:
        x0 = prm[P_THETA_MAX]
        x1 = min(x1, 0.0)
        x2 = min(x2, 0.0)
    elif x0 < prm[P_THETA_MIN]:
        x0 = prm[P_THETA_MIN]
        x1 = max(x1, 0.0)
        x2 = max(x2, 0.0)
    x1 = _clamp(x1, -_MAX_RATE, _MAX_RATE)
    x2 = _clamp(x2, -_MAX_ACCEL, _MAX_ACCEL)
    fstate[F_X] = x0
    fstate[F_X + 1] = x1
    fstate[F_X + 2] = x2
    fstate[F_P] = n00
    fstate[F_P + 1] = n01
    fstate[F_P + 2] = n02
    fstate[F_P + 3] = n01
    fstate[F_P + 4] = n11
    fstate[F_P + 5] = n12
    fstate[F_P + 6] = n02
    fstate[F_P + 7] = n12
    fstate[F_P + 8] = n22
    sig = math.sqrt(n00) if n00 > 0.0 else 0.0
    return x0 * RAD, x1 * RAD, sig * RAD


@njit_borrowed
def _pendulum_reanchor(fstate: np.ndarray) -> None:
    """After a long gap: forget the rate and acceleration, and most of the angle.

    Coasting on the pre-gap motion would invent a swing; the measurements
    after the gap re-anchor the angle within a few samples.
    """
    fstate[F_X + 1] = 0.0
    fstate[F_X + 2] = 0.0
    for i in range(9):
        fstate[F_P + i] = 0.0
    fstate[F_P] = (30.0 / RAD) ** 2
    fstate[F_P + 4] = (50.0 / RAD) ** 2
    fstate[F_P + 8] = 100.0

"""Per-sample accelerometer-only pendulum filter (an EKF of the thigh's swing, with a zero-velocity update).

It produces the flexion angle theta (deg) and its rate (deg/s) for one sample
without a gyro and updates the float state in place; it also sums the
identification likelihood the sensor-position search reads (:mod:`hipflex.dsp.identify`).
Split from :mod:`hipflex.dsp._kern_filters` (the gyro tilt filter).  Private; the
public path is :mod:`hipflex.dsp.pipeline`.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_censor import _censored_update
from hipflex.dsp._layout import (
    F_G_EST,
    F_ID_N,
    F_ID_NIS,
    F_ID_XMIN,
    F_JOLT,
    F_NLL,
    F_P,
    F_X,
    F_ZANCHOR,
    F_ZLP,
    F_ZSTILL_S,
    G0_MPS2,
    P_EKF_Q,
    P_EKF_R,
    P_ID,
    P_LEVER_M,
    P_OFFSET_M,
    P_THETA_MAX,
    P_THETA_MIN,
    P_U,
    P_W,
    P_ZUPT_COS,
    P_ZUPT_S,
    RAD,
)

__all__: list[str] = []

# Pendulum filter: physical bounds keep a filter that was fed nonsense
# (impacts, a dropped sensor) from running away, and the robust update never
# inflates the measurement noise more than _MAX_INFLATION times.
_MAX_RATE = 40.0  # rad/s (2300 deg/s)
_MAX_ACCEL = 2000.0  # rad/s^2
_MAX_INFLATION = 100.0
# At 20-52 Hz (the timeline's period _ITERATE_MIN_DT_S to _ITERATE_MAX_DT_S:
# 15-67 Hz; not 12.5 Hz nor 100 Hz and up) a stride spans 15-30 rows, and a row's
# predicted rate is off by radians a second: the rate-squared terms linearised
# there read the force as a slower swing, and the trace fell behind the strides
# (acc-only front straps at 25 Hz, sets 5-17 short).  Where the predicted rate
# is _ITERATE_MIN_RATE or more the update is iterated (relinearised
# _ITERATIONS more times at the updated state; the noise as inflated at the
# prediction).  Not nearer rest: there an iterated update explained a foot's
# jolt as a fast turn (its centripetal term) and stepped the angle 15 deg
# (reps in rests); 3 iterations and 1 rad/s both cost more rests than they
# gained (benchmarks/README.md, stride27).  50/52 Hz front straps miss strides
# the same way (stride28).
_ITERATE_MIN_DT_S = 0.015
_ITERATE_MAX_DT_S = 0.065
_ITERATIONS = 1
_ITERATE_MIN_RATE = 2.0  # rad/s
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
# A lying thigh's lever (across the rest pose's "up", identify.py; an offset
# beyond any strap's _STRAP_OFFSET_M): a fast rep can carry the filter over
# the top, past 90 deg where sin(theta) reads alike both sides, and there the
# robust update's inflated noise and the still stretch's zero rate hold it
# (tuning seed 1, side-lying raises at 50 Hz: a 49 deg rep read 120 deg and
# held for 30 s, 21 reps for 16).  So while still, an innovation of more than
# _STUCK_NIS (10 sigma) re-anchors the angle where the still force puts it
# (at rest the kinematic terms vanish: theta = atan2(f.w, f.u)).  Only for a
# lying lever: under the hanging one no stuck filter was traced, and the
# standing drills' counts are left as they were.
_STUCK_NIS = 100.0
_STRAP_OFFSET_M = 0.10
# Under a lying lever the filter also reads the force's direction in the
# swing's plane at the whole force's magnitude.  A swing about the plane's
# normal keeps gravity and its own acceleration in the plane; a roll from the
# side onto the back (between drills) turns gravity out of it, and the short
# in-plane force (0.89 g at 85 deg, tuning seed 12) was read as the offset's
# centripetal term: the angle ran back at 200 deg/s while the force's
# direction kept rising (62 -> 42 deg: a rise-fall-rise, a one-rep set).
# The tests above pass a slow turn (under ~20 deg/s the force moves less than
# _ZUPT_DEV_G from its 0.1 s low-pass): a hip hike's 5 deg, a stretch's slow
# rise.  Holding the rate at zero then left the angle behind the force (hikes
# read at 0.4-0.6 of their range, benchmarks/README.md drills11).  So the
# low-passed force must also stay within P_ZUPT_COS of its direction where the
# still stretch began (F_ZANCHOR); a stretch that turns further starts again
# there (the bound: _kernel_setup._zupt_drift_deg, at least 1 deg, wider where
# the low-pass averages few rows).  Measured on the force, not against the
# filter's angle: a filter ringing about a still thigh must still stop.


@njit_borrowed_inline
def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


@njit_borrowed_inline
def _in_plane_full(fw: float, fu: float, f_g: float) -> tuple[float, float]:
    """The in-plane force ``(fw, fu)`` scaled to the whole force's magnitude ``f_g`` (its direction kept)."""
    m = math.sqrt(fw * fw + fu * fu)
    if m <= 0.0 or f_g <= m:
        return fw, fu
    k = f_g / m
    return fw * k, fu * k


@njit_borrowed_inline
def _zupt_anchor_here(fstate: np.ndarray) -> None:
    """A still stretch (``F_ZSTILL_S``) starts here: its anchor is the low-passed force's direction now."""
    lx = fstate[F_ZLP]
    ly = fstate[F_ZLP + 1]
    lz = fstate[F_ZLP + 2]
    n = math.sqrt(lx * lx + ly * ly + lz * lz)
    n = n if n > 0.0 else 1.0
    fstate[F_ZANCHOR] = lx / n
    fstate[F_ZANCHOR + 1] = ly / n
    fstate[F_ZANCHOR + 2] = lz / n


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


@njit_borrowed_inline
def _cross_cov(
    n00: float,
    n01: float,
    n02: float,
    n11: float,
    n12: float,
    n22: float,
    h00: float,
    h01: float,
    h02: float,
    h10: float,
    h11: float,
    h12: float,
    r: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """P H^T (3x2, by columns) and the innovation covariance S = H P H^T + r I (s00, s01, s11).

    P is the predicted covariance (its six distinct entries), H the 2x3
    Jacobian of the sagittal force by rows; the update and each of its
    relinearisations share it.
    """
    b00 = n00 * h00 + n01 * h01 + n02 * h02
    b10 = n01 * h00 + n11 * h01 + n12 * h02
    b20 = n02 * h00 + n12 * h01 + n22 * h02
    b01 = n00 * h10 + n01 * h11 + n02 * h12
    b11 = n01 * h10 + n11 * h11 + n12 * h12
    b21 = n02 * h10 + n12 * h11 + n22 * h12
    s00 = h00 * b00 + h01 * b10 + h02 * b20 + r
    s01 = h00 * b01 + h01 * b11 + h02 * b21
    s11 = h10 * b01 + h11 * b11 + h12 * b21 + r
    return b00, b10, b20, b01, b11, b21, s00, s01, s11


@njit_borrowed_inline
def _gain(
    b00: float, b10: float, b20: float, b01: float, b11: float, b21: float, s00: float, s01: float, s11: float
) -> tuple[float, float, float, float, float, float]:
    """Kalman gain K = (P H^T) S^-1 (3x2, row-major: k00, k01, k10, k11, k20, k21)."""
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
    return k00, k01, k10, k11, k20, k21


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
        if abs(prm[P_OFFSET_M]) > _STRAP_OFFSET_M:
            # A lying lever: force out of the swing's plane (a roll) lent to the plane's direction.
            fw, fu = _in_plane_full(fw, fu, fn / gcal)
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
        r = prm[P_EKF_R] * prm[P_EKF_R]
        b00, b10, b20, b01, b11, b21, s00, s01, s11 = _cross_cov(
            n00, n01, n02, n11, n12, n22, h00, h01, h02, h10, h11, h12, r
        )
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
        k00, k01, k10, k11, k20, k21 = _gain(b00, b10, b20, b01, b11, b21, s00, s01, s11)
        xp0 = x0
        xp1 = x1
        xp2 = x2
        x0 += k00 * v0 + k01 * v1
        x1 += k10 * v0 + k11 * v1
        x2 += k20 * v0 + k21 * v1
        if _ITERATE_MIN_DT_S <= dt < _ITERATE_MAX_DT_S and abs(xp1) >= _ITERATE_MIN_RATE:
            ri = r * min(max(nis / 9.0, 1.0), _MAX_INFLATION)
            for _ in range(_ITERATIONS):
                x1 = _clamp(x1, -_MAX_RATE, _MAX_RATE)
                x2 = _clamp(x2, -_MAX_ACCEL, _MAX_ACCEL)
                s0 = math.sin(x0)
                c0 = math.cos(x0)
                h00 = c0
                h01 = -2.0 * dg * x1
                h10 = -s0
                h11 = 2.0 * lg * x1
                # The innovation relinearised at the updated state, referred back to the prediction.
                v0 = fw - (s0 + lg * x2 - dg * x1 * x1) - (h00 * (xp0 - x0) + h01 * (xp1 - x1) + h02 * (xp2 - x2))
                v1 = fu - (c0 + lg * x1 * x1 + dg * x2) - (h10 * (xp0 - x0) + h11 * (xp1 - x1) + h12 * (xp2 - x2))
                b00, b10, b20, b01, b11, b21, s00, s01, s11 = _cross_cov(
                    n00, n01, n02, n11, n12, n22, h00, h01, h02, h10, h11, h12, ri
                )
                k00, k01, k10, k11, k20, k21 = _gain(b00, b10, b20, b01, b11, b21, s00, s01, s11)
                x0 = xp0 + k00 * v0 + k01 * v1
                x1 = xp1 + k10 * v0 + k11 * v1
                x2 = xp2 + k20 * v0 + k21 * v1
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
        lx = fstate[F_ZLP]
        ly = fstate[F_ZLP + 1]
        lz = fstate[F_ZLP + 2]
        near = lx * fstate[F_ZANCHOR] + ly * fstate[F_ZANCHOR + 1] + lz * fstate[F_ZANCHOR + 2] >= (
            prm[P_ZUPT_COS] * math.sqrt(lx * lx + ly * ly + lz * lz)
        )
        if dev < _ZUPT_DEV_G * gcal and abs(fn / gcal - 1.0) < _ZUPT_GRAVITY and near:
            fstate[F_ZSTILL_S] += dt
        else:
            fstate[F_ZSTILL_S] = 0.0
            _zupt_anchor_here(fstate)
        # (Half a sample's slack: summed sample periods must not miss the mark by a rounding error.)
        if prm[P_ZUPT_S] > 0.0 and fstate[F_ZSTILL_S] >= prm[P_ZUPT_S] - 0.5 * dt:
            x0, x1, x2, n00, n01, n02, n11, n12, n22 = _observe_zero(
                1, _ZUPT_RATE_SD, x0, x1, x2, n00, n01, n02, n11, n12, n22
            )
            x0, x1, x2, n00, n01, n02, n11, n12, n22 = _observe_zero(
                2, _ZUPT_ACCEL_SD, x0, x1, x2, n00, n01, n02, n11, n12, n22
            )
            if nis > _STUCK_NIS and abs(prm[P_OFFSET_M]) > _STRAP_OFFSET_M:
                x0 = math.atan2(fw, fu)
    else:
        # A clipped row: no stillness, no gravity tracking, no share of the
        # identification likelihood (its axes differ from row to row), no jolt.
        fstate[F_ZSTILL_S] = 0.0
        _zupt_anchor_here(fstate)
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
    if prm[P_ID] > 0.0 and x0 < fstate[F_ID_XMIN]:
        # The least angle the lower bound below was tested on: a run whose every
        # step stayed at or above a tighter bound runs alike under it
        # (flexion_sign._identify reuses such a candidate's likelihood).
        fstate[F_ID_XMIN] = x0
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

"""Per-sample gyro tilt filter: the flexion angle with a gyro.

It produces the flexion angle theta (deg) and its rate (deg/s) for one sample
and updates the float state in place.  The accelerometer-only pendulum filter
is in :mod:`hipflex.dsp._kern_pendulum`.  Both are private; the public path is
:mod:`hipflex.dsp.pipeline`.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed_inline, njit_borrowed_linked
from hipflex.dsp._layout import (
    DEG,
    F_BIAS,
    F_PG_CNT,
    F_PG_PREV_F,
    F_PG_S,
    F_PG_SUM,
    F_PG_T,
    F_PG_TURNED,
    F_PREV_OA,
    F_PREV_W,
    F_PREV_W2,
    F_REST_AVG_S,
    F_REST_DIFF_DEG,
    F_REST_DIFF_LP,
    F_REST_S,
    F_TH_RAD,
    F_TH_ROWS,
    F_TH_UW,
    F_UP,
    G0_MPS2,
    P_A,
    P_BIAS_TAU,
    P_G_CAL,
    P_LEVER_M,
    P_STILL_GYR,
    P_TILT_TAU,
    P_U,
    P_W,
    RAD,
)

__all__: list[str] = []

# Gyro samples quieter than this (and a steady accelerometer) count as rest
# for bias learning only after REST_MIN_S of continuous rest.  Compared half a
# sample past it: the rest time is a sum of sample periods, which lands on the
# threshold after a whole number of rows (25 at 50 Hz), and there the last bits
# of the sum (fused multiply-adds, timestamps differenced in another order)
# would decide on which row bias learning starts.
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
# The post-gap window's sum of specific force covers at least this long, s,
# and starts and ends where the thigh turns: the flexion rate below this,
# rad/s (~20 deg/s), or through zero since the last row.
_PG_SUM_MIN_S = 1.5
_PG_TURN_RATE = 0.35
# Between two turns the sum is g T plus the change of the hip's velocity: a
# runner speeding up in a set's first strides after a gap tilted it by 16 deg
# and made it 7.4 % longer than g T, a tilt the rest of the set kept (tuning
# seed 156: every peak +16 deg).  Only a velocity change lengthens the sum (a
# clipped row, in no pair, and rows that cancel shorten it; sums without
# either read 0.998-1.03), so one longer by more than this fraction is dropped
# at its end turn and summed again from the next turn, at most _PG_RETRIES
# times (the window waits for it).  A tilt under ~18 deg lengthens it by less.
_PG_MEAN_TOL = 0.05
_PG_RETRIES = 1.0
# Re-normalising "up" ends the row-to-row chain.  The rotation keeps its length
# and the pull (a step of k <= dt / tau towards a unit vector, angle phi away)
# shortens it by 2 k (1 - k) (1 - cos phi): ~1e-5 at 200 Hz.  While its squared
# length is within this of 1, the series 1 - d/2 + 3 d^2/8 of 1/sqrt(1 + d) is
# exact to 5/16 |d|^3 < 3e-13 and saves the square root and the division.
_NORM_SERIES = 1e-4
# Below this ratio of cross to dot product (7.1 deg) an angle between two
# vectors is the odd series of atan to t^15 (exact to t^17 / 17 < 3e-17 rad)
# instead of an atan2 call (with the registers it spills, the largest single
# cost of the main loop): theta is the last row's plus its change since (a
# degree or two per row), and at rest the accelerometer and "up" agree to a
# few deg (the rest-mismatch angle).
_ATAN_SERIES = 0.125
# Theta carried on by its changes gathers a rounding (half an ulp of pi) per
# row; every this many rows it is taken from atan2 afresh (< 1e-13 rad).
_THETA_RESYNC_ROWS = 256.0


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
def _atan2_near_zero(y: float, x: float) -> float:
    """``atan2(y, x)``, rad, by the series of atan(y / x) when the angle is within ``_ATAN_SERIES`` of 0."""
    if abs(y) < _ATAN_SERIES * x:
        return _atan_small(y / x)
    return math.atan2(y, x)


@njit_borrowed_inline
def _atan_small(t: float) -> float:
    """``atan(t)``, rad, for ``|t| < _ATAN_SERIES``: its odd series to t^15.

    Evaluated in pairs of terms (Estrin's scheme): four products deep
    instead of Horner's eight (theta waits for it on every row).
    """
    t2 = t * t
    t4 = t2 * t2
    lo = (1.0 - t2 * (1.0 / 3.0)) + t4 * (1.0 / 5.0 - t2 * (1.0 / 7.0))
    hi = (1.0 / 9.0 - t2 * (1.0 / 11.0)) + t4 * (1.0 / 13.0 - t2 * (1.0 / 15.0))
    return t * (lo + (t4 * t4) * hi)


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
    prev_oa = fstate[F_PREV_OA]
    alpha_known = not math.isnan(prev_oa)
    alpha = (oa - prev_oa) / dt if alpha_known else 0.0
    fstate[F_PREV_OA] = oa

    # In units of the gravity measured while standing: scale and bias errors of
    # a few percent must not read as acceleration.
    ax /= gcal
    ay /= gcal
    az /= gcal
    # |f| itself is needed only at rest (the bias integral below): the tests
    # compare squares (the root was a wait on every row).
    f2_raw = ax * ax + ay * ay + az * az
    if in_window:
        cnt = fstate[F_PG_CNT]
        if cnt >= 0.0:
            # Summed, not applied: the hip's own accelerations (bounce, foot
            # strikes) average out over a stride, not over one sample.  The
            # sum of the compensated force is "up" T plus the change of
            # whatever velocity the lever model misses (the sensor's offset
            # from the thigh's axis, a lever off by cm, the hip's sway), ~
            # the rate: it cancels between instants where the thigh turns.
            # So the sum restarts at the first turn after the gap and ends
            # at the first turn after _PG_SUM_MIN_S (from wherever the gap
            # ended, a fixed 1.5 s read 2-3 deg off in fast sets).
            turning = abs(oa) < _PG_TURN_RATE or oa * prev_oa <= 0.0
            had_row = cnt > 0.0
            # F_PG_TURNED: 0 before the first turn, k > 0 while the k-th sum
            # runs, -k after the k-th was dropped (see _PG_MEAN_TOL).
            restart = turning and fstate[F_PG_TURNED] <= 0.0
            ending = False
            if restart:
                fstate[F_PG_TURNED] = 1.0 - fstate[F_PG_TURNED]
                cnt = 0.0
                fstate[F_PG_SUM] = 0.0
                fstate[F_PG_SUM + 1] = 0.0
                fstate[F_PG_SUM + 2] = 0.0
                fstate[F_PG_T] = 0.0
            elif had_row:
                fstate[F_PG_T] += dt
                if turning and fstate[F_PG_T] >= _PG_SUM_MIN_S:
                    # The window ends with this row (_kern_run's countdown).
                    fstate[F_PG_S] = min(fstate[F_PG_S], 0.5 * dt)
                    ending = True
            # The sum is the trapezoid integral of the specific force over
            # the rows since the (re)start, less the change of the lever
            # point's velocity L omega w (w turns with the thigh) between
            # each pair of rows, all in world coordinates: the rigid
            # rotation's acceleration then cancels exactly, where a row's
            # L alpha and L omega^2 from a backward-difference alpha are
            # half a sample late and a rectangle sum's ends are off by half
            # a row of L alpha (the largest at the turns the sum runs
            # between): at 12.5 Hz a degree on a swing, more on a runner.
            # A clipped row or one near free fall is not measured, and no
            # pair with it is summed (a stretch of measured rows still
            # cancels the rigid rotation between its own ends): the model's
            # force in its place carries the "up" the gap left wrong
            # (tuning seeds 3, 14 and 277 at +-2 g, 2-5 deg worse with it).
            if not clipped and f2_raw > 0.2 * 0.2:
                px = fstate[F_PG_PREV_F]
                if had_row and alpha_known and not math.isnan(px):
                    # The last row's force and its w, both world-fixed once
                    # that row is past, turned into this row's frame like "up".
                    py = fstate[F_PG_PREV_F + 1]
                    pz = fstate[F_PG_PREV_F + 2]
                    pdot = rx * px + ry * py + rz * pz
                    qx = px * c + (ry * pz - rz * py) * sa + rx * pdot * ca
                    qy = py * c + (rz * px - rx * pz) * sa + ry * pdot * ca
                    qz = pz * c + (rx * py - ry * px) * sa + rz * pdot * ca
                    wdot = rx * pw0 + ry * pw1 + rz * pw2
                    vx = pw0 * c + (ry * pw2 - rz * pw1) * sa + rx * wdot * ca
                    vy = pw1 * c + (rz * pw0 - rx * pw2) * sa + ry * wdot * ca
                    vz = pw2 * c + (rx * pw1 - ry * pw0) * sa + rz * wdot * ca
                    lg = lever_m / G0_MPS2
                    lo = lg * oa
                    lp = lg * prev_oa
                    h = 0.5 * dt
                    if (restart or ending) and oa * prev_oa < 0.0:
                        # The rate went through zero between the rows: the
                        # sum starts or stops at that instant (the force
                        # there linear between the rows), where the velocity
                        # the lever model misses (~ the rate: the sensor's
                        # offset, a lever off by cm) is zero; a turn's row
                        # at 12.5 Hz is up to ~100 deg/s past it.
                        z = prev_oa / (prev_oa - oa)
                        zx = qx + z * (ax - qx)
                        zy = qy + z * (ay - qy)
                        zz = qz + z * (az - qz)
                        if restart:
                            h *= 1.0 - z
                            # The time the sum covers, exact at its ends
                            # (a row's dt off is 5 % of the sum at 12.5 Hz).
                            fstate[F_PG_T] = (1.0 - z) * dt
                            fstate[F_PG_SUM] = h * (zx + ax) - lo * pw0
                            fstate[F_PG_SUM + 1] = h * (zy + ay) - lo * pw1
                            fstate[F_PG_SUM + 2] = h * (zz + az) - lo * pw2
                        else:
                            h *= z
                            fstate[F_PG_T] -= (1.0 - z) * dt
                            fstate[F_PG_SUM] += h * (qx + zx) + lp * vx
                            fstate[F_PG_SUM + 1] += h * (qy + zy) + lp * vy
                            fstate[F_PG_SUM + 2] += h * (qz + zz) + lp * vz
                    elif not restart:
                        fstate[F_PG_SUM] += h * (ax + qx) - (lo * pw0 - lp * vx)
                        fstate[F_PG_SUM + 1] += h * (ay + qy) - (lo * pw1 - lp * vy)
                        fstate[F_PG_SUM + 2] += h * (az + qz) - (lo * pw2 - lp * vz)
                fstate[F_PG_PREV_F] = ax
                fstate[F_PG_PREV_F + 1] = ay
                fstate[F_PG_PREV_F + 2] = az
            else:
                fstate[F_PG_PREV_F] = math.nan
            fstate[F_PG_CNT] = cnt + 1.0
            if ending and fstate[F_PG_TURNED] <= _PG_RETRIES:
                span = fstate[F_PG_T]
                sx = fstate[F_PG_SUM]
                sy = fstate[F_PG_SUM + 1]
                sz = fstate[F_PG_SUM + 2]
                if math.sqrt(sx * sx + sy * sy + sz * sz) > (1.0 + _PG_MEAN_TOL) * span:
                    # Not gravity alone: sum again from the next turn.
                    fstate[F_PG_TURNED] = -fstate[F_PG_TURNED]
                    fstate[F_PG_S] = _PG_SUM_MIN_S + 1.0
    elif not clipped and f2_raw > 0.2 * 0.2:
        # Remove the rigid rotation of a sensor L below the hip (g units).
        lg = lever_m / G0_MPS2
        tan_g = lg * alpha
        cen_g = lg * oa * oa
        fx = ax - tan_g * pw0 - cen_g * pu0
        fy = ay - tan_g * pw1 - cen_g * pu1
        fz = az - tan_g * pw2 - cen_g * pu2
        fn2 = fx * fx + fy * fy + fz * fz
        if fn2 > 0.2 * 0.2:
            # |f| and 1 / |f| side by side, not one after the other: both are
            # on the row-to-row chain (bias -> rate -> f -> weight -> bias).
            fn = math.sqrt(fn2)
            rfn = fn * (1.0 / fn2)
            # The rotational terms removed are uncertain by a fraction of
            # themselves (the lever is a prior or a fit; the angular
            # acceleration a backward difference, half a sample late, and at
            # a rep's turn, where the rate is low and the pull open, it
            # changes fastest): a deviation of |f| from 1 g in quadrature.
            en2 = ((fn - 1.0) * (fn - 1.0) + _ROT_UNCERT2 * (tan_g * tan_g + cen_g * cen_g)) / (
                _ACC_GATE_G * _ACC_GATE_G
            )
            # The rate's factor is ready before the exp returns: a product
            # after it, not a division.
            rate_f = 1.0 / (1.0 + (wx * wx + wy * wy + wz * wz) / (_RATE_GATE * _RATE_GATE))
            # Beyond 12 widths the weight is below 1e-31: skip the exp.
            weight = math.exp(-0.5 * en2) * rate_f if en2 < 144.0 else 0.0
            k = dt / tilt_tau * weight
            if k > 1.0:
                k = 1.0
            gx_n = fx * rfn
            gy_n = fy * rfn
            gz_n = fz * rfn
            if fstate[F_REST_S] <= _REST_MIN_S + 0.5 * dt:
                # In motion the pull's integral runs too, at the pull's weight
                # squared (the loop stays critically damped at any weight).
                ki_m = weight * weight * (dt / (4.0 * tilt_tau * tilt_tau) * RAD)
                fstate[F_BIAS] += ki_m * (uy * gz_n - uz * gy_n)
                fstate[F_BIAS + 1] += ki_m * (uz * gx_n - ux * gz_n)
                fstate[F_BIAS + 2] += ki_m * (ux * gy_n - uy * gx_n)
            ux += k * (gx_n - ux)
            uy += k * (gy_n - uy)
            uz += k * (gz_n - uz)
    # "up" in the (u, w) plane before its length is corrected: theta and the
    # rest mismatch are angles, which its length does not change, and they
    # need not wait for the correction.
    up_u = ux * pu0 + uy * pu1 + uz * pu2
    up_w = ux * pw0 + uy * pw1 + uz * pw2
    d = ux * ux + uy * uy + uz * uz - 1.0
    if abs(d) < _NORM_SERIES:
        s = 1.0 - d * (0.5 - 0.375 * d)
    else:
        s = 1.0 / math.sqrt(1.0 + d)
    ux *= s
    uy *= s
    uz *= s
    fstate[F_UP] = ux
    fstate[F_UP + 1] = uy
    fstate[F_UP + 2] = uz

    # Gyro bias: learn slowly while the thigh is at rest (rate and |f| steady).
    dev2 = (gx - bias0) ** 2 + (gy - bias1) ** 2 + (gz - bias2) ** 2
    # In motion the square alone decides (1 % margin: rounding cannot flip
    # it), without the square root.
    still = dev2 < 1.01 * still_gyr * still_gyr and math.sqrt(dev2) < still_gyr
    if still and 0.9 * 0.9 < f2_raw < 1.1 * 1.1 and not clipped:
        fstate[F_REST_S] += dt
    else:
        fstate[F_REST_S] = 0.0
    if fstate[F_REST_S] > _REST_MIN_S + 0.5 * dt:
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
            ki = dt / (4.0 * tilt_tau * tilt_tau) * RAD / math.sqrt(f2_raw)
            fstate[F_BIAS] += ki * (uy * az - uz * ay)
            fstate[F_BIAS + 1] += ki * (uz * ax - ux * az)
            fstate[F_BIAS + 2] += ki * (ux * ay - uy * ax)

    # theta = atan2(up_w, up_u), as the last row's plus the angle from its
    # (u, w) pair to this one: exact whatever moved "up" or the axes between
    # the rows (a re-anchoring, a new lock); a large angle takes atan2.
    pu_last = fstate[F_TH_UW]
    pw_last = fstate[F_TH_UW + 1]
    cross_uw = pu_last * up_w - pw_last * up_u
    dot_uw = pu_last * up_u + pw_last * up_w
    if fstate[F_TH_ROWS] < _THETA_RESYNC_ROWS and abs(cross_uw) < _ATAN_SERIES * dot_uw:
        th = fstate[F_TH_RAD] + _atan_small(cross_uw / dot_uw)
        if th > math.pi:
            th -= 2.0 * math.pi
        elif th < -math.pi:
            th += 2.0 * math.pi
        fstate[F_TH_ROWS] += 1.0
    else:
        th = math.atan2(up_w, up_u)
        fstate[F_TH_ROWS] = 0.0
    fstate[F_TH_RAD] = th
    fstate[F_TH_UW] = up_u
    fstate[F_TH_UW + 1] = up_w
    theta = th * RAD
    if fstate[F_REST_S] == 0.0:
        fstate[F_REST_AVG_S] = 0.0
    elif fstate[F_REST_S] > _REST_MIN_S + 0.5 * dt and not in_window and not clipped:
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
        cross = f_w * up_u - f_u * up_w
        dot = f_u * up_u + f_w * up_w
        diff = _atan2_near_zero(cross, dot) * RAD
        if fstate[F_REST_AVG_S] == 0.0:
            fstate[F_REST_DIFF_LP] = diff
        else:
            fstate[F_REST_DIFF_LP] += min(dt / _REST_DIFF_TAU_S, 1.0) * (diff - fstate[F_REST_DIFF_LP])
        fstate[F_REST_AVG_S] += dt
        if abs(fstate[F_REST_DIFF_LP]) > fstate[F_REST_DIFF_DEG]:
            fstate[F_REST_DIFF_DEG] = abs(fstate[F_REST_DIFF_LP])
    return theta, oa * RAD


# The copy the main loop (_kern_run) and the lock scan (learn._scan_lock) call: numba
# types and lowers an inlined callee again in each caller (its front end, not LLVM, is
# most of a first run's compile: 1.2 s of CPU for this one in the main loop, 1.1 s in
# the lock scan), so it is compiled once, and LLVM inlines the compiled function into
# them (a plain call per gyro row cost the main loop ~5 % of its rows per second).
_tilt_step_called = njit_borrowed_linked(_tilt_step.py_func)  # type: ignore[attr-defined]

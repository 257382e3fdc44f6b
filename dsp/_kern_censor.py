"""The accelerometer-only pendulum filter's update on a row with clipped axes.

A clipped axis did not measure a value: it says only that the true specific
force along it is at least the full-scale value it reports, with the sign it
reports (a censored measurement).  Skipping such a row throws away the axes
that did measure, and a march or stride at +-2 g clips on most rows of every
swing, so the filter would coast through the swings on its motion model.
Taking the clipped value as a measurement pulls the angle towards a specific
force that is too small.

Here each sensor axis is a scalar measurement of the predicted specific force
projected on it (the sagittal model of ``_pendulum_step`` along ``P_W`` and
``P_U``; nothing modelled across the thigh, so the lateral part is residual
like any unmodelled acceleration, with the same noise).  With every axis
measured this is exactly the filter's two-dimensional update, because u, w and
the flexion axis are orthonormal.  A clipped axis is used only where the
prediction lies inside the range, i.e. contradicts the bound; it is then a
measurement at the bound, which moves the state just far enough to agree with
it.  Where the prediction already lies beyond the bound the axis says nothing
the state does not already satisfy.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed_inline
from hipflex.dsp._layout import G0_MPS2, P_EKF_R, P_LEVER_M, P_OFFSET_M, P_U, P_W

__all__: list[str] = []

# The robust update's gate on the normalised innovation squared, by the number
# of axes used: the chi-square quantiles of the same tail probability as the
# two-dimensional update's gate of 9 (exp(-4.5), 1.1 %).
_NIS_GATE_1 = 6.448
_NIS_GATE_2 = 9.0
_NIS_GATE_3 = 11.117
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@njit_borrowed_inline
def _beyond_bound(a: float, pred: float, s: float) -> tuple[float, float, float]:
    """A censored scalar measurement: the reading lies beyond ``a`` (away from zero).

    With the reading predicted as N(``pred``, ``s``), the reading given that
    it lies beyond the bound is a truncated normal.  Returns its mean minus
    ``pred`` (the innovation), the share of ``s`` its variance lost
    (``1 - var / s``, in (0, 1)) and ``alpha``, the bound's distance beyond the
    prediction in standard deviations (negative: the prediction is already
    beyond it).
    """
    sd = math.sqrt(s)
    sign = 1.0 if a > 0.0 else -1.0
    alpha = sign * (a - pred) / sd
    # Inverse Mills ratio lam = phi(alpha) / Q(alpha); far out (Q below
    # 1e-130) Laplace's continued fraction takes over, exact to rounding there.
    if alpha < 25.0:
        q = 0.5 * math.erfc(alpha * _SQRT_HALF)
        lam = math.exp(-0.5 * alpha * alpha) * _INV_SQRT_2PI / q
    else:
        lam = alpha + 1.0 / (alpha + 2.0 / (alpha + 3.0 / (alpha + 4.0 / (alpha + 5.0 / alpha))))
    shrink = lam * (lam - alpha)
    return sign * sd * lam, shrink, alpha


@njit_borrowed_inline
def _censored_update(
    prm: np.ndarray,
    ax: float,
    ay: float,
    az: float,
    clip: int,
    gcal: float,
    max_inflation: float,
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
    """EKF update of the pendulum state on a row whose axes in ``clip`` (bits 0-2: x, y, z) are censored.

    Parameters
    ----------
    prm : ndarray
        Kernel parameters (axes ``P_W``/``P_U``, lever arm and offset, ``P_EKF_R``).
    ax, ay, az : float
        The row as received, in the sensor's g; a clipped axis reports its full-scale value.
    clip : int
        Bit c set: axis c is at full scale.
    gcal : float
        The gravity magnitude the sensor reads at rest, in its g.
    max_inflation : float
        Largest factor by which the robust update inflates the measurement noise.
    x0, x1, x2, p00 .. p22 : float
        The predicted state and the six distinct entries of its covariance.

    Returns
    -------
    The updated state and covariance entries, in the same order.

    Notes
    -----
    The used axes are processed one after the other as scalar measurements,
    all linearised at the prediction (so the result is the joint EKF update).
    The sum of their normalised innovations squared is the joint NIS; above
    the gate for that many axes the update is redone with the noise inflated
    by NIS / gate (at most ``max_inflation``), as the two-dimensional update does.
    """
    lg = prm[P_LEVER_M] / G0_MPS2
    dg = prm[P_OFFSET_M] / G0_MPS2
    s0 = math.sin(x0)
    c0 = math.cos(x0)
    # Predicted sagittal specific force and its Jacobian rows (as in _pendulum_step).
    hw = s0 + lg * x2 - dg * x1 * x1
    hu = c0 + lg * x1 * x1 + dg * x2
    jw0 = c0
    jw1 = -2.0 * dg * x1
    jw2 = lg
    ju0 = -s0
    ju1 = 2.0 * lg * x1
    ju2 = dg
    r = prm[P_EKF_R] * prm[P_EKF_R]
    infl = 1.0
    y0, y1, y2 = x0, x1, x2
    q00, q01, q02, q11, q12, q22 = p00, p01, p02, p11, p12, p22
    for attempt in range(2):
        y0, y1, y2 = x0, x1, x2
        q00, q01, q02, q11, q12, q22 = p00, p01, p02, p11, p12, p22
        nis = 0.0
        n_used = 0
        # The measured axes first: the bounds are then judged against the best prediction.
        for j in range(6):
            c = j % 3
            censored = (clip >> c) & 1
            if censored != (j // 3):
                continue
            mw = prm[P_W + c]
            mu = prm[P_U + c]
            a = (ax if c == 0 else (ay if c == 1 else az)) / gcal
            h0 = mw * jw0 + mu * ju0
            h1 = mw * jw1 + mu * ju1
            h2 = mw * jw2 + mu * ju2
            # Predicted measurement, linearised at the prediction.
            pred = mw * hw + mu * hu + h0 * (y0 - x0) + h1 * (y1 - x1) + h2 * (y2 - x2)
            b0 = q00 * h0 + q01 * h1 + q02 * h2
            b1 = q01 * h0 + q11 * h1 + q12 * h2
            b2 = q02 * h0 + q12 * h1 + q22 * h2
            s = h0 * b0 + h1 * b1 + h2 * b2 + r * infl
            if censored:
                v, shrink, alpha = _beyond_bound(a, pred, s)
                if alpha > 0.0:
                    # The bound contradicts the prediction by alpha standard deviations.
                    nis += alpha * alpha
                    n_used += 1
            else:
                v = a - pred
                shrink = 1.0
                nis += v * v / s
                n_used += 1
            k0 = b0 / s
            k1 = b1 / s
            k2 = b2 / s
            y0 += k0 * v
            y1 += k1 * v
            y2 += k2 * v
            q00 -= shrink * k0 * b0
            q01 -= shrink * k0 * b1
            q02 -= shrink * k0 * b2
            q11 -= shrink * k1 * b1
            q12 -= shrink * k1 * b2
            q22 -= shrink * k2 * b2
        if attempt > 0 or n_used == 0:
            break
        gate = _NIS_GATE_1 if n_used == 1 else (_NIS_GATE_2 if n_used == 2 else _NIS_GATE_3)
        if nis <= gate:
            break
        # Robust update: inflate R until the innovation is plausible.
        infl = min(nis / gate, max_inflation)
    return y0, y1, y2, q00, q01, q02, q11, q12, q22

"""Fixed-interval smoothing of the accelerometer-only pendulum filter over one rep.

The filter's angle at a sample uses only the samples up to it, so a swing that
stops harder than its motion model expects is overshot and caught up a few
samples later.  A rep's metrics are computed when it closes, after the samples
that show where the swing really stopped; a Rauch-Tung-Striebel backward pass
over the rep's history rows uses them.  It refines the metrics only: the
detector (and so the count and the live peak event) still reads the filter.

References
----------
Rauch, H. E., Tung, F., Striebel, C. T. (1965). Maximum likelihood estimates of
linear dynamic systems. AIAA Journal 3(8), 1445-1450. doi:10.2514/3.3166
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit
from hipflex.dsp._layout import H_DT, H_P, H_STHETA, H_SVEL, H_X, P_EKF_Q, RAD

__all__: list[str] = []


@njit
def _smooth_span(prm: np.ndarray, hist: np.ndarray, cap: int, first: int, last: int) -> None:
    """Smoothed angle and rate of processed samples ``first..last`` into the history.

    Parameters
    ----------
    prm : ndarray, shape (P_N,)
        Kernel parameters (the filter's jerk spectral density ``P_EKF_Q``).
    hist : ndarray, shape (cap, H_N_PENDULUM)
        History ring with the filter's posterior in ``H_X``/``H_P``/``H_DT``;
        ``H_STHETA`` (deg) and ``H_SVEL`` (deg/s) are written.
    first, last : int
        Processed-sample indices, ``last`` the newest one the caller has read
        (its smoothed state is its filtered state).

    Notes
    -----
    With the filtered state x_k, P_k and the prediction to k+1 through
    F(dt) and the white-jerk Q(dt): ``C = P_k F^T (F P_k F^T + Q)^-1`` and
    ``m_k = x_k + C (m_{k+1} - F x_k)`` (angle difference wrapped to
    (-pi, pi]).  Only the means are needed.  A step whose predicted covariance
    is not positive definite is not smoothed (``m_k = x_k``).
    """
    q = prm[P_EKF_Q]
    a = np.empty((3, 3))
    pp = np.empty((3, 3))
    inv = np.empty((3, 3))
    sl = last & (cap - 1)
    m0 = hist[sl, H_X]
    m1 = hist[sl, H_X + 1]
    m2 = hist[sl, H_X + 2]
    hist[sl, H_STHETA] = m0 * RAD
    hist[sl, H_SVEL] = m1 * RAD
    for k in range(last - 1, first - 1, -1):
        sk = k & (cap - 1)
        dt = hist[(k + 1) & (cap - 1), H_DT]
        h2 = 0.5 * dt * dt
        x0 = hist[sk, H_X]
        x1 = hist[sk, H_X + 1]
        x2 = hist[sk, H_X + 2]
        p00 = hist[sk, H_P]
        p01 = hist[sk, H_P + 1]
        p02 = hist[sk, H_P + 2]
        p11 = hist[sk, H_P + 3]
        p12 = hist[sk, H_P + 4]
        p22 = hist[sk, H_P + 5]
        # A = P F^T, F = [[1, dt, dt^2/2], [0, 1, dt], [0, 0, 1]].
        a[0, 0] = p00 + dt * p01 + h2 * p02
        a[0, 1] = p01 + dt * p02
        a[0, 2] = p02
        a[1, 0] = p01 + dt * p11 + h2 * p12
        a[1, 1] = p11 + dt * p12
        a[1, 2] = p12
        a[2, 0] = p02 + dt * p12 + h2 * p22
        a[2, 1] = p12 + dt * p22
        a[2, 2] = p22
        # Predicted covariance F A + Q.
        dt3 = dt * dt * dt
        for j in range(3):
            pp[0, j] = a[0, j] + dt * a[1, j] + h2 * a[2, j]
            pp[1, j] = a[1, j] + dt * a[2, j]
            pp[2, j] = a[2, j]
        pp[0, 0] += q * dt3 * dt * dt / 20.0
        pp[0, 1] += q * dt3 * dt / 8.0
        pp[1, 0] += q * dt3 * dt / 8.0
        pp[0, 2] += q * dt3 / 6.0
        pp[2, 0] += q * dt3 / 6.0
        pp[1, 1] += q * dt3 / 3.0
        pp[1, 2] += q * dt * dt / 2.0
        pp[2, 1] += q * dt * dt / 2.0
        pp[2, 2] += q * dt
        # Inverse by cofactors (pp is symmetric in exact arithmetic).
        c00 = pp[1, 1] * pp[2, 2] - pp[1, 2] * pp[2, 1]
        c01 = pp[1, 2] * pp[2, 0] - pp[1, 0] * pp[2, 2]
        c02 = pp[1, 0] * pp[2, 1] - pp[1, 1] * pp[2, 0]
        det = pp[0, 0] * c00 + pp[0, 1] * c01 + pp[0, 2] * c02
        if not (det > 0.0 and math.isfinite(det)):
            m0 = x0
            m1 = x1
            m2 = x2
        else:
            inv[0, 0] = c00 / det
            inv[1, 0] = c01 / det
            inv[2, 0] = c02 / det
            inv[0, 1] = (pp[0, 2] * pp[2, 1] - pp[0, 1] * pp[2, 2]) / det
            inv[1, 1] = (pp[0, 0] * pp[2, 2] - pp[0, 2] * pp[2, 0]) / det
            inv[2, 1] = (pp[0, 1] * pp[2, 0] - pp[0, 0] * pp[2, 1]) / det
            inv[0, 2] = (pp[0, 1] * pp[1, 2] - pp[0, 2] * pp[1, 1]) / det
            inv[1, 2] = (pp[0, 2] * pp[1, 0] - pp[0, 0] * pp[1, 2]) / det
            inv[2, 2] = (pp[0, 0] * pp[1, 1] - pp[0, 1] * pp[1, 0]) / det
            # d = m_{k+1} - F x_k, the angle part wrapped.
            d0 = m0 - (x0 + dt * x1 + h2 * x2)
            d0 = math.atan2(math.sin(d0), math.cos(d0))
            d1 = m1 - (x1 + dt * x2)
            d2 = m2 - x2
            # m_k = x_k + A inv d.
            e0 = inv[0, 0] * d0 + inv[0, 1] * d1 + inv[0, 2] * d2
            e1 = inv[1, 0] * d0 + inv[1, 1] * d1 + inv[1, 2] * d2
            e2 = inv[2, 0] * d0 + inv[2, 1] * d1 + inv[2, 2] * d2
            m0 = x0 + a[0, 0] * e0 + a[0, 1] * e1 + a[0, 2] * e2
            m1 = x1 + a[1, 0] * e0 + a[1, 1] * e1 + a[1, 2] * e2
            m2 = x2 + a[2, 0] * e0 + a[2, 1] * e1 + a[2, 2] * e2
            m0 = math.atan2(math.sin(m0), math.cos(m0))
        hist[sk, H_STHETA] = m0 * RAD
        hist[sk, H_SVEL] = m1 * RAD

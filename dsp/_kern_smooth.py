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
from hipflex.dsp._kern_pendulum import _predict_cov
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
    is not positive definite is not smoothed (``m_k = x_k``); nor is one with
    no prediction (``H_DT`` NaN: the filter re-anchored after a gap, and the
    NaN makes the determinant NaN).
    """
    q = prm[P_EKF_Q]
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
        # The filter's own prediction to k+1 (symmetric, six entries).
        n00, n01, n02, n11, n12, n22 = _predict_cov(p00, p01, p02, p11, p12, p22, dt, q)
        # Inverse by cofactors (symmetric).
        c00 = n11 * n22 - n12 * n12
        c01 = n12 * n02 - n01 * n22
        c02 = n01 * n12 - n11 * n02
        det = n00 * c00 + n01 * c01 + n02 * c02
        if det > 0.0 and math.isfinite(det):
            c11 = n00 * n22 - n02 * n02
            c12 = n01 * n02 - n00 * n12
            c22 = n00 * n11 - n01 * n01
            # d = m_{k+1} - F x_k, the angle part wrapped; e = (P^-)^-1 d.
            d0 = m0 - (x0 + dt * x1 + h2 * x2)
            if abs(d0) > math.pi:
                # Only an angle outside (-pi, pi] needs the wrap: inside it,
                # atan2 of its sine and cosine gave it back to the last bit
                # or two, at the cost of three calls per row (twice).
                d0 = math.atan2(math.sin(d0), math.cos(d0))
            d1 = m1 - (x1 + dt * x2)
            d2 = m2 - x2
            e0 = (c00 * d0 + c01 * d1 + c02 * d2) / det
            e1 = (c01 * d0 + c11 * d1 + c12 * d2) / det
            e2 = (c02 * d0 + c12 * d1 + c22 * d2) / det
            # m_k = x_k + P_k F^T e.
            m0 = x0 + (p00 + dt * p01 + h2 * p02) * e0 + (p01 + dt * p02) * e1 + p02 * e2
            m1 = x1 + (p01 + dt * p11 + h2 * p12) * e0 + (p11 + dt * p12) * e1 + p12 * e2
            m2 = x2 + (p02 + dt * p12 + h2 * p22) * e0 + (p12 + dt * p22) * e1 + p22 * e2
            if abs(m0) > math.pi:
                m0 = math.atan2(math.sin(m0), math.cos(m0))
        else:
            m0 = x0
            m1 = x1
            m2 = x2
        hist[sk, H_STHETA] = m0 * RAD
        hist[sk, H_SVEL] = m1 * RAD

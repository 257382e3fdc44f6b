"""The gyro-frame check's kernels: low-passed rows, the rigid-rotation model's rows and the lever fit.

Split from :mod:`hipflex.dsp.gyro_frame`, which screens the candidate axis
permutations and scales with them (its module docstring has the method).
Twins: ``tests/naive.py`` (``lowpass_rows``, ``model_rows``, ``fit_lever``).
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit, njit_inline
from hipflex.dsp._kern_filters import _rotation_coefficients
from hipflex.dsp._layout import DEG, RAD

__all__: list[str] = []


@njit
def _lowpass_rows(t: np.ndarray, x: np.ndarray, tau_s: float, out: np.ndarray) -> None:
    """First-order low-pass of every column of ``x`` (time constant ``tau_s``), from its first row.

    A row with any NaN (or a NaN time) is skipped: its output is NaN and it
    does not move the state.
    """
    n, m = x.shape
    state = np.zeros(m)
    last_t = math.nan
    for k in range(n):
        bad = math.isnan(t[k])
        for j in range(m):
            if math.isnan(x[k, j]):
                bad = True
        if bad:
            for j in range(m):
                out[k, j] = math.nan
            continue
        al = 1.0 if math.isnan(last_t) else (t[k] - last_t) / (tau_s + t[k] - last_t)
        last_t = t[k]
        for j in range(m):
            state[j] += al * (x[k, j] - state[j])
            out[k, j] = state[j]


@njit
def _model_rows(
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
    """The low-passed columns of the rigid-rotation model of the accelerometer, every ``stride``-th row.

    The rate used is ``m @ rate[k]`` (deg/s, bias removed).  Gravity turns
    from ``up`` (a world-fixed vector seen from the sensor turns by
    ``-omega dt``: trapezoidal rate, exact Rodrigues rotation); the lever's acceleration
    is ``A r`` with ``A = [alpha]x + [omega]x [omega]x`` (``alpha = m @
    accel[k]``, ``accel`` the rate's derivative in deg/s^2).  Every row's
    ``gravity_g * g_dir`` (3 values) and ``A`` (9, row-major) pass through
    the first-order low-pass of :func:`_lowpass_rows`; ``out[j]`` holds them
    at row ``j * stride`` (NaN if that row has a NaN).  Returns the largest
    angle of the propagated gravity from ``up``, deg.
    """
    n = t.shape[0]
    g0 = up[0]
    g1 = up[1]
    g2 = up[2]
    w0 = w1 = w2 = 0.0
    last_t = math.nan
    lp = np.zeros(12)
    x = np.zeros(12)
    max_cos = 1.0
    for k in range(n):
        v0 = (m[0, 0] * rate[k, 0] + m[0, 1] * rate[k, 1] + m[0, 2] * rate[k, 2]) * DEG
        v1 = (m[1, 0] * rate[k, 0] + m[1, 1] * rate[k, 1] + m[1, 2] * rate[k, 2]) * DEG
        v2 = (m[2, 0] * rate[k, 0] + m[2, 1] * rate[k, 1] + m[2, 2] * rate[k, 2]) * DEG
        if math.isnan(t[k] + v0 + v1 + v2):
            if k % stride == 0:
                out[k // stride, :] = math.nan
            continue
        b0 = (m[0, 0] * accel[k, 0] + m[0, 1] * accel[k, 1] + m[0, 2] * accel[k, 2]) * DEG
        b1 = (m[1, 0] * accel[k, 0] + m[1, 1] * accel[k, 1] + m[1, 2] * accel[k, 2]) * DEG
        b2 = (m[2, 0] * accel[k, 0] + m[2, 1] * accel[k, 1] + m[2, 2] * accel[k, 2]) * DEG
        if math.isnan(b0 + b1 + b2):
            b0 = b1 = b2 = 0.0
        al = 1.0
        if not math.isnan(last_t):
            dt = t[k] - last_t
            al = dt / (tau_s + dt)
            r0 = -0.5 * (v0 + w0) * dt
            r1 = -0.5 * (v1 + w1) * dt
            r2 = -0.5 * (v2 + w2) * dt
            a2 = r0 * r0 + r1 * r1 + r2 * r2
            if a2 > 0.0:
                # v' = v cos a + (r x v) sin(a)/a + r (r.v) (1 - cos a)/a^2.
                c, sa, ca = _rotation_coefficients(a2)
                rd = (r0 * g0 + r1 * g1 + r2 * g2) * ca
                y0 = g0 * c + (r1 * g2 - r2 * g1) * sa + r0 * rd
                y1 = g1 * c + (r2 * g0 - r0 * g2) * sa + r1 * rd
                y2 = g2 * c + (r0 * g1 - r1 * g0) * sa + r2 * rd
                gn = math.sqrt(y0 * y0 + y1 * y1 + y2 * y2)
                g0 = y0 / gn
                g1 = y1 / gn
                g2 = y2 / gn
        last_t = t[k]
        w0 = v0
        w1 = v1
        w2 = v2
        cu = g0 * up[0] + g1 * up[1] + g2 * up[2]
        if cu < max_cos:
            max_cos = cu
        sq = v0 * v0 + v1 * v1 + v2 * v2
        x[0] = gravity_g * g0
        x[1] = gravity_g * g1
        x[2] = gravity_g * g2
        x[3] = v0 * v0 - sq
        x[4] = v0 * v1 - b2
        x[5] = v0 * v2 + b1
        x[6] = v1 * v0 + b2
        x[7] = v1 * v1 - sq
        x[8] = v1 * v2 - b0
        x[9] = v2 * v0 - b1
        x[10] = v2 * v1 + b0
        x[11] = v2 * v2 - sq
        for j in range(12):
            lp[j] += al * (x[j] - lp[j])
        if k % stride == 0:
            for j in range(12):
                out[k // stride, j] = lp[j]
    return math.acos(min(1.0, max(-1.0, max_cos))) * RAD


@njit_inline
def _row_ok(cols: np.ndarray, acc_lp: np.ndarray, j: int, stride: int) -> bool:
    """Whether model row ``j`` and its low-passed accelerometer row have no NaN (both passes of the fit skip it)."""
    ok = not math.isnan(acc_lp[j * stride, 0] + acc_lp[j * stride, 1] + acc_lp[j * stride, 2])
    for c in range(12):
        if math.isnan(cols[j, c]):
            ok = False
    return ok


@njit
def _fit_lever(cols: np.ndarray, acc_lp: np.ndarray, stride: int) -> float:
    """Least-squares lever ``r`` for the model rows of :func:`_model_rows`; the RMS residual angle, deg.

    ``cols[j]`` is the low-passed model at row ``j * stride`` (gravity part
    ``cols[j, :3]``, lever matrix ``cols[j, 3:]`` row-major) and
    ``acc_lp[j * stride]`` the low-passed accelerometer; rows with a NaN in
    either are skipped.  ``r`` solves the normal equations with a ridge of 1e-9 of
    their trace (motion about one axis leaves the lever along it unseen).
    The residual of a row is the angle between the accelerometer and
    ``gravity part + lever matrix @ r``.
    """
    m = cols.shape[0]
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for j in range(m):
        if not _row_ok(cols, acc_lp, j, stride):
            continue
        for i in range(3):
            y = acc_lp[j * stride, i] - cols[j, i]
            for p in range(3):
                xp = cols[j, 3 + 3 * i + p]
                b[p] += xp * y
                for q in range(3):
                    a[p, q] += xp * cols[j, 3 + 3 * i + q]
    ridge = 1e-9 * (a[0, 0] + a[1, 1] + a[2, 2]) + 1e-300
    for i in range(3):
        a[i, i] += ridge
    # 3x3 inverse by cofactors (the matrix is symmetric positive definite).
    c00 = a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]
    c01 = a[1, 2] * a[2, 0] - a[1, 0] * a[2, 2]
    c02 = a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]
    det = a[0, 0] * c00 + a[0, 1] * c01 + a[0, 2] * c02
    r0 = r1 = r2 = 0.0
    if det > 0.0:
        c10 = a[0, 2] * a[2, 1] - a[0, 1] * a[2, 2]
        c11 = a[0, 0] * a[2, 2] - a[0, 2] * a[2, 0]
        c12 = a[0, 1] * a[2, 0] - a[0, 0] * a[2, 1]
        c20 = a[0, 1] * a[1, 2] - a[0, 2] * a[1, 1]
        c21 = a[0, 2] * a[1, 0] - a[0, 0] * a[1, 2]
        c22 = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        r0 = (c00 * b[0] + c10 * b[1] + c20 * b[2]) / det
        r1 = (c01 * b[0] + c11 * b[1] + c21 * b[2]) / det
        r2 = (c02 * b[0] + c12 * b[1] + c22 * b[2]) / det
    total = 0.0
    cnt = 0
    for j in range(m):
        if not _row_ok(cols, acc_lp, j, stride):
            continue
        dot = 0.0
        pn = 0.0
        an = 0.0
        for i in range(3):
            pred = cols[j, i] + cols[j, 3 + 3 * i] * r0 + cols[j, 4 + 3 * i] * r1 + cols[j, 5 + 3 * i] * r2
            f = acc_lp[j * stride, i]
            dot += pred * f
            pn += pred * pred
            an += f * f
        cosang = dot / math.sqrt(pn * an)
        ang = math.acos(min(1.0, max(-1.0, cosang))) * RAD
        total += ang * ang
        cnt += 1
    return math.sqrt(total / cnt) if cnt > 0 else math.inf

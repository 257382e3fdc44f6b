"""Per-rep metrics over the angle history: the rep's start, peak, end, rise time, velocity, hold, confidence.

Split from :mod:`hipflex.dsp._kern_reps` (the detector that decides where a rep
is): these kernels measure a rep once the detector has placed its low, peak and
trough in the ring-buffered history of theta, its rate and the sample times.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
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
    EV_KIND,
    EV_REP,
    H_FLAG,
    H_SIGMA,
    H_THETA,
    H_TIME,
    P_HOLD_BAND,
    P_ONSET_FRAC,
)

__all__: list[str] = []


@njit_borrowed_inline
def _h(hist: np.ndarray, cap: int, idx: int, col: int) -> float:
    return hist[idx & (cap - 1), col]


@njit_borrowed
def _cross_time(hist: np.ndarray, cap: int, i: int, level: float) -> float:
    """Time at which the segment from sample i to i+1 crosses ``level`` (linear)."""
    y0 = _h(hist, cap, i, H_THETA)
    y1 = _h(hist, cap, i + 1, H_THETA)
    t0 = _h(hist, cap, i, H_TIME)
    t1 = _h(hist, cap, i + 1, H_TIME)
    if y1 == y0:
        return t0
    f = (level - y0) / (y1 - y0)
    f = min(max(f, 0.0), 1.0)
    return t0 + f * (t1 - t0)


@njit_borrowed
def _parabolic(y0: float, y1: float, y2: float) -> tuple[float, float]:
    """Offset (samples, |d| <= 0.5) and value of the parabola through three samples.

    The offset is the vertex clamped to half a sample either side; the value
    is the parabola at that offset (the vertex value when it is inside).
    """
    den = y0 - 2.0 * y1 + y2
    if den >= 0.0:
        return 0.0, y1
    d = 0.5 * (y0 - y2) / den
    d = min(max(d, -0.5), 0.5)
    return d, y1 + 0.5 * (y2 - y0) * d + 0.5 * den * d * d


@njit_borrowed
def _rep_metrics(
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
    """Fill an event row with every per-rep metric of the analysis contract.

    Parameters
    ----------
    hist : ndarray, shape (cap, H_N) or (cap, H_N_PENDULUM)
        Ring of (theta_deg, rate_dps, time_s, flag, sigma_deg, ...).
    low_idx, peak_idx, trough_idx : int
        Processed-sample indices of the low before the rise, the peak sample
        and the lowest sample after it (``trough_idx >= peak_idx + 1``).
    angle_col, vel_col : int
        History columns of the angle for the peak and the hold (deg) and of
        the rate (deg/s): the filter's or the smoothed ones.  The low, the
        trough and the level crossings always read the filter's angle.
    row : ndarray, shape (14,)
        Output; see ``E_*`` in ``_layout``.
    """
    frac = prm[P_ONSET_FRAC]
    # Peak: parabolic vertex through the top three samples.
    t1 = _h(hist, cap, peak_idx, H_TIME)
    dpk, theta_p = _parabolic(
        _h(hist, cap, peak_idx - 1, angle_col),
        _h(hist, cap, peak_idx, angle_col),
        _h(hist, cap, peak_idx + 1, angle_col),
    )
    if dpk >= 0.0:
        t_peak = t1 + dpk * (_h(hist, cap, peak_idx + 1, H_TIME) - t1)
    else:
        t_peak = t1 + dpk * (t1 - _h(hist, cap, peak_idx - 1, H_TIME))
    rise = theta_p - low_val

    # Onset: last sample before the peak within `frac` of the rise above the low.
    lvl = low_val + frac * rise
    j = peak_idx
    while j > low_idx and _h(hist, cap, j, H_THETA) > lvl:
        j -= 1
    start_idx = j
    t_start = _cross_time(hist, cap, j, lvl) if j < peak_idx else _h(hist, cap, j, H_TIME)

    # 10-90 %: last upward crossings before the peak.
    l90 = low_val + 0.9 * rise
    l10 = low_val + 0.1 * rise
    j = peak_idx
    while j > start_idx and _h(hist, cap, j, H_THETA) >= l90:
        j -= 1
    t90 = _cross_time(hist, cap, j, l90)
    while j > start_idx and _h(hist, cap, j, H_THETA) >= l10:
        j -= 1
    t10 = _cross_time(hist, cap, j, l10)
    # A rise reaches 90 % before its top: a vertex placed earlier (the
    # parabola through three sparse samples) is a sampling artefact.
    t_peak = max(t_peak, t90)

    # Peak flexion rate between onset and peak, refined by a parabola.
    best = -1e300
    bi = start_idx
    for i in range(start_idx, peak_idx + 1):
        v = _h(hist, cap, i, vel_col)
        if v > best:
            best = v
            bi = i
    _, vmax = _parabolic(_h(hist, cap, bi - 1, vel_col), best, _h(hist, cap, bi + 1, vel_col))
    if not vmax > 0.0:
        # The rate column disagrees with the rise it should explain (the
        # accelerometer, not the gyro, moved the angle): the largest
        # d(theta)/dt between onset and peak, from the angle itself.
        for i in range(start_idx, peak_idx):
            dt = _h(hist, cap, i + 1, H_TIME) - _h(hist, cap, i, H_TIME)
            if dt > 0.0:
                vmax = max(vmax, (_h(hist, cap, i + 1, angle_col) - _h(hist, cap, i, angle_col)) / dt)

    # Return: first sample after the peak within `frac` of the fall to the trough.
    lvl_e = trough_val + frac * (theta_p - trough_val)
    k = peak_idx + 1
    while k < trough_idx and _h(hist, cap, k, H_THETA) > lvl_e:
        k += 1
    end_idx = k
    t_end = max(_cross_time(hist, cap, k - 1, lvl_e), t_peak)

    # Hold: time within the band below the peak, linear between samples.
    lvl_h = theta_p - prm[P_HOLD_BAND]
    hold = 0.0
    for i in range(start_idx, end_idx):
        y0 = _h(hist, cap, i, angle_col)
        y1 = _h(hist, cap, i + 1, angle_col)
        dt = _h(hist, cap, i + 1, H_TIME) - _h(hist, cap, i, H_TIME)
        if y0 >= lvl_h and y1 >= lvl_h:
            hold += dt
        elif y0 >= lvl_h or y1 >= lvl_h:
            hi = max(y0, y1)
            lo = min(y0, y1)
            hold += dt * (hi - lvl_h) / (hi - lo)

    # Confidence: share of measured (not bridged or clipped) samples, and
    # for the pendulum filter its angle uncertainty at the peak.
    nflag = 0.0
    for i in range(start_idx, end_idx + 1):
        if _h(hist, cap, i, H_FLAG) > 0.0:
            nflag += 1.0
    conf = 1.0 - nflag / (end_idx - start_idx + 1)
    sig = _h(hist, cap, peak_idx, H_SIGMA)
    conf = conf / (1.0 + (sig / 3.0) ** 2)

    dur = t_peak - t_start
    row[EV_KIND] = EV_REP
    row[E_START] = t_start
    row[E_PEAK_T] = t_peak
    row[E_END] = t_end
    row[E_PEAK_DEG] = theta_p
    row[E_ROM] = rise
    row[E_FLEX_T] = t90 - t10
    row[E_PEAK_VEL] = vmax
    row[E_MEAN_VEL] = rise / dur if dur > 0.0 else math.nan
    row[E_HOLD] = hold
    row[E_CONF] = conf
    row[E_LOW_DEG] = low_val

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
    H_FLAG_BRIDGED,
    H_SIGMA,
    H_THETA,
    H_TIME,
    H_VEL,
    P_HAS_GYRO,
    P_HOLD_BAND,
    P_MIN_ROM,
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


# The shape of a rise's rate pulse.  A rise starts from rest at its low and
# comes to rest at its peak, so its rate is a bell of finite support; the top
# and the cumulative angle are modelled on b(u) = (1 - u^2)^3 on |u| <= 1
# (rate, acceleration and jerk all vanish at its ends), whose cube root is a
# parabola.  On synthetic pulses sampled by a one-period average at 12.5-52 Hz
# (tests/dsp/test_kern_rep_metrics.py) it reads minimum-jerk, raised-cosine,
# (1 - u^2)^3 and skewed pulses alike, within a few per cent on average over
# the sample phase; a Gaussian model (infinite tails) read them all 4-5 % high.
_BELL_POWER = 3.0
# Peak over mean rate of that bell: its area is 32/35 of peak times half-width.
_BELL_PEAK_OVER_MEAN = 35.0 / 16.0
# A gyro's rate peak counts as resolved when both samples beside its top read at
# least this share of it: the top is then fitted locally.  Below it (a swing
# whose rate peak is about one sample period wide: 12.5 Hz ballistic rises) a
# neighbour holds mostly the ends of the rise or the start of the return, and
# the peak is fitted to the angle the rise covered instead.
_RESOLVED_FRAC = 0.3
# The local fit reads the contiguous samples at or above this share of the top
# sample (at least the top and its two neighbours): many at high rates, which
# averages their noise instead of taking its largest excursion.
_TOP_FRAC = 0.8
# The angle fit's shares of the rise before and after the top sample's window
# are kept at least this large: a share of 0 on both sides would put the whole
# rise inside one period, a pulse of any narrowness.  At 0.5 % the narrowest
# pulse read is 1.2 periods long (1.8 times the top sample).
_EDGE_FRAC = 0.005


@njit_borrowed
def _bell_share_inv(f: float) -> float:
    """Where (0..1 of its length) the bell pulse has covered the share ``f`` of its area (bisection)."""
    lo = 0.0
    hi = 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        u = 2.0 * mid - 1.0
        u2 = u * u
        # The integral of (1 - u^2)^3, normalised to 0..1 over -1..1.
        share = 0.5 + 35.0 / 32.0 * u * (1.0 - u2 + 0.6 * u2 * u2 - u2 * u2 * u2 / 7.0)
        if share < f:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit_borrowed
def _sampled_peak_rate(
    hist: np.ndarray, cap: int, low_idx: int, peak_idx: int, bi: int, vel_col: int, fallback: float
) -> float:
    """Peak of the continuous rate whose one-period averages the gyro reported, deg/s.

    A gyro sample is the rate averaged over its sample period (the decimation
    of an oversampling sensor), so the largest sample lies below the true
    peak (by its curvature times the period squared over 24 for a broad
    peak), and a peak about one period wide can fall between samples.  The
    pulse is modelled as the bell ``(1 - u^2)^3`` (``_BELL_POWER``):

    * resolved (both neighbours of the top sample at least ``_RESOLVED_FRAC``
      of it): a weighted least-squares parabola through the cube roots of the
      contiguous samples above ``_TOP_FRAC`` of the top gives the averaged
      curve's top and curvature; the period's average lowered the top by
      curvature * period^2 / 24, which is added back;
    * unresolved: the rise's angle (the positive rate samples from the low to
      the peak, times the period) and its shares before and inside the top
      sample's window fix where the bell's cumulative curve crosses the
      window's two edges, hence its length and its peak.

    ``fallback`` (the parabola through the top three samples) is returned
    where neither fit is defined.
    """
    best = _h(hist, cap, bi, vel_col)
    period = 0.5 * (_h(hist, cap, bi + 1, H_TIME) - _h(hist, cap, bi - 1, H_TIME))
    if not (best > 0.0 and period > 0.0):
        return fallback
    if min(_h(hist, cap, bi - 1, vel_col), _h(hist, cap, bi + 1, vel_col)) < _RESOLVED_FRAC * best:
        # Angle covered before the top window, in it and after it up to the peak.
        a_l = 0.0
        for i in range(low_idx, bi):
            a_l += max(_h(hist, cap, i, vel_col), 0.0)
        a_r = 0.0
        for i in range(bi + 1, peak_idx + 1):
            a_r += max(_h(hist, cap, i, vel_col), 0.0)
        total = a_l + best + a_r
        f1 = min(max(a_l / total, _EDGE_FRAC), 1.0 - _EDGE_FRAC)
        f2 = min(max((a_l + best) / total, _EDGE_FRAC), 1.0 - _EDGE_FRAC)
        if not f2 > f1:
            return fallback
        # The window's edges are one period apart: the bell's length in periods.
        length = 1.0 / (_bell_share_inv(f2) - _bell_share_inv(f1))
        return max(_BELL_PEAK_OVER_MEAN * total / length, best)
    lo = bi - 1
    while lo - 1 >= low_idx and _h(hist, cap, lo - 1, vel_col) >= _TOP_FRAC * best:
        lo -= 1
    hi = bi + 1
    while hi + 1 <= peak_idx + 1 and _h(hist, cap, hi + 1, vel_col) >= _TOP_FRAC * best:
        hi += 1
    # Weighted least squares of y = rate^(1/3) on x = (t - t_top) / period;
    # the weight rate^(2 - 2/3) undoes the root's compression of the noise.
    t_b = _h(hist, cap, bi, H_TIME)
    s0 = s1 = s2 = s3 = s4 = 0.0
    r0 = r1 = r2 = 0.0
    for i in range(lo, hi + 1):
        v = _h(hist, cap, i, vel_col)
        if not v > 0.0:
            return fallback
        x = (_h(hist, cap, i, H_TIME) - t_b) / period
        y = v ** (1.0 / _BELL_POWER)
        w = v * y  # rate^(4/3) for the cube root, with one power per sample
        s0 += w
        s1 += w * x
        s2 += w * x * x
        s3 += w * x * x * x
        s4 += w * x * x * x * x
        r0 += w * y
        r1 += w * x * y
        r2 += w * x * x * y
    # Cramer's rule on the normal equations of y = c0 + c1 x + c2 x^2.
    det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
    if det == 0.0:
        return fallback
    c0 = (r0 * (s2 * s4 - s3 * s3) - s1 * (r1 * s4 - s3 * r2) + s2 * (r1 * s3 - s2 * r2)) / det
    c1 = (s0 * (r1 * s4 - r2 * s3) - r0 * (s1 * s4 - s3 * s2) + s2 * (s1 * r2 - r1 * s2)) / det
    c2 = (s0 * (s2 * r2 - s3 * r1) - s1 * (s1 * r2 - s2 * r1) + r0 * (s1 * s3 - s2 * s2)) / det
    if not c2 < 0.0:
        return fallback
    x_top = -c1 / (2.0 * c2)
    if x_top < lo - bi - 0.5 or x_top > hi - bi + 0.5:
        return fallback  # the vertex lies beyond the samples fitted
    y_top = c0 - c1 * c1 / (4.0 * c2)
    if not y_top > 0.0:
        return fallback
    # rate = y^3: at the top its second derivative is 3 y^2 (2 c2) per period^2.
    return y_top**_BELL_POWER * (1.0 - _BELL_POWER * c2 / (12.0 * y_top))


# A row's angle step agrees with the Adams-Moulton sum of the rates within
# this (deg) plus this share of it: the tilt pull's nudge in motion and the
# flexion angle's projection of a rotation a little off the axis.
_AM_STEP_TOL_DEG = 0.1
_AM_STEP_TOL_FRAC = 0.1


@njit_borrowed_inline
def _midpoint_angle(hist: np.ndarray, cap: int, k: int, period: float) -> float:
    """The filter's angle half a period after row ``k`` (``_midpoint_peak``), deg."""
    return _h(hist, cap, k, H_THETA) + period * (7.0 * _h(hist, cap, k, H_VEL) - _h(hist, cap, k - 1, H_VEL)) / 12.0


@njit_borrowed
def _midpoint_peak(hist: np.ndarray, cap: int, peak_idx: int, fallback: float) -> float:
    """Peak angle from the angles half a period after each row, which a gyro's samples give exactly, deg.

    A gyro sample is the rate averaged over its period centred on the row
    (``_sampled_peak_rate``), so the angle turned from half a period before
    a row to half a period after it is that sample times the period: the
    angles at the rows' midpoints are exact sums.  The filter's angle at a
    row is the Adams-Moulton sum of the samples, which telescopes to the
    midpoint's angle less ``T (7 w_k - w_{k-1}) / 12``: a smooth rate's
    value at the row, but at a swing's sharp top, where the averaged rate
    jumps between rows, a degree or more off (12.5 Hz ballistic rises:
    +-3 deg per rep on the sampled truth).  The peak is the parabola
    through the top three of the midpoints from row ``peak_idx - 2`` to
    ``peak_idx + 1``; ``fallback`` where a row there was bridged, the rows
    are not evenly spaced, or the top midpoint is at an end of them.
    """
    if peak_idx < 3:
        return fallback
    t0 = _h(hist, cap, peak_idx - 3, H_TIME)
    period = (_h(hist, cap, peak_idx + 1, H_TIME) - t0) / 4.0
    if not period > 0.0:
        return fallback
    for i in range(peak_idx - 3, peak_idx + 2):
        if _h(hist, cap, i, H_FLAG) == H_FLAG_BRIDGED:
            return fallback
        if i > peak_idx - 3:
            step = _h(hist, cap, i, H_TIME) - _h(hist, cap, i - 1, H_TIME)
            if not abs(step - period) <= 0.5 * period:
                return fallback  # a row lost or delayed: the sums' periods are not one
    for k in range(peak_idx - 1, peak_idx + 2):
        # The midpoints assume the rows' angle is the Adams-Moulton sum of
        # these rates; where a step is not (a rate column that is a backward
        # difference of the angle, a re-anchored or redrawn row) the rows'
        # parabola stays.
        am = (
            period
            * (5.0 * _h(hist, cap, k, H_VEL) + 8.0 * _h(hist, cap, k - 1, H_VEL) - _h(hist, cap, k - 2, H_VEL))
            / 12.0
        )
        step = _h(hist, cap, k, H_THETA) - _h(hist, cap, k - 1, H_THETA)
        if not abs(step - am) <= _AM_STEP_TOL_DEG + _AM_STEP_TOL_FRAC * abs(am):
            return fallback
    m0 = _midpoint_angle(hist, cap, peak_idx - 2, period)
    m1 = _midpoint_angle(hist, cap, peak_idx - 1, period)
    m2 = _midpoint_angle(hist, cap, peak_idx, period)
    m3 = _midpoint_angle(hist, cap, peak_idx + 1, period)
    if m1 >= m2:
        if max(m0, m3) > m1:
            return fallback
        _, value = _parabolic(m0, m1, m2)
    else:
        if max(m0, m3) > m2:
            return fallback
        _, value = _parabolic(m1, m2, m3)
    return value


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
    if prm[P_HAS_GYRO] > 0.0 and vel_col == H_VEL:
        # A gyro's samples: the peak of the continuous rate they average.
        vmax = _sampled_peak_rate(hist, cap, low_idx, peak_idx, bi, vel_col, vmax)
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

    peak_deg = theta_p
    if prm[P_HAS_GYRO] > 0.0 and angle_col == H_THETA:
        # The filter's angle at the rows is off at a sharp top; the angles
        # between the rows are the gyro's exact sums (_midpoint_peak).  Only
        # the reported peak and ROM: the levels and times above are the rows'
        # (a level above every row put the 90 % crossing past the peak), and a
        # rep the detector took on the rows' ROM keeps it.
        peak_deg = _midpoint_peak(hist, cap, peak_idx, theta_p)
        if peak_deg - low_val < prm[P_MIN_ROM] and rise >= prm[P_MIN_ROM]:
            peak_deg = theta_p
        rise = peak_deg - low_val
    dur = t_peak - t_start
    row[EV_KIND] = EV_REP
    row[E_START] = t_start
    row[E_PEAK_T] = t_peak
    row[E_END] = t_end
    row[E_PEAK_DEG] = peak_deg
    row[E_ROM] = rise
    row[E_FLEX_T] = t90 - t10
    row[E_PEAK_VEL] = vmax
    row[E_MEAN_VEL] = rise / dur if dur > 0.0 else math.nan
    row[E_HOLD] = hold
    row[E_CONF] = conf
    row[E_LOW_DEG] = low_val

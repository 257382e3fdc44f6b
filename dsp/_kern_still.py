"""Lower bounds on the quiet-window scores of every window a stillest-window search tests, in one pass.

The stillest-window search (:func:`hipflex.dsp.quiet_window._scan_stillest`) wants
the lowest score of ``quiet_window._window_score`` over every window of a rest, and
the first window that has it.  Scoring each window costs its rows (a window
per row over a whole rest: 3 300 rows x 200 took 6 ms per re-bias).  Here
every window gets, in O(1) amortised, a number that its exact score cannot be
below: its mean from running sums, its extremes from monotone deques.  The
search then scores exactly only the windows whose bound does not exceed an
exact score already known, so its answer is the exact scan's, bit for bit: it
is the exact score that decides, never a bound.

A bound is the approximate score less a margin for the rounding of both ways
of computing it (running sums drift with every add and subtract; the exact
score sums each window from its first row).  The margin is a worst case from
the values' largest magnitude and the window lengths (about 1e-12 of the
threshold at 200 Hz); a window whose bound is within it of the best is only
scored, never skipped, so a tie costs time, not the answer.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit

__all__: list[str] = []

# A window's mean gyro rate is its bias estimate; MEMS gyro biases stay within
# a few deg/s, so a mean beyond this is a slow steady turn, not stillness.
_MAX_BIAS_DPS = 20.0
# The gyro's stillness is judged on its running mean over this window, s: a
# noisy gyro's single samples are not a movement (Eurobench subject 03 reads
# up to 9.7 deg/s seated, 3.4 deg/s RMS), while a sway or a fidget lasts longer.
_STILL_AVG_S = 0.1

# A unit roundoff with room: numba's contract/arcp flags may fuse a multiply-add
# (more exact) or turn a division into a multiplication by the reciprocal (an
# extra rounding).
_U = 2.0**-51
# Relative slack for the few rounded operations between the sums and a score.
_REL = 1e-12


@njit
def _row_ok(acc: np.ndarray, gyr: np.ndarray, has_gyro: bool, i: int) -> bool:
    """Row ``i`` has every value it needs (a NaN is a dropout)."""
    if math.isnan(acc[i, 0] + acc[i, 1] + acc[i, 2]):
        return False
    return not (has_gyro and math.isnan(gyr[i, 0] + gyr[i, 1] + gyr[i, 2]))


@njit
def _window_starts(t: np.ndarray, win_s: float, k_first: int, starts: np.ndarray) -> None:
    """First row of the window ending at each row ``k_first..n-1``, as ``_scan_windows`` steps (-1: untested)."""
    n = t.shape[0]
    j0 = 0
    for k in range(k_first, n):
        starts[k - k_first] = -1
        tk = t[k]
        if tk - t[0] >= win_s * 0.95:
            while j0 < k and t[j0 + 1] <= tk - win_s:
                j0 += 1
            if tk - t[j0] >= win_s * 0.95:
                starts[k - k_first] = j0


@njit
def _window_extremes(key: np.ndarray, valid: np.ndarray, lo: np.ndarray, k0: int, ext: np.ndarray) -> None:
    """Largest and smallest ``key`` over the valid rows ``lo[e]..e + k0`` of each window ``e`` with ``lo[e] >= 0``.

    ``ext[0, e]`` gets the largest, ``ext[1, e]`` the smallest; the caller
    ensures such a window has a valid row.  Both ends of the windows only
    move forward, so two monotone deques of rows (largest, smallest key at
    the front) give every window's extremes in one pass.
    """
    rows = key.shape[0]
    dq = np.zeros((2, rows), dtype=np.int64)
    u0 = u1 = d0 = d1 = 0  # each deque holds its rows u0..u1-1 (d0..d1-1)
    hi = 0  # rows before hi were pushed
    for e in range(lo.shape[0]):
        first = lo[e]
        if first < 0:
            continue
        while hi <= e + k0:
            if valid[hi]:
                x = key[hi]
                while u1 > u0 and key[dq[0, u1 - 1]] <= x:
                    u1 -= 1
                dq[0, u1] = hi
                u1 += 1
                while d1 > d0 and key[dq[1, d1 - 1]] >= x:
                    d1 -= 1
                dq[1, d1] = hi
                d1 += 1
            hi += 1
        while dq[0, u0] < first:
            u0 += 1
        while dq[1, d0] < first:
            d0 += 1
        ext[0, e] = key[dq[0, u0]]
        ext[1, e] = key[dq[1, d0]]


@njit
def _lower_bounds(
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
    """Bounds on ``quiet_window._window_score`` of the windows ending at rows ``k_first..n-1``.

    ``starts[k - k_first]`` gets the window's first row (-1 if the scan does
    not test it), ``lower[k - k_first]`` a number its exact score is not below:
    ``inf`` for an untested window and for one the exact score finds unusable
    (too few rows, a gap: decided by the same comparisons it makes).  False
    (nothing filled in that can be used) unless the times are non-decreasing
    without NaN and every value of a valid row is finite.
    """
    n = t.shape[0]
    m = n - k_first
    for i in range(n - 1):
        if not t[i + 1] >= t[i]:
            return False
    _window_starts(t, win_s, k_first, starts)
    for e in range(m):
        lower[e] = math.inf
    e0 = 0
    while e0 < m and starts[e0] < 0:
        e0 += 1
    if e0 == m:
        return True
    lo0 = starts[e0]
    rows = n - lo0
    # Per row (offset lo0), one int64 table (one allocation, one compiled allocator): valid (0/1), the next
    # valid row at or after it, valid rows before it, (valid rows) gaps to the valid row before it so far,
    # the last valid row at or before it, and the first row of the gyro's running mean (_STILL_AVG_S).
    tab = np.zeros((6, rows + 1), dtype=np.int64)
    valid = tab[0]
    next_valid = tab[1]
    n_valid = tab[2]
    n_gaps = tab[3]
    last_valid = tab[4]
    run_first = tab[5]
    a_max = 0.0
    g_max = 0.0
    for r in range(rows):
        i = lo0 + r
        # (learn's _row_ok, inline: a call passing the arrays costs their reference counts per row)
        ok = not math.isnan(acc[i, 0] + acc[i, 1] + acc[i, 2])
        if ok and has_gyro:
            ok = not math.isnan(gyr[i, 0] + gyr[i, 1] + gyr[i, 2])
        if ok:
            valid[r] = 1
            for c in range(3):
                a_max = max(a_max, abs(acc[i, c]))
                if has_gyro:
                    g_max = max(g_max, abs(gyr[i, c]))
    if not (math.isfinite(a_max) and math.isfinite(g_max)):
        return False
    next_valid[rows] = rows
    for r in range(rows - 1, -1, -1):
        next_valid[r] = r if valid[r] else next_valid[r + 1]
    prev = -1
    for r in range(rows):
        gap = 0
        if valid[r]:
            if prev >= 0 and t[lo0 + r] - t[lo0 + prev] > max_gap_s:
                gap = 1
            prev = r
        last_valid[r] = prev
        n_valid[r + 1] = n_valid[r] + valid[r]
        n_gaps[r + 1] = n_gaps[r] + gap
    # The extremes' keys: the acc columns, then the gyro's running means (each summed afresh).
    key = np.zeros((6, rows))
    for r in range(rows):
        for c in range(3):
            key[c, r] = acc[lo0 + r, c]
    run_rows = 1
    if has_gyro:
        p = 0
        for r in range(rows):
            if not valid[r]:
                run_first[r] = p
                continue
            thr = t[lo0 + r] - _STILL_AVG_S
            while t[lo0 + p] <= thr:
                p += 1
            run_first[r] = p
            run_rows = max(run_rows, r - p + 1)
            s0 = s1 = s2 = 0.0
            cnt = 0
            for q in range(p, r + 1):
                if valid[q]:
                    s0 += gyr[lo0 + q, 0]
                    s1 += gyr[lo0 + q, 1]
                    s2 += gyr[lo0 + q, 2]
                    cnt += 1
            key[3, r] = s0 / cnt
            key[4, r] = s1 / cnt
            key[5, r] = s2 / cnt
    win_rows = 1
    for e in range(e0, m):
        if starts[e] >= 0:
            win_rows = max(win_rows, k_first + e - starts[e] + 1)
    # Rounding of a window sum: the exact score's (win_rows adds of partial sums up to win_rows values) and the
    # running sum's (a fresh sum, then at most `limit` adds and subtracts, partial sums of at most win_rows values).
    limit = 4 * win_rows + 64
    sum_err = 2.0 * (limit + 2 * win_rows) * (win_rows + 1) * _U
    # The running mean's: the exact score's runs over the window (2 win_rows operations), this one's is fresh.
    run_err = 2.0 * ((2 * win_rows + run_rows) * (run_rows + 1) + 4) * _U * g_max
    # The windows the exact score can use, and the first row of each window's extremes: the window's own
    # (acc) and that of the running means wholly inside it (gyro; -1 when there is none).
    los = np.zeros((2, m), dtype=np.int64)
    for e in range(m):
        los[0, e] = los[1, e] = -1
    k0 = k_first - lo0
    a = 0  # first row at least _STILL_AVG_S after the window's start
    b = 0  # first row whose running mean starts at or after the window's start
    for e in range(e0, m):
        j = starts[e]
        if j < 0:
            continue
        j -= lo0
        k = k0 + e
        cnt = n_valid[k + 1] - n_valid[j]
        f = next_valid[j]
        if cnt < 10 or t[lo0 + f] - t[lo0 + j] > max_gap_s:
            continue
        if t[lo0 + k] - t[lo0 + last_valid[k]] > max_gap_s or n_gaps[k + 1] - n_gaps[f + 1] > 0:
            continue
        los[0, e] = j
        if has_gyro:
            a = max(a, j)
            while a <= k and not (t[lo0 + a] - t[lo0 + j] >= _STILL_AVG_S):
                a += 1
            while b <= k and run_first[b] < j:
                b += 1
            first = max(a, b)
            if n_valid[k + 1] - n_valid[first] > 0:
                los[1, e] = first
    ext = np.zeros((12, m))
    for q in range(6 if has_gyro else 3):
        _window_extremes(key[q], valid, los[q // 3], k0, ext[2 * q : 2 * q + 2])
    sums = np.zeros(6)
    ops = limit + 1  # seed the sums at the first window
    s_lo = 0  # the sums hold the valid rows s_lo..s_hi-1
    s_hi = 0
    for e in range(e0, m):
        j = los[0, e]
        if j < 0:
            continue
        k = k0 + e
        cnt = n_valid[k + 1] - n_valid[j]
        # Rows leaving (before j) first, then rows entering: a partial sum never holds more than a window.
        pend = (min(j, s_hi) - s_lo) + (k + 1 - max(j, s_hi))
        out_hi = min(j, s_hi)  # rows s_lo..out_hi-1 leave, rows in_lo..k enter
        in_lo = max(j, s_hi)
        if ops + pend > limit:
            for c in range(6):
                sums[c] = 0.0
            out_hi = s_lo
            in_lo = j
            ops = k + 1 - j
        else:
            ops += pend
        # One loop for both: x + -1.0 * y is x - y exactly, fused or not.
        for part in range(2):
            sign = -1.0 if part == 0 else 1.0
            for r in range(s_lo if part == 0 else in_lo, out_hi if part == 0 else k + 1):
                if valid[r]:
                    for c in range(3):
                        sums[c] += sign * acc[lo0 + r, c]
                        if has_gyro:
                            sums[3 + c] += sign * gyr[lo0 + r, c]
        s_lo = j
        s_hi = k + 1
        e_acc = sum_err * a_max / cnt + 4.0 * _U * a_max
        bound = 0.0
        for c in range(3):
            mean = sums[c] / cnt
            d = max(ext[2 * c, e] - mean, mean - ext[2 * c + 1, e])
            bound = max(bound, d / still_acc * (1.0 - _REL) - 2.0 * e_acc / still_acc)
        if has_gyro:
            e_g = sum_err * g_max / cnt + 4.0 * _U * g_max
            m0 = sums[3] / cnt
            m1 = sums[4] / cnt
            m2 = sums[5] / cnt
            norm = math.sqrt(m0 * m0 + m1 * m1 + m2 * m2)
            bound = max(bound, norm / _MAX_BIAS_DPS * (1.0 - _REL) - 4.0 * e_g / _MAX_BIAS_DPS)
            if los[1, e] >= 0:
                for c in range(3):
                    mean = sums[3 + c] / cnt
                    d = max(ext[6 + 2 * c, e] - mean, mean - ext[7 + 2 * c, e])
                    bound = max(bound, d / still_gyr * (1.0 - _REL) - 2.0 * (e_g + run_err) / still_gyr)
        lower[e] = bound if bound == bound else -math.inf
    return True

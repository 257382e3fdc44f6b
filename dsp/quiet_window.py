"""The quiet-window search: where the sensor stood still long enough to calibrate.

A window of ``win_s`` is quiet when every accelerometer sample, and the gyro's
running mean over ``_STILL_AVG_S``, stay within the stillness thresholds of the
window's mean, and its mean rate is no steady turn (``_MAX_BIAS_DPS``).  The
search resumes where it stopped (its state is a small float64 array), so the
outcome does not depend on how the stream was chunked.  :func:`find_quiet_window`
returns the first quiet window (the calibration of :mod:`hipflex.dsp.learn`) or
the stillest of all (the re-bias's rest, the other poses' windows).
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit
from hipflex.dsp._kern_still import _MAX_BIAS_DPS, _STILL_AVG_S, _lower_bounds, _row_ok
from hipflex.dsp.learn import Calibration

__all__ = ["Q_BEST_END", "Q_BEST_SCORE", "Q_N", "Q_SCANNED", "find_quiet_window", "new_quiet_state"]

# Resumable quiet-window search state (float64 slots).
Q_SCANNED = 0  # rows already tested
Q_BEST_SCORE = 1
Q_BEST_END = 2
Q_N = 3


@njit
def _window_score(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    j0: int,
    k: int,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
) -> float:
    """Quietness of rows j0..k: max deviation / threshold (<= 1 is quiet); inf if unusable.

    Each accelerometer sample, and the gyro's running mean over
    ``_STILL_AVG_S``, are compared with the window's mean; the mean gyro rate
    counts against ``_MAX_BIAS_DPS`` (a steady turn is no bias).  The mean's
    magnitude is not tested: a sensor's scale or offset error is the same in
    every still window (Eurobench subject 03 reads 1.31 g at rest), so it can
    neither make a window quiet nor rank one; the filters work in units of the
    gravity the window reads.
    """
    m = np.zeros(6)
    cnt = 0
    # Dropouts at the window's edges count like gaps inside it.
    last_t = t[j0]
    for i in range(j0, k + 1):
        # Rows with NaN values are dropouts: skipped, but the time since the
        # last valid row must stay within the allowed gap.
        if not _row_ok(acc, gyr, has_gyro, i):
            continue
        if t[i] - last_t > max_gap_s:
            return math.inf
        last_t = t[i]
        for c in range(3):
            m[c] += acc[i, c]
            if has_gyro:
                m[3 + c] += gyr[i, c]
        cnt += 1
    if cnt < 10 or t[k] - last_t > max_gap_s:
        return math.inf
    m /= cnt
    worst = 0.0
    if has_gyro:
        worst = math.sqrt(m[3] ** 2 + m[4] ** 2 + m[5] ** 2) / _MAX_BIAS_DPS
    run = np.zeros(3)  # sum of the gyro rows in the running window
    n_run = 0
    p = j0  # first row of the running window
    for i in range(j0, k + 1):
        if not _row_ok(acc, gyr, has_gyro, i):
            continue
        for c in range(3):
            d = abs(acc[i, c] - m[c]) / still_acc
            if d > worst:
                worst = d
        if has_gyro:
            for c in range(3):
                run[c] += gyr[i, c]
            n_run += 1
            while t[p] <= t[i] - _STILL_AVG_S:
                if _row_ok(acc, gyr, has_gyro, p):
                    for c in range(3):
                        run[c] -= gyr[p, c]
                    n_run -= 1
                p += 1
            if t[i] - t[j0] >= _STILL_AVG_S:
                for c in range(3):
                    d = abs(run[c] / n_run - m[3 + c]) / still_gyr
                    if d > worst:
                        worst = d
    return worst


@njit
def _scan_quiet(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
) -> int:
    """Test windows ending at rows ``qs[Q_SCANNED]..n-1``; return the first quiet end row or -1."""
    # bool(True) is a bool to numba, not the literal True: it compiles a called kernel once per literal
    # argument, and _scan_stillest calls _scan_windows with a bool (from Python).
    stop_at_quiet = bool(True)  # noqa: UP018
    return _scan_windows(t, acc, gyr, has_gyro, win_s, still_acc, still_gyr, max_gap_s, qs, stop_at_quiet)


def _scan_stillest(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
) -> None:
    """Score every window ending at rows ``qs[Q_SCANNED]..n-1``, the stillest kept in ``qs``.

    What calling :func:`_scan_quiet` until it returns -1 leaves in ``qs``, in
    one pass: each of those calls would walk the window's start up from row 0
    again (quadratic in a long rest's rows).  Scoring every window costs its
    rows each (6 ms for a 17 s rest at 200 Hz), so only the windows whose
    lower bound (:func:`hipflex.dsp._kern_still._lower_bounds`, one pass)
    does not exceed a score known to be reached are scored
    (:func:`_score_below`); where the bounds do not apply, every window.

    Called from Python, not a kernel calling the other two: numba re-optimises
    every kernel a kernel calls inside the caller's own compile, and the bounds
    are the largest of them (a first run's compile, ``benchmarks/README.md``).
    """
    n = t.shape[0]
    k_first = int(qs[Q_SCANNED])
    m = max(0, n - k_first)
    starts = np.empty(m, dtype=np.int64)
    lower = np.empty(m)
    args = (t, acc, gyr, has_gyro, win_s, still_acc, still_gyr, max_gap_s)
    if m > 0 and _lower_bounds(*args, k_first, starts, lower):
        _score_below(t, acc, gyr, has_gyro, still_acc, still_gyr, max_gap_s, qs, starts, lower)
    else:
        _scan_windows(*args, qs, False)


@njit
def _score_below(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
    starts: np.ndarray,
    lower: np.ndarray,
) -> None:
    """Score the windows ending at rows ``qs[Q_SCANNED]..n-1`` that ``lower`` says can beat the best, in row order.

    ``starts`` and ``lower`` are :func:`hipflex.dsp._kern_still._lower_bounds`'s;
    the windows are kept as the full scan keeps them, so the result is the full
    scan's.
    """
    n = t.shape[0]
    k_first = int(qs[Q_SCANNED])
    m = lower.shape[0]
    # The window with the lowest bound (the first such, as np.argmin finds it: a
    # loop compiles faster), scored: no window scoring above it (or above the
    # best so far) can be the stillest.
    e = 0
    for i in range(1, m):
        if lower[i] < lower[e]:
            e = i
    cap = qs[Q_BEST_SCORE]
    if lower[e] < math.inf:
        cap = min(cap, _window_score(t, acc, gyr, has_gyro, starts[e], k_first + e, still_acc, still_gyr, max_gap_s))
    for e in range(m):
        if lower[e] <= cap and lower[e] < math.inf:  # (inf: a window the scan does not test, or unusable)
            sc = _window_score(t, acc, gyr, has_gyro, starts[e], k_first + e, still_acc, still_gyr, max_gap_s)
            if sc < qs[Q_BEST_SCORE]:
                qs[Q_BEST_SCORE] = sc
                qs[Q_BEST_END] = k_first + e
    qs[Q_SCANNED] = n


@njit
def _scan_windows(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    win_s: float,
    still_acc: float,
    still_gyr: float,
    max_gap_s: float,
    qs: np.ndarray,
    stop_at_quiet: bool,
) -> int:
    """The scan of :func:`_scan_quiet` (``stop_at_quiet``) and :func:`_scan_stillest` (not)."""
    n = t.shape[0]
    k = int(qs[Q_SCANNED])
    j0 = 0
    while k < n:
        tk = t[k]
        if not math.isnan(tk) and tk - t[0] >= win_s * 0.95:
            while j0 < k and t[j0 + 1] <= tk - win_s:
                j0 += 1
            if tk - t[j0] >= win_s * 0.95:
                sc = _window_score(t, acc, gyr, has_gyro, j0, k, still_acc, still_gyr, max_gap_s)
                if sc < qs[Q_BEST_SCORE]:
                    qs[Q_BEST_SCORE] = sc
                    qs[Q_BEST_END] = k
                if sc <= 1.0 and stop_at_quiet:
                    qs[Q_SCANNED] = k + 1
                    return k
        k += 1
    qs[Q_SCANNED] = n
    return -1


def find_quiet_window(
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray | None,
    win_s: float,
    still_acc_g: float,
    still_gyr_dps: float,
    max_gap_s: float,
    qstate: np.ndarray,
    force: bool,
    period_s: float | None = None,
    stillest: bool = False,
) -> Calibration | None:
    """Continue the search for the first quiet standing window.

    Parameters
    ----------
    time_s, acc_g, gyr_dps : ndarray, shapes (n,), (n, 3), (n, 3) or None
        Every row buffered so far (the search resumes at ``qstate``).
    max_gap_s : float
        Longest gap (lost packets) allowed inside the window, s.
    qstate : ndarray, shape (3,)
        Search progress, updated in place; start from :func:`new_quiet_state`.
    force : bool
        If no quiet window exists, fall back to the quietest window seen.
    period_s : float, optional
        The sample period, s (the pipeline's timeline estimates it from many
        rows).  If omitted, the median interval of the rows given.
    stillest : bool
        Score every window left and return the stillest of all seen (as a
        forced search does, reported as not quiet), not the first quiet one.

    Returns
    -------
    Calibration or None
        None while no window has been found (and ``force`` is false).
    """
    has_gyro = gyr_dps is not None
    gyr = gyr_dps if gyr_dps is not None else np.zeros((0, 3))
    # A gap is the time lost, as the main loop counts it: the step between the
    # rows around it less one sample period (one value for the whole stream,
    # so that every call of a growing buffer uses the same one).
    if period_s is None:
        period_s = float(np.median(np.diff(time_s))) if time_s.shape[0] > 1 else 0.0
    period = min(period_s, 0.1) if period_s > 0.0 else 0.0
    args = (time_s, acc_g, gyr, has_gyro, win_s, still_acc_g, still_gyr_dps, max_gap_s + period, qstate)
    end = -1
    if stillest:
        _scan_stillest(*args)
    else:
        end = _scan_quiet(*args)
    quiet = end >= 0
    if not quiet:
        if not (force or stillest) or not np.isfinite(qstate[Q_BEST_SCORE]):
            return None
        end = int(qstate[Q_BEST_END])
    start = int(np.searchsorted(time_s, time_s[end] - win_s, side="right"))
    start = max(0, min(start, end))
    seg_a = acc_g[start : end + 1]
    ok = ~np.isnan(seg_a).any(axis=1)
    if gyr_dps is not None:
        ok &= ~np.isnan(gyr_dps[start : end + 1]).any(axis=1)
    seg_a = seg_a[ok]
    if seg_a.shape[0] < 2 or not np.linalg.norm(seg_a.mean(axis=0)) > 0.0:
        # No gravity to stand on (an accelerometer reading zeros, or nothing
        # measured): no calibration, hence no angle and no reps.
        return None
    mean_a = seg_a.mean(axis=0)
    up = mean_a / np.linalg.norm(mean_a)
    bias = gyr_dps[start : end + 1][ok].mean(axis=0) if gyr_dps is not None else np.zeros(3, dtype=np.float64)
    dts = np.diff(time_s[start : end + 1][ok])
    period = float(np.median(dts))
    gravity = float(np.linalg.norm(mean_a))
    return Calibration(start, end, up, np.ascontiguousarray(bias, dtype=np.float64), period, quiet, gravity)


def new_quiet_state() -> np.ndarray:
    """Fresh quiet-window search state."""
    qs = np.zeros(Q_N)
    qs[Q_BEST_SCORE] = np.inf
    qs[Q_BEST_END] = -1
    return qs

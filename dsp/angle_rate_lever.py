"""The lever sums without a gyro: ``|a|^2`` against the squared rate of the accelerometer-only angle.

With a gyro, :mod:`hipflex.dsp.lever_sums` regresses ``|a|^2`` on ``|w|^2``
over a set: the centripetal acceleration ``w^2 L`` towards the pivot adds
``2 w^2 L (g . e_pivot)`` to ``|a|^2``, positive when the thigh hangs below
the hip (standing, all fours), negative when it is lifted against gravity
from lying.  Without a gyro the same physics is in the accelerometer; only
``w`` is missing, and the analysis' own angle supplies it: its rate is the
thigh's working rate (off the flexion plane the pendulum filter misreads
the angle's size and timing, but not that the thigh turns).  Fed as a
one-axis "gyro" into the same per-second sums, a set's fit reads as the
gyro's does.  Tuning seeds 0-7, pipeline angle: side-lying raises slope
-0.010..+0.002 against side lunges -0.001..+0.037 (5-95 %), standing drills
+0.02..+0.36; raises on the back and face down +-0.02, with effects under
the accelerometer-scale floor (``_LEVER_MIN_EFFECT_G2``), so they tell little.

The rate is a backward difference from the row before, kept across chunks
(``RateLast``), so any chunking gives the same sums; rows not after the last
one summed (the kept rows a recalibration runs again) are skipped, so no row
counts twice.  Read only to describe sets, never by the counting.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp.lever_sums import (
    _B_A2,
    _B_A4,
    _B_COLS,
    _B_IDX,
    _B_N,
    _B_W2,
    _B_W2A2,
    _B_W4,
    LeverBlocks,
    _block_starts,
    _merged,
)

__all__ = ["MAX_RATE_DPS", "RateLast", "accumulate_angle_rate"]

#: Fastest rate taken as the thigh's, deg/s: a sprinting thigh swings at up to ~1000 deg/s; a faster step
#: is the angle re-anchored after a gap or a re-lock (a mixed session's 30-deg steps between sets, tuning
#: seeds: one such row outweighed a whole set's reps and read every set as slope 0).
MAX_RATE_DPS = 1500.0


class RateLast(NamedTuple):
    """The last row summed: its time (s) and angle (deg); ``-inf`` / NaN before the first."""

    time_s: float = -math.inf
    angle_deg: float = math.nan


def accumulate_angle_rate(
    blocks: LeverBlocks, last: RateLast, time_s: np.ndarray, acc_g: np.ndarray, angle_deg: np.ndarray
) -> tuple[LeverBlocks, RateLast]:
    """Add rows to the lever sums with the angle's rate (deg/s) as the angular rate.

    Parameters
    ----------
    blocks : LeverBlocks
        Sums so far (not modified).
    last : RateLast
        The last row summed before these.
    time_s : ndarray, shape (n,)
        Row times, s (non-decreasing).
    acc_g : ndarray, shape (n, 3)
        Specific force, g.
    angle_deg : ndarray, shape (n,)
        The analysis' angle of each row, deg (NaN for a dropped row: its rate
        and the next row's are NaN, and the sums skip them).

    Returns
    -------
    tuple of (LeverBlocks, RateLast)
        The sums with the new rows' added, and the last row summed.
    """
    # Times are non-decreasing: the rows after the last one summed are a tail (a binary search, not a pass).
    first = int(np.searchsorted(time_s, last.time_s, side="right"))
    if first >= time_s.size:
        return blocks, last
    t = np.ascontiguousarray(time_s[first:], dtype=np.float64)
    if not (math.isfinite(t[0]) and math.isfinite(t[-1])):
        raise ValueError("accumulate_angle_rate needs finite, sorted times")
    th = np.ascontiguousarray(angle_deg[first:], dtype=np.float64)
    k, starts = _block_starts(t)
    out = np.empty((k.size, _B_COLS))
    out[:, _B_IDX] = k
    # The rate computed row by row inside the sums (this runs over every accelerometer-only row: a
    # three-column "gyro" and the numpy passes that filled it cost 15 ms per 1.17 M rows).
    _rate_block_sums(
        t, th, last.time_s, last.angle_deg, np.ascontiguousarray(acc_g[first:], dtype=np.float64), starts, out
    )
    return _merged(blocks, out), RateLast(float(t[-1]), float(th[-1]))


@njit_borrowed_inline
def _capped(r: float) -> float:
    """The rate ``r`` (deg/s), or NaN beyond ``MAX_RATE_DPS``: a step no thigh turns at is the angle re-anchored."""
    return r if abs(r) <= MAX_RATE_DPS else math.nan


@njit_borrowed
def _rate_block_sums(
    t: np.ndarray, th: np.ndarray, last_t: float, last_th: float, acc: np.ndarray, starts: np.ndarray, out: np.ndarray
) -> None:
    """``lever_sums._lever_block_sums`` with the angle's rate as a one-axis gyro: ``|w|^2`` is the rate squared.

    The same sums in the same order (two interleaved sets, the odd row, a
    non-finite block summed again row by row), so the blocks are bit for bit
    those of the rate written into a gyro column ``(rate, 0, 0)`` and summed
    there (``r*r + 0 + 0`` is ``r*r``).  The rate is the backward difference
    from the row before (``last_t, last_th`` before row 0; NaN before a
    start, so such a row is skipped), carried from row to row rather than
    chosen per row: one division per row, no test of the row's index (the
    first run's compile: each copy of that choice was compiled).  Twin:
    ``tests/naive.py:rate_block_sums``.
    """
    d2r2 = (math.pi / 180.0) ** 2
    for j in range(out.shape[0]):
        lo, hi = starts[j], starts[j + 1]
        t0 = last_t if lo == 0 else t[lo - 1]  # the row before the block's first
        th0 = last_th if lo == 0 else th[lo - 1]
        pt, pth = t0, th0
        sw = sa = sww = swa = saa = 0.0
        sw1 = sa1 = sww1 = swa1 = saa1 = 0.0
        for i in range(lo, hi - 1, 2):
            r = _capped((th[i] - pth) / (t[i] - pt))  # equal stamps give an infinite or NaN rate, dropped
            v = _capped((th[i + 1] - th[i]) / (t[i + 1] - t[i]))
            pt, pth = t[i + 1], th[i + 1]
            w2 = r * r
            a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
            v2 = v * v
            b2 = acc[i + 1, 0] * acc[i + 1, 0] + acc[i + 1, 1] * acc[i + 1, 1] + acc[i + 1, 2] * acc[i + 1, 2]
            sw += w2
            sa += a2
            sww += w2 * w2
            swa += w2 * a2
            saa += a2 * a2
            sw1 += v2
            sa1 += b2
            sww1 += v2 * v2
            swa1 += v2 * b2
            saa1 += b2 * b2
        if (hi - lo) % 2:
            i = hi - 1
            r = _capped((th[i] - pth) / (t[i] - pt))
            w2 = r * r
            a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
            sw += w2
            sa += a2
            sww += w2 * w2
            swa += w2 * a2
            saa += a2 * a2
        sw, sa, sww, swa, saa = sw + sw1, sa + sa1, sww + sww1, swa + swa1, saa + saa1
        n = float(hi - lo)
        if not (math.isfinite(sw) and math.isfinite(sa)):
            n = sw = sa = sww = swa = saa = 0.0
            pt, pth = t0, th0
            for i in range(lo, hi):
                r = _capped((th[i] - pth) / (t[i] - pt))
                pt, pth = t[i], th[i]
                w2 = r * r
                a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
                if math.isfinite(w2) and math.isfinite(a2):
                    n += 1.0
                    sw += w2
                    sa += a2
                    sww += w2 * w2
                    swa += w2 * a2
                    saa += a2 * a2
        out[j, _B_N] = n
        out[j, _B_W2] = sw * d2r2
        out[j, _B_A2] = sa
        out[j, _B_W4] = sww * (d2r2 * d2r2)
        out[j, _B_W2A2] = swa * d2r2
        out[j, _B_A4] = saa

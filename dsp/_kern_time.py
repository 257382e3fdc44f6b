"""The timeline: input stamps -> one regular grid of sample times, lost rows counted.

A sensor samples at a fixed rate; what arrives are stamps that may jitter
around the sampling instants (up to nearly half a period), arrive in bursts
(a phone stamps a notification's 10-70 rows on arrival: near-equal stamps,
then a jump), drift against the host clock, or miss rows (lost packets).  The
kernel puts every row on a grid ``L + phase`` where the line ``L`` advances by
the period ``P`` per row (by ``(1 + m) P`` after ``m`` lost rows), so the core
downstream sees one clean time base whatever the stamping.

Everything is estimated from the stamps over many rows:

- the period is the slope of the stamps' lower envelope against the grid
  index (rows per unit time over up to ``_RING_BLOCKS`` blocks of rows, lost
  rows included: the median slope from each block's envelope point to the
  newest), re-estimated after every block, so clock drift is tracked;
- the offsets ``u = stamp - L`` are summarised per block of ``_BLOCK`` rows:
  their minimum (the envelope; a burst's last row, jitter's lower edge) and
  spread (max - min: the burst length or the jitter band);
- a row is late by lost rows only when its offset is whole periods beyond
  where the measured spread expects it (the middle of a jitter band, the top
  of a burst's) plus the envelope's noise (never "one late row = a gap");
  a loss hidden inside the spread (inside a burst) shows as the next block's
  envelope rising by at least half a period: it is counted then, and the
  phase takes the time up (no gap at a place nobody knows);
- the phase follows the envelope plus half the spread (at most half a
  period): the centre of a jitter band, just after a burst's last stamp.

Each output depends only on the rows before it and the state, so any
chunking gives the same times.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit
from hipflex.dsp._layout import (
    T_BLOCK,
    T_CUR_MAX,
    T_CUR_MIN,
    T_CUR_MIN_IDX,
    T_CUR_MIN_T,
    T_CUR_N,
    T_E1,
    T_E2,
    T_ENV_NOISE,
    T_IDX,
    T_LATE_S,
    T_LINE,
    T_LOST_S,
    T_N,
    T_NBLK,
    T_P,
    T_PHASE,
    T_PREV_U,
    T_RING,
    T_RING_N,
    T_ROWS,
    T_S1,
    T_S2,
    T_S3,
    T_S4,
    T_SPREAD,
)

__all__: list[str] = []

# Rows per block of offset statistics with unbursty stamps; bursty stamps get
# blocks of about _BLOCK_NOTIFY notifications (up to _BLOCK_MAX rows), so every
# block's envelope is the fastest of several arrivals.
_BLOCK = 128
_BLOCK_NOTIFY = 8
_BLOCK_MAX = 1024
# The period is the envelope's slope over up to this many blocks.
_RING_BLOCKS = T_RING_N
# The phase moves this fraction of the way to its target per row, and never
# more than _PHASE_STEP of a period (the grid stays strictly increasing).
_PHASE_GAIN = 0.05
_PHASE_STEP = 0.02
# A loss found only from a block's envelope of up to this many rows is taken
# up by the phase (no gap at a place nobody knows); more makes the grid jump.
_LATE_ABSORB_ROWS = 2
# Stamps within this fraction of a period of their grid time are kept as they are.
_SNAP = 1e-3
# A row (or a block's envelope) must be this many periods beyond what the
# stamping explains before rows count as lost: half a period, the rounding
# point of a whole row ...
_LOSS_MARGIN = 0.5
# ... plus this many times the envelope's own block-to-block noise (arrival
# latency that varies from notification to notification).
_ENV_NOISE_K = 2.0
# The envelope noise is a running mean over the first blocks, then an
# exponential average with this gain; one block's change counts at most a
# period (a loss it contains is not noise).
_ENV_NOISE_GAIN = 0.1


def block_rows(period_s: float, spread_s: float) -> int:
    """Rows per block for stamps with this spread: ``_BLOCK``, or several notifications of bursty stamps."""
    if not spread_s > 2.0 * period_s:
        return _BLOCK
    want = _BLOCK_NOTIFY * (spread_s / period_s + 1.0)
    return int(min(_BLOCK_MAX, max(_BLOCK, 2 ** math.ceil(math.log2(want)))))


def new_timeline(
    period_s: float, spread_s: float = math.inf, rows: int = _BLOCK, noise_s: float = 0.0, envelope_s: float = math.inf
) -> np.ndarray:
    """Fresh timeline state.

    Parameters
    ----------
    period_s : float
        Bootstrapped period, s.
    spread_s : float
        Spread of the stamps around the envelope, s (inf: unknown, no loss is
        judged row by row until a block has measured it).
    rows : int
        Rows per block.
    noise_s : float
        Block-to-block noise of the envelope, s.
    envelope_s : float
        Lowest offset of the first rows' stamps from the line that starts at
        the first stamp, s (inf: unknown).  With arrival-time bursts the first
        row is stamped a whole notification late; this puts the grid, from
        the first row on, where the stamps' envelope says.
    """
    ts = np.zeros(T_N)
    ts[T_P] = period_s
    ts[T_CUR_MIN] = math.inf
    ts[T_CUR_MAX] = -math.inf
    ts[T_E1] = envelope_s
    ts[T_E2] = math.inf
    for j in (T_S1, T_S2, T_S3, T_S4):
        ts[j] = spread_s
    ts[T_BLOCK] = rows
    ts[T_SPREAD] = spread_s
    ts[T_ENV_NOISE] = noise_s
    return ts


@njit
def _sort_head(v: np.ndarray, n: int) -> None:
    """Sort ``v[:n]`` in place, ascending (an insertion sort: ``n`` is at most the ring's size).

    Instead of ``np.sort`` and ``np.median``: numba compiles those generically
    (quicksort, quickselect), 2.6 s of CPU of the first run's compile for
    arrays of at most 32 values (benchmarks/README.md, "The first run").  Both
    give the same order statistics for values that are not NaN.
    """
    for i in range(1, n):
        x = v[i]
        j = i - 1
        while j >= 0 and v[j] > x:
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = x


@njit
def _median_head(v: np.ndarray, n: int) -> float:
    """The median of ``v[:n]`` (``n`` >= 1), as ``np.median`` gives it; ``v`` is not reordered.

    Each value's rank is counted against all ``n`` (less than it, at most
    it), in their order, until the middle one or two are found (the value
    whose ranks span the middle index): no data-dependent branch in the
    counting, where an insertion sort of the timeline's ~31 slopes (random
    order: ~240 moves, a mispredicted exit per value) cost about a third of
    the re-timing.  Values that are not NaN: an order statistic is the same
    value however it is found.
    """
    hi = n >> 1
    lo = hi - 1 + (n & 1)  # odd n: the same middle index
    a = v[0]
    b = v[0]
    found = 0
    for i in range(n):
        x = v[i]
        lt = 0
        le = 0
        for j in range(n):
            lt += v[j] < x
            le += v[j] <= x
        if lt <= lo < le:
            a = x
            found |= 1
        if lt <= hi < le:
            b = x
            found |= 2
        if found == 3:
            break
    if n & 1:
        return b
    return (a + b) / 2


@njit
def _spread(ts: np.ndarray) -> float:
    """The stamps' spread a row may sit in above the envelope, s (inf before any is known).

    From the last four blocks' spreads: the second largest (a block that
    holds a loss it did not see has its spread inflated by the step),
    widened by how much the blocks differ (notifications of varying size:
    the next may be longer than any seen).  Before any block, the current
    one's.
    """
    v = np.empty(4)
    n = 0
    for j in (T_S1, T_S2, T_S3, T_S4):
        if ts[j] < math.inf:
            v[n] = ts[j]
            n += 1
    if n == 0:
        if ts[T_CUR_N] > 0.0:
            return ts[T_CUR_MAX] - ts[T_CUR_MIN]
        return math.inf
    _sort_head(v, int(n))  # int(): numba types n as the literal 0 here, a second compile
    if n >= 3:
        return 2.0 * v[n - 2] - v[0]
    return v[0]


@njit
def _spread_centre(spread: float, p: float) -> float:
    """Where in the spread a row is expected, s (a row half a period past it is a row late).

    Jitter narrower than a period puts a row anywhere in the band ``[0, S]``
    and a row after one lost row in ``[P, P + S]``; the boundary is put three
    quarters of the way across the free space between them, since a missed
    loss is found a block later while a false one is never undone.  A
    burst's first row (the one after a jump) sits at the top of the band, so
    there only what is half a period beyond the top counts.  Between one and
    two periods the two blend continuously.
    """
    if spread <= p:
        return 0.25 * (spread + p)
    return spread - 0.5 * p * max(0.0, 2.0 - spread / p)


@njit
def _bootstrap_period(t: np.ndarray, idx: np.ndarray) -> float:
    """Period from the stamps' lower envelope over rows ``t`` at grid indices ``idx`` (s); 0 if no time passes.

    Every stamp is the sampling instant plus a delay that is never negative
    for arrival-time stamps (and bounded below for jitter), so the line
    under all points (row, stamp) that hugs them closest -- the lower convex
    hull's edge above the middle row -- has the sampling period as its slope
    (the clock-skew estimate of the linear-programming kind).  It rests on
    the least-delayed stamps, a whole span apart, not on one or two rows.
    Rows lost within the span make it slightly long; the running estimate
    then corrects it.
    """
    n = t.shape[0]
    if n < 2 or not t[n - 1] > t[0]:
        return 0.0
    crude = (t[n - 1] - t[0]) / (idx[n - 1] - idx[0])
    if n < 4:
        return crude
    hull = np.empty(n, dtype=np.int64)
    h = 0
    for i in range(n):
        while h >= 2:
            a = hull[h - 2]
            b = hull[h - 1]
            # Keep only left turns: drop b when it lies on or above the chord a-i.
            if (idx[b] - idx[a]) * (t[i] - t[a]) - (t[b] - t[a]) * (idx[i] - idx[a]) <= 0.0:
                h -= 1
            else:
                break
        hull[h] = i
        h += 1
    mid = 0.5 * (idx[0] + idx[n - 1])
    for j in range(h - 1):
        if idx[hull[j + 1]] >= mid:
            p = (t[hull[j + 1]] - t[hull[j]]) / (idx[hull[j + 1]] - idx[hull[j]])
            return p if p > 0.0 else crude
    return crude


@njit
def _retime(ts: np.ndarray, t_in: np.ndarray, t_out: np.ndarray) -> None:
    """Re-time rows ``t_in`` (non-decreasing, s) onto the grid; write ``t_out``; update ``ts``.

    The per-row state is held in local variables, written back to ``ts`` at a
    block's end (for what reads it there) and on return: read and written
    through ``ts`` on every row it was a chain of stores and loads the
    compiler could not keep in registers (``t_out`` might alias ``ts``).  The
    same operations in the same order: the same results to the bit.
    """
    n = t_in.shape[0]
    p = ts[T_P]
    rows = ts[T_ROWS]
    line = ts[T_LINE]
    idx = ts[T_IDX]
    phase = ts[T_PHASE]
    spread = ts[T_SPREAD]
    e1 = ts[T_E1]
    env_noise = ts[T_ENV_NOISE]
    prev_u = ts[T_PREV_U]
    cur_min = ts[T_CUR_MIN]
    cur_min_idx = ts[T_CUR_MIN_IDX]
    cur_min_t = ts[T_CUR_MIN_T]
    cur_max = ts[T_CUR_MAX]
    cur_n = ts[T_CUR_N]
    lost_s = ts[T_LOST_S]
    block = ts[T_BLOCK]
    slopes = np.empty(_RING_BLOCKS)  # scratch for the period's median, allocated once per call
    for k in range(n):
        t = t_in[k]
        if rows == 0.0:
            line = t
            idx = 0.0
            phase = 0.0
        else:
            line = line + p
            idx = idx + 1.0
        u = t - line
        env = min(e1, cur_min)
        # A loss is a step: the row must also be at least half a period later
        # than the row before it says (a clock slewing 2 % per row is no loss).
        if spread < math.inf and env < math.inf and u - prev_u > _LOSS_MARGIN * p:
            # Lost rows: later than the envelope by more than the spread the
            # stamping showed in the recent blocks and the envelope's noise.
            m = math.floor((u - env - _spread_centre(spread, p) - _ENV_NOISE_K * env_noise) / p + _LOSS_MARGIN)
            if m >= 1:
                line += m * p
                idx += m
                u -= m * p
                lost_s += m * p
        prev_u = u
        if u < cur_min:
            cur_min = u
            cur_min_idx = idx
            cur_min_t = t
        if u > cur_max:
            cur_max = u
        cur_n += 1.0
        # Phase target: the envelope plus half the spread, at most half a period.
        env = min(e1, cur_min)
        sp = spread
        if sp == math.inf:  # no block measured yet: the current one's range
            sp = cur_max - cur_min
        target = env + 0.5 * min(sp, p)
        if rows == 0.0:
            phase = target
        else:
            dphi = _PHASE_GAIN * (target - phase)
            lim = _PHASE_STEP * p
            phase += min(lim, max(-lim, dphi))
        out = line + phase
        if abs(t - out) <= _SNAP * p:
            # A stamp on the grid (up to how files round their times) is kept
            # as it is: clean recordings reach the core unchanged.
            out = t
        t_out[k] = out
        if cur_n >= block:
            e_new = cur_min
            s_new = cur_max - cur_min
            min_idx = cur_min_idx
            if e1 < math.inf:
                # A loss hidden inside the spread: the whole block sits later.
                # Where in the block the rows went is unknown, so they are
                # counted (grid index, lost time) but no gap is put here: a
                # bridge at the wrong place would add rotation that never
                # happened.  The envelope stays raised and the phase takes
                # the time up over the next rows.
                noise = env_noise
                m = math.floor((e_new - e1 - _ENV_NOISE_K * noise) / p + _LOSS_MARGIN)
                resid = e_new - e1
                if m > _LATE_ABSORB_ROWS:
                    # Too much time for the phase to take up: the grid jumps.
                    line += m * p
                    e_new -= m * p
                if m >= 1:
                    idx += m
                    min_idx += m
                    resid -= m * p
                    lost_s += m * p
                    if m <= _LATE_ABSORB_ROWS:
                        ts[T_LATE_S] += m * p
                g = max(_ENV_NOISE_GAIN, 1.0 / ts[T_NBLK]) if ts[T_NBLK] >= 1.0 else 1.0
                env_noise = noise + g * (min(abs(resid), 0.5 * p) - noise)
            j = int(ts[T_NBLK]) % _RING_BLOCKS
            ts[T_RING + 2 * j] = min_idx
            ts[T_RING + 2 * j + 1] = cur_min_t
            ts[T_NBLK] += 1.0
            ts[T_E2] = e1
            ts[T_S4] = ts[T_S3]
            ts[T_S3] = ts[T_S2]
            ts[T_S2] = ts[T_S1]
            e1 = e_new
            ts[T_E1] = e1
            ts[T_S1] = s_new
            # _spread reads the current block's range when no block has one.
            ts[T_CUR_N] = cur_n
            ts[T_CUR_MIN] = cur_min
            ts[T_CUR_MAX] = cur_max
            spread = _spread(ts)
            cur_n = 0.0
            cur_min = math.inf
            cur_max = -math.inf
            # The period: the median slope from each older envelope point in
            # the ring to the newest (long baselines average the arrival
            # latency out; a loss found late biases only the spans across it).
            nb = int(ts[T_NBLK])
            if nb >= 2:
                kk = min(nb, _RING_BLOCKS)
                for q in range(kk - 1):
                    a = (nb - kk + q) % _RING_BLOCKS
                    slopes[q] = (cur_min_t - ts[T_RING + 2 * a + 1]) / max(1.0, min_idx - ts[T_RING + 2 * a])
                p = _median_head(slopes, kk - 1)
        rows += 1.0
    ts[T_P] = p
    ts[T_ROWS] = rows
    ts[T_LINE] = line
    ts[T_IDX] = idx
    ts[T_PHASE] = phase
    ts[T_SPREAD] = spread
    ts[T_E1] = e1
    ts[T_ENV_NOISE] = env_noise
    ts[T_PREV_U] = prev_u
    ts[T_CUR_MIN] = cur_min
    ts[T_CUR_MIN_IDX] = cur_min_idx
    ts[T_CUR_MIN_T] = cur_min_t
    ts[T_CUR_MAX] = cur_max
    ts[T_CUR_N] = cur_n
    ts[T_LOST_S] = lost_s

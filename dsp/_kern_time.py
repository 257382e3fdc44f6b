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
  rows included), re-estimated after every block, so clock drift is tracked;
- the offsets ``u = stamp - L`` are summarised per block of ``_BLOCK`` rows:
  their minimum (the envelope; a burst's last row, jitter's lower edge) and
  spread (max - min: the burst length or the jitter band);
- a row is late by lost rows only when its offset exceeds the envelope by more
  than the measured spread plus half a period (never "one late row = a gap");
  a loss hidden inside the spread (inside a burst) shows as the next block's
  envelope rising by at least half a period, and is counted then;
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
    T_CUR_MAX,
    T_CUR_MIN,
    T_CUR_MIN_IDX,
    T_CUR_MIN_T,
    T_CUR_N,
    T_E1,
    T_E2,
    T_IDX,
    T_LINE,
    T_LOST_S,
    T_N,
    T_NBLK,
    T_P,
    T_PHASE,
    T_RING,
    T_RING_N,
    T_ROWS,
    T_S1,
    T_S2,
)

__all__: list[str] = []

# Rows per block of offset statistics: longer than the longest notification a
# phone stamps at once (about 70 rows), so every block holds a burst's end.
_BLOCK = 128
# The period is the envelope's slope over up to this many blocks (4096 rows).
_RING_BLOCKS = T_RING_N
# The phase moves this fraction of the way to its target per row, and never
# more than _PHASE_STEP of a period (the grid stays strictly increasing).
_PHASE_GAIN = 0.05
_PHASE_STEP = 0.25
# A row (or a block's envelope) must be this many periods beyond what the
# stamping explains before rows count as lost: half a period, the rounding
# point of a whole row.
_LOSS_MARGIN = 0.5


def new_timeline(period_s: float, spread_s: float = math.inf) -> np.ndarray:
    """Fresh timeline state for a bootstrapped period and stamp spread, s (inf: unknown)."""
    ts = np.zeros(T_N)
    ts[T_P] = period_s
    ts[T_CUR_MIN] = math.inf
    ts[T_CUR_MAX] = -math.inf
    ts[T_E1] = math.inf
    ts[T_E2] = math.inf
    ts[T_S1] = spread_s
    ts[T_S2] = spread_s
    return ts


@njit
def _spread(ts: np.ndarray) -> float:
    """The stamps' spread: the smaller of the last two blocks' (inf before any is known)."""
    s = min(ts[T_S1], ts[T_S2])
    if s < math.inf:
        return s
    if ts[T_CUR_N] > 0.0:
        return ts[T_CUR_MAX] - ts[T_CUR_MIN]
    return math.inf


@njit
def _bootstrap_period(t: np.ndarray) -> float:
    """Period from the stamps' lower envelope over rows ``t`` (s); 0 if they span no time.

    The crude rate (span / rows) is refined by the line through the lowest
    offset in each half of the rows: both are the same phase of the stamping
    (a burst's last row, jitter's lower edge), so the slope between them is
    the sampling period, unbiased by where the span happened to start or end.
    Rows lost between the two points make it slightly long; the running
    estimate then corrects it.
    """
    n = t.shape[0]
    if n < 2 or not t[n - 1] > t[0]:
        return 0.0
    crude = (t[n - 1] - t[0]) / (n - 1)
    if n < 4:
        return crude
    h = n // 2
    i1 = 0
    i2 = h
    for i in range(n):
        u = t[i] - crude * i
        if i < h:
            if u < t[i1] - crude * i1:
                i1 = i
        elif u < t[i2] - crude * i2:
            i2 = i
    p = (t[i2] - t[i1]) / (i2 - i1)
    return p if p > 0.0 else crude


@njit
def _retime(ts: np.ndarray, t_in: np.ndarray, t_out: np.ndarray) -> None:
    """Re-time rows ``t_in`` (non-decreasing, s) onto the grid; write ``t_out``; update ``ts``."""
    n = t_in.shape[0]
    for k in range(n):
        t = t_in[k]
        p = ts[T_P]
        if ts[T_ROWS] == 0.0:
            line = t
            idx = 0.0
            ts[T_PHASE] = 0.0
        else:
            line = ts[T_LINE] + p
            idx = ts[T_IDX] + 1.0
        u = t - line
        spread = min(ts[T_S1], ts[T_S2])
        if spread < math.inf:
            # Lost rows: later than the envelope by more than the spread the
            # stamping showed in both recent blocks (a lossy block's own spread
            # is inflated by the step it contains).
            env = min(ts[T_E1], ts[T_CUR_MIN])
            m = math.floor((u - env - spread) / p + _LOSS_MARGIN)
            if m >= 1:
                line += m * p
                idx += m
                u -= m * p
                ts[T_LOST_S] += m * p
        if u < ts[T_CUR_MIN]:
            ts[T_CUR_MIN] = u
            ts[T_CUR_MIN_IDX] = idx
            ts[T_CUR_MIN_T] = t
        if u > ts[T_CUR_MAX]:
            ts[T_CUR_MAX] = u
        ts[T_CUR_N] += 1.0
        # Phase target: the envelope plus half the spread, at most half a period.
        env = min(ts[T_E1], ts[T_CUR_MIN])
        target = env + 0.5 * min(_spread(ts), p)
        if ts[T_ROWS] == 0.0:
            ts[T_PHASE] = target
        else:
            dphi = _PHASE_GAIN * (target - ts[T_PHASE])
            lim = _PHASE_STEP * p
            ts[T_PHASE] += min(lim, max(-lim, dphi))
        t_out[k] = line + ts[T_PHASE]
        if ts[T_CUR_N] >= _BLOCK:
            e_new = ts[T_CUR_MIN]
            s_new = ts[T_CUR_MAX] - ts[T_CUR_MIN]
            min_idx = ts[T_CUR_MIN_IDX]
            if ts[T_E1] < math.inf:
                # A loss hidden inside the spread: the whole block sits later.
                m = math.floor((e_new - ts[T_E1]) / p + _LOSS_MARGIN)
                if m >= 1:
                    line += m * p
                    idx += m
                    e_new -= m * p
                    min_idx += m
                    ts[T_LOST_S] += m * p
            min_t = ts[T_CUR_MIN_T]
            j = int(ts[T_NBLK]) % _RING_BLOCKS
            ts[T_RING + 2 * j] = min_idx
            ts[T_RING + 2 * j + 1] = min_t
            ts[T_NBLK] += 1.0
            ts[T_E2] = ts[T_E1]
            ts[T_S2] = ts[T_S1]
            ts[T_E1] = e_new
            ts[T_S1] = s_new
            ts[T_CUR_N] = 0.0
            ts[T_CUR_MIN] = math.inf
            ts[T_CUR_MAX] = -math.inf
            # The period: slope of the envelope points, oldest kept to newest.
            nb = int(ts[T_NBLK])
            if nb >= 2:
                o = (nb - _RING_BLOCKS) % _RING_BLOCKS if nb > _RING_BLOCKS else 0
                d_idx = min_idx - ts[T_RING + 2 * o]
                if d_idx >= _BLOCK:
                    ts[T_P] = (min_t - ts[T_RING + 2 * o + 1]) / d_idx
        ts[T_LINE] = line
        ts[T_IDX] = idx
        ts[T_ROWS] += 1.0

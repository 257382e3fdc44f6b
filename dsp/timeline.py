"""The timeline step every row passes first: stamps -> a regular grid (see ``_kern_time``).

Streaming and batch share it: rows are held back only until the period is
bootstrapped (the first ``_BOOT_ROWS`` rows spanning at least ``_BOOT_S``),
then re-timed one by one as they arrive, so the times (and so everything
downstream) do not depend on how the stream was chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_time import _bootstrap_period, _retime, _spread, block_rows, new_timeline
from hipflex.dsp.types import ImuSamples

__all__ = ["Timeline", "retime"]

# The period is bootstrapped from at least this many rows spanning at least
# this long, and at least _BOOT_JUMPS times the longest step between stamps
# (with arrival-time bursts: that many notifications, so the least-delayed
# ones a long span apart fix the rate within about 0.1 %).
_BOOT_ROWS = 160
_BOOT_S = 2.0
_BOOT_JUMPS = 16.0
# Rows per run over which the bootstrap measures the stamps' spread.
_SPREAD_RUN = 128
# Rows of the first prefix _boot_row searches (quadrupled until found).
_BOOT_PREFIX = 4096
_EMPTY3 = np.zeros((0, 3), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Timeline:
    """Timeline state: rows held until the period is known, then the kernel state.

    Attributes
    ----------
    state : ndarray or None
        Kernel state (``_layout`` T_ slots); None until bootstrapped.
    period0_s : float
        The bootstrapped period, s (NaN before): fixed for the stream, so
        decisions that need a period before the running estimate (the quiet
        window's gap allowance) do not depend on chunking.
    pend_t, pend_acc, pend_gyr : ndarray
        Rows held before the bootstrap (input times, s).
    """

    state: np.ndarray | None = None
    period0_s: float = float("nan")
    pend_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pend_acc: np.ndarray = field(default_factory=lambda: _EMPTY3)
    pend_gyr: np.ndarray | None = None

    @property
    def period_s(self) -> float:
        """The current period estimate, s (NaN before the bootstrap)."""
        return float(self.state[L.T_P]) if self.state is not None else float("nan")

    @property
    def lost_s(self) -> float:
        """Time of the rows found lost so far, s."""
        return float(self.state[L.T_LOST_S]) if self.state is not None else 0.0

    @property
    def late_lost_s(self) -> float:
        """Of ``lost_s``, the time found only from a block's envelope (no gap marks it), s."""
        return float(self.state[L.T_LATE_S]) if self.state is not None else 0.0


def _boot_period(t: np.ndarray) -> tuple[float, np.ndarray]:
    """The bootstrapped period, s (0: no time passes), and each row's grid index, lost rows counted.

    The envelope slope over row numbers is too long by the rows lost in the
    span (a lost notification of 70 rows in 16 is 6 %).  Each jump of the
    stamps spans the rows of the notification it starts plus any lost before
    it; a jump whose excess over those rows' time stands out from the others'
    (latency) by whole periods is counted as that many lost rows, and the
    slope is taken again over the grid index.  Stamps that are not bursty
    (about one row per step) get the least-squares slope over the grid index
    instead: with jitter every row tells, not only the lowest few.
    """
    idx = np.arange(t.size, dtype=np.float64)
    p = float(_bootstrap_period(t, idx))
    if not p > 0.0:
        return p, idx
    for _ in range(2):
        # A jump: a step of at least half a period (a burst's rows, stamped
        # together or a little apart, are no jumps).
        jumps = np.flatnonzero(np.diff(t) > 0.5 * p) + 1
        if jumps.size < 4:
            break
        bounds = np.concatenate([jumps, [t.size]])
        rows = np.diff(bounds)  # rows of the notification each jump starts
        excess = t[jumps] - t[jumps - 1] - rows * p
        med = float(np.median(excess))
        scale = 1.4826 * float(np.median(np.abs(excess - med)))
        lost = np.where(excess - med > 3.0 * scale + 0.5 * p, np.round((excess - med) / p), 0.0)
        if not lost.any():
            break
        idx = np.arange(t.size, dtype=np.float64)
        for j, m in zip(jumps, lost, strict=True):
            if m > 0:
                idx[j:] += m
        p = float(_bootstrap_period(t, idx))
    jumps = np.flatnonzero(np.diff(t) > 0.5 * p) + 1
    if jumps.size >= 4 and np.median(np.diff(jumps)) < 2.0:
        # Not bursty: jitter about the sampling instants, symmetric as far as
        # anyone knows, so every row counts (least squares), not the extremes.
        slope = float(np.polyfit(idx - idx[0], t - t[0], 1)[0])
        if abs(slope / p - 1.0) < 0.05:
            p = slope
    return p, idx


def _boot_row(t: np.ndarray) -> int:
    """First row at which the bootstrap condition holds, or -1.

    At least ``_BOOT_ROWS`` rows over ``_BOOT_S``, and ``_BOOT_JUMPS`` times
    the longest step between stamps so far: with bursty stamps that is
    several notifications, so their spread and latency are measured.
    """
    if t.size < _BOOT_ROWS:
        return -1
    # Whether row i qualifies depends on rows 0..i alone, so the first one is
    # searched in growing prefixes (a whole recording passes here in batch).
    m = _BOOT_PREFIX
    while True:
        head = t[:m]
        longest = np.maximum.accumulate(np.concatenate(([0.0], np.diff(head))))
        span = head - head[0]
        ok = np.flatnonzero((span >= _BOOT_S) & (span >= _BOOT_JUMPS * longest))
        ok = ok[ok >= _BOOT_ROWS - 1]
        if ok.size:
            return int(ok[0])
        if m >= t.size:
            return -1
        m *= 4


def retime(timeline: Timeline, chunk: ImuSamples, final: bool = False) -> tuple[Timeline, ImuSamples]:
    """Pass ``chunk`` through the timeline; return the new state and the rows released, re-timed.

    Parameters
    ----------
    timeline : Timeline
        Not modified.
    chunk : ImuSamples
        The next rows; times non-decreasing (equal stamps within a burst are fine).
    final : bool
        The stream ends: bootstrap from whatever rows there are.

    Returns
    -------
    timeline : Timeline
    released : ImuSamples
        Rows whose grid times are now known, in order (empty while the period
        is being bootstrapped), with ``time_s`` on the grid, s.

    Raises
    ------
    ValueError
        At the end of a stream of two or more rows that all carry the same
        time (a single row is dropped: it has no period).
    """
    if timeline.state is not None:
        st = timeline.state.copy()
        out = np.empty(len(chunk))
        _retime(st, chunk.time_s, out)
        return Timeline(st, timeline.period0_s), ImuSamples(out, chunk.acc_g, chunk.gyr_dps)
    if timeline.pend_t.size:
        t = np.concatenate([timeline.pend_t, chunk.time_s])
        acc = np.concatenate([timeline.pend_acc, chunk.acc_g])
        gyr = None
        if chunk.gyr_dps is not None:
            gyr = np.concatenate([timeline.pend_gyr if timeline.pend_gyr is not None else _EMPTY3, chunk.gyr_dps])
    else:
        t, acc, gyr = chunk.time_s, chunk.acc_g, chunk.gyr_dps
    k = _boot_row(t)
    if k < 0 and not final:
        return Timeline(None, float("nan"), t, acc, gyr), ImuSamples(t[:0], acc[:0], None if gyr is None else gyr[:0])
    if t.size == 0:
        return timeline, chunk
    if t.size == 1:
        # The stream ended after one row (a live session stopped at once): one
        # row has no period and nothing to analyse; it is dropped, not an error.
        return Timeline(None, float("nan")), ImuSamples(t[:0], acc[:0], None if gyr is None else gyr[:0])
    boot = np.ascontiguousarray(t[: k + 1] if k >= 0 else t)
    period, idx = _boot_period(boot)
    if not period > 0.0:
        raise ValueError(f"all {t.size} rows carry the same time ({t[0]:.6f} s): the sample rate is unknown")
    # The stamps' offsets from the bootstrapped grid (lost rows counted), in
    # runs of a block: their ranges are the spread a row may sit in, their
    # lowest points the envelope and its noise, known from the first row on.
    u = boot - boot[0] - period * (idx - idx[0])
    runs = [u[i : i + _SPREAD_RUN] for i in range(0, u.size, _SPREAD_RUN)]
    runs = [r for r in runs if r.size >= _SPREAD_RUN // 4] or [u]
    spreads = [float(r.max() - r.min()) for r in runs]
    lows = np.array([r.min() for r in runs])
    noise = float(np.mean(np.minimum(np.abs(np.diff(lows)), 0.5 * period))) if lows.size > 1 else 0.0
    spread = sorted(spreads)[-2] if len(spreads) >= 3 else min(spreads)
    st = new_timeline(period, spread, block_rows(period, spread), noise, float(u.min()))
    for i, j in enumerate((L.T_S1, L.T_S2, L.T_S3, L.T_S4)):
        st[j] = spreads[-1 - (i % len(spreads))]
    st[L.T_SPREAD] = _spread(st)
    out = np.empty(t.size)
    _retime(st, np.ascontiguousarray(t), out)
    return Timeline(st, period), ImuSamples(out, acc, gyr)

"""Where emulated sensors get their samples: a pluggable source read row by row at the sensor rate.

A source yields blocks of rows, ``(acc_g (n, 3), gyr_dps (n, 3) or None)``; the emulated
device reads them at its configured rate, so the rows' own timing is not used (an
:class:`~hipflex.dsp.types.ImuSamples` from the simulator should be generated at the
rate the emulated stream is started with).  Accelerometer and gyroscope streams read
through separate cursors because they may run at different rates (MetaWear) or be
started at different times (Verity Sense).  Non-finite values (the simulator marks
dropped samples with NaN) become zeros: a sensor always reports some number, and loss is
the emulator's fault injection to model.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hipflex.dsp.types import ImuSamples

__all__ = ["BlockLike", "SampleCursor", "SampleFeed", "SourceLike", "as_sample_feed"]

_log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: One block of rows: ``(acc_g (n, 3), gyr_dps (n, 3) or None)`` or an ``ImuSamples``.
BlockLike: TypeAlias = ImuSamples | tuple[ArrayLike, ArrayLike | None]


def _as_block(block: BlockLike) -> tuple[FloatArray, FloatArray | None]:
    if isinstance(block, ImuSamples):
        acc, gyr = block.acc_g, block.gyr_dps
    else:
        acc_in, gyr_in = block
        acc = np.asarray(acc_in, dtype=np.float64)
        gyr = None if gyr_in is None else np.asarray(gyr_in, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
    if gyr is not None:
        gyr = np.asarray(gyr, dtype=np.float64).reshape(-1, 3)
        if gyr.shape != acc.shape:
            raise ValueError(f"gyr_dps block has shape {gyr.shape}, acc_g has {acc.shape}")
    return acc, gyr


class SampleFeed:
    """Rows of specific force (g) and angular rate (deg/s) for an emulated sensor.

    Parameters
    ----------
    source : ImuSamples, callable, iterable, SampleFeed or None
        - ``ImuSamples`` (e.g. ``Simulation.samples``): its rows, in order;
        - a zero-argument callable returning the next block, or ``None`` when done;
        - an iterable of blocks ``(acc_g, gyr_dps or None)`` or ``ImuSamples``;
        - ``None``: a sensor lying still, flat (``acc_g = (0, 0, 1)``, no rotation), forever.
    loop : bool
        Replay an ``ImuSamples`` (or a finite iterable) forever.

    Notes
    -----
    Every row read stays in memory (a 200 Hz acc+gyro hour is about 35 MB), which keeps the
    cursors independent without coordinating them.
    """

    def __init__(self, source: SourceLike = None, *, loop: bool = False) -> None:
        self._blocks: Iterator[BlockLike]
        if isinstance(source, SampleFeed):
            raise TypeError("already a SampleFeed; use as_sample_feed() to accept either")
        if source is None:
            still = (np.tile([0.0, 0.0, 1.0], (256, 1)), np.zeros((256, 3)))
            self._blocks = itertools.repeat(still)
        elif isinstance(source, ImuSamples):
            self._blocks = itertools.repeat(source) if loop else iter([source])
        elif callable(source):
            fn = source
            self._blocks = iter(fn, None)
        else:
            blocks = list(source) if loop else source
            self._blocks = itertools.cycle(blocks) if loop else iter(blocks)
        self._acc: list[FloatArray] = []
        self._gyr: list[FloatArray | None] = []
        self._starts: list[int] = []
        self._total = 0
        self._done = False
        self._warned_nonfinite = False

    def cursor(self) -> SampleCursor:
        """A new independent read position at row 0."""
        return SampleCursor(self)

    def _ensure(self, stop: int) -> None:
        while self._total < stop and not self._done:
            try:
                block = next(self._blocks)
            except StopIteration:
                self._done = True
                break
            acc, gyr = _as_block(block)
            if acc.shape[0] == 0:
                continue
            if not (np.isfinite(acc).all() and (gyr is None or np.isfinite(gyr).all())):
                if not self._warned_nonfinite:
                    _log.info("sample source: non-finite values replaced by 0 (the emulator injects loss itself)")
                    self._warned_nonfinite = True
                acc = np.nan_to_num(acc, nan=0.0, posinf=0.0, neginf=0.0)
                gyr = None if gyr is None else np.nan_to_num(gyr, nan=0.0, posinf=0.0, neginf=0.0)
            self._starts.append(self._total)
            self._acc.append(acc)
            self._gyr.append(gyr)
            self._total += acc.shape[0]

    def rows(self, start: int, stop: int) -> tuple[FloatArray, FloatArray]:
        """Rows ``start:stop`` (fewer at the end of a finite source); missing gyro is zeros."""
        self._ensure(stop)
        stop = min(stop, self._total)
        if stop <= start:
            return np.zeros((0, 3)), np.zeros((0, 3))
        first = bisect.bisect_right(self._starts, start) - 1
        acc_parts: list[FloatArray] = []
        gyr_parts: list[FloatArray] = []
        i = first
        while i < len(self._starts) and self._starts[i] < stop:
            lo = max(start - self._starts[i], 0)
            hi = min(stop - self._starts[i], self._acc[i].shape[0])
            acc_parts.append(self._acc[i][lo:hi])
            g = self._gyr[i]
            gyr_parts.append(np.zeros((hi - lo, 3)) if g is None else g[lo:hi])
            i += 1
        return np.concatenate(acc_parts), np.concatenate(gyr_parts)

    def exhausted_at(self, row: int) -> bool:
        """True when the source has no row ``row``."""
        self._ensure(row + 1)
        return row >= self._total


#: Anything :class:`SampleFeed` accepts (or a ready ``SampleFeed``).
SourceLike: TypeAlias = SampleFeed | ImuSamples | Callable[[], BlockLike | None] | Iterable[BlockLike] | None


def as_sample_feed(source: SourceLike, *, loop: bool = False) -> SampleFeed:
    """``source`` itself when it is a :class:`SampleFeed`, else a new one wrapping it."""
    return source if isinstance(source, SampleFeed) else SampleFeed(source, loop=loop)


class SampleCursor:
    """A read position in a :class:`SampleFeed`; each emulated stream owns one."""

    def __init__(self, source: SampleFeed) -> None:
        self.source = source
        self.position = 0

    def read(self, n: int) -> tuple[FloatArray, FloatArray]:
        """The next ``n`` rows (fewer when a finite source runs out): ``(acc_g, gyr_dps)``."""
        acc, gyr = self.source.rows(self.position, self.position + max(n, 0))
        self.position += acc.shape[0]
        return acc, gyr

    @property
    def exhausted(self) -> bool:
        """True when a finite source has no more rows for this cursor."""
        return self.source.exhausted_at(self.position)

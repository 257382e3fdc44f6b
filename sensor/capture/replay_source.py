"""Replay source: a capture's raw records yielded again, at the original pace or as fast as possible.

The live pipeline and the API consume a :class:`CaptureReplay` exactly like a device's
stream of notifications, so a recorded session goes through the same path as a live
one.  Records are yielded unchanged (notification bytes, host times, events); pacing
follows the records' host times ``t``, divided by ``speed``, measured from the first
record on the event loop's clock, so waiting never accumulates drift.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

from hipflex.sensor.capture.log import Capture, CaptureReader, CaptureRecord

__all__ = ["CaptureReplay"]


class CaptureReplay:
    """Yields a capture's raw records again, paced like the original or as fast as possible.

    Parameters
    ----------
    source : Capture or str or Path
        A capture in memory, or its file (read lazily while iterating).
    speed : float or None
        Pace multiplier: 1 replays in real time, 10 ten times faster; ``None`` or
        ``math.inf`` yields as fast as possible (still letting other tasks run).
    sleep : callable
        ``await sleep(seconds)``; injectable for tests (default :func:`asyncio.sleep`).

    Examples
    --------
    >>> async def count(path):  # doctest: +SKIP
    ...     return sum([1 async for _ in CaptureReplay(path, speed=None)])
    """

    def __init__(
        self,
        source: Capture | str | Path,
        *,
        speed: float | None = 1.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if speed is not None and not (speed > 0):
            raise ValueError(f"speed must be positive (or None for as fast as possible), got {speed!r}")
        self._source = source
        self.speed = None if speed is None or math.isinf(speed) else float(speed)
        self._sleep = sleep
        if isinstance(source, Capture):
            self.header = source.header
        else:
            with CaptureReader(source) as reader:
                self.header = reader.header

    def _records(self) -> tuple[Iterable[CaptureRecord], CaptureReader | None]:
        if isinstance(self._source, Capture):
            return self._source.records, None
        reader = CaptureReader(self._source)
        return reader, reader

    def __aiter__(self) -> AsyncIterator[CaptureRecord]:
        return self._run()

    async def _run(self) -> AsyncIterator[CaptureRecord]:
        records, reader = self._records()
        loop = asyncio.get_running_loop()
        start_wall = loop.time()
        first_t: float | None = None
        try:
            for i, rec in enumerate(records):
                if self.speed is None:
                    if i % 64 == 63:
                        await asyncio.sleep(0)
                else:
                    first_t = rec.t_s if first_t is None else first_t
                    delay = start_wall + (rec.t_s - first_t) / self.speed - loop.time()
                    if delay > 0:
                        await self._sleep(delay)
                yield rec
        finally:
            if reader is not None:
                reader.close()

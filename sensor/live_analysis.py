"""The streaming DSP over a live client's chunks, off the event loop.

:class:`LiveAnalysis` runs :func:`hipflex.dsp.pipeline.step` on each
:class:`~hipflex.sensor.client.SampleChunk` in a worker thread (the numba kernels
release the GIL; one worker keeps the chunks in order) and
:func:`~hipflex.dsp.pipeline.finish` at the end.  Because the core gives the same result
for any chunking and the client's samples equal a replay of its capture,
``LiveAnalysis`` over a live session and :func:`~hipflex.dsp.pipeline.analyze` over
``decode_capture(capture)`` produce the same :class:`~hipflex.dsp.types.Analysis`.

The state is created on the first chunk, when it is known whether a gyroscope
reports (a Verity Sense whose gyroscope never answers streams acceleration alone).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any

from hipflex.dsp.events import Event, RepEvent, RepPeakEvent
from hipflex.dsp.pipeline import StreamState, finish, init_state, result, step
from hipflex.dsp.types import Analysis, ImuSamples, Settings

__all__ = ["LiveAnalysis"]


class LiveAnalysis:
    """Incremental analysis of one live session.

    Parameters
    ----------
    settings : Settings or None
        Analysis settings (default ``Settings()``).
    source : str
        Recorded in the result (use the capture path to match ``hipflex analyze``).
    executor : Executor or None
        Where ``step`` runs (default: the event loop's default executor).

    Attributes
    ----------
    reps : int
        Reps complete with every metric (what the final analysis counts).
    peaks : int
        Peaks confirmed by the fall after them: the earliest "rep!" signal (a few may
        still be rejected later).
    rows : int
        Samples analysed.
    """

    def __init__(self, settings: Settings | None = None, *, source: str = "", executor: Executor | None = None):
        self.settings = settings or Settings()
        self.source = source
        self._executor = executor
        self._state: StreamState | None = None
        self._lock = asyncio.Lock()
        self.reps = 0
        self.peaks = 0
        self.rows = 0

    def feed_sync(self, samples: ImuSamples) -> list[Event]:
        """Run the core over one chunk in the calling thread; returns its events."""
        if len(samples) == 0:
            return []
        if self._state is None:
            self._state = init_state(self.settings, samples.has_gyro)
        self._state, events = step(self.settings, self._state, samples)
        self.rows += len(samples)
        self._count(events)
        return events

    def finish_sync(self) -> Analysis:
        """Close the stream and return the analysis (calling thread)."""
        if self._state is None:
            raise ValueError("no samples were analysed")
        self._state, events = finish(self.settings, self._state)
        self._count(events)
        return result(self.settings, self._state, self.source)

    async def feed(self, samples: ImuSamples) -> list[Event]:
        """:meth:`feed_sync` in the worker thread."""
        async with self._lock:
            return await self._run(self.feed_sync, samples)

    async def finish(self) -> Analysis:
        """:meth:`finish_sync` in the worker thread."""
        async with self._lock:
            out: Analysis = await self._run(self.finish_sync)
            return out

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _count(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, RepPeakEvent):
                self.peaks += 1
            elif isinstance(e, RepEvent):
                self.reps += 1

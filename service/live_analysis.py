"""The streaming DSP over a live client's chunks, off the event loop.

:class:`LiveAnalysis` runs :func:`hipflex.dsp.pipeline.step` on each
:class:`~hipflex.sensor.live.client.SampleChunk` in a worker thread (the numba kernels
release the GIL; one worker keeps the chunks in order) and
:func:`~hipflex.dsp.pipeline.finish` at the end.  Because the core gives the same result
for any chunking and the client's samples equal a replay of its capture,
``LiveAnalysis`` over a live session and :func:`~hipflex.dsp.pipeline.analyze` over
``decode_capture(capture)`` produce the same :class:`~hipflex.dsp.types.Analysis`.

The state is created on the first chunk, when it is known whether a gyroscope
reports (a Verity Sense whose gyroscope never answers streams acceleration alone).

:func:`warm_up` readies the numba kernels before a stream starts: on a fresh install
the first analysis in a process compiles them (about ten seconds), and a live
session would otherwise show its first reps only after that; with numba's on-disk
cache warm (``cache=True``) it takes about a second.  A stream is analysed with a
gyro or without one, and each mode compiles kernels of its own
(:data:`hipflex.dsp._precompile.ONLY`), so it readies one mode when the stream's is
known: ``hipflex demo`` its bundled recordings' mode while its server starts,
``hipflex record`` and every live session of ``hipflex serve`` the connected
source's, at connect (``serve`` compiles nothing before its API answers).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Executor, Future
from typing import Any

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.events import Event, RepEvent, RepPeakEvent
from hipflex.dsp.pipeline import StreamState, finish, init_state, result, step
from hipflex.dsp.types import Analysis, ImuSamples

__all__ = ["WARM_UP_CHUNK_ROWS", "LiveAnalysis", "preparing", "warm_up"]

_log = logging.getLogger(__name__)

#: Rows per chunk fed by :func:`warm_up` (a few BLE notifications' worth).
WARM_UP_CHUNK_ROWS = 36

# Warm-ups running in this process, so the API can tell a dashboard that the analysis is being prepared.
_warming = 0
_warming_lock = threading.Lock()
# The modes readied in this process (True: with a gyro), and the warm-ups under way by mode (None: both).
_ready: set[bool] = set()
_running: dict[bool | None, Future[None]] = {}
# One warm-up compiles at a time: two would each start a compile helper and count each other's kernels.
_compiling = threading.Lock()


def preparing() -> bool:
    """Whether a :func:`warm_up` is running in this process now (``GET /health`` reports it)."""
    return _warming > 0


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


def _modes(gyro: bool | None) -> tuple[bool, ...]:
    return (True, False) if gyro is None else (gyro,)


def _kernels_ready(gyro: bool | None = None) -> bool:
    """Whether this process has the main loop's kernels of mode ``gyro`` (None: both; compiled or loaded)."""
    from hipflex.dsp._kern_run import _run_chunk_acc, _run_chunk_gyro

    loops = {True: _run_chunk_gyro, False: _run_chunk_acc}
    return all(bool(getattr(loops[mode], "signatures", ())) for mode in _modes(gyro))


def _warm_up_now(gyro: bool | None = None) -> None:
    """Analyse a short simulated session of mode ``gyro`` (None: with and without one), chunk by chunk."""
    from hipflex.dsp._precompile import load_all
    from hipflex.sensor.sim.simulate import simulate_drill  # only needed here

    started = time.perf_counter()
    for has_gyro in _modes(gyro):
        # One set of ballistic reps: calibration, the axis lock, the sign window, reps, a set, the finish.
        samples = simulate_drill("ballistic", fs_hz=52.0, has_gyro=has_gyro, seed=1, n_sets=1).samples
        analysis = LiveAnalysis(source="warm-up")
        for start in range(0, len(samples), WARM_UP_CHUNK_ROWS):
            analysis.feed_sync(samples.slice(start, min(start + WARM_UP_CHUNK_ROWS, len(samples))))
        analysis.finish_sync()
    # And every kernel of the mode the session did not reach (a revision's stillest-window search, a gap's
    # re-run): a real stream reaches them later, mid-session, where a compile would stall it.
    load_all(gyro)
    _log.info("analysis ready in %.1f s", time.perf_counter() - started)


def warm_up(*, background: bool = False, announce: str | None = None, gyro: bool | None = None) -> Future[None]:
    """Compile the analysis kernels of one mode (or load them from numba's cache) before a stream needs them.

    Runs :class:`LiveAnalysis` over a short simulated session of that mode in
    live-sized chunks, so that every kernel the live path calls from Python exists
    for the argument types live chunks have (contiguous float64).  Afterwards the
    first chunk of a real stream of that mode is analysed at once instead of waiting
    for numba.  A mode readied in this process returns at once; a call for a mode
    being readied returns that warm-up's future.

    Parameters
    ----------
    background : bool
        Run in a daemon thread and return at once (the kernels release the GIL; numba
        serialises compilation, so an analysis that starts meanwhile simply waits for
        the kernel it needs).  Otherwise run in the calling thread.
    announce : str or None
        When given (the command's name, e.g. ``"hipflex record"``) and numba's cache is
        cold, say on stderr that the analysis is being prepared, with progress
        (:func:`hipflex.service.first_run.preparing`).
    gyro : bool or None
        The stream's mode: with a gyro (True) or without one (False); only that mode's
        kernels are compiled (the other mode's first stream compiles the rest).  None:
        both modes (a caller that cannot know the mode).

    Returns
    -------
    concurrent.futures.Future
        Done when the kernels are ready.  It never holds an exception: a failed
        warm-up is logged (the analysis then compiles on first use, as without it).
    """
    global _warming
    with _warming_lock:
        if set(_modes(gyro)) <= _ready:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        for key in (None,) if gyro is None else (None, gyro):
            if key in _running:
                return _running[key]
        done = Future()
        _running[gyro] = done
        # Counted from here, not from the thread's start: /health says "preparing" as soon as a session asked.
        _warming += 1

    def run() -> None:
        global _warming
        ok = False
        try:
            with _compiling:
                if announce is None:
                    _warm_up_now(gyro)
                else:
                    from hipflex.service.first_run import preparing

                    with preparing("live", announce, ready=lambda: _kernels_ready(gyro), gyro=gyro):
                        _warm_up_now(gyro)
            ok = True
        except Exception:
            _log.warning("analysis warm-up failed; the first chunks will compile it", exc_info=True)
        finally:
            with _warming_lock:
                _warming -= 1
                if ok:
                    _ready.update(_modes(gyro))
                _running.pop(gyro, None)
            done.set_result(None)

    if background:
        threading.Thread(target=run, name="hipflex-warm-up", daemon=True).start()
    else:
        run()
    return done

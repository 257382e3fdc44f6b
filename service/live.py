"""Live sessions: a sample source, the DSP off the event loop, and the fan-out to clients.

A :class:`LiveSession` runs two tasks on the event loop.  The producer pulls
items from the :class:`~hipflex.service.sources.SampleSource` and stamps them
with their arrival time; the consumer hands every chunk to the session's
:class:`~hipflex.service.worker.SessionWorker` in the manager's thread pool
(one call at a time per session, so the pipeline sees chunks in order; the
numba kernels release the GIL) and publishes the returned messages on the
session's :class:`~hipflex.service.hub.Hub`.  The pipeline never waits for a
client.  The analysis of the source's mode (with a gyro or without one) is readied
when the source is open (:func:`~hipflex.service.live_analysis.warm_up`; on a fresh
install it compiles), and the first chunk waits for it, not the API.

:class:`SessionManager` creates, stops and lists the running sessions, and
on shutdown stops them all cleanly (they end ``stopped``, with their final
analysis stored).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from hipflex import __version__
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.sensor.sim.plan import Drill
from hipflex.service.analysis_pool import AnalysisPool, Cancelled, DisconnectCheck
from hipflex.service.devices import DeviceBackend
from hipflex.service.errors import ServiceLayerError
from hipflex.service.hub import Hub
from hipflex.service.rawlog import SampleLog
from hipflex.service.settings import ServiceSettings
from hipflex.service.sources import ReplaySource, SampleSource, SimulatorSource, SourceError, SourceStatus
from hipflex.service.store import SessionRecord, Store
from hipflex.service.worker import SessionWorker

__all__ = [
    "LiveSession",
    "SessionManager",
    "SessionSpec",
    "TooManySessions",
    "session_settings",
]

#: Without a chunk for this long, a running session reports the state ``gap``, seconds.
GAP_TIMEOUT_S = 1.5
#: Source items waiting for the pipeline, at most.
INBOX_SIZE = 16


class TooManySessions(ServiceLayerError, RuntimeError):
    """The limit of sessions running at once is reached."""


@dataclass(frozen=True)
class SessionSpec:
    """What to run; the API's ``SessionCreate`` body as a plain value (see its field docs)."""

    source: Literal["simulator", "replay", "device"]
    drill: Drill = "ballistic"
    fs_hz: float = 100.0
    has_gyro: bool = True
    seed: int = 0
    n_sets: int = 3
    capture_path: str | None = None
    format: str = "auto"
    speed: float = 1.0
    device_address: str | None = None
    label: str | None = None
    side: Literal["left", "right"] | None = None
    min_rom_deg: float | None = None
    set_gap_s: float | None = None
    face_normal_axis: str | None = None
    sensor_placement: str | None = None
    sensor_leg: str | None = None


def session_settings(
    base: Settings,
    min_rom_deg: float | None,
    set_gap_s: float | None,
    *,
    face_normal_axis: str | None = None,
    sensor_placement: str | None = None,
    sensor_leg: str | None = None,
) -> Settings:
    """``base`` with the overrides a session or upload may give (as ``hipflex analyze`` applies them).

    A ``min_rom_deg`` at or below the default candidate threshold also lowers
    ``candidate_deg`` to 0.4 of it, so the diagnostics stay below the rep
    threshold.  ``face_normal_axis``, ``sensor_placement`` and ``sensor_leg``
    (how the sensor is strapped; naming only, never a count) replace the
    base's when given.  Raises ``ValueError`` with the setting's message.
    """
    changes: dict[str, float | str] = {}
    mounting = {"face_normal_axis": face_normal_axis, "sensor_placement": sensor_placement, "sensor_leg": sensor_leg}
    changes.update({name: value for name, value in mounting.items() if value is not None})
    if set_gap_s is not None:
        changes["set_gap_s"] = set_gap_s
    if min_rom_deg is not None:
        changes["min_rom_deg"] = min_rom_deg
        if min_rom_deg <= Settings().candidate_deg:
            changes["candidate_deg"] = 0.4 * min_rom_deg
    return base.replace(**changes) if changes else base


@dataclass(frozen=True)
class _Failure:
    message: str


_END = object()


class LiveSession:
    """One running session.

    Parameters
    ----------
    session_id : str
    source : SampleSource
        Already opened.
    worker : SessionWorker
    hub : Hub
    executor : ThreadPoolExecutor
        Where the worker runs.
    on_done : callable
        Called with the session once it has finished and stored its result.
    ready : Future or None
        Done when the analysis of the source's mode is ready; the first chunk waits for it.
    """

    def __init__(
        self,
        session_id: str,
        source: SampleSource,
        worker: SessionWorker,
        hub: Hub,
        executor: ThreadPoolExecutor,
        on_done: Callable[[LiveSession], None],
        ready: Future[None] | None = None,
    ) -> None:
        self.id = session_id
        self.source = source
        self.worker = worker
        self.hub = hub
        self.executor = executor
        self.on_done = on_done
        self._ready = ready
        self.analysis: Analysis | None = None
        self.done = asyncio.Event()
        # Bounded: a simulator or replay that outruns the pipeline waits (falls behind real time);
        # a device's transport buffers on its side.
        self._inbox: asyncio.Queue[tuple[float, Any]] = asyncio.Queue(maxsize=INBOX_SIZE)
        self._producer: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None

    @property
    def live_state(self) -> str:
        """calibrating, running, gap, reconnecting or stopped."""
        return self.worker.live_state

    @property
    def backlog(self) -> int:
        """Items received but not yet analysed."""
        return self._inbox.qsize()

    def start(self) -> None:
        """Start streaming."""
        self.hub.publish([self.worker.status()])
        self._producer = asyncio.create_task(self._produce(), name=f"hipflex-source-{self.id}")
        self._consumer = asyncio.create_task(self._consume(), name=f"hipflex-session-{self.id}")

    async def _produce(self) -> None:
        try:
            async for item in self.source.stream():
                await self._inbox.put((time.time(), item))
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a source failure ends the session as failed, with the reason
            await self._inbox.put((time.time(), _Failure(f"{type(exc).__name__}: {exc}")))
        finally:
            await self._inbox.put((time.time(), _END))

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        status, error = "stopped", None
        try:
            while True:
                try:
                    # Not wait_for: Python 3.11's swallows a cancellation that lands with an item.
                    async with asyncio.timeout(GAP_TIMEOUT_S):
                        received_at, item = await self._inbox.get()
                except TimeoutError:
                    if self.worker.live_state == "running":
                        self.hub.publish([self.worker.status("gap")])
                    continue
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    status, error = "failed", item.message
                elif isinstance(item, SourceStatus):
                    self._on_status(item)
                elif isinstance(item, ImuSamples):
                    if self._ready is not None:
                        # On a fresh install the mode's kernels are compiling: the chunks queue meanwhile.
                        await asyncio.wrap_future(self._ready)
                        self._ready = None
                    msgs = await loop.run_in_executor(self.executor, self.worker.process, item, received_at)
                    self.hub.publish(msgs)
        except Exception as exc:  # the pipeline rejected the data: keep what was analysed
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            if self._producer is not None:
                self._producer.cancel()
        finally:
            await self._finish(loop, status, error)

    def _on_status(self, item: SourceStatus) -> None:
        if item.battery_pct is not None:
            self.worker.battery_pct = item.battery_pct
        if item.state == "reconnecting":
            state = "reconnecting"
        else:
            state = "running" if self.worker.state.running else "calibrating"
        self.hub.publish([self.worker.status(state)])

    async def _finish(self, loop: asyncio.AbstractEventLoop, status: str, error: str | None) -> None:
        if self._producer is not None and not self._producer.done():
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
        try:
            self.analysis, msgs = await loop.run_in_executor(self.executor, self.worker.finish, status, error)
            self.hub.publish(msgs)
        finally:
            self.hub.close()
            self.done.set()
            self.on_done(self)

    async def stop(self) -> None:
        """Stop the source, analyse what arrived, store the result; returns when done."""
        if self._producer is not None:
            self._producer.cancel()
        await self.done.wait()


def _ready_analysis(has_gyro: bool) -> Future[None]:
    """The analysis of a source's mode, readied in the background (compiled on a fresh install, with the notice).

    At connect, when the source knows what it streams, not at the server's start: ``hipflex serve``
    answers at once, and a first run compiles one mode's kernels, not both (benchmarks/README.md,
    "firstrun25").
    """
    from hipflex.service.live_analysis import warm_up

    return warm_up(background=True, announce="hipflex", gyro=has_gyro)


class SessionManager:
    """Creates and tracks the running sessions.

    Parameters
    ----------
    settings : ServiceSettings
    store : Store
    devices : DeviceBackend
    pool : AnalysisPool, optional
        Where replayed files are parsed.
    """

    def __init__(
        self, settings: ServiceSettings, store: Store, devices: DeviceBackend, pool: AnalysisPool | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.devices = devices
        self.pool = pool
        self._sessions: dict[str, LiveSession] = {}
        self._opening = 0  # sessions past the limit check whose source is still opening
        workers = min(32, (os.cpu_count() or 2) + 4)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hipflex-dsp")

    def live(self, session_id: str) -> LiveSession | None:
        """The running session with this id, if any."""
        return self._sessions.get(session_id)

    @property
    def running(self) -> list[LiveSession]:
        """Sessions running now."""
        return list(self._sessions.values())

    def _source(self, spec: SessionSpec, is_disconnected: DisconnectCheck | None = None) -> SampleSource:
        if spec.source == "simulator":
            return SimulatorSource(spec.drill, spec.fs_hz, spec.has_gyro, spec.seed, spec.n_sets, spec.speed)
        if spec.source == "replay":
            if not spec.capture_path:
                raise SourceError("a replay session needs capture_path")
            from pathlib import Path

            allowed = self.settings.allowed_replay_dirs()
            return ReplaySource(Path(spec.capture_path), spec.format, spec.speed, allowed, self.pool, is_disconnected)
        if not spec.device_address:
            raise SourceError("a device session needs device_address")
        return self.devices.source(spec.device_address)

    async def start(self, spec: SessionSpec, is_disconnected: DisconnectCheck | None = None) -> SessionRecord:
        """Open the source, create the session and start streaming.

        ``is_disconnected`` (the request's) is polled while a recording loads:
        when its client hangs up, the loading stops and no session is created.

        Raises
        ------
        TooManySessions
        SourceError
            Bad parameters, unreadable recording, path not allowed.
        DevicesUnavailable
            A device session without Bluetooth.
        Cancelled
            The client went away while the source opened.
        """
        # Check and reserve in one step, before the first await: otherwise every request that arrives while
        # others open their sources passes the check (300 concurrent requests all got a session).
        taken = len(self._sessions) + self._opening
        if taken >= self.settings.max_sessions:
            raise TooManySessions(f"{taken} sessions are running or starting, the most allowed at once")
        self._opening += 1
        try:
            return await self._start(spec, is_disconnected)
        finally:
            self._opening -= 1

    async def _start(self, spec: SessionSpec, is_disconnected: DisconnectCheck | None) -> SessionRecord:
        try:
            settings = session_settings(
                self.settings.analysis, spec.min_rom_deg, spec.set_gap_s,
                face_normal_axis=spec.face_normal_axis, sensor_placement=spec.sensor_placement,
                sensor_leg=spec.sensor_leg,
            )  # fmt: skip
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        source = self._source(spec, is_disconnected)
        await source.open()
        if spec.source == "replay" and is_disconnected is not None and await is_disconnected():
            raise Cancelled("the client went away while the recording loaded")  # nobody wants the session
        params = dataclasses.asdict(spec)
        record = self.store.create_session(
            source=spec.source,
            params=params,
            settings=settings.to_dict(),
            version=__version__,
            raw_log_dir=self.settings.capture_dir,
            label=spec.label,
            side=spec.side,
            device_address=spec.device_address,
        )
        comments = (
            f"hipflex {__version__} raw sample log of session {record.id} ({spec.source})",
            "time_s in s, acc in g, gyro in deg/s; empty values = lost samples",
        )
        try:
            log = SampleLog(self.settings.capture_dir / f"{record.id}.csv", source.has_gyro, comments)
        except OSError as exc:
            self.store.finish_session(record.id, "failed", None, 0, error=f"cannot write the raw log: {exc}")
            raise SourceError(f"cannot write the raw log in {self.settings.capture_dir}: {exc.strerror}") from None
        worker = SessionWorker(record.id, settings, source.has_gyro, log, self.store, self.settings.angle_rate_hz)
        hub = Hub(self.settings.client_queue)
        ready = _ready_analysis(source.has_gyro)
        live = LiveSession(record.id, source, worker, hub, self.executor, self._forget, ready)
        self._sessions[record.id] = live
        self.store.update_progress(record.id, 0, None, None, source.has_gyro)
        live.start()
        return self.store.get_session(record.id) or record

    def _forget(self, live: LiveSession) -> None:
        self._sessions.pop(live.id, None)

    async def stop(self, session_id: str) -> bool:
        """Stop a running session; False when it is not running."""
        live = self._sessions.get(session_id)
        if live is None:
            return False
        await live.stop()
        return True

    def close_streams(self) -> None:
        """End every client stream (the server is shutting down)."""
        for live in list(self._sessions.values()):
            live.hub.close()

    async def shutdown(self) -> None:
        """Stop every session (each ends ``stopped`` with its analysis stored) and the thread pool."""
        await asyncio.gather(*(s.stop() for s in list(self._sessions.values())), return_exceptions=True)
        await asyncio.to_thread(self.executor.shutdown, True)

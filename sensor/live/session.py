"""What every live BLE sensor client shares: link, capture, decoding off the callback, reconnects.

:class:`BleSensorClient` implements :class:`~hipflex.sensor.live.client.SensorClient` over the
stock :class:`bleak.BleakClient` and :func:`bleak_retry_connector.establish_connection`
(the backend is injected through :class:`~hipflex.sensor.live.client.BleBackends`); the Polar
and MetaWear subclasses add their protocol (subscriptions, start and stop commands).

Data path, in order:

1. **BLE callback** (on the event loop): read the clock, append the raw bytes to the
   :class:`~hipflex.sensor.capture.log.CaptureWriter` (an in-memory append; a background
   thread writes to disk every second) and put the record on a queue.  Nothing else,
   so a slow consumer can never stall the link.
2. **Consumer task**: takes whatever is queued and decodes it in a worker thread with
   :class:`~hipflex.sensor.live.decode.LiveDecoder` (the decoders of
   :func:`~hipflex.sensor.capture.replay.decode_capture`, fed the same records in the same
   order, so replay == live), updates the clock mapping and emits chunks and gaps.
3. **samples()**: the caller's iterator over chunks and status events.

Link events go through the same capture-then-queue path as notifications
(``disconnected``, ``reconnected``, ``stream_started``, ``stream_stopped``, ``gap``), so
the decoder and a later replay see one and the same record sequence.

Reconnects: a drop while streaming wakes the supervisor task, which logs the drop,
waits ``ReconnectPolicy.delay_s(attempt)`` (0.5, 1, 2, 4, 8, 8 ... s), reconnects with
``establish_connection``, re-subscribes and restarts the streams (the subclass resets
what the device left running), until it succeeds, ``max_attempts`` is reached or the
client is stopped.  The per-stream timing state resets through the logged events.
A stream that goes silent while connected for ``stall_timeout_s`` is restarted; if it
stays silent the link is dropped and the reconnect path takes over.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from hipflex.sensor.capture.log import CaptureEvent, CaptureHeader, CaptureRecord
from hipflex.sensor.capture.log import Notification as CaptureNotification
from hipflex.sensor.errors import SensorError
from hipflex.sensor.live.ble_errors import translate_ble_error
from hipflex.sensor.live.client import (
    Battery,
    BleBackends,
    ClientItem,
    Connected,
    ReconnectPolicy,
    SampleChunk,
    StreamGap,
)
from hipflex.sensor.live.clock import ClockSync
from hipflex.sensor.live.gatt_uuids import BATTERY_LEVEL_UUID, FIRMWARE_REVISION_UUID
from hipflex.sensor.live.pipeline import BAD_FRAMES_LIMIT, ClientStats, DecodeWorker, RecordSink
from hipflex.sensor.live.recovery import LinkRecovery
from hipflex.sensor.live.scan import find_sensor

__all__ = ["BAD_FRAMES_LIMIT", "CANCEL_RETRY_S", "CANCEL_TRIES", "BleSensorClient", "ClientStats"]

_log = logging.getLogger(__name__)

_DRAIN_MAX: Final = 512  # records decoded per worker hop, at most
#: Seconds between repeated cancels of a link or decode task that did not end (see ``_cancel``).
CANCEL_RETRY_S = 1.0
#: Cancels before such a task is left behind: stopping a session always ends.
CANCEL_TRIES = 10


class _End:
    """Marker: no more items."""


_END: Final = _End()


class BleSensorClient(LinkRecovery, abc.ABC):
    """Base of the live clients (see the module notes for the data path).

    Parameters
    ----------
    device : BLEDevice or str
        The sensor, from a scan (preferred) or its address.
    capture_path : str or Path or None
        Where to write the capture log (JSON Lines); ``None`` records nothing to disk.
    overwrite : bool
        Replace an existing capture file.
    backends : BleBackends or None
        Injected bleak backends and clock (tests, emulators).
    reconnect : ReconnectPolicy or None
        Backoff after a mid-stream drop.
    command_timeout_s : float
        How long to wait for a control-point reply, seconds.
    stall_timeout_s : float or None
        A connected stream silent for this long (host seconds) is restarted; ``None``
        disables the watchdog (emulators on manual time).
    executor : ThreadPoolExecutor or None
        Where decoding runs (one worker keeps the order); by default a private one.
    """

    kind: ClassVar[str] = ""
    service_uuid: ClassVar[str] = ""

    def __init__(
        self,
        device: BLEDevice | str,
        *,
        capture_path: str | Path | None = None,
        overwrite: bool = False,
        backends: BleBackends | None = None,
        reconnect: ReconnectPolicy | None = None,
        command_timeout_s: float = 10.0,
        stall_timeout_s: float | None = 10.0,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.backends = backends or BleBackends()
        self._clock: Callable[[], float] = self.backends.clock or time.monotonic
        self._device = device if isinstance(device, BLEDevice) else None
        self._address = device.address if isinstance(device, BLEDevice) else str(device)
        self._name = (device.name if isinstance(device, BLEDevice) else None) or self._address
        self.capture_path = None if capture_path is None else Path(capture_path)
        self._overwrite = overwrite
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self.command_timeout_s = float(command_timeout_s)
        self.stall_timeout_s = stall_timeout_s
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="hipflex-decode")
        self.stats = ClientStats()
        self.clock_sync = ClockSync()
        self.firmware = ""
        self.battery_pct: int | None = None
        self._client: BleakClient | None = None
        self._sink = RecordSink(self.stats, self._fail)
        self._worker: DecodeWorker | None = None
        self._out: asyncio.Queue[ClientItem | _End | BaseException] = asyncio.Queue()
        self._wake: asyncio.Queue[str] = asyncio.Queue()
        self._ops = asyncio.Lock()  # one stream operation (start, stop, restart, reconnect) at a time
        self._state = "idle"  # idle, connected, streaming, recovering, stopping, closed, failed
        self._fatal: BaseException | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._last_data_loop_s = 0.0
        self._t0_host_s = 0.0
        self._t0_unix_s = 0.0

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """Advertised name of the sensor."""
        return self._name

    @property
    def address(self) -> str:
        """Bluetooth address (a UUID on macOS)."""
        return self._address

    @property
    def mtu(self) -> int:
        """ATT MTU of the current link (23 when not connected)."""
        client = self._client
        return client.mtu_size if client is not None and client.is_connected else 23

    @property
    def header(self) -> CaptureHeader | None:
        """The capture header (after :meth:`connect`)."""
        return self._sink.header

    @property
    def state(self) -> str:
        """``idle``, ``connected``, ``streaming``, ``recovering``, ``stopping``, ``closed`` or ``failed``."""
        return self._state

    @property
    @abc.abstractmethod
    def has_gyro(self) -> bool:
        """Whether chunks carry angular rate."""

    # ------------------------------------------------------------------ subclass hooks
    @abc.abstractmethod
    async def _on_link_up(self, client: BleakClient, first: bool) -> None:
        """Subscribe (through :meth:`_subscribe`) and learn what the device is."""

    @abc.abstractmethod
    def _capture_header(self, started_unix_s: float, started_host_s: float) -> CaptureHeader:
        """The capture header; called once, after the first :meth:`_on_link_up`."""

    @abc.abstractmethod
    async def _start_streams(self, client: BleakClient, restart: bool) -> None:
        """Start every stream (``restart``: after a reconnect or a device stop; reset leftovers)."""

    @abc.abstractmethod
    async def _stop_streams(self, client: BleakClient) -> None:
        """Stop every stream."""

    def _on_value(self, uuid: str, data: bytes, t_s: float) -> None:
        """React to a notification inside the callback (route replies); cheap only."""

    def _is_repeat(self, uuid: str, data: bytes) -> bool:
        """True for a notification delivered twice (only a timestamped protocol can tell)."""
        return False

    def _on_link_lost(self) -> None:
        """The link dropped: fail pending command waits."""

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        """Find the sensor, connect (with retries), subscribe and open the capture log.

        Raises
        ------
        SensorError
            :class:`~hipflex.sensor.errors.NoAdapter`, ``PermissionDenied``,
            ``SensorNotFound``, ``DeviceBusy`` or ``StreamFailed`` with the reason.
        """
        if self._state != "idle":
            return
        self._t0_host_s, self._t0_unix_s = self._clock(), time.time()
        device = await self._resolve_device()
        try:
            await self._open_link(device, attempts=4, first=True)
            self._open_capture()
        except BaseException:
            await self._close_link()
            self._close_capture()
            raise
        self._state = "connected"

    async def start(self) -> None:
        """Start streaming; chunks and events flow into :meth:`samples`.

        Raises
        ------
        SensorError
            The device refused the stream (``StreamFailed`` names the setting).
        """
        if self._state == "idle":
            await self.connect()
        if self._state != "connected":
            return
        self._consumer = asyncio.get_running_loop().create_task(self._consume(), name=f"decode {self.name}")
        async with self._ops:
            try:
                client = self._client
                if client is None or not client.is_connected:  # dropped between connect() and start()
                    assert self._device is not None
                    self._event("disconnected", reason="link lost before the start")
                    client = await self._open_link(self._device, attempts=4, first=False)
                    self._event("reconnected", attempt=1)
                await self._start_streams(client, restart=False)
            except (BleakError, TimeoutError, OSError) as exc:
                raise translate_ble_error(exc, doing="start streaming from", target=self.name) from exc
        self._state = "streaming"
        self._last_data_loop_s = asyncio.get_running_loop().time()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name=f"link {self.name}")
        self._emit(Connected(self._clock(), self.name, self.address, self.mtu, reconnect=False))

    async def stop(self) -> None:
        """Stop the streams; :meth:`samples` ends after the last decoded chunk."""
        if self._state not in ("streaming", "recovering"):
            return
        recovering = self._state == "recovering"
        # "stopping" first: a reconnect that completes although cancelled (a library that swallows the
        # cancellation) then sees it and leaves the link to us instead of resuming the stream.
        self._state = "stopping"
        # No point waiting out connection attempts.  A supervisor left running holds the link
        # operations' lock: the streams are then not stopped politely (disconnect drops the link).
        ended = await self._cancel(self._supervisor) if recovering else True
        if ended:
            async with self._ops:
                client = self._client
                if client is not None and client.is_connected:
                    try:
                        await self._stop_streams(client)
                    except (BleakError, TimeoutError, OSError, SensorError) as exc:
                        _log.warning("%s: stopping the streams failed (%s); disconnecting anyway", self.name, exc)
        self._end_recording()
        if ended:
            await self._cancel(self._supervisor)
        if self._consumer is not None:
            await asyncio.shield(self._consumer)

    async def disconnect(self) -> None:
        """Stop (when streaming), drop the link and close the capture log.  Idempotent."""
        if self._state in ("streaming", "recovering"):
            await self.stop()
        if self._state == "closed":
            return
        self._end_recording()
        await self._cancel(self._supervisor)
        if self._consumer is not None and not self._consumer.done():
            # At most 10 s for the decoder to drain; the link and the capture close either way.
            await asyncio.wait({self._consumer}, timeout=10.0)
        self._state = "closed"
        await self._close_link()
        self._close_capture()
        if self._own_executor:
            self._executor.shutdown(wait=False)

    async def samples(self) -> AsyncIterator[ClientItem]:
        """Decoded chunks and status events until the session ends.

        Raises
        ------
        SensorError
            The session failed (after every sample decoded before the failure).
        """
        while True:
            item = await self._out.get()
            if isinstance(item, _End):
                self._out.put_nowait(item)  # a second iterator ends too
                return
            if isinstance(item, BaseException):
                self._out.put_nowait(_END)
                raise item
            yield item

    async def __aenter__(self) -> BleSensorClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.disconnect()

    # ------------------------------------------------------------------ link
    async def _resolve_device(self) -> BLEDevice:
        if self._device is not None:
            return self._device
        found = await find_sensor(self._address, backends=self.backends)
        self._device, self._name = found.device, found.info.name
        self._address = found.device.address
        return found.device

    async def _open_link(self, device: BLEDevice, *, attempts: int, first: bool) -> BleakClient:
        try:
            client = await establish_connection(
                BleakClient,
                device,
                self.name,
                disconnected_callback=self._on_disconnected,
                max_attempts=attempts,
                **self.backends.client_options(),
            )
        except Exception as exc:
            raise translate_ble_error(exc, doing="connect to", target=self.name) from exc
        try:
            await self._acquire_mtu(client)
            await self._on_link_up(client, first)
            if first:
                self.firmware = await self._read_text(client, FIRMWARE_REVISION_UUID)
            await self._read_battery(client)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            if isinstance(exc, BleakError | TimeoutError | OSError):
                raise translate_ble_error(exc, doing="set up", target=self.name) from exc
            raise
        self._client = client
        return client

    @staticmethod
    async def _acquire_mtu(client: BleakClient) -> None:
        # BlueZ knows the negotiated MTU only after an Acquire* call; others know it at connect.
        backend = getattr(client, "_backend", None)
        acquire = getattr(backend, "_acquire_mtu", None)
        if acquire is not None:
            with contextlib.suppress(Exception):
                await acquire()

    async def _read_text(self, client: BleakClient, uuid: str) -> str:
        if client.services.get_characteristic(uuid) is None:
            return ""
        try:
            return bytes(await client.read_gatt_char(uuid)).decode("utf-8", errors="replace").strip("\x00 ")
        except (BleakError, TimeoutError):
            return ""

    async def _read_battery(self, client: BleakClient) -> None:
        char = client.services.get_characteristic(BATTERY_LEVEL_UUID)
        if char is None:
            return
        with contextlib.suppress(BleakError, TimeoutError):
            value = await client.read_gatt_char(char)
            if value:
                self._battery(int(value[0]), self._clock())
            if "notify" in char.properties:
                await self._subscribe(client, BATTERY_LEVEL_UUID)

    def _battery(self, pct: int, t_s: float) -> None:
        self.battery_pct = pct
        self._emit(Battery(t_s, pct))

    async def _subscribe(self, client: BleakClient, uuid: str) -> None:
        """Enable notifications or indications of ``uuid`` into the capture path."""

        def on_value(_sender: Any, data: bytearray) -> None:
            # The BLE callback: timestamp, capture, enqueue, route. No decoding here.
            t_s = self._clock()
            raw = bytes(data)
            self.stats.notifications += 1
            if self._is_repeat(uuid, raw):
                # Kept in the capture as an event (bytes and all), never decoded: a repeated
                # frame would otherwise come out as repeated samples.
                self.stats.repeats += 1
                self._record(CaptureEvent(t_s, "duplicate", {"char_uuid": uuid, "hex": raw.hex()}))
                return
            self._record(CaptureNotification(t_s, uuid, raw))
            if uuid == BATTERY_LEVEL_UUID and raw:
                self._battery(raw[0], t_s)
            else:
                self._on_value(uuid, raw, t_s)

        await client.start_notify(uuid, on_value)

    def _on_disconnected(self, client: BleakClient) -> None:
        # bleak (like BlueZ) calls this on every disconnect, ours included, and for old links.
        if client is not self._client:
            return
        self._client = None
        self._on_link_lost()
        if self._state in ("streaming",):
            self._wake.put_nowait("link lost")

    async def _close_link(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._on_link_lost()
            with contextlib.suppress(Exception):
                await client.disconnect()

    # ------------------------------------------------------------------ capture and queue
    def _open_capture(self) -> None:
        header = self._capture_header(self._t0_unix_s, self._t0_host_s)
        header = self._sink.open(header, self.capture_path, overwrite=self._overwrite, clock=self._clock)
        self._worker = DecodeWorker(header, self.stats, self.clock_sync, self.name, lambda: self.mtu)

    def _close_capture(self) -> None:
        self._sink.close()

    def _record(self, rec: CaptureRecord) -> None:
        """Capture first, then queue for decoding: the file and the decoder see the same records."""
        self._sink.record(rec)

    def _event(self, name: str, **info: Any) -> None:
        self._sink.record(CaptureEvent(self._clock(), name, info))

    def _emit(self, item: ClientItem) -> None:
        self._out.put_nowait(item)

    def _end_recording(self) -> None:
        self._sink.end()

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            _log.error("%s: %s", self.name, exc)
            self._fatal = exc
        self._state = "failed"
        self._end_recording()

    # ------------------------------------------------------------------ decoding (consumer)
    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            batch: list[CaptureRecord] = []
            rec = await self._sink.queue.get()
            while True:
                if rec is None:
                    done = True
                    break
                batch.append(rec)
                if len(batch) >= _DRAIN_MAX or self._sink.queue.empty():
                    break
                rec = self._sink.queue.get_nowait()
            if batch and self._worker is not None:
                try:
                    items = await loop.run_in_executor(self._executor, self._worker.decode, batch)
                except SensorError as exc:
                    self._fail(exc)
                    items = []
                self._publish(items)
        if self._worker is not None:
            self._publish(await loop.run_in_executor(self._executor, self._worker.finish, self._clock()))
        self._out.put_nowait(self._fatal if self._fatal is not None else _END)

    def _publish(self, items: list[ClientItem]) -> None:
        for item in items:
            if isinstance(item, StreamGap):
                self.stats.gaps += 1
                _log.info("%s: %s gap of %.3f s (%s)", self.name, item.stream, item.duration_s, item.reason)
                self._sink.log_gap(item)
            elif isinstance(item, SampleChunk):
                self.stats.samples += len(item)
                self._last_data_loop_s = asyncio.get_running_loop().time()
            self._emit(item)

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> bool:
        """Cancel ``task`` and wait until it has ended, or give up on it.

        The cancellation is repeated every :data:`CANCEL_RETRY_S`: awaiting the task
        once hung a recording for good when a reply landed in the same loop turn as
        the cancel and an ``asyncio.wait_for`` of Python 3.11 returned the reply
        instead of raising (the task then waited on).  A task still running after
        :data:`CANCEL_TRIES` cancels is left behind with an error in the log, so that
        stopping a session always ends.  A cancellation of the caller itself propagates.
        Returns whether the task has ended (or was none to cancel).
        """
        if task is None or task.done() or task is asyncio.current_task():
            return True
        for _ in range(CANCEL_TRIES):
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_RETRY_S)
            if task.done():
                break
        else:
            _log.error("%s ignored %d cancellations; left running", task.get_name(), CANCEL_TRIES)
            return False
        if not task.cancelled() and task.exception() is not None:
            _log.warning("%s ended with %r while being cancelled", task.get_name(), task.exception())
        return True

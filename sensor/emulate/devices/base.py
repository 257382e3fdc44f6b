"""Shared machinery of emulated sensors: emulated time, pacing, fault injection, standard services.

An emulated peripheral (:class:`EmulatedPeripheral`) implements
:class:`~hipflex.sensor.emulate.ble.model.PeripheralModel`, so the fake backend and the bumble tier
host it alike.  It runs on *emulated uptime*:

- paced (``time_scale`` > 0): uptime = host loop time since start x ``time_scale``; a
  background task wakes once per connection interval (or 1 ms of host time, whichever
  is longer) and sends everything that came due, the way a controller sends queued
  notifications at connection events.  ``time_scale=50`` streams a minute in 1.2 s.
- manual (``time_scale=None``): nothing happens until the test calls :meth:`advance`,
  which is exact and needs no sleeping.

Subclasses produce data notifications with :meth:`_emit_data` and a due time; the
fault plan then drops, duplicates, delays or bunches them before they reach the link.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from hipflex.sensor.emulate.ble.model import (
    AdvertisementSpec,
    CharacteristicSpec,
    GattServer,
    ServiceSpec,
    normalize_uuid,
)
from hipflex.sensor.emulate.devices.clock import DeviceClock
from hipflex.sensor.emulate.devices.faults import FaultPlan
from hipflex.sensor.emulate.devices.source import SampleFeed, SourceLike, as_sample_feed
from hipflex.sensor.live.gatt_uuids import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID

__all__ = ["DEVICE_INFORMATION_UUID", "EmulatedPeripheral", "EmulatorStats"]

_log = logging.getLogger(__name__)

DEVICE_INFORMATION_UUID: Final = normalize_uuid(0x180A)
_DIS_FIELDS: Final = {
    "manufacturer": 0x2A29,
    "model": 0x2A24,
    "serial": 0x2A25,
    "hardware": 0x2A27,
    "firmware": 0x2A26,
}
# Host seconds between pacing wake-ups at most: fine enough for any time_scale, cheap for the loop.
_MIN_HOST_TICK_S: Final = 0.001


@dataclass
class EmulatorStats:
    """Counters of what happened to data notifications.

    Attributes
    ----------
    produced : int
        Data notifications the device built.
    dropped : int
        Lost to ``FaultPlan.drop_fraction``.
    duplicated : int
        Extra copies sent for ``FaultPlan.duplicate_fraction``.
    sent : int
        Handed to a connected, subscribed central.
    lost_no_link : int
        Produced while nobody was connected and subscribed.
    forced_disconnects : int
        Peripheral-initiated disconnects from the fault plan.
    """

    produced: int = 0
    dropped: int = 0
    duplicated: int = 0
    sent: int = 0
    lost_no_link: int = 0
    forced_disconnects: int = 0


class EmulatedPeripheral(abc.ABC):
    """Base class of the Polar and MetaWear emulators.

    Parameters
    ----------
    name : str
        Device name (advertised local name and GAP name).
    source : SourceLike
        Where samples come from (:class:`~hipflex.sensor.emulate.devices.source.SampleFeed`).
    faults : FaultPlan or None
        Injected faults; none by default.
    time_scale : float or None
        Emulated seconds per host second (1.0 = real time), or ``None`` for manual time.
    clock : DeviceClock or None
        Device clock; the host wall clock by default.
    battery_pct : int
        Battery Level characteristic value.
    connection_interval_s : float
        Emulated seconds between connection events, the granularity of delivery.
    device_info : mapping of str to str
        Device Information fields: manufacturer, model, serial, hardware, firmware.
    max_att_mtu : int
        Largest ATT MTU the device accepts (hosts use it unless told otherwise).
    """

    def __init__(
        self,
        *,
        name: str,
        source: SourceLike = None,
        faults: FaultPlan | None = None,
        time_scale: float | None = 1.0,
        clock: DeviceClock | None = None,
        battery_pct: int = 87,
        connection_interval_s: float = 0.0075,
        device_info: Mapping[str, str] | None = None,
        max_att_mtu: int = 517,
    ) -> None:
        if time_scale is not None and time_scale <= 0:
            raise ValueError(f"time_scale must be > 0 or None, got {time_scale}")
        if not 0 <= battery_pct <= 100:
            raise ValueError(f"battery_pct must be 0..100, got {battery_pct}")
        self._name = name
        self.source: SampleFeed = as_sample_feed(source)
        self.faults = faults or FaultPlan()
        self.time_scale = time_scale
        self.clock: DeviceClock = clock or DeviceClock.from_host()
        self.battery_pct = battery_pct
        self.connection_interval_s = connection_interval_s
        self.device_info = dict(device_info or {})
        self.max_att_mtu = max_att_mtu
        self.stats = EmulatorStats()
        self._server: GattServer | None = None
        self._rng = np.random.default_rng(self.faults.seed)
        self._manual_uptime_s = 0.0
        self._t0_host: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._outbox: deque[tuple[float, str, bytes]] = deque()
        self._held: list[tuple[float, str, bytes]] = []
        self._staged: list[tuple[float, str, bytes]] = []
        self._last_release_s = 0.0
        self._disconnect_times = list(self.faults.disconnect_at_s)
        self._stop_times = list(self.faults.device_stop_at_s)

    # ------------------------------------------------------------------ PeripheralModel
    @property
    def name(self) -> str:
        """Device name."""
        return self._name

    @abc.abstractmethod
    def advertisement(self) -> AdvertisementSpec:
        """Advertising data."""

    @abc.abstractmethod
    def _device_services(self) -> list[ServiceSpec]:
        """The device-specific GATT services."""

    def gatt_services(self) -> Sequence[ServiceSpec]:
        """Device services, then Battery and Device Information."""
        battery = ServiceSpec(
            BATTERY_SERVICE_UUID,
            [CharacteristicSpec(BATTERY_LEVEL_UUID, ("read", "notify"), on_read=lambda _s: bytes([self.battery_pct]))],
        )
        info = ServiceSpec(
            DEVICE_INFORMATION_UUID,
            [
                CharacteristicSpec(normalize_uuid(_DIS_FIELDS[k]), ("read",), v.encode())
                for k, v in self.device_info.items()
                if k in _DIS_FIELDS
            ],
        )
        return [*self._device_services(), battery, info]

    def attach(self, server: GattServer) -> None:
        """Receive the host's server interface."""
        self._server = server

    @property
    def server(self) -> GattServer:
        """The host interface; raises before :meth:`attach`."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not hosted yet (attach a FakePeripheral or BumblePeripheral)")
        return self._server

    def on_connect(self) -> None:
        """A central connected: start pacing (fault times and streams need it)."""
        self._ensure_pacing()

    def on_disconnect(self) -> None:
        """The link dropped: queued values are lost; streams stop unless the plan keeps them."""
        self._outbox.clear()
        self._held.clear()
        self._staged.clear()
        if not self.faults.keep_streaming_on_disconnect:
            self._stop_all_streams()

    async def aclose(self) -> None:
        """Cancel the pacing task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ time
    def uptime_s(self) -> float:
        """Emulated seconds since the device started."""
        if self.time_scale is None:
            return self._manual_uptime_s
        now = asyncio.get_running_loop().time()
        if self._t0_host is None:
            self._t0_host = now
        return (now - self._t0_host) * self.time_scale

    def advance(self, dt_s: float) -> None:
        """Manual time: move uptime on by ``dt_s`` and send everything that came due.

        Raises
        ------
        RuntimeError
            In paced mode (``time_scale`` set).
        """
        if self.time_scale is not None:
            raise RuntimeError("advance() needs manual time: create the emulator with time_scale=None")
        if dt_s < 0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s}")
        self._manual_uptime_s += dt_s
        self._run_until(self._manual_uptime_s)

    def _ensure_pacing(self) -> None:
        if self.time_scale is None or (self._task is not None and not self._task.done()):
            return
        self.uptime_s()  # anchor uptime 0 before the first tick
        self._task = asyncio.get_running_loop().create_task(self._pace())

    async def _pace(self) -> None:
        assert self.time_scale is not None
        host_tick_s = max(self.connection_interval_s / self.time_scale, _MIN_HOST_TICK_S)
        while True:
            try:
                self._run_until(self.uptime_s())
            except Exception:  # a dead pacer would stall the stream silently: say why, then stop
                _log.exception("%s: emulation step failed; streaming stops", self.name)
                return
            connected = self._server is not None and self._server.is_connected
            if not (connected or self._streams_active() or self._outbox or self._held):
                return
            await asyncio.sleep(host_tick_s)

    def _run_until(self, now_s: float) -> None:
        server = self._server
        while self._stop_times and self._stop_times[0] <= now_s:
            self._stop_times.pop(0)
            if self._streams_active():
                self._device_stop()
        if self._disconnect_times and self._disconnect_times[0] <= now_s:
            # Everything due before the drop still goes out first.
            self._produce(self._disconnect_times[0])
            self._commit()
            self._release(self._disconnect_times[0])
            self._disconnect_times.pop(0)
            if server is not None and server.is_connected:
                self.stats.forced_disconnects += 1
                _log.info("%s: fault plan drops the link at uptime %.3f s", self.name, now_s)
                server.disconnect()
        self._produce(now_s)
        self._commit()
        self._release(now_s)

    # ------------------------------------------------------------------ data path
    def _data_mtu(self) -> int:
        """The MTU frames are sized for: the link's, unless the fault plan overrides it."""
        return self.faults.frame_mtu or self.server.att_mtu

    def _emit_data(self, uuid: str, data: bytes, due_s: float) -> None:
        """Queue a data notification that is complete at uptime ``due_s``.

        Notifications produced in one step are put in due-time order (several streams
        interleave as on a real device) before the fault plan sees them.
        """
        self.stats.produced += 1
        self._staged.append((due_s, uuid, data))

    def _commit(self) -> None:
        staged, self._staged = self._staged, []
        staged.sort(key=lambda item: item[0])  # stable: one stream's order is kept
        plan = self.faults
        for due_s, uuid, data in staged:
            if plan.drop_fraction and self._rng.random() < plan.drop_fraction:
                self.stats.dropped += 1
                continue
            copies = 1
            if plan.duplicate_fraction and self._rng.random() < plan.duplicate_fraction:
                copies = 2
                self.stats.duplicated += 1
            release_s = due_s + (self._rng.uniform(0.0, plan.jitter_s) if plan.jitter_s else 0.0)
            release_s = max(release_s, self._last_release_s)  # a link never reorders
            self._last_release_s = release_s
            self._held.extend([(release_s, uuid, data)] * copies)
            if len(self._held) >= plan.burst_frames:
                last = self._held[-1][0]
                self._outbox.extend((last, u, d) for _, u, d in self._held)
                self._held.clear()

    def _release(self, now_s: float) -> None:
        while self._outbox and self._outbox[0][0] <= now_s:
            _, uuid, data = self._outbox.popleft()
            self._deliver(uuid, data)

    def _flush(self) -> None:
        """Send everything held or queued now (before a control response, as firmware drains its buffer)."""
        self._commit()
        self._outbox.extend(self._held)
        self._held.clear()
        while self._outbox:
            _, uuid, data = self._outbox.popleft()
            self._deliver(uuid, data)

    def _deliver(self, uuid: str, data: bytes) -> None:
        if self._server is not None and self._server.notify(uuid, data):
            self.stats.sent += 1
        else:
            self.stats.lost_no_link += 1

    # ------------------------------------------------------------------ subclass hooks
    @abc.abstractmethod
    def _produce(self, now_s: float) -> None:
        """Build every data notification whose last sample is due by ``now_s``."""

    @abc.abstractmethod
    def _streams_active(self) -> bool:
        """True while any stream runs."""

    @abc.abstractmethod
    def _stop_all_streams(self) -> None:
        """Stop every stream silently (link loss)."""

    def _device_stop(self) -> None:
        """The device stops its streams on its own; subclasses announce it if the protocol can."""
        self._stop_all_streams()

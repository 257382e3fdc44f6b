"""The API's device seam filled in with the live sensor clients.

:class:`SensorDeviceBackend` implements :class:`~hipflex.service.devices.DeviceBackend`
over :mod:`hipflex.sensor.live.scan`, :class:`~hipflex.sensor.live.polar_client.PolarClient` and
:class:`~hipflex.sensor.live.metawear_client.MetaWearClient`: ``scan`` lists supported
sensors, ``connect`` finds and connects one (subscriptions, chip discovery, capture log
opened), and ``source`` hands a live session a :class:`SensorSource` that starts the
streams and turns client items into what :class:`~hipflex.service.live.LiveSession`
consumes (``ImuSamples`` chunks and ``SourceStatus`` for battery and reconnects).

:func:`~hipflex.service.app.create_app` uses ``SensorDeviceBackend(capture_dir=settings.capture_dir)``
unless another backend is injected (``devices=``).  Errors keep the API's meaning: no
adapter or no permission is :class:`DevicesUnavailable` (503), an unknown or silent sensor
:class:`DeviceNotFound` (404), a sensor that refuses to stream a
:class:`~hipflex.service.sources.SourceError` (422).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hipflex.sensor.errors import NoAdapter, PermissionDenied, SensorError, SensorNotFound
from hipflex.sensor.live.client import Battery, BleBackends, Connected, Disconnected, Reconnecting, SampleChunk
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.scan import SensorInfo, find_sensor, scan_sensors
from hipflex.service.devices import DeviceInfo, DeviceNotFound, DevicesUnavailable
from hipflex.service.sources import SourceError, SourceItem, SourceStatus

__all__ = ["SensorDeviceBackend", "SensorSource"]


def _service_error(exc: SensorError, address: str = "") -> Exception:
    if isinstance(exc, NoAdapter | PermissionDenied):
        return DevicesUnavailable(str(exc))
    if isinstance(exc, SensorNotFound):
        return DeviceNotFound(address or str(exc))
    return SourceError(str(exc))


class SensorSource:
    """A connected sensor as a live session's sample source.

    Parameters
    ----------
    client : BleSensorClient
        Connected (not yet started); the source starts it and disconnects it at the end.
    """

    kind = "device"

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def has_gyro(self) -> bool:
        """Whether the sensor streams angular rate."""
        return bool(self.client.has_gyro)

    async def open(self) -> None:
        """Nothing to do: the backend connected the sensor already."""
        if self.client.state != "connected":
            raise SourceError(f"{self.client.name} is not connected; connect it first")

    async def stream(self) -> AsyncIterator[SourceItem]:
        """Chunks and status until the session stops (cancellation) or the sensor is lost for good."""
        client = self.client
        try:
            try:
                await client.start()
            except SensorError as exc:
                raise _service_error(exc, client.address) from exc
            yield SourceStatus("running", client.battery_pct)
            async for item in client.samples():
                if isinstance(item, SampleChunk):
                    yield item.samples
                elif isinstance(item, Battery):
                    yield SourceStatus("running", item.pct)
                elif isinstance(item, Disconnected | Reconnecting):
                    yield SourceStatus("reconnecting")
                elif isinstance(item, Connected):
                    yield SourceStatus("running", client.battery_pct)
        finally:
            # Stopped by the session (cancelled) or ended: stop the streams, close the capture.
            await asyncio.shield(client.disconnect())


class SensorDeviceBackend:
    """:class:`~hipflex.service.devices.DeviceBackend` over the live sensor clients.

    Parameters
    ----------
    backends : BleBackends or None
        Injected bleak backends (tests, emulators); the OS's by default.
    capture_dir : Path or None
        Folder for the capture logs of connected sensors (``<address>-<unix time>.jsonl``);
        ``None`` records none.
    find_timeout_s : float
        How long ``connect`` looks for a sensor that was not in the last scan, seconds.
    """

    def __init__(
        self, backends: BleBackends | None = None, *, capture_dir: Path | None = None, find_timeout_s: float = 10.0
    ) -> None:
        self.backends = backends or BleBackends()
        self.capture_dir = capture_dir
        self.find_timeout_s = find_timeout_s
        self._seen: dict[str, SensorInfo] = {}
        self._clients: dict[str, Any] = {}
        self._handed: dict[str, Any] = {}  # the client of each address last handed to a session

    @staticmethod
    def _info(info: SensorInfo, connected: bool = False, battery: int | None = None) -> DeviceInfo:
        return DeviceInfo(
            info.address, info.name, info.kind, info.rssi_dbm, connected,
            battery if battery is not None else info.battery_pct,
        )  # fmt: skip

    async def scan(self, timeout_s: float) -> list[DeviceInfo]:
        """Supported sensors advertising within ``timeout_s`` (battery only when advertised)."""
        try:
            found = await scan_sensors(timeout_s, backends=self.backends, read_batteries=False)
        except SensorError as exc:
            raise _service_error(exc) from exc
        self._seen.update({i.address: i for i in found})
        return [self.status(i.address) or self._info(i) for i in found]

    async def connect(self, address: str) -> DeviceInfo:
        """Find (by address), connect and subscribe; the capture log opens now."""
        client = self._clients.get(address)
        if client is not None and client.state in ("connected", "streaming", "recovering"):
            return self.status(address) or DeviceInfo(address, client.name, client.kind, connected=True)
        try:
            found = await find_sensor(address, self.find_timeout_s, backends=self.backends)
            capture = None
            if self.capture_dir is not None:
                self.capture_dir.mkdir(parents=True, exist_ok=True)
                capture = self.capture_dir / f"{address.replace(':', '')}-{int(time.time())}.jsonl"
            client = open_sensor(found, capture_path=capture, backends=self.backends)
            await client.connect()
        except SensorError as exc:
            raise _service_error(exc, address) from exc
        self._seen[address] = found.info
        self._clients[address] = client
        return self.status(address) or self._info(found.info, True)

    async def disconnect(self, address: str) -> DeviceInfo:
        """Stop and disconnect (a running session on it ends)."""
        client = self._clients.pop(address, None)
        info = self._seen.get(address)
        if client is None and info is None:
            raise DeviceNotFound(address)
        if client is not None:
            await client.disconnect()
        return self._info(info) if info is not None else DeviceInfo(address, client.name, client.kind)

    def status(self, address: str) -> DeviceInfo | None:
        """Live state of a sensor this backend has seen."""
        info = self._seen.get(address)
        client = self._clients.get(address)
        if info is None:
            return None
        connected = client is not None and client.state in ("connected", "streaming", "recovering")
        return self._info(info, connected, None if client is None else client.battery_pct)

    def source(self, address: str) -> SensorSource:
        """The connected sensor as a session source.

        Raises
        ------
        SourceError
            Not connected (connect it first), or already streaming into another session.
        """
        client = self._clients.get(address)
        if client is None or client.state != "connected" or self._handed.get(address) is client:
            state = "not connected" if client is None else f"busy ({client.state})"
            raise SourceError(f"device {address} is {state}; connect it first (one session per sensor)")
        # A client streams once (the session disconnects it at the end): the next session on
        # this sensor connects afresh. It is taken now, not when its stream starts: a second
        # request in between got the same sensor.
        self._handed[address] = client
        return SensorSource(client)

    async def aclose(self) -> None:
        """Disconnect everything."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.disconnect()

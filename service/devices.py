"""The seam between the API and Bluetooth sensors.

The routes talk to a :class:`DeviceBackend`.  The app's default is
:class:`~hipflex.service.sensor_devices.SensorDeviceBackend`, which scans, connects and
streams through the live sensor clients (:mod:`hipflex.sensor.live`).  Whenever Bluetooth cannot be used (no adapter, no
permission) a backend raises :class:`DevicesUnavailable`, which the API answers with
503 and the message.  Tests inject a fake backend through ``create_app(..., devices=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from hipflex.service.errors import ServiceLayerError
from hipflex.service.sources import SampleSource

__all__ = [
    "DeviceBackend",
    "DeviceInfo",
    "DeviceKind",
    "DeviceNotFound",
    "DevicesUnavailable",
]

DeviceKind = Literal["polar", "metawear", "unknown"]


class DevicesUnavailable(ServiceLayerError, RuntimeError):
    """Bluetooth cannot be used (no adapter, no permission, transport not installed)."""


class DeviceNotFound(ServiceLayerError, LookupError):
    """No device with that address is known."""


@dataclass(frozen=True)
class DeviceInfo:
    """What is known about one sensor."""

    address: str
    name: str | None = None
    kind: DeviceKind = "unknown"
    rssi_dbm: int | None = None
    connected: bool = False
    battery_pct: int | None = None


@runtime_checkable
class DeviceBackend(Protocol):
    """Scan, connect and stream Bluetooth sensors."""

    async def scan(self, timeout_s: float) -> list[DeviceInfo]:
        """Devices advertising within ``timeout_s``."""
        ...

    async def connect(self, address: str) -> DeviceInfo:
        """Connect (and stay connected until :meth:`disconnect`)."""
        ...

    async def disconnect(self, address: str) -> DeviceInfo:
        """Disconnect."""
        ...

    def status(self, address: str) -> DeviceInfo | None:
        """Live status of a device this backend knows, else ``None``."""
        ...

    def source(self, address: str) -> SampleSource:
        """A sample source streaming this device (for a live session)."""
        ...

    async def aclose(self) -> None:
        """Disconnect everything."""
        ...

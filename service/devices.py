"""The seam between the API and Bluetooth sensors.

The routes talk to a :class:`DeviceBackend`.  The app's default is
:class:`~hipflex.service.sensor_devices.SensorDeviceBackend`, which scans, connects and
streams through the live sensor clients (:mod:`hipflex.sensor`).  :class:`BleakDeviceBackend`
is a minimal scan-only backend over plain bleak: connecting through it raises
:class:`DevicesUnavailable`.  Whenever Bluetooth cannot be used (no adapter, no
permission) a backend raises :class:`DevicesUnavailable`, which the API answers with
503 and the message.  Tests inject a fake backend through ``create_app(..., devices=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

from hipflex.service.sources import SampleSource

__all__ = [
    "BleakDeviceBackend",
    "DeviceBackend",
    "DeviceInfo",
    "DeviceKind",
    "DeviceNotFound",
    "DevicesUnavailable",
    "device_kind",
]

DeviceKind = Literal["polar", "metawear", "unknown"]


class DevicesUnavailable(RuntimeError):
    """Bluetooth cannot be used (no adapter, no permission, transport not installed)."""


class DeviceNotFound(LookupError):
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


def device_kind(name: str | None) -> DeviceKind:
    """Guess the sensor family from its advertised name."""
    low = (name or "").lower()
    if low.startswith("polar"):
        return "polar"
    if "metawear" in low or "metamotion" in low:
        return "metawear"
    return "unknown"


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


_NO_TRANSPORT = (
    "this device backend only scans; connecting to sensors needs SensorDeviceBackend "
    "(hipflex.service.sensor_devices, the server's default)"
)


class BleakDeviceBackend:
    """Scanning through plain bleak, nothing more (the API's default is ``SensorDeviceBackend``)."""

    def __init__(self) -> None:
        self._seen: dict[str, DeviceInfo] = {}

    async def scan(self, timeout_s: float) -> list[DeviceInfo]:
        try:
            from bleak import BleakScanner
        except ImportError:
            raise DevicesUnavailable("Bluetooth is not available: the 'bleak' package is not installed") from None
        try:
            found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
        except Exception as exc:  # bleak raises many kinds when there is no adapter or no permission
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise DevicesUnavailable(f"Bluetooth is not available (no adapter or no permission): {detail}") from None
        out = []
        for device, adv in found.values():
            name = adv.local_name or device.name
            info = DeviceInfo(device.address, name, device_kind(name), adv.rssi)
            self._seen[device.address] = info
            out.append(info)
        return sorted(out, key=lambda d: -(d.rssi_dbm or -999))

    async def connect(self, address: str) -> DeviceInfo:
        raise DevicesUnavailable(_NO_TRANSPORT)

    async def disconnect(self, address: str) -> DeviceInfo:
        info = self._seen.get(address)
        if info is None:
            raise DeviceNotFound(address)
        return replace(info, connected=False)

    def status(self, address: str) -> DeviceInfo | None:
        return self._seen.get(address)

    def source(self, address: str) -> SampleSource:
        raise DevicesUnavailable(_NO_TRANSPORT)

    async def aclose(self) -> None:
        self._seen.clear()

"""Find supported sensors nearby, and open the right live client for one.

A sensor is supported when its advertisement lists the Polar PMD or the MetaWear
service UUID.  Some firmware leaves the 128-bit UUID out of the advertisement (it only
fits the scan response, which passive scans miss), so the Polar and MbientLab company
identifiers in the manufacturer data and the usual names count as well.

:func:`scan_sensors` reports name, address, kind, model, RSSI and battery level; the
battery comes from Battery Service data in the advertisement when present, otherwise
from a short connection reading Battery Level (0x2A19), which ``read_battery=False``
skips.  :func:`find_sensor` resolves what a user typed (an address, or part of a name)
to a ``BLEDevice`` and :func:`open_sensor` builds the client for its kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from hipflex.sensor.ble.model import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from hipflex.sensor.client import BleBackends
from hipflex.sensor.errors import DeviceNotFound, translate_ble_error
from hipflex.sensor.metawear import METAWEAR_SERVICE_UUID
from hipflex.sensor.pmd_control import PMD_SERVICE_UUID

__all__ = [
    "MBIENTLAB_COMPANY_ID",
    "POLAR_COMPANY_ID",
    "FoundSensor",
    "SensorInfo",
    "SensorKind",
    "classify_advertisement",
    "find_sensor",
    "open_sensor",
    "read_battery",
    "scan_sensors",
]

_log = logging.getLogger(__name__)

SensorKind = Literal["polar", "metawear"]
#: Bluetooth SIG company identifiers seen in the manufacturer data.
POLAR_COMPANY_ID: Final = 0x006B
MBIENTLAB_COMPANY_ID: Final = 0x067E


@dataclass(frozen=True)
class SensorInfo:
    """A supported sensor seen in a scan.

    Attributes
    ----------
    name : str
        Advertised name (the address when it advertises none).
    address : str
        Bluetooth address (a UUID on macOS).
    kind : {"polar", "metawear"}
        Protocol family.
    model : str
        ``"H10"``, ``"Verity Sense"``, ``"MetaMotion"`` or ``"Polar"`` (another Polar model).
    rssi_dbm : int or None
        Signal strength of the strongest advertisement seen, dBm.
    battery_pct : int or None
        Battery level, percent, when known.
    """

    name: str
    address: str
    kind: SensorKind
    model: str
    rssi_dbm: int | None = None
    battery_pct: int | None = None


@dataclass(frozen=True)
class FoundSensor:
    """A sensor with the ``BLEDevice`` to connect to it."""

    device: BLEDevice
    info: SensorInfo


def classify_advertisement(name: str | None, adv: AdvertisementData) -> tuple[SensorKind, str] | None:
    """(kind, model) of an advertisement, or ``None`` when hipflex does not stream it."""
    uuids = {u.lower() for u in adv.service_uuids}
    low = (name or "").lower()
    if PMD_SERVICE_UUID in uuids or POLAR_COMPANY_ID in adv.manufacturer_data or low.startswith("polar "):
        if low.startswith("polar h10"):
            return "polar", "H10"
        if low.startswith(("polar sense", "polar verity")):
            return "polar", "Verity Sense"
        return "polar", "Polar"
    if METAWEAR_SERVICE_UUID in uuids or MBIENTLAB_COMPANY_ID in adv.manufacturer_data or low == "metawear":
        return "metawear", "MetaMotion"
    return None


def _battery_from_adv(adv: AdvertisementData) -> int | None:
    data = adv.service_data.get(BATTERY_SERVICE_UUID)
    return int(data[0]) if data else None


async def _scan(
    timeout_s: float, backends: BleBackends, stop_when: Any = None
) -> dict[str, tuple[BLEDevice, SensorInfo]]:
    found: dict[str, tuple[BLEDevice, SensorInfo]] = {}
    done = asyncio.Event()

    def on_adv(device: BLEDevice, adv: AdvertisementData) -> None:
        name = adv.local_name or device.name
        kind = classify_advertisement(name, adv)
        if kind is None:
            return
        old = found.get(device.address)
        rssi = adv.rssi if old is None or old[1].rssi_dbm is None else max(adv.rssi, old[1].rssi_dbm)
        battery = _battery_from_adv(adv) if old is None or old[1].battery_pct is None else old[1].battery_pct
        info = SensorInfo(name or device.address, device.address, kind[0], kind[1], rssi, battery)
        found[device.address] = (device, info)
        if stop_when is not None and stop_when(info):
            done.set()

    try:
        async with BleakScanner(on_adv, **backends.scanner_options()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout_s)
    except Exception as exc:
        raise translate_ble_error(exc, doing="scan for sensors") from exc
    return found


async def read_battery(device: BLEDevice, backends: BleBackends | None = None, timeout_s: float = 5.0) -> int | None:
    """Battery Level of one sensor over a short connection; ``None`` when it cannot be read."""
    backends = backends or BleBackends()
    try:
        async with asyncio.timeout(timeout_s):
            async with BleakClient(device, **backends.client_options()) as client:
                if client.services.get_characteristic(BATTERY_LEVEL_UUID) is None:
                    return None
                value = await client.read_gatt_char(BATTERY_LEVEL_UUID)
                return int(value[0]) if value else None
    except Exception as exc:  # an unreadable battery is a missing cell, not a failed scan
        _log.info("battery of %s not read: %s", device.address, exc)
        return None


async def scan_sensors(
    timeout_s: float = 5.0, *, backends: BleBackends | None = None, read_batteries: bool = True
) -> list[SensorInfo]:
    """Supported sensors advertising within ``timeout_s`` seconds, strongest signal first.

    Raises
    ------
    SensorError
        No adapter, no permission (other scan failures too, with the reason).
    """
    backends = backends or BleBackends()
    found = await _scan(timeout_s, backends)
    out = []
    for device, info in found.values():
        if read_batteries and info.battery_pct is None:
            info = replace(info, battery_pct=await read_battery(device, backends))
        out.append(info)
    return sorted(out, key=lambda i: (-(i.rssi_dbm if i.rssi_dbm is not None else -999), i.name))


def _matches(query: str, info: SensorInfo) -> bool:
    q = query.strip().lower()
    return info.address.lower() == q or q in info.name.lower()


async def find_sensor(query: str, timeout_s: float = 10.0, *, backends: BleBackends | None = None) -> FoundSensor:
    """The supported sensor whose address is ``query`` or whose name contains it (any case).

    Raises
    ------
    DeviceNotFound
        Nothing matching advertised within ``timeout_s``.
    SensorError
        The scan failed (no adapter, no permission).
    """
    found = await _scan(timeout_s, backends or BleBackends(), stop_when=lambda i: _matches(query, i))
    hits = [(d, i) for d, i in found.values() if _matches(query, i)]
    if not hits:
        seen = ", ".join(sorted(i.name for _, i in found.values())) or "none"
        raise DeviceNotFound(
            f"no supported sensor matching {query!r} found within {timeout_s:g} s (sensors seen: {seen}); "
            "wake it (strap it on or press its button), make sure no phone app is connected to it, and "
            "check `hipflex scan`"
        )
    exact = [h for h in hits if h[1].address.lower() == query.strip().lower()]
    device, info = (exact or hits)[0]
    return FoundSensor(device, info)


def open_sensor(
    found: FoundSensor, *, sample_rate_hz: float | None = None, range_g: int = 8, gyro: bool = True, **kwargs: Any
) -> Any:
    """The live client for a found sensor: :class:`PolarClient` or :class:`MetaWearClient`.

    Parameters
    ----------
    found : FoundSensor
        From :func:`find_sensor`.
    sample_rate_hz : float or None
        Rate (``None``: the model's default).
    range_g : int
        Accelerometer range, +/- g.
    gyro : bool
        Stream the gyroscope when there is one.
    **kwargs
        For the client (``capture_path``, ``backends``, ``reconnect``, ...).
    """
    if found.info.kind == "polar":
        from hipflex.sensor.polar_client import PolarClient, PolarSettings

        rate = None if sample_rate_hz is None else round(sample_rate_hz)
        return PolarClient(found.device, PolarSettings(rate, range_g, gyro), **kwargs)
    from hipflex.sensor.metawear_client import MetaWearClient, MetaWearSettings

    return MetaWearClient(
        found.device, MetaWearSettings(100.0 if sample_rate_hz is None else float(sample_rate_hz), range_g, gyro),
        **kwargs,
    )  # fmt: skip

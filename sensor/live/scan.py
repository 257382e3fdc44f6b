"""Find supported sensors nearby.

A sensor is supported when its advertisement lists the Polar PMD or the MetaWear
service UUID.  Some firmware leaves the 128-bit UUID out of the advertisement (it only
fits the scan response, which passive scans miss), so the Polar and MbientLab company
identifiers in the manufacturer data and the usual names count as well.

:func:`scan_sensors` reports name, address, kind, model, RSSI and battery level; the
battery comes from Battery Service data in the advertisement when present, otherwise
from a short connection reading Battery Level (0x2A19), which ``read_battery=False``
skips; when that read fails, :attr:`SensorInfo.battery_note` says why (most often the
sensor is connected to another app, which keeps others from connecting).
:func:`find_sensor` resolves what a user typed (an address, or part of a name) to a
``BLEDevice``; :func:`hipflex.sensor.live.opener.open_sensor` builds the client for its kind.
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

from hipflex.sensor.errors import DeviceBusy, SensorNotFound
from hipflex.sensor.live.ble_errors import translate_ble_error
from hipflex.sensor.live.client import BleBackends
from hipflex.sensor.live.gatt_uuids import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from hipflex.sensor.metawear.protocol import MBIENTLAB_COMPANY_ID, METAWEAR_SERVICE_UUID
from hipflex.sensor.polar.control import PMD_SERVICE_UUID, POLAR_COMPANY_ID

__all__ = [
    "BATTERY_BUSY",
    "BATTERY_NO_ANSWER",
    "BATTERY_NO_SERVICE",
    "BATTERY_READ_FAILED",
    "FoundSensor",
    "SensorInfo",
    "SensorKind",
    "classify_advertisement",
    "find_sensor",
    "read_battery",
    "scan_sensors",
]

_log = logging.getLogger(__name__)

SensorKind = Literal["polar", "metawear"]

# Why a battery level could not be read (SensorInfo.battery_note).
#: The connection was refused as busy: another app (a phone, Polar Flow, MetaBase) holds the sensor.
BATTERY_BUSY: Final = "busy (connected elsewhere)"
#: The sensor did not answer the connection (asleep, out of range, or also held elsewhere).
BATTERY_NO_ANSWER: Final = "no answer"
#: Connected, but it has no Battery Level characteristic.
BATTERY_NO_SERVICE: Final = "no battery service"
#: Any other failure (the log at INFO level has the error).
BATTERY_READ_FAILED: Final = "read failed"


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
    battery_note : str or None
        Why ``battery_pct`` is ``None`` when a read was tried and failed: one of
        :data:`BATTERY_BUSY`, :data:`BATTERY_NO_ANSWER`, :data:`BATTERY_NO_SERVICE`,
        :data:`BATTERY_READ_FAILED`; ``None`` when the level is known or was not read.
    """

    name: str
    address: str
    kind: SensorKind
    model: str
    rssi_dbm: int | None = None
    battery_pct: int | None = None
    battery_note: str | None = None


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
                async with asyncio.timeout(timeout_s):  # not wait_for: see LinkRecovery._supervise
                    await done.wait()
    except Exception as exc:
        raise translate_ble_error(exc, doing="scan for sensors") from exc
    return found


async def read_battery(device: BLEDevice, backends: BleBackends | None = None, timeout_s: float = 5.0) -> int | None:
    """Battery Level of one sensor over a short connection; ``None`` when it cannot be read."""
    return (await _read_battery(device, backends or BleBackends(), timeout_s))[0]


async def _read_battery(
    device: BLEDevice, backends: BleBackends, timeout_s: float = 5.0
) -> tuple[int | None, str | None]:
    """(level, None), or (None, why not: a ``BATTERY_*`` note)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with BleakClient(device, **backends.client_options()) as client:
                if client.services.get_characteristic(BATTERY_LEVEL_UUID) is None:
                    return None, BATTERY_NO_SERVICE
                value = await client.read_gatt_char(BATTERY_LEVEL_UUID)
                return (int(value[0]), None) if value else (None, BATTERY_READ_FAILED)
    except Exception as exc:  # an unreadable battery is a missing cell, not a failed scan
        _log.info("battery of %s not read: %s", device.address, exc)
        error = translate_ble_error(exc, doing="read the battery of", target=device.address)
        if isinstance(error, DeviceBusy):
            return None, BATTERY_BUSY
        if isinstance(error, SensorNotFound):
            return None, BATTERY_NO_ANSWER
        return None, BATTERY_READ_FAILED


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
            pct, note = await _read_battery(device, backends)
            info = replace(info, battery_pct=pct, battery_note=note)
        out.append(info)
    return sorted(out, key=lambda i: (-(i.rssi_dbm if i.rssi_dbm is not None else -999), i.name))


def _matches(query: str, info: SensorInfo) -> bool:
    q = query.strip().lower()
    return info.address.lower() == q or q in info.name.lower()


async def find_sensor(query: str, timeout_s: float = 10.0, *, backends: BleBackends | None = None) -> FoundSensor:
    """The supported sensor whose address is ``query`` or whose name contains it (any case).

    Raises
    ------
    SensorNotFound
        Nothing matching advertised within ``timeout_s``.
    SensorError
        The scan failed (no adapter, no permission).
    """
    found = await _scan(timeout_s, backends or BleBackends(), stop_when=lambda i: _matches(query, i))
    hits = [(d, i) for d, i in found.values() if _matches(query, i)]
    if not hits:
        seen = ", ".join(sorted(i.name for _, i in found.values())) or "none"
        raise SensorNotFound(
            f"no supported sensor matching {query!r} found within {timeout_s:g} s (sensors seen: {seen}); "
            "wake it (strap it on or press its button), make sure no phone app is connected to it, and "
            "check `hipflex scan`"
        )
    exact = [h for h in hits if h[1].address.lower() == query.strip().lower()]
    device, info = (exact or hits)[0]
    return FoundSensor(device, info)

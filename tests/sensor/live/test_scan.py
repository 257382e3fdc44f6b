"""Scanning for supported sensors, resolving what a user typed, and the error family."""

from __future__ import annotations

from typing import Any

import pytest
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)
from bleak_retry_connector import BleakNotFoundError, BleakOutOfConnectionSlotsError

from hipflex.sensor.emulate.ble import AdvertisementSpec, FakeRadio
from hipflex.sensor.emulate.devices import VERITY_SENSE_PROFILE, MetaWearPeripheral, PolarPmdPeripheral
from hipflex.sensor.emulate.world import _NoAdapterScanner
from hipflex.sensor.errors import (
    DeviceBusy,
    NoAdapter,
    PermissionDenied,
    SensorError,
    SensorNotFound,
    StreamFailed,
)
from hipflex.sensor.live.ble_errors import translate_ble_error
from hipflex.sensor.live.client import BleBackends
from hipflex.sensor.live.gatt_uuids import BATTERY_SERVICE_UUID
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.scan import (
    BATTERY_BUSY,
    BATTERY_NO_ANSWER,
    BATTERY_READ_FAILED,
    classify_advertisement,
    find_sensor,
    scan_sensors,
)


def adv(name: str | None = None, uuids: tuple[str, ...] = (), **kw: Any) -> AdvertisementData:
    return AdvertisementData(name, kw.get("manufacturer", {}), kw.get("service_data", {}), list(uuids), None, -50, ())


def radio_with_sensors() -> FakeRadio:
    radio = FakeRadio()
    radio.add(PolarPmdPeripheral(time_scale=None, battery_pct=64))
    radio.add(PolarPmdPeripheral(VERITY_SENSE_PROFILE, device_id="B0B0B0B0", time_scale=None))
    radio.add(MetaWearPeripheral(time_scale=None, battery_pct=12))
    return radio


def test_advertisements_are_classified_by_service_company_or_name() -> None:
    assert classify_advertisement("Polar H10 1234", adv(uuids=("fb005c80-02e7-f387-1cad-8acd2d8df0c8",))) == (
        "polar",
        "H10",
    )
    assert classify_advertisement("Polar Sense 99", adv(manufacturer={0x006B: b""})) == ("polar", "Verity Sense")
    assert classify_advertisement("Polar OH1 1", adv()) == ("polar", "Polar")
    assert classify_advertisement("MetaWear", adv()) == ("metawear", "MetaMotion")
    assert classify_advertisement(None, adv(manufacturer={0x067E: b"\x00"})) == ("metawear", "MetaMotion")
    assert classify_advertisement("Garmin HRM", adv(uuids=("0000180d-0000-1000-8000-00805f9b34fb",))) is None


@pytest.mark.asyncio
async def test_scan_lists_supported_sensors_with_rssi_and_battery() -> None:
    radio = radio_with_sensors()
    backends = BleBackends(radio.client_backend, radio.scanner_backend)
    found = await scan_sensors(0.05, backends=backends)
    by_model = {s.model: s for s in found}
    assert set(by_model) == {"H10", "Verity Sense", "MetaMotion"}
    assert by_model["H10"].battery_pct == 64 and by_model["MetaMotion"].battery_pct == 12
    assert by_model["H10"].kind == "polar" and by_model["MetaMotion"].kind == "metawear"
    assert all(s.rssi_dbm == -60 and s.battery_note is None for s in found)
    quick = await scan_sensors(0.05, backends=backends, read_batteries=False)
    assert all(s.battery_pct is None and s.battery_note is None for s in quick)  # not read: nothing to explain


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("error", "note"),
    [
        (lambda: BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]), BATTERY_BUSY),
        (lambda: BleakOutOfConnectionSlotsError("no free connection slot"), BATTERY_BUSY),
        (TimeoutError, BATTERY_NO_ANSWER),
        (lambda: BleakError("GATT error 0x85"), BATTERY_READ_FAILED),
    ],
)
async def test_scan_says_why_a_battery_could_not_be_read(error: Any, note: str) -> None:
    radio = FakeRadio()
    h10 = radio.add(PolarPmdPeripheral(time_scale=None, battery_pct=64))
    radio.add(MetaWearPeripheral(time_scale=None, battery_pct=12))
    h10.fail_next_connects(1, error=error)  # busy: connected to a phone app, say
    found = await scan_sensors(0.05, backends=BleBackends(radio.client_backend, radio.scanner_backend))
    by_model = {s.model: s for s in found}
    assert by_model["H10"].battery_pct is None and by_model["H10"].battery_note == note
    assert by_model["MetaMotion"].battery_pct == 12 and by_model["MetaMotion"].battery_note is None


@pytest.mark.asyncio
async def test_battery_from_advertised_service_data_needs_no_connection() -> None:
    radio = FakeRadio()
    spec = AdvertisementSpec(
        "Polar H10 77", ("fb005c80-02e7-f387-1cad-8acd2d8df0c8",), {}, {BATTERY_SERVICE_UUID: b"\x2a"}
    )
    peripheral = radio.add(PolarPmdPeripheral(time_scale=None))
    peripheral._advertisement = spec  # the advertised data only; the GATT table is the emulator's
    (info,) = await scan_sensors(0.05, backends=BleBackends(radio.client_backend, radio.scanner_backend))
    assert info.battery_pct == 42 and peripheral.connect_count == 0


@pytest.mark.asyncio
async def test_find_sensor_by_name_part_or_address() -> None:
    radio = radio_with_sensors()
    backends = BleBackends(radio.client_backend, radio.scanner_backend)
    assert (await find_sensor("sense", 1.0, backends=backends)).info.model == "Verity Sense"
    h10 = await find_sensor("f0:00:00:00:00:01", 1.0, backends=backends)
    assert h10.info.model == "H10" and h10.device.address == "F0:00:00:00:00:01"
    client = open_sensor(h10, sample_rate_hz=100)
    assert type(client).__name__ == "PolarClient" and client.settings.sample_rate_hz == 100
    with pytest.raises(SensorNotFound, match=r"no supported sensor matching 'Polar H9' .*sensors seen: MetaWear"):
        await find_sensor("Polar H9", 0.05, backends=backends)


@pytest.mark.asyncio
async def test_missing_dbus_is_no_adapter() -> None:
    with pytest.raises(NoAdapter, match=r"no Bluetooth adapter available .*systemctl status bluetooth"):
        await scan_sensors(0.05, backends=BleBackends(scanner=_NoAdapterScanner))


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (FileNotFoundError(2, "No such file or directory"), NoAdapter, "BlueZ/D-Bus not running"),
        (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), NoAdapter, "no Bluetooth adapter"),
        (
            BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
            NoAdapter,
            "not available",
        ),
        (
            BleakBluetoothNotAvailableError("no", BleakBluetoothNotAvailableReason.DENIED_BY_USER),
            PermissionDenied,
            "Privacy & Security",
        ),
        (PermissionError(13, "Permission denied"), PermissionDenied, "'bluetooth' group"),
        (BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected"]), PermissionDenied, "denied"),
        (BleakDBusError("org.bluez.Error.InProgress", ["In Progress"]), DeviceBusy, "close other apps"),
        (BleakOutOfConnectionSlotsError("no slot"), DeviceBusy, "busy"),
        (BleakDeviceNotFoundError("AA", "Device with address AA was not found"), SensorNotFound, "did not answer"),
        (BleakNotFoundError("gave up"), SensorNotFound, "did not answer"),
        (TimeoutError(), SensorNotFound, "out of range, asleep, or connected to another app"),
        (BleakError("Characteristic 42 not readable"), StreamFailed, "Bluetooth error"),
    ],
)
def test_errors_are_translated_into_one_family(exc: BaseException, kind: type[SensorError], text: str) -> None:
    err = translate_ble_error(exc, doing="connect to", target="Polar H10 1")
    assert type(err) is kind and text in str(err)
    assert str(err).startswith("cannot connect to Polar H10 1:")
    assert translate_ble_error(err, doing="x") is err

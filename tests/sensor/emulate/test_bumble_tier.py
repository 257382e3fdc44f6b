"""Bumble tier: unmodified BleakClient / BleakScanner / establish_connection talking real ATT to
emulated Polar and MetaWear peripherals over bumble's in-process link (no radio, no BlueZ).

Covers what the fake backend cannot: advertising data on the air, MTU exchange and the
truncation a small MTU causes, CCCD writes, indications with confirmations, ATT error
responses, and link loss reported through the stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
import pytest_asyncio

pytest.importorskip("bumble")

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak_retry_connector import establish_connection

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.emulate.ble import AdvertisementSpec, CharacteristicSpec, GattError, GattServer, ServiceSpec
from hipflex.sensor.emulate.ble.bumble_backend import BumbleAir, BumbleClient, BumbleScanner
from hipflex.sensor.emulate.devices import (
    VERITY_SENSE_PROFILE,
    DeviceClock,
    FaultPlan,
    MetaWearPeripheral,
    PolarPmdPeripheral,
)
from hipflex.sensor.metawear.protocol import (
    METAWEAR_COMMAND_UUID,
    METAWEAR_NOTIFY_UUID,
    METAWEAR_SERVICE_UUID,
    ImuChip,
    MetaWearDecoder,
    MetaWearSensor,
    acc_config_command,
    acc_start_commands,
    discovery_command,
    gyro_config_command,
    gyro_start_commands,
    parse_module_info,
)
from hipflex.sensor.polar.control import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_COMPANY_ID,
    PmdStartSettings,
    PmdStatus,
    build_start,
    build_stop,
    parse_cp_response,
)
from hipflex.sensor.polar.frames import PmdMeasurementType, decode_pmd_frame

pytestmark = pytest.mark.asyncio

H10_ACC_200HZ_8G = bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
START_NS = 700_000_000_000_000_000
CCCD = "00002902-0000-1000-8000-00805f9b34fb"


def random_source(n: int = 6000, seed: int = 5, fs_hz: float = 200.0) -> ImuSamples:
    rng = np.random.default_rng(seed)
    return ImuSamples(np.arange(n) / fs_hz, rng.normal(0, 1.5, (n, 3)), rng.normal(0, 300, (n, 3)))


def acc_as_sent(acc_g: np.ndarray, range_g: float = 8.0) -> np.ndarray:
    return np.rint(np.clip(acc_g, -range_g, range_g) * 1000) / 1000


class Inbox:
    """Notifications of one characteristic, collected by a sync callback."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def __call__(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append(bytes(data))


async def until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    """Wait for values to cross the link (each hop is a loop callback)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.001)


async def command(client: BleakClient, cp: Inbox, request: bytes) -> bytes:
    before = len(cp.values)
    await client.write_gatt_char(PMD_CONTROL_POINT_UUID, request, response=True)
    await until(lambda: len(cp.values) > before)
    return cp.values[-1]


async def subscribe_pmd(client: BleakClient) -> tuple[Inbox, Inbox]:
    cp, data = Inbox(), Inbox()
    await client.start_notify(PMD_CONTROL_POINT_UUID, cp)
    await client.start_notify(PMD_DATA_UUID, data)
    return cp, data


@pytest_asyncio.fixture
async def air() -> AsyncIterator[BumbleAir]:
    async with BumbleAir() as a:
        yield a


async def find_h10(air: BumbleAir) -> BLEDevice:
    device = await BleakScanner.find_device_by_filter(
        lambda d, a: PMD_SERVICE_UUID in a.service_uuids, 2.0, backend=air.scanner_backend
    )
    assert device is not None
    return device


# ------------------------------------------------------------------------------------------------ scanning
async def test_scan_finds_emulated_sensors_by_service_uuid(air: BumbleAir) -> None:
    await air.add_peripheral(PolarPmdPeripheral(time_scale=None))
    await air.add_peripheral(MetaWearPeripheral(time_scale=None))
    found = await BleakScanner.discover(
        0.1, return_adv=True, service_uuids=[PMD_SERVICE_UUID], backend=air.scanner_backend
    )
    assert len(found) == 1
    (device, adv) = next(iter(found.values()))
    assert device.name == adv.local_name == "Polar H10 0A1B2C3D"
    assert adv.service_uuids == [PMD_SERVICE_UUID] and POLAR_COMPANY_ID in adv.manufacturer_data
    assert device.details is air
    board = await BleakScanner.find_device_by_filter(
        lambda d, a: METAWEAR_SERVICE_UUID in a.service_uuids, 2.0, backend=air.scanner_backend
    )
    assert board is not None and board.name == "MetaWear"
    async with BleakScanner(backend=BumbleScanner, air=air) as scanner:  # the unbound class takes air=
        await until(lambda: len(scanner.discovered_devices) == 2)


@pytest.mark.slow
async def test_a_peripheral_out_of_range_stops_advertising_until_it_is_back(air: BumbleAir) -> None:
    peripheral = await air.add_peripheral(PolarPmdPeripheral(time_scale=None))
    assert peripheral.in_range and peripheral.advertising
    await peripheral.set_in_range(False)
    assert not peripheral.in_range and not peripheral.advertising
    missing = await BleakScanner.find_device_by_filter(
        lambda d, a: PMD_SERVICE_UUID in a.service_uuids, 0.3, backend=air.scanner_backend
    )
    assert missing is None
    await peripheral.set_in_range(True)
    assert peripheral.advertising
    assert (await find_h10(air)).address == peripheral.address


# ------------------------------------------------------------------------------------------------ Polar H10
async def test_h10_session_over_real_att(air: BumbleAir) -> None:
    source = random_source()
    h10 = PolarPmdPeripheral(source=source, time_scale=None, clock=DeviceClock(START_NS))
    peripheral = await air.add_peripheral(h10)
    dropped: list[BleakClient] = []
    client = BleakClient(await find_h10(air), disconnected_callback=dropped.append, backend=BumbleClient)
    await client.connect()
    assert client.mtu_size == 247 and h10.server.att_mtu == 247
    assert client.services.get_service(PMD_SERVICE_UUID) is not None
    assert await client.read_gatt_char(PMD_CONTROL_POINT_UUID) == bytes.fromhex("0f 05 00")
    cp, data = await subscribe_pmd(client)
    cp_char = client.services.get_characteristic(PMD_CONTROL_POINT_UUID)
    cccd = cp_char.get_descriptor(CCCD) if cp_char is not None else None
    assert cccd is not None and await client.read_gatt_descriptor(cccd.handle) == b"\x02\x00"  # indications
    assert await command(client, cp, H10_ACC_200HZ_8G) == bytes.fromhex("f0 02 02 00 00")
    h10.advance(1.0)
    await until(lambda: len(data.values) == 5)
    frames = [decode_pmd_frame(v) for v in data.values]
    assert [f.n_samples for f in frames] == [39] * 5  # (247 - 3 - 10) // 6
    np.testing.assert_allclose(np.concatenate([f.values for f in frames]), acc_as_sent(source.acc_g[:195]), atol=1e-12)
    assert frames[-1].timestamp_ns == START_NS + 194 * 5_000_000  # last sample's device time
    assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).status == PmdStatus.ALREADY_IN_STATE
    # The peripheral drops the link: bleak's disconnected_callback receives the BleakClient.
    peripheral.disconnect()
    await until(lambda: bool(dropped))
    assert dropped == [client] and not client.is_connected
    with pytest.raises(BleakError):
        await client.read_gatt_char(PMD_CONTROL_POINT_UUID)


async def test_without_mtu_exchange_notifications_are_cut_to_20_bytes(air: BumbleAir) -> None:
    # A device that sizes frames for MTU 247 whatever the link says: the link truncates them.
    h10 = PolarPmdPeripheral(time_scale=None, faults=FaultPlan(frame_mtu=247))
    await air.add_peripheral(h10)
    async with BleakClient(await find_h10(air), backend=BumbleClient, request_mtu=None) as client:
        assert client.mtu_size == 23
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(0.5)
        await until(lambda: len(data.values) >= 2)
    assert {len(v) for v in data.values} == {20}


async def test_frames_fit_the_negotiated_mtu(air: BumbleAir) -> None:
    h10 = PolarPmdPeripheral(time_scale=None)
    await air.add_peripheral(h10, max_att_mtu=232)
    async with BleakClient(await find_h10(air), backend=BumbleClient) as client:
        assert client.mtu_size == 232
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(0.5)
        await until(lambda: len(data.values) == 2)
    assert [decode_pmd_frame(v).n_samples for v in data.values] == [36, 36]  # 180 ms of 200 Hz per frame


@pytest.mark.slow
async def test_drop_restart_with_retries_and_already_in_state(air: BumbleAir) -> None:
    # Uptime starts at the first connection; connecting and discovery take ~2 emulated s at 20x.
    faults = FaultPlan(disconnect_at_s=(10.0,), keep_streaming_on_disconnect=True)
    h10 = PolarPmdPeripheral(source=random_source(), time_scale=20.0, faults=faults)
    peripheral = await air.add_peripheral(h10)
    device = await find_h10(air)
    dropped = asyncio.Event()
    client = await establish_connection(
        BleakClient,
        device,
        "h10",
        disconnected_callback=lambda _c: dropped.set(),
        backend=BumbleClient,
    )
    cp, data = await subscribe_pmd(client)
    assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok
    await asyncio.wait_for(dropped.wait(), 3.0)  # the fault plan drops the link at uptime 10 s
    assert data.values and h10.running == {PmdMeasurementType.ACC}
    # Reconnect the way the client layer will: establish_connection retries past timeouts.
    peripheral.fail_next_connects(2)
    async with asyncio.timeout(30):  # a hang fails instead of blocking the suite
        client = await establish_connection(BleakClient, device, "h10", backend=BumbleClient)
    assert peripheral.connect_count == 2 and peripheral.take_connect_failure() is None  # both failures used up
    cp, data = await subscribe_pmd(client)
    assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).already_in_state
    assert parse_cp_response(await command(client, cp, build_stop(PmdMeasurementType.ACC))).ok
    assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok
    await until(lambda: len(data.values) >= 3)
    await client.disconnect()


async def test_verity_paced_stream_with_factor(air: BumbleAir) -> None:
    source = random_source(fs_hz=52.0)
    verity = PolarPmdPeripheral(VERITY_SENSE_PROFILE, source=source, time_scale=50.0)
    await air.add_peripheral(verity)
    async with BleakClient(await find_h10(air), backend=BumbleClient) as client:
        cp, data = await subscribe_pmd(client)
        acc_start = bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
        assert await command(client, cp, acc_start) == bytes.fromhex("f0 02 02 00 00")
        reply = parse_cp_response(
            await command(client, cp, build_start(PmdMeasurementType.GYRO, PmdStartSettings(52, 16, 2000, 3)))
        )
        assert reply.ok and reply.factor == 0.0625
        await until(lambda: sum(v[0] == PmdMeasurementType.GYRO for v in data.values) >= 4)
    frames = [decode_pmd_frame(v, reply.factor if v[0] == PmdMeasurementType.GYRO else 1.0) for v in data.values]
    assert all(len(v) <= 244 for v in data.values)
    acc = np.concatenate([f.values for f in frames if f.frame_type == 0x81])
    gyr = np.concatenate([f.values for f in frames if f.frame_type == 0x80])
    np.testing.assert_allclose(acc, acc_as_sent(source.acc_g[: len(acc)]), atol=1e-12)
    np.testing.assert_allclose(gyr, np.clip(source.gyr_dps[: len(gyr)], -2000, 2000), atol=0.0625 / 2 + 1e-9)


# ------------------------------------------------------------------------------------------------ MetaWear
async def test_metawear_discovery_and_acc_gyro_stream(air: BumbleAir) -> None:
    source = random_source(seed=9)
    board = MetaWearPeripheral(ImuChip.BMI270, source=source, time_scale=None)
    await air.add_peripheral(board)
    device = await BleakScanner.find_device_by_name("MetaWear", 2.0, backend=air.scanner_backend)
    assert device is not None
    async with BleakClient(device, backend=BumbleClient) as client:
        inbox = Inbox()
        await client.start_notify(METAWEAR_NOTIFY_UUID, inbox)
        for module in (0x03, 0x13):
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, discovery_command(module), response=False)
        await until(lambda: len(inbox.values) == 2)
        acc_chip, gyro_chip = (parse_module_info(v).chip for v in inbox.values)
        assert acc_chip is gyro_chip is ImuChip.BMI270
        inbox.values.clear()
        for cmd in (
            acc_config_command(acc_chip, 200.0, 8),
            gyro_config_command(200.0, 2000),
            *acc_start_commands(acc_chip),
            *gyro_start_commands(gyro_chip),
        ):
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, cmd, response=False)
        # Write commands are fire-and-forget: wait until the board has them all.
        await until(lambda: board.imu_state(MetaWearSensor.GYRO)[2])
        board.advance(0.5 - 1e-6)  # 100 samples each at 200 Hz
        await until(lambda: len(inbox.values) == 66)
    decoder = MetaWearDecoder(acc_chip, 8, gyro_chip, 2000)
    packets = [decoder.decode(v) for v in inbox.values]
    acc = np.concatenate([p.values for p in packets if p is not None and p.sensor is MetaWearSensor.ACC])
    gyr = np.concatenate([p.values for p in packets if p is not None and p.sensor is MetaWearSensor.GYRO])
    assert len(acc) == len(gyr) == 99 and all(p is not None and p.packed for p in packets)
    np.testing.assert_allclose(acc, np.clip(source.acc_g[:99], -8, 8), atol=0.5 / 4096 + 1e-12)
    np.testing.assert_allclose(gyr, np.clip(source.gyr_dps[:99], -2000, 2000), atol=0.5 / 16.4 + 1e-9)


# ------------------------------------------------------------------------------------------------ ATT details
async def test_att_errors_and_write_kinds_cross_the_link(air: BumbleAir) -> None:
    svc, rw, wwr = (f"0000{x}-0000-1000-8000-00805f9b34fb" for x in ("feed", "f001", "f003"))
    writes: list[bytes] = []

    def on_write(_server: GattServer, data: bytes) -> None:
        if data == b"\xff":
            raise GattError(0x80)
        writes.append(data)

    table = [
        ServiceSpec(
            svc,
            [
                CharacteristicSpec(rw, ("read", "write"), b"\x07", on_write=on_write),
                CharacteristicSpec(wwr, ("write-without-response",), on_write=on_write),
            ],
        )
    ]
    peripheral = await air.add_peripheral(services=table, advertisement=AdvertisementSpec("Plain", (svc,)))
    async with BleakClient(peripheral.address, backend=air.client_backend, request_mtu=None) as client:
        assert client.name == "Plain" and client.backend_id == "BumbleClient"
        assert await client.read_gatt_char(rw) == b"\x07"
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(rw, b"\xff", response=True)
        assert err.value.args[0] == 0x80
        with pytest.raises(BleakError, match="exceeds ATT MTU"):
            await client.write_gatt_char(wwr, bytes(21), response=False)
        await client.write_gatt_char(wwr, b"\x01" * 20, response=False)
        await client.write_gatt_char(rw, b"\x02" * 100, response=True)  # a long write (prepare + execute)
        await until(lambda: len(writes) == 2)
    assert writes == [b"\x01" * 20, b"\x02" * 100]

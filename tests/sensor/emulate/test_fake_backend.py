"""Fake bleak backend: unmodified BleakClient / BleakScanner / establish_connection over in-memory peripherals.

Scripted peripherals check the link semantics (MTU, truncation, write kinds, errors,
disconnects, retries); the Polar and MetaWear emulators run on manual time, so every
frame, timestamp and status byte is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak_retry_connector import establish_connection

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.emulate.ble import (
    AdvertisementSpec,
    AttError,
    CharacteristicSpec,
    FakeClient,
    FakePeripheral,
    FakeRadio,
    FakeScanner,
    GattError,
    GattServer,
    ServiceSpec,
)
from hipflex.sensor.emulate.devices import (
    H10_PROFILE,
    H10_RESET_DEVICE_NS,
    VERITY_SENSE_PROFILE,
    DeviceClock,
    FaultPlan,
    MetaWearPeripheral,
    PolarPmdPeripheral,
    PolarProfile,
)
from hipflex.sensor.metawear.protocol import (
    METAWEAR_COMMAND_UUID,
    METAWEAR_NOTIFY_UUID,
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
    PmdMeasurementStopped,
    PmdResponseAssembler,
    PmdStartSettings,
    PmdStatus,
    build_get_settings,
    build_sdk_mode,
    build_start,
    build_stop,
    parse_cp_indication,
    parse_cp_response,
)
from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType, decode_pmd_frame
from hipflex.sensor.sim.simulate import simulate_drill

pytestmark = pytest.mark.asyncio

SVC = "0000feed-0000-1000-8000-00805f9b34fb"
RW = "0000f001-0000-1000-8000-00805f9b34fb"
STREAM = "0000f002-0000-1000-8000-00805f9b34fb"
WWR = "0000f003-0000-1000-8000-00805f9b34fb"
H10_ACC_200HZ_8G = bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
START_NS = 700_000_000_000_000_000


def random_source(n: int = 4000, seed: int = 7, fs_hz: float = 200.0) -> ImuSamples:
    rng = np.random.default_rng(seed)
    return ImuSamples(np.arange(n) / fs_hz, rng.normal(0, 1.5, (n, 3)), rng.normal(0, 300, (n, 3)))


def acc_as_sent(acc_g: np.ndarray, range_g: float = 8.0) -> np.ndarray:
    """What a mG-resolution accelerometer reports: clipped at full scale, rounded to 1 mG."""
    return np.rint(np.clip(acc_g, -range_g, range_g) * 1000) / 1000


async def settle() -> None:
    """Let queued callbacks (notifications, disconnect events) run."""
    for _ in range(3):
        await asyncio.sleep(0)


class Inbox:
    """Collects notifications of one characteristic, as a client would: a sync callback appending bytes."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def __call__(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append(bytes(data))


def scripted(address: str = "F0:00:00:00:00:01", *, max_att_mtu: int = 517) -> FakePeripheral:
    def on_write(server: GattServer, data: bytes) -> None:
        if data == b"\xff":
            raise GattError(0x80)  # an application error code
        server.notify(STREAM, data * 50)  # reply long enough to show truncation

    services = [
        ServiceSpec(
            SVC,
            [
                CharacteristicSpec(RW, ("read", "write"), b"\x01\x02", on_write=on_write),
                CharacteristicSpec(STREAM, ("notify",)),
                CharacteristicSpec(WWR, ("write-without-response",)),
            ],
        )
    ]
    adv = AdvertisementSpec("Sensor X", (SVC,), {0x006B: b"\x3f"}, rssi_dbm=-42)
    return FakePeripheral(address, services, advertisement=adv, max_att_mtu=max_att_mtu)


@pytest_asyncio.fixture
async def radio() -> AsyncIterator[FakeRadio]:
    async with FakeRadio(advertising_interval_s=0.002) as r:
        yield r


# ---------------------------------------------------------------------------------------------- scanning
async def test_scan_by_service_uuid_reports_advertisement(radio: FakeRadio) -> None:
    radio.add(scripted())
    radio.add(FakePeripheral("F0:00:00:00:00:02", advertisement=AdvertisementSpec("Other", ("180d",))))
    async with BleakScanner(service_uuids=[SVC], backend=FakeScanner, radio=radio) as scanner:
        # Until the matching sensor is seen: one advertising round reports every peripheral at
        # once, so by then the other one has been on the air too (and must have been filtered).
        async with asyncio.timeout(5):
            while not scanner.discovered_devices:
                await asyncio.sleep(0.002)
    found = scanner.discovered_devices_and_advertisement_data
    assert list(found) == ["F0:00:00:00:00:01"]
    device, adv = found["F0:00:00:00:00:01"]
    assert (device.name, adv.local_name, adv.rssi) == ("Sensor X", "Sensor X", -42)
    assert adv.service_uuids == [SVC] and adv.manufacturer_data == {0x006B: b"\x3f"}
    by_filter = await BleakScanner.find_device_by_filter(
        lambda d, a: "0000180d-0000-1000-8000-00805f9b34fb" in a.service_uuids, 1.0, backend=radio.scanner_backend
    )
    assert by_filter is not None and by_filter.address == "F0:00:00:00:00:02"


async def test_out_of_range_device_is_not_found_and_cannot_connect(radio: FakeRadio) -> None:
    peripheral = radio.add(scripted())
    peripheral.in_range = False
    assert await BleakScanner.find_device_by_name("Sensor X", 0.02, backend=radio.scanner_backend) is None
    with pytest.raises(TimeoutError):
        await BleakClient(peripheral.address, backend=radio.client_backend, timeout=0.02).connect()
    with pytest.raises(BleakDeviceNotFoundError):
        await BleakClient("F0:00:00:00:00:99", backend=radio.client_backend).connect()


# ---------------------------------------------------------------------------------------------- link semantics
@pytest.mark.parametrize(("max_mtu", "asked_mtu", "expected"), [(517, 247, 247), (232, 247, 232), (517, None, 23)])
async def test_mtu_exchange_and_notification_truncation(
    radio: FakeRadio, max_mtu: int, asked_mtu: int | None, expected: int
) -> None:
    peripheral = radio.add(scripted(max_att_mtu=max_mtu))
    async with BleakClient(peripheral.address, backend=radio.client_backend, request_mtu=asked_mtu) as client:
        assert client.mtu_size == expected
        inbox = Inbox()
        await client.start_notify(STREAM, inbox)
        await client.write_gatt_char(RW, b"\xaa\xbb\xcc\xdd", response=True)
        await settle()
        assert inbox.values == [(b"\xaa\xbb\xcc\xdd" * 50)[: expected - 3]]


async def test_reads_writes_and_errors_follow_att(radio: FakeRadio) -> None:
    peripheral = radio.add(scripted())
    async with BleakClient(peripheral.address, backend=radio.client_backend, request_mtu=None) as client:
        assert client.backend_id == "FakeClient" and client.name == "Sensor X"
        assert await client.read_gatt_char(RW) == b"\x01\x02"
        assert await client.read_gatt_char("00002a00-0000-1000-8000-00805f9b34fb") == b"Sensor X"
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(RW, b"\xff", response=True)
        assert err.value.args[0] == 0x80
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.read_gatt_char(WWR)
        assert err.value.args[0] == AttError.READ_NOT_PERMITTED
        with pytest.raises(BleakError, match="without response"):
            await client.write_gatt_char(RW, b"\x00", response=False)
        with pytest.raises(BleakError, match="exceeds ATT MTU"):
            await client.write_gatt_char(WWR, bytes(21), response=False)
        await client.write_gatt_char(WWR, bytes(20), response=False)
        # bleak picks write-with-response when the characteristic has it
        await client.write_gatt_char(RW, b"\x05")
        assert [(w.uuid, w.with_response) for w in peripheral.writes][-2:] == [(WWR, False), (RW, True)]
        with pytest.raises(BleakError):
            await client.start_notify(RW, Inbox())


async def test_stop_notify_stops_delivery(radio: FakeRadio) -> None:
    peripheral = radio.add(scripted())
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(STREAM, inbox)
        assert peripheral.is_subscribed(STREAM)
        await client.stop_notify(STREAM)
        assert not peripheral.notify(STREAM, b"\x01")
        await settle()
        assert inbox.values == []


async def test_peripheral_disconnect_fires_disconnected_callback(radio: FakeRadio) -> None:
    peripheral = radio.add(scripted())
    device = await BleakScanner.find_device_by_name("Sensor X", 1.0, backend=radio.scanner_backend)
    assert device is not None
    dropped: list[BleakClient] = []
    client = BleakClient(device, disconnected_callback=dropped.append, backend=FakeClient)
    await client.connect()
    peripheral.disconnect()
    await settle()
    assert dropped == [client] and not client.is_connected and not peripheral.is_connected
    with pytest.raises(BleakError, match="Not connected"):
        await client.read_gatt_char(RW)
    await client.connect()  # the device advertises again
    assert client.is_connected and peripheral.connect_count == 2
    await client.disconnect()


@pytest.mark.slow
async def test_establish_connection_retries_past_two_timeouts(radio: FakeRadio) -> None:
    peripheral = radio.add(scripted())
    device = await BleakScanner.find_device_by_name("Sensor X", 1.0, backend=radio.scanner_backend)
    assert device is not None
    peripheral.fail_next_connects(2)
    client = await establish_connection(BleakClient, device, "test sensor", backend=FakeClient)
    try:
        assert client.is_connected and peripheral.connect_count == 1
    finally:
        await client.disconnect()


# ---------------------------------------------------------------------------------------------- Polar emulator
async def polar_session(
    radio: FakeRadio, profile: PolarProfile = H10_PROFILE, **kwargs: Any
) -> tuple[PolarPmdPeripheral, FakePeripheral]:
    kwargs.setdefault("clock", DeviceClock(START_NS))
    device = PolarPmdPeripheral(profile, time_scale=None, **kwargs)
    return device, radio.add(device)


async def subscribe_pmd(client: BleakClient) -> tuple[Inbox, Inbox]:
    cp, data = Inbox(), Inbox()
    await client.start_notify(PMD_CONTROL_POINT_UUID, cp)
    await client.start_notify(PMD_DATA_UUID, data)
    return cp, data


async def command(client: BleakClient, cp: Inbox, request: bytes) -> bytes:
    before = len(cp.values)
    await client.write_gatt_char(PMD_CONTROL_POINT_UUID, request, response=True)
    await settle()
    assert len(cp.values) == before + 1, "expected exactly one control-point indication"
    return cp.values[-1]


async def test_h10_stream_frames_carry_the_source_samples(radio: FakeRadio) -> None:
    source = random_source()
    h10, peripheral = await polar_session(radio, source=source)
    peripheral.max_att_mtu = 232
    device = await BleakScanner.find_device_by_filter(
        lambda d, a: PMD_SERVICE_UUID in a.service_uuids, 1.0, backend=radio.scanner_backend
    )
    assert device is not None and device.name == "Polar H10 0A1B2C3D"
    async with BleakClient(device, backend=FakeClient) as client:
        assert client.mtu_size == 232
        assert await client.read_gatt_char(PMD_CONTROL_POINT_UUID) == bytes.fromhex("0f 05 00")
        cp, data = await subscribe_pmd(client)
        assert await command(client, cp, H10_ACC_200HZ_8G) == bytes.fromhex("f0 02 02 00 00")
        assert build_start(PmdMeasurementType.ACC, PmdStartSettings(200, 16, 8)) == H10_ACC_200HZ_8G
        h10.advance(1.0)
        await settle()
    frames = [decode_pmd_frame(v) for v in data.values]
    assert [f.n_samples for f in frames] == [36] * 5  # (232 - 3 - 10) // 6 samples per frame
    got = np.concatenate([f.values for f in frames])
    np.testing.assert_allclose(got, acc_as_sent(source.acc_g[:180]), atol=1e-12)
    # The frame timestamp is the LAST sample's device time: 5 ms per sample at 200 Hz.
    assert [f.timestamp_ns - START_NS for f in frames] == [(36 * (k + 1) - 1) * 5_000_000 for k in range(5)]


async def test_h10_control_point_state_machine(radio: FakeRadio) -> None:
    _h10, peripheral = await polar_session(radio)
    async with BleakClient(peripheral.address, backend=radio.client_backend, request_mtu=None) as client:
        cp, _ = await subscribe_pmd(client)
        acc = PmdMeasurementType.ACC
        # GET settings does not fit one 20-byte indication at MTU 23: "more" packets follow.
        await client.write_gatt_char(PMD_CONTROL_POINT_UUID, build_get_settings(acc), response=True)
        await settle()
        assert len(cp.values) > 1 and all(len(v) <= 20 for v in cp.values)
        assembler, response = PmdResponseAssembler(), None
        for packet in cp.values:
            assembler, response = assembler.feed(packet)
        assert response is not None and response.ok
        settings = response.settings()
        assert (settings.sample_rate_hz, settings.resolution_bits, settings.range) == (
            (25, 50, 100, 200),
            (16,),
            (2, 4, 8),
        )
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).status == PmdStatus.ALREADY_IN_STATE
        assert parse_cp_response(await command(client, cp, build_stop(acc))).ok
        assert parse_cp_response(await command(client, cp, build_stop(acc))).status == PmdStatus.ALREADY_IN_STATE
        bad_rate = build_start(acc, PmdStartSettings(400, 16, 8))
        assert parse_cp_response(await command(client, cp, bad_rate)).status == PmdStatus.INVALID_SAMPLE_RATE
        bad_range = build_start(acc, PmdStartSettings(200, 16, 16))
        assert parse_cp_response(await command(client, cp, bad_range)).status == PmdStatus.INVALID_RANGE
        gyro = build_start(PmdMeasurementType.GYRO, PmdStartSettings(52, 16, 2000))
        assert parse_cp_response(await command(client, cp, gyro)).status == PmdStatus.NOT_SUPPORTED
        assert parse_cp_response(await command(client, cp, build_sdk_mode(True))).status == PmdStatus.NOT_SUPPORTED


async def test_start_fails_with_invalid_mtu_when_frames_cannot_fit(radio: FakeRadio) -> None:
    profile = PolarProfile("Polar H10", H10_PROFILE.measurements, min_att_mtu=100)
    _dev, peripheral = await polar_session(radio, profile)
    async with BleakClient(peripheral.address, backend=radio.client_backend, request_mtu=None) as client:
        cp, _ = await subscribe_pmd(client)
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).status == PmdStatus.INVALID_MTU
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, _ = await subscribe_pmd(client)
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok


async def test_verity_delta_frames_with_factor_and_sdk_mode(radio: FakeRadio) -> None:
    source = random_source(fs_hz=52.0)
    verity, peripheral = await polar_session(radio, VERITY_SENSE_PROFILE, source=source)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        assert await client.read_gatt_char(PMD_CONTROL_POINT_UUID) == bytes.fromhex("0f 24 02")
        cp, data = await subscribe_pmd(client)
        acc_start = bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
        assert await command(client, cp, acc_start) == bytes.fromhex("f0 02 02 00 00")
        gyro_reply = parse_cp_response(
            await command(client, cp, build_start(PmdMeasurementType.GYRO, PmdStartSettings(52, 16, 2000, 3)))
        )
        assert gyro_reply.ok and gyro_reply.factor == 0.0625
        verity.advance(8.0)
        await settle()
        frames = [
            decode_pmd_frame(v, gyro_reply.factor if v[0] == PmdMeasurementType.GYRO else 1.0) for v in data.values
        ]
        assert {f.frame_type for f in frames} == {0x80, 0x81} and all(len(v) <= 244 for v in data.values)
        acc = np.concatenate([f.values for f in frames if f.measurement == PmdMeasurementType.ACC])
        gyr = np.concatenate([f.values for f in frames if f.measurement == PmdMeasurementType.GYRO])
        np.testing.assert_allclose(acc, acc_as_sent(source.acc_g[: len(acc)]), atol=1e-12)
        np.testing.assert_allclose(gyr, np.clip(source.gyr_dps[: len(gyr)], -2000, 2000), atol=0.0625 / 2 + 1e-9)
        assert len(acc) > 300 and len(gyr) > 300
        # 104 Hz is an SDK-mode rate only
        fast = build_start(PmdMeasurementType.ACC, PmdStartSettings(104, 16, 8, 3))
        await command(client, cp, build_stop(PmdMeasurementType.ACC))
        assert parse_cp_response(await command(client, cp, fast)).status == PmdStatus.INVALID_SAMPLE_RATE
        assert parse_cp_response(await command(client, cp, build_sdk_mode(True))).ok
        assert parse_cp_response(await command(client, cp, fast)).ok


async def test_device_initiated_stop_and_stream_kept_across_disconnect(radio: FakeRadio) -> None:
    faults = FaultPlan(device_stop_at_s=(2.0,), keep_streaming_on_disconnect=True)
    h10, peripheral = await polar_session(radio, faults=faults)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, _ = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(2.5)
        await settle()
        assert parse_cp_indication(cp.values[-1]) == PmdMeasurementStopped((PmdMeasurementType.ACC,))
        assert h10.running == frozenset()
        await command(client, cp, H10_ACC_200HZ_8G)
    # The link dropped (our disconnect), the stream did not: a restart is "already in state".
    assert h10.running == {PmdMeasurementType.ACC}
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, _ = await subscribe_pmd(client)
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).already_in_state
        assert parse_cp_response(await command(client, cp, build_stop(PmdMeasurementType.ACC))).ok
        assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok


async def test_streams_stop_on_disconnect_by_default(radio: FakeRadio) -> None:
    h10, peripheral = await polar_session(radio, faults=FaultPlan(disconnect_at_s=(1.0,)))
    dropped: list[BleakClient] = []
    client = BleakClient(peripheral.address, dropped.append, backend=radio.client_backend)
    await client.connect()
    cp, data = await subscribe_pmd(client)
    await command(client, cp, H10_ACC_200HZ_8G)
    h10.advance(1.5)
    await settle()
    assert dropped == [client] and h10.running == frozenset() and h10.stats.forced_disconnects == 1
    assert len(data.values) == 5  # 200 samples by t = 1 s, 39 per frame at MTU 247
    await client.connect()
    cp, _ = await subscribe_pmd(client)
    assert parse_cp_response(await command(client, cp, H10_ACC_200HZ_8G)).ok
    await client.disconnect()


async def test_dropped_frames_show_as_timestamp_gaps(radio: FakeRadio) -> None:
    h10, peripheral = await polar_session(radio, faults=FaultPlan(drop_fraction=0.3, seed=3))
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(20.0)
        await settle()
    frames = [decode_pmd_frame(v) for v in data.values]
    assert h10.stats.dropped > 0 and len(frames) == h10.stats.produced - h10.stats.dropped
    steps = np.diff([f.timestamp_ns for f in frames])
    assert set(np.unique(steps)) <= {k * 39 * 5_000_000 for k in range(1, 10)} and steps.max() > 39 * 5_000_000


async def test_bursts_jitter_and_duplicates_keep_order(radio: FakeRadio) -> None:
    faults = FaultPlan(burst_frames=3, jitter_s=0.05, duplicate_fraction=0.2, seed=1)
    h10, peripheral = await polar_session(radio, faults=faults)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        arrivals: list[int] = []
        for _ in range(100):  # 10 ms steps: frames are due every 195 ms
            before = len(data.values)
            h10.advance(0.01)
            await settle()
            arrivals.append(len(data.values) - before)
    # Frames arrive three at a time (plus duplicates), never one by one.
    assert set(arrivals) - {0} and min(n for n in arrivals if n) >= 3
    stamps = [decode_pmd_frame(v).timestamp_ns for v in data.values]
    assert stamps == sorted(stamps) and h10.stats.duplicated > 0
    unique = sorted(set(stamps))
    assert 0 < len(stamps) - len(unique) <= h10.stats.duplicated  # held copies may still be pending
    assert set(np.diff(unique)) == {39 * 5_000_000}  # nothing lost, only bunched and doubled


async def test_ignored_mtu_is_truncated_by_the_link(radio: FakeRadio) -> None:
    h10, peripheral = await polar_session(radio, faults=FaultPlan(frame_mtu=247))
    async with BleakClient(peripheral.address, backend=radio.client_backend, request_mtu=None) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(0.5)
        await settle()
    assert data.values and all(len(v) == 20 for v in data.values)
    with pytest.raises(PmdDecodeError):
        decode_pmd_frame(data.values[0])


@pytest.mark.parametrize(
    ("clock", "first_ts"),
    [
        (DeviceClock.h10_reset(), H10_RESET_DEVICE_NS + 38 * 5_000_000),
        # +100 ppm: samples come 100 ppm faster in true time; timestamps stay 5 ms apart on the device clock.
        (DeviceClock(START_NS, drift_ppm=100.0), START_NS + 38 * 5_000_000),
    ],
)
async def test_device_clock_quirks(radio: FakeRadio, clock: DeviceClock, first_ts: int) -> None:
    h10, peripheral = await polar_session(radio, clock=clock)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(0.1949)  # sample 38 is due at 0.19 s / (1 + drift)
        await settle()
    assert [decode_pmd_frame(v).timestamp_ns for v in data.values] == [first_ts]


async def test_forget_time_restarts_the_h10_clock_from_2019(radio: FakeRadio) -> None:
    h10, peripheral = await polar_session(radio)
    h10.advance(30.0)
    h10.forget_time()
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(0.2)
        await settle()
    assert decode_pmd_frame(data.values[0]).timestamp_ns == H10_RESET_DEVICE_NS + 38 * 5_000_000


async def test_simulator_session_streams_through_the_h10(radio: FakeRadio) -> None:
    sim = simulate_drill("ballistic", fs_hz=200, has_gyro=False, seed=1, n_sets=1)
    h10, peripheral = await polar_session(radio, source=sim.samples)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        cp, data = await subscribe_pmd(client)
        await command(client, cp, H10_ACC_200HZ_8G)
        h10.advance(len(sim.samples) / 200 + 1)
        await settle()
    got = np.concatenate([decode_pmd_frame(v).values for v in data.values])
    want = acc_as_sent(np.nan_to_num(sim.samples.acc_g))
    assert len(got) == len(want) // 39 * 39  # whole frames; the partial last one never fills
    np.testing.assert_allclose(got, want[: len(got)], atol=1e-12)


# ---------------------------------------------------------------------------------------------- MetaWear emulator
@pytest.mark.parametrize("chip", [ImuChip.BMI160, ImuChip.BMI270])
@pytest.mark.parametrize("packed", [True, False])
async def test_metawear_discovery_and_acc_gyro_stream(radio: FakeRadio, chip: ImuChip, packed: bool) -> None:
    source = random_source(seed=11)
    board = MetaWearPeripheral(chip, source=source, time_scale=None)
    radio.add(board)
    device = await BleakScanner.find_device_by_name("MetaWear", 1.0, backend=radio.scanner_backend)
    assert device is not None
    async with BleakClient(device, backend=FakeClient, request_mtu=None) as client:
        inbox = Inbox()
        await client.start_notify(METAWEAR_NOTIFY_UUID, inbox)
        for module in (0x03, 0x13, 0x15):
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, discovery_command(module), response=False)
        await settle()
        acc_info, gyro_info, mag_info = (parse_module_info(v) for v in inbox.values)
        assert (acc_info.chip, gyro_info.chip, mag_info.present) == (chip, chip, False)
        assert acc_info.supports_packed
        inbox.values.clear()
        commands = [
            acc_config_command(chip, 100.0, 4),
            gyro_config_command(100.0, 1000),
            *acc_start_commands(chip, packed=packed),
            *gyro_start_commands(chip, packed=packed),
        ]
        for cmd in commands:
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, cmd, response=False)
        assert board.imu_state(MetaWearSensor.ACC) == (100.0, 4, True)
        board.advance(0.995)  # 100 samples of each
        await settle()
    decoder = MetaWearDecoder(chip, 4, chip, 1000)
    packets = [decoder.decode(v) for v in inbox.values]
    assert all(p is not None and p.packed == packed for p in packets)
    assert all(len(v) == (20 if packed else 8) for v in inbox.values)
    acc = np.concatenate([p.values for p in packets if p is not None and p.sensor is MetaWearSensor.ACC])
    gyr = np.concatenate([p.values for p in packets if p is not None and p.sensor is MetaWearSensor.GYRO])
    assert len(acc) == len(gyr) == (99 if packed else 100)
    np.testing.assert_allclose(acc, np.clip(source.acc_g[: len(acc)], -4, 4), atol=0.5 / 8192 + 1e-12)
    np.testing.assert_allclose(gyr, np.clip(source.gyr_dps[: len(gyr)], -1000, 1000), atol=0.5 / 32.8 + 1e-9)


async def test_metawear_stream_interleaves_and_stops(radio: FakeRadio) -> None:
    board = MetaWearPeripheral(time_scale=None)
    peripheral = radio.add(board)
    async with BleakClient(peripheral.address, backend=radio.client_backend) as client:
        inbox = Inbox()
        await client.start_notify(METAWEAR_NOTIFY_UUID, inbox)
        for cmd in (*acc_start_commands(ImuChip.BMI160), *gyro_start_commands(ImuChip.BMI160)):
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, cmd, response=False)
        board.advance(0.1)
        await settle()
        kinds = [v[0] for v in inbox.values]
        assert kinds[:4] == [0x03, 0x13, 0x03, 0x13]  # acc and gyro alternate in due-time order
        await client.write_gatt_char(METAWEAR_COMMAND_UUID, bytes([0x03, 0x01, 0x00]), response=False)
        count = len(inbox.values)
        board.advance(0.1)
        await settle()
        assert {v[0] for v in inbox.values[count:]} == {0x13}
        assert board.imu_state(MetaWearSensor.ACC)[2] is False


async def test_emulator_rejects_advance_in_paced_mode() -> None:
    with pytest.raises(RuntimeError, match="manual time"):
        PolarPmdPeripheral(time_scale=10.0).advance(1.0)

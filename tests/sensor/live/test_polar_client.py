"""PolarClient: state machine on the fake backend, whole sessions over bumble's real ATT.

Tier 1 (fake backend, manual time): ALREADY_IN_STATE answered with STOP + START, a
device-initiated stop restarted, reconnect with backoff after a drop, giving up, the
INVALID_MTU refusal, truncated and corrupt frames, the stall watchdog.

Tier 2 (bumble, unmodified BleakClient): ten minutes of 200 Hz H10 with three forced
disconnects, 2 % dropped and 1 % duplicated notifications, against the uninterrupted
session; replay of the capture equal to the live session; a Verity Sense acc+gyro
session with its FACTOR.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bleak import BleakClient
from bleak.exc import BleakError
from client_kit import (
    HOST_T0_S,
    START_NS,
    Pump,
    analyse_live,
    analysis_json,
    gaps,
    holes,
    live_samples,
    long_session,
    of_type,
    reference_analysis,
    run_session,
    until,
)

from hipflex.dsp.pipeline import analyze
from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.log import EVENT_KINDS, read_capture
from hipflex.sensor.capture.replay import CaptureDecodeError, decode_capture
from hipflex.sensor.emulate.ble import FakePeripheral, FakeRadio
from hipflex.sensor.emulate.devices import H10_PROFILE, VERITY_SENSE_PROFILE, DeviceClock, FaultPlan, PolarPmdPeripheral
from hipflex.sensor.errors import StreamFailed
from hipflex.sensor.live.client import (
    BleBackends,
    ClientItem,
    Connected,
    Disconnected,
    Reconnecting,
    ReconnectPolicy,
    SensorClient,
)
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.polar_client import PolarClient, PolarSettings
from hipflex.sensor.live.scan import find_sensor
from hipflex.sensor.polar.control import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID
from hipflex.sensor.polar.frames import PmdMeasurementType, encode_raw_frame

pytestmark = pytest.mark.asyncio

FAST = ReconnectPolicy(initial_s=0.005, max_s=0.02)
H10_ACC_200HZ = bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")


def source(n: int = 20000, fs_hz: float = 200.0, seed: int = 3) -> ImuSamples:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    acc = np.column_stack([0.3 * np.sin(t), 0.2 * np.cos(2 * t), np.ones(n)]) + rng.normal(0, 0.01, (n, 3))
    return ImuSamples(t, acc, rng.normal(0, 20, (n, 3)))


def fake_world(emu: PolarPmdPeripheral, **client_kwargs: object) -> tuple[FakeRadio, BleBackends, FakePeripheral]:
    radio = FakeRadio()
    peripheral = radio.add(emu)
    backends = BleBackends(
        client=radio.client_backend,
        scanner=radio.scanner_backend,
        client_kwargs=client_kwargs,
        clock=lambda: HOST_T0_S + emu.uptime_s(),
    )
    return radio, backends, peripheral


def h10(**kwargs: object) -> PolarPmdPeripheral:
    kwargs.setdefault("source", source())
    return PolarPmdPeripheral(time_scale=None, clock=DeviceClock(START_NS), **kwargs)  # type: ignore[arg-type]


async def polar_client(backends: BleBackends, tmp_path: Path, **kwargs: Any) -> PolarClient:
    found = await find_sensor("polar", 1.0, backends=backends)
    kwargs.setdefault("reconnect", FAST)
    kwargs.setdefault("stall_timeout_s", None)
    client = open_sensor(found, backends=backends, capture_path=tmp_path / "capture.jsonl", **kwargs)
    assert isinstance(client, PolarClient)
    return client


def assert_replay_equals_live(items: list[ClientItem], capture: Path) -> None:
    live = live_samples(items)
    replay = decode_capture(capture)
    np.testing.assert_array_equal(replay.samples.time_s, live.time_s)
    np.testing.assert_array_equal(replay.samples.acc_g, live.acc_g)
    if live.gyr_dps is not None:
        assert replay.samples.gyr_dps is not None
        np.testing.assert_array_equal(replay.samples.gyr_dps, live.gyr_dps)
    assert [(g.before_s, g.after_s, g.reason, g.stream) for g in replay.gaps] == sorted(
        (g.start_s, g.end_s, g.reason, g.stream) for g in gaps(items)
    )


# ------------------------------------------------------------------------------------------------ tier 1
async def test_already_in_state_is_answered_with_stop_then_start(tmp_path: Path) -> None:
    emu = h10(faults=FaultPlan(keep_streaming_on_disconnect=True))
    _, backends, _ = fake_world(emu)
    # Another app started ACC and went away without STOP (the H10 then streams on).
    found = await find_sensor("H10", 1.0, backends=backends)
    async with BleakClient(found.device, **backends.client_options()) as other:
        await other.start_notify(PMD_CONTROL_POINT_UUID, lambda _c, _d: None)
        await other.start_notify(PMD_DATA_UUID, lambda _c, _d: None)
        await other.write_gatt_char(PMD_CONTROL_POINT_UUID, H10_ACC_200HZ, response=True)
        await until(lambda: bool(emu.responses))
    assert emu.running == {PmdMeasurementType.ACC}
    emu.responses.clear()
    client = await polar_client(backends, tmp_path)
    items = await run_session(client, lambda: Pump(emu, client).run(3.0))
    assert [r.hex() for r in emu.responses[:3]] == ["f002020600", "f003020000", "f002020000"]
    assert len(live_samples(items)) > 500
    assert gaps(items) == []
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


async def test_device_initiated_stop_restarts_the_stream(tmp_path: Path) -> None:
    emu = h10()
    _, backends, _ = fake_world(emu)
    client = await polar_client(backends, tmp_path)

    async def drive() -> None:
        pump = Pump(emu, client)
        await pump.run(2.0, stop=False)
        emu.stop_from_device()  # [01 02]: the device stopped ACC on its own
        await until(lambda: client.stats.stream_restarts == 1)
        await pump.run(4.0)

    items = await run_session(client, drive)
    assert client.stats.stream_restarts == 1 and client.stats.reconnects == 0
    assert bytes.fromhex("0102") in emu.responses
    t = live_samples(items).time_s
    assert t[-1] - t[0] > 3.5 and np.all(np.diff(t) > 0)
    # The device stops mid-frame: the samples it never sent are a reported hole.
    assert [g.reason for g in gaps(items)] == ["reconnect"]
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


@pytest.mark.slow
async def test_reconnects_with_backoff_after_a_drop(tmp_path: Path) -> None:
    emu = h10(faults=FaultPlan(disconnect_at_s=(3.0,), keep_streaming_on_disconnect=True))
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path, reconnect=ReconnectPolicy(0.005, 2.0, 0.02, connect_attempts=1))

    async def drive() -> None:
        peripheral.fail_next_connects(2, error=lambda: BleakError("simulated: connection failed"))
        await Pump(emu, client, outage_s=1.0).run(6.0)

    items = await run_session(client, drive)
    events = [i for i in items if isinstance(i, Connected | Disconnected | Reconnecting)]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Connected", "Disconnected", "Reconnecting", "Reconnecting", "Reconnecting", "Connected"]
    assert [e.delay_s for e in events if isinstance(e, Reconnecting)] == [0.005, 0.01, 0.02]
    assert isinstance(events[3], Reconnecting) and "simulated" in events[3].last_error
    assert isinstance(events[-1], Connected) and events[-1].reconnect
    (gap,) = gaps(items)
    assert gap.reason == "reconnect" and 1.0 <= gap.duration_s < 1.5
    logged = [r.event for r in read_capture(tmp_path / "capture.jsonl").events]
    assert logged == ["stream_started", "disconnected", "reconnected", "stream_started", "gap", "stream_stopped"]
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


@pytest.mark.slow
async def test_gives_up_after_max_attempts_and_keeps_what_it_had(tmp_path: Path) -> None:
    emu = h10(faults=FaultPlan(disconnect_at_s=(2.0,)))
    _, backends, peripheral = fake_world(emu)
    policy = ReconnectPolicy(0.001, 1.0, 0.001, max_attempts=2, connect_attempts=1)
    client = await polar_client(backends, tmp_path, reconnect=policy)

    async def drive() -> None:
        peripheral.fail_next_connects(10, error=lambda: BleakError("simulated: no answer"))
        await Pump(emu, client).run(10.0, stop=False)

    with pytest.raises(StreamFailed, match="gave up after 2 attempts"):
        await run_session(client, drive)
    capture = read_capture(tmp_path / "capture.jsonl")
    assert capture.events[-1].event == "disconnected" and not capture.truncated_tail
    assert len(decode_capture(tmp_path / "capture.jsonl").samples) >= 300  # two seconds at 200 Hz, minus the frame


async def test_stop_does_not_wait_for_a_sensor_out_of_range(tmp_path: Path) -> None:
    emu = h10()
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path)

    async def drive() -> None:
        await Pump(emu, client).run(1.0, stop=False)
        peripheral.in_range = False  # walked away: connection attempts now wait for their timeout (20 s)
        attempts = peripheral.connect_attempts
        peripheral.disconnect()
        await until(lambda: client.state == "recovering" and peripheral.connect_attempts > attempts)
        # A connection attempt is pending (out of range it waits for its timeout): stop now.
        try:
            await asyncio.wait_for(asyncio.shield(client.stop()), 1.0)
        except TimeoutError:
            peripheral.in_range = True  # let the pending attempt end, so the session can
            await client.stop()
            raise AssertionError("stop() waited for the connection attempts") from None

    items = await run_session(client, drive)
    assert of_type(items, Reconnecting) and len(live_samples(items)) > 100
    assert read_capture(tmp_path / "capture.jsonl").events[-1].event == "disconnected"


async def stop_while_restarting(
    client: PolarClient, emu: PolarPmdPeripheral, peripheral: FakePeripheral, restarting: asyncio.Event
) -> tuple[asyncio.Task[None], asyncio.Task[None], list[ClientItem]]:
    """In a started session: stream 1 s, drop the link, call stop() once the streams' restart began.

    Returns the stop and consumer tasks after at most 5 s (done unless stop() hung) and the items.
    """
    items: list[ClientItem] = []

    async def collect() -> None:
        async for item in client.samples():
            items.append(item)

    consumer = asyncio.create_task(collect())
    await Pump(emu, client).run(1.0, stop=False)
    peripheral.disconnect()
    await asyncio.wait_for(restarting.wait(), 5.0)
    stopping = asyncio.create_task(client.stop())
    await asyncio.wait({stopping, consumer}, timeout=5.0)
    return stopping, consumer, items


async def test_stop_ends_a_session_whose_reconnect_swallowed_the_cancellation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stop() while a reconnect restarts the streams, in a library that swallows the cancel.

    Python 3.11's ``asyncio.wait_for`` returns a reply that lands in the same loop
    turn as the cancel instead of raising; the reconnect then completed, set the
    client streaming again and ``stop()`` waited for the supervisor for good (the
    record command hung in CI).
    """
    emu = h10()
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path, reconnect=ReconnectPolicy(0.001, 1.0, 0.001))
    restarting = asyncio.Event()
    start_streams = client._start_streams

    async def swallowing_start(link: BleakClient, restart: bool) -> None:
        if restart:
            restarting.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # swallowed, as wait_for did when the reply came with the cancel
        await start_streams(link, restart)

    monkeypatch.setattr(client, "_start_streams", swallowing_start)
    async with client:
        await client.start()
        stopping, consumer, items = await stop_while_restarting(client, emu, peripheral, restarting)
        if not stopping.done():  # leave nothing running before failing
            client._supervisor.cancel()  # type: ignore[union-attr]  # a second cancel is not swallowed
            await asyncio.wait({stopping, consumer}, timeout=5.0)
            raise AssertionError(f"stop() hung; the client is {client.state!r}")
        assert consumer.done() and stopping.exception() is None
    assert len(live_samples(items)) > 100 and client.stats.reconnects == 1
    assert read_capture(tmp_path / "capture.jsonl").events[-1].event in ("reconnected", "stream_stopped")


async def test_stop_ends_even_when_a_reconnect_ignores_every_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A link task that never ends (a library stuck in a loop) is left behind, logged; stop() still ends."""
    from hipflex.sensor.live import session

    monkeypatch.setattr(session, "CANCEL_RETRY_S", 0.05)
    monkeypatch.setattr(session, "CANCEL_TRIES", 4)
    emu = h10()
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path, reconnect=ReconnectPolicy(0.001, 1.0, 0.001))
    restarting, release = asyncio.Event(), asyncio.Event()

    async def stuck_start(link: BleakClient, restart: bool) -> None:
        restarting.set()
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # every cancel swallowed

    async with client:
        await client.start()
        monkeypatch.setattr(client, "_start_streams", stuck_start)
        stopping, consumer, items = await stop_while_restarting(client, emu, peripheral, restarting)
        ended = stopping.done() and consumer.done()
        release.set()  # let the stuck task end, so that the test leaves nothing running
        await asyncio.sleep(0)
        client._supervisor.cancel()  # type: ignore[union-attr]
        assert ended, f"stop() hung; the client is {client.state!r}"
    assert "ignored 4 cancellations; left running" in caplog.text
    assert len(live_samples(items)) > 100


async def test_a_control_point_reply_landing_with_the_cancel_does_not_swallow_it() -> None:
    """The request is cancelled even when its reply completes in the same loop turn."""
    from hipflex.sensor.live.polar_client import _Commander

    commander = _Commander()

    class Link:
        async def write_gatt_char(self, uuid: str, payload: bytes, response: bool) -> None:
            return None

    task = asyncio.create_task(commander.request(Link(), bytes([2, 0]), 5.0))  # type: ignore[arg-type]
    while commander._waiter is None or not task.get_stack():
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # the request now awaits its reply
    commander._waiter.set_result(object())  # type: ignore[arg-type]  # the reply ...
    task.cancel()  # ... and the cancel, in the same turn
    await asyncio.wait({task}, timeout=1.0)
    assert task.cancelled()


async def test_invalid_mtu_is_a_clear_error(tmp_path: Path) -> None:
    profile = dataclasses.replace(H10_PROFILE, min_att_mtu=232)
    emu = PolarPmdPeripheral(profile, time_scale=None)
    _, backends, _ = fake_world(emu, request_mtu=None)
    client = await polar_client(backends, tmp_path)
    async with client:
        with pytest.raises(StreamFailed, match=r"ATT MTU \(23 bytes\) is too small.*INVALID_MTU"):
            await client.start()
    assert emu.responses[-1].hex() == "f002020a00"


async def test_frames_cut_by_a_small_mtu_end_the_session_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = h10(faults=FaultPlan(frame_mtu=247))  # the device ignores the link's MTU
    _, backends, _ = fake_world(emu, request_mtu=None)
    client = await polar_client(backends, tmp_path)
    with pytest.raises(StreamFailed, match=r"cannot be decoded .*ATT MTU is 23 bytes"):
        await run_session(client, lambda: Pump(emu, client, step_s=0.2).run(20.0, stop=False))
    assert "not a whole number of 6-byte samples (truncated?)" in caplog.text
    capture = read_capture(tmp_path / "capture.jsonl")
    assert sum(1 for n in capture.notifications if n.char_uuid == PMD_DATA_UUID) >= 20  # all kept
    with pytest.raises(CaptureDecodeError, match="no accelerometer samples decoded"):
        decode_capture(tmp_path / "capture.jsonl")


async def test_corrupt_and_unknown_frames_are_skipped_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = h10()
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path)
    bad = [
        b"\x02\x01",  # shorter than the header
        encode_raw_frame(PmdMeasurementType.ACC, 0x01, START_NS, np.zeros((3, 3), np.int64))[:-4],  # truncated
        bytes([0x02]) + START_NS.to_bytes(8, "little") + bytes([0x07, 1, 2, 3]),  # unknown frame type
        bytes([0x3E]) + bytes(15),  # unknown measurement: not ours, ignored quietly
    ]

    async def drive() -> None:
        pump = Pump(emu, client)
        await pump.run(2.0, stop=False)
        for data in bad:
            peripheral.notify(PMD_DATA_UUID, data)
        async with asyncio.timeout(10):  # until the decoder has seen them, not a fixed sleep
            while client.stats.undecodable < 3:
                await asyncio.sleep(0.001)
        await pump.run(4.0)

    with caplog.at_level(logging.WARNING):
        items = await run_session(client, drive)
    assert client.stats.undecodable == 3
    assert "shorter than its 10-byte header" in caplog.text and "unsupported PMD frame" in caplog.text
    assert gaps(items) == [] and len(live_samples(items)) > 700
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


async def test_a_capture_cut_mid_line_keeps_everything_before(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    emu = h10()
    _, backends, _ = fake_world(emu)
    client = await polar_client(backends, tmp_path)
    items = await run_session(client, lambda: Pump(emu, client).run(6.0))
    path = tmp_path / "capture.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    data_lines = [i for i, line in enumerate(lines) if PMD_DATA_UUID.encode() in line]
    cut = data_lines[len(data_lines) // 2]
    path.write_bytes(b"".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])  # a crash while writing
    with caplog.at_level(logging.INFO):
        capture = read_capture(path)
    assert capture.truncated_tail and "last line cut short" in caplog.text
    replay = decode_capture(capture).samples
    live = live_samples(items)
    assert 0 < len(replay) < len(live)
    np.testing.assert_array_equal(replay.time_s, live.time_s[: len(replay)])  # nothing before the cut is lost


async def test_stall_watchdog_restarts_a_silent_stream(tmp_path: Path) -> None:
    emu = h10()
    _, backends, _ = fake_world(emu)
    client = await polar_client(backends, tmp_path, stall_timeout_s=0.05)

    async def drive() -> None:
        await Pump(emu, client).run(1.0, stop=False)
        await until(lambda: client.stats.stream_restarts >= 1, timeout_s=2.0)  # time stands still: silence
        await client.stop()

    await run_session(client, drive)
    assert client.stats.stream_restarts >= 1
    assert [r.hex() for r in emu.responses[:3]] == ["f002020000", "f003020000", "f002020000"]


async def test_unsupported_rate_is_refused_before_streaming(tmp_path: Path) -> None:
    emu = h10()
    _, backends, _ = fake_world(emu)
    found = await find_sensor("H10", 1.0, backends=backends)
    client = PolarClient(found.device, PolarSettings(sample_rate_hz=333), backends=backends)
    with pytest.raises(StreamFailed, match=r"cannot stream at 333 Hz.*25, 50, 100, 200 Hz"):
        await client.connect()
    assert emu.responses == [] and not emu.server.is_connected


# ------------------------------------------------------------------------------------------------ tier 2
def bumble_air() -> Any:
    """A bumble link; skips without the bumble test dependency (an import error of our own module fails)."""
    pytest.importorskip("bumble", reason="needs the bumble test dependency")
    from hipflex.sensor.emulate.ble.bumble_backend import BumbleAir

    return BumbleAir()


@pytest.mark.slow
async def test_ten_minutes_of_h10_with_drops_and_disconnects_over_bumble(tmp_path: Path) -> None:
    sim = long_session(600.0, 200.0, has_gyro=False)
    faults = FaultPlan(
        drop_fraction=0.02, duplicate_fraction=0.01, disconnect_at_s=(150.0, 300.0, 450.0),
        keep_streaming_on_disconnect=True, seed=4,
    )  # fmt: skip
    emu = PolarPmdPeripheral(source=sim.samples, time_scale=None, clock=DeviceClock(START_NS), faults=faults)
    async with bumble_air() as air:
        await air.add_peripheral(emu)
        backends = BleBackends(air.client_backend, air.scanner_backend, clock=lambda: HOST_T0_S + emu.uptime_s())
        client = await polar_client(backends, tmp_path)
        items = await run_session(client, lambda: Pump(emu, client).run(len(sim.samples) / 200.0))
    capture = tmp_path / "capture.jsonl"
    live = live_samples(items)
    reported = gaps(items)

    # No sample twice (1 % of notifications were sent twice) and every hole reported, once.
    assert np.all(np.diff(live.time_s) > 0)
    assert emu.stats.duplicated > 20 and emu.stats.dropped > 50 and emu.stats.forced_disconnects == 3
    assert holes(live.time_s, 200.0) == [(g.start_s, g.end_s) for g in reported]
    reconnects = [g for g in reported if g.reason == "reconnect"]
    assert len(reconnects) == 3 and all(2.0 <= g.duration_s < 3.0 for g in reconnects)
    assert sum(g.reason == "loss" for g in reported) > 40
    assert client.stats.reconnects == 3 and client.clock_sync.skew_ppm == pytest.approx(0.0, abs=5.0)

    # Replay of the capture written live: the same samples, and the same analysis byte for byte.
    assert_replay_equals_live(items, capture)
    # The repeats were logged as ``duplicate`` events (a registered kind) and replay counts them.
    kinds = [e.event for e in read_capture(capture).events]
    assert set(kinds) <= set(EVENT_KINDS) and kinds.count("duplicate") == client.stats.repeats > 0
    assert decode_capture(capture).duplicates == client.stats.repeats
    live_json = analysis_json(await analyse_live(items, str(capture)))
    replay_json = analysis_json(analyze(decode_capture(capture).samples, source=str(capture)))
    assert live_json == replay_json

    # Against the uninterrupted session: the same reps, except those touching a gap.
    first = next(n for n in read_capture(capture).notifications if n.char_uuid == PMD_DATA_UUID)
    ts, n_first = int.from_bytes(first.data[1:9], "little"), (len(first.data) - 10) // 6
    t0 = live.time_s[0] - (ts - (n_first - 1) * 5_000_000 - START_NS) * 1e-9  # session time of row 0
    ref = reference_analysis(sim, t0).reps
    got = (await analyse_live(items, "live")).reps

    def near_gap(t: float) -> bool:
        # 2.5 s: a fast swing peaking 2.0 s after a bridged 0.3 s loss still read 2 deg apart.
        return any(g.start_s - 1.0 <= t <= g.end_s + 2.5 for g in reported)

    ref_clear = [r for r in ref if not near_gap(r.peak_s)]
    got_clear = [r for r in got if not near_gap(r.peak_s)]
    assert len(ref) > 150 and len(ref_clear) > 0.6 * len(ref)
    assert len(got_clear) == len(ref_clear)  # 144 of 211 reps with this seed
    # Each emulated restart resumes with the next unread row at "now": one period (5 ms) of
    # offset per reconnect, 15 ms after three (median 5 ms); the detector adds nothing.
    # The maximum of a held plateau moves with the last bit of noise (one hold here: 45 ms for
    # 0.01 deg), so a hold's peak is compared by its angle. Peak angles: median 0.001 deg
    # apart, at most 0.21 deg (the filter still settling 2.5 s after a gap).
    for r, g in zip(ref_clear, got_clear, strict=True):
        assert g.peak_flexion_deg == pytest.approx(r.peak_flexion_deg, abs=0.5)
        assert abs(g.peak_s - r.peak_s) < (0.02 if r.hold_s < 0.5 else 0.1)
    assert sum(abs(g.peak_s - r.peak_s) < 0.02 for r, g in zip(ref_clear, got_clear, strict=True)) >= len(ref_clear) - 1


@pytest.mark.slow
async def test_verity_acc_and_gyro_over_bumble(tmp_path: Path) -> None:
    emu = PolarPmdPeripheral(
        VERITY_SENSE_PROFILE, source=source(6000, 52.0), time_scale=None, clock=DeviceClock(START_NS),
        faults=FaultPlan(disconnect_at_s=(30.0,), drop_fraction=0.03, seed=2),
    )  # fmt: skip
    async with bumble_air() as air:
        await air.add_peripheral(emu)
        backends = BleBackends(air.client_backend, air.scanner_backend, clock=lambda: HOST_T0_S + emu.uptime_s())
        client = await polar_client(backends, tmp_path)
        assert client.has_gyro is False  # known once connected
        items = await run_session(client, lambda: Pump(emu, client, step_s=1.0).run(60.0))
    assert client.has_gyro and client.model.model == "Verity Sense"
    live = live_samples(items)
    assert live.gyr_dps is not None and len(live) > 2500
    header = read_capture(tmp_path / "capture.jsonl").header
    assert header.device.model == "Verity Sense" and set(header.streams) == {"acc", "gyro"}
    # The gyro FACTOR (0.0625) came in the START reply: values are deg/s, not counts.
    ok = ~np.isnan(live.gyr_dps[:, 0])
    assert 10 < np.std(live.gyr_dps[ok, 0]) < 40
    assert {g.stream for g in gaps(items)} == {"acc", "gyro"}
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")
    assert analysis_json(await analyse_live(items, "v")) == analysis_json(
        analyze(decode_capture(tmp_path / "capture.jsonl").samples, source="v")
    )


async def test_sdk_mode_is_entered_for_other_verity_rates(tmp_path: Path) -> None:
    emu = PolarPmdPeripheral(VERITY_SENSE_PROFILE, source=source(), time_scale=None, clock=DeviceClock(START_NS))
    _, backends, _ = fake_world(emu)
    found = await find_sensor("Polar Sense", 1.0, backends=backends)
    client = PolarClient(
        found.device, PolarSettings(sample_rate_hz=104), backends=backends, stall_timeout_s=None,
        capture_path=tmp_path / "c.jsonl",
    )  # fmt: skip
    items = await run_session(client, lambda: Pump(emu, client).run(3.0))
    assert [r.hex()[:8] for r in emu.responses[:3]] == ["f0020900", "f0020200", "f0020500"]
    assert emu.responses[-1].hex() == "f003090000"  # SDK mode left at the end
    live = live_samples(items)
    assert np.median(np.diff(live.time_s)) == pytest.approx(1 / 104, rel=1e-6)
    assert of_type(items, Connected)[0].mtu == 247


async def test_commands_wait_for_subscriptions(tmp_path: Path) -> None:
    emu = h10()
    _, backends, peripheral = fake_world(emu)
    client = await polar_client(backends, tmp_path)
    assert isinstance(client, SensorClient)
    async with client:
        # Both subscriptions exist before the first control-point write.
        assert peripheral.is_subscribed(PMD_CONTROL_POINT_UUID) and peripheral.is_subscribed(PMD_DATA_UUID)
        assert [w for w in peripheral.writes if w.uuid == PMD_CONTROL_POINT_UUID] == []

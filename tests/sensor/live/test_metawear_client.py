"""MetaWearClient: chip discovery, command sequences, reconnects; a MetaMotion session over bumble.

Tier 1 (fake backend, manual time): the chip comes from module discovery (BMI160 vs
BMI270 config bytes and data registers), a board without a gyroscope streams
acceleration alone, a drop is followed by a reconnect that re-sends stop + start and
re-anchors the sample count.  Tier 2 (bumble): a BMI270 MetaMotion with loss and a
forced disconnect, whose capture replays to the same samples and analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from client_kit import HOST_T0_S, Pump, analyse_live, analysis_json, gaps, live_samples, run_session

from hipflex.dsp.pipeline import analyze
from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.log import read_capture
from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.emulate.ble import FakePeripheral, FakeRadio
from hipflex.sensor.emulate.devices import FaultPlan, MetaWearPeripheral
from hipflex.sensor.errors import StreamFailed
from hipflex.sensor.live.client import BleBackends, ClientItem, ReconnectPolicy
from hipflex.sensor.live.metawear_client import MetaWearClient, MetaWearSettings
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.scan import find_sensor
from hipflex.sensor.metawear.protocol import ImuChip
from hipflex.sensor.sim.simulate import simulate_drill

pytestmark = pytest.mark.asyncio

FAST = ReconnectPolicy(initial_s=0.005, max_s=0.02)


def source(n: int = 12000, fs_hz: float = 100.0, seed: int = 7) -> ImuSamples:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    acc = np.column_stack([0.4 * np.sin(t), 0.1 * np.cos(3 * t), np.ones(n)]) + rng.normal(0, 0.01, (n, 3))
    return ImuSamples(t, acc, rng.normal(0, 30, (n, 3)))


def fake_world(board: MetaWearPeripheral) -> tuple[BleBackends, FakePeripheral]:
    radio = FakeRadio()
    peripheral = radio.add(board)
    clock = lambda: HOST_T0_S + board.uptime_s()  # noqa: E731
    return BleBackends(radio.client_backend, radio.scanner_backend, clock=clock), peripheral


async def metawear_client(backends: BleBackends, tmp_path: Path, **kwargs: Any) -> MetaWearClient:
    found = await find_sensor("metawear", 1.0, backends=backends)
    assert found.info.kind == "metawear"
    kwargs.setdefault("reconnect", FAST)
    kwargs.setdefault("stall_timeout_s", None)
    client = open_sensor(found, backends=backends, capture_path=tmp_path / "capture.jsonl", **kwargs)
    assert isinstance(client, MetaWearClient)
    return client


def assert_replay_equals_live(items: list[ClientItem], capture: Path) -> None:
    live = live_samples(items)
    replay = decode_capture(capture).samples
    np.testing.assert_array_equal(replay.time_s, live.time_s)
    np.testing.assert_array_equal(replay.acc_g, live.acc_g)
    if live.gyr_dps is None:
        assert replay.gyr_dps is None
    else:
        assert replay.gyr_dps is not None
        np.testing.assert_array_equal(replay.gyr_dps, live.gyr_dps)


@pytest.mark.parametrize(
    ("chip", "acc_config", "acc_packed_register"),
    [(ImuChip.BMI160, "03032908", 0x1C), (ImuChip.BMI270, "0303a902", 0x05)],
)
async def test_chip_is_discovered_and_configured(
    tmp_path: Path, chip: ImuChip, acc_config: str, acc_packed_register: int
) -> None:
    board = MetaWearPeripheral(chip, source=source(), time_scale=None)
    backends, _ = fake_world(board)
    client = await metawear_client(backends, tmp_path, sample_rate_hz=200.0, range_g=8)
    items = await run_session(client, lambda: Pump(board, client, step_s=0.1).run(3.0))
    sent = [c.hex() for c in board.commands]
    assert sent[:2] == ["0380", "1380"]  # discovery first, never a guess from the name
    assert acc_config in sent and "13032900" in sent  # 200 Hz, +/-8 g; gyro 200 Hz, 2000 deg/s
    assert f"03{acc_packed_register:02x}01" in sent
    header = read_capture(tmp_path / "capture.jsonl").header
    assert header.streams["acc"].chip == header.streams["gyro"].chip == chip.value
    assert header.device.kind == "metawear" and chip.value.upper() in header.device.model
    live = live_samples(items)
    assert live.gyr_dps is not None and len(live) > 500
    # Counted at 200 Hz; the anchor slews by at most 2 % towards the earliest arrivals.
    assert np.median(np.diff(live.time_s)) == pytest.approx(0.005, rel=0.021)
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")
    assert board.imu_state(board_sensor("acc"))[2] is False  # stopped at the end


def board_sensor(name: str) -> Any:
    from hipflex.sensor.metawear.protocol import MetaWearSensor

    return MetaWearSensor.ACC if name == "acc" else MetaWearSensor.GYRO


async def test_board_without_gyro_streams_acceleration_alone(tmp_path: Path) -> None:
    board = MetaWearPeripheral(ImuChip.BMI160, source=source(), time_scale=None, with_gyro=False)
    backends, _ = fake_world(board)
    client = await metawear_client(backends, tmp_path)
    items = await run_session(client, lambda: Pump(board, client, step_s=0.1).run(2.0))
    assert not client.has_gyro and live_samples(items).gyr_dps is None
    assert set(read_capture(tmp_path / "capture.jsonl").header.streams) == {"acc"}
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


@pytest.mark.slow
async def test_reconnect_resends_stop_and_start_and_reanchors(tmp_path: Path) -> None:
    board = MetaWearPeripheral(
        ImuChip.BMI270, source=source(), time_scale=None, faults=FaultPlan(disconnect_at_s=(4.0,))
    )
    backends, _ = fake_world(board)
    client = await metawear_client(backends, tmp_path)
    items = await run_session(client, lambda: Pump(board, client, step_s=0.1, outage_s=1.0).run(8.0))
    assert client.stats.reconnects == 1
    # After the reconnect: the stop sequence, then config and start again.
    starts = [i for i, c in enumerate(board.commands) if c.hex() == "030101"]
    stops = [i for i, c in enumerate(board.commands) if c.hex() == "030100"]
    assert len(starts) == 2 and stops[0] < starts[1]
    (acc_gap, gyro_gap) = sorted(gaps(items), key=lambda g: g.stream)
    assert acc_gap.reason == gyro_gap.reason == "reconnect"
    assert 1.0 <= acc_gap.duration_s < 1.6
    events = [e.event for e in read_capture(tmp_path / "capture.jsonl").events]
    assert events[:6] == [
        "stream_started",
        "stream_started",
        "disconnected",
        "reconnected",
        "stream_started",
        "stream_started",
    ]
    assert_replay_equals_live(items, tmp_path / "capture.jsonl")


async def test_rate_both_sensors_cannot_share_is_refused() -> None:
    with pytest.raises(StreamFailed, match=r"cannot stream at 12.5 Hz; rates: 25, 50, 100, 200, 400, 800 Hz"):
        MetaWearSettings(sample_rate_hz=12.5)
    with pytest.raises(StreamFailed, match="accelerometer ranges"):
        MetaWearSettings(range_g=3)


def bumble_air() -> Any:
    """A bumble link; skips without the bumble test dependency (an import error of our own module fails)."""
    pytest.importorskip("bumble", reason="needs the bumble test dependency")
    from hipflex.sensor.emulate.ble.bumble_backend import BumbleAir

    return BumbleAir()


@pytest.mark.slow
async def test_metamotion_session_over_bumble_replays_identically(tmp_path: Path) -> None:
    sim = simulate_drill("march", fs_hz=100.0, has_gyro=True, seed=11, n_sets=2)
    faults = FaultPlan(drop_fraction=0.02, disconnect_at_s=(25.0,), seed=3)
    board = MetaWearPeripheral(ImuChip.BMI270, source=sim.samples, time_scale=None, faults=faults)
    async with bumble_air() as air:
        await air.add_peripheral(board)
        backends = BleBackends(air.client_backend, air.scanner_backend, clock=lambda: HOST_T0_S + board.uptime_s())
        client = await metawear_client(backends, tmp_path, sample_rate_hz=100.0, range_g=16)
        duration = len(sim.samples) / 100.0
        items = await run_session(client, lambda: Pump(board, client, step_s=0.1).run(duration))
    capture = tmp_path / "capture.jsonl"
    assert client.stats.reconnects == 1 and board.stats.dropped > 10
    reported = gaps(items)
    assert sum(g.reason == "reconnect" for g in reported) == 2  # acc and gyro
    # One lost 3-sample notification (30 ms) hides in arrival jitter: MetaWear has no counter.
    assert all(g.reason == "reconnect" or g.duration_s > 0.25 for g in reported)
    assert_replay_equals_live(items, capture)
    live = await analyse_live(items, str(capture))
    assert analysis_json(live) == analysis_json(analyze(decode_capture(capture).samples, source=str(capture)))
    assert live.has_gyro and abs(live.rep_count - len(sim.truth.reps)) <= 3

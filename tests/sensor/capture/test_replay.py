"""Replay: captures built with the protocol encoders decode back to the very samples and times."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hipflex.dsp import analyze
from hipflex.sensor.capture.log import (
    Capture,
    CaptureDevice,
    CaptureEvent,
    CaptureFormatError,
    CaptureHeader,
    CaptureRecord,
    Notification,
    StreamSettings,
    read_capture,
)
from hipflex.sensor.capture.replay import (
    CaptureDecodeError,
    CaptureReplay,
    decode_capture,
)
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.formats import format_names, load_samples, sniff_format
from hipflex.sensor.metawear.protocol import ImuChip
from hipflex.sensor.polar.control import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID
from hipflex.sensor.sim.capture import (
    H10_RESET_EPOCH_NS,
    h10_acc_notifications,
    metawear_notifications,
    verity_notifications,
    write_capture,
)
from hipflex.sensor.sim.simulate import simulate_drill

HOST_T0 = 5000.0
H10 = CaptureDevice("polar", "H10", "Polar H10 1A2B3C4D", "A0:9E:1A:1A:2B:3C", "3.1.1")
VERITY = CaptureDevice("polar", "Verity Sense", "Polar Sense B5A8C12F", "A0:9E:1A:B5:A8:C1", "2.1.0")
META = CaptureDevice("metawear", "MetaMotion S", "MetaWear", "C4:27:32:BE:25:5C", "1.7.3")


def header(device: CaptureDevice, **streams: StreamSettings) -> CaptureHeader:
    return CaptureHeader(device, streams, started_unix_s=1.7e9, started_host_s=HOST_T0)


def capture(hdr: CaptureHeader, records: list[CaptureRecord]) -> Capture:
    return Capture(None, hdr, tuple(records))


def known_acc(n: int, seed: int = 0) -> np.ndarray:
    """Accelerations that are whole mG (exactly representable by every encoder here)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(-1500, 1500, (n, 3))
    counts[:, 2] += 1000
    return counts / 1000.0


def test_h10_acc_only_round_trip() -> None:
    fs, n = 100.0, 36 * 20 + 7
    t = 2.0 + np.arange(n) / fs
    acc = known_acc(n)
    recs: list[CaptureRecord] = list(h10_acc_notifications(t, acc, host_t0_s=HOST_T0))
    out = decode_capture(capture(header(H10, acc=StreamSettings(fs, range_g=8, resolution_bits=16)), recs))
    assert out.samples.gyr_dps is None and out.merge_rule is None
    np.testing.assert_allclose(out.samples.time_s, t, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.samples.acc_g, acc)
    assert out.gaps == () and out.problems == () and out.decoded_notifications == len(recs)


def test_h10_lost_frames_stay_a_gap() -> None:
    fs, n = 100.0, 36 * 20
    t = 10.0 + np.arange(n) / fs
    acc = known_acc(n, 1)
    recs: list[CaptureRecord] = list(h10_acc_notifications(t, acc, host_t0_s=HOST_T0, latency_s=0.03))
    del recs[7:9]  # two notifications lost: samples 252..323
    out = decode_capture(capture(header(H10, acc=StreamSettings(fs)), recs))
    keep = np.r_[0 : 7 * 36, 9 * 36 : n]
    # The latency of the first frame shifts the whole timeline; spacing is the device's.
    np.testing.assert_allclose(out.samples.time_s, t[keep] + 0.03, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.samples.acc_g, acc[keep])
    (gap,) = out.gaps
    assert gap.stream == "acc" and gap.reason == "loss" and gap.lost_samples == 72
    assert gap.before_s == pytest.approx(t[7 * 36 - 1] + 0.03) and gap.after_s == pytest.approx(t[9 * 36] + 0.03)


@pytest.mark.parametrize("clock_reset", [False, True])
def test_h10_reconnect(clock_reset: bool) -> None:
    fs, n = 50.0, 36 * 10
    t = np.arange(n) / fs
    acc = known_acc(n, 2)
    t0_ns = H10_RESET_EPOCH_NS + 10**12
    first = h10_acc_notifications(t[:180], acc[:180], host_t0_s=HOST_T0, device_t0_ns=t0_ns)
    # The device clock runs on through the outage, or the strap forgot its time and restarts from 2019.
    t1_ns = H10_RESET_EPOCH_NS if clock_reset else t0_ns + round((t[180] + 20.0) * 1e9)
    second = h10_acc_notifications(t[180:] + 20.0, acc[180:], host_t0_s=HOST_T0, device_t0_ns=t1_ns)
    events: list[CaptureRecord] = [
        CaptureEvent(HOST_T0 + t[179] + 1.0, "disconnected", {"reason": "link lost"}),
        CaptureEvent(HOST_T0 + t[179] + 15.0, "reconnected"),
        CaptureEvent(HOST_T0 + t[179] + 15.5, "stream_started", {"stream": "acc"}),
    ]
    out = decode_capture(capture(header(H10, acc=StreamSettings(fs)), [*first, *events, *second]))
    np.testing.assert_allclose(out.samples.time_s, np.r_[t[:180], t[180:] + 20.0], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.samples.acc_g, acc)
    (gap,) = out.gaps
    assert gap.reason == "reconnect" and gap.duration_s == pytest.approx(20.0 + 1 / fs)


def test_h10_clock_going_backwards_without_events_starts_a_new_segment() -> None:
    fs, n = 50.0, 36 * 6
    t = np.arange(n) / fs
    acc = known_acc(n, 3)
    a = h10_acc_notifications(t[:108], acc[:108], host_t0_s=HOST_T0, device_t0_ns=H10_RESET_EPOCH_NS + 10**13)
    b = h10_acc_notifications(t[108:] + 3.0, acc[108:], host_t0_s=HOST_T0, device_t0_ns=H10_RESET_EPOCH_NS)
    out = decode_capture(capture(header(H10, acc=StreamSettings(fs)), [*a, *b]))
    assert np.all(np.diff(out.samples.time_s) > 0)
    np.testing.assert_allclose(out.samples.time_s[108:], t[108:] + 3.0, atol=1e-9)
    assert [g.reason for g in out.gaps] == ["clock_reset"]


def test_verity_acc_and_gyro_merge_on_device_time() -> None:
    fs, n = 52.0, 71 * 8 + 5
    t = 1.0 + np.arange(n) / fs
    acc = known_acc(n, 4)
    rng = np.random.default_rng(5)
    gyr = rng.integers(-3000, 3000, (n, 3)) * 0.5  # whole counts of FACTOR 0.5 deg/s
    recs: list[CaptureRecord] = list(
        verity_notifications(t, acc, gyr, gyro_factor=0.5, gyro_delay_s=0.002, host_t0_s=HOST_T0)
    )
    hdr = header(
        VERITY,
        acc=StreamSettings(fs, range_g=8, resolution_bits=16),
        gyro=StreamSettings(fs, range_dps=2000, resolution_bits=16, factor=0.5),
    )
    out = decode_capture(capture(hdr, recs))
    assert out.merge_rule == "nearest"
    np.testing.assert_allclose(out.samples.time_s, t, rtol=0, atol=2e-9)
    np.testing.assert_array_equal(out.samples.acc_g, acc)
    assert out.samples.gyr_dps is not None
    np.testing.assert_array_equal(out.samples.gyr_dps, gyr)
    np.testing.assert_allclose(out.streams["gyro"].time_s, t + 0.002, atol=2e-9)
    assert out.gaps == ()


def test_verity_factor_from_the_start_reply_and_a_lost_gyro_frame() -> None:
    fs, n = 52.0, 60 * 6
    t = np.arange(n) / fs
    acc = known_acc(n, 6)
    gyr = np.random.default_rng(7).integers(-3000, 3000, (n, 3)) * 0.25
    recs: list[CaptureRecord] = list(verity_notifications(t, acc, gyr, gyro_factor=0.25, host_t0_s=HOST_T0))
    gyro_frames = [i for i, r in enumerate(recs) if r.data[0] == 5]
    del recs[gyro_frames[2]]  # gyro samples 120..179 lost
    # The header says FACTOR 1 but the START reply (logged on the control point) says 0.25.
    reply = bytes([0xF0, 0x02, 0x05, 0x00, 0x00, 0x05, 0x01]) + struct.pack("<f", 0.25)
    recs.insert(0, Notification(HOST_T0 - 0.5, PMD_CONTROL_POINT_UUID, reply))
    hdr = header(VERITY, acc=StreamSettings(fs), gyro=StreamSettings(fs, factor=1.0))
    out = decode_capture(capture(hdr, recs))
    assert out.samples.gyr_dps is not None
    lost = np.zeros(n, bool)
    lost[120:180] = True
    assert np.isnan(out.samples.gyr_dps[lost]).all()  # a dropout row, nothing invented
    np.testing.assert_array_equal(out.samples.gyr_dps[~lost], gyr[~lost])
    np.testing.assert_array_equal(out.samples.acc_g, acc)
    assert [(g.stream, g.lost_samples) for g in out.gaps] == [("gyro", 60)]


def test_metawear_acc_and_gyro_round_trip_with_a_gap() -> None:
    fs, n = 100.0, 3 * 200
    t = 0.5 + np.arange(n) / fs
    rng = np.random.default_rng(8)
    acc = rng.integers(-20000, 20000, (n, 3)) / 2048.0
    gyr = rng.integers(-20000, 20000, (n, 3)) / 16.4
    recs: list[CaptureRecord] = list(metawear_notifications(t, acc, gyr, chip=ImuChip.BMI270, host_t0_s=HOST_T0))
    del recs[100:120]  # 10 acc + 10 gyro notifications: samples 150..179 (0.3 s)
    hdr = header(
        META,
        acc=StreamSettings(fs, range_g=16, chip="bmi270"),
        gyro=StreamSettings(fs, range_dps=2000, chip="bmi270"),
    )
    out = decode_capture(capture(hdr, recs))
    keep = np.r_[0:150, 180:n]
    np.testing.assert_allclose(out.samples.time_s, t[keep], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.samples.acc_g, acc[keep])
    assert out.samples.gyr_dps is not None
    np.testing.assert_allclose(out.samples.gyr_dps, gyr[keep], rtol=1e-12)
    assert [(g.stream, g.lost_samples, g.reason) for g in out.gaps] == [("acc", 30, "loss"), ("gyro", 30, "loss")]


def test_metawear_needs_chip_and_range() -> None:
    hdr = header(META, acc=StreamSettings(100.0, range_g=16))
    with pytest.raises(CaptureFormatError, match="chip"):
        decode_capture(capture(hdr, []))


def test_undecodable_notifications_are_skipped_and_reported() -> None:
    fs, n = 100.0, 36 * 5
    t = np.arange(n) / fs
    acc = known_acc(n, 9)
    recs: list[CaptureRecord] = list(h10_acc_notifications(t, acc, host_t0_s=HOST_T0))
    cut = recs[2].data[:-1]
    bad = Notification(recs[2].t_s + 0.001, PMD_DATA_UUID, cut[:1] + bytes([cut[1] ^ 0xFF]) + cut[2:], line=99)
    ecg = Notification(recs[2].t_s + 0.002, PMD_DATA_UUID, bytes([0, *range(9), 0]))
    other = Notification(recs[2].t_s + 0.003, "00002a37-0000-1000-8000-00805f9b34fb", b"\x00\x48")
    # A cut copy of a frame already decoded (same header) is that frame again, not a problem.
    again = Notification(recs[3].t_s + 0.001, PMD_DATA_UUID, recs[3].data[:-1], line=100)
    out = decode_capture(capture(header(H10, acc=StreamSettings(fs)), [*recs, bad, ecg, other, again]))
    np.testing.assert_array_equal(out.samples.acc_g, acc)
    assert [p.line for p in out.problems] == [99] and "truncated" in out.problems[0].reason
    assert out.ignored_notifications == 2 and out.duplicates == 1


def test_no_accelerometer_data_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    write_capture(path, header(H10, acc=StreamSettings(100.0)), [])
    with pytest.raises(CaptureDecodeError, match="no accelerometer samples") as info:
        load_samples(path)
    assert isinstance(info.value, InputError)
    unknown = tmp_path / "unknown.jsonl"
    write_capture(unknown, header(CaptureDevice("movesense"), acc=StreamSettings(104.0)), [])
    with pytest.raises(InputError, match="device kind 'movesense' is not supported"):
        load_samples(unknown, "capture")


def test_registered_format_sniffs_and_loads(tmp_path: Path) -> None:
    fs, n = 100.0, 36 * 10
    t = np.arange(n) / fs
    acc = known_acc(n, 10)
    path = tmp_path / "session.jsonl"
    write_capture(path, header(H10, acc=StreamSettings(fs)), h10_acc_notifications(t, acc, host_t0_s=HOST_T0))
    assert "capture" in format_names()
    assert sniff_format(path).name == "capture"
    s = load_samples(path)
    np.testing.assert_allclose(s.time_s, t, atol=1e-9)
    assert json.loads(path.read_text().splitlines()[0])["device"]["model"] == "H10"


def _records(n: int = 50, dt: float = 0.01) -> Capture:
    recs = [Notification(HOST_T0 + i * dt, PMD_DATA_UUID, i.to_bytes(2, "little")) for i in range(n)]
    return capture(header(H10, acc=StreamSettings(100.0)), list(recs))


async def _collect(source: CaptureReplay) -> tuple[list[CaptureRecord], float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    got = [rec async for rec in source]
    return got, loop.time() - start


def test_replay_source_paces_records_by_speed() -> None:
    cap = _records(50, 0.01)  # 0.49 s of records
    now = [0.0]  # the loop's clock, moved only by the injected sleep: no wall time is measured
    released: list[float] = []

    async def sleep(delay_s: float) -> None:
        now[0] += delay_s

    async def run() -> list[CaptureRecord]:
        asyncio.get_running_loop().time = lambda: now[0]  # type: ignore[method-assign]
        got = []
        async for rec in CaptureReplay(cap, speed=2.0, sleep=sleep):
            released.append(now[0])
            got.append(rec)
        return got

    assert asyncio.run(run()) == list(cap.records)
    # Each record comes out at its own time divided by the speed, never earlier or later.
    np.testing.assert_allclose(released, [(r.t_s - cap.records[0].t_s) / 2.0 for r in cap.records], atol=1e-9)


def test_replay_source_as_fast_as_possible_from_a_file(tmp_path: Path) -> None:
    cap = _records(500, 1.0)  # 499 s of records
    path = tmp_path / "c.jsonl"
    write_capture(path, cap.header, cap.records)
    async def never(delay_s: float) -> None:
        raise AssertionError(f"as fast as possible must not wait ({delay_s} s)")

    source = CaptureReplay(path, speed=None, sleep=never)
    assert source.header.device == H10
    got, _ = asyncio.run(_collect(source))
    assert [r.t_s for r in got] == [r.t_s for r in cap.records]
    assert read_capture(path).records == tuple(got)


def test_replay_source_uses_the_injected_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    cap = _records(5, 10.0)
    got, _ = asyncio.run(_collect(CaptureReplay(cap, speed=10.0, sleep=fake_sleep)))
    assert len(got) == 5
    # Due times count from the start (the fake sleep does not pass time): 1, 2, 3, 4 s.
    np.testing.assert_allclose(slept, [1.0, 2.0, 3.0, 4.0], atol=0.05)
    with pytest.raises(ValueError, match="speed"):
        CaptureReplay(cap, speed=0.0)


def _drill_capture(tmp_path: Path, name: str, edit: Callable[[list[CaptureRecord]], None]) -> Path:
    """A ballistic set from the H10 (100 Hz, 53 frames), its notifications changed by ``edit``, as a capture."""
    sim = simulate_drill("ballistic", fs_hz=100.0, has_gyro=False, seed=21, n_sets=1).samples
    t = sim.time_s - sim.time_s[0]
    recs: list[CaptureRecord] = list(h10_acc_notifications(t, sim.acc_g, host_t0_s=HOST_T0, latency_s=0.02))
    edit(recs)
    path = tmp_path / f"{name}.jsonl"
    write_capture(path, header(H10, acc=StreamSettings(100.0, range_g=8, resolution_bits=16)), recs)
    return path


def _analysis(path: Path) -> dict[str, object]:
    out = analyze(load_samples(path)).to_dict()
    out.pop("source")
    return out


@pytest.mark.slow
def test_a_duplicated_notification_is_dropped_not_taken_for_a_clock_reset(tmp_path: Path) -> None:
    def again_at_once(recs: list[CaptureRecord]) -> None:
        recs.insert(31, Notification(recs[30].t_s + 0.001, PMD_DATA_UUID, recs[30].data))

    def again_later(recs: list[CaptureRecord]) -> None:  # re-sent after three newer frames
        recs.insert(44, Notification(recs[43].t_s + 0.001, PMD_DATA_UUID, recs[40].data))

    def logged_by_the_client(recs: list[CaptureRecord]) -> None:  # what the live client writes instead
        info = {"char_uuid": PMD_DATA_UUID, "hex": recs[30].data.hex()}
        recs.insert(31, CaptureEvent(recs[30].t_s + 0.001, "duplicate", info))

    clean = _drill_capture(tmp_path, "clean", lambda recs: None)
    want = decode_capture(clean)
    assert want.duplicates == 0 and want.gaps == ()
    want_analysis = _analysis(clean)
    assert want_analysis["rep_count"] >= 5
    for edit in (again_at_once, again_later, logged_by_the_client):
        path = _drill_capture(tmp_path, edit.__name__, edit)
        got = decode_capture(path)
        # No repeated samples, no new clock segment, no gap: exactly the clean capture's samples.
        np.testing.assert_array_equal(got.samples.time_s, want.samples.time_s)
        np.testing.assert_array_equal(got.samples.acc_g, want.samples.acc_g)
        assert got.gaps == () and got.problems == (), edit.__name__
        assert got.duplicates == 1 and got.decoded_notifications == want.decoded_notifications
        assert _analysis(path) == want_analysis, edit.__name__

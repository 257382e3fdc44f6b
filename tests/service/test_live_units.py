"""The live path's parts: fan-out with bounded client buffers, messages, chunk tidying, the raw log, the store."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hipflex.dsp import AngleBlock, analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import ImuSamples
from hipflex.sensor.formats import load_samples
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service import sources as sources_mod
from hipflex.service.hub import Hub
from hipflex.service.live import SessionManager, SessionSpec, session_settings
from hipflex.service.messages import AngleDecimator
from hipflex.service.rawlog import SampleLog, format_rows
from hipflex.service.sensor_devices import SensorDeviceBackend
from hipflex.service.settings import ServiceSettings
from hipflex.service.sources import TICK_S, SourceItem, SourceStatus, paced_chunks
from hipflex.service.store import SCHEMA_VERSION, Store
from hipflex.service.worker import tidy_chunk


def _msg(kind: str, i: int) -> dict[str, object]:
    return {"type": kind, "i": i}


@pytest.mark.asyncio
async def test_hub_skips_angles_then_drops_a_slow_client_without_blocking() -> None:
    hub = Hub(queue_size=8)
    slow, fast = hub.subscribe(), hub.subscribe()
    got: list[str] = []
    for i in range(40):
        hub.publish([_msg("angle", i), _msg("rep", i)] if i % 4 == 0 else [_msg("angle", i)])
        while (item := await fast.get(timeout_s=1)) is not None and len(fast):
            got.append(item[2])
        if item is not None:
            got.append(item[2])
    # The fast client saw everything, in order.
    assert [json.loads(t)["seq"] for t in got] == list(range(1, hub.seq + 1))
    # The slow one skipped angles from half full, then was dropped when reps filled it.
    assert slow.skipped > 0 and slow.dropped and slow.closed and await slow.get() is None
    assert hub.subscriber_count == 1 and hub.dropped == 1
    # A client that resumes gets the history it missed (reps only, no angles), then live messages.
    again = hub.subscribe(after_seq=3)
    history = [json.loads(again._buf[i][2]) for i in range(len(again))]
    assert all(m["type"] == "rep" and m["seq"] > 3 for m in history) and len(history) == 9
    hub.close()
    assert again.closed and hub.subscribe().closed


@pytest.mark.slow
@pytest.mark.asyncio
async def test_stuck_client_never_slows_the_pipeline(tmp_path: Path) -> None:
    settings = ServiceSettings(db_path=tmp_path / "db", capture_dir=tmp_path / "cap", client_queue=48)
    store = Store(settings.db_path)
    manager = SessionManager(settings, store, SensorDeviceBackend())
    try:
        rec = await manager.start(SessionSpec(source="simulator", drill="march", seed=1, n_sets=3, speed=200))
        live = manager.live(rec.id)
        assert live is not None
        stuck, reader = live.hub.subscribe(), live.hub.subscribe()
        reps, last_seq = [], 0
        while True:
            item = await asyncio.wait_for(reader.get(), 30)
            if item is None:
                if not reader.dropped:
                    break
                # On a loaded machine the reader itself can fall 48 messages
                # behind: it resumes after the last message it saw, as clients do.
                reader = live.hub.subscribe(after_seq=last_seq)
                continue
            last_seq = item[0]
            if item[1] == "rep":
                reps.append(json.loads(item[2])["rep"])
        await asyncio.wait_for(live.done.wait(), 30)
        assert stuck.dropped and len(stuck) == 0
        assert live.analysis is not None and [r.to_dict() for r in live.analysis.reps] == reps
        assert store.get_session(rec.id).status == "stopped"  # type: ignore[union-attr]
        assert manager.live(rec.id) is None
    finally:
        await manager.shutdown()
        store.close()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_shutdown_stops_running_sessions_cleanly(tmp_path: Path) -> None:
    settings = ServiceSettings(db_path=tmp_path / "db", capture_dir=tmp_path / "cap", max_sessions=2)
    store = Store(settings.db_path)
    manager = SessionManager(settings, store, SensorDeviceBackend())
    a = await manager.start(SessionSpec(source="simulator", speed=2))
    await manager.start(SessionSpec(source="simulator", drill="hold", speed=2))
    from hipflex.service.live import TooManySessions

    with pytest.raises(TooManySessions):
        await manager.start(SessionSpec(source="simulator"))
    live = manager.live(a.id)
    assert live is not None
    async with asyncio.timeout(30):  # shut down once samples have gone through, not after a fixed sleep
        while live.worker.rows == 0:
            await asyncio.sleep(0.01)
    await manager.shutdown()
    rec = store.get_session(a.id)
    assert rec is not None and rec.status == "stopped" and rec.sample_count > 0 and rec.analysis is not None
    rows = [line for line in Path(rec.raw_log).read_text().splitlines() if line[:1].isdigit()]
    assert len(rows) == rec.sample_count
    store.close()


class _ManualClock:
    """A loop clock that moves only when slept on: pacing tested without measuring wall time."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def time(self) -> float:
        return self.now_s

    async def sleep(self, delay_s: float) -> None:
        self.now_s += delay_s


@pytest.mark.asyncio
async def test_paced_chunks_follow_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _ManualClock()
    monkeypatch.setattr(sources_mod, "asyncio", SimpleNamespace(get_running_loop=lambda: clock, sleep=clock.sleep))
    t = np.arange(0, 2.0, 0.01)
    samples = ImuSamples(t, np.tile([0.0, 0.0, 1.0], (t.size, 1)))
    start = clock.time()
    chunks = [(clock.time() - start, c) async for c in paced_chunks(samples, speed=4.0)]
    assert np.array_equal(np.concatenate([c.time_s for _, c in chunks]), t)
    assert len(chunks) > 10  # released over time, not at once
    for wall, c in chunks:  # no row is released before its time, none later than a tick after it
        assert c.time_s[-1] / 4.0 <= wall + 1e-9
        assert wall <= c.time_s[0] / 4.0 + TICK_S + 1e-9
    assert chunks[-1][0] == pytest.approx(t[-1] / 4.0, abs=TICK_S)  # 2 s of samples at 4x


def test_angle_decimator_keeps_about_25_hz_across_chunks() -> None:
    dec = AngleDecimator(25.0)
    t = np.arange(0, 10, 1 / 200) + 100.0
    deg = np.sin(t)
    deg[:50] = np.nan
    out = []
    for lo in range(0, t.size, 37):
        m = dec(AngleBlock(t[lo : lo + 37], deg[lo : lo + 37]))
        if m is not None:
            out.append(m)
    ts = [x for m in out for x in m["t"]]
    assert len(ts) == 250 and np.allclose(np.diff(ts), 0.04, atol=0.006)
    assert out[0]["deg"][0] is None and all(m["type"] == "angle" for m in out)


def test_tidy_chunk_matches_the_file_readers() -> None:
    t = np.array([1.0, 2.0, 2.0, 3.0, 2.5, 4.0])
    acc = np.ones((6, 3))
    acc[3, 1] = np.nan
    gyr = np.zeros((6, 3))
    gyr[5, 0] = np.nan
    out = tidy_chunk(ImuSamples(t, acc, gyr), after_s=1.0)
    assert out.time_s.tolist() == [2.0, 3.0, 4.0]
    assert np.isnan(out.acc_g[1]).all() and np.isnan(out.gyr_dps[1]).all()  # type: ignore[index]
    assert np.isnan(out.acc_g[2]).all() and np.isnan(out.gyr_dps[2]).all()  # type: ignore[index]
    clean = ImuSamples(t[:2], acc[:2])
    assert tidy_chunk(clean, None) is clean


def test_raw_log_is_lossless_and_readable_by_analyze(tmp_path: Path) -> None:
    sim = simulate_drill("stride", fs_hz=208.0, seed=5, n_sets=1).samples
    acc = sim.acc_g.copy()
    gyr = sim.gyr_dps.copy()  # type: ignore[union-attr]
    acc[100:110] = gyr[100:110] = np.nan  # a dropout: whole rows, as every reader gives them
    samples = ImuSamples(sim.time_s + 1234.5678, acc, gyr)
    path = tmp_path / "log.csv"
    with SampleLog(path, True, comments=("provenance line",)) as log:
        for lo in range(0, len(samples), 333):
            log.append(samples.slice(lo, lo + 333))
    back = load_samples(path)
    assert np.array_equal(back.time_s, samples.time_s)
    assert np.array_equal(back.acc_g, samples.acc_g, equal_nan=True)
    assert np.array_equal(back.gyr_dps, samples.gyr_dps, equal_nan=True)  # type: ignore[arg-type]
    assert analyze(back).to_dict() == analyze(samples).to_dict()
    assert path.read_text().startswith("# provenance line\ntime_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,")
    assert format_rows(ImuSamples(np.array([1.5]), np.full((1, 3), np.nan))) == "1.5,,,\n"
    with pytest.raises(ValueError, match="closed"):
        log.append(samples.slice(0, 1))


def test_store_schema_version_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    rec = store.create_session(source="simulator", params={"a": 1}, settings=Settings().to_dict(), version="9",
                               raw_log_dir=tmp_path, label="x", side="right")  # fmt: skip
    store.upsert_device("A0:9E:1A:00:00:01", "Polar H10", "polar", -60, None)
    store.upsert_device("A0:9E:1A:00:00:01", None, "polar", None, 80)
    store.close()
    again = Store(path)
    got = again.get_session(rec.id)
    assert got is not None and got.params == {"a": 1} and got.side == "right" and got.hipflex_version == "9"
    dev = again.device("A0:9E:1A:00:00:01")
    assert dev is not None and dev["name"] == "Polar H10" and dev["battery_pct"] == 80 and dev["rssi_dbm"] == -60
    again._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    again.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(path)


def test_store_migrates_a_version_1_file_and_counts_swings_hidden_in_gaps(tmp_path: Path) -> None:
    import sqlite3

    from hipflex.dsp.sets import make_set
    from hipflex.dsp.types import Gap, Rep
    from hipflex.service.store import MIGRATIONS

    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    db.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    rec = store.create_session(source="simulator", params={}, settings=Settings().to_dict(), version="9",
                               raw_log_dir=tmp_path)  # fmt: skip
    peaks = [10.0 + 0.7 * k for k in range(8) if k != 4]  # the swing at 12.8 s was lost
    reps = [Rep(i, p - 0.3, p, p + 0.3, 80.0, 78.0, 0.2, 400.0, 200.0, 0.1, 1.0) for i, p in enumerate(peaks)]
    for i, r in enumerate(reps):
        store.add_rep(rec.id, i, 0, r)
    store.put_set(rec.id, make_set(0, reps, [Gap(12.6, 13.1, True)]), closed=True)
    (row,) = store.sets(rec.id)
    assert row["rep_count"] == 8 and row["hidden_peaks_s"] == [12.8]
    got = store.get_session(rec.id)
    assert got is not None and got.rep_count == 8 and len(store.reps(rec.id)) == 7


def test_session_settings_follow_the_cli_rules() -> None:
    base = Settings()
    assert session_settings(base, None, None) is base
    s = session_settings(base, 5.0, 3.0)
    assert s.min_rom_deg == 5.0 and s.candidate_deg == pytest.approx(2.0) and s.set_gap_s == 3.0
    assert session_settings(base, 30.0, None).candidate_deg == base.candidate_deg
    assert math.isclose(session_settings(base, 8.0, None).candidate_deg, 3.2)


class ScriptedSource:
    """A device-like source: battery, a drop and reconnect, silence, and optionally a failure."""

    kind = "device"

    def __init__(self, samples: ImuSamples, fail: bool) -> None:
        self.samples, self.fail = samples, fail

    @property
    def has_gyro(self) -> bool:
        return True

    async def open(self) -> None:
        return None

    async def stream(self) -> AsyncIterator[SourceItem]:

        yield SourceStatus("running", battery_pct=90)
        for lo in range(0, CUT, 400):  # calibrates within these rows
            yield self.samples.slice(lo, lo + 400)
        yield SourceStatus("reconnecting")
        await asyncio.sleep(0.1)
        yield SourceStatus("running", battery_pct=89)
        await asyncio.sleep(0.5)  # silence while running: the session reports a gap
        if self.fail:
            raise ConnectionError("link lost for good")
        for lo in range(CUT, len(self.samples), 400):
            yield self.samples.slice(lo, lo + 400)


CUT = 1200


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("fail", [False, True])
async def test_device_states_gaps_and_failures_reach_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    import hipflex.service.live as live_mod

    monkeypatch.setattr(live_mod, "GAP_TIMEOUT_S", 0.2)
    samples = simulate_drill("ballistic", fs_hz=100.0, seed=8, n_sets=1).samples

    class Backend(SensorDeviceBackend):
        def source(self, address: str) -> ScriptedSource:
            return ScriptedSource(samples, fail)

    settings = ServiceSettings(db_path=tmp_path / "db", capture_dir=tmp_path / "cap")
    store = Store(settings.db_path)
    manager = SessionManager(settings, store, Backend())
    try:
        rec = await manager.start(SessionSpec(source="device", device_address="A0:9E:1A:00:00:01"))
        live = manager.live(rec.id)
        assert live is not None
        sub = live.hub.subscribe()
        msgs = []
        while (item := await asyncio.wait_for(sub.get(), 30)) is not None:
            msgs.append(json.loads(item[2]))
        status = [(m["state"], m["battery_pct"], m["phase"]) for m in msgs if m["type"] == "status"]
        # The phase says what the analysis does while calibrating: a status when the rest pose is known.
        still, axis, counting = "waiting_for_still", "learning_axis", "counting"
        want = [("calibrating", None, still), ("calibrating", 90, still), ("calibrating", 90, axis),
                ("running", 90, counting), ("reconnecting", 90, counting), ("running", 89, counting),
                ("gap", 89, counting)]  # fmt: skip
        assert status[: len(want)] == want
        end = [] if fail else [("running", 89, counting)]
        assert status[len(want) :] == [*end, ("stopped", 89, counting)]
        final = store.get_session(rec.id)
        assert final is not None and final.analysis is not None
        if fail:
            assert final.status == "failed" and final.error == "ConnectionError: link lost for good"
            assert msgs[-1]["session_status"] == "failed"
            assert final.sample_count == CUT
        else:
            assert final.status == "stopped" and final.error is None
            assert final.analysis == analyze(samples, source=Path(final.raw_log).name).to_dict()
    finally:
        await manager.shutdown()
        store.close()

"""Live sessions against a real uvicorn server: streams, REST, exports and ``hipflex analyze`` agree."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_kit import FakeDevices, LiveServer, sse_messages, wait_until, ws_messages

from hipflex.dsp import analyze
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.formats import load_samples
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.cli import main

SIM = {"drill": "ballistic", "fs_hz": 100.0, "has_gyro": True, "seed": 3, "n_sets": 2}
CONTRACT = ("index", "start_s", "peak_s", "end_s", "peak_flexion_deg", "rom_deg", "flexion_time_s",
            "peak_flexion_velocity_dps", "mean_flexion_velocity_dps", "hold_s", "confidence")  # fmt: skip


def cli_json(capsys: pytest.CaptureFixture[str], path: str) -> dict[str, Any]:
    """``hipflex analyze --json PATH`` (in process)."""
    capsys.readouterr()
    assert main(["analyze", "--json", path]) == 0
    out = capsys.readouterr().out
    doc: dict[str, Any] = json.loads(out)
    return doc


def flat_reps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for s in doc["sets"] for r in s["reps"]]


@pytest.mark.slow
def test_simulator_session_streams_rest_and_exports_agree(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api = live_server.client
    r = api.post("/api/v1/sessions", json={"source": "simulator", **SIM, "speed": 25, "label": "t", "side": "left"})
    assert r.status_code == 201, r.text
    session = r.json()
    sid = session["id"]
    assert session["status"] == "running" and session["source"] == "simulator" and session["side"] == "left"

    # Two kinds of clients at once, plus a third WebSocket: all get the same messages.
    with ThreadPoolExecutor(3) as pool:
        ws1 = pool.submit(ws_messages, f"{live_server.ws_url}/api/v1/sessions/{sid}/ws")
        ws2 = pool.submit(ws_messages, f"{live_server.ws_url}/api/v1/sessions/{sid}/ws")
        sse = pool.submit(sse_messages, api, f"/api/v1/sessions/{sid}/events")
        (ws_msgs, ws_code), (ws2_msgs, _), sse_msgs = ws1.result(90), ws2.result(90), sse.result(90)
    assert ws_code == 1000

    def non_angle(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in msgs if m["type"] != "angle"]

    assert non_angle(ws_msgs) == non_angle(sse_msgs) == non_angle(ws2_msgs)
    seqs = [m["seq"] for m in ws_msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    states = [m["state"] for m in ws_msgs if m["type"] == "status"]
    assert states[0] == "calibrating" and "running" in states and states[-1] == "stopped"
    assert ws_msgs[-1]["type"] == "status" and ws_msgs[-1]["session_status"] == "stopped"

    # The angle trace is decimated to about 25 Hz and reaches the thigh's flexion.
    angles = [m for m in ws_msgs if m["type"] == "angle"]
    t = [x for m in angles for x in m["t"]]
    deg = [x for m in angles for x in m["deg"] if x is not None]
    steps = sorted(b - a for a, b in itertools.pairwise(t))
    assert len(t) > 100 and steps[0] > 0.025 and steps[len(steps) // 2] == pytest.approx(0.04, abs=0.002)
    assert max(deg) > 40

    peaks = [m for m in ws_msgs if m["type"] == "rep_peak"]
    reps = [m for m in ws_msgs if m["type"] == "rep"]
    sets = [m for m in ws_msgs if m["type"] == "set"]
    assert len(peaks) == len(reps) > 10
    assert [m["number"] for m in reps] == list(range(len(reps)))
    # Beside each 0-based position, the number people read, counted from 1 as in the tables and export.csv.
    for m in reps:
        assert (m["set_number"], m["rep_number"], m["rep_number_in_session"]) == (
            m["set_index"] + 1, m["rep"]["index"] + 1, m["number"] + 1)  # fmt: skip
    assert [m["rep_number_in_session"] for m in peaks] == [m["number"] + 1 for m in peaks]
    assert all(isinstance(m["received_at"], float) for m in reps)

    final = live_server.wait_ended(sid)
    assert final["status"] == "stopped" and final["rep_count"] == len(reps)
    assert final["set_count"] == len(sets) == 2
    assert final["settings"]["min_rom_deg"] == 20.0 and final["quality"]["orientation"] == "gyro+acc"

    # REST reps and sets are the streamed ones.
    rest_reps = api.get(f"/api/v1/sessions/{sid}/reps").json()
    positions = ("set_index", "number", "set_number", "rep_number", "rep_number_in_session")
    assert rest_reps == [{**m["rep"], **{k: m[k] for k in positions}} for m in reps]
    rest_sets = api.get(f"/api/v1/sessions/{sid}/sets").json()
    assert [{k: v for k, v in s.items() if k != "closed"} for s in rest_sets] == [
        {k: v for k, v in m["set"].items() if k != "reps"} for m in sets
    ]
    assert all(s["closed"] for s in rest_sets)

    # export.json is exactly `hipflex analyze --json` on the raw log, and the reps are those of the
    # simulated samples analysed directly (the raw log is lossless).
    doc = api.get(f"/api/v1/sessions/{sid}/export.json").json()
    assert doc["source"] == final["raw_log"] == f"{sid}.csv"  # a name in the capture folder, no server path
    raw_log = live_server.settings.capture_dir / final["raw_log"]
    assert doc == {**cli_json(capsys, str(raw_log)), "source": final["raw_log"]}
    direct = analyze(simulate_drill("ballistic", fs_hz=100.0, has_gyro=True, seed=3, n_sets=2).samples)
    assert doc["sets"] == [s.to_dict() for s in direct.sets]
    assert flat_reps(doc) == [m["rep"] for m in reps]

    # export.csv has the same numbers; its set and rep numbers count from 1, as people count.
    text = api.get(f"/api/v1/sessions/{sid}/export.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(rest_reps)
    assert "index" not in rows[0] and "set_index" not in rows[0]
    for row, rep in zip(rows, rest_reps, strict=True):
        numbers = {"set_number": rep["set_index"] + 1, "rep_number": rep["index"] + 1,
                   "rep_number_in_session": rep["number"] + 1}  # fmt: skip
        assert {k: int(row[k]) for k in numbers} == numbers
        for key in CONTRACT[1:]:
            want = rep[key]
            assert (row[key] == "") if want is None else float(row[key]) == pytest.approx(want, abs=0)
    assert [int(r["rep_number_in_session"]) for r in rows] == list(range(1, len(rows) + 1))
    assert int(rows[0]["set_number"]) == 1 and int(rows[0]["rep_number"]) == 1

    # A client joining after the end gets the reps, the sets and the final status, then a clean close.
    late, code = ws_messages(f"{live_server.ws_url}/api/v1/sessions/{sid}/ws")
    assert code == 1000
    assert [m["rep"] for m in late if m["type"] == "rep"] == [m["rep"] for m in reps]
    assert late[-1]["state"] == "stopped"
    resumed = sse_messages(api, f"/api/v1/sessions/{sid}/events", after_seq=late[2]["seq"])
    assert resumed == late[3:]


@pytest.mark.slow
def test_replay_session_equals_analyze_of_the_file(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = simulate_drill("march", fs_hz=50.0, has_gyro=False, seed=11, n_sets=1)
    path = live_server.settings.capture_dir / "march.csv"  # replay reads only the capture folder
    write_csv(path, sim.samples)
    r = live_server.client.post("/api/v1/sessions", json={"source": "replay", "capture_path": "march.csv", "speed": 40})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    msgs, _ = ws_messages(f"{live_server.ws_url}/api/v1/sessions/{sid}/ws")
    final = live_server.wait_ended(sid)
    doc = live_server.client.get(f"/api/v1/sessions/{sid}/export.json").json()
    from_file = cli_json(capsys, str(path))
    assert {**doc, "source": ""} == {**from_file, "source": ""}
    assert doc["sensor"]["gyro"] is False and final["rep_count"] == from_file["rep_count"] > 5
    assert [m["rep"] for m in msgs if m["type"] == "rep"] == flat_reps(from_file)
    # The raw log holds exactly the file's samples.
    logged, original = load_samples(live_server.settings.capture_dir / final["raw_log"]), load_samples(path)
    assert (logged.time_s == original.time_s).all() and (logged.acc_g == original.acc_g).all()


@pytest.mark.slow
def test_stop_keeps_what_arrived_and_lists_newest_first(live_server: LiveServer) -> None:
    api = live_server.client
    slow = api.post("/api/v1/sessions", json={"source": "simulator", "drill": "hold", "speed": 4}).json()
    fast = api.post("/api/v1/sessions", json={"source": "simulator", "drill": "stride", "speed": 200}).json()
    # Stop once 3 s of samples (100 Hz) reached the slow session, a recording long enough to load (not a fixed sleep).
    wait_until(lambda: api.get(f"/api/v1/sessions/{slow['id']}").json()["sample_count"] >= 300, 30, "3 s of samples")
    running = api.get(f"/api/v1/sessions/{slow['id']}").json()
    assert running["status"] == "running" and running["live_state"] in ("calibrating", "running")
    r = api.post(f"/api/v1/sessions/{slow['id']}/stop")
    assert r.status_code == 200
    stopped = r.json()
    assert stopped["status"] == "stopped" and stopped["live_state"] is None
    assert 0 < stopped["sample_count"] < 10_000
    doc = api.get(f"/api/v1/sessions/{slow['id']}/export.json").json()
    assert doc["duration_s"] == pytest.approx(stopped["last_sample_s"] - stopped["first_sample_s"], abs=1e-3)
    assert len(load_samples(live_server.settings.capture_dir / stopped["raw_log"])) == stopped["sample_count"]
    # Stopping again is harmless.
    assert api.post(f"/api/v1/sessions/{slow['id']}/stop").json()["status"] == "stopped"
    live_server.wait_ended(fast["id"])

    page = api.get("/api/v1/sessions", params={"limit": 1}).json()
    assert page["total"] == 2 and page["limit"] == 1 and [s["id"] for s in page["items"]] == [fast["id"]]
    page2 = api.get("/api/v1/sessions", params={"limit": 1, "offset": 1}).json()
    assert [s["id"] for s in page2["items"]] == [slow["id"]]
    assert api.get("/api/v1/sessions", params={"status": "running"}).json()["total"] == 0


@pytest.mark.slow
def test_device_session_through_the_backend(live_server: LiveServer) -> None:
    api = live_server.client
    address = "A0:9E:1A:00:00:01"
    assert api.get(f"/api/v1/devices/{address}").status_code == 404
    r = api.post("/api/v1/sessions", json={"source": "device", "device_address": address})
    assert r.status_code == 422 and "connect" in r.json()["detail"]
    found = api.post("/api/v1/devices/scan", params={"timeout_s": 0.5}).json()["items"]
    assert {d["address"] for d in found} == set(live_server.devices.radio)
    assert api.post(f"/api/v1/devices/{address}/connect").json()["connected"] is True
    status = api.get(f"/api/v1/devices/{address}").json()
    assert status["battery_pct"] == 87 and status["kind"] == "polar" and status["last_seen"]
    sid = api.post("/api/v1/sessions", json={"source": "device", "device_address": address}).json()["id"]
    final = live_server.wait_ended(sid)
    assert final["device_address"] == address and final["rep_count"] > 3
    assert api.post(f"/api/v1/devices/{address}/disconnect").json()["connected"] is False
    listed = api.get("/api/v1/devices").json()["items"]
    assert {d["address"] for d in listed} == set(live_server.devices.radio)


@pytest.mark.slow
def test_closing_an_sse_client_early_stops_the_writes(service_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A client that goes away mid-stream is detached; asyncio never logs writes to the closed socket."""
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    app = create_app(service_settings, devices=FakeDevices())
    caplog.set_level(logging.WARNING, logger="asyncio")
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as api:
        r = api.post("/api/v1/sessions", json={"source": "simulator", **SIM, "speed": 20})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        hub = app.state.hipflex.manager.live(sid).hub
        for _ in range(5):
            with api.stream("GET", f"/api/v1/sessions/{sid}/events") as resp:
                assert resp.status_code == 200
                lines = itertools.islice(resp.iter_lines(), 40)  # a few messages, then hang up
                assert sum(line.startswith("data:") for line in lines) >= 10
        deadline = time.monotonic() + 10
        while hub.subscriber_count:  # the server notices the hang-ups and detaches the clients
            assert time.monotonic() < deadline, f"{hub.subscriber_count} closed SSE clients still attached"
            time.sleep(0.05)
        time.sleep(0.5)  # more live messages go out while no one listens
        assert api.post(f"/api/v1/sessions/{sid}/stop").json()["status"] == "stopped"
    sends = [r.getMessage() for r in caplog.records if "socket.send() raised exception" in r.getMessage()]
    assert sends == []


def test_a_session_readies_its_mode_at_connect_while_the_api_answers(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server compiles nothing up front: a session's source, once open, readies its mode's analysis.

    Meanwhile (a fresh install's compile, held here) the API answers and says the analysis is being
    prepared, and the session's chunks wait; then they are analysed.
    """
    import contextlib
    import threading

    from hipflex.service import first_run, live_analysis

    release = threading.Event()
    modes: list[bool | None] = []

    def compiling(gyro: bool | None = None) -> None:
        modes.append(gyro)
        release.wait(60)

    monkeypatch.setattr(live_analysis, "_warm_up_now", compiling)
    monkeypatch.setattr(live_analysis, "_ready", set(), raising=False)  # as in a fresh process
    # Without compiling ahead under the notice (tests/service/test_first_run.py): straight to the warm-up.
    monkeypatch.setattr(first_run, "preparing", lambda *args, **kwargs: contextlib.nullcontext())
    api = live_server.client
    try:
        assert api.get("/api/v1/health").json()["analysis"] == "ready"  # nothing compiling before a session
        sim = {**SIM, "has_gyro": False, "speed": 50}
        r = api.post("/api/v1/sessions", json={"source": "simulator", **sim})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        wait_until(lambda: modes, 10, "the session's warm-up")
        assert modes == [False]  # the simulated sensor's mode only
        health = api.get("/api/v1/health")
        assert health.status_code == 200 and health.json()["analysis"] == "preparing"
        time.sleep(0.5)  # chunks arrive meanwhile, and wait
        assert api.get(f"/api/v1/sessions/{sid}").json()["sample_count"] == 0
    finally:
        release.set()
    wait_until(lambda: api.get(f"/api/v1/sessions/{sid}").json()["sample_count"] > 0, 60, "the first chunks analysed")
    assert api.get("/api/v1/health").json()["analysis"] == "ready"
    assert live_server.wait_ended(sid, 120)["status"] == "stopped"

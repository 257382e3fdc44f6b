"""Crash recovery: a server killed mid-session recovers the session from its raw log on restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.sensor.formats import load_samples
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.rawlog import SampleLog, repair_log
from hipflex.service.recovery import recover_sessions
from hipflex.service.server import bind_socket
from hipflex.service.store import Store

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def start_server(db: Path, port: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "hipflex", "serve", "--port", str(port), "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


def rep_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["set_index"], r["number"], r["index"], r["start_s"], r["peak_s"], r["end_s"], r["peak_flexion_deg"],
            r["peak_flexion_velocity_dps"], r["hold_s"])  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_session_then_restart_recovers_it(tmp_path: Path) -> None:
    db, port = tmp_path / "hipflex.db", free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db, port)
    try:
        body = {"source": "simulator", "drill": "ballistic", "seed": 9, "n_sets": 3, "speed": 6}
        r = httpx.post(f"{url}/api/v1/sessions", json=body, timeout=30)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        deadline = time.monotonic() + 60
        while (before := httpx.get(f"{url}/api/v1/sessions/{sid}").json())["rep_count"] < 5:
            assert before["status"] == "running" and time.monotonic() < deadline
            time.sleep(0.1)
        reps_before = httpx.get(f"{url}/api/v1/sessions/{sid}/reps").json()
    finally:
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    raw_log = tmp_path / "captures" / Path(before["raw_log"]).name
    logged = load_samples(raw_log, "csv")
    total = len(simulate_drill("ballistic", fs_hz=100.0, seed=9, n_sets=3).samples)
    assert before["sample_count"] <= len(logged) < total  # killed mid-session, nothing analysed was lost

    proc = start_server(db, port)
    try:
        s = httpx.get(f"{url}/api/v1/sessions/{sid}").json()
        assert s["status"] == "recovered" and s["live_state"] is None
        assert s["sample_count"] == len(logged) and s["ended_at"]
        reps_after = httpx.get(f"{url}/api/v1/sessions/{sid}/reps").json()
        assert s["rep_count"] == len(reps_after) >= len(reps_before)
        # Every rep seen live before the kill is there, unchanged.
        assert [rep_key(r) for r in reps_after[: len(reps_before)]] == [rep_key(r) for r in reps_before]
        # And the stored analysis is `hipflex analyze` of the raw log.
        doc = httpx.get(f"{url}/api/v1/sessions/{sid}/export.json").json()
        assert doc == json.loads(json.dumps(analyze(logged, Settings(), source=raw_log.name).to_dict()))
        listed = httpx.get(f"{url}/api/v1/sessions", params={"status": "recovered"}).json()
        assert [x["id"] for x in listed["items"]] == [sid]
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err


@pytest.mark.slow
def test_recover_sessions_repairs_a_torn_log(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    rec = store.create_session(source="simulator", params={}, settings=Settings().to_dict(), version="0",
                               raw_log_dir=tmp_path)  # fmt: skip
    samples = simulate_drill("hold", fs_hz=50.0, seed=2, n_sets=1).samples
    with SampleLog(Path(rec.raw_log), True) as log:
        log.append(samples.slice(0, 1200))
    with open(rec.raw_log, "a") as fh:
        fh.write("40.0123,0.98,0.0")  # a line cut short by the crash
    empty = store.create_session(source="replay", params={}, settings=Settings().to_dict(), version="0",
                                 raw_log_dir=tmp_path / "none")  # fmt: skip
    assert recover_sessions(store) == [rec.id, empty.id]
    got = store.get_session(rec.id)
    assert got is not None and got.status == "recovered" and got.sample_count == 1200
    assert got.analysis == analyze(samples.slice(0, 1200), source=Path(rec.raw_log).name).to_dict()
    assert got.rep_count == got.analysis["rep_count"] > 0
    gone = store.get_session(empty.id)
    assert gone is not None and gone.status == "recovered" and "before any sample" in (gone.error or "")
    assert recover_sessions(store) == []
    assert repair_log(Path(rec.raw_log)) == 0


@pytest.mark.parametrize("tail", [b"", b"1.5,0.1", b"\n"])
def test_repair_log_keeps_whole_lines(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"time_s,acc_x_g,acc_y_g,acc_z_g\n1.0,0,0,1\n" + tail)
    removed = repair_log(path)
    assert path.read_bytes().endswith(b"\n")
    assert removed == (len(tail) if tail and not tail.endswith(b"\n") else 0)

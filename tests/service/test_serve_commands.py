"""``hipflex serve`` and ``hipflex demo`` as real processes; ``hipflex analyze`` stays free of the web stack."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_analyze_does_not_import_the_web_stack(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    write_csv(path, simulate_drill("ballistic", fs_hz=50.0, seed=1, n_sets=1).samples)
    code = (
        "import sys; from hipflex.service.cli import main; "
        f"status = main(['analyze', '--json', {str(path)!r}]); "
        "heavy = sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic', 'matplotlib') if m in sys.modules); "
        "print(status, heavy, file=sys.stderr)"
    )
    r = run("-c", code)
    assert r.stderr.strip().splitlines()[-1] == "0 []", r.stderr


@pytest.mark.slow
def test_serve_and_demo_are_registered() -> None:
    for command in ("serve", "demo"):
        r = run("-m", "hipflex", command, "--help")
        assert r.returncode == 0 and "--port" in r.stdout and "--db" in r.stdout
    assert "--host" in run("-m", "hipflex", "serve", "--help").stdout
    assert main(["demo", "--speed", "0"]) == 2


@pytest.mark.slow
def test_demo_streams_a_recording_through_the_live_path(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    r = run("-m", "hipflex", "demo", "--once", "--speed", "200", "--port", "0", "--db", str(db), "--drill", "march",
            "--log-level", "info")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "hipflex.service.live_analysis: analysis ready in " in r.stderr  # warmed up before the first session
    lines = r.stdout.splitlines()
    assert lines[0].startswith("hipflex demo: dashboard at http://127.0.0.1:")
    assert "stopped" in lines[-1] and " reps in " in lines[-1]
    assert int(lines[-1].split(", ")[1].split()[0]) > 10
    assert db.exists() and (tmp_path / "captures" / "demo-march.csv").exists()


def _first_line_then_connect(args: list[str], prefix: str) -> tuple[str, int]:
    """Start the console script, wait for the line with the URL, then connect at once (no retry).

    Returns the URL and the status of ``GET /api/v1/health`` sent right after the line appeared.
    """
    import signal
    import urllib.request

    script = shutil.which("hipflex", path=str(Path(sys.executable).parent))
    assert script is not None, "the hipflex console script is not installed beside this Python"
    proc = subprocess.Popen([script, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(prefix), (line, proc.stderr.read() if proc.poll() is not None else "")
        url = next(word for word in line.split() if word.startswith("http://"))
        with urllib.request.urlopen(url + "api/v1/health", timeout=30) as resp:
            return url, resp.status
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_serve_compiles_nothing_before_it_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers at once; each live session readies its own mode at connect (tests/service/test_live.py)."""
    from hipflex.service import live_analysis
    from hipflex.service.server import Server

    warm_ups: list[dict[str, object]] = []
    seen_by_the_server: list[list[dict[str, object]]] = []
    monkeypatch.setattr(live_analysis, "warm_up", lambda **options: warm_ups.append(options))
    monkeypatch.setattr(Server, "run", lambda self, sockets=None: seen_by_the_server.append(list(warm_ups)))
    assert main(["serve", "--port", "0", "--db", str(tmp_path / "x.db")]) == 1  # this server never started
    assert seen_by_the_server == [[]]
    assert warm_ups == []


def test_demo_prepares_only_its_recordings_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import Future

    from hipflex.sensor.formats import load_samples
    from hipflex.service import live_analysis, server
    from hipflex.service.commands.demo import make_recording

    warm_ups: list[dict[str, object]] = []

    def warm_up(**options: object) -> Future[None]:
        warm_ups.append(options)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    class Interrupted:  # Ctrl-C as the server starts
        url = "http://127.0.0.1:1"

        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def start(self) -> None:
            raise KeyboardInterrupt

        def stop(self) -> None:
            pass

    monkeypatch.setattr(live_analysis, "warm_up", warm_up)
    monkeypatch.setattr(server, "ServerThread", Interrupted)
    assert main(["demo", "--port", "0", "--db", str(tmp_path / "d.db")]) == 0
    has_gyro = load_samples(make_recording(tmp_path, "march")).has_gyro
    assert [options.get("gyro", "both modes") for options in warm_ups] == [has_gyro]


# Lists the cache index files and first-run markers after demo's warm-up in a fresh numba cache.
_DEMO_PROBE = """
import json, sys
from pathlib import Path
from hipflex.service.commands.demo import prepare_analysis

prepare_analysis().result()
print(json.dumps(sorted(p.name for p in Path(sys.argv[1]).rglob("*") if p.suffix == ".nbi" or "prepared" in p.name)))
"""


@pytest.mark.slow
def test_demo_compiles_only_its_recordings_mode(tmp_path: Path) -> None:
    # Both modes were +3 s of compile CPU on a fresh install (benchmarks/README.md, "firstrun25").
    import os

    from hipflex.dsp._precompile import ONLY
    from hipflex.sensor.formats import load_samples
    from hipflex.service.commands.demo import DEMO_HAS_GYRO, make_recording

    assert load_samples(make_recording(tmp_path, "march")).has_gyro == DEMO_HAS_GYRO  # the mode it prepares
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-c", _DEMO_PROBE, str(cache)], cwd=REPO, capture_output=True, text=True,
                       env=env, timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = json.loads(r.stdout.strip().splitlines()[-1])
    mode = "gyro" if DEMO_HAS_GYRO else "acc"
    assert any(name.startswith(f"_kern_run._run_chunk_{mode}-") for name in names)
    # The other mode's kernels (the main loop, the gap block, the per-sample filter, the axis watch ...).
    other = tuple(f"{name.removesuffix('_called')}-" for name, gyro in ONLY.items() if gyro != DEMO_HAS_GYRO)
    assert [name for name in names if name.startswith(other)] == []
    markers = [name for name in names if name.startswith("hipflex-prepared-")]
    assert [name.rsplit("-", 1)[0] for name in markers] == [f"hipflex-prepared-live-{mode}"]


@pytest.mark.slow
def test_serve_prints_its_url_once_it_is_listening(tmp_path: Path) -> None:
    url, status = _first_line_then_connect(
        ["serve", "--port", "0", "--db", str(tmp_path / "x.db")], "hipflex serving on http://127.0.0.1:"
    )
    assert status == 200 and url.endswith("/")


@pytest.mark.slow
def test_demo_prints_its_url_once_it_is_listening(tmp_path: Path) -> None:
    url, status = _first_line_then_connect(
        ["demo", "--port", "0", "--db", str(tmp_path / "x.db"), "--speed", "50"], "hipflex demo: dashboard at http://"
    )
    assert status == 200 and url.endswith("/")


@pytest.mark.slow
def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    from hipflex.service.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    sock.listen()
    try:
        port = str(sock.getsockname()[1])
        r = run("-m", "hipflex", "serve", "--port", port, "--db", str(tmp_path / "x.db"))
        assert r.returncode == 2 and "cannot listen" in r.stderr
    finally:
        sock.close()


@pytest.mark.slow
def test_serve_takes_emulated_sensors_from_the_environment(tmp_path: Path) -> None:
    import json
    import os
    import signal
    import urllib.request

    env = {**os.environ, "HIPFLEX_BLE_BACKEND": "fake:h10"}
    args = [sys.executable, "-m", "hipflex", "serve", "--port", "0", "--db", str(tmp_path / "x.db")]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("hipflex serving on http://127.0.0.1:"), first
        url = first.split()[3]  # printed once uvicorn listens: no retry needed
        with urllib.request.urlopen(url + "api/v1/devices/scan?timeout_s=0.2", data=b"", timeout=30) as resp:
            (item,) = json.loads(resp.read())["items"]
        assert item["name"] == "Polar H10 0A1B2C3D" and item["kind"] == "polar"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_serve_refuses_a_malformed_ble_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HIPFLEX_BLE_BACKEND", "radio:h10")
    assert main(["serve", "--port", "0", "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "hipflex serve: error: HIPFLEX_BLE_BACKEND: tier must be 'fake' or 'bumble', got 'radio'"

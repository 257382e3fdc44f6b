"""``hipflex scan`` and ``hipflex record`` against emulated sensors (``HIPFLEX_BLE_BACKEND``).

Emulated time runs 50 times faster than real time, for the sensors and the recorder's
clock alike, so a 20-second recording takes under a second.  Ctrl-C is tested on a
real process with a real SIGINT.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from hipflex.dsp.pipeline import analyze
from hipflex.sensor.capture.log import read_capture
from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.emulate.world import ENV_VAR, parse_world
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.cli import main
from hipflex.service.commands.record import LiveDisplay


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def use(spec: str) -> None:
        monkeypatch.setenv(ENV_VAR, spec)

    return use


@pytest.mark.slow
def test_scan_lists_the_emulated_sensors(world: Callable[[str], None], capsys: pytest.CaptureFixture[str]) -> None:
    world("fake:all")
    assert main(["scan", "--timeout", "0.2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "ADDRESS", "KIND", "MODEL", "RSSI", "BATTERY"]
    assert len(out) == 4 and any("Verity Sense" in line and "87 %" in line for line in out)
    assert main(["scan", "--timeout", "0.2", "--json", "--no-battery"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {"polar", "metawear"}
    assert all(r["battery_pct"] is None and r["battery_note"] is None for r in rows)  # not read, so no reason


@pytest.mark.slow
def test_scan_says_why_a_busy_sensor_has_no_battery(
    world: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    world("fake:busy")  # the H10 is connected elsewhere: it advertises, but refuses the battery read
    assert main(["scan", "--timeout", "0.2"]) == 0
    head, row = capsys.readouterr().out.splitlines()
    assert row.startswith("Polar H10 0A1B2C3D") and row.split("dBm")[1].strip() == "busy (connected elsewhere)"
    assert row.index("busy") == head.index("BATTERY")
    assert main(["scan", "--timeout", "0.2", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["battery_pct"] is None and item["battery_note"] == "busy (connected elsewhere)"


def test_scan_with_nothing_in_range(world: Callable[[str], None], capsys: pytest.CaptureFixture[str]) -> None:
    world("fake:empty")
    assert main(["scan", "--timeout", "0.1"]) == 0
    assert "no supported sensor found within 0.1 s" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "args", "message"),
    [
        ("fake:no-adapter", [], "no Bluetooth adapter available (BlueZ/D-Bus not running"),
        ("fake:denied", [], "Bluetooth permission denied"),
        ("fake:empty", [], "no supported sensor matching 'h10' found within 0.2 s"),
        ("fake:busy", [], "the sensor or the adapter is busy; close other apps"),
        ("fake:h10", ["--rate", "333"], "cannot stream at 333 Hz, +/-8 g; rates: 25, 50, 100, 200 Hz"),
        ("nope:h10", [], "HIPFLEX_BLE_BACKEND: tier must be 'fake' or 'bumble'"),
    ],
)
def test_record_errors_are_one_line_and_exit_2(
    world: Callable[[str], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    args: list[str],
    message: str,
) -> None:
    world(spec)
    out = tmp_path / "s.jsonl"
    code = main(["record", "h10", "--out", str(out), "--scan-timeout", "0.2", "--duration", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("hipflex record: ") and message in err[-1]


def test_scan_errors_exit_2(world: Callable[[str], None], capsys: pytest.CaptureFixture[str]) -> None:
    world("fake:denied")
    assert main(["scan", "--timeout", "0.1"]) == 2
    assert capsys.readouterr().err.startswith("hipflex scan: cannot scan for sensors: Bluetooth permission denied")


def test_existing_capture_is_not_overwritten(
    world: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world("fake:h10")
    out = tmp_path / "s.jsonl"
    out.write_text("precious\n")
    assert main(["record", "h10", "--out", str(out), "--duration", "1"]) == 2
    assert "already exists; choose another file or add --overwrite" in capsys.readouterr().err
    assert out.read_text() == "precious\n"


@pytest.mark.slow
def test_record_counts_reps_live_and_matches_analyze(
    world: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world("fake:h10,speed=50")
    out = tmp_path / "s.jsonl"
    assert main(["record", "Polar H10", "--out", str(out), "--duration", "40", "--rate", "100", "--json"]) == 0
    captured = capsys.readouterr()
    live = captured.out
    assert "streaming from Polar H10 0A1B2C3D (ATT MTU 247)" in captured.err
    reps = [line for line in captured.err.splitlines() if line.startswith("rep ")]
    assert len(reps) >= 10 and reps[0].startswith("rep 1: peak ")
    assert f"recorded {out}: " in captured.err and "analyse again with: hipflex analyze" in captured.err
    result = json.loads(live)
    assert result["rep_count"] == len(reps) and result["sample_rate_hz"] == 100.0
    # The capture replays to the live analysis, byte for byte.
    assert main(["analyze", "--json", str(out)]) == 0
    assert capsys.readouterr().out == live
    capture = read_capture(out)
    assert capture.header.device.model == "H10" and not capture.truncated_tail


@pytest.mark.slow
def test_record_reconnects_through_drops(
    world: Callable[[str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The sensor drops the link every 20 s of its uptime; a 0.5 s backoff is 10 emulated seconds.  Where
    # the drops fall against the 70 s of recording depends on how long the scan and the analysis's
    # preparation took (the emulated clock runs 20x wall time), and a drop in the last ~10 s is still
    # reconnecting when the recording ends: so at least two drops and every one but the last reconnected.
    world("fake:h10-drops,speed=20")
    out = tmp_path / "s.jsonl"
    assert main(["record", "h10", "--out", str(out), "--duration", "70", "--json"]) == 0
    err = capsys.readouterr().err
    lost, back = err.count("link lost; reconnecting"), err.count("reconnected to Polar H10")
    assert back >= 2 and lost - 1 <= back <= lost, err
    assert "(reconnect)" in err and "(loss)" in err
    assert f"{back} reconnects;" in err
    events = [e.event for e in read_capture(out).events]
    assert (events.count("disconnected"), events.count("reconnected")) == (lost, back)


@pytest.mark.slow
def test_record_prepares_the_analysis_before_it_streams(
    world: Callable[[str], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hipflex.service import live_analysis
    from hipflex.service.live_analysis import LiveAnalysis

    world("fake:h10,speed=50")
    events: list[str] = []
    modes: list[bool | None] = []
    first_chunk = threading.Event()

    def slow_warm_up(
        *, background: bool = False, announce: str | None = None, gyro: bool | None = None
    ) -> Future[None]:
        assert background  # the display goes on meanwhile
        modes.append(gyro)
        done: Future[None] = Future()

        def run() -> None:
            events.append("warm-up started")
            first_chunk.wait(2.0)  # a recorder that streamed before the analysis is ready would feed a chunk now
            events.append("warm-up done")
            done.set_result(None)

        threading.Thread(target=run, daemon=True).start()
        return done

    feed_sync = LiveAnalysis.feed_sync

    def feed(self: LiveAnalysis, samples: Any) -> Any:
        if not first_chunk.is_set():
            events.append("first chunk analysed")
            first_chunk.set()
        return feed_sync(self, samples)

    monkeypatch.setattr(live_analysis, "warm_up", slow_warm_up)
    monkeypatch.setattr(LiveAnalysis, "feed_sync", feed)
    assert main(["record", "h10", "--out", str(tmp_path / "s.jsonl"), "--duration", "5"]) == 0
    assert events == ["warm-up started", "warm-up done", "first chunk analysed"]
    # The connected H10's mode only (no gyro), not both: ~3 s less to compile on a fresh install.
    assert modes == [False]
    err = capsys.readouterr().err
    assert err.index("found Polar H10") < err.index("preparing analysis...") < err.index("streaming from")


@pytest.mark.parametrize(
    ("scenario", "options", "gyro"),
    [("verity", (), True), ("verity", ("--no-gyro",), False), ("metamotion", (), True)],
)
def test_record_prepares_the_mode_the_connected_sensor_streams(
    world: Callable[[str], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str,
    options: tuple[str, ...],
    gyro: bool,
) -> None:
    """What the connected client streams decides the mode, not the model: a Verity Sense told --no-gyro has none."""
    from hipflex.service import live_analysis

    world(f"fake:{scenario},speed=50")
    modes: list[bool | None] = []

    def warm_up(*, background: bool = False, announce: str | None = None, gyro: bool | None = None) -> Future[None]:
        modes.append(gyro)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    monkeypatch.setattr(live_analysis, "warm_up", warm_up)
    out = tmp_path / "s.jsonl"
    device = {"verity": "Polar Sense", "metamotion": "MetaWear"}[scenario]
    assert main(["record", device, "--out", str(out), "--duration", "2", *options]) == 0
    assert modes == [gyro]
    assert decode_capture(read_capture(out)).samples.has_gyro == gyro  # what the stream delivered


def test_parse_world() -> None:
    spec = parse_world("bumble:all,speed=5,seed=3")
    assert (spec.tier, spec.scenario, spec.speed, spec.seed) == ("bumble", "all", 5.0, 3)
    with pytest.raises(ValueError, match="unknown scenario 'h11'"):
        parse_world("fake:h11")
    with pytest.raises(ValueError, match="bad option"):
        parse_world("fake:h10,speed=-1")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_closes_the_log(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    env = {**os.environ, ENV_VAR: "fake:h10,speed=20"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hipflex", "record", "h10", "--out", str(out), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # wait until it streams, then for the first rep
        if line.startswith("rep 1:") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "recorded " in stderr
    result = json.loads(stdout)
    assert result["rep_count"] >= 1
    capture = read_capture(out)
    assert not capture.truncated_tail and capture.skipped_lines == 0
    assert [e.event for e in capture.events][-1] == "stream_stopped"


def _seconds_on_disk(path: Path) -> float:
    """Seconds of samples a capture being written holds so far (its last line may be cut)."""
    try:
        t = decode_capture(path).samples.time_s
    except (OSError, InputError):  # not created yet, or only the header so far
        return 0.0
    return float(t[-1] - t[0]) if len(t) > 1 else 0.0


@pytest.mark.slow
def test_a_killed_recording_keeps_everything_but_the_last_second(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    env = {**os.environ, ENV_VAR: "fake:h10,speed=20"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hipflex", "record", "h10", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    reps = 0
    for line in proc.stderr:
        reps += line.startswith("rep ")
        if reps == 3:
            break
    # Kill once the reps seen live are on disk (the writer flushes about once a second).
    deadline = time.monotonic() + 60
    while _seconds_on_disk(out) <= 8.0:
        assert time.monotonic() < deadline, "the capture writer did not flush the reps seen live"
        time.sleep(0.05)
    proc.kill()  # no clean-up at all: a crash
    proc.communicate(timeout=30)
    capture = read_capture(out)
    assert capture.skipped_lines == 0  # at most a cut last line, skipped with a logged reason
    decoded = decode_capture(out)
    assert decoded.samples.time_s[-1] - decoded.samples.time_s[0] > 8.0  # the reps seen live are on disk
    assert analyze(decoded.samples).rep_count >= 3


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so ``hipflex record`` redraws its status line."""

    def isatty(self) -> bool:
        return True


@pytest.mark.slow
def test_record_on_a_terminal_redraws_a_live_rep_count(
    world: Callable[[str], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world("fake:h10,speed=10")  # record prepares the analysis itself before it streams
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "s.jsonl"
    assert main(["record", "h10", "--out", str(out), "--duration", "40", "--rate", "100", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    text = terminal.getvalue()
    assert "\nrep " not in text  # no line per rep: the count is on the status line
    frames = [f.rstrip("\n") for f in text.split("\r\x1b[K") if f.startswith(("recording ", "stopping "))]
    counts = [(f.split()[0], int(f.split("  reps ")[1].split()[0])) for f in frames]
    assert counts == sorted(counts, key=lambda c: (c[0] == "stopping", c[1]))  # the count only grows
    assert any(state == "recording" and reps > 0 for state, reps in counts)  # live, not only at the end
    assert counts[-1] == ("stopping", result["rep_count"]) and result["rep_count"] >= 5
    assert text.endswith("\n") and "recorded " in text.splitlines()[-1]


_CONSOLE_ERRORS = [
    ("scan", "fake:no-adapter", "hipflex scan: cannot scan for sensors: no Bluetooth adapter available"),
    ("scan", "fake:denied", "hipflex scan: cannot scan for sensors: Bluetooth permission denied"),
    ("record", "fake:no-adapter", "hipflex record: cannot scan for sensors: no Bluetooth adapter available"),
    ("record", "fake:denied", "hipflex record: cannot scan for sensors: Bluetooth permission denied"),
    ("record", "fake:empty", "hipflex record: no supported sensor matching 'h10' found within 0.5 s"),
    ("record", "fake:busy", "hipflex record: cannot connect to Polar H10 0A1B2C3D: the sensor or the adapter is busy"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "spec", "message"), _CONSOLE_ERRORS)
def test_console_script_says_what_is_wrong_in_one_line(tmp_path: Path, command: str, spec: str, message: str) -> None:
    script = shutil.which("hipflex", path=str(Path(sys.executable).parent))
    assert script is not None, "the hipflex console script is not installed beside this Python"
    out = tmp_path / "s.jsonl"
    args = ["--timeout", "0.5"] if command == "scan" else ["h10", "--out", str(out), "--scan-timeout", "0.5"]
    r = subprocess.run(
        [script, command, *args], env={**os.environ, ENV_VAR: spec}, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("hipflex")]
    assert len(errors) == 1 and errors[0].startswith(message), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists()  # a sensor that could not be used leaves no empty capture behind


@pytest.mark.parametrize("tty", [False, True])
def test_reps_completed_only_by_the_end_of_the_stream_are_counted_too(tty: bool) -> None:
    result = analyze(simulate_drill("ballistic", fs_hz=100.0, has_gyro=False, seed=1, n_sets=2).samples)
    reps = [r for s in result.sets for r in s.reps]
    n = len(reps)
    assert n >= 10 and len(result.sets) == 2
    out = io.StringIO()
    display = LiveDisplay(out, tty)
    display.reps, display.sets = n - 2, 2  # the last two were completed by finish(), after the stream
    display.finish(result)
    assert display.reps == n == result.rep_count
    if tty:
        assert out.getvalue().endswith(f"  reps {n}  sets 2  last {reps[-1].peak_flexion_deg:.0f} deg\n")
    else:
        assert out.getvalue().splitlines() == [
            f"rep {n - 1}: peak {reps[-2].peak_flexion_deg:.1f} deg at {reps[-2].peak_s:.2f} s",
            f"rep {n}: peak {reps[-1].peak_flexion_deg:.1f} deg at {reps[-1].peak_s:.2f} s",
        ]

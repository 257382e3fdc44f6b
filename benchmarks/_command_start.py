"""How long ``hipflex serve``, ``demo`` and ``record`` take to reach their work, as a user sees it.

Used by ``cold_start.py``.  Each measurement is a fresh ``python -m hipflex ...`` process, timed
from spawn to the moment its work starts, then stopped with SIGINT:

- ``serve``: the first successful ``GET /api/v1/health`` (polled from the line with the URL), then
  a simulated session (no gyro) posted at once, until its first chunk is analysed (the session's
  ``sample_count`` above 0; the first chunks need no compiled kernel, rows are buffered until the
  rest pose is known) and until its first rep is counted (``rep_count``, about 1 s of wall time
  into the session at its speed); the slowest ``/health`` answer meanwhile is kept (the API must
  answer while the analysis compiles).
- ``demo --once``: the line announcing its first session (posted once the analysis is ready).
- ``record`` on an emulated sensor (``HIPFLEX_BLE_BACKEND=fake:...``): the line "streaming from".
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CommandTimes", "time_demo", "time_record", "time_serve"]

#: Longest wait for any one event, seconds (a loaded machine's first run took 75 s).
TIMEOUT_S = 400.0


@dataclass
class CommandTimes:
    """Seconds from spawn to each event, the process's CPU seconds (user + system) until it was stopped."""

    events: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    health_max_s: float = 0.0


class _Lines:
    """Reads a process's stdout and stderr in threads; waits for a line containing a text."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, text: str, timeout_s: float = TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no line with {text!r} after {timeout_s} s: {''.join(self.lines)[-800:]}")
                self.cond.wait(left)


def _run(cmd: list[str], env: dict[str, str], body: Callable[[_Lines, float, CommandTimes], None]) -> CommandTimes:
    out = CommandTimes()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        body(_Lines(proc), t0, out)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.cpu_s = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return out


def _get(url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
        return doc


def time_serve(py: str, env: dict[str, str], folder: Path, has_gyro: bool) -> CommandTimes:
    """``hipflex serve``: first ``/health``, then a simulated session's first analysed chunk."""
    cmd = [py, "-m", "hipflex", "serve", "--port", "0", "--db", str(folder / "serve.db")]

    def body(lines: _Lines, t0: float, out: CommandTimes) -> None:
        url = next(w for w in lines.wait_for("hipflex serving on ").split() if w.startswith("http://"))
        while True:
            try:
                _get(url + "api/v1/health", timeout_s=5.0)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.01)
        out.events["health"] = time.perf_counter() - t0
        spec = {"source": "simulator", "drill": "ballistic", "fs_hz": 52.0, "has_gyro": has_gyro, "seed": 1,
                "n_sets": 1, "speed": 5.0}  # fmt: skip
        req = urllib.request.Request(url + "api/v1/sessions", data=json.dumps(spec).encode(), method="POST",
                                     headers={"content-type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            sid = json.loads(resp.read())["id"]
        deadline = time.monotonic() + TIMEOUT_S
        for event, what in (("first chunk", "sample_count"), ("first rep", "rep_count")):
            while _get(f"{url}api/v1/sessions/{sid}")[what] == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the session has no {what}")
                asked = time.perf_counter()
                _get(url + "api/v1/health")
                out.health_max_s = max(out.health_max_s, time.perf_counter() - asked)
                time.sleep(0.05)
            out.events[event] = time.perf_counter() - t0

    return _run(cmd, env, body)


def time_demo(py: str, env: dict[str, str], folder: Path) -> CommandTimes:
    """``hipflex demo --once``: until it posts its first session (it waits for the analysis first)."""
    cmd = [py, "-m", "hipflex", "demo", "--once", "--speed", "50", "--port", "0", "--db", str(folder / "demo.db"),
           "--drill", "march"]  # fmt: skip

    def body(lines: _Lines, t0: float, out: CommandTimes) -> None:
        lines.wait_for("hipflex demo: dashboard at ")
        out.events["url"] = time.perf_counter() - t0
        lines.wait_for(": march at ")
        out.events["first session"] = time.perf_counter() - t0

    return _run(cmd, env, body)


def time_record(py: str, env: dict[str, str], folder: Path, scenario: str, device: str) -> CommandTimes:
    """``hipflex record`` on an emulated sensor: until it streams (it waits for the analysis first)."""
    out_path = folder / f"record-{scenario}.jsonl"
    cmd = [py, "-m", "hipflex", "record", device, "--out", str(out_path), "--overwrite", "--duration", "60"]

    def body(lines: _Lines, t0: float, out: CommandTimes) -> None:
        lines.wait_for("found ")
        out.events["found"] = time.perf_counter() - t0
        lines.wait_for("streaming from")
        out.events["streaming"] = time.perf_counter() - t0

    return _run(cmd, dict(env, HIPFLEX_BLE_BACKEND=f"fake:{scenario}"), body)

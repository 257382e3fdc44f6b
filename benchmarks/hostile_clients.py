"""Hostile clients against a real ``hipflex serve`` process (issue 15): does the API stay responsive?

Starts ``python -m hipflex serve`` on a free port with a fresh data folder, then at once:

- ``--clients`` concurrent hostile uploads, cycling through three kinds: a header of
  ``--wide-columns`` columns, a recording of short rows of about ``--rows-mb`` MB, and a replay
  request whose path is a FIFO in the capture folder;
- ``--slow`` slow-loris connections that send a header byte every second;
- a probe that sends ``GET /api/v1/sessions`` every 50 ms on its own connection.

Reported: the probe's latency (p50/p95/max, ms) while the attack runs, how the hostile
requests were answered (status counts), the server's peak RSS (MiB, from /proc), then the
time from SIGINT (Ctrl-C) to exit and whether the server's temporary folder is gone.
Unit tests prove each mechanism with a handful of connections; this measures the load.

The attacking threads run at ``--attacker-nice`` (19; Linux gives each thread its own nice
value): fifty Python threads encoding and sending multipart bodies are this script's own
load, and on a 2-core machine they took the CPU from the probe process too (p95 210-640 ms
with 2 MB uploads at nice 0, 40-120 ms at nice 19, the server unchanged). The server and
the probe run at normal priority; ``--attacker-nice 0`` measures the old way.

    python benchmarks/hostile_clients.py --clients 50 --rows-mb 20 --slow 200
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def short_rows(mb: float) -> bytes:
    """A valid recording of about ``mb`` MB of short rows (the reader's worst memory ratio)."""
    n = int(mb * 1024 * 1024 / 14)
    return ("time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(f"{i / 100:.2f},0,0,1\n" for i in range(n))).encode()


def probe_main(url: str) -> int:
    """The probe, in a process of its own (the attackers' threads must not slow its measurement):
    prints one latency in ms per line until its stdin closes."""
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    with httpx.Client(base_url=url, timeout=60.0) as c:
        while not done.is_set():
            t0 = time.perf_counter()
            c.get("/api/v1/sessions")
            print(f"{(time.perf_counter() - t0) * 1e3:.2f}", flush=True)
            time.sleep(0.05)
    return 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        return probe_main(sys.argv[2])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--rows-mb", type=float, default=20.0)
    p.add_argument("--wide-columns", type=int, default=200_000)
    p.add_argument("--slow", type=int, default=100)
    p.add_argument("--kinds", default="wide,rows,fifo", help="which hostile requests to cycle through")
    p.add_argument("--attacker-nice", type=int, default=19, help="nice value of the attacking threads (Linux)")
    args = p.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hipflex-hostile-"))
    db, port = folder / "hipflex.db", free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hipflex", "serve", "--port", str(port), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert proc.stdout is not None
    print(proc.stdout.readline().strip())
    (folder / "captures").mkdir(exist_ok=True)
    fifo = folder / "captures" / "pipe.csv"
    os.mkfifo(fifo)

    wide = ",".join(f"c{i}" for i in range(args.wide_columns)).encode() + b"\n1\n"
    rows = short_rows(args.rows_mb)
    print(f"payloads: wide header {len(wide) / 1e6:.1f} MB, short rows {len(rows) / 1e6:.1f} MB")
    stop, peak = threading.Event(), [rss_mib(proc.pid)]

    def sample_rss() -> None:
        while not stop.is_set():
            peak.append(rss_mib(proc.pid))
            time.sleep(0.05)

    kinds = args.kinds.split(",")

    def hostile(i: int) -> str:
        if args.attacker_nice and sys.platform.startswith("linux"):  # this thread only, on Linux
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), args.attacker_nice)
        kind = kinds[i % len(kinds)]
        try:
            with httpx.Client(base_url=url, timeout=120.0) as c:
                if kind == "wide":
                    r = c.post("/api/v1/analyze", files={"file": ("wide.csv", wide)})
                elif kind == "rows":
                    r = c.post("/api/v1/analyze", files={"file": ("rows.csv", rows)})
                else:
                    r = c.post("/api/v1/sessions", json={"source": "replay", "capture_path": "pipe.csv"})
                return f"{kind} {r.status_code}"
        except httpx.HTTPError as exc:
            return f"{kind} {type(exc).__name__}"

    with httpx.Client(base_url=url, timeout=120.0) as c:  # the same probe before the attack (machine load)
        # One short session first: it waits for the analysis kernels the server prepares as it starts.
        sid = c.post("/api/v1/sessions", json={"source": "simulator", "n_sets": 1, "speed": 50}).json()["id"]
        while c.get(f"/api/v1/sessions/{sid}").json()["status"] == "running":
            time.sleep(0.2)
        quiet = []
        for _ in range(40):
            t0 = time.perf_counter()
            c.get("/api/v1/sessions")
            quiet.append((time.perf_counter() - t0) * 1e3)
            time.sleep(0.05)
    print(f"GET /sessions before the attack: p50={np.percentile(quiet, 50):.1f} ms "
          f"p95={np.percentile(quiet, 95):.1f} ms")  # fmt: skip
    slow = []
    for _ in range(args.slow):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            slow.append(s)
        except OSError:
            break
    prober = subprocess.Popen([sys.executable, __file__, "--probe", url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert prober.stdout is not None
    prober.stdout.readline()  # the probe runs: start the attack
    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(args.clients) as ex:
        answers = Counter(ex.map(hostile, range(args.clients)))
    attack_s = time.monotonic() - t0
    stop.set()
    sampler.join()
    out, _ = prober.communicate("", timeout=60)
    latencies = [float(x) for x in out.split()]
    for s in slow:
        s.close()
    lat = np.asarray(latencies)
    print(f"attack: {attack_s:.1f} s; answers: {dict(sorted(answers.items()))}")
    print(f"GET /sessions during the attack: n={lat.size} p50={np.percentile(lat, 50):.1f} ms "
          f"p95={np.percentile(lat, 95):.1f} ms max={lat.max():.1f} ms")  # fmt: skip
    print(f"server RSS peak: {max(peak):.0f} MiB")
    t1 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
        print(f"SIGINT -> exit in {time.monotonic() - t1:.2f} s (code {proc.returncode})")
    except subprocess.TimeoutExpired:
        proc.kill()
        print("SIGINT: still running after 30 s (killed)")
    left = list((folder / "hipflex.db.tmp").glob("*")) if (folder / "hipflex.db.tmp").exists() else []
    print(f"temporary upload folders left: {len(left)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

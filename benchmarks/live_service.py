"""Live service under load: simulated sensors and WebSocket clients against a real server.

Run: ``python benchmarks/live_service.py [--sensors 20] [--fs-hz 200] [--clients 10]
[--duration-s 45]``.

The server is a separate process (``python -m hipflex serve`` on a free loopback port, with a
temporary database), so its CPU and memory are measured alone.  Each sensor is a live
``simulator`` session at real time (``speed`` 1): a seeded ballistic session sampled at
``--fs-hz``, released in 40 ms notifications, every chunk appended to the raw log, analysed in the
worker pool, stored and fanned out.  Every client opens a WebSocket to every session (10 clients x
20 sensors = 200 streams, like ten dashboards watching a whole squad).

Latency is end to end: from the host time a chunk (notification) reached the session
(``received_at`` in the message) to the moment a client has the ``rep`` (or ``rep_peak``) message
that chunk completed; both clocks are this machine's ``time.time()``.  CPU is the server process's
share of one core (100 % = one core busy), sampled every second, with RSS.

The last line is machine-readable:
``live_service: sensors <N> fs <Hz> clients <N> rep_p50_ms <x> rep_p95_ms <x> cpu_mean_pct <x> rss_max_mb <x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets

from hipflex.service.server import bind_socket

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Stats:
    rep_ms: list[float] = field(default_factory=list)
    peak_ms: list[float] = field(default_factory=list)
    rest_ms: list[float] = field(default_factory=list)  # GET of a session's summary on one kept-alive connection
    messages: int = 0
    reps: int = 0
    closed_early: int = 0
    usage: list[tuple[float, float, float]] = field(default_factory=list)  # (t, cpu %, rss MB)


def free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "hipflex", "serve", "--port", str(port), "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)


async def client(url: str, stats: Stats, stop: asyncio.Event) -> None:
    try:
        async with websockets.connect(url, max_queue=None) as ws:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                now = time.time()
                stats.messages += 1
                if '"type":"rep' not in text:  # angle and status: count only
                    continue
                msg = json.loads(text)
                if msg.get("received_at") is None:
                    continue  # history replay, not live
                lat = (now - msg["received_at"]) * 1000.0
                if msg["type"] == "rep":
                    stats.rep_ms.append(lat)
                    stats.reps += 1
                else:
                    stats.peak_ms.append(lat)
    except websockets.ConnectionClosed:
        if not stop.is_set():
            stats.closed_early += 1


async def monitor(pid: int, stats: Stats, stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    t0 = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(1.0)
        stats.usage.append((time.monotonic() - t0, proc.cpu_percent(None), proc.memory_info().rss / 2**20))


async def rest_probe(base: str, session_id: str, stats: Stats, stop: asyncio.Event) -> None:
    """Round trips of a small REST request on one keep-alive connection (Nagle would add ~40 ms each)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            (await http.get(f"/api/v1/sessions/{session_id}")).raise_for_status()
            stats.rest_ms.append((time.perf_counter() - t0) * 1e3)
            await asyncio.sleep(0.25)


async def run(args: argparse.Namespace, base: str, pid: int) -> Stats:
    stats = Stats()
    stop = asyncio.Event()
    mon = asyncio.create_task(monitor(pid, stats, stop))
    await asyncio.sleep(2.0)  # idle baseline
    ids = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for i in range(args.sensors):
            body = {"source": "simulator", "drill": "ballistic", "fs_hz": args.fs_hz, "seed": 100 + i,
                    "n_sets": 3, "speed": 1.0, "label": f"sensor {i}"}  # fmt: skip
            r = await http.post("/api/v1/sessions", json=body)
            r.raise_for_status()
            ids.append(r.json()["id"])
        ws_base = base.replace("http", "ws", 1)
        tasks = [
            asyncio.create_task(client(f"{ws_base}/api/v1/sessions/{sid}/ws", stats, stop))
            for _ in range(args.clients)
            for sid in ids
        ]
        tasks.append(asyncio.create_task(rest_probe(base, ids[0], stats, stop)))
        await asyncio.sleep(args.duration_s)
        stop.set()
        await asyncio.gather(*tasks, mon)
        for sid in ids:
            await http.post(f"/api/v1/sessions/{sid}/stop")
    return stats


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(args: argparse.Namespace, stats: Stats) -> None:
    print(f"\nhipflex live service: {args.sensors} simulated sensors at {args.fs_hz:g} Hz (real time), "
          f"{args.clients} WebSocket clients on every session ({args.sensors * args.clients} streams), "
          f"{args.duration_s:g} s, {psutil.cpu_count()} CPUs\n")  # fmt: skip
    print(f"{'latency, notification -> client':34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = (("rep (full metrics)", stats.rep_ms), ("rep_peak (peak confirmed)", stats.peak_ms),
            ("REST GET, keep-alive round trip", stats.rest_ms))  # fmt: skip
    for name, vals in rows:
        print(f"{name:34} {len(vals):>6} {pct(vals, 50):>8.1f} {pct(vals, 95):>8.1f} {pct(vals, 99):>8.1f} "
              f"{max(vals, default=float('nan')):>8.1f}")  # fmt: skip
    print(f"\nmessages delivered: {stats.messages} ({stats.messages / args.duration_s:.0f}/s), "
          f"streams dropped as too slow: {stats.closed_early}\n")  # fmt: skip
    print(f"{'t s':>5} {'server CPU %':>13} {'RSS MB':>8}")
    step = max(1, len(stats.usage) // 12)
    for t, cpu, rss in stats.usage[::step]:
        print(f"{t:>5.0f} {cpu:>13.1f} {rss:>8.1f}")
    loaded = [u for u in stats.usage[2:]]
    cpu_mean = float(np.mean([u[1] for u in loaded])) if loaded else float("nan")
    rss_max = max((u[2] for u in stats.usage), default=float("nan"))
    print(f"\nserver CPU mean under load {cpu_mean:.1f} % of one core, RSS max {rss_max:.1f} MB")
    print(f"live_service: sensors {args.sensors} fs {args.fs_hz:g} clients {args.clients} "
          f"rep_p50_ms {pct(stats.rep_ms, 50):.1f} rep_p95_ms {pct(stats.rep_ms, 95):.1f} "
          f"rest_p50_ms {pct(stats.rest_ms, 50):.1f} "
          f"cpu_mean_pct {cpu_mean:.1f} rss_max_mb {rss_max:.1f}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sensors", type=int, default=20)
    p.add_argument("--fs-hz", type=float, default=200.0)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--duration-s", type=float, default=45.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hipflex-bench-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp) / "hipflex.db", port)
        try:
            stats = asyncio.run(run(args, f"http://127.0.0.1:{port}", proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)
    report(args, stats)


if __name__ == "__main__":
    main()

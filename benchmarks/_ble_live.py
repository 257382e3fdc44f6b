"""Through-the-client live measurement for ``benchmarks/live.py`` (section 5): the real BLE path.

Emulated Polar H10s (``hipflex.sensor.emulate.devices``, ACC at 200 Hz, paced in real time,
device clocks from the host) are hosted on bumble GATT servers; one
:class:`~hipflex.sensor.live.polar_client.PolarClient` per sensor talks to its sensor through an
unmodified ``bleak.BleakClient`` over bumble's in-process link (real ATT: MTU 247,
notifications of 39 samples = 195 ms), writes the capture log, decodes in its worker
thread, and :class:`~hipflex.service.live_analysis.LiveAnalysis` runs the streaming core
in the event loop's thread pool.  Everything runs in this one process.

Measured per sensor count (1, 5, 20):

- **notification -> rep event**: host monotonic time from the BLE callback of the
  notification that completed the chunk to the moment ``step`` returned the
  ``RepPeakEvent`` (peak confirmed) or ``RepEvent`` (rep closed) -- capture append,
  queue, decode thread, DSP thread and the event loop in between.  p50/p95/p99/max, ms.
- **algorithmic delay**, separately (independent of the machine): detected peak ->
  the sample that confirmed it (``min_rom_deg`` below the peak), and -> the last sample of
  its notification (a frame is sent only when full, 195 ms at 200 Hz).
- CPU (process time over wall time, in cores) and RSS before and after.  Both ends of the
  link (emulators, the two bumble host stacks and controllers) run in this process too, so
  the CPU figure is an upper bound of what the client side costs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _perfkit import Session, rss_kib

from hipflex.dsp.events import AngleBlock, CalibratedEvent, RepEvent, RepPeakEvent
from hipflex.sensor.emulate.ble.bumble_backend import BumbleAir
from hipflex.sensor.emulate.devices import DeviceClock, PolarPmdPeripheral
from hipflex.sensor.emulate.devices.source import SampleFeed
from hipflex.sensor.live.client import BleBackends, SampleChunk
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.scan import find_sensor
from hipflex.service.live_analysis import LiveAnalysis

__all__ = ["BleRun", "ble_rows", "run_ble"]

MIN_ROM_DEG = 20.0


@dataclass
class BleRun:
    """What one sensor count produced."""

    sensors: int
    seconds: float
    peak_ms: list[float] = field(default_factory=list)
    rep_ms: list[float] = field(default_factory=list)
    confirm_ms: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)
    notifications: int = 0
    gaps: int = 0
    cpu_cores: float = float("nan")
    rss0_kib: int = 0
    rss1_kib: int = 0


async def _stream(client: Any, seconds: float, run: BleRun) -> None:
    analysis = LiveAnalysis()
    async with client:
        await client.start()

        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            await client.stop()

        stopper = asyncio.create_task(stop_later())
        async for item in client.samples():
            if not isinstance(item, SampleChunk):
                run.gaps += type(item).__name__ == "StreamGap"
                continue
            events = await analysis.feed(item.samples)
            now = time.monotonic()
            if any(isinstance(e, CalibratedEvent) for e in events):
                continue  # events released with the rows buffered while learning are not live
            block = next((e for e in events if isinstance(e, AngleBlock)), None)
            last_t = float(item.samples.time_s[-1])
            for e in events:
                if isinstance(e, RepPeakEvent):
                    run.peak_ms.append((now - item.received_s) * 1e3)
                    if block is not None:
                        hit = np.flatnonzero(
                            (block.time_s > e.peak_s) & (block.angle_deg <= e.peak_flexion_deg - MIN_ROM_DEG)
                        )
                        if hit.size:
                            run.confirm_ms.append((float(block.time_s[hit[0]]) - e.peak_s) * 1e3)
                            run.frame_ms.append((last_t - e.peak_s) * 1e3)
                elif isinstance(e, RepEvent):
                    run.rep_ms.append((now - item.received_s) * 1e3)
        await stopper
    run.notifications += client.stats.notifications


async def _emulators(air: BumbleAir, sessions: list[Session], n: int) -> list[PolarPmdPeripheral]:
    emus = []
    for i in range(n):
        source = SampleFeed(sessions[i % len(sessions)].samples, loop=True)
        emu = PolarPmdPeripheral(device_id=f"{i:08X}", source=source, time_scale=1.0, clock=DeviceClock.from_host())
        await air.add_peripheral(emu)
        emus.append(emu)
    return emus


async def _one(n: int, seconds: float, sessions: list[Session]) -> BleRun:
    run = BleRun(n, seconds)
    async with BumbleAir() as air:
        emus = await _emulators(air, sessions, n)
        backends = BleBackends(air.client_backend, air.scanner_backend)
        clients = []
        for emu in emus:
            found = await find_sensor(emu.name, 10.0, backends=backends)
            clients.append(open_sensor(found, backends=backends, stall_timeout_s=None))
        run.rss0_kib = rss_kib()
        w0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(_stream(c, seconds, run) for c in clients))
        run.cpu_cores = (time.process_time() - c0) / (time.perf_counter() - w0)
        run.rss1_kib = rss_kib()
    return run


def ballistic_sessions(n: int, seed: int) -> list[Session]:
    """Recordings that start working at once: 3 s standing, then 10 s ballistic sets with 9 s rests.

    (The mixed-drill sessions of ``_perfkit`` reach their first set later than a short
    real-time run lasts.)
    """
    from hipflex.sensor.sim.plan import Segment, SessionPlan, _draw_set
    from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate

    out = []
    for k in range(n):
        rng = np.random.default_rng(seed + k)
        segs = [Segment("stand", 3.0)]
        for _ in range(6):
            reps, dur = _draw_set("ballistic", rng)
            segs += [Segment("set", dur, "ballistic", reps), Segment("rest", 9.0)]
        sim = simulate(SessionPlan(tuple(segs)), Mounting.random(rng), SensorModel.polar_h10(200.0), seed + k)
        out.append(Session(sim.samples, sim.truth.reps))
    return out


def run_ble(counts: list[int], seconds: float, sessions: list[Session]) -> list[BleRun]:
    """Stream ``seconds`` of real time for each sensor count."""
    import logging

    logging.getLogger("bumble").setLevel(logging.ERROR)
    out = []
    for n in counts:
        out.append(asyncio.run(_one(n, seconds, sessions)))
    return out


def _pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if values else "-"


def ble_rows(runs: list[BleRun]) -> list[list[str]]:
    """Table rows: one per sensor count and event kind."""
    rows = []
    for r in runs:
        for what, vals in (("RepPeakEvent", r.peak_ms), ("RepEvent", r.rep_ms)):
            rows.append(
                [
                    str(r.sensors),
                    what,
                    str(len(vals)),
                    *(_pct(vals, q) for q in (50, 95, 99)),
                    f"{max(vals):.1f}" if vals else "-",
                    _pct(r.confirm_ms, 50) if what == "RepPeakEvent" else "",
                    _pct(r.frame_ms, 50) if what == "RepPeakEvent" else "",
                    f"{r.notifications / r.seconds:.0f}",
                    f"{r.cpu_cores:.2f}",
                    f"{r.rss0_kib / 1024:.0f}",
                    f"{(r.rss1_kib - r.rss0_kib) / 1024:+.1f}",
                ]
            )
    return rows

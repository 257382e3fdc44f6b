"""Helpers for the live-client tests: simulated sessions, a time pump for emulators, collectors.

Emulators run on manual time (``time_scale=None``), driven by
:class:`~hipflex.sensor.emulate.pump.ManualPump` as fast as the link delivers.  The
client's clock is the emulator's uptime (plus :data:`HOST_T0_S`), so arrival times and
device times advance together as they would in real life.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from hipflex.dsp.pipeline import analyze
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.sensor.emulate.pump import ManualPump, until
from hipflex.sensor.live.client import ClientItem, SampleChunk, StreamGap
from hipflex.sensor.sim.plan import Drill, Segment, SessionPlan, _draw_set
from hipflex.sensor.sim.simulate import Mounting, SensorModel, Simulation, simulate
from hipflex.service.live_analysis import LiveAnalysis

__all__ = [
    "HOST_T0_S",
    "START_NS",
    "Pump",
    "analyse_live",
    "analysis_json",
    "gaps",
    "holes",
    "live_samples",
    "long_session",
    "of_type",
    "reference_analysis",
    "run_session",
    "until",
]

#: Host clock when an emulator's uptime is 0, seconds.
HOST_T0_S = 100.0
#: Device time at uptime 0 of the emulated Polar clocks, ns since 2000-01-01.
START_NS = 700_000_000_000_000_000


def long_session(duration_s: float, fs_hz: float, *, has_gyro: bool, seed: int = 1) -> Simulation:
    """A session of mixed drills (every drill in turn, 15 s rests) lasting about ``duration_s``."""
    rng = np.random.default_rng(seed)
    segs = [Segment("stand", 4.0)]
    drills: tuple[Drill, ...] = ("ballistic", "march", "hold", "strength", "stride")
    k = 0
    while sum(s.duration_s for s in segs) < duration_s - 25.0:
        n, dur = _draw_set(drills[k % len(drills)], rng)
        segs += [Segment("set", dur, drills[k % len(drills)], n), Segment("rest", 15.0)]
        k += 1
    segs.append(Segment("stand", 4.0))
    sensor = SensorModel.polar_h10(fs_hz) if not has_gyro else SensorModel.ideal(fs_hz, has_gyro=True)
    return simulate(SessionPlan(tuple(segs)), Mounting.random(np.random.default_rng(seed + 1)), sensor, seed)


#: The pump lives in the library (fixtures and benchmarks use it too).
Pump = ManualPump


async def run_session(client: Any, drive: Callable[[], Coroutine[Any, Any, None]]) -> list[ClientItem]:
    """Connect, start, run ``drive()`` beside the consumer, collect every item, disconnect."""
    items: list[ClientItem] = []
    async with client:
        await client.start()
        task = asyncio.create_task(drive())
        try:
            async for item in client.samples():
                items.append(item)
        except BaseException:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        await asyncio.wait_for(task, 10.0)
    return items


def live_samples(items: list[ClientItem]) -> ImuSamples:
    """Every chunk concatenated."""
    chunks = [i.samples for i in items if isinstance(i, SampleChunk)]
    gyr = None if chunks[0].gyr_dps is None else np.concatenate([c.gyr_dps for c in chunks])
    return ImuSamples(np.concatenate([c.time_s for c in chunks]), np.concatenate([c.acc_g for c in chunks]), gyr)


def of_type(items: list[ClientItem], cls: type) -> list[Any]:
    """The items of one type, in order."""
    return [i for i in items if isinstance(i, cls)]


def gaps(items: list[ClientItem]) -> list[StreamGap]:
    """StreamGap events, in order."""
    return of_type(items, StreamGap)


async def analyse_live(items: list[ClientItem], source: str) -> Analysis:
    """The live pipeline: every chunk through the streaming core as it came, then finish."""
    live = LiveAnalysis(source=source)
    for item in items:
        if isinstance(item, SampleChunk):
            await live.feed(item.samples)
    return await live.finish()


def analysis_json(analysis: Analysis) -> str:
    """The ``hipflex analyze --json`` line."""
    return json.dumps(analysis.to_dict(), allow_nan=False)


def holes(time_s: np.ndarray, rate_hz: float) -> list[tuple[float, float]]:
    """Spans between consecutive samples longer than 1.5 periods."""
    d = np.diff(time_s)
    idx = np.flatnonzero(d > 1.5 / rate_hz)
    return [(float(time_s[i]), float(time_s[i + 1])) for i in idx]


def reference_analysis(sim: Simulation, t0_s: float, range_g: float = 8.0) -> Analysis:
    """The uninterrupted session: every row as the device quantises it, at ``t0 + i / fs``."""
    acc = np.rint(np.clip(sim.samples.acc_g, -range_g, range_g) * 1000.0) / 1000.0
    t = t0_s + np.arange(len(sim.samples)) / sim.sensor.fs_hz
    return analyze(ImuSamples(t, acc), source="reference")

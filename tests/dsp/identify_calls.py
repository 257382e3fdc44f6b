"""Test helpers: the lever searches (``flexion_sign._identify`` calls) an analysis makes."""

from __future__ import annotations

from typing import Any

import numpy as np

import hipflex.dsp.flexion_sign as fs
from hipflex.dsp import ImuSamples, Settings, analyze
from hipflex.sensor.sim.simulate import simulate_drill

__all__ = ["Call", "identify_calls", "mid_set_march"]

#: One call's positional and keyword arguments.
Call = tuple[tuple[Any, ...], dict[str, Any]]


def mid_set_march() -> ImuSamples:
    """An accelerometer-only 100 Hz march whose recording starts 2 s into its first set."""
    sim = simulate_drill("march", fs_hz=100.0, seed=2, n_sets=2)
    k = int(np.searchsorted(sim.samples.time_s, sim.truth.sets[0][0] + 2.0))
    s = sim.samples.slice(k, len(sim.samples))
    return ImuSamples(s.time_s, s.acc_g, None)


def identify_calls(samples: ImuSamples, settings: Settings | None = None) -> list[Call]:
    """Each ``_identify`` call of ``analyze(samples, settings)``: its positional and keyword arguments, in order."""
    seen: list[Call] = []
    orig = fs._identify
    try:
        fs._identify = lambda *a, **kw: seen.append((a, kw)) or orig(*a, **kw)  # type: ignore[assignment]
        analyze(samples, settings)
    finally:
        fs._identify = orig
    return seen

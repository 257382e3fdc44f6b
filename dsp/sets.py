"""Grouping reps into sets and the per-set summaries (cadence, velocity loss)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hipflex.dsp.types import Rep, RepSet

__all__ = ["cadence_rpm", "make_set", "velocity_loss_pct"]


def cadence_rpm(peak_times_s: Sequence[float]) -> float | None:
    """Reps per minute from peak times: 60 (n - 1) / (last - first); None for n < 2."""
    n = len(peak_times_s)
    if n < 2:
        return None
    span = float(peak_times_s[-1]) - float(peak_times_s[0])
    return 60.0 * (n - 1) / span if span > 0 else None


def velocity_loss_pct(peak_velocities_dps: Sequence[float]) -> float:
    """(fastest - last) / fastest * 100 on peak flexion velocity; 0 for one rep."""
    v = np.asarray(peak_velocities_dps, dtype=np.float64)
    if v.size == 0:
        return 0.0
    fastest = float(np.max(v))
    if fastest <= 0:
        return 0.0
    return (fastest - float(v[-1])) / fastest * 100.0


def make_set(index: int, reps: Sequence[Rep]) -> RepSet:
    """A :class:`RepSet` from its reps (already indexed within the set)."""
    if not reps:
        raise ValueError("a set needs at least one rep")
    return RepSet(
        index=index,
        start_s=reps[0].start_s,
        end_s=reps[-1].end_s,
        cadence_rpm=cadence_rpm([r.peak_s for r in reps]),
        velocity_loss_pct=velocity_loss_pct([r.peak_flexion_velocity_dps for r in reps]),
        reps=tuple(reps),
    )

"""Left against right: each side's summary metrics and the asymmetry index of each, |L - R| / mean in %.

The index is the absolute difference over the mean of the two sides (the "symmetry index" of gait
studies, taken as its absolute value), so it does not depend on which side is the reference: 10 and
12 give 18.2 % either way.  It is undefined (None) when either side has no value or the mean is not
positive (no reps: nothing to compare).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hipflex.dsp.types import Analysis

__all__ = ["METRICS", "Metric", "MetricRow", "SideValues", "asymmetry_pct", "compare_sides", "side_values"]


@dataclass(frozen=True)
class Metric:
    """One compared metric: its key, what a person reads, its unit and the decimals shown."""

    key: str
    label: str
    unit: str
    decimals: int


#: The compared metrics, in table order; means are over every rep of the recording.
METRICS: tuple[Metric, ...] = (
    Metric("rep_count", "reps", "", 0),
    Metric("mean_peak_flexion_deg", "mean peak flexion", "°", 1),
    Metric("mean_rom_deg", "mean ROM", "°", 1),
    Metric("mean_peak_velocity_dps", "mean peak flexion velocity", "°/s", 0),
    Metric("mean_flexion_time_s", "mean flexion time", "s", 3),
    Metric("mean_hold_s", "mean hold", "s", 2),
)


@dataclass(frozen=True)
class MetricRow:
    """One metric on both sides, and their asymmetry index (%)."""

    metric: Metric
    left: float | None
    right: float | None
    asymmetry_pct: float | None


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else None


@dataclass(frozen=True)
class SideValues:
    """The metrics of :data:`METRICS` for one recording (a field per ``Metric.key``; None: no reps)."""

    rep_count: float
    mean_peak_flexion_deg: float | None
    mean_rom_deg: float | None
    mean_peak_velocity_dps: float | None
    mean_flexion_time_s: float | None
    mean_hold_s: float | None

    def value(self, metric: Metric) -> float | None:
        """The value of ``metric``."""
        out: float | None = getattr(self, metric.key)
        return out


def side_values(analysis: Analysis) -> SideValues:
    """Each metric of :data:`METRICS` for one recording."""
    reps = [r for s in analysis.sets for r in s.reps]
    return SideValues(
        rep_count=float(analysis.rep_count),
        mean_peak_flexion_deg=_mean([r.peak_flexion_deg for r in reps]),
        mean_rom_deg=_mean([r.rom_deg for r in reps]),
        mean_peak_velocity_dps=_mean([r.peak_flexion_velocity_dps for r in reps]),
        mean_flexion_time_s=_mean([r.flexion_time_s for r in reps]),
        mean_hold_s=_mean([r.hold_s for r in reps]),
    )


def asymmetry_pct(left: float | None, right: float | None) -> float | None:
    """|left - right| / ((left + right) / 2) * 100, or None when undefined (see the module docs)."""
    if left is None or right is None or not (math.isfinite(left) and math.isfinite(right)):
        return None
    mean = (left + right) / 2.0
    if mean <= 0.0:
        return None
    return abs(left - right) / mean * 100.0


def compare_sides(left: Analysis, right: Analysis) -> list[MetricRow]:
    """Every metric of :data:`METRICS` on both sides with its asymmetry index."""
    lv, rv = side_values(left), side_values(right)
    return [MetricRow(m, lv.value(m), rv.value(m), asymmetry_pct(lv.value(m), rv.value(m))) for m in METRICS]

"""How well the analysed angle follows the truth on a widened-simulator session (tuning seeds only)."""

from __future__ import annotations

import dataclasses

import numpy as np

from hipflex.dsp import Settings, analyze_with_angle
from hipflex.sensor.sim.wide import WideFocus, draw_wide_case, simulate_wide

__all__ = ["STRIDE20_30", "STRIDE25", "stride25_correlation", "wide_correlation"]

#: 25 Hz acc-only front-strap strides (``accuracy_wide.py --focus stride25``).
STRIDE25 = WideFocus(
    drill="stride", rates_hz=(25.0,), has_gyro=False, azimuth_range_deg=(-45.0, 45.0), distance_range_m=(0.10, 0.18)
)
#: The same at 20, 25 or 30 Hz (``--focus stride20-30``).
STRIDE20_30 = dataclasses.replace(STRIDE25, rates_hz=(20.0, 25.0, 30.0))


def wide_correlation(seed: int, focus: WideFocus | None = None) -> float:
    """Correlation of the analysed angle with the truth on a tuning seed (``focus``: forced in the draw)."""
    assert seed < 10_000, "tuning seeds only"
    sim = simulate_wide(draw_wide_case(seed, focus=focus))
    _, angle = analyze_with_angle(sim.samples, Settings())
    truth = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle)
    return float(np.corrcoef(angle[ok], truth[ok])[0, 1])


def stride25_correlation(seed: int) -> float:
    """Correlation of the analysed angle with the truth on a tuning seed of 25 Hz acc-only front-strap strides."""
    return wide_correlation(seed, STRIDE25)

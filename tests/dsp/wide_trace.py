"""How well the analysed angle follows the truth on a widened-simulator session (tuning seeds only)."""

from __future__ import annotations

import numpy as np

from hipflex.dsp import Settings, analyze_with_angle
from hipflex.sensor.sim.wide import WideFocus, draw_wide_case, simulate_wide

__all__ = ["stride25_correlation"]


def stride25_correlation(seed: int) -> float:
    """Correlation of the analysed angle with the truth on a tuning seed of 25 Hz acc-only front-strap strides."""
    focus = WideFocus(
        drill="stride", rates_hz=(25.0,), has_gyro=False, azimuth_range_deg=(-45.0, 45.0), distance_range_m=(0.10, 0.18)
    )
    sim = simulate_wide(draw_wide_case(seed, focus=focus))
    _, angle = analyze_with_angle(sim.samples, Settings())
    truth = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle)
    return float(np.corrcoef(angle[ok], truth[ok])[0, 1])

"""The benchmark's truth is the contract's angle: measured from the calibration window's pose."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _truth import contract_reference_deg, true_reps

from hipflex.dsp import Settings, analyze
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide


def test_reference_is_the_true_angle_over_the_window() -> None:
    t = np.arange(0.0, 10.0, 0.001)
    angle = np.where(t < 5.0, 3.0, 0.0) + 0.5 * np.sin(2 * np.pi * t)
    assert abs(contract_reference_deg(t, angle, 1.0, 1.0) - 3.0) < 0.01  # a whole period of the sine
    assert abs(contract_reference_deg(t, angle, 6.0, 2.0)) < 0.01
    assert contract_reference_deg(t, angle, None, None) == 0.0


def test_a_session_calibrated_off_the_simulators_zero_is_judged_from_its_window() -> None:
    """Strength reps from the first row (tuning seed 127): the first quiet second is a pause 3 deg up.

    The contract measures every angle from that pause, the simulator from its
    standing pose: against the simulator's angle every peak reads ~3 deg low,
    against the contract's (less the window's true angle) the offset is gone.
    """
    case = draw_wide_case(127)
    assert case.lead_in == "none" and case.sensor.has_gyro
    sim = simulate_wide(case)
    est = analyze(sim.samples, Settings())
    q = est.quality
    ref = contract_reference_deg(sim.truth.time_s, sim.truth.angle_deg, q.calibrated_at_s, q.calibration_window_s)
    assert ref > 2.0
    windows = [(r.set_index, r.low_s, r.peak_s, r.trough_s) for r in sim.truth.reps]
    offsets = {}
    for name, angle in (("simulator", sim.truth.angle_deg), ("contract", sim.truth.angle_deg - ref)):
        truth = true_reps(sim.truth.time_s, angle, sim.truth.velocity_dps, windows)
        errs = []
        for tr in truth:
            near = [r for r in est.reps if tr.start_s <= r.peak_s <= tr.end_s]
            if near:
                errs.append(near[0].peak_flexion_deg - tr.peak_flexion_deg)
        assert len(errs) >= 0.9 * len(truth)
        offsets[name] = float(np.median(errs))
    assert offsets["simulator"] < -2.0
    assert abs(offsets["contract"]) < 0.7

"""Tests of the widened simulator: mountings around the thigh, walks, lying down, the wide case space."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hipflex.sensor.sim.activity import LIE_FLEXION_DEG
from hipflex.sensor.sim.body import Mounting
from hipflex.sensor.sim.simulate import Segment, SensorModel, SessionPlan, plan_session, simulate
from hipflex.sensor.sim.wide import (
    LEAD_IN_KINDS,
    WideFocus,
    apply_sensor_fault,
    draw_sensor_fault,
    draw_wide_case,
    simulate_wide,
    trim_start,
)


@pytest.mark.slow
@pytest.mark.parametrize("placement, azimuth_deg", [("front", 0.0), ("side", 90.0)])
@pytest.mark.parametrize("leg", ["right", "left"])
def test_around_at_0_and_90_degrees_is_front_and_side(placement: str, azimuth_deg: float, leg: str) -> None:
    plan = plan_session("march", np.random.default_rng(5), n_sets=1)
    rot = (10.0, -20.0, 30.0)
    named = Mounting(placement, rot, leg=leg)  # type: ignore[arg-type]
    around = Mounting("around", rot, leg=leg, azimuth_deg=azimuth_deg)  # type: ignore[arg-type]
    a = simulate(plan, named, SensorModel.ideal(100.0), seed=2)
    b = simulate(plan, around, SensorModel.ideal(100.0), seed=2)
    np.testing.assert_allclose(b.samples.acc_g, a.samples.acc_g, atol=1e-9)
    assert a.samples.gyr_dps is not None and b.samples.gyr_dps is not None
    np.testing.assert_allclose(b.samples.gyr_dps, a.samples.gyr_dps, atol=1e-7)


def test_a_sensor_on_the_back_sees_the_front_mirrored() -> None:
    """Behind the femur, out of the skin is backwards: at rest the two read the same gravity
    (same axes up the thigh), in a swing their tangential terms have opposite lever signs."""
    plan = plan_session("ballistic", np.random.default_rng(1), n_sets=1)
    front = simulate(plan, Mounting("front", (0, 0, 0)), SensorModel.ideal(200.0), seed=3)
    back = simulate(plan, Mounting("around", (0, 0, 0), azimuth_deg=180.0), SensorModel.ideal(200.0), seed=3)
    still = slice(0, 100)
    np.testing.assert_allclose(back.samples.acc_g[still, 2], front.samples.acc_g[still, 2], atol=1e-3)
    np.testing.assert_allclose(back.samples.acc_g[still, 0], -front.samples.acc_g[still, 0], atol=1e-3)


def test_walk_segment_swings_the_thigh_without_reps() -> None:
    plan = SessionPlan((Segment("stand", 3.0), Segment("walk", 8.0), Segment("stand", 2.0)))
    sim = simulate(plan, Mounting("front", (0, 0, 0)), SensorModel(fs_hz=100.0), seed=4)
    assert sim.truth.reps == () and len(sim.truth.rests) == 3
    a, b = sim.truth.rests[1]
    inside = (sim.truth.time_s > a) & (sim.truth.time_s < b)
    angle = sim.truth.angle_deg[inside]
    # Steps: forward and back of standing by 2-24 degrees, several of them.
    assert 6.0 < angle.max() < 25.0 and -17.0 < angle.min() < -2.0
    crossings = np.sum((angle[1:] > 0) & (angle[:-1] <= 0))
    assert crossings >= 4
    # Foot strikes jolt the accelerometer while walking, not while standing.
    acc = np.linalg.norm(sim.samples.acc_g, axis=1)
    t = sim.samples.time_s
    assert np.ptp(acc[(t > a) & (t < b)]) > 5 * np.ptp(acc[t < 2.5])


def _stride_jolts_g(time_s: np.ndarray, acc_g: np.ndarray, span_s: tuple[float, float]) -> list[float]:
    """The largest jump of |acc| above its 0.2 s mean in each 1.1 s (about a stride) of a walk, g."""
    fs_hz = 1.0 / float(np.median(np.diff(time_s)))
    mag = np.linalg.norm(acc_g, axis=1)
    n = 2 * int(0.1 * fs_hz) + 1
    jump = mag - np.convolve(mag, np.ones(n) / n, mode="same")
    i0, i1 = np.searchsorted(time_s, (span_s[0] + 1.5, span_s[1] - 1.5))
    w = int(1.1 * fs_hz)
    return [float(jump[i : i + w].max()) for i in range(i0, i1 - w, w)]


@pytest.mark.slow
def test_walking_heel_strikes_jolt_the_thigh_as_much_as_in_the_real_walks() -> None:
    """Real thigh-strapped walks (Marpino, see sensor/sim/activity.py) jolt |acc| by 0.6 / 1.1 / 2.2 g
    (10th / 50th / 90th percentile of the per-stride jump); walks between sets are told from drills
    by that jolt, so the simulated walks must have it too (they had 0.4 / 0.7 g at the 10th / 50th)."""
    jolts: list[float] = []
    for seed in range(12):
        plan = SessionPlan((Segment("stand", 3.0), Segment("walk", 10.0), Segment("stand", 2.0)))
        sim = simulate(plan, Mounting("front", (0, 0, 0)), SensorModel.ideal(200.0), seed=seed)
        jolts += _stride_jolts_g(sim.samples.time_s, sim.samples.acc_g, sim.truth.rests[1])
    p10, p50, p90 = np.percentile(jolts, [10, 50, 90])
    assert 0.4 < p10 < 0.9 and 0.8 < p50 < 1.5 and 1.5 < p90 < 2.8


def test_lying_first_then_standing_up() -> None:
    plan = SessionPlan((Segment("lie", 8.0), Segment("stand", 2.0)))
    sim = simulate(plan, Mounting("side", (0, 0, 0)), SensorModel(fs_hz=50.0), seed=6)
    th, ts = sim.truth.angle_deg, sim.truth.time_s
    lo, hi = LIE_FLEXION_DEG
    assert lo - 1.0 < th[ts < 3.0].mean() < hi + 1.0
    assert abs(th[ts > 8.5].mean()) < 2.0
    # Lying on the back: gravity lies along the thigh's anterior axis (sensor x on the side: y), not along it.
    acc = sim.samples.acc_g[sim.samples.time_s < 3.0].mean(axis=0)
    assert abs(acc[2]) < 0.3 and np.linalg.norm(acc) > 0.9
    with pytest.raises(ValueError, match="lie"):
        simulate(SessionPlan((Segment("stand", 2.0), Segment("lie", 5.0))), Mounting("front", (0, 0, 0)),
                 SensorModel(fs_hz=50.0), seed=1)  # fmt: skip


def test_wide_cases_are_deterministic_and_cover_every_lead_in() -> None:
    a, b = draw_wide_case(12345), draw_wide_case(12345)
    assert a == b
    kinds = {draw_wide_case(s).lead_in for s in range(60)}
    assert kinds == set(LEAD_IN_KINDS)
    m = draw_wide_case(7).mounting
    assert m.placement == "around" and 0.10 <= m.distance_below_hip_m <= 0.35


def test_a_focus_forces_its_fields_and_leaves_the_rest_of_the_draw() -> None:
    focus = WideFocus(
        drill="stride", rates_hz=(25.0,), has_gyro=False, azimuth_range_deg=(-45.0, 45.0), distance_range_m=(0.10, 0.18)
    )
    for seed in range(30):
        case, plain = draw_wide_case(seed, focus=focus), draw_wide_case(seed)
        assert case == draw_wide_case(seed, focus=focus)
        assert case.drill == "stride" and case.sensor.fs_hz == 25.0 and not case.sensor.has_gyro
        assert case.placement_label == "front" and 0.10 <= case.mounting.distance_below_hip_m <= 0.18
        # Drawn as without the focus: the range, the lead-in, the rotation.
        assert case.sensor.acc_range_g == plain.sensor.acc_range_g and case.lead_in == plain.lead_in
        assert case.mounting.rotation_deg == plain.mounting.rotation_deg
        assert draw_wide_case(seed, focus=WideFocus()) == plain


@pytest.mark.slow
def test_midset_start_cuts_at_a_true_peak_and_keeps_only_whole_reps() -> None:
    seed = next(s for s in range(100) if draw_wide_case(s).lead_in == "midset")
    case = draw_wide_case(seed)
    full = simulate_wide(dataclasses.replace(case, lead_in="none"))
    cut = simulate_wide(case)
    first = [r for r in full.truth.reps if r.set_index == 0]
    start = first[case.midset_rep].peak_s
    assert cut.samples.time_s[0] >= start and cut.samples.time_s[0] - start < 2.0 / case.sensor.fs_hz
    kept = [r for r in cut.truth.reps if r.set_index == 0]
    assert len(kept) == len(first) - case.midset_rep - 1 and all(r.low_s >= start for r in kept)
    assert cut.truth.sets[0][0] == start
    # The same session otherwise: every later rep is unchanged.
    assert [r for r in cut.truth.reps if r.set_index > 0] == [r for r in full.truth.reps if r.set_index > 0]


def test_trim_start_before_the_recording_changes_nothing() -> None:
    sim = simulate(plan_session("hold", np.random.default_rng(2), n_sets=1), Mounting("front", (0, 0, 0)),
                   SensorModel(fs_hz=25.0), seed=2)  # fmt: skip
    same = trim_start(sim, float(sim.samples.time_s[0]) - 1.0)
    np.testing.assert_array_equal(same.samples.acc_g, sim.samples.acc_g)
    assert same.truth.reps == sim.truth.reps


def test_a_faulty_unit_reads_the_same_session_off_and_mirrored() -> None:
    """The fault comes from its own stream: the session is the one drawn without it; the accelerometer
    reads 0.6-1.4 g at rest (Eurobench subject 03: 1.31 g), the gyro one axis mirrored or none."""
    case = draw_wide_case(7)
    sim = simulate_wide(dataclasses.replace(case, sensor=dataclasses.replace(case.sensor, has_gyro=True)))
    seen_mirrors = set()
    for seed in range(40):
        fault = draw_sensor_fault(seed)
        assert draw_wide_case(seed) == draw_wide_case(seed)
        assert np.all(np.abs(fault.acc_gain - 1.0) <= 0.3) and np.all(np.abs(fault.acc_offset_g) <= 0.25)
        mirrored = np.flatnonzero(np.diag(fault.gyr_matrix) < 0)
        assert mirrored.size <= 1 and np.allclose(np.abs(fault.gyr_matrix), np.eye(3))
        seen_mirrors.add(int(mirrored[0]) if mirrored.size else -1)
    assert seen_mirrors == {-1, 0, 1, 2}
    fault = draw_sensor_fault(3)
    read = apply_sensor_fault(sim, fault)
    assert read.truth is sim.truth
    np.testing.assert_allclose(read.samples.acc_g, sim.samples.acc_g * fault.acc_gain + fault.acc_offset_g)
    assert read.samples.gyr_dps is not None and sim.samples.gyr_dps is not None
    np.testing.assert_allclose(read.samples.gyr_dps, sim.samples.gyr_dps @ fault.gyr_matrix.T)

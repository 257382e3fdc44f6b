"""Tests of the simulator: physics, sensor model, drill truth, determinism."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np
import pytest

from hipflex.dsp.units import STANDARD_GRAVITY_MPS2 as G_MPS2
from hipflex.sensor.sim.body import (
    Mounting,
    ThighKinematics,
    euler_zyx_deg,
    matrix_from_euler_zyx_deg,
    rigid_body_signals,
)
from hipflex.sensor.sim.sensor import sample_signals
from hipflex.sensor.sim.simulate import (
    DRILLS,
    Drill,
    Segment,
    SensorModel,
    SessionPlan,
    Simulation,
    plan_session,
    simulate,
    simulate_drill,
)
from hipflex.sensor.sim.track import KeyBuilder, Track, quintic_track

DENSE_DT = 1e-3


def _swing_kinematics(amp_deg: float = 80.0) -> ThighKinematics:
    """Pure flexion (no hip motion, no out-of-plane, no tissue): three fast swings."""
    kb = KeyBuilder()
    kb.add(0.0, 0.0)
    t = 0.5
    kb.add(t, 0.0)
    for up, down, lo in ((0.15, 0.35, 5.0), (0.25, 0.3, -10.0), (0.4, 0.6, 0.0)):
        kb.add(t + up, amp_deg, 0.0, -2000.0)
        t += up + down
        kb.add(t, lo)
    kb.add(t + 0.5, 0.0)
    ts = np.arange(round((t + 0.5) / DENSE_DT) + 1) * DENSE_DT
    n = ts.size
    return ThighKinematics(
        time_s=ts,
        flexion_deg=quintic_track(ts, kb.build()),
        abduction_deg=Track.zeros(n),
        rotation_deg=Track.zeros(n),
        hip_acc_mps2=np.zeros((n, 3)),
    )


def _stand_plan(duration_s: float = 10.0) -> SessionPlan:
    return SessionPlan((Segment("stand", duration_s),))


# --- physics -----------------------------------------------------------------------------------


def test_static_stand_reads_one_g_and_gyro_bias() -> None:
    mounting = Mounting.random(np.random.default_rng(7))
    sensor = SensorModel(fs_hz=100.0, gyr_bias_walk_dps=0.0)
    sim = simulate(_stand_plan(), mounting, sensor, seed=11)
    acc, gyr = sim.samples.acc_g, sim.samples.gyr_dps
    assert gyr is not None and sim.errors is not None and sim.errors.gyr_bias_dps is not None
    # Bias (0.02 g) and scale (1 %) errors move |acc| by a few hundredths of a g at most.
    assert abs(np.linalg.norm(acc.mean(axis=0)) - 1.0) < 0.08
    # Standing sway turns the thigh by a fraction of a degree per second: the gyro reads its bias.
    np.testing.assert_allclose(gyr.mean(axis=0), sim.errors.gyr_bias_dps, atol=0.3)
    assert np.all(gyr.std(axis=0) < 2 * sensor.gyr_noise_dps)

    ideal = simulate(_stand_plan(), mounting, SensorModel.ideal(100.0), seed=11)
    np.testing.assert_allclose(np.linalg.norm(ideal.samples.acc_g, axis=1), 1.0, atol=0.005)
    assert np.abs(ideal.samples.gyr_dps).max() < 3.0


def test_integrated_gyro_reproduces_true_angle_for_pure_flexion() -> None:
    kin = _swing_kinematics()
    mounting = Mounting.random(np.random.default_rng(3))
    body = rigid_body_signals(kin, mounting)
    # Flexion is a rotation about -y of the thigh; in sensor axes that is R_mount^T (-e_y).
    axis = mounting.rotation_matrix().T @ np.array([0.0, -1.0, 0.0])
    rate = body.gyr_dps @ axis
    angle = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * DENSE_DT)])
    np.testing.assert_allclose(angle, kin.flexion_deg.y - kin.flexion_deg.y[0], atol=0.01)
    # Nothing but flexion: no rate about any other axis.
    assert np.abs(body.gyr_dps - np.outer(rate, axis)).max() < 1e-9

    # The same through the sampled (ideal) device at 52 Hz.
    sampled = sample_signals(kin.time_s, body.acc_g, body.gyr_dps, SensorModel.ideal(52.0), np.random.SeedSequence(1))
    s = sampled.samples
    assert s.gyr_dps is not None
    r = s.gyr_dps @ axis
    a = np.concatenate([[0.0], np.cumsum(0.5 * (r[1:] + r[:-1]) * np.diff(s.time_s))])
    expected = np.interp(s.time_s, kin.time_s, kin.flexion_deg.y) - np.interp(
        s.time_s[0], kin.time_s, kin.flexion_deg.y
    )
    assert np.abs(a - expected).max() < 1.0


@pytest.mark.parametrize("distance_m, offset_m", [(0.22, 0.07), (0.15, 0.05), (0.30, 0.10)])
def test_specific_force_matches_pendulum_formula(distance_m: float, offset_m: float) -> None:
    kin = _swing_kinematics()
    mounting = Mounting("front", (0.0, 0.0, 0.0), distance_below_hip_m=distance_m, surface_offset_m=offset_m)
    f = rigid_body_signals(kin, mounting).acc_g * G_MPS2
    th = np.radians(kin.flexion_deg.y)
    w1, w2 = np.radians(kin.flexion_deg.dy), np.radians(kin.flexion_deg.ddy)
    g, big_l, d = G_MPS2, distance_m, offset_m
    f_w = g * np.sin(th) + big_l * w2 - d * w1**2  # anterior (sensor x)
    f_u = g * np.cos(th) + big_l * w1**2 + d * w2  # up the thigh (sensor z)
    assert np.abs(f[:, 1]).max() < 1e-9
    np.testing.assert_allclose(f[:, 0], f_w, atol=1e-9)
    np.testing.assert_allclose(f[:, 2], f_u, atol=1e-9)
    # Not vacuous: the swing is fast enough that the dynamic terms matter (several g).
    assert np.abs(big_l * w2).max() > 3 * g


@pytest.mark.slow
def test_mounting_rotation_rotates_measured_vectors() -> None:
    plan = plan_session("march", np.random.default_rng(5), n_sets=1)
    ideal = SensorModel.ideal(100.0)
    rng = np.random.default_rng(9)
    for placement in ("front", "side"):
        base = Mounting(placement, (0.0, 0.0, 0.0), leg="left")
        rot = (float(rng.uniform(-180, 180)), float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180)))
        turned = dataclasses.replace(base, rotation_deg=rot)
        a, b = simulate(plan, base, ideal, seed=2), simulate(plan, turned, ideal, seed=2)
        r_extra = matrix_from_euler_zyx_deg(rot)
        # v_sensor = R_extra^T v_base, i.e. row vectors times R_extra.
        np.testing.assert_allclose(b.samples.acc_g, a.samples.acc_g @ r_extra, atol=1e-9)
        assert a.samples.gyr_dps is not None and b.samples.gyr_dps is not None
        np.testing.assert_allclose(b.samples.gyr_dps, a.samples.gyr_dps @ r_extra, atol=1e-7)
        assert np.abs(b.samples.acc_g - a.samples.acc_g).max() > 0.5


def test_euler_round_trip_of_random_mountings() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        m = Mounting.random(rng)
        r = matrix_from_euler_zyx_deg(m.rotation_deg)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(matrix_from_euler_zyx_deg(euler_zyx_deg(r)), r, atol=1e-9)
        assert 0.15 <= m.distance_below_hip_m <= 0.30


# --- sensor model ------------------------------------------------------------------------------


def _dense_ramp(duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(int(duration_s / DENSE_DT) + 1) * DENSE_DT
    acc = np.stack([np.sin(ts), np.cos(0.5 * ts), np.full_like(ts, 1.0)], axis=1)
    return ts, acc


@pytest.mark.slow
def test_loss_removes_configured_fraction_in_bursts() -> None:
    ts, acc = _dense_ramp(600.0)
    model = dataclasses.replace(SensorModel.ideal(100.0, has_gyro=False), loss_fraction=0.05, loss_burst_samples=10)
    out = sample_signals(ts, acc, None, model, np.random.SeedSequence(3))
    idx = out.device_index
    n_total = round(600.0 * 100.0) - 1
    lost = 1.0 - idx.size / n_total
    assert 0.04 < lost < 0.06
    gaps = np.diff(idx) - 1
    bursts = gaps[gaps > 0]
    assert 8.0 < bursts.mean() < 12.0  # whole bursts, not scattered single rows
    assert np.all(np.diff(out.samples.time_s) > 0)
    none = sample_signals(ts, acc, None, SensorModel.ideal(100.0, has_gyro=False), np.random.SeedSequence(3))
    assert np.all(np.diff(none.device_index) == 1)
    # Kept rows carry exactly the values they had without loss.
    np.testing.assert_array_equal(out.samples.acc_g, none.samples.acc_g[idx])


def test_jitter_moves_reported_times_only() -> None:
    ts, acc = _dense_ramp(60.0)
    base = SensorModel(fs_hz=50.0, has_gyro=False, time_offset_s=1234.5)
    jit = dataclasses.replace(base, jitter_s=0.002)
    a = sample_signals(ts, acc, None, base, np.random.SeedSequence(8))
    b = sample_signals(ts, acc, None, jit, np.random.SeedSequence(8))
    np.testing.assert_array_equal(a.samples.acc_g, b.samples.acc_g)
    np.testing.assert_allclose(np.diff(a.samples.time_s), 1.0 / 50.0, atol=1e-9)
    np.testing.assert_array_equal(a.true_time_s, b.true_time_s)
    dt = b.samples.time_s - a.samples.time_s
    assert 0.0015 < dt.std() < 0.0025
    assert np.abs(dt).max() <= 0.4 / 50.0 + 1e-12
    assert np.all(np.diff(b.samples.time_s) > 0)
    assert abs(a.samples.time_s[0] - 1234.5) < 1.0 / 50.0


def test_clock_drift_stretches_reported_times() -> None:
    ts, acc = _dense_ramp(100.0)
    model = dataclasses.replace(SensorModel.ideal(100.0, has_gyro=False), clock_drift_ppm=200.0, time_offset_s=7.0)
    out = sample_signals(ts, acc, None, model, np.random.SeedSequence(2))
    # The device samples 200 ppm fast but counts nominal periods: its clock runs ahead of true time.
    np.testing.assert_allclose(out.samples.time_s - 7.0, out.true_time_s * (1 + 200e-6), atol=1e-9)
    assert np.diff(out.true_time_s).mean() == pytest.approx(1.0 / (100.0 * (1 + 200e-6)), rel=1e-9)


def test_clipping_saturates_at_range() -> None:
    sensor = SensorModel(fs_hz=200.0, acc_range_g=4.0, gyr_range_dps=250.0)
    sim = simulate_drill("stride", fs_hz=200.0, seed=4, n_sets=1, sensor=sensor)
    acc, gyr = sim.samples.acc_g, sim.samples.gyr_dps
    assert gyr is not None
    assert np.abs(acc).max() == 4.0 and np.abs(gyr).max() == 250.0
    assert np.count_nonzero(np.abs(acc) == 4.0) >= 5  # foot strikes of 3-8 g
    assert np.count_nonzero(np.abs(gyr) == 250.0) >= 50  # thigh swings of several hundred deg/s


def test_accelerometer_only_sensor_has_no_gyro() -> None:
    sim = simulate_drill("hold", fs_hz=25.0, seed=1, n_sets=1, sensor=SensorModel.polar_h10(25.0))
    assert sim.samples.gyr_dps is None
    assert abs(np.median(np.diff(sim.samples.time_s)) - 0.04) < 1e-9
    # Polar reports whole mG.
    np.testing.assert_allclose(sim.samples.acc_g * 1000.0, np.round(sim.samples.acc_g * 1000.0), atol=1e-6)


def test_truth_shares_the_samples_time_base() -> None:
    sensor = dataclasses.replace(SensorModel.ideal(200.0), time_offset_s=5000.0)
    sim = simulate_drill(
        "ballistic", fs_hz=200.0, seed=6, n_sets=1, sensor=sensor, mounting=Mounting("front", (0, 0, 0))
    )
    t, gyr = sim.samples.time_s, sim.samples.gyr_dps
    assert gyr is not None
    assert sim.truth.time_s[0] == 5000.0 and abs(t[0] - 5000.0) < 0.01
    # Front mount, no extra rotation: -gyro y is the flexion rate (plus a little out-of-plane).
    v_true = np.interp(t, sim.truth.time_s, sim.truth.velocity_dps)
    assert np.abs(-gyr[:, 1] - v_true).max() < 0.15 * np.abs(v_true).max()
    for rep in sim.truth.reps:
        m = (t > rep.low_s) & (t < rep.peak_s)
        assert abs(t[m][np.argmax(-gyr[m, 1])] - t[m][np.argmax(v_true[m])]) <= 0.0051


# --- drills and truth --------------------------------------------------------------------------


def _rest_ptp_deg(sim: Simulation) -> list[float]:
    tr = sim.truth
    out = []
    for a, b in tr.rests:
        m = (tr.time_s >= a) & (tr.time_s <= b)
        out.append(float(np.ptp(tr.angle_deg[m])))
        assert np.abs(tr.angle_deg[m]).max() < 10.0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("drill", DRILLS)
@pytest.mark.parametrize("seed", [1, 2])
def test_drill_truth_has_planned_clear_reps_and_quiet_rests(drill: Drill, seed: int) -> None:
    sim = simulate_drill(drill, fs_hz=50.0, seed=seed, n_sets=3)
    tr, plan = sim.truth, sim.plan
    assert len(tr.reps) == plan.n_reps and len(tr.sets) == 3
    assert plan.segments[0] == Segment("stand", 3.0)
    for rep in tr.reps:
        assert rep.low_s < rep.peak_s < rep.trough_s
        assert rep.peak_deg - rep.low_deg >= 25.0 and rep.peak_deg - rep.trough_deg >= 25.0
        s0, s1 = tr.sets[rep.set_index]
        assert s0 <= rep.low_s and rep.trough_s <= s1
        np.testing.assert_allclose(np.interp(rep.peak_s, tr.time_s, tr.angle_deg), rep.peak_deg)
    per_set = np.bincount([r.set_index for r in tr.reps], minlength=3)
    np.testing.assert_array_equal(per_set, [s.n_reps for s in plan.segments if s.kind == "set"])
    assert max(_rest_ptp_deg(sim)) < 10.0
    assert tr.rests[0] == (0.0, 3.0)
    rests = [s for s in plan.segments[1:-1] if s.kind == "rest"]
    assert len(rests) == 2 and all(12.0 <= s.duration_s <= 25.0 for s in rests)


def _cadence_hz(sim: Simulation) -> float:
    peaks = np.array([r.peak_s for r in sim.truth.reps if r.set_index == 0])
    return float(1.0 / np.mean(np.diff(peaks)))


@pytest.mark.slow
def test_drill_specific_ranges() -> None:
    b = simulate_drill("ballistic", fs_hz=50.0, seed=3, n_sets=2)
    roms = np.array([r.rom_deg for r in b.truth.reps])
    vel = np.array([r.peak_velocity_dps for r in b.truth.reps])
    assert roms.min() >= 34.0 and roms.max() <= 82.0
    assert 450.0 <= vel.min() and vel.max() <= 1150.0
    assert 1.1 <= _cadence_hz(b) <= 2.3

    h = simulate_drill("hold", fs_hz=50.0, seed=3, n_sets=1)
    for r in h.truth.reps:
        assert 80.0 <= r.peak_deg <= 106.0
        m = (h.truth.time_s >= r.low_s) & (h.truth.time_s <= r.trough_s)
        held = np.count_nonzero(h.truth.angle_deg[m] >= r.peak_deg - 10.0) * DENSE_DT
        assert 2.8 <= held <= 4.5

    s = simulate_drill("stride", fs_hz=50.0, seed=3, n_sets=1)
    inner = s.truth.reps[1:-1]
    assert all(-31.0 <= r.low_deg <= -18.0 and 58.0 <= r.peak_deg <= 82.0 for r in inner)
    assert 1.2 <= _cadence_hz(s) <= 1.7

    m = simulate_drill("march", fs_hz=50.0, seed=3, n_sets=1)
    assert all(58.0 <= r.peak_deg <= 97.0 for r in m.truth.reps)
    assert 0.7 <= _cadence_hz(m) <= 1.2


def test_truth_velocity_is_the_derivative_of_the_angle() -> None:
    sim = simulate_drill("stride", fs_hz=50.0, seed=8, n_sets=1)
    tr = sim.truth
    fd = np.gradient(tr.angle_deg, tr.time_s)
    assert np.abs(fd - tr.velocity_dps)[1:-1].max() < 0.01 * np.abs(tr.velocity_dps).max()


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_simulation_other_seed_differs() -> None:
    sensor = dataclasses.replace(SensorModel.verity_sense(), loss_fraction=0.02, jitter_s=0.003)
    a = simulate_drill("march", fs_hz=52.0, seed=21, n_sets=1, sensor=sensor)
    b = simulate_drill("march", fs_hz=52.0, seed=21, n_sets=1, sensor=sensor)
    c = simulate_drill("march", fs_hz=52.0, seed=22, n_sets=1, sensor=sensor)
    assert a.plan == b.plan and a.mounting == b.mounting
    np.testing.assert_array_equal(a.samples.time_s, b.samples.time_s)
    np.testing.assert_array_equal(a.samples.acc_g, b.samples.acc_g)
    np.testing.assert_array_equal(a.truth.angle_deg, b.truth.angle_deg)
    assert a.truth.reps == b.truth.reps
    assert a.samples.acc_g.shape != c.samples.acc_g.shape or not np.array_equal(a.samples.acc_g, c.samples.acc_g)


def test_a_session_can_start_after_a_short_stand() -> None:
    short = plan_session("march", np.random.default_rng(2), n_sets=1, stand_s=1.2)
    usual = plan_session("march", np.random.default_rng(2), n_sets=1)
    assert (short.segments[0].kind, short.segments[0].duration_s) == ("stand", 1.2)
    assert usual.segments[0].duration_s == 3.0
    assert short.segments[1:] == usual.segments[1:]
    sim = simulate(short, Mounting("front", (0, 0, 0)), SensorModel(fs_hz=50.0), seed=2)
    assert 1.2 < sim.truth.reps[0].low_s - sim.truth.time_s[0] < 2.5


def test_motion_does_not_depend_on_sensor_or_mounting() -> None:
    plan = plan_session("ballistic", np.random.default_rng(1), n_sets=1)
    a = simulate(plan, Mounting("front", (0, 0, 0)), SensorModel.polar_h10(), seed=5)
    b = simulate(plan, Mounting("side", (10, 20, 30), leg="left"), SensorModel.verity_sense(), seed=5)
    np.testing.assert_array_equal(a.truth.angle_deg, b.truth.angle_deg)
    assert a.truth.reps == b.truth.reps


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="n_reps"):
        Segment("set", 10.0, "ballistic", 0)
    with pytest.raises(ValueError, match="drill"):
        plan_session(cast(Any, "jumping"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="duration_s must be positive"):
        plan_session("hold", np.random.default_rng(0), stand_s=0.0)
    with pytest.raises(ValueError, match="placement"):
        Mounting(cast(Any, "back"), (0, 0, 0))
    with pytest.raises(ValueError, match="loss_fraction"):
        SensorModel(fs_hz=100.0, loss_fraction=1.0)


@pytest.mark.parametrize("seed", [13, 29, 71])
def test_a_runners_hip_pushes_in_stance_and_falls_freely_in_flight(seed: int) -> None:
    # Running: the ground pushes the hip up 1-2 g in stance (vertical ground
    # reaction forces of 2-3 body weights) and nothing pulls it down faster
    # than gravity in flight, once per step (twice per stride).  The bounce
    # was a keyframed +-4-6 cm spline that swung +-2-3 g, below free fall
    # (specific force pointing down) for 10-40 % of a set.
    from hipflex.sensor.sim.motion import build_motion
    from hipflex.sensor.sim.wide import draw_wide_case

    case = draw_wide_case(seed)
    assert case.drill == "stride"
    motion = build_motion(case.plan, np.random.default_rng(seed))
    t = motion.kinematics.time_s
    for (s0, s1), reps in zip(motion.sets, motion.set_reps, strict=True):
        cruise = (t > s0 + 4.0) & (t < s1 - 3.0)
        acc_g = motion.kinematics.hip_acc_mps2[cruise, 2] / G_MPS2
        # (Foot-strike jolts, tens of ms, are the only excursions below free fall.)
        assert np.mean(acc_g < -1.05) < 0.05
        assert 1.0 <= np.percentile(acc_g, 99) <= 2.0
        spectrum = np.abs(np.fft.rfft(acc_g - acc_g.mean()))
        freq_hz = np.fft.rfftfreq(acc_g.size, float(t[1] - t[0]))
        stride_hz = 1.0 / np.median(np.diff([r.peak_s for r in reps]))
        assert freq_hz[np.argmax(spectrum)] == pytest.approx(2.0 * stride_hz, rel=0.1)


def test_stance_bounces_carry_the_body_weight_and_fall_freely_in_between() -> None:
    # Steps on the grid's own samples (0.36 s at 1 kHz): consecutive steps share
    # no sample and leave none out, so free fall is exactly -g, never -2 g or 0.
    from hipflex.sensor.sim.track import add_stance_bounces

    step_s, contact_s, n = 0.36, 0.2, 20
    ts = np.arange(0.0, (n + 1) * step_s, 1e-3)
    track = Track.zeros(ts.size)
    starts = np.arange(n) * step_s
    add_stance_bounces(track, ts, starts, np.full(n, contact_s), np.full(n, step_s), np.ones(n), G_MPS2)
    acc = track.ddy[ts < n * step_s]
    assert acc.min() == pytest.approx(-G_MPS2)
    assert acc.max() == pytest.approx(G_MPS2 * (np.pi * step_s / (2.0 * contact_s) - 1.0), rel=1e-3)
    assert np.mean(acc) == pytest.approx(0.0, abs=0.01 * G_MPS2)

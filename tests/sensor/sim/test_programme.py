"""The programme drills of the simulator (issue 19): start poses, planes, truth, mirroring."""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.sensor.sim.body import Mounting
from hipflex.sensor.sim.programme import ALL_DRILLS, SPECS, SensorModel, pose_matrix, simulate_programme

_FRONT = Mounting("front", (0.0, 0.0, 0.0), leg="right")


@pytest.mark.parametrize(
    ("drill", "gravity_thigh"),
    [
        ("hold", (0.0, 0.0, 1.0)),  # standing: gravity along the thigh
        ("straight_leg_raise", (1.0, 0.0, 0.0)),  # on the back: the front of the thigh faces up
        ("prone_leg_raise", (-1.0, 0.0, 0.0)),  # face down: the back of the thigh faces up
        ("side_lying_abduction", (0.0, -1.0, 0.0)),  # right leg on top: its outer side (-y) faces up
        ("donkey_kick", (0.0, 0.0, 1.0)),  # on all fours the thigh hangs below the hip again
    ],
)
def test_each_start_pose_puts_gravity_where_it_is_in_the_thigh_frame(
    drill: str, gravity_thigh: tuple[float, float, float]
) -> None:
    sim = simulate_programme(drill, seed=5, sensor=SensorModel.ideal(100.0), mounting=_FRONT)
    first = sim.samples.acc_g[:100].mean(axis=0)
    # A front mount with no extra rotation reads in thigh axes; a few degrees of rest flexion allowed.
    assert np.degrees(np.arccos(np.clip(first @ np.array(gravity_thigh), -1, 1))) < 12.0
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=0.01)


def test_pose_matrices_are_rotations_and_side_lying_mirrors_with_the_leg() -> None:
    for pose in ("standing", "seated", "supine", "side", "prone", "all_fours"):
        for leg in ("right", "left"):
            m = pose_matrix(pose, leg)  # type: ignore[arg-type]
            np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
            assert np.linalg.det(m) == pytest.approx(1.0)
    up_r = pose_matrix("side", "right").T @ np.array([0.0, 0.0, 1.0])
    up_l = pose_matrix("side", "left").T @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(up_r, [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(up_l, [0, 1, 0], atol=1e-12)


@pytest.mark.parametrize("drill", ALL_DRILLS)
def test_every_drill_has_truth_per_set(drill: str) -> None:
    sim = simulate_programme(drill, seed=17, fs_hz=25.0, has_gyro=False)
    assert len(sim.set_truth) == len(sim.truth.sets) >= 2
    for i, st in enumerate(sim.set_truth):
        reps = [r for r in sim.truth.reps if r.set_index == i]
        assert len(reps) == len(st.hold_s) >= 2
        assert st.drill == drill
        if drill in SPECS:
            spec = SPECS[drill]  # type: ignore[index]
            assert (st.pose, st.movement) == (spec.pose, spec.movement)
            assert spec.reps[0] <= len(reps) <= spec.reps[1]
            roms = np.array([r.rom_deg for r in reps])
            assert np.all(roms > 0.6 * spec.rom_deg[0]) and np.all(roms < 1.3 * spec.rom_deg[1])
            assert np.all(np.array(st.hold_s) >= spec.hold_s[0])
        assert all(r.peak_velocity_dps > 0 for r in reps)


def test_mirroring_the_leg_mirrors_the_signals() -> None:
    # The same motion on the left leg, sensor on the front: y (left) flips, and so do the
    # rates about x and z (a reflection turns the rotation sense of those axes).  The trunk's sway
    # (hip acceleration, world frame, a few mg) is the body's, not the leg's: it is not mirrored.
    r = simulate_programme("side_lying_abduction", seed=8, sensor=SensorModel.ideal(50.0), mounting=_FRONT)
    left = Mounting("front", (0.0, 0.0, 0.0), leg="left")
    m = simulate_programme("side_lying_abduction", seed=8, sensor=SensorModel.ideal(50.0), mounting=left)
    assert r.samples.gyr_dps is not None and m.samples.gyr_dps is not None
    np.testing.assert_allclose(m.samples.acc_g, r.samples.acc_g * [1, -1, 1], atol=0.01)
    np.testing.assert_allclose(m.samples.gyr_dps, r.samples.gyr_dps * [-1, 1, -1], atol=1e-6)


def test_a_flat_mounting_has_the_device_z_axis_out_of_the_skin() -> None:
    # Mounting.flat: the face normal (device +z) is the thigh surface's outward normal at the
    # mounting's azimuth, within the strap's tilt, for either leg and any spin about it.
    spins = []
    for seed in range(40):
        m = Mounting.flat(np.random.default_rng(seed), tilt_deg=8.0)
        r = m.rotation_matrix()  # sensor -> thigh axes
        az = np.radians(m.azimuth_deg)
        outward = np.array([np.cos(az), m.side_sign * np.sin(az), 0.0])
        assert np.degrees(np.arccos(np.clip(r[:, 2] @ outward, -1.0, 1.0))) <= 8.0 + 1e-6
        assert -45.0 <= m.azimuth_deg <= 225.0
        spins.append(np.degrees(np.arctan2(r[2, 0], r[2, 1])))  # where the device x points in the face plane
    assert np.ptp(spins) > 180.0  # any spin

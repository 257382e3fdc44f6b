"""Pose and movement from the thigh's frame (the face normal given, the lever or the rise measured): issue 19."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipflex.dsp import Settings, analyze
from hipflex.dsp.mounting_prior import FlatPrior
from hipflex.sensor.sim.body import Mounting
from hipflex.sensor.sim.lying import simulate_lying_protocol


def _flat(seed: int, front: bool) -> tuple[Mounting, Settings]:
    """A sensor strapped flat on the front or the outer side (+-20 deg), any spin about its normal, and what the
    user says of it (the normal's sense, the placement, the leg): ``accuracy_drills.py --mounting flat-known``."""
    rng = np.random.default_rng([seed, 19])
    assert bool(rng.random() < 0.5) == front  # the benchmark's draw
    centre = 0.0 if front else 90.0
    m = Mounting.flat(rng, azimuth_range_deg=(centre - 20.0, centre + 20.0))
    told = Settings(
        min_rom_deg=10.0,
        face_normal_axis="+z",
        sensor_placement="front" if front else "lateral",
        sensor_leg=m.leg,
    )
    return m, told


@pytest.mark.parametrize(
    ("pose", "seed", "front", "has_gyro", "want"),
    [
        # Face down seen from the outer side: a raise about the hip and a sit-to-stand about the knee turn about
        # the face normal alike; the strap's spin about it hid which way the thigh's front faces (named seated).
        ("prone", 7, False, True, ("prone", "extension")),
        ("prone", 8, False, True, ("prone", "extension")),
        # On the side seen from the outer side: the fast sets went by tempo to clamshells (the same turn).
        ("side", 7, False, True, ("side", "abduction")),
        ("side", 9, True, False, ("side", "abduction")),
        # On the back seen from the front: the fast sets were sit-to-stands (a flexion about the hip and an
        # extension about the knee are one turn once the spin about the normal is unknown).
        ("supine", 4, True, True, ("supine", "flexion")),
        ("supine", 4, True, False, ("supine", "flexion")),
    ],
)
def test_a_lying_raise_strapped_as_told_is_named_in_its_pose_and_movement(
    pose: str, seed: int, front: bool, has_gyro: bool, want: tuple[str, str]
) -> None:
    mount, told = _flat(seed, front)
    sim = simulate_lying_protocol(pose, seed=seed, has_gyro=has_gyro, mounting=mount)  # type: ignore[arg-type]
    named = analyze(sim.samples, told)
    plain = analyze(sim.samples, Settings(min_rom_deg=10.0))
    # Naming never changes a count.
    assert [s.reps for s in named.sets] == [s.reps for s in plain.sets] and named.rep_count > 0
    got = {}
    for s in named.sets:
        d = s.description
        assert d is not None
        got[f"{s.start_s:.0f} s"] = (d.pose, d.movement, d.drill)
    assert all(v[:2] == want for v in got.values()), got


def _sensor_vectors(
    leg: str, azimuth_deg: float, spin_deg: float, up_t: tuple[float, float, float], axis_t: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, FlatPrior]:
    """A thigh-frame rest "up", rep axis (right-leg sense) and hip-to-sensor lever in the axes of a sensor whose
    +z is the outward normal at ``azimuth_deg``, spun by ``spin_deg`` about it."""
    psi, beta = math.radians(azimuth_deg), math.radians(spin_deg)
    side = 1.0 if leg == "right" else -1.0
    n = np.array([0.0, 0.0, 1.0])
    big_u = np.array([math.cos(beta), math.sin(beta), 0.0])  # up the thigh, in the face plane
    w = np.cross(n, big_u)
    # In thigh axes a right leg's (anterior, lateral, up) is a left-handed triple: n x U = -(sin, -cos, 0).
    ant = math.cos(psi) * n - side * math.sin(psi) * w
    lat = math.sin(psi) * n + side * math.cos(psi) * w

    def to_sensor(v: tuple[float, float, float]) -> np.ndarray:
        return v[0] * ant + v[1] * lat + v[2] * big_u

    lever = -0.22 * big_u + 0.07 * n  # 22 cm below the hip, 7 cm out of the skin
    prior = FlatPrior.from_settings(
        Settings(face_normal_axis="+z", sensor_placement="lateral" if azimuth_deg > 45 else "front", sensor_leg=leg)
    )
    assert prior is not None
    return to_sensor(up_t), side * to_sensor(axis_t), lever, prior


@pytest.mark.parametrize("leg", ["right", "left"])
@pytest.mark.parametrize("azimuth_deg", [0.0, 90.0])
@pytest.mark.parametrize("spin_deg", [0.0, 75.0, 200.0])
def test_the_frame_reads_each_lying_raise_whatever_the_spin_and_leg(
    leg: str, azimuth_deg: float, spin_deg: float
) -> None:
    from hipflex.dsp.thigh_frame import frame_cosines, frame_pose_movement  # here: the test above runs without it

    raises = {
        (("supine", "seated"), "flexion"): ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
        (("prone",), "extension"): ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
        (("side",), "abduction"): ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)),
    }
    for want, (up_t, axis_t) in raises.items():
        up, axis, lever, prior = _sensor_vectors(leg, azimuth_deg, spin_deg, up_t, axis_t)
        for lev in (lever, None):  # the lever's frame, and the rise's where no lever was measured
            up3, axis3, kind = frame_cosines(prior, lev, up, axis)
            assert kind == ("lever" if lev is not None else "rise")
            assert frame_pose_movement(prior, up3, axis3) == want
    # A hanging thigh (the lever along "up") gives no frame: its pose is not a lying one.
    up, axis, lever, prior = _sensor_vectors(leg, azimuth_deg, spin_deg, (0.0, 0.0, 1.0), (0.0, 1.0, 0.0))
    assert frame_cosines(prior, lever, up, axis)[2] == ""
    # Nor does a prior without the leg or the normal's sense.
    unsigned = FlatPrior.from_settings(Settings(face_normal_axis="z"))  # the normal's sense unknown
    assert frame_cosines(unsigned, lever, up, axis)[2] == ""

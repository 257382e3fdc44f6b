"""Several drills in one recording (issue 19): poses in turn, a gyro that sees the body turn, truth per set."""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.sensor.sim.body import Mounting
from hipflex.sensor.sim.mixed import simulate_mixed
from hipflex.sensor.sim.programme import ProgrammeSimulation, SensorModel

_FRONT = Mounting("front", (0.0, 0.0, 0.0), leg="right")
_DRILLS = ("side_lying_abduction", "straight_leg_raise", "strength")


def _sim(seed: int = 3, mounting: Mounting = _FRONT) -> ProgrammeSimulation:
    return simulate_mixed(_DRILLS, seed=seed, sets_per_drill=1, sensor=SensorModel.ideal(200.0), mounting=mounting)


def test_each_drill_is_done_in_its_own_pose_with_truth_per_set() -> None:
    sim = _sim()
    assert [s.drill for s in sim.set_truth] == list(_DRILLS)
    assert [s.pose for s in sim.set_truth] == ["side", "supine", "standing"]
    # Gravity in the thigh frame (front mount, no rotation: the thigh's axes) at the rest before each set.
    want = {"side": (0.0, -1.0, 0.0), "supine": (1.0, 0.0, 0.0), "standing": (0.0, 0.0, 1.0)}
    t = sim.samples.time_s
    for (t0, _), st in zip(sim.truth.sets, sim.set_truth, strict=True):
        rest = (t > t0 - 2.0) & (t < t0 - 0.5)
        g = sim.samples.acc_g[rest].mean(axis=0)
        assert np.degrees(np.arccos(np.clip(g @ np.array(want[st.pose]), -1, 1))) < 15.0, st.pose
        n = sum(r.set_index == sim.set_truth.index(st) for r in sim.truth.reps)
        assert n >= 10 and len(st.hold_s) == n


@pytest.mark.parametrize("seed", [3, 4])
def test_the_gyro_turns_gravity_as_the_body_changes_pose(seed: int) -> None:
    # "Up" carried by the gyro alone from the rest before each set to the rest
    # before the next (the body lies down, rolls over, gets up in between) ends
    # where the accelerometer then reads gravity: the pelvis' turn is in the rate.
    sim = _sim(seed, Mounting("side", (30.0, -50.0, 120.0), leg="left"))
    t, acc, gyr = sim.samples.time_s, sim.samples.acc_g, sim.samples.gyr_dps
    assert gyr is not None
    for (t0, _), (t1, _) in zip(sim.truth.sets[:-1], sim.truth.sets[1:], strict=True):
        a = int(np.searchsorted(t, t0 - 1.0))
        b = int(np.searchsorted(t, t1 - 1.0))
        up = acc[a - 50 : a].mean(axis=0)
        up /= np.linalg.norm(up)
        for k in range(a, b):
            # A world-fixed vector seen from the sensor turns by -omega dt (midpoint rate).
            r = -np.radians(0.5 * (gyr[k] + gyr[k + 1])) * (t[k + 1] - t[k])
            ang = np.linalg.norm(r)
            if ang > 0:
                ax = r / ang
                up = up * np.cos(ang) + np.cross(ax, up) * np.sin(ang) + ax * (ax @ up) * (1 - np.cos(ang))
        seen = acc[b : b + 50].mean(axis=0)
        seen /= np.linalg.norm(seen)
        assert np.degrees(np.arccos(np.clip(up @ seen, -1, 1))) < 3.0

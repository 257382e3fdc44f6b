"""Tests of the one-rep clips: a rep cut at both ends, moving from the first row to the last."""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.sensor.sim.clip import CLIP_EDGE_FRACTIONS, draw_clip, one_rep_clip
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide


@pytest.mark.parametrize("seed", [2, 7])
def test_a_clip_keeps_one_rep_moving_at_both_ends(seed: int) -> None:
    case, sim = draw_clip(seed, has_gyro=True)
    (rep,) = sim.truth.reps
    t = sim.samples.time_s
    assert rep.low_s <= t[0] + 0.1 and rep.trough_s >= t[-1] - 0.1
    assert CLIP_EDGE_FRACTIONS[0] <= case.edge_fraction <= CLIP_EDGE_FRACTIONS[1]
    # Cut part-way up the rise and part-way down the return: the thigh turns at the first and last rows.
    assert rep.low_deg > np.min(sim.truth.angle_deg) + 5.0 and rep.trough_deg > np.min(sim.truth.angle_deg) + 5.0
    assert rep.counts(20.0)
    assert sim.samples.gyr_dps is not None
    assert np.linalg.norm(sim.samples.gyr_dps[0]) > 20.0 and np.linalg.norm(sim.samples.gyr_dps[-1]) > 20.0
    assert sim.truth.rests == ()


def test_draw_clip_is_deterministic_and_forces_the_gyro() -> None:
    a = draw_clip(5, has_gyro=False)[1]
    b = draw_clip(5, has_gyro=False)[1]
    assert a.samples.gyr_dps is None
    np.testing.assert_array_equal(a.samples.acc_g, b.samples.acc_g)


def test_one_rep_clip_of_a_wide_session_keeps_that_rep() -> None:
    sim = simulate_wide(draw_wide_case(3))
    k = 2
    clip = one_rep_clip(sim, k, 0.2)
    (rep,) = clip.truth.reps
    assert rep.peak_s == sim.truth.reps[k].peak_s
    assert clip.samples.time_s[0] >= sim.truth.reps[k].low_s
    assert clip.samples.time_s[-1] <= sim.truth.reps[k].trough_s
    with pytest.raises(ValueError, match="edge_fraction"):
        one_rep_clip(sim, k, 0.5)

"""A recording that never stands still: one rep cut at both ends (CMU-MBL's one-rep files).

Its calibration is the quietest window, which lies in the rep's turn.  The
window's mean rate is the motion's, not the gyro's bias, and the sign of
flexion cannot be read from excursions around a rep's top.
"""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.dsp import Settings, analyze, finish, init_state, step
from hipflex.sensor.sim.clip import draw_clip

# Tuning seeds whose clips were counted 0 with either half of the fix alone
# (benchmarks/README.md, cmu21): the bias from the moving window, the sign
# from excursions around it.
_SEEDS = (11, 32, 34)


@pytest.mark.parametrize("seed", _SEEDS)
def test_a_one_rep_clip_with_a_gyro_counts_its_rep(seed: int) -> None:
    _, sim = draw_clip(seed, has_gyro=True)
    analysis = analyze(sim.samples, Settings())
    assert analysis.quality.calibration == "quietest window"
    assert analysis.rep_count == 1
    (rep,) = analysis.reps
    (true_rep,) = sim.truth.reps
    assert abs(rep.peak_s - true_rep.peak_s) < 0.2


def test_the_quietest_window_measures_no_gyro_bias() -> None:
    _, sim = draw_clip(_SEEDS[0], has_gyro=True)
    s = sim.samples
    assert s.gyr_dps is not None
    settings = Settings()
    state, _ = step(settings, init_state(settings, True), s)
    state, _ = finish(settings, state)
    cal = state.cal
    assert cal is not None and not cal.quiet
    # The rep's turn: the thigh moved in the window, and its mean rate is the motion's.
    assert np.linalg.norm(s.gyr_dps[cal.start_row : cal.end_row + 1].mean(axis=0)) > 5.0
    np.testing.assert_array_equal(cal.gyro_bias_dps, np.zeros(3))

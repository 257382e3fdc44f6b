"""Accelerometer only: a one-rep recording with no stand takes its rest pose where it started (dsp/no_stand.py).

Calibrated at the rep's slow turn (the quietest window, or a short one), the
filter read the thigh's lever from a pose 40-80 deg up the rep and the trace
left the force's direction; the clips below were counted 0 from the turn.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hipflex.dsp import Settings, analyze_with_angle, finish, init_state, step
from hipflex.dsp.no_stand import rest_at_first_row
from hipflex.sensor.sim.clip import draw_clip

# Tuning seeds (benchmarks/README.md, clips23), one per class counted 0 from the
# turn: the quietest window at 25 Hz, at 52 Hz (a squat), at 200 Hz, and a short
# quiet window at 200 Hz; each fails with the sign read on the old trace, 27
# with the kernel started at the window, 16 (right from the turn) with the
# window's gravity (1.06 g, the sensor's 1.035 g).
_SEEDS = (2, 33, 108, 27, 16)


@pytest.mark.parametrize("seed", _SEEDS)
def test_a_clip_with_no_stand_counts_its_rep_from_where_it_started(seed: int) -> None:
    _, sim = draw_clip(seed, has_gyro=False)
    analysis, angle_deg = analyze_with_angle(sim.samples, Settings())
    assert analysis.rep_count == 1
    true_deg = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle_deg)
    assert np.corrcoef(angle_deg[ok], true_deg[ok])[0, 1] > 0.5
    # Measured from the first row: the thigh starts at 0 and the rep rises from there.
    first = np.flatnonzero(ok)[0]
    assert abs(angle_deg[first]) < 5.0
    (rep,) = analysis.reps
    assert rep.rom_deg > 20.0


def _learned(seed: int):  # type: ignore[no-untyped-def]
    _, sim = draw_clip(seed, has_gyro=False)
    settings = Settings()
    state, _ = step(settings, init_state(settings, False), sim.samples)
    state, _ = finish(settings, state)
    return settings, state, sim


def test_the_moved_rest_pose_is_the_first_rows_force_and_gravity_its_median() -> None:
    _, state, sim = _learned(_SEEDS[2])
    cal = state.cal
    assert cal is not None and cal.from_first_row and not cal.quiet
    acc = sim.samples.acc_g
    assert cal.start_row == 0
    first = acc[0] / np.linalg.norm(acc[0])
    a = state.axes.a
    # "Up" is the first row's force direction in the swing's plane (about the flexion axis).
    in_plane = first - np.dot(first, a) * a
    np.testing.assert_allclose(cal.up, in_plane / np.linalg.norm(in_plane), atol=1e-9)
    np.testing.assert_allclose(cal.gravity_g, np.median(np.linalg.norm(acc, axis=1)))


def test_a_recording_longer_than_two_windows_keeps_its_calibration() -> None:
    settings, state, sim = _learned(_SEEDS[2])
    assert state.cal is not None and state.axes is not None
    turn = dataclasses.replace(state.cal, from_first_row=False)
    t, acc = sim.samples.time_s, sim.samples.acc_g
    short = dataclasses.replace(init_state(settings, False), buf_t=t, buf_acc=acc)
    moved, _ = rest_at_first_row(settings, short, turn, state.axes, t.size)
    assert moved.from_first_row
    # The same rows over three times the span (CMU-MBL's lunges: a step before the rep and one after it).
    slow = dataclasses.replace(short, buf_t=t[0] + 3.0 * (t - t[0]))
    cal, axes = rest_at_first_row(settings, slow, turn, state.axes, t.size)
    assert cal is turn and axes is state.axes

"""The lever sums without a gyro (dsp.angle_rate_lever): the angle's rate for |w|, chunk-free, no row twice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipflex.dsp import Settings, analyze, pipeline
from hipflex.dsp.angle_rate_lever import MAX_RATE_DPS, RateLast, accumulate_angle_rate
from hipflex.dsp.lever_sums import accumulate_lever, empty_lever_blocks
from hipflex.sensor.sim.programme import simulate_programme


def _rows(n: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.uniform(0.005, 0.03, n))
    acc = rng.normal(0.0, 1.0, (n, 3))
    angle = np.cumsum(rng.normal(0.0, 2.0, n))
    angle[40] = np.nan  # a dropped row: its rate and the next row's are unknown
    return t, acc, angle


def test_the_rate_is_the_backward_difference_fed_as_a_one_axis_gyro() -> None:
    t, acc, angle = _rows()
    got, last = accumulate_angle_rate(empty_lever_blocks(), RateLast(), t, acc, angle)
    rate = np.full(t.size, math.nan)
    rate[1:] = np.diff(angle) / np.diff(t)
    gyr = np.zeros((t.size, 3))
    gyr[:, 0] = rate
    want = accumulate_lever(empty_lever_blocks(), t, acc, gyr)
    np.testing.assert_allclose(got.rows, want.rows, rtol=1e-12)
    assert got.rows[:, 1].sum() == t.size - 3  # the first row and the two beside the dropped one
    assert last == RateLast(float(t[-1]), float(angle[-1]))


def test_the_sums_do_not_depend_on_chunking_and_no_row_counts_twice() -> None:
    t, acc, angle = _rows()
    whole, _ = accumulate_angle_rate(empty_lever_blocks(), RateLast(), t, acc, angle)
    parts, last = empty_lever_blocks(), RateLast()
    for a, b in ((0, 1), (1, 300), (300, 301), (301, 1200), (1200, 1500)):
        parts, last = accumulate_angle_rate(parts, last, t[a:b], acc[a:b], angle[a:b])
    np.testing.assert_allclose(parts.rows, whole.rows, rtol=1e-12)
    # Rows run again (a recalibration's kept rows) are not summed again, and the new ones after them are.
    again, last2 = accumulate_angle_rate(parts, last, t[1000:], acc[1000:], angle[1000:] + 5.0)
    np.testing.assert_array_equal(again.rows, parts.rows)
    assert last2 == last


def _acc_only_names(drill: str, seed: int, fs_hz: float) -> list[tuple[int, str]]:
    sim = simulate_programme(drill, seed=seed, fs_hz=fs_hz, has_gyro=False)
    a = analyze(sim.samples, Settings())
    return [(s.rep_count, s.description.drill if s.description else "") for s in a.sets]


@pytest.mark.parametrize(("seed", "fs_hz"), [(2, 100.0), (13, 50.0)])
def test_accelerometer_only_side_lying_raises_are_no_side_lunges(seed: int, fs_hz: float) -> None:
    # Tuning seeds whose side-lying sets tied with a standing side lunge on range and tempo (without a
    # gyro nothing else was scored): the angle's rate against |a|^2 shows the thigh lifted from lying.
    names = _acc_only_names("side_lying_abduction", seed, fs_hz)
    assert names and all(n > 0 for n, _ in names)
    assert [d for _, d in names] == ["side_lying_abduction"] * len(names)


def test_accelerometer_only_lever_sums_never_change_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulate_programme("side_lunge", seed=3, fs_hz=50.0, has_gyro=False)
    with_sums = analyze(sim.samples)
    assert all(math.isfinite(s.description.features.lever_t) for s in with_sums.sets if s.description)
    monkeypatch.setattr(pipeline, "accumulate_angle_rate", lambda blocks, last, *_: (blocks, last))
    without = analyze(sim.samples)
    assert [s.rep_count for s in with_sums.sets] == [s.rep_count for s in without.sets]
    assert with_sums.rep_count > 0


def test_a_step_no_thigh_turns_at_is_no_rate() -> None:
    # The angle re-anchored after a gap or a re-lock steps by tens of degrees in one row: as a rate it
    # would outweigh every rep of a set in the regression (a mixed session's strength sets read slope 0).
    t = np.arange(400) / 100.0
    angle = 20.0 * np.sin(t)
    angle[200:] += 30.0  # 3000 deg/s for one row
    acc = np.tile([0.0, 0.0, 1.0], (400, 1))
    got, _ = accumulate_angle_rate(empty_lever_blocks(), RateLast(), t, acc, angle)
    assert got.rows[:, 1].sum() == 400 - 2  # the first row (no row before it) and the step
    assert got.rows[:, 2].max() * (180.0 / math.pi) ** 2 / 100.0 < MAX_RATE_DPS**2

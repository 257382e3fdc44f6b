"""The lever sums without a gyro (dsp.angle_rate_lever): the angle's rate for |w|, chunk-free, no row twice."""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipflex.dsp import Settings, analyze, pipeline
from hipflex.dsp.angle_rate_lever import MAX_RATE_DPS, RateLast, _rate_block_sums, accumulate_angle_rate
from hipflex.dsp.lever_sums import _block_starts, accumulate_lever, empty_lever_blocks
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


def _numpy_path(blocks, last, time_s, acc_g, angle_deg):  # type: ignore[no-untyped-def]
    """The sums as the rate written into a gyro column gives them (the path ``_rate_block_sums`` replaced)."""
    new = np.flatnonzero(time_s > last.time_s)
    if new.size == 0:
        return blocks, last
    t, th = time_s[new[0] :], angle_deg[new[0] :]
    gyr = np.zeros((t.size, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        gyr[:, 0] = np.diff(np.concatenate([[last.angle_deg], th])) / np.diff(np.concatenate([[last.time_s], t]))
    gyr[~(np.abs(gyr[:, 0]) <= MAX_RATE_DPS), 0] = math.nan
    return accumulate_lever(blocks, t, acc_g[new[0] :], gyr), RateLast(float(t[-1]), float(th[-1]))


def _hostile_rows(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.choice([0.0, 0.005, 0.01, 0.7], n, p=[0.05, 0.6, 0.3, 0.05]))  # equal stamps, gaps
    acc = rng.normal(0.0, 1.0, (n, 3))
    angle = np.cumsum(rng.normal(0.0, rng.uniform(0.1, 20.0), n))  # some steps beyond MAX_RATE_DPS
    angle[rng.random(n) < 0.02] = np.nan
    acc[rng.random(n) < 0.01, 1] = np.nan
    return t, acc, angle


@pytest.mark.parametrize("seed", range(12))
def test_rate_block_sums_match_their_twin_bit_for_bit(seed: int) -> None:
    t, acc, angle = _hostile_rows(seed, 2000)
    rng = np.random.default_rng(seed)
    last_t, last_th = (-math.inf, math.nan) if seed % 2 else (t[0] - 0.01, float(rng.normal(0, 5)))
    k, starts = _block_starts(t)
    got, want = np.zeros((k.size, 7)), np.zeros((k.size, 7))
    _rate_block_sums(t, angle, last_t, last_th, acc, starts, got)
    naive.rate_block_sums(t, angle, last_t, last_th, acc, starts, want)
    np.testing.assert_array_equal(got[:, 1:], want[:, 1:])


@pytest.mark.parametrize("seed", range(6))
def test_chunked_sums_are_those_of_the_numpy_path_bit_for_bit(seed: int) -> None:
    t, acc, angle = _hostile_rows(100 + seed, 3000)
    cuts = np.sort(np.random.default_rng(seed).integers(0, t.size, 6))
    got, want = (empty_lever_blocks(), RateLast()), (empty_lever_blocks(), RateLast())
    for a, b in zip([0, *cuts], [*cuts, t.size], strict=True):
        got = accumulate_angle_rate(*got, t[a:b], acc[a:b], angle[a:b])
        want = _numpy_path(*want, t[a:b], acc[a:b], angle[a:b])
    # Rows run again after a recalibration are skipped by both.
    got = accumulate_angle_rate(*got, t[1000:], acc[1000:], angle[1000:] + 3.0)
    want = _numpy_path(*want, t[1000:], acc[1000:], angle[1000:] + 3.0)
    np.testing.assert_array_equal(got[0].rows, want[0].rows)
    assert got[1] == want[1] or (got[1].time_s == want[1].time_s and math.isnan(got[1].angle_deg))


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 120),
    step=st.sampled_from([0.0, 0.001, 0.005, 0.4]),
    swing=st.floats(0.0, 30.0),
    seed=st.integers(0, 2**31),
)
def test_hypothesis_rate_block_sums_equal_the_twin(n: int, step: float, swing: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = 1.0 + np.cumsum(rng.uniform(0.0, step, n))
    acc = rng.normal(0, 1, (n, 3))
    angle = np.cumsum(rng.normal(0, swing, n))
    angle[rng.random(n) < 0.1] = np.nan
    k, starts = _block_starts(t)
    got, want = np.zeros((k.size, 7)), np.zeros((k.size, 7))
    _rate_block_sums(t, angle, 0.5, 0.0, acc, starts, got)
    naive.rate_block_sums(t, angle, 0.5, 0.0, acc, starts, want)
    np.testing.assert_array_equal(got[:, 1:], want[:, 1:])


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

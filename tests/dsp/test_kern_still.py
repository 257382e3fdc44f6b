"""The stillest-window search's one-pass bounds (``_kern_still``) and the search that prunes with them.

``_lower_bounds`` must never exceed a window's exact score (``quiet_window._window_score``;
its twin ``naive.lower_bounds`` gives that score itself), must call exactly the
windows the score finds unusable unusable, and must be tight enough to prune.
``quiet_window._scan_stillest`` scores only the windows whose bound can beat the best; its
answer must be bit for bit that of scoring every window (``quiet_window._scan_windows``,
the O(n * window) scan it replaced) on random, quantised (tied), constant,
dropout-riddled, gapped and resumed inputs.
"""

from __future__ import annotations

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipflex.dsp import quiet_window
from hipflex.dsp._kern_still import _lower_bounds

STILL_ACC, STILL_GYR, MAX_GAP_S = 0.06, 6.0, 0.25


def _rows(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, float, np.ndarray]:
    """A random search: rows with noise, dropouts, gaps, ties; the window length and a start state."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 500))
    fs = float(rng.choice([12.5, 25.0, 50.0, 200.0, 400.0]))
    t = np.sort(3.0 + np.arange(n) / fs + rng.uniform(-0.3, 0.3, n) / fs * (rng.random() < 0.5))
    if rng.random() < 0.3:
        t[rng.integers(0, n) :] += rng.uniform(0.0, 0.6)  # a gap
    if rng.random() < 0.2:
        i = int(rng.integers(0, n - 1))
        t[i + 1] = t[i]  # two rows stamped together
    acc = np.array([0.1, -0.2, 0.97]) + rng.normal(0, rng.uniform(0.0005, 0.08), (n, 3))
    gyr = rng.normal(0, rng.uniform(0.05, 8), (n, 3)) + rng.normal(0, 2, 3)
    if rng.random() < 0.2:  # motion somewhere
        a = int(rng.integers(0, n))
        acc[a : a + 30] += rng.normal(0, 0.3, acc[a : a + 30].shape)
        gyr[a : a + 30] += rng.normal(0, 50, gyr[a : a + 30].shape)
    if rng.random() < 0.3:  # a quantised sensor: many windows tie
        acc, gyr = np.round(acc * 1024) / 1024, np.round(gyr * 16) / 16
    if rng.random() < 0.15:  # constant rows: every window ties
        acc[:], gyr[:] = acc[0], gyr[0]
    if rng.random() < 0.5:
        acc[rng.random(n) < rng.uniform(0, 0.1), rng.integers(0, 3)] = np.nan
        gyr[rng.random(n) < rng.uniform(0, 0.1), rng.integers(0, 3)] = np.nan
    if rng.random() < 0.2:
        a = int(rng.integers(0, n))
        acc[a : a + int(rng.integers(1, 40))] = np.nan  # a dropout run
    qs = quiet_window.new_quiet_state()
    if rng.random() < 0.5:  # resumed after a first-quiet search
        qs[quiet_window.Q_SCANNED] = rng.integers(0, n)
        if rng.random() < 0.5:
            qs[quiet_window.Q_BEST_SCORE], qs[quiet_window.Q_BEST_END] = rng.uniform(0, 3), 1
    return t, acc, gyr, bool(rng.random() < 0.7), float(rng.choice([0.25, 0.5, 1.0, 2.0])), qs


def _stillest_both(t, acc, gyr, has_gyro, win_s, qs):
    g = gyr if has_gyro else np.zeros((0, 3))
    args = (t, acc, g, has_gyro, win_s, STILL_ACC, STILL_GYR, MAX_GAP_S)
    fast, full = qs.copy(), qs.copy()
    quiet_window._scan_stillest(*args, fast)
    quiet_window._scan_windows(*args, full, False)
    return fast, full


def _bounds_both(t, acc, gyr, has_gyro, win_s, k_first):
    g = gyr if has_gyro else np.zeros((0, 3))
    args = (t, acc, g, has_gyro, win_s, STILL_ACC, STILL_GYR, MAX_GAP_S, k_first)
    m = t.size - k_first
    got = (np.empty(m, dtype=np.int64), np.empty(m))
    want = (np.empty(m, dtype=np.int64), np.empty(m))
    return _lower_bounds(*args, *got), got, naive.lower_bounds(*args, *want), want


@pytest.mark.parametrize("seed", range(400))
def test_stillest_equals_scoring_every_window(seed: int) -> None:
    fast, full = _stillest_both(*_rows(seed))
    assert np.array_equal(fast, full)


@pytest.mark.parametrize("seed", range(200))
def test_bounds_never_exceed_the_exact_score_and_stay_close(seed: int) -> None:
    t, acc, gyr, has_gyro, win_s, qs = _rows(seed)
    ok, (starts, lower), ok_twin, (starts_t, exact) = _bounds_both(t, acc, gyr, has_gyro, win_s, int(qs[0]))
    assert ok == ok_twin
    if not ok:
        return
    np.testing.assert_array_equal(starts, starts_t)
    assert np.array_equal(np.isinf(lower), np.isinf(exact))  # unusable exactly where the score says so
    usable = np.isfinite(exact)
    assert np.all(lower[usable] <= exact[usable])
    assert np.all(lower[usable] >= exact[usable] - 1e-9 * (1.0 + exact[usable]))  # tight: it prunes


def _still(n: int, fs_hz: float = 200.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    return t, np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.004, (n, 3)), rng.normal(0, 0.3, (n, 3)) + 0.5


def test_a_long_rest_scores_few_windows_exactly() -> None:
    # The point of the bounds: on a 17 s rest at 200 Hz a handful of windows come within the best's score.
    t, acc, gyr = _still(3400)
    m = t.size
    starts, lower = np.empty(m, dtype=np.int64), np.empty(m)
    assert _lower_bounds(t, acc, gyr, True, 1.0, STILL_ACC, STILL_GYR, MAX_GAP_S, 0, starts, lower)
    e = int(np.argmin(lower))
    best = quiet_window._window_score(t, acc, gyr, True, starts[e], e, STILL_ACC, STILL_GYR, MAX_GAP_S)
    assert np.sum(lower <= best) < 10
    fast, full = _stillest_both(t, acc, gyr, True, 1.0, quiet_window.new_quiet_state())
    assert np.array_equal(fast, full)


@pytest.mark.parametrize("fault", ["backwards", "nan_time", "inf_value", "huge_values"])
def test_adversarial_inputs_match_the_full_scan(fault: str) -> None:
    t, acc, gyr = _still(600)
    if fault == "backwards":  # times that decrease: the bounds decline, the full scan runs
        t[300] = t[299] - 0.5
    elif fault == "nan_time":
        t[200] = np.nan
    elif fault == "inf_value":
        acc[250, 1] = np.inf
    else:  # magnitudes whose rounding dwarfs a still window's spread: the margin must cover it
        acc *= 1e6
        gyr = gyr * 1e6
    for has_gyro in (True, False):
        fast, full = _stillest_both(t, acc, gyr, has_gyro, 1.0, quiet_window.new_quiet_state())
        assert np.array_equal(fast, full, equal_nan=True)


def test_a_settling_rest_and_exact_ties() -> None:
    # Scores that fall window after window (a thigh settling) and then tie exactly (a constant stand):
    # the first of the tied windows is kept, as the full scan keeps it.
    t, acc, gyr = _still(1200)
    settle = np.exp(-np.arange(600) / 150.0)
    acc[:600, 0] += 0.05 * settle * np.sin(np.arange(600) / 3.0)
    acc[600:] = acc[600]
    gyr[600:] = gyr[600]
    for has_gyro in (True, False):
        fast, full = _stillest_both(t, acc, gyr, has_gyro, 0.5, quiet_window.new_quiet_state())
        assert np.array_equal(fast, full)
        assert fast[quiet_window.Q_BEST_END] < t.size - 1  # a tie: the first window of the constant stand


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(5, 250),
    step=st.sampled_from([0.005, 0.02, 0.08]),
    noise=st.floats(0.0, 0.2),
    levels=st.integers(1, 64),
    drop=st.floats(0.0, 0.3),
    has_gyro=st.booleans(),
    win_s=st.sampled_from([0.1, 0.3, 1.0]),
    seed=st.integers(0, 2**31),
)
def test_hypothesis_stillest_equals_full_scan(
    n: int, step: float, noise: float, levels: int, drop: float, has_gyro: bool, win_s: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.choice([0.0, step, 2 * step, 10 * step], n, p=[0.05, 0.8, 0.1, 0.05]))
    acc = np.round(rng.normal(0, noise, (n, 3)) * levels) / levels + np.array([0.0, 0.0, 1.0])
    gyr = np.round(rng.normal(0, 40 * noise, (n, 3)) * levels) / levels
    acc[rng.random(n) < drop, 0] = np.nan
    fast, full = _stillest_both(t, acc, gyr, has_gyro, win_s, quiet_window.new_quiet_state())
    assert np.array_equal(fast, full)
    ok, (_, lower), _, (_, exact) = _bounds_both(t, acc, gyr, has_gyro, win_s, 0)
    if ok:
        usable = np.isfinite(exact)
        assert np.all(lower[usable] <= exact[usable])
        assert np.array_equal(np.isinf(lower), np.isinf(exact))

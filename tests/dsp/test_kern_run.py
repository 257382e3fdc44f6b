"""The main loop ``_run_chunk`` (timeline PLL, gap bridging, clip counting) against its twin.

Kernel and twin start from the same state (built by the pipeline's own
``_make_kernel`` from known axes) and must agree on every output: rows done,
event rows, the angle at every row, and every slot of the state arrays and
the history ring.  Tolerance: ``rtol=1e-9`` plus ``atol=1e-8`` (deg, s,
deg/s).  One step of kernel and twin agree to an ulp, but the tilt filter
integrates rotation without damping, so those ulps (different rotation
formulas; the kernel's fused multiply-adds) add up: after a few reps the
angles differ by ~1e-10 deg.  Kernel-only properties (NaN rows, chunking)
are exact.
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
import synth
from kit import EV_ROWS, assert_slots_close, copies, kernel_arrays

from hipflex.dsp import Settings
from hipflex.dsp import _kern_run as kr
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_run import _finish, _run_chunk

FS_HZ = 100.0
PERIOD = 1.0 / FS_HZ


def _state(gyro: bool, **settings: float | None):
    return kernel_arrays(Settings(**settings), gyro, synth.DEFAULT_FRAME, PERIOD)


# Bridge gaps up to 0.5 s; hold the rotation over bridges longer than _REANCHOR_GAP_S.
SCENARIO_SETTINGS = {"max_interp_gap_s": 0.5}


def _run(fn, state, t, acc, gyr, ev_rows: int = EV_ROWS):
    prm, fs, ist, hist = copies(*state)
    theta = np.full(t.shape[0], -999.0)
    ev = np.zeros((ev_rows, L.EV_N))
    done, n_ev = fn(prm, fs, ist, hist, t, acc, gyr, theta, ev)
    return {
        "done": done,
        "ev": ev[:n_ev].copy(),
        "theta": theta,
        "prm": prm,
        "fs": fs,
        "ist": ist,
        "hist": hist,
    }


RTOL, ATOL = 1e-9, 1e-8


def _assert_same(k: dict, tw: dict) -> None:
    assert k["done"] == tw["done"]
    assert k["ev"].shape == tw["ev"].shape
    for a, b in zip(k["ev"], tw["ev"], strict=True):
        assert_slots_close(a, b, "E_", rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(k["theta"], tw["theta"], rtol=RTOL, atol=ATOL, equal_nan=True)
    assert_slots_close(k["fs"], tw["fs"], "F_", rtol=RTOL, atol=ATOL)
    assert_slots_close(k["ist"], tw["ist"], "I_", rtol=0, atol=0)
    np.testing.assert_allclose(k["hist"], tw["hist"], rtol=RTOL, atol=ATOL)


def _recording(gyro: bool, seed: int, scenario: str):
    """A 6 s, 100 Hz drill with the input faults named in ``scenario``."""
    rec = synth.record(
        synth.drill(3, start_s=1.0),
        6.0,
        FS_HZ,
        gyro=gyro,
        acc_noise_g=0.003,
        gyr_noise_dps=0.5,
        seed=seed,
        t_origin=1000.0,
    )
    s = rec.samples
    t = s.time_s.copy()
    acc = s.acc_g.copy()
    gyr = s.gyr_dps.copy() if gyro else np.zeros((0, 3))
    rng = np.random.default_rng(seed)
    if "drift" in scenario:
        t = 1000.0 + (t - 1000.0) * 1.003
    if "jitter" in scenario:
        t += rng.uniform(-0.2, 0.2, t.size) * PERIOD
    if "clip" in scenario:
        acc[200:204, 0] = 2.0  # a saturation plateau on one axis
    if "nan" in scenario:
        rows = np.flatnonzero(rng.random(t.size) < 0.03)
        acc[rows, rng.integers(0, 3, rows.size)] = np.nan
        if gyro:
            rows = np.flatnonzero(rng.random(t.size) < 0.02)
            gyr[rows, rng.integers(0, 3, rows.size)] = np.nan
    if "gaps" in scenario:
        keep = np.ones(t.size, bool)
        keep[150:160] = False  # 0.10 s: bridged by interpolation
        keep[300:340] = False  # 0.40 s, during the second rep: bridged holding the rotation
        keep[420:520] = False  # 1.00 s: too long to bridge, interrupts the third rep
        t, acc = t[keep], acc[keep]
        gyr = gyr[keep] if gyro else gyr
    return t, acc, gyr


SCENARIOS = ["clean", "jitter+nan", "gaps+clip", "drift+jitter+gaps+nan"]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_run_chunk_matches_twin(gyro: bool, scenario: str) -> None:
    t, acc, gyr = _recording(gyro, seed=len(scenario), scenario=scenario)
    state = _state(gyro, **SCENARIO_SETTINGS)
    k = _run(_run_chunk, state, t, acc, gyr)
    tw = _run(naive.run_chunk, state, t, acc, gyr)
    _assert_same(k, tw)
    assert k["done"] == t.size
    kinds = k["ev"][:, L.EV_KIND]
    assert (kinds == L.EV_REP).sum() >= 2
    gaps = k["ev"][kinds == L.EV_GAP]
    if "gaps" in scenario:
        # NaN rows are missing samples too (one-sample gaps); the three cut-outs
        # are the gaps of at least 0.1 s: bridged, bridged holding rotation, not bridged.
        long_gaps = gaps[gaps[:, 2] - gaps[:, 1] > 0.09]
        assert list(long_gaps[:, 3]) == [1.0, 1.0, 0.0]
    if "nan" not in scenario:
        assert k["ist"][L.I_GAPS] == gaps.shape[0] == (3 if "gaps" in scenario else 0)
    if "clip" in scenario:
        assert k["ist"][L.I_CLIPPED] == 4


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_finish_matches_twin(gyro: bool) -> None:
    t, acc, gyr = _recording(gyro, seed=1, scenario="clean")
    stop = int(np.searchsorted(t, 1000.0 + 3.25))  # mid-way down the second rep
    state = _state(gyro, **SCENARIO_SETTINGS)
    results = []
    for run, fin in ((_run_chunk, _finish), (naive.run_chunk, naive.finish)):
        r = _run(run, state, t[:stop], acc[:stop], gyr[:stop])
        ev = np.zeros((8, L.EV_N))
        n = fin(r["prm"], r["fs"], r["ist"], r["hist"], ev)
        results.append((ev[:n], r))
    (ev_k, r_k), (ev_t, r_t) = results
    assert ev_k[:, L.EV_KIND].tolist() == [L.EV_REP]
    for a, b in zip(ev_k, ev_t, strict=True):
        assert_slots_close(a, b, "E_", rtol=RTOL, atol=ATOL)
    _assert_same(r_k, r_t)


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_nan_rows_are_exactly_rows_that_never_arrived(gyro: bool) -> None:
    t, acc, gyr = _recording(gyro, seed=5, scenario="jitter")
    rng = np.random.default_rng(5)
    lost = rng.random(t.size) < 0.05
    lost[:1] = False
    acc_nan = acc.copy()
    acc_nan[lost, rng.integers(0, 3, int(lost.sum()))] = np.nan
    state = _state(gyro)
    with_nan = _run(_run_chunk, state, t, acc_nan, gyr)
    dropped = _run(_run_chunk, state, t[~lost], acc[~lost], gyr[~lost] if gyro else gyr)
    assert np.isnan(with_nan["theta"][lost]).all()
    np.testing.assert_array_equal(with_nan["theta"][~lost], dropped["theta"])
    np.testing.assert_array_equal(with_nan["ev"], dropped["ev"])
    for key in ("fs", "ist", "hist"):
        np.testing.assert_array_equal(with_nan[key], dropped[key])


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_chunked_kernel_equals_one_call(gyro: bool) -> None:
    t, acc, gyr = _recording(gyro, seed=7, scenario="drift+jitter+gaps+nan")
    state = _state(gyro, **SCENARIO_SETTINGS)
    whole = _run(_run_chunk, state, t, acc, gyr)
    prm, fs, ist, hist = copies(*state)
    theta = np.full(t.size, -999.0)
    events = []
    rng = np.random.default_rng(7)
    pos = 0
    while pos < t.size:
        stop = min(t.size, pos + int(rng.integers(1, 40)))
        ev = np.zeros((EV_ROWS, L.EV_N))
        g = gyr[pos:stop] if gyro else gyr
        done, n_ev = _run_chunk(prm, fs, ist, hist, t[pos:stop], acc[pos:stop], g, theta[pos:stop], ev)
        assert done == stop - pos
        events.append(ev[:n_ev])
        pos = stop
    np.testing.assert_array_equal(theta, whole["theta"])
    np.testing.assert_array_equal(np.concatenate(events), whole["ev"])
    for key, arr in (("fs", fs), ("ist", ist), ("hist", hist)):
        np.testing.assert_array_equal(arr, whole[key])


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_full_event_buffer_stops_early_and_resumes(fn) -> None:
    t, acc, gyr = _recording(True, seed=2, scenario="gaps")
    state = _state(True, **SCENARIO_SETTINGS)
    whole = _run(fn, state, t, acc, gyr)
    prm, fs, ist, hist = copies(*state)
    theta = np.full(t.size, -999.0)
    events = []
    pos = 0
    calls = 0
    while pos < t.size:
        ev = np.zeros((6, L.EV_N))  # room for 2 rows before "nearly full"
        done, n_ev = fn(prm, fs, ist, hist, t[pos:], acc[pos:], gyr[pos:], theta[pos:], ev)
        events.append(ev[:n_ev].copy())
        pos += done
        calls += 1
    assert calls > 1
    np.testing.assert_array_equal(theta, whole["theta"])
    np.testing.assert_array_equal(np.concatenate(events), whole["ev"])
    np.testing.assert_array_equal(fs, whole["fs"])


# ---------------------------------------------------------------------------
# timeline reconstruction
# ---------------------------------------------------------------------------


def _static(n: int, gyro: bool = True):
    acc = np.tile(synth.DEFAULT_FRAME[:, 0], (n, 1))
    return acc, np.zeros((n, 3)) if gyro else np.zeros((0, 3))


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_timeline_rounds_late_rows_to_the_nearest_sample(fn) -> None:
    # Row 1 is 1.4 periods after row 0: still the next sample.  Row 2 comes
    # 1.6 periods after that: one sample is missing (bridged, 10 ms lost).
    t = np.array([0.0, 0.014, 0.030, 0.040])
    acc, gyr = _static(4)
    r = _run(fn, _state(True), t, acc, gyr)
    assert r["ist"][L.I_GAPS] == 1
    assert r["ist"][L.I_SAMPLE] == 5  # four rows and one bridged sample
    assert r["fs"][L.F_LOST_S] == pytest.approx(PERIOD, rel=1e-2)
    assert r["ev"][:, L.EV_KIND].tolist() == [L.EV_GAP]
    assert r["ev"][0, 3] == 1.0
    cap = int(r["ist"][L.I_CAP])
    assert r["hist"][2 % cap, L.H_FLAG] == 1.0  # the bridged sample is flagged
    assert r["hist"][[0, 1, 3, 4], L.H_FLAG].tolist() == [0.0] * 4


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_timeline_pll_tracks_clock_drift(fn) -> None:
    n = 2000
    true_period = PERIOD * 1.002  # the sensor's clock runs 0.2 % slow
    t = 50.0 + true_period * np.arange(n)
    acc, gyr = _static(n)
    r = _run(fn, _state(True), t, acc, gyr)
    assert r["fs"][L.F_PERIOD] == pytest.approx(true_period, rel=1e-5)
    assert r["ist"][L.I_GAPS] == 0
    assert r["fs"][L.F_T_HAT] == pytest.approx(t[-1], abs=1e-5)


def test_timeline_pll_attenuates_jitter() -> None:
    n = 3000
    grid = 50.0 + PERIOD * np.arange(n)
    rng = np.random.default_rng(11)
    t = grid + rng.uniform(-0.3, 0.3, n) * PERIOD
    acc, gyr = _static(n)
    r = _run(_run_chunk, _state(True), t, acc, gyr)
    cap = int(r["ist"][L.I_CAP])
    rebuilt = np.array([r["hist"][i % cap, L.H_TIME] for i in range(n - 1000, n)])
    raw_err = np.std(t[-1000:] - grid[-1000:])
    rebuilt_err = np.std(rebuilt - grid[-1000:])
    assert rebuilt_err < 0.5 * raw_err
    assert r["ist"][L.I_GAPS] == 0


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
@pytest.mark.parametrize(
    ("gap_rows", "max_interp_s", "bridged"),
    [(10, 0.25, True), (24, 0.25, True), (26, 0.25, False), (40, 0.5, True), (200, 0.25, False)],
)
def test_gap_bridged_up_to_max_interp(fn, gap_rows: int, max_interp_s: float, bridged: bool) -> None:
    # gap_rows missing samples at 100 Hz, 20 rows before the end of a static recording.
    n = 300 + gap_rows
    t = 10.0 + PERIOD * np.arange(n)
    keep = np.ones(n, bool)
    keep[280 : 280 + gap_rows] = False
    acc, gyr = _static(n)
    r = _run(fn, _state(True, max_interp_gap_s=max_interp_s), t[keep], acc[keep], gyr[keep])
    assert r["ist"][L.I_GAPS] == 1
    assert r["fs"][L.F_LOST_S] == pytest.approx(gap_rows * PERIOD, rel=1e-9)
    gap = r["ev"][0]
    assert gap[L.EV_KIND] == L.EV_GAP
    assert gap[1] == pytest.approx(t[279], abs=1e-9)
    assert gap[2] == t[280 + gap_rows]
    assert gap[3] == (1.0 if bridged else 0.0)
    assert r["ist"][L.I_SAMPLE] == (n if bridged else n - gap_rows)
    # After a gap longer than _REANCHOR_GAP_S the tilt filter re-anchors fast.
    reanchoring = gap_rows * PERIOD > kr._REANCHOR_GAP_S
    assert (r["fs"][L.F_FAST_S] > 0.0) == reanchoring
    np.testing.assert_allclose(r["theta"], 0.0, atol=1e-9)


# ---------------------------------------------------------------------------
# clip counting
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_clip_plateau_on_one_axis_counts_every_row(fn) -> None:
    acc, gyr = _static(200)
    acc[100:105, 0] = 4.0  # five rows stuck at +4 g
    acc[150, 1] = -8.0  # a single row at a range value is not a plateau
    t = PERIOD * np.arange(200)
    r = _run(fn, _state(True), t, acc, gyr)
    assert r["ist"][L.I_CLIPPED] == 5
    cap = int(r["ist"][L.I_CAP])
    # Rows 101..104 were known to be clipped when they arrived and are flagged.
    assert [r["hist"][i % cap, L.H_FLAG] for i in range(99, 106)] == [0, 0, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_clip_known_range_counts_full_scale_rows(fn) -> None:
    acc, gyr = _static(100)
    acc[[10, 20, 21], 2] = 7.99  # within 0.2 % of the 8 g range
    acc[30, 2] = 7.9  # not at full scale
    r = _run(fn, _state(True, acc_range_g=8.0), PERIOD * np.arange(100), acc, gyr)
    assert r["ist"][L.I_CLIPPED] == 3


def test_clip_plateau_on_two_axes_counts_each_row_once() -> None:
    acc, gyr = _static(200)
    acc[100:105, 0] = 4.0
    acc[100:105, 1] = -4.0
    t = PERIOD * np.arange(200)
    assert _run(naive.run_chunk, _state(True), t, acc, gyr)["ist"][L.I_CLIPPED] == 5
    assert _run(_run_chunk, _state(True), t, acc, gyr)["ist"][L.I_CLIPPED] == 5


def test_nan_row_angle_is_nan_and_first_row_starts_the_timeline() -> None:
    acc, gyr = _static(10)
    acc[0] = np.nan
    gyr[5, 2] = np.nan
    t = 3.0 + PERIOD * np.arange(10)
    for fn in (_run_chunk, naive.run_chunk):
        r = _run(fn, _state(True), t, acc, gyr)
        assert math.isnan(r["theta"][0]) and math.isnan(r["theta"][5])
        assert np.all(np.abs(np.delete(r["theta"], [0, 5])) < 1e-9)
        cap = int(r["ist"][L.I_CAP])
        assert r["hist"][0 % cap, L.H_TIME] == t[1]  # the first valid row starts the timeline
        # A dropped row is a missing sample: bridged, one gap.
        assert r["ist"][L.I_GAPS] == 1 and r["ist"][L.I_SAMPLE] == 9

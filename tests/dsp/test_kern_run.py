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
from pathlib import Path

import naive
import numpy as np
import pytest
import synth
from kit import EV_ROWS, assert_slots_close, copies, kernel_arrays, run_numba_script

from hipflex.dsp import Settings
from hipflex.dsp import _kern_run as kr
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_run import _finish, _run_chunk
from hipflex.dsp._precompile import GROUPS

FS_HZ = 100.0
PERIOD = 1.0 / FS_HZ


def _state(gyro: bool, **settings: float | None):
    return kernel_arrays(Settings(**settings), gyro, synth.DEFAULT_FRAME, PERIOD)


# Bridge gaps up to 0.5 s (with and without gyro); hold the rotation over bridges
# longer than _REANCHOR_GAP_S.
SCENARIO_SETTINGS = {"max_interp_gap_s": 0.5, "max_bridge_gyro_s": 0.5}


def _run(fn, state, t, acc, gyr, ev_rows: int = EV_ROWS):
    prm, fstate, ist, hist = copies(*state)
    theta = np.full(t.shape[0], -999.0)
    ev = np.zeros((ev_rows, L.EV_N))
    done, n_ev = fn(prm, fstate, ist, hist, t, acc, gyr, theta, ev)
    return {
        "done": done,
        "ev": ev[:n_ev].copy(),
        "theta": theta,
        "prm": prm,
        "fstate": fstate,
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
    assert_slots_close(k["fstate"], tw["fstate"], "F_", rtol=RTOL, atol=ATOL)
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


@pytest.mark.slow
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
        n, done = fin(r["prm"], r["fstate"], r["ist"], r["hist"], ev)
        assert done
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
    for key in ("fstate", "ist", "hist"):
        np.testing.assert_array_equal(with_nan[key], dropped[key])


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_chunked_kernel_equals_one_call(gyro: bool) -> None:
    t, acc, gyr = _recording(gyro, seed=7, scenario="drift+jitter+gaps+nan")
    state = _state(gyro, **SCENARIO_SETTINGS)
    whole = _run(_run_chunk, state, t, acc, gyr)
    prm, fstate, ist, hist = copies(*state)
    theta = np.full(t.size, -999.0)
    events = []
    rng = np.random.default_rng(7)
    pos = 0
    while pos < t.size:
        stop = min(t.size, pos + int(rng.integers(1, 40)))
        ev = np.zeros((EV_ROWS, L.EV_N))
        g = gyr[pos:stop] if gyro else gyr
        done, n_ev = _run_chunk(prm, fstate, ist, hist, t[pos:stop], acc[pos:stop], g, theta[pos:stop], ev)
        assert done == stop - pos
        events.append(ev[:n_ev])
        pos = stop
    np.testing.assert_array_equal(theta, whole["theta"])
    np.testing.assert_array_equal(np.concatenate(events), whole["ev"])
    for key, arr in (("fstate", fstate), ("ist", ist), ("hist", hist)):
        np.testing.assert_array_equal(arr, whole[key])


@pytest.mark.slow
@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_full_event_buffer_stops_early_and_resumes(fn) -> None:
    t, acc, gyr = _recording(True, seed=2, scenario="gaps")
    state = _state(True, **SCENARIO_SETTINGS)
    whole = _run(fn, state, t, acc, gyr)
    prm, fstate, ist, hist = copies(*state)
    theta = np.full(t.size, -999.0)
    events = []
    pos = 0
    calls = 0
    while pos < t.size:
        ev = np.zeros((6, L.EV_N))  # room for 2 rows before "nearly full"
        done, n_ev = fn(prm, fstate, ist, hist, t[pos:], acc[pos:], gyr[pos:], theta[pos:], ev)
        events.append(ev[:n_ev].copy())
        pos += done
        calls += 1
    assert calls > 1
    np.testing.assert_array_equal(theta, whole["theta"])
    np.testing.assert_array_equal(np.concatenate(events), whole["ev"])
    np.testing.assert_array_equal(fstate, whole["fstate"])


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
    assert r["fstate"][L.F_LOST_S] == pytest.approx(PERIOD, rel=1e-2)
    assert r["ev"][:, L.EV_KIND].tolist() == [L.EV_GAP]
    assert r["ev"][0, 3] == 1.0
    cap = int(r["ist"][L.I_CAP])
    assert r["hist"][2 % cap, L.H_FLAG] == 1.0  # the bridged sample is flagged
    assert r["hist"][[0, 1, 3, 4], L.H_FLAG].tolist() == [0.0] * 4


@pytest.mark.slow
@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_timeline_pll_tracks_clock_drift(fn) -> None:
    n = 2000
    true_period = PERIOD * 1.002  # the sensor's clock runs 0.2 % slow
    t = 50.0 + true_period * np.arange(n)
    acc, gyr = _static(n)
    r = _run(fn, _state(True), t, acc, gyr)
    assert r["fstate"][L.F_PERIOD] == pytest.approx(true_period, rel=1e-5)
    assert r["ist"][L.I_GAPS] == 0
    assert r["fstate"][L.F_T_HAT] == pytest.approx(t[-1], abs=1e-5)


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
    [(8, 0.25, True), (24, 0.25, True), (26, 0.25, False), (40, 0.5, True), (200, 0.25, False)],
)
def test_gap_bridged_up_to_max_interp(fn, gap_rows: int, max_interp_s: float, bridged: bool) -> None:
    # gap_rows missing samples at 100 Hz, 20 rows before the end of a static recording.
    n = 300 + gap_rows
    t = 10.0 + PERIOD * np.arange(n)
    keep = np.ones(n, bool)
    keep[280 : 280 + gap_rows] = False
    acc, gyr = _static(n)
    r = _run(fn, _state(True, max_bridge_gyro_s=max_interp_s), t[keep], acc[keep], gyr[keep])
    assert r["ist"][L.I_GAPS] == 1
    assert r["fstate"][L.F_LOST_S] == pytest.approx(gap_rows * PERIOD, rel=1e-9)
    gap = r["ev"][0]
    assert gap[L.EV_KIND] == L.EV_GAP
    assert gap[1] == pytest.approx(t[279], abs=1e-9)
    assert gap[2] == t[280 + gap_rows]
    assert gap[3] == (1.0 if bridged else 0.0)
    assert r["ist"][L.I_SAMPLE] == (n if bridged else n - gap_rows)
    # A gap longer than _REANCHOR_GAP_S opens a post-gap window (still open
    # 0.2 s later) from the gap's first sample; the detector waits for it.
    window = gap_rows * PERIOD > kr._REANCHOR_GAP_S
    assert (r["fstate"][L.F_PG_S] > 0.0) == window
    if window:
        assert r["ist"][L.I_PG_GAP0] == 280
        assert r["ist"][L.I_PG_END] == (280 + gap_rows if bridged else 280)
        assert r["fstate"][L.F_PG_S] == pytest.approx(kr._PG_WINDOW_S + kr._PG_SEEK_S - 0.2, abs=1e-6)
        # The rows after the gap from the first (the thigh is still: a turn,
        # where the sum restarts); the sum is the trapezoid integral of the
        # force from that first row (the rate before it was not measured:
        # the lever point's velocity there is the chain's start): gravity
        # times the 19 periods since.
        assert r["fstate"][L.F_PG_CNT] == 20
        total = np.linalg.norm(r["fstate"][L.F_PG_SUM : L.F_PG_SUM + 3])
        assert total == pytest.approx(19.0 * PERIOD, rel=1e-6)
    assert r["ist"][L.I_DET] == (280 if window else r["ist"][L.I_SAMPLE])
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
    # Rows 101..104 were known to be clipped when they arrived and are flagged as clipped.
    c = L.H_FLAG_CLIPPED
    assert [r["hist"][i % cap, L.H_FLAG] for i in range(99, 106)] == [0, 0, c, c, c, c, 0]


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_clip_known_range_counts_full_scale_rows(fn) -> None:
    acc, gyr = _static(100)
    acc[[10, 20, 21], 2] = 7.99  # within 0.2 % of the 8 g range
    acc[30, 2] = 7.9  # not at full scale
    r = _run(fn, _state(True, acc_range_g=8.0), PERIOD * np.arange(100), acc, gyr)
    assert r["ist"][L.I_CLIPPED] == 3


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_full_scale_values_are_not_summed_in_a_post_gap_window(fn) -> None:
    # After a 0.4 s gap the gyro filter sums the specific force to re-anchor
    # "up" on, with no |f| gate.  Values at a standard range are bounds, not
    # values: not summed, whether or not they form a plateau (only the
    # plateau counts as clipped).  Before, the lone values and a plateau's
    # first row were summed as if the thigh accelerated at 4 g.
    n = 340
    t = 10.0 + PERIOD * np.arange(n)
    keep = np.ones(n, bool)
    keep[280:320] = False
    acc, gyr = _static(n)
    acc[325, 0] = 4.0  # lone full-scale values
    acc[330, 1] = -2.0
    acc[334:336, 2] = 8.0  # a two-row plateau
    r = _run(fn, _state(True, max_bridge_gyro_s=0.5), t[keep], acc[keep], gyr[keep])
    assert r["fstate"][L.F_PG_S] > 0.0  # the window is still open
    assert r["ist"][L.I_CLIPPED] == 2
    # 20 measured rows after the gap, 19 periods between them; the sum integrates the force over the
    # periods between two rows not at full scale: the lone values' and the plateau's neighbours drop 2 + 2 + 3.
    assert r["fstate"][L.F_PG_CNT] == 20
    assert np.linalg.norm(r["fstate"][L.F_PG_SUM : L.F_PG_SUM + 3]) == pytest.approx(12.0 * PERIOD, rel=1e-6)


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


# ---------------------------------------------------------------------------
# post-gap windows (gyro): gaps longer than _REANCHOR_GAP_S
# ---------------------------------------------------------------------------

# Rows cut out of a 12 s, 100 Hz drill (peaks at rows 145, 285, 425, ..., 985):
# 0.40 s bridged (window 1); 0.30 s bridged 0.4 s later (ends window 1 early,
# opens window 2); one lost row inside window 2 (bridged inside it); 0.55 s
# bridged over the third rep's peak (window 3); 2.50 s, too long to bridge
# (interrupt, then window 4); 0.50 s bridged 0.5 s before the end (the stream
# ends inside window 5).
WINDOW_CUTS = [(150, 190), (230, 260), (300, 301), (420, 475), (600, 850), (1100, 1150)]


def _window_recording(gyro: bool, seed: int, extra: str = ""):
    rec = synth.record(
        synth.drill(7, start_s=1.0, period_s=1.4),
        12.0,
        FS_HZ,
        gyro=gyro,
        acc_noise_g=0.003,
        gyr_noise_dps=0.5,
        gyr_bias_dps=(0.3, -0.2, 0.1),
        seed=seed,
        t_origin=1000.0,
    )
    s = rec.samples
    t, acc = s.time_s.copy(), s.acc_g.copy()
    gyr = s.gyr_dps.copy() if gyro else np.zeros((0, 3))
    rng = np.random.default_rng(seed)
    # Always some jitter: with exact periods, sums of periods land on the
    # thresholds (0.5 s of rest, settle_s) and an ulp decides.
    t += rng.uniform(-0.2, 0.2, t.size) * PERIOD
    if "nan" in extra:
        rows = np.flatnonzero(rng.random(t.size) < 0.02)
        acc[rows, rng.integers(0, 3, rows.size)] = np.nan
    keep = np.ones(t.size, bool)
    for a, b in WINDOW_CUTS:
        keep[a:b] = False
    return t[keep], acc[keep], (gyr[keep] if gyro else gyr), rec


def _finish_all(fin, r: dict, ev_rows: int = EV_ROWS) -> np.ndarray:
    """Call a ``_finish`` implementation until it is done; the event rows of all calls."""
    rows = []
    for _ in range(1000):
        ev = np.zeros((ev_rows, L.EV_N))
        n, done = fin(r["prm"], r["fstate"], r["ist"], r["hist"], ev)
        rows.append(ev[:n].copy())
        if done:
            return np.concatenate(rows)
    raise AssertionError("_finish never done")


@pytest.mark.slow
@pytest.mark.parametrize("extra", ["", "nan"])
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_windows_match_twin(gyro: bool, extra: str) -> None:
    t, acc, gyr, _ = _window_recording(gyro, seed=21, extra=extra)
    state = _state(gyro)
    k = _run(_run_chunk, state, t, acc, gyr)
    tw = _run(naive.run_chunk, state, t, acc, gyr)
    _assert_same(k, tw)
    gaps = k["ev"][k["ev"][:, L.EV_KIND] == L.EV_GAP]
    cut = gaps[gaps[:, 2] - gaps[:, 1] > 0.25]
    assert cut[:, 3].tolist() == [1.0, 1.0, 1.0, 0.0, 1.0]
    if gyro:
        # The stream ends inside the last window: the detector still waits for it.
        assert k["fstate"][L.F_PG_S] > 0.0
        assert k["ist"][L.I_DET] == k["ist"][L.I_PG_GAP0] < k["ist"][L.I_SAMPLE]
    ev_k = _finish_all(_finish, k)
    ev_t = _finish_all(naive.finish, tw)
    assert ev_k.shape == ev_t.shape
    for a, b in zip(ev_k, ev_t, strict=True):
        assert_slots_close(a, b, "E_", rtol=RTOL, atol=ATOL)
    _assert_same(k, tw)
    assert k["fstate"][L.F_PG_S] == 0.0
    assert k["ist"][L.I_DET] == k["ist"][L.I_SAMPLE]
    # Seven reps: the 2.5 s cut swallows two; the one whose peak was lost in
    # the 0.55 s cut is found (with a gyro, at its height: the bridge is redrawn).
    ev = np.concatenate([k["ev"], ev_k])
    reps = ev[ev[:, L.EV_KIND] == L.EV_REP]
    assert reps.shape[0] == 5
    if gyro:
        assert reps[:, L.E_PEAK_DEG] == pytest.approx([70.0] * 5, abs=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_windows_row_by_row_with_a_tiny_event_buffer_equal_one_call(fn) -> None:
    # Room for 2 event rows per call, one row per call: the detector's catch-up
    # after a window fills the buffer, calls stop early (or before a gap row)
    # and resume; events, angles and state come out exactly as in one call.
    t, acc, gyr, _ = _window_recording(True, seed=22, extra="nan")
    state = _state(True)
    fin = _finish if fn is _run_chunk else naive.finish
    whole = _run(fn, state, t, acc, gyr)
    whole_ev = np.concatenate([whole["ev"], _finish_all(fin, whole)])
    prm, fstate, ist, hist = copies(*state)
    theta = np.full(t.size, -999.0)
    events = []
    pos = stalls = 0
    while pos < t.size:
        ev = np.zeros((6, L.EV_N))
        done, n_ev = fn(
            prm, fstate, ist, hist, t[pos : pos + 1], acc[pos : pos + 1], gyr[pos : pos + 1], theta[pos:], ev
        )
        assert n_ev > 0 or done == 1  # every call makes progress
        stalls += done == 0
        events.append(ev[:n_ev].copy())
        pos += done
    assert stalls > 0  # the buffer did run out before some rows
    events.append(_finish_all(fin, {"prm": prm, "fstate": fstate, "ist": ist, "hist": hist}, ev_rows=6))
    np.testing.assert_array_equal(np.concatenate(events), whole_ev)
    np.testing.assert_array_equal(theta, whole["theta"])
    for key, arr in (("fstate", fstate), ("ist", ist), ("hist", hist)):
        np.testing.assert_array_equal(arr, whole[key])
    assert (whole_ev[:, L.EV_KIND] == L.EV_REP).sum() == 5


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_lost_row_inside_a_window_is_bridged_without_ending_it(fn) -> None:
    # 0.4 s lost, then one row lost 0.1 s later: the window goes on (a window
    # ended after ten rows would re-anchor "up" on those alone).
    n = 350
    t = 10.0 + PERIOD * np.arange(n)
    keep = np.ones(n, bool)
    keep[200:240] = False
    keep[250] = False
    acc, gyr = _static(n)
    r = _run(fn, _state(True), t[keep], acc[keep], gyr[keep])
    assert r["ist"][L.I_GAPS] == 2
    assert r["ist"][L.I_PG_GAP0] == 200 and r["ist"][L.I_PG_END] == 240
    assert r["fstate"][L.F_PG_S] == pytest.approx(kr._PG_WINDOW_S + kr._PG_SEEK_S + 0.4 - 1.5, abs=1e-6)
    # Every row after the gap counts (row 250 bridged); summed: the periods
    # between two measured rows from the first (the two beside row 250 not).
    assert r["fstate"][L.F_PG_CNT] == n - 240
    total = np.linalg.norm(r["fstate"][L.F_PG_SUM : L.F_PG_SUM + 3])
    assert total == pytest.approx((n - 240 - 1 - 2) * PERIOD, rel=1e-6)
    cap = int(r["ist"][L.I_CAP])
    assert r["hist"][250 % cap, L.H_FLAG] == 1.0


def test_first_row_after_a_gap_is_not_summed() -> None:
    # 0.4 s lost in the middle of a fast swing (about 330 deg/s when the rows
    # come back).  The rate before the first row after the gap was not
    # measured: its tangential acceleration L*alpha is unknown (taken from the
    # held rate it would be ~10 g) and it must not enter the window's sum.
    bumps = [synth.Bump(1.0 + 1.2 * k, 0.3, 0.1, 0.4, 70.0) for k in range(5)]
    rec = synth.record(bumps, 8.0, FS_HZ, gyro=True, t_origin=50.0, acc_noise_g=0.003, gyr_noise_dps=0.5)
    s = rec.samples
    keep = np.ones(len(s), bool)
    keep[240:280] = False
    t, acc, gyr = s.time_s[keep], s.acc_g[keep], s.gyr_dps[keep]
    t = t + np.random.default_rng(3).uniform(-0.2, 0.2, t.size) * PERIOD  # no ties at thresholds
    results = [_run(fn, _state(True), t, acc, gyr) for fn in (_run_chunk, naive.run_chunk)]
    _assert_same(*results)
    r = results[0]
    cap = int(r["ist"][L.I_CAP])
    h = np.array([r["hist"][i % cap] for i in range(280, int(r["ist"][L.I_SAMPLE]))])
    truth = np.interp(h[:, L.H_TIME], s.time_s, rec.theta_deg)
    assert np.max(np.abs(h[:, L.H_THETA] - truth)) < 1.0


@pytest.mark.parametrize("fn", [_run_chunk, naive.run_chunk], ids=["kernel", "twin"])
def test_window_ends_early_to_stay_inside_a_short_history(fn) -> None:
    # history_s = 2 s: a 256-sample ring at 100 Hz.  A 1.5 s bridged gap would
    # open a 3 s window: the redraw would read samples the ring no longer
    # holds, and the detector (waiting for the window) would read rows that
    # newer ones overwrote.  The window ends after 256 / 16 samples instead;
    # the reps after the gap are all found, with their own angles.
    bumps = [synth.Bump(1.0 + 1.2 * k, 0.3, 0.1, 0.4, 60.0) for k in (0, 1, 4, 5, 6)]
    rec = synth.record(bumps, 9.0, FS_HZ, gyro=True, t_origin=50.0)
    s = rec.samples
    keep = np.ones(len(s), bool)
    keep[350:500] = False  # 3.5 .. 5.0 s, standing
    t, acc, gyr = s.time_s[keep], s.acc_g[keep], s.gyr_dps[keep]
    r = _run(fn, _state(True, history_s=2.0), t, acc, gyr)
    assert int(r["ist"][L.I_CAP]) == 256
    fin = _finish if fn is _run_chunk else naive.finish
    ev = np.concatenate([r["ev"], _finish_all(fin, r)])
    reps = ev[ev[:, L.EV_KIND] == L.EV_REP]
    assert reps[:, L.E_PEAK_DEG] == pytest.approx([60.0] * 5, abs=1.0)
    assert r["hist"][:, L.H_THETA].min() > -1.0 and r["hist"][:, L.H_THETA].max() < 61.0


def test_the_per_sample_kernels_count_no_references() -> None:
    # numba's reference counting put two atomic operations per array per
    # inlined helper into every sample (about two thirds of the loop's time);
    # the kernels of the main loop borrow their arrays instead (njit_borrowed).
    from numba.core.registry import CPUDispatcher

    from hipflex.dsp import _kern_censor, _kern_filters, _kern_gap, _kern_pendulum, _kern_rep_metrics, _kern_reps

    kernels = [
        obj
        for mod in (kr, _kern_reps, _kern_rep_metrics, _kern_filters, _kern_pendulum, _kern_gap, _kern_censor)
        for obj in vars(mod).values()
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod.__name__
    ]
    assert len(kernels) >= 25
    counted = [k.py_func.__name__ for k in kernels if k.targetoptions.get("_nrt", True)]
    assert counted == []


_TILT_CALLS = """
import json

from hipflex.dsp._precompile import GROUPS, compile_kernel

for group in ("step", "reps", "rep_ends", "entry"):
    for module, kernel, args in GROUPS[group]:
        compile_kernel(module, kernel, args)
from hipflex.dsp._kern_run import _run_chunk_gyro

(asm,) = _run_chunk_gyro.inspect_asm().values()
# (the filter's numba environment, a global, may stay declared; code that calls or defines it may not)
lines = [line.strip() for line in asm.splitlines() if "_tilt_step" in line and "NumbaEnv" not in line]
print(json.dumps({"lines": lines}))
"""


def test_the_main_loop_compiles_the_tilt_filter_once_and_llvm_inlines_it(tmp_path: Path) -> None:
    # numba's front end typed and lowered the inlined tilt filter again inside the main
    # loop (1.2 s of a first run's compile CPU); the loop calls the lock scan's copy,
    # compiled once, which LLVM inlines back (alwaysinline): no call per gyro row,
    # which cost the loop 5 % of its rows per second.
    from hipflex.dsp import _kern_filters

    assert kr._tilt_step_called is _kern_filters._tilt_step_called
    assert _kern_filters._tilt_step_called.targetoptions.get("forceinline")
    # The loop's machine code names no tilt filter: it was inlined, not called.
    assert run_numba_script(tmp_path, _TILT_CALLS, "fresh") == {"lines": []}


@pytest.mark.slow
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@pytest.mark.parametrize(
    ("gap_rows", "overrun", "turned"),
    [
        (3, False, False),
        (3, False, True),
        (30, False, False),
        (100, False, False),
        (500, False, False),
        (3, True, False),
    ],
    ids=["bridged", "turned", "held", "unbridged", "carried-or-long", "overrun"],
)
def test_open_gap_matches_twin(gyro: bool, gap_rows: int, overrun: bool, turned: bool) -> None:
    # The gap block of the main loop as its own kernel: from mid-rep (the detector holding
    # a rise), every kind of gap gives the twin's state, events and returns.
    state = _state(gyro, **SCENARIO_SETTINGS)
    t, acc, gyr = _recording(gyro, 3, "clean")
    mid = _run(_run_chunk, state, t[:230], acc[:230], gyr[:230] if gyro else gyr)
    base = (mid["prm"], mid["fstate"], mid["ist"], mid["hist"])
    t_hat = float(mid["fstate"][L.F_T_HAT])
    gap_s = gap_rows * PERIOD
    got = []
    for fn in (kr._open_gap, naive.open_gap):
        prm, fstate, ist, hist = copies(*base)
        ev = np.zeros((EV_ROWS, L.EV_N))
        out = fn(
            prm,
            fstate,
            ist,
            hist,
            ev,
            2,
            t_hat,
            t_hat + gap_s + PERIOD,
            PERIOD,
            gap_s,
            gap_rows + 1,
            overrun,
            turned,
            9.5,
        )
        got.append((out, ev[: out[0]].copy(), fstate, ist, hist))
    (k_out, k_ev, k_f, k_i, k_h), (w_out, w_ev, w_f, w_i, w_h) = got
    assert k_out[0] == w_out[0] and k_out[0] >= 3  # the gap's event at row 2 (and the detector's)
    assert k_out[2:] == w_out[2:]
    assert k_out[1] == pytest.approx(w_out[1], rel=0, abs=1e-12)
    for a, b in zip(k_ev[2:], w_ev[2:], strict=True):
        assert_slots_close(a, b, "E_", rtol=RTOL, atol=ATOL)
    assert_slots_close(k_f, w_f, "F_", rtol=RTOL, atol=ATOL)
    assert_slots_close(k_i, w_i, "I_", rtol=0, atol=0)
    np.testing.assert_allclose(k_h, w_h, rtol=RTOL, atol=ATOL)


def test_the_end_of_a_stream_is_python_calling_the_kernels() -> None:
    """``_finish`` is not a kernel of its own; its results are the twin's (above).

    Compiled, it linked ``_pg_finish``, ``_catch_up`` and ``_interrupt`` and had LLVM
    optimise and emit them again (~0.5 s of a first run's compile, in the main loop's
    group) for a few calls per stream.
    """
    from numba.core.registry import CPUDispatcher

    assert not isinstance(_finish, CPUDispatcher)
    assert all(name != "_finish" for rows in GROUPS.values() for _, name, _ in rows)


def _two_gap_swing(stop_s: float):
    """Ballistic swings at 100 Hz, +-2 g, rows lost 0.07-0.15 s and 0.19-0.27 s into the third; up to ``stop_s``."""
    bumps = [synth.Bump(1.0 + i * 0.6, 0.12, 0.0, 0.3, 70.0) for i in range(5)]
    s = synth.record(bumps, 4.0, FS_HZ, lever_m=0.35, offset_m=0.08, gyr_noise_dps=0.5, seed=4, t_origin=1000.0)
    assert s.samples.gyr_dps is not None
    rel = s.samples.time_s - 1000.0
    t0 = bumps[2].t0
    keep = ~(((rel > t0 + 0.07) & (rel < t0 + 0.15)) | ((rel > t0 + 0.19) & (rel < t0 + 0.27))) & (rel < stop_s)
    acc = np.clip(s.samples.acc_g, -2.0, 2.0)
    return s.samples.time_s[keep], acc[keep], s.samples.gyr_dps[keep], int(np.searchsorted(rel, t0 + 0.07))


@pytest.mark.parametrize("stop_s", [2.5, 4.0], ids=["inside", "after"])
def test_a_window_summing_stays_open_across_a_later_short_gap(stop_s: float) -> None:
    # The first gap spans the swing's turn (the rates either side differ in
    # sign: its turn is not known from them, the window's sum decides); the
    # second, 0.04 s later, turned over _BRIDGE_TURN_DEG too.  It is bridged
    # inside the first window, which may re-anchor by what both missed.
    t, acc, gyr, first = _two_gap_swing(stop_s)
    k = _run(_run_chunk, _state(True), t, acc, gyr)
    tw = _run(naive.run_chunk, _state(True), t, acc, gyr)
    _assert_same(k, tw)
    assert k["ist"][L.I_GAPS] == 2
    if stop_s < 3.0:
        assert k["fstate"][L.F_PG_S] > 0.0
        assert k["ist"][L.I_PG_GAP0] == first
        # Half of each bridge's turn (the gap times the larger rate either side).
        assert k["fstate"][L.F_PG_MAX_SHIFT] > 1.5 * kr._BRIDGE_TURN_DEG

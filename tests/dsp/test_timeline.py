"""The timeline: whatever the stamping, the count and the metrics do not notice.

Each timestamp model of the simulator (jitter to +-45 % of the period, phone
arrival-time bursts, clock drift, lost rows, duplicated and swapped rows) is
compared with the same session stamped cleanly: same reps, same metrics, the
sample rate within 1 %, no spurious gaps, and lost time as lost.  Also the
kernel against its twin, and chunking.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import naive_retime

from hipflex.dsp import Analysis, ImuSamples, Settings, analyze, finish, init_state, result, step
from hipflex.dsp._kern_time import _bootstrap_period, _median_head, _retime, _sort_head, new_timeline
from hipflex.dsp.timeline import _BOOT_JUMPS, _BOOT_ROWS, _BOOT_S, Timeline, _boot_row, retime
from hipflex.sensor.format_spec import validate_samples
from hipflex.sensor.sim.sensor import SensorModel
from hipflex.sensor.sim.simulate import Simulation, simulate_drill

FS_HZ = 100.0
SEED = 7
MODELS = {
    "uniform jitter 45 %": dict(jitter_kind="uniform", jitter_s=0.45 / FS_HZ, jitter_max_period=0.45),
    "gaussian jitter to 45 %": dict(jitter_s=0.2 / FS_HZ, jitter_max_period=0.45),
    "arrival bursts of 30-50 rows": dict(
        notify_rows=40, notify_rows_var=10, notify_latency_s=0.015, notify_spread_s=0.0005
    ),
    "equal stamps, bursts of 70 rows": dict(notify_rows=70, notify_latency_s=0.01),
    "arrival bursts, clock +100 ppm": dict(notify_rows=20, notify_latency_s=0.01, clock_drift_ppm=100.0),
    "arrival bursts, clock -100 ppm": dict(notify_rows=12, notify_latency_s=0.01, clock_drift_ppm=-100.0),
}


def _sim(gyro: bool, drill: str = "ballistic", **timing: object) -> Simulation:
    sensor = SensorModel(fs_hz=FS_HZ, has_gyro=gyro, time_offset_s=1000.0, **timing)  # type: ignore[arg-type]
    return simulate_drill(drill, fs_hz=FS_HZ, has_gyro=gyro, seed=SEED, n_sets=2, sensor=sensor)


def _clean(gyro: bool, drill: str = "ballistic", clock_drift_ppm: float = 0.0) -> Analysis:
    return analyze(_sim(gyro, drill, clock_drift_ppm=clock_drift_ppm).samples)


def _same_reps(got: Analysis, ref: Analysis, time_tol_s: float) -> None:
    assert got.rep_count == ref.rep_count
    assert [len(s.reps) for s in got.sets] == [len(s.reps) for s in ref.sets]
    for a, b in zip(got.reps, ref.reps, strict=True):
        assert a.peak_s == pytest.approx(b.peak_s, abs=time_tol_s)
        assert a.peak_flexion_deg == pytest.approx(b.peak_flexion_deg, abs=1.0)
        assert a.rom_deg == pytest.approx(b.rom_deg, abs=1.0)
        assert a.peak_flexion_velocity_dps == pytest.approx(b.peak_flexion_velocity_dps, rel=0.02)
        assert a.flexion_time_s == pytest.approx(b.flexion_time_s, abs=0.02)
    for a, b in zip(got.sets, ref.sets, strict=True):
        if b.cadence_rpm is not None:
            assert a.cadence_rpm == pytest.approx(b.cadence_rpm, rel=0.005)


@pytest.mark.slow
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@pytest.mark.parametrize("model", list(MODELS))
def test_timestamp_models_change_neither_the_count_nor_the_metrics(model: str, gyro: bool) -> None:
    timing = MODELS[model]
    got = analyze(_sim(gyro, **timing).samples)
    drift = float(timing.get("clock_drift_ppm", 0.0))  # type: ignore[arg-type]
    ref = _clean(gyro, clock_drift_ppm=drift)
    # A phone stamps on its own clock, so the device's drift shows in the rate.
    true_rate = FS_HZ * (1.0 + drift * 1e-6) if timing.get("notify_rows") else FS_HZ
    assert got.sample_rate_hz == pytest.approx(true_rate, rel=0.01)
    assert got.quality.gaps == 0 and got.quality.lost_s == 0.0
    # Arrival stamps are late by the latency: the whole time base may shift by it.
    _same_reps(got, ref, time_tol_s=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_real_loss_under_heavy_jitter_is_counted_as_lost(gyro: bool) -> None:
    timing = dict(MODELS["uniform jitter 45 %"], loss_fraction=0.02)
    sim = _sim(gyro, **timing)
    idx = sim.device_index
    assert idx is not None
    true_lost_s = (idx[-1] - idx[0] + 1 - idx.size) / FS_HZ
    got = analyze(sim.samples)
    assert true_lost_s > 0.5
    assert got.quality.lost_s == pytest.approx(true_lost_s, rel=0.03)
    assert got.sample_rate_hz == pytest.approx(FS_HZ, rel=0.01)
    ref = analyze(_sim(gyro, loss_fraction=0.02).samples)  # the same rows lost, clean stamps
    _same_reps(got, ref, time_tol_s=0.01)


def test_lost_notifications_of_arrival_stamped_rows_are_counted() -> None:
    # Whole notifications lost: their rows' time shows as a jump of the next
    # notification's stamps beyond the measured burst spread.
    n = 30
    sim = _sim(True, notify_rows=n, notify_latency_s=0.01)
    s = sim.samples
    notif = np.arange(len(s)) // n
    lost = np.isin(notif, [40, 41, 90, 150, 151, 152])
    cut = ImuSamples(s.time_s[~lost], s.acc_g[~lost], None if s.gyr_dps is None else s.gyr_dps[~lost])
    got = analyze(cut)
    assert got.quality.lost_s == pytest.approx(lost.sum() / FS_HZ, rel=0.05)
    # Each run is found; a part hidden in the burst spread is found a block later.
    assert 3 <= got.quality.gaps <= 6


@pytest.mark.slow
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_duplicated_and_swapped_rows_are_repaired_by_the_loader(gyro: bool) -> None:
    sim = _sim(gyro, duplicate_rows=3, swapped_pairs=3, **MODELS["gaussian jitter to 45 %"])
    s = sim.samples
    assert np.any(np.diff(s.time_s) < 0) and np.any(np.diff(s.time_s) == 0)
    loaded = validate_samples("sim", s.time_s, s.acc_g, s.gyr_dps)
    assert len(loaded) == len(s) - 3
    got = analyze(loaded)
    assert got.quality.gaps == 0
    _same_reps(got, _clean(gyro), time_tol_s=0.01)


@pytest.mark.parametrize("model", ["uniform jitter 45 %", "equal stamps, bursts of 70 rows"])
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_any_chunking_of_bursty_or_jittery_stamps_gives_the_batch_result(model: str, data: st.DataObject) -> None:
    s = _SHORT[model]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(s) - 1), max_size=30))))
    cfg = Settings()
    state = init_state(cfg, s.has_gyro)
    for a, b in zip([0, *cuts], [*cuts, len(s)], strict=True):
        state, _ = step(cfg, state, s.slice(a, b))
    state, _ = finish(cfg, state)
    assert result(cfg, state) == _SHORT_BATCH[model]


def _short(model: str) -> ImuSamples:
    s = _sim(True, drill="march", **MODELS[model]).samples
    return s.slice(0, min(len(s), 3000))


_SHORT = {m: _short(m) for m in ("uniform jitter 45 %", "equal stamps, bursts of 70 rows")}
_SHORT_BATCH = {m: analyze(s) for m, s in _SHORT.items()}


@pytest.mark.parametrize("seed", range(6))
def test_retime_kernel_matches_its_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    period = 1.0 / rng.choice([25.0, 100.0, 200.0])
    t = 5.0 + period * np.arange(n)
    if seed % 2:
        t = t + rng.uniform(-0.45, 0.45, n) * period
    else:
        size = int(rng.integers(10, 70))
        t = t[np.minimum(n - 1, (np.arange(n) // size + 1) * size - 1)] + rng.uniform(0, 2 * period)
        t = np.maximum.accumulate(t)
    keep = rng.random(n) > 0.01
    t = np.ascontiguousarray(t[keep])
    p0 = _bootstrap_period(t[:400], np.arange(400.0))
    assert p0 == pytest.approx(period, rel=0.03)
    ts_fast, ts_slow = new_timeline(p0, 2 * period, 256, 0.1 * period), None
    ts_slow = ts_fast.copy()
    out_fast, out_slow = np.empty(t.size), np.empty(t.size)
    _retime(ts_fast, t, out_fast)
    naive_retime(ts_slow, t, out_slow)
    np.testing.assert_allclose(out_fast, out_slow, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ts_fast, ts_slow, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_small_sort_and_median_give_numpys_values_exactly(seed: int) -> None:
    # The timeline's own insertion sort replaced np.sort / np.median (compile time);
    # the order statistics must be numpy's to the bit, ties and infinities included.
    rng = np.random.default_rng(seed)
    for n in range(1, 33):
        v = np.round(rng.normal(0.01, 0.001, 40), 4 + seed)  # rounding makes ties
        if seed == 3:
            v[rng.integers(0, 40, 3)] = np.inf
            v[rng.integers(0, 40, 2)] = -np.inf
        head = v[:n].copy()
        w = v.copy()
        _sort_head(w, n)
        assert np.array_equal(w[:n], np.sort(head))
        assert np.array_equal(w[n:], v[n:])  # beyond n untouched
        m = v.copy()
        assert _median_head(m, n) == np.median(head)
        # Found by ranks, not by sorting: the timeline's scratch slopes stay as they were.
        assert np.array_equal(m, v)


def test_all_rows_at_one_time_is_an_error() -> None:
    s = ImuSamples(np.zeros(50), np.tile([0.0, 0.0, 1.0], (50, 1)), None)
    with pytest.raises(ValueError, match="carry the same time"):
        retime(Timeline(), s, final=True)


def test_retimed_grid_is_strictly_increasing_and_keeps_every_row() -> None:
    s = _SHORT["equal stamps, bursts of 70 rows"]
    tl, out = retime(Timeline(), s, final=True)
    assert len(out) == len(s)
    assert np.all(np.diff(out.time_s) > 0)
    assert tl.period_s == pytest.approx(1.0 / FS_HZ, rel=1e-3)
    assert tl.lost_s == 0.0
    # Each row on the grid lies within a notification (70 rows) of its stamp.
    assert np.all(np.abs(out.time_s - s.time_s) < 71 / FS_HZ)


def test_a_stream_that_ends_after_one_row_finishes_without_an_error() -> None:
    # A live session stopped right after its first notification row.
    settings = Settings()
    state = init_state(settings, has_gyro=True)
    state, _ = step(settings, state, ImuSamples(np.array([0.005]), np.array([[0.0, 0.0, 1.0]]), np.zeros((1, 3))))
    state, _ = finish(settings, state)
    assert result(settings, state).rep_count == 0


def _boot_row_whole(t: np.ndarray) -> int:
    """The bootstrap row found over the whole array at once (``_boot_row`` searches growing prefixes)."""
    if t.size < _BOOT_ROWS:
        return -1
    longest = np.maximum.accumulate(np.concatenate(([0.0], np.diff(t))))
    span = t - t[0]
    ok = np.flatnonzero((span >= _BOOT_S) & (span >= _BOOT_JUMPS * longest))
    ok = ok[ok >= _BOOT_ROWS - 1]
    return int(ok[0]) if ok.size else -1


@pytest.mark.parametrize("pause_s", [1.0, 5.0, 20.0, 50.0, 200.0])
def test_boot_row_searched_in_prefixes_is_the_first_row_over_the_whole_stamps(pause_s: float) -> None:
    # A pause in the stamps after row 100 pushes the bootstrap row (a span of
    # 16 pauses) past the first prefixes, or past the end (-1 for 200 s):
    # the prefix search must find the row the whole-array search finds.
    t = np.arange(80_000) / FS_HZ
    t[100:] += pause_s
    assert _boot_row(t) == _boot_row_whole(t)
    assert _boot_row(t[:3000]) == _boot_row_whole(t[:3000])
    assert _boot_row(t[:150]) == -1

"""Peak flexion velocity from a gyro's samples (``_kern_rep_metrics._sampled_peak_rate``).

A gyro sample is the rate averaged over its sample period.  A swing whose
rate peak is about as narrow as the period (a ballistic rise at 12.5 Hz) is
read far below its top by the largest sample, and at high rates the largest
of many noisy samples near a broad top reads above it.  These tests sample
swings of known peak rate exactly as such a sensor would (the average rate
over a period is the angle change across it over the period) at several
sample phases, and compare the kernel, its twin and the old reading (the
parabola through the top three samples, which the kernel still gives
without a gyro).
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest

from hipflex.dsp import _layout as L
from hipflex.dsp._kern_rep_metrics import _rep_metrics

PHASES = np.linspace(0.0, 1.0, 8, endpoint=False)


def _min_jerk_angle(t: np.ndarray, t0: float, dur: float, rom: float) -> np.ndarray:
    s = np.clip((t - t0) / dur, 0.0, 1.0)
    return rom * (10 * s**3 - 15 * s**4 + 6 * s**5)


def _raised_cosine_angle(t: np.ndarray, t0: float, dur: float, rom: float) -> np.ndarray:
    s = np.clip((t - t0) / dur, 0.0, 1.0)
    return rom * (s - np.sin(2 * np.pi * s) / (2 * np.pi))


def _swing(shape, rise_s: float, rom: float):
    """Angle of a rise from rest to rest, a short hold, and a slower return; its true peak rate."""

    def angle(t: np.ndarray) -> np.ndarray:
        return shape(t, 0.0, rise_s, rom) - shape(t, rise_s + 0.05, 1.5 * rise_s, rom)

    dense = np.linspace(0.0, rise_s, 20001)
    peak_rate = float(np.max(np.gradient(angle(dense), dense)))
    return angle, peak_rate


def _one_rep(
    t: np.ndarray, th: np.ndarray, rate: np.ndarray, gyro: bool
) -> tuple[np.ndarray, int, int, int, int, np.ndarray]:
    """A kernel history of one swing (low before t = 0, its top, the trough after) and the metrics' parameters.

    Returns ``(hist, cap, low, peak, trough, prm)``: rows, capacity and row indices as ``_rep_metrics`` takes them.
    """
    n = t.size
    cap = 1 << math.ceil(math.log2(n + 1))
    hist = np.zeros((cap, L.H_N))
    hist[:n, L.H_THETA] = th
    hist[:n, L.H_VEL] = rate
    hist[:n, L.H_TIME] = t
    low = int(np.searchsorted(t, 0.0)) - 1
    peak = low + int(np.argmax(th[low:]))
    trough = peak + int(np.argmin(th[peak:]))
    prm = np.zeros(L.P_N)
    prm[L.P_ONSET_FRAC] = 0.05
    prm[L.P_HOLD_BAND] = 10.0
    prm[L.P_HAS_GYRO] = 1.0 if gyro else 0.0
    return hist, cap, low, peak, trough, prm


def _sampled_reading(angle, fs_hz: float, phase: float, gyro: bool, noise_dps: float = 0.0, seed: int = 0) -> float:
    """Sample the swing as a gyro would (one-period averages) and read its peak velocity."""
    period = 1.0 / fs_hz
    t = -1.0 + (phase + np.arange(int(4.0 * fs_hz))) * period
    th = angle(t)
    rate = (angle(t + period / 2) - angle(t - period / 2)) / period
    rate = rate + noise_dps * np.random.default_rng(seed).standard_normal(t.size)
    hist, cap, low, peak, trough, prm = _one_rep(t, th, rate, gyro)
    row = np.zeros(L.EV_N)
    _rep_metrics(prm, hist, cap, low, th[low], peak, trough, th[trough], L.H_THETA, L.H_VEL, row)
    twin = np.zeros(L.EV_N)
    naive.rep_metrics(prm, hist, cap, low, th[low], peak, trough, th[trough], L.H_THETA, L.H_VEL, twin)
    assert row[L.E_PEAK_VEL] == pytest.approx(twin[L.E_PEAK_VEL], rel=1e-7)
    return float(row[L.E_PEAK_VEL])


@pytest.mark.parametrize("shape", [_min_jerk_angle, _raised_cosine_angle], ids=["min-jerk", "raised-cosine"])
def test_a_rise_two_periods_long_at_12_5_hz_is_read_at_its_top(shape) -> None:
    # A 0.3 s rise of 70 deg sampled every 80 ms: the samples straddle the top.
    angle, true_dps = _swing(shape, 0.3, 70.0)
    err = np.array([_sampled_reading(angle, 12.5, ph, gyro=True) / true_dps - 1 for ph in PHASES])
    old = np.array([_sampled_reading(angle, 12.5, ph, gyro=False) / true_dps - 1 for ph in PHASES])
    assert np.all(old < -0.04)  # the top three samples' parabola: 5-12 % low at every phase
    assert np.mean(np.abs(err)) < 0.03
    assert np.max(np.abs(err)) < 0.08


@pytest.mark.parametrize("shape", [_min_jerk_angle, _raised_cosine_angle], ids=["min-jerk", "raised-cosine"])
def test_a_ballistic_rise_one_period_wide_is_not_read_a_quarter_low(shape) -> None:
    # A 0.15 s rise (~800 deg/s) at 12.5 Hz: one sample holds most of it.  Which
    # part of the pulse a sample's window covers is unknown to within a period,
    # so single readings stay uncertain (+-25 %); on average over the phase
    # they must not be biased, where the largest sample reads 20-50 % low.
    angle, true_dps = _swing(shape, 0.15, 64.0)
    err = np.array([_sampled_reading(angle, 12.5, ph, gyro=True) / true_dps - 1 for ph in PHASES])
    old = np.array([_sampled_reading(angle, 12.5, ph, gyro=False) / true_dps - 1 for ph in PHASES])
    assert np.mean(old) < -0.2
    assert abs(np.mean(err)) < 0.06
    assert np.max(np.abs(err)) < 0.3


def test_a_broad_top_at_400_hz_is_not_read_at_its_noise_peak() -> None:
    # A slow 0.8 s rise (~170 deg/s) with 1.5 deg/s of white noise: the largest of
    # the ~60 samples within 2 % of the top reads about 2 sigma above it.
    angle, true_dps = _swing(_min_jerk_angle, 0.8, 70.0)
    new = [_sampled_reading(angle, 400.0, 0.3, True, 1.5, seed) / true_dps - 1 for seed in range(12)]
    old = [_sampled_reading(angle, 400.0, 0.3, False, 1.5, seed) / true_dps - 1 for seed in range(12)]
    assert np.mean(old) > 0.01
    assert abs(np.mean(new)) < 0.003


@pytest.mark.parametrize("fs_hz", [12.5, 25.0, 52.0, 104.0])
def test_well_sampled_and_coarse_peaks_match_the_twin(fs_hz: float) -> None:
    # _sampled_reading asserts kernel == twin; here over rates and phases with noise.
    angle, _ = _swing(_raised_cosine_angle, 0.25, 60.0)
    for i, ph in enumerate(PHASES):
        _sampled_reading(angle, fs_hz, ph, True, 2.0, seed=i)


def test_without_a_gyro_the_reading_is_unchanged() -> None:
    # The accelerometer-only rate columns are a filter's estimate, not period
    # averages: they keep the parabola through the top three samples.
    angle, _ = _swing(_min_jerk_angle, 0.3, 70.0)
    period = 0.08
    t = -1.0 + np.arange(50) * period
    rate = (angle(t + period / 2) - angle(t - period / 2)) / period
    got = _sampled_reading(angle, 12.5, 0.0, gyro=False)
    lo = int(np.searchsorted(t, 0.0)) - 1
    best = lo + int(np.argmax(rate[lo : lo + 8]))
    assert got == pytest.approx(naive.parabolic(rate[best - 1], rate[best], rate[best + 1])[1], rel=1e-12)


def _march_angle(t: np.ndarray) -> np.ndarray:
    """A march-like swing: one cosine cycle of 70 deg in 0.9 s, turning at its top without a dwell."""
    return 35.0 * (1.0 - np.cos(2.0 * np.pi * np.clip(t, 0.0, 0.9) / 0.9))


def _filter_peak(angle, fs_hz: float, phase: float, gyro: bool, bridged: int = -1, min_rom: float = 0.0) -> float:
    """Sample a swing as a gyro would and read its peak angle from the angle the tilt filter integrates.

    The filter's angle at a row is the Adams-Moulton sum of the rates,
    (5 w_k + 8 w_k-1 - w_k-2) T / 12 (``_kern_filters``); ``bridged`` flags
    that many rows before the top as bridged.  The low is at 0 deg.
    """
    period = 1.0 / fs_hz
    t = -1.0 + (phase + np.arange(int(4.0 * fs_hz))) * period
    rate = (angle(t + period / 2) - angle(t - period / 2)) / period
    th = np.zeros_like(t)
    for k in range(2, t.size):
        th[k] = th[k - 1] + period * (5 * rate[k] + 8 * rate[k - 1] - rate[k - 2]) / 12
    hist, cap, low, peak, trough, prm = _one_rep(t, th, rate, gyro)
    if bridged >= 0:
        hist[peak - bridged, L.H_FLAG] = L.H_FLAG_BRIDGED
    prm[L.P_MIN_ROM] = min_rom
    row = np.zeros(L.EV_N)
    _rep_metrics(prm, hist, cap, low, th[low], peak, trough, th[trough], L.H_THETA, L.H_VEL, row)
    twin = np.zeros(L.EV_N)
    naive.rep_metrics(prm, hist, cap, low, th[low], peak, trough, th[trough], L.H_THETA, L.H_VEL, twin)
    assert row[L.E_PEAK_DEG] == pytest.approx(twin[L.E_PEAK_DEG], abs=1e-9)
    for slot in (L.E_START, L.E_PEAK_T, L.E_END, L.E_FLEX_T, L.E_HOLD, L.E_MEAN_VEL):
        assert row[slot] == pytest.approx(twin[slot], abs=1e-9)
    assert row[L.E_ROM] == pytest.approx(twin[L.E_ROM], abs=1e-9)
    return float(row[L.E_PEAK_DEG])


@pytest.mark.parametrize(
    ("swing", "fs_hz", "bound_deg"),
    [
        ("min-jerk", 12.5, 0.6),
        ("raised-cosine", 12.5, 0.6),
        ("march", 12.5, 0.1),
        ("min-jerk", 25.0, 0.15),
        ("raised-cosine", 25.0, 0.15),
    ],
)
def test_a_gyro_swing_peak_is_read_from_the_angles_between_the_rows(swing: str, fs_hz: float, bound_deg: float) -> None:
    # The rates' sums give the angles half a period after each row exactly;
    # the Adams-Moulton angle at a row misses a sharp top (a ballistic swing
    # at 12.5 Hz: 1.2-1.4 deg over the sample phases with the rows' parabola).
    angle = {
        "min-jerk": _swing(_min_jerk_angle, 0.3, 70.0)[0],
        "raised-cosine": _swing(_raised_cosine_angle, 0.3, 70.0)[0],
        "march": _march_angle,
    }[swing]
    dense = np.linspace(-1.0, 3.0, 400001)
    true_deg = float(np.max(angle(dense)))
    errors = [_filter_peak(angle, fs_hz, ph, True) - true_deg for ph in PHASES]
    assert np.mean(np.abs(errors)) < bound_deg


def test_a_gyro_peak_beside_a_bridged_row_keeps_the_rows_parabola() -> None:
    # A bridged row's rate is the bridge's, not a period's average: no sum there.
    angle = _swing(_raised_cosine_angle, 0.3, 70.0)[0]
    for ph in PHASES:
        assert _filter_peak(angle, 12.5, ph, True, bridged=1) == _filter_peak(angle, 12.5, ph, False, bridged=1)


def test_a_gyro_peak_keeps_the_rows_levels_and_a_rom_the_detector_took() -> None:
    # The midpoints' peak changes the reported peak and ROM only: the onset,
    # the 10-90 % times and the hold stay the rows' (a level above every row
    # put the 90 % crossing past the peak on a hostile input), and a rep whose
    # rows' ROM clears min_rom_deg is not pushed under it.
    angle = _swing(_min_jerk_angle, 0.3, 70.0)[0]
    ph = PHASES[2]  # the rows' parabola reads ~1.9 deg over the midpoints' here
    rows = _filter_peak(angle, 12.5, ph, False)
    mid = _filter_peak(angle, 12.5, ph, True)
    assert mid < rows - 1.0
    assert _filter_peak(angle, 12.5, ph, True, min_rom=0.5 * (mid + rows)) == rows

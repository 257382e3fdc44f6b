"""The rep smoother ``_smooth_span`` (accelerometer only) against its twin, and what it is for.

Kernel and twin read the same filter history (the kernel's own, from a
simulated recording) and must write the same smoothed angle and rate
(``rtol=1e-9``, ``atol=1e-8``: the twin solves with numpy's LU, the kernel by
cofactors; the predicted covariance has a condition number near 1e6).
"""

from __future__ import annotations

import naive
import numpy as np
import pytest
import synth
from kit import EV_ROWS, copies, kernel_arrays

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_run import _run_chunk
from hipflex.dsp._kern_smooth import _smooth_span

FS_HZ = 25.0

# Ballistic swings: 0.2 s up to 60 deg and an abrupt stop, sampled at 25 Hz
# (five samples on the way up), which the filter overshoots.
SWINGS = [synth.Bump(t0=2.0 + 1.5 * i, rise_s=0.2, hold_s=0.3, fall_s=0.5, amp_deg=60.0) for i in range(4)]


def _filter_history(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, synth.Recording]:
    rec = synth.record(SWINGS, 8.5, FS_HZ, gyro=False, acc_noise_g=0.01, seed=seed)
    prm, fstate, ist, hist = kernel_arrays(Settings(), False, synth.DEFAULT_FRAME, 1.0 / FS_HZ)
    s = rec.samples
    theta = np.zeros(len(s))
    _run_chunk(prm, fstate, ist, hist, s.time_s, s.acc_g, np.zeros((0, 3)), theta, np.zeros((EV_ROWS, L.EV_N)))
    assert ist[L.I_SAMPLE] == len(s) < ist[L.I_CAP]
    return prm, hist, int(ist[L.I_CAP]), rec


@pytest.mark.parametrize("seed", range(4))
def test_smooth_span_matches_twin(seed: int) -> None:
    prm, hist, cap, rec = _filter_history(seed)
    rng = np.random.default_rng(seed)
    n = len(rec.samples)
    for _ in range(5):
        first = int(rng.integers(1, n // 2))
        last = int(rng.integers(first + 1, n))
        k, t = copies(hist, hist)
        _smooth_span(prm, k, cap, first, last)
        naive.smooth_span(prm, t, cap, first, last)
        np.testing.assert_allclose(k, t, rtol=1e-9, atol=1e-8)
        # Only the span's smoothed columns are written; the last row is its filtered state.
        untouched = np.ones(cap, bool)
        untouched[first : last + 1] = False
        np.testing.assert_array_equal(k[untouched], hist[untouched])
        np.testing.assert_array_equal(k[:, : L.H_STHETA], hist[:, : L.H_STHETA])
        assert k[last, L.H_STHETA] == pytest.approx(np.degrees(hist[last, L.H_X]), abs=1e-12)


def test_smoothing_corrects_the_filter_overshoot_at_an_abrupt_stop() -> None:
    prm, hist, cap, rec = _filter_history()
    n = len(rec.samples)
    _smooth_span(prm, hist, cap, 0, n - 1)
    t = rec.samples.time_s
    filt_err, smooth_err = [], []
    for b in SWINGS:
        rep = (t > b.t0 - 0.1) & (t < b.t0 + b.rise_s + b.hold_s + b.fall_s)
        filt_err.append(abs(hist[:n][rep, L.H_THETA].max() - b.amp_deg))
        smooth_err.append(abs(hist[:n][rep, L.H_STHETA].max() - b.amp_deg))
    # The filter overshoots each stop by several degrees; the smoother, which
    # sees the samples after the stop, lands much closer.
    assert min(filt_err) > 3.0
    assert np.mean(smooth_err) < 0.5 * np.mean(filt_err)


def test_a_singular_prediction_is_not_smoothed() -> None:
    prm, hist, cap, _ = _filter_history()
    hist[10:20, L.H_P : L.H_P + 6] = 0.0  # no uncertainty at all...
    hist[11:21, L.H_DT] = 0.0  # ...and no time to gain any: P^- = 0
    _smooth_span(prm, hist, cap, 5, 30)
    np.testing.assert_allclose(hist[10:20, L.H_STHETA], np.degrees(hist[10:20, L.H_X]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hist[10:20, L.H_SVEL], np.degrees(hist[10:20, L.H_X + 1]), rtol=0, atol=1e-12)
    assert np.all(np.isfinite(hist[5:31, L.H_STHETA]))

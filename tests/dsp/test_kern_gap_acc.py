"""The accelerometer-only post-gap window (``dsp/_kern_gap_acc.py``): the swing's phase after a bridged gap."""

from __future__ import annotations

import naive
import numpy as np
import pytest
import synth
from kit import EV_ROWS, assert_slots_close, copies, kernel_arrays

from hipflex.dsp import ImuSamples, Settings, analyze
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap_acc import _stride_rows
from hipflex.dsp._kern_run import _finish, _run_chunk

FS_HZ = 100.0
RTOL, ATOL = 1e-9, 1e-8


def _swinging(n_swings: int, duration_s: float) -> synth.Recording:
    """Back-to-back 60 deg swings every 0.8 s from 1 s on (a stride's rhythm), then standing."""
    bumps = [synth.Bump(1.0 + i * 0.8, 0.35, 0.0, 0.45, 60.0) for i in range(n_swings)]
    return synth.record(bumps, duration_s, FS_HZ, gyro=False, acc_noise_g=0.003, seed=3, t_origin=1000.0)


def _cut(rec: synth.Recording, first: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(rec.samples.time_s.size, bool)
    keep[first : first + rows] = False
    return rec.samples.time_s[keep].copy(), rec.samples.acc_g[keep].copy()


def _run_both(t: np.ndarray, acc: np.ndarray) -> tuple[dict, dict]:
    state = kernel_arrays(Settings(), False, synth.DEFAULT_FRAME, 1.0 / FS_HZ)
    out = []
    for run, fin in ((_run_chunk, _finish), (naive.run_chunk, naive.finish)):
        prm, fstate, ist, hist = copies(*state)
        theta = np.zeros(t.size)
        ev = np.zeros((EV_ROWS, L.EV_N))
        _, n_ev = run(prm, fstate, ist, hist, t, acc, np.zeros((0, 3)), theta, ev)
        g0, e0 = int(ist[L.I_PG_GAP0]), int(ist[L.I_PG_END])
        rows = [ev[:n_ev].copy()]
        ev2 = np.zeros((EV_ROWS, L.EV_N))
        n2, done = fin(prm, fstate, ist, hist, ev2)
        assert done
        rows.append(ev2[:n2].copy())
        out.append(
            {"theta": theta, "fstate": fstate, "ist": ist, "hist": hist, "ev": np.concatenate(rows), "gap": (g0, e0)}
        )
    return out[0], out[1]


def _assert_same(k: dict, tw: dict) -> None:
    np.testing.assert_allclose(k["theta"], tw["theta"], rtol=RTOL, atol=ATOL)
    assert_slots_close(k["fstate"], tw["fstate"], "F_", rtol=RTOL, atol=ATOL)
    assert_slots_close(k["ist"], tw["ist"], "I_", rtol=0, atol=0)
    np.testing.assert_allclose(k["hist"], tw["hist"], rtol=RTOL, atol=ATOL)
    assert k["ev"].shape == tw["ev"].shape
    for a, b in zip(k["ev"], tw["ev"], strict=True):
        assert_slots_close(a, b, "E_", rtol=RTOL, atol=ATOL)


def _copied_from_a_stride_before(r: dict) -> bool:
    """Whether the bridged rows of the window are the rows one swing (80 rows) earlier."""
    g0, e0 = r["gap"]
    cap = r["hist"].shape[0]
    return all(r["hist"][i % cap, L.H_THETA] == r["hist"][(i - 80) % cap, L.H_THETA] for i in range(g0, e0))


def test_the_stride_period_is_the_first_peak_of_the_angles_autocorrelation() -> None:
    rec = _swinging(14, 14.0)
    cap = 2048
    hist = np.zeros((cap, L.H_N_PENDULUM))
    hist[: rec.theta_deg.size, L.H_THETA] = rec.theta_deg
    end = 900  # 9 s: swinging for the 5 s the search reads
    assert _stride_rows(hist, cap, end, 1.0 / FS_HZ) == naive.stride_rows(hist, cap, end, 1.0 / FS_HZ) == 80
    # Standing still: no rhythm.
    hist[:, L.H_THETA] = np.random.default_rng(0).normal(0.0, 0.01, cap)
    assert _stride_rows(hist, cap, end, 1.0 / FS_HZ) == naive.stride_rows(hist, cap, end, 1.0 / FS_HZ) == 0
    # Too little history before the gap; no sample period yet.
    assert _stride_rows(hist, cap, 300, 1.0 / FS_HZ) == 0
    assert _stride_rows(hist, cap, end, 0.0) == naive.stride_rows(hist, cap, end, 0.0) == 0


@pytest.mark.parametrize("first", [900, 930, 960])
def test_a_gap_inside_a_rhythm_is_drawn_from_the_stride_before_and_matches_twin(first: int) -> None:
    # 0.4 s lost mid-swing in a steady rhythm: the rows a stride earlier fit
    # the measured rows after the gap better than the straight-line bridge.
    k, tw = _run_both(*_cut(_swinging(20, 18.0), first, 40))
    _assert_same(k, tw)
    assert k["gap"] == (first, first + 40)
    assert _copied_from_a_stride_before(k)
    assert k["ist"][L.I_DET] == k["ist"][L.I_SAMPLE]  # the detector read every row


def test_a_gap_as_the_swings_stop_keeps_the_bridge_and_matches_twin() -> None:
    # The thigh stops in the gap: a stride earlier it was swinging, and the
    # standing rows after the gap say so; the bridged run is kept.
    k, tw = _run_both(*_cut(_swinging(14, 16.0), 1215, 40))
    _assert_same(k, tw)
    assert k["gap"] == (1215, 1255)
    assert not _copied_from_a_stride_before(k)


@pytest.mark.parametrize("gap_start_s", [9.0, 9.2, 9.4, 9.8])
def test_a_rhythm_of_swings_loses_no_swing_to_a_half_second_gap(gap_start_s: float) -> None:
    # Sixteen 60 deg swings every 0.8 s at 50 Hz without a gyro; 0.5 s lost
    # in the middle.  The straight-line bridge left the filter half a swing
    # off after the gap and one swing was not counted.
    bumps = [synth.Bump(3.0 + i * 0.8, 0.35, 0.0, 0.45, 60.0) for i in range(16)]
    rec = synth.record(bumps, 18.0, 50.0, gyro=False, acc_noise_g=0.003, seed=3)
    t, acc = rec.samples.time_s, rec.samples.acc_g
    keep = (t < gap_start_s) | (t >= gap_start_s + 0.5)
    res = analyze(ImuSamples(t[keep], acc[keep], None), Settings())
    assert len(res.reps) == len(bumps)

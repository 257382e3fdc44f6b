"""Rep metrics, detector and interrupt kernels against their twins in ``tests/naive.py``.

Hand-made cases have metrics worked out by hand; seeded random histories
compare kernel and twin (``rtol=1e-9``: the same formulas, evaluated in a
different order).  The detector sees no NaN: ``_run_chunk`` drops NaN rows
before orientation (see ``test_kern_run.py``).
"""

from __future__ import annotations

import itertools
import math

import naive
import numpy as np
import pytest
from kit import assert_slots_close, kernel_arrays

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_rep_metrics import _parabolic, _rep_metrics
from hipflex.dsp._kern_reps import _MAX_RISE_S, _detect, _interrupt

FRAME = np.eye(3)[:, [2, 0, 1]]  # u = z, w = x, a = w x u = -y ... any orthonormal frame will do
FRAME[:, 2] = np.cross(FRAME[:, 1], FRAME[:, 0])


def _prm(onset: float = 0.05, band: float = 10.0) -> np.ndarray:
    prm = np.zeros(L.P_N)
    prm[L.P_ONSET_FRAC] = onset
    prm[L.P_HOLD_BAND] = band
    return prm


def _ring(theta, vel, time, flag=None, sigma=None, cap: int = 64, offset: int = 0) -> np.ndarray:
    """History ring holding plain arrays as processed samples ``offset, offset + 1, ...``."""
    n = len(theta)
    hist = np.full((cap, L.H_N), np.nan)  # unused slots must not be read
    cols = {
        L.H_THETA: theta,
        L.H_VEL: vel,
        L.H_TIME: time,
        L.H_FLAG: np.zeros(n) if flag is None else flag,
        L.H_SIGMA: np.zeros(n) if sigma is None else sigma,
    }
    for col, values in cols.items():
        for i in range(n):
            hist[(offset + i) % cap, col] = values[i]
    return hist


def _metrics(fn, prm, hist, cap, low, low_val, peak, trough, trough_val) -> np.ndarray:
    row = np.zeros(L.EV_N)
    fn(prm, hist, cap, low, low_val, peak, trough, trough_val, L.H_THETA, L.H_VEL, row)
    return row


# A triangular rep sampled every 0.1 s from t = 100 s (see the test for the hand calculation).
TRI_THETA = np.array([0, 0, 0, 10, 20, 30, 40, 30, 20, 10, 0, 0, 0], dtype=float)
TRI_VEL = np.array([0, 0, 50, 100, 100, 150, 50, -100, -100, -100, -100, 0, 0], dtype=float)
TRI_TIME = 100.0 + 0.1 * np.arange(TRI_THETA.size)


@pytest.mark.parametrize("offset", [0, 10, 60])  # 10 and 60: the rep wraps around the ring
@pytest.mark.parametrize("fn", [_rep_metrics, naive.rep_metrics], ids=["kernel", "twin"])
def test_metrics_of_a_triangular_rep_by_hand(fn, offset: int) -> None:
    cap = 16 if offset == 10 else 64
    hist = _ring(TRI_THETA, TRI_VEL, TRI_TIME, cap=cap, offset=offset)
    row = _metrics(fn, _prm(), hist, cap, offset + 2, 0.0, offset + 6, offset + 10, 0.0)
    assert row[L.EV_KIND] == L.EV_REP
    # Peak: the parabola through 30, 40, 30 has its vertex on the middle sample.
    assert row[L.E_PEAK_DEG] == pytest.approx(40.0, rel=1e-12)
    assert row[L.E_PEAK_T] == pytest.approx(100.6, rel=1e-12)
    assert row[L.E_ROM] == pytest.approx(40.0, rel=1e-12)
    assert row[L.E_LOW_DEG] == 0.0
    # Start: 5 % of the rise (2 deg) is crossed 0.2 of the way from sample 2 to 3.
    assert row[L.E_START] == pytest.approx(100.22, rel=1e-12)
    # 10 % (4 deg) at 100.24 s, 90 % (36 deg) 0.6 of the way from sample 5 to 6.
    assert row[L.E_FLEX_T] == pytest.approx(100.56 - 100.24, rel=1e-9)
    # Peak velocity: the largest rate from start to peak is 150 at sample 5 with
    # neighbours 100 and 50: vertex offset -1/6, value 150 + 25^2 / 300.
    assert row[L.E_PEAK_VEL] == pytest.approx(150 + 625 / 300, rel=1e-12)
    assert row[L.E_MEAN_VEL] == pytest.approx(40.0 / (100.6 - 100.22), rel=1e-9)
    # End: 2 deg above the trough is reached 0.8 of the way from sample 9 to 10.
    assert row[L.E_END] == pytest.approx(100.98, rel=1e-12)
    # Hold: within 10 deg of 40 from sample 5 to sample 7 (theta >= 30).
    assert row[L.E_HOLD] == pytest.approx(0.2, rel=1e-9)
    assert row[L.E_CONF] == 1.0


@pytest.mark.parametrize("fn", [_rep_metrics, naive.rep_metrics], ids=["kernel", "twin"])
def test_metrics_asymmetric_peak_and_confidence(fn) -> None:
    theta = TRI_THETA.copy()
    theta[7] = 36.0  # neighbours 30 and 36: vertex 3/14 sample after the peak sample
    flag = np.zeros(theta.size)
    flag[[3, 8]] = 1.0  # two bridged samples among the nine from start to end
    sigma = np.zeros(theta.size)
    sigma[6] = 3.0  # angle std 3 deg at the peak halves the confidence
    hist = _ring(theta, TRI_VEL, TRI_TIME, flag, sigma)
    row = _metrics(fn, _prm(), hist, 64, 2, 0.0, 6, 10, 0.0)
    d = 3.0 / 14.0
    assert row[L.E_PEAK_DEG] == pytest.approx(40.0 + 0.25 * 6.0 * d, rel=1e-12)
    assert row[L.E_PEAK_T] == pytest.approx(100.6 + 0.1 * d, rel=1e-12)
    assert row[L.E_CONF] == pytest.approx((1 - 2 / 9) / 2, rel=1e-12)


@pytest.mark.parametrize("fn", [_parabolic, naive.parabolic], ids=["kernel", "twin"])
def test_parabolic_vertex(fn) -> None:
    assert fn(1.0, 2.0, 1.0) == (0.0, 2.0)
    d, v = fn(30.0, 40.0, 36.0)
    assert d == pytest.approx(3 / 14, rel=1e-12)
    assert v == pytest.approx(40.0 + 1.5 * 3 / 14, rel=1e-12)
    assert fn(1.0, 0.0, 1.0) == (0.0, 0.0)  # convex: no vertex, the middle sample
    assert fn(10.0, 20.0, 30.0) == (0.0, 20.0)  # a straight line has no vertex either


def test_parabolic_value_lies_on_the_parabola_when_the_offset_is_clamped() -> None:
    # Through (-1, 160), (0, 150), (1, 0): y = -70 x^2 - 80 x + 150, vertex at x = -4/7,
    # outside the half-sample window; at the clamped offset -0.5 the parabola is 172.5.
    d, v = _parabolic(160.0, 150.0, 0.0)
    assert d == -0.5
    assert naive.parabolic(160.0, 150.0, 0.0) == (-0.5, 172.5)
    assert v == pytest.approx(172.5, rel=1e-12)


def _random_rep(rng: np.random.Generator, n: int = 120):
    """A noisy smooth rep with the indices the detector would hand to the metrics."""
    dt = rng.uniform(0.005, 0.04)
    t = 50.0 + dt * np.arange(n) + rng.normal(0, 0.05 * dt, n)
    x = np.arange(n)
    c0, c1 = rng.uniform(0.2, 0.4) * n, rng.uniform(0.55, 0.75) * n
    width = rng.uniform(0.04, 0.12) * n
    amp = rng.uniform(25, 120)
    theta = amp * (np.tanh((x - c0) / width) - np.tanh((x - c1) / width)) / 2
    theta += rng.normal(0, 0.3, n) + rng.uniform(-10, 10)
    vel = np.gradient(theta, t) + rng.normal(0, 2.0, n)
    low = 1 + int(np.argmin(theta[1 : int(c0)]))
    peak = low + 1 + int(np.argmax(theta[low + 1 : n - 2]))
    trough = peak + 1 + int(np.argmin(theta[peak + 1 :]))
    flag = (rng.random(n) < 0.1).astype(float)
    sigma = np.abs(rng.normal(0, 2, n))
    return theta, vel, t, flag, sigma, low, peak, trough


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_twin_on_random_reps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta, vel, t, flag, sigma, low, peak, trough = _random_rep(rng)
    cap, offset = 256, int(rng.integers(0, 1000))
    hist = _ring(theta, vel, t, flag, sigma, cap=cap, offset=offset)
    prm = _prm(onset=rng.uniform(0.02, 0.2), band=rng.uniform(3, 15))
    args = (prm, hist, cap, offset + low, theta[low], offset + peak, offset + trough, theta[trough])
    row_k = _metrics(_rep_metrics, *args)
    row_t = _metrics(naive.rep_metrics, *args)
    assert_slots_close(row_k, row_t, "E_", rtol=1e-9, atol=1e-9)
    assert row_k[L.E_START] < row_k[L.E_PEAK_T] < row_k[L.E_END]
    assert 0.0 <= row_k[L.E_CONF] <= 1.0


# ---------------------------------------------------------------------------
# the detector
# ---------------------------------------------------------------------------


def _detector_state(**changes: float):
    settings = Settings(**changes)
    return kernel_arrays(settings, True, FRAME, 0.01)


class _Feeder:
    """Feeds samples to a detector implementation the way ``_process`` does."""

    def __init__(self, fn, state) -> None:
        self.fn = fn
        self.prm, self.fstate, self.ist, self.hist = (np.array(a) for a in state)
        self.events: list[np.ndarray] = []

    def feed(self, theta: float, t: float, flag: float = 0.0) -> None:
        s = int(self.ist[L.I_SAMPLE])
        cap = int(self.ist[L.I_CAP])
        self.hist[s % cap, : L.H_N] = [theta, 0.0, t, flag, 0.0]
        if s > 0:  # a rate for the metrics: backward difference
            prev = self.hist[(s - 1) % cap]
            self.hist[s % cap, L.H_VEL] = (theta - prev[L.H_THETA]) / (t - prev[L.H_TIME])
        self.fstate[L.F_T_HAT] = t
        ev = np.zeros((8, L.EV_N))
        n = self.fn(self.prm, self.fstate, self.ist, self.hist, s, theta, ev, 0)
        self.events.extend(ev[:n].copy())
        self.ist[L.I_SAMPLE] = s + 1

    def kinds(self) -> list[int]:
        return [int(e[L.EV_KIND]) for e in self.events]


def _feed_both(thetas, dt: float = 0.01, t0: float = 10.0, **settings: float):
    state = _detector_state(**settings)
    k, tw = _Feeder(_detect, state), _Feeder(naive.detect, state)
    for i, th in enumerate(thetas):
        for f in (k, tw):
            f.feed(float(th), t0 + i * dt)
    assert len(k.events) == len(tw.events)
    for a, b in zip(k.events, tw.events, strict=True):
        assert_slots_close(a, b, "E_")
    assert_slots_close(k.fstate, tw.fstate, "F_")
    assert_slots_close(k.ist, tw.ist, "I_", rtol=0, atol=0)
    return k


def _ramp(a: float, b: float, n: int) -> np.ndarray:
    return np.linspace(a, b, n, endpoint=False)


def test_detect_one_rep_then_settle() -> None:
    # Samples every 10 ms from t = 10 s: 20 at 0, up 2 deg per sample to 60 (sample 50),
    # down 2 deg per sample to 0 (sample 80), then rest.
    thetas = np.concatenate([np.zeros(20), _ramp(0, 60, 30), _ramp(60, 0, 30), np.zeros(100)])
    state = _detector_state()
    k = _Feeder(_detect, state)
    for i, th in enumerate(thetas[:128]):
        k.feed(float(th), 10.0 + 0.01 * i)
    # Confirmed at sample 60 (40 deg, min_rom below the peak); not closed yet:
    # the trough (sample 80, 10.80 s) has not been the low for settle_s = 0.5 s.
    assert k.kinds() == [L.EV_PEAK]
    peak = k.events[0]
    assert peak[1] == pytest.approx(10.5)
    assert peak[2] == 60.0 and peak[3] == 60.0
    for i in range(128, 132):  # 0.5 s after the trough: sample 130 (+-1 for rounding of the times)
        k.feed(0.0, 10.0 + 0.01 * i)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]
    rep = k.events[1]
    assert rep[L.E_PEAK_T] == pytest.approx(10.5) and rep[L.E_ROM] == 60.0
    assert rep[L.E_START] == pytest.approx(10.215)  # 3 deg between samples 21 (2) and 22 (4)
    assert rep[L.E_END] == pytest.approx(10.785)  # 3 deg between samples 78 (4) and 79 (2)
    assert int(k.ist[L.I_PHASE]) == L.PHASE_SEEK
    # and the twin agrees over the whole sequence
    both = _feed_both(thetas)
    assert both.kinds() == [L.EV_PEAK, L.EV_REP]


@pytest.mark.parametrize("fn", [_detect, naive.detect], ids=["kernel", "twin"])
@pytest.mark.parametrize(
    ("gyro", "flag", "above_deg", "confirmed"),
    [
        (False, L.H_FLAG_BRIDGED, 5.0, False),  # without a gyro a bridged row is a guess: not read
        (False, L.H_FLAG_CLIPPED, 5.0, True),  # a clipped row was measured
        # With a gyro the bridge is the gyro's (redrawn after a window): a gap
        # that cut the top off a swing keeps its peak ...
        (True, L.H_FLAG_BRIDGED, 20.0, True),
        # ... but one that held its whole top half drew the hump itself.
        (True, L.H_FLAG_BRIDGED, 5.0, False),
    ],
    ids=["acc-only-bridged", "acc-only-clipped", "gyro-bridged-top", "gyro-bridged-swing"],
)
def test_detect_reads_bridged_rows_only_with_a_gyro(
    fn, gyro: bool, flag: float, above_deg: float, confirmed: bool
) -> None:
    # A 30 deg excursion whose rows above ``above_deg`` are all flagged; fed
    # until it has fallen back (confirmation), before any settle time could close it.
    thetas = np.concatenate([np.zeros(20), _ramp(0, 30, 15), _ramp(30, 0, 15), np.zeros(20)])
    f = _Feeder(fn, _detector_state())
    f.prm[L.P_HAS_GYRO] = 1.0 if gyro else 0.0
    for i, th in enumerate(thetas):
        f.feed(float(th), 10.0 + 0.01 * i, flag if th > above_deg else 0.0)
    if gyro and not confirmed:
        # Rejected as the gap's (left to dsp/sets.hidden_peaks) at the fall
        # that would have confirmed it, and the search goes on from there.
        assert f.kinds() == [L.EV_REJECT]
        assert f.events[0][L.EJ_REASON] == L.REJ_GAP
        assert f.events[0][L.EJ_T] == pytest.approx(10.0 + 0.01 * 35)  # the drawn peak
        assert int(f.ist[L.I_PHASE]) == L.PHASE_SEEK
    else:
        assert f.kinds() == ([L.EV_PEAK] if confirmed else [])


def test_detect_back_to_back_reps_close_at_the_next_rise() -> None:
    one = np.concatenate([_ramp(0, 60, 30), _ramp(60, 0, 30)])
    thetas = np.concatenate([np.zeros(10), one, one, one, np.zeros(80)])
    k = _feed_both(thetas)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP] * 3


def test_detect_small_excursion_is_a_rejected_candidate() -> None:
    thetas = np.concatenate([np.zeros(10), _ramp(0, 12, 10), _ramp(12, 0, 10), np.zeros(10)])
    k = _feed_both(thetas)
    assert k.kinds() == [L.EV_REJECT]
    rej = k.events[0]
    assert rej[2] == L.REJ_ROM
    assert rej[3] == 12.0
    assert rej[1] == pytest.approx(10.0 + 0.01 * 20)  # the time of the candidate's peak
    # Fidgeting below candidate_deg (8) is not even a candidate.
    assert _feed_both(np.concatenate([np.zeros(10), _ramp(0, 5, 5), _ramp(5, 0, 5)])).events == []


def test_detect_rise_longer_than_history_is_rejected() -> None:
    # history 2 s at 100 Hz: a 256-sample ring; a rise may last 90 % of it.
    thetas = np.concatenate([np.zeros(5), _ramp(0, 30, 10), np.full(300, 30.0)])
    k = _feed_both(thetas, history_s=2.0)
    assert k.kinds() == [L.EV_REJECT]
    assert k.events[0][2] == L.REJ_TOO_LONG
    assert k.events[0][3] == 30.0


def _restless(n: int) -> np.ndarray:
    """n samples jittering between 0 and 4.5 deg: never a rest (which would re-base the low by itself)."""
    return np.resize([0.0, 4.5], n)


def test_detect_forgets_lows_older_than_half_the_history() -> None:
    # A single sample at -15, then 200 samples (> 128) jittering at 0..4.5: the low is replaced,
    # so a later excursion to 15 deg and down to -10 is a candidate, not a 30 deg rep.
    thetas = np.concatenate([[-15.0], _restless(200), _ramp(0, 15, 10), _ramp(15, -10, 10), np.full(60, -10.0)])
    k = _feed_both(thetas, history_s=2.0)
    assert k.kinds() == [L.EV_REJECT]
    assert k.events[0][2] == L.REJ_ROM
    assert k.events[0][3] == 15.0
    # With the low still in memory (a longer history) the same excursion is a rep.
    k = _feed_both(thetas, history_s=10.0)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]


@pytest.mark.parametrize(("quiet_s", "kinds"), [(8.0, [L.EV_REJECT]), (4.0, [L.EV_PEAK, L.EV_REP])])
def test_detect_forgets_lows_older_than_max_rise_s(quiet_s: float, kinds: list[int]) -> None:
    # A dip to -4 deg (a filter ringing after a hold), quiet_s of jitter at 0..4.5 (no rest, which
    # would re-base the low by itself), then an 18 deg fidget back down to -4: 22 deg above
    # the dip, but a dip more than _MAX_RISE_S (6 s) old is no rep's low, and 18 deg above
    # the jitter is a rejected candidate.
    dt = 0.05
    thetas = np.concatenate(
        [np.zeros(10), [-4.0], _restless(round(quiet_s / dt)), _ramp(0, 18, 10), _ramp(18, -4, 11), np.full(40, -4.0)]
    )
    k = _feed_both(thetas, dt=dt)
    assert k.kinds() == kinds
    assert k.events[0][3] == pytest.approx(18.0 if quiet_s > _MAX_RISE_S else 22.0)


@pytest.mark.parametrize("seed", range(6))
def test_detect_matches_twin_on_random_walks(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n = 3000
    steps = rng.normal(0, 1.5, n)
    bursts = rng.random(n) < 0.02
    steps[bursts] += rng.normal(0, 25, int(bursts.sum()))
    thetas = np.cumsum(steps)
    thetas -= np.linspace(0, thetas[-1], n)  # no long drift
    k = _feed_both(thetas, dt=rng.uniform(0.005, 0.04), history_s=3.0)
    assert L.EV_REP in k.kinds() and L.EV_REJECT in k.kinds()


# ---------------------------------------------------------------------------
# interrupt (long gap, end of stream)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_samples", "expect"),
    [(15, []), (35, [L.EV_REJECT]), (70, [L.EV_REP])],  # seeking, rising, descending
)
@pytest.mark.parametrize("reason", [L.REJ_GAP, L.REJ_UNFINISHED])
def test_interrupt_in_each_phase(n_samples: int, expect: list[float], reason: float) -> None:
    thetas = np.concatenate([np.zeros(10), _ramp(0, 60, 30), _ramp(60, 0, 30)])[:n_samples]
    k = _feed_both(thetas)
    assert k.kinds() == ([L.EV_PEAK] if n_samples == 70 else [])
    state = (k.prm, k.fstate, k.ist, k.hist)
    results = []
    for fn in (_interrupt, naive.interrupt):
        prm, fstate, ist, hist = (np.array(a) for a in state)
        ev = np.zeros((8, L.EV_N))
        n = fn(prm, fstate, ist, hist, ev, 0, reason)
        assert [int(e[L.EV_KIND]) for e in ev[:n]] == expect
        assert int(ist[L.I_PHASE]) == L.PHASE_SEEK
        assert math.isinf(fstate[L.F_LOW])
        results.append((ev[:n], fstate, ist))
    (ev_k, fs_k, ist_k), (ev_t, fs_t, ist_t) = results
    for a, b in zip(ev_k, ev_t, strict=True):
        assert_slots_close(a, b, "E_")
    assert_slots_close(fs_k, fs_t, "F_")
    assert_slots_close(ist_k, ist_t, "I_", rtol=0, atol=0)
    if expect == [L.EV_REJECT]:
        assert ev_k[0][2] == reason
        assert ev_k[0][3] == pytest.approx(48.0)  # the unconfirmed rise reached 48 deg


# ---------------------------------------------------------------------------
# rests: a rep's low belongs to the motion that made it (issue 14, cause 3)
# ---------------------------------------------------------------------------


def _rep_rows(k: _Feeder) -> list[np.ndarray]:
    return [e for e in k.events if e[L.EV_KIND] == L.EV_REP]


@pytest.mark.parametrize("rest_s", [3.0, 10.0])  # shorter and longer than set_gap_s (8 s)
def test_detect_rise_that_ends_in_a_rest_does_not_reach_across_it(rest_s: float) -> None:
    # A backward swing to -20 and the return to standing (a 20 deg "rise" that never
    # comes back down), a rest at 0, then a 60 deg rep.  The rep starts where the thigh
    # was when it began to move (0 deg, after the rest), not at the -20 before the rest.
    dt = 0.02
    thetas = np.concatenate(
        [np.zeros(20), _ramp(0, -20, 10), _ramp(-20, 0, 20), np.zeros(round(rest_s / dt)), _ramp(0, 60, 30)]
    )
    thetas = np.concatenate([thetas, _ramp(60, 0, 30), np.zeros(60)])
    k = _feed_both(thetas, dt=dt)
    rejects = [e for e in k.events if e[L.EV_KIND] == L.EV_REJECT]
    assert [e[2] for e in rejects] == [L.REJ_RESTED]
    (rep,) = _rep_rows(k)
    t_move = 10.0 + dt * (50 + round(rest_s / dt))  # the sample the last rise leaves 0 deg
    assert rep[L.E_ROM] == pytest.approx(60.0)
    assert rep[L.E_START] == pytest.approx(t_move, abs=2 * dt)
    assert rep[L.E_FLEX_T] < 0.6


def test_detect_hold_at_the_top_is_still_one_rep() -> None:
    # 0 -> 90 deg, held motionless 5 s (a rest at the top: the rise stays pending), back to 0.
    dt = 0.02
    thetas = np.concatenate([np.zeros(20), _ramp(0, 90, 25), np.full(250, 90.0), _ramp(90, 0, 25), np.zeros(60)])
    k = _feed_both(thetas, dt=dt)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]
    rep = _rep_rows(k)[0]
    assert rep[L.E_ROM] == pytest.approx(90.0, abs=1.0)
    assert rep[L.E_HOLD] == pytest.approx(5.0, abs=0.2)


def test_detect_low_from_before_a_rest_is_replaced() -> None:
    # A dip to -15, 2 s at rest at 0 (less than _MAX_RISE_S), then a 15 deg excursion down
    # to -10: the low is the rest level, so it is a rejected candidate, not a 30 deg rep.
    thetas = np.concatenate([[-15.0], np.zeros(200), _ramp(0, 15, 10), _ramp(15, -10, 10), np.full(60, -10.0)])
    k = _feed_both(thetas)
    assert L.EV_REP not in k.kinds()
    assert [e[3] for e in k.events if e[2] == L.REJ_ROM][-1] == pytest.approx(15.0)


# ---------------------------------------------------------------------------
# the contract's invariants by construction (issue 14, cause 4)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [_rep_metrics, naive.rep_metrics], ids=["kernel", "twin"])
def test_metrics_of_a_rise_in_one_sparse_step_keep_the_flexion_time_inside_the_rise(fn) -> None:
    # 0, 0, 80, 100, 0 every 0.1 s: the parabola puts the vertex a third of a sample before
    # the top sample, 0.13 s earlier than the 90 % crossing; a flexion time longer than
    # the rise.  The peak time is not before the 90 % crossing.
    theta = np.array([0.0, 0.0, 80.0, 100.0, 0.0, 0.0])
    time = 100.0 + 0.1 * np.arange(theta.size)
    hist = _ring(theta, np.gradient(theta, time), time)
    row = _metrics(fn, _prm(), hist, 64, 1, 0.0, 3, 4, 0.0)
    assert row[L.E_START] < row[L.E_PEAK_T] <= row[L.E_END]
    assert 0.0 < row[L.E_FLEX_T] < row[L.E_PEAK_T] - row[L.E_START]


@pytest.mark.parametrize("fn", [_rep_metrics, naive.rep_metrics], ids=["kernel", "twin"])
def test_peak_velocity_from_the_angle_when_the_rate_column_disagrees(fn) -> None:
    # The angle rose 40 deg while the gyro's rate read negative throughout (the
    # accelerometer, not the gyro, moved the angle): the peak velocity is the angle's
    # largest slope between start and peak, 100 deg / 0.1 s, never negative.
    hist = _ring(TRI_THETA, -np.abs(TRI_VEL) - 1.0, TRI_TIME)
    row = _metrics(fn, _prm(), hist, 64, 2, 0.0, 6, 10, 0.0)
    assert row[L.E_PEAK_VEL] == pytest.approx(100.0)


def _smooth_disagrees(fn, smoothed_deg: np.ndarray) -> np.ndarray:
    """Close a confirmed 40 deg acc-only rep whose smoothed angle is ``smoothed_deg``; return the event row.

    With zero covariances the smoother keeps each filtered state, so the smoothed
    angle is the filter state's (``H_X``) and can be set apart from ``H_THETA``.
    """
    state = kernel_arrays(Settings(), False, FRAME, 0.1)
    prm, fstate, ist, hist = (np.array(a) for a in state)
    cap = int(ist[L.I_CAP])
    n = TRI_THETA.size
    hist[:n, L.H_THETA] = TRI_THETA
    hist[:n, L.H_VEL] = TRI_VEL
    hist[:n, L.H_TIME] = TRI_TIME
    hist[:n, L.H_X] = np.deg2rad(smoothed_deg)
    hist[:n, L.H_X + 1] = np.deg2rad(np.gradient(smoothed_deg, TRI_TIME))
    hist[:n, L.H_P : L.H_P + 6] = 0.0
    hist[:n, L.H_DT] = 0.1
    ist[L.I_PHASE] = L.PHASE_FALL
    ist[L.I_LOW_IDX], fstate[L.F_LOW] = 2, 0.0
    ist[L.I_PEAK_IDX], fstate[L.F_PEAK] = 6, 40.0
    ist[L.I_TROUGH_IDX], fstate[L.F_TROUGH] = 10, 0.0
    ist[L.I_SAMPLE] = ist[L.I_DET] = n
    ev = np.zeros((4, L.EV_N))
    n_ev = fn(prm, fstate, ist, hist, ev, 0, L.REJ_UNFINISHED)
    assert n_ev == 1 and cap > n
    return ev[0]


@pytest.mark.parametrize("fn", [_interrupt, naive.interrupt], ids=["kernel", "twin"])
def test_acc_only_smoothed_rise_below_min_rom_is_no_rep(fn) -> None:
    # The filter rose 40 deg, the smoothed angle only 12: the better estimate says no rep.
    row = _smooth_disagrees(fn, 0.3 * TRI_THETA)
    assert row[L.EV_KIND] == L.EV_REJECT and row[2] == L.REJ_ROM
    assert row[3] == pytest.approx(12.0, abs=1.0)


@pytest.mark.parametrize("fn", [_interrupt, naive.interrupt], ids=["kernel", "twin"])
def test_acc_only_smoothed_peak_outside_the_rise_gives_way_to_the_filter(fn) -> None:
    # The smoothed angle peaks at the low (a filter that spun round): its rep would peak
    # at its start.  The rep keeps the filter's metrics instead.
    smoothed = TRI_THETA.copy()
    smoothed[2] = 60.0
    row = _smooth_disagrees(fn, smoothed)
    assert row[L.EV_KIND] == L.EV_REP
    assert row[L.E_PEAK_T] == pytest.approx(100.6) and row[L.E_ROM] == pytest.approx(40.0)
    assert row[L.E_START] < row[L.E_PEAK_T]


@pytest.mark.parametrize("hold_s", [12.0, 30.0])  # longer than set_gap_s (8 s): a stretch
def test_detect_excursion_held_longer_than_set_gap_is_one_rep_with_its_hold(hold_s: float) -> None:
    # 0 -> 25 deg, held 12 or 30 s (a kneeling hip-flexor stretch), back to 0: an excursion
    # held, not a rise that ended in a rest (that one rests near the rest pose, theta 0).
    dt = 0.02
    thetas = np.concatenate(
        [np.zeros(20), _ramp(0, 25, 50), np.full(round(hold_s / dt), 25.0), _ramp(25, 0, 50), np.zeros(60)]
    )
    k = _feed_both(thetas, dt=dt)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]
    rep = _rep_rows(k)[0]
    assert rep[L.E_ROM] == pytest.approx(25.0, abs=0.5)
    # hold_band_deg 10 below the 25 deg peak: the hold plus the ramps' top 40 % (2 x 0.4 s).
    assert rep[L.E_HOLD] == pytest.approx(hold_s + 0.8, abs=0.1)


def test_detect_rest_held_below_min_rom_from_the_rest_pose_is_still_rejected() -> None:
    # A 25 deg rise from -15 that settles at +10 (under min_rom from the rest pose)
    # for longer than set_gap_s: a shift of the rest level, not a hold.
    dt = 0.02
    thetas = np.concatenate([np.full(20, -15.0), _ramp(-15, 10, 50), np.full(500, 10.0), _ramp(10, -15, 50)])
    k = _feed_both(thetas, dt=dt)
    assert [e[2] for e in k.events if e[L.EV_KIND] == L.EV_REJECT] == [L.REJ_RESTED]
    assert L.EV_REP not in k.kinds()


def test_detect_low_set_in_a_long_rest_does_not_age_out_halfway_up_the_next_rise() -> None:
    # A rest at 0 with a 0.1 deg dip 2 s in (the low, set inside the rest), then, 5.8 s
    # after the dip, a 25 deg rep: its rise crosses the moment that low is _MAX_RISE_S
    # (6 s) old.  Without renewing the low during the rest, it expired mid-rise and was
    # replaced by theta there, so the rise fell short of min_rom (20 deg): rep lost.
    dt = 0.02
    rest = np.zeros(round(12.0 / dt))
    dip = round(2.0 / dt)
    rest[dip] = -0.1
    start = dip + round(5.8 / dt)  # the rise begins 5.8 s after the dip
    thetas = np.concatenate([rest[:start], _ramp(0, 25, 25), _ramp(25, 0, 25), np.zeros(60)])
    k = _feed_both(thetas, dt=dt)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]
    assert _rep_rows(k)[0][L.E_ROM] == pytest.approx(25.0, abs=0.2)


# ---------------------------------------------------------------------------
# swings that never return to the first low (issue 14, walks between sets)
# ---------------------------------------------------------------------------


def _through(points: list[float], n: int = 20) -> np.ndarray:
    """Straight ramps of ``n`` samples through ``points`` (deg), ending on the last."""
    return np.concatenate([*(_ramp(a, b, n) for a, b in itertools.pairwise(points)), [points[-1]]])


def test_detect_walking_swings_that_never_return_to_the_first_low_are_each_their_own() -> None:
    # Walking steps that straddle min_rom: one rise of 20.5 deg from -10, then swings that
    # come back to -7..-8 (never 20 below the highest peak), 3 s of standing, and a second
    # walk whose first swing (18 deg) falls 27.5 below its peak.  Before: one "rep" from the
    # first walk's low to the second walk's first peak, across the rest, and the steps in
    # between unseen.  Now each swing is reported where it peaked, and no rep reaches across
    # the rest.
    dt = 0.02
    walk1 = _through([0.0, -10.0, 10.5, -8.0, 9.0, -7.0, 9.0, -8.0, 0.0])
    rest = np.zeros(150)
    walk2 = _through([0.0, 18.0, -9.5, 17.0, -8.0, 0.0])
    thetas = np.concatenate([np.zeros(20), walk1, rest, walk2, np.zeros(60)])
    k = _feed_both(thetas, dt=dt)
    rest_end_s = 10.0 + dt * (20 + walk1.size + rest.size)
    reps = _rep_rows(k)
    assert len(reps) == 1
    assert reps[0][L.E_START] > rest_end_s
    assert reps[0][L.E_ROM] == pytest.approx(26.5, abs=0.5)
    # The first walk's three swings, each at its own peak (for the gait classifier's rhythm).
    swing_peaks = [10.0 + dt * (20 + 20 * i) for i in (2, 4, 6)]
    cands = [e[1] for e in k.events if e[L.EV_KIND] == L.EV_REJECT and e[2] == L.REJ_ROM and e[1] < rest_end_s]
    assert cands == pytest.approx(swing_peaks)


def test_detect_a_dip_in_the_top_half_of_a_rise_stays_one_rep() -> None:
    # 0 -> 25, a 9 deg dip (still in the rise's top half), on to 60 and back: one 60 deg rep.
    thetas = np.concatenate([np.zeros(20), _through([0.0, 25.0, 16.0, 60.0, 0.0]), np.zeros(60)])
    k = _feed_both(thetas)
    assert k.kinds() == [L.EV_PEAK, L.EV_REP]
    assert _rep_rows(k)[0][L.E_ROM] == pytest.approx(60.0, abs=0.5)

"""The post-gap window (``_pg_start``, ``_pg_finish``) and the detector's catch-up against their twins.

Hand-made histories have their corrections worked out by hand: the shift of
the samples measured after the gap (the change of the current angle that
re-anchoring "up" makes, the short way round) and the cubic Hermite redraw of
the bridged samples.  Kernel and twin (``scipy.interpolate.CubicHermiteSpline``)
agree to rounding (``rtol=1e-9``).
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from kit import assert_slots_close, kernel_arrays

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap import _pg_finish, _pg_start
from hipflex.dsp._kern_reps import _catch_up

# u, w (anterior), a = w x u: any orthonormal frame will do.
FRAME = np.eye(3)[:, [2, 0, 1]]
FRAME[:, 2] = np.cross(FRAME[:, 1], FRAME[:, 0])


def _up(theta_deg: float) -> np.ndarray:
    """World "up" seen from a sensor flexed ``theta_deg``: angle theta in the (u, w) plane."""
    th = math.radians(theta_deg)
    return math.cos(th) * FRAME[:, 0] + math.sin(th) * FRAME[:, 1]


def _window_state(
    cap: int, first: int, n: int, gap0: int, end: int, theta, vel, up_deg: float, sum_deg: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kernel arrays at the end of a window: samples ``first .. n - 1`` in a ring of ``cap``, 0.1 s apart.

    ``theta`` and ``vel`` give the history of those samples; "up" is at
    ``up_deg``; the window's sum points at ``sum_deg`` (None: nothing summed).
    """
    prm = np.zeros(L.P_N)
    prm[L.P_HAS_GYRO] = 1.0  # the gyro's window (without a gyro: tests/dsp/test_kern_gap_acc.py)
    prm[L.P_U : L.P_U + 3] = FRAME[:, 0]
    prm[L.P_W : L.P_W + 3] = FRAME[:, 1]
    prm[L.P_A : L.P_A + 3] = FRAME[:, 2]
    fstate = np.zeros(L.F_N)
    fstate[L.F_UP : L.F_UP + 3] = _up(up_deg)
    fstate[L.F_PG_S] = 0.01
    if sum_deg is not None:
        fstate[L.F_PG_SUM : L.F_PG_SUM + 3] = 37.5 * _up(sum_deg)  # any length over 0.15 g x 4 s
        fstate[L.F_PG_CNT] = 40.0
        fstate[L.F_PG_T] = 4.0  # 40 rows 0.1 s apart
    ist = np.zeros(L.I_N, dtype=np.int64)
    ist[L.I_CAP] = cap
    ist[L.I_SAMPLE] = n
    ist[L.I_PG_GAP0] = gap0
    ist[L.I_PG_END] = end
    hist = np.full((cap, L.H_N), np.nan)  # samples outside first..n-1 must not be read
    for k, i in enumerate(range(first, n)):
        hist[i % cap] = [theta[k], vel[k], 50.0 + 0.1 * i, 0.0, 0.0]
    return prm, fstate, ist, hist


def _finish_both(state):
    results = []
    for fn in (_pg_finish, naive.pg_finish):
        prm, fstate, ist, hist = (np.array(a) for a in state)
        fn(prm, fstate, ist, hist)
        results.append((fstate, ist, hist))
    (fs_k, ist_k, hist_k), (fs_t, ist_t, hist_t) = results
    assert_slots_close(fs_k, fs_t, "F_")
    assert_slots_close(ist_k, ist_t, "I_", rtol=0, atol=0)
    np.testing.assert_allclose(hist_k, hist_t, rtol=1e-9, atol=1e-12, equal_nan=True)
    return fs_k, ist_k, hist_k


@pytest.mark.parametrize(("cap", "offset"), [(64, 0), (16, 40)])  # (16, 40): the window wraps around the ring
def test_pg_finish_by_hand(cap: int, offset: int) -> None:
    # Sample offset+10 (theta 0, at rest) is the last before the gap; samples
    # +11..+20 were bridged; +21..+25 measured after it, tracked by the gyro
    # from the held orientation: 20 deg, at rest.  The window's sum says the
    # thigh is at 50 deg: "up" moves there and the measured samples shift by
    # +30 deg.  The bridge becomes the cubic from (t_a, 0 deg, 0 deg/s) to
    # (t_b = t_a + 1.1 s, 50 deg, 0 deg/s): 50 (3x^2 - 2x^3), x = (t - t_a) / 1.1 s.
    first, gap0, end, n = offset + 10, offset + 11, offset + 21, offset + 26
    theta = [0.0] + [20.0] * 10 + [20.0] * 5  # the bridge held the orientation
    vel = [0.0] * 16
    fstate, _ist, hist = _finish_both(_window_state(cap, first, n, gap0, end, theta, vel, 20.0, 50.0))
    assert fstate[L.F_PG_S] == 0.0
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(50.0), atol=1e-12)
    row = {i: hist[i % cap] for i in range(first, n)}
    for i in range(first, gap0):
        assert row[i][L.H_THETA] == 0.0  # before the gap: untouched
    for i in range(end, n):
        assert row[i][L.H_THETA] == pytest.approx(50.0, rel=1e-12)
    for i in range(gap0, end):
        x = (i - (gap0 - 1)) / 11.0
        assert row[i][L.H_THETA] == pytest.approx(50.0 * (3 * x * x - 2 * x**3), rel=1e-9)
        assert row[i][L.H_VEL] == pytest.approx(50.0 * 6 * x * (1 - x) / 1.1, rel=1e-9)


def test_pg_finish_hermite_matches_the_rates_at_both_ends() -> None:
    # A swing lost in the gap: rising at 200 deg/s before it, falling at 150
    # deg/s after it.  The redraw has those rates at its ends and rises above
    # both end angles (the peak the gap hid).
    n, gap0, end = 30, 11, 21
    theta = [20.0 + 20.0 * (i - 10) for i in range(11)] + [20.0] * 10 + [60.0 - 15.0 * (i - 21) for i in range(21, 30)]
    vel = [200.0] * 11 + [0.0] * 10 + [-150.0] * 9
    fstate, _, hist = _finish_both(_window_state(64, 0, n, gap0, end, theta, vel, 0.0, 0.0))
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(0.0), atol=1e-12)  # no shift
    bridge = hist[gap0 - 1 : end + 1, L.H_THETA]
    v = hist[gap0 - 1 : end + 1, L.H_VEL]
    assert bridge[0] == 20.0 and bridge[-1] == 60.0
    assert v[0] == 200.0 and v[-1] == -150.0
    # Rates by finite differences agree with the redrawn rate column.
    np.testing.assert_allclose(np.gradient(bridge, 0.1)[1:-1], v[1:-1], rtol=0.05, atol=15.0)
    assert bridge.max() > 60.0 + 10.0


def test_pg_finish_keeps_a_one_way_bridge_between_its_end_angles() -> None:
    # The thigh was falling fast (40 deg, -300 deg/s) when the rows stopped and
    # stands still (0 deg, a little noise on the rate) 1.6 s later.  The plain
    # cubic would dip ~45 deg below standing (a false low); with the rates
    # limited to three times the secant slope (-25 deg/s) it stays between the
    # end angles.
    n, gap0, end = 25, 5, 20
    theta = [40.0] * 5 + [40.0] * 15 + [0.0] * 5
    vel = [-300.0] * 5 + [0.0] * 15 + [0.4] * 5
    _, _, hist = _finish_both(_window_state(64, 0, n, gap0, end, theta, vel, 0.0, 0.0))
    bridge = hist[gap0 - 1 : end + 1, L.H_THETA]
    assert np.all(np.diff(bridge[:-3]) < 0.0)
    assert bridge.max() == 40.0 and bridge.min() > -0.1  # the 0.4 deg/s at rest: a hair's overshoot
    # Its rate: the cubic's derivative with -75 deg/s (not -300) at the start.
    x, h = 0.1 / 1.6, 1.6  # the first bridged sample
    want = (6 * x * x - 6 * x) * 40.0 / h + (3 * x * x - 4 * x + 1) * -75.0 + (3 * x * x - 2 * x) * 0.4
    assert hist[gap0, L.H_VEL] == pytest.approx(want, rel=1e-9)
    # A turn inside the gap (the rate at the far end points back) keeps the rates as measured.
    vel_turn = [-300.0] * 5 + [0.0] * 15 + [200.0] * 5
    _, _, hist = _finish_both(_window_state(64, 0, n, gap0, end, theta, vel_turn, 0.0, 0.0))
    assert hist[gap0 - 1 : end + 1, L.H_THETA].min() < -20.0


@pytest.mark.parametrize(("cap", "offset"), [(64, 0), (16, 40)])
def test_pg_finish_takes_a_short_gaps_turn_from_the_rates_not_the_window(cap: int, offset: int) -> None:
    # One row lost (h = 0.2 s) while the thigh speeds up steadily: 10 deg/s
    # more every row (100 deg/s^2) on both sides, so the rate ran straight
    # across the gap and it turned 0.2 * (200 + 220) / 2 = 42 deg.  The held
    # bridge turned "up" by 3 deg of it; the window's mean force (here 0 deg,
    # e.g. the hip's acceleration or a lever the model misses) is not used:
    # the samples after the gap move by 42 - 3 = 39 deg and "up" with them.
    first, gap0, end, n = offset + 0, offset + 11, offset + 12, offset + 15
    vel = [100.0 + 10.0 * i for i in range(11)] + [210.0] + [220.0 + 10.0 * i for i in range(3)]
    theta = [1.5 * i for i in range(11)] + [15.0] + [18.0, 20.0, 22.0]
    state = _window_state(cap, first, n, gap0, end, theta, vel, 18.0, 0.0)
    fstate, _, hist = _finish_both(state)
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(18.0 + 39.0), atol=1e-12)
    np.testing.assert_allclose([hist[i % cap, L.H_THETA] for i in range(end, n)], [57.0, 59.0, 61.0], rtol=1e-12)
    assert hist[(gap0 - 1) % cap, L.H_THETA] == 15.0  # before the gap: untouched


def test_pg_finish_leaves_a_curved_rate_to_the_window() -> None:
    # The same gap, but the rate rose 2000 deg/s^2 into it and fell as fast out
    # of it (a swing's turn inside: the cubic's curvature term is 13 deg): the
    # window's sum (30 deg) re-anchors "up" as before.
    n, gap0, end = 15, 11, 12
    vel = [0.0] * 10 + [200.0, 0.0, 200.0, 0.0, 0.0]
    theta = [0.0] * 11 + [0.0] + [5.0, 5.0, 5.0]
    fstate, _, hist = _finish_both(_window_state(64, 0, n, gap0, end, theta, vel, 5.0, 30.0))
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(30.0), atol=1e-12)
    np.testing.assert_allclose(hist[end:n, L.H_THETA], 30.0, rtol=1e-12)


def test_pg_finish_leaves_a_turn_inside_the_gap_to_the_window() -> None:
    # Falling at 50 deg/s before the gap, rising at 350 after it 0.2 s later,
    # both ends' accelerations on the secant (2000 deg/s^2): the rate looks
    # straight, but it went through zero inside the gap (a rep's bottom, which
    # may dwell), so the window's sum (40 deg, not the rates' 30) decides.
    n, gap0, end = 15, 11, 12
    vel = [-50.0 + 200.0 * (i - 10) for i in range(11)] + [0.0] + [350.0 + 200.0 * (i - 12) for i in range(12, 15)]
    theta = [0.0] * 11 + [0.0] + [5.0, 5.0, 5.0]
    fstate, _, _ = _finish_both(_window_state(64, 0, n, gap0, end, theta, vel, 5.0, 40.0))
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(40.0), atol=1e-12)


def test_pg_finish_needs_measured_rows_for_the_rates_before_the_gap() -> None:
    # The row before the lost one is itself bridged (an earlier gap): its rate is
    # no measurement, so the window decides.
    n, gap0, end = 15, 11, 12
    vel = [100.0 + 10.0 * i for i in range(15)]
    theta = [0.0] * 12 + [5.0, 5.0, 5.0]
    state = _window_state(64, 0, n, gap0, end, theta, vel, 5.0, 30.0)
    state[3][gap0 - 2, L.H_FLAG] = L.H_FLAG_BRIDGED
    fstate, _, _ = _finish_both(state)
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(30.0), atol=1e-12)


@pytest.mark.parametrize(("before", "after", "shift"), [(170.0, -170.0, 20.0), (-175.0, 165.0, -20.0)])
def test_pg_finish_shift_takes_the_short_way_round(before: float, after: float, shift: float) -> None:
    theta = [before] * 10
    _fs, _, hist = _finish_both(_window_state(64, 0, 10, 5, 5, theta, [0.0] * 10, before, after))
    np.testing.assert_allclose(hist[5:10, L.H_THETA], before + shift, rtol=1e-12)
    np.testing.assert_allclose(hist[:5, L.H_THETA], before)  # before the (unbridged) gap


def test_pg_finish_keeps_up_when_the_rows_summed_cancel() -> None:
    # 4 s of compensated force that adds up to 0.1 g on average: the rows
    # cancel, so the sum's direction is not gravity's (a runner's window cut
    # short): "up" stays, and only the bridge is redrawn.
    theta = [0.0] * 5 + [0.0] * 5 + [30.0] * 5
    state = _window_state(64, 0, 15, 5, 10, theta, [0.0] * 15, 30.0, 80.0)
    state[1][L.F_PG_SUM : L.F_PG_SUM + 3] = 0.4 * _up(80.0)
    fstate, _, hist = _finish_both(state)
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(30.0), atol=1e-12)
    np.testing.assert_allclose(hist[10:15, L.H_THETA], 30.0)


def test_pg_finish_with_nothing_summed_keeps_up_and_only_redraws() -> None:
    theta = [0.0] * 5 + [0.0] * 5 + [30.0] * 5
    fstate, _, hist = _finish_both(_window_state(64, 0, 15, 5, 10, theta, [0.0] * 15, 30.0, None))
    np.testing.assert_allclose(fstate[L.F_UP : L.F_UP + 3], _up(30.0), atol=1e-12)
    np.testing.assert_allclose(hist[10:15, L.H_THETA], 30.0)
    assert 0.0 < hist[7, L.H_THETA] < 30.0


@pytest.mark.parametrize("fn", [_pg_start, naive.pg_start], ids=["kernel", "twin"])
def test_pg_start_opens_an_empty_window_at_the_next_sample(fn) -> None:
    fstate = np.zeros(L.F_N)
    fstate[L.F_PG_SUM : L.F_PG_SUM + 3] = [1.0, 2.0, 3.0]  # left over from an earlier window
    fstate[L.F_PG_CNT] = 9.0
    fstate[L.F_PG_T] = 1.7
    fstate[L.F_PG_TURNED] = 1.0
    ist = np.zeros(L.I_N, dtype=np.int64)
    ist[L.I_SAMPLE] = 123
    fn(fstate, ist, 1.9)
    assert fstate[L.F_PG_S] == 1.9
    assert fstate[L.F_PG_SUM : L.F_PG_SUM + 3].tolist() == [0.0, 0.0, 0.0]
    # Not summing over the bridge: the first measured row after the gap starts the sum.
    assert fstate[L.F_PG_CNT] == -1.0
    assert fstate[L.F_PG_T] == 0.0 and fstate[L.F_PG_TURNED] == 0.0
    assert ist[L.I_PG_GAP0] == ist[L.I_PG_END] == 123


# ---------------------------------------------------------------------------
# the detector catching up on the history
# ---------------------------------------------------------------------------


def _history_of_reps(n_reps: int = 5):
    """Kernel arrays whose history holds ``n_reps`` 60 deg triangles (100 Hz) that the detector has not read."""
    prm, fstate, ist, hist = kernel_arrays(Settings(), True, FRAME, 0.01)
    one = np.concatenate([np.linspace(0, 60, 30, endpoint=False), np.linspace(60, 0, 30, endpoint=False)])
    theta = np.concatenate([np.zeros(20), *([one] * n_reps), np.zeros(80)])
    cap = int(ist[L.I_CAP])
    for i, th in enumerate(theta):
        hist[i % cap, : L.H_N] = [th, 0.0 if i == 0 else (th - theta[i - 1]) / 0.01, 7.0 + 0.01 * i, 0.0, 0.0]
    ist[L.I_SAMPLE] = theta.size
    return prm, fstate, ist, hist


@pytest.mark.parametrize("fn", [_catch_up, naive.catch_up], ids=["kernel", "twin"])
def test_catch_up_resumes_where_the_event_rows_ran_out(fn) -> None:
    state = _history_of_reps()
    prm, fstate, ist, hist = (np.array(a) for a in state)
    ev = np.zeros((64, L.EV_N))
    n = fn(prm, fstate, ist, hist, ev, 0, 60)
    all_at_once = ev[:n].copy()
    assert all_at_once[:, L.EV_KIND].tolist() == [L.EV_PEAK, L.EV_REP] * 5
    assert ist[L.I_DET] == ist[L.I_SAMPLE]
    # Room for one row per call: the same rows, one at a time, then nothing.
    prm, fstate, ist, hist = (np.array(a) for a in state)
    rows = []
    for _ in range(12):
        ev = np.zeros((8, L.EV_N))
        n = fn(prm, fstate, ist, hist, ev, 3, 4)  # three rows already used by the caller
        rows.extend(ev[3:n].copy())
    np.testing.assert_array_equal(np.array(rows), all_at_once)
    assert ist[L.I_DET] == ist[L.I_SAMPLE]


def test_catch_up_matches_twin() -> None:
    state = _history_of_reps(3)
    results = []
    for fn in (_catch_up, naive.catch_up):
        prm, fstate, ist, hist = (np.array(a) for a in state)
        ev = np.zeros((16, L.EV_N))
        n = fn(prm, fstate, ist, hist, ev, 0, 12)
        results.append((ev[:n], fstate, ist))
    (ev_k, fs_k, ist_k), (ev_t, fs_t, ist_t) = results
    assert ev_k.shape == ev_t.shape
    for a, b in zip(ev_k, ev_t, strict=True):
        assert_slots_close(a, b, "E_")
    assert_slots_close(fs_k, fs_t, "F_")
    assert_slots_close(ist_k, ist_t, "I_", rtol=0, atol=0)

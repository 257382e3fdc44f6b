"""Learning phase: quiet-window search and axis lock against their twins, and the axes they yield.

``_window_score`` / ``_scan_quiet`` and ``_scan_lock`` are compared with
``tests/naive.py`` on hand-made, seeded random and NaN-injected rows
(``rtol=1e-9``: the twin's means are numpy's pairwise sums; ``atol=1e-9``
for slots near zero).  The resumable scans must give exactly the same answer
however the rows arrive.
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
import synth
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from hipflex.dsp import learn, quiet_window
from hipflex.dsp._kern_still import _MAX_BIAS_DPS
from hipflex.dsp.learn import _any_perpendicular, _scan_lock, lock_axes, new_lock_state
from hipflex.dsp.quiet_window import _scan_quiet, _scan_stillest, _window_score, find_quiet_window, new_quiet_state

FS_HZ = 50.0
STILL_ACC, STILL_GYR = 0.06, 6.0
MAX_GAP_S = 0.25  # longest gap inside a quiet window


def _score_both(t, acc, gyr, has_gyro, j0, k):
    args = (t, acc, gyr, has_gyro, j0, k, STILL_ACC, STILL_GYR, MAX_GAP_S)
    return _window_score(*args), naive.window_score(*args)


def _still(n: int, up=(0.0, 0.0, 1.0), bias=(0.5, -0.25, 0.125)):  # sums of these are exact
    t = 7.0 + np.arange(n) / FS_HZ
    return t, np.tile(np.asarray(up, float), (n, 1)), np.tile(np.asarray(bias, float), (n, 1))


# ---------------------------------------------------------------------------
# window score
# ---------------------------------------------------------------------------


def test_window_score_by_hand() -> None:
    t, acc, gyr = _still(20)
    # Perfectly steady: only the mean gyro rate (the bias) counts, against _MAX_BIAS_DPS.
    bias_score = float(np.linalg.norm(gyr[0])) / _MAX_BIAS_DPS
    for score in _score_both(t, acc, gyr, True, 0, 19):
        assert score == pytest.approx(bias_score, rel=1e-12)
    assert _score_both(t, acc, gyr, False, 0, 19) == (0.0, 0.0)
    # One row off by 0.03 g: the mean moves by 0.03 / 20, the row is 0.0285 g from it.
    acc[5, 0] += 0.03
    for score in _score_both(t, acc, gyr, True, 0, 19):
        assert score == pytest.approx(0.0285 / STILL_ACC, rel=1e-12)
    # The gyro 10 deg/s faster for rows 7..16 (0.2 s): the window mean rises
    # by 5, and every 0.1 s running mean lies wholly inside or outside the
    # step somewhere, so it is 5 deg/s from the mean: 5 / 6.
    gyr[7:17, 2] += 10.0
    for score in _score_both(t, acc, gyr, True, 0, 19):
        assert score == pytest.approx(5.0 / STILL_GYR, rel=1e-12)
    for score in _score_both(t, acc, gyr, False, 0, 19):  # without gyro it is ignored
        assert score == pytest.approx(0.0285 / STILL_ACC, rel=1e-12)


def test_window_score_reads_the_gyro_averaged_over_a_tenth_of_a_second() -> None:
    # A single noisy sample 10 deg/s off (a seated Eurobench subject 03 reads up
    # to 9.7 deg/s) is not a movement: averaged with its neighbours over 0.1 s
    # (5 or 6 rows at 50 Hz) it is at most 10 / 5 - 0.5 deg/s from the mean.
    t, acc, gyr = _still(20)
    gyr[7, 0] += 10.0
    got = _score_both(t, acc, gyr, True, 0, 19)
    assert got[0] == pytest.approx(got[1], rel=1e-12)
    assert got[0] <= 1.5 / STILL_GYR + 1e-12
    # The same 10 deg/s held for 0.1 s is a movement.
    gyr[7:13, 0] += 10.0
    assert min(_score_both(t, acc, gyr, True, 0, 19)) > 1.0


def test_window_score_ignores_the_magnitude_of_gravity_but_not_a_steady_turn() -> None:
    # Still, but the sensor reads 1.31 g (Eurobench subject 03): as quiet as a
    # perfect sensor; its scale error is the same in every window.
    t, acc, gyr = _still(40)
    scaled_scores = _score_both(t, acc * 1.31, gyr, True, 0, 39)
    for scaled, plain in zip(scaled_scores, _score_both(t, acc, gyr, True, 0, 39), strict=True):
        assert scaled == pytest.approx(plain, rel=1e-12)
        assert scaled <= 1.0
    # A steady 60 deg/s turn has no deviation from its mean but is no bias: 60 / 20.
    gyr[:, 1] = 60.0
    gyr[:, 0] = gyr[:, 2] = 0.0
    for score in _score_both(t, acc, gyr, True, 0, 39):
        assert score == pytest.approx(60.0 / _MAX_BIAS_DPS, rel=1e-12)


@pytest.mark.parametrize("fault", ["dropouts too long", "time gap", "nine rows"])
def test_window_score_unusable_windows(fault: str) -> None:
    t, acc, gyr = _still(40)
    k = 39
    if fault == "dropouts too long":
        acc[10:23, 1] = np.nan  # 13 rows: valid rows 0.28 s apart > MAX_GAP_S
    elif fault == "time gap":
        t[10:] += 0.3  # one step of 0.32 s
    else:
        k = 8
    assert _score_both(t, acc, gyr, True, 0, k) == (math.inf, math.inf)


def test_window_score_skips_dropout_rows() -> None:
    t, acc, gyr = _still(40)
    acc[5, 0] += 0.03
    clean = _score_both(t, acc, gyr, True, 0, 39)
    acc[20:30, 2] = np.nan  # 10 dropped rows, 0.22 s between valid rows
    gyr[33, 0] = np.nan
    gyr[35, 0] = 1e3  # garbage on a row whose accelerometer is NaN...
    acc[35, 1] = np.nan  # ...is never looked at
    got = _score_both(t, acc, gyr, True, 0, 39)
    # 28 valid rows: the 0.03 g row is 0.03 * 27 / 28 from their mean.
    for score in got:
        assert score == pytest.approx(0.03 * 27 / 28 / STILL_ACC, rel=1e-12)
    assert got[0] != clean[0]
    # Without a gyro a NaN gyro value does not drop the row.
    for score in _score_both(t, acc, gyr, False, 0, 39):
        assert score == pytest.approx(0.03 * 28 / 29 / STILL_ACC, rel=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_window_score_matches_twin_on_random_windows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    t = np.cumsum(rng.uniform(0.005, 0.04, n))
    t[rng.integers(0, n) :] += 0.3  # somewhere a gap (times stay increasing)
    acc = np.array([0.1, -0.2, 0.97]) + rng.normal(0, rng.uniform(0.002, 0.05), (n, 3))
    gyr = rng.normal(0, rng.uniform(0.5, 8), (n, 3))
    acc[rng.random(n) < 0.01, rng.integers(0, 3)] = np.nan
    gyr[rng.random(n) < 0.01, rng.integers(0, 3)] = np.nan
    for _ in range(40):
        j0 = int(rng.integers(0, n - 5))
        k = int(min(n - 1, j0 + rng.integers(3, 120)))
        for has_gyro in (True, False):
            got, want = _score_both(t, acc, gyr, has_gyro, j0, k)
            if math.isinf(want):
                assert got == want
            else:
                assert got == pytest.approx(want, rel=1e-9)


# ---------------------------------------------------------------------------
# quiet-window scan
# ---------------------------------------------------------------------------


def _moving_then_still(seed: int, n: int = 300, move_until: int = 90):
    rng = np.random.default_rng(seed)
    t = 3.0 + np.arange(n) / FS_HZ + rng.uniform(-0.002, 0.002, n)
    acc = np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.005, (n, 3))
    gyr = np.array([0.5, -0.3, 0.2]) + rng.normal(0, 0.5, (n, 3))
    acc[:move_until] += rng.normal(0, 0.2, (move_until, 3))
    gyr[:move_until] += rng.normal(0, 40, (move_until, 3))
    return t, acc, gyr


def _quiet_both(t, acc, gyr, has_gyro, win_s=2.0, qs=None):
    qs = quiet_window.new_quiet_state() if qs is None else qs
    qk, qt = qs.copy(), qs.copy()
    args = (t, acc, gyr, has_gyro, win_s, STILL_ACC, STILL_GYR, MAX_GAP_S)
    end_k = _scan_quiet(*args, qk)
    end_t = naive.scan_quiet(*args, qt)
    return end_k, qk, end_t, qt


@pytest.mark.slow
@pytest.mark.parametrize("has_gyro", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_scan_quiet_finds_the_first_quiet_window(seed: int, has_gyro: bool) -> None:
    t, acc, gyr = _moving_then_still(seed)
    end_k, qk, end_t, qt = _quiet_both(t, acc, gyr, has_gyro)
    assert end_k == end_t
    np.testing.assert_allclose(qk, qt, rtol=1e-9)
    # The window ends 2 s after the motion stopped (give or take the window rounding).
    assert t[end_k] - t[90] == pytest.approx(2.0, abs=0.06)
    assert qk[quiet_window.Q_SCANNED] == end_k + 1
    assert qk[quiet_window.Q_BEST_END] == end_k and qk[quiet_window.Q_BEST_SCORE] <= 1.0


@pytest.mark.parametrize("has_gyro", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_scan_stillest_keeps_the_stillest_window_of_all_as_its_twin(seed: int, has_gyro: bool) -> None:
    t, acc, gyr = _moving_then_still(seed, n=400)
    # A first stand (rows 90-200), a fidget, then a stiller stand: the stillest window is not the first quiet one.
    acc[200:210] += 0.2
    rng = np.random.default_rng(seed)
    acc[210:] = np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.001, (t.size - 210, 3))
    gyr[210:] = np.array([0.5, -0.3, 0.2]) + rng.normal(0, 0.05, (t.size - 210, 3))
    args = (t, acc, gyr, has_gyro, 2.0, STILL_ACC, STILL_GYR, MAX_GAP_S)
    first = quiet_window.new_quiet_state()
    assert 0 <= _scan_quiet(*args, first) < 200
    qk, qt = first.copy(), first.copy()
    _scan_stillest(*args, qk)
    naive.scan_stillest(*args, qt)
    np.testing.assert_allclose(qk, qt, rtol=1e-9)
    assert qk[quiet_window.Q_SCANNED] == t.size
    assert qk[quiet_window.Q_BEST_END] >= 210 + 0.95 * 2.0 * FS_HZ - 2  # a window wholly in the stiller stand
    assert qk[quiet_window.Q_BEST_SCORE] < first[quiet_window.Q_BEST_SCORE]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_scan_quiet_dropouts_in_the_stand(seed: int) -> None:
    t, acc, gyr = _moving_then_still(seed)
    clean_end = _quiet_both(t, acc, gyr, True)[0]
    # A single dropped row inside the first quiet window does not delay calibration.
    acc[150, 0] = np.nan
    end_k, qk, end_t, qt = _quiet_both(t, acc, gyr, True)
    assert end_k == end_t == clean_end
    np.testing.assert_allclose(qk, qt, rtol=1e-9)
    # 0.3 s of dropouts does: no quiet window may hold valid rows on both sides of them.
    acc[150:165, 1] = np.nan
    end_k, qk, end_t, qt = _quiet_both(t, acc, gyr, True)
    assert end_k == end_t > clean_end
    np.testing.assert_allclose(qk, qt, rtol=1e-9)
    assert t[end_k] - 2.0 >= t[149]


@pytest.mark.slow
def test_scan_quiet_without_a_quiet_window_remembers_the_best() -> None:
    t, acc, gyr = _moving_then_still(0, n=260, move_until=260)
    acc[120:] = acc[120:] * 0.2 + 0.8 * np.array([0.0, 0.0, 1.0])  # calmer, still not quiet
    gyr[120:] = gyr[120:] * 0.2 + 0.8 * np.array([0.5, -0.3, 0.2])
    end_k, qk, end_t, qt = _quiet_both(t, acc, gyr, True)
    assert end_k == end_t == -1
    assert qk[quiet_window.Q_SCANNED] == qt[quiet_window.Q_SCANNED] == t.size
    # The best 2 s window lies wholly in the calmer part (rows 120..259).
    assert qk[quiet_window.Q_BEST_END] == qt[quiet_window.Q_BEST_END] >= 221
    assert 1.0 < qk[quiet_window.Q_BEST_SCORE] == pytest.approx(qt[quiet_window.Q_BEST_SCORE], rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 299), max_size=12), has_gyro=st.booleans())
def test_scan_quiet_resumes_exactly(cuts: list[int], has_gyro: bool) -> None:
    # The pipeline calls the scan on the growing buffer; where it grew must not matter.
    t, acc, gyr = _moving_then_still(9)
    args = (gyr, has_gyro, 2.0, STILL_ACC, STILL_GYR, MAX_GAP_S)
    whole = new_quiet_state()
    end_whole = _scan_quiet(t, acc, *args, whole)
    qs = new_quiet_state()
    end = -1
    for stop in [*sorted(set(cuts)), t.size]:
        end = _scan_quiet(t[:stop], acc[:stop], gyr[:stop] if has_gyro else gyr, *args[1:], qs)
        if end >= 0:
            break
    assert end == end_whole
    np.testing.assert_array_equal(qs, whole)


def test_find_quiet_window_calibrates_gravity_bias_and_period() -> None:
    t, acc, gyr = _moving_then_still(2)
    cal = find_quiet_window(t, acc, gyr, 2.0, STILL_ACC, STILL_GYR, MAX_GAP_S, new_quiet_state(), force=False)
    assert cal is not None and cal.quiet
    np.testing.assert_allclose(cal.up, [0, 0, 1], atol=0.003)  # 0.005 g noise averaged over 100 rows
    np.testing.assert_allclose(cal.gyro_bias_dps, [0.5, -0.3, 0.2], atol=0.2)
    assert cal.period_s == pytest.approx(1 / FS_HZ, rel=0.05)
    assert t[cal.end_row] - t[cal.start_row] == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(("lost_rows", "quiet"), [(50, True), (52, False)])
def test_find_quiet_window_counts_a_gap_as_the_time_lost(lost_rows: int, quiet: bool) -> None:
    # 50 rows (1.00 s) lost from a 50 Hz stand: the rows around them are 1.02 s
    # apart, but the main loop counts (and bridges) a 1.00 s gap, so a window
    # allowing 1.01 s gaps holds it.  52 rows (1.04 s) are too many.
    t, acc, gyr = _still(300)
    keep = np.ones(t.size, bool)
    keep[120 : 120 + lost_rows] = False
    t, acc, gyr = t[keep], acc[keep], gyr[keep]
    cal = find_quiet_window(t, acc, gyr, 3.0, STILL_ACC, STILL_GYR, 1.01, new_quiet_state(), force=False)
    if quiet:
        assert cal is not None and cal.quiet
        assert cal.start_row < 120 <= cal.end_row  # the window spans the gap
    else:
        assert cal is None or t[cal.start_row] > t[119]


# ---------------------------------------------------------------------------
# axis lock
# ---------------------------------------------------------------------------


def _frame(seed: int) -> np.ndarray:
    m = Rotation.random(rng=np.random.default_rng(seed)).as_matrix()
    m[:, 2] = np.cross(m[:, 1], m[:, 0])
    return m


def _lock_recording(seed: int, gyro: bool, frame: np.ndarray | None = None):
    frame = _frame(seed) if frame is None else frame
    bumps = [synth.Bump(3.0, 0.4, 0.3, 0.5, 60.0), synth.Bump(4.6, 0.4, 0.0, 0.5, 70.0)]
    rec = synth.record(bumps, 6.0, FS_HZ, gyro=gyro, frame=frame, acc_noise_g=0.004, gyr_noise_dps=0.4, seed=seed)
    return rec, frame


def _calibrate(rec):
    s = rec.samples
    cal = find_quiet_window(
        s.time_s, s.acc_g, s.gyr_dps, 2.0, STILL_ACC, STILL_GYR, MAX_GAP_S, new_quiet_state(), False
    )
    assert cal is not None
    return cal


def _lock_both(rec, cal, lock_deg: float = 30.0, acc=None):
    s = rec.samples
    acc = s.acc_g if acc is None else acc
    gyr = s.gyr_dps if s.has_gyro else np.zeros((0, 3))
    ls = new_lock_state(cal, acc, 2.0, STILL_GYR, 10.0)
    lk, lt = ls.copy(), ls.copy()
    args = (s.time_s, acc, gyr, s.has_gyro, cal.up, cal.gyro_bias_dps, lock_deg)
    row_k = _scan_lock(*args, lk)
    row_t = naive.scan_lock(*args, lt)
    return row_k, lk, row_t, lt


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@pytest.mark.parametrize("seed", range(3))
def test_scan_lock_matches_twin_and_locks_on_the_first_excursion(seed: int, gyro: bool) -> None:
    rec, _ = _lock_recording(seed, gyro)
    cal = _calibrate(rec)
    row_k, lk, row_t, lt = _lock_both(rec, cal)
    assert row_k == row_t
    np.testing.assert_allclose(lk, lt, rtol=1e-9, atol=1e-9)
    # True theta reaches the lock angle (30 deg; 0.6 x 30 without a gyro) at row
    # 'cross'; the gyro-tracked tilt follows at once.  The low-passed
    # accelerometer (tau 0.15 s) lags, but also sees the swing's forward
    # tangential acceleration, so it may fire a few rows early.
    lock = 30.0 if gyro else 30.0 * learn._ACC_LOCK_FRACTION
    cross = int(np.argmax(rec.theta_deg >= lock))
    assert cross - (1 if gyro else 10) <= row_k <= cross + (2 if gyro else 15)
    assert lk[learn.L_LOCK_ROW] == row_k and lk[learn.L_SCANNED] == row_k + 1


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_scan_lock_skips_nan_rows(gyro: bool) -> None:
    rec, _ = _lock_recording(4, gyro)
    cal = _calibrate(rec)
    acc = rec.samples.acc_g.copy()
    rng = np.random.default_rng(4)
    acc[cal.end_row + 1 + np.flatnonzero(rng.random(acc.shape[0] - cal.end_row - 1) < 0.1), 1] = np.nan
    row_k, lk, row_t, lt = _lock_both(rec, cal, acc=acc)
    assert row_k == row_t >= 0
    assert not np.isnan(acc[row_k]).any()
    np.testing.assert_allclose(lk, lt, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_scan_lock_resumes_exactly(gyro: bool) -> None:
    rec, _ = _lock_recording(5, gyro)
    cal = _calibrate(rec)
    s = rec.samples
    gyr = s.gyr_dps if gyro else np.zeros((0, 3))
    whole = new_lock_state(cal, s.acc_g, 2.0, STILL_GYR, 10.0)
    row_whole = _scan_lock(s.time_s, s.acc_g, gyr, gyro, cal.up, cal.gyro_bias_dps, 30.0, whole)
    ls = new_lock_state(cal, s.acc_g, 2.0, STILL_GYR, 10.0)
    row = -1
    for stop in range(cal.end_row + 1, len(s) + 1, 7):
        g = gyr[:stop] if gyro else gyr
        row = _scan_lock(s.time_s[:stop], s.acc_g[:stop], g, gyro, cal.up, cal.gyro_bias_dps, 30.0, ls)
        if row >= 0:
            break
    assert row == row_whole >= 0
    np.testing.assert_array_equal(ls, whole)


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@pytest.mark.parametrize("seed", range(6))
def test_lock_axes_recovers_the_mounting(seed: int, gyro: bool) -> None:
    rec, frame = _lock_recording(10 + seed, gyro)
    cal = _calibrate(rec)
    row_k, lk, _, _ = _lock_both(rec, cal)
    assert row_k >= 0
    axes = lock_axes(cal, lk, gyro)
    basis = np.column_stack([axes.u, axes.w, axes.a])
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)  # orthonormal
    np.testing.assert_allclose(np.cross(axes.w, axes.u), axes.a, atol=1e-12)  # a = w x u
    # Each recovered axis within a few degrees of the truth, with the sign that
    # makes the first excursion positive flexion.
    tol_deg = 2.0 if gyro else 4.0
    for got, want in zip((axes.u, axes.w, axes.a), frame.T, strict=True):
        assert math.degrees(math.acos(min(1.0, float(got @ want)))) < tol_deg


@pytest.mark.parametrize("cos_up", [0.0, 0.72, 0.93])
def test_lock_axes_keeps_a_gyro_axis_that_an_offset_accelerometer_tilts_towards_up(cos_up: float) -> None:
    # Eurobench subject 03: the gyro's principal axis is the flexion axis, but
    # the miscalibrated accelerometer's "up" is 44 deg from perpendicular to it.
    rec, _ = _lock_recording(10, True)
    cal = _calibrate(rec)
    _, lk, _, _ = _lock_both(rec, cal)
    side = _any_perpendicular(cal.up)
    axis = cos_up * cal.up + math.sqrt(1.0 - cos_up**2) * side
    axes = lock_axes(cal, lk, True, 1e4 * np.outer(axis, axis))
    assert abs(float(axes.a @ axis)) == pytest.approx(1.0, abs=1e-12)


def test_lock_axes_treats_a_gyro_axis_near_up_as_a_turn_not_a_flexion() -> None:
    rec, _ = _lock_recording(10, True)
    cal = _calibrate(rec)
    _, lk, _, _ = _lock_both(rec, cal)
    side = _any_perpendicular(cal.up)
    axis = 0.97 * cal.up + math.sqrt(1.0 - 0.97**2) * side
    axes = lock_axes(cal, lk, True, 1e4 * np.outer(axis, axis))
    # Not the turn's axis: perpendicular to up, from the excursion's direction.
    assert abs(float(axes.a @ cal.up)) < 1e-12
    assert abs(float(axes.a @ axis)) < 0.5


def test_lock_axes_takes_the_rate_scatter_it_is_given_over_the_scan() -> None:
    rec, frame = _lock_recording(10, True)
    cal = _calibrate(rec)
    _, lk, _, _ = _lock_both(rec, cal)
    scanned = lock_axes(cal, lk, True)
    side = np.cross(cal.up, frame[:, 2])  # perpendicular to up and to the true axis
    side /= np.linalg.norm(side)
    given = lock_axes(cal, lk, True, np.outer(side, side))
    assert abs(float(given.a @ side)) == pytest.approx(1.0, abs=1e-9)
    assert abs(float(scanned.a @ side)) < 0.1
    # A scatter without motion (or with NaN) is no evidence: the scan's axis stands.
    for useless in (np.zeros((3, 3)), np.full((3, 3), np.nan)):
        np.testing.assert_array_equal(lock_axes(cal, lk, True, useless).a, scanned.a)

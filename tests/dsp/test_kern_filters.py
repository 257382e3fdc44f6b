"""Orientation kernels (``_tilt_step``, ``_pendulum_step``) against their twins in ``tests/naive.py``.

The twins do the same arithmetic in a different order (scipy rotations,
numpy matrix products), so kernel and twin agree to rounding: states are
compared slot by slot with ``rtol=1e-9`` (``atol=1e-12`` for slots that pass
through zero).  Rows with NaN never reach these kernels: ``_run_chunk`` skips
them (tested in ``test_kern_run.py``).
"""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from kit import assert_slots_close
from scipy.spatial.transform import Rotation

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_filters import _tilt_step
from hipflex.dsp._kern_pendulum import _pendulum_step

G0 = 9.80665


def _frame(seed: int) -> np.ndarray:
    """A random sensor mounting: columns u, w, a = w x u."""
    m = Rotation.random(rng=np.random.default_rng(seed)).as_matrix()
    m[:, 2] = np.cross(m[:, 1], m[:, 0])
    return m


def _tilt_arrays(frame: np.ndarray, lever_m: float = 0.22) -> tuple[np.ndarray, np.ndarray]:
    prm = np.zeros(L.P_N)
    prm[L.P_U : L.P_U + 3] = frame[:, 0]
    prm[L.P_W : L.P_W + 3] = frame[:, 1]
    prm[L.P_A : L.P_A + 3] = frame[:, 2]
    prm[L.P_LEVER_M] = lever_m
    prm[L.P_TILT_TAU] = 2.0
    prm[L.P_STILL_GYR] = 6.0
    prm[L.P_BIAS_TAU] = 10.0
    prm[L.P_G_CAL] = 1.0
    fstate = np.zeros(L.F_N)
    fstate[L.F_UP : L.F_UP + 3] = frame[:, 0]
    return prm, fstate


def _run_tilt(step, prm, fstate, acc, gyr, dt, clipped):
    """Feed rows through a tilt step function; return (theta, rate) per row."""
    out = np.empty((acc.shape[0], 2))
    for i in range(acc.shape[0]):
        out[i] = step(prm, fstate, *acc[i], *gyr[i], float(dt[i]), bool(clipped[i]))
    return out


def _both_tilt(prm, fstate, acc, gyr, dt, clipped):
    fs_k, fs_t = fstate.copy(), fstate.copy()
    out_k = _run_tilt(_tilt_step, prm, fs_k, acc, gyr, dt, clipped)
    out_t = _run_tilt(naive.tilt_step, prm, fs_t, acc, gyr, dt, clipped)
    return out_k, fs_k, out_t, fs_t


# ---------------------------------------------------------------------------
# gyro tilt filter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tilt_static_sensor_stays_at_standing(seed: int) -> None:
    frame = _frame(seed)
    prm, fstate = _tilt_arrays(frame)
    bias = np.array([0.7, -1.2, 0.4])
    fstate[L.F_BIAS : L.F_BIAS + 3] = bias
    n = 300
    acc = np.tile(frame[:, 0], (n, 1))
    gyr = np.tile(bias, (n, 1))
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, 0.01), np.zeros(n, bool))
    np.testing.assert_allclose(out_k, 0.0, atol=1e-9)
    np.testing.assert_allclose(out_t, 0.0, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")
    # At rest long enough for bias learning, which keeps the (correct) bias.
    assert fs_k[L.F_REST_S] == pytest.approx(n * 0.01)
    np.testing.assert_allclose(fs_k[L.F_BIAS : L.F_BIAS + 3], bias, rtol=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_tilt_pure_rotation_about_flexion_axis_integrates_exactly(seed: int) -> None:
    # The thigh already swings at a steady 200 deg/s; the accelerometer reads
    # gravity plus the centripetal term the filter removes, so the correction
    # target equals the gyro prediction and theta is exactly rate * time.
    frame = _frame(seed)
    prm, fstate = _tilt_arrays(frame, lever_m=0.22)
    rate = 200.0
    omega = np.deg2rad(rate)
    fstate[L.F_PREV_W : L.F_PREV_W + 3] = omega * frame[:, 2]
    fstate[L.F_PREV_W2 : L.F_PREV_W2 + 3] = omega * frame[:, 2]  # the two rates before: the same swing
    fstate[L.F_PREV_OA] = omega
    n, dt = 100, 0.004
    theta = np.deg2rad(rate * dt * np.arange(1, n + 1))
    fu = np.cos(theta) + 0.22 * omega**2 / G0
    fw = np.sin(theta)
    acc = np.outer(fu, frame[:, 0]) + np.outer(fw, frame[:, 1])
    gyr = np.tile(rate * frame[:, 2], (n, 1))
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, dt), np.zeros(n, bool))
    np.testing.assert_allclose(out_k[:, 0], np.rad2deg(theta), rtol=0, atol=1e-9)
    np.testing.assert_allclose(out_k[:, 1], rate, rtol=1e-12)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


def test_tilt_integrates_a_swing_sampled_at_12_5_hz_to_its_peak() -> None:
    """A 70 deg swing of 0.8 s read at 12.5 Hz, the gyro alone (every row clipped: no pull).

    The rate's parabola through the last three samples integrates it to the
    peak 1.24 deg short; the trapezoid cut more off the top of the rate and read
    it 2.32 deg short (the fall gave it back).  On the simulator's rises
    (minimum-jerk, quintic) the two read -2.0 and 0.0 deg on average at 12.5 Hz.
    """
    frame = _frame(5)
    prm, fstate = _tilt_arrays(frame)
    dt, period, amp = 0.08, 0.8, 70.0
    t = dt * np.arange(1, 16)
    swinging = t <= period
    theta = np.where(swinging, 0.5 * amp * (1.0 - np.cos(2 * np.pi * t / period)), 0.0)
    rate = np.where(swinging, 0.5 * amp * (2 * np.pi / period) * np.sin(2 * np.pi * t / period), 0.0)
    th = np.deg2rad(theta)
    acc = np.outer(np.cos(th), frame[:, 0]) + np.outer(np.sin(th), frame[:, 1])
    gyr = np.outer(rate, frame[:, 2])
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(t.size, dt), np.ones(t.size, bool))
    peak = int(np.argmax(theta))
    assert theta[peak] == pytest.approx(amp)
    assert abs(out_k[peak, 0] - amp) < 1.4
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize("step", [_tilt_step, naive.tilt_step])
def test_tilt_accelerometer_scale_error_is_not_motion(step) -> None:
    # The accelerometer reads 1.04 g standing; calibration measured that.
    # Gravity is then exactly "up", |f| is 1 calibrated g, and the thigh is at rest.
    frame = _frame(8)
    prm, fstate = _tilt_arrays(frame)
    prm[L.P_G_CAL] = 1.04
    n = 100
    acc = np.tile(1.04 * frame[:, 0], (n, 1))
    out = _run_tilt(step, prm, fstate, acc, np.zeros((n, 3)), np.full(n, 0.01), np.zeros(n, bool))
    np.testing.assert_allclose(out, 0.0, atol=1e-9)
    assert fstate[L.F_REST_S] == pytest.approx(n * 0.01)


@pytest.mark.parametrize("step", [_tilt_step, naive.tilt_step])
def test_tilt_bias_learning_does_not_start_on_the_last_bit_of_the_rest_sum(step) -> None:
    """The rest time is a sum of periods: 25 rows at 50 Hz land on the 0.5 s threshold.

    naming6 saw the kernel read 0.5000000000000007 there and the twin
    0.49999999999999994 (periods differenced and summed with other
    roundings), so bias learning started a row apart.  Two states one bit
    either side of that sum must learn the same bias.
    """
    frame = _frame(9)
    prm, fstate = _tilt_arrays(frame)
    dt = 0.02
    acc = np.tile(frame[:, 0], (2, 1))
    gyr = np.tile([0.3, -0.2, 0.1], (2, 1))  # a rate the bias (zero) has not learned: learning moves it
    lo = hi = 0.5 - dt
    for _ in range(3):  # a few bits either side: the sums land either side of 0.5
        lo, hi = np.nextafter(lo, 0.0), np.nextafter(hi, 1.0)
    assert lo + dt < 0.5 < hi + dt
    biases = []
    for rest in (lo, hi):
        fs = fstate.copy()
        fs[L.F_REST_S] = rest
        _run_tilt(step, prm, fs, acc[:1], gyr[:1], np.full(1, dt), np.zeros(1, bool))
        biases.append(fs[L.F_BIAS : L.F_BIAS + 3].copy())
    np.testing.assert_array_equal(biases[0], biases[1])


def test_tilt_rotation_about_another_axis_is_not_flexion() -> None:
    # Rotating about the thigh's long axis (u) leaves "up" along u: no flexion.
    frame = _frame(5)
    prm, fstate = _tilt_arrays(frame)
    n = 50
    acc = np.tile(frame[:, 0], (n, 1))
    gyr = np.tile(90.0 * frame[:, 0], (n, 1))
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, 0.01), np.zeros(n, bool))
    np.testing.assert_allclose(out_k, 0.0, atol=1e-9)
    np.testing.assert_allclose(out_t, out_k, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize("seed", range(5))
def test_tilt_matches_twin_on_random_rows(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    frame = _frame(seed)
    prm, fstate = _tilt_arrays(frame, lever_m=rng.uniform(0.1, 0.3))
    prm[L.P_G_CAL] = rng.uniform(0.95, 1.05)  # accelerometer scale error learned at calibration
    fstate[L.F_UP : L.F_UP + 3] = frame[:, 0] + rng.normal(0, 0.05, 3)
    fstate[L.F_UP : L.F_UP + 3] /= np.linalg.norm(fstate[L.F_UP : L.F_UP + 3])
    fstate[L.F_BIAS : L.F_BIAS + 3] = rng.normal(0, 1, 3)
    if seed % 2:
        # Inside a post-gap window (never closed here: _process counts it down)
        # with some specific force already summed.
        fstate[L.F_PG_S] = 0.3
        fstate[L.F_PG_SUM : L.F_PG_SUM + 3] = rng.normal(0, 5, 3)
        fstate[L.F_PG_CNT] = 7.0
    n = 400
    # Alternate moving and quiet stretches so the rest counter and bias learning engage.
    moving = (np.arange(n) // 80) % 2 == 0
    theta = np.cumsum(np.where(moving, rng.normal(0, 0.05, n), 0.0))
    acc = np.outer(np.cos(theta), frame[:, 0]) + np.outer(np.sin(theta), frame[:, 1])
    acc += rng.normal(0, 0.01, acc.shape) + np.where(moving, rng.normal(0, 0.2, n), 0.0)[:, None]
    gyr = rng.normal(0, 1.0, (n, 3)) + fstate[L.F_BIAS : L.F_BIAS + 3]
    gyr += np.where(moving, rng.normal(0, 150.0, n), 0.0)[:, None] * frame[:, 2]
    dt = rng.uniform(0.005, 0.04, n)
    clipped = rng.random(n) < 0.05
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, dt, clipped)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")
    assert fs_k[L.F_BIAS] != fstate[L.F_BIAS]  # bias learning did run
    if seed % 2:
        # The previous rate (0) makes the first row a turn, where the sum restarts: every row counts from there.
        assert fs_k[L.F_PG_CNT] == n


def test_tilt_theta_carried_from_row_to_row_is_the_angle_of_up_whatever_moves_it_between_rows() -> None:
    """The kernel carries theta on by the angle between consecutive (u, w) pairs of "up" (no atan2 per row).

    Between rows "up" is re-anchored (by 30 deg, beyond the series, and by
    2 deg, within it) and the axes re-locked (a frame 3 deg away), as the
    post-gap window and the axis watch do; over 1200 rows the carried angle
    passes several re-syncs.  Every row's theta must be the atan2 of "up"
    in the current axes, and "up" must stay unit length.
    """
    rng = np.random.default_rng(7)
    frame = _frame(6)
    prm, fstate = _tilt_arrays(frame)
    n, dt = 1200, 0.005
    rate = 200.0 * np.sin(np.arange(n) * dt * 2.0 * np.pi / 1.5)
    th = np.deg2rad(np.cumsum(rate) * dt)
    acc = np.outer(np.cos(th), frame[:, 0]) + np.outer(np.sin(th), frame[:, 1]) + rng.normal(0, 0.05, (n, 3))
    gyr = np.outer(rate, frame[:, 2]) + rng.normal(0, 2.0, (n, 3))
    for i in range(n):
        if i in (300, 500):
            turn = Rotation.from_rotvec(np.deg2rad(30.0 if i == 300 else 2.0) * frame[:, 2])
            fstate[L.F_UP : L.F_UP + 3] = turn.apply(fstate[L.F_UP : L.F_UP + 3])
        if i == 700:
            relock = Rotation.from_rotvec(np.deg2rad(3.0) * frame[:, 0])
            for slot in (L.P_U, L.P_W, L.P_A):
                prm[slot : slot + 3] = relock.apply(prm[slot : slot + 3])
        theta, _ = _tilt_step(prm, fstate, *acc[i], *gyr[i], dt, False)
        up = fstate[L.F_UP : L.F_UP + 3]
        want = math.degrees(math.atan2(up @ prm[L.P_W : L.P_W + 3], up @ prm[L.P_U : L.P_U + 3]))
        assert theta == pytest.approx(want, abs=1e-9), i
        assert abs(np.linalg.norm(up) - 1.0) < 1e-12, i
    assert fstate[L.F_TH_ROWS] < 256.0


def _swing(frame: np.ndarray, n: int, dt: float, to_deg: float, seed: int, lever_m: float = 0.22):
    """A thigh flexing from 0 to ``to_deg`` (smoothstep over the first half) then still, bouncing.

    Returns the true angle (deg), the accelerometer rows (gravity, the
    rotational terms the filter removes, and zero-mean random "bounce" of
    0.3 g on every axis) and the gyro rows (the flexion rate).
    """
    t = dt * np.arange(1, n + 1)
    x = np.clip(t / (0.5 * n * dt), 0.0, 1.0)
    amp = np.deg2rad(to_deg)
    th = amp * x**3 * (10 - 15 * x + 6 * x * x)
    om = np.where(x < 1.0, amp * 30 * x * x * (1 - x) ** 2 / (0.5 * n * dt), 0.0)
    al = np.gradient(om, dt)
    fu = np.cos(th) + lever_m * om**2 / G0
    fw = np.sin(th) + lever_m * al / G0
    acc = np.outer(fu, frame[:, 0]) + np.outer(fw, frame[:, 1])
    acc += np.random.default_rng(seed).normal(0, 0.3, acc.shape)
    gyr = np.outer(np.rad2deg(om), frame[:, 2])
    return np.rad2deg(th), acc, gyr


def test_tilt_window_sums_gravity_in_the_world_frame_without_correcting() -> None:
    # After a gap the filter believes the thigh is flexed 40 deg; in fact it is
    # standing and then flexes to 60 deg while the accelerometer bounces by
    # 0.3 g.  Inside the window the gyro alone moves "up" (the 40 deg error
    # stays exactly), and the sum of specific force, kept in world
    # coordinates, points to the true "up" at the end (60 deg), not to the
    # average orientation over the window.
    frame = _frame(6)
    prm, fstate = _tilt_arrays(frame)
    th0 = np.deg2rad(40.0)
    fstate[L.F_UP : L.F_UP + 3] = np.cos(th0) * frame[:, 0] + np.sin(th0) * frame[:, 1]
    fstate[L.F_PG_S] = 1.5
    n, dt = 150, 0.01
    truth, acc, gyr = _swing(frame, n, dt, 60.0, seed=6)
    clipped = np.zeros(n, bool)
    clipped[[10, 70, 71]] = True  # clipped rows are not summed
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, dt), clipped)
    # Exactly the gyro's integral (3rd-order Adams-Moulton, the rates before the rows 0) from the wrong start.
    rate = gyr @ frame[:, 2]
    prev = np.concatenate([[0.0], rate[:-1]])
    prev2 = np.concatenate([[0.0, 0.0], rate[:-2]])
    integral = np.cumsum((5.0 * rate + 8.0 * prev - prev2) / 12.0 * dt)
    np.testing.assert_allclose(out_k[:, 0], 40.0 + integral, rtol=0, atol=1e-9)
    assert fs_k[L.F_PG_CNT] == n  # rows from the first: the thigh starts still (a turn)
    total = fs_k[L.F_PG_SUM : L.F_PG_SUM + 3]
    summed_deg = math.degrees(math.atan2(total @ frame[:, 1], total @ frame[:, 0]))
    assert summed_deg == pytest.approx(60.0, abs=2.0)
    assert fs_k[L.F_PG_S] == 1.5  # counted down by the main loop, not here
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")
    # Outside a window the same rows pull "up" only slowly towards the bouncing gravity.
    fstate[L.F_PG_S] = 0.0
    out = _run_tilt(_tilt_step, prm, fstate.copy(), acc, gyr, np.full(n, dt), clipped)
    assert 0.0 < abs(out[-1, 0] - (truth[-1] + 40.0)) < 10.0


@pytest.mark.slow
def test_tilt_learns_gyro_bias_at_rest() -> None:
    frame = _frame(7)
    prm, fstate = _tilt_arrays(frame)
    true_bias = np.array([2.0, -1.5, 1.0])  # within still_gyr_dps of the (zero) bias estimate
    n, dt = 6000, 0.01  # 60 s = 6 bias time constants
    acc = np.tile(frame[:, 0], (n, 1))
    gyr = np.tile(true_bias, (n, 1))
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, dt), np.zeros(n, bool))
    np.testing.assert_allclose(fs_k[L.F_BIAS : L.F_BIAS + 3], true_bias, rtol=0.01)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


def test_tilt_bias_error_leaves_no_standing_tilt() -> None:
    """A bias estimate 1 deg/s off about the flexion axis (a calibration window that was still settling).

    The pull alone holds "up" behind gravity by bias x tau (2 deg) until the
    mean rate has learned the bias; the pull's integral closes the gap within
    a few tilt time constants, and the filter's angle returns to standing.
    """
    frame = _frame(3)
    prm, fstate = _tilt_arrays(frame)
    bias_err = 1.0 * frame[:, 2]  # deg/s about the flexion axis
    n, dt = 1500, 0.01  # 15 s of rest: 1.5 bias time constants, 7.5 tilt time constants
    acc = np.tile(frame[:, 0], (n, 1))
    gyr = np.tile(bias_err, (n, 1))
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, dt), np.zeros(n, bool))
    assert abs(out_k[-1, 0]) < 0.15  # without the integral 0.58 deg (the mean rate learns 78 % of it)
    assert np.linalg.norm(fs_k[L.F_BIAS : L.F_BIAS + 3] - bias_err) < 0.05
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


def _swings(frame: np.ndarray, fs_hz: float, n_reps: int, rep_s: float, amp_deg: float, lever_m: float):
    """Continuous reps ``0 -> amp_deg -> 0`` of ``rep_s`` each, no pause between them.

    Each half is a minimum-jerk move (the simulator's rises): at every turn
    the rate and acceleration are zero and the jerk is largest.  Returns the
    true angle (deg) and the rows of an exact accelerometer (gravity plus the
    tangential and centripetal terms of a sensor ``lever_m`` below the hip)
    and gyro, read at ``fs_hz``.
    """
    t = np.arange(1, round(n_reps * rep_s * fs_hz) + 1) / fs_hz
    half = 0.5 * rep_s
    ph = np.mod(t, rep_s)
    down = ph >= half
    x = np.where(down, ph - half, ph) / half
    sgn = np.where(down, -1.0, 1.0)
    amp = np.deg2rad(amp_deg)
    s0 = x**3 * (10.0 - 15.0 * x + 6.0 * x * x)
    th = amp * np.where(down, 1.0 - s0, s0)
    om = sgn * amp * 30.0 * x * x * (1.0 - x) ** 2 / half
    al = sgn * amp * (60.0 * x - 180.0 * x * x + 120.0 * x**3) / half**2
    fu = np.cos(th) + lever_m * om**2 / G0
    fw = np.sin(th) + lever_m * al / G0
    acc = np.outer(fu, frame[:, 0]) + np.outer(fw, frame[:, 1])
    gyr = np.outer(np.rad2deg(om), frame[:, 2])
    return np.rad2deg(th), acc, gyr


def _error_at_lows(out: np.ndarray, truth: np.ndarray, fs_hz: float, rep_s: float, last_reps: int) -> float:
    """Mean |filter - truth| at the lows between reps over the last ``last_reps`` reps, deg."""
    per = round(rep_s * fs_hz)
    lows = np.arange(per - 1, truth.size, per)[-last_reps:]
    return float(np.mean(np.abs(out[lows, 0] - truth[lows])))


def test_tilt_learns_a_bias_error_inside_a_continuous_set() -> None:
    """Slow reps without a pause, the bias estimate 1 deg/s off about the flexion axis.

    The calibration window was still settling (a thigh turning 1-2 deg/s
    after a walk reads as bias), and a set starts before any rest could
    teach the mean rate.  The pull alone, weighted down in motion, leaves
    the angle drifting behind gravity through the whole set; its integral,
    running at the pull's (squared) weight in motion too, learns the bias
    at the slow instants of each rep.
    """
    frame = _frame(8)
    prm, fstate = _tilt_arrays(frame)
    bias_err = 1.0 * frame[:, 2]
    fs_hz, rep_s = 100.0, 3.0
    truth, acc, gyr = _swings(frame, fs_hz, 14, rep_s, 70.0, 0.22)
    gyr = gyr + bias_err
    n = truth.size
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, 1.0 / fs_hz), np.zeros(n, bool))
    err = _error_at_lows(out_k, truth, fs_hz, rep_s, 4)
    assert err < 0.5, err  # 0.07 deg; 4.3 without the integral in motion
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


def test_tilt_fast_reps_at_25_hz_do_not_drift_on_the_lagging_tangential_term() -> None:
    """Fast continuous reps read at 25 Hz by an exact sensor 30 cm below the hip.

    The angular acceleration is the backward difference of the rate: the
    acceleration half a sample back.  Next to a rep's turn (minimum jerk: the
    acceleration changes fastest there) the tangential term it removes is off
    by 0.2 g, always the same way, while the rate is low and |f| near 1 g:
    the pull, open there, dragged "up" 10 deg off at every turn, and its
    integral learned that as bias.  The terms removed count as uncertain by
    half of themselves, in quadrature with |f| - 1 g.
    """
    frame = _frame(9)
    prm, fstate = _tilt_arrays(frame, lever_m=0.3)
    fs_hz, rep_s = 25.0, 1.2
    truth, acc, gyr = _swings(frame, fs_hz, 25, rep_s, 80.0, 0.3)
    n = truth.size
    out_k, fs_k, out_t, fs_t = _both_tilt(prm, fstate, acc, gyr, np.full(n, 1.0 / fs_hz), np.zeros(n, bool))
    err = _error_at_lows(out_k, truth, fs_hz, rep_s, 5)
    assert err < 0.8, err  # 0.39 deg; 3.2 with the pull's gate on |f| alone (1.6 without its integral in motion)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


# ---------------------------------------------------------------------------
# accelerometer-only pendulum filter
# ---------------------------------------------------------------------------


def _pendulum_arrays(frame: np.ndarray, lever_m: float = 0.22, offset_m: float = 0.0):
    prm = np.zeros(L.P_N)
    prm[L.P_U : L.P_U + 3] = frame[:, 0]
    prm[L.P_W : L.P_W + 3] = frame[:, 1]
    prm[L.P_A : L.P_A + 3] = frame[:, 2]
    prm[L.P_LEVER_M] = lever_m
    prm[L.P_OFFSET_M] = offset_m
    prm[L.P_EKF_Q] = 300.0**2
    prm[L.P_EKF_R] = 0.05
    prm[L.P_G_CAL] = 1.0
    prm[L.P_THETA_MAX] = np.deg2rad(120.0)  # the Settings defaults
    prm[L.P_THETA_MIN] = np.deg2rad(-40.0)
    prm[L.P_ZUPT_COS] = math.cos(math.radians(1.0))  # _kernel_setup._zupt_drift_deg at 50 Hz and up
    fstate = np.zeros(L.F_N)
    fstate[L.F_G_EST] = 1.0  # the pendulum filter's gravity magnitude starts at the calibration's
    x0 = [0.0, 0.0, 0.0, 1.0, lever_m, offset_m][: L.PX]
    fstate[L.F_X : L.F_X + L.PX] = x0
    p0 = np.diag([(2 * L.DEG) ** 2, (5 * L.DEG) ** 2, 1.0, 0.05**2, 0.05**2, 0.05**2][: L.PX])
    fstate[L.F_P : L.F_P + L.PX * L.PX] = p0.ravel()
    return prm, fstate


def _run_pend(step, prm, fstate, acc, dt, clipped):
    out = np.empty((acc.shape[0], 3))
    for i in range(acc.shape[0]):
        out[i] = step(prm, fstate, *acc[i], float(dt[i]), int(clipped[i]))
    return out


def _both_pend(prm, fstate, acc, dt, clipped):
    fs_k, fs_t = fstate.copy(), fstate.copy()
    out_k = _run_pend(_pendulum_step, prm, fs_k, acc, dt, clipped)
    out_t = _run_pend(naive.pendulum_step, prm, fs_t, acc, dt, clipped)
    return out_k, fs_k, out_t, fs_t


def _sagittal(frame: np.ndarray, fw: np.ndarray, fu: np.ndarray) -> np.ndarray:
    return np.outer(fu, frame[:, 0]) + np.outer(fw, frame[:, 1])


def test_pendulum_jacobian_twin_matches_finite_differences() -> None:
    # The twin's hand-derived H is itself checked against its measurement model.
    rng = np.random.default_rng(8)
    for _ in range(20):
        m = np.array([rng.uniform(-2, 2), rng.normal(0, 5), rng.normal(0, 50), 1.1, 0.2, 0.05])
        num = np.empty((2, 6))
        for j in range(6):
            e = np.zeros(6)
            e[j] = 1e-6 * max(1.0, abs(m[j]))
            num[:, j] = (naive.pendulum_measurement(m + e) - naive.pendulum_measurement(m - e)) / (2 * e[j])
        np.testing.assert_allclose(naive.pendulum_jacobian(m), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_pendulum_static_standing_stays_at_zero(seed: int) -> None:
    frame = _frame(seed)
    prm, fstate = _pendulum_arrays(frame)
    n = 300
    acc = np.tile(frame[:, 0], (n, 1))
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, np.full(n, 0.01), np.zeros(n, bool))
    np.testing.assert_allclose(out_k[:, :2], 0.0, atol=1e-9)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-10)
    assert_slots_close(fs_k, fs_t, "F_")
    # Longer (kernel only): the angle std settles to a steady state (the
    # Riccati fixed point) instead of growing without bound.
    long_n = 20000
    out = _run_pend(
        _pendulum_step,
        prm,
        fs_k,
        np.tile(frame[:, 0], (long_n, 1)),
        np.full(long_n, 0.01),
        np.zeros(long_n, bool),
    )
    np.testing.assert_allclose(out[:, :2], 0.0, atol=1e-9)
    assert np.isfinite(out[-1, 2]) and out[-1, 2] > 0
    assert out[-1, 2] == pytest.approx(out[-2, 2], rel=1e-9)


@pytest.mark.parametrize("held_deg", [150.0, 179.0, -100.0])
def test_pendulum_stays_within_the_thighs_range(held_deg: float) -> None:
    # Gravity as for a thigh beyond its range (as a filter on the wrong side
    # of 90 deg would see it): the angle stops at the bound instead of going
    # on over the top and wrapping to the other side.
    frame = _frame(3)
    prm, fstate = _pendulum_arrays(frame)
    n = 600
    dt = np.full(n, 0.01)
    ramp = np.deg2rad(np.linspace(0.0, held_deg, n // 2))
    th = np.concatenate([ramp, np.full(n - ramp.size, ramp[-1])])
    acc = np.outer(np.cos(th), frame[:, 0]) + np.outer(np.sin(th), frame[:, 1])
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, dt, np.zeros(n, bool))
    lo, hi = np.rad2deg(prm[L.P_THETA_MIN]), np.rad2deg(prm[L.P_THETA_MAX])
    assert np.all((out_k[:, 0] >= lo - 1e-9) & (out_k[:, 0] <= hi + 1e-9))
    assert out_k[-1, 0] == pytest.approx(hi if held_deg > 0 else lo, abs=1e-9)
    assert np.all(np.abs(np.diff(out_k[:, 0])) < 30.0)  # no wrap
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize("seed", [599, 766, 3102])
def test_a_runners_push_does_not_carry_the_angle_past_the_thighs_extension(seed: int) -> None:
    # Tuning seeds of the widened simulator, accelerometer-only strides (599:
    # 104 Hz, a sensor 11 cm below the hip; 766: 50 Hz with packet loss; 3102:
    # 200 Hz, 10 cm).  The hip's push in stance, read as swing, drove the
    # filter's angle to 60 deg behind standing (the truth: 23-30) each stride;
    # at the bound the outward rate stops, and sets lost 2, 4 and 13 strides.
    # A thigh extends 20-30 deg behind standing.
    from hipflex.dsp import Settings, analyze
    from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

    case = draw_wide_case(seed)
    assert not case.sensor.has_gyro and case.drill == "stride"
    sim = simulate_wide(case)
    res = analyze(sim.samples, Settings())
    # A peak lost in a gap is counted as hidden.
    peaks = np.array([r.peak_s for r in res.reps] + [t for s in res.sets for t in s.hidden_peaks_s])
    for si, (t0, t1) in enumerate(sim.truth.sets):
        truth = sum(1 for r in sim.truth.reps if r.set_index == si)
        assert int(np.sum((peaks >= t0 - 1.0) & (peaks <= t1 + 1.0))) == truth, f"set {si}"


@pytest.mark.parametrize(("seed", "rates_hz"), [(47, (25.0,)), (109, (25.0,)), (71, (50.0, 52.0)), (77, (50.0, 52.0))])
def test_strides_at_25_and_50_hz_are_followed_by_the_iterated_update(seed: int, rates_hz: tuple[float, ...]) -> None:
    # Tuning seeds of the widened simulator focused on issue 14's worst
    # held-out class (acc-only strides at 25 Hz, a front strap 10-18 cm
    # down).  A stride spans ~15 rows; a row's predicted rate is then off by
    # radians a second, and the centripetal and offset terms (rate squared),
    # linearised there, mistook the force for a slower swing: the trace fell
    # behind the strides and sets lost 6 (47) and 10-12 (109) of them.
    # Relinearised once at the updated state (rows 15-67 Hz, the rate 2 rad/s
    # and faster) the sets are counted exactly.  The same strap at 50/52 Hz
    # (a stride ~30 rows; tuning seeds of the focus moved there, accuracy_wide
    # --focus stride50) lost 4 (71) and 3 (77) strides in a set the same way.
    from hipflex.dsp import Settings, analyze
    from hipflex.sensor.sim.wide import WideFocus, draw_wide_case, simulate_wide

    focus = WideFocus(
        drill="stride",
        rates_hz=rates_hz,
        has_gyro=False,
        azimuth_range_deg=(-45.0, 45.0),
        distance_range_m=(0.10, 0.18),
    )
    sim = simulate_wide(draw_wide_case(seed, focus=focus))
    res = analyze(sim.samples, Settings())
    peaks = np.array([r.peak_s for r in res.reps] + [t for s in res.sets for t in s.hidden_peaks_s])
    for si, (t0, t1) in enumerate(sim.truth.sets):
        truth = sum(1 for r in sim.truth.reps if r.set_index == si)
        assert int(np.sum((peaks >= t0 - 1.0) & (peaks <= t1 + 1.0))) == truth, f"set {si}"


def test_pendulum_converges_to_a_held_tilt() -> None:
    frame = _frame(2)
    prm, fstate = _pendulum_arrays(frame)
    n = 400
    th = np.deg2rad(40.0)
    acc = np.tile(np.cos(th) * frame[:, 0] + np.sin(th) * frame[:, 1], (n, 1))
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, np.full(n, 0.01), np.zeros(n, bool))
    assert out_k[-1, 0] == pytest.approx(40.0, abs=0.05)
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-10)
    assert_slots_close(fs_k, fs_t, "F_")


def test_pendulum_tracks_a_fast_swing_with_its_model() -> None:
    # 80 deg in 0.3 s: tangential and centripetal terms reach ~0.6 g.  The
    # filter models them; the DESIGN target for acc-only angles is 6 deg.
    import synth

    frame = _frame(3)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.22, offset_m=0.03)
    t = np.arange(0, 3.0, 0.01)
    th, om, al = synth.theta_of(t, [synth.Bump(0.5, 0.3, 0.3, 0.4, 80.0), synth.Bump(1.8, 0.3, 0.0, 0.4, 60.0)])
    fw = np.sin(th) + (0.22 * al - 0.03 * om**2) / G0
    fu = np.cos(th) + (0.22 * om**2 + 0.03 * al) / G0
    acc = _sagittal(frame, fw, fu)
    n = t.size
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, np.full(n, 0.01), np.zeros(n, bool))
    assert np.max(np.abs(out_k[:, 0] - np.rad2deg(th))) < 6.0
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize(("fs_hz", "min_change_deg"), [(25.0, 1.0), (50.0, 0.1)])
def test_pendulum_iterated_update_at_20_52_hz_matches_its_twin(
    monkeypatch: pytest.MonkeyPatch, fs_hz: float, min_change_deg: float
) -> None:
    # Fast swings at 25 and 50 Hz (rows a swing's rate apart by 2 rad/s and
    # more): the update is relinearised at the updated state (an iterated EKF),
    # kernel and twin alike, and that changes the trace (the twin without it
    # differs; less at 50 Hz, where a row's predicted rate is nearer).
    from hipflex.dsp import Settings
    from hipflex.dsp import _kern_pendulum as kp

    frame = _frame(5)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.12, offset_m=0.08)
    prm[L.P_EKF_Q] = Settings().pendulum_jerk_rad_s3 ** 2
    prm[L.P_EKF_R] = Settings().pendulum_acc_noise_g
    t, acc, _, _, _ = _ballistic_rows(frame, fs_hz, 0.25, 0.12, 0.08)
    dt = np.full(t.size, 1.0 / fs_hz) * (1.0 + 0.2 * np.random.default_rng(1).uniform(-1.0, 1.0, t.size))
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, dt, np.zeros(t.size, bool))
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")
    monkeypatch.setattr(kp, "_ITERATE_MAX_DT_S", 0.0)
    plain = _run_pend(naive.pendulum_step, prm, fstate.copy(), acc, dt, np.zeros(t.size, bool))
    assert np.max(np.abs(plain[:, 0] - out_k[:, 0])) > min_change_deg


def _ballistic_rows(frame: np.ndarray, fs_hz: float, rise_s: float, lever_m: float, offset_m: float):
    """16 ballistic swings of 65 deg (minimum-jerk rise, a return 1.8 times slower, a short dwell)
    as an exact sensor reports them: each row the average of the specific force over its sample
    period (an oversampling ADC's integrate-and-dump, as the simulator's sensor), not its value at
    the instant.  Returns the row times, the rows (g), the true angle (deg), the swings, the period."""
    import synth

    period_s, n_rep, fine_s = 2.85 * rise_s + 0.02, 16, 1e-4
    bumps = [synth.Bump(2.0 + k * period_s, rise_s, 0.0, period_s - rise_s - 0.02, 65.0) for k in range(n_rep)]
    dt = 1.0 / fs_hz
    t = np.arange(0.0, 4.0 + n_rep * period_s, dt)
    k = round(dt / fine_s)
    tf = (t[:, None] - 0.5 * dt + (np.arange(k) + 0.5) * fine_s).ravel()
    th, om, al = synth.theta_of(tf, bumps)
    fw = (np.sin(th) + (lever_m * al - offset_m * om**2) / G0).reshape(t.size, k).mean(axis=1)
    fu = (np.cos(th) + (lever_m * om**2 + offset_m * al) / G0).reshape(t.size, k).mean(axis=1)
    truth_deg = np.rad2deg(synth.theta_of(t, bumps)[0])
    return t, _sagittal(frame, fw, fu), truth_deg, bumps, period_s


@pytest.mark.parametrize(
    "rise_s",
    [
        0.4,
        pytest.param(
            0.15,
            marks=pytest.mark.xfail(
                strict=True,
                reason="issue 14 (open): a swing that rises in 2-3 samples is not followed: the "
                "constant-acceleration EKF locks onto wrong branches (peaks up to 55 deg off, swings "
                "traced backwards) whatever its jerk density, with or without iterating the update",
            ),
        ),
    ],
)
def test_pendulum_follows_ballistic_swings_sampled_at_12_5_hz(rise_s: float) -> None:
    """Exact rows, the true lever and the settings' filter tuning: every swing's peak within 10 deg
    and nothing traced backwards.  0.15 s is the fastest rise of the simulator's ballistic sets;
    the filter follows rises of 4 samples and more (0.3 s: peaks within 8 deg; 0.25 s: 26 deg;
    0.2 s: 48 deg and 50 deg backwards; at 25 Hz 0.15 s: 19 deg, at 50 Hz 5 deg).  This is the
    live angle: the rep smoother still counts these 16 swings right through ``analyze`` (peaks
    +-25 deg).  Where acc-only 12.5 Hz ballistic sets of the wide simulator lose 4-11 reps (issue
    14, sensors 10-14 cm below the hip) the same failure blinds the sensor-position search (its
    innovations are 4-7 times their predicted variance for every candidate; the true position's
    likelihood is worse than the prior's), and the prior (22 cm) traces the set at half its rate;
    given the true position instead, those sets still come out 0-8 off (tuning seeds 859, 1562,
    2694, 3887, 4867), so the filter, not the search, is what to fix."""
    from hipflex.dsp import Settings

    frame = _frame(3)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.22, offset_m=0.03)
    prm[L.P_EKF_Q] = Settings().pendulum_jerk_rad_s3 ** 2
    prm[L.P_EKF_R] = Settings().pendulum_acc_noise_g
    fs_hz = 12.5
    t, acc, truth_deg, bumps, period_s = _ballistic_rows(frame, fs_hz, rise_s, 0.22, 0.03)
    out = _run_pend(_pendulum_step, prm, fstate, acc, np.full(t.size, 1.0 / fs_hz), np.zeros(t.size, bool))
    peak_err = [out[m, 0].max() - truth_deg[m].max() for b in bumps if (m := (t >= b.t0) & (t < b.t0 + period_s)).any()]
    assert np.max(np.abs(peak_err)) < 10.0, np.round(peak_err)
    assert out[:, 0].min() > -10.0


def _predicted_force(prm: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The pendulum model's specific force for state x, sensor axes, g."""
    m = np.array([*x[:3], 1.0, prm[L.P_LEVER_M], prm[L.P_OFFSET_M]])
    fw, fu = naive.pendulum_measurement(m)
    return fw * prm[L.P_W : L.P_W + 3] + fu * prm[L.P_U : L.P_U + 3]


def test_pendulum_clipped_axes_the_prediction_already_exceeds_are_predicted_only() -> None:
    # Every axis at full scale, and the predicted force lies beyond each bound:
    # the bounds say nothing the prediction does not already satisfy.
    frame = Rotation.from_euler("xyz", [60, -20, 30], degrees=True).as_matrix()  # ~0.5 g on every axis
    frame[:, 2] = np.cross(frame[:, 1], frame[:, 0])
    prm, fstate = _pendulum_arrays(frame)
    prm[L.P_EKF_Q] = 5.0**2  # a confident prediction: +-0.07 g on each axis
    fstate[L.F_X : L.F_X + 3] = [0.5, 2.0, -3.0]
    dt = 0.02
    x = fstate[L.F_X : L.F_X + 3]
    x_pred = np.array([x[0] + dt * x[1] + 0.5 * dt * dt * x[2], x[1] + dt * x[2], x[2]])
    pred = _predicted_force(prm, x_pred)
    assert np.abs(pred).min() > 0.4
    bound = 0.05 * np.sign(pred)  # 0.35 g and more (5 standard deviations) closer to zero
    fs_k = fstate.copy()
    _pendulum_step(prm, fs_k, *bound, dt, 7)
    # The truncated normal's mean moves by phi(alpha) / Q(alpha) sd, < 1e-5 sd at alpha < -5.
    np.testing.assert_allclose(fs_k[L.F_X : L.F_X + 3], x_pred, rtol=1e-6, atol=1e-6)
    fs_t = fstate.copy()
    naive.pendulum_step(prm, fs_t, *bound, dt, 7)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize("range_g", [1.5, 2.0])
def test_pendulum_clipped_axis_is_a_bound_not_a_value(range_g: float) -> None:
    # A fast swing to 80 deg whose specific force reaches ~3-4 g, read by an
    # accelerometer that clips at +-range_g.  Taken as a bound (the clip bits),
    # the angle follows the swing; taken as values, the clipped axes say the
    # thigh accelerates less than it does and the filter lags it.
    frame = _frame(7)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.25, offset_m=0.03)
    fstate[L.F_ZLP : L.F_ZLP + 3] = frame[:, 0]
    dt = 0.005
    t = np.arange(0.0, 1.2, dt)
    s = np.clip((t - 0.2) / 0.25, 0.0, 1.0)
    th = np.deg2rad(80.0) * (s * s * s * (10 - 15 * s + 6 * s * s))  # minimum-jerk rise, then a hold
    om = np.gradient(th, dt)
    al = np.gradient(om, dt)
    fw = np.sin(th) + (0.25 * al - 0.03 * om**2) / G0
    fu = np.cos(th) + (0.25 * om**2 + 0.03 * al) / G0
    acc = _sagittal(frame, fw, fu)
    assert np.abs(acc).max() > 1.5 * range_g  # much of the swing is clipped
    clipped = np.clip(acc, -range_g, range_g)
    bits = ((np.abs(clipped) >= range_g) * np.array([1, 2, 4])).sum(axis=1)
    assert np.count_nonzero(bits) > 10
    out = {}
    for name, mask in (("bound", bits), ("value", np.zeros_like(bits))):
        out[name], fs_k, out_t, fs_t = _both_pend(prm, fstate.copy(), clipped, np.full(t.size, dt), mask)
        np.testing.assert_allclose(out_t, out[name], rtol=1e-8, atol=1e-8)
        assert_slots_close(fs_k, fs_t, "F_")
    swing = (t > 0.2) & (t < 0.6)
    err = {k: np.abs(v[:, 0] - np.rad2deg(th))[swing].max() for k, v in out.items()}
    assert err["bound"] < 0.5 * err["value"], err
    assert err["bound"] < 8.0, err


def test_pendulum_impact_is_down_weighted() -> None:
    # A 3 g foot strike: the robust update inflates R, so theta barely moves.
    frame = _frame(5)
    prm, fstate = _pendulum_arrays(frame)
    n = 200
    acc = np.tile(frame[:, 0], (n, 1))
    acc[150] += 3.0 * frame[:, 1]
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc, np.full(n, 0.01), np.zeros(n, bool))
    assert abs(out_k[150, 0]) < 5.0
    np.testing.assert_allclose(out_t, out_k, rtol=1e-9, atol=1e-10)
    assert_slots_close(fs_k, fs_t, "F_")


def test_pendulum_state_is_kept_physical() -> None:
    frame = _frame(6)
    prm, fstate = _pendulum_arrays(frame)
    fstate[L.F_X : L.F_X + 3] = [4.0, 100.0, -1e5]  # past pi, 5700 deg/s, absurd acceleration
    fs_k = fstate.copy()
    theta, rate, _ = _pendulum_step(prm, fs_k, *frame[:, 0], 0.01, 7)
    assert -180.0 < theta <= 180.0
    assert abs(rate) <= math.degrees(40.0) + 1e-9
    fs_t = fstate.copy()
    naive.pendulum_step(prm, fs_t, *frame[:, 0], 0.01, 7)
    assert_slots_close(fs_k, fs_t, "F_")


@pytest.mark.parametrize("seed", range(5))
def test_pendulum_matches_twin_on_random_rows(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    frame = _frame(10 + seed)
    prm, fstate = _pendulum_arrays(frame, lever_m=rng.uniform(0.15, 0.3), offset_m=rng.uniform(0, 0.07))
    prm[L.P_EKF_Q] = rng.uniform(50, 500) ** 2
    prm[L.P_EKF_R] = rng.uniform(0.02, 0.1)
    prm[L.P_G_CAL] = rng.uniform(0.95, 1.05)
    prm[L.P_ID] = float(seed % 2)  # half the cases also sum the identification likelihood
    prm[L.P_ZUPT_S] = rng.uniform(0.1, 0.3)
    fstate[L.F_G_EST] = prm[L.P_G_CAL]
    fstate[L.F_ZLP : L.F_ZLP + 3] = frame[:, 0] * prm[L.P_G_CAL]
    n = 400
    theta = np.cumsum(rng.normal(0, 0.03, n))
    theta[150:260] = theta[150]  # a still stretch: the zero-velocity update fires
    noise = np.where(np.arange(n)[:, None] < 150, 0.05, 0.002)
    noise[260:] = 0.05
    fw = np.sin(theta) + rng.normal(0, 1.0, n) * noise[:, 0]
    fu = np.cos(theta) + rng.normal(0, 1.0, n) * noise[:, 0]
    acc = _sagittal(frame, fw, fu) * prm[L.P_G_CAL] + rng.normal(0, 0.4, (n, 3)) * noise
    spikes = (rng.random(n) < 0.03) & (noise[:, 0] > 0.01)
    acc[spikes] += rng.normal(0, 2.0, (int(spikes.sum()), 3))  # impacts
    dt = np.where(noise[:, 0] > 0.01, rng.uniform(0.005, 0.04, n), 0.01)
    # Rows with random axes at full scale (censored: some bounds beyond the prediction, some not).
    clipped = np.where((rng.random(n) < 0.05) & (noise[:, 0] > 0.01), rng.integers(1, 8, n), 0)
    out_k, fs_k, out_t, fs_t = _both_pend(prm, fstate, acc[:260], dt[:260], clipped[:260])
    assert fs_k[L.F_ZSTILL_S] >= prm[L.P_ZUPT_S] + 0.1  # still for a while
    assert abs(fs_k[L.F_X + 1]) < 1e-3  # rate observed to be zero
    assert_slots_close(fs_k, fs_t, "F_")
    out_k2, fs_k, out_t2, fs_t = _both_pend(prm, fs_k, acc[260:], dt[260:], clipped[260:])
    np.testing.assert_allclose(np.vstack([out_t, out_t2]), np.vstack([out_k, out_k2]), rtol=1e-9, atol=1e-9)
    assert_slots_close(fs_k, fs_t, "F_")
    assert (fs_k[L.F_NLL] != 0.0) == (seed % 2 == 1)


def test_pendulum_tracks_a_changed_gravity_scale_at_rest_instead_of_spinning() -> None:
    # Calibrated at 1.00 g, the sensor now reads 1.05 g standing still (a scale
    # change over a long stream): the excess must go into the tracked gravity
    # magnitude, not into the centripetal term as a spinning thigh.
    frame = _frame(3)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.22, offset_m=0.03)
    n = 6000  # 60 s at 100 Hz
    acc = _sagittal(frame, np.zeros(n), np.full(n, 1.05))
    out = _run_pend(_pendulum_step, prm, fstate, acc, np.full(n, 0.01), np.zeros(n, dtype=bool))
    assert fstate[L.F_G_EST] == pytest.approx(1.05, abs=0.005)
    late = out[3000:]
    assert np.max(np.abs(late[:, 0])) < 1.0  # angle, deg
    # The rate the start-up mismatch induced is only weakly observable at rest;
    # it must die away (without tracking it stays at tens of deg/s).
    assert np.max(np.abs(out[-100:, 1])) < 5.0
    assert np.max(np.abs(out[-100:, 1])) < 0.5 * np.max(np.abs(out[2000:2100, 1]))


@pytest.mark.parametrize("step", [_pendulum_step, naive.pendulum_step], ids=["kernel", "twin"])
def test_pendulum_zero_velocity_update_stops_ringing_at_rest(step) -> None:
    # The filter leaves a swing with the thigh already still at 10 deg but a
    # rate of 60 deg/s left in its state: the pendulum model then oscillates
    # about 10 deg, because sin(theta) + L theta''/g can balance the
    # measurements.  Once the specific force has been steady for
    # pendulum_still_s, rate and acceleration are observed to be zero.
    frame = _frame(5)
    held = np.deg2rad(10.0)
    n, dt = 150, 0.01
    acc = np.tile(_sagittal(frame, np.array([np.sin(held)]), np.array([np.cos(held)]))[0], (n, 1))
    acc += np.random.default_rng(5).normal(0, 0.003, acc.shape)
    rates = {}
    for still_s in (0.0, 0.2):
        prm, fstate = _pendulum_arrays(frame)
        prm[L.P_ZUPT_S] = still_s
        fstate[L.F_ZLP : L.F_ZLP + 3] = acc[0]
        fstate[L.F_X : L.F_X + 3] = [held, np.deg2rad(60.0), 0.0]
        out = _run_pend(step, prm, fstate, acc, np.full(n, dt), np.zeros(n, bool))
        rates[still_s] = np.abs(out[30:, 1]).max()  # deg/s, from 0.3 s on
        if still_s:
            assert np.abs(out[30:, 0] - 10.0).max() < 1.5
    assert rates[0.2] < 1.0 < 5.0 < rates[0.0]


@pytest.mark.parametrize("step", [_pendulum_step, naive.pendulum_step], ids=["kernel", "twin"])
def test_pendulum_zero_velocity_update_lets_a_slow_small_tilt_through(step) -> None:
    # A hip hike: the thigh tilts 5 deg in 1 s (minimum jerk), stays 0.6 s and comes back, at
    # 100 Hz with a quiet sensor.  Its specific force never leaves the 0.04 g band of its 0.1 s
    # low-pass, so the stillness test alone called the whole rep still and held the rate at zero:
    # the angle lagged the force and read about half the tilt (drills11: hikes at 0.4-0.6 of their
    # range).  The low-passed force turning from where the still stretch began ends it.
    frame = _frame(11)
    dt, rise_s, peak_deg = 0.01, 1.0, 5.0
    u = np.arange(0.0, rise_s, dt) / rise_s
    ramp = peak_deg * (10 * u**3 - 15 * u**4 + 6 * u**5)
    theta_deg = np.concatenate([np.zeros(100), ramp, np.full(60, peak_deg), ramp[::-1], np.zeros(100)])
    th = np.deg2rad(theta_deg)
    acc = _sagittal(frame, np.sin(th), np.cos(th)) + np.random.default_rng(11).normal(0, 0.002, (th.size, 3))
    prm, fstate = _pendulum_arrays(frame)
    prm[L.P_ZUPT_S] = 0.2  # the Settings default
    fstate[L.F_ZLP : L.F_ZLP + 3] = acc[0]
    out = _run_pend(step, prm, fstate, acc, np.full(th.size, dt), np.zeros(th.size, bool))
    # Held as still, the angle crawled to 2.8 deg and still read 2.5 when the thigh was back at 0.
    # (This filter's own lag overshoots the peak by up to 2.5 deg; the rep is what must show.)
    assert out[:, 0].max() >= 0.9 * peak_deg
    assert out[250:260, 0] == pytest.approx(peak_deg, abs=0.5)  # the end of the hold
    assert np.abs(out[-50:, 0]).max() < 0.5  # back at rest
    assert np.abs(out[-20:, 1]).max() < 1.0  # and still: the update holds the rate at zero again


@pytest.mark.parametrize("step", [_pendulum_step, naive.pendulum_step], ids=["kernel", "twin"])
def test_a_lying_levers_filter_held_over_the_top_of_a_still_thigh_comes_back(step) -> None:
    # A lying thigh's lever (across "up": the offset beyond any strap's) after a fast
    # rep carried the filter to the 120 deg bound while the thigh is still at 40 deg
    # (tuning seed 1, side-lying raises at 50 Hz).  There the robust update's inflated
    # noise and the still stretch's zero rate held it for the rest of the set; an
    # innovation of more than 10 sigma while still re-anchors it on the still force.
    frame = _frame(7)
    held = np.deg2rad(40.0)
    n, dt = 200, 0.01
    acc = np.tile(_sagittal(frame, np.array([np.sin(held)]), np.array([np.cos(held)]))[0], (n, 1))
    acc += np.random.default_rng(7).normal(0, 0.003, acc.shape)
    prm, fstate = _pendulum_arrays(frame, lever_m=0.0, offset_m=0.20)
    prm[L.P_ZUPT_S] = 0.2  # the Settings defaults
    prm[L.P_EKF_Q] = Settings().pendulum_jerk_rad_s3 ** 2
    prm[L.P_EKF_R] = Settings().pendulum_acc_noise_g
    fstate[L.F_ZLP : L.F_ZLP + 3] = acc[0]
    fstate[L.F_X] = np.deg2rad(120.0)
    out = _run_pend(step, prm, fstate, acc, np.full(n, dt), np.zeros(n, bool))
    # From 0.3 s after the still stretch began; without the re-anchoring 88 deg then, 53 a second later.
    assert out[50:, 0] == pytest.approx(40.0, abs=1.0)


def test_the_still_stretchs_drift_bound_is_set_only_for_small_reps_and_widens_at_low_rates() -> None:
    # drills11: with the bound at the default min_rom_deg the held-out wide simulator had more reps in
    # rests (5 -> 11), so it is set where reps are a few degrees (hip hikes at 3, stretches at 10).
    from kit import kernel_arrays

    from hipflex.dsp import Settings

    frame = _frame(4)
    bound = {}
    for min_rom, period_s in ((20.0, 0.01), (10.0, 0.01), (3.0, 0.01), (3.0, 0.08)):
        prm = kernel_arrays(Settings(min_rom_deg=min_rom, candidate_deg=0.4 * min_rom), False, frame, period_s)[0]
        bound[min_rom, period_s] = math.degrees(math.acos(prm[L.P_ZUPT_COS]))
    assert bound[20.0, 0.01] == pytest.approx(180.0)  # none: the stillness test alone
    assert bound[10.0, 0.01] == pytest.approx(1.0) == bound[3.0, 0.01]
    assert 1.5 < bound[3.0, 0.08] < 3.0  # 12.5 Hz: the low-pass keeps 0.62 of the noise


def test_a_lying_levers_filter_is_bounded_at_the_vertical() -> None:
    # Past 90 deg sin(theta) reads alike both sides: under a lying thigh's lever a fast
    # rep went over the top to the hanging thigh's bound (tuning seed 5, straight-leg
    # raises at 50 Hz: 60 deg reps read 117).  No drill lifts a lying thigh past the vertical.
    from hipflex.dsp._kernel_setup import _make_kernel
    from hipflex.dsp.identify import LeverFit
    from hipflex.dsp.learn import Axes, Calibration

    frame = _frame(4)
    u, w, a = (np.ascontiguousarray(frame[:, i]) for i in range(3))
    cal = Calibration(0, 0, u, np.zeros(3), 0.01, True)
    bound = {}
    for lever in (LeverFit(0.0, 0.20, True, 50.0), LeverFit(0.22, 0.05, True, 50.0), None):
        prm = _make_kernel(Settings(), False, cal, Axes(u, w, a), lever).prm
        bound[lever] = math.degrees(prm[L.P_THETA_MAX])
    hanging = Settings().pendulum_max_flexion_deg
    assert list(bound.values()) == pytest.approx([90.0, hanging, hanging])


def _window_anchor_error_deg(
    step, finish, fs_hz: float, offset_m: float, lever_m: float, hip_g: float = 0.0, hip_s: float = 0.0
) -> float:
    """Re-anchored minus true angle after a post-gap window opened at a swing's fastest instant, deg.

    The thigh swings 35 +- 45 deg at 0.9 Hz (a ballistic set) with exact rigid
    physics: the sensor ``lever_m`` below the hip (the filter assumes 22 cm)
    and ``offset_m`` out along w (the thigh's surface, which the filter does
    not model).  The window opens at the swing's fastest instant with "up"
    20 deg off (the gyro missed the gap); the main loop's countdown is
    emulated, and ``finish`` re-anchors.  For the first ``hip_s`` seconds the
    hip speeds up forwards at ``hip_g`` (a runner's first strides).
    """
    frame = _frame(11)
    prm, fstate = _tilt_arrays(frame, lever_m=0.22)
    prm[L.P_HAS_GYRO] = 1.0  # the gyro's window (without one, _pg_finish closes the swing-phase window)
    dt = 1.0 / fs_hz
    t = np.arange(int(8.0 * fs_hz)) * dt
    w0 = 2.0 * np.pi * 0.9
    amp = np.deg2rad(45.0)
    th = np.deg2rad(35.0) + amp * np.sin(w0 * t)  # fastest at t = 0
    om = amp * w0 * np.cos(w0 * t)
    al = -amp * w0 * w0 * np.sin(w0 * t)
    u, w, a = frame[:, 0], frame[:, 1], frame[:, 2]
    # Body-frame acceleration of the point -L u + d w about the hip (a = w x u): alpha x p + omega x (omega x p).
    acc_u = np.cos(th) + (lever_m * om**2 + offset_m * al) / G0
    acc_w = np.sin(th) + (lever_m * al - offset_m * om**2) / G0
    # The hip's forward acceleration, in the sagittal plane across gravity.
    hip = np.where(t < hip_s, hip_g, 0.0)
    acc_u -= hip * np.sin(th)
    acc_w += hip * np.cos(th)
    acc = np.outer(acc_u, u) + np.outer(acc_w, w)
    gyr = np.outer(np.rad2deg(om), a)
    th_wrong = th[0] - np.deg2rad(20.0)
    fstate[L.F_UP : L.F_UP + 3] = np.cos(th_wrong) * u + np.sin(th_wrong) * w
    fstate[L.F_PG_S] = 2.5
    fstate[L.F_PG_CNT] = 0.0  # the first measured row after the gap (_kern_run)
    fstate[L.F_PREV_OA] = math.nan
    last = 0
    for i in range(t.size):
        step(prm, fstate, *acc[i], *gyr[i], dt, False)
        last = i
        fstate[L.F_PG_S] -= dt
        if fstate[L.F_PG_S] <= 0.0:
            break
    ist = np.zeros(L.I_N, dtype=np.int64)
    ist[L.I_CAP] = 64
    ist[L.I_SAMPLE] = ist[L.I_PG_GAP0] = ist[L.I_PG_END] = 1  # no history to correct here
    finish(prm, fstate, ist, np.zeros((64, L.H_N)))
    up = fstate[L.F_UP : L.F_UP + 3]
    return math.degrees(math.atan2(up @ w, up @ u)) - math.degrees(th[last])


@pytest.mark.parametrize(("fs_hz", "offset_m", "lever_m"), [(200.0, 0.07, 0.22), (100.0, 0.0, 0.32)])
def test_tilt_window_anchor_is_gravity_on_a_swing_cut_at_its_fastest(
    fs_hz: float, offset_m: float, lever_m: float
) -> None:
    """A post-gap window opened mid-swing re-anchors "up" to gravity within 0.25 deg.

    What the lever model misses (the offset, a lever 10 cm long) is a change
    of the sensor's velocity, ~ the rate, which cancels only between instants
    where the thigh turns.  Summed from the fastest instant over a fixed 1.5 s
    it was 0.42 deg off with the offset and 0.88 deg with the lever 10 cm long
    (0.16 / 0.13 deg from turn to turn).
    """
    from hipflex.dsp._kern_gap import _pg_finish

    assert _window_anchor_error_deg(_tilt_step, _pg_finish, fs_hz, offset_m, lever_m) == pytest.approx(0.0, abs=0.25)


@pytest.mark.parametrize("fs_hz", [12.5, 25.0])
@pytest.mark.parametrize(("offset_m", "lever_m"), [(0.0, 0.22), (0.07, 0.22), (0.0, 0.32)])
@pytest.mark.parametrize("twin", [False, True], ids=["kernel", "twin"])
def test_tilt_window_anchor_is_gravity_at_low_rates(fs_hz: float, offset_m: float, lever_m: float, twin: bool) -> None:
    """At 12.5 and 25 Hz the window's sum re-anchors "up" within 0.1 deg.

    A row's L alpha from a backward-difference alpha is half a sample late,
    and a rectangle sum's ends are off by half a row of L alpha at the turns:
    1.2-1.9 deg at 12.5 Hz, 0.6-1.0 at 25 (a runner's window at 12.5 Hz left
    a set +13 deg: tuning seed 3).  Summed instead as the trapezoid of the
    force less the change of the lever point's velocity L omega w between
    rows, the rigid rotation cancels exactly; what the lever model misses
    (the offset, a lever 10 cm long) is ~ the rate, and a turn's row at
    12.5 Hz is up to ~100 deg/s past the rate's zero (0.27 / 0.49 deg with
    the offset / the long lever), so the sum starts and stops at that zero.
    """
    from hipflex.dsp._kern_gap import _pg_finish

    step, finish = (naive.tilt_step, naive.pg_finish) if twin else (_tilt_step, _pg_finish)
    error = _window_anchor_error_deg(step, finish, fs_hz, offset_m, lever_m)
    assert error == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("fs_hz", [25.0, 200.0])
@pytest.mark.parametrize("twin", [False, True], ids=["kernel", "twin"])
def test_tilt_window_sums_again_after_the_hip_sped_up(fs_hz: float, twin: bool) -> None:
    """A window whose first sum holds the hip speeding up re-anchors on the next sum, within 0.3 deg.

    Between two turns the sum is g T plus the change of the hip's velocity:
    0.6 g for the first 1.5 s (1.2 s of them in a 1.7 s sum) tilts it by ~24
    deg and lengthens it by ~9 % (a runner's first strides after a gap: tuning
    seed 156, 7.4 %, every peak of the set then +16 deg).  It was re-anchored
    on; a sum longer than g T by more than ``_PG_MEAN_TOL`` is dropped and
    summed again from the next turn.  (0.5 g for 1.2 s: +3.7 %, under the
    tolerance, re-anchored 15 deg off either way.)
    """
    from hipflex.dsp._kern_gap import _pg_finish

    step, finish = (naive.tilt_step, naive.pg_finish) if twin else (_tilt_step, _pg_finish)
    assert _window_anchor_error_deg(step, finish, fs_hz, 0.0, 0.22) == pytest.approx(0.0, abs=0.25)
    error = _window_anchor_error_deg(step, finish, fs_hz, 0.0, 0.22, hip_g=0.6, hip_s=1.5)
    assert error == pytest.approx(0.0, abs=0.3)

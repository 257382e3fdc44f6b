"""The flexion sign from the thigh's first move out of the calibrated rest (hipflex.dsp.departure_sign)."""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.dsp import Settings
from hipflex.dsp.departure_sign import DEPARTURE_WAIT_S, departure_end, departure_forward
from hipflex.dsp.learn import Axes, Calibration

FS_HZ = 25.0
UP = np.array([0.0, 0.0, 1.0])
FORWARD = np.array([1.0, 0.0, 0.0])


def _rest_then_swing(rest_s: float, push_g: float, total_s: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """A thigh standing ``rest_s`` (sensor noise 0.01 g), then swinging: the first rows push ``push_g`` forwards."""
    t = np.arange(int(total_s * FS_HZ)) / FS_HZ
    rng = np.random.default_rng(3)
    acc = np.tile(UP, (t.shape[0], 1)) + rng.normal(0.0, 0.01, (t.shape[0], 3))
    j = int(rest_s * FS_HZ)
    # The swing's first rows: the tangential push forwards, then the centripetal pull along the thigh.
    acc[j] += (0.6 * push_g, 0.0, 0.1)
    acc[j + 1] += (0.4 * push_g, 0.0, 0.3)
    acc[j + 2 :] += (0.0, 0.0, 0.5)
    return t, acc


def _cal() -> Calibration:
    return Calibration(0, int(FS_HZ) - 1, UP, np.zeros(3), 1.0 / FS_HZ, True)


def _axes(sign: float) -> Axes:
    w = sign * FORWARD
    return Axes(UP, w, np.cross(w, UP))


def test_a_swing_out_of_the_rest_pushes_forwards_under_the_right_sign_only():
    t, acc = _rest_then_swing(6.0, 0.8)
    end = departure_end(t, acc, _cal(), int(3.0 * FS_HZ), at_end=False)
    assert end == int(6.0 * FS_HZ) + 2  # the leaving row and the next
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is True
    assert departure_forward(t, acc, _cal(), _axes(-1.0), end) is False


def test_a_small_first_move_or_a_quietest_window_tells_nothing():
    t, acc = _rest_then_swing(6.0, 0.15)  # a weight shift, not a drill's first swing
    end = departure_end(t, acc, _cal(), int(3.0 * FS_HZ), at_end=True)
    assert end is not None and departure_forward(t, acc, _cal(), _axes(1.0), end) is None
    t, acc = _rest_then_swing(6.0, 0.8)
    moving = Calibration(0, int(FS_HZ) - 1, UP, np.zeros(3), 1.0 / FS_HZ, False)
    assert departure_forward(t, acc, moving, _axes(1.0), len(t)) is None


def test_the_departure_is_waited_for_only_so_long():
    # A mid-set start calibrates at the first rest, and the sign's span can end before the next set.
    t, acc = _rest_then_swing(20.0, 0.8)
    stop = int(4.0 * FS_HZ)
    assert departure_end(t[: int(15.0 * FS_HZ)], acc[: int(15.0 * FS_HZ)], _cal(), stop, at_end=False) is None
    assert departure_end(t, acc, _cal(), stop, at_end=False) == int(20.0 * FS_HZ) + 2
    # Past the wait, the span's rows are all it reads (the same rows however the stream is chunked).
    late = 4.0 + DEPARTURE_WAIT_S + 2.0
    t, acc = _rest_then_swing(late, 0.8, total_s=late + 10.0)
    end = departure_end(t, acc, _cal(), stop, at_end=False)
    assert end is not None and t[end - 1] <= t[stop - 1] + DEPARTURE_WAIT_S
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is None


def _stride25_correlation(seed: int) -> float:
    """Correlation of the analysed angle with the truth on a tuning seed of 25 Hz acc-only front-strap strides."""
    from hipflex.dsp import analyze_with_angle
    from hipflex.sensor.sim.wide import WideFocus, draw_wide_case, simulate_wide

    focus = WideFocus(
        drill="stride", rates_hz=(25.0,), has_gyro=False, azimuth_range_deg=(-45.0, 45.0), distance_range_m=(0.10, 0.18)
    )
    sim = simulate_wide(draw_wide_case(seed, focus=focus))
    _, angle = analyze_with_angle(sim.samples, Settings())
    truth = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle)
    return float(np.corrcoef(angle[ok], truth[ok])[0, 1])


@pytest.mark.parametrize("seed", [124, 183, 230])
def test_the_sign_at_25_hz_follows_the_push_out_of_the_rest(seed: int) -> None:
    # Tuning seeds of the widened simulator focused on issue 14's worst held-out class (strides at 25 Hz,
    # acc-only, a front strap 10-18 cm down).  The witness places chose the wrong sign (124 and 230 start
    # mid-set and calibrate at the first rest, whose departure comes after the sign's span): the angle
    # traced the strides' flexions as extensions held at the bound (correlation 0.13-0.27 with the truth),
    # sets 2-10 short.  The first swing out of the rest pushes forwards under the right sign: traced so,
    # 0.64-0.73, every set exact.
    assert _stride25_correlation(seed) > 0.5

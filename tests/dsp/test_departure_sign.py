"""The flexion sign from the thigh's first move out of the calibrated rest (hipflex.dsp.departure_sign)."""

from __future__ import annotations

import numpy as np
import pytest
from wide_trace import STRIDE20_30, stride25_correlation, wide_correlation

from hipflex.dsp.departure_sign import DEPARTURE_WAIT_S, departure_end, departure_forward
from hipflex.dsp.learn import Axes, Calibration

FS_HZ = 25.0
UP = np.array([0.0, 0.0, 1.0])
FORWARD = np.array([1.0, 0.0, 0.0])


def _rest_then_swing(
    rest_s: float, push_g: float, total_s: float = 40.0, jolt: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A thigh standing ``rest_s`` (sensor noise 0.01 g), then swinging: its first 0.2 s push ``push_g`` forwards.

    ``jolt``: instead a foot's jolt, ``push_g`` each way from row to row, the thigh still.
    """
    t = np.arange(int(total_s * FS_HZ)) / FS_HZ
    rng = np.random.default_rng(3)
    acc = np.tile(UP, (t.shape[0], 1)) + rng.normal(0.0, 0.01, (t.shape[0], 3))
    j = int(rest_s * FS_HZ)
    if jolt:
        acc[j : j + 6, 0] += push_g * np.array([1.0, 0.6, -1.0, -1.0, 0.2, 1.0])
        return t, acc
    # The swing's first rows: the tangential push forwards, then the centripetal pull along the thigh.
    acc[j : j + 5] += push_g * np.array([0.7, 1.0, 1.0, 0.6, 0.2])[:, None] * FORWARD + (0.0, 0.0, 0.3)
    acc[j + 5 :] += (0.0, 0.0, 0.5)
    return t, acc


def _cal() -> Calibration:
    return Calibration(0, int(FS_HZ) - 1, UP, np.zeros(3), 1.0 / FS_HZ, True)


def _axes(sign: float) -> Axes:
    w = sign * FORWARD
    return Axes(UP, w, np.cross(w, UP))


def test_a_swing_out_of_the_rest_pushes_forwards_under_the_right_sign_only():
    t, acc = _rest_then_swing(6.0, 0.8)
    end = departure_end(t, acc, _cal(), int(3.0 * FS_HZ), at_end=False)
    assert end == int(6.0 * FS_HZ) + 4  # 0.14 s of rows from the leaving row
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is True
    assert departure_forward(t, acc, _cal(), _axes(-1.0), end) is False


def test_a_small_first_move_a_jolt_or_a_quietest_window_tells_nothing():
    for t, acc in (_rest_then_swing(6.0, 0.15), _rest_then_swing(6.0, 0.35, jolt=True)):
        # A weight shift, not a drill's first swing; a foot's jolt, the thigh still (tuning focus seeds 157, 216).
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
    assert departure_end(t, acc, _cal(), stop, at_end=False) == int(20.0 * FS_HZ) + 4
    # Past the wait, the span's rows are all it reads (the same rows however the stream is chunked).
    late = 4.0 + DEPARTURE_WAIT_S + 2.0
    t, acc = _rest_then_swing(late, 0.8, total_s=late + 10.0)
    end = departure_end(t, acc, _cal(), stop, at_end=False)
    assert end is not None and t[end - 1] <= t[stop - 1] + DEPARTURE_WAIT_S
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is None


@pytest.mark.parametrize("seed", [124, 183, 230])
def test_the_sign_at_25_hz_follows_the_push_out_of_the_rest(seed: int) -> None:
    # Tuning seeds of the widened simulator focused on issue 14's worst held-out class (strides at 25 Hz,
    # acc-only, a front strap 10-18 cm down).  The witness places chose the wrong sign (124 and 230 start
    # mid-set and calibrate at the first rest, whose departure comes after the sign's span): the angle
    # traced the strides' flexions as extensions held at the bound (correlation 0.13-0.27 with the truth),
    # sets 2-10 short.  The first swing out of the rest pushes forwards under the right sign: traced so,
    # 0.64-0.73, every set exact.
    assert stride25_correlation(seed) > 0.5


def test_the_place_is_held_where_a_witness_traces_forwards_under_the_pushed_sign():
    from hipflex.dsp.flexion_sign import _forward_side

    # Tuning seed 124: the witness in front traced forwards (0.23), the one behind backwards more decisively
    # (-0.78) and won, the wrong way round; under the sign the push tells (the provisional one), the strap
    # is on the side of the witness tracing forwards: in front.
    assert _forward_side({0.06: 0.23, -0.06: -0.78}, flipped=False) == 1
    # Under the mirrored sign the witness at an offset traces the mirror image of the one opposite.
    assert _forward_side({0.06: 0.78, -0.06: -0.23}, flipped=True) == 1
    assert _forward_side({0.06: 0.3, -0.06: 0.5}, flipped=False) == -1
    assert _forward_side({0.06: 0.3, -0.06: 0.5}, flipped=True) == 0  # neither traces forwards
    assert _forward_side({}, flipped=False) == 0


def test_a_mid_set_start_traced_with_the_place_on_the_forward_witness_side():
    # Tuning seed 42 (focus as above, starts mid-set, the next set begins 17.7 s past the sign's span): the
    # witnesses chose the wrong sign (sets 7, 1 and 17 short); with the push's sign and the place unheld
    # the trace correlated 0.42 with the truth (sets 3, 3, 0 short), held in front 0.57, every set exact.
    assert stride25_correlation(42) > 0.5


def test_a_jolt_whose_rows_sum_past_the_threshold_tells_nothing():
    # Tuning seed 32 (25 Hz, a side strap 33 cm down): a foot's jolt in the rest, the thigh within 2 deg,
    # pushed -0.23, +0.32, +0.62, -0.12 g along the anterior axis over its first 0.14 s: a mean of 0.15 g,
    # read as a swing forwards under the wrong sign (a set 6 short).  A swing pushes one way row after row.
    t, acc = _rest_then_swing(6.0, 0.0, jolt=True)
    j = int(6.0 * FS_HZ)
    acc[j : j + 4, 0] += np.array([-0.25, 0.35, 0.65, -0.12])  # a mean of 0.16 g
    end = departure_end(t, acc, _cal(), int(3.0 * FS_HZ), at_end=True)
    assert end == j + 4
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is None
    assert departure_forward(t, acc, _cal(), _axes(-1.0), end) is None
    # The same rows pushing one way tell.
    acc[j : j + 4, 0] = np.array([0.25, 0.35, 0.65, 0.12])
    assert departure_forward(t, acc, _cal(), _axes(1.0), end) is True


@pytest.mark.parametrize("seed", [32, 3395])
def test_a_jolt_in_a_25_hz_rest_leaves_the_sign_to_the_witnesses(seed: int) -> None:
    # Seed 32 analysed whole, and 3395 (a side strap 25 cm down, a jolt pushing a mean 0.16 g, 0.49 of it one
    # way): traced the wrong way round (correlation -0.67 and -0.76 with the truth) when the jolt decided;
    # the witness behind the femur decides right.
    assert wide_correlation(seed) > 0.5


@pytest.mark.parametrize("seed", [43, 76, 97])
def test_20_hz_strides_take_the_20_to_40_hz_sign(seed: int) -> None:
    # Tuning seeds of the widened simulator's 20-30 Hz stride focus drawn at 20 Hz: the rows' median spacing
    # read 0.05000000000291 s, past the 0.05 s bound, so the sign went to the likelihood of the mirror images
    # (the rule below 20 Hz), which traced them mirrored (correlation -0.41 to -0.48, sets up to 17 short).
    assert wide_correlation(seed, STRIDE20_30) > 0.4

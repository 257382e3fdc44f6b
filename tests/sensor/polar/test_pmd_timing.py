"""Per-sample PMD timestamps: the SDK rule, loss detection, state handling."""

from __future__ import annotations

import numpy as np
import pytest

from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType, decode_pmd_frame, encode_raw_frame
from hipflex.sensor.polar.timing import (
    PmdTimestampError,
    PmdTimingState,
    assign_sample_times,
    sample_times_ns,
)

ACC, GYRO = PmdMeasurementType.ACC, PmdMeasurementType.GYRO
H10_2019_NS = 599_616_000 * 10**9  # 2019-01-01, where the H10 clock restarts after losing time


def acc_frame(ts: int, n: int, frame_type: int = 0x01):
    return decode_pmd_frame(encode_raw_frame(ACC, frame_type, ts, np.zeros((n, 3), dtype=np.int64)))


def test_sdk_vector_compressed_acc_type1_times() -> None:
    # AccDataTest type 1: previous 100, frame 101, 2 samples -> 100 (100.5 rounded half-even), 101.
    assert sample_times_ns(100, 101, 2, 0).time_ns.tolist() == [100, 101]


def test_sdk_vector_compressed_acc_type0_times() -> None:
    # AccDataTest type 0: previous 100, frame 2e9, 57 samples; first = round(100 + (2e9 - 100) / 57).
    t = sample_times_ns(100, 2_000_000_000, 57, 0).time_ns
    assert t[0] == round(100 + (2_000_000_000 - 100) / 57) == 35_087_818
    assert t[-1] == 2_000_000_000
    assert np.all(np.diff(t) > 0)


def test_sdk_vector_gyro_max_timestamp_does_not_overflow() -> None:
    t = sample_times_ns(100, 2**63 - 1, 2, 0).time_ns
    assert t[-1] == 2**63 - 1 and t[0] == 100 + (2**63 - 1 - 100) // 2


def test_first_frame_counts_back_at_nominal_rate() -> None:
    times = sample_times_ns(None, H10_2019_NS, 36, 200.0)
    assert times.step_ns == 5e6
    assert times.time_ns[-1] == H10_2019_NS
    np.testing.assert_array_equal(np.diff(times.time_ns), 5_000_000)


def test_spread_over_previous_interval_absorbs_real_rate() -> None:
    # Verity nominal 52 Hz, real 50.7 Hz: frames of 71 samples.
    real_step = 1e9 / 50.7
    ts = [10**15 + round(k * 71 * real_step) for k in range(6)]
    state, out = PmdTimingState(), []
    for t in ts:
        state, times = assign_sample_times(state, acc_frame(t, 71, 0x01), 52.0)
        assert times.gap is None
        out.append(times.time_ns)
    joined = np.concatenate(out[1:])
    assert np.all(np.diff(joined) > 0)
    assert abs(np.diff(joined).mean() - real_step) < 1.0
    assert [o[-1] for o in out] == ts


def test_lost_frame_reported_as_gap_not_smeared() -> None:
    step = 5_000_000  # 200 Hz
    t0 = H10_2019_NS
    state, first = assign_sample_times(PmdTimingState(), acc_frame(t0, 36), 200.0)
    # Frame 2 is lost: frame 3 ends 72 samples after frame 1.
    t3 = t0 + 72 * step
    state, third = assign_sample_times(state, acc_frame(t3, 36), 200.0)
    assert third.gap is not None
    assert third.gap.lost_samples == 36
    assert third.gap.before_ns == t0
    assert third.gap.after_ns == t3 - 35 * step
    # The frame is timed from its own timestamp at the nominal rate, not spread over 72 steps.
    np.testing.assert_array_equal(np.diff(third.time_ns), step)
    assert third.time_ns[-1] == t3 and third.time_ns[0] > first.time_ns[-1]
    assert third.gap.duration_s == pytest.approx(37 * 0.005)  # 36 missing samples = 37 steps


def test_gap_ratio_threshold() -> None:
    state, _ = assign_sample_times(PmdTimingState(), acc_frame(10**12, 10), 100.0)
    # 1.4 nominal frame durations: still spread (rate wander), no gap.
    _, t = assign_sample_times(state, acc_frame(10**12 + 140_000_000, 10), 100.0)
    assert t.gap is None
    _, t = assign_sample_times(state, acc_frame(10**12 + 160_000_000, 10), 100.0)
    assert t.gap is not None
    _, t = assign_sample_times(state, acc_frame(10**12 + 160_000_000, 10), 100.0, gap_ratio=2.0)
    assert t.gap is None


def test_clock_reset_is_an_error_and_state_not_advanced() -> None:
    state, _ = assign_sample_times(PmdTimingState(), acc_frame(10**18, 36), 200.0)
    with pytest.raises(PmdTimestampError, match="non-positive"):
        assign_sample_times(state, acc_frame(H10_2019_NS, 36), 200.0)
    with pytest.raises(PmdTimestampError):
        assign_sample_times(state, acc_frame(10**18, 36), 200.0)  # equal timestamp: zero step
    assert state.previous(ACC, 0x01) == 10**18
    # Recovery: reset the measurement and the next frame anchors afresh.
    state, times = assign_sample_times(state.reset(ACC), acc_frame(H10_2019_NS, 36), 200.0)
    assert times.time_ns[-1] == H10_2019_NS and times.gap is None
    assert issubclass(PmdTimestampError, PmdDecodeError)


def test_negative_first_sample_is_an_error() -> None:
    with pytest.raises(PmdTimestampError, match="before the PMD epoch"):
        sample_times_ns(None, 1_000_000, 36, 200.0)
    with pytest.raises(PmdTimestampError, match="sample rate"):
        sample_times_ns(None, H10_2019_NS, 36, 0.0)


def test_state_is_per_measurement_and_frame_type() -> None:
    state = PmdTimingState()
    state, _ = assign_sample_times(state, acc_frame(10**15, 10), 100.0)
    gyro = decode_pmd_frame(encode_raw_frame(ACC, 0x00, 10**15 + 50, np.zeros((5, 3), np.int64)))
    state, _ = assign_sample_times(state, gyro, 100.0)
    assert state.previous(ACC, 0x01) == 10**15
    assert state.previous(ACC, 0x00) == 10**15 + 50
    assert state.previous(GYRO, 0x80) is None
    assert state.reset(ACC).previous_ns == ()
    assert state.reset(GYRO) == state
    assert state.reset() == PmdTimingState()


def test_gap_ratio_must_exceed_one() -> None:
    with pytest.raises(ValueError):
        assign_sample_times(PmdTimingState(), acc_frame(10**15, 3), 100.0, gap_ratio=1.0)

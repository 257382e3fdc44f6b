"""MetaWear: SDK command vectors, discovery, data notifications, encoders and the sample timer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipflex.sensor.metawear.protocol import (
    ImuChip,
    MetaWearDecodeError,
    MetaWearDecoder,
    MetaWearModule,
    MetaWearSensor,
    acc_config_command,
    acc_start_commands,
    acc_stop_commands,
    connection_parameters_command,
    discovery_command,
    encode_data_notification,
    gyro_config_command,
    gyro_start_commands,
    gyro_stop_commands,
    parse_module_info,
)
from hipflex.sensor.metawear.timing import MetaWearClock, MetaWearGap

BMI160, BMI270 = ImuChip.BMI160, ImuChip.BMI270
ACC, GYRO = MetaWearSensor.ACC, MetaWearSensor.GYRO


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# ---------------------------------------------------------------------------------------------
# Commands


def test_sdk_acc_config_vectors() -> None:
    assert acc_config_command(BMI160, 200, 8) == hx("03 03 29 08")
    assert acc_config_command(BMI270, 100, 8) == hx("03 03 A8 02")
    assert acc_config_command(BMI160, 100, 8)[2] == 0x28  # ble.md: BMI160 100 Hz b0
    assert acc_config_command(BMI160, 50, 4) == hx("03 03 27 05")
    assert acc_config_command(BMI270, 25, 16) == hx("03 03 A6 03")


def test_sdk_gyro_config_vectors() -> None:
    assert gyro_config_command(200, 2000) == hx("13 03 29 00")
    assert gyro_config_command(50, 125) == hx("13 03 27 04")


@pytest.mark.parametrize(
    "call",
    [
        lambda: acc_config_command(BMI160, 6.25, 8),
        lambda: acc_config_command(BMI160, 100, 3),
        lambda: gyro_config_command(12.5, 2000),
        lambda: gyro_config_command(100, 300),
    ],
)
def test_unsupported_settings_rejected(call: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError):
        call()


def test_acc_stream_sequences() -> None:
    assert acc_start_commands(BMI160, packed=False) == (hx("03 04 01"), hx("03 02 01 00"), hx("03 01 01"))
    assert acc_start_commands(BMI160)[0] == hx("03 1C 01")
    assert acc_start_commands(BMI270)[0] == hx("03 05 01")
    assert acc_stop_commands(BMI160, packed=False) == (hx("03 01 00"), hx("03 02 00 01"), hx("03 04 00"))


def test_gyro_stream_sequences() -> None:
    assert gyro_start_commands(BMI160, packed=False) == (hx("13 05 01"), hx("13 02 01 00"), hx("13 01 01"))
    assert gyro_start_commands(BMI270, packed=False)[0] == hx("13 04 01")
    assert gyro_start_commands(BMI160)[0] == hx("13 07 01")
    assert gyro_start_commands(BMI270)[0] == hx("13 05 01")
    assert gyro_stop_commands(BMI270) == (hx("13 01 00"), hx("13 02 00 01"), hx("13 05 00"))


def test_connection_parameters() -> None:
    cmd = connection_parameters_command(7.5, 7.5, 0, 6000)
    assert cmd == hx("11 09 06 00 06 00 00 00 58 02")
    assert connection_parameters_command(7.5, 15, 2, 4000) == hx("11 09 06 00 0C 00 02 00 90 01")
    for bad in [
        (5, 10, 0, 6000),
        (20, 10, 0, 6000),
        (7.5, 15, 500, 6000),
        (7.5, 15, 0, 50),
        (100, 1000, 4, 6000),
    ]:
        with pytest.raises(ValueError):
            connection_parameters_command(*bad)


# ---------------------------------------------------------------------------------------------
# Discovery


def test_discovery_reply_to_chip() -> None:
    assert discovery_command(MetaWearModule.ACCELEROMETER) == hx("03 80")
    acc160 = parse_module_info(hx("03 80 01 03"))
    assert acc160.present and acc160.chip is BMI160 and acc160.supports_packed
    assert parse_module_info(hx("03 80 04 01 00 01")).chip is BMI270
    assert parse_module_info(hx("13 80 00 01")).chip is BMI160
    assert parse_module_info(hx("13 80 01 00")).chip is BMI270
    old = parse_module_info(hx("03 80 01 00"))
    assert not old.supports_packed  # packed ACC needs revision >= 1


def test_absent_and_unknown_modules() -> None:
    absent = parse_module_info(hx("15 80"))
    assert not absent.present and absent.module == 0x15
    with pytest.raises(MetaWearDecodeError, match="not a supported"):
        _ = absent.chip
    with pytest.raises(MetaWearDecodeError, match="not a supported"):
        _ = parse_module_info(hx("03 80 00 00")).chip  # MMA8452Q (implementation 0) is not supported
    with pytest.raises(MetaWearDecodeError, match="not a supported"):
        _ = parse_module_info(hx("12 80 00 00")).chip  # barometer
    with pytest.raises(MetaWearDecodeError, match="discovery"):
        parse_module_info(hx("03 04 00 00"))


# ---------------------------------------------------------------------------------------------
# Data notifications


def test_acc_check_vector_at_4g() -> None:
    p = MetaWearDecoder(BMI160, acc_range_g=4).decode(hx("03 04 16 c4 94 a2 2a d0"))
    assert p is not None and p.sensor is ACC and not p.packed
    np.testing.assert_allclose(p.values, [[-1.872, -2.919, -1.495]], atol=5e-4)
    assert p.counts.tolist() == [[-15338, -23916, -12246]]


def test_packed_acc_three_samples() -> None:
    data = hx("03 1C") + np.array([[1, 2, 3], [4096, -4096, 0], [-1, 32767, -32768]], "<i2").tobytes()
    p = MetaWearDecoder(BMI160, acc_range_g=8).decode(data)
    assert p is not None and p.packed and p.n_samples == 3 and len(data) == 20
    assert p.values[1].tolist() == [1.0, -1.0, 0.0]


def test_gyro_registers_differ_by_chip() -> None:
    payload = np.array([[164, -164, 0]], "<i2").tobytes()
    d160 = MetaWearDecoder(BMI160, gyro_chip=BMI160, gyro_range_dps=2000)
    d270 = MetaWearDecoder(BMI270, gyro_chip=BMI270, gyro_range_dps=2000)
    p = d160.decode(hx("13 05") + payload)
    assert p is not None and p.sensor is GYRO and p.values.tolist() == [[10.0, -10.0, 0.0]]
    assert d270.decode(hx("13 05") + payload * 3) is not None  # BMI270 packed gyro
    assert d270.decode(hx("13 04") + payload) is not None
    assert d160.decode(hx("13 04") + payload) is None


def test_non_data_and_malformed_notifications() -> None:
    dec = MetaWearDecoder(BMI160, gyro_chip=None)
    assert dec.decode(hx("03 80 01 03")) is None  # discovery reply
    assert dec.decode(hx("13 05") + bytes(6)) is None  # gyro not streamed
    with pytest.raises(MetaWearDecodeError, match="must be 8 bytes"):
        dec.decode(hx("03 04 16 c4 94"))
    with pytest.raises(MetaWearDecodeError, match="must be 20 bytes"):
        dec.decode(hx("03 1C") + bytes(12))
    with pytest.raises(MetaWearDecodeError):
        dec.decode(hx("03"))
    with pytest.raises(ValueError):
        MetaWearDecoder(BMI160, acc_range_g=3)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(
    chip=st.sampled_from([BMI160, BMI270]),
    sensor=st.sampled_from([ACC, GYRO]),
    n=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_encode_decode_round_trip(chip: ImuChip, sensor: MetaWearSensor, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rng_value = int(rng.choice([2, 4, 8, 16])) if sensor is ACC else int(rng.choice([125, 250, 500, 1000, 2000]))
    values = rng.uniform(-rng_value, rng_value, size=(n, 3))
    data = encode_data_notification(sensor, chip, values, rng_value)
    dec = MetaWearDecoder(
        chip,
        acc_range_g=rng_value if sensor is ACC else 8,
        gyro_chip=chip,
        gyro_range_dps=rng_value if sensor is GYRO else 2000,
    )
    p = dec.decode(data)
    assert p is not None and p.sensor is sensor and p.n_samples == n and p.packed == (n == 3)
    lsb_per_unit = (
        32768 / rng_value if sensor is ACC else {125: 262.4, 250: 131.2, 500: 65.6, 1000: 32.8, 2000: 16.4}[rng_value]
    )
    # +/-2000 deg/s x 16.4 slightly exceeds int16: counts that round outside [-32768, 32767] are clipped,
    # those that round inside it (e.g. -32767.3 -> -32767) are not.
    scaled = values * lsb_per_unit
    inside = (scaled > -32768.5) & (scaled < 32767.5)
    assert np.all(np.abs(p.values - values)[inside] <= 0.5 / lsb_per_unit + 1e-12)
    assert np.all(np.isin(p.counts[~inside], [32767, -32768]))
    assert np.all(np.sign(p.counts[~inside]) == np.sign(values[~inside]))
    assert encode_data_notification(sensor, chip, p.values, rng_value) == data


def test_encoder_saturates_and_validates() -> None:
    data = encode_data_notification(ACC, BMI160, [[100.0, -100.0, 0.0]], 2)
    assert data == hx("03 04 FF 7F 00 80 00 00")
    with pytest.raises(ValueError):
        encode_data_notification(ACC, BMI160, [[1.0, 2.0]], 2)
    with pytest.raises(ValueError):
        encode_data_notification(ACC, BMI160, [[1.0, 2.0, 3.0]], 2, packed=True)
    with pytest.raises(ValueError):
        encode_data_notification(GYRO, BMI160, [[1.0, 2.0, 3.0]], 3)


# ---------------------------------------------------------------------------------------------
# Sample timer


def run_stream(
    clock: MetaWearClock, arrivals: list[tuple[float, int]]
) -> tuple[MetaWearClock, np.ndarray, list[MetaWearGap]]:
    times, gaps = [], []
    for host, n in arrivals:
        clock, t = clock.advance(host, n)
        times.append(t.time_s)
        if t.gap is not None:
            gaps.append(t.gap)
    return clock, np.concatenate(times), gaps


def packed_arrivals(
    odr: float,
    n_notes: int,
    rng: np.random.Generator,
    latency_s: float = 0.02,
    jitter_s: float = 0.015,
    start_s: float = 100.0,
    rate_error: float = 0.0,
) -> list[tuple[float, int]]:
    # Notification k carries samples 3k..3k+2 and arrives after its last sample plus latency.
    true_period = 1.0 / (odr * (1 + rate_error))
    last = start_s + (np.arange(n_notes) * 3 + 2) * true_period
    host = last + latency_s + rng.uniform(0, jitter_s, n_notes)
    return [(float(h), 3) for h in np.maximum.accumulate(host)]


def test_first_notification_anchors_and_places_samples_at_odr() -> None:
    clock, t = MetaWearClock(100.0).advance(50.0, 3)
    assert t.time_s.tolist() == pytest.approx([49.98, 49.99, 50.0])
    assert clock.next_index == 3 and clock.received_samples == 3 and t.gap is None


def test_jittery_stream_has_no_gaps_and_exact_spacing() -> None:
    rng = np.random.default_rng(1)
    clock, times, gaps = run_stream(MetaWearClock(100.0), packed_arrivals(100.0, 2000, rng))
    assert gaps == [] and clock.lost_samples == 0 and clock.received_samples == 6000
    assert np.all(np.diff(times) > 0)
    # Anchor corrections are slewed: spacing stays within 2 % of 1/ODR and averages to it.
    np.testing.assert_allclose(np.diff(times), 0.01, rtol=0.02 + 1e-9)
    assert np.diff(times[300:]).mean() == pytest.approx(0.01, rel=1e-3)


def test_lost_notifications_become_a_gap_in_the_time_column() -> None:
    rng = np.random.default_rng(2)
    arrivals = packed_arrivals(100.0, 600, rng, jitter_s=0.005)
    del arrivals[300:340]  # 40 notifications = 120 samples lost
    clock, times, gaps = run_stream(MetaWearClock(100.0), arrivals)
    assert len(gaps) == 1
    assert abs(gaps[0].lost_samples - 120) <= 2 and not gaps[0].reconnect
    assert clock.lost_samples == gaps[0].lost_samples
    assert np.all(np.diff(times) > 0)
    jump = np.diff(times).max()
    assert abs(jump - 1.21) < 0.03  # the hole is in the time column, not smeared


def test_burst_within_threshold_is_not_loss() -> None:
    rng = np.random.default_rng(3)
    arrivals = packed_arrivals(100.0, 400, rng, jitter_s=0.0)
    # Hold back 5 notifications (150 ms) and deliver them at once, as a BLE/OS burst does.
    release = arrivals[204][0]
    arrivals[200:205] = [(release, 3)] * 5
    _, times, gaps = run_stream(MetaWearClock(100.0), arrivals)
    assert gaps == [] and np.all(np.diff(times) > 0)


def test_late_first_notification_anchor_moves_earlier_but_times_stay_increasing() -> None:
    rng = np.random.default_rng(4)
    arrivals = packed_arrivals(100.0, 500, rng, jitter_s=0.0, latency_s=0.01)
    arrivals[0] = (arrivals[0][0] + 0.2, 3)  # first notification delayed 200 ms
    _, times, gaps = run_stream(MetaWearClock(100.0), arrivals)
    assert gaps == [] and np.all(np.diff(times) > 0)
    # The 200 ms anchor error is slewed away at 2 %; then times sit on the (constant-latency) arrivals.
    assert abs(times[-1] - arrivals[-1][0]) < 0.001
    np.testing.assert_allclose(np.diff(times), 0.01, rtol=0.02 + 1e-9)


@pytest.mark.slow
def test_slow_board_clock_gives_no_false_gaps() -> None:
    rng = np.random.default_rng(5)
    arrivals = packed_arrivals(100.0, 20000, rng, rate_error=-0.005)  # 10 min, 0.5 % slow
    clock, times, gaps = run_stream(MetaWearClock(100.0), arrivals)
    assert gaps == [] and clock.lost_samples == 0
    assert abs(times[-1] - (arrivals[-1][0] - 0.02)) < 0.05


def test_reanchor_on_reconnect_reports_the_outage() -> None:
    rng = np.random.default_rng(6)
    clock, before, _ = run_stream(MetaWearClock(50.0), packed_arrivals(50.0, 100, rng, start_s=10.0))
    clock = clock.reanchor()
    assert clock.anchor_s is None and clock.received_samples == 300
    clock, after, gaps = run_stream(clock, packed_arrivals(50.0, 10, rng, start_s=before[-1] + 5.0))
    assert len(gaps) == 1 and gaps[0].reconnect
    assert gaps[0].before_s == before[-1]
    assert gaps[0].lost_samples == pytest.approx(250, abs=3)
    assert after[0] > before[-1]


def test_reanchor_never_goes_back_in_time() -> None:
    clock, first = MetaWearClock(100.0).advance(10.0, 3)
    clock, second = clock.reanchor().advance(10.0, 3)  # instant reconnect, same host time
    assert second.time_s[0] > first.time_s[-1]
    assert second.gap is not None and second.gap.lost_samples == 0


def test_timer_validation() -> None:
    with pytest.raises(ValueError):
        MetaWearClock(0.0)
    with pytest.raises(ValueError):
        MetaWearClock(100.0, loss_threshold_s=0.0)
    with pytest.raises(ValueError):
        MetaWearClock(100.0).advance(1.0, 0)
    with pytest.raises(ValueError):
        MetaWearClock(100.0).advance(float("nan"), 3)

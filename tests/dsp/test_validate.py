"""The dsp boundary refuses input in the wrong type or units, with a message that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import synth

from hipflex.dsp import ImuSamples, Settings, analyze, finish, init_state, step
from hipflex.dsp.validate import check_samples

G_MPS2 = 9.80665


def _session(gyro: bool = True) -> ImuSamples:
    return synth.record(synth.drill(n_reps=4), 12.0, 50.0, gyro=gyro, acc_noise_g=0.002, seed=3).samples


def _scaled(s: ImuSamples, acc_factor: float) -> ImuSamples:
    return ImuSamples(s.time_s, s.acc_g * acc_factor, s.gyr_dps)


def test_analyze_of_a_bare_array_says_what_it_expects() -> None:
    s = _session()
    table = np.column_stack([s.time_s, s.acc_g])
    with pytest.raises(TypeError, match=r"ImuSamples\(time_s, acc_g.*got ndarray"):
        analyze(table)  # type: ignore[arg-type]


def test_step_of_a_bare_array_says_what_it_expects() -> None:
    settings = Settings()
    state = init_state(settings, has_gyro=False)
    with pytest.raises(TypeError, match=r"chunk must be hipflex\.dsp\.ImuSamples"):
        step(settings, state, np.zeros((10, 4)))  # type: ignore[arg-type]


@pytest.mark.parametrize("gyro", [True, False])
@pytest.mark.parametrize(
    ("factor", "unit"), [(G_MPS2, "m/s\\^2"), (1000.0, "mg"), (1.0 / G_MPS2, "divided by 9.81")]
)
def test_acceleration_in_another_unit_is_refused(gyro: bool, factor: float, unit: str) -> None:
    with pytest.raises(ValueError, match=f"acc_g must be in g.*{unit}"):
        analyze(_scaled(_session(gyro), factor))


def test_acceleration_in_m_s2_is_refused_when_streamed_in_small_chunks() -> None:
    s = _scaled(_session(), G_MPS2)
    settings = Settings()
    state = init_state(settings, has_gyro=True)
    with pytest.raises(ValueError, match="looks like m/s"):
        for i in range(0, len(s), 7):
            state, _ = step(settings, state, s.slice(i, i + 7))
        finish(settings, state)


@pytest.mark.parametrize("factor", [0.8, 1.31])
def test_a_scale_error_of_a_real_unit_is_still_analysed(factor: float) -> None:
    # Eurobench subject 03's accelerometer reads 1.31 g at rest: a miscalibrated
    # unit in g, not another unit.
    assert analyze(_scaled(_session(), factor)).rep_count == 4


def test_infinite_acceleration_is_refused_with_its_row() -> None:
    s = _session(gyro=False)
    acc = s.acc_g.copy()
    acc[17, 1] = np.inf
    with pytest.raises(ValueError, match="acc_g is infinite at row 17"):
        analyze(ImuSamples(s.time_s, acc))


def test_infinite_acceleration_among_lost_values_is_refused_with_its_row() -> None:
    # Lost values (NaN) around it do not hide an infinite one.
    s = _session(gyro=True)
    gyr = s.gyr_dps.copy()
    gyr[5:9] = np.nan
    gyr[40, 2] = -np.inf
    with pytest.raises(ValueError, match="gyr_dps is infinite at row 40"):
        check_samples(ImuSamples(s.time_s, s.acc_g, gyr))


def test_an_infinite_value_past_the_first_block_of_the_scan_is_refused_with_its_row() -> None:
    # The scan goes in blocks of 65,536 values; row 30,000's are values 90,000-90,002.
    n = 40_000
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    acc[30_000, 2] = np.inf
    with pytest.raises(ValueError, match="acc_g is infinite at row 30000"):
        check_samples(ImuSamples(np.arange(n) / 100.0, acc))


def test_a_still_reading_of_no_known_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="reads 3 at rest, which is no unit of acceleration hipflex knows"):
        analyze(_scaled(_session(), 3.0))


def test_a_recording_that_never_rests_is_not_judged_by_its_mean() -> None:
    # No still window: the calibration falls back on the quietest stretch of
    # the motion, whose mean is not gravity, so a mean of 2.07 g is no error.
    rng = np.random.default_rng(5)
    n = 600
    t = np.arange(n) / 50.0
    acc = rng.normal(0.0, 1.0, (n, 3)) + np.array([0.0, 0.0, 2.07])
    got = analyze(ImuSamples(t, acc))
    assert got.quality.calibration == "quietest window"


def test_m_s2_with_a_real_sensors_noise_is_refused() -> None:
    # 0.01 g of noise is 0.1 "g" in m/s^2: no window is still by the g
    # thresholds, but converted to g it would be, and its mean is 9.8.
    s = synth.record(synth.drill(n_reps=4), 12.0, 100.0, gyro=False, acc_noise_g=0.01, seed=4).samples
    with pytest.raises(ValueError, match="looks like m/s"):
        analyze(_scaled(s, G_MPS2))


def test_the_infinity_scan_matches_its_naive_twin() -> None:
    import naive

    from hipflex.dsp.validate import _any_inf

    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 1.0, 5000)
    values[rng.integers(0, values.size, 50)] = np.nan  # lost values are not infinite
    assert _any_inf(values) is naive.any_inf(values) is False
    for where in (0, 2500, 4095, 4096, 4999):  # either side of a block edge of the scan
        for inf in (np.inf, -np.inf):
            bad = values.copy()
            bad[where] = inf
            assert _any_inf(bad) is naive.any_inf(bad) is True
    assert _any_inf(np.zeros(0)) is naive.any_inf(np.zeros(0)) is False


def _with_inf(s: ImuSamples, row: int, col: int, in_gyro: bool) -> ImuSamples:
    acc, gyr = s.acc_g.copy(), s.gyr_dps.copy()
    (gyr if in_gyro else acc)[row, col] = np.inf
    return ImuSamples(s.time_s, acc, gyr)


@pytest.mark.parametrize("in_gyro", [False, True])
def test_an_infinite_value_is_refused_with_a_gyro_too(in_gyro: bool) -> None:
    # With a gyro the lever pass, which reads every value, stands in for the
    # scan: its sums must still send an infinity to be found and named.
    s = _with_inf(_session(gyro=True), 300, 1, in_gyro)
    name = "gyr_dps" if in_gyro else "acc_g"
    with pytest.raises(ValueError, match=f"{name} is infinite at row 300"):
        analyze(s)


def test_an_infinite_value_in_rows_the_timeline_still_holds_is_refused_at_once() -> None:
    # The first rows of a stream wait for the timeline's period: the lever pass
    # has not read them, so the step that brings them must scan them itself.
    s = _with_inf(_session(gyro=True), 2, 0, in_gyro=True)
    settings = Settings()
    with pytest.raises(ValueError, match="gyr_dps is infinite at row 2"):
        step(settings, init_state(settings, has_gyro=True), s.slice(0, 4))


def test_an_infinite_value_is_named_before_time_going_backwards() -> None:
    s = _with_inf(_session(gyro=True), 5, 2, in_gyro=False)
    t = s.time_s.copy()
    t[9] = t[8] - 0.01
    settings = Settings()
    with pytest.raises(ValueError, match="acc_g is infinite at row 5"):
        step(settings, init_state(settings, has_gyro=True), ImuSamples(t, s.acc_g, s.gyr_dps))

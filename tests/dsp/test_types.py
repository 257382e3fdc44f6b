"""Typed values: Settings validation, ImuSamples checks, and the JSON contract of Analysis."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from hipflex.dsp import SCHEMA, Analysis, Gap, ImuSamples, Quality, Rejection, Rep, Settings
from hipflex.dsp.sets import make_set

POSITIVE_FIELDS = [
    f.name
    for f in dataclasses.fields(Settings)
    if f.name
    not in {
        "onset_fraction",
        "acc_range_g",
        "sensor_offset_m",
        "identify_lever",
        "pendulum_max_flexion_deg",
        "pendulum_max_extension_deg",
        "pendulum_still_s",
        "gait_min_extension_deg",  # zero allowed; these three are checked in tests/dsp/test_gait.py
        "gait_max_stride_s",
        "gait_min_strides",
        "face_normal_axis",  # naming only: checked in tests/dsp/test_posture.py
        "sensor_placement",
        "sensor_leg",
    }
]


def test_default_settings_are_valid_and_listed() -> None:
    s = Settings()
    d = s.to_dict()
    assert set(d) == {f.name for f in dataclasses.fields(Settings)}
    assert d["min_rom_deg"] == 20.0 and d["set_gap_s"] == 8.0 and d["acc_range_g"] is None
    json.dumps(d)  # plain JSON values


@pytest.mark.parametrize("name", POSITIVE_FIELDS)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_settings_reject_non_positive_values(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=f"setting {name} must be a positive number"):
        Settings(**{name: bad})


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("pendulum_max_flexion_deg", 20.0),  # not above min_rom_deg: no rep could be seen
        ("pendulum_max_flexion_deg", 180.0),
        ("pendulum_max_flexion_deg", math.nan),
        ("pendulum_max_extension_deg", 0.0),
        ("pendulum_max_extension_deg", 180.0),
        ("pendulum_max_extension_deg", -10.0),
        ("pendulum_max_extension_deg", math.inf),
    ],
)
def test_settings_reject_a_thigh_range_outside_its_limits(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=f"setting {name} must be"):
        Settings(**{name: bad})


@pytest.mark.parametrize("bad", [0.0, 0.5, -0.1, 0.7, math.nan])
def test_settings_reject_onset_fraction_outside_its_range(bad: float) -> None:
    with pytest.raises(ValueError, match="onset_fraction must be in"):
        Settings(onset_fraction=bad)


def test_settings_reject_candidate_not_below_min_rom() -> None:
    with pytest.raises(ValueError, match="candidate_deg must be smaller than min_rom_deg"):
        Settings(min_rom_deg=10.0, candidate_deg=10.0)
    assert Settings(min_rom_deg=10.0, candidate_deg=9.0).candidate_deg == 9.0


@pytest.mark.parametrize("bad", [0.0, -4.0])
def test_settings_reject_non_positive_acc_range(bad: float) -> None:
    with pytest.raises(ValueError, match="acc_range_g must be positive"):
        Settings(acc_range_g=bad)
    assert Settings(acc_range_g=8.0).acc_range_g == 8.0


def test_settings_replace_validates_and_copies() -> None:
    s = Settings()
    t = s.replace(min_rom_deg=30.0)
    assert t.min_rom_deg == 30.0 and s.min_rom_deg == 20.0
    with pytest.raises(ValueError, match="min_rom_deg"):
        s.replace(min_rom_deg=-5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.min_rom_deg = 1.0  # type: ignore[misc]


def test_imu_samples_convert_and_check_shapes() -> None:
    s = ImuSamples([0, 1, 2], [[0, 0, 1]] * 3, [[1, 2, 3]] * 3)
    assert s.time_s.dtype == np.float64 and s.acc_g.dtype == np.float64 and s.gyr_dps.dtype == np.float64
    assert s.acc_g.flags.c_contiguous and len(s) == 3 and s.has_gyro
    part = s.slice(1, 3)
    assert len(part) == 2 and part.time_s.tolist() == [1.0, 2.0] and part.gyr_dps.shape == (2, 3)
    assert not ImuSamples([0.0], [[0, 0, 1]]).has_gyro
    with pytest.raises(ValueError, match=r"acc_g must have shape \(n, 3\)"):
        ImuSamples([0, 1], [[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="acc_g has 2 rows but time_s has 3"):
        ImuSamples([0, 1, 2], [[0, 0, 1]] * 2)
    with pytest.raises(ValueError, match=r"gyr_dps must have shape \(3, 3\)"):
        ImuSamples([0, 1, 2], [[0, 0, 1]] * 3, [[0, 0, 0]] * 2)


def _analysis(rep_time_shift: float = 0.0) -> Analysis:
    rep = Rep(0, 10.123456, 10.5, 11.0, 84.1234, 83.0, 0.12, 912.04, 520.0, math.nan, 0.98765)
    rep2 = dataclasses.replace(rep, index=1, start_s=12.0, peak_s=12.4 + rep_time_shift, end_s=13.0)
    quality = Quality(
        gaps=1,
        lost_s=0.12345,
        clipped_samples=2,
        orientation="gyro+acc",
        angle_model="test",
        calibrated_at_s=0.5,
        skipped_before_calibration_s=0.5,
        gap_list=(Gap(3.0, 3.2, True),),
        rejections=(Rejection(5.0, "rom_below_min", 12.345),),
    )
    return Analysis("a.csv", Settings(), 100.0, 93.2, True, quality, (make_set(0, [rep, rep2]),), "0.1.0")


def test_analysis_to_dict_follows_the_contract() -> None:
    d = _analysis().to_dict()
    assert list(d) == [
        "schema",
        "hipflex_version",
        "source",
        "settings",
        "sample_rate_hz",
        "duration_s",
        "sensor",
        "quality",
        "rep_count",
        "sets",
    ]
    assert d["schema"] == SCHEMA == "hipflex.analysis/2"
    assert d["sensor"] == {"gyro": True} and d["rep_count"] == 2
    assert list(d["quality"])[:4] == ["gaps", "lost_s", "clipped_samples", "orientation"]
    assert d["quality"]["lost_s"] == 0.123
    assert d["quality"]["rejected_candidates"] == [{"time_s": 5.0, "reason": "rom_below_min", "rom_deg": 12.35}]
    rep = d["sets"][0]["reps"][0]
    assert list(rep)[:10] == [
        "index",
        "start_s",
        "peak_s",
        "end_s",
        "peak_flexion_deg",
        "rom_deg",
        "flexion_time_s",
        "peak_flexion_velocity_dps",
        "mean_flexion_velocity_dps",
        "hold_s",
    ]
    assert rep["start_s"] == 10.1235 and rep["peak_flexion_deg"] == 84.12
    assert rep["peak_flexion_velocity_dps"] == 912.0
    assert rep["hold_s"] is None  # NaN is not JSON: null
    assert d["sets"][0]["cadence_rpm"] == pytest.approx(60.0 / 1.9, abs=0.005)
    json.loads(json.dumps(d, allow_nan=False))


def test_analysis_reps_in_time_order() -> None:
    a = _analysis()
    assert a.rep_count == 2
    assert [r.index for r in a.reps] == [0, 1]
    assert a.reps == a.sets[0].reps


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_settings_reject_a_non_finite_sensor_offset(bad: float) -> None:
    with pytest.raises(ValueError, match="sensor_offset_m"):
        Settings(sensor_offset_m=bad)


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_settings_reject_a_bad_pendulum_still_time(bad: float) -> None:
    with pytest.raises(ValueError, match="pendulum_still_s"):
        Settings(pendulum_still_s=bad)
    assert Settings(pendulum_still_s=0.0).pendulum_still_s == 0.0  # 0 turns the update off

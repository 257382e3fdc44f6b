"""MetaBase (MetaMotion) CSV import: synthetic sessions, sibling discovery, merge rule, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hipflex.sensor.files.import_metabase import find_gyro_sibling, parse_metabase_name, read_metabase
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.formats import load_samples, sniff_format

ACC_HEADER = "epoch (ms),time (01:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)"
GYRO_HEADER = "epoch (ms),time (01:00),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)"
STEM = "P-hipflex-medium1_MetaWear_2024-03-01T10.15.00.000_C42732BE255C"
EPOCH_MS = 1_709_288_100_000


def acc_at(t_s: np.ndarray) -> np.ndarray:
    return np.column_stack([0.1 * np.sin(t_s), -0.05 + 0 * t_s, 0.98 + 0.01 * np.cos(t_s)])


def gyro_at(t_s: np.ndarray) -> np.ndarray:
    """Linear in time, so linear interpolation reproduces it exactly."""
    return np.column_stack([10.0 * t_s, -3.0 * t_s + 1.0, 0.5 + 0 * t_s])


def rows(epoch_ms: np.ndarray, values: np.ndarray) -> list[str]:
    out = []
    for ms, v in zip(epoch_ms, values, strict=True):
        elapsed = (ms - epoch_ms[0]) / 1000.0
        out.append(f"{int(ms)},2024-03-01T10:15:{elapsed:06.3f},{elapsed:.3f},{v[0]:.6f},{v[1]:.6f},{v[2]:.6f}")
    return out


def session(
    folder: Path,
    *,
    acc_s: float = 20.0,
    gyro_start_s: float = 0.32,
    gyro_end_s: float | None = None,
    gyro_hole: tuple[float, float] | None = None,
    with_gyro: bool = True,
) -> tuple[Path, np.ndarray]:
    """Write a 12.5 Hz accelerometer file and a 25 Hz gyroscope file; returns (acc path, acc times s)."""
    acc_ms = EPOCH_MS + np.arange(0, acc_s * 1000, 80)
    acc_t = acc_ms / 1000.0
    acc_path = folder / f"{STEM}_Accelerometer_12.500Hz_1.4.4.csv"
    acc_path.write_text("\n".join([ACC_HEADER, *rows(acc_ms, acc_at(acc_t - acc_t[0]))]) + "\n")
    if with_gyro:
        end = acc_s if gyro_end_s is None else gyro_end_s
        g_ms = EPOCH_MS + np.arange(gyro_start_s * 1000, end * 1000, 40)
        if gyro_hole is not None:
            rel = (g_ms - EPOCH_MS) / 1000.0
            g_ms = g_ms[(rel < gyro_hole[0]) | (rel > gyro_hole[1])]
        g_t = g_ms / 1000.0
        gyro_path = folder / f"{STEM}_Gyroscope_25.000Hz_1.4.4.csv"
        gyro_path.write_text("\n".join([GYRO_HEADER, *rows(g_ms, gyro_at(g_t - acc_t[0]))]) + "\n")
    return acc_path, acc_t


def test_name_parsing_and_sibling(tmp_path: Path) -> None:
    acc, _ = session(tmp_path)
    name = parse_metabase_name(acc.name)
    assert name is not None and name.sensor == "accelerometer" and name.rate_hz == 12.5 and name.suffix == "_1.4.4"
    assert parse_metabase_name("session.csv") is None
    sib = find_gyro_sibling(acc)
    assert sib is not None and sib.name == f"{STEM}_Gyroscope_25.000Hz_1.4.4.csv"
    # Another session and another MetaBase version in the same folder are not siblings.
    (tmp_path / f"{STEM[:-1]}D_Gyroscope_25.000Hz_1.4.4.csv").write_text(GYRO_HEADER + "\n")
    (tmp_path / f"{STEM}_Gyroscope_25.000Hz_1.4.41.csv").write_text(GYRO_HEADER + "\n")
    assert find_gyro_sibling(acc) == sib


def test_gyro_is_interpolated_onto_accelerometer_times_within_the_overlap(tmp_path: Path) -> None:
    acc_path, acc_t = session(tmp_path, gyro_start_s=0.32, gyro_end_s=19.0)
    s = read_metabase(acc_path)
    inside = (acc_t >= acc_t[0] + 0.32) & (acc_t <= acc_t[0] + 19.0 - 0.04 + 1e-9)
    np.testing.assert_allclose(s.time_s, acc_t[inside], rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.acc_g, acc_at(acc_t[inside] - acc_t[0]), atol=1e-6)
    assert s.gyr_dps is not None
    np.testing.assert_allclose(s.gyr_dps, gyro_at(s.time_s - acc_t[0]), atol=1e-5)
    assert s.time_s[0] == pytest.approx(EPOCH_MS / 1000.0 + 0.32)  # Unix seconds


def test_a_hole_in_the_gyro_becomes_dropouts_not_invented_values(tmp_path: Path) -> None:
    acc_path, acc_t = session(tmp_path, gyro_start_s=0.0, gyro_hole=(8.0, 9.0))
    s = read_metabase(acc_path)
    rel = s.time_s - acc_t[0]
    hole = (rel > 7.96 + 0.01) & (rel < 9.04 - 0.01)  # strictly between the gyro samples around the hole
    assert hole.sum() == 13
    assert s.gyr_dps is not None
    assert np.isnan(s.acc_g[hole]).all() and np.isnan(s.gyr_dps[hole]).all()
    np.testing.assert_allclose(s.gyr_dps[~hole], gyro_at(rel[~hole]), atol=1e-5)


def test_without_a_gyro_file_it_is_accelerometer_only(tmp_path: Path) -> None:
    acc_path, acc_t = session(tmp_path, with_gyro=False)
    s = load_samples(acc_path)
    assert s.gyr_dps is None and len(s) == acc_t.size


def test_auto_format_and_explicit_format(tmp_path: Path) -> None:
    acc_path, _ = session(tmp_path)
    assert sniff_format(acc_path).name == "metabase"
    assert load_samples(acc_path, "metabase").has_gyro


def test_the_gyro_file_names_its_accelerometer_file(tmp_path: Path) -> None:
    acc_path, _ = session(tmp_path)
    gyro = find_gyro_sibling(acc_path)
    assert gyro is not None
    with pytest.raises(InputError, match=f"analyse its accelerometer file {acc_path.name}") as info:
        load_samples(gyro)
    assert str(info.value).startswith(str(gyro)) and "\n" not in str(info.value)


def test_garbage_rows_are_skipped_with_a_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    acc_path, acc_t = session(tmp_path, with_gyro=False)
    lines = acc_path.read_text().splitlines()
    lines[10] = "1709288100720,oops"
    lines[20] = lines[20].replace(",0.", ",zero.", 1)
    acc_path.write_text("\n".join(lines) + "\n" + lines[-1][:20])  # and a cut last line
    with caplog.at_level(logging.WARNING):
        s = read_metabase(acc_path)
    assert len(s) == acc_t.size - 2
    assert "line 11 skipped: has 2 fields" in caplog.text and "line 21 skipped: column" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        (ACC_HEADER + "\n", "no data rows"),
        ("epoch (ms),time (01:00),elapsed (s),x-axis (T),y-axis (T),z-axis (T)\n1,a,0,1,2,3\n",
         "not a MetaBase accelerometer export"),
        (ACC_HEADER + "\n" + "\n".join(f"{i},x,{i},a,b,c" for i in range(50)) + "\n", "50 of 50 rows unreadable"),
        (ACC_HEADER + "\n" + "\n".join(f"{1000 + 80 * i},x,0,0,0,1" for i in range(10)) + "\n", "too short"),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_input_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / f"{STEM}_Accelerometer_12.500Hz_1.4.4.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_samples(path, "metabase")
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_gyro_outside_the_accelerometer_time_is_an_input_error(tmp_path: Path) -> None:
    acc_path, _ = session(tmp_path, acc_s=10.0, with_gyro=False)
    g_ms = EPOCH_MS + 60_000 + np.arange(0, 5000, 40)
    gyro = tmp_path / f"{STEM}_Gyroscope_25.000Hz_1.4.4.csv"
    gyro.write_text("\n".join([GYRO_HEADER, *rows(g_ms, gyro_at(g_ms / 1000.0))]) + "\n")
    with pytest.raises(InputError, match="does not overlap"):
        load_samples(acc_path)


@pytest.mark.slow
@pytest.mark.shared_data
def test_ebbelaar_metamotion_recordings_load(shared_data: Path) -> None:
    folder = shared_data / "ebbelaar_barbell_wrist_metamotion" / "raw"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (third-party recordings, not part of the repository)")
    files = sorted(folder.rglob("*_Accelerometer_12.500Hz_*.csv"))
    assert len(files) >= 50
    for path in files:
        assert sniff_format(path).name == "metabase", path.name
        s = load_samples(path)
        assert s.has_gyro, path.name
        rate = 1.0 / float(np.median(np.diff(s.time_s)))
        assert rate == pytest.approx(12.5, rel=0.01), path.name
        g = np.linalg.norm(np.nanmedian(s.acc_g, axis=0))
        assert 0.5 < g < 1.5, path.name  # in g, gravity included
        assert s.time_s[0] > 1.5e9  # Unix seconds (2019)


def test_sibling_despite_a_stray_space_in_the_name(tmp_path: Path) -> None:
    acc_path, _ = session(tmp_path)
    gyro = find_gyro_sibling(acc_path)
    assert gyro is not None
    spaced = acc_path.with_name(acc_path.name.replace("_MetaWear", " _MetaWear"))
    acc_path.rename(spaced)
    assert find_gyro_sibling(spaced) == gyro
    assert load_samples(spaced).has_gyro

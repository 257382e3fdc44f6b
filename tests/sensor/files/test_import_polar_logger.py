"""Polar Sensor Logger import: synthetic ACC/GYRO exports, header variants, merge, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hipflex.sensor.files.import_polar_logger import find_stream_sibling, read_polar_logger
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.formats import load_samples, sniff_format

ACC_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"
GYRO_HEADER = "Phone timestamp;sensor timestamp [ns];X [dps];Y [dps];Z [dps]"
STEM = "Polar_Sense_B5A8C12F_20240301_101500"
T0_NS = 762_000_000_000_000_000  # 2024 on the PMD clock (ns since 2000-01-01)


def acc_mg(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.integers(-300, 300, (n, 3)).astype(np.float64)
    out[:, 1] -= 980.0
    return out


def gyro_dps(n: int, seed: int = 1) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(0, 40, (n, 3)), 2)


def stamps(n: int, fs: float, offset_ns: int = 0) -> np.ndarray:
    return T0_NS + offset_ns + np.rint(np.arange(n) * 1e9 / fs).astype(np.int64)


def write(path: Path, header: str, ns: np.ndarray, values: np.ndarray, *, tail: str = "") -> Path:
    lines = [header]
    for i, (t, v) in enumerate(zip(ns, values, strict=True)):
        phone = f"2024-03-01T10:15:{i // 52 % 60:02d}.{i % 1000:03d}"
        lines.append(f"{phone};{int(t)};{v[0]:g};{v[1]:g};{v[2]:g}{tail}")
    path.write_text("\n".join(lines) + "\n")
    return path


def verity(folder: Path, n: int = 52 * 12, gyro_offset_ns: int = 1_000_000) -> tuple[Path, np.ndarray]:
    ns = stamps(n, 52.0)
    acc = write(folder / f"{STEM}_ACC.txt", ACC_HEADER, ns, acc_mg(n))
    write(folder / f"{STEM}_GYRO.txt", GYRO_HEADER, stamps(n, 52.0, gyro_offset_ns), gyro_dps(n))
    return acc, ns


def test_verity_acc_and_gyro_merge_on_sensor_time(tmp_path: Path) -> None:
    acc_path, ns = verity(tmp_path)
    assert sniff_format(acc_path).name == "polar"
    s = load_samples(acc_path)
    n = ns.size
    np.testing.assert_allclose(s.time_s, ns * 1e-9, rtol=0, atol=1e-6)  # device seconds since 2000
    np.testing.assert_allclose(s.acc_g, acc_mg(n) / 1000.0)
    assert s.gyr_dps is not None
    np.testing.assert_allclose(s.gyr_dps, gyro_dps(n))  # nearest gyro sample, values untouched


def test_h10_acc_only(tmp_path: Path) -> None:
    n = 200 * 5
    ns = stamps(n, 200.0)
    path = write(tmp_path / "Polar_H10_1A2B3C4D_20240301_101500_ACC.txt", ACC_HEADER, ns, acc_mg(n))
    s = read_polar_logger(path)
    assert s.gyr_dps is None and len(s) == n


def test_header_variants(tmp_path: Path) -> None:
    n = 52 * 4
    ns = stamps(n, 52.0)
    # Trailing "; " after the names and the values, an extra ms column, upper-case names, unit g.
    header = "Phone timestamp;SENSOR TIMESTAMP [ns];timestamp [ms];x [g];y [g];z [g]; "
    lines = [header] + [
        f"2024-03-01T10:15:00.000;{int(t)};{i * 19.23:.2f};{v[0] / 1000:g};{v[1] / 1000:g};{v[2] / 1000:g}; "
        for i, (t, v) in enumerate(zip(ns, acc_mg(n), strict=True))
    ]
    path = tmp_path / "Polar_Sense_X_ACC.txt"
    path.write_text("\n".join(lines) + "\n")
    assert sniff_format(path).name == "polar"
    s = load_samples(path)
    np.testing.assert_allclose(s.acc_g, acc_mg(n) / 1000.0)


def test_different_rates_are_interpolated(tmp_path: Path) -> None:
    n = 104 * 6
    acc_ns = stamps(n, 104.0)
    write(tmp_path / f"{STEM}_ACC.txt", ACC_HEADER, acc_ns, acc_mg(n))
    g_ns = stamps(n // 2, 52.0)
    slope = np.array([5.0, -2.0, 0.5])
    g = ((g_ns - T0_NS) * 1e-9)[:, None] * slope
    write(tmp_path / f"{STEM}_GYRO.txt", GYRO_HEADER, g_ns, g)
    s = load_samples(tmp_path / f"{STEM}_ACC.txt")
    assert s.gyr_dps is not None
    np.testing.assert_allclose(s.gyr_dps, (s.time_s - T0_NS * 1e-9)[:, None] * slope, atol=1e-4)
    assert s.time_s[-1] <= g_ns[-1] * 1e-9 + 1e-9  # only the overlap is kept


def test_sibling_rules_and_the_gyro_file(tmp_path: Path) -> None:
    acc_path, _ = verity(tmp_path)
    gyro = find_stream_sibling(acc_path, "GYRO")
    assert gyro is not None and gyro.name == f"{STEM}_GYRO.txt"
    assert find_stream_sibling(tmp_path / "notes.txt", "GYRO") is None
    with pytest.raises(InputError, match=f"analyse the ACC file {STEM}_ACC.txt") as info:
        load_samples(gyro)
    assert str(info.value).startswith(str(gyro))


def test_magnetometer_file_is_refused(tmp_path: Path) -> None:
    n = 50 * 3
    path = write(tmp_path / f"{STEM}_MAGN.txt", ACC_HEADER.replace("[mg]", "[G]"), stamps(n, 50.0), acc_mg(n))
    with pytest.raises(InputError, match="magnetometer"):
        load_samples(path, "polar")


def test_garbage_rows_are_skipped_with_a_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    acc_path, ns = verity(tmp_path)
    lines = acc_path.read_text().splitlines()
    lines[5] = "2024-03-01T10:15:00.000;;1;2;3"
    lines[9] = "garbage"
    acc_path.write_text("\n".join(lines) + "\n" + lines[-1][:30])
    with caplog.at_level(logging.WARNING):
        s = load_samples(acc_path)
    assert len(s) == ns.size - 2
    assert "line 6 skipped" in caplog.text and "line 10 skipped: has 1 fields" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Phone timestamp;HR [bpm]\n2024;60\n", "not a Polar Sensor Logger ACC/GYRO file"),
        ("Phone timestamp;sensor timestamp [ns];X [furlong];Y [furlong];Z [furlong]\n1;2;3;4;5\n", "unknown unit"),
        (ACC_HEADER + "\n" + "\n".join(f"p;{T0_NS + i * 10**7};1;2;3" for i in range(5)) + "\n", "too short"),
        (ACC_HEADER + "\n" + "\n".join(f"p;{T0_NS - i * 10**7};1;2;1000" for i in range(500)) + "\n",
         "time goes backwards"),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_input_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / f"{STEM}_ACC.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_samples(path, "polar")
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_gyro_that_does_not_overlap_is_an_input_error(tmp_path: Path) -> None:
    n = 52 * 5
    acc_path = write(tmp_path / f"{STEM}_ACC.txt", ACC_HEADER, stamps(n, 52.0), acc_mg(n))
    write(tmp_path / f"{STEM}_GYRO.txt", GYRO_HEADER, stamps(n, 52.0, 3600 * 10**9), gyro_dps(n))
    with pytest.raises(InputError, match="does not overlap"):
        load_samples(acc_path)

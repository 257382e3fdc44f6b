"""Plain CSV reading and writing, the column-mapping reader, presets and the format registry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hipflex.dsp.types import ImuSamples
from hipflex.sensor import formats
from hipflex.sensor.files.column_presets import column_preset
from hipflex.sensor.files.csv_io import (
    PLAIN_GYRO,
    read_csv,
    read_mapped_csv,
    write_csv,
)
from hipflex.sensor.format_spec import ColumnMap, FileFormat, InputError, LoadOptions, validate_samples
from hipflex.sensor.formats import format_names, get_format, load_samples, register_format, sniff_format

HEADER = "time_s,acc_x_g,acc_y_g,acc_z_g"
HEADER_GYRO = HEADER + ",gyro_x_dps,gyro_y_dps,gyro_z_dps"


def rows(n: int = 300, fs: float = 100.0, t0: float = 50.0, gyro: bool = False) -> list[str]:
    """``n`` clean data lines: standing still, time starting at ``t0``."""
    out = []
    for i in range(n):
        t = t0 + i / fs
        acc = f"{0.01 * math.sin(i):.4f},{-0.02:.4f},{0.99 + 0.001 * (i % 7):.4f}"
        out.append(f"{t:.4f},{acc}" + (f",{0.1 * (i % 5):.2f},-0.3,0.2" if gyro else ""))
    return out


def write(tmp_path: Path, text: str, name: str = "rec.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def samples(n: int = 500, fs: float = 100.0, t0: float = 1234.5, gyro: bool = True, seed: int = 0) -> ImuSamples:
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) / fs
    acc = rng.normal(0, 0.1, (n, 3)) + np.array([0.0, 0.0, 1.0])
    g = rng.normal(0, 30.0, (n, 3)) if gyro else None
    return ImuSamples(t, acc, g)


# ------------------------------------------------------------------ plain format


def test_round_trip_keeps_values_and_time_origin(tmp_path: Path) -> None:
    s = samples()
    path = tmp_path / "s.csv"
    write_csv(path, s, comments=["source: test", "two\nlines"])
    text = path.read_text()
    assert text.startswith("# hipflex ")
    assert "# source: test\n# two\n# lines\n" in text
    back = read_csv(path)
    assert back.time_s[0] == pytest.approx(1234.5)
    np.testing.assert_allclose(back.time_s, s.time_s, atol=1e-6)
    np.testing.assert_allclose(back.acc_g, s.acc_g, atol=1e-6)
    assert back.gyr_dps is not None and s.gyr_dps is not None
    np.testing.assert_allclose(back.gyr_dps, s.gyr_dps, atol=1e-4)


def test_accelerometer_only_file_has_no_gyro(tmp_path: Path) -> None:
    back = read_csv(write(tmp_path, "\n".join([HEADER, *rows()]) + "\n"))
    assert back.gyr_dps is None
    assert len(back) == 300
    assert back.acc_g[0, 2] == pytest.approx(0.99)


def test_writer_marks_dropouts_as_empty_fields_and_reader_restores_nan(tmp_path: Path) -> None:
    s = samples(gyro=True)
    acc = s.acc_g.copy()
    acc[10] = np.nan
    path = tmp_path / "d.csv"
    write_csv(path, ImuSamples(s.time_s, acc, s.gyr_dps))
    line = path.read_text().splitlines()[2 + 10]
    assert line.split(",")[1:] == [""] * 6  # a lost row is lost in every column
    back = read_csv(path)
    assert np.isnan(back.acc_g[10]).all() and np.isnan(back.gyr_dps[10]).all()  # type: ignore[index]
    assert np.isfinite(back.acc_g[11]).all()


def test_comments_and_blank_lines_anywhere_are_ignored(tmp_path: Path) -> None:
    data = rows(gyro=True)
    clean = read_csv(write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n", "clean.csv"))
    noisy_lines = ["# recorded by me", "", HEADER_GYRO, *data[:100], "# a comment in the middle",
                   "   # indented", "", *data[100:], "# trailing comment"]  # fmt: skip
    noisy = read_csv(write(tmp_path, "\n".join(noisy_lines) + "\n", "noisy.csv"))
    np.testing.assert_array_equal(noisy.time_s, clean.time_s)
    np.testing.assert_array_equal(noisy.acc_g, clean.acc_g)


def test_whitespace_only_line_takes_the_careful_path_with_the_same_result(tmp_path: Path) -> None:
    data = rows()
    clean = read_csv(write(tmp_path, "\n".join([HEADER, *data]), "clean.csv"))
    odd = read_csv(write(tmp_path, "\n".join([HEADER, *data[:5], "   \t", *data[5:]]), "odd.csv"))
    np.testing.assert_array_equal(odd.acc_g, clean.acc_g)


def test_empty_and_nan_fields_are_dropouts(tmp_path: Path) -> None:
    data = rows(gyro=True)
    data[3] = "50.0300,,,,,,"
    data[4] = "50.0400,nan,0.1,1.0,0,0,0"
    data[5] = "50.0500,0.0,0.1,1.0,,,"  # gyro lost, acc present -> whole row lost
    s = read_csv(write(tmp_path, "\n".join([HEADER_GYRO, *data])))
    assert len(s) == 300
    for i in (3, 4, 5):
        assert np.isnan(s.acc_g[i]).all(), i
    assert np.isfinite(s.acc_g[6]).all()


def test_crlf_bom_quotes_and_column_order(tmp_path: Path) -> None:
    header = '"acc_z_g","time_s","acc_x_g","acc_y_g"'
    lines = [f"1.0,{50 + i / 100:.2f},0.0,0.5" for i in range(300)]
    path = tmp_path / "win.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([header, *lines]) + "\r\n").encode("utf-8"))
    s = read_csv(path)
    assert s.time_s[1] == pytest.approx(50.01)
    np.testing.assert_allclose(s.acc_g[0], [0.0, 0.5, 1.0])


def test_a_last_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    data = rows()
    s = read_csv(write(tmp_path, "\n".join([HEADER, *data, "53.0000,0.01"])))
    assert len(s) == 300


@pytest.mark.slow
def test_large_file_with_dropouts_and_comments(tmp_path: Path) -> None:
    n = 200_000
    s = samples(n=n, gyro=True, seed=3)
    acc = s.acc_g.copy()
    acc[::997] = np.nan
    path = tmp_path / "big.csv"
    write_csv(path, ImuSamples(s.time_s, acc, s.gyr_dps), comments=["big"])
    back = read_csv(path)
    assert len(back) == n
    np.testing.assert_array_equal(np.isnan(back.acc_g[:, 0]), np.isnan(acc[:, 0]))
    np.testing.assert_allclose(back.acc_g[1::997], acc[1::997], atol=1e-6)


# ------------------------------------------------------------------ errors


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_samples(path)
    msg = str(info.value)
    assert msg.startswith(str(path) + ": "), msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)
    return msg


ERROR_CASES = {
    "empty": ("", "file is empty"),
    "blank": ("  \n\n", "file is empty"),
    "comments_only": ("# nothing\n# here\n", "no header line"),
    "header_only": (HEADER + "\n", "no data rows"),
    "header_and_comments_only": (HEADER + "\n# later\n", "no data rows"),
    "wrong_columns": ("t,ax,ay,az\n1,0,0,1\n", "missing column(s) time_s,acc_x_g,acc_y_g,acc_z_g"),
    "no_time_column": ("acc_x_g,acc_y_g,acc_z_g\n0,0,1\n", "no time column 'time_s'"),
    "unknown_column": (HEADER + ",temp_c\n1,0,0,1,20\n", "unknown column(s) temp_c"),
    "partial_gyro": (HEADER + ",gyro_x_dps\n1,0,0,1,0\n", "missing column(s) gyro_y_dps,gyro_z_dps"),
    "repeated_column": (HEADER + ",acc_x_g\n1,0,0,1,0\n", "'acc_x_g' appears more than once"),
    "numbers_not_header": ("0.0,0.0,0.0,1.0\n0.01,0,0,1\n", "the first line is numbers, not a header"),
    "two_samples": (HEADER + "\n0,0,0,1\n0.01,0,0,1\n", "too short: 2 samples"),
    "binary": ("\x00\x01\x02garbage", "not a text file"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_files_give_one_line_naming_file_and_problem(tmp_path: Path, case: str) -> None:
    text, expected = ERROR_CASES[case]
    msg = _error(write(tmp_path, text, f"{case}.csv"))
    assert expected in msg


def test_wrong_columns_lists_what_was_found(tmp_path: Path) -> None:
    msg = _error(write(tmp_path, "t,ax,ay,az\n1,0,0,1\n"))
    assert "found: t,ax,ay,az" in msg and "--time-col" in msg


def test_text_in_numbers_names_line_and_column(tmp_path: Path) -> None:
    data = rows()
    data[2] = "50.0200,0.0,abc,1.0"
    msg = _error(write(tmp_path, "\n".join(["# comment", HEADER, *data])))
    assert "line 5, column 'acc_y_g': 'abc' is not a number" in msg


def test_row_with_missing_fields_names_the_line(tmp_path: Path) -> None:
    data = rows()
    data[10] = "50.1000,0.0,1.0"
    msg = _error(write(tmp_path, "\n".join([HEADER, *data])))
    assert "line 12 has 3 fields but the header has 4" in msg


def test_too_short_in_time(tmp_path: Path) -> None:
    msg = _error(write(tmp_path, "\n".join([HEADER, *rows(n=150)])))  # 1.49 s at 100 Hz
    assert "too short: 150 samples over 1.49 s" in msg


def test_missing_time_value_names_the_line(tmp_path: Path) -> None:
    data = rows()
    data[7] = ",0.0,0.0,1.0"
    msg = _error(write(tmp_path, "\n".join([HEADER, *data])))
    assert "line 9: time is missing or not a finite number" in msg


def test_time_going_backwards_names_the_first_bad_line(tmp_path: Path) -> None:
    data = rows()
    data = data[:100] + data[200:] + data[100:200]  # a whole block out of order
    msg = _error(write(tmp_path, "\n".join([HEADER, *data])))
    assert "line 202: time goes backwards (51 s after 52.99 s)" in msg
    assert "100 of 300 rows are out of order" in msg


def test_a_few_out_of_order_rows_are_sorted_and_exact_duplicates_dropped(tmp_path: Path) -> None:
    data = rows(n=1000)
    data[500], data[501] = data[501], data[500]  # swapped pair
    data.insert(800, data[799])  # a row written twice
    data.insert(700, data[699].split(",")[0] + ",9,9,9")  # a second sample stamped at the same time
    s = read_csv(write(tmp_path, "\n".join([HEADER, *data])))
    assert len(s) == 1001
    assert np.all(np.diff(s.time_s) >= 0)
    assert s.time_s[500] == pytest.approx(55.0) and s.time_s[501] == pytest.approx(55.01)
    # The shared time keeps both samples, in file order.
    assert s.time_s[699] == s.time_s[700] and s.acc_g[699, 0] != 9.0 and s.acc_g[700, 0] == 9.0
    assert np.count_nonzero(np.diff(s.time_s) == 0) == 1  # the duplicate is gone


def test_rows_stamped_on_arrival_are_all_kept(tmp_path: Path) -> None:
    # A phone logger stamps a notification's rows with its arrival time: runs
    # of equal times, then a jump.  Every row is a sample.
    n = 600
    t = 50.0 + 0.01 * (np.arange(n) // 20 * 20 + 19)
    data = [f"{ti:.4f},{0.001 * i:.4f},0.0,1.0" for i, ti in enumerate(t)]
    s = read_csv(write(tmp_path, "\n".join([HEADER, *data])))
    assert len(s) == n
    np.testing.assert_allclose(s.acc_g[:, 0], 0.001 * np.arange(n), rtol=0, atol=1e-12)  # every row, in order


def test_values_in_m_per_s2_labelled_as_g_are_refused(tmp_path: Path) -> None:
    data = [f"{50 + i / 100:.2f},0.1,0.2,9.79" for i in range(300)]
    msg = _error(write(tmp_path, "\n".join([HEADER, *data])))
    assert "looks like m/s^2" in msg


def test_all_accelerometer_rows_empty(tmp_path: Path) -> None:
    data = [f"{50 + i / 100:.2f},,," for i in range(300)]
    assert "no accelerometer values" in _error(write(tmp_path, "\n".join([HEADER, *data])))


def test_missing_path_and_directory(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.csv").endswith("no such file")
    assert "is a directory" in _error(tmp_path)


def test_validate_samples_leaves_the_callers_arrays_alone() -> None:
    t = np.arange(300) / 100.0
    acc = np.tile([0.0, 0.0, 1.0], (300, 1))
    gyr = np.zeros((300, 3))
    gyr[5, 1] = np.nan
    s = validate_samples("x", t, acc, gyr)
    assert np.isnan(s.acc_g[5]).all()
    assert np.isfinite(acc).all()


# ------------------------------------------------------------------ column mapping


def third_party(tmp_path: Path) -> tuple[Path, ImuSamples]:
    """A semicolon file with ms time, m/s^2, rad/s and extra columns."""
    s = samples(n=400, fs=50.0, t0=1000.0, seed=5)
    assert s.gyr_dps is not None
    lines = ["# exported by some app", "Index;T_ms;AX;AY;AZ;GX;GY;GZ;Temp"]
    for i in range(len(s)):
        a = s.acc_g[i] * 9.80665
        g = np.radians(s.gyr_dps[i])
        vals = [s.time_s[i] * 1000, *a, *g]
        lines.append(f"{i};" + ";".join(f"{v:.9f}" for v in vals) + ";21.5")
    return write(tmp_path, "\n".join(lines) + "\n", "third.csv"), s


MAPPING = ColumnMap(time_col="T_ms", time_unit="ms", acc_cols=("AX", "AY", "AZ"), acc_unit="m/s^2",
                    gyro_cols=("GX", "GY", "GZ"), gyro_unit="rad/s")  # fmt: skip


def test_column_mapping_converts_units(tmp_path: Path) -> None:
    path, truth = third_party(tmp_path)
    s = read_mapped_csv(path, MAPPING)
    np.testing.assert_allclose(s.time_s, truth.time_s, atol=1e-9)
    np.testing.assert_allclose(s.acc_g, truth.acc_g, atol=1e-8)
    np.testing.assert_allclose(s.gyr_dps, truth.gyr_dps, atol=1e-6)  # type: ignore[arg-type]


def test_column_mapping_through_load_samples_auto(tmp_path: Path) -> None:
    path, truth = third_party(tmp_path)
    s = load_samples(path, options=LoadOptions(columns=MAPPING))
    np.testing.assert_allclose(s.acc_g, truth.acc_g, atol=1e-8)


def test_column_names_match_case_insensitively_and_gyro_is_optional(tmp_path: Path) -> None:
    path, truth = third_party(tmp_path)
    cmap = ColumnMap(time_col="t_ms", time_unit="ms", acc_cols=("ax", "ay", "az"), acc_unit="m/s2")
    s = read_mapped_csv(path, cmap)
    assert s.gyr_dps is None
    np.testing.assert_allclose(s.acc_g, truth.acc_g, atol=1e-8)


def test_column_mapping_errors_name_the_columns(tmp_path: Path) -> None:
    path, _ = third_party(tmp_path)
    with pytest.raises(InputError, match=r"no time column 'time' \(--time-col\); found: Index,T_ms,AX"):
        read_mapped_csv(path, ColumnMap(time_col="time"))
    with pytest.raises(InputError, match=r"unknown column\(s\) AX9 \(--acc-cols\)"):
        read_mapped_csv(path, ColumnMap(time_col="T_ms", acc_cols=("AX", "AY", "AX9")))


def test_mapped_text_in_numbers_names_line_and_column(tmp_path: Path) -> None:
    path, _ = third_party(tmp_path)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(";", ";oops", 1)  # file line 6: the T_ms field
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"line 6, column 'T_ms': 'oops.*' is not a number"):
        read_mapped_csv(path, MAPPING)


def test_units_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown accelerometer unit 'furlongs'"):
        ColumnMap(acc_unit="furlongs")
    with pytest.raises(ValueError, match="three column names"):
        ColumnMap(acc_cols=("a", "b"))  # type: ignore[arg-type]


def test_presets() -> None:
    thigh = column_preset("eurobench:3")
    assert thigh == column_preset("eurobench")
    assert thigh.time_col == "time" and thigh.acc_cols == ("Ax3", "Ay3", "Az3")
    assert thigh.gyro_cols == ("Gx3", "Gy3", "-Gz3") and thigh.acc_unit == "m/s2" and thigh.gyro_unit == "dps"
    assert column_preset("hipflex").gyro_cols == PLAIN_GYRO
    assert column_preset("hipflex:acc").gyro_cols is None
    with pytest.raises(ValueError, match="unknown column preset 'nope'"):
        column_preset("nope")
    with pytest.raises(ValueError, match=r"1\.\.6"):
        column_preset("eurobench:9")


# ------------------------------------------------------------------ registry


def test_registry_lists_csv_and_sniffs_plain_files(tmp_path: Path) -> None:
    assert "csv" in format_names()
    path = write(tmp_path, "\n".join(["# c", HEADER, *rows()]))
    assert sniff_format(path).name == "csv"
    with pytest.raises(ValueError, match="unknown format 'nope'; known formats: auto, csv"):
        get_format("nope")


def test_registered_format_is_sniffed_and_loaded(tmp_path: Path) -> None:
    def sniff(path: Path, head: str) -> bool:
        return head.startswith("TOY")

    def load(path: Path, options: LoadOptions) -> ImuSamples:
        vals = np.array([float(x) for x in path.read_text().split()[1:]])
        t = np.arange(vals.size) / 10.0
        return validate_samples(path, t, np.column_stack([vals, 0 * vals, 1 + 0 * vals]))

    toy = FileFormat("toy", "a test format", load, sniff)
    register_format(toy)
    try:
        with pytest.raises(ValueError, match="already taken"):
            register_format(toy)
        path = write(tmp_path, "TOY " + " ".join(["0.1"] * 50), "rec.toy")
        assert sniff_format(path) is toy
        assert len(load_samples(path)) == 50
        assert len(load_samples(path, "toy")) == 50
        with pytest.raises(ValueError, match="does not take a column mapping"):
            load_samples(path, "toy", LoadOptions(columns=ColumnMap()))
    finally:
        del formats._registry()["toy"]


def test_unrecognised_file_falls_back_to_csv_with_its_header_message(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    assert sniff_format(path).name == formats.FALLBACK_FORMAT
    assert "missing column(s) time_s" in _error(path)


# ------------------------------------------------------------------ third-party data


@pytest.mark.shared_data
def test_eurobench_thigh_imu_reads_through_the_preset(shared_data: Path) -> None:
    path = shared_data / "eurobench_bench_sit_to_stand" / "input" / "subject_01_5sts_chair_raw_01.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    s = load_samples(path, options=LoadOptions(columns=column_preset("eurobench:3")))
    explicit = ColumnMap(time_col="time", acc_cols=("Ax3", "Ay3", "Az3"), acc_unit="m/s2",
                         gyro_cols=("Gx3", "Gy3", "-Gz3"), gyro_unit="dps")  # fmt: skip
    same = load_samples(path, "csv", LoadOptions(columns=explicit))
    np.testing.assert_array_equal(s.acc_g, same.acc_g)
    assert s.gyr_dps is not None
    assert 1.0 / np.median(np.diff(s.time_s)) == pytest.approx(128, rel=0.02)
    assert 14 < s.time_s[-1] - s.time_s[0] < 20
    assert np.median(np.linalg.norm(s.acc_g, axis=1)) == pytest.approx(1.0, abs=0.05)


def test_a_minus_prefix_negates_a_mapped_axis(tmp_path: Path) -> None:
    path = tmp_path / "mirrored.csv"
    t = np.arange(0, 3, 0.01)
    rows = "\n".join(f"{x:.2f},0,0,1,1.5,-2.5,3.5" for x in t)
    path.write_text("time,ax,ay,az,gx,gy,gz\n" + rows + "\n")
    cols = ColumnMap(time_col="time", acc_cols=("ax", "ay", "-az"), gyro_cols=("-gx", "gy", "-gz"))
    s = load_samples(path, "csv", LoadOptions(columns=cols))
    assert s.gyr_dps is not None
    np.testing.assert_array_equal(s.acc_g[0], [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(s.gyr_dps[0], [-1.5, -2.5, -3.5])

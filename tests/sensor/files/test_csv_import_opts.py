"""Import options for awkward CSV files (issue 18 point 10): no header, raw integer units, a header of several lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hipflex.sensor.files.csv_io import read_csv, read_mapped_csv
from hipflex.sensor.format_spec import ColumnMap, InputError

NAMES = "t,ax,ay,az,gx,gy,gz"


def raw_rows(n: int = 400) -> list[str]:
    """Integer counts as a logger writes them: acc in 1/10000 g, gyro in 1/100 deg/s; time in s."""
    rng = np.random.default_rng(7)
    acc = np.round(rng.normal([0, 0, 10000], 150, (n, 3))).astype(int)
    gyr = np.round(rng.normal(0, 300, (n, 3))).astype(int)
    return [f"{i / 100:.2f}," + ",".join(str(v) for v in (*acc[i], *gyr[i])) for i in range(n)]


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def named(**kw: object) -> ColumnMap:
    return ColumnMap(time_col="t", acc_cols=("ax", "ay", "az"), gyro_cols=("gx", "gy", "gz"), **kw)  # type: ignore[arg-type]


def numbered(**kw: object) -> ColumnMap:
    return ColumnMap(time_col="0", acc_cols=("1", "2", "3"), gyro_cols=("4", "5", "6"), header_rows=0, **kw)  # type: ignore[arg-type]


def test_a_headerless_file_read_by_field_numbers_equals_the_file_with_a_header(tmp_path: Path) -> None:
    body = raw_rows()
    with_header = read_mapped_csv(write(tmp_path, "h.csv", [NAMES, *body]), named(acc_scale=1e-4))
    without = read_mapped_csv(write(tmp_path, "n.csv", ["# logger v2", *body]), numbered(acc_scale=1e-4))
    np.testing.assert_array_equal(without.time_s, with_header.time_s)
    np.testing.assert_array_equal(without.acc_g, with_header.acc_g)
    assert without.gyr_dps is not None and with_header.gyr_dps is not None
    np.testing.assert_array_equal(without.gyr_dps, with_header.gyr_dps)
    assert len(without) == len(body)  # the first line is data, not a header


def test_a_negated_field_number_reads_the_field_negated(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", raw_rows())
    plain = read_mapped_csv(path, numbered(acc_scale=1e-4))
    flipped = read_mapped_csv(path, dataclass_replace(numbered(acc_scale=1e-4), acc_cols=("1", "-2", "3")))
    np.testing.assert_array_equal(flipped.acc_g[:, 1], -plain.acc_g[:, 1])


def dataclass_replace(cmap: ColumnMap, **kw: object) -> ColumnMap:
    import dataclasses

    return dataclasses.replace(cmap, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("cmap", [named, numbered])
def test_scales_multiply_the_raw_values_before_the_unit(tmp_path: Path, cmap: Callable[..., ColumnMap]) -> None:
    body = raw_rows()
    lines = [NAMES, *body] if cmap is named else body
    path = write(tmp_path, "raw.csv", lines)
    raw = np.array([[float(v) for v in line.split(",")] for line in body])
    s = read_mapped_csv(path, cmap(acc_scale=1e-4, gyro_scale=0.01))
    np.testing.assert_allclose(s.acc_g, raw[:, 1:4] * 1e-4, rtol=1e-15)
    assert s.gyr_dps is not None
    np.testing.assert_allclose(s.gyr_dps, raw[:, 4:7] * 0.01, rtol=1e-15)
    # With a unit the scale comes first, then the unit (here counts of 1e-4 g * 9.80665 m/s^2 each).
    mm = read_mapped_csv(path, cmap(acc_scale=1e-4 * 9.80665, acc_unit="m/s2"))
    np.testing.assert_allclose(mm.acc_g, raw[:, 1:4] * (1e-4 * 9.80665) / 9.80665, rtol=1e-15)


def test_a_units_line_under_the_header_names_the_option_and_the_option_reads_it(tmp_path: Path) -> None:
    body = raw_rows()
    path = write(tmp_path, "two.csv", [NAMES, "s,raw,raw,raw,raw,raw,raw", *body])
    with pytest.raises(InputError, match=r"seems to have 2 header rows \(read it with --header-rows 2\)") as exc:
        read_mapped_csv(path, named(acc_scale=1e-4))
    assert "\n" not in str(exc.value) and "line 2, column 't': 's' is not a number" in str(exc.value)
    two = read_mapped_csv(path, named(acc_scale=1e-4, header_rows=2))
    one = read_mapped_csv(write(tmp_path, "one.csv", [NAMES, *body]), named(acc_scale=1e-4))
    np.testing.assert_array_equal(two.acc_g, one.acc_g)
    assert len(two) == len(body)


def test_names_repeated_across_a_two_line_header_name_the_option(tmp_path: Path) -> None:
    plain = "time_s,acc_x_g,acc_y_g,acc_z_g"
    path = write(tmp_path, "p.csv", ["time_s,acc,acc,acc", ",x,y,z", *[f"{i / 100},0,0,1" for i in range(400)]])
    with pytest.raises(InputError, match=r"'acc' appears more than once in the header; .*--header-rows 2"):
        read_csv(path)
    path = write(tmp_path, "q.csv", [plain, "s,g,g,g", "# note", "unit,,,", *[f"{i / 100},0,0,1" for i in range(400)]])
    with pytest.raises(InputError, match=r"'s' is not a number; the file seems to have 3 header rows"):
        read_csv(path)


def test_text_further_down_is_not_taken_for_a_header(tmp_path: Path) -> None:
    body = raw_rows()
    path = write(tmp_path, "bad.csv", [NAMES, *body[:5], "x,y,z,a,b,c,d", *body[5:]])
    with pytest.raises(InputError, match=r"line 7, column 't': 'x' is not a number$"):
        read_mapped_csv(path, named(acc_scale=1e-4))


def test_headerless_mapping_problems_are_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", raw_rows())
    with pytest.raises(InputError, match=r"n.csv: no column 9: the first line has 7 fields, numbered 0 to 6"):
        read_mapped_csv(path, dataclass_replace(numbered(acc_scale=1e-4), acc_cols=("1", "2", "9")))
    with pytest.raises(ValueError, match=r"field numbers counted from 0 .*; got t"):
        ColumnMap(time_col="t", acc_cols=("1", "2", "3"), header_rows=0)
    with pytest.raises(ValueError, match="acc_scale must be a finite number other than 0"):
        ColumnMap(acc_scale=0.0)

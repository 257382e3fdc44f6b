"""The pyarrow fast path of the CSV readers: its edge cases, and that it agrees with the careful reader.

Every test checks which path read the file (``Paths.fast_used``) and compares the result with the
careful reader (``numpy.loadtxt`` then line by line: the reader before the fast path existed,
still the fallback) and, for plain files, with the slow obvious twin in ``csv_twin.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from csv_twin import read_plain
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files import csv_io
from hipflex.sensor.format_spec import ColumnMap, InputError, LoadOptions, validate_samples
from hipflex.sensor.formats import load_samples

HEADER = "time_s,acc_x_g,acc_y_g,acc_z_g"
HEADER_GYRO = HEADER + ",gyro_x_dps,gyro_y_dps,gyro_z_dps"


@dataclass
class Paths:
    """Spy on the fast path: ``fast_used[i]`` is True when it read the i-th file."""

    fast_used: list[bool] = field(default_factory=list)


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    spy = Paths()
    real = csv_io.read_columns

    def read_columns(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        spy.fast_used.append(out is not None)
        return out

    monkeypatch.setattr(csv_io, "read_columns", read_columns)
    yield spy


def careful(path: Path, columns: ColumnMap | None = None) -> ImuSamples | str:
    """The careful reader alone (the fast path switched off): samples, or the error message."""
    real = csv_io.read_columns
    csv_io.read_columns = lambda *a, **k: None  # type: ignore[assignment]
    try:
        return load_samples(path, "csv", LoadOptions(columns=columns))
    except InputError as exc:
        return str(exc)
    finally:
        csv_io.read_columns = real


def default(path: Path, columns: ColumnMap | None = None) -> ImuSamples | str:
    try:
        return load_samples(path, "csv", LoadOptions(columns=columns))
    except InputError as exc:
        return str(exc)


def assert_same(a: ImuSamples | str, b: ImuSamples | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    np.testing.assert_array_equal(a.time_s, b.time_s)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    if a.gyr_dps is None or b.gyr_dps is None:
        assert a.gyr_dps is None and b.gyr_dps is None
    else:
        np.testing.assert_array_equal(a.gyr_dps, b.gyr_dps)


def rows(n: int = 300, gyro: bool = True, d: str = ",") -> list[str]:
    out = []
    for i in range(n):
        vals = [50 + i / 100, 0.01 * math.sin(i), -0.02, 0.99 + 0.001 * (i % 7)]
        if gyro:
            vals += [0.1 * (i % 5), -0.3, 0.2]
        out.append(d.join(f"{v:.4f}" for v in vals))
    return out


def write(tmp_path: Path, data: bytes | str, name: str = "rec.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def check(path: Path, paths: Paths, fast: bool = True, columns: ColumnMap | None = None) -> ImuSamples:
    """Read ``path``; assert which path read it and that the careful reader agrees."""
    got = default(path, columns)
    assert paths.fast_used[-1] is fast
    assert_same(got, careful(path, columns))
    assert not isinstance(got, str), got
    if columns is None:
        t, acc, gyr = read_plain(path)
        np.testing.assert_array_equal(got.time_s, t)
        lost = np.isnan(acc).any(axis=1) | (np.isnan(gyr).any(axis=1) if gyr is not None else False)
        np.testing.assert_array_equal(np.isnan(got.acc_g).any(axis=1), lost)
        np.testing.assert_array_equal(got.acc_g[~lost], acc[~lost])
    return got


# ------------------------------------------------------------------ edge cases


def test_a_comment_line_in_the_middle(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    lines = ["# top", HEADER_GYRO, *data[:100], "# in the middle, with, commas, 1, 2, 3", "  # indented",
             *data[100:], "# at the end"]  # fmt: skip
    s = check(write(tmp_path, "\n".join(lines) + "\n"), paths)
    assert len(s) == 300


def test_a_comment_after_data_on_a_line_takes_the_careful_path(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    data[7] += " # tapped the sensor"
    s = check(write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n"), paths, fast=False)
    assert len(s) == 300


def test_crlf_file(tmp_path: Path, paths: Paths) -> None:
    s = check(write(tmp_path, "\r\n".join(["# c", HEADER_GYRO, *rows(), "", "# end"]) + "\r\n"), paths)
    assert len(s) == 300


def test_a_lone_carriage_return_takes_the_careful_path(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    text = "\n".join([HEADER_GYRO, *data]) + "\n"
    path = write(tmp_path, text.replace("\n", "\r", 1))  # the header runs into the first row
    assert default(path) == careful(path)
    assert paths.fast_used == [False]


def test_utf8_bom(tmp_path: Path, paths: Paths) -> None:
    s = check(write(tmp_path, b"\xef\xbb\xbf" + ("\n".join([HEADER_GYRO, *rows()]) + "\n").encode()), paths)
    assert s.time_s[0] == pytest.approx(50.0)


def test_a_file_that_is_not_utf8_takes_the_careful_path(tmp_path: Path, paths: Paths) -> None:
    text = "\n".join(["# Temperatur 21 \xb0C", HEADER_GYRO, *rows()]) + "\n"
    s = check(write(tmp_path, text.encode("latin-1")), paths, fast=False)
    assert len(s) == 300


def test_last_line_without_newline(tmp_path: Path, paths: Paths) -> None:
    s = check(write(tmp_path, "\n".join([HEADER_GYRO, *rows()])), paths)
    assert len(s) == 300 and s.time_s[-1] == pytest.approx(52.99)


def test_last_line_cut_short_without_newline_is_dropped(tmp_path: Path, paths: Paths) -> None:
    s = check(write(tmp_path, "\n".join([HEADER_GYRO, *rows(), "53.0000,0.01,0."])), paths)
    assert len(s) == 300


def test_quoted_fields_and_names(tmp_path: Path, paths: Paths) -> None:
    header = ",".join(f'"{n}"' for n in HEADER_GYRO.split(","))
    data = [",".join(f'"{f}"' if k % 2 else f for k, f in enumerate(r.split(","))) for r in rows()]
    s = check(write(tmp_path, "\n".join([header, *data]) + "\n"), paths)
    assert s.acc_g[0, 2] == pytest.approx(0.99)


@pytest.mark.parametrize("d", [";", "\t"])
def test_semicolon_and_tab_files(tmp_path: Path, paths: Paths, d: str) -> None:
    s = check(write(tmp_path, "\n".join([HEADER_GYRO.replace(",", d), *rows(d=d)]) + "\n"), paths)
    assert len(s) == 300


@pytest.mark.parametrize("careful_by", ["loadtxt", "line by line"])
def test_tab_files_with_empty_fields_read_the_same_on_every_path(
    tmp_path: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, careful_by: str
) -> None:
    """Found by the generated-files property: with tab as the delimiter, the careful reader's
    empty-field filler swallowed a delimiter ("4.8\\t\\t\\t0.0" became three fields) and its
    line-by-line pass stripped a trailing tab as whitespace ("has 3 fields"); both are dropouts."""
    if careful_by == "line by line":
        def refuse(*args: object) -> None:
            raise ValueError("forced: the line-by-line pass")

        monkeypatch.setattr(csv_io, "_loadtxt", refuse)
    data = rows(gyro=False, d="\t")
    data[10] = data[10][: data[10].rindex("\t") + 1]  # empty last field
    f = data[20].split("\t")
    data[20] = "\t".join([f[0], "", "", f[3]])  # two empty fields side by side
    s = check(write(tmp_path, "\n".join([HEADER.replace(",", "\t"), *data]) + "\n"), paths)
    assert len(s) == 300
    assert np.isnan(s.acc_g[[10, 20]]).all() and not np.isnan(s.acc_g[[9, 11, 19, 21]]).any()


def test_empty_and_nan_fields_are_lost_samples(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    data[3] = "50.0300,,,,,,"
    data[4] = "50.0400,nan,0.1,1.0,0,0,0"
    data[5] = '50.0500,0.0,0.1,1.0,"",NaN,'
    s = check(write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n"), paths)
    for i in (3, 4, 5):
        assert np.isnan(s.acc_g[i]).all(), i
    assert np.isfinite(s.acc_g[6]).all()


def test_header_only_file_gives_the_careful_readers_message(tmp_path: Path, paths: Paths) -> None:
    for k, text in enumerate([HEADER + "\n", HEADER, HEADER + "\n# later\n\n"]):
        path = write(tmp_path, text, f"h{k}.csv")
        msg = default(path)
        assert msg == careful(path) and isinstance(msg, str) and "no data rows" in msg
        assert paths.fast_used[-1] is False


def test_a_bad_number_names_line_and_column_as_before(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    data[250] = data[250].replace("-0.3000", "abc")
    path = write(tmp_path, "\n".join(["# c", HEADER_GYRO, *data]) + "\n")
    msg = default(path)
    assert msg == careful(path) and "line 253, column 'gyro_y_dps': 'abc' is not a number" in str(msg)
    assert paths.fast_used == [False]


def test_a_time_error_names_the_line_as_before(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    data = data[:100] + data[200:] + data[100:200]
    path = write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n")
    msg = default(path)
    assert msg == careful(path) and "line 202: time goes backwards" in str(msg)


def test_nan_with_a_payload_is_not_a_number(tmp_path: Path, paths: Paths) -> None:
    # pyarrow reads "nan(1)" as NaN; the careful reader (Python's float) refuses it.
    data = rows()
    data[9] = data[9].replace("-0.0200", "nan(1)")
    path = write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n")
    msg = default(path)
    assert msg == careful(path) and "line 11, column 'acc_y_g': 'nan(1)' is not a number" in str(msg)


def test_the_line_length_limit_holds_on_both_paths(tmp_path: Path, paths: Paths) -> None:
    data = rows()
    data[5] = data[5] + " " * 65_000  # just below the limit (65536 characters): read
    path = write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n")
    got = default(path)
    assert_same(got, careful(path))
    assert not isinstance(got, str) and len(got) == 300
    data[5] = data[5] + " " * 5_000  # above it: refused by the careful reader, with its message
    path = write(tmp_path, "\n".join([HEADER_GYRO, *data]) + "\n", "long.csv")
    msg = default(path)
    assert paths.fast_used[-1] is False
    assert msg == careful(path) and f"line 7 is {len(data[5])} characters long" in str(msg)


@pytest.mark.slow
def test_a_large_file_is_read_in_many_blocks(tmp_path: Path, paths: Paths) -> None:
    n = 120_000  # several pyarrow blocks, and more rows than the first block's estimate
    t = 10.0 + np.arange(n) / 200.0
    acc = np.column_stack([np.sin(t), np.cos(t), 0.5 + 0 * t])
    acc[::1000] = np.nan
    path = tmp_path / "big.csv"
    csv_io.write_csv(path, ImuSamples(t, acc, None), comments=["big"])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("# a comment far down\n" + "".join(f"{t[-1] + (k + 1) / 200:.6f},0.1,0.2,0.9\n" for k in range(5)))
    s = check(path, paths)
    assert len(s) == n + 5


def test_outputs_grow_when_later_rows_are_shorter_than_the_first(tmp_path: Path, paths: Paths) -> None:
    # The arrays are sized from the first 64 KiB's line density: long rows first, short rows later.
    n_long, n_short = 2_000, 60_000
    t = 5.0 + np.arange(n_long + n_short) / 100.0
    lines = [HEADER]
    lines += [f"{t[i]:.15f},{0.1:.15f},{0.2:.15f},{0.97:.15f}" for i in range(n_long)]
    lines += [f"{t[i]:.2f},0.1,0.2,0.97" for i in range(n_long, n_long + n_short)]
    s = check(write(tmp_path, "\n".join(lines) + "\n"), paths)
    assert len(s) == n_long + n_short


def test_mapped_file_with_units_signs_and_a_text_column(tmp_path: Path, paths: Paths) -> None:
    lines = ["# exported by some app", "Index;Date;T_ms;AX;AY;AZ;GX;GY;GZ"]
    for i in range(400):
        lines.append(f"{i};2026-12-06 10:{i // 60:02d}:{i % 60:02d};{1000 + 20 * i};0.1;-0.2;9.7;0.01;0.02;{0.003 * i}")
        if i == 200:  # a comment with as many fields as a row, its '#' in a column that is not read
            lines.append("# paused;x;5000;1;2;3;4;5;6")
    cols = ColumnMap(time_col="t_ms", time_unit="ms", acc_cols=("AX", "-AY", "AZ"), acc_unit="m/s2",
                     gyro_cols=("GX", "GY", "-GZ"), gyro_unit="rad/s")  # fmt: skip
    s = check(write(tmp_path, "\n".join(lines) + "\n"), paths, columns=cols)
    assert s.time_s[1] - s.time_s[0] == pytest.approx(0.02)
    assert s.acc_g[0, 1] == pytest.approx(0.2 / 9.80665)
    assert s.gyr_dps is not None and s.gyr_dps[10, 2] == pytest.approx(-np.degrees(0.03))


def test_validate_samples_writes_lost_rows_in_place_only_when_given_the_arrays() -> None:
    t = np.arange(300) / 100.0
    acc = np.tile([0.0, 0.0, 1.0], (300, 1))
    gyr = np.zeros((300, 3))
    gyr[5, 1] = np.nan
    kept = validate_samples("x", t, acc, gyr)
    assert np.isfinite(acc).all() and not np.shares_memory(kept.acc_g, acc)
    given = validate_samples("x", t, acc, gyr, owned=True)
    assert np.isnan(acc[5]).all() and np.shares_memory(given.acc_g, acc) and np.shares_memory(given.gyr_dps, gyr)
    np.testing.assert_array_equal(given.acc_g, kept.acc_g)


# ------------------------------------------------------------------ generated files


def _field(v: float, style: int) -> str:
    return [f"{v:.6f}", repr(v), f"{v:g}", f"{v:.3e}", f'"{v:.5f}"', f" {v:.4f} ", "", "nan", "NaN"][style]


@st.composite
def plain_files(draw: st.DrawFn) -> bytes:
    gyro = draw(st.booleans())
    d = draw(st.sampled_from([",", ";", "\t"]))
    n = draw(st.integers(1, 80))
    dt = draw(st.sampled_from([0.01, 0.02, 0.05]))
    names = [n_ for n_ in HEADER_GYRO.split(",")][: 7 if gyro else 4]
    order = draw(st.permutations(list(range(len(names)))))
    quote = draw(st.booleans())
    lines = [d.join((f'"{names[k]}"' if quote else names[k]) for k in order)]
    vals = st.floats(-2.0, 2.0, allow_nan=False)
    for i in range(n):
        t = 3.0 + i * dt
        row = [f"{t:.6f}" if draw(st.integers(0, 9)) else repr(t)]
        for _ in names[1:]:
            row.append(_field(draw(vals), draw(st.integers(0, 8)) if draw(st.integers(0, 5)) == 0 else 0))
        lines.append(d.join(row[k] for k in order))
        extra = draw(st.integers(0, 30))
        if extra == 0:
            lines.append("# note" + d + "1" + d + "2")
        elif extra == 1:
            lines.append("")
        elif extra == 2:
            lines.append("   # indented")
        elif extra == 3:
            lines.append(lines[-1].replace("0", "x", 1))  # a bad number (the careful reader names it)
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, 1)), "# head comment")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    tail = draw(st.integers(0, 3))
    if tail:
        text += newline
    elif draw(st.booleans()):
        text += newline + lines[-1][: draw(st.integers(1, 8))]  # cut short by a crash
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=plain_files())
def test_generated_files_read_the_same_by_both_paths(tmp_path: Path, paths: Paths, data: bytes) -> None:
    path = tmp_path / "gen.csv"
    path.write_bytes(data)
    got = default(path)
    event("fast path" if paths.fast_used[-1] else "careful reader")
    assert_same(got, careful(path))
    if not isinstance(got, str):
        t, acc, gyr = read_plain(path)
        np.testing.assert_array_equal(got.time_s, t)
        lost = np.isnan(acc).any(axis=1) | (np.isnan(gyr).any(axis=1) if gyr is not None else False)
        np.testing.assert_array_equal(got.acc_g[~lost], acc[~lost])
        if gyr is not None and got.gyr_dps is not None:
            np.testing.assert_array_equal(got.gyr_dps[~lost], gyr[~lost])


MAPPED = ColumnMap(time_col="TIME_S", acc_cols=("acc_x_g", "-acc_y_g", "acc_z_g"), acc_unit="m/s2",
                   gyro_cols=("-gyro_x_dps", "gyro_y_dps", "gyro_z_dps"), gyro_unit="rad/s")  # fmt: skip


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=plain_files())
def test_generated_files_read_the_same_through_a_column_mapping(tmp_path: Path, paths: Paths, data: bytes) -> None:
    path = tmp_path / "gen.csv"
    path.write_bytes(data)
    cols = MAPPED if b"gyro_x_dps" in data else dataclasses.replace(MAPPED, gyro_cols=None)
    got = default(path, cols)
    event("fast path" if paths.fast_used[-1] else "careful reader")
    assert_same(got, careful(path, cols))


def test_column_values_match_pyarrow_with_nulls_and_offsets() -> None:
    """The fast path reads a column's buffers itself (pyarrow's ``to_numpy`` would import pandas)."""
    import pyarrow as pa

    from hipflex.sensor.files.csv_fast import _values

    rng = np.random.default_rng(3)
    data = rng.standard_normal(37)
    full = pa.array(data, mask=rng.random(37) < 0.3, type=pa.float64())
    for col in (full, full.slice(5), full.slice(11, 17), pa.array(data[:9], type=pa.float64())):
        want = col.to_numpy(zero_copy_only=False)
        got = _values(col)
        assert got.dtype == np.float64
        assert got.tobytes() == want.tobytes()

"""``hipflex analyze`` options for awkward CSV files (issue 18 point 10): no header, raw units, long headers."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.format_spec import InputError, LoadOptions
from hipflex.sensor.formats import load_samples
from hipflex.service.cli import main
from hipflex.service.commands.analyze import add_arguments, build_load_options


def options(*flags: str) -> LoadOptions:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return build_load_options(p.parse_args(["x.csv", *flags]))


def run(*args: str, cwd: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """The same integer counts (acc 1/10000 g, gyro 1/100 deg/s) with and without a header line."""
    rng = np.random.default_rng(3)
    n = 400
    counts = np.column_stack([np.arange(n) / 100, np.round(rng.normal([0, 0, 10000, 0, 0, 0], 200, (n, 6)))])
    body = [f"{r[0]:.2f}," + ",".join(str(int(v)) for v in r[1:]) for r in counts]
    (tmp_path / "named.csv").write_text("\n".join(["t,ax,ay,az,gx,gy,gz", *body]) + "\n")
    (tmp_path / "bare.csv").write_text("\n".join(body) + "\n")
    return tmp_path / "named.csv", tmp_path / "bare.csv", counts


def test_no_header_with_field_numbers_reads_what_the_names_read(raw: tuple[Path, Path, np.ndarray]) -> None:
    named, bare, counts = raw
    scales = ("--acc-scale", "0.0001", "--gyro-scale", "0.01")
    by_name = load_samples(
        named, "auto", options("--time-col", "t", "--acc-cols", "ax,ay,az", "--gyro-cols", "gx,gy,gz", *scales)
    )
    by_number = load_samples(
        bare, "auto", options("--no-header", "--time-col", "0", "--acc-cols", "1,2,3", "--gyro-cols", "4,5,6", *scales)
    )
    np.testing.assert_array_equal(by_number.acc_g, by_name.acc_g)
    assert by_number.gyr_dps is not None
    np.testing.assert_array_equal(by_number.gyr_dps, by_name.gyr_dps)
    np.testing.assert_allclose(by_number.acc_g, counts[:, 1:4] * 1e-4, rtol=1e-15)
    np.testing.assert_allclose(by_number.gyr_dps, counts[:, 4:7] * 0.01, rtol=1e-15)


def test_a_two_line_header_is_named_in_the_error_and_read_with_header_rows(
    raw: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    named, _, _ = raw
    lines = named.read_text().splitlines()
    two = tmp_path / "two.csv"
    two.write_text("\n".join([lines[0], "s,count,count,count,count,count,count", *lines[1:]]) + "\n")
    flags = ("--time-col", "t", "--acc-cols", "ax,ay,az", "--acc-scale", "0.0001")
    code, err = run("analyze", "two.csv", *flags, cwd=tmp_path)
    assert code == 2
    (line,) = err.splitlines()
    assert line.endswith("two.csv: line 2, column 't': 's' is not a number; the file seems to have 2 header rows "
                         "(read it with --header-rows 2)")  # fmt: skip
    got = load_samples(two, "auto", options(*flags, "--header-rows", "2"))
    want = load_samples(named, "auto", options(*flags))
    np.testing.assert_array_equal(got.acc_g, want.acc_g)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--no-header",), "--no-header needs --time-col and --acc-cols as field numbers counted from 0"),
        (("--no-header", "--time-col", "0"), "--no-header needs --time-col and --acc-cols"),
        (("--no-header", "--time-col", "t", "--acc-cols", "1,2,3"), "field numbers counted from 0 (e.g. --time-col "),
        (("--no-header", "--columns", "eurobench", "--time-col", "0", "--acc-cols", "1,2,3"),
         "does not go with --columns"),
        (("--acc-scale", "0"), "acc_scale must be a finite number other than 0"),
        (("--gyro-scale", "nan"), "gyro_scale must be a finite number other than 0"),
        (("--format", "polar", "--acc-scale", "2"), "column mapping options do not apply to --format polar"),
    ],
)  # fmt: skip
def test_bad_combinations_are_one_line_usage_errors(tmp_path: Path, flags: tuple[str, ...], message: str) -> None:
    (tmp_path / "x.csv").write_text("0,0,0,1\n")
    code, err = run("analyze", "x.csv", *flags, cwd=tmp_path)
    assert code == 2
    line = err.strip().splitlines()[-1]  # after the usage lines, as for every usage error
    assert line.startswith("hipflex analyze: error: ") and message in line


def test_no_header_and_header_rows_exclude_each_other(tmp_path: Path) -> None:
    code, err = run("analyze", "x.csv", "--no-header", "--header-rows", "2", cwd=tmp_path)
    assert code == 2 and "--header-rows: not allowed with argument --no-header" in err.strip().splitlines()[-1]


def test_header_rows_problems_reach_the_user_as_input_errors(raw: tuple[Path, Path, np.ndarray]) -> None:
    _, bare, _ = raw
    with pytest.raises(InputError, match=r"bare.csv: no column 7: the first line has 7 fields, numbered 0 to 6"):
        load_samples(bare, "auto", options("--no-header", "--time-col", "0", "--acc-cols", "1,2,7"))


def test_header_rows_alone_reads_a_plain_file_with_a_units_line_gyro_included(tmp_path: Path) -> None:
    t = np.arange(400) / 100
    acc = np.column_stack([0.01 * np.sin(t), -0.02 + 0 * t, 0.99 + 0 * t])
    write_csv(tmp_path / "plain.csv", ImuSamples(t, acc, np.column_stack([t, -t, 0 * t])))
    lines = (tmp_path / "plain.csv").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("time_s"))
    (tmp_path / "units.csv").write_text("\n".join([*lines[: at + 1], "s,g,g,g,dps,dps,dps", *lines[at + 1 :]]) + "\n")
    with pytest.raises(InputError, match=r"line \d+, column 'time_s': 's' is not a number; .*--header-rows 2\)$"):
        load_samples(tmp_path / "units.csv", "auto", options())
    got = load_samples(tmp_path / "units.csv", "auto", options("--header-rows", "2"))
    want = load_samples(tmp_path / "plain.csv", "auto", options())
    assert got.gyr_dps is not None and want.gyr_dps is not None
    np.testing.assert_array_equal(got.acc_g, want.acc_g)
    np.testing.assert_array_equal(got.gyr_dps, want.gyr_dps)

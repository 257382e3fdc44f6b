"""``hipflex`` command line: in process (``main``), and as a real process (``python -m hipflex``) where it matters."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hipflex
from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.csv_io import write_csv
from hipflex.service.cli import main

T0 = 100.0
N_REPS = 5


def thigh_session(
    fs: float = 100.0,
    gyro: bool = True,
    seed: int = 0,
    hold_s: float = 0.4,
    gyro_scale: float = 1.0,
    gyro_scale_from_s: float = 0.0,
    gyro_frame: np.ndarray | None = None,
) -> ImuSamples:
    """3 s of quiet standing, then five 70° hip-flexion reps (0.5 s up, ``hold_s`` hold, 0.5 s down, 0.6 s rest).

    Rigid pendulum, sensor 0.2 m below the hip on the front of the thigh; right-handed
    sensor frame: x up the thigh, z forward, y towards the body's right.  ``gyro_scale``
    multiplies the gyro's readings from ``gyro_scale_from_s`` on (a miscalibrated unit,
    or one that goes wrong mid-session); ``gyro_frame`` turns them (rate given =
    ``gyro_frame @ true rate``: a gyro whose axes disagree with the accelerometer's).
    """
    rng = np.random.default_rng(seed)
    period_s = 1.6 + hold_s
    t = np.arange(0.0, 3.0 + N_REPS * period_s + 3.0, 1.0 / fs)
    theta = np.zeros_like(t)
    for k in range(N_REPS):
        u = t - (3.0 + period_s * k)
        up, down = np.clip(u / 0.5, 0, 1), np.clip((u - 0.5 - hold_s) / 0.5, 0, 1)
        theta += np.radians(70.0) * ((1 - np.cos(np.pi * up)) - (1 - np.cos(np.pi * down))) / 2
    w = np.gradient(theta, t)
    dw = np.gradient(w, t)
    r, g = 0.2, 9.80665
    fx = r * (np.cos(theta) * dw - np.sin(theta) * w**2)  # world: x forward, z up
    fz = r * (np.sin(theta) * dw + np.cos(theta) * w**2) + g
    acc = np.column_stack([-np.sin(theta) * fx + np.cos(theta) * fz, 0 * t,
                           np.cos(theta) * fx + np.sin(theta) * fz]) / g  # fmt: skip
    acc += rng.normal(0, 0.005, acc.shape)
    scale = np.where(t >= gyro_scale_from_s, gyro_scale, 1.0)[:, None]
    gyr = np.column_stack([0 * t, np.degrees(w), 0 * t]) * scale + rng.normal(0, 0.3, acc.shape)
    if gyro_frame is not None:
        gyr = gyr @ gyro_frame.T
    return ImuSamples(t + T0, acc, gyr if gyro else None)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``hipflex ARGS`` run in this process (``main``), in ``cwd``, with its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["hipflex", *args], code, out.getvalue(), err.getvalue())


def cli_process(*args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``python -m hipflex ARGS`` as a real process: for what only a process shows (a terminal, the entry point)."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kw}
    return subprocess.run([sys.executable, "-m", "hipflex", *args], cwd=cwd, text=True, timeout=300, **streams)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with good recordings (plain, acc-only, third-party layout) and the bad ones users try."""
    d = tmp_path_factory.mktemp("cli")
    s = thigh_session()
    write_csv(d / "good.csv", s, comments=["synthetic: 5 reps of 70 degrees"])
    write_csv(d / "acc_only.csv", thigh_session(gyro=False))

    lines = (d / "good.csv").read_text().splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("time_s"))
    body = lines[header_at + 1 :]
    for i in (600, 601, 905):  # three lost samples inside reps 2 and 4
        body[i] = body[i].split(",")[0] + ",,,,,,"
    noisy = [*lines[: header_at + 1], *body[:400], "# marker: set starts", "", *body[400:], "# end"]
    (d / "comments_nan.csv").write_text("\n".join(noisy) + "\n")

    assert s.gyr_dps is not None
    third = ["Index;T_ms;AX;AY;AZ;GX;GY;GZ;Battery"]
    for i in range(len(s)):
        vals = [s.time_s[i] * 1e3, *(s.acc_g[i] * 9.80665), *np.radians(s.gyr_dps[i])]
        third.append(f"{i};" + ";".join(f"{v:.9f}" for v in vals) + ";97")
    (d / "third.csv").write_text("\n".join(third) + "\n")

    good_rows = body[:300]
    header = "time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps"
    bad = {
        "empty.csv": "",
        "header_only.csv": header + "\n",
        "wrong_columns.csv": "t,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n",
        "text_in_numbers.csv": "\n".join([header, *good_rows[:5], "100.05,0.1,zero,1,0,0,0", *good_rows[6:]]),
        "backwards.csv": "\n".join([header, *reversed(good_rows)]),
        "two_samples.csv": "\n".join([header, *good_rows[:2]]),
    }
    for name, text in bad.items():
        (d / name).write_text(text)
    (d / "a_folder").mkdir()
    return d


BAD_INPUTS = {
    "empty.csv": "file is empty",
    "header_only.csv": "no data rows",
    "wrong_columns.csv": "missing column(s) time_s",
    "text_in_numbers.csv": "line 7, column 'acc_y_g': 'zero' is not a number",
    "backwards.csv": "line 3: time goes backwards",
    "two_samples.csv": "too short",
    "a_folder": "is a directory",
    "missing.csv": "no such file",
}


# ------------------------------------------------------------------ basics


def test_version(tmp_path: Path) -> None:
    out = cli_process("--version", cwd=tmp_path)  # the module entry point, as a process
    assert out.returncode == 0
    assert out.stdout.strip() == f"hipflex {hipflex.__version__}"


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    out = cli(cwd=tmp_path)
    assert out.returncode == 2
    assert "usage: hipflex" in out.stderr


def test_analyze_help_documents_the_column_mapping(tmp_path: Path) -> None:
    out = cli("analyze", "--help", cwd=tmp_path)
    assert out.returncode == 0
    for flag in ("--json", "--format", "--columns", "--time-col", "--acc-cols", "--acc-unit", "--gyro-unit"):
        assert flag in out.stdout


def test_help_imports_no_numerics() -> None:
    code = "import sys; from hipflex.service.cli import build_parser; build_parser(); print(sorted(" \
           "m for m in ('numpy', 'numba', 'rich', 'fastapi', 'matplotlib') if m in sys.modules))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["table", "json"])
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_naming_the_file(work: Path, name: str, json_flag: list[str]) -> None:
    out = cli("analyze", *json_flag, name, cwd=work)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert f"{name}: " in lines[0]
    assert BAD_INPUTS[name] in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_good_files_still_analysed_in_order_around_bad_ones(work: Path) -> None:
    out = cli("analyze", "--json", "good.csv", "empty.csv", "acc_only.csv", "missing.csv", "good.csv", cwd=work)
    assert out.returncode == 2
    docs = json_lines(out.stdout)
    assert [d["source"] for d in docs] == ["good.csv", "acc_only.csv", "good.csv"]
    errors = out.stderr.splitlines()
    assert len(errors) == 2
    assert "empty.csv: file is empty" in errors[0] and "missing.csv: no such file" in errors[1]
    assert "Traceback" not in out.stderr


def test_settings_errors_are_usage_errors(work: Path) -> None:
    out = cli("analyze", "--min-rom-deg", "-3", "good.csv", cwd=work)
    assert out.returncode == 2
    assert "min_rom_deg must be a positive number" in out.stderr and "Traceback" not in out.stderr
    out = cli("analyze", "--format", "nope", "good.csv", cwd=work)
    assert out.returncode == 2 and "unknown format 'nope'" in out.stderr
    out = cli("analyze", "--acc-cols", "AX,AY", "good.csv", cwd=work)
    assert out.returncode == 2 and "--acc-cols needs three comma-separated column names" in out.stderr
    out = cli("analyze", "--columns", "nope", "good.csv", cwd=work)
    assert out.returncode == 2 and "unknown column preset 'nope'" in out.stderr


# ------------------------------------------------------------------ results


def test_json_result_follows_the_contract(work: Path) -> None:
    out = cli("analyze", "--json", "good.csv", cwd=work)
    assert out.returncode == 0, out.stderr
    (doc,) = json_lines(out.stdout)
    assert doc["schema"] == "hipflex.analysis/2"
    assert doc["hipflex_version"] == hipflex.__version__
    assert doc["source"] == "good.csv"
    assert doc["settings"]["min_rom_deg"] == 20.0 and doc["settings"]["set_gap_s"] == 8.0
    assert doc["sample_rate_hz"] == pytest.approx(100.0)
    assert doc["sensor"] == {"gyro": True}
    assert doc["quality"]["orientation"] == "gyro+acc"
    assert doc["rep_count"] == N_REPS
    assert len(doc["sets"]) == 1
    reps = doc["sets"][0]["reps"]
    assert [r["index"] for r in reps] == list(range(N_REPS))
    peaks = [r["peak_s"] for r in reps]  # the input's own time base, not shifted to zero
    assert all(T0 + 3.0 + 2.0 * k < p < T0 + 3.0 + 2.0 * k + 1.0 for k, p in enumerate(peaks))


def test_settings_flags_are_used_and_reported(work: Path) -> None:
    out = cli("analyze", "--json", "--min-rom-deg", "5", "--set-gap-s", "1.5", "good.csv", cwd=work)
    assert out.returncode == 0, out.stderr
    (doc,) = json_lines(out.stdout)
    assert doc["settings"]["min_rom_deg"] == 5.0 and doc["settings"]["set_gap_s"] == 1.5
    assert doc["settings"]["candidate_deg"] < 5.0
    out = cli("analyze", "--json", "--min-rom-deg", "80", "good.csv", cwd=work)
    assert json_lines(out.stdout)[0]["rep_count"] == 0  # the reps rise 70°
    # The flat-on-the-skin prior names sets only: the same reps, the settings reported.
    plain = json_lines(cli("analyze", "--json", "good.csv", cwd=work).stdout)[0]
    out = cli("analyze", "--json", "--face-normal-axis", "+z", "--sensor-placement", "lateral", "good.csv", cwd=work)
    assert out.returncode == 0, out.stderr
    (doc,) = json_lines(out.stdout)
    assert doc["settings"]["face_normal_axis"] == "+z" and doc["settings"]["sensor_placement"] == "lateral"
    assert [s["reps"] for s in doc["sets"]] == [s["reps"] for s in plain["sets"]] and doc["rep_count"] == N_REPS
    out = cli("analyze", "--sensor-placement", "front", "good.csv", cwd=work)
    assert out.returncode == 2 and "sensor_placement must be one of" in out.stderr


def test_comments_and_dropouts(work: Path) -> None:
    out = cli("analyze", "--json", "comments_nan.csv", cwd=work)
    assert out.returncode == 0, out.stderr
    (doc,) = json_lines(out.stdout)
    assert doc["rep_count"] == N_REPS
    assert doc["duration_s"] == pytest.approx(15.99, abs=0.02)
    assert doc["quality"]["lost_s"] > 0


def test_column_mapping_matches_the_plain_file(work: Path) -> None:
    plain = json_lines(cli("analyze", "--json", "good.csv", cwd=work).stdout)[0]
    out = cli("analyze", "--json", "third.csv", "--time-col", "T_ms", "--time-unit", "ms",
              "--acc-cols", "AX,AY,AZ", "--acc-unit", "m/s2", "--gyro-cols", "GX,GY,GZ",
              "--gyro-unit", "rad/s", cwd=work)  # fmt: skip
    assert out.returncode == 0, out.stderr
    (mapped,) = json_lines(out.stdout)
    assert mapped["source"] == "third.csv"
    assert mapped["sensor"] == {"gyro": True}
    assert mapped["rep_count"] == plain["rep_count"] == N_REPS
    for a, b in zip(mapped["sets"][0]["reps"], plain["sets"][0]["reps"], strict=True):
        assert a["peak_s"] == pytest.approx(b["peak_s"], abs=1e-3)
        assert a["peak_flexion_deg"] == pytest.approx(b["peak_flexion_deg"], abs=0.2)


def test_column_mapping_problems_name_the_file(work: Path) -> None:
    out = cli("analyze", "third.csv", "--time-col", "T_ms", "--acc-cols", "AX,AY,AQ", cwd=work)
    assert out.returncode == 2
    (line,) = out.stderr.splitlines()
    assert "third.csv: unknown column(s) AQ (--acc-cols); found: Index,T_ms,AX,AY,AZ,GX,GY,GZ,Battery" in line
    out = cli("analyze", "third.csv", "--time-col", "T_ms", "--acc-cols", "AX,AY,AZ", cwd=work)
    assert out.returncode == 2
    assert "looks like m/s^2, not g (use --acc-unit m/s2" in out.stderr


def test_readable_table(work: Path) -> None:
    out = cli("analyze", "good.csv", "acc_only.csv", cwd=work)
    assert out.returncode == 0, out.stderr
    assert "good.csv: 100 Hz, 16.0 s, gyro+acc; 5 reps in 1 set" in out.stdout
    assert "acc_only.csv: 100 Hz, 16.0 s, acc-only;" in out.stdout
    headers, _ = _parse_table(out.stdout.splitlines(), "sets")
    assert "cadence rpm" in headers and "mean peak °/s" in headers
    assert out.stdout.count("quality: ") == 2


def _fmt(x: float | None, nd: int) -> str:
    """A JSON value as the tables print it (``-`` for a missing one)."""
    return "-" if x is None else f"{x:.{nd}f}"


def _assert_cells(got: list[list[str]], want: list[list[str]]) -> None:
    """The table's cells are the JSON's values as printed; a number may differ by one unit in its last digit.

    The table rounds the analysis' own value, the expectation the JSON's already rounded one (to 0.1 for
    velocities): 220.54 °/s is 220.5 in the JSON, which prints as 220, where the table prints 221.
    """
    assert len(got) == len(want)
    for g_row, w_row in zip(got, want, strict=True):
        assert len(g_row) == len(w_row)
        for g, w in zip(g_row, w_row, strict=True):
            if g == w:
                continue
            decimals = len(w.split(".")[1]) if "." in w else 0
            assert abs(float(g) - float(w)) <= 10.0**-decimals + 1e-9, (g_row, w_row)


def _mean_of(reps: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in reps if r[key] is not None]
    return sum(values) / len(values) if values else None


#: Every table column by its header (the two header lines joined), and its cell computed from the JSON.
SET_CELLS: dict[str, Any] = {
    "set": lambda s: str(s["index"] + 1),
    "reps": lambda s: str(s["rep_count"]),
    "start s": lambda s: _fmt(s["start_s"], 2),
    "end s": lambda s: _fmt(s["end_s"], 2),
    "cadence rpm": lambda s: _fmt(s["cadence_rpm"], 1),
    "vel. loss %": lambda s: _fmt(s["velocity_loss_pct"], 1),
    "mean peak °": lambda s: _fmt(_mean_of(s["reps"], "peak_flexion_deg"), 1),
    "mean ROM °": lambda s: _fmt(_mean_of(s["reps"], "rom_deg"), 1),
    "mean peak °/s": lambda s: _fmt(_mean_of(s["reps"], "peak_flexion_velocity_dps"), 0),
    "mean hold s": lambda s: _fmt(_mean_of(s["reps"], "hold_s"), 2),
}
REP_CELLS: dict[str, Any] = {
    "set": lambda s, r: str(s["index"] + 1),
    "rep": lambda s, r: str(r["index"] + 1),
    "start s": lambda s, r: _fmt(r["start_s"], 2),
    "peak s": lambda s, r: _fmt(r["peak_s"], 2),
    "end s": lambda s, r: _fmt(r["end_s"], 2),
    "peak °": lambda s, r: _fmt(r["peak_flexion_deg"], 1),
    "ROM °": lambda s, r: _fmt(r["rom_deg"], 1),
    "rise s": lambda s, r: _fmt(r["flexion_time_s"], 3),
    "peak °/s": lambda s, r: _fmt(r["peak_flexion_velocity_dps"], 0),
    "mean °/s": lambda s, r: _fmt(r["mean_flexion_velocity_dps"], 0),
    "hold s": lambda s, r: _fmt(r["hold_s"], 2),
    "conf.": lambda s, r: _fmt(r["confidence"], 2),
}


def _parse_table(lines: list[str], title: str) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the table titled ``title`` in printed text, by the right edges of its cells."""

    def cells(line: str) -> dict[int, str]:  # right-justified cells, at least two spaces apart
        return {m.end(): m.group() for m in re.finditer(r"\S+(?: \S+)*", line)}

    top = next(i for i, line in enumerate(lines) if line.strip() == title)
    rule = next(i for i in range(top, len(lines)) if lines[i].strip().startswith("─"))
    body = [line for line in itertools.takewhile(str.strip, lines[rule + 1 :])]
    edges = sorted(cells(body[0]))
    assert all(sorted(cells(line)) == edges for line in body), body
    heads = [cells(line) for line in lines[top + 1 : rule]]
    assert all(set(h) <= set(edges) for h in heads), lines[top:rule]
    headers = [" ".join(h[e] for h in heads if e in h) for e in edges]
    return headers, [[cells(line)[e] for e in edges] for line in body]


def _dropped(text: str, title: str) -> list[str]:
    found = re.search(rf"{title}: left out to fit \d+ columns: (.*?) \(all are in --json\)", " ".join(text.split()))
    return [] if found is None else found.group(1).split(", ")


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_tables_fit_the_width_and_print_every_number_whole(
    columns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long path with spaces, as on a laptop: the summary must not break inside it (only after a separator
    # when the path alone is wider than the console).
    path = "athlete one/2026-12-06 morning/hip flexion left side, session 3.csv"
    (tmp_path / "athlete one" / "2026-12-06 morning").mkdir(parents=True)
    write_csv(tmp_path / path, thigh_session(hold_s=0.35))
    monkeypatch.setenv("COLUMNS", str(columns))
    out = cli("analyze", path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (doc,) = json_lines(cli("analyze", "--json", path, cwd=tmp_path).stdout)
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    joined, k = "", 0
    while len(joined) < len(path):
        joined, k = joined + lines[k].rstrip(), k + 1
    assert joined.startswith(path), lines[:3]
    assert all(line.rstrip().endswith("/") for line in lines[: k - 1]), lines[:k]
    assert k == 1 or len(path) > columns
    assert "…" not in out.stdout
    assert f"{doc['rep_count']} reps in {len(doc['sets'])} set" in " ".join(out.stdout.split())

    headers, rows = _parse_table(lines, "sets")
    assert sorted([*headers, *_dropped(out.stdout, "sets")]) == sorted(SET_CELLS)
    assert {"set", "reps", "mean ROM °", "mean peak °/s"} <= set(headers)  # means say they are means
    _assert_cells(rows, [[SET_CELLS[h](s) for h in headers] for s in doc["sets"]])

    headers, rows = _parse_table(lines, "reps")
    assert sorted([*headers, *_dropped(out.stdout, "reps")]) == sorted(REP_CELLS)
    assert {"set", "rep", "peak °", "ROM °", "peak °/s"} <= set(headers)
    _assert_cells(rows, [[REP_CELLS[h](s, r) for h in headers] for s in doc["sets"] for r in s["reps"]])
    if columns >= 120:
        assert len(headers) == len(REP_CELLS)  # nothing left out when there is room


@pytest.mark.parametrize(
    ("path", "width"),
    [("a/b/c.csv", 4), ("abcdefghij/k.csv", 4), ("/data/long name/x.csv", 60), ("C:\\data\\run 1.csv", 8),
     ("x/" + "y" * 25, 10), ("recordings/athlete one/session.csv", 24)],
)  # fmt: skip
def test_a_long_path_breaks_only_after_a_separator(path: str, width: int) -> None:
    from hipflex.service.report import _path_lines

    lines = _path_lines(path, width)
    assert "".join(lines) == path and all(0 < len(line) <= width for line in lines)
    for line, after in itertools.pairwise(lines):
        # a break anywhere but after a separator only inside a name longer than a whole line
        assert line[-1] in "/\\" or (len(line) == width and not any(c in "/\\" for c in line + after[:1]))


def test_reps_before_the_first_still_stretch_are_counted(work: Path, tmp_path: Path) -> None:
    # The same reps without the quiet stand before them: the first 1 s of stillness is the
    # final rest, and the rows before it are analysed too; the JSON says how much that was.
    s = thigh_session()
    keep = s.time_s >= T0 + 3.0
    assert s.gyr_dps is not None
    write_csv(tmp_path / "no_stand.csv", ImuSamples(s.time_s[keep], s.acc_g[keep], s.gyr_dps[keep]))
    out = cli("analyze", str(tmp_path / "no_stand.csv"), cwd=work)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())  # the console wraps long lines
    assert f"{N_REPS} reps" in text and "skipped before calibration" not in text and "hint:" not in text
    (result,) = json_lines(cli("analyze", "--json", str(tmp_path / "no_stand.csv"), cwd=work).stdout)
    assert result["rep_count"] == N_REPS
    assert result["quality"]["analysed_before_calibration_s"] > 9.0
    assert result["quality"]["skipped_before_calibration_s"] == 0.0
    assert result["quality"]["calibration"] == "quiet window"


def test_hint_says_when_no_stretch_was_still() -> None:
    from dataclasses import replace

    from hipflex.dsp import analyze
    from hipflex.service.report import calibration_hint

    good = analyze(thigh_session())
    assert calibration_hint(good) is None
    moving = replace(good, quality=replace(good.quality, calibration="quietest window", calibration_motion=3.2))
    hint = calibration_hint(moving)
    assert hint is not None and "never still" in hint and "3.2x" in hint and "less certain" in hint


def test_table_warns_when_the_gyro_and_the_accelerometer_disagree_at_rest(work: Path, tmp_path: Path) -> None:
    # Holds of 1.5 s, the gyro reading 1.6x from 11.5 s on (after the learning
    # phase, which judged it sound): the counts stand, the angles do not, and
    # the table says so.
    write_csv(tmp_path / "scaled.csv", thigh_session(hold_s=1.5, gyro_scale=1.6, gyro_scale_from_s=11.5))
    write_csv(tmp_path / "sound.csv", thigh_session(hold_s=1.5))
    out = cli("analyze", str(tmp_path / "scaled.csv"), str(tmp_path / "sound.csv"), cwd=work)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert text.count("5 reps in 1 set") == 2
    assert text.count("warning: at rest the angle was up to") == 1
    assert text.index("warning:") < text.index("sound.csv")  # under the scaled file's table
    scaled, sound = json_lines(cli("analyze", "--json", "scaled.csv", "sound.csv", cwd=tmp_path).stdout)
    assert scaled["quality"]["rest_mismatch_deg"] > 15 > 3 > sound["quality"]["rest_mismatch_deg"]


def test_table_says_what_was_corrected_in_the_gyro_frame_and_warns_when_nothing_fits(
    work: Path, tmp_path: Path
) -> None:
    # A gyro scaled 1.6x throughout, one with its flexion axis (y) mirrored:
    # both corrected, counted and measured as the sound one, and said in the
    # quality line.  One turned 35 deg about its x axis fits no correction: a warning.
    turned = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(0.61), -np.sin(0.61)], [0.0, np.sin(0.61), np.cos(0.61)]])
    write_csv(tmp_path / "scaled.csv", thigh_session(hold_s=1.5, gyro_scale=1.6))
    write_csv(tmp_path / "mirrored.csv", thigh_session(gyro_frame=np.diag([1.0, -1.0, 1.0])))
    write_csv(tmp_path / "turned.csv", thigh_session(gyro_frame=turned))
    out = cli("analyze", "scaled.csv", "mirrored.csv", "turned.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "gyro corrected: scaled x0.6" in text
    assert "gyro corrected: y axis mirrored" in text
    assert text.count("warning: the gyro does not turn gravity the way the accelerometer sees it turn") == 1
    assert text.index("warning: the gyro") > text.index("turned.csv")
    scaled, mirrored, turned_out = json_lines(cli("analyze", "--json", "scaled.csv", "mirrored.csv", "turned.csv",
                                                  cwd=tmp_path).stdout)  # fmt: skip
    for doc in (scaled, mirrored):
        assert doc["rep_count"] == 5
        assert doc["quality"]["gyro_frame"]["verdict"] == "corrected"
        assert doc["quality"]["rest_mismatch_deg"] < 5
        for rep in doc["sets"][0]["reps"]:
            assert rep["peak_flexion_deg"] == pytest.approx(70.0, abs=2.0)
    assert mirrored["quality"]["gyro_correction"] == "y axis mirrored"
    assert turned_out["quality"]["gyro_correction"] is None
    assert turned_out["quality"]["gyro_frame"]["verdict"] == "mismatch"


def test_progress_is_silent_when_stderr_is_not_a_terminal(work: Path) -> None:
    out = cli("analyze", "--json", "--progress", "good.csv", "acc_only.csv", cwd=work)
    assert out.returncode == 0
    assert out.stderr == ""
    assert [d["source"] for d in json_lines(out.stdout)] == ["good.csv", "acc_only.csv"]


@pytest.mark.slow
def test_progress_on_a_terminal_keeps_results_on_stdout(work: Path) -> None:
    leader, follower = pty.openpty()
    try:
        out = cli_process("analyze", "--json", "--progress", "good.csv", "empty.csv", "acc_only.csv", cwd=work,
                  stderr=follower, env={**os.environ, "TERM": "xterm"})  # fmt: skip
    finally:
        os.close(follower)
    chunks = []
    try:
        while data := os.read(leader, 65536):
            chunks.append(data)
    except OSError:  # EIO once the pty is drained
        pass
    os.close(leader)
    terminal = b"".join(chunks).decode(errors="replace")
    assert out.returncode == 2
    assert [d["source"] for d in json_lines(out.stdout)] == ["good.csv", "acc_only.csv"]
    assert "empty.csv: file is empty" in terminal


@pytest.mark.slow
def test_no_web_or_ble_stack_on_the_analyze_path(work: Path) -> None:
    code = ("import sys; from hipflex.service.cli import main; rc = main(['analyze', '--json', 'good.csv']); "
            "print(rc, sorted(m for m in ('fastapi', 'uvicorn', 'bleak') if m in sys.modules), "
            "file=sys.stderr)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True, timeout=300)
    assert out.stderr.strip().splitlines()[-1] == "0 []"


# ------------------------------------------------------------------ unexpected errors (in process)


def test_unexpected_error_is_one_line_with_a_debug_hint(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hipflex.sensor.formats as formats

    def broken(*args: object, **kw: object) -> ImuSamples:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(formats, "load_samples", broken)
    monkeypatch.setattr(formats, "open_blocks", broken)  # (a CSV is read in blocks first)
    monkeypatch.chdir(work)
    assert main(["analyze", "good.csv"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "hipflex: good.csv: unexpected error: RuntimeError: boom second line (run with --debug to see the traceback)"
    ]
    assert main(["--debug", "analyze", "good.csv"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["analyze", "--debug", "good.csv"]) == 1
    assert "Traceback" in capsys.readouterr().err


# ------------------------------------------------------------------ third-party data


@pytest.mark.shared_data
def test_eurobench_preset_and_explicit_flags_agree(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "eurobench_bench_sit_to_stand" / "input" / "subject_01_5sts_chair_raw_01.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    explicit = cli("analyze", str(path), "--json", "--format", "csv", "--time-col", "time",
                   "--acc-cols", "Ax3,Ay3,Az3", "--acc-unit", "m/s2", "--gyro-cols", "Gx3,Gy3,-Gz3",
                   "--gyro-unit", "dps", cwd=tmp_path)  # fmt: skip
    preset = cli("analyze", str(path), "--json", "--columns", "eurobench:3", cwd=tmp_path)
    assert explicit.returncode == 0, explicit.stderr
    assert preset.stdout == explicit.stdout
    (doc,) = json_lines(preset.stdout)
    assert doc["sample_rate_hz"] == pytest.approx(128, rel=0.02)
    assert doc["sensor"] == {"gyro": True}


@pytest.mark.parametrize(("command", "default"), [("demo", "a temporary folder"), ("serve", "the user data folder")])
def test_db_help_says_where_the_database_goes_without_it(command: str, default: str) -> None:
    """The demo's help said "the user data folder" while it used a temporary one (issue 18, point 11)."""
    from hipflex.service.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.choices)  # type: ignore[union-attr]
    text = " ".join(sub.choices[command].format_help().split())
    assert f"SQLite database (default: {default}" in text

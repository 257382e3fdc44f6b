"""``hipflex report`` and ``hipflex analyze --plot`` (issue 18.7): the files they write and what is in them,
checked against the analysis of the same recordings; bad input gives one line and a non-zero exit."""

from __future__ import annotations

import base64
import math
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_cli import cli, thigh_session

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import Analysis
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.formats import load_samples
from hipflex.service.rawlog import SampleLog
from hipflex.service.report import quality_line
from hipflex.service.store import Store

pytestmark = pytest.mark.slow


class _Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **want: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in want.items())]


def _parse(path: Path) -> tuple[str, _Elements]:
    text = path.read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(text)
    return text, parser


def _means(a: Analysis) -> dict[str, float]:
    reps = [r for s in a.sets for r in s.reps]
    return {
        "rep_count": float(a.rep_count),
        "mean_peak_flexion_deg": sum(r.peak_flexion_deg for r in reps) / len(reps),
        "mean_rom_deg": sum(r.rom_deg for r in reps) / len(reps),
        "mean_peak_velocity_dps": sum(r.peak_flexion_velocity_dps for r in reps) / len(reps),
        "mean_flexion_time_s": sum(r.flexion_time_s for r in reps) / len(reps),
        "mean_hold_s": sum(r.hold_s for r in reps) / len(reps),
    }


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two thighs of one athlete: the right one holds each rep twice as long (0.8 s against 0.4 s)."""
    d = tmp_path_factory.mktemp("sides")
    write_csv(d / "ana_left.csv", thigh_session(seed=1, hold_s=0.4))
    write_csv(d / "ana_right.csv", thigh_session(seed=2, hold_s=0.8))
    write_csv(d / "other.csv", thigh_session(seed=3, gyro=False))
    return d


def _check_self_contained(text: str, html: _Elements) -> None:
    """No script, no stylesheet link, no remote reference; every picture an inline SVG."""
    assert not html.find("script") and not html.find("link"), "a report needs nothing but itself"
    assert "http://" not in text.replace("http://www.w3.org/", "") and "https://" not in text
    imgs = html.find("img")
    assert imgs
    for img in imgs:
        prefix = "data:image/svg+xml;base64,"
        assert img["src"].startswith(prefix), img["src"][:60]
        svg = base64.b64decode(img["src"][len(prefix) :])
        assert b"<svg" in svg[:400] and b"<path" in svg and len(svg) > 5000


def test_report_compares_sides_named_in_the_file_names(sides: Path) -> None:
    out = sides / "report.html"
    res = cli("report", "ana_left.csv", "ana_right.csv", "-o", str(out), cwd=sides)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and "wrote" in res.stderr
    text, html = _parse(out)
    _check_self_contained(text, html)
    left, right = (analyze(load_samples(sides / f"ana_{s}.csv"), Settings()) for s in ("left", "right"))
    sections = html.find("section", data_testid="input")
    assert [s["data-side"] for s in sections] == ["left", "right"]
    for sec, a in zip(sections, (left, right), strict=True):
        assert int(sec["data-set-count"]) == len(a.sets) == 1
        assert int(sec["data-rep-count"]) == a.rep_count == 5
    set_rows = html.find("tr", data_set_number="1")
    assert [int(r["data-rep-count"]) for r in set_rows] == [5, 5]
    # The asymmetry index of every metric, from the two analyses: |L - R| / mean in %.
    lm, rm = _means(left), _means(right)
    rows = {r["data-metric"]: r for r in html.find("tr") if "data-metric" in r}
    assert set(rows) == set(lm)
    for key, row in rows.items():
        want = abs(lm[key] - rm[key]) / ((lm[key] + rm[key]) / 2) * 100
        assert math.isclose(float(row["data-asymmetry-pct"]), want, rel_tol=1e-9, abs_tol=1e-9), key
    hold = float(rows["mean_hold_s"]["data-asymmetry-pct"])
    assert 30.0 < hold < 60.0  # 0.4 s against 0.8 s of hold: the one clear difference
    assert float(rows["rep_count"]["data-asymmetry-pct"]) == 0.0
    assert "Left: ana_left.csv" in text and "Right: ana_right.csv" in text
    assert "Quality notes" in text and "calibrated at" in text


def test_report_sides_from_flags_and_from_a_stored_session(sides: Path, tmp_path: Path) -> None:
    """``--left``/``--right`` override the names; a stored session is found by id and keeps its side."""
    db = tmp_path / "hipflex.db"
    store = Store(db)
    rec = store.create_session(source="simulator", params={}, settings=Settings().to_dict(), version="0",
                               raw_log_dir=tmp_path, label="monday", side="left")  # fmt: skip
    samples = thigh_session(seed=4, hold_s=0.6)
    with SampleLog(Path(rec.raw_log), True) as log:
        log.append(samples)
    stored = analyze(samples, Settings())
    store.finish_session(rec.id, "stopped", stored, len(samples))
    store.close()

    out = tmp_path / "flags.html"
    res = cli("report", "--left", "ana_right.csv", "--right", "ana_left.csv", "-o", str(out), cwd=sides)
    assert res.returncode == 0, res.stderr
    _, html = _parse(out)
    assert [s["data-side"] for s in html.find("section", data_testid="input")] == ["left", "right"]
    assert "Left: ana_right.csv" in out.read_text()

    out = tmp_path / "stored.html"
    res = cli("report", rec.id, "ana_right.csv", "other.csv", "--db", str(db), "-o", str(out), cwd=sides)
    assert res.returncode == 0, res.stderr
    text, html = _parse(out)
    _check_self_contained(text, html)
    sections = html.find("section", data_testid="input")
    assert [s.get("data-side") for s in sections] == ["left", "right", None]  # the pair first, then the rest
    assert int(sections[0]["data-rep-count"]) == stored.rep_count == 5
    assert "Left: monday (" in text and f"stored session {rec.id}" in text
    assert html.find("section", data_testid="asymmetry")


def test_report_of_one_file_has_no_comparison(sides: Path) -> None:
    out = sides / "one.html"
    res = cli("report", "other.csv", "-o", str(out), cwd=sides)
    assert res.returncode == 0, res.stderr
    text, html = _parse(out)
    _check_self_contained(text, html)
    assert not html.find("section", data_testid="asymmetry")
    assert len(html.find("section", data_testid="input")) == 1
    assert "acc-only" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.csv"], "missing.csv: no such file or stored session"),
        (["."], ".: is a folder"),
        (["notes.txt"], "notes.txt"),
        ([], "give at least one recording"),
        (["other.csv", "-o", "no/such/folder/r.html"], "does not exist"),
    ],
)
def test_report_bad_input_is_one_line_and_writes_nothing(
    sides: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    (sides / "notes.txt").write_text("not a recording\n")
    Store(tmp_path / "empty.db").close()
    out = tmp_path / "bad.html"
    res = cli("report", *args, *(["-o", str(out)] if "-o" not in args else []), "--db", str(tmp_path / "empty.db"),
              cwd=sides)  # fmt: skip
    assert res.returncode == 2, res
    errors = [line for line in res.stderr.splitlines() if line.startswith("hipflex report")]
    assert len(errors) == 1 and needle in errors[0], res.stderr
    assert not out.exists()


def test_report_refuses_a_running_session(sides: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    rec = store.create_session(source="simulator", params={}, settings={}, version="0", raw_log_dir=tmp_path)
    store.close()
    res = cli("report", rec.id, "--db", str(tmp_path / "db"), "-o", str(tmp_path / "r.html"), cwd=sides)
    assert res.returncode == 2 and f"{rec.id}: the session is still running" in res.stderr


def test_missing_matplotlib_is_one_clear_line(sides: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    for args in (["report", "other.csv", "-o", "x.html"], ["analyze", "other.csv", "--plot", "x.png"]):
        res = cli(*args, cwd=sides)
        assert res.returncode == 2
        assert "matplotlib, which is not installed: pip install 'hipflex[report]'" in res.stderr.splitlines()[-1]
        assert not (sides / args[-1]).exists()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_analyze_plot_writes_png_and_svg(sides: Path) -> None:
    for name in ("trace.png", "trace.svg"):
        res = cli("analyze", "ana_left.csv", "--plot", name, cwd=sides)
        assert res.returncode == 0, res.stderr
        assert "ana_left.csv: 100 Hz" in res.stdout  # the tables are printed as without --plot
    png = (sides / "trace.png").read_bytes()
    assert _png_size(png) == (1200, 450)  # 8 x 3 in at 150 dpi
    assert len(png) > 20_000
    svg = (sides / "trace.svg").read_bytes()
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and b'viewBox="0 0 576 216"' in svg


def test_trace_figure_marks_every_rep_and_set(sides: Path) -> None:
    from hipflex.dsp.pipeline import analyze_with_angle
    from hipflex.service.coach_report.charts import trace_figure

    samples = load_samples(sides / "ana_left.csv")
    a, angle = analyze_with_angle(samples)
    ax = trace_figure(samples.time_s, angle, a).axes[0]
    peaks = next(line for line in ax.get_lines() if line.get_label() == "rep peak")
    want = [(r.peak_s, r.peak_flexion_deg) for s in a.sets for r in s.reps]
    assert list(zip(peaks.get_xdata(), peaks.get_ydata(), strict=True)) == want
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("set 1") == 1 and [t for t in texts if t.isdigit()] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ana_left.csv", "ana_right.csv", "--plot", "x.png"], "--plot draws one recording, got 2"),
        (["ana_left.csv", "--plot", "x.jpg"], "written as .png or .svg"),
    ],
)
def test_analyze_plot_bad_usage(sides: Path, args: list[str], needle: str) -> None:
    res = cli("analyze", *args, cwd=sides)
    assert res.returncode == 2 and needle in res.stderr.splitlines()[-1]
    assert res.stdout == "" and not (sides / args[-1]).exists()


def test_report_never_changes_a_foreign_database(sides: Path, tmp_path: Path) -> None:
    """An id looked up in a SQLite file that is not hipflex's: one line, and the file is left as it was."""
    import sqlite3

    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    res = cli("report", "abc123", "--db", str(db), "-o", str(tmp_path / "r.html"), cwd=sides)
    assert res.returncode == 2 and f"abc123: no such file, and {db} is not a hipflex database" in res.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_the_quality_line_says_what_needs_a_gyro(gyro: bool) -> None:
    # An accelerometer alone cannot see hip rotation (issue 19): the printed quality says so.
    line = quality_line(analyze(thigh_session(gyro=gyro), Settings()))
    assert ("needs a gyro, not counted: hip_rotation" in line) is not gyro

"""Many recordings as tables (issue 20): numbering, files, ``--skip-done``, and a real Dask cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from test_cli import cli, thigh_session

from hipflex.dsp import analyze
from hipflex.dsp.types import REP_COLUMNS, SET_COLUMNS, Analysis, ImuSamples
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.formats import load_samples
from hipflex.service.commands.season_run import analyze_recordings
from hipflex.service.season_tables import read_tables, result_tables, table_paths

N_SEASON = 200
CORRUPT = "r0137.csv"


def recording(i: int) -> ImuSamples:
    """A short recording of its own: seed, hold, gyro or not and rate all vary with ``i``."""
    return thigh_session(fs=100.0 if i % 3 else 50.0, gyro=i % 4 != 1, seed=i, hold_s=0.1 + 0.05 * (i % 9))


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 recordings, one of them corrupt (a header and garbage where the numbers should be)."""
    d = tmp_path_factory.mktemp("season")
    for i in range(N_SEASON):
        write_csv(d / f"r{i:04d}.csv", recording(i))
    (d / CORRUPT).write_text("time_s,acc_x_g,acc_y_g,acc_z_g\n0.0,x,y,z\n0.01,1,2\n")
    return d


# ------------------------------------------------------------------ numbering and columns


def test_tables_number_sets_and_reps_from_one_and_agree_with_the_json() -> None:
    a = analyze(write_and_load_two_sets(), source="two_sets")
    doc = a.to_dict()
    reps, sets = a.rep_columns(), a.set_columns()
    assert [name for name, _ in REP_COLUMNS] == list(reps) and [name for name, _ in SET_COLUMNS] == list(sets)
    assert len(doc["sets"]) == 2
    want_set, want_rep = [], []
    for s in doc["sets"]:
        for r in s["reps"]:
            want_set.append(s["index"] + 1)
            want_rep.append(r["index"] + 1)
    assert reps["set_number"] == want_set and reps["rep_number"] == want_rep
    assert reps["rep_number"][:2] == [1, 2] and min(reps["set_number"]) == 1
    assert reps["rep_number_in_recording"] == list(range(1, a.rep_count + 1))
    assert sets["set_number"] == [1, 2]
    # The drill column is the JSON's drill name, per set and on each of the set's reps.
    assert sets["drill"] == [s["drill"]["name"] for s in doc["sets"]] and None not in sets["drill"]
    assert reps["drill"] == [s["drill"]["name"] for s in doc["sets"] for _ in s["reps"]]
    # Means and bests are what their names say, over the set's reps.
    first = [r for r in a.sets[0].reps]
    assert sets["mean_peak_flexion_velocity_dps"][0] == pytest.approx(
        np.mean([r.peak_flexion_velocity_dps for r in first])
    )
    assert sets["best_peak_flexion_velocity_dps"][0] == max(r.peak_flexion_velocity_dps for r in first)
    assert sets["longest_hold_s"][0] == max(r.hold_s for r in first)
    assert sets["mean_hold_s"][0] < sets["longest_hold_s"][0]


def write_and_load_two_sets() -> ImuSamples:
    """Two sessions of five reps, 15 s apart: two sets."""
    one, two = thigh_session(seed=1, hold_s=0.2), thigh_session(seed=2, hold_s=0.6)
    t2 = two.time_s + one.time_s[-1] + 12.0
    return ImuSamples(np.concatenate([one.time_s, t2]), np.vstack([one.acc_g, two.acc_g]),
                      np.vstack([one.gyr_dps, two.gyr_dps]))  # fmt: skip


def test_frames_are_the_tables_of_one_analysis() -> None:
    a = analyze(write_and_load_two_sets(), source="two_sets")
    tables = result_tables([a])
    reps, sets, recordings = tables.to_pandas()
    assert a.reps_frame().equals(reps.astype(a.reps_frame().dtypes.to_dict()))
    assert len(a.sets_frame()) == len(sets) == 2
    assert recordings["status"].tolist() == ["ok"] and recordings["rep_count"].tolist() == [10]


# ------------------------------------------------------------------ files, errors, --skip-done


def test_out_names_three_files_and_refuses_other_suffixes(tmp_path: Path) -> None:
    paths = table_paths(tmp_path / "res.parquet")
    assert [p.name for p in paths.values()] == ["res.reps.parquet", "res.sets.parquet", "res.recordings.parquet"]
    out = cli("analyze", "x.csv", "--out", "res.json", cwd=tmp_path)
    assert out.returncode == 2 and ".parquet or .csv" in out.stderr
    out = cli("analyze", "x.csv", "--dask", "local:1", cwd=tmp_path)
    assert out.returncode == 2 and "--out" in out.stderr


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_analysis(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", recording(0))
    out = cli("analyze", "a.csv", "--out", "missing/res.parquet", cwd=tmp_path)
    error = out.stderr.splitlines()[-1]
    assert out.returncode == 2 and "missing/res.parquet" in error and "does not exist" in error
    assert "unexpected" not in out.stderr
    assert "prepar" not in out.stderr  # refused before the analysis was even set up


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_corrupt_file_is_one_error_row_and_files_read_back_equal(tmp_path: Path, suffix: str) -> None:
    for i in range(3):
        write_csv(tmp_path / f"r{i}.csv", recording(i))
    (tmp_path / "r1.csv").write_text("time_s,acc_x_g,acc_y_g,acc_z_g\n0.0,x,y,z\n")
    out = cli("analyze", ".", "--out", f"res{suffix}", cwd=tmp_path)
    assert out.returncode == 2
    assert "r1.csv: line 2" in out.stderr and "2 analysed, 0 already done, 1 failed" in out.stderr
    tables = read_tables(tmp_path / f"res{suffix}")
    assert tables is not None
    rec = tables.recordings.to_pylist()
    assert [r["status"] for r in rec] == ["ok", "error", "ok"]
    assert "r1.csv" in rec[1]["error"] and rec[1]["rep_count"] is None and len(rec[1]["content_sha256"]) == 64
    assert set(tables.reps["source"].to_pylist()) == {"./r0.csv", "./r2.csv"}
    direct = result_tables([analyze_one(tmp_path / "r0.csv", "./r0.csv"), analyze_one(tmp_path / "r2.csv", "./r2.csv")])
    if suffix == ".parquet":  # parquet keeps every bit; CSV prints floats shortest-round-trip, also exact
        assert tables.reps.equals(direct.reps)
    assert tables.reps.to_pylist() == direct.reps.to_pylist()
    assert tables.sets.to_pylist() == direct.sets.to_pylist()


def analyze_one(path: Path, source: str) -> Analysis:
    """The file analysed directly, named as the CLI names it."""
    from hipflex import __version__

    return dataclasses.replace(analyze(load_samples(path), source=source), version=__version__)


def test_skip_done_redoes_only_new_or_changed_recordings(tmp_path: Path) -> None:
    for i in range(4):
        write_csv(tmp_path / f"r{i}.csv", recording(i))
    first = cli("analyze", ".", "--out", "res.parquet", cwd=tmp_path)
    assert first.returncode == 0 and "4 analysed, 0 already done" in first.stderr
    write_csv(tmp_path / "r4.csv", recording(4))  # a new recording
    write_csv(tmp_path / "r2.csv", recording(12))  # a recording replaced by another
    again = cli("analyze", ".", "--out", "res.parquet", "--skip-done", cwd=tmp_path)
    assert again.returncode == 0 and "2 analysed, 3 already done" in again.stderr
    fresh = cli("analyze", ".", "--out", "fresh.parquet", cwd=tmp_path)
    assert fresh.returncode == 0
    kept, full = read_tables(tmp_path / "res.parquet"), read_tables(tmp_path / "fresh.parquet")
    assert kept is not None and full is not None
    # The same rows as a fresh run (earlier rows first, then those of this run).
    for name in ("reps", "sets", "recordings"):
        key = ["source", "set_number", "rep_number"][: {"reps": 3, "sets": 2, "recordings": 1}[name]]
        a, b = kept.table(name).sort_by([(k, "ascending") for k in key]), full.table(name)
        assert a.equals(b.sort_by([(k, "ascending") for k in key])), name
    # Other settings are not "done".
    other = cli("analyze", ".", "--out", "res.parquet", "--skip-done", "--min-rom-deg", "30", cwd=tmp_path)
    assert "5 analysed, 0 already done" in other.stderr


# ------------------------------------------------------------------ a real Dask cluster


@pytest.mark.slow
def test_local_cluster_gives_the_serial_tables_row_for_row(season: Path) -> None:
    distributed = pytest.importorskip("distributed")
    serial = analyze_recordings([str(season)], jobs=1)
    assert serial.recordings.num_rows == N_SEASON
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen: list[str] = []
        on_dask = analyze_recordings([str(season)], client=client, on_result=lambda r: seen.append(r.source))
        assert len(client.nthreads()) == 2
        # Done hashes reach the workers: nothing analysed again but the corrupt file.
        done = {h for h, s in zip(*on_dask.recordings.select(["content_sha256", "status"]).to_pydict().values(),
                                  strict=True) if s == "ok"}  # fmt: skip
        again = analyze_recordings([str(season)], client=client, skip_hashes=done)
        assert again.recordings["source"].to_pylist() == [f"{season}/{CORRUPT}"] and again.reps.num_rows == 0
    assert len(seen) == N_SEASON
    for name in ("reps", "sets", "recordings"):
        assert on_dask.table(name).equals(serial.table(name)), name
    errors = [r for r in on_dask.recordings.to_pylist() if r["status"] == "error"]
    assert len(errors) == 1 and errors[0]["source"].endswith(CORRUPT)
    assert serial.reps.num_rows == 5 * (N_SEASON - 1)  # five reps in every good recording


def test_the_analyze_path_imports_neither_pandas_nor_dask() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import hipflex.dsp, hipflex.dsp.types, hipflex.service.cli, hipflex.service.commands.analyze\n"
        "import hipflex.service.season_tables, hipflex.service.commands.season_run\n"
        "print(sorted(m for m in ('pandas', 'dask', 'distributed', 'pyarrow.parquet') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_an_fsspec_url_is_read_like_the_file(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    write_csv(tmp_path / "r.csv", recording(3))
    with fsspec.open("memory://season/r.csv", "wb") as fh:
        fh.write((tmp_path / "r.csv").read_bytes())
    tables = analyze_recordings(["memory://season/r.csv", str(tmp_path / "r.csv")], jobs=1)
    url, local = tables.recordings.to_pylist()
    assert url["status"] == "ok" and url["content_sha256"] == local["content_sha256"]
    assert url["source"] == "memory://season/r.csv"
    reps = tables.reps.to_pandas()
    by = [g.drop(columns="source").reset_index(drop=True) for _, g in reps.groupby("source", sort=False)]
    assert len(by) == 2 and by[0].equals(by[1]) and len(by[0]) == 5

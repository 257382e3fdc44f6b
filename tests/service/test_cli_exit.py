"""How the ``hipflex`` program ends: after ``analyze`` without the interpreter's teardown, else as usual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import thigh_session

from hipflex.sensor.files.csv_io import write_csv

#: A child that runs ``python -m hipflex ARGS`` with an atexit handler and an object whose
#: ``__del__`` runs only when the interpreter tears its modules down; both write to the
#: file descriptor (the streams may be gone by then).
_CHILD = """\
import atexit, os, runpy, sys
atexit.register(lambda: os.write(2, b"[atexit]"))
class Teardown:
    def __del__(self):
        os.write(2, b"[teardown]")
keep = Teardown()
sys.argv = ["hipflex", *sys.argv[1:]]
runpy.run_module("hipflex", run_name="__main__")
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # child interpreters
def test_analyze_ends_without_the_teardown_but_with_its_output_status_and_atexit(tmp_path: Path) -> None:
    write_csv(tmp_path / "good.csv", thigh_session())
    out = _run("analyze", "--json", "good.csv", "missing.csv", cwd=tmp_path)
    assert out.returncode == 2  # one bad file
    assert out.stdout.count("\n") == 1 and out.stdout.startswith('{"schema"')
    assert "missing.csv" in out.stderr
    assert "[atexit]" in out.stderr
    assert "[teardown]" not in out.stderr  # the modules were not torn down (~0.1 s of CPU)


@pytest.mark.slow  # child interpreters
def test_other_commands_end_with_the_normal_exit(tmp_path: Path) -> None:
    out = _run("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("hipflex ")
    assert "[atexit]" in out.stderr and "[teardown]" in out.stderr


@pytest.mark.slow  # child interpreters
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_tables_written_by_analyze_are_whole_after_the_quick_exit(tmp_path: Path, suffix: str) -> None:
    """The files ``--out`` writes are complete on disk when the process ends without its teardown."""
    from hipflex.service.season_tables import read_tables

    for name in ("a.csv", "b.csv"):
        write_csv(tmp_path / name, thigh_session())
    out = _run("analyze", "a.csv", "b.csv", "--out", f"season{suffix}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "[teardown]" not in out.stderr  # it did take the quick exit
    tables = read_tables(tmp_path / f"season{suffix}")
    assert tables is not None
    assert tables.table("recordings").num_rows == 2
    assert tables.table("reps").num_rows > 0
    assert not list(tmp_path.glob(".*.tmp"))  # nothing left half written

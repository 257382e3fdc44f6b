"""``hipflex analyze`` imports only what it uses (issue 17: start-up is part of every run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.csv_io import write_csv

#: Modules the analysis of a plain CSV does not need: other commands' (web server, BLE,
#: the demo's HTTP client, the table printer), the other file formats' importers,
#: pandas (pyarrow's ``to_numpy`` imports it when installed: 0.9 s) and the process pool
#: of many files.
UNUSED = (
    "asyncio", "urllib.request", "rich", "fastapi", "uvicorn", "bleak", "pandas",
    "hipflex.sensor.capture", "hipflex.sensor.capture.replay", "hipflex.sensor.files.import_metabase",
    "hipflex.sensor.files.import_polar_logger", "hipflex.service.app",
    "multiprocessing", "concurrent.futures.process",  # the worker processes of --jobs N (25 ms)
)  # fmt: skip


def _still_csv(tmp_path: Path) -> Path:
    """Six seconds of a still acc+gyro sensor at 100 Hz as a plain CSV (600 rows)."""
    path = tmp_path / "rec.csv"
    t = np.arange(600) / 100.0
    write_csv(path, ImuSamples(t, np.tile([0.0, 0.0, 1.0], (600, 1)), np.zeros((600, 3))))
    return path


@pytest.mark.slow  # a child interpreter
def test_loading_a_plain_csv_through_the_cli_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    path = _still_csv(tmp_path)
    # What `hipflex analyze --json` does before the analysis: parse the arguments, load the file.
    code = (
        "import sys\n"
        "from hipflex.service.cli import build_parser\n"
        "from hipflex.service.commands.analyze import build_load_options\n"
        "args = build_parser().parse_args(['analyze', '--json', sys.argv[1]])\n"
        "from hipflex.sensor.formats import load_samples\n"
        "assert len(load_samples(sys.argv[1], args.format, build_load_options(args))) == 600\n"
        f"print(sorted(m for m in {UNUSED!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # a child interpreter (compiles the kernels when numba's cache is cold)
def test_the_whole_analysis_leaves_scipy_linalg_unimported(tmp_path: Path) -> None:
    # numba's array maths probes for BLAS by importing scipy.linalg (and, through SciPy,
    # numpy.f2py): 0.35 s of every run, for linear algebra no kernel uses
    # (dsp/_numba_setup.py). A run that loads cached kernels does not import the array
    # maths at all; one that compiles imports them with the probe by name.
    path = _still_csv(tmp_path)
    code = (
        "import sys\n"
        "from hipflex.service.cli import main\n"
        "rc = main(['analyze', '--json', sys.argv[1]])\n"
        "am = sys.modules.get('numba.np.arraymath')\n"
        "blas = am is None or am._HAVE_BLAS\n"
        "print(rc, blas, sorted(m for m in ('scipy.linalg', 'numpy.f2py') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 True []"

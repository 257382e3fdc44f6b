"""End to end: whole ``hipflex analyze FILE --json`` processes on long plain CSVs.

Run: ``python benchmarks/end_to_end.py [--sizes 10000,100000,1260000,5000000] [--repeats 2]
[--breakdown] [--no-bytecode]``.

The files are 200 Hz accelerometer + gyro recordings in the plain hipflex CSV format, as
:func:`hipflex.sensor.files.csv_io.write_csv` writes them (time and acceleration with 6 decimals,
angular rate with 4, a comment line on top): one simulated mixed-drill session
(:func:`_perfkit.simulate_sessions`, 10 minutes) repeated back to back with its time shifted,
cut to the row count.  They are written into a temporary directory that is deleted at the end.

Each size is analysed once untimed (the numba caches are then warm, and the file is in the page
cache), then ``--repeats`` times in a fresh interpreter, ``[sys.executable, "-m", "hipflex",
"analyze", FILE, "--json"]`` with stdout to ``/dev/null``, timed from spawn to exit; the table
shows the best wall time, the least CPU time (user + system; on a loaded machine closer to what
an idle one would show) and the child's peak resident memory (``ru_maxrss`` from ``wait4``).
The children run from bytecode, as an installed package does: they cache it in the temporary
directory (:func:`_perfkit.child_env`), also where the shell sets ``PYTHONDONTWRITEBYTECODE``;
``--no-bytecode`` keeps the shell's environment (then a child with that setting compiles
hipflex's modules from source every run, ~0.07 s of CPU).

``--breakdown`` adds a table of where the time of one process goes: the interpreter alone
(``python -c pass``), the imports of the analyze path, loading the file, the analysis and the
JSON writing, timed inside a child that does what ``hipflex analyze --json`` did before session 12:
it reads the file whole (``load_samples``), then analyses it; the command itself now streams
the file's blocks into the analysis (:mod:`hipflex.sensor.files.csv_stream`), where reading and
analysing interleave and cannot be timed apart.

The last line is machine-readable:
``end_to_end: <rows> rows <s> s <s> s cpu <MB> MB; ...``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import child_env, concatenate, machine_lines, print_table, rss_kib, simulate_sessions

from hipflex.dsp.types import ImuSamples

DEFAULT_SIZES = (10_000, 100_000, 1_260_000, 5_000_000)
SESSION_S = 600.0
FS_HZ = 200.0
HEADER = "time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps\n"

# What ``hipflex analyze --json`` does for one file, with a clock around each phase.
_BREAKDOWN = """\
import time, sys
clock = [(time.perf_counter(), time.process_time())]
import dataclasses, json
from hipflex import __version__
from hipflex.service.cli import build_parser
build_parser().parse_args(["analyze", "--json", sys.argv[1]])  # imports every command's module, as the CLI does
from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.sensor.formats import load_samples
clock.append((time.perf_counter(), time.process_time()))
path = sys.argv[1]
samples = load_samples(path)
clock.append((time.perf_counter(), time.process_time()))
result = analyze(samples, Settings(), source=path)
result = dataclasses.replace(result, source=path, version=__version__)
clock.append((time.perf_counter(), time.process_time()))
with open("/dev/null", "w") as out:
    out.write(json.dumps(result.to_dict(), allow_nan=False) + "\\n")
clock.append((time.perf_counter(), time.process_time()))
print(" ".join(f"{b[0] - a[0]:.3f}/{b[1] - a[1]:.3f}" for a, b in zip(clock, clock[1:])))
"""


def session_block() -> tuple[ImuSamples, float]:
    """One simulated 10-minute 200 Hz session and the time step that joins two copies, s."""
    # In a worker process (workers=2), so that this process stays small: a child's ru_maxrss
    # counts the memory of the process it was spawned from (Linux keeps the high-water mark
    # across exec).
    (session,) = simulate_sessions(1, SESSION_S, fs_hz=FS_HZ, has_gyro=True, seed=17, workers=2)
    s = concatenate([session]).samples  # time starting at 0
    step = float(np.median(np.diff(s.time_s)))
    return s, float(s.time_s[-1] - s.time_s[0]) + step


def _lines(table: np.ndarray, fmt: str) -> list[bytes]:
    """Rows of ``table`` formatted with ``fmt`` (one ``%`` spec per column), without newlines."""
    return [(fmt % tuple(row)).encode() for row in table.tolist()]


def write_file(path: Path, block: ImuSamples, period_s: float, rows: int) -> int:
    """Write ``rows`` rows: ``block`` repeated with its time shifted by ``period_s`` each copy.

    The value columns of the block are formatted once; only the time column is formatted per
    copy.  Returns the file size in bytes.
    """
    assert block.gyr_dps is not None
    values = _lines(np.hstack([block.acc_g, block.gyr_dps]), ",%.6f,%.6f,%.6f,%.4f,%.4f,%.4f\n")
    n0 = len(values)
    with open(path, "wb") as fh:
        fh.write(b"# hipflex plain CSV (benchmarks/end_to_end.py): time_s in s, acc in g, gyro in deg/s\n")
        fh.write(HEADER.encode())
        for k in range(math.ceil(rows / n0)):
            n = min(n0, rows - k * n0)
            times = block.time_s[:n] + 100.0 + k * period_s
            fh.write(b"".join(t + v for t, v in zip(_lines(times[:, None], "%.6f"), values[:n], strict=True)))
    return path.stat().st_size


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall time (s), CPU time (user + system, s) and peak RSS (MB) of one child, stdout to /dev/null."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # ru_maxrss: KiB on Linux


def breakdown(path: Path, python_s: float, env: dict[str, str]) -> list[str]:
    """One row of phase times (wall / CPU, s) of analysing ``path``, measured inside a child."""
    cmd = [sys.executable, "-c", _BREAKDOWN, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return [f"{python_s:.2f}", *out.stdout.split()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="row counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per size (best is shown)")
    ap.add_argument("--breakdown", action="store_true", help="also time the phases inside one process")
    ap.add_argument(
        "--no-bytecode",
        action="store_true",
        help="children in the shell's environment (with PYTHONDONTWRITEBYTECODE set: modules compiled every run)",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    for line in machine_lines():
        print(line)
    print(f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(unset)')}")
    block, period = session_block()
    rows_out: list[list[object]] = []
    phases: list[list[object]] = []
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hipflex-e2e-") as tmp:
        env = child_env(None if args.no_bytecode else Path(tmp) / "pycache")
        print(
            f"children: {'shell environment' if args.no_bytecode else 'bytecode cached (installed-package start-up)'}"
        )
        python_s = min(run_child([sys.executable, "-c", "pass"], env)[0] for _ in range(3))
        for n in sizes:
            path = Path(tmp) / f"rec_{n}.csv"
            size_b = write_file(path, block, period, n)
            cmd = [sys.executable, "-m", "hipflex", "analyze", str(path), "--json"]
            run_child(cmd, env)  # warm: numba caches, page cache, bytecode
            runs = [run_child(cmd, env) for _ in range(args.repeats)]
            wall = min(r[0] for r in runs)
            cpu = min(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            minutes = n / FS_HZ / 60.0
            rows_out.append([f"{n:,}", f"{minutes:.0f}", f"{size_b / 1e6:.1f}", f"{wall:.2f}", f"{cpu:.2f}",
                             f"{peak:.0f}", f"{n / wall / 1e6:.2f}"])  # fmt: skip
            summary.append(f"{n} rows {wall:.2f} s {cpu:.2f} s cpu {peak:.0f} MB")
            if args.breakdown:
                phases.append([f"{n:,}", *breakdown(path, python_s, env)])
            path.unlink()
        floor_mb = rss_kib() / 1024.0
    print()
    print_table(
        ["rows", "minutes", "file MB", "wall s", "cpu s", "peak RSS MB", "M rows/s"],
        rows_out,
        title=f"hipflex analyze FILE --json, whole process (best of {args.repeats}, warm caches)",
    )
    print(f"(peak RSS cannot read below this benchmark's own RSS at spawn, {floor_mb:.0f} MB)")
    if phases:
        print()
        print_table(
            ["rows", "python s", "imports s", "load s", "analysis s", "json s"],
            phases,
            title="where the time goes (one process, phases timed inside it; wall/CPU seconds)",
        )
    print()
    print("end_to_end: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

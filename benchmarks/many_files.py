"""Many files: ``hipflex analyze DIR --json`` on a folder of recordings, one job against every core.

Run: ``python benchmarks/many_files.py [--files 100] [--repeats 2] [--jobs N] [--minutes 1,3] [--keep DIR]
[--no-bytecode] [--separate]``.

The folder holds ``--files`` simulated sessions (:func:`_perfkit.mixed_plan`, one seed each,
seeds from 500000): ``--minutes`` (1 to 3) minutes each, at 100 or 200 Hz, four in five with a gyro,
written as plain hipflex CSV (:func:`hipflex.sensor.files.csv_io.write_csv`) into a temporary
directory that is deleted at the end (unless ``--keep``).

Both commands are run once untimed (numba caches warm, files in the page cache), then
``--repeats`` rounds of each in turn, as whole processes: ``[sys.executable, "-m", "hipflex",
"analyze", DIR, "--json", "--jobs", "1"]`` and the same with the default jobs (one per usable
core) or ``--jobs N``.  The table shows the best wall time, the least CPU time (user + system)
and the speed-up of the best wall times; each round's own speed-up is printed too.  The outputs
of the two commands must be the same bytes (the run fails otherwise).  A third command, the
shortest file analysed alone, measures the start-up that no number of cores shortens
(interpreter, imports, loading the kernel caches); "after start-up" is the speed-up with it
taken off both times.  The load average is printed before and after: the wall times mean
little on a machine that other work keeps busy.  ``--keep DIR`` writes the recordings into DIR
(or reuses them from an earlier run) instead of a temporary directory.  The children run from
bytecode cached in the temporary directory, as an installed package does
(:func:`_perfkit.child_env`; ``--no-bytecode``: the shell's environment, where
``PYTHONDONTWRITEBYTECODE`` makes each process compile hipflex's modules, ~0.07 s of CPU).

``--separate`` also times what a user without the folder argument would run: one ``hipflex
analyze FILE --json`` process per file, one after another (every process pays the start-up),
once per round; its outputs, joined, must be the same bytes too.  Its speed-up is the sum of
those processes' wall times over the parallel run's; the issue's measure stays ``--jobs 1``.

The last line is machine-readable: ``many_files: <files> files <rows> rows <s> s jobs=1 <s> s
jobs=<n> <x> x start-up <s> s`` (with ``--separate``, then ``separate <s> s <x> x``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import child_env, machine_lines, mixed_plan, print_table

from hipflex.dsp.batch import default_workers
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate

FIRST_SEED = 500_000


def write_session(args: tuple[Path, int, float, float]) -> int:
    """Simulate one session (length, rate and gyro drawn from its seed), write it; returns its rows."""
    folder, seed, shortest_min, longest_min = args
    rng = np.random.default_rng(seed)
    duration_s = 60.0 * float(rng.uniform(shortest_min, longest_min))
    fs_hz = float(rng.choice([100.0, 200.0]))
    has_gyro = bool(rng.random() < 0.8)
    plan = mixed_plan(rng, duration_s)
    sim = simulate(plan, Mounting.random(rng), SensorModel(fs_hz=fs_hz, has_gyro=has_gyro), seed)
    write_csv(folder / f"session_{seed}.csv", sim.samples, comments=[f"simulated, seed {seed}"])
    return len(sim.samples)


def run_child(cmd: list[str], out_path: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one child, seconds; its stdout goes to ``out_path``."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def run_separately(folder: Path, expected: bytes, out_path: Path, env: dict[str, str] | None) -> tuple[float, float]:
    """Wall and CPU seconds of one ``hipflex analyze FILE --json`` process per file, in the folder's order.

    The same files as ``hipflex analyze DIR`` takes (its own expansion), so the joined outputs
    must be ``expected``, the ``--jobs 1`` run's bytes.
    """
    from hipflex.service.commands.batch_run import expand_paths

    wall = cpu = 0.0
    joined = bytearray()
    for entry in expand_paths([str(folder)]):
        w, c = run_child([sys.executable, "-m", "hipflex", "analyze", entry.path, "--json"], out_path, env)
        wall += w
        cpu += c
        joined += out_path.read_bytes()
    if bytes(joined) != expected:
        raise SystemExit("one process per file: the joined outputs differ from the --jobs 1 run")
    return wall, cpu


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100, help="recordings in the folder (100)")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each command (2)")
    ap.add_argument("--jobs", type=int, help="jobs of the parallel run (default: hipflex's, one per core)")
    ap.add_argument("--minutes", default="1,3", metavar="LO,HI", help="session lengths, minutes (1,3)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write the recordings here and reuse them next time")
    ap.add_argument(
        "--no-bytecode",
        action="store_true",
        help="children in the shell's environment (with PYTHONDONTWRITEBYTECODE set: modules compiled every run)",
    )
    ap.add_argument(
        "--separate",
        action="store_true",
        help="also time one 'hipflex analyze FILE --json' process per file, one after another",
    )
    a = ap.parse_args(argv)
    lo_min, hi_min = (float(x) for x in a.minutes.split(","))
    jobs = a.jobs or default_workers()

    with tempfile.TemporaryDirectory(prefix="hipflex-many-") as tmp:
        folder = a.keep or Path(tmp, "recordings")
        folder.mkdir(parents=True, exist_ok=True)
        rows_file = folder / ".rows"  # hidden: not one of the folder's recordings
        if a.keep is not None and rows_file.exists() and len(list(folder.glob("*.csv"))) == a.files:
            rows = int(rows_file.read_text())
        else:
            t0 = time.perf_counter()
            with cf.ProcessPoolExecutor(max_workers=default_workers()) as pool:
                todo = [(folder, FIRST_SEED + i, lo_min, hi_min) for i in range(a.files)]
                rows = sum(pool.map(write_session, todo))
            rows_file.write_text(str(rows))
            print(f"wrote {a.files} files, {rows} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        env = child_env(None if a.no_bytecode else Path(tmp, "pycache"))
        base = [sys.executable, "-m", "hipflex", "analyze", str(folder), "--json"]
        commands = {"1": [*base, "--jobs", "1"], str(jobs): base if a.jobs is None else [*base, "--jobs", str(jobs)]}
        outputs = {k: Path(tmp, f"jobs{k}.jsonl") for k in commands}
        for k, cmd in commands.items():  # warm-up: caches, page cache
            run_child(cmd, outputs[k], env)
        first = outputs["1"].read_bytes()
        if outputs[str(jobs)].read_bytes() != first:
            raise SystemExit("the outputs of --jobs 1 and the parallel run differ")
        n_docs = first.count(b"\n")
        if n_docs != a.files:
            raise SystemExit(f"{n_docs} results for {a.files} files")

        # The part no core count shortens: interpreter, imports, loading the kernel caches
        # (the shortest file, analysed alone).
        shortest = min(folder.glob("*.csv"), key=lambda f: f.stat().st_size)
        alone_label = f"one file alone ({shortest.stat().st_size // 1024} KiB)"
        commands["start-up"] = [sys.executable, "-m", "hipflex", "analyze", str(shortest), "--json"]
        outputs["start-up"] = Path(tmp, "one.jsonl")
        run_child(commands["start-up"], outputs["start-up"], env)

        before = load_line()
        walls: dict[str, list[float]] = {k: [] for k in commands}
        cpus: dict[str, list[float]] = {k: [] for k in commands}
        separate: list[tuple[float, float]] = []  # (wall, cpu) of one process per file, per round
        for _ in range(a.repeats):
            if a.separate:
                separate.append(run_separately(folder, first, Path(tmp, "separate.jsonl"), env))
            for k, cmd in commands.items():
                wall, cpu = run_child(cmd, outputs[k], env)
                if k != "start-up" and outputs[k].read_bytes() != first:
                    raise SystemExit(f"jobs={k}: output differs from the first --jobs 1 run")
                walls[k].append(wall)
                cpus[k].append(cpu)
        after = load_line()

    best = {k: min(v) for k, v in walls.items()}
    fixed = best.pop("start-up")
    k = str(jobs)
    # Each round's own ratio: background load that comes and goes falls on both runs of a round.
    paired = sorted(w1 / wn for w1, wn in zip(walls["1"], walls[k], strict=True))
    table = [
        [f"--jobs {k}" + (" (default)" if k != "1" and a.jobs is None else ""), a.files, rows,
         f"{best[k]:.2f}", f"{min(cpus[k]):.2f}", f"{best['1'] / best[k]:.2f}x",
         f"{(best['1'] - fixed) / max(best[k] - fixed, 1e-9):.2f}x"]
        for k in best
    ]  # fmt: skip
    table.append([alone_label, 1, "", f"{fixed:.2f}",
                  f"{min(cpus['start-up']):.2f}", "", ""])  # fmt: skip
    sep_line = ""
    if separate:
        sep_wall = min(w for w, _ in separate)
        sep_cpu = min(c for _, c in separate)
        table.append(["one process per file (--separate)", a.files, rows, f"{sep_wall:.2f}",
                      f"{sep_cpu:.2f}", f"{sep_wall / best[k]:.2f}x (vs jobs={k})", ""])  # fmt: skip
        sep_line = f" separate {sep_wall:.3f} s {sep_wall / best[k]:.2f} x"
    for line in machine_lines():
        print(line)
    print(f"children: {'shell environment' if a.no_bytecode else 'bytecode cached (installed-package start-up)'}")
    print(f"before: {before}; after: {after}")
    print()
    print_table(
        ["hipflex analyze DIR --json", "files", "rows", "wall s", "cpu s", "speed-up", "after start-up"],
        table,
        title=f"best of {a.repeats} whole processes each; outputs identical (byte for byte); "
        f"'after start-up' leaves out the wall time of one file alone",
    )
    print(f"speed-up of each round (jobs=1 / jobs={k}, sorted): " + " ".join(f"{r:.2f}" for r in paired))
    print()
    print(
        f"many_files: {a.files} files {rows} rows {best['1']:.3f} s jobs=1 {best[k]:.3f} s jobs={k} "
        f"{best['1'] / best[k]:.2f} x start-up {fixed:.3f} s{sep_line}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

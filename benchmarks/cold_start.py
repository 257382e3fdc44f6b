"""Cold start of ``hipflex analyze``: first run without numba caches, then cached runs.

Run: ``python benchmarks/cold_start.py [--runs 5] [--isolated] [--serial]``.

Each row is a fresh interpreter, ``[sys.executable, "-m", "hipflex", "analyze", FILE, "--json"]``,
timed from spawn to exit (wall time) on a small simulated CSV (a ballistic session, three sets,
100 Hz; one file with gyro columns and one without).  "first run" deletes the numba caches
before the run (``find <repo> -name '*.nbi' -delete -o -name '*.nbc' -delete``, and numba's runtime module
(``numba_nrt-*.bin``, :mod:`hipflex.dsp._numba_setup`), plus
``$NUMBA_CACHE_DIR`` when set), so numba compiles every kernel the analysis reaches and writes
the caches; "cached" runs load them.  Baselines: an empty interpreter, ``import hipflex.dsp``
(numpy + numba + the kernel modules, nothing compiled) and ``hipflex --version``.

The first-run markers (``hipflex-prepared-*``, :mod:`hipflex.service.first_run`) are deleted
with the caches, as on a fresh install: a first run then compiles on two cores (a helper
process compiles the main loop's kernels); ``--serial`` adds a first run compiling in one
process (``HIPFLEX_FIRST_RUN_SERIAL=1``) for comparison.

``--isolated`` leaves the repository's caches alone (other processes on a shared machine may
be using them) and points ``NUMBA_CACHE_DIR`` of the child processes at a fresh temporary
directory instead; the measurement is the same.

The last line is machine-readable:
``cold_start: first <x> s, cached <x> s, import <x> s, python <x> s, warm-up first <x> s, cached <x> s,
first cpu <x> s, acc-only first <x> s, cpu <x> s`` (CPU time: of the first run, user + system, which other
processes on a shared machine do not inflate as they do its wall time).  "analyze acc-only, after gyro" is
the first run on a recording without a gyro after one with (the cache holds the acc+gyro kernels).
The live warm-up (``hipflex.service.live_analysis.warm_up(announce=...)``, both modes) is timed the
same way, first without caches, then cached.

The commands as a user sees them (``_command_start.py``), each first without caches, then cached:
``hipflex serve`` until its first ``/health`` answer and until a simulated session posted at once
(without a gyro) has its first chunk analysed, with the slowest ``/health`` answer meanwhile;
``hipflex demo --once`` until it posts its first session; ``hipflex record`` on an emulated Polar H10
(no gyro) and Verity Sense (gyro) until it streams.  ``--commands-only`` times only these (and the
baselines).  Their last line: ``commands: serve health <x> s, ...`` (first runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command_start import time_demo, time_record, time_serve
from _perfkit import machine_lines, print_table

REPO = Path(__file__).resolve().parents[1]


def clear_caches(env: dict[str, str], isolated: bool) -> int:
    """Delete numba cache files; return how many.

    Under the repository and ``$NUMBA_CACHE_DIR`` when set; only under ``$NUMBA_CACHE_DIR``
    (the temporary directory) when ``isolated``.
    """
    roots = [] if isolated else [str(REPO)]
    if env.get("NUMBA_CACHE_DIR"):
        roots.append(env["NUMBA_CACHE_DIR"])
    deleted = 0
    for root in roots:
        if not Path(root).exists():
            continue
        out = subprocess.run(
            # The first-run markers too (hipflex.service.first_run): a fresh install has none.
            [
                "find",
                root,
                "(",
                "-name",
                "*.nbi",
                "-o",
                "-name",
                "*.nbc",
                "-o",
                "-name",
                "hipflex-prepared-*",
                "-o",
                "-name",
                "numba_nrt-*.bin",  # numba's runtime module, cached by hipflex.dsp._numba_setup
                ")",
                "-print",
                "-delete",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        deleted += len(out.stdout.split())
    return deleted


#: CPU seconds (user + system) of each child timed so far, by :func:`timed`, in order.
CPU_S: list[float] = []


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one child process, seconds, and its stdout; raises if it fails.

    Its CPU time (user + system, which waiting for a core on a shared machine does
    not inflate) is appended to :data:`CPU_S`.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_S.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return dt, proc.stdout


def rep_count(stdout: str) -> str:
    """``rep_count`` of the first JSON line of ``hipflex analyze --json``."""
    try:
        return str(json.loads(stdout.splitlines()[0])["rep_count"])
    except (IndexError, KeyError, ValueError):
        return "?"


def make_inputs(folder: Path) -> tuple[Path, Path, int]:
    """A small simulated CSV with gyro and the same without; returns the paths and the true reps."""
    from hipflex.dsp import ImuSamples
    from hipflex.sensor.files.csv_io import write_csv
    from hipflex.sensor.sim.simulate import simulate_drill

    sim = simulate_drill("ballistic", fs_hz=100.0, seed=7, n_sets=3)
    gyro, acc = folder / "ballistic_100hz_gyro.csv", folder / "ballistic_100hz_acc.csv"
    s = sim.samples
    write_csv(gyro, s, ["simulated: ballistic, 3 sets, 100 Hz, seed 7 (benchmarks/cold_start.py)"])
    write_csv(acc, ImuSamples(s.time_s, s.acc_g, None), ["same session, gyro columns dropped"])
    return gyro, acc, len(sim.truth.reps)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="cached runs (and baseline runs) per row")
    ap.add_argument(
        "--isolated", action="store_true", help="use a fresh NUMBA_CACHE_DIR instead of deleting the repo's caches"
    )
    ap.add_argument(
        "--serial",
        action="store_true",
        help="also time a first run compiling in one process (HIPFLEX_FIRST_RUN_SERIAL=1, no helper process)",
    )
    ap.add_argument("--commands-only", action="store_true", help="time only serve, demo and record (and the baselines)")
    args = ap.parse_args(argv)
    py = sys.executable

    print("hipflex cold-start benchmark (`python -m hipflex analyze FILE --json`, fresh interpreter per run)")
    for line in machine_lines():
        print(line)

    with tempfile.TemporaryDirectory(prefix="hipflex-cold-") as tmp:
        env = dict(os.environ)
        if args.isolated:
            env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba-cache")
            print(f"caches: isolated, NUMBA_CACHE_DIR={env['NUMBA_CACHE_DIR']} (repository caches untouched)")
        else:
            where = f"{REPO}" + (f" and {env['NUMBA_CACHE_DIR']}" if env.get("NUMBA_CACHE_DIR") else "")
            print(f"caches: deleted under {where} before each first run")
        gyro, acc, n_true = make_inputs(Path(tmp))
        print(f"input: {gyro.name} ({gyro.stat().st_size / 1024:.0f} KiB), {acc.name}; {n_true} true reps")

        rows: list[list[str]] = []

        def add(label: str, what: str, times: list[float], reps: str = "-") -> None:
            rows.append(
                [
                    label,
                    what,
                    str(len(times)),
                    f"{min(times) * 1e3:.0f}",
                    f"{statistics.median(times) * 1e3:.0f}",
                    f"{max(times) * 1e3:.0f}",
                    reps,
                ]
            )

        base = [timed([py, "-c", "pass"], env)[0] for _ in range(args.runs)]
        add("python -c pass", "interpreter start", base)
        imp = [timed([py, "-c", "import hipflex.dsp"], env)[0] for _ in range(args.runs)]
        add("import hipflex.dsp", "numpy + numba + kernel modules", imp)
        ver = [timed([py, "-m", "hipflex", "--version"], env)[0] for _ in range(args.runs)]
        add("hipflex --version", "CLI start, no analysis", ver)

        first: dict[str, float] = {}
        first_cpu: dict[str, float] = {}
        cached: dict[str, list[float]] = {}
        warm_first = warm_first_cpu = 0.0
        warm_cached: list[float] = []
        if not args.commands_only:
            for label, path in (("acc+gyro", gyro), ("acc-only", acc)):
                cmd = [py, "-m", "hipflex", "analyze", str(path), "--json"]
                n_deleted = clear_caches(env, args.isolated)
                dt, out = timed(cmd, env)
                first[label] = dt
                first_cpu[label] = CPU_S[-1]
                add(f"analyze {label}, first run", f"caches deleted ({n_deleted} files): compile", [dt], rep_count(out))
                runs = [timed(cmd, env) for _ in range(args.runs)]
                cached[label] = [t for t, _ in runs]
                add(f"analyze {label}, cached", "numba caches loaded", cached[label], rep_count(runs[-1][1]))
                if label == "acc+gyro":
                    # The other mode's first run: a first run compiles its recording's mode only
                    # (hipflex.dsp._precompile.groups), the next file without a gyro the rest.
                    other = [py, "-m", "hipflex", "analyze", str(acc), "--json"]
                    dt, out = timed(other, env)
                    first_cpu["acc-only after acc+gyro"] = CPU_S[-1]
                    add("analyze acc-only, after gyro", "the other mode's kernels: compile", [dt], rep_count(out))
            if args.serial:
                cmd = [py, "-m", "hipflex", "analyze", str(gyro), "--json"]
                n_deleted = clear_caches(env, args.isolated)
                dt, out = timed(cmd, dict(env, HIPFLEX_FIRST_RUN_SERIAL="1"))
                first_cpu["acc+gyro in one process"] = CPU_S[-1]
                what = f"caches deleted ({n_deleted} files): 1 process"
                add("analyze acc+gyro, first, serial", what, [dt], rep_count(out))
            # What `hipflex record`, `serve` and `demo` do before streaming (live path, both modes).
            warm = [py, "-c", "from hipflex.service.live_analysis import warm_up; warm_up(announce='hipflex record')"]
            n_deleted = clear_caches(env, args.isolated)
            warm_first = timed(warm, env)[0]
            warm_first_cpu = CPU_S[-1]
            add("live warm_up(), first run", f"caches deleted ({n_deleted} files): compile", [warm_first])
            warm_cached = [timed(warm, env)[0] for _ in range(args.runs)]
            add("live warm_up(), cached", "numba caches loaded", warm_cached)
        # The commands as a user sees them: each first without caches, then cached (--runs times).
        commands: dict[str, float] = {}
        timers = {
            "serve": lambda: time_serve(py, env, Path(tmp), has_gyro=False),
            "demo": lambda: time_demo(py, env, Path(tmp)),
            "record h10": lambda: time_record(py, env, Path(tmp), "h10", "h10"),
            "record verity": lambda: time_record(py, env, Path(tmp), "verity", "Polar Sense"),
        }
        for name, timer in timers.items():
            n_deleted = clear_caches(env, args.isolated)
            got = timer()
            for event, dt in got.events.items():
                commands[f"{name} {event}"] = dt
                add(f"{name}: {event}, first run", f"caches deleted ({n_deleted} files)", [dt])
            first_cpu[f"{name} (until stopped)"] = got.cpu_s
            if got.health_max_s:
                commands[f"{name} slowest health"] = got.health_max_s
            cached_runs = [timer() for _ in range(args.runs)]
            for event in got.events:
                add(f"{name}: {event}, cached", "numba caches loaded", [c.events[event] for c in cached_runs])

    print()
    print_table(
        ["run", "what", "n", "min ms", "median ms", "max ms", "reps"],
        rows,
        title=f"wall time per fresh process (true reps in the file: {n_true})",
        left=2,
    )
    print()
    print(
        "CPU time (user + system) of the first runs: "
        + ", ".join(f"{'' if 'until' in k else 'analyze '}{k} {v:.1f} s" for k, v in first_cpu.items())
        + ("" if args.commands_only else f", live warm_up() {warm_first_cpu:.1f} s")
    )
    if not args.commands_only:
        print(
            f"cold_start: first {first['acc+gyro']:.2f} s, cached {statistics.median(cached['acc+gyro']):.2f} s, "
            f"import {statistics.median(imp):.2f} s, python {statistics.median(base):.2f} s, "
            f"warm-up first {warm_first:.2f} s, cached {statistics.median(warm_cached):.2f} s, "
            f"first cpu {first_cpu['acc+gyro']:.2f} s, acc-only first {first['acc-only']:.2f} s, "
            f"cpu {first_cpu['acc-only']:.2f} s"
        )
    print("commands: " + ", ".join(f"{k} {v:.2f} s" for k, v in commands.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

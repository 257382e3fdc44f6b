"""A season of recordings into tables: serial, 2 threads, 2 processes, and a 2-worker Dask ``LocalCluster``.

Run: ``python benchmarks/season.py [--count 2000] [--keep DIR] [--noop-tasks 2000]``.

The folder holds ``--count`` simulated sessions (:func:`_perfkit.mixed_plan`, seeds from 700000),
40 to 70 s each at 100 Hz (2,000 of them: about 30 h of data), four in five with a gyro, written
as plain hipflex CSV.  Every mode analyses the whole folder into the three tables
(:func:`hipflex.service.commands.season_run.analyze_recordings` and the task it runs,
:func:`~hipflex.service.commands.season_run.analyze_recording`):

* ``serial``: one thread of this process;
* ``2 threads``: what ``hipflex analyze --jobs 2 --out`` does (the kernels release the GIL);
* ``2 processes``: a ``ProcessPoolExecutor`` of 2 processes mapping the same task;
* ``LocalCluster 2x1``: ``dask.distributed``, 2 worker processes of one thread, one task per recording.

Kernel caches are warm before any timing (one recording analysed first, and in the pool and the
cluster one task per worker before the clock starts); the start-up of the pool and of the cluster
(processes, imports, loading the kernel caches) is printed on its own.  Every mode's tables must
equal the serial ones (the run fails otherwise).  The scheduler's overhead per task is measured
twice: ``--noop-tasks`` tasks that do nothing but return a small result, through the same windowed
submission, and the cluster's wall time beyond the 2-process pool's, per recording.  The load
average is printed before and after: the machine may be shared.

The last line is machine-readable: ``season: <n> recordings <h> h serial <r>/s threads <r>/s
processes <r>/s cluster <r>/s overhead <ms> ms/task``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import machine_lines, mixed_plan, print_table

from hipflex import __version__
from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate
from hipflex.service.commands.batch_run import Entry
from hipflex.service.commands.season_run import (
    RecordingJob,
    analyze_recording,
    analyze_recordings,
    expand_inputs,
    run_on_dask,
)
from hipflex.service.season_tables import RecordingResult, SeasonTables, result_tables

FIRST_SEED = 700_000


def write_session(args: tuple[Path, int]) -> float:
    """Simulate one session (length and gyro drawn from its seed), write it; returns its length, s."""
    folder, seed = args
    rng = np.random.default_rng(seed)
    plan = mixed_plan(rng, float(rng.uniform(40.0, 70.0)))
    sim = simulate(plan, Mounting.random(rng), SensorModel(fs_hz=100.0, has_gyro=bool(rng.random() < 0.8)), seed)
    write_csv(folder / f"session_{seed}.csv", sim.samples, comments=[f"simulated, seed {seed}"])
    return float(sim.samples.time_s[-1] - sim.samples.time_s[0])


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _task(path: str) -> RecordingResult:
    return analyze_recording(path, RecordingJob(version=__version__))


def _noop(path: str, job: RecordingJob, skip: object) -> RecordingResult:
    """A task with the real one's arguments and a result of the same kind, doing nothing."""
    return RecordingResult(path, None, version=job.version)


def same(a: SeasonTables, b: SeasonTables, what: str) -> None:
    for name in ("reps", "sets", "recordings"):
        if not a.table(name).equals(b.table(name)):
            raise SystemExit(f"{what}: the {name} table differs from the serial run's")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="recordings (2000: about 30 h of 100 Hz data)")
    ap.add_argument("--keep", type=Path, help="write the recordings here (or reuse them) instead of a temp dir")
    ap.add_argument("--noop-tasks", type=int, default=2000, help="empty tasks for the scheduler overhead")
    args = ap.parse_args()
    for line in machine_lines():
        print(line)
    print("before:", load_line())

    with tempfile.TemporaryDirectory(prefix="hipflex-season-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        seeds = range(FIRST_SEED, FIRST_SEED + args.count)
        todo = [(folder, s) for s in seeds if not (folder / f"session_{s}.csv").exists()]
        t0 = time.perf_counter()
        with cf.ProcessPoolExecutor(2) as pool:
            list(pool.map(write_session, todo, chunksize=16))
        print(f"wrote {len(todo)} recordings in {time.perf_counter() - t0:.0f} s")
        paths = [e.path for e in expand_inputs([str(folder)])][: args.count]
        entries = [Entry(p) for p in paths]
        _task(paths[0])  # kernels loaded (or compiled) before any clock starts

        t0 = time.perf_counter()
        serial = analyze_recordings(paths, jobs=1)
        t_serial = time.perf_counter() - t0
        hours = float(np.nansum(serial.recordings["duration_s"].to_numpy(zero_copy_only=False))) / 3600.0

        t0 = time.perf_counter()
        threads = analyze_recordings(paths, jobs=2)
        t_threads = time.perf_counter() - t0
        same(serial, threads, "2 threads")

        t0 = time.perf_counter()
        with cf.ProcessPoolExecutor(2) as pool:
            list(pool.map(_task, paths[:2]))  # one per process: imports and kernel caches
            t_pool_start = time.perf_counter() - t0
            t0 = time.perf_counter()
            procs = result_tables(pool.map(_task, paths, chunksize=8))
            t_procs = time.perf_counter() - t0
        same(serial, procs, "2 processes")

        from distributed import Client, LocalCluster, wait

        t0 = time.perf_counter()
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            wait(
                [
                    client.submit(_task, p, pure=False, workers=[w])
                    for p, w in zip(paths, client.nthreads(), strict=False)
                ]
            )
            t_cluster_start = time.perf_counter() - t0
            t0 = time.perf_counter()
            on_dask = analyze_recordings(paths, client=client)
            t_cluster = time.perf_counter() - t0
            job = RecordingJob(version=__version__)
            noop_entries = (entries * (args.noop_tasks // len(entries) + 1))[: args.noop_tasks]
            t0 = time.perf_counter()
            n_noop = sum(1 for _ in run_on_dask(client, noop_entries, job, task=_noop))
            t_noop = time.perf_counter() - t0
        same(serial, on_dask, "LocalCluster")

    n = len(paths)
    overhead_ms = 1000.0 * t_noop / n_noop
    beyond_ms = 1000.0 * (t_cluster - t_procs) / n
    rows = [
        ["serial (1 thread)", f"{t_serial:.1f}", f"{n / t_serial:.1f}", "1.00", "-"],
        ["2 threads (--jobs 2)", f"{t_threads:.1f}", f"{n / t_threads:.1f}", f"{t_serial / t_threads:.2f}", "-"],
        ["2 processes (pool)", f"{t_procs:.1f}", f"{n / t_procs:.1f}", f"{t_serial / t_procs:.2f}",
         f"{t_pool_start:.1f}"],
        ["LocalCluster 2 workers x 1 thread", f"{t_cluster:.1f}", f"{n / t_cluster:.1f}",
         f"{t_serial / t_cluster:.2f}", f"{t_cluster_start:.1f}"],
    ]  # fmt: skip
    print_table(
        ["mode", "wall s", "recordings/s", "speed-up", "start-up s"],
        rows,
        title=f"{n} recordings, {hours:.1f} h of 100 Hz data, tables identical in every mode",
    )
    print(f"scheduler overhead: {overhead_ms:.2f} ms per empty task ({n_noop} tasks, 2 workers, windowed submission)")
    print(f"LocalCluster beyond the 2-process pool: {beyond_ms:.2f} ms per recording")
    print("after:", load_line())
    print(
        f"season: {n} recordings {hours:.1f} h serial {n / t_serial:.1f}/s threads {n / t_threads:.1f}/s "
        f"processes {n / t_procs:.1f}/s cluster {n / t_cluster:.1f}/s overhead {overhead_ms:.2f} ms/task"
    )


if __name__ == "__main__":
    main()

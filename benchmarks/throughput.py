"""Offline throughput of the hipflex analysis against peers, measured in one process and one run.

Run: ``python benchmarks/throughput.py [--samples 1050000] [--sessions 16]
[--repeats 5] [--workers N]``.

Input: ``--sessions`` simulated sessions (:mod:`hipflex.sensor.sim.simulate`) of mixed drills --
ballistic, hold, strength, march and stride sets with 12-25 s rests -- at 200 Hz with
accelerometer and gyro, default sensor errors (bias, scale, noise, quantisation, +-8 g
clipping) and 0.5 ms timestamp jitter, no packet loss (so every peer gets gap-free rows).
The sessions, one strap, back to back form one long recording of at least ``--samples`` rows.

Rows (samples per second of wall time, best of ``--repeats`` timed runs after a warm-up;
the methods are timed round-robin so that noise from other processes on a shared machine
falls on all of them alike):

* ``hipflex analyze``: the full analysis -- calibration, axis lock, gyro+acc orientation,
  flexion angle, rep detection, every rep/set metric -- one thread, the long recording;
* ``VQF.updateBatch`` / ``BasicVQF.updateBatch`` (the ``vqf`` package, C++): 6D orientation
  only (quaternion per sample), gyro in rad/s, acc in m/s^2, ``Ts`` = 1/200 s; the unit
  conversion is done once beforehand and not timed;
* ``scipy``: a plain pipeline -- tilt of the accelerometer from its first 2 s mean,
  ``butter`` (4th order, 3 Hz low-pass) + ``filtfilt``, ``find_peaks`` (prominence 20 deg);
* ``hipflex analyze, acc-only``: the same recording without its gyro columns (pendulum EKF);
* ``batch``: the sessions as separate recordings -- serially, over a thread pool (the
  kernels release the GIL) and over a process pool -- via :func:`hipflex.dsp.batch.analyze_many`.

Ratios are of samples/second within this run; one line also gives the single-thread rows'
ratios by the CPU time of the thread that ran them, which waiting for a core on a shared
machine does not inflate.  The last line is machine-readable:
``throughput: hipflex <N> Msamples/s, <R>x VQF.updateBatch, <R>x BasicVQF, <R>x scipy``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import butter, filtfilt, find_peaks
from vqf import VQF, BasicVQF

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import Session, concatenate, machine_lines, print_table, simulate_sessions

from hipflex.dsp import ImuSamples, analyze
from hipflex.dsp.batch import analyze_many, default_workers

G0_MPS2 = 9.80665
FS_HZ = 200.0


@dataclass
class Method:
    """One row of the table."""

    name: str
    computes: str
    threads: str
    n_samples: int
    run: Callable[[], object]
    count: Callable[[object], str] = lambda _: "-"
    best_s: float = float("inf")
    best_cpu_s: float = float("inf")
    reps: str = "-"
    times: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Samples per second of the best run."""
        return self.n_samples / self.best_s


def scipy_reps(time_s: np.ndarray, acc_g: np.ndarray, fs_hz: float) -> np.ndarray:
    """A plain scipy rep counter: accelerometer tilt, zero-phase low-pass, peak picking.

    Parameters
    ----------
    time_s : ndarray, shape (n,)
        Sample times, seconds (only their count matters: uniform sampling is assumed).
    acc_g : ndarray, shape (n, 3)
        Accelerometer, g.
    fs_hz : float
        Nominal sample rate, Hz.

    Returns
    -------
    ndarray of int
        Row indices of the rep peaks.
    """
    del time_s
    n0 = int(2.0 * fs_hz)
    up = acc_g[:n0].mean(axis=0)
    up /= np.linalg.norm(up)
    cos_tilt = (acc_g @ up) / np.linalg.norm(acc_g, axis=1)
    tilt_deg = np.degrees(np.arccos(np.clip(cos_tilt, -1.0, 1.0)))
    b, a = butter(4, 3.0, fs=fs_hz)
    smooth = filtfilt(b, a, tilt_deg)
    peaks, _ = find_peaks(smooth, prominence=20.0, distance=int(0.25 * fs_hz))
    return peaks


def _reps_of(result: object) -> str:
    return str(getattr(result, "rep_count", "-"))


def _batch_reps(results: object) -> str:
    return str(sum(r.rep_count for r in results))  # type: ignore[attr-defined]


def build_methods(long: Session, sessions: list[Session], workers: int, pool: cf.Executor) -> list[Method]:
    """The rows, with their callables bound to the prepared inputs."""
    s = long.samples
    assert s.gyr_dps is not None
    n = len(s)
    ts = 1.0 / FS_HZ
    gyr_rad = np.ascontiguousarray(np.radians(s.gyr_dps))
    acc_mps2 = np.ascontiguousarray(s.acc_g * G0_MPS2)
    acc_only = ImuSamples(s.time_s, s.acc_g, None)
    recs = [x.samples for x in sessions]
    n_batch = sum(len(r) for r in recs)

    def serial() -> list[object]:
        return [analyze(r) for r in recs]

    return [
        Method("hipflex analyze", "orientation+angle+reps+metrics", "1", n, lambda: analyze(s), _reps_of),
        Method(
            "VQF.updateBatch", "orientation (6D quaternion)", "1", n, lambda: VQF(ts).updateBatch(gyr_rad, acc_mps2)
        ),
        Method(
            "BasicVQF.updateBatch",
            "orientation (6D quaternion)",
            "1",
            n,
            lambda: BasicVQF(ts).updateBatch(gyr_rad, acc_mps2),
        ),
        Method(
            "scipy butter+filtfilt+find_peaks",
            "acc tilt, low-pass, peaks",
            "1",
            n,
            lambda: scipy_reps(s.time_s, s.acc_g, FS_HZ),
            lambda p: str(len(p)),  # type: ignore[arg-type]
        ),
        Method(
            "hipflex analyze, acc-only", "pendulum EKF+angle+reps+metrics", "1", n, lambda: analyze(acc_only), _reps_of
        ),
        Method(f"batch x{len(recs)}, serial", "full analysis per recording", "1", n_batch, serial, _batch_reps),
        Method(
            f"batch x{len(recs)}, thread pool",
            "analyze_many (threads, nogil)",
            str(workers),
            n_batch,
            lambda: analyze_many(recs, workers=workers),
            _batch_reps,
        ),
        Method(
            f"batch x{len(recs)}, process pool",
            "analyze_many (spawned processes)",
            str(workers),
            n_batch,
            lambda: analyze_many(recs, executor=pool),
            _batch_reps,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1_050_000, help="rows of the long recording (at least)")
    ap.add_argument("--sessions", type=int, default=16, help="sessions the recording is made of")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per method (best is reported)")
    ap.add_argument("--workers", type=int, default=0, help="batch pool size (default: usable cores)")
    ap.add_argument("--seed", type=int, default=1, help="first simulation seed")
    args = ap.parse_args(argv)
    workers = args.workers or default_workers()

    print("hipflex throughput benchmark (offline analysis vs peers, one process, one run)")
    for line in machine_lines():
        print(line)

    t0 = time.perf_counter()
    per_session_s = args.samples / FS_HZ / args.sessions * 1.02
    sessions = simulate_sessions(args.sessions, per_session_s, fs_hz=FS_HZ, seed=args.seed, jitter_s=0.0005)
    long = concatenate(sessions)
    while len(long.samples) < args.samples:  # the planner may fall a little short
        sessions += simulate_sessions(1, per_session_s, fs_hz=FS_HZ, seed=args.seed + len(sessions))
        long = concatenate(sessions)
    sim_s = time.perf_counter() - t0
    n = len(long.samples)
    print(
        f"input: {len(sessions)} simulated mixed-drill sessions back to back, {n} rows "
        f"({n / FS_HZ / 3600:.2f} h at {FS_HZ:.0f} Hz, acc+gyro), {len(long.truth_reps)} true reps; "
        f"simulated in {sim_s:.1f} s"
    )

    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        methods = build_methods(long, sessions, workers, pool)
        t0 = time.perf_counter()
        for m in methods:  # warm-up: numba cache load/compile, pool start-up, allocator
            m.reps = m.count(m.run())
        for _ in range(max(1, workers)):  # every process-pool worker loads the kernels once
            analyze_many([sessions[0].samples], executor=pool)
        print(f"warm-up (compile or cache load, pool start): {time.perf_counter() - t0:.1f} s")
        for _ in range(args.repeats):
            for m in methods:
                c1 = time.thread_time()
                t1 = time.perf_counter()
                m.run()
                dt = time.perf_counter() - t1
                m.best_cpu_s = min(m.best_cpu_s, time.thread_time() - c1)
                m.times.append(dt)
                m.best_s = min(m.best_s, dt)

    by = {m.name: m for m in methods}
    hip = methods[0]
    vqf, basic, sci = by["VQF.updateBatch"], by["BasicVQF.updateBatch"], by["scipy butter+filtfilt+find_peaks"]
    serial = methods[5]
    rows = []
    for m in methods:
        spread = max(m.times) / m.best_s
        rows.append(
            [
                m.name,
                m.computes,
                m.threads,
                f"{m.n_samples:,}",
                f"{m.best_s * 1e3:.1f}",
                f"{spread:.2f}",
                f"{m.rate / 1e6:.2f}",
                f"{m.rate / vqf.rate:.2f}",
                f"{m.rate / FS_HZ:,.0f}",
                m.reps,
            ]
        )
    print()
    print_table(
        [
            "method",
            "computes",
            "threads",
            "samples",
            "best ms",
            "worst/best",
            "Msamples/s",
            "x VQF.updateBatch",
            "x real time",
            "reps",
        ],
        rows,
        title=f"best of {args.repeats} (round-robin); true reps in the recording: {len(long.truth_reps)}; "
        f"batch rows: {len(sessions)} recordings, {sum(len(x.truth_reps) for x in sessions)} true reps",
        left=2,
    )
    print()
    print(
        f"hipflex full / acc-only: {hip.rate / by['hipflex analyze, acc-only'].rate:.2f}; "
        f"batch speed-up over serial: threads {methods[6].rate / serial.rate:.2f}x, "
        f"processes {methods[7].rate / serial.rate:.2f}x on {workers} workers"
    )
    # The CPU time of the thread that ran them (the one-thread rows only): time
    # spent waiting for a core shared with other work does not count, nor
    # what other threads of this process do meanwhile (BLAS threads spinning
    # after the scipy row, the pools' housekeeping).
    print(
        f"by CPU time (one-thread rows): hipflex {hip.n_samples / hip.best_cpu_s / 1e6:.2f} Msamples/s, "
        f"{vqf.best_cpu_s / hip.best_cpu_s:.2f}x VQF.updateBatch, acc-only "
        f"{vqf.best_cpu_s / by['hipflex analyze, acc-only'].best_cpu_s:.2f}x VQF.updateBatch"
    )
    print(
        f"throughput: hipflex {hip.rate / 1e6:.2f} Msamples/s, {hip.rate / vqf.rate:.2f}x VQF.updateBatch, "
        f"{hip.rate / basic.rate:.2f}x BasicVQF, {hip.rate / sci.rate:.2f}x scipy"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

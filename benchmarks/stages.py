"""Where the time of ``hipflex analyze`` goes: CPU time per stage on the throughput benchmark's recording.

Run: ``python benchmarks/stages.py [--samples 1050000] [--sessions 16] [--repeats 15] [--acc-only]``.

The input is :mod:`throughput`'s (the same simulated sessions back to back, same seed).
Each stage is a function of :mod:`hipflex.dsp.pipeline` wrapped by a timer for this run
(``_run_chunk`` the main-loop kernel, ``retime`` the timeline, ``_absorb`` the event rows
to reps, the boundary checks, the learning phase); times are exclusive (a stage called
inside another counts once) and in the CPU time of the thread that runs them, so waiting for a core on a
shared machine does not count.  Each stage's figure is its best over ``--repeats``
analyses; ``rest`` is the best total minus their sum.  ``VQF.updateBatch`` is timed the
same way for the ratio, and every stage is set against the 40 ns per sample (25 M
samples/s per core) of a Mahony-class orientation update.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from vqf import VQF

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import concatenate, machine_lines, print_table, simulate_sessions

import hipflex.dsp._kernel_replay as kernel_replay
import hipflex.dsp.absorb as absorb
import hipflex.dsp.flexion_sign as flexion_sign
import hipflex.dsp.learning_flow as learning_flow
import hipflex.dsp.pipeline as pipeline
import hipflex.dsp.session_result as session_result
from hipflex.dsp import ImuSamples

FS_HZ = 200.0
G0_MPS2 = 9.80665
MAHONY_NS = 40.0  # 25 M samples/s per core
STAGES = (
    "_run_chunk",
    "retime",
    "_absorb",
    "check_samples",
    "_check_chunk",
    "check_gyro_frame",
    "make_set",
    "_learn",
    "_confirm_sign",
    "_identify",
    "_make_kernel",
    "_rewind",
    "_finish",
    "result",
    # Once per recording, in the learning phase (dsp/learning_flow.py).
    "settled_elsewhere",
    "ready_kernel",
    "learn",
    # Per arriving chunk and per closed set.
    "accumulate_lever_checked",
    "accumulate_angle_rate",
    "described_sets",
    "feed_dwells",
    # The gyro bias at the first rest (its re-run, if it fires, counts in the stages above).
    "_rebias",
    "rest_window",
)


def _timed(name: str, fn: Callable[..., Any], spent: dict[str, float], stack: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        stack.append(0.0)
        try:
            return fn(*args, **kwargs)
        finally:
            dt = time.thread_time() - t0
            inner = stack.pop()
            spent[name] += dt - inner
            if stack:
                stack[-1] += dt

    return wrapper


def main(argv: list[str] | None = None) -> int:
    """Profile the stages and print the table; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1_050_000)
    ap.add_argument("--sessions", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--acc-only", action="store_true", help="the recording without its gyro columns")
    args = ap.parse_args(argv)

    print("hipflex stage profile (CPU time per stage of analyze(), exclusive, best of --repeats)")
    for line in machine_lines():
        print(line)
    per_session_s = args.samples / FS_HZ / args.sessions * 1.02
    sessions = simulate_sessions(args.sessions, per_session_s, fs_hz=FS_HZ, seed=args.seed, jitter_s=0.0005)
    long = concatenate(sessions)
    while len(long.samples) < args.samples:
        sessions += simulate_sessions(1, per_session_s, fs_hz=FS_HZ, seed=args.seed + len(sessions))
        long = concatenate(sessions)
    s = long.samples
    assert s.gyr_dps is not None
    rec = ImuSamples(s.time_s, s.acc_g, None) if args.acc_only else s
    n = len(rec)

    spent: dict[str, float] = defaultdict(float)
    stack: list[float] = []
    for name in STAGES:
        # Where the pipeline's modules call it (make_set: the event absorption's, since dsp/absorb.py;
        # the gyro frame check and the other-pose search: the learning phase's).
        for mod in (pipeline, session_result, absorb, learning_flow, flexion_sign, kernel_replay):
            if hasattr(mod, name):
                setattr(mod, name, _timed(name, getattr(mod, name), spent, stack))
    pipeline.analyze(rec)  # warm-up: numba cache load
    best: dict[str, float] = {}
    best_total = float("inf")
    reps = 0
    for _ in range(args.repeats):
        spent.clear()
        t0 = time.thread_time()
        reps = pipeline.analyze(rec).rep_count
        best_total = min(best_total, time.thread_time() - t0)
        for k, v in spent.items():
            best[k] = min(v, best.get(k, float("inf")))
    gyr_rad = np.ascontiguousarray(np.radians(s.gyr_dps))
    acc_mps2 = np.ascontiguousarray(s.acc_g * G0_MPS2)
    best_vqf = float("inf")
    for _ in range(args.repeats):
        t0 = time.thread_time()
        VQF(1.0 / FS_HZ).updateBatch(gyr_rad, acc_mps2)
        best_vqf = min(best_vqf, time.thread_time() - t0)

    def row(name: str, sec: float) -> list[str]:
        ns = sec / n * 1e9
        return [
            name,
            f"{sec:.4f}",
            f"{100 * sec / best_total:.1f}",
            f"{n / sec / 1e6:.1f}" if sec > 0 else "-",
            f"{ns:.1f}",
            f"{ns / MAHONY_NS:.2f}",
        ]

    shown = sorted(((k, v) for k, v in best.items() if v > 0), key=lambda kv: -kv[1])
    rows = [row(k, v) for k, v in shown]
    rows.append(row("(rest of analyze)", max(0.0, best_total - sum(best.values()))))
    rows.append(row("analyze, total", best_total))
    rows.append(row("VQF.updateBatch (6D quaternion only)", best_vqf))
    print()
    print_table(
        ["stage", "CPU s", "share %", "Msamples/s", "ns/sample", "x Mahony 40 ns"],
        rows,
        title=f"{n:,} rows ({'acc-only' if args.acc_only else 'acc+gyro'}, {FS_HZ:.0f} Hz), {reps} reps",
        left=1,
    )
    print()
    print(f"stages: analyze {n / best_total / 1e6:.2f} Msamples/s CPU, {best_vqf / best_total:.2f}x VQF.updateBatch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

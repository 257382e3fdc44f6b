"""Contract violations of the core over many generated sessions, hostile ones included.

Run ``python benchmarks/contract.py [--sessions N] [--workers W]``.  Session
``i`` (seed ``seed_base + i``) is, in turn, one of the hostile kinds of
``_hostile.HOSTILE_KINDS`` (garbage, noise, flat lines, steps, spikes, random
swings, clipped swings, swings with garbage) at a random rate, length, gyro or
not, with NaN runs, jittered, bursty and lost time stamps, or a session from
the project simulator (random drill, rate, range, mounting, impairments);
each is analysed whole or in random chunks, at ``min_rom_deg`` 20, 8 or 45.

It prints the violations of the invariants (``hipflex.dsp.contract``) found
in the results, the reps the pipeline's safety net withheld (``contract:``
rejections: the core emitted them), and exceptions, by kind.  All three
should be zero.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hostile import HOSTILE_KINDS, RATES_HZ, analyse_in_chunks, hostile, simulated

from hipflex.dsp import Settings
from hipflex.dsp.contract import CONTRACT_REASON_PREFIX, violations


def run_one(seed: int) -> tuple[int, str, list[str]]:
    """Analyse session ``seed``; return (seed, what it was, problems as 'kind' strings)."""
    rng = np.random.default_rng(seed)
    which = seed % (len(HOSTILE_KINDS) + 2)
    min_rom = float(rng.choice([20.0, 20.0, 8.0, 45.0]))
    cfg = Settings(min_rom_deg=min_rom, candidate_deg=min(8.0, min_rom / 2))
    try:
        if which < len(HOSTILE_KINDS):
            kind = HOSTILE_KINDS[which]
            samples = hostile(
                kind, rng, float(rng.choice(RATES_HZ)), float(rng.uniform(2.0, 60.0)), bool(rng.random() < 0.5)
            )
        else:
            kind = "simulated"
            samples = simulated(seed)
            cfg = Settings()
        if len(samples) < 2:
            return seed, kind, []
        est = analyse_in_chunks(samples, cfg, rng if rng.random() < 0.5 else None)
    except ValueError as exc:
        # The boundary's unit check refusing a still stretch that reads no
        # acceleration in g is an answer (nothing is emitted), not a failure.
        if str(exc).startswith("acc_g must be in g"):
            return seed, "refused by the unit check", []
        return seed, "error", [f"error:{type(exc).__name__}: {exc}"[:120]]
    except Exception as exc:  # a benchmark reports failures, it does not stop
        return seed, "error", [f"error:{type(exc).__name__}: {exc}"[:120]]
    problems = [f"violation:{v.kind}" for v in violations(est)]
    problems += [f"withheld:{r.reason}" for r in est.quality.rejections if r.reason.startswith(CONTRACT_REASON_PREFIX)]
    return seed, kind, problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=300, help="number of sessions (10000 for the full check)")
    ap.add_argument("--seed-base", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--show", type=int, default=10, help="list this many failing seeds")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    seeds = range(args.seed_base, args.seed_base + args.sessions)
    by_kind: collections.Counter[str] = collections.Counter()
    sessions: collections.Counter[str] = collections.Counter()
    failing: list[tuple[int, str, list[str]]] = []
    with cf.ProcessPoolExecutor(max_workers=args.workers) as pool:
        for seed, kind, problems in pool.map(run_one, seeds, chunksize=8):
            sessions[kind] += 1
            by_kind.update(problems)
            if problems:
                failing.append((seed, kind, problems))
    elapsed = time.perf_counter() - t0
    print(f"{args.sessions} sessions (seeds {seeds.start}..{seeds.stop - 1}) in {elapsed:.0f} s:")
    print("  " + ", ".join(f"{k} {n}" for k, n in sorted(sessions.items())))
    print(f"sessions with a problem: {len(failing)}")
    for k, n in sorted(by_kind.items()):
        print(f"  {k}: {n}")
    for seed, kind, problems in failing[: args.show]:
        print(f"  seed {seed} ({kind}): {', '.join(problems[:4])}")
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Accelerometer-only accuracy with a clipping accelerometer range, against the same sessions unclipped.

Run ``python benchmarks/clipping.py`` (``--help`` for options).  For every seed,
drill (march, stride, ballistic and a mixed session of those), rate and range, it
simulates one accelerometer-only session twice from the same seed -- once with
the accelerometer clipping at +-range, once at +-16 g (nothing clips) -- and
scores both with ``accuracy.score``.  Same motion, mounting and sensor errors:
the only difference is the clipping, so the "unclipped" columns are what the
clipped session should come close to.

Seeds: the default ``--seed-base 300000`` is a block the tuning never saw.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _truth import true_reps
from accuracy import Case, CaseResult, score

from hipflex.dsp import Settings, analyze

DRILLS = ("march", "stride", "ballistic", "mixed")
RATES_HZ = (100.0, 200.0)
RANGES_G = (2.0, 4.0)
REFERENCE_RANGE_G = 16.0


@dataclass(frozen=True)
class ClipCase:
    """One session: drill, rate, clipping range and seed."""

    drill: str
    fs_hz: float
    range_g: float
    seed: int


def _plan(drill: str, rng: np.random.Generator):
    from hipflex.sensor.sim.simulate import Segment, SessionPlan, plan_session

    if drill != "mixed":
        return plan_session(drill, rng, n_sets=3)  # type: ignore[arg-type]
    # A mixed session: one set each of march, stride and ballistic, in random order, with rests between.
    parts = [plan_session(d, rng, n_sets=1) for d in rng.permutation(["march", "stride", "ballistic"])]
    segs = [parts[0].segments[0]]
    for i, p in enumerate(parts):
        if i > 0:
            segs.append(Segment("rest", float(rng.uniform(12.0, 25.0))))
        segs.append(next(s for s in p.segments if s.kind == "set"))
    segs.append(Segment("stand", 4.0))
    return SessionPlan(tuple(segs))


def evaluate(case: ClipCase) -> tuple[ClipCase, CaseResult, CaseResult, int]:
    """Simulate the session clipped and unclipped; score both; and count the clipped rows."""
    from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate

    out = []
    clipped = 0
    for range_g in (case.range_g, REFERENCE_RANGE_G):
        rng = np.random.default_rng(case.seed)
        mounting = Mounting.random(rng)
        plan = _plan(case.drill, rng)
        sensor = SensorModel(fs_hz=case.fs_hz, has_gyro=False, acc_range_g=range_g)
        res = CaseResult(Case(case.drill, case.fs_hz, False, f"{range_g:g} g", case.seed), mounting.placement)
        try:
            sim = simulate(plan, mounting, sensor, seed=case.seed)
            est = analyze(sim.samples, Settings())
        except Exception as exc:  # a benchmark reports failures, it does not stop
            res.error = f"{type(exc).__name__}: {exc}"
            out.append(res)
            continue
        if range_g == case.range_g:
            clipped = int(np.sum(np.any(np.abs(sim.samples.acc_g) >= range_g, axis=1)))
        windows = [(r.set_index, r.low_s, r.peak_s, r.trough_s) for r in sim.truth.reps]
        truth = true_reps(sim.truth.time_s, sim.truth.angle_deg, sim.truth.velocity_dps, windows)
        score(res, est, truth, sim.truth.sets, sim.truth.rests)
        out.append(res)
    return case, out[0], out[1], clipped


def _row(label: str, group: list[tuple[ClipCase, CaseResult, CaseResult, int]]) -> str:
    def stats(results: list[CaseResult]) -> tuple[str, str, str]:
        ce = np.array([e for r in results for e in r.set_count_errors])
        pa = np.abs([e for r in results for e in r.peak_angle_err_deg])
        exact = f"{100.0 * np.mean(ce == 0):.1f}" if ce.size else "—"
        worst = str(int(np.max(np.abs(ce)))) if ce.size else "—"
        mae = f"{np.mean(pa):.2f}" if pa.size else "—"
        return exact, worst, mae

    clip = stats([g[1] for g in group])
    ref = stats([g[2] for g in group])
    n_sets = sum(len(g[1].set_count_errors) for g in group)
    rows = [g[3] for g in group]
    failed = sum(1 for g in group if g[1].error or g[2].error)
    return (
        f"| {label} | {len(group)} | {n_sets} | {min(rows)}-{max(rows)} | {clip[0]} | {clip[1]} | {clip[2]} "
        f"| {ref[0]} | {ref[1]} | {ref[2]} | {failed} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-base", type=int, default=300_000, help="first seed (tuning used < 10000)")
    ap.add_argument("--seeds-per-cell", type=int, default=2, help="sessions per drill x rate x range")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--failures", action="store_true", help="list the sessions with a wrong set count")
    args = ap.parse_args(argv)
    cases = []
    seed = args.seed_base
    for drill in DRILLS:
        for fs in RATES_HZ:
            for range_g in RANGES_G:
                for _ in range(args.seeds_per_cell):
                    cases.append(ClipCase(drill, fs, range_g, seed))
                    seed += 1
    with cf.ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(evaluate, cases))
    print("Accelerometer only; each session also run at +-16 g (nothing clips) from the same seed.\n")
    print(
        "| group | sessions | sets | clipped rows | sets exact % | worst | peak angle MAE ° "
        "| unclipped: sets exact % | worst | peak angle MAE ° | failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(_row("**all**", results))
    for range_g in RANGES_G:
        print(_row(f"+-{range_g:g} g", [r for r in results if r[0].range_g == range_g]))
    for drill in DRILLS:
        for range_g in RANGES_G:
            print(
                _row(
                    f"{drill}, +-{range_g:g} g", [r for r in results if r[0].drill == drill and r[0].range_g == range_g]
                )
            )
    for fs in RATES_HZ:
        print(_row(f"{fs:g} Hz", [r for r in results if r[0].fs_hz == fs]))
    print(f"\n{len(cases)} sessions, seeds {cases[0].seed}..{cases[-1].seed}.")
    if args.failures:
        for c, r, ref, n in results:
            if any(r.set_count_errors) or r.error:
                print(
                    f"  seed {c.seed} {c.drill} {c.fs_hz:g} Hz +-{c.range_g:g} g, {n} clipped rows: "
                    f"set errors {r.set_count_errors} (unclipped {ref.set_count_errors}) {r.error}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

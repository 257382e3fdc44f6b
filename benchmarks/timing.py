"""Timestamp models: does the count or a metric notice how rows were stamped?

Each session (a drill at a rate, with or without gyro, from one seed) is
simulated once per timestamp model of ``hipflex.sensor.sim.sensor`` -- the
same motion and sensor errors, only the stamping (and, for the loss rows, the
same rows lost) differs -- and scored against the truth as in
``accuracy.py``.  The table gives, per model and mode: sets exact, the worst
set, the reported sample rate's largest error, gaps and lost time without
loss (should be 0), the lost time's error with loss, and how many sessions
count exactly as with clean stamps ("loss 2%" is the reference for the two
loss rows: the same rows lost, clean stamps).  Loss is the simulator's
row-level burst loss, so with arrival stamps part of a notification can be
lost -- a loss hidden inside the burst's latency noise is not found.

    python benchmarks/timing.py --seeds 300000:300040 --workers 1

Seeds cycle through drills x rates x modes; report on held-out seeds
(300000+), tune below 10000.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _truth import true_reps
from accuracy import DRILLS, RATES_HZ, Case, CaseResult, score

from hipflex.dsp import Settings, analyze
from hipflex.sensor.format_spec import validate_samples
from hipflex.sensor.sim.sensor import SensorModel
from hipflex.sensor.sim.simulate import simulate_drill

MODELS = (
    "clean",
    "jitter uniform 45%",
    "jitter gauss to 45%",
    "arrival bursts",
    "bursts +-100 ppm",
    "dup + swapped rows",
    "loss 2%",
    "loss 2% + jitter 45%",
    "loss 2% + bursts",
)


def _timing(model: str, fs_hz: float, rng: np.random.Generator) -> dict[str, object]:
    """The SensorModel fields of one timestamp model (bursts: 10-70 rows, latency to 30 ms)."""
    p = 1.0 / fs_hz
    bursts = dict(
        notify_rows=int(rng.integers(10, 71)),
        notify_latency_s=float(rng.uniform(0.0, 0.03)),
        notify_spread_s=float(rng.choice([0.0, 0.0005])),
    )
    jitter = dict(jitter_kind="uniform", jitter_s=0.45 * p, jitter_max_period=0.45)
    table: dict[str, dict[str, object]] = {
        "clean": {},
        "jitter uniform 45%": jitter,
        "jitter gauss to 45%": dict(jitter_s=0.2 * p, jitter_max_period=0.45),
        "arrival bursts": bursts,
        "bursts +-100 ppm": dict(bursts, clock_drift_ppm=float(rng.choice([-100.0, 100.0]))),
        "dup + swapped rows": dict(jitter_s=0.1 * p, duplicate_rows=3, swapped_pairs=3),
        "loss 2%": dict(loss_fraction=0.02),
        "loss 2% + jitter 45%": dict(jitter, loss_fraction=0.02),
        "loss 2% + bursts": dict(bursts, loss_fraction=0.02),
    }
    return table[model]


@dataclass
class TimingResult:
    """One session under one timestamp model."""

    model: str
    case: Case
    scored: CaseResult
    rate_err_pct: float = math.nan
    gaps: int = 0
    lost_s: float = 0.0
    true_lost_s: float = 0.0
    rep_count: int = -1


def _case(seed: int) -> Case:
    i = seed % (len(DRILLS) * len(RATES_HZ) * 2)
    drill = DRILLS[i % len(DRILLS)]
    fs = RATES_HZ[(i // len(DRILLS)) % len(RATES_HZ)]
    gyro = (i // (len(DRILLS) * len(RATES_HZ))) % 2 == 0
    return Case(drill, fs, gyro, "timing", seed)


def evaluate(seed: int) -> list[TimingResult]:
    """Every timestamp model of one seed's session."""
    case = _case(seed)
    out = []
    for model in MODELS:
        rng = np.random.default_rng([seed, MODELS.index(model)])
        timing = _timing(model, case.fs_hz, rng)
        sensor = SensorModel(fs_hz=case.fs_hz, has_gyro=case.has_gyro, time_offset_s=1000.0, **timing)  # type: ignore[arg-type]
        res = TimingResult(model, case, CaseResult(case, "random"))
        try:
            sim = simulate_drill(
                case.drill, fs_hz=case.fs_hz, has_gyro=case.has_gyro, seed=seed, n_sets=3, sensor=sensor
            )
            s = sim.samples
            if sensor.duplicate_rows or sensor.swapped_pairs:
                s = validate_samples("sim", s.time_s, s.acc_g, s.gyr_dps)  # what every loader does
            est = analyze(s, Settings())
        except Exception as exc:  # a benchmark reports failures, it does not stop
            res.scored.error = f"{type(exc).__name__}: {exc}"
            out.append(res)
            continue
        windows = [(r.set_index, r.low_s, r.peak_s, r.trough_s) for r in sim.truth.reps]
        truth = true_reps(sim.truth.time_s, sim.truth.angle_deg, sim.truth.velocity_dps, windows)
        score(res.scored, est, truth, sim.truth.sets, sim.truth.rests)
        drift = sensor.clock_drift_ppm * 1e-6
        true_rate = case.fs_hz * (1.0 + drift) if sensor.notify_rows else case.fs_hz
        res.rate_err_pct = 100.0 * (est.sample_rate_hz / true_rate - 1.0)
        res.gaps = est.quality.gaps
        res.lost_s = est.quality.lost_s
        idx = sim.device_index
        res.true_lost_s = 0.0 if idx is None else float(idx[-1] - idx[0] + 1 - len(np.unique(idx))) / case.fs_hz
        res.rep_count = est.rep_count
        out.append(res)
    return out


def table(results: list[TimingResult]) -> str:
    """One row per timestamp model and mode."""
    clean = {(r.case.seed): r.rep_count for r in results if r.model == "clean"}
    lines = [
        "| stamps | mode | sessions | sets exact | worst set | rate err max | gaps, lost (no loss) "
        "| lost err (loss) | count = clean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        for gyro in (True, False):
            rs = [r for r in results if r.model == model and r.case.has_gyro == gyro]
            if not rs:
                continue
            errs = [e for r in rs for e in r.scored.set_count_errors]
            failed = sum(1 for r in rs if r.scored.error)
            exact = 100.0 * np.mean([e == 0 for e in errs]) if errs else math.nan
            worst = max((abs(e) for e in errs), default=0)
            rate = max((abs(r.rate_err_pct) for r in rs if math.isfinite(r.rate_err_pct)), default=math.nan)
            if "loss" in model:
                rel = [abs(r.lost_s / r.true_lost_s - 1.0) for r in rs if r.true_lost_s > 0 and not r.scored.error]
                lost = f"median {100 * np.median(rel):.1f} %, max {100 * max(rel):.1f} %" if rel else "-"
                noloss = "-"
            else:
                lost = "-"
                noloss = f"{sum(r.gaps for r in rs)}, {sum(r.lost_s for r in rs):.2f} s"
            same = sum(1 for r in rs if r.rep_count == clean.get(r.case.seed, -2))
            fail = f" ({failed} failed)" if failed else ""
            lines.append(
                f"| {model} | {'acc+gyro' if gyro else 'acc-only'} | {len(rs)}{fail} | {exact:.1f} % | {worst} "
                f"| {rate:.3f} % | {noloss} | {lost} | {same}/{len(rs)} |"
            )
    return "\n".join(lines)


def parse_seeds(spec: str) -> list[int]:
    """``A:B`` (B excluded) or a comma list."""
    if ":" in spec:
        a, b = spec.split(":")
        return list(range(int(a), int(b)))
    return [int(x) for x in spec.split(",")]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="300000:300040", help="A:B (B excluded) or a comma list; tuning: < 10000")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = [r for rs in pool.map(evaluate, seeds) for r in rs]
    print(
        f"## Timestamp models: {len(seeds)} sessions x {len(MODELS)} models, seeds {seeds[0]}..{seeds[-1]}; "
        f"{time.perf_counter() - t0:.0f} s\n"
    )
    print(table(results))
    for r in results:
        if r.scored.error:
            print(f"  seed {r.case.seed} {r.model}: {r.scored.error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

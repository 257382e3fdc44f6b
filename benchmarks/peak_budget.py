"""Error budget of the peak angle with a gyro on the widened simulator, rep by rep.

Run ``python benchmarks/peak_budget.py --seeds 0:200`` (tuning seeds; ``--help``
for options).  For every true rep of every acc+gyro session of
:mod:`hipflex.sensor.sim.wide` that the analysis found, it records the peak
angle error (reported minus the contract's continuous true peak) and splits
the mean absolute error by drill, sample rate, placement, lever, packet loss,
position in the set, set, lead-in, time since calibration and "within 10 s
after a > 0.1 s gap".  Two decompositions say what kind of error it is:

* ``sampled``: the true angle's maximum over the rep at the sample instants
  minus the continuous peak (the part a perfect filter with the sampled
  maximum as peak would still show: a peak between samples);
* bias / scatter: the MAE of each session's mean error against the MAE of the
  errors around it (a calibration, heading or scale error is a per-session
  bias; peak timing, noise and gaps scatter).

``--ideal gyr_scale_err,gyr_bias_dps`` re-simulates with those sensor-model
fields set to 0 (the other random draws are unchanged: each impairment has its
own stream), to measure what one error source is worth.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _truth import contract_reference_deg, true_reps

from hipflex.dsp import Settings
from hipflex.dsp.pipeline import analyze_with_angle
from hipflex.sensor.sim.wide import WideCase, draw_wide_case, simulate_wide

#: A gap longer than this re-anchors the filter (``_kern_gap``), s.
GAP_S = 0.1
#: Reps whose peak is this soon after such a gap count as "after a gap", s.
AFTER_GAP_S = 10.0


@dataclasses.dataclass(frozen=True)
class RepError:
    """One matched rep's peak error and the factors it is split by (deg, s, m)."""

    seed: int
    drill: str
    fs_hz: float
    placement: str
    lever_m: float
    loss: bool
    lead_in: str
    set_index: int
    rep_in_set: int
    since_calibration_s: float
    after_gap: bool
    error_deg: float
    sampled_error_deg: float


def session_errors(
    seed: int, ideal: tuple[str, ...] = (), change: Callable[[WideCase], WideCase] | None = None
) -> list[RepError]:
    """Peak errors of every found rep of seed ``seed`` (empty without a gyro).

    ``change`` edits the drawn case before it is simulated (after ``ideal``):
    ``gyro_causes.py`` removes one cause of error at a time with it.
    """
    case = draw_wide_case(seed)
    if not case.sensor.has_gyro:
        return []
    if ideal:
        zeroed: dict[str, object] = dict.fromkeys(ideal, 0.0)
        case = dataclasses.replace(case, sensor=dataclasses.replace(case.sensor, **zeroed))  # type: ignore[arg-type]
    if change is not None:
        case = change(case)
    sim = simulate_wide(case)
    est, _ = analyze_with_angle(sim.samples, Settings())
    q = est.quality
    cal_s = q.calibrated_at_s if q.calibrated_at_s is not None else float(sim.samples.time_s[0])
    ref = contract_reference_deg(sim.truth.time_s, sim.truth.angle_deg, q.calibrated_at_s, q.calibration_window_s)
    windows = [(r.set_index, r.low_s, r.peak_s, r.trough_s) for r in sim.truth.reps]
    truth = true_reps(sim.truth.time_s, sim.truth.angle_deg - ref, sim.truth.velocity_dps, windows)
    t = np.asarray(sim.samples.time_s)
    sampled = np.interp(t, sim.truth.time_s, sim.truth.angle_deg - ref)
    gap_ends = np.array([g.end_s for g in q.gap_list if g.end_s - g.start_s > GAP_S])
    reps = list(est.reps)
    peaks = np.array([r.peak_s for r in reps])
    out: list[RepError] = []
    seen: dict[int, int] = {}
    for tr in truth:
        k = seen.get(tr.set_index, 0)
        seen[tr.set_index] = k + 1
        inside = np.flatnonzero((peaks >= tr.start_s) & (peaks <= tr.end_s))
        if inside.size == 0:
            continue
        rep = reps[int(inside[np.argmin(np.abs(peaks[inside] - tr.peak_s))])]
        in_rep = (t >= tr.start_s) & (t <= tr.end_s)
        since_gap = tr.peak_s - gap_ends
        out.append(
            RepError(
                seed=seed,
                drill=case.drill,
                fs_hz=case.sensor.fs_hz,
                placement=case.placement_label,
                lever_m=case.mounting.distance_below_hip_m,
                loss=case.sensor.loss_fraction > 0.0,
                lead_in=case.lead_in,
                set_index=tr.set_index,
                rep_in_set=k,
                since_calibration_s=tr.peak_s - cal_s,
                after_gap=bool(np.any((since_gap >= -0.05) & (since_gap < AFTER_GAP_S))),
                error_deg=rep.peak_flexion_deg - tr.peak_flexion_deg,
                sampled_error_deg=float(sampled[in_rep].max() - tr.peak_flexion_deg) if in_rep.any() else np.nan,
            )
        )
    return out


FACTORS: dict[str, Callable[[RepError], object]] = {
    "drill": lambda r: r.drill,
    "rate, Hz": lambda r: r.fs_hz,
    "placement": lambda r: r.placement,
    "lever, cm": lambda r: int(round(100 * r.lever_m / 5.0) * 5),
    "packet loss": lambda r: r.loss,
    "within 10 s after a gap": lambda r: r.after_gap,
    "rep in set": lambda r: f"{min(r.rep_in_set, 12) // 3 * 3:02d}+",
    "set": lambda r: r.set_index,
    "lead-in": lambda r: r.lead_in,
    "since calibration, s": lambda r: f"{max(min(int(r.since_calibration_s // 30) * 30, 120), -60):+04d}",
}


def report(rows: list[RepError]) -> str:
    """The budget as markdown tables."""
    err = np.array([r.error_deg for r in rows])
    lines = [
        f"{len(rows)} reps: MAE {np.mean(np.abs(err)):.3f} deg, mean {np.mean(err):+.3f}, median |e| "
        f"{np.median(np.abs(err)):.3f}"
    ]
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        by_seed.setdefault(r.seed, []).append(r.error_deg)
    bias = np.concatenate([np.full(len(v), abs(np.mean(v))) for v in by_seed.values()])
    scatter = np.concatenate([np.asarray(v) - np.mean(v) for v in by_seed.values()])
    lines.append(f"per-session bias MAE {bias.mean():.3f}, scatter around it MAE {np.abs(scatter).mean():.3f}")
    for name, key in FACTORS.items():
        groups: dict[object, list[RepError]] = {}
        for r in rows:
            groups.setdefault(key(r), []).append(r)
        lines += ["", f"| {name} | reps | MAE | mean | share of sum abs | sampled peak |", "|---|---|---|---|---|---|"]
        total = np.sum(np.abs(err))
        for g in sorted(groups, key=str):
            e = np.array([r.error_deg for r in groups[g]])
            s = np.array([r.sampled_error_deg for r in groups[g]])
            lines.append(
                f"| {g} | {e.size} | {np.mean(np.abs(e)):.2f} | {np.mean(e):+.2f} | "
                f"{100 * np.sum(np.abs(e)) / total:.0f} % | {np.nanmean(s):+.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0:200", help="a:b, tuning seeds are below 10000")
    ap.add_argument("--ideal", default="", help="comma-separated SensorModel fields set to 0")
    args = ap.parse_args()
    a, b = (int(x) for x in args.seeds.split(":"))
    ideal = tuple(x for x in args.ideal.split(",") if x)
    t0 = time.perf_counter()
    rows = [r for seed in range(a, b) for r in session_errors(seed, ideal)]
    print(report(rows))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

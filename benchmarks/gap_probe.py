"""What one known gap does to the flexion angle with a gyro, row by row.

Run ``python benchmarks/gap_probe.py --seeds 0:40`` (tuning seeds only).  Each
acc+gyro session of :mod:`hipflex.sensor.sim.wide` is simulated without packet
loss, analysed once as it is (the reference angle), then once per probe with
the rows of one gap cut out: gaps of ``--gaps`` seconds starting at fractions
``--phases`` of a true rep's rise-and-fall (low -> peak -> trough) of the
middle rep of each set.  It reports the angle after the gap minus the
reference angle (the gap's own effect, the filter's other errors cancel) in
three stretches: the post-gap window, the 2 s after it, and the next four
peaks.  The per-row angle (``analyze_with_angle``) is the one each row had
when it was processed: inside the window that is before the re-anchoring
(the detector reads the corrected history), and a window that ends early
leaves the stretch after ``WINDOW_S`` clean while a window cut short by a
turn makes "window" read partly corrected rows; "peaks" is the measure.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hipflex.dsp import ImuSamples, Settings
from hipflex.dsp.pipeline import analyze_with_angle
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

#: The longest post-gap window after the gap (``_kern_run._PG_WINDOW_S + _PG_SEEK_S``), s.
WINDOW_S = 2.5


@dataclasses.dataclass(frozen=True)
class Probe:
    """One cut gap's effect, deg (cut minus reference)."""

    seed: int
    drill: str
    fs_hz: float
    gap_s: float
    phase: float
    in_window_deg: float
    after_window_deg: float
    after_sd_deg: float
    peaks_deg: float


def _cut(samples: ImuSamples, t0: float, t1: float) -> ImuSamples:
    keep = (samples.time_s < t0) | (samples.time_s >= t1)
    gyr = samples.gyr_dps[keep] if samples.gyr_dps is not None else None
    return ImuSamples(samples.time_s[keep], samples.acc_g[keep], gyr)


def probe_session(
    seed: int, gaps_s: list[float], phases: list[float], ideal: tuple[str, ...] = (), rigid: bool = False
) -> list[Probe]:
    """Probes of one tuning seed (empty without a gyro).

    ``ideal`` names sensor-model fields set to 0; ``rigid`` puts the sensor on
    the thigh's axis at the filter's prior lever (22 cm, no surface offset).
    """
    case = draw_wide_case(seed)
    if not case.sensor.has_gyro:
        return []
    zeroed: dict[str, object] = dict.fromkeys(ideal, 0.0)
    zeroed["loss_fraction"] = 0.0
    if "range" in ideal:
        del zeroed["range"]
        zeroed["acc_range_g"] = 1000.0
        zeroed["gyr_range_dps"] = 1e5
    case = dataclasses.replace(case, sensor=dataclasses.replace(case.sensor, **zeroed))  # type: ignore[arg-type]
    if rigid:
        mount = dataclasses.replace(case.mounting, distance_below_hip_m=0.22, surface_offset_m=0.0)
        case = dataclasses.replace(case, mounting=mount)
    sim = simulate_wide(case)
    ref_est, ref = analyze_with_angle(sim.samples, Settings())
    t = sim.samples.time_s
    out: list[Probe] = []
    sets = sorted({r.set_index for r in sim.truth.reps})
    for s in sets:
        reps = [r for r in sim.truth.reps if r.set_index == s]
        if len(reps) < 4:
            continue
        r = reps[len(reps) // 2]
        for gap in gaps_s:
            for ph in phases:
                t0 = r.low_s + ph * (r.trough_s - r.low_s)
                cut = _cut(sim.samples, t0, t0 + gap)
                est, ang = analyze_with_angle(cut, Settings())
                full = np.full(t.size, np.nan)
                keep = (t < t0) | (t >= t0 + gap)
                full[keep] = ang
                d = full - ref
                win = (t >= t0 + gap) & (t < t0 + gap + WINDOW_S)
                aft = (t >= t0 + gap + WINDOW_S) & (t < t0 + gap + WINDOW_S + 2.0)
                later = [x for x in reps if x.peak_s > t0 + gap]
                pk: list[float] = []
                for x in later[:4]:
                    rp = [q for q in ref_est.reps if abs(q.peak_s - x.peak_s) < 0.3]
                    cp = [q for q in est.reps if abs(q.peak_s - x.peak_s) < 0.3]
                    if rp and cp:
                        pk.append(cp[0].peak_flexion_deg - rp[0].peak_flexion_deg)
                out.append(
                    Probe(
                        seed=seed,
                        drill=case.drill,
                        fs_hz=case.sensor.fs_hz,
                        gap_s=gap,
                        phase=ph,
                        in_window_deg=float(np.nanmean(d[win])) if win.any() else np.nan,
                        after_window_deg=float(np.nanmean(d[aft])) if aft.any() else np.nan,
                        after_sd_deg=float(np.nanstd(d[aft])) if aft.any() else np.nan,
                        peaks_deg=float(np.mean(pk)) if pk else np.nan,
                    )
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0:40", help="a:b, tuning seeds below 10000")
    ap.add_argument("--gaps", default="0.12,0.2,0.3,0.6", help="gap lengths, s")
    ap.add_argument("--phases", default="0.0,0.25,0.5,0.75", help="fractions of a rep from low to trough")
    ap.add_argument("--rows", action="store_true", help="print every probe")
    ap.add_argument("--ideal", default="", help="comma-separated SensorModel fields set to 0")
    ap.add_argument("--rigid", action="store_true", help="sensor on the thigh's axis at 22 cm")
    args = ap.parse_args()
    a, b = (int(x) for x in args.seeds.split(":"))
    if b > 10000:
        raise SystemExit("tuning seeds only (< 10000)")
    gaps = [float(x) for x in args.gaps.split(",")]
    phases = [float(x) for x in args.phases.split(",")]
    ideal = tuple(x for x in args.ideal.split(",") if x)
    rows = [p for seed in range(a, b) for p in probe_session(seed, gaps, phases, ideal, args.rigid)]
    if args.rows:
        for p in rows:
            print(
                f"{p.seed:5d} {p.drill:10s} {p.fs_hz:6.1f} gap {p.gap_s:.2f} ph {p.phase:.2f}: "
                f"window {p.in_window_deg:+7.2f} after {p.after_window_deg:+7.2f} (sd {p.after_sd_deg:5.2f}) "
                f"peaks {p.peaks_deg:+7.2f}"
            )
    aw = np.array([p.after_window_deg for p in rows])
    pk = np.array([p.peaks_deg for p in rows])
    print(
        f"{len(rows)} probes: after |d| mean {np.nanmean(np.abs(aw)):.3f}, next peaks |d| {np.nanmean(np.abs(pk)):.3f}"
    )
    for key, name in (
        (lambda p: p.gap_s, "gap s"),
        (lambda p: p.phase, "phase"),
        (lambda p: p.fs_hz, "Hz"),
        (lambda p: p.drill, "drill"),
    ):
        groups: dict[object, list[Probe]] = {}
        for p in rows:
            groups.setdefault(key(p), []).append(p)
        for g in sorted(groups, key=str):
            v = np.array([p.after_window_deg for p in groups[g]])
            w = np.array([p.peaks_deg for p in groups[g]])
            print(
                f"  {name} {g}: n {v.size} after |d| {np.nanmean(np.abs(v)):.2f} mean {np.nanmean(v):+.2f}; "
                f"peaks |d| {np.nanmean(np.abs(w)):.2f}"
            )


if __name__ == "__main__":
    main()

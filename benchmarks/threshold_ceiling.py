"""How exact a drill's set counts can be at a ``min_rom_deg`` near its reps' size (issue 19, hip hikes).

Run ``python benchmarks/threshold_ceiling.py --drill hip_hike --min-rom-deg 3 --seeds 0:100``
(``--measure`` also analyses the sessions).  It prints:

1. the share of the simulator's true reps whose rise or fall (the smaller, which decides
   the contract's count: ``TruthRep.counts``) lies within 0.1 deg of ``min_rom_deg``;
2. the share of sets an analysis would count exactly if it read every low, peak and trough
   with an independent Gaussian error (rise and fall error sd ``sigma``), for a range of
   ``sigma``: the ceiling that the angle's accuracy alone puts on the ``exact`` column of
   ``accuracy_drills.py`` (merges and splits of reps are not modelled: it is an upper bound);
3. with ``--measure``: the analysis' own rise and fall error sd per sensor mode (its angle
   at the true low, peak and trough, after a least-squares gain and offset per set), so
   the two can be read together.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hipflex.dsp import Settings
from hipflex.dsp.pipeline import analyze_with_angle
from hipflex.sensor.sim.programme import ProgrammeSimulation, simulate_programme

RATES_HZ = (25.0, 50.0, 100.0, 200.0)  # as accuracy_drills.py: rate by seed
SIGMAS_DEG = (0.0, 0.02, 0.05, 0.1, 0.13, 0.2, 0.3, 0.5, 0.8)
DRAWS = 20  # error draws per set and sigma


def _extremes(sim: ProgrammeSimulation) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per true set: the true angle at each rep's low, peak and trough, deg."""
    out = []
    for s_i in range(len(sim.truth.sets)):
        reps = [r for r in sim.truth.reps if r.set_index == s_i]
        out.append(tuple(np.array([getattr(r, k) for r in reps]) for k in ("low_deg", "peak_deg", "trough_deg")))
    return out  # type: ignore[return-value]


def ceiling(sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]], min_rom_deg: float, sigma_deg: float) -> float:
    """Share of sets counted exactly when each extreme is read with error sd ``sigma_deg / sqrt 2``."""
    rng = np.random.default_rng(1)
    ok = n = 0
    for _ in range(DRAWS):
        for low, peak, trough in sets:
            n_true = int(np.sum((peak - low >= min_rom_deg) & (peak - trough >= min_rom_deg)))
            e = rng.normal(0.0, sigma_deg / np.sqrt(2.0), (3, len(peak)))
            lo, pk, tr = low + e[0], peak + e[1], trough + e[2]
            ok += int(np.sum((pk - lo >= min_rom_deg) & (pk - tr >= min_rom_deg))) == n_true
            n += 1
    return ok / n if n else float("nan")


def measured_sd(sim: ProgrammeSimulation, settings: Settings) -> tuple[list[float], list[float]]:
    """The analysis' rise and fall errors of every true rep, deg (its angle at the true extremes)."""
    _, angle = analyze_with_angle(sim.samples, settings)
    t = sim.samples.time_s
    truth = np.interp(t, sim.truth.time_s, sim.truth.angle_deg)
    rise: list[float] = []
    fall: list[float] = []
    for s_i, (t0, t1) in enumerate(sim.truth.sets):
        m = (t >= t0) & (t <= t1) & np.isfinite(angle)
        if m.sum() < 10:
            continue
        a = np.vstack([truth[m], np.ones(int(m.sum()))]).T
        coef = np.linalg.lstsq(a, angle[m], rcond=None)[0]
        fit = (angle - coef[1]) / coef[0]  # the analysed angle in the truth's sign and scale
        for r in sim.truth.reps:
            if r.set_index == s_i:
                low, peak, trough = np.interp([r.low_s, r.peak_s, r.trough_s], t, fit)
                rise.append(float(peak - low) - r.rom_deg)
                fall.append(float(peak - trough) - r.fall_deg)
    return rise, fall


def main() -> None:
    """Print the table (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drill", default="hip_hike")
    ap.add_argument("--min-rom-deg", type=float, nargs="+", default=[3.0])
    ap.add_argument("--seeds", default="0:100", help="seed range a:b (tuning: below 10 000)")
    ap.add_argument("--measure", action="store_true", help="also the analysis' rise/fall error sd")
    args = ap.parse_args()
    a, b = (int(x) for x in args.seeds.split(":"))
    sims = [simulate_programme(args.drill, seed=s, fs_hz=RATES_HZ[s % len(RATES_HZ)]) for s in range(a, b)]
    sets = [x for sim in sims for x in _extremes(sim)]
    print(f"{args.drill}, seeds {args.seeds}, {len(sets)} sets: sets exact if rise and fall are read with error sd")
    print("| min_rom_deg | true reps within 0.1° % | " + " | ".join(f"sd {s:g}°" for s in SIGMAS_DEG) + " |")
    print("|---" * (len(SIGMAS_DEG) + 2) + "|")
    for th in args.min_rom_deg:
        near = np.concatenate([np.minimum(p - lo, p - tr) for lo, p, tr in sets])
        cells = " | ".join(f"{100 * ceiling(sets, th, s):.1f}" for s in SIGMAS_DEG)
        print(f"| {th:g} | {100 * np.mean(np.abs(near - th) < 0.1):.1f} | {cells} |", flush=True)
    if not args.measure:
        return
    for gyro in (True, False):
        rise: list[float] = []
        fall: list[float] = []
        for s in range(a, b):
            sim = simulate_programme(args.drill, seed=s, fs_hz=RATES_HZ[s % len(RATES_HZ)], has_gyro=gyro)
            th = args.min_rom_deg[0]
            st = dataclasses.replace(Settings(), min_rom_deg=th, candidate_deg=min(Settings().candidate_deg, 0.4 * th))
            r, f = measured_sd(sim, st)
            rise += r
            fall += f
        mode = "gyro" if gyro else "acc-only"
        print(f"{mode}: rise error sd {np.std(rise):.2f}°, fall {np.std(fall):.2f}° ({len(rise)} reps)", flush=True)


if __name__ == "__main__":
    main()

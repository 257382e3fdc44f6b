"""The gyro peak angle error split by cause: each cause removed from the simulation in turn.

Run ``python benchmarks/gyro_causes.py --seeds 0:300 --out DIR`` (tuning seeds
only; ``--causes`` picks some).  Every acc+gyro session of
:mod:`hipflex.sensor.sim.wide` is simulated once as drawn and once per cause
with that cause taken out (the other random draws are unchanged: each
impairment has its own stream), and analysed at the default settings.  A
cause's share is how much the summed absolute peak error over the same
sessions falls without it; the shares need not add up to the whole (causes
interact, and what is left with all of them out is the filter's own error).
Per-rep errors are saved to ``DIR/<cause>.json`` so the causes can run in
separate processes; ``--table`` prints the markdown table from ``DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak_budget import session_errors

from hipflex.sensor.sim.wide import WideCase, draw_wide_case


def _sensor(**fields: object) -> Callable[[WideCase], WideCase]:
    def change(case: WideCase) -> WideCase:
        return dataclasses.replace(case, sensor=dataclasses.replace(case.sensor, **fields))  # type: ignore[arg-type]

    return change


def _mounting(**fields: object) -> Callable[[WideCase], WideCase]:
    def change(case: WideCase) -> WideCase:
        return dataclasses.replace(case, mounting=dataclasses.replace(case.mounting, **fields))  # type: ignore[arg-type]

    return change


#: Each cause and how it is taken out of a drawn session.
CAUSES: dict[str, tuple[str, Callable[[WideCase], WideCase] | None]] = {
    "base": ("nothing removed", None),
    "loss": ("packet loss (gaps) off", _sensor(loss_fraction=0.0)),
    "rate": ("every rate below 100 Hz raised to 104 Hz", None),  # set in _change
    "clipping": (
        "acc range 64 g, gyro range 20000 deg/s (nothing clips)",
        _sensor(acc_range_g=64.0, gyr_range_dps=2e4),
    ),
    "timestamps": ("jitter and clock drift off", _sensor(jitter_s=0.0, clock_drift_ppm=0.0)),
    "drift": ("gyro bias, constant and random walk, off", _sensor(gyr_bias_dps=0.0, gyr_bias_walk_dps=0.0)),
    "sensor_errors": (
        "gyro and acc scale errors, noise, LSB and acc bias off",
        _sensor(
            gyr_scale_err=0.0,
            gyr_noise_dps=0.0,
            gyr_lsb_dps=0.0,
            acc_bias_g=0.0,
            acc_scale_err=0.0,
            acc_noise_g=0.0,
            acc_lsb_g=0.0,
        ),
    ),
    "gyro_scale": ("gyro scale error alone off", _sensor(gyr_scale_err=0.0)),
    "lever": ("distance below the hip set to the filter's 22 cm", _mounting(distance_below_hip_m=0.22)),
    "surface": ("sensor on the femur axis (surface offset 0)", _mounting(surface_offset_m=0.0)),
    "mounting": ("front of the thigh, no extra rotation", _mounting(azimuth_deg=0.0, rotation_deg=(0.0, 0.0, 0.0))),
}


def _change(cause: str) -> Callable[[WideCase], WideCase] | None:
    if cause == "rate":

        def faster(case: WideCase) -> WideCase:
            if case.sensor.fs_hz >= 100.0:
                return case
            return dataclasses.replace(case, sensor=dataclasses.replace(case.sensor, fs_hz=104.0))

        return faster
    return CAUSES[cause][1]


def run(cause: str, seeds: range) -> dict[int, list[list[float]]]:
    """Per gyro seed, each matched rep's (error, fs_hz, loss, after a gap) with ``cause`` taken out."""
    change = _change(cause)
    out: dict[int, list[list[float]]] = {}
    for seed in seeds:
        if not draw_wide_case(seed).sensor.has_gyro:
            continue
        rows = session_errors(seed, change=change)
        out[seed] = [[r.error_deg, r.fs_hz, float(r.loss), float(r.after_gap)] for r in rows]
    return out


def table(out_dir: Path) -> str:
    """The markdown table of every cause saved in ``out_dir`` against ``base``."""
    res = {p.stem: json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))}
    base = res["base"]
    base_sum = sum(abs(e[0]) for v in base.values() for e in v)
    n_base = sum(len(v) for v in base.values())
    lines = [
        f"base: {len(base)} gyro sessions, {n_base} reps, MAE {base_sum / n_base:.3f} deg",
        "",
        "| cause taken out | reps | MAE | summed error removed (share of base) |",
        "|---|---|---|---|",
    ]
    rows = []
    for cause, by_seed in res.items():
        if cause == "base":
            continue
        seeds = [s for s in by_seed if s in base]
        s_abl = sum(abs(e[0]) for s in seeds for e in by_seed[s])
        n_abl = sum(len(by_seed[s]) for s in seeds)
        # Same sessions, per-rep mean so a lost or gained rep does not count as error.
        removed = sum(
            len(base[s]) * (np.mean([abs(e[0]) for e in base[s]]) - np.mean([abs(e[0]) for e in by_seed[s]]))
            for s in seeds
            if base[s] and by_seed[s]
        )
        rows.append((removed, cause, n_abl, s_abl / max(n_abl, 1)))
    for removed, cause, n, mae in sorted(rows, reverse=True):
        share = f"{removed:.0f} deg ({100 * removed / base_sum:.0f} %)"
        lines.append(f"| {cause}: {CAUSES[cause][0]} | {n} | {mae:.3f} | {share} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0:300", help="a:b, tuning seeds are below 10000")
    ap.add_argument("--causes", default=",".join(CAUSES), help="comma-separated, from: " + ", ".join(CAUSES))
    ap.add_argument("--out", default="gyro_causes_out", help="directory for the per-cause JSON")
    ap.add_argument("--table", action="store_true", help="only print the table from --out")
    args = ap.parse_args()
    out_dir = Path(args.out)
    if not args.table:
        a, b = (int(x) for x in args.seeds.split(":"))
        if b > 10000:
            raise SystemExit("tuning seeds only (< 10000)")
        out_dir.mkdir(parents=True, exist_ok=True)
        for cause in args.causes.split(","):
            (out_dir / f"{cause}.json").write_text(json.dumps(run(cause, range(a, b))))
    print(table(out_dir))


if __name__ == "__main__":
    main()

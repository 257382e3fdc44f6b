"""Record a drills run's naming calls once, replay them on the current naming code in seconds (issue 19).

The naming (``dsp.posture.describe_sets``) never feeds back into counting,
so the sets, their lever sums and frames are the same whatever the naming
does: ``record`` runs :mod:`accuracy_drills`' simulated rows once and keeps
every ``describe_sets`` call with each session's truth; ``replay`` calls the
current ``describe_sets`` on them in order (each call's earlier sets carry
the replayed names) and prints the confusion table and the totals of
``accuracy_drills.py --confusion``.  Tune on seeds below 10 000 only.

    python benchmarks/naming_replay.py record --seeds 0:12 --out /tmp/rec.pkl.gz
    python benchmarks/naming_replay.py replay /tmp/rec.pkl.gz [--sets]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import pickle
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy_drills as ad

from hipflex.dsp import analyze, posture, session_result
from hipflex.sensor.sim.mixed import simulate_mixed
from hipflex.sensor.sim.programme import simulate_programme


def record(seeds: range, out: Path, only: str = "") -> None:
    """Run every simulated row of :func:`accuracy_drills.simulated` on ``seeds`` and keep the naming calls."""
    from hipflex.dsp import Settings

    settings = Settings()
    rows = [(d, d, settings) for d in ad.ALL_DRILLS]
    for drill, min_rom in ad.DRILL_MIN_ROM_DEG.items():
        own = dataclasses.replace(
            settings, min_rom_deg=min_rom, candidate_deg=min(settings.candidate_deg, 0.4 * min_rom)
        )
        rows.insert(rows.index((drill, drill, settings)) + 1, (f"{drill} @ min_rom {min_rom:g}", drill, own))
    rows.append((ad.MIXED, ad.MIXED, settings))
    rows = [r for r in rows if only in r[0]]
    calls: list[bytes] = []
    original = session_result.describe_sets

    def spy(*args: Any) -> Any:
        calls.append(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))  # one dump: shared arrays stay shared
        return original(*args)

    session_result.describe_sets = spy  # type: ignore[assignment]
    sessions = []
    for label, drill, st in rows:
        for gyro in (True, False):
            for seed in seeds:
                fs = ad.RATES_HZ[seed % len(ad.RATES_HZ)]
                mount, run = ad._mounting("random", seed, st)
                if drill == ad.MIXED:
                    sim = simulate_mixed(seed=seed, fs_hz=fs, has_gyro=gyro, mounting=mount)
                else:
                    sim = simulate_programme(drill, seed=seed, fs_hz=fs, has_gyro=gyro, mounting=mount)
                calls.clear()
                a = analyze(sim.samples, run)
                truth = [
                    (t0, t1, st_.drill, sum(r.counts(run.min_rom_deg) for r in sim.truth.reps if r.set_index == i))
                    for i, ((t0, t1), st_) in enumerate(zip(sim.truth.sets, sim.set_truth, strict=True))
                ]
                final = [(s.index, s.start_s, s.end_s, None if s.description is None else s.description.drill)
                         for s in a.sets]  # fmt: skip
                sessions.append({"label": label, "gyro": gyro, "seed": seed, "fs": fs, "truth": truth,
                                 "final": final, "calls": list(calls)})  # fmt: skip
        print(f"recorded {label}", flush=True)
    with gzip.open(out, "wb") as fh:
        pickle.dump(sessions, fh, protocol=pickle.HIGHEST_PROTOCOL)


def replay_session(sess: dict[str, Any]) -> dict[int, Any]:
    """Each set index's description from the current ``describe_sets``, calls replayed in order."""
    desc: dict[int, Any] = {}
    for blob in sess["calls"]:
        args = list(pickle.loads(blob))
        args[0] = tuple(dataclasses.replace(s, description=None) for s in args[0])
        args[6] = [(dataclasses.replace(s, description=desc.get(s.index, s.description)), u, a) for s, u, a in args[6]]
        for s in posture.describe_sets(*args):
            desc[s.index] = s.description
    return desc


def replay(path: Path, show_sets: bool = False) -> None:
    """Print the confusion table and totals of the recorded sessions named by the current code."""
    with gzip.open(path, "rb") as fh:
        sessions = pickle.load(fh)
    conf: dict[tuple[str, bool], Counter[tuple[str, str]]] = defaultdict(Counter)
    tot: dict[bool, list[int]] = {True: [0, 0, 0, 0], False: [0, 0, 0, 0]}  # right, sets, countable right, countable
    moved = 0
    for sess in sessions:
        desc = replay_session(sess)
        for t0, t1, drill, n_true in sess["truth"]:
            found = [f for f in sess["final"] if f[2] > t0 - 1.0 and f[1] < t1 + 1.0]
            best = max(found, key=lambda f: min(f[2], t1) - max(f[1], t0), default=None)
            d = None if best is None else desc.get(best[0])
            name = ad.NOT_FOUND if d is None else d.drill
            moved += best is not None and (best[3] or ad.NOT_FOUND) != name
            conf[(sess["label"], sess["gyro"])][(drill, name)] += 1
            if "@" not in sess["label"] and sess["label"] != ad.MIXED:
                t = tot[sess["gyro"]]
                t[0] += name == drill
                t[1] += 1
                t[2] += n_true > 0 and name == drill
                t[3] += n_true > 0
            if show_sets and name != drill:
                extra = "" if d is None else f" conf {d.drill_confidence:.2f} {d.pose}/{d.movement}:"
                extra += "" if d is None else f" {d.recognised_from}"
                print(f"{sess['label'][:30]} {'gyro' if sess['gyro'] else 'acc'} seed {sess['seed']} fs {sess['fs']:g}"
                      f" {drill} -> {name}{extra}")  # fmt: skip
    cells = {}
    for key, c in conf.items():
        cell = ad.Cell()
        cell.confusion = c
        cells[key] = cell
    print(ad._confusion_table(cells))
    for gyro in (True, False):
        t = tot[gyro]
        print(f"{'gyro' if gyro else 'acc-only'}: named {ad._pct(t[0], t[1])} % of {t[1]}, of countable"
              f" {ad._pct(t[2], t[3])} % of {t[3]}")  # fmt: skip
    print(f"sets whose name differs from the recorded run: {moved}")


def main() -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--seeds", required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--only", default="")
    r.add_argument("--held-out", action="store_true", help="a held-out block, to measure base and branch (no tuning)")
    p = sub.add_parser("replay")
    p.add_argument("path", type=Path)
    p.add_argument("--sets", action="store_true", help="print every set named wrong with its features")
    args = ap.parse_args()
    if args.cmd == "record":
        a, b = (int(x) for x in args.seeds.split(":"))
        if b > 500000 or (b > 10000 and not args.held_out):
            print("tuning seeds (< 10000) only; held-out blocks (< 500000) with --held-out", file=sys.stderr)
            return 2
        record(range(a, b), args.out, args.only)
    else:
        replay(args.path, args.sets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

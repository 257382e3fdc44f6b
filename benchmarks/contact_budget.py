"""How well foot contacts can be found without the filter's angle, and what they say about the hip's push.

Run ``python benchmarks/contact_budget.py --seeds 300:1100`` (tuning seeds; the
accelerometer-only stride sessions among them, at most ``--limit``).  Issue 14,
benchmarks/README.md "Accelerometer-only contact watch".

The pendulum filter (``dsp/_kern_pendulum.py``) has the hip still: a runner's
hip is pushed up at 2-3 g in each ground contact and falls freely in flight.
Session 14 (``stride_budget.py``) found that deciding flight from the filter's
own innovations is self-referential.  This script measures a watch that needs
no angle at all, written here in plain Python (as the pendulum filter ran it in
session 15's reverted experiment, the commit "EXPERIMENT (reverted in the next
commit): pendulum filter with a contact watch" on wip/contact):

* a **strike** is a row whose change of specific force from the row before
  exceeds ``--strike`` times a winsorised low-pass of that change (time
  constant 2 s, clipped at 3x), at least 0.6 of the running step (0.15 s
  before a rhythm) after the last accepted one;
* a **running rhythm** starts when two strikes in a row come a running step
  apart (0.2-0.4 s: running turns over at 150 steps/min and faster, walking
  at 140 and slower, ``dsp/gait.py``); one foot's strikes alone (a stride
  apart) cannot tell a run from a walk.  It holds while strikes land on
  it (within 20 % of a step, up to ``--missed`` steps unseen between), ends
  after that many steps without one, or once ``|f|`` has stayed within
  0.15 g of 1 g for 0.1 s (no push and no flight: the runner stopped);
* while the rhythm holds, the hip's vertical specific force ``k`` is a
  half-sine push over ``--duty`` of each step from its strike (its mean over
  the step 1 g: momentum balance), 0 in flight; otherwise 1.

For each session it reports how many of the simulator's landings (both feet)
have a strike within 30 ms, the strikes in the sets that match no landing,
the share of rows the rhythm is on in the sets and outside them (walks and
rests: must be ~0), and the RMS error of the modelled ``k`` against the
simulator's (``track.add_stance_bounces``) in the sets, next to the still
hip's ``k = 1``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_wide import parse_seeds

from hipflex.sensor.sim import motion
from hipflex.sensor.sim.drills import SetMotion
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

_MIN_STEP_S, _MAX_STEP_S = 0.2, 0.4
_MATCH_S = 0.03


@dataclass
class Watch:
    """Settings of the contact watch (see the module docstring)."""

    strike: float = 6.0
    duty: float = 0.65
    missed: int = 1
    tol: float = 0.2
    run_min: int = 2
    steady_g: float = 0.15
    steady_s: float = 0.1


def contact_load(time_s: np.ndarray, acc_g: np.ndarray, w: Watch) -> tuple[np.ndarray, np.ndarray]:
    """The modelled vertical specific force of the hip per row (g) and the strike times (s)."""
    k = np.ones(len(time_s))
    strikes: list[float] = []
    prev = acc_g[0]
    scale = 0.0
    tau = step = run = steady = 0.0
    for i in range(1, len(time_s)):
        dt = float(time_s[i] - time_s[i - 1])
        d = float(np.linalg.norm(acc_g[i] - prev))
        prev = acc_g[i]
        if scale <= 0.0:
            scale = max(d, 1e-4)
            continue
        tau += dt
        refractory = 0.6 * step if step > 0.0 else 0.15
        if d > w.strike * scale and tau >= refractory:
            strikes.append(float(time_s[i]))
            m = math.floor(tau / step + 0.5) if step > 0.0 else 0
            if step > 0.0 and 1 <= m <= w.missed + 1 and abs(tau / step - m) <= w.tol:
                run += 1.0 if m == 1 else 0.0
                step += 0.3 * (tau / m - step)
            else:
                step = tau if _MIN_STEP_S <= tau <= _MAX_STEP_S else 0.0
                run = 0.0
            tau = 0.0
        elif step > 0.0 and tau > (w.missed + 1.5) * step:
            step = run = 0.0
        steady = steady + dt if abs(float(np.linalg.norm(acc_g[i])) - 1.0) < w.steady_g else 0.0
        if steady >= w.steady_s:
            step = run = 0.0
        scale += dt / 2.0 * (min(d, 3.0 * scale) - scale)
        if run < w.run_min or tau > (w.missed + 1.25) * step:
            continue
        ph = tau - step * math.floor(tau / step)
        contact = w.duty * step
        k[i] = 0.0 if ph >= contact else 0.5 * math.pi / w.duty * math.sin(math.pi * ph / contact)
    return k, np.array(strikes)


def true_load(time_s: np.ndarray, sets: list[SetMotion], offset_s: float) -> np.ndarray:
    """The simulator's vertical specific force of the hip (g), as ``track.add_stance_bounces`` builds it."""
    k = np.ones(len(time_s))
    for sm in sets:
        st = sm.stances
        for t0, c, step, scale in zip(st.time_s + offset_s, st.contact_s, st.step_s, st.scale, strict=True):
            m = (time_s >= t0) & (time_s < t0 + step)
            tau = time_s[m] - t0
            push = np.where(tau < c, math.pi * step / (2 * c) * np.sin(math.pi * np.minimum(tau, c) / c), 0.0)
            k[m] = 1.0 + scale * (push - 1.0)
    return k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="300:1100", help="A:B or a comma list; tuning seeds are below 10000")
    ap.add_argument("--limit", type=int, default=40, help="at most this many sessions")
    ap.add_argument("--strike", type=float, default=Watch.strike)
    ap.add_argument("--duty", type=float, default=Watch.duty)
    ap.add_argument("--missed", type=int, default=Watch.missed)
    ap.add_argument("--steady-g", type=float, default=Watch.steady_g)
    ap.add_argument("--steady-s", type=float, default=Watch.steady_s)
    args = ap.parse_args()
    w = Watch(strike=args.strike, duty=args.duty, missed=args.missed, steady_g=args.steady_g, steady_s=args.steady_s)
    captured: list[SetMotion] = []
    original = motion.GENERATORS["stride"]

    def recording(rng, t0, seg):
        sm = original(rng, t0, seg)
        captured.append(sm)
        return sm

    t_start = time.perf_counter()
    print("| seed | Hz | range g | landings hit | extra strikes | rhythm on: sets / outside | k RMS: watch / still |")
    print("|---|---|---|---|---|---|---|")
    rows: list[tuple[float, float, float, float, float, float]] = []
    motion.GENERATORS["stride"] = recording
    try:
        for s in parse_seeds(args.seeds):
            case = draw_wide_case(s)
            if case.drill != "stride" or case.sensor.has_gyro:
                continue
            captured.clear()
            sim = simulate_wide(case)
            t = sim.samples.time_s
            k, strikes = contact_load(t, sim.samples.acc_g, w)
            truth = true_load(t, captured, case.sensor.time_offset_s)
            landings = np.sort(np.concatenate([np.r_[c.strikes.time_s, c.contra.time_s] for c in captured]))
            landings = landings + case.sensor.time_offset_s
            in_sets = np.zeros(len(t), bool)
            for a, b in sim.truth.sets:
                in_sets |= (t > a) & (t < b)
            hit = np.mean([np.min(np.abs(strikes - x)) < _MATCH_S for x in landings]) if strikes.size else 0.0
            st_in = strikes[np.interp(strikes, t, in_sets.astype(float)) > 0.5] if strikes.size else strikes
            extra = float(np.sum([np.min(np.abs(landings - x)) >= _MATCH_S for x in st_in])) / max(len(landings), 1)
            on = k != 1.0
            rms_w = float(np.sqrt(np.mean((k - truth)[in_sets] ** 2)))
            rms_1 = float(np.sqrt(np.mean((1.0 - truth)[in_sets] ** 2)))
            rows.append((float(hit), extra, float(on[in_sets].mean()), float(on[~in_sets].mean()), rms_w, rms_1))
            sensor = f"| {s} | {case.sensor.fs_hz:g} | {case.sensor.acc_range_g:g} "
            print(
                f"{sensor}| {100 * hit:.0f} % | {100 * extra:.0f} % "
                f"| {100 * on[in_sets].mean():.0f} / {100 * on[~in_sets].mean():.1f} % | {rms_w:.2f} / {rms_1:.2f} |"
            )
            if len(rows) >= args.limit:
                break
    finally:
        motion.GENERATORS["stride"] = original
    if rows:
        m = np.mean(np.array(rows), axis=0)
        print(
            f"| mean ({len(rows)}) | | | {100 * m[0]:.0f} % | {100 * m[1]:.0f} % "
            f"| {100 * m[2]:.0f} / {100 * m[3]:.1f} % | {m[4]:.2f} / {m[5]:.2f} |"
        )
    print(f"\n({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()

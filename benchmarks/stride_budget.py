"""What the runner's hip motion costs accelerometer-only strides, session by session.

Run ``python benchmarks/stride_budget.py --seeds 0:300`` (tuning seeds; the
acc-only stride sessions among them).  Each session of
:mod:`hipflex.sensor.sim.wide` is simulated and analysed as
``accuracy_wide.py`` does, four times: as drawn, then with parts of the hip's
motion taken out of the stride sets (every other random draw unchanged: the
stride generator runs as always and its output is edited):

* ``physical``: as drawn (contact push and free fall at each step, forward
  speed-up, ripple and stop, foot strikes);
* ``no bounce``: the stance bounce's scale set to 0 (the hip's vertical
  specific force stays 1 g);
* ``+ no forward``: also no forward speed keys (no speed-up, ripple or stop);
* ``+ no strikes``: also no foot strikes of either leg;
* ``no forward only``: the bounce kept, no forward speed keys.

The difference between rows is what that motion costs the pendulum filter,
whose model has the hip still (``dsp/_kern_pendulum.py``); the last row is the
filter's own error on a strided swing.  Issue 14, benchmarks/README.md
"Open work".
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

from accuracy_wide import evaluate, parse_seeds

from hipflex.sensor.sim import motion
from hipflex.sensor.sim.drills import Impacts, SetMotion, Stances
from hipflex.sensor.sim.wide import draw_wide_case

Edit = Callable[[SetMotion], SetMotion]


def _no_bounce(sm: SetMotion) -> SetMotion:
    st = sm.stances
    return dataclasses.replace(sm, stances=Stances(st.time_s, st.contact_s, st.step_s, np.zeros_like(st.scale)))


def _no_forward(sm: SetMotion) -> SetMotion:
    return dataclasses.replace(_no_bounce(sm), hip_vx_keys=None)


def _no_strikes(sm: SetMotion) -> SetMotion:
    return dataclasses.replace(_no_forward(sm), strikes=Impacts.empty(), contra=Impacts.empty())


def _no_forward_only(sm: SetMotion) -> SetMotion:
    return dataclasses.replace(sm, hip_vx_keys=None)


VARIANTS: dict[str, Edit | None] = {
    "physical": None,
    "no bounce": _no_bounce,
    "+ no forward": _no_forward,
    "+ no strikes": _no_strikes,
    "no forward only": _no_forward_only,
}


def _with_edit(edit: Edit | None, seed: int) -> tuple[list[int], list[float]]:
    """Set count errors and peak angle errors (deg) of ``seed`` with ``edit`` applied to its stride sets."""
    original = motion.GENERATORS["stride"]
    if edit is not None:
        motion.GENERATORS["stride"] = lambda rng, t0, seg: edit(original(rng, t0, seg))
    try:
        res = evaluate(seed).base
    finally:
        motion.GENERATORS["stride"] = original
    if res.error:
        raise RuntimeError(f"seed {seed}: {res.error}")
    return res.set_count_errors, res.peak_angle_err_deg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0:300", help="A:B or a comma list; tuning seeds are below 10000")
    args = ap.parse_args()
    t0 = time.perf_counter()
    seeds = []
    for s in parse_seeds(args.seeds):
        case = draw_wide_case(s)
        if case.drill == "stride" and not case.sensor.has_gyro:
            seeds.append(s)
    print(f"{len(seeds)} acc-only stride sessions: {seeds}")
    print("\n| hip motion | sets exact | worst set | peak angle MAE, deg | sessions all exact |")
    print("|---|---|---|---|---|")
    for name, edit in VARIANTS.items():
        errs: list[int] = []
        peaks: list[float] = []
        exact_sessions = 0
        for s in seeds:
            e, p = _with_edit(edit, s)
            errs += e
            peaks += p
            exact_sessions += all(x == 0 for x in e)
        exact = 100.0 * np.mean([x == 0 for x in errs]) if errs else float("nan")
        worst = max((abs(x) for x in errs), default=0)
        mae = float(np.mean(np.abs(peaks))) if peaks else float("nan")
        print(f"| {name} | {exact:.1f} % ({len(errs)}) | {worst} | {mae:.2f} | {exact_sessions}/{len(seeds)} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

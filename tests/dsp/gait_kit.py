"""One driver of the walking classifier for the gait tests: hand-made swings in, counted reps and steps out."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait import GaitState, feed_candidate, feed_rep, flush
from hipflex.dsp.types import Rep


def run_swings(
    settings: Settings,
    swings: Sequence[Rep | float],
    has_gyro: bool = True,
    strike_g: float | Sequence[float] = math.nan,
    standing_known: bool = True,
) -> tuple[list[Rep], list[Rep], GaitState]:
    """Feed reps and small candidates (a float: the candidate's peak time) in order, then flush.

    ``strike_g`` is every rep's landing jolt (g), or one per rep in order (exactly one each).  Returns all
    counted reps, all steps and the final state.
    """
    n_reps = sum(isinstance(s, Rep) for s in swings)
    per_rep = [strike_g] * n_reps if isinstance(strike_g, float) else list(strike_g)
    if len(per_rep) != n_reps:
        raise ValueError(f"{len(per_rep)} strikes for {n_reps} reps")
    strikes = iter(per_rep)
    g = GaitState()
    counted: list[Rep] = []
    steps: list[Rep] = []
    for s in swings:
        if isinstance(s, Rep):
            g, released, st = feed_rep(settings, g, s, has_gyro, standing_known, next(strikes))
        else:
            g, released, st = feed_candidate(settings, g, s)
        counted += released
        steps += st
    g, released = flush(settings, g)
    return counted + list(released), steps, g

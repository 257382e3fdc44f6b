"""A closed walk's tentative last swings, carried across a stop: steps when the walker walks on.

Part of the gait tracker (``hipflex.dsp.gait``): what a swing fed to it
decided is settled here for the swings a closed walk still holds.
"""

from __future__ import annotations

import dataclasses

from hipflex.dsp.gait_swing import GaitState
from hipflex.dsp.types import Rep, Walk

__all__ = ["settle"]


def settle(
    before: GaitState, g: GaitState, released: tuple[Rep, ...], steps: tuple[Rep, ...]
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """Decide a closed walk's tentative swings carried across a stop (``GaitState.carried``).

    A walker who stops for a moment (a door, a word; the wide simulator's
    walks between sets stop for 2-5 s and walk on) slows into the stop: the
    last stance extends the thigh less, so the last step can read its low
    in front of standing and is held as a tentative swing (``gait_swing.tentative``)
    that nothing on the rhythm follows (tuning seed 61, accelerometer only:
    24.9 degrees from +1.4, then the next walk's first step 4.6 s on).  A
    set's first rep after a walk is of the set's kind, and its set goes on
    in reps (``gait_swing.last_step``); so when the swing after the stop is a step and
    starts a run that is confirmed as a walk from that swing on, the walker
    walked on and the tentative swings were the closed walk's last steps
    (its strides and end grow by them).  When that run's first swing is
    counted, or the run ends otherwise, they are reps, as before.  The
    stop may last up to ``set_gap_s`` (a rep that far from the next swing
    would start a set of its own).  ``before`` is the state the latest
    swing was fed to; ``released`` and ``steps`` what that swing decided.
    """
    first = before.carry_first
    if first is None:
        return g, released, steps
    carried = before.carried
    if first in steps:
        walks = list(g.walks)
        for i in range(len(walks) - 1, -1, -1):
            w = walks[i]
            if w.start_s < carried[0].peak_s:
                end_s = max(w.end_s, *(r.end_s for r in carried))
                walks[i] = Walk(w.start_s, end_s, w.strides + len(carried))
                break
        return dataclasses.replace(g, walks=tuple(walks), carried=(), carry_first=None), released, (*carried, *steps)
    if first in released or first.peak_s not in g.peaks_s:
        return dataclasses.replace(g, carried=(), carry_first=None), (*carried, *released), steps
    return dataclasses.replace(g, carried=carried, carry_first=first), released, steps

"""Two accelerometer-only swings that landed on nothing confirm no walk (``hipflex.dsp.gait_unlanded``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from gait_kit import run_swings

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait import GaitState, feed_rep
from hipflex.dsp.gait_unlanded import UNLANDED_G, unlanded_pair
from hipflex.dsp.types import Rep

S = Settings()

# Tuning mixed session 11 (200 Hz, accelerometer only), its first standing strength set as the detector read
# it: (onset, peak, end) s, peak and rise deg, time near the top s, and the jolt after the peak g.  Lows read
# 1.8 to -5 deg (behind standing), peaks 40-47, two swings 1.95 s apart and their onsets 2.08 s apart; no foot
# lands (0.04-0.07 g).  Before ``unlanded_pair`` the swings peaking at 390.9, 392.9 and 395.2 s were a walk.
_STRENGTH = [
    (382.03, 383.02, 383.78, 46.6, 44.8, 0.96, 0.05),
    (384.29, 384.89, 386.20, 44.1, 49.1, 1.05, 0.05),
    (387.11, 387.85, 389.03, 41.6, 44.9, 1.03, 0.07),
    (390.04, 390.92, 391.68, 40.0, 42.9, 0.80, 0.04),
    (392.12, 392.87, 394.01, 44.4, 47.3, 1.04, 0.05),
    (394.53, 395.18, 396.20, 44.3, 46.5, 0.86, 0.05),
    (396.81, 397.56, 398.40, 45.1, 47.2, 0.70, 0.04),
    (398.83, 399.84, 400.75, 40.3, 44.5, 1.03, 0.05),
]


def _rep(start_s: float, peak_s: float, end_s: float, peak_deg: float, rom_deg: float, hold_s: float) -> Rep:
    return Rep(0, start_s, peak_s, end_s, peak_deg, rom_deg, 0.5, 80.0, 50.0, hold_s, 1.0)


def _feed(reps: Sequence[Rep], strikes_g: Sequence[float], has_gyro: bool = False) -> tuple[list[Rep], list[Rep]]:
    counted, steps, _ = run_swings(S, reps, has_gyro, strikes_g)
    return counted, steps


def test_a_strength_set_read_behind_standing_that_lands_on_nothing_is_all_reps() -> None:
    reps = [_rep(*r[:6]) for r in _STRENGTH]
    counted, steps = _feed(reps, [r[6] for r in _STRENGTH])
    assert steps == [] and counted == reps


def test_the_same_swings_with_a_soft_foot_landing_are_still_a_walk() -> None:
    # A jolt of 0.15 g after each peak (above UNLANDED_G, under the 0.2 g that exempts a pair from the onset
    # test): the pair is judged as before, and the set's swings 1.95-2.3 s apart still make a walk.
    reps = [_rep(*r[:6]) for r in _STRENGTH]
    strikes = [0.15] * len(reps)
    assert min(strikes) >= UNLANDED_G
    _, steps = _feed(reps, strikes)
    assert [round(r.peak_s, 2) for r in steps] == [390.92, 392.87, 395.18]


def test_only_an_unconfirmed_acc_only_run_whose_two_swings_landed_on_nothing_is_judged() -> None:
    a = _rep(9.6, 10.0, 10.5, 30.0, 38.0, 0.2)
    b = _rep(10.7, 11.1, 11.6, 30.0, 38.0, 0.2)
    g, _, _ = feed_rep(S, GaitState(), a, False, True, 0.05)
    assert unlanded_pair(g, False, 0.05)
    assert not unlanded_pair(g, True, 0.05)  # with a gyro the jolt is not read
    assert not unlanded_pair(g, False, 0.3)  # this swing's foot landed
    assert not unlanded_pair(g, False, math.nan)  # not measured
    landed, _, _ = feed_rep(S, GaitState(), a, False, True, 0.3)
    assert not unlanded_pair(landed, False, 0.05)  # the run's last swing landed
    g, _, _ = feed_rep(S, g, b, False, True, 0.5)
    walking = GaitState(peaks_s=g.peaks_s, walking=True, last_rep=b, rep_strike_g=0.05)
    assert not unlanded_pair(walking, False, 0.05)  # a confirmed walk is not judged

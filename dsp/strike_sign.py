"""The flexion sign of accelerometer-only strides from when the feet land.

Without a gyro the accelerometer does not tell forward from backward: the
pendulum model maps onto itself under ``(w, theta, d) -> (-w, -theta, -d)``,
so the sign is read from the traced angle, whose larger excursions are
taken to be flexions (:mod:`hipflex.dsp.flexion_sign`).  In a running stride
(25 deg behind standing to 60-80 in front) a trace that overshoots its
backward swings makes the two ways' excursions alike (1.1-3 times each
other on tuning strides), and a whole session was traced mirrored (tuning
seeds 302, 977, 4319, 4455, 5946 at 50-400 Hz: sets 4-18 short, exact when
flipped).

A foot lands while its thigh swings back: the leg comes down and back onto
the ground, never while the hip flexes (that lifts the foot).  In running
the foot strikes with the thigh 20-35 deg forward, retracting; in walking
just after the thigh's largest flexion (foot-flat in the Marpino walks with
a gyro: the thigh extending at 50-130 deg/s); a marching foot lands as the
thigh comes down.  The landing is the sharpest jolt in the thigh's
specific force (|a| 1-3 g above its surroundings for 20-50 ms in the
Marpino walks, 3-8 g in the simulator's strides), so the traced angle's
rate at the largest jolts tells its sign: mostly negative traced the right
way round, mostly positive traced mirrored.  The trace's phase stays right
even where its sizes do not (tuning strides at 50-400 Hz: the rate's sign
at the true strikes was right in all 481 sessions).

The witness is used only where it can be trusted:

* rows at least ``STRIKE_MIN_RATE_HZ`` apart: a landing lasts 20-50 ms; in
  the simulator's strides at 12.5-25 Hz the strike averaged away in a
  sample (its net impulse is carried by the stance push that every landing
  of either foot starts) and the jolts at own and other landings were alike;
* a trace that swings at least ``STRIKE_MIN_SWING_DEG`` (a stride's 90 deg
  and more): in walking (+-20 deg) the hip's own accelerations are as large
  as the change of gravity, and the accelerometer-only trace lagged the
  thigh by 0.2-0.3 s (Marpino walks against their gyros), so a landing fell
  on its rise;
* at least ``STRIKE_MIN_COUNT`` jolts, most of their weight agreeing
  (``STRIKE_MIN_VOTE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "STRIKE_MIN_COUNT",
    "STRIKE_MIN_RATE_HZ",
    "STRIKE_MIN_SWING_DEG",
    "STRIKE_MIN_VOTE",
    "StrikeVote",
    "strike_vote",
]

#: Rows further apart than 1 / this (Hz) cannot resolve a landing's jolt.
STRIKE_MIN_RATE_HZ = 40.0
#: The trace's swing (its 97th minus 3rd percentile, deg) below which its phase is not trusted.
STRIKE_MIN_SWING_DEG = 80.0
#: Fewest jolts that may decide.
STRIKE_MIN_COUNT = 8
#: Smallest weighted mean of the votes (+1 right way round, -1 mirrored) that decides.
STRIKE_MIN_VOTE = 0.5

# A jolt: |a| above the median of its surroundings (+-_BASE_HALF_S) by
# _JOLT_MIN_G or more, the largest within _JOLT_SEP_S (one per landing; the
# other foot lands half a stride, 0.3-0.4 s, later).
_BASE_HALF_S = 0.1
_JOLT_MIN_G = 0.4
_JOLT_SEP_S = 0.25
# Rows of the trace that move slower than this (deg/s) vote with no sign.
_STILL_DPS = 1e-9


@dataclass(frozen=True)
class StrikeVote:
    """What the landings say about the traced angle's sign.

    Attributes
    ----------
    n_jolts : int
        Jolts found.
    vote : float
        Their weighted mean vote, -1..1: +1 when every jolt came while the
        trace swung back (the trace is the right way round), -1 when every
        one came while it swung forward (mirrored).  Weights: jolt size
        squared, so the foot's own landing outweighs the other foot's.
    """

    n_jolts: int
    vote: float

    @property
    def decisive(self) -> bool:
        """Enough jolts agreeing to decide the sign."""
        return self.n_jolts >= STRIKE_MIN_COUNT and abs(self.vote) >= STRIKE_MIN_VOTE


def strike_vote(time_s: np.ndarray, rate_dps: np.ndarray, acc_norm_g: np.ndarray) -> StrikeVote:
    """Vote on the sign of a traced angle from its rate at the jolts of ``acc_norm_g``.

    Parameters
    ----------
    time_s : ndarray, shape (n,)
        Row times, increasing, s (rows about evenly spaced).
    rate_dps : ndarray, shape (n,)
        The traced angle's rate, deg/s (NaN: no vote).
    acc_norm_g : ndarray, shape (n,)
        The specific force's magnitude, g (NaN: no jolt).

    Returns
    -------
    StrikeVote
    """
    n = time_s.shape[0]
    if n < 3:
        return StrikeVote(0, 0.0)
    period_s = float(np.median(np.diff(time_s)))
    if not period_s > 0.0:
        return StrikeVote(0, 0.0)
    half = max(1, round(_BASE_HALF_S / period_s))
    if n < 2 * half + 1:
        return StrikeVote(0, 0.0)
    measured = np.isfinite(acc_norm_g)
    a = np.where(measured, acc_norm_g, -np.inf)
    # A row without a measurement is no jolt, and counts as 1 g around one.
    padded = np.pad(np.where(measured, acc_norm_g, 1.0), half, mode="edge")
    base = np.median(sliding_window_view(padded, 2 * half + 1), axis=1)
    excess = a - base
    peak = np.zeros(n, dtype=bool)
    peak[1:-1] = (excess[1:-1] >= excess[:-2]) & (excess[1:-1] >= excess[2:])
    cand = np.flatnonzero(peak & (excess > _JOLT_MIN_G) & np.isfinite(rate_dps))
    # The largest first; a smaller one within _JOLT_SEP_S of a kept one is its echo.
    kept: list[int] = []
    for i in cand[np.argsort(-excess[cand], kind="stable")]:
        if all(abs(time_s[i] - time_s[j]) > _JOLT_SEP_S for j in kept):
            kept.append(int(i))
    if not kept:
        return StrikeVote(0, 0.0)
    rows = np.array(kept)
    weight = excess[rows] ** 2
    back = np.where(rate_dps[rows] < -_STILL_DPS, 1.0, np.where(rate_dps[rows] > _STILL_DPS, -1.0, 0.0))
    return StrikeVote(len(kept), float(np.sum(weight * back) / np.sum(weight)))

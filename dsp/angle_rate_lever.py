"""The lever sums without a gyro: ``|a|^2`` against the squared rate of the accelerometer-only angle.

With a gyro, :mod:`hipflex.dsp.lever_sums` regresses ``|a|^2`` on ``|w|^2``
over a set: the centripetal acceleration ``w^2 L`` towards the pivot adds
``2 w^2 L (g . e_pivot)`` to ``|a|^2``, positive when the thigh hangs below
the hip (standing, all fours), negative when it is lifted against gravity
from lying.  Without a gyro the same physics is in the accelerometer; only
``w`` is missing, and the analysis' own angle supplies it: its rate is the
thigh's working rate (off the flexion plane the pendulum filter misreads
the angle's size and timing, but not that the thigh turns).  Fed as a
one-axis "gyro" into the same per-second sums, a set's fit reads as the
gyro's does.  Tuning seeds 0-7, pipeline angle: side-lying raises slope
-0.010..+0.002 against side lunges -0.001..+0.037 (5-95 %), standing drills
+0.02..+0.36; raises on the back and face down +-0.02, with effects under
the accelerometer-scale floor (``_LEVER_MIN_EFFECT_G2``), so they tell little.

The rate is a backward difference from the row before, kept across chunks
(``RateLast``), so any chunking gives the same sums; rows not after the last
one summed (the kept rows a recalibration runs again) are skipped, so no row
counts twice.  Read only to describe sets, never by the counting.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hipflex.dsp.lever_sums import LeverBlocks, accumulate_lever

__all__ = ["MAX_RATE_DPS", "RateLast", "accumulate_angle_rate"]

#: Fastest rate taken as the thigh's, deg/s: a sprinting thigh swings at up to ~1000 deg/s; a faster step
#: is the angle re-anchored after a gap or a re-lock (a mixed session's 30-deg steps between sets, tuning
#: seeds: one such row outweighed a whole set's reps and read every set as slope 0).
MAX_RATE_DPS = 1500.0


class RateLast(NamedTuple):
    """The last row summed: its time (s) and angle (deg); ``-inf`` / NaN before the first."""

    time_s: float = -math.inf
    angle_deg: float = math.nan


def accumulate_angle_rate(
    blocks: LeverBlocks, last: RateLast, time_s: np.ndarray, acc_g: np.ndarray, angle_deg: np.ndarray
) -> tuple[LeverBlocks, RateLast]:
    """Add rows to the lever sums with the angle's rate (deg/s) as the angular rate.

    Parameters
    ----------
    blocks : LeverBlocks
        Sums so far (not modified).
    last : RateLast
        The last row summed before these.
    time_s : ndarray, shape (n,)
        Row times, s (non-decreasing).
    acc_g : ndarray, shape (n, 3)
        Specific force, g.
    angle_deg : ndarray, shape (n,)
        The analysis' angle of each row, deg (NaN for a dropped row: its rate
        and the next row's are NaN, and the sums skip them).

    Returns
    -------
    tuple of (LeverBlocks, RateLast)
        The sums with the new rows' added, and the last row summed.
    """
    new = np.flatnonzero(time_s > last.time_s)
    if new.size == 0:
        return blocks, last
    t = time_s[new[0] :]
    th = angle_deg[new[0] :]
    # The rate written straight into the "gyro" column (this runs over every accelerometer-only row).
    gyr = np.zeros((t.size, 3))
    rate = gyr[:, 0]
    dt = np.empty(t.size)
    rate[0] = th[0] - last.angle_deg  # the first row after a start (NaN before it) is NaN: skipped
    np.subtract(th[1:], th[:-1], out=rate[1:])
    dt[0] = t[0] - last.time_s
    np.subtract(t[1:], t[:-1], out=dt[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate /= dt  # equal stamps give an infinite or NaN rate, dropped below
        # A step no thigh turns at is the angle re-anchored, not motion: one such row would be the regression.
        rate[~(np.abs(rate) <= MAX_RATE_DPS)] = math.nan
    out = accumulate_lever(blocks, t, acc_g[new[0] :], gyr)
    return out, RateLast(float(t[-1]), float(th[-1]))

"""The post-gap window of the gyro tilt filter.

Over a gap longer than a few samples the gyro has missed part of the thigh's
rotation, so the orientation after the gap is unknown.  One accelerometer
sample cannot tell (a running hip bounces by a g or more), but the hip's own
accelerations average out over a stride: for a window after the gap the tilt
filter runs on the gyro alone while it sums the rotation-compensated specific
force in a world-fixed frame, and at the window's end the sum's direction is
"up".  The history of the window is then shifted by the angle this corrects,
the samples bridged across the gap are redrawn as a cubic between the angles
and rates on either side (a swing's peak inside the gap keeps its shape;
between ends that describe a move one way the cubic is kept monotone), and
only then does the detector read them.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_gap_acc import _apg_finish
from hipflex.dsp._layout import (
    F_PG_CNT,
    F_PG_MAX_SHIFT,
    F_PG_S,
    F_PG_SUM,
    F_UP,
    H_THETA,
    H_TIME,
    H_VEL,
    I_CAP,
    I_PG_END,
    I_PG_GAP0,
    I_SAMPLE,
    P_HAS_GYRO,
    P_U,
    P_W,
    RAD,
)

__all__: list[str] = []

# A rate at the end of a bridge points back (the thigh turned inside the gap,
# e.g. a rep's peak) only beyond this fraction of the secant slope: smaller
# ones are noise at rest.
_TURN_FRAC = 0.25


@njit_borrowed_inline
def _pg_start(fstate: np.ndarray, ist: np.ndarray, duration_s: float) -> None:
    """Open a post-gap window of ``duration_s``; the next processed sample is the gap's first."""
    fstate[F_PG_S] = duration_s
    fstate[F_PG_SUM] = 0.0
    fstate[F_PG_SUM + 1] = 0.0
    fstate[F_PG_SUM + 2] = 0.0
    fstate[F_PG_CNT] = 0.0
    fstate[F_PG_MAX_SHIFT] = 0.0
    ist[I_PG_GAP0] = ist[I_SAMPLE]
    ist[I_PG_END] = ist[I_SAMPLE]


@njit_borrowed_inline
def _theta_of(prm: np.ndarray, ux: float, uy: float, uz: float) -> float:
    """Flexion angle (deg) of the world "up" direction seen in the sensor frame."""
    up_u = ux * prm[P_U] + uy * prm[P_U + 1] + uz * prm[P_U + 2]
    up_w = ux * prm[P_W] + uy * prm[P_W + 1] + uz * prm[P_W + 2]
    return math.atan2(up_w, up_u) * RAD


@njit_borrowed
def _pg_finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Close the post-gap window: re-anchor "up" and correct the window's history.

    Parameters
    ----------
    prm, fstate, ist : ndarray
        Kernel parameters and state (see ``_layout``).
    hist : ndarray, shape (cap, 5)
        History ring; samples ``I_PG_GAP0 - 1 .. I_SAMPLE - 1`` must be in it.
    """
    fstate[F_PG_S] = 0.0
    if prm[P_HAS_GYRO] <= 0.0:
        # Without a gyro the window chose the swing's phase (_kern_gap_acc).
        _apg_finish(prm, fstate, ist, hist)
        return
    cap = ist[I_CAP]
    last = ist[I_SAMPLE] - 1
    g0 = ist[I_PG_GAP0]
    e0 = ist[I_PG_END]
    shift = 0.0
    sx = fstate[F_PG_SUM]
    sy = fstate[F_PG_SUM + 1]
    sz = fstate[F_PG_SUM + 2]
    sn = math.sqrt(sx * sx + sy * sy + sz * sz)
    if fstate[F_PG_CNT] > 0.0 and sn > 0.0:
        old = _theta_of(prm, fstate[F_UP], fstate[F_UP + 1], fstate[F_UP + 2])
        shift = _theta_of(prm, sx, sy, sz) - old
        if shift > 180.0:
            shift -= 360.0
        elif shift < -180.0:
            shift += 360.0
        limit = fstate[F_PG_MAX_SHIFT]
        if limit > 0.0 and abs(shift) > limit:
            # More than the bridge can have missed: the window's mean force
            # is not gravity (a runner speeding up or stopping tilts it by
            # tens of degrees); the bridge is kept.
            shift = 0.0
        else:
            fstate[F_UP] = sx / sn
            fstate[F_UP + 1] = sy / sn
            fstate[F_UP + 2] = sz / sn
    for i in range(e0, last + 1):
        hist[i & (cap - 1), H_THETA] += shift
    if e0 > g0 and g0 >= 1 and e0 <= last:
        a = (g0 - 1) & (cap - 1)
        b = e0 & (cap - 1)
        ta = hist[a, H_TIME]
        h = hist[b, H_TIME] - ta
        ya = hist[a, H_THETA]
        yb = hist[b, H_THETA]
        ma = hist[a, H_VEL] * h
        mb = hist[b, H_VEL] * h
        d = yb - ya
        if d != 0.0 and ma * d >= -_TURN_FRAC * d * d and mb * d >= -_TURN_FRAC * d * d:
            # Ends that describe a move one way: keep the cubic between them
            # (rates at most 3x the secant, Fritsch-Carlson).  Unlimited, a
            # gap from a fast swing to rest was drawn overshooting the rest
            # angle by tens of degrees, a false low for the next rep.
            if abs(ma) > 3.0 * abs(d):
                ma = 3.0 * d
            if abs(mb) > 3.0 * abs(d):
                mb = 3.0 * d
        for i in range(g0, e0):
            j = i & (cap - 1)
            x = (hist[j, H_TIME] - ta) / h
            x2 = x * x
            x3 = x2 * x
            hist[j, H_THETA] = (
                (2.0 * x3 - 3.0 * x2 + 1.0) * ya
                + (x3 - 2.0 * x2 + x) * ma
                + (3.0 * x2 - 2.0 * x3) * yb
                + (x3 - x2) * mb
            )
            hist[j, H_VEL] = (
                (6.0 * x2 - 6.0 * x) * (ya - yb) + (3.0 * x2 - 4.0 * x + 1.0) * ma + (3.0 * x2 - 2.0 * x) * mb
            ) / h

"""The post-gap window of the gyro tilt filter.

Over a gap longer than a few samples the gyro has missed part of the thigh's
rotation, so the orientation after the gap is unknown.  One accelerometer
sample cannot tell (a running hip bounces by a g or more), but the hip's own
accelerations average out over a stride: for a window after the gap the tilt
filter runs on the gyro alone while it sums the rotation-compensated specific
force in a world-fixed frame, from the thigh's first turn after the gap to a
turn at least 1.5 s later (what the lever model misses, the sensor's offset
from the thigh's axis or a lever off by cm, is a change of velocity, which
cancels between turns), and at the window's end the sum's direction is "up"
(where the gap was short and the rate ran nearly straight across it, the
turn is instead integrated from the rates either side, ``_gap_turn``: the
window's mean force carries what the lever model misses of the sensor's own
acceleration).  The history of the window is then shifted by the angle this corrects,
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
from hipflex.dsp._kern_rep_metrics import _h
from hipflex.dsp._layout import (
    F_PG_CNT,
    F_PG_MAX_SHIFT,
    F_PG_S,
    F_PG_SUM,
    F_PG_T,
    F_PG_TURNED,
    F_UP,
    H_FLAG,
    H_FLAG_BRIDGED,
    H_THETA,
    H_TIME,
    H_VEL,
    I_CAP,
    I_PG_END,
    I_PG_GAP0,
    I_SAMPLE,
    P_A,
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
# The turn inside a short gap from the rates on both sides: the integral of
# the cubic Hermite rate through the rate and angular acceleration measured at
# each end.  Where that cubic's curvature term (h^2 (alpha_a - alpha_b) / 12,
# deg) is small and the gap short, the rate ran nearly straight across it and
# the integral is good to a tenth of a degree (tuning seeds 0:400, truth's
# rate at the rows: 297 of 496 lost gaps, mean error 0.15 deg, max 6), while
# the window's mean force leaves 0.3-0.5 deg more on the peaks after it (the
# lever model's miss of the sensor's velocity, the hip's own accelerations).
# Beyond either bound the rate has a hump or a turn the ends do not show (a
# swing inside the gap: errors of tens of degrees) and the window decides.
_HERM_MAX_GAP_S = 0.3
_HERM_MAX_CURVE_DEG = 2.0
# Nor where the rate changes sign across the gap by more than this (deg/s):
# the thigh turned inside it, and a turn may dwell (a rep's bottom between
# two reps: -46 -> +305 deg/s over 0.17 s with the ends' accelerations on the
# secant, the rates' turn 6 deg too far; offline such gaps were 0.85 deg
# mean, up to 22, against 0.015 for the others).
_HERM_TURN_DPS = 20.0
# An end's angular acceleration is a difference over at least this span, s: a
# difference of neighbouring rows at 400 Hz is mostly the gyro's noise.
_HERM_ALPHA_SPAN_S = 0.02
# ... and at most this many rows back or on (a slow rate with a long span).
_HERM_ALPHA_ROWS = 16
# A window's sum is gravity only if its rows agree: a mean compensated force
# below this (g, over the time since the sum restarted) is a
# sum whose rows cancel (a runner's window cut short by the next gap, 11 rows
# at 0.06 g, turned "up" by 139 deg and the angle through +-180 deg, every
# stride then counted twice: tuning seed 922), not a tilt to re-anchor to.
# Not 0.5: windows read 0.3 there and still re-anchored better (tuning 0:200
# gyro peak MAE 1.08 deg with 0.15, 1.19 with 0.5).
_PG_MIN_MEAN_G = 0.15


@njit_borrowed_inline
def _pg_start(fstate: np.ndarray, ist: np.ndarray, duration_s: float) -> None:
    """Open a post-gap window of ``duration_s``; the next processed sample is the gap's first."""
    fstate[F_PG_S] = duration_s
    fstate[F_PG_SUM] = 0.0
    fstate[F_PG_SUM + 1] = 0.0
    fstate[F_PG_SUM + 2] = 0.0
    # Not summing over the bridge: the first measured row after the gap
    # starts the sum (_kern_run sets the count to 0 there).
    fstate[F_PG_CNT] = -1.0
    fstate[F_PG_T] = 0.0
    fstate[F_PG_TURNED] = 0.0
    fstate[F_PG_MAX_SHIFT] = 0.0
    ist[I_PG_GAP0] = ist[I_SAMPLE]
    ist[I_PG_END] = ist[I_SAMPLE]


@njit_borrowed_inline
def _theta_of(prm: np.ndarray, ux: float, uy: float, uz: float) -> float:
    """Flexion angle (deg) of the world "up" direction seen in the sensor frame."""
    up_u = ux * prm[P_U] + uy * prm[P_U + 1] + uz * prm[P_U + 2]
    up_w = ux * prm[P_W] + uy * prm[P_W + 1] + uz * prm[P_W + 2]
    return math.atan2(up_w, up_u) * RAD


@njit_borrowed_inline
def _gap_turn(ist: np.ndarray, hist: np.ndarray, a: int, b: int, last: int) -> float:
    """The thigh's turn from row ``a`` to row ``b`` over the bridge between them, deg; NaN: not known.

    The integral of the cubic Hermite rate through the rates and angular
    accelerations measured at the two ends (rows ``a - k`` before and
    ``b + k`` after them, at most ``last``, over ``_HERM_ALPHA_SPAN_S``);
    NaN where the gap is longer than ``_HERM_MAX_GAP_S``, the rate changes
    sign across it by more than ``_HERM_TURN_DPS``, its curvature term is
    larger than ``_HERM_MAX_CURVE_DEG``, or an end's rows are not measured.
    """
    mask = ist[I_CAP] - 1
    ra = a & mask
    rb = b & mask
    h = hist[rb, H_TIME] - hist[ra, H_TIME]
    if not h > 0.0 or h > _HERM_MAX_GAP_S:
        return math.nan
    va = hist[ra, H_VEL]
    vb = hist[rb, H_VEL]
    if va * vb < 0.0 and abs(vb - va) > _HERM_TURN_DPS:
        return math.nan
    k = a - 1
    while k > a - _HERM_ALPHA_ROWS and k >= 1 and hist[ra, H_TIME] - hist[k & mask, H_TIME] < _HERM_ALPHA_SPAN_S:
        if hist[k & mask, H_FLAG] == H_FLAG_BRIDGED:
            return math.nan
        k -= 1
    if k < 0 or hist[ra, H_FLAG] == H_FLAG_BRIDGED or hist[k & mask, H_FLAG] == H_FLAG_BRIDGED:
        return math.nan
    alpha_a = (hist[ra, H_VEL] - hist[k & mask, H_VEL]) / (hist[ra, H_TIME] - hist[k & mask, H_TIME])
    k = b + 1
    while k < b + _HERM_ALPHA_ROWS and k < last and hist[k & mask, H_TIME] - hist[rb, H_TIME] < _HERM_ALPHA_SPAN_S:
        k += 1
    if k > last:
        return math.nan
    alpha_b = (hist[k & mask, H_VEL] - hist[rb, H_VEL]) / (hist[k & mask, H_TIME] - hist[rb, H_TIME])
    curve = h * h * (alpha_a - alpha_b) / 12.0
    if not abs(curve) <= _HERM_MAX_CURVE_DEG:
        return math.nan
    return 0.5 * h * (hist[ra, H_VEL] + hist[rb, H_VEL]) + curve


@njit_borrowed_inline
def _pg_needs_sum(ist: np.ndarray, hist: np.ndarray) -> bool:
    """Whether the open gyro window re-anchors by its sum: its gap's turn is not known from the rates (``_gap_turn``).

    Read before a later short gap inside the window: such a window is kept
    open across it (``_kern_run``), since a sum cut short is no gravity.
    """
    last = ist[I_SAMPLE] - 1
    g0 = ist[I_PG_GAP0]
    e0 = ist[I_PG_END]
    if e0 > g0 and g0 >= 1 and e0 <= last:
        return math.isnan(_gap_turn(ist, hist, g0 - 1, e0, last))
    return True


@njit_borrowed_inline
def _turn_up(prm: np.ndarray, fstate: np.ndarray, shift_deg: float) -> None:
    """Turn "up" about the flexion axis so that the angle it gives grows by ``shift_deg``."""
    ux = fstate[F_UP]
    uy = fstate[F_UP + 1]
    uz = fstate[F_UP + 2]
    up_u = ux * prm[P_U] + uy * prm[P_U + 1] + uz * prm[P_U + 2]
    up_w = ux * prm[P_W] + uy * prm[P_W + 1] + uz * prm[P_W + 2]
    up_a = ux * prm[P_A] + uy * prm[P_A + 1] + uz * prm[P_A + 2]
    r = math.sqrt(up_u * up_u + up_w * up_w)
    th = math.atan2(up_w, up_u) + shift_deg / RAD
    cu = r * math.cos(th)
    cw = r * math.sin(th)
    for i in range(3):
        fstate[F_UP + i] = up_a * prm[P_A + i] + cu * prm[P_U + i] + cw * prm[P_W + i]


def _pg_finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Close the post-gap window, with a gyro (``_pg_finish_gyro``) or without one (``_apg_finish``).

    Plain Python, for callers that are (the end of a stream, the sign's trace): the
    main loop closes the window through ``_pg_close``, which compiles only its own
    mode's kernel (``dsp/_kern_mode.py``).
    """
    if prm[P_HAS_GYRO] > 0.0:
        _pg_finish_gyro(prm, fstate, ist, hist)
    else:
        fstate[F_PG_S] = 0.0
        _apg_finish(prm, fstate, ist, hist)


@njit_borrowed_inline
def _pg_close(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, gyro: bool) -> None:
    """``_pg_finish`` for a kernel of one mode (``gyro``: a constant there, so the other mode's is not compiled)."""
    if gyro:
        _pg_finish_gyro(prm, fstate, ist, hist)
    else:
        fstate[F_PG_S] = 0.0
        # Without a gyro the window chose the swing's phase (_kern_gap_acc).
        _apg_finish(prm, fstate, ist, hist)


@njit_borrowed
def _pg_finish_gyro(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Close the gyro's post-gap window: re-anchor "up" and correct the window's history.

    "Up" turns about the flexion axis by the gap's turn from the rates either
    side (``_gap_turn``) less what the bridge and the first row turned, or,
    where that turn is not known, moves to the window's sum.

    Parameters
    ----------
    prm, fstate, ist : ndarray
        Kernel parameters and state (see ``_layout``).
    hist : ndarray, shape (cap, 5)
        History ring; samples ``I_PG_GAP0 - 1 .. I_SAMPLE - 1`` must be in it.
    """
    fstate[F_PG_S] = 0.0
    cap = ist[I_CAP]
    last = ist[I_SAMPLE] - 1
    g0 = ist[I_PG_GAP0]
    e0 = ist[I_PG_END]
    shift = 0.0
    sx = fstate[F_PG_SUM]
    sy = fstate[F_PG_SUM + 1]
    sz = fstate[F_PG_SUM + 2]
    sn = math.sqrt(sx * sx + sy * sy + sz * sz)
    turn = math.nan
    if e0 > g0 and g0 >= 1 and e0 <= last:
        turn = _gap_turn(ist, hist, g0 - 1, e0, last)
    if not math.isnan(turn):
        # The rate ran nearly straight across a short gap: the turn it
        # integrates is better than the window's mean force (see _HERM_*).
        shift = turn - (hist[e0 & (cap - 1), H_THETA] - hist[(g0 - 1) & (cap - 1), H_THETA])
        # The angles either side may lie across +-180 deg: the short way round.
        shift -= 360.0 * math.floor((shift + 180.0) / 360.0)
        _turn_up(prm, fstate, shift)
    elif fstate[F_PG_CNT] > 0.0 and sn > 0.0:
        old = _theta_of(prm, fstate[F_UP], fstate[F_UP + 1], fstate[F_UP + 2])
        shift = _theta_of(prm, sx, sy, sz) - old
        if shift > 180.0:
            shift -= 360.0
        elif shift < -180.0:
            shift += 360.0
        limit = fstate[F_PG_MAX_SHIFT]
        if (limit > 0.0 and abs(shift) > limit) or sn < _PG_MIN_MEAN_G * fstate[F_PG_T]:
            # More than the bridge can have missed, or a sum whose rows
            # cancel: the window's mean force is not gravity (a runner
            # speeding up or stopping tilts it by tens of degrees); the
            # bridge is kept.
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


@njit_borrowed
def _peak_drawn_in_gap(ist: np.ndarray, hist: np.ndarray, cap: int, low: float, low_idx: int, peak_idx: int) -> bool:
    """Whether the rise's peak is a bridged row of a gap that holds the whole top half of the rise.

    The bridge across a gap is a cubic between the angles and rates measured
    on either side (``_kern_gap``): it keeps the shape of a peak whose top
    the gap cut off, where the rows measured on either side are high up the
    swing.  Where both are in the bottom half of the rise, the gap held the
    swing's whole turn and the cubic draws a hump of its own (a 25 Hz
    march's 90 deg swing, hidden by a lost 0.6 s notification, came out as
    a 16 deg "rep").  Such a swing is left to the tempo
    (``dsp/sets.hidden_peaks``).
    """
    if _h(hist, cap, peak_idx, H_FLAG) != H_FLAG_BRIDGED:
        return False
    a = peak_idx
    while a > low_idx and _h(hist, cap, a - 1, H_FLAG) == H_FLAG_BRIDGED:
        a -= 1
    b = peak_idx
    last = ist[I_SAMPLE] - 1
    while b < last and _h(hist, cap, b + 1, H_FLAG) == H_FLAG_BRIDGED:
        b += 1
    # The last row measured before the gap and the first after it.
    mid = 0.5 * (low + _h(hist, cap, peak_idx, H_THETA))
    return _h(hist, cap, a - 1, H_THETA) < mid and _h(hist, cap, min(b + 1, last), H_THETA) < mid

"""The post-gap window of the accelerometer-only pendulum filter: which phase the swing came back in.

The accelerometer sees the thigh's angle and angular acceleration (gravity
and the tangential term) but its rate only squared (the centripetal term):
a swing forward and the same swing back read alike for a moment, and only
the filter's dynamics carry the rate's sign.  Over a gap bridged with a
straight line of specific force the filter is fed a force no swing makes,
and it often comes back half a stride out of phase or at half the stride
rate (benchmarks/README.md, "Accelerometer-only strides"): a run of missed
strides.  A stride is periodic, so the rows one stride period before the
gap say where the thigh was in its swing at each bridged row.

So a bridged gap in an accelerometer-only analysis opens a window of
``_APG_WINDOW_S`` after the gap in which the detector waits (as with a gyro,
:mod:`hipflex.dsp._kern_gap`).  At its end the filter runs again over the
window from two hypotheses, as the axis watch re-runs held rows
(:mod:`hipflex.dsp._kern_axis_acc`):

* *bridged*: the run as it was (the bridged rows as measurements);
* *periodic*: the bridged rows copied from one stride period (the
  autocorrelation peak of the angle before the gap) earlier, the filter
  restarting at the first measured row from the state it had one period
  before it.

The one whose innovations fit the measured rows after the gap best (the
least summed normalised innovation squared, each row's capped as the
identification likelihood caps it) is kept, history and state.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed
from hipflex.dsp._kern_axis_acc import _refilter, _step_row
from hipflex.dsp._kern_pendulum import _zupt_anchor_here
from hipflex.dsp._layout import (
    F_APG_SNAP,
    F_G_EST,
    F_ID_N,
    F_ID_NIS,
    F_NLL,
    F_P,
    F_PERIOD,
    F_X,
    F_ZLP,
    F_ZSTILL_S,
    H_JOLT,
    H_P,
    H_SIGMA,
    H_THETA,
    H_VEL,
    H_X,
    I_AX_HOLD,
    I_CAP,
    I_PG_END,
    I_PG_GAP0,
    I_SAMPLE,
    P_ID,
)

__all__: list[str] = []

# A bridged gap longer than this (s) opens the window: a shorter one is a
# few rows of a swing the straight line follows closely enough.
_APG_GAP_S = 0.1
# The window after the gap (s): about one stride of a run or a brisk walk,
# long enough for a filter restarted half a stride off to show it.
_APG_WINDOW_S = 1.0
# The stride period is sought in this range (s) over this much angle history
# before the gap (s), read at most every _ACF_STEP_S; a correlation below
# _MIN_ACF is no rhythm.
_T_MIN_S = 0.4
_T_MAX_S = 2.0
_ACF_SPAN_S = 3.0
_ACF_STEP_S = 0.01
_MIN_ACF = 0.6


@njit_borrowed
def _apg_snap(fstate: np.ndarray) -> None:
    """At a gap that opens the window: keep the filter's axis-free state and likelihood sums as they are."""
    for i in range(3):
        fstate[F_APG_SNAP + i] = fstate[F_ZLP + i]
    fstate[F_APG_SNAP + 3] = fstate[F_ZSTILL_S]
    fstate[F_APG_SNAP + 4] = fstate[F_G_EST]
    fstate[F_APG_SNAP + 5] = fstate[F_NLL]
    fstate[F_APG_SNAP + 6] = fstate[F_ID_NIS]
    fstate[F_APG_SNAP + 7] = fstate[F_ID_N]


@njit_borrowed
def _stride_rows(hist: np.ndarray, cap: int, end: int, period: float) -> int:
    """The stride period in rows: the first autocorrelation peak of the angle in the rows before ``end``; 0: none."""
    if not period > 0.0:
        return 0
    step = max(1, round(_ACF_STEP_S / period))
    lo = math.ceil(_T_MIN_S / period / step)
    hi = int(_T_MAX_S / period / step)
    span = int(_ACF_SPAN_S / period / step)
    n = span + hi
    if end - n * step < 0 or n * step >= cap // 4:
        return 0
    prev = -2.0
    rising = False
    for lag in range(lo, hi + 1):
        sa = 0.0
        sb = 0.0
        sab = 0.0
        saa = 0.0
        sbb = 0.0
        for i in range(span):
            a = hist[(end - 1 - i * step) & (cap - 1), H_THETA]
            b = hist[(end - 1 - (i + lag) * step) & (cap - 1), H_THETA]
            sa += a
            sb += b
            sab += a * b
            saa += a * a
            sbb += b * b
        va = saa - sa * sa / span
        vb = sbb - sb * sb / span
        r = (sab - sa * sb / span) / math.sqrt(va * vb) if va > 0.0 and vb > 0.0 else 0.0
        # The first local maximum above the floor (its multiples correlate too).
        if r < prev and rising and prev > _MIN_ACF:
            return (lag - 1) * step
        rising = r > prev and lag > lo
        prev = r
    return 0


@njit_borrowed
def _rerun(
    prm: np.ndarray, fstate: np.ndarray, hist: np.ndarray, cap: int, first: int, last: int, score_from: int
) -> float:
    """Run the filter from its state over rows ``first..last``, history untouched; the NIS summed from ``score_from``.

    The summed NIS is capped per row by the filter (``F_ID_NIS``, while identifying).
    """
    nis0 = 0.0
    for k in range(first, last + 1):
        if k == score_from:
            nis0 = fstate[F_ID_NIS]
        _step_row(prm, fstate, hist, k & (cap - 1))
    return fstate[F_ID_NIS] - nis0


@njit_borrowed
def _restart(fstate: np.ndarray, hist: np.ndarray, slot: int) -> None:
    """The filter as it was before the gap: axis-free state and sums from the snapshot, the rest from row ``slot``."""
    for i in range(3):
        fstate[F_ZLP + i] = fstate[F_APG_SNAP + i]
    fstate[F_ZSTILL_S] = fstate[F_APG_SNAP + 3]
    fstate[F_G_EST] = fstate[F_APG_SNAP + 4]
    _zupt_anchor_here(fstate)  # its still stretch goes on, anchored where the force is
    fstate[F_NLL] = fstate[F_APG_SNAP + 5]
    fstate[F_ID_NIS] = fstate[F_APG_SNAP + 6]
    fstate[F_ID_N] = fstate[F_APG_SNAP + 7]
    _state_from_row(fstate, hist, slot)


@njit_borrowed
def _state_from_row(fstate: np.ndarray, hist: np.ndarray, slot: int) -> None:
    """The filter's state and covariance as history row ``slot`` holds them."""
    for i in range(3):
        fstate[F_X + i] = hist[slot, H_X + i]
    fstate[F_P] = hist[slot, H_P]
    fstate[F_P + 1] = hist[slot, H_P + 1]
    fstate[F_P + 2] = hist[slot, H_P + 2]
    fstate[F_P + 3] = hist[slot, H_P + 1]
    fstate[F_P + 4] = hist[slot, H_P + 3]
    fstate[F_P + 5] = hist[slot, H_P + 4]
    fstate[F_P + 6] = hist[slot, H_P + 2]
    fstate[F_P + 7] = hist[slot, H_P + 4]
    fstate[F_P + 8] = hist[slot, H_P + 5]


@njit_borrowed
def _apg_finish(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray) -> None:
    """Close the accelerometer-only window: keep the bridged run or the periodic one (module docstring)."""
    cap = ist[I_CAP]
    last = ist[I_SAMPLE] - 1
    g0 = ist[I_PG_GAP0]
    e0 = ist[I_PG_END]
    if ist[I_AX_HOLD] != 0 or g0 < 1 or e0 <= g0 or e0 > last:
        return
    lag = _stride_rows(hist, cap, g0, fstate[F_PERIOD])
    if lag <= 0:
        return
    # Whole periods back to the last row before the gap or earlier.
    lag *= max(1, (e0 - g0 + lag - 1) // lag)
    if g0 - 1 - lag < 0 or (last - g0) + lag >= cap // 4:
        return
    before = (g0 - 1) & (cap - 1)
    source = (e0 - 1 - lag) & (cap - 1)
    id_on = prm[P_ID]
    prm[P_ID] = 1.0  # the filter sums the NIS (F_ID_NIS) only while identifying
    # Bridged: from the row before the gap, as the rows were filtered.
    _restart(fstate, hist, before)
    nis_bridged = _rerun(prm, fstate, hist, cap, g0, last, e0)
    # Periodic: the state one stride (or a few) before the first measured row.
    _restart(fstate, hist, before)
    _rerun(prm, fstate, hist, cap, g0, e0 - 1, e0)
    _state_from_row(fstate, hist, source)
    nis_periodic = _rerun(prm, fstate, hist, cap, e0, last, e0)
    prm[P_ID] = id_on
    # The kept run once more as the analysis runs it (its sums only while identifying).
    keep = nis_periodic < nis_bridged
    _restart(fstate, hist, before)
    if not keep:
        _rerun(prm, fstate, hist, cap, g0, last, last + 1)
        return
    _rerun(prm, fstate, hist, cap, g0, e0 - 1, e0)
    # The bridged rows copied from a stride earlier, then the filter from there.
    for i in range(g0, e0):
        src = (i - lag) & (cap - 1)
        dst = i & (cap - 1)
        hist[dst, H_THETA] = hist[src, H_THETA]
        hist[dst, H_VEL] = hist[src, H_VEL]
        hist[dst, H_SIGMA] = hist[src, H_SIGMA]
        for j in range(3):
            hist[dst, H_X + j] = hist[src, H_X + j]
        for j in range(6):
            hist[dst, H_P + j] = hist[src, H_P + j]
        hist[dst, H_JOLT] = 0.0
    _state_from_row(fstate, hist, source)
    _refilter(prm, fstate, hist, cap, e0, last, 0.0, 0.0)

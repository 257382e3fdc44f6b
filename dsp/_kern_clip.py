"""Clipped accelerometer rows: which axes of a row sit at full scale, and the count of clipped rows.

A clipped axis is a bound on the specific force, not a value; the filters
treat it as one (:mod:`hipflex.dsp._kern_censor`).  Split from
:mod:`hipflex.dsp._kern_run`, whose main loop calls :func:`_clip_flags` on
every row.  Private; the public path is :mod:`hipflex.dsp.pipeline`.
"""

from __future__ import annotations

import numpy as np

from hipflex.dsp._jit import njit_borrowed_inline
from hipflex.dsp._layout import F_PREV_RAW, I_CLIPPED, I_PREV_CLIP, P_ACC_RANGE

__all__: list[str] = []

# Standard accelerometer ranges, g, and the relative tolerance of a plateau.
_RANGES_G = (2.0, 4.0, 8.0, 16.0)
_CLIP_TOL = 2e-3
# Below this |value|, g, no standard range is within tolerance (the lowest is
# 2 g, within 0.4 %; the margin is twice that, so rounding cannot matter):
# nearly every row is decided by this one comparison instead of four.
_BELOW_RANGES_G = _RANGES_G[0] * (1.0 - 2.0 * _CLIP_TOL)
# _clip_flags: bits 0-2 an axis at full scale, this bit a row counted as clipped.
_CLIP_AXES = 7
_CLIP_ROW = 8


@njit_borrowed_inline
def _at_range(v: float, range_g: float) -> bool:
    a = abs(v)
    if range_g > 0.0:
        return a >= range_g * (1.0 - _CLIP_TOL)
    if a < _BELOW_RANGES_G:
        return False
    for r in _RANGES_G:
        if abs(a - r) <= r * _CLIP_TOL:
            return True
    return False


@njit_borrowed_inline
def _clip_flags(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, ax: float, ay: float, az: float) -> int:
    """Count clipped rows; return this row's clip bits.

    Bits 0-2 (x, y, z): the axis reads a full-scale value, so it is a bound
    on the specific force, not a value (the filters treat it as one).  Bit 3
    (``_CLIP_ROW``): the row counts as clipped.  With a known range a value at
    full scale is clipped.  Without one, a value sitting at a standard range
    (2/4/8/16 g) on two consecutive rows is a saturation plateau, and the
    plateau's first row counts too.  Each row counts once however many axes
    are clipped.  A single value at a standard range does not count, but its
    axis is still taken as a bound: if it was a true value, the bound is that
    value, and a filter held to it loses little.
    """
    rng = prm[P_ACC_RANGE]
    bits = 0
    any_clip = False
    for c in range(3):
        v = ax if c == 0 else (ay if c == 1 else az)
        if _at_range(v, rng):
            bits |= 1 << c
            if rng > 0.0 or abs(v - fstate[F_PREV_RAW + c]) <= abs(v) * _CLIP_TOL:
                any_clip = True
        fstate[F_PREV_RAW + c] = v
    if any_clip:
        bits |= _CLIP_ROW
        ist[I_CLIPPED] += 1
        if rng <= 0.0 and ist[I_PREV_CLIP] == 0:
            ist[I_CLIPPED] += 1  # the plateau's first row, not counted on its own
    ist[I_PREV_CLIP] = 1 if any_clip else 0
    return bits

"""The flexion sign from the thigh's first move out of the calibrated rest (accelerometer only).

Leaving a standing rest, the thigh's rate is still near zero, so the
pendulum's rate-squared terms (the centripetal ``L theta'^2`` and the
offset's ``d theta'^2``) vanish, and the tilt is still near the rest pose:
what the specific force gains along the thigh's anterior axis is the
tangential ``L theta''``, the way the thigh starts to turn, whatever the
sensor's place.  A stride, a march, a squat or a leg raise leave a stand
forwards (flexion first), so under the right sign that push is forwards.

Used where the flexion sign is otherwise a close call: without a gyro at
20-40 Hz, where a trace's excursions are ambiguous and the witness places
decide (:func:`hipflex.dsp.flexion_sign.sign_and_lever`).  There the sign
came out the wrong way round in 8 of 300 tuning sessions of front straps
10-18 cm down (``accuracy_wide.py --focus stride25``), each with a set 2-17
off, and the push out of the rest told the right way in all 8
(benchmarks/README.md, stride31).  A recording that starts
mid-set calibrates at the first rest, and the sign's span (``sign_confirm_s``
from the lock) can end before the thigh leaves it: the kernel then waits for
the departure, up to ``DEPARTURE_WAIT_S`` past the span.
"""

from __future__ import annotations

import numpy as np

from hipflex.dsp.learn import Axes, Calibration

__all__ = ["DEPARTURE_WAIT_S", "departure_end", "departure_forward"]

#: How long past the sign's span (s) the first move out of the calibrated rest is waited for: a rest between
#: sets in the simulator lasts 12-25 s, and a mid-set start calibrates at its beginning (tuning focus seeds
#: 124, 206, 230, 42: the set after it began 5.8-17.7 s past the span).
DEPARTURE_WAIT_S = 20.0

# A row this far (g) from the calibration window's mean specific force has
# left the rest (sensor noise and a stand's sway stay within a few 0.01 g).
_LEAVE_G = 0.1
# The push is read over the rows this long (s) from the leaving row on (four
# at 25 Hz): a stride's first swing pushes one way for 0.15-0.2 s, where a
# foot's jolt in a rest (the thigh within 2 deg) pushes 0.3-0.4 g both ways
# from row to row (tuning focus seeds 157, 216: its first two rows read as a
# push forwards, under the wrong sign; over 0.14 s its mean is 0.01-0.06 g).
_PUSH_S = 0.14
# The mean push along the anterior axis over those rows, g, that tells the
# sign.  A first move smaller than this is a weight shift or a fidget, not a
# drill's first swing (tuning focus: strides' first swings 0.2-0.64 g, jolts 0.01-0.06).
_MIN_PUSH_G = 0.15
# How much of the rows' push must go the mean's way: (with - against) / (with
# + against) over the rows, 1 when every row pushes one way.  A swing's first
# 0.14 s pushes one way row after row (tuning: 1.0); a foot's jolt in a rest
# rings both ways, and one whose rows happened to sum past _MIN_PUSH_G told
# the wrong sign (tuning seed 32, a 25 Hz side strap 33 cm down: -0.23, +0.32,
# +0.62, -0.12 g, the thigh within 2 deg; 0.47; a set 6 short;
# benchmarks/README.md, stride32).
_MIN_PUSH_AGREEMENT = 0.8


def _leaving_row(t: np.ndarray, acc: np.ndarray, cal: Calibration, end: int) -> int:
    """The first row in ``cal.end_row + 1 : end`` that left the rest; -1 when none did."""
    rest = np.nanmean(acc[cal.start_row : cal.end_row + 1], axis=0)
    first = cal.end_row + 1
    if first >= end:
        return -1
    dev = np.linalg.norm(acc[first:end] - rest, axis=1)
    far = np.isfinite(dev) & (dev > _LEAVE_G)
    return first + int(np.argmax(far)) if far.any() else -1


def departure_end(t: np.ndarray, acc: np.ndarray, cal: Calibration, stop: int, at_end: bool) -> int | None:
    """End (exclusive) of the buffer rows the departure is read on; None until they are buffered.

    The rows reach ``_PUSH_S`` past the first row that left the calibrated
    rest, or ``DEPARTURE_WAIT_S`` past row ``stop - 1`` (the end of the
    sign's span) if the thigh has not left it by then.  They depend on the
    rows alone, so any chunking of a stream reads the same ones.
    """
    n = t.shape[0]
    limit = int(np.searchsorted(t, t[stop - 1] + DEPARTURE_WAIT_S, side="right"))
    j = _leaving_row(t, acc, cal, limit)
    if j >= 0:
        end = int(np.searchsorted(t, t[j] + _PUSH_S, side="right"))
        if end < n:
            return end
    elif limit < n:
        return limit
    return n if at_end else None


def departure_forward(t: np.ndarray, acc: np.ndarray, cal: Calibration, axes: Axes, end: int) -> bool | None:
    """Whether the first move out of the calibrated rest pushes forwards under ``axes``; None when it does not tell.

    Rows ``cal.end_row + 1 : end`` (:func:`departure_end`).  None where the
    calibration window is no still stand (``cal.quiet`` false: the quietest
    window can be a rep's slow turn), where the thigh did not leave the rest
    within the rows, or where its mean push along the anterior axis over
    them (``_PUSH_S`` from the leaving row) is under ``_MIN_PUSH_G``, or
    where the rows push both ways (``_MIN_PUSH_AGREEMENT``: a jolt).
    """
    if not cal.quiet:
        return None
    j = _leaving_row(t, acc, cal, end)
    if j < 0:
        return None
    rest = np.nanmean(acc[cal.start_row : cal.end_row + 1], axis=0)
    rows = (acc[j:end] - rest) @ axes.w
    push = float(np.nanmean(rows))
    if not abs(push) >= _MIN_PUSH_G:
        return None
    if not abs(push) >= _MIN_PUSH_AGREEMENT * float(np.nanmean(np.abs(rows))):
        return None  # rows pushing both ways: a jolt, not a swing
    return push > 0.0

"""Where the thigh settles when the first still stretch was not its rest pose (the learning flow's check).

A recording that starts lying down (or in a hold) calibrates on that pose.
Before the kernel starts, :func:`settled_elsewhere` looks in the buffered
rows for still stretches of another pose, more than ``_OTHER_POSE_DEG`` from
the calibrated one, after which the thigh does not rest in the calibrated
pose again; the stillest such window becomes the rest pose.  Split out of
:mod:`hipflex.dsp.learning_flow`, which calls it from ``ready_kernel``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.learn import Calibration
from hipflex.dsp.quiet_window import Q_BEST_SCORE, find_quiet_window, new_quiet_state
from hipflex.dsp.stream_state import StreamState

__all__ = ["settled_elsewhere"]

# A still stretch whose gravity lies this far from the calibrated pose's is
# another pose of the thigh, deg: halfway to a right angle.  Lying on the
# back or sitting (thigh horizontal) is ~90 deg from standing, a hold at a
# knee lift 80-100 deg, while a standing rest sways within ~10 deg of itself.
_OTHER_POSE_DEG = 45.0
# Still stretches within this of the calibrated pose are that pose again,
# deg: a standing rest sways a few degrees, while the top pause of a rep
# after lying down is 10-20 deg from the lying pose.
_SAME_POSE_DEG = 10.0
# The shortest rest in the calibrated pose that is a return to it, as a
# fraction of calib_still_s (see settled_elsewhere).
_REST_FRACTION = 0.5
# Windows of another pose are tested at end rows this far apart, s.
_SCAN_STEP_S = 0.05
# A quiet window needs this many rows (find_quiet_window's minimum is 10).
_MIN_WINDOW_ROWS = 11


def _other_pose_windows(
    settings: Settings, state: StreamState, cal: Calibration, start: int, stop: int, win_s: float
) -> Iterator[Calibration]:
    """Quiet windows of ``win_s`` in buffer rows ``start:stop`` in another pose than ``cal``'s, in time order.

    Another pose: the window's mean gravity is more than ``_OTHER_POSE_DEG``
    from ``cal.up``, and its mean rate is the calibrated gyro bias within
    ``still_gyr_dps`` (the quiet test alone lets a slow steady turn of up to
    20 deg/s pass, such as the top of a slow rep).  The stillness test is the
    calibration's (:func:`find_quiet_window`), run only on windows whose mean
    pose is far (found for all end rows at once from running sums) and at
    end rows ``_SCAN_STEP_S`` apart: a still stretch ``_SCAN_STEP_S`` longer
    than the window always shows.  After a window the search skips half a
    window on.
    """
    t = state.buf_t[start:stop]
    acc = state.buf_acc[start:stop]
    gyr = None if state.buf_gyr is None else state.buf_gyr[start:stop]
    n = t.shape[0]
    if n < _MIN_WINDOW_ROWS:
        return
    ok = np.isfinite(acc).all(axis=1)
    if gyr is not None:
        ok &= np.isfinite(gyr).all(axis=1)
    csum = np.concatenate([np.zeros((1, 3)), np.cumsum(np.where(ok[:, None], acc, 0.0), axis=0)])
    first = np.searchsorted(t, t - win_s, side="right") - 1  # the quiet test's first row of the window ending at k
    first = np.maximum(first, 0)
    mean = csum[np.arange(1, n + 1)] - csum[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (mean @ cal.up) / np.linalg.norm(mean, axis=1)
    far = (cos < math.cos(math.radians(_OTHER_POSE_DEG))) & (t - t[first] >= 0.95 * win_s)
    max_gap_s = settings.max_bridge_gyro_s if gyr is not None else settings.max_interp_gap_s
    step_rows = max(1, round(_SCAN_STEP_S / cal.period_s))
    k = 0
    while k < n:
        if not far[k]:
            k += 1
            continue
        j = int(first[k])
        qs = new_quiet_state()
        w = find_quiet_window(
            t[j : k + 1],
            acc[j : k + 1],
            None if gyr is None else gyr[j : k + 1],
            win_s,
            settings.still_acc_g,
            settings.still_gyr_dps,
            max_gap_s,
            qs,
            force=False,
            period_s=state.timeline.period0_s,
        )
        if w is not None:
            # (It may end a few rows before k: the quiet test accepts 95 % of win_s.)
            if float(np.max(np.abs(w.gyro_bias_dps - cal.gyro_bias_dps))) <= settings.still_gyr_dps:
                yield dataclasses.replace(
                    w,
                    start_row=w.start_row + j + start,
                    end_row=w.end_row + j + start,
                    window_s=win_s,
                    motion=float(qs[Q_BEST_SCORE]),
                )
            k = max(k + 1, int(np.searchsorted(t, t[k] + 0.5 * win_s, side="left")))
        else:
            k += step_rows


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v), -1.0, 1.0))))


def settled_elsewhere(
    settings: Settings, state: StreamState, cal: Calibration, stop: int, at_end: bool
) -> tuple[bool, Calibration | None]:
    """A new rest pose, if the thigh settled in a clearly different pose and did not rest in the calibrated one again.

    The rest pose is where the thigh rests between its movements, not
    necessarily where it was first still: a recording may start lying down
    or seated (then the person stands up and begins), or inside a hold.  Over
    buffer rows ``cal.end_row + 1:stop`` (the span the sign is confirmed on)
    every quiet window of ``calib_still_s`` is read for its pose.  One more
    than ``_OTHER_POSE_DEG`` from the calibrated pose, whose mean rate is
    the calibrated gyro bias, is another pose; it becomes the rest pose if for
    ``sign_confirm_s`` of measured time after it the thigh never rests in the calibrated
    pose again (:func:`_rest_end`: a hold returns to standing within
    seconds; someone who stood up after lying stays up); the stillest
    window of its still stretch is then the calibration window.  Every
    decision depends on buffered rows alone: while the span after a
    candidate is not all buffered (and the stream goes on), the candidate is
    left for a later call, which sees the same rows.

    Returns
    -------
    (decided, Calibration or None)
        ``decided`` is False while rows the decision needs are still to come;
        the calibration is the new rest pose's, or None to keep ``cal``.
    """
    win_s = max(settings.calib_still_s, _MIN_WINDOW_ROWS * cal.period_s)
    # A return is a rest of half a calibration window: longer than the pause
    # at the top of a slow rep (0.15-0.4 s), which after lying down can be
    # in the lying pose; a hold drill's standing between holds is 0.8-3 s.
    rest_s = settings.calib_still_s * _REST_FRACTION
    t = state.buf_t
    back = -1
    found = _other_pose_windows(settings, state, cal, cal.end_row + 1, stop, win_s)
    for w in found:
        if w.start_row <= back:
            continue
        until = _after_measured(t, w.end_row, settings.sign_confirm_s, cal.period_s)
        if until >= t.size and not at_end:
            return False, None
        back = _rest_end(settings, state, cal, w.end_row + 1, until, rest_s)
        if back < 0:
            return True, _stillest(w, found)
        # The thigh came back to rest in the calibrated pose: the other
        # pose was a hold, not a new rest.  Look on after the return.
    return True, None


def _stillest(w: Calibration, more: Iterator[Calibration]) -> Calibration:
    """The stillest of ``w`` and the windows that follow it without a break (one still stretch).

    The first quiet window of a new pose can still hold the end of the
    movement into it (standing up eases in); as for a short window
    (:func:`_short_quiet_window`), the stillest is the better pose.
    """
    best = prev = w
    for x in more:
        if x.start_row > prev.end_row:
            break
        if x.motion < best.motion:
            best = x
        prev = x
    return best


def _after_measured(t: np.ndarray, row: int, span_s: float, period_s: float) -> int:
    """The first buffer row after ``row`` by which ``span_s`` of measured time has passed (``t.size`` if none).

    Time lost in gaps does not count: a return to the old pose hidden by
    lost packets must not make the other pose look like the one the thigh
    stays in.
    """
    dt = np.minimum(np.diff(t[row:]), 2.0 * period_s)
    return row + 1 + int(np.searchsorted(np.cumsum(dt), span_s, side="left"))


def _rest_end(settings: Settings, state: StreamState, cal: Calibration, start: int, stop: int, rest_s: float) -> int:
    """The last row of the first rest in the pose of ``cal`` in buffer rows ``start:stop``, or -1.

    A rest there is ``rest_s`` or more of rows whose accelerometer lies
    within ``_SAME_POSE_DEG`` of ``cal.up``, stays within ``still_acc_g`` of
    its mean, and (with a gyro) whose mean rate is the calibrated bias within
    ``still_gyr_dps`` (a standing rest sways, and a noisy gyro's samples are
    no movement; averaged they are the bias): the thigh rests there, it does
    not pass slowly through the pose (the top of a slow rep after lying
    down moves the accelerometer more).  The calibration's own quiet
    test asks for at least 10 rows, more than the thigh's pause between two
    holds may last at a low rate (12.5 Hz: 0.8 s); this one asks for 3.
    """
    t = state.buf_t[start:stop]
    acc = state.buf_acc[start:stop]
    gyr = None if state.buf_gyr is None else state.buf_gyr[start:stop]
    norm = np.linalg.norm(acc, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (acc @ cal.up) / norm
    near = np.concatenate([[False], cos >= math.cos(math.radians(_SAME_POSE_DEG)), [False]])
    edges = np.flatnonzero(np.diff(near.astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if t[b - 1] - t[a] < rest_s:
            continue
        j = int(a)
        while j < b:
            k = int(np.searchsorted(t, t[j] + rest_s, side="left"))
            if k >= b:
                break
            # Rows in the run are finite (NaN rows, dropouts, are never near).
            seg = acc[j : k + 1]
            still = k - j >= 2 and float(np.max(np.abs(seg - seg.mean(axis=0)))) <= settings.still_acc_g
            if still and gyr is not None:
                g = gyr[j : k + 1]
                g = g[np.isfinite(g).all(axis=1)]
                rate = g.mean(axis=0) - cal.gyro_bias_dps if g.shape[0] else np.full(3, np.inf)
                still = float(np.max(np.abs(rate))) <= settings.still_gyr_dps
            if still:
                return start + k
            # Half a window on: every still stretch of rest_s still shows.
            j = max(j + 1, int(np.searchsorted(t, t[j] + 0.5 * rest_s, side="left")))
    return -1

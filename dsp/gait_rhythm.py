"""Stride intervals of a run of swings: is a run on a walking rhythm (issue 14, walks).

Pure functions of the intervals between a run's swing peaks (seconds) and the
cadence range of :class:`~hipflex.dsp.analysis_settings.Settings`; the walk
decisions that use them, and why, are in :mod:`hipflex.dsp.gait`.
"""

from __future__ import annotations

import numpy as np

from hipflex.dsp.analysis_settings import Settings

__all__ = [
    "LINK_TOL",
    "SECOND_TOL",
    "link_ok",
    "misplaced_peak",
    "missed_swing",
    "pause_s",
    "period_s",
    "second_on_rhythm",
    "strict_stride",
]

#: A single stride may fall this fraction outside the cadence range (the range bounds the median).
LINK_TOL = 0.25
#: How far (fraction of the stride) the first stride of a walk whose second step read its low in front
#: of standing may differ from the strides after it (``gait._second_step``).
SECOND_TOL = 0.2


def link_ok(settings: Settings, dt_s: float) -> bool:
    return (1.0 - LINK_TOL) * settings.gait_min_stride_s <= dt_s <= (1.0 + LINK_TOL) * settings.gait_max_stride_s


def strict_stride(settings: Settings, dt_s: float) -> bool:
    """A stride at a walking cadence: ``gait_min_stride_s`` to ``gait_max_stride_s``."""
    return settings.gait_min_stride_s <= dt_s <= settings.gait_max_stride_s


def period_s(settings: Settings, peaks_s: tuple[float, ...]) -> float:
    """The run's stride: the median of its strides at a walking cadence (all of them if none is).

    A thigh swings forward once per stride of its own leg, and no walking
    stride is shorter than ``gait_min_stride_s``; without a gyro a foot
    strike can split a swing's peak in two, or the other foot's strike
    read as one more swing (Marpino acc-only walks: steps 1.2 s apart read
    pieces 0.5-0.8 and 0.9-1.0 s long, and the pieces at a walking cadence
    set the median 20 % short: one or two strides too many).  So a swing
    closer to the swing kept before it than ``gait_min_stride_s`` and than
    ``LINK_TOL`` short of the leg's stride is no swing of the rhythm (as
    ``gait.feed_candidate`` ignores a jolt that soon) and is left out
    before the median is taken.  The leg's stride for that test is the
    median, over the swings, of the interval to the first swing a walking
    stride on, which the pieces do not shorten.  That median is not the
    answer itself: where a swing is only misplaced (a short stride, then
    a long one) it counts the pair as one long stride, and it lengthened
    clean simulated walks' strides by a rank (one stride fewer in 2 of 120
    walks of 40 s, tuning seeds).
    """
    peaks = np.sort(np.asarray(peaks_s))
    if peaks.size > 2:
        nxt = np.searchsorted(peaks, peaks + settings.gait_min_stride_s, side="left")
        has = nxt < peaks.size
        leg = peaks[nxt[has]] - peaks[has]
        leg = leg[leg <= settings.gait_max_stride_s]
        if leg.size:
            near_s = min(settings.gait_min_stride_s, (1.0 - LINK_TOL) * float(np.median(leg)))
            keep = np.ones(peaks.size, dtype=bool)
            for i in np.flatnonzero(np.diff(peaks) < near_s) + 1:
                kept = i - 1 - int(np.argmax(keep[i - 1 :: -1]))  # the latest swing kept before i (keep[0] stays)
                keep[i] = peaks[i] - peaks[kept] >= near_s
            peaks = peaks[keep]
    dt = np.diff(peaks)
    ok = dt[(dt >= settings.gait_min_stride_s) & (dt <= settings.gait_max_stride_s)]
    return float(np.median(ok if ok.size else dt))


def missed_swing(settings: Settings, dt_s: np.ndarray, on: np.ndarray, struck_first: bool = False) -> np.ndarray:
    """Strides of an undecided run that are two of its strides: a swing too small to be seen between.

    A walk's steps straddle ``candidate_deg`` (12-36 degrees of swing), so a
    step the detector did not see leaves an interval of two strides.  A
    confirmed walk accepts it (``_walk_link_ok``); a run still being decided
    does too when the interval comes after a stride at a walking cadence
    (the run's rhythm is then known: a rep a couple of seconds before a
    walk's first step stays a rep) and lies within ``LINK_TOL`` of twice
    the median of the run's strides at a walking cadence.  As the run's
    first interval it is a pause, unless the run's first swing was struck
    (``struck_first``): the foot landed while the thigh was still forward, as
    a step's does and a drill's rep does not, so the swing is a walk's first
    step whose next step was not seen (its rhythm is judged on the strides
    after it, which ``_decide`` waits for).
    """
    half = 0.5 * dt_s
    double = ~on & (half >= settings.gait_min_stride_s) & (half <= settings.gait_max_stride_s)
    if not double.any() or not on.any():
        return np.zeros_like(on)
    after_rhythm = np.arange(dt_s.size) > np.flatnonzero(on)[0]
    if struck_first:
        after_rhythm[0] = True
    two_s = 2.0 * float(np.median(dt_s[on]))
    return double & after_rhythm & (np.abs(dt_s - two_s) <= LINK_TOL * two_s)


def misplaced_peak(settings: Settings, dt_s: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Short strides of an undecided run that with the stride next to them span two walking strides.

    Without a gyro the angle's peak in a walk is where the filter put it, up
    to 0.3 s from the thigh's (foot strikes and the hip's acceleration
    stretch its extremes; benchmarks/README.md, issue 14 walks), so one
    swing's peak can come early or late: the stride before it is then that
    much longer, the one after it that much shorter, and their sum is still
    two strides.  So, where a swing of the run was struck
    (``GaitState.struck_run``; a drill's peaks without foot strikes stay
    where the thigh's are: an accelerometer-only clamshell set's uneven
    reps were taken for a walk), a stride up to ``LINK_TOL`` short of
    ``gait_min_stride_s`` is taken as on the rhythm when a stride beside it
    is at a walking cadence and the two together last two strides of
    ``gait_min_stride_s`` to ``gait_max_stride_s``.  A jog's or a stride
    drill's strides are short on both sides, so their sums stay short.
    """
    lo, hi = settings.gait_min_stride_s, settings.gait_max_stride_s
    short = ~on & (dt_s >= (1.0 - LINK_TOL) * lo) & (dt_s < lo)
    out = np.zeros_like(on)
    for i in np.flatnonzero(short):
        for j in (i - 1, i + 1):
            if 0 <= j < dt_s.size and on[j] and 2.0 * lo <= dt_s[i] + dt_s[j] <= 2.0 * hi:
                out[i] = True
    return out


def second_on_rhythm(dt_s: np.ndarray) -> bool:
    """The run's first stride lies within ``SECOND_TOL`` of the median of the strides after it."""
    period_s = float(np.median(dt_s[1:]))
    return abs(float(dt_s[0]) - period_s) <= SECOND_TOL * period_s


def pause_s(settings: Settings) -> float:
    """The longest interval (s) at which a swing can still be a walk's next (``link_ok``'s upper end)."""
    return (1.0 + LINK_TOL) * settings.gait_max_stride_s

"""A lone accelerometer-only swing between sets: a rep, or a step of a walk the angle barely saw.

``hipflex.dsp.gait`` reads these tests when a run holds a single swing:
``lone_start`` (a swing alone after a set of another kind may start a walk),
``lone_step`` (a run of one swing, closed by a swing of another kind, was a
short walk between sets) and ``first_step_pair`` / ``pair_walk`` (a struck
first step from standing and its next step half seen, then a stop).  Split from ``hipflex.dsp.gait_swing``,
whose per-swing tests they build on.
"""

from __future__ import annotations

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait_rhythm import pause_s, strict_stride
from hipflex.dsp.gait_swing import PAIR_MAX_PEAK_DEG, STANCE_DEG, GaitState, gait_shaped, last_step
from hipflex.dsp.types import Rep, Walk

__all__ = ["first_step_pair", "lone_start", "lone_step", "pair_walk"]


def lone_start(settings: Settings, rep: Rep, before: Rep | None, gap_s: float, has_gyro: bool) -> bool:
    """True when an accelerometer-only swing comes alone after a rep of another kind.

    Read only for a swing that starts a run as a step.  ``before`` is the
    latest rep before ``rep`` and ``gap_s`` the interval
    from the latest swing of any size to ``rep``'s peak.  A set's last rep
    shares its set's size and rhythm; a swing that comes after a pause
    longer than a walking link (``link_ok``) and rises less than the
    set's reps by ``OTHER_KIND_RISE`` (``last_step``'s test) is no rep of
    that set.  Such a swing may be a walk's first step whose next step was
    not seen (tuning seed 668, acc-only: a march set, 5.8 s, a swing of 30
    degrees, then the walk's steps of the same size two strides and three
    strides on), which ``missed_swing`` accepts as it does after a
    heel-struck first step; a rep before a walk with no rep of another kind
    before it stays a rep (the pause says nothing on its own).
    """
    if has_gyro or before is None:
        return False
    return gap_s > pause_s(settings) and last_step(settings, rep, before, has_gyro)


def _walk_step(walks: tuple[Walk, ...], rep: Rep) -> bool:
    """True when ``rep`` was a step of the latest walk closed (its peak within the walk's span)."""
    return bool(walks) and walks[-1].start_s <= rep.peak_s <= walks[-1].end_s


def lone_step(settings: Settings, g: GaitState, nxt: Rep, has_gyro: bool, standing_known: bool) -> bool:
    """True when an accelerometer-only run of one rep, closed by ``nxt``, was a short walk between sets.

    Of a slow walk across the room between two sets the accelerometer-only
    angle can see a single swing (tuning seeds 364, 871, 971: true steps
    of 7-22 degrees; the first step from standing, or one step after an
    unseen one, read 25-35 degrees, the others not at all or as one swing
    too small to be a rep).  A swing that stands alone is a rep of a set
    only when it shares its set's size: the reps of one set differ by far
    less than ``OTHER_KIND_RISE`` (fatigue and effort, 10-30 %).  So the
    run's one rep is a step when

    * it is step-shaped (``gait_shaped``) and standing is known;
    * it stands alone: no swing within a walking link (``link_ok``) before
      it, and ``nxt`` (the swing that closes the run) comes after a pause
      longer than a link too;
    * it is of another kind than the reps on both sides: ``nxt`` and the
      latest rep before the run (if any) are no step-shaped swings and rose
      at least ``OTHER_KIND_RISE`` times as much (``last_step``'s test: a
      walk's first step after it is of the walk's kind), unless that rep
      was a step of the walk closed before the run (the walker stopped and
      walked on for two steps: tuning seed 2137, a first step of 32.3
      degrees from standing, struck, and a swing too small to be a rep 1.08 s
      on, 5.7 s after a walk and 8.7 s before a set);
    * and it shows a step: it starts at least ``STANCE_DEG`` behind
      standing and peaks at most ``PAIR_MAX_PEAK_DEG`` (the stance before
      it, as in ``stance_pair``; seed 364), or a swing too small to be a rep
      follows it on a walking link (the next step, half seen; seeds 871,
      971).

    With a gyro the angle sees a walk's steps, so a lone swing is not taken
    for one.  A set of small reps at a slow tempo keeps its reps (each has
    a neighbour of its size), as does a lone swing at the end of the
    stream.
    """
    if has_gyro or not standing_known or g.walking or g.lead or len(g.pending) != 1:
        return False
    rep = g.pending[0]
    if rep.peak_s != g.peaks_s[0] or not gait_shaped(settings, rep, has_gyro):
        return False
    link_s = pause_s(settings)
    if rep.peak_s - g.before_s <= link_s or nxt.peak_s - g.peaks_s[-1] <= link_s:
        return False
    if not last_step(settings, rep, nxt, has_gyro):
        return False
    if g.before is not None and not (_walk_step(g.walks, g.before) or last_step(settings, rep, g.before, has_gyro)):
        return False
    if len(g.peaks_s) == 2:
        return True  # a swing too small to be a rep on a walking link after it (the run's only other swing)
    stance = rep.peak_flexion_deg - rep.rom_deg <= -STANCE_DEG
    return len(g.peaks_s) == 1 and stance and rep.peak_flexion_deg <= PAIR_MAX_PEAK_DEG


def first_step_pair(
    settings: Settings, rep: Rep, has_gyro: bool, standing_known: bool, struck: bool, gap_s: float
) -> bool:
    """True when an accelerometer-only swing that starts a run may be a walk's first step from standing.

    Read for a step-shaped swing that starts a run (``GaitState.paired``;
    ``pair_walk`` decides at the run's end).  A walk's first step starts
    from standing after a pause and its foot lands while the thigh is
    still forward (``struck``, ``STRIKE_G``); a strength rep or a hold lands
    on nothing, and a march's or a stride's reps are no step's flexion.  So
    the swing is step-shaped (``gait_shaped``, standing known), struck, its
    low within ``STANCE_DEG`` of standing, and no swing came within a
    walking link before it (``gap_s``; NaN: none).
    """
    if has_gyro or not standing_known or not struck or not gait_shaped(settings, rep, has_gyro):
        return False
    if rep.peak_flexion_deg - rep.rom_deg <= -STANCE_DEG:
        return False
    return not gap_s <= pause_s(settings)


def pair_walk(settings: Settings, g: GaitState) -> bool:
    """True when an undecided run, now closed, was a walk's first step and its next step half seen.

    Of a slow walk between sets the accelerometer-only angle can see the
    first step from standing (struck, 29-35 degrees) and the next as a swing
    too small to be a rep one stride on, and no more: the steps after them
    read below ``candidate_deg`` or the walker stopped (tuning seeds 1160,
    2059 and 2296: 29.2 from -2.5, 34.6 from +0.2 and 31.9 from +0.2,
    struck 0.63-1.22 g, a small swing 0.92-1.28 s on; true steps 11-30
    degrees).  The walk needs a third swing on its rhythm
    (``gait._decide``), so the run closed undecided and the first step was
    counted, whatever closed it: a swing after a pause, a step from in
    front of standing on the next link, a set.  A run that holds only its
    first swing (``first_step_pair``) and a swing too small to be a rep one
    walking stride after it (``strict_stride``) is such a walk: a set's rep
    followed by a small swing lands on nothing (strength reps, holds) or is
    no step's flexion (a march's knee lift, a stride).  The end of the
    stream keeps the swing a rep, as ``lone_step`` does.
    """
    if not g.paired or g.walking or len(g.pending) != 1 or len(g.peaks_s) != 2:
        return False
    first = g.pending[0]
    return first.peak_s == g.peaks_s[0] and strict_stride(settings, g.peaks_s[1] - g.peaks_s[0])

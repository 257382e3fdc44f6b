"""Telling walking from a drill: swings of level gait are steps, not reps.

Walking between sets swings the thigh forward once per stride by 20 degrees
and more, which the rep definition alone would count.  A run of swings is a
walk when the physics of level gait hold for every swing in it and for its
rhythm:

* **the swing passes through standing into extension**: every swing of
  the run after its first starts at least ``gait_min_extension_deg`` behind
  the standing pose.  In level walking the thigh extends 10-20 degrees
  behind the vertical in late stance on every stride (Kadaba, Ramakrishnan
  & Wootten 1990, doi:10.1002/jor.1100080310; Winter, *Biomechanics and
  Motor Control of Human Movement*, 4th ed. 2009, doi:10.1002/9780470549148),
  while marching, high knees and strength or rehab reps return to about the
  rest pose.  The first step of a walk starts from standing;
* **the flexion is that of gait**: the peak stays at or below
  ``gait_max_flexion_deg`` (thigh flexion peaks at about 20-35 degrees in
  level walking, Kadaba et al. 1990, and rises with walking speed, Lelas et
  al. 2003, doi:10.1016/S0966-6362(02)00060-7: the young walkers of the
  Marpino recordings reach 40-45 degrees with a gyro), and, with a gyro,
  the rise from the low to the peak is at most ``gait_max_rom_deg`` (the
  thigh's sagittal range in walking is about 40-45 degrees, Kadaba et al.
  1990, more when fast: the Marpino walkers rise up to 57; a march rises
  60-95 whatever the reference).  Marching and high knees reach 60-90
  degrees, strides and sprints 45-90 (Novacheck 1998,
  doi:10.1016/S0966-6362(97)00038-6).  How much of the rise lies behind
  standing is not used (only that it starts there): the standing
  reference of a session can be off by
  10 degrees (a gyro calibrated on the move, or an accelerometer-only
  filter whose extremes foot strikes stretch), and then a march's low reads
  10-25 degrees behind standing just as a walk's does;
* **the rhythm is a walking cadence**: every stride of the run (peak to
  peak) lasts ``gait_min_stride_s`` to ``gait_max_stride_s``.  Adults walk
  at 80-140 steps/min, a stride of 0.86-1.5 s (Tudor-Locke et al. 2019,
  doi:10.1186/s12966-019-0769-6; slow or frail walkers down to 60
  steps/min, 2 s); running, even a slow jog, turns over at 150 steps/min and
  faster (a stride of 0.8 s or less: Heiderscheit et al. 2011,
  doi:10.1249/MSS.0b013e3181ebedf4), and a stride drill or a sprint faster
  still.  Every stride must fit, not their median, so that a jog at 0.8 s
  per stride never passes on one lucky pair of strides;
* **it goes on**: ``gait_min_strides`` such swings in a row, or one more
  when a swing too small to be a rep is among them after the first (weaker
  evidence: a lunge is a small step back and a rep; but a walk's first step
  starts from standing, not from extension, and rises less than the steps
  after it, so a small first swing and one step are a short walk).  The
  first stride may be up to ``LINK_TOL`` short (that first step's peak
  comes early) when the strides after it confirm the walk on their own.  A
  stride off the rhythm ends the run for the swings before it only: after
  a pause, a walk's first steps still belong to it; but after a stride on
  the rhythm, an interval of two of the run's strides is a step too small
  to be seen, not a pause (``missed_swing``).  Once a walk is confirmed,
  a stride is accepted within ``LINK_TOL`` of the cadence range, or up to
  two of the walk's own strides (a swing too small to be seen); and one
  step-shaped swing on its rhythm whose low reads in front of standing
  (two in a row without a gyro) is held (``gait_swing.tentative``): a step when the
  walk goes on after it, or when the swing that ends the walk is of
  another kind (``last_step``), else a rep.  Without a gyro a swing from
  extension that reads above a step's flexion is held the same way
  (``stretched_step``; two in a row where the second did not land), or is a step at once when it is struck and the
  walk was confirmed through such swings (``brisk_walk_step``).  A run's second swing may start in front of
  standing too, when the swings from it on confirm the walk on the first
  stride's rhythm (``second_step``).  Without a gyro two swings two
  walking strides apart are a walk when the later starts from a stance
  and one of them is heel-struck (``stance_pair``); a lone swing between
  swings of another kind, after and before a pause, is a short walk's step
  when it starts from a stance or a swing too small to be a rep follows it
  on a walking link (``lone_step``); and a swing alone after a set of
  another kind may be a walk's first step two strides before its rhythm,
  as a struck one may (``lone_start``).

Swings that rose at least ``candidate_deg`` but less than ``min_rom_deg``
(rejected as ``rom_below_min``) keep a walk going and count as its strides
when they fall on its rhythm: a slow walker's swings straddle 20 degrees.

A walk's ``strides`` are its span from first to last swing peak divided by
its stride (the median of its strides at a walking cadence), plus one: a
swing too small to be seen still counts, a jolt half a stride on (the other
foot's strike, which an accelerometer-only angle can read as a small swing)
does not.

**Heel strikes** (accelerometer only).  In walking the foot lands while
the thigh is still forward, at or just after its peak flexion (initial
contact; Perry & Burnfield, *Gait Analysis*, 2nd ed. 2010): |acc| at the
thigh jumps by 0.6 / 1.1 / 2.2 g (10th / 50th / 90th percentile per stride,
thigh straps of the Marpino walks; 0.5-2.6 g per walker for phones in a
front pocket, Oxford).  A march lands at the end of the swing, the thigh
back near standing; leg raises and holds do not land at all.  The rep
detector reports the largest jolt (the pendulum filter's innovation: what
its swing model did not explain) from the peak to the trough while the
thigh is in the top half of the swing (``strike_g``).  A swing with one of
at least ``STRIKE_G`` need not start behind standing, nor need standing
be known: the accelerometer-only angle's extremes are what hip
accelerations and the strikes themselves stretch (the first step of a
walk, the body accelerating forward, reads 10-20 degrees high), and
without a still calibration window standing is unknown.  Its flexion must
still be a step's and its rhythm a walk's: the innovation also jumps after
the peak of a fast leg swing (the filter lagging the reversal: 65 % of
simulated ballistic swings reach 0.5 g), and a stride drill lands in the
top half too but turns over at 0.6-0.8 s a stride.

Reps of a possible walk are held back until the run is decided: a rep that
could be a step is reported when the next swing comes (at most
``gait_min_strides`` swings late), or when the stream ends (a live
``rep_peak`` event may then not be followed by a rep).  The decision
depends only on the sequence of swings, so any chunking of the input gives
the batch result.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait_carry import settle
from hipflex.dsp.gait_high import (
    brisk_step,
    brisk_walk_step,
    carried_high,
    high_second_step,
    lead_shaped,
    noted_high,
    pocket_step,
    pocket_walk,
    soft_lead,
)
from hipflex.dsp.gait_lone import first_step_pair, lone_start, lone_step, pair_walk
from hipflex.dsp.gait_rhythm import (
    LINK_TOL,
    misplaced_peak,
    missed_swing,
    period_s,
    second_on_rhythm,
    strict_stride,
)
from hipflex.dsp.gait_swing import (
    MAX_TENTATIVE,
    OTHER_KIND_RISE,
    SOFT_LANDING_G,
    STRIKE_G,
    GaitState,
    between_steps,
    from_bound,
    from_extension,
    gait_shaped,
    half_step,
    last_step,
    push_off,
    replaced_state,
    second_step,
    slow_onset,
    stance_pair,
    stretched_peak,
    stretched_step,
    tentative,
    walk_link_ok,
)
from hipflex.dsp.gait_unlanded import unlanded_pair
from hipflex.dsp.types import Rep, Walk

__all__ = ["GaitState", "feed_candidate", "feed_rep", "flush", "from_extension", "gait_shaped", "walks_so_far"]


def _walk(settings: Settings, g: GaitState) -> Walk:
    """The run as a walk; strides counted on its rhythm, so a swing too small to be seen still counts."""
    span_s = g.peaks_s[-1] - g.peaks_s[0]
    return Walk(g.start_s, g.end_s, 1 + round(span_s / period_s(settings, g.peaks_s)))


def _close(settings: Settings, g: GaitState) -> tuple[GaitState, tuple[Rep, ...]]:
    """End the current run: a walk is recorded, an undecided run's reps are released as reps.

    A walk's tentative last swings (``gait_swing.tentative``) were no steps of it:
    they are released as reps and the walk ends at the swing before them.
    """
    if g.walking:
        if g.pending:
            g = dataclasses.replace(g, peaks_s=g.peaks_s[: -len(g.pending)])
        return GaitState(walks=(*g.walks, _walk(settings, g))), g.pending
    if not g.peaks_s and not g.pending and not g.reps_in_run and math.isnan(g.start_s) and math.isnan(g.end_s):
        return g, ()  # no run: already the closed state (most reps of a drill pass here)
    return GaitState(walks=g.walks), g.pending


def _closed(settings: Settings, g: GaitState) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """``_close``, where a first step and its next one half seen close as a short walk (``pair_walk``).

    Returns the state, reps released as reps and reps found to be steps.
    """
    if pair_walk(settings, g):
        return GaitState(walks=(*g.walks, _lone_walk(g))), (), g.pending
    g, released = _close(settings, g)
    return g, released, ()


def _extend(
    settings: Settings, g: GaitState, peak_s: float, end_s: float, rep: Rep | None
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """Add a swing on the run's rhythm; decide the run once it is long enough.

    Returns the state, reps released as reps and reps found to be steps.
    """
    peaks = (*g.peaks_s, peak_s)
    if g.walking:
        # The walk goes on past a tentative swing: that was a step too.
        steps = (*g.pending, *(() if rep is None else (rep,)))
        end_s = max(g.end_s, end_s, *(r.end_s for r in g.pending))
        rom_deg = max((g.step_rom_deg, *(r.rom_deg for r in steps)))
        return dataclasses.replace(g, pending=(), peaks_s=peaks, end_s=end_s, step_rom_deg=rom_deg), (), steps
    pending = g.pending if rep is None else (*g.pending, rep)
    g = dataclasses.replace(g, pending=pending, peaks_s=peaks, end_s=max(g.end_s, end_s))
    return _decide(settings, g)


def _decide(settings: Settings, g: GaitState) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """Decide an undecided run: a walk once enough swings follow each other at a walking cadence.

    Every stride must be at a walking cadence, except that the first may be
    up to ``LINK_TOL`` short: the first step of a walk starts from standing,
    not from extension, so its swing is shorter and its peak early (the run's
    other strides must then confirm the walk on their own).  The swings
    before a stride off the rhythm are no part of a walk (their reps are
    counted); those after it may still begin one (the first steps after a
    pause).  Returns the state, reps released as reps and reps found to be
    steps.
    """
    peaks = g.peaks_s
    dt = np.diff(np.asarray(peaks))
    strict = (dt >= settings.gait_min_stride_s) & (dt <= settings.gait_max_stride_s)
    on = strict.copy()
    if g.struck_run:
        on |= misplaced_peak(settings, dt, on)
    # After a struck first step, or one alone after a set of another kind (``lone_start``), an interval
    # of two strides may hold a step not seen.
    first_step = (g.struck_first or g.alone) and not g.lead
    on |= missed_swing(settings, dt, on, first_step)
    if g.lead and dt.size:
        # A high first step is one stride, neither short nor long, before the next (``lead_shaped``):
        # a stride drill's swings at 0.7 s, some read above and some below a step's flexion, stay reps.
        on[0] = strict[0]
    if first_step and dt.size == 1 and not on[0]:
        half_s = 0.5 * dt[0]
        if settings.gait_min_stride_s <= half_s <= settings.gait_max_stride_s:
            return g, (), ()  # two strides after a struck first step: wait for the rhythm after it
    if not on.all():
        off = np.flatnonzero(~on)
        lead = (
            not g.lead
            and off.size == 1
            and off[0] == 0
            and (1.0 - LINK_TOL) * settings.gait_min_stride_s <= dt[0] < settings.gait_min_stride_s
        )
        if not lead:
            # Drop the swings up to the last stride off the rhythm; what is left is on it.
            first_s = peaks[int(off[-1]) + 1]
            released = tuple(r for r in g.pending if r.peak_s < first_s)
            kept = tuple(r for r in g.pending if r.peak_s >= first_s)
            start_s = kept[0].start_s if kept and kept[0].peak_s == first_s else first_s
            rest = GaitState(kept, tuple(t for t in peaks if t >= first_s), (), False, start_s, g.end_s, g.walks)
            # A turnover from the filter's extension bound (``GaitState.hurried``).
            turnover = bool(dt[int(off[-1])] < settings.gait_min_stride_s)
            hurried = turnover and bool(kept) and kept[0].peak_s == first_s and from_bound(settings, kept[0])
            rest = dataclasses.replace(carried_high(rest, g), hurried=hurried)
            rest, more, steps = _decide(settings, rest)
            return rest, (*released, *more), steps
    # The swings that must confirm the walk: all of them, or all after a short first stride or a
    # first swing that read above a step's flexion (``lead``).
    # A run whose first swing came at a drill's turnover after the rep before it (``GaitState.hurried``): a
    # stride set's last swings, read late and low where the accelerometer-only angle lags a fast drill, fall a
    # walking stride apart (tuning seed 3102 under the wider walk: 43.7 then 15.1 degrees from -40, 0.62 s
    # after the set's previous rep); a walk's first step comes from standing, not out of a drill's rhythm.
    # Only a swing from the filter's extension bound (``from_bound``) is so taken: there the low was held,
    # not read, and a walk's stance reads well inside it.
    if g.hurried and len(peaks) < 2:
        return g, (), ()
    body_from_s = peaks[0] if on.all() and not g.lead and not g.hurried else peaks[1]
    if g.second_front:
        # The held second swing is the walk's first step from standing, as a run's first swing may be.
        if len(peaks) < 3:
            return g, (), ()
        body_from_s = peaks[1]
    n_body = sum(1 for t in peaks if t >= body_from_s)
    n_reps = sum(1 for r in g.pending if r.peak_s >= body_from_s and r.peak_s in peaks)  # not ``between_steps``
    # One more swing where a swing too small to be a rep is part of the evidence (a lunge's
    # small step back and its rep are two swings at a walking interval) -- unless that small
    # swing is the first: a walk's first step starts from standing, not from extension, and
    # rises less than the steps after it (a two-stride walk across the room reads as a small
    # swing and one rep from extension).
    first_small = not any(r.peak_s == body_from_s for r in g.pending)
    need = settings.gait_min_strides + (1 if n_body - n_reps > (1 if first_small else 0) else 0)
    if n_body < need:
        return g, (), ()
    # Swings after the first read above a step's flexion (``brisk_step``; a high first swing is ``lead``'s) may
    # be a brisk walk's steps, but only where most of the run reads as steps (fewer than half of its swings
    # read high): wait for more swings.  A high swing from extension with a foot landing in its top half, one
    # walking stride after the last, is a step whatever it read (``GaitState.struck_high_s``) where some swing
    # after the first reads as a step: a phone in a trouser pocket reads a walk's steps on both sides of a
    # step's flexion (Oxford pocket walks, median 47-64 degrees), while a march's knee lifts, struck by the
    # other foot's landing, all read high (tuning seeds 5002, 5138: 55-67 degrees, clipped at 2 g).
    high_deg = settings.gait_max_flexion_deg
    after_s = [t for t in peaks if t >= body_from_s and t > peaks[0]]
    high_s = [r.peak_s for r in g.pending if r.peak_s in after_s and r.peak_flexion_deg > high_deg]
    # The run's first swing read as a step counts too (a walk's first step from standing, not raised
    # by the stance before it: tuning seeds 1150 and 1248 under the wider walk, a brisk walker's first
    # step 43.5-44.5 degrees from standing, every step after it 45-53 from -7 to -15, struck); a march's
    # first knee lift reads as high as the others (tuning seed 5002: 60.4 from standing).
    first_step = body_from_s == peaks[0] and any(
        r.peak_s == peaks[0] and r.peak_flexion_deg <= high_deg for r in g.pending
    )
    some_step = len(high_s) < len(after_s) or first_step
    # A softer landing counts as a step here too (``GaitState.landed_high_s``; tuning seed 2544).
    stepped_s = (*g.struck_high_s, *g.landed_high_s)
    n_high = sum(1 for t in high_s if not (some_step and t in stepped_s))
    if 2 * n_high >= n_body and not pocket_walk(g, high_s):  # unless they landed as a walk's steps
        return g, (), ()
    if g.second_front and not second_on_rhythm(dt):
        # Not the walk's first two steps (a drill's last rep, then the walk's first step from
        # standing): the first swing is a rep; the walk starts at the second.
        first, kept = g.pending[:1], g.pending[1:]
        rest = GaitState(kept, peaks[1:], (), False, kept[0].start_s if kept else peaks[1], g.end_s, g.walks)
        rest = carried_high(rest, g)
        rest, more, steps = _decide(settings, rest)
        return rest, (*first, *more), steps
    rom_deg = max((r.rom_deg for r in g.pending), default=0.0)
    return dataclasses.replace(g, walking=True, pending=(), second_front=False, step_rom_deg=rom_deg), (), g.pending


def _start(
    rep: Rep,
    walks: tuple[Walk, ...],
    lead: bool = False,
    struck: bool = False,
    before_s: float = math.nan,
    before: Rep | None = None,
    alone: bool = False,
) -> GaitState:
    return GaitState(
        pending=(rep,),
        peaks_s=(rep.peak_s,),
        start_s=rep.start_s,
        end_s=rep.end_s,
        walks=walks,
        lead=lead,
        struck_first=struck,
        struck_run=struck,
        before_s=before_s,
        before=before,
        alone=alone,
    )


def _lone_walk(g: GaitState) -> Walk:
    """A lone step's run as a walk (``lone_step``): its swings seen, one stride each."""
    return Walk(g.start_s, g.end_s, len(g.peaks_s))


def _feed_rep(
    settings: Settings,
    g: GaitState,
    rep: Rep,
    has_gyro: bool,
    standing_known: bool = True,
    strike_g: float = math.nan,
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """``feed_rep`` before the latest rep is noted in the state."""
    struck = not has_gyro and strike_g >= STRIKE_G
    prev_s = g.peaks_s[-1] if g.peaks_s else g.last_s
    before = g.last_rep
    alone = lone_start(settings, rep, before, rep.peak_s - prev_s, has_gyro)
    step = gait_shaped(settings, rep, has_gyro) and (struck or standing_known)
    back = struck or from_extension(settings, rep)
    if half_step(settings, g, rep, has_gyro, standing_known):
        # A jolt between two steps of the walk: a step, but no stride of its rhythm.
        return dataclasses.replace(g, end_s=max(g.end_s, rep.end_s)), (), (rep,)
    if push_off(settings, g, rep, has_gyro, standing_known):
        # The push-off before the next step, too soon to be a swing of the run: a step once the run is a walk.
        if g.walking:
            return dataclasses.replace(g, end_s=max(g.end_s, rep.end_s)), (), (rep,)
        return dataclasses.replace(g, pending=(*g.pending, rep), end_s=max(g.end_s, rep.end_s)), (), ()
    if g.lead and len(g.peaks_s) == 1:
        # The swing after a high first step must show the stance between them: it starts behind standing.
        back = standing_known and from_extension(settings, rep)
        if step and back and struck and g.lead_quiet and strict_stride(settings, rep.peak_s - g.peaks_s[0]):
            # Two foot landings one walking stride apart with the stance between them (``lead_shaped``).
            g = dataclasses.replace(g, lead=False)
    if step and stance_pair(settings, g, rep, has_gyro, standing_known, struck, strike_g):
        # A walk of three strides; the step between the two seen ones is kept as a peak on the rhythm.
        peaks = (g.peaks_s[0], 0.5 * (g.peaks_s[0] + rep.peak_s), rep.peak_s)
        steps = (*g.pending, rep)
        end_s = max(g.end_s, rep.end_s)
        rom_deg = max(r.rom_deg for r in steps)
        g = dataclasses.replace(
            g, walking=True, pending=(), peaks_s=peaks, end_s=end_s, step_rom_deg=rom_deg, struck_run=True
        )
        return g, (), steps
    dt_s = rep.peak_s - g.peaks_s[-1] if g.peaks_s else math.nan
    # After a stretched swing (``stretched_step``) only a step one walking stride on confirms it: a
    # stride drill's next swing 0.5-0.8 s on does not.
    stretched = g.walking and any(r.peak_flexion_deg > settings.gait_max_flexion_deg for r in g.pending)
    linked = strict_stride(settings, dt_s) if stretched else walk_link_ok(settings, g, dt_s)
    brisk = (
        brisk_step(settings, g, rep, has_gyro, back, dt_s)
        or brisk_walk_step(settings, g, rep, has_gyro, struck, dt_s)
        or pocket_step(settings, g, rep, has_gyro, strike_g, dt_s)
    )
    onset_ok = has_gyro or not (slow_onset(settings, g, rep, strike_g) or unlanded_pair(g, has_gyro, strike_g))
    if (step or brisk) and g.peaks_s and linked and onset_ok:
        g = noted_high(g, rep, strike_g) if brisk and not step else g
        if brisk and not step and struck and from_extension(settings, rep):
            g = dataclasses.replace(g, struck_high_s=(*g.struck_high_s, rep.peak_s))
        elif brisk and not step and not has_gyro and strike_g > SOFT_LANDING_G and from_extension(settings, rep):
            g = dataclasses.replace(g, landed_high_s=(*g.landed_high_s, rep.peak_s))
        if back:
            if struck and not g.struck_run:
                g = dataclasses.replace(g, struck_run=True)
            if between_steps(settings, g, rep, has_gyro, standing_known):
                g = dataclasses.replace(g, peaks_s=g.peaks_s[:-1])  # held, but no stride of the rhythm
            return _extend(settings, g, rep.peak_s, rep.end_s, rep)
        if g.walking and len(g.pending) < (1 if has_gyro else MAX_TENTATIVE):
            return tentative(g, rep), (), ()
        if second_step(g):
            return _extend(settings, dataclasses.replace(g, second_front=True), rep.peak_s, rep.end_s, rep)
    if high_second_step(settings, g, rep, has_gyro, standing_known, strike_g, dt_s):
        return _extend(settings, dataclasses.replace(g, second_front=True), rep.peak_s, rep.end_s, rep)
    # A second stretched swing in a row is held too (as two shallow lows are, ``MAX_TENTATIVE``) when no foot
    # landed in its top half: tuning seed 1027 (12.5 Hz, a brisk walker), steps read 45.8 and 45.5 from -13
    # unstruck, then 40.1 from -16; the second broke the walk and both were counted.  A struck one is left to
    # start a run of its own (``lead_shaped``), which its struck high swings may confirm as a walk
    # (``brisk_walk_step``): held here, a pocket walk's next struck high swing broke the walk on both
    # (Oxford user2_frontpocket, 169 -> 167 strides; Marpino Elderly_20180417_10 right, 5 -> 6 for 4).
    if (
        g.walking
        and (not g.pending or (len(g.pending) < MAX_TENTATIVE and not struck))
        and all(stretched_step(settings, r, has_gyro, standing_known) for r in g.pending)
        and stretched_step(settings, rep, has_gyro, standing_known)
        and strict_stride(settings, dt_s)
        and rep.rom_deg < OTHER_KIND_RISE * g.step_rom_deg
    ):
        return tentative(g, rep), (), ()
    last: tuple[Rep, ...] = ()
    # A stretched tentative swing (``stretched_step``, accelerometer only) may be the walk's last step too.
    tentative_shaped = bool(g.pending) and all(
        gait_shaped(settings, r, has_gyro) or (not has_gyro and stretched_peak(settings, r)) for r in g.pending
    )
    widest = max(g.pending, key=lambda r: r.rom_deg) if g.pending else None
    if g.walking and tentative_shaped and widest is not None and last_step(settings, widest, rep, has_gyro):
        # The tentative swings were the walk's last steps: the walk ends at them (their peaks stay in the run).
        last = g.pending
        g = dataclasses.replace(g, pending=(), end_s=max(g.end_s, *(r.end_s for r in last)))
    if lone_step(settings, g, rep, has_gyro, standing_known):
        # The run's one rep, alone between swings of another kind, was a short walk's step.
        last, g = g.pending, GaitState(walks=(*g.walks, _lone_walk(g)))
    # A walk's tentative swings, a stop, then a step: held until the run it starts is decided (``gait_carry.settle``).
    stop = step and g.walking and bool(g.pending) and rep.peak_s - g.pending[-1].peak_s <= settings.set_gap_s
    g, released, paired = _closed(settings, g)
    last = (*last, *paired)
    if step:
        g_new = _start(rep, g.walks, struck=struck, before_s=prev_s, before=before, alone=alone)
        if first_step_pair(settings, rep, has_gyro, standing_known, struck, rep.peak_s - prev_s):
            g_new = dataclasses.replace(g_new, paired=True)
        if before is not None and rep.peak_s - before.peak_s < settings.gait_min_stride_s and from_bound(settings, rep):
            g_new = dataclasses.replace(g_new, hurried=True)
        if stop:
            return dataclasses.replace(g_new, carried=released, carry_first=rep), (), last
        return g_new, released, last
    if lead_shaped(settings, rep, has_gyro, struck):
        quiet = not rep.peak_s - prev_s < settings.gait_min_stride_s  # NaN (no swing before): quiet
        return dataclasses.replace(_start(rep, g.walks, lead=True, struck=True), lead_quiet=quiet), released, last
    if soft_lead(settings, rep, has_gyro, standing_known, strike_g, rep.peak_s - prev_s):
        return _start(rep, g.walks, lead=True), released, last
    return replaced_state(g, last_s=rep.peak_s), (*released, rep), last


def feed_rep(
    settings: Settings,
    g: GaitState,
    rep: Rep,
    has_gyro: bool,
    standing_known: bool = True,
    strike_g: float = math.nan,
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """Take the next rep the detector found (``has_gyro``: the angle has a gyro behind it).

    A run may start with a swing from standing (the first step of a walk);
    every later swing of it must come from extension.  Both tests read the
    angle against standing, so without a still calibration window
    (``standing_known`` false: the rest pose is the quietest stretch of a
    moving recording, possibly mid-swing) no swing is taken for a step: a
    march read from a reference half-way up its swings would dip "behind
    standing" and peak low, like a walk.  Without a gyro, a swing with a
    heel strike in its top half (``strike_g`` at least ``STRIKE_G``, g;
    NaN: not measured) need not start from extension, nor need standing
    be known; its flexion and rhythm must still be a step's (module docstring).
    Without a gyro, until a walk is confirmed and where no foot landed (``_LANDED_G``), its rise must also begin
    one stride after the last rep's (``slow_onset``; with a gyro a held rep's peak is the thigh's and its
    returns do not dip behind the rest).

    Returns
    -------
    state : GaitState
    released : tuple of Rep
        Reps to count now, in time order (earlier held-back reps first).
    steps : tuple of Rep
        Reps now known to be walking steps (not to be counted).
    """
    before = g
    g, released, steps = _feed_rep(settings, g, rep, has_gyro, standing_known, strike_g)
    g, released, steps = settle(before, g, released, steps)
    return replaced_state(g, rep_strike_g=strike_g, last_rep=rep), released, steps


def feed_candidate(
    settings: Settings, g: GaitState, time_s: float
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """A swing too small to be a rep (peak at ``time_s``): it extends a run when it falls on its rhythm.

    See ``_feed_candidate``; a closed walk's carried swings are settled after it (``gait_carry.settle``).
    """
    g2, released, steps = _feed_candidate(settings, g, time_s)
    return settle(g, g2, released, steps)


def _feed_candidate(
    settings: Settings, g: GaitState, time_s: float
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """A swing too small to be a rep (peak at ``time_s``): it extends a run when it falls on its rhythm.

    A swing closer than a stride to the last one (a fidget within a step)
    is ignored; one after a longer pause starts a new run.  In an undecided
    run with a struck swing (``GaitState.struck_run``) the last swing's peak
    may have been read up to 0.3 s late (``misplaced_peak``), so a swing up
    to ``LINK_TOL`` short of ``gait_min_stride_s`` after it is kept for
    ``_decide`` to judge with the stride beside it: taking the first swing
    that came lost the walk's next step (tuning seed 397, acc-only: a
    step's peak read 0.4 s late, the next one 0.67 s after it ignored, and
    the run broken by the 2.2 s interval left).  Returns the state, reps
    released as reps and reps found to be steps.
    """
    if g.walking and any(r.peak_flexion_deg > settings.gait_max_flexion_deg for r in g.pending):
        # A stretched swing (``stretched_step``) is a step only when a step-shaped swing follows: a small
        # swing after it does not show that (Bilkent s5_e3_set3, acc-only: a leg raise of 48 degrees
        # rising 45.6, then a swing too small to be a rep, took the raise for a step).
        g, released = _close(settings, g)
        return GaitState(peaks_s=(time_s,), start_s=time_s, end_s=time_s, walks=g.walks), released, ()
    if g.peaks_s:
        # Within a walk, its own stride: a jolt half a stride on (the other foot's strike) is no swing.
        if g.walking:
            stride_s = (1.0 - LINK_TOL) * period_s(settings, g.peaks_s)
        elif g.struck_run:
            stride_s = (1.0 - LINK_TOL) * settings.gait_min_stride_s
        else:
            stride_s = settings.gait_min_stride_s
        if time_s - g.peaks_s[-1] < stride_s:
            return g, (), ()
    # A high first step (``GaitState.lead``) needs a swing from extension after it, seen as a rep.
    if g.peaks_s and not (g.lead and len(g.peaks_s) == 1) and walk_link_ok(settings, g, time_s - g.peaks_s[-1]):
        return _extend(settings, g, time_s, time_s, None)
    g, released, steps = _closed(settings, g)
    return GaitState(peaks_s=(time_s,), start_s=time_s, end_s=time_s, walks=g.walks), released, steps


def flush(settings: Settings, g: GaitState) -> tuple[GaitState, tuple[Rep, ...]]:
    """The stream ended: close the run; return the reps still held back (to be counted)."""
    g2, released = _close(settings, g)
    g2, released, _ = settle(g, g2, released, ())
    return g2, released


def walks_so_far(settings: Settings, g: GaitState) -> tuple[Walk, ...]:
    """Closed walks plus the one in progress."""
    if g.walking:
        if g.pending:  # a tentative swing is no step yet
            g = dataclasses.replace(g, peaks_s=g.peaks_s[: -len(g.pending)])
        return (*g.walks, _walk(settings, g))
    return g.walks

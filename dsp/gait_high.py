"""Accelerometer-only swings read above a step's flexion that may still be a walk's steps.

Without a gyro the body's forward acceleration into a walk, and a brisk
walker's braking and push-off, tilt the specific force as flexion does: a
walk's first step (``lead_shaped``, ``soft_lead``) and a brisk walk's steps
(``brisk_step``, ``brisk_walk_step``) read above ``gait_max_flexion_deg``,
and a phone in a trouser pocket reads every step of some walkers so: where
those steps land as a walker's heel does, they are told from a march's knee
lifts by their landings (``pocket_walk``, ``pocket_step``).
Split from :mod:`hipflex.dsp.gait_swing`, whose state and single-swing tests
these read; the physics is in :mod:`hipflex.dsp.gait`'s module docstring.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait_rhythm import pause_s, strict_stride
from hipflex.dsp.gait_swing import (
    FIRST_STEP_STRETCH_DEG,
    OTHER_KIND_RISE,
    SOFT_LANDING_G,
    STANCE_DEG,
    STRIKE_G,
    GaitState,
    from_extension,
    gait_shaped,
    second_step,
    stretched_peak,
)
from hipflex.dsp.types import Rep

__all__ = [
    "HEAVY_STRIKE_G",
    "POCKET_MAX_RISE_DEG",
    "POCKET_MIN_SWINGS",
    "brisk_step",
    "brisk_walk_step",
    "carried_high",
    "high_second_step",
    "lead_shaped",
    "noted_high",
    "pocket_step",
    "pocket_walk",
    "soft_lead",
]

#: A foot landing this hard (g) in the top half of a swing is a walker's own heel strike: at the thigh a
#: walk's initial contact jolts 0.6 / 1.1 / 2.2 g (10th / 50th / 90th percentile per stride, Marpino thigh
#: straps; module ``hipflex.dsp.gait``), a phone in a front trouser pocket 1.1-2.8 g on most steps (Oxford
#: pocket walks), while a march lands its foot at the end of the swing, near standing, and its knee lifts
#: see in their top half only the other foot's landing: median 0.24 g, 95th percentile 1.17 g over the
#: simulated acc-only marches' swings above a step's flexion (wide simulator, tuning seeds 0:700).
HEAVY_STRIKE_G = 1.0
#: How many swings read above a step's flexion a run needs after its first before their landings alone
#: may confirm it as a walk (``pocket_walk``): a march's five-swing stretches can land hard by chance
#: (tuning seed 87, 100 Hz: 1.22, 0.38, 1.06, 1.13, 1.39 g), never six in a row struck.
POCKET_MIN_SWINGS = 6
#: The most a run's high swings may rise (median, degrees) for their landings to confirm it as a walk
#: (``pocket_walk``): the thigh's sagittal range in walking is about 40-45 degrees (57 for the fastest
#: Marpino walkers with a gyro), which a phone in a pocket reads as 60-63 (median per walk; Oxford
#: user1_frontpocket 53-72, Samsung_Dario_Hard_FrontPocket_2 44-77), while a march rises 60-95 whatever
#: the reference (the simulated acc-only marches of tuning seeds 87, 5002 and 5138: medians 74-88).
POCKET_MAX_RISE_DEG = 70.0


def brisk_step(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, back: bool, dt_s: float) -> bool:
    """True when an accelerometer-only swing read above a step's flexion may be the next step of an undecided run.

    A brisk walker's thigh peaks at 30-40 degrees (the Marpino thigh straps
    swing 31-53 degrees peak to peak, median 40), and without a gyro the
    hip's braking after each landing and push-off before the next tilt the
    specific force as flexion does: such a walk's first steps read 43-53
    degrees on both sides of ``gait_max_flexion_deg`` (wide simulator,
    tuning seeds 5078, 5088, 5101, 5133: true peaks 27-36), so the run
    broke at the first one above it and its steps before were counted.
    Such a swing joins an undecided run (``g``) when it shows the stance
    before it (``back``: from extension, or struck where standing is not
    known), comes one walking stride after the run's last swing
    (``strict_stride``, ``dt_s``: a stride drill turns over faster), reads
    at most ``FIRST_STEP_STRETCH_DEG`` above a step's flexion, and peaks
    lower than ``OTHER_KIND_RISE`` times the run's highest rep (the steps
    of one walk differ as little as the reps of one set, and a walk's first
    step from standing rises less than the others but peaks as high: tuning
    seed 5251, 35 from standing then 47 from -9; a leg raise between small
    swings peaks several times higher, Bilkent s5_e4_set1).  The run then needs most of its
    swings to read as steps (``gait._decide``): a set whose every rep reads
    above a step's flexion stays reps.
    """
    if has_gyro or g.walking or not g.pending or not back:
        return False
    if not strict_stride(settings, dt_s):
        return False
    peak = rep.peak_flexion_deg
    if not settings.gait_max_flexion_deg < peak <= settings.gait_max_flexion_deg + FIRST_STEP_STRETCH_DEG:
        return False
    return peak < OTHER_KIND_RISE * max(r.peak_flexion_deg for r in g.pending)


def brisk_walk_step(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, struck: bool, dt_s: float) -> bool:
    """True when an accelerometer-only struck swing read above a step's flexion is the next step of a brisk walk.

    ``brisk_step``'s reading inside a confirmed walk, for a walk that was
    confirmed through such swings (``GaitState.struck_high_s`` not empty:
    struck high swings from the stance, one walking stride apart, counted
    as its steps).  A brisk walker, or a phone in a trouser pocket, reads
    most steps 45-65 degrees, each landing in its top half (tuning seeds
    1150 and 1248 under the wider walk: a first step of 43-45 from
    standing, then 45-54 from -7 to -15, struck 0.6-1.6 g; Oxford
    Pixel_Jamie_Hard_FrontPocket_2: 50-59 from the filter's bound, struck
    1.2-2.3 g), so once the walk is confirmed the next such swing broke it
    (``stretched_step`` holds one only) and the steps after the break were
    counted.  Such a swing is a step at once when it lands in its top half
    (``struck``), starts from the stance (``from_extension``: a march's
    knee lift starts from standing), comes one walking stride after the walk's last swing
    (``strict_stride``; a stride drill turns over faster), reads no more
    than ``stretched_peak`` allows, and rises less than ``OTHER_KIND_RISE``
    times the walk's widest step (a drill's rep after a walk rises more).
    A walk confirmed on swings that read as steps keeps ``stretched_step``'s
    caution: a march after it reads high on every rep, and only this walk's
    own evidence says its high swings were steps.
    """
    if has_gyro or not struck or not g.walking or not g.struck_high_s:
        return False
    if not strict_stride(settings, dt_s) or not stretched_peak(settings, rep) or not from_extension(settings, rep):
        return False
    return rep.rom_deg < OTHER_KIND_RISE * g.step_rom_deg


def high_second_step(
    settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, standing_known: bool, strike_g: float, dt_s: float
) -> bool:
    """True when an accelerometer-only swing read high, from in front of standing, may be a walk's second step.

    ``second_step``'s reading for a brisk walker: at 12.5 Hz the body's
    forward acceleration into the walk and the hip's braking at each landing
    read a brisk walk's first steps 43-52 degrees (tuning seeds 1089 and
    2544: true peaks 31-37), and the first stance, shorter than the others,
    leaves the second step's low read at or in front of standing (+0.7 and
    +6.3 degrees, true lows -10 to -15).  Neither ``second_step`` (a step's
    flexion) nor ``brisk_step`` (from the stance) took it, so the run broke
    and the walk's first two or three steps were counted.  Such a swing
    joins a run of one step-shaped rep as its second swing
    (``GaitState.second_front``: the swings after it must confirm the walk
    on their own, on the rhythm of its first stride, and mostly read as
    steps, ``gait._decide``) when it comes one walking stride on
    (``strict_stride``), reads no more than ``stretched_peak`` allows and
    lower than ``OTHER_KIND_RISE`` times the first, and its foot landed in
    its top half (above ``SOFT_LANDING_G``: more than a strength rep or a
    hold jolts; 0.45 and 0.32 g in those walks).
    """
    if has_gyro or not standing_known or not second_step(g) or not strike_g > SOFT_LANDING_G:
        return False
    first = g.pending[0]
    if first.peak_s != g.peaks_s[0] or not gait_shaped(settings, first, has_gyro):
        return False
    if not strict_stride(settings, dt_s) or not stretched_peak(settings, rep):
        return False
    return rep.peak_flexion_deg < OTHER_KIND_RISE * first.peak_flexion_deg


def lead_shaped(settings: Settings, rep: Rep, has_gyro: bool, struck: bool) -> bool:
    """True when an accelerometer-only swing may be a walk's first step although it read above a step's flexion.

    The first step from standing carries the body from rest to walking
    speed: the forward acceleration (1.5-3 m/s^2 within the step) tilts the
    specific force as 9-17 degrees of flexion would, so without a gyro that
    step can read up to ``FIRST_STEP_STRETCH_DEG`` above
    ``gait_max_flexion_deg``.  It must be struck (the foot lands in the top
    half of the swing, as a step's does), and it is a step only when the
    swings after it, one stride on, confirm a walk on their own
    (``GaitState.lead``): the stance after a step extends the thigh behind
    standing, so the next swing starts from extension, while a drill's rep
    returns to its start pose.  One such swing is enough when it is struck
    too and comes one walking stride on, and no swing came within a walking
    stride before the high one (``GaitState.lead_quiet``: a walk's first
    step starts from standing): two foot landings a stride apart with the
    stance between them are two steps (a walk across the room between
    sets, tuning seed 373), while a march's next knee lift starts from
    standing and a stride drill turns over faster than a walking stride
    (tuning seed 307: a high swing 0.72 s after the drill's last one, then
    a struck swing from extension 0.88 s on, took the set for a walk).
    """
    if has_gyro or not struck:
        return False
    peak = rep.peak_flexion_deg
    return settings.gait_max_flexion_deg < peak <= settings.gait_max_flexion_deg + FIRST_STEP_STRETCH_DEG


def soft_lead(
    settings: Settings, rep: Rep, has_gyro: bool, standing_known: bool, strike_g: float, gap_s: float
) -> bool:
    """True when an accelerometer-only swing read above a step's flexion with a soft landing may be a walk's first step.

    ``lead_shaped``'s reading for a foot that landed softer than
    ``STRIKE_G``: a walk's first step from standing reads up to
    ``FIRST_STEP_STRETCH_DEG`` high (the body's forward acceleration into
    the walk), and a slow walker's landing jolts 0.3-0.5 g (tuning seeds 29
    and 242 under the wider walk, 12.5 Hz: 45.3 and 49.4 degrees from
    standing, 0.35 and 0.43 g, then the walk's steps from extension one
    stride on, confirmed without it: the first step was counted).  Without
    the strike's evidence the swing must show the rest of a first step: a
    jolt above a strength rep's or a hold's (``SOFT_LANDING_G``), a low
    within ``STANCE_DEG`` of standing (standing known), and no swing
    within a walking link before it (``gap_s``; NaN: none), as after a
    pause.  It is a step only when the swings after it confirm the walk
    on their own (``GaitState.lead``), so it never makes a walk of swings
    that were none; the one-struck-step shortcut (``GaitState.lead_quiet``)
    stays with struck first steps.
    """
    if has_gyro or not standing_known or not strike_g > SOFT_LANDING_G:
        return False
    if not stretched_peak(settings, rep) or rep.peak_flexion_deg - rep.rom_deg <= -STANCE_DEG:
        return False
    return not gap_s <= pause_s(settings)


def carried_high(rest: GaitState, g: GaitState) -> GaitState:
    """``rest`` (a run restarted inside ``g``'s swings) with ``g``'s notes on its swings read above a step's flexion."""
    return dataclasses.replace(
        rest, struck_high_s=g.struck_high_s, landed_high_s=g.landed_high_s, high_strikes=g.high_strikes
    )


def noted_high(g: GaitState, rep: Rep, strike_g: float) -> GaitState:
    """``g`` with a swing read above a step's flexion that joined the run noted with its landing (``high_strikes``)."""
    return dataclasses.replace(g, high_strikes=(*g.high_strikes, (rep.peak_s, strike_g, rep.rom_deg)))


def pocket_walk(g: GaitState, high_s: list[float]) -> bool:
    """True when a run's swings read above a step's flexion (peaks ``high_s``, after its first) land as a walk's.

    ``gait._decide`` waits while half of a run's swings read above a step's
    flexion, unless some swing shows a step (a march's knee lifts all read
    high).  A phone in a front trouser pocket reads every step of some
    walkers 47-65 degrees from -20 to +6 (Oxford user1_frontpocket: 55-66
    on a 1.15 s rhythm, Samsung_Dario_Hard_FrontPocket_2: 47-63 on 1.05-1.1
    s), so their runs waited until a swing above ``stretched_peak`` broke
    them and 17-23 steps at a time were counted as reps.  Each of those
    steps landed in its top half (0.9-2.8 g), as a walker's heel does and a
    march's foot does not (``HEAVY_STRIKE_G``).  Such a run is a walk when
    at least ``POCKET_MIN_SWINGS`` of its high swings joined it (one
    walking stride apart, from the stance or struck: ``brisk_step``), every
    one of them landed (``STRIKE_G``) and more than half of them landed at
    least ``HEAVY_STRIKE_G``, and they rose no more than a pocket reads a
    walk's swing (``POCKET_MAX_RISE_DEG``, median: a march's knee lifts read
    25-30 degrees behind standing, where the reference is off, rise 80-90 and
    can land as hard, tuning seed 5002).
    """
    if len(high_s) < POCKET_MIN_SWINGS:
        return False
    noted = {t: (strike_g, rise_deg) for t, strike_g, rise_deg in g.high_strikes}
    landed = [noted.get(t, (math.nan, math.nan)) for t in high_s]
    if not all(s >= STRIKE_G for s, _ in landed):  # NaN (not noted, or not measured): not landed
        return False
    if not statistics.median(r for _, r in landed) <= POCKET_MAX_RISE_DEG:
        return False
    return 2 * sum(1 for s, _ in landed if s >= HEAVY_STRIKE_G) > len(landed)


def pocket_step(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, strike_g: float, dt_s: float) -> bool:
    """True when an accelerometer-only swing that landed hard is the next step of a walk whose high swings landed so.

    ``brisk_walk_step``'s reading for a walk whose last ``POCKET_MIN_SWINGS``
    high swings landed as a walker's heel does (``pocket_walk``): a phone in
    a front trouser pocket reads some steps from in front of standing (lows
    up to +6 degrees, Oxford user1_frontpocket) and some above
    ``stretched_peak`` (65-68 degrees, Samsung_Dario_Hard_FrontPocket_2),
    and each such swing broke the walk (a stride lost, and the next six
    steps held until ``pocket_walk`` confirmed them again).  Such a swing
    (``rep``, ``strike_g``) is a step at once when it lands at least
    ``HEAVY_STRIKE_G`` one walking stride (``strict_stride``, ``dt_s``)
    after the walk's last swing and rises less than ``OTHER_KIND_RISE``
    times the walk's widest step: a march after the walk lands that hard on
    one knee lift in twenty, and the one after it breaks the walk.
    """
    if has_gyro or not g.walking or not strike_g >= HEAVY_STRIKE_G or not strict_stride(settings, dt_s):
        return False
    if not pocket_walk(g, [t for t, _, _ in g.high_strikes[-POCKET_MIN_SWINGS:]]):
        return False
    return rep.rom_deg < OTHER_KIND_RISE * g.step_rom_deg

"""The gait tracker's state and the tests a single swing, or a pair of swings, must pass to be a step.

``hipflex.dsp.gait`` decides runs of swings (walks or reps); this module holds
what it reads of one swing at a time: whether its flexion is a step's
(``gait_shaped``), whether it starts from the stance (``from_extension``),
whether it lies on a walk's rhythm (``walk_link_ok``, ``slow_onset``), and
the accelerometer-only readings of a walk's last and stretched steps
(``last_step``, ``stretched_step``, ``stance_pair``; of swings read above a
step's flexion in ``hipflex.dsp.gait_high``, of a lone step in
``hipflex.dsp.gait_lone``).  The
physics behind each is in ``hipflex.dsp.gait``'s module docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait_rhythm import LINK_TOL, link_ok, period_s, strict_stride
from hipflex.dsp.types import Rep, Walk

__all__ = [
    "FIRST_STEP_STRETCH_DEG",
    "MAX_TENTATIVE",
    "OTHER_KIND_RISE",
    "PAIR_MAX_PEAK_DEG",
    "SOFT_LANDING_G",
    "STANCE_DEG",
    "STRIKE_G",
    "GaitState",
    "between_steps",
    "from_bound",
    "from_extension",
    "gait_shaped",
    "half_step",
    "last_step",
    "push_off",
    "replaced_state",
    "second_step",
    "slow_onset",
    "stance_pair",
    "stretched_peak",
    "stretched_step",
    "tentative",
    "walk_link_ok",
]

#: How far above ``gait_max_flexion_deg`` the first step of a walk may read without a gyro, degrees: the
#: body accelerates from standing to walking speed (0.8-1.4 m/s) within that step, 1.5-3 m/s^2 forward,
#: which an accelerometer-only angle reads as 9-17 degrees more flexion (the walk's first step reads
#: 10-20 degrees high, module docstring).
FIRST_STEP_STRETCH_DEG = 20.0
#: How far behind standing (degrees) a swing's low must read to show a stance phase on its own
#: (``stance_pair``): in level walking the thigh extends 10-20 degrees behind the vertical in late
#: stance (Kadaba et al. 1990), while the reps of the standing drills start from about the rest pose.
STANCE_DEG = 10.0
#: The most flexion (degrees) an accelerometer-only angle reads at a walk's push-off (``between_steps``): the
#: forward force before a step (up to 0.25 body weight, anterior-posterior ground reaction force) tilts the
#: specific force by up to atan(0.25) = 14 degrees, read as flexion while the thigh itself is still at or
#: behind the vertical (it leaves its stance low).
_PUSH_OFF_DEG = math.degrees(math.atan(0.25))
#: How close to the filter's extension bound (degrees) a swing's low must read to have been held there
#: (``from_bound``): the bound clamps the angle itself, so a held low reads at it to within rounding.
_BOUND_MARGIN_DEG = 1.0
#: The highest a pair's later swing (``stance_pair``) may peak, degrees: thigh flexion peaks at 20-35
#: degrees in level walking (Kadaba et al. 1990); the seen steps of the simulated pairs read 6-24.
PAIR_MAX_PEAK_DEG = 35.0
#: The slowest stride a pair of swings two strides apart is taken at (``stance_pair``), s: adults walk
#: at 80 steps/min and faster (Tudor-Locke et al. 2019), a stride of 1.5 s.
_PAIR_MAX_STRIDE_S = 1.5
#: An innovation this large (g) after the peak, in the top half of a swing, is taken for a foot
#: landing (module docstring): the smaller real heel strikes (10th percentile 0.6 g) pass; strength
#: reps and holds (at most 0.1-0.3 g) and march swings (95th percentile 0.75 g, the other foot's
#: landing excluded) mostly stay below.
STRIKE_G = 0.5
#: A jolt this large (g) in a swing's top half after its peak shows a foot landing, however soft
#: (``slow_onset``): the walk steps whose onsets read late (wide simulator, tuning) jolt 0.25-1.3 g,
#: while reps lying down land on nothing (clamshells and side-lying raises, accelerometer only:
#: 0.05-0.15 g).
_LANDED_G = 0.2
#: A jolt larger than this (g) in a swing's top half after its peak is more than a strength rep's or a hold's
#: (at most 0.1-0.3 g, ``STRIKE_G``): a foot landing softer than ``STRIKE_G`` (``soft_lead``).
SOFT_LANDING_G = 0.3


@dataclass(frozen=True)
class GaitState:
    """The swings of the current run and the walks closed so far (immutable).

    Attributes
    ----------
    pending : tuple of Rep
        Gait-shaped reps of a run not yet long enough to decide, held back;
        on a confirmed walk, its tentative last swings (``tentative``).
    peaks_s : tuple of float
        Peak times of every swing of the current run (reps and small
        candidates), s.
    reps_in_run : tuple of Rep
        Reps of a run confirmed as a walk (its steps).
    walking : bool
        The current run is a confirmed walk.
    start_s : float
        Start of the current run's first swing, s (NaN: no run).
    end_s : float
        End of its last swing, s.
    walks : tuple of Walk
        Walks closed so far.
    lead : bool
        The run's first swing is a struck swing that read above
        ``gait_max_flexion_deg`` (``lead_shaped``): a walk's first step
        when the swings after it confirm the walk on their own.
    struck_first : bool
        The run's first swing had a heel strike in its top half (accelerometer
        only): an interval of two strides after it may be a step too small to
        be seen (``missed_swing``).
    struck_run : bool
        A swing of the run had a heel strike in its top half (accelerometer
        only): its peaks may be misplaced by the strikes (``misplaced_peak``).
    second_front : bool
        The run's second swing did not start from extension (``second_step``):
        the swings after it must confirm the walk on their own, on the rhythm
        of its first two strides.
    lead_quiet : bool
        No swing came within ``gait_min_stride_s`` before the run's high first
        swing (``lead``): it may be a walk's first step from standing, which
        one struck step may confirm (``lead_shaped``).
    step_rom_deg : float
        The largest rise of a confirmed walk's steps seen as reps, degrees
        (0: none; ``stretched_step``).
    last_s : float
        Peak time of the latest swing taken, s (NaN: none).
    rep_strike_g : float
        The latest rep's foot-strike jolt (``strike_g``), g (NaN: none fed
        or not measured).
    before_s : float
        Peak time of the latest swing before the run's first, s (NaN: none;
        ``lone_step``).
    before : Rep or None
        The latest rep before the run's first swing (None: none;
        ``lone_step``).
    last_rep : Rep or None
        The latest rep taken (None: none); its onset is the run's when its
        peak is the run's last (``slow_onset``).
    alone : bool
        The run's first swing came alone after a rep of another kind
        (``lone_start``): an interval of two strides after it may be a step
        too small to be seen (``missed_swing``), as after a struck one.
    struck_high_s : tuple of float
        Peak times of the run's swings that read above a step's flexion,
        joined it as ``brisk_step`` from extension and had a foot landing in
        their top half (accelerometer only): a landing one walking stride
        after the last is a step's whatever the swing read, where some other
        swing of the run reads as a step (``gait._decide``).
    landed_high_s : tuple of float
        As ``struck_high_s`` for such swings whose foot landed softer than
        ``STRIKE_G`` but above ``SOFT_LANDING_G`` (accelerometer only): they
        count as steps in ``gait._decide``'s majority too, but confirm no
        walk through its high swings (``brisk_walk_step``).  Tuning seed 2544
        (12.5 Hz, a brisk walker, true peaks 33-37 degrees): after a struck
        first step of 45.1 from -12.6, steps of 49.1 and 52.7 from -15 and -11
        landing at 0.38 and 0.41 g, then 38.2 and 41.0 struck; half the run
        read high, it waited, and the set after it released all five as reps.
    high_strikes : tuple of (float, float, float)
        Peak time (s), foot-strike jolt (``strike_g``, g; NaN: not measured)
        and rise (degrees) of every swing of the run that read above a step's flexion
        and joined it as ``brisk_step`` or ``brisk_walk_step`` (accelerometer
        only), struck or not: ``gait_high.pocket_walk`` reads a run of them.
    paired : bool
        The run's first swing may be a walk's first step from standing whose
        next step the angle saw only as a swing too small to be a rep
        (``gait_lone.first_step_pair``, accelerometer only).
    hurried : bool
        The run's first swing peaked less than ``gait_min_stride_s`` after
        the rep before it (a drill's turnover, not a walk's first step from
        standing): the swings after it must confirm the walk on their own
        (``gait._decide``).
    carried : tuple of Rep
        A closed walk's tentative last swings (``tentative``), held across
        a stop: steps when the run after the stop, which starts at
        ``carry_first``, is confirmed as a walk from that swing on; reps
        when it is not (``gait_carry.settle``).
    carry_first : Rep or None
        The first swing of the run after the stop (None: nothing carried).
    """

    pending: tuple[Rep, ...] = ()
    peaks_s: tuple[float, ...] = ()
    reps_in_run: tuple[Rep, ...] = ()
    walking: bool = False
    start_s: float = math.nan
    end_s: float = math.nan
    walks: tuple[Walk, ...] = ()
    lead: bool = False
    struck_first: bool = False
    struck_run: bool = False
    second_front: bool = False
    lead_quiet: bool = False
    step_rom_deg: float = 0.0
    last_s: float = math.nan
    rep_strike_g: float = math.nan
    before_s: float = math.nan
    before: Rep | None = None
    last_rep: Rep | None = None
    alone: bool = False
    struck_high_s: tuple[float, ...] = ()
    landed_high_s: tuple[float, ...] = ()
    high_strikes: tuple[tuple[float, float, float], ...] = ()
    paired: bool = False
    hurried: bool = False
    carried: tuple[Rep, ...] = ()
    carry_first: Rep | None = None


def replaced_state(g: GaitState, **changes: object) -> GaitState:
    """``dataclasses.replace(g, **changes)`` at a tenth of the cost (``gait`` runs it for every rep of a drill).

    A frozen dataclass's ``replace`` rebuilds the instance through
    ``__init__`` (~5 us for this one's fields); a copy of the instance dict
    gives the same object (equal, same fields in the same order, still
    frozen), as ``absorb._rep`` does.  The copy is made as a plain dict and
    set as the new instance's: filling the new instance's own (key-sharing)
    dict from ``g``'s, as this did until session 24, took ~1.7 times as long
    (two calls a rep; benchmarks/README.md, throughput7).
    """
    out = _new(GaitState)
    fields = g.__dict__.copy()
    fields.update(changes)
    _set_attr(out, "__dict__", fields)
    return out


_new = object.__new__
_set_attr = object.__setattr__  # a frozen dataclass's own __setattr__ refuses


def tentative(g: GaitState, rep: Rep) -> GaitState:
    """Hold a walk's step-shaped swing on its rhythm that did not start from extension.

    Every swing of a walk after its first starts behind standing, but the
    angle's low can read a few degrees in front of it on one stride (an
    accelerometer-only angle after a heel strike or at 12.5 Hz: lows of
    +2 to +4 degrees between steps from -7 to -11), and on two strides in a
    row where the whole walk reads shallow (tuning seed 434, acc-only:
    lows of -1 to +6 on every step, the reference a few degrees off).  Up
    to ``MAX_TENTATIVE`` such swings in a row inside a confirmed walk are
    steps when the walk goes on after them on the same rhythm (a step from
    extension, or a swing too small to be a rep): the evidence on both
    sides is the walk's.  Otherwise (the next swing does not fit, or one
    more such swing comes, or the stream ends) they are reps: the first
    reps of a set after a walk start from standing, and so do the reps
    after them, so they never extend the walk.
    """
    return replace(g, pending=(*g.pending, rep), peaks_s=(*g.peaks_s, rep.peak_s))


#: How many step-shaped swings in a row that did not start from extension a confirmed walk may hold
#: without a gyro (``tentative``); with one, one: its angle reads a walk's lows behind standing on
#: all but an odd stride.
MAX_TENTATIVE = 2


def gait_shaped(settings: Settings, rep: Rep, has_gyro: bool) -> bool:
    """True when a swing's flexion is that of a step: its peak at most ``gait_max_flexion_deg`` and,
    with a gyro, its rise at most ``gait_max_rom_deg``.

    The rise does not depend on where standing is, so it holds where the
    reference has drifted (a march read 15-20 degrees low peaks at 43-50 but
    still rises 60-70).  Without a gyro the filter's extremes are stretched
    by foot strikes and by a phone swinging in a pocket (walks read rises of
    55-75), so there the rise says nothing.
    """
    if rep.peak_flexion_deg > settings.gait_max_flexion_deg:
        return False
    return not has_gyro or rep.rom_deg <= settings.gait_max_rom_deg


def from_extension(settings: Settings, rep: Rep) -> bool:
    """True when the swing started at least ``gait_min_extension_deg`` behind standing."""
    return rep.peak_flexion_deg - rep.rom_deg <= -settings.gait_min_extension_deg


def from_bound(settings: Settings, rep: Rep) -> bool:
    """True when the swing started at the filter's extension bound (``pendulum_max_extension_deg``).

    There the angle was held, not read: a fast drill's push in stance
    drives the filter past any thigh's extension (tuning seed 3102), while
    a walk's stance reads 5-27 degrees behind standing.
    """
    return rep.peak_flexion_deg - rep.rom_deg <= _BOUND_MARGIN_DEG - settings.pendulum_max_extension_deg


def walk_link_ok(settings: Settings, g: GaitState, dt_s: float) -> bool:
    """On a confirmed walk a swing too small to be seen may be missing: two strides of its own period.

    So may the step after a run's struck first step (``GaitState.struck_first``) or a first step alone
    after a set of another kind (``GaitState.alone``), which ``missed_swing`` already reads as two strides
    when the rhythm after them confirms it: two walking strides (``strict_stride`` of half the interval).
    A slow walker's next step after the first can read below ``candidate_deg`` (tuning seeds 2411 and 2578,
    acc-only: a first step of 26-34 degrees from standing struck 0.8-1.6 g, nothing seen for 2.6 s, then
    the walk's swings 1.0-1.7 s apart; true strides 1.2-1.3 s), and that interval, longer than any one
    stride's link, closed the run and counted the first step.
    """
    if link_ok(settings, dt_s):
        return True
    if g.walking:
        return dt_s <= (2.0 + LINK_TOL) * period_s(settings, g.peaks_s)
    first = (g.struck_first or g.alone) and not g.lead and len(g.peaks_s) == 1
    return first and strict_stride(settings, 0.5 * dt_s)


def half_step(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, standing_known: bool) -> bool:
    """True when an accelerometer-only swing inside a confirmed walk is a jolt between two steps, not a swing.

    The hip brakes after every landing and pushes off before the next
    (anterior-posterior ground reaction forces of 0.1-0.25 body weight),
    which an accelerometer-only angle reads as flexion: between two steps
    it can read one more small swing from the stance (tuning seed 5193,
    12.5 Hz: 4 degrees from -18, rising 22, 0.66 s after a step of a walk
    striding 1.1 s).  Within a confirmed walk such a swing, closer than
    ``LINK_TOL`` short of the walk's own stride after its last swing (as
    ``feed_candidate`` ignores a jolt half a stride on), is a step when it
    starts from extension, is step-shaped and rises less than the walk's
    widest step by ``OTHER_KIND_RISE`` (the walk's steps differ by less;
    a drill's rep is no smaller than the steps by that much).  It is not
    a stride of the walk's rhythm.
    """
    if has_gyro or not standing_known or not g.walking or not g.peaks_s:
        return False
    if not rep.peak_s - g.peaks_s[-1] < (1.0 - LINK_TOL) * period_s(settings, g.peaks_s):
        return False
    if not (gait_shaped(settings, rep, has_gyro) and from_extension(settings, rep)):
        return False
    return OTHER_KIND_RISE * rep.rom_deg < g.step_rom_deg


def between_steps(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, standing_known: bool) -> bool:
    """True when an undecided run's last swing is a jolt between its swing before and ``rep``, not a swing.

    ``half_step``'s reading before the walk is confirmed: at 12.5 Hz the
    accelerometer-only angle of a slow walk can read the hip's braking and
    push-off as one more swing between two steps (tuning seed 5078 under
    the wider walk: 26.6 degrees from standing, 7.7 from -13 and 31.2 from
    -14, 0.74 and 0.78 s apart, true steps of 8-12 degrees 1.06 s apart),
    and no stride of the run was a walking one.  The run's last swing
    (a rep) is such a jolt when it came less than ``gait_min_stride_s``
    after the swing before it and before ``rep``, those two lie one walking
    stride apart (``strict_stride``), and it is a step's swing from
    extension that peaks no more than ``_PUSH_OFF_DEG`` in front of standing
    (the push-off comes as the thigh leaves its stance low, and its forward
    force reads as that much flexion at most: tuning seed 1023, 50 Hz, a
    jolt of 13.0 degrees from -8.9 read at the true low, 0.70 s after the
    walk's first step and 0.76 s before its second; a drill's rep peaks
    well in front of it) and rises less than both its neighbours.
    It stays in the run (a step when the run is a walk, else a rep) but is
    no stride of its rhythm.
    """
    if has_gyro or not standing_known or g.walking or len(g.peaks_s) < 2 or not g.pending:
        return False
    half = g.pending[-1]
    before_s = g.peaks_s[-2]
    if half.peak_s != g.peaks_s[-1] or not strict_stride(settings, rep.peak_s - before_s):
        return False
    min_s = settings.gait_min_stride_s
    if not (half.peak_s - before_s < min_s and rep.peak_s - half.peak_s < min_s):
        return False
    if not (gait_shaped(settings, half, has_gyro) and from_extension(settings, half)):
        return False
    if half.peak_flexion_deg > _PUSH_OFF_DEG:
        return False
    before = [r.rom_deg for r in g.pending if r.peak_s == before_s]
    return half.rom_deg < min((rep.rom_deg, *before))


def push_off(settings: Settings, g: GaitState, rep: Rep, has_gyro: bool, standing_known: bool) -> bool:
    """True when an accelerometer-only swing too soon after a run's last swing is the push-off before its next step.

    ``between_steps``' jolt where it comes too soon to join the run at all:
    the push-off comes about half a stride after a step's peak, and at a
    brisk stride that is less than any walking link (``link_ok``'s lower
    end), so the jolt broke the run and the next step broke it again
    (tuning seed 2014, 400 Hz: steps of 14-19 degrees 1.16-1.19 s apart,
    each followed 0.63 s on by a jolt of 10.0-10.4 from -15 to -17 read at
    the true low; seed 2235, 52 Hz: 10.6 from -12.9 0.62 s after a step).
    Such a swing, starting from extension and peaking no more than
    ``_PUSH_OFF_DEG`` (what the push-off's forward force reads as flexion),
    is held in the run (``GaitState.pending``) but no stride of it: the
    next swing's rhythm is read from the swing before the jolt.  It is a
    step when the run is (or becomes) a walk, else a rep.
    """
    if has_gyro or not standing_known or not g.peaks_s or not (g.walking or g.pending):
        return False
    if not rep.peak_s - g.peaks_s[-1] < (1.0 - LINK_TOL) * settings.gait_min_stride_s:
        return False
    return from_extension(settings, rep) and rep.peak_flexion_deg <= _PUSH_OFF_DEG


def slow_onset(settings: Settings, g: GaitState, rep: Rep, strike_g: float = math.nan) -> bool:
    """True when the swing rose too long after the run's last rep rose to be the next step.

    Swing peaks are where the rhythm is read, but without a gyro a rep held at
    its top can have its peak read anywhere in the hold: two clamshells or
    side-lying raises held ~1.5 s, one peak read late and the next early,
    read 1.7-1.9 s apart though their cycle is 3 s, a slow walk's stride;
    and once that walk is confirmed each later 3 s interval passes as two
    strides with a swing unseen between (tuning seeds 1, 2, 5 and 7: whole
    sets of accelerometer-only clamshells taken for walks).  The rise's
    onset (``Rep.start_s``) leaves the rest sharply whatever the hold, so
    the interval between the two reps' onsets must fit the walk's rhythm as
    well; only a too long one is judged (a short one is what
    ``misplaced_peak`` and the first step's early peak allow for), and only
    after a rep that rose within a stride: a walk's first step after a rest
    can read its onset 4-6 s before its peak (the rise taken from the
    rest's sway; wide simulator, tuning seeds 3, 4, 21).  That rise leaves
    out the rep's time near its top (``hold_s``): a held rep's peak read
    late in its hold made the rise of a clamshell or side-lying raise
    2.5-3.3 s (holds 1.5-2.1 s, true rises 0.6-1.4 s; tuning drills 0:20,
    34 pairs, among them the whole first set of seed 10's clamshells, 0/19,
    taken for a walk), while a step's time near its top is a fraction of a
    stride.  Nor is a walk
    already confirmed judged: the rule keeps held reps from confirming one,
    and inside a walk a step's onset can be read early from the stance
    before it, so a step two strides after it (one unseen between) rose
    2.8 s after it and the walk was cut, its next step counted as a rep in
    the rest (wide simulator, tuning seed 314).  Nor is a swing judged when
    it or the rep before it jolted at least ``_LANDED_G`` in its top half
    (``strike_g``): a walk's foot lands, even a soft one under
    ``STRIKE_G``, while a lying rep's lands on nothing.  That is the cue to
    a lying pose an accelerometer alone has (the rest pose's gravity does
    not say it without knowing the mounting, benchmarks/README.md, onset2):
    the rule without it put walk steps in the wide simulator's rests
    (tuning seed 88: a strength set's last rep, 0.14 g, then a walk's first
    step, 0.25 g, onsets 2.6 s apart).
    """
    last = g.last_rep
    if last is None or math.isnan(last.start_s) or not g.peaks_s or last.peak_s != g.peaks_s[-1]:
        return False
    if g.walking:
        return False  # see above: onsets only keep a walk from being confirmed
    if strike_g >= _LANDED_G or g.rep_strike_g >= _LANDED_G:
        return False  # a foot landed (see above): a walk's onsets may read late, a lying rep's foot lands on nothing
    near_top_s = last.hold_s if math.isfinite(last.hold_s) else 0.0
    if last.peak_s - last.start_s - near_top_s > (1.0 + LINK_TOL) * settings.gait_max_stride_s:
        return False  # a rise longer than any stride was read out of a rest's sway: its onset says nothing
    dt_s = rep.start_s - last.start_s
    return dt_s > (1.0 + LINK_TOL) * settings.gait_max_stride_s and not walk_link_ok(settings, g, dt_s)


def second_step(g: GaitState) -> bool:
    """True when a step-shaped swing on the rhythm that did not start from extension may be a walk's second step.

    A walk's first step starts from standing and is shorter than the steps
    after it, so its stance extends the thigh less; without a gyro the
    body's forward acceleration into the walk (1.5-3 m/s^2 in that first
    stride) also reads as flexion.  The low before the second step then
    reads at or in front of standing (tuning seeds 391, 434, 641, 772
    without a gyro, lows of -0.7 to +10 degrees; 850 with one, -0.7), and
    the walk's first step was counted as a rep.  So an undecided run's
    second swing may start in front of standing when its first swing was a
    rep and the swings from it on confirm the walk as a run starting at it
    would (``GaitState.second_front``), with the run's first stride on
    their rhythm (``second_on_rhythm``): a drill's last rep a moment
    before a walk's first step is no part of the walk's rhythm, and a
    drill's reps from standing never go on into swings from extension.
    """
    return not g.walking and not g.lead and len(g.peaks_s) == 1 and len(g.pending) == 1


#: A swing that rises at least this many times as much as a walk's tentative last swing is of another kind
#: (``last_step``): the reps of one set differ by far less (fatigue and effort, 10-30 %).
OTHER_KIND_RISE = 1.5


def last_step(settings: Settings, tentative: Rep, nxt: Rep, has_gyro: bool) -> bool:
    """True when a confirmed walk's tentative swing (``tentative``) was its last step, not a set's first rep.

    The walk's last steps extend the thigh less as the walker slows to a
    stop (and a reference a few degrees off reads a shallow stance in front
    of standing: tuning seeds 391, 641, 806, lows of -0.4 to +2.4 read
    against -5 to -7 true), so the last step can read as a tentative swing
    that nothing on the rhythm follows.  It is no set's first rep when the
    swing that ends the walk after it is not step-shaped and rises at least
    ``OTHER_KIND_RISE`` times as much: the reps of one set share their
    drill's shape, while the tentative swing has the walk's.  A next swing
    of the tentative's size (a set of small reps after the walk) keeps it a
    rep, as does the end of the stream.
    """
    return not gait_shaped(settings, nxt, has_gyro) and nxt.rom_deg >= OTHER_KIND_RISE * tentative.rom_deg


def stretched_peak(settings: Settings, rep: Rep) -> bool:
    """True when a swing peaks above a step's flexion by no more than an accelerometer-only angle stretches a step.

    The stretch allowed is that of a walk's first step (``FIRST_STEP_STRETCH_DEG``).
    """
    peak = rep.peak_flexion_deg
    return settings.gait_max_flexion_deg < peak <= settings.gait_max_flexion_deg + FIRST_STEP_STRETCH_DEG


def stretched_step(settings: Settings, rep: Rep, has_gyro: bool, standing_known: bool) -> bool:
    """True when an accelerometer-only swing from extension may be a confirmed walk's step read too high.

    Without a gyro a walk's steps read well above the thigh's flexion where
    the hip's accelerations at each heel strike and push-off tilt the
    specific force and the filter's samples are sparse (tuning seed 859, a
    12.5 Hz walk with true peaks of 19-21 degrees read 39-49, two of its six
    steps above ``gait_max_flexion_deg``).  Such a swing, one walking stride
    (``strict_stride``: no tolerance, a stride drill's 0.66 s swings read
    42-59 from -60 behind a walk wrongly confirmed in it, tuning seed 766)
    after a confirmed walk's last swing and starting behind standing as a
    step does, is held as the walk's tentative swing (``tentative``): a
    step only when a step-shaped swing from extension follows on the
    rhythm, else a rep (a march's or a ballistic set's reps after a walk
    read high on every rep, so the swing after the first is no step and
    releases it), and that step must come one walking stride on too (a
    stride drill's swings 0.5-0.8 s apart, one missed, leave an interval of
    a walking stride before a high swing, but not after it).  It must rise
    less than ``OTHER_KIND_RISE`` times the walk's widest step seen
    (``GaitState.step_rom_deg``): the steps of one walk differ as little as
    the reps of one set, while a leg raise between small swings rises 2-3
    times as much (Bilkent s5_e4_set1, acc-only: two raises of 68-73
    degrees taken as steps after swings of 25-31).  It is taken for the
    walk's last step (``last_step``) when what follows is no step and rises
    ``OTHER_KIND_RISE`` times as much (a drill's first rep after a walk is no
    smaller than its others by that much; tuning seed 5033: a step reading
    45.6 from -9, the walk's last, then a stride drill rising 97-130).  The
    stretch allowed is that of a walk's first step (``stretched_peak``).
    """
    if has_gyro or not standing_known:
        return False
    return stretched_peak(settings, rep) and from_extension(settings, rep)


def stance_pair(
    settings: Settings,
    g: GaitState,
    rep: Rep,
    has_gyro: bool,
    standing_known: bool,
    struck: bool,
    strike_g: float = math.nan,
) -> bool:
    """True when an accelerometer-only swing and the run's one swing before it are two steps of a walk.

    A slow walker's steps straddle what the accelerometer-only angle can
    see: of a walk between sets often only two swings are seen, two strides
    apart (tuning seeds 174, 767, 774, 968: true steps of 7-18 degrees, the
    first from standing reading 29-35, the step between them not seen at
    all), so there is no rhythm to judge.  They are a walk when the later
    swing is step-shaped, peaks at most ``PAIR_MAX_PEAK_DEG`` (a walk's
    flexion, not the 45 allowed in a rhythm) and starts at least
    ``STANCE_DEG`` behind standing
    (the stance before it: no standing drill's rep starts there), one of the
    two landed in its top half as a step does (a heel strike, ``strike_g``),
    and the interval is two walking strides of at most
    ``_PAIR_MAX_STRIDE_S``.  A softer landing than ``STRIKE_G`` (above
    ``SOFT_LANDING_G``, more than a strength rep or a hold jolts) does too
    (tuning seed 55 under the wider walk: a first step of 35.9 degrees from
    standing landing at 0.43 g, then 6.1 from -18.8 2.48 s on; ``strike_g``
    is ``rep``'s jolt, the earlier swing's is the state's when it was the
    latest rep).  The earlier swing (a rep or a swing too small
    to be one) must have started the run as a step would.
    """
    if has_gyro or not standing_known or g.walking or g.lead or len(g.peaks_s) != 1:
        return False
    first_g = g.rep_strike_g if g.pending and g.last_rep is g.pending[0] else math.nan
    if not (struck or g.struck_first or strike_g > SOFT_LANDING_G or first_g > SOFT_LANDING_G):
        return False
    half_s = 0.5 * (rep.peak_s - g.peaks_s[0])
    if not settings.gait_min_stride_s <= half_s <= _PAIR_MAX_STRIDE_S:
        return False
    if rep.peak_flexion_deg > PAIR_MAX_PEAK_DEG:
        return False  # a drill's rep from a low read behind standing (Bilkent s5_e5_set3: 40.6 from -13)
    return rep.peak_flexion_deg - rep.rom_deg <= -STANCE_DEG

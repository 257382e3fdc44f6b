"""Walking is not reps: the gait classifier on hand-made swing sequences, and its settings."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from gait_kit import run_swings

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait import GaitState, feed_candidate, feed_rep, flush, walks_so_far
from hipflex.dsp.types import Rep

S = Settings()


def _swing(peak_s: float, peak_deg: float, low_deg: float, rise_s: float = 0.4) -> Rep:
    return Rep(0, peak_s - rise_s, peak_s, peak_s + rise_s, peak_deg, peak_deg - low_deg, 0.2, 100.0, 50.0, 0.1, 1.0)


def _run(
    swings: Sequence[Rep | float], has_gyro: bool = True, strike_g: float = float("nan")
) -> tuple[list[Rep], list[Rep], GaitState]:
    """Feed reps (each with ``strike_g``) and small candidates (a float: the candidate's peak time); all counted
    reps and all steps."""
    return run_swings(S, swings, has_gyro, strike_g)


def test_a_walk_is_steps_not_reps_and_its_first_step_from_standing_belongs_to_it() -> None:
    # First step from standing (low 0), then every swing from 8-12 degrees of extension, 1.1 s strides.
    walk = [_swing(10.0, 22.0, 0.0)] + [_swing(10.0 + 1.1 * k, 25.0 + k % 3, -10.0 - k % 2) for k in range(1, 7)]
    counted, steps, g = _run(walk)
    assert counted == [] and steps == walk
    (w,) = walks_so_far(S, g)
    assert w.strides == 7 and w.start_s == walk[0].start_s and w.end_s == walk[-1].end_s


def test_small_swings_on_the_rhythm_are_strides_of_the_walk() -> None:
    seq: list[Rep | float] = [10.0, _swing(11.2, 24.0, -9.0), 12.3, _swing(13.5, 23.0, -8.0), 14.6]
    counted, steps, g = _run(seq)
    assert counted == [] and len(steps) == 2 and g.walks[0].strides == 5


def test_march_swings_at_walking_cadence_are_reps_at_once() -> None:
    # High knees return to about standing: low -3 of a 75 degree rise is 4 %, and the peak is no gait's.
    g = GaitState()
    for k in range(10):
        g, released, steps = feed_rep(S, g, _swing(10.0 + 1.1 * k, 75.0, -3.0), True)
        assert len(released) == 1 and steps == ()


def test_strides_at_a_slow_jog_are_reps() -> None:
    # A jog turns over at 150+ steps/min (a stride of 0.8 s or less), with 50 degrees of flexion.
    jog = [_swing(10.0 + 0.78 * k, 50.0, -18.0, 0.3) for k in range(12)]
    counted, steps, _ = _run(jog)
    assert counted == jog and steps == []


@pytest.mark.parametrize(("low_deg", "period_s"), [(0.0, 1.2), (0.5, 1.5), (-3.0, 2.6)])
def test_small_reps_from_rest_or_at_a_rehab_tempo_are_reps(low_deg: float, period_s: float) -> None:
    # Leg raises of 20-40 degrees that return to the rest pose, or swing back at 2.6 s per rep.
    reps = [_swing(10.0 + period_s * k, 30.0, low_deg, 0.8) for k in range(10)]
    counted, steps, g = _run(reps)
    assert counted == reps and steps == [] and g.walks == ()


def test_two_steps_across_a_room_are_a_walk_but_one_is_not() -> None:
    counted, steps, _ = _run([_swing(10.0, 24.0, 0.0), _swing(11.1, 26.0, -9.0)])
    assert counted == [] and len(steps) == 2
    one = _swing(10.0, 24.0, -9.0)
    counted, steps, _ = _run([one])
    assert counted == [one] and steps == []


def test_a_pause_before_a_walk_does_not_make_its_first_step_a_rep() -> None:
    # A small swing (a shuffle), 2.3 s of standing, then a walk at 1.1-1.7 s strides: the pause is
    # off the walking rhythm, so the shuffle is no stride of the walk, but the steps after it are
    # (seed 5078 of the widened simulator: the walk's first step was counted as a rep).
    walk = [_swing(12.3, 21.0, -9.0), _swing(14.0, 35.0, -10.0), _swing(15.0, 27.0, -9.0)]
    counted, steps, g = _run([10.0, *walk], has_gyro=False)
    assert counted == [] and steps == walk
    (w,) = g.walks
    assert w.start_s == walk[0].start_s and w.strides == 3


def test_the_first_step_from_standing_may_come_a_little_early() -> None:
    # The first swing starts from standing, not from extension: its peak comes 0.84 s before the
    # next one at a 1.0 s cadence (seeds 59 and 192 of the widened simulator, acc-only).
    walk = [_swing(10.0, 26.0, 0.0)] + [_swing(10.84 + 1.0 * k, 30.0, -8.0) for k in range(4)]
    counted, steps, g = _run(walk, has_gyro=False)
    assert counted == [] and steps == walk
    assert g.walks[0].strides == 5 and g.walks[0].start_s == walk[0].start_s


def test_a_small_first_step_and_one_step_from_extension_are_a_walk() -> None:
    # A short walk: the first step from standing rises less than min_rom_deg (a candidate), the
    # second rises 30 deg from 11 deg of extension, the last step into standing is too small to
    # see (seeds 125, 187, 263, 296 of the widened simulator, with a gyro).
    step = _swing(11.1, 20.0, -11.0)
    counted, steps, g = _run([10.0, step])
    assert counted == [] and steps == [step] and g.walks[0].strides == 2


def test_a_rep_then_a_small_swing_still_needs_a_third_swing() -> None:
    # The small swing after the rep is weaker evidence than a walk's small first step.
    rep = _swing(10.0, 20.0, -11.0)
    counted, steps, g = _run([rep, 11.1])
    assert counted == [rep] and steps == [] and g.walks == ()


def test_a_short_first_stride_alone_does_not_make_a_walk() -> None:
    # The early first stride is forgiven only when the strides after it confirm the walk themselves.
    pair = [_swing(10.0, 26.0, 0.0), _swing(10.75, 30.0, -8.0)]
    counted, steps, _ = _run(pair, has_gyro=False)
    assert counted == pair and steps == []


def test_a_rep_before_a_pause_is_still_a_rep_when_a_walk_follows() -> None:
    # A rep 2.3 s before a walk is off its rhythm: it stays a rep, the walk's swings are steps.
    rep = _swing(10.0, 30.0, -5.0)
    walk = [_swing(12.3 + 1.1 * k, 25.0, -9.0) for k in range(4)]
    counted, steps, _ = _run([rep, *walk], has_gyro=False)
    assert counted == [rep] and steps == walk


def test_a_step_too_small_to_be_seen_while_the_walk_is_being_decided_is_a_missed_stride() -> None:
    # A walk's first step, a small swing on the rhythm, then a step too small to be seen at all
    # (an interval of two strides) and the walk goes on: the first step is a step, not a rep.
    first = _swing(10.0, 22.0, 0.0)
    walk = [_swing(13.3 + 1.1 * k, 25.0, -9.0) for k in range(3)]
    counted, steps, g = _run([first, 11.1, *walk], has_gyro=False)
    assert counted == [] and steps == [first, *walk]
    (w,) = walks_so_far(S, g)
    assert w.strides == 6  # 10.0 to 15.5 on a 1.1 s stride, the unseen step included


def test_an_interval_that_is_not_two_strides_of_the_run_still_ends_it() -> None:
    # 2.9 s after a 1.0 s stride is no missed step (that would be 2.0 +- 25 %): the rep stays a rep.
    rep = _swing(10.0, 22.0, 0.0)
    walk = [_swing(13.9 + 1.1 * k, 25.0, -9.0) for k in range(3)]
    counted, steps, _ = _run([rep, 11.0, *walk], has_gyro=False)
    assert counted == [rep] and steps == walk


def test_gait_settings_are_validated_and_written_into_the_json() -> None:
    d = Settings().to_dict()
    for name in ("gait_min_extension_deg", "gait_max_flexion_deg", "gait_max_rom_deg"):
        assert name in d
    assert d["gait_max_stride_s"] == 2.0 and d["gait_min_strides"] == 2
    with pytest.raises(ValueError, match="gait_max_stride_s"):
        Settings(gait_min_stride_s=1.5, gait_max_stride_s=1.0)
    with pytest.raises(ValueError, match="gait_min_strides"):
        Settings(gait_min_strides=1)
    with pytest.raises(ValueError, match="gait_min_extension_deg"):
        Settings(gait_min_extension_deg=-1.0)


def test_a_march_whose_standing_reference_is_off_is_reps() -> None:
    # A march read 10 degrees low (a gyro calibrated on the move): lows 10-14 behind "standing", peaks
    # 58-70, at walking cadence.  Its flexion is no gait's, whatever its extension seems to be.
    march = [_swing(10.0 + 0.95 * k, 58.0 + 3 * (k % 4), -10.0 - k % 5) for k in range(12)]
    counted, steps, _ = _run(march)
    assert counted == march and steps == []


def test_a_march_read_20_degrees_low_is_reps_with_a_gyro() -> None:
    # A gyro march whose reference drifted: peaks 42-44 from lows of -20, at 1.05 s per swing.  Its rise
    # (62-64) is no walk's, wherever standing is.
    march = [_swing(10.0 + 1.05 * k, 42.0 + k % 3, -20.0) for k in range(10)]
    counted, steps, _ = _run(march)
    assert counted == march and steps == []
    # Without a gyro the rise is not evidence (foot strikes and pockets stretch it): flexion alone decides.
    counted, steps, _ = _run(march, has_gyro=False)
    assert counted == [] and steps == march


def _feed_struck(
    swings: Sequence[Rep], strikes_g: Sequence[float], standing_known: bool
) -> tuple[list[Rep], list[Rep]]:
    """Accelerometer-only reps with the heel-strike jolt the detector measured after each peak."""
    counted, steps, _ = _feed_struck_state(swings, strikes_g, standing_known)
    return counted, steps


def _feed_struck_state(
    swings: Sequence[Rep], strikes_g: Sequence[float], standing_known: bool
) -> tuple[list[Rep], list[Rep], GaitState]:
    """As ``_feed_struck``; returns the closed state too."""
    return run_swings(S, swings, False, strikes_g, standing_known)


# Accelerometer-only steps whose lows the angle does not read behind standing (a reference that is
# off, or none: no still window), at a walking cadence.
_LEVEL_WALK = [_swing(10.0 + 1.1 * k, 30.0, 5.0) for k in range(6)]


def test_acc_only_swings_with_heel_strikes_are_steps_without_a_standing_reference() -> None:
    """A foot landing in the top half of each swing makes the swings steps whatever the angle
    says of standing (none known, or lows that do not read behind it)."""
    for standing_known in (False, True):
        counted, steps = _feed_struck(_LEVEL_WALK, [1.2] * 6, standing_known)
        assert counted == [] and steps == _LEVEL_WALK


def test_acc_only_swings_without_heel_strikes_are_reps_as_before() -> None:
    for strikes in ([float("nan")] * 6, [0.2] * 6):
        counted, steps = _feed_struck(_LEVEL_WALK, strikes, standing_known=False)
        assert counted == _LEVEL_WALK and steps == []


def test_heel_strikes_neither_make_a_march_a_walk_nor_count_with_a_gyro() -> None:
    # High knees with a strike measured in the top half still peak as no gait does.
    march = [_swing(10.0 + 1.1 * k, 75.0, -3.0) for k in range(6)]
    counted, steps = _feed_struck(march, [1.5] * 6, standing_known=False)
    assert counted == march and steps == []
    # With a gyro the angle is not stretched: the strike is not used.
    g = GaitState()
    for s in _LEVEL_WALK:
        g, released, st = feed_rep(S, g, s, True, False, 1.5)
        assert len(released) == 1 and st == ()


def test_a_swing_inside_a_walk_whose_low_reads_in_front_of_standing_is_a_step() -> None:
    # A confirmed walk (1.05 s strides from 8-11 degrees of extension); one swing on its rhythm
    # reads its low at +3 (an accelerometer-only angle after a heel strike), and the walk goes
    # on after it, with a step from extension and then a swing too small to be a rep.
    walk = [_swing(10.0 + 1.05 * k, 25.0, -8.0 - k % 3) for k in range(4)]
    seq: list[Rep | float] = [*walk, _swing(14.2, 27.0, 3.0), _swing(15.25, 28.0, -7.0), _swing(16.3, 30.0, 3.5), 17.3]
    counted, steps, g = _run(seq, has_gyro=False)
    assert counted == []
    assert len(steps) == 7
    assert [w.strides for w in g.walks] == [8]


def test_a_rep_after_a_walk_on_its_rhythm_is_still_a_rep() -> None:
    # A walk, then reps of 35 degrees from standing at 1.5 s: the first falls on the walk's
    # rhythm and is step-shaped, but the walk does not go on after it.
    walk = [_swing(10.0 + 1.05 * k, 25.0, -9.0) for k in range(4)]
    reps = [_swing(14.4 + 1.5 * k, 35.0, 0.0, 0.6) for k in range(5)]
    counted, steps, g = _run([*walk, *reps], has_gyro=True)
    assert counted == reps
    assert steps == walk
    assert [(w.strides, w.end_s) for w in g.walks] == [(4, walk[-1].end_s)]


def _feed_struck_mixed(swings: Sequence[Rep], strikes_g: Sequence[float]) -> tuple[list[Rep], list[Rep], GaitState]:
    """As ``_feed_struck`` with a still calibration window (standing known); returns the state too."""
    return _feed_struck_state(swings, strikes_g, True)


# An accelerometer-only walk whose first step from standing reads 53 degrees (the body's forward
# acceleration into the walk tilts the specific force; tuning seed 74), struck in its top half, then
# steps from 10-19 degrees of extension at 1.05 s strides with weak strikes.
_HIGH_FIRST = _swing(10.0, 53.0, 0.0)
_STEPS_AFTER = [_swing(10.0 + 1.05 * k, 18.0 + k % 3, -10.0 - 3 * (k % 3)) for k in range(1, 6)]


def test_an_acc_only_first_step_read_above_a_steps_flexion_belongs_to_its_walk() -> None:
    counted, steps, g = _feed_struck_mixed([_HIGH_FIRST, *_STEPS_AFTER], [0.9] + [0.25] * 5)
    assert counted == [] and steps == [_HIGH_FIRST, *_STEPS_AFTER]
    assert [(w.strides, w.start_s) for w in g.walks] == [(6, _HIGH_FIRST.start_s)]


def test_a_high_swing_is_a_rep_unless_a_walk_from_extension_follows_it_one_stride_on() -> None:
    # Not struck (a drill's rep): a rep, and the walk after it starts at its own first step.
    counted, steps, _ = _feed_struck_mixed([_HIGH_FIRST, *_STEPS_AFTER], [0.2] * 6)
    assert counted == [_HIGH_FIRST] and steps == _STEPS_AFTER
    # Struck, but the walk comes after a pause (two strides on): a rep.
    late = [_swing(s.peak_s + 1.05, s.peak_flexion_deg, s.peak_flexion_deg - s.rom_deg) for s in _STEPS_AFTER]
    counted, steps, _ = _feed_struck_mixed([_HIGH_FIRST, *late], [0.9] + [0.25] * 5)
    assert counted == [_HIGH_FIRST] and steps == late
    # Struck, but the next swing returns from standing (a drill's next rep): both reps.
    reps = [_HIGH_FIRST, _swing(11.05, 30.0, 0.0)]
    counted, steps, _ = _feed_struck_mixed(reps, [0.9, 0.25])
    assert counted == reps and steps == []
    # Struck and followed by one step from extension only: the steps after the high swing must
    # confirm the walk on their own (two of them), so one step is not enough.
    counted, steps, _ = _feed_struck_mixed([_HIGH_FIRST, _STEPS_AFTER[0]], [0.9, 0.25])
    assert counted == [_HIGH_FIRST, _STEPS_AFTER[0]] and steps == []
    # Struck, but the next swing comes 0.7 s on (a stride drill, tuning seed 302: swings read on
    # both sides of a step's flexion): the high swing is no walk's first step.
    drill = [_HIGH_FIRST, _swing(10.7, 41.5, -31.0), _swing(11.99, 20.0, -40.0)]
    counted, steps, _ = _feed_struck_mixed(drill, [1.5, 1.8, 1.4])
    assert _HIGH_FIRST in counted
    # Read above what the start of a walk can stretch a step to (a march's knee lift): a rep.
    march = _swing(10.0, 70.0, 0.0)
    counted, steps, _ = _feed_struck_mixed([march, *_STEPS_AFTER], [1.5] + [0.25] * 5)
    assert counted == [march] and steps == _STEPS_AFTER


def test_an_acc_only_first_step_read_high_with_a_soft_landing_belongs_to_its_walk() -> None:
    # A slow walker's first step from standing read 45-50 degrees, landing at 0.35-0.45 g (under
    # STRIKE_G; tuning seeds 29 and 242 under the wider walk), then the walk's steps from extension
    # one stride on, which confirm the walk on their own: the first step is the walk's too.
    counted, steps, g = _feed_struck_mixed([_HIGH_FIRST, *_STEPS_AFTER], [0.4] + [0.25] * 5)
    assert counted == [] and steps == [_HIGH_FIRST, *_STEPS_AFTER]
    assert [(w.strides, w.start_s) for w in g.walks] == [(6, _HIGH_FIRST.start_s)]
    # A jolt a strength rep or a hold can give (0.3 g at most): a rep, as before.
    counted, steps, _ = _feed_struck_mixed([_HIGH_FIRST, *_STEPS_AFTER], [0.3] + [0.25] * 5)
    assert counted == [_HIGH_FIRST] and steps == _STEPS_AFTER
    # A swing within a walking link before it (a set's rep, not a pause): a rep.
    before = _swing(8.4, 60.0, 0.0)
    counted, steps, _ = _feed_struck_mixed([before, _HIGH_FIRST, *_STEPS_AFTER], [0.2, 0.4] + [0.25] * 5)
    assert counted == [before, _HIGH_FIRST] and steps == _STEPS_AFTER
    # Its low read well behind standing (no first step from standing): a rep.
    low = _swing(10.0, 48.0, -12.0)
    counted, steps, _ = _feed_struck_mixed([low, *_STEPS_AFTER], [0.4] + [0.25] * 5)
    assert counted == [low] and steps == _STEPS_AFTER
    # One step after it only: the steps after the high swing must confirm the walk on their own.
    counted, steps, _ = _feed_struck_mixed([_HIGH_FIRST, _STEPS_AFTER[0]], [0.4, 0.25])
    assert counted == [_HIGH_FIRST, _STEPS_AFTER[0]] and steps == []


def test_a_swing_whose_peak_came_late_still_falls_on_the_walks_rhythm() -> None:
    # A short walk whose middle swing's peak the angle put 0.3 s late (tuning seed 349, 50 Hz
    # without a gyro): strides of 1.47 and 0.84 s, which together are two strides of 1.15 s.
    first, last = _swing(10.0, 24.0, -1.6), _swing(12.31, 13.0, -9.0)
    # The foot landed on the last swing (0.9 g): a step's peak may move.
    counted, steps, g = run_swings(S, [first, 11.47, last], False, [0.6, 0.9])
    assert counted == [] and steps == [first, last]
    assert [w.strides for w in g.walks] == [3]
    # Without a foot strike (a gyro, or an accelerometer-only drill such as clamshells whose reps
    # come unevenly) the peaks are where the thigh's are: the short stride is off the rhythm.
    counted, steps, _ = _run([first, 11.47, last])
    assert counted == [first, last] and steps == []
    # Short on both sides (a jog or a stride drill at 0.7 s a stride): still reps.
    jog = [_swing(10.0 + 0.7 * k, 30.0, -8.0) for k in range(6)]
    counted, steps, _ = _run(jog)
    assert counted == jog and steps == []


def test_a_struck_first_step_two_strides_before_the_walk_goes_on_is_its_step() -> None:
    # Tuning seed 179 (acc-only): the first step from standing lands in its top half (0.5 g), the
    # second step is not seen, and the walk goes on at 1.06 s strides two strides later.
    first = _swing(10.0, 39.0, -0.9)
    walk = [_swing(12.43 + 1.06 * k, 11.0 + k, -12.0 - 4 * (k % 2)) for k in range(3)]
    counted, steps, g = _feed_struck_mixed([first, *walk], [0.51, 0.1, 0.6, 0.1])
    assert counted == [] and steps == [first, *walk]
    assert [(w.strides, w.start_s) for w in g.walks] == [(5, first.start_s)]
    # Not struck (a drill's rep, then a pause, then the walk): the rep stays a rep.
    counted, steps, _ = _feed_struck_mixed([first, *walk], [0.2, 0.1, 0.6, 0.1])
    assert counted == [first] and steps == walk
    # Struck, but what follows two strides on is no walk (a rep from standing): both reps.
    reps = [first, _swing(12.43, 30.0, 0.0)]
    counted, steps, _ = _feed_struck_mixed(reps, [0.51, 0.1])
    assert counted == reps and steps == []


def test_a_high_struck_first_step_and_one_struck_step_from_extension_are_a_walk() -> None:
    # Tuning seed 373 (acc-only, 400 Hz): a walk between sets whose first step from standing reads
    # 45.7 degrees (struck, 2.7 g) and whose second, 1.26 s on, rises from 14 degrees of extension
    # with its own foot landing (2.4 g); no other swing of the walk is seen.
    first, second = _swing(10.0, 45.7, -0.5), _swing(11.26, 24.4, -14.2)
    counted, steps, g = _feed_struck_mixed([first, second], [2.67, 2.42])
    assert counted == [] and steps == [first, second]
    assert [(w.strides, w.start_s) for w in g.walks] == [(2, first.start_s)]
    # The second swing not struck (weaker evidence): both stay reps, as before.
    counted, steps, _ = _feed_struck_mixed([first, second], [2.67, 0.25])
    assert counted == [first, second] and steps == []
    # Struck but from standing (a march's or a drill's next rep): reps.
    again = _swing(11.26, 30.0, 0.0)
    counted, steps, _ = _feed_struck_mixed([first, again], [2.67, 2.42])
    assert counted == [first, again] and steps == []
    # Struck from extension but 0.75 s on (a stride drill's turnover): reps.
    fast = _swing(10.75, 24.4, -14.2)
    counted, steps, _ = _feed_struck_mixed([first, fast], [2.67, 2.42])
    assert counted == [first, fast] and steps == []
    # The high swing came 0.72 s after a swing of a drill (tuning seed 307, a stride drill whose
    # swings read 23-86 degrees): no walk's first step from standing, so one step does not confirm it.
    before = _swing(9.28, 80.9, 3.9)
    counted, steps, _ = _feed_struck_mixed([before, first, second], [2.28, 2.67, 2.42])
    assert counted == [before, first, second] and steps == []


def _feed_then_candidates(
    first: Rep, strike_g: float, candidates_s: tuple[float, ...]
) -> tuple[GaitState, tuple[Rep, ...], tuple[Rep, ...]]:
    """Feed one acc-only swing (landing ``strike_g``), then candidates peaking at ``candidates_s``, then flush.

    Returns the closed state, every rep released as a rep and every rep found to be a step.
    """
    counted, steps, g = run_swings(S, [first, *candidates_s], False, [strike_g])
    return g, tuple(counted), tuple(steps)


def test_a_swing_soon_after_a_late_read_peak_is_kept_for_the_rhythm() -> None:
    # Tuning seed 397 (acc-only, 52 Hz): a struck first step, the next step's peak read 0.4 s late
    # (1.58 s on), the step after it 0.67 s later and the next 1.51 s after that: with the late
    # peak and the short stride beside it together two walking strides, the run is a walk.
    first = _swing(10.0, 25.1, 0.7)
    g, counted, steps = _feed_then_candidates(first, 1.65, (11.58, 12.25, 13.76))
    assert counted == () and steps == (first,)
    (walk,) = g.walks
    assert walk.start_s == first.start_s and abs(walk.strides - 4) <= 1  # the late peak stretches the stride
    # Not struck (no foot landing: the peaks are the thigh's): the short stride is a fidget, ignored,
    # and the interval left after it is no stride: the swing stays a rep.
    g, counted, steps = _feed_then_candidates(first, 0.2, (11.58, 12.25, 13.76))
    assert counted == (first,) and steps == ()


def test_a_walks_second_step_whose_low_reads_in_front_of_standing_keeps_its_first_step() -> None:
    # Tuning seeds 641 / 850 (acc-only / gyro): the first step from standing, then a second whose low
    # reads +10 / -0.7 (the first stance extends the thigh less; without a gyro the body's forward
    # acceleration into the walk reads as flexion), then steps from extension on the same rhythm.
    first, second = _swing(10.0, 39.7, -0.4), _swing(10.94, 41.7, 10.2)
    walk = [_swing(12.02 + 1.08 * k, 33.7, -13.8) for k in range(2)]
    for has_gyro in (False, True):
        counted, steps, g = _run([first, second, *walk], has_gyro=has_gyro)
        assert counted == [] and steps == [first, second, *walk]
        assert [(w.strides, w.start_s) for w in g.walks] == [(4, first.start_s)]
    # One step from extension after them is enough, as for a walk starting at the second swing.
    counted, steps, g = _run([first, second, walk[0]])
    assert counted == [] and steps == [first, second, walk[0]]
    # A drill's last rep 1.7 s before a walk's first step from standing (off the walk's 1.08 s
    # rhythm): it stays a rep, and the walk starts at its own first step.
    rep = _swing(9.24, 39.7, -0.4)
    counted, steps, g = _run([rep, second, *walk])
    assert counted == [rep] and steps == [second, *walk]
    # Swings from standing that never go on into swings from extension (a drill's reps): reps.
    drill = [_swing(10.0 + 1.05 * k, 35.0, 0.0) for k in range(4)]
    counted, steps, _ = _run(drill)
    assert counted == drill and steps == []


def test_a_walks_last_step_read_in_front_of_standing_is_a_step_when_a_drill_of_another_size_follows() -> None:
    # Tuning seed 391 (acc-only, 12.5 Hz): a walk whose last step reads its low at +1.2 (the last
    # stance extends less as the walker stops), then a ballistic set rising 80-90 degrees.
    walk = [_swing(10.0 + 1.12 * k, 29.0, -3.0) for k in range(4)]
    last = _swing(14.48, 30.8, 1.2)
    drill = [_swing(17.77 + 0.72 * k, 81.5, 0.0, 0.2) for k in range(3)]
    counted, steps, g = _run([*walk, last, *drill], has_gyro=False)
    assert counted == drill and steps == [*walk, last]
    assert [(w.strides, w.end_s) for w in g.walks] == [(5, last.end_s)]
    # A set of reps of the last swing's size after the walk: its first rep stays a rep.
    small = [_swing(17.77 + 1.6 * k, 33.0, 0.0) for k in range(3)]
    counted, steps, _ = _run([*walk, last, *small], has_gyro=False)
    assert counted == [last, *small] and steps == walk
    # Not step-shaped but rising less than half as much again (one set's reps): a rep.
    near = [_swing(17.77 + 0.9 * k, 46.0, 6.0) for k in range(3)]
    counted, steps, _ = _run([*walk, last, *near], has_gyro=False)
    assert counted == [last, *near] and steps == walk


def test_an_acc_only_walk_step_read_above_a_steps_flexion_is_a_step_when_the_walk_goes_on() -> None:
    # Tuning seed 859 (acc-only, 12.5 Hz): steps of 19-21 degrees read 39-44, two of them 46-49,
    # all from 10-16 degrees of extension at 0.96-1.04 s strides.
    peaks = [39.5, 40.1, 48.8, 43.9, 45.8, 43.5]
    walk = [_swing(10.0 + 1.0 * k, p, -12.0 - k % 3) for k, p in enumerate(peaks)]
    counted, steps, g = _run(walk, has_gyro=False)
    assert counted == [] and steps == walk
    assert [w.strides for w in g.walks] == [6]
    # With a gyro the angle is not stretched: a swing above a step's flexion ends the walk.
    counted, _, _ = _run(walk, has_gyro=True)
    assert walk[2] in counted and walk[4] in counted
    # A march after the walk on its rhythm, its first knee lift from a low behind standing: every
    # lift reads high, so the one after the first releases it as a rep.
    march = [_swing(16.0 + 1.0 * k, 60.0 + k, -3.0) for k in range(4)]
    counted, steps, g = _run([*walk[:2], walk[3], walk[5], *march], has_gyro=False)
    assert counted == march
    # Bilkent s5_e4_set1 (acc-only): leg raises rising 68-73 degrees between small swings of 25-31
    # from 15-18 behind standing: a raise rising more than 1.5x the walk's widest step is a rep.
    small = [_swing(10.0 + 1.1 * k, 10.0, -18.0) for k in range(3)]
    raise_ = _swing(13.3 + 0.4, 61.9, -11.4)
    after = _swing(14.8, 11.2, -14.6)
    counted, _, _ = _run([*small, raise_, after], has_gyro=False)
    assert raise_ in counted
    # Tuning seed 766: a stride drill's swings at 0.66 s read 42-59 from -60 behind a walk wrongly
    # confirmed in the set; one above a step's flexion at that turnover is no walking stride: a rep.
    fast = [_swing(15.66 + 0.66 * k, 48.0 if k % 2 == 0 else 43.0, -60.0) for k in range(4)]
    counted, _, _ = _run([*walk[:2], walk[3], walk[5], *fast], has_gyro=False)
    assert fast[0] in counted
    # A stride drill's high swing one walking stride after a walk confirmed in it (a swing missed
    # before it), the next swing 0.7 s on: no walking stride after it, a rep.
    stride = [_swing(16.4 + 0.7 * k, 50.0 if k == 0 else 40.0, -25.0) for k in range(3)]
    counted, _, _ = _run([*walk[:2], walk[3], walk[5], *stride], has_gyro=False)
    assert stride[0] in counted
    # Bilkent s5_e3_set3 (acc-only): a swing too small to be a rep after a stretched swing does not make
    # it a step.
    counted, _, _ = _run([*walk[:2], walk[3], walk[5], _swing(16.0, 47.0, -12.0), 17.2], has_gyro=False)
    assert [r.peak_s for r in counted] == [16.0]
    # Nor is a high swing the walk's last step when a drill of another size follows (only a
    # step-shaped tentative swing can be).
    drill = [_swing(19.0 + 0.72 * k, 85.0, 0.0, 0.2) for k in range(3)]
    high = _swing(16.0, 50.0, -12.0)
    counted, steps, _ = _run([*walk[:2], walk[3], walk[5], high, *drill], has_gyro=False)
    assert counted == [high, *drill]


def test_two_swings_two_strides_apart_the_later_from_a_stance_are_a_walk_when_one_landed_softly() -> None:
    # Tuning seed 55 under the wider walk (acc-only): a first step from standing read 35.9 degrees,
    # landing at 0.43 g (under STRIKE_G), the next step not seen, the one after it from -18.8.
    first, later = _swing(10.0, 35.9, -0.3), _swing(12.48, 6.1, -18.8)
    counted, steps, g = _feed_struck_mixed([first, later], [0.43, 0.22])
    assert counted == [] and steps == [first, later]
    assert [w.strides for w in g.walks] == [3]
    # The later one landing so instead: a walk too.
    assert _feed_struck_mixed([first, later], [0.2, 0.43])[0] == []
    # Jolts a strength rep or a hold can give (0.3 g at most): reps.
    assert _feed_struck_mixed([first, later], [0.3, 0.3])[0] == [first, later]


def test_two_swings_two_strides_apart_the_later_from_a_stance_are_a_walk_when_one_is_struck() -> None:
    # Tuning seeds 174 / 767 (acc-only): a walk's first step from standing reads 29-35 degrees and is
    # heel-struck; the next step is not seen; the one after it starts 10-17 degrees behind standing.
    first, later = _swing(10.0, 30.0, -1.0), _swing(12.4, 10.0, -15.0)
    counted, steps, g = _feed_struck_mixed([first, later], [1.2, 0.2])
    assert counted == [] and steps == [first, later]
    assert [w.strides for w in g.walks] == [3]
    # The later swing struck instead (tuning seed 774): a walk too.
    counted, steps, _ = _feed_struck_mixed([first, later], [0.3, 1.1])
    assert counted == [] and steps == [first, later]
    # Neither struck, a low that shows no stance, strides slower than a walker's, or a gyro: reps.
    assert _feed_struck_mixed([first, later], [0.3, 0.2])[0] == [first, later]
    shallow = _swing(12.4, 20.0, -6.0)
    assert _feed_struck_mixed([first, shallow], [1.2, 0.2])[0] == [first, shallow]
    slow = _swing(13.6, 10.0, -15.0)
    assert _feed_struck_mixed([first, slow], [1.2, 0.2])[0] == [first, slow]
    assert _run([first, later], has_gyro=True)[0] == [first, later]
    # Bilkent s5_e5_set3 (acc-only): a later swing peaking 40.6 (a leg raise from a low read at -13) is
    # no step seen in a walk's flexion: reps.
    raised = _swing(12.07, 40.6, -13.0)
    assert _feed_struck_mixed([first, raised], [0.52, 0.54])[0] == [first, raised]
    # Tuning seed 968: a swing too small to be a rep, then a struck step from 12 degrees behind standing.
    g = GaitState()
    g, released, st = feed_candidate(S, g, 10.0)
    step = _swing(12.2, 9.5, -11.7)
    g, released, st = feed_rep(S, g, step, False, True, 0.7)
    assert released == () and st == (step,)


def test_two_acc_only_swings_in_a_row_read_in_front_of_standing_are_a_walks_last_steps() -> None:
    # Tuning seed 434 (acc-only): a walk whose lows read -1 to +6 (the reference a few degrees off),
    # confirmed on struck steps; its last two swings read lows of +6 and -0.3; a stride set follows.
    walk = [_swing(10.0 + 1.07 * k, 27.0, -8.0) for k in range(4)]
    last = [_swing(14.28, 27.1, 6.0), _swing(15.35, 23.5, -0.3)]
    drill = [_swing(20.0 + 0.7 * k, 75.0, -25.0, 0.3) for k in range(3)]
    counted, steps, g = _run([*walk, *last, *drill], has_gyro=False)
    assert counted == drill and steps == [*walk, *last]
    assert [(w.strides, w.end_s) for w in g.walks] == [(6, last[1].end_s)]
    # The walk going on after them: steps too.
    more = _swing(16.42, 26.0, -9.0)
    counted, steps, _ = _run([*walk, *last, more], has_gyro=False)
    assert counted == [] and steps == [*walk, *last, more]
    # The stream ending after them, or a third such swing, or a gyro: reps.
    assert _run([*walk, *last], has_gyro=False)[0] == last
    third = _swing(16.42, 25.0, 2.0)
    assert _run([*walk, *last, third], has_gyro=False)[0] == [*last, third]
    assert _run([*walk, *last, *drill], has_gyro=True)[0] == [*last, *drill]


def test_held_acc_only_reps_whose_peaks_fall_a_walking_stride_apart_are_not_a_walk() -> None:
    # Tuning seed 7's accelerometer-only clamshells: each rep held ~1.5 s at its top, its peak read
    # anywhere in the hold (so two peaks 1.86 s apart), its return dipping 13 deg behind the rest
    # (lying down, the pendulum filter's hanging-thigh model is wrong); the rises leave the rest
    # 3.0-3.3 s apart, no walking stride.
    starts = (19.98, 23.20, 26.47, 29.49, 32.52)
    peaks = (22.29, 24.15, 27.49, 30.85, 33.81)
    reps = [Rep(0, a, p, a + 2.9, 38.0, 51.0, 0.5, 80.0, 40.0, 1.7, 1.0) for a, p in zip(starts, peaks, strict=True)]
    counted, steps, g = _run(reps, has_gyro=False, strike_g=0.1)  # lying: the foot lands on nothing
    assert counted == reps and steps == [] and g.walks == ()


def test_a_held_acc_only_rep_whose_peak_reads_late_in_its_hold_still_has_its_onset_judged() -> None:
    # Tuning seed 10's accelerometer-only clamshells (first set, 0/19): a rep rising from 10.61 s has its
    # peak read at 13.22 s, late in its ~1.8 s hold (true peak 12.4 s), so onset to peak is 2.6 s, more
    # than any stride: taken for a rise read out of a rest's sway, its onset went unjudged and the reps
    # after it, peaks 1.8-3.8 s apart, confirmed a walk. Less the time near its top, it rose in 0.9 s.
    starts = (10.61, 14.06, 16.96, 19.95, 22.93)
    peaks = (13.22, 15.00, 17.95, 21.25, 25.05)
    reps = [Rep(0, a, p, p + 1.5, 38.0, 52.0, 1.2, 80.0, 20.0, 1.76, 1.0) for a, p in zip(starts, peaks, strict=True)]
    counted, steps, g = _run(reps, has_gyro=False, strike_g=0.1)  # lying: the foot lands on nothing
    assert counted == reps and steps == [] and g.walks == ()
    # A rise read out of a rest's sway (a walk's first step, its top brief): still not judged.
    sway = [Rep(0, 7.0, 10.4, 11.0, 30.0, 30.0, 0.5, 80.0, 10.0, 0.4, 1.0)]
    walk = [_swing(10.4 + 1.1 * k, 28.0, -10.0) for k in range(1, 6)]
    counted, steps, _ = _run([*sway, *walk], has_gyro=False, strike_g=0.1)
    assert counted == [] and steps == [*sway, *walk]


def test_acc_only_swings_whose_onsets_read_late_are_still_a_walk_when_a_foot_lands() -> None:
    # The same peaks and onsets as the clamshells above, but each swing jolts 0.3 g after its peak with
    # the thigh still high (a soft heel strike, under ``STRIKE_G``): a walk's onsets may read early out
    # of the stance before it, lying reps land on nothing, so the onsets are not judged.
    starts = (19.98, 23.20, 26.47, 29.49, 32.52)
    peaks = (22.29, 24.15, 27.49, 30.85, 33.81)
    reps = [Rep(0, a, p, a + 2.9, 38.0, 51.0, 0.5, 80.0, 40.0, 1.7, 1.0) for a, p in zip(starts, peaks, strict=True)]
    counted, steps, g = _run(reps, has_gyro=False, strike_g=0.3)
    assert counted == [] and steps == reps and len(g.walks) == 1


def test_a_walk_whose_rises_leave_one_stride_apart_is_still_a_walk_without_a_gyro() -> None:
    walk = [_swing(10.0 + 1.1 * k, 28.0, -10.0) for k in range(6)]
    counted, steps, _ = _run(walk, has_gyro=False)
    assert counted == [] and steps == walk


def test_a_lone_acc_only_swing_of_another_size_than_the_sets_around_it_is_a_walks_step() -> None:
    # Tuning seed 364 (acc-only, 12.5 Hz): of a walk between two strength sets only one swing is seen,
    # peaking 25 degrees from 13.5 behind standing; the sets' reps rise 55-75.
    before = [_swing(10.0 + 3.6 * k, 60.0, 2.0, 0.8) for k in range(3)]
    lone = _swing(25.7, 25.0, -13.5)
    after = [_swing(32.6 + 3.6 * k, 74.0, 0.0, 0.8) for k in range(3)]
    counted, steps, g = _run([*before, lone, *after], has_gyro=False)
    assert counted == [*before, *after] and steps == [lone]
    assert [(w.start_s, w.strides) for w in g.walks] == [(lone.start_s, 1)]
    # Tuning seeds 871 / 971: a swing from standing with a swing too small to be a rep 1.6 s after it,
    # between sets or before the first.
    first = _swing(25.7, 35.0, -0.6)
    counted, steps, _ = _run([*before, first, 27.3, *after], has_gyro=False)
    assert counted == [*before, *after] and steps == [first]
    counted, steps, _ = _run([first, 27.3, *after], has_gyro=False)
    assert counted == after and steps == [first]


def test_a_lone_swing_stays_a_rep_without_a_steps_evidence_or_beside_reps_of_its_size() -> None:
    before = [_swing(10.0 + 3.6 * k, 60.0, 2.0, 0.8) for k in range(3)]
    after = [_swing(32.6 + 3.6 * k, 74.0, 0.0, 0.8) for k in range(3)]
    lone, first = _swing(25.7, 25.0, -13.5), _swing(25.7, 35.0, -0.6)

    def counted(seq: Sequence[Rep | float], has_gyro: bool = False) -> list[Rep]:
        return _run(seq, has_gyro=has_gyro)[0]

    # From standing with nothing after it; from a stance but peaking above a walk's flexion (a leg raise,
    # Bilkent s5_e5_set3); with a gyro; at the end of the stream.
    assert counted([*before, first, *after]) == [*before, first, *after]
    high = _swing(25.7, 40.6, -13.0)
    big = [_swing(10.0 + 3.6 * k, 92.0, 0.0, 0.8) for k in (0, 1, 2, 6, 7, 8)]
    assert counted([*big[:3], high, *big[3:]]) == [*big[:3], high, *big[3:]]
    assert counted([*before, lone, *after], has_gyro=True) == [*before, lone, *after]
    assert counted([*before, lone]) == [*before, lone]
    # A set of reps of its size on either side (small reps at a slow tempo, each alone).
    small = [_swing(32.6 + 3.6 * k, 26.0, -12.0, 0.8) for k in range(3)]
    assert counted([*before, lone, *small]) == [*before, lone, *small]
    later = [_swing(52.0 + 3.6 * k, 74.0, 0.0, 0.8) for k in range(3)]
    assert counted([*small, _swing(45.0, 25.0, -13.5), *later]) == [*small, _swing(45.0, 25.0, -13.5), *later]
    # The next set starting within a walking link of it: the set's first rep, or its lead-in.
    soon = [_swing(27.9 + 3.6 * k, 74.0, 0.0, 0.8) for k in range(3)]
    assert counted([*before, lone, *soon]) == [*before, lone, *soon]
    # A swing within a walking link of the set before it (the set's last, weaker rep).
    late = _swing(19.0, 35.0, -0.6)
    assert counted([*before, late, 20.6, *after]) == [*before, late, *after]
    # Standing unknown (no still calibration window): its lows say nothing.
    g = GaitState()
    out: list[Rep] = []
    for s in [*before, first, 27.3, *after]:
        if isinstance(s, Rep):
            g, released, _ = feed_rep(S, g, s, False, False)
        else:
            g, released, _ = feed_candidate(S, g, s)
        out += released
    assert [*out, *flush(S, g)[1]] == [*before, first, *after]


def test_a_swing_alone_after_a_set_of_another_kind_two_strides_before_a_walk_is_its_first_step() -> None:
    # Tuning seed 668 (acc-only): a march set, 5.8 s, a swing of 30 degrees from -4, then the walk's steps
    # of the same size two strides and three strides on (the second step not seen).
    march = [_swing(2.0 + 1.2 * k, 90.0, -2.0, 0.4) for k in range(4)]
    first = _swing(11.4, 25.8, -4.3)
    walk = [_swing(13.6 + 1.12 * k, 23.0 + k, -7.5) for k in range(3)]
    counted, steps, g = _run([*march, first, *walk], has_gyro=False)
    assert counted == march and steps == [first, *walk]
    assert [w.start_s for w in g.walks] == [first.start_s]
    # Reps of its size before it (its set), the set's last rep within a walking link, or a gyro: the swing
    # stays a rep.
    small = [_swing(2.0 + 2.6 * k, 27.0, -3.0, 0.8) for k in range(3)]
    assert _run([*small, first, *walk], has_gyro=False)[0] == [*small, first]
    near = [_swing(6.0 + 1.2 * k, 90.0, -2.0, 0.4) for k in range(4)]
    assert _run([*near, first, *walk], has_gyro=False)[0] == [*near, first]
    assert _run([*march, first, *walk], has_gyro=True)[0] == [*march, first]


def test_a_confirmed_acc_only_walk_is_not_cut_by_a_step_whose_onset_came_late() -> None:
    # Wide simulator, tuning seed 314 (onset2): inside a confirmed walk one step's onset read 1 s before
    # its peak (the stance before it), the next step came two strides on with one unseen between; their
    # onsets 2.8 s apart are no stride, but the walk is already confirmed: the step is still a step.
    walk = [_swing(10.0 + 1.1 * k, 28.0, -10.0) for k in range(4)]
    walk += [_swing(15.5, 28.0, -10.0, rise_s=1.0), _swing(17.7, 28.0, -10.0)]
    counted, steps, _ = _run(walk, has_gyro=False, strike_g=0.1)
    assert counted == [] and steps == walk


def _walk_of(reads: Sequence[tuple[float, float, float]], t0_s: float = 10.0) -> list[Rep]:
    """Swings from (interval since the previous peak s, peak deg, low deg)."""
    out, t = [], t0_s
    for dt_s, peak_deg, low_deg in reads:
        t += dt_s
        out.append(_swing(t, peak_deg, low_deg))
    return out


# Tuning seed 5133 (acc-only, 25 Hz, a brisk walker of the widened simulator: true peaks 28-34 degrees):
# the walk's steps read 38-46 degrees, on both sides of gait_max_flexion_deg, at 1.03-1.08 s strides.
_BRISK = _walk_of([(0.0, 43.6, 0.2), (1.03, 46.3, -8.0), (1.04, 44.9, -4.9), (1.08, 46.2, -2.5), (1.04, 38.5, -5.8)])
_BRISK_G = [0.31, 0.62, 0.38, 0.86, 0.16]


def test_a_brisk_acc_only_walk_whose_steps_read_on_both_sides_of_a_steps_flexion_is_a_walk() -> None:
    counted, steps, g = _feed_struck_mixed(_BRISK, _BRISK_G)
    assert counted == [] and steps == _BRISK
    assert [w.strides for w in g.walks] == [5]
    # Tuning seed 5078: the first step from standing reads 49.8 and the second, from the stance, 52.9.
    high_two = _walk_of([(0.0, 49.8, 0.5), (1.03, 52.9, -9.3), (1.47, 23.0, -6.5), (1.12, 18.7, -15.6)])
    counted, steps, _ = _feed_struck_mixed(high_two, [0.52, 0.71, 0.28, 0.25])
    assert counted == [] and steps == high_two
    # With a gyro the angle is not stretched: the swings above a step's flexion are reps.
    counted, _, _ = _run(_BRISK, has_gyro=True)
    assert _BRISK[1] in counted and _BRISK[3] in counted


def test_acc_only_swings_that_mostly_read_above_a_steps_flexion_are_still_reps() -> None:
    # Leg raises from a low behind standing at a walking interval, most of them above 45 degrees; no foot
    # lands in a raise's top half (strength reps jolt 0.1-0.3 g, ``STRIKE_G``).
    raises = _walk_of([(0.0, 40.0, -8.0), (1.4, 48.0, -10.0), (1.4, 50.0, -9.0), (1.4, 47.0, -10.0)])
    counted, steps, _ = _feed_struck_mixed(raises, [0.3] * 4)
    assert counted == raises and steps == []
    # A swing peaking 1.5x as high as the run's swings before it is of another kind (Bilkent s5_e4_set1).
    small = _walk_of([(0.0, 25.0, -15.0), (1.1, 26.0, -15.0), (1.1, 62.0, -11.0), (1.4, 60.0, 0.0)])
    counted, _, _ = _feed_struck_mixed(small, [0.6] * 4)
    assert small[2] in counted
    # A stride drill's high swings 0.7 s apart are no walking strides.
    fast = _walk_of([(0.0, 40.0, -5.0), (0.7, 50.0, -20.0), (0.7, 44.0, -20.0), (0.7, 49.0, -20.0)])
    counted, _, _ = _feed_struck_mixed(fast, [0.9] * 4)
    assert fast[1] in counted and fast[3] in counted


def test_a_walks_last_step_read_above_a_steps_flexion_is_a_step_when_a_drill_rising_far_more_follows() -> None:
    # Tuning seed 5033 (acc-only, 50 Hz): the walk's last step reads 45.6 from -9.1; a stride drill
    # rising 97-132 degrees follows 6.4 s later.
    walk = _walk_of([(0.0, 51.3, -0.2), (1.04, 42.2, -9.8), (1.06, 45.6, -9.1)])
    drill = _walk_of([(6.36, 97.5, 0.0), (0.7, 93.4, -23.2), (0.73, 108.3, -23.4)], walk[-1].peak_s)
    counted, steps, _ = _feed_struck_mixed([*walk, *drill], [2.0, 2.06, 1.83, 1.72, 2.17, 1.9])
    assert counted == drill and steps == walk


def test_a_small_acc_only_swing_between_two_steps_of_a_walk_is_a_step_not_a_stride() -> None:
    # Tuning seed 5193 (acc-only, 12.5 Hz): the hip's push-off between two steps read as a swing of
    # 4 degrees from -18 (rising 22) 0.66 s after a step of a walk striding 1.1 s.
    walk = _walk_of(
        [
            (0.0, 41.2, 0.0),
            (1.13, 44.7, -10.8),
            (1.13, 43.4, -19.4),
            (1.05, 36.2, -15.4),
            (1.10, 45.6, -19.0),
            (0.66, 4.3, -17.9),
            (0.96, 27.3, -32.0),
            (1.08, 18.0, -19.6),
        ]
    )
    counted, steps, g = _feed_struck_mixed(walk, [0.21, 0.39, 0.36, 0.40, 0.38, 0.33, 0.37, 0.37])
    # The jolt is a step at once; the stretched step before it (45.6) when the walk goes on.
    assert counted == [] and sorted(steps, key=lambda r: r.peak_s) == walk
    assert [w.strides for w in g.walks] == [7]
    # A swing rising as much as the walk's steps that soon after one is no jolt: the walk ends before it.
    wide = [*walk[:5], _swing(walk[4].peak_s + 0.66, 30.0, -20.0)]
    counted, _, _ = _feed_struck_mixed(wide, [0.21, 0.39, 0.36, 0.40, 0.38, 0.33])
    assert wide[5] in counted


def test_an_acc_only_walk_whose_struck_steps_mostly_read_above_a_steps_flexion_is_a_walk() -> None:
    # A phone in a trouser pocket reads most of a walk's steps 47-64 degrees (Oxford pocket walks, median
    # per walk): each lands in its top half one walking stride after the last, so the run is a walk
    # however high it reads.
    pocket = _walk_of(
        [
            (0.0, 40.0, -8.0),
            (1.1, 52.0, -12.0),
            (1.1, 56.0, -10.0),
            (1.05, 44.0, -11.0),
            (1.1, 58.0, -12.0),
            (1.1, 43.0, -10.0),
        ]
    )
    counted, steps, g = _feed_struck_mixed(pocket, [1.2] * 6)
    assert counted == [] and sorted(steps, key=lambda r: r.peak_s) == pocket
    assert [w.strides for w in g.walks] == [6]
    # A march's knee lifts, struck by the other foot's landing, all read high from a low behind standing
    # (tuning seed 5002, acc-only, sensor on the back of the thigh, clipped at 2 g): they stay reps.
    march = _walk_of([(0.0, 60.4, 0.1), (0.9, 59.1, -25.6), (0.89, 59.9, -27.4), (0.88, 60.9, -24.3)])
    march += _walk_of([(0.96, 59.2, -30.5), (0.9, 58.0, -27.6), (0.9, 55.6, -23.9)], march[-1].peak_s)
    counted, steps, _ = _feed_struck_mixed(march, [0.7, 0.77, 1.53, 0.89, 1.34, 1.18, 1.48])
    assert counted == march and steps == []
    # The same swings without a landing in their top half are reps (leg raises, as above).
    counted, steps, _ = _feed_struck_mixed(pocket, [0.3] * 6)
    assert counted == pocket and steps == []


def test_a_brisk_walk_whose_first_step_reads_as_a_step_and_the_others_high_is_a_walk() -> None:
    # Tuning seed 1248 (acc-only, 25 Hz, wider walk): a brisk walker's first step from standing reads
    # 43.5 degrees, the two after it 45.4 (unstruck) and 45.8 (struck) from the stance, then a pause.
    walk = _walk_of([(0.0, 43.5, -3.8), (1.16, 45.4, -11.4), (1.08, 45.8, -14.5)])
    counted, steps, g = _feed_struck_mixed(walk, [0.65, 0.21, 0.58])
    assert counted == [] and steps == walk
    assert [w.strides for w in g.walks] == [3]
    # The first read high as well (a march's knee lifts, every one high): reps, as before.
    high = [_swing(walk[0].peak_s, 47.0, -3.8), *walk[1:]]
    counted, steps, _ = _feed_struck_mixed(high, [0.65, 0.21, 0.58])
    assert counted == high and steps == []
    # The highs not struck: most of the run reads high, reps as before.
    counted, steps, _ = _feed_struck_mixed(walk, [0.65, 0.21, 0.21])
    assert counted == walk and steps == []


def test_a_walks_last_step_read_in_front_of_standing_is_a_step_when_the_walker_walks_on_after_a_stop() -> None:
    # Tuning seed 61 (acc-only, wide simulator with braking and push-off): a walk whose last step reads
    # 24.9 degrees from +1.4 (the walker slowing into a stop), then 4.6 s on the next walk's first step
    # from standing and a step from extension.
    walk = [_swing(10.0 + 1.1 * k, 30.0, -9.0) for k in range(5)]
    last = _swing(15.5, 24.9, 1.4)
    after = [_swing(20.1, 35.5, -0.4), _swing(21.25, 29.7, -12.4)]
    counted, steps, g = _run([*walk, last, *after], has_gyro=False)
    assert counted == [] and steps == [*walk, last, *after]
    assert [(w.strides, w.end_s) for w in g.walks] == [(6, last.end_s), (2, after[1].end_s)]
    # A set of reps of the step's size after the stop (from standing: no walk), the stream ending, or
    # a stop longer than a set gap: the held swing is a rep, as before.
    small = [_swing(20.1 + 1.6 * k, 33.0, 0.0) for k in range(3)]
    assert _run([*walk, last, *small], has_gyro=False)[0] == [last, *small]
    assert _run([*walk, last, after[0]], has_gyro=False)[0] == [last, after[0]]
    late = [_swing(15.5 + S.set_gap_s + 0.5 + 1.15 * k, 30.0, 0.0 if k == 0 else -10.0) for k in range(2)]
    counted, steps, _ = _run([*walk, last, *late], has_gyro=False)
    assert counted == [last] and steps == [*walk, *late]


def test_a_stride_sets_last_swings_a_walking_stride_apart_are_reps() -> None:
    # Tuning seed 3102 under the wider walk (acc-only, 200 Hz, sensor 10 cm below the hip): the filter lags
    # the set's 0.62-0.64 s strides and reads their lows at its bound; the set's last two swings read 43.7
    # and 15.1 degrees, 0.92 s apart, the first 0.62 s after the rep before it: reps, not a walk's steps.
    drill = [_swing(10.0 + 0.62 * k, 55.0 + 5.0 * (k % 2), -40.0, 0.25) for k in range(6)]
    last = [_swing(drill[-1].peak_s + 0.62, 43.7, -40.0, 0.25), _swing(drill[-1].peak_s + 1.54, 15.1, -40.0, 0.3)]
    counted, steps, g = _run([*drill, *last], has_gyro=False, strike_g=3.0)
    assert counted == [*drill, *last] and steps == [] and g.walks == ()
    # A third swing a walking stride on from extension: the swings after the first confirm a walk on their
    # own, and the first is its step (as a high first step's, ``GaitState.lead``).
    more = _swing(last[1].peak_s + 1.0, 25.0, -12.0)
    counted, steps, _ = _run([*drill, *last, more], has_gyro=False, strike_g=3.0)
    assert counted == drill and steps == [*last, more]


def test_an_acc_only_jolt_between_a_walks_first_two_steps_is_no_stride_of_it() -> None:
    # Tuning seed 5078 under the wider walk (acc-only, 12.5 Hz): the walk's first step from standing, the
    # hip's braking and push-off read as a swing of 7.7 degrees from -13, then a step from -14, 0.74 and
    # 0.78 s apart; the two steps lie one walking stride apart.
    a, half, c = _swing(10.0, 26.6, -0.4), _swing(10.74, 7.7, -13.0), _swing(11.52, 31.2, -14.1)
    counted, steps, g = _run([a, half, c], has_gyro=False)
    assert counted == [] and steps == [a, half, c]
    assert [w.strides for w in g.walks] == [2]
    # A swing between them that peaks well in front of standing, or rises as much as its neighbours, is
    # a rep of a drill turning over faster than a walk: the run is no walk.
    high = _swing(10.74, 22.0, -13.0)
    assert _run([a, high, c], has_gyro=False)[0] == [a, high, c]
    wide = _swing(10.74, 7.7, -25.0)
    assert _run([a, wide, c], has_gyro=False)[0] == [a, wide, c]


def test_a_two_step_walk_off_right_after_a_drill_read_inside_the_extension_bound_is_a_walk() -> None:
    # The turnover rule (``GaitState.hurried``) holds only for a run whose first swing starts at the filter's
    # extension bound, where the low was held rather than read (tuning seed 3102). A drill whose lows read
    # 20 degrees behind standing, then the walker walks off 0.7 s after its last rep: two steps from a stance,
    # a walking stride apart, are a walk, not two reps in the rest.
    drill = [_swing(10.0 + 0.62 * k, 55.0 + 5.0 * (k % 2), -20.0, 0.25) for k in range(6)]
    walk = [_swing(drill[-1].peak_s + 0.7 + 1.05 * k, 25.0, -12.0) for k in range(2)]
    counted, steps, g = _run([*drill, *walk], has_gyro=False, strike_g=3.0)
    assert counted == drill and steps == walk and len(g.walks) == 1
    # The same first swing read from the bound: the drill's turnover, held there (the 3102 case), stays a rep.
    held = [_swing(walk[0].peak_s, 25.0, -S.pendulum_max_extension_deg), walk[1]]
    counted, steps, g = _run([*drill, *held], has_gyro=False, strike_g=3.0)
    assert counted == [*drill, *held] and steps == [] and g.walks == ()


# Tuning seed 1150 (acc-only, 52 Hz, wider walk): a brisk walker's first step from standing reads 44.8
# degrees, every step after it 45.9-53.9 from -7 to -14, each landing in its top half, 0.97-1.1 s apart.
_BRISK_HIGH = _walk_of(
    [
        (0.0, 44.8, -0.3),
        (1.0, 50.2, -9.1),
        (0.97, 53.9, -13.5),
        (1.05, 52.2, -8.2),
        (1.01, 47.7, -11.6),
        (1.1, 45.9, -7.2),
    ]
)
_BRISK_HIGH_G = [1.55, 0.85, 1.59, 1.19, 1.56, 0.97]


def test_a_brisk_walk_confirmed_through_its_struck_high_steps_takes_the_next_ones_as_steps() -> None:
    counted, steps, g = _feed_struck_mixed(_BRISK_HIGH, _BRISK_HIGH_G)
    assert counted == [] and steps == _BRISK_HIGH
    assert [w.strides for w in g.walks] == [6]
    # Oxford Pixel_Jamie_Hard_FrontPocket_2 (a phone in a trouser pocket, no still window): a first step
    # of 38.6 degrees, then every step 50-59 from the filter's bound, struck 1.2-2.3 g, 1.03-1.08 s apart.
    pocket = _walk_of([(0.0, 38.6, -40.0)] + [(1.04, 52.0 + k % 5, -40.0) for k in range(12)])
    counted, steps, g = _feed_struck_state(pocket, [1.6] * len(pocket), False)
    assert counted == [] and steps == pocket
    assert [w.strides for w in g.walks] == [13]


def test_high_swings_after_a_walk_confirmed_on_steps_alone_are_still_reps() -> None:
    # The walk's own swings all read as steps: struck high swings after it (a march's knee lifts) are reps.
    walk = _walk_of([(0.0, 30.0, 0.0), (1.05, 32.0, -10.0), (1.05, 31.0, -11.0), (1.05, 33.0, -9.0)])
    lifts = _walk_of([(1.05, 55.0 + k % 3, -12.0) for k in range(5)], walk[-1].peak_s)
    counted, steps, _ = _feed_struck_mixed([*walk, *lifts], [0.9] * 9)
    assert steps == walk and counted == lifts
    # Unstruck high swings inside a brisk walk (a set of raises right after it) stay reps.
    raises = _walk_of([(1.05, 55.0 + k % 3, -12.0) for k in range(5)], _BRISK_HIGH[-1].peak_s)
    counted, _, _ = _feed_struck_mixed([*_BRISK_HIGH, *raises], [*_BRISK_HIGH_G, *[0.2] * 5])
    assert raises[1] in counted and raises[3] in counted


# Tuning seed 1027 (acc-only, 12.5 Hz, wider walk): a brisk walker's walk confirmed on steps of 38.9-45.1
# degrees, then two steps from the stance read 45.8 and 45.5 with no landing in their top half, then a step
# of 40.1 from -16, each one walking stride on.
_TWO_HIGH = _walk_of(
    [(0.0, 38.9, -0.5), (1.22, 45.1, -8.2), (1.26, 41.6, -11.7), (1.19, 45.8, -13.5), (1.16, 45.5, -13.2)]
)
_TWO_HIGH_G = [0.26, 0.43, 0.32, 0.45, 0.37]


def test_two_unstruck_stretched_steps_in_a_row_are_steps_when_the_walk_goes_on() -> None:
    after = _swing(_TWO_HIGH[-1].peak_s + 1.19, 40.1, -16.2)
    counted, steps, g = _feed_struck_mixed([*_TWO_HIGH, after], [*_TWO_HIGH_G, 0.35])
    assert counted == [] and steps == [*_TWO_HIGH, after]
    assert [w.strides for w in g.walks] == [6]
    # The stream ending after them, a swing too small to be a rep after them, or a third high swing: reps.
    counted, _, _ = _feed_struck_mixed(_TWO_HIGH, _TWO_HIGH_G)
    assert counted == _TWO_HIGH[3:]
    g, counted = GaitState(), []
    for r, strike in zip(_TWO_HIGH, _TWO_HIGH_G, strict=True):
        g, released, _ = feed_rep(S, g, r, False, True, strike)
        counted += released
    g, released, _ = feed_candidate(S, g, _TWO_HIGH[-1].peak_s + 1.19)
    assert [*counted, *released] == _TWO_HIGH[3:]
    third = _swing(_TWO_HIGH[-1].peak_s + 1.19, 47.0, -14.0)
    counted, _, _ = _feed_struck_mixed([*_TWO_HIGH, third], [*_TWO_HIGH_G, 0.35])
    assert _TWO_HIGH[3] in counted and _TWO_HIGH[4] in counted
    # A struck second high swing is not held: it may start a walk of its own confirmed through its struck
    # high swings (``brisk_walk_step``; Oxford user2_frontpocket: holding it lost the pocket walk's next
    # struck high swing too); the first is a rep as before.
    counted, _, _ = _feed_struck_mixed([*_TWO_HIGH, after], [*_TWO_HIGH_G[:4], 0.9, 0.35])
    assert _TWO_HIGH[3] in counted


def test_an_acc_only_push_off_read_up_to_14_degrees_between_a_walks_first_steps_is_no_stride_of_it() -> None:
    # Tuning seed 1023 (acc-only, 50 Hz): the walk's first step from standing (34.7, struck), the push-off
    # read as a swing of 13.0 from -8.9 at the true low, then steps from -12.6 and -9.4; 0.70, 0.76 and
    # 1.04 s apart.
    walk = _walk_of([(0.0, 34.7, -1.7), (0.70, 13.0, -8.9), (0.76, 18.7, -12.6), (1.04, 14.8, -9.4)])
    counted, steps, g = _feed_struck_mixed(walk, [1.37, 0.15, 0.31, 0.44])
    assert counted == [] and steps == walk
    assert len(g.walks) == 1
    # Read higher than the push-off's forward force can tilt the angle (atan 0.25, 14 degrees): a rep.
    high = [walk[0], _swing(walk[1].peak_s, 16.0, -8.9), *walk[2:]]
    counted, _, _ = _feed_struck_mixed(high, [1.37, 0.15, 0.31, 0.44])
    assert high[1] in counted


def test_an_acc_only_push_off_too_soon_to_join_the_run_does_not_break_the_walk() -> None:
    # Tuning seed 2014 (acc-only, 400 Hz): steps of 14-19 degrees 1.16-1.19 s apart, each followed 0.63 s on
    # by the push-off read as a swing of 10.0-10.4 from -15 to -17 (less than any walking link after the step).
    walk = _walk_of(
        [(0.0, 17.8, -11.1), (0.63, 10.0, -14.6), (0.56, 18.7, -13.4), (0.63, 10.4, -16.7), (0.53, 14.5, -10.2)]
    )
    walk += _walk_of([(1.17, 14.4, -10.3)], walk[-1].peak_s)
    counted, steps, g = _feed_struck_mixed(walk, [0.13, 0.09, 0.13, 0.12, 0.16, 0.13])
    assert counted == [] and sorted(steps, key=lambda r: r.peak_s) == walk
    assert [w.strides for w in g.walks] == [4]
    # Peaking higher than the push-off can read (a drill's rep at that turnover), or from standing: reps.
    for odd in (_swing(walk[1].peak_s, 20.0, -14.6), _swing(walk[1].peak_s, 10.0, 0.0)):
        swings = [walk[0], odd, *walk[2:]]
        counted, _, _ = _feed_struck_mixed(swings, [0.13, 0.09, 0.13, 0.12, 0.16, 0.13])
        assert odd in counted
    # The run ending after it without a walk: the held push-off is a rep with the swing before it.
    counted, steps, _ = _feed_struck_mixed(walk[:2], [0.13, 0.09])
    assert counted == walk[:2] and steps == []


def test_a_lone_swing_after_a_walk_and_before_a_set_of_another_kind_is_a_walks_step() -> None:
    # Tuning seed 2137 (acc-only, 50 Hz): a walk between sets, a stop of 5.7 s, then two steps more: the
    # first read 32.3 degrees from standing, the second as a swing too small to be a rep 1.08 s on; a
    # strength set rising 74 degrees 8.7 s later. The latest rep before the lone swing was a walk's step.
    walk = [_swing(10.0, 30.0, 0.0), *(_swing(10.0 + 1.1 * k, 28.0, -12.0) for k in range(1, 4))]
    lone = _swing(walk[-1].peak_s + 5.7, 32.3, 0.0)
    after = [_swing(lone.peak_s + 8.7 + 3.6 * k, 73.8, -0.5, 0.8) for k in range(3)]
    seq = [*walk, lone, lone.peak_s + 1.08, *after]
    counted, steps, g = _run(seq, has_gyro=False)
    assert counted == after and steps == [*walk, lone]
    assert len(g.walks) == 2
    # A set of reps of its size after it keeps it a rep, as before.
    small = [_swing(lone.peak_s + 8.7 + 3.6 * k, 31.0, 0.0, 0.8) for k in range(3)]
    counted, _, _ = _run([*walk, lone, lone.peak_s + 1.08, *small], has_gyro=False)
    assert counted == [lone, *small]


# Tuning seed 2544 (acc-only, 12.5 Hz, a brisk walker, true peaks 33-37 degrees): the walk's first step from
# standing reads 43.0, its second 46.3 from +6.3 (the first stance read in front of standing), then 45.1, 49.1,
# 52.7, 38.2 and 41.0 from the stance, 0.97-1.08 s apart; a strength set rising 81 degrees 5.6 s later.
_BRISK_125 = _walk_of(
    [
        (0.0, 43.0, -1.1),
        (1.04, 46.3, 6.3),
        (1.05, 45.1, -12.6),
        (0.98, 49.1, -15.3),
        (1.08, 52.7, -11.4),
        (0.97, 38.2, -15.5),
        (1.05, 41.0, -5.6),
    ]
)
_BRISK_125_G = [0.52, 0.32, 0.72, 0.38, 0.41, 0.62, 0.62]


def test_an_acc_only_brisk_walks_high_steps_with_soft_landings_count_as_steps() -> None:
    # From the third step on (a struck high step, then two high ones landing at 0.38 and 0.41 g, then two
    # step-shaped ones): half the run read high and it waited until the set released it.
    walk = _BRISK_125[2:]
    sets = [_swing(walk[-1].peak_s + 5.6 + 4.0 * k, 80.3, -1.1, 0.8) for k in range(3)]
    counted, steps, g = _feed_struck_mixed([*walk, *sets], [*_BRISK_125_G[2:], 0.06, 0.06, 0.06])
    assert counted == sets and steps == walk
    assert [w.strides for w in g.walks] == [5]
    # Landing no harder than a strength rep (0.3 g, ``SOFT_LANDING_G``): they read high, and stay reps.
    counted, _, _ = _feed_struck_mixed([*walk, *sets], [0.72, 0.3, 0.3, 0.62, 0.62, 0.06, 0.06, 0.06])
    assert walk[1] in counted and walk[2] in counted


def test_an_acc_only_brisk_walks_second_step_read_high_in_front_of_standing_belongs_to_it() -> None:
    sets = [_swing(_BRISK_125[-1].peak_s + 5.6 + 4.0 * k, 80.3, -1.1, 0.8) for k in range(3)]
    counted, steps, g = _feed_struck_mixed([*_BRISK_125, *sets], [*_BRISK_125_G, 0.06, 0.06, 0.06])
    assert counted == sets and steps == _BRISK_125
    assert [w.strides for w in g.walks] == [7]
    # Tuning seed 1089 (acc-only, 12.5 Hz): 42.8 from +0.3, 48.4 from +0.7, then 50.6 from -11.3 and steps
    # of 36-46 from the stance, 1.01-1.11 s apart.
    walk = _walk_of(
        [
            (0.0, 42.8, 0.3),
            (1.06, 48.4, 0.7),
            (1.01, 50.6, -11.3),
            (1.07, 43.2, -9.7),
            (1.09, 46.3, -8.8),
            (1.11, 44.3, -16.4),
            (1.04, 40.2, -14.0),
            (1.11, 36.2, -4.9),
        ]
    )
    counted, steps, _ = _feed_struck_mixed(walk, [0.47, 0.45, 0.30, 0.60, 0.33, 0.21, 0.36, 0.34])
    assert counted == [] and steps == walk
    # A second swing that landed no harder than a strength rep, or reads as high as a march's knee lift
    # (1.5x the first): the first two are reps, as before.
    counted, _, _ = _feed_struck_mixed(walk, [0.47, 0.3, 0.30, 0.60, 0.33, 0.21, 0.36, 0.34])
    assert walk[:2] == counted[:2]
    lifted = [walk[0], _swing(walk[1].peak_s, 64.5, 0.7), *walk[2:]]
    counted, _, _ = _feed_struck_mixed(lifted, [0.47, 0.45, 0.30, 0.60, 0.33, 0.21, 0.36, 0.34])
    assert lifted[:2] == counted[:2]
    # Reps from standing landing softly that never go on from the stance (a set at a walking tempo) stay reps.
    reps = _walk_of([(0.0, 42.0, 0.0), (1.05, 48.0, 1.0), (1.05, 44.0, 0.5), (1.05, 47.0, 0.0), (1.05, 43.0, 1.0)])
    counted, steps, _ = _feed_struck_mixed(reps, [0.45] * 5)
    assert counted == reps and steps == []


def _feed_mixed(seq: Sequence[Rep | float], strikes_g: Sequence[float]) -> tuple[list[Rep], list[Rep], GaitState]:
    """Accelerometer-only reps (one strike each, in order) and small candidates (a float), standing known."""
    return run_swings(S, seq, False, strikes_g)


def test_an_acc_only_struck_first_step_and_its_next_step_half_seen_are_a_short_walk() -> None:
    # Tuning seed 2296 (acc-only, 52 Hz): after a hold set, a first step of 31.9 degrees from standing (struck
    # 1.22 g), the next step a swing too small to be a rep 1.28 s on, then one more 3.9 s later; a set after.
    holds = [_swing(10.0 + 4.0 * k, 93.8, 0.1, 0.8) for k in range(3)]
    first = _swing(holds[-1].peak_s + 6.0, 31.9, 0.2)
    after = [_swing(first.peak_s + 12.9 + 4.0 * k, 93.8, 0.1, 0.8) for k in range(3)]
    seq = [*holds, first, first.peak_s + 1.28, first.peak_s + 5.16, *after]
    counted, steps, g = _feed_mixed(seq, [0.26] * 3 + [1.22] + [0.26] * 3)
    assert counted == [*holds, *after] and steps == [first]
    assert [w.strides for w in g.walks] == [2]
    # Tuning seed 1160 (25 Hz): closed by the next walk's first step 6.3 s on; seed 2059 (50 Hz): by a step
    # read from in front of standing on the next link, 1.36 s after the small swing.
    for nxt_s, nxt in ((6.34, _swing(0.0, 26.1, 0.0)), (1.36, _swing(0.0, 25.2, 0.6))):
        nxt = _swing(first.peak_s + 0.92 + nxt_s, nxt.peak_flexion_deg, nxt.peak_flexion_deg - nxt.rom_deg)
        counted, steps, _ = _feed_mixed(
            [*holds, first, first.peak_s + 0.92, nxt, *after], [0.26] * 3 + [0.63, 0.3] + [0.26] * 3
        )
        assert first in steps and first not in counted
    # Landing no harder than a strength rep, from the stance, or at the end of the stream: a rep, as before.
    counted, _, _ = _feed_mixed(seq, [0.26] * 3 + [0.45] + [0.26] * 3)
    assert first in counted
    deep = _swing(first.peak_s, 31.9, -12.0)
    counted, _, _ = _feed_mixed([*holds, deep, *seq[4:]], [0.26] * 3 + [1.22] + [0.26] * 3)
    assert deep in counted
    counted, _, _ = _feed_mixed([*holds, first, first.peak_s + 1.28], [0.26] * 3 + [1.22])
    assert first in counted


def test_an_acc_only_struck_first_step_then_nothing_seen_for_two_strides_starts_the_walk() -> None:
    # Tuning seed 2578 (acc-only, 50 Hz, true strides 1.2 s): a first step of 33.5 degrees from standing
    # (struck 0.84 g), the next step not seen, then the walk's steps as swings too small to be reps 2.59,
    # 1.24 and 1.65 s apart; a stride set 2.4 s later.
    first = _swing(20.0, 33.5, -1.5)
    t = first.peak_s
    drill = [_swing(t + 8.6 + 0.77 * k, 95.0, -30.0, 0.3) for k in range(4)]
    seq = [first, t + 2.59, t + 3.83, t + 5.48, *drill]
    counted, steps, g = _feed_mixed(seq, [0.84] + [0.9] * 4)
    assert counted == drill and steps == [first]
    assert [w.strides for w in g.walks] == [5]  # the step not seen counts, on the walk's rhythm
    # Seed 2411 (104 Hz): 26.2 from +0.3 (1.60 g), a small swing 2.60 s on, then steps from -8.5 and -13.3.
    first = _swing(20.0, 26.2, 0.3)
    walk = [_swing(24.16, 16.0, -8.5), _swing(25.17, 13.2, -13.3)]
    counted, steps, _ = _feed_mixed([first, 22.6, *walk], [1.6, 0.22, 0.3])
    assert counted == [] and steps == [first, *walk]
    # Unstruck, or the swings after it at no walking rhythm: the first swing is a rep, as before.
    first = seq[0]
    counted, _, _ = _feed_mixed(seq, [0.3] + [0.9] * 4)
    assert first in counted
    counted, _, _ = _feed_mixed([first, t + 2.59, t + 5.4, t + 8.2], [0.84])
    assert first in counted


def test_a_walks_strides_are_counted_on_its_legs_rhythm_when_peaks_split() -> None:
    # Accelerometer only (Marpino acc-only walks): a slow walker's steps 1.6 s apart, each after the second
    # read a second peak 0.65 s on (a foot strike splits the swing), as high as the step.  The pieces 0.95 s
    # long are at a walking cadence, the 0.65 s ones are not: taken as strides, the 0.95 s pieces set the
    # stride and the walk counts 8; no stride of one leg is that short, so its stride is 1.6 s: 5.
    steps = [_swing(10.0 + 1.6 * k, 25.0, -10.0) for k in range(5)]
    splits = [_swing(s.peak_s + 0.65, 25.0, -10.0) for s in steps[1:-1]]
    counted, found, g = _run(sorted([*steps, *splits], key=lambda r: r.peak_s), has_gyro=False)
    assert counted == [] and len(found) == 8
    assert [w.strides for w in g.walks] == [5]
    # Clean steps count as before: the median of their strides.
    counted, found, g = _run(steps, has_gyro=False)
    assert counted == [] and [w.strides for w in g.walks] == [5]


# Oxford user1_frontpocket (a phone in a front trouser pocket, accelerometer only, 100 Hz): every step reads
# 55-66 degrees from -8 to +6, 1.1-1.2 s apart, and lands 0.75-2.1 g in its top half.  (interval s, peak deg,
# low deg) and the landing, g.
_POCKET = _walk_of(
    [
        (0.0, 61.8, 0.9),
        (1.14, 60.6, -5.7),
        (1.14, 59.2, 1.4),
        (1.18, 61.2, -3.0),
        (1.16, 62.0, -4.5),
        (1.13, 62.5, -6.5),
        (1.13, 62.6, -0.0),
        (1.16, 64.0, -3.4),
        (1.18, 61.2, -0.0),
        (1.12, 64.5, -2.2),
        (1.16, 57.2, -3.9),
        (1.19, 55.9, -4.8),
    ]
)
_POCKET_G = [0.75, 0.88, 0.88, 0.91, 1.09, 1.30, 1.32, 1.63, 1.77, 1.28, 1.23, 1.20]


def test_an_acc_only_walk_whose_every_step_reads_high_and_lands_hard_is_a_walk() -> None:
    counted, steps, g = _feed_struck_mixed(_POCKET, _POCKET_G)
    assert counted == [] and steps == _POCKET
    assert [w.strides for w in g.walks] == [12]
    # Simulated acc-only marches (tuning seeds 87 and 5002): the same knee lifts, landing softer in their
    # top half on most of them (the other foot's landing): reps, whatever five of them in a row landed.
    for march_g in ([0.41, 1.44, 0.36, 0.40, 0.49, 0.49, 0.61, 0.25, 1.22, 0.38, 1.06, 1.13], [0.7, 0.68, 0.77] * 4):
        counted, steps, _ = _feed_struck_mixed(_POCKET, march_g)
        assert counted == _POCKET and steps == []
    # Six high swings after the first, every one landed, but only half of them hard: still reps.
    counted, _, _ = _feed_struck_mixed(_POCKET[:8], [0.75, 0.88, 0.88, 0.91, 0.95, 1.30, 1.32, 1.63])
    assert counted == _POCKET[:8]


def test_a_hard_landed_step_read_in_front_of_standing_or_above_a_stretched_step_does_not_break_a_pocket_walk() -> None:
    # Oxford user1_frontpocket and Samsung_Dario_Hard_FrontPocket_2: inside the walk, steps of 60.1 from +6.3
    # and of 65.6 (above ``stretched_peak``'s 65) landing 1.8-2.1 g; each one broke the walk (a stride lost, and
    # the next six steps held until their landings confirmed them again).
    t = _POCKET[-1].peak_s
    odd = [_swing(t + 1.15, 60.1, 6.3), _swing(t + 2.31, 65.6, -0.8), _swing(t + 3.41, 62.6, -3.1)]
    counted, steps, g = _feed_struck_mixed([*_POCKET, *odd], [*_POCKET_G, 1.82, 2.07, 1.78])
    assert counted == [] and steps == [*_POCKET, *odd]
    assert [w.strides for w in g.walks] == [15]
    # Landing softer than a walker's heel (a march's knee lift after the walk): not a step of it.
    counted, _, _ = _feed_struck_mixed([*_POCKET, odd[1]], [*_POCKET_G, 0.7])
    assert counted == [odd[1]]

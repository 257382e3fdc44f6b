"""Recordings that start moving at once: the rows before the first still stretch are analysed too.

People press record and start.  The rest pose (gravity, gyro bias) comes from
the first still stretch wherever it is; the thigh's pose at the first row is
found by running the filters back from there, and the whole recording is
analysed from its first row.  Live, the reps among the buffered rows are
emitted once the calibration comes, marked late; any chunking still gives
exactly the batch result.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import synth
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hipflex.dsp import (
    AngleBlock,
    ImuSamples,
    RepEvent,
    Settings,
    analyze,
    analyze_with_angle,
    finish,
    init_state,
    step,
)
from hipflex.dsp import result as stream_result

SETTINGS = Settings()


# Reps per set and their period, s (None: the drill's own tempo).
_SETS = {"ballistic": (14, 0.6), "hold": (4, None), "strength": (6, None), "march": (16, 1.1), "stride": (14, 0.7)}


def _simulated(layout: str, drill: str, gyro: bool, seed: int):
    """A session that starts with a set at once; standing still only after it ("end") or between two sets."""
    from hipflex.sensor.sim.plan import Segment, SessionPlan, nominal_set_duration_s
    from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate

    rng = np.random.default_rng(seed)
    n, period_s = _SETS[drill]
    first = Segment("set", nominal_set_duration_s(drill, n, period_s), drill, n)  # type: ignore[arg-type]
    if layout == "end":
        segs = (first, Segment("stand", 4.0))
    else:
        segs = (first, Segment("stand", 3.0), first)
    return simulate(SessionPlan(segs), Mounting.random(rng), SensorModel(fs_hz=100.0, has_gyro=gyro), seed=seed)


@pytest.mark.parametrize(
    ("layout", "drill", "gyro", "seed"),
    [
        ("end", "march", True, 11),
        ("end", "strength", False, 12),
        ("end", "ballistic", True, 13),
        ("middle", "hold", False, 14),
        ("middle", "stride", True, 15),
        ("middle", "ballistic", False, 16),
    ],
)
def test_every_rep_before_the_first_still_stretch_is_counted(layout: str, drill: str, gyro: bool, seed: int) -> None:
    # Until now the analysis began at the calibration window: every rep before
    # the first still second was lost (UTD-MHAD squat clips: 0 reps).
    sim = _simulated(layout, drill, gyro, seed)
    got = analyze(sim.samples, SETTINGS)
    assert got.rep_count == len(sim.truth.reps)
    q = got.quality
    # Reps come before the first still second (between holds, the thigh stands
    # still for 1.5 s: there, after the first hold).
    before = sum(r.peak_s < (q.calibrated_at_s or -np.inf) for r in sim.truth.reps)
    assert before >= (1 if drill == "hold" else n_first_set(sim))
    assert q.calibration == "quiet window"
    assert q.analysed_before_calibration_s == pytest.approx(q.calibrated_at_s - sim.samples.time_s[0])
    assert q.skipped_before_calibration_s == 0.0
    # Each true rep holds exactly one counted peak.
    for rep in sim.truth.reps:
        assert sum(rep.low_s <= r.peak_s <= rep.trough_s for r in got.reps) == 1


def n_first_set(sim) -> int:
    return sum(r.set_index == 0 for r in sim.truth.reps)


def _continuous(gyro: bool) -> synth.Recording:
    """Swings back to back from the first row to the last: no still stretch at all."""
    bumps = [synth.Bump(0.1 + 1.0 * i, 0.5, 0.0, 0.5, 60.0) for i in range(12)]
    return synth.record(bumps, 12.2, 50.0, gyro=gyro, acc_noise_g=0.01, gyr_noise_dps=1.0, seed=7)


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_a_recording_without_a_still_stretch_gets_an_answer_and_says_how_sure_it_is(gyro: bool) -> None:
    rec = _continuous(gyro)
    got = analyze(rec.samples, SETTINGS)
    assert got.rep_count == len(rec.bumps)
    q = got.quality
    assert q.calibration == "quietest window"
    assert q.calibration_window_s == SETTINGS.calib_still_s
    assert q.calibration_motion is not None and q.calibration_motion > 1.0
    assert q.to_dict()["calibration"] == "quietest window"


def test_a_short_still_stretch_is_preferred_to_the_quietest_moving_window() -> None:
    # Half a second of standing between two sets of swings: no 1 s window is
    # still, a 0.5 s one is.  Its mean rate is the gyro bias; a window through
    # a swing would take the swing's mean rate for bias, and the angle drifts.
    bumps = [synth.Bump(0.1 + 1.0 * i, 0.5, 0.0, 0.5, 60.0) for i in range(4)]
    bumps += [synth.Bump(4.8 + 1.0 * i, 0.5, 0.0, 0.5, 60.0) for i in range(4)]
    rec = synth.record(bumps, 8.9, 50.0, acc_noise_g=0.003, gyr_noise_dps=0.5, gyr_bias_dps=(1.0, -2.0, 0.5), seed=8)
    got = analyze(rec.samples, SETTINGS)
    assert got.rep_count == len(bumps)
    for rep, bump in zip(got.reps, bumps, strict=True):
        assert rep.peak_flexion_deg == pytest.approx(bump.amp_deg, abs=3.0)
    q = got.quality
    assert q.calibration == "short quiet window"
    assert q.calibration_window_s == pytest.approx(SETTINGS.calib_still_s / 2)
    assert q.calibration_motion is not None and q.calibration_motion <= 1.0


# Three reps at once, 2 s of standing, three more: live, the first three can
# only be analysed at the calibration; with sign_confirm_s 1 s streaming
# starts before the second three.
LATE_BUMPS = synth.drill(3, start_s=0.2, period_s=1.3) + synth.drill(3, start_s=6.0, period_s=1.3)
LATE_CFG = Settings(sign_confirm_s=1.0)
LATE = {
    gyro: synth.record(LATE_BUMPS, 10.5, 50.0, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=9).samples
    for gyro in (True, False)
}
LATE_BATCH = {gyro: analyze_with_angle(LATE[gyro], LATE_CFG, "late") for gyro in (True, False)}
N_LATE = len(LATE[True])


def _stream(samples: ImuSamples, cuts: list[int]):
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(samples)}), len(samples)]
    state = init_state(LATE_CFG, samples.has_gyro)
    steps = []
    for a, b in itertools.pairwise(bounds):
        state, ev = step(LATE_CFG, state, samples.slice(a, b))
        steps.append((b, ev))
    state, ev = finish(LATE_CFG, state)
    steps.append((len(samples), ev))
    return stream_result(LATE_CFG, state, "late"), steps


@pytest.mark.slow
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, N_LATE - 1), max_size=30))
@example(cuts=list(range(1, N_LATE)))  # one row at a time
def test_live_reps_before_calibration_arrive_late_marked_and_equal_batch(gyro: bool, cuts: list[int]) -> None:
    got, steps = _stream(LATE[gyro], cuts)
    batch, batch_angle = LATE_BATCH[gyro]
    assert got == batch
    assert batch.rep_count == len(LATE_BUMPS)
    events = [e for _, ev in steps for e in ev]
    angle = np.concatenate([e.angle_deg for e in events if isinstance(e, AngleBlock)])
    np.testing.assert_array_equal(angle, batch_angle)
    assert not np.isnan(angle).any()  # the rows before calibration have angles too
    reps = [(rows, e) for rows, ev in steps for e in ev if isinstance(e, RepEvent)]
    assert [e.rep for _, e in reps] == list(batch.reps)
    cal_s = batch.quality.calibrated_at_s
    assert cal_s is not None and LATE_BUMPS[2].t0 < cal_s < LATE_BUMPS[3].t0
    assert [e.late for _, e in reps] == [r.start_s < cal_s for r in batch.reps] == [True] * 3 + [False] * 3
    # The late reps arrive together, once the calibration and the sign are settled.
    assert len({rows for rows, e in reps if e.late}) == 1


@pytest.mark.parametrize(("amp_deg", "rise_s", "fs_hz"), [(70.0, 0.15, 25.0), (85.0, 0.15, 52.0), (100.0, 0.25, 100.0)])
def test_the_sign_does_not_depend_on_the_provisional_one_accelerometer_only(
    amp_deg: float, rise_s: float, fs_hz: float
) -> None:
    # Fast swings before the first still second, no gyro, clipped at 4 g: the
    # lock comes at the calibration window, with no excursion after it to take
    # a provisional sign from.  Traced the wrong way round, the flexions ran into
    # the extension bound (60 deg) and the filter's garbage there (a spike
    # forwards) outweighed them: the sign then depended on the provisional one.
    from hipflex.dsp import flexion_sign, learning_flow
    from hipflex.dsp.learn import Axes

    bumps = [synth.Bump(0.2 + 0.75 * i, rise_s, 0.0, 1.3 * rise_s, amp_deg) for i in range(12)]
    rec = synth.record(bumps, 13.2, fs_hz, gyro=False, offset_m=0.08, lever_m=0.25, acc_noise_g=0.01, seed=3)
    samples = ImuSamples(rec.samples.time_s, np.clip(rec.samples.acc_g, -4.0, 4.0), None)
    state, _ = step(SETTINGS, init_state(SETTINGS, False), samples)
    state = learning_flow.learn(SETTINGS, state, force=True)
    assert state.cal is not None and state.axes is not None
    assert state.cal.start_row > 0 and rec.theta_deg[state.cal.start_row] == 0.0  # the rest after the swings
    axes = state.axes
    stop = len(samples)
    one = flexion_sign._confirm_sign(SETTINGS, state, state.cal, axes, stop)
    other = flexion_sign._confirm_sign(SETTINGS, state, state.cal, Axes(axes.u, -axes.w, -axes.a), stop)
    np.testing.assert_array_equal(one.w, other.w)
    got = analyze(samples, SETTINGS)
    assert got.rep_count == len(bumps)
    assert all(r.peak_flexion_deg > SETTINGS.min_rom_deg for r in got.reps)  # flexions, not the returns


# Acc-only this failed while the sensor position could only be identified in front of the femur (+3 cm and
# more; the synthetic sensor sits at 0 cm): the filter then dipped 1.1-1.3 deg behind standing after each
# 40 deg flexion at 1.4 s, by the angle alone a slow walk (dsp.gait), and the last two were taken for steps.
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_a_recording_that_starts_inside_a_step_back_keeps_the_flexions_positive(gyro: bool) -> None:
    # The first row is in the middle of a 50 deg step back (the thigh behind
    # the standing line), then the thigh stands and flexes three times by
    # 40 deg.  Only the end of the step back is in the recording: it is no
    # excursion of known size and must not outvote the flexions for the sign
    # (tightly cut rep files: CMU-MBL SqSL rep 1, StepUpH rep 2).
    bumps = [synth.Bump(-0.4, 0.35, 0.2, 0.45, -50.0), *synth.drill(3, start_s=2.2, period_s=1.4, amp_deg=40.0)]
    rec = synth.record(bumps, 7.0, 50.0, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=10)
    assert rec.theta_deg[0] < -45.0
    got = analyze(rec.samples, SETTINGS)
    assert got.quality.analysed_before_calibration_s > 0.5
    assert got.rep_count == 3
    for rep in got.reps:
        assert rep.peak_flexion_deg == pytest.approx(40.0, abs=3.0 if gyro else 6.0)


@pytest.mark.parametrize("garbage_deg", [120.0, -120.0])
def test_the_sign_is_not_read_from_an_open_post_gap_window(garbage_deg: float) -> None:
    # Three flexions after a still start, then 0.3 s lost and the span the
    # sign is read from ends 0.7 s after it: the post-gap window is still
    # open (it ends at a turn 1.5 s on at the earliest).  Its sum so far is
    # no verdict (tuning seed 603, ballistic 25 Hz: re-anchored on 6 rows in
    # mid-swing, the rows after the gap read 56 deg the wrong way and the
    # sign came out backwards, every rep counted at its low); here its rows
    # read a force 120 deg off "up".
    from hipflex.dsp import flexion_sign, learning_flow

    bumps = [synth.Bump(2.0 + 1.2 * i, 0.4, 0.1, 0.4, 40.0) for i in range(3)]
    rec = synth.record(bumps, 7.0, 100.0, gyro=True, seed=5)
    t, acc, gyr = rec.samples.time_s, rec.samples.acc_g.copy(), rec.samples.gyr_dps
    assert gyr is not None
    cut = (t >= 6.0) & (t < 6.3)
    a = math.radians(garbage_deg)
    acc[t >= 6.3] = math.cos(a) * synth.DEFAULT_FRAME[:, 0] + math.sin(a) * synth.DEFAULT_FRAME[:, 1]
    signs = []
    for keep in (~cut, t < 6.0):  # with the window, and the same span without the gap and after it
        samples = ImuSamples(t[keep], acc[keep], gyr[keep])
        state, _ = step(SETTINGS, init_state(SETTINGS, True), samples)
        state = learning_flow.learn(SETTINGS, state, force=True)
        assert state.cal is not None and state.axes is not None
        signs.append(flexion_sign._confirm_sign(SETTINGS, state, state.cal, state.axes, len(samples)).w)
    np.testing.assert_array_equal(signs[0], signs[1])

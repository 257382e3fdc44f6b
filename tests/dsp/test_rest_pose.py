"""The rest pose is where the thigh rests between its movements, not simply where it was first still.

A recording that starts lying on the back (the thigh horizontal, as in a
90 degree knee lift) is first still lying; the person then stands up and
begins.  Calibrated on the lying pose, standing read as -90 deg and every
later angle was off by about 90 deg (held-out widened simulator: 21 % of such
sets exact).  The learning flow now re-learns the rest pose where the thigh
settled after leaving the first one (:func:`hipflex.dsp.other_pose.settled_elsewhere`),
and says so in ``quality.recalibrated_from_s``; a hold, which returns to
standing, must not move it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from streaming import stream_in_chunks

from hipflex.dsp import CalibratedEvent, ImuSamples, RepEvent, Settings, analyze
from hipflex.dsp import result as stream_result

SETTINGS = Settings()


def _session(first: str, drill: str, gyro: bool, seed: int, fs_hz: float = 100.0):
    """``first`` ("lie" or "stand"), then two sets of ``drill`` with a standing rest between."""
    from hipflex.sensor.sim.plan import Segment, SessionPlan, nominal_set_duration_s
    from hipflex.sensor.sim.simulate import Mounting, SensorModel, simulate

    rng = np.random.default_rng(seed)
    n = 5 if drill == "hold" else 8
    period_s = {"march": 1.1, "stride": 1.2}.get(drill)  # periodic drills need a cadence; hold, strength their own
    a_set = Segment("set", nominal_set_duration_s(drill, n, period_s), drill, n)  # type: ignore[arg-type]
    lead = [Segment("lie", 9.0), Segment("stand", 1.0)] if first == "lie" else [Segment("stand", 3.0)]
    plan = SessionPlan((*lead, a_set, Segment("rest", 15.0), a_set))
    return simulate(plan, Mounting.random(rng), SensorModel(fs_hz=fs_hz, has_gyro=gyro), seed=seed)


def _per_set(sim, got) -> list[int]:  # type: ignore[no-untyped-def]
    return [sum(a - 1.0 <= r.peak_s <= b + 1.0 for r in got.reps) for a, b in sim.truth.sets]


@pytest.mark.parametrize(
    ("drill", "gyro", "seed", "peak_tol_deg"),
    [
        ("march", True, 21, 2.0),
        ("strength", True, 22, 2.0),
        ("march", False, 23, 15.0),
        pytest.param(
            "stride",
            False,
            24,
            15.0,
            marks=pytest.mark.xfail(
                strict=True,
                reason="session 13: with a physical hip bounce (free fall in flight) the acc-only peaks read "
                "~30 deg high; the hip's motion is not in the pendulum filter (issue 14; session 14: 8.7 deg with "
                "the bounce removed, 10.0 with the forward speed changes removed, benchmarks/stride_budget.py)",
            ),
        ),
        # The top of a slow rep, or a hold, is in the lying pose: the thigh
        # passes through it (or trembles in it), it does not rest there.
        ("strength", True, 62, 2.0),
        ("strength", False, 60, 15.0),
        ("hold", True, 50, 2.0),
    ],
)
def test_a_recording_that_starts_lying_down_takes_standing_for_the_rest_pose(
    drill: str, gyro: bool, seed: int, peak_tol_deg: float
) -> None:
    sim = _session("lie", drill, gyro, seed)
    got = analyze(sim.samples, SETTINGS)
    t0 = float(sim.samples.time_s[0])
    truth = [sum(r.set_index == i for r in sim.truth.reps) for i in range(len(sim.truth.sets))]
    assert _per_set(sim, got) == truth
    assert got.rep_count == len(sim.truth.reps)  # none while lying, getting up or resting
    # Peaks as the truth has them, as well as from a standing start (lying as
    # the reference put them ~90 deg off; accelerometer-only peaks of these
    # sessions are 9-12 deg off on average from either start).
    true_peaks = np.array([np.interp(r.peak_s, sim.truth.time_s, sim.truth.angle_deg) for r in sim.truth.reps])
    peaks = np.array([r.peak_flexion_deg for r in got.reps])
    assert np.mean(np.abs(peaks - true_peaks)) < peak_tol_deg
    q = got.quality
    # The lying window was given up; the rest pose is the stand after getting up.
    assert len(q.recalibrated_from_s) == 1 and q.recalibrated_from_s[0] - t0 < 2.0
    assert q.calibrated_at_s is not None and q.calibrated_at_s < sim.truth.sets[0][0]
    cal_mid_s = q.calibrated_at_s + 0.5 * SETTINGS.calib_still_s
    assert abs(np.interp(cal_mid_s, sim.truth.time_s, sim.truth.angle_deg)) < 5.0  # standing
    assert q.to_dict()["recalibrated_from_s"] == [pytest.approx(q.recalibrated_from_s[0], abs=1e-4)]


@pytest.mark.parametrize(("drill", "gyro", "seed"), [("hold", True, 31), ("hold", False, 32), ("strength", True, 33)])
def test_a_hold_far_from_standing_does_not_move_the_rest_pose(drill: str, gyro: bool, seed: int) -> None:
    # Holds at 80-100 deg are still stretches far from standing, but the
    # thigh comes back to stand between them: standing stays the rest pose.
    sim = _session("stand", drill, gyro, seed)
    got = analyze(sim.samples, SETTINGS)
    assert got.quality.recalibrated_from_s == ()
    assert got.quality.calibrated_at_s is not None and got.quality.calibrated_at_s < sim.truth.sets[0][0]
    assert got.rep_count == len(sim.truth.reps)


@pytest.mark.parametrize("seed", [413, 580, 1341])
def test_at_a_low_rate_the_standing_between_holds_is_still_a_return(seed: int) -> None:
    # Widened-simulator tuning sessions, 12.5 Hz with a gyro, that start
    # standing and do holds: the thigh sways while it stands between them
    # (up to 8 deg/s at single samples), and in seed 413 a 3 s gap hides one
    # stand.  Read sample by sample, or over a span that counts the gap, the
    # stands were no return and the first hold became the rest pose.
    from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

    sim = simulate_wide(draw_wide_case(seed))
    got = analyze(sim.samples, SETTINGS)
    assert got.quality.recalibrated_from_s == ()
    assert got.quality.calibrated_at_s is not None and got.quality.calibrated_at_s < sim.truth.sets[0][0]


LYING = _session("lie", "march", True, 41, fs_hz=50.0).samples
LYING_BATCH = analyze(LYING, SETTINGS, "lying")


def _stream(samples: ImuSamples, cuts: list[int]):  # type: ignore[no-untyped-def]
    state, events = stream_in_chunks(SETTINGS, samples, cuts)
    return stream_result(SETTINGS, state, "lying"), events


@settings(max_examples=6, deadline=None)
@given(cuts=st.lists(st.integers(1, len(LYING) - 1), max_size=40))
@example(cuts=list(range(1, 700, 3)) + list(range(700, len(LYING), 97)))  # a few rows at a time while learning
def test_live_the_rest_pose_is_relearned_as_in_batch_and_the_calibration_event_says_so(cuts: list[int]) -> None:
    got, events = _stream(LYING, cuts)
    assert got == LYING_BATCH
    assert len(LYING_BATCH.quality.recalibrated_from_s) == 1
    (cal,) = [e for e in events if isinstance(e, CalibratedEvent)]
    assert cal.time_s == LYING_BATCH.quality.calibrated_at_s
    assert cal.recalibrated_from_s == LYING_BATCH.quality.recalibrated_from_s
    assert [e.rep for e in events if isinstance(e, RepEvent)] == list(LYING_BATCH.reps)

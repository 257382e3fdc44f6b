"""The streaming pipeline: chunking gives exactly the batch result, events, invariances, input checks, gaps.

Recordings are a few seconds of the synthetic thigh (``synth.py``) at 50 Hz:
3 s of quiet standing, then reps, so the learning phase (1 s calibration
window, 30 deg lock excursion) happens inside the recording and hypothesis
can split it anywhere.  The last gap tests use simulated sessions from
``hipflex.sensor.sim.simulate`` (100 Hz, sensor errors, random mountings).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
import synth
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from streaming import stream_in_chunks

from hipflex.dsp import (
    UNRELIABLE_REST_MISMATCH_DEG,
    Analysis,
    AngleBlock,
    CalibratedEvent,
    ImuSamples,
    RejectionEvent,
    RepEvent,
    RepPeakEvent,
    SetEvent,
    Settings,
    analyze,
    analyze_with_angle,
    finish,
    init_state,
    result,
    step,
)

FS_HZ = 50.0
SETTINGS = Settings()
BUMPS = synth.drill(3, start_s=3.0, period_s=1.3, amp_deg=70.0)
RECORDINGS = {
    gyro: synth.record(BUMPS, 7.5, FS_HZ, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=3)
    for gyro in (True, False)
}
N_ROWS = len(RECORDINGS[True].samples)
# Rows worth splitting at: inside and at the edges of the 1 s calibration window
# (rows 0..50), where a 2 s one would end, and around the 30 deg lock excursion
# of the first rep.
LOCK_ROW = int(np.argmax(RECORDINGS[True].theta_deg >= 30.0))
SPECIAL_CUTS = [1, 2, 25, 48, 49, 50, 51, 52, 99, 100, 101, LOCK_ROW - 1, LOCK_ROW, LOCK_ROW + 1, LOCK_ROW + 5]

# Without a gyro streaming starts sign_confirm_s (default 8 s) after the lock,
# i.e. at the end of these short recordings; "acc-only-early" confirms after
# 1 s so that rows also stream through the running kernel.
MODES = {
    "gyro": (True, SETTINGS),
    "acc-only": (False, SETTINGS),
    "acc-only-early": (False, Settings(sign_confirm_s=1.0)),
    "gyro-early": (True, Settings(sign_confirm_s=1.0)),
}
BATCH = {mode: analyze_with_angle(RECORDINGS[gyro].samples, cfg, "synth") for mode, (gyro, cfg) in MODES.items()}


def _mode(gyro: bool) -> str:
    return "gyro" if gyro else "acc-only"


def _stream(samples: ImuSamples, cuts, cfg: Settings = SETTINGS):
    """Feed ``samples`` in chunks ending at ``cuts``; return the analysis, angle trace and events."""
    state, events = stream_in_chunks(cfg, samples, cuts)
    blocks = [e for e in events if isinstance(e, AngleBlock)]
    angle = np.concatenate([b.angle_deg for b in blocks]) if blocks else np.zeros(0)
    return result(cfg, state, "synth"), angle, events


def test_batch_finds_the_synthetic_reps() -> None:
    # Sanity of the fixture itself: every rep found, peaks near the truth
    # (DESIGN targets: 3 deg with gyro, 6 deg accelerometer-only).
    for mode, (analysis, angle) in BATCH.items():
        gyro = MODES[mode][0]
        assert analysis.rep_count == 3
        assert np.isnan(angle).sum() == 0
        for rep, bump in zip(analysis.reps, BUMPS, strict=True):
            assert rep.peak_flexion_deg == pytest.approx(bump.amp_deg, abs=3.0 if gyro else 6.0)
            assert bump.t0 - 0.1 < rep.start_s < rep.peak_s < rep.end_s


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, N_ROWS - 1), max_size=40))
@example(cuts=SPECIAL_CUTS)
@example(cuts=list(range(45, 56)) + list(range(LOCK_ROW - 5, LOCK_ROW + 6)))  # 1-row chunks there
def test_random_chunks_give_exactly_the_batch_result(mode: str, cuts: list[int]) -> None:
    gyro, cfg = MODES[mode]
    analysis, angle, _ = _stream(RECORDINGS[gyro].samples, cuts, cfg)
    batch, batch_angle = BATCH[mode]
    assert analysis.to_dict() == batch.to_dict()
    np.testing.assert_array_equal(angle, batch_angle)


@pytest.mark.parametrize("mode", list(MODES))
def test_one_row_chunks_give_exactly_the_batch_result(mode: str) -> None:
    gyro, cfg = MODES[mode]
    analysis, angle, _ = _stream(RECORDINGS[gyro].samples, range(N_ROWS), cfg)
    batch, batch_angle = BATCH[mode]
    assert analysis.to_dict() == batch.to_dict()
    assert analysis == batch  # unrounded: every field of every rep
    np.testing.assert_array_equal(angle, batch_angle)


@pytest.mark.parametrize("mode", list(MODES))
def test_events_account_for_every_rep_and_every_row(mode: str) -> None:
    gyro, cfg = MODES[mode]
    samples = RECORDINGS[gyro].samples
    rng = np.random.default_rng(1)
    analysis, _, events = _stream(samples, np.cumsum(rng.integers(1, 30, 60)), cfg)
    reps = [e for e in events if isinstance(e, RepEvent)]
    assert len(reps) == analysis.rep_count == 3
    assert [e.number for e in reps] == [0, 1, 2]
    assert [e.rep for e in reps] == list(analysis.reps)
    peaks = [e for e in events if isinstance(e, RepPeakEvent)]
    assert len(peaks) == 3
    # The live peak event is the filter's peak; without a gyro the rep event
    # refines it with the smoothed angle (within the acc-only accuracy target).
    tol = 1.0 if gyro else 6.0
    for peak, rep in zip(peaks, reps, strict=True):
        assert peak.number == rep.number and peak.peak_flexion_deg == pytest.approx(rep.rep.peak_flexion_deg, abs=tol)
    assert len([e for e in events if isinstance(e, CalibratedEvent)]) == 1
    assert [e.set for e in events if isinstance(e, SetEvent)] == list(analysis.sets)
    # AngleBlocks cover every input row exactly once, in order (clean stamps
    # are on the re-timed grid, so they come back as they went in).
    blocks = [e for e in events if isinstance(e, AngleBlock)]
    np.testing.assert_array_equal(np.concatenate([b.time_s for b in blocks]), samples.time_s)
    assert sum(len(b.angle_deg) for b in blocks) == len(samples)


@pytest.mark.parametrize("mode", ["gyro-early", "acc-only-early"])
def test_reps_are_reported_live(mode: str) -> None:
    # Streaming must start inside the recording, so the chunk tests above run
    # the kernel on live chunks and reps arrive before the stream ends.
    gyro, cfg = MODES[mode]
    samples = RECORDINGS[gyro].samples
    state = init_state(cfg, gyro)
    live_reps = 0
    for a in range(0, N_ROWS, 10):
        state, events = step(cfg, state, samples.slice(a, a + 10))
        live_reps += sum(isinstance(e, RepEvent) for e in events)
    assert state.running
    assert live_reps >= 2


def test_stepping_does_not_change_the_old_state() -> None:
    samples = RECORDINGS[True].samples
    state0 = init_state(SETTINGS, True)
    mid, _ = step(SETTINGS, state0, samples.slice(0, 200))
    ends = []
    for _ in range(2):  # the same old state, used twice
        state, _ = step(SETTINGS, mid, samples.slice(200, N_ROWS))
        state, _ = finish(SETTINGS, state)
        ends.append(result(SETTINGS, state, "synth").to_dict())
    assert ends[0] == ends[1] == BATCH["gyro"][0].to_dict()


def test_stepping_does_not_change_the_old_state_when_a_set_relocks_the_axes() -> None:
    # The per-set axis watch (dsp/_kern_axis.py) writes the kernel's axes into
    # its parameter array: a state stepped from must keep its own copy, or a
    # second step from it starts in the axes the first one ended in.
    from hipflex.sensor.sim.body import Mounting
    from hipflex.sensor.sim.mixed import simulate_mixed

    sim = simulate_mixed(
        ("side_lying_abduction", "glute_bridge", "strength"),
        seed=11,
        fs_hz=50.0,
        sets_per_drill=1,
        mounting=Mounting.random(np.random.default_rng(11)),
    )
    samples, n = sim.samples, len(sim.samples)
    mid, _ = step(SETTINGS, init_state(SETTINGS, True), samples.slice(0, n // 4))
    ends = []
    for _ in range(2):  # the same old state, used twice
        state, _ = step(SETTINGS, mid, samples.slice(n // 4, n))
        state, _ = finish(SETTINGS, state)
        ends.append(repr(result(SETTINGS, state)))
    assert ends[0] == ends[1] == repr(analyze(samples, SETTINGS))


# ---------------------------------------------------------------------------
# invariances
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@settings(max_examples=10, deadline=None)
@given(offset=st.floats(-1e4, 1e5, allow_nan=False))
def test_rep_count_unchanged_by_a_time_offset(gyro: bool, offset: float) -> None:
    s = RECORDINGS[gyro].samples
    shifted = analyze(ImuSamples(s.time_s + offset, s.acc_g, s.gyr_dps), SETTINGS)
    batch = BATCH[_mode(gyro)][0]
    assert shifted.rep_count == batch.rep_count
    # Not bit-exact: rounding of the shifted times can move the calibration
    # window's 95 % length test by one row, which nudges "up" a little.
    for a, b in zip(shifted.reps, batch.reps, strict=True):
        assert a.peak_s - offset == pytest.approx(b.peak_s, abs=1e-4)
        assert a.peak_flexion_deg == pytest.approx(b.peak_flexion_deg, abs=0.01)


@functools.cache
def _ranged_batch(gyro: bool) -> Analysis:
    return analyze(RECORDINGS[gyro].samples, dataclasses.replace(SETTINGS, acc_range_g=16.0))


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rep_count_unchanged_by_rotating_the_sensor(gyro: bool, seed: int) -> None:
    # With the range known.  Without it, any single value within 0.2 % of a
    # standard range (2/4/8/16 g) is taken as a clipped bound, and which axis
    # happens to read 1.998 g depends on the rotation (about 3 % of random
    # rotations of this recording put one there, moving a peak by 0.03 deg).
    ranged = dataclasses.replace(SETTINGS, acc_range_g=16.0)
    s = RECORDINGS[gyro].samples
    rot = Rotation.random(rng=np.random.default_rng(seed)).as_matrix()
    rotated = ImuSamples(s.time_s, s.acc_g @ rot.T, None if s.gyr_dps is None else s.gyr_dps @ rot.T)
    got = analyze(rotated, ranged)
    batch = _ranged_batch(gyro)
    assert got.rep_count == batch.rep_count
    # The algorithm works in the learned thigh frame, so the angles barely change.
    for a, b in zip(got.reps, batch.reps, strict=True):
        assert a.peak_flexion_deg == pytest.approx(b.peak_flexion_deg, abs=0.01)


def test_backward_first_excursion_streamed_equals_batch() -> None:
    bumps = [synth.Bump(3.0, 0.4, 0.2, 0.5, -40.0), *synth.drill(3, start_s=4.5, period_s=1.3)]
    rec = synth.record(bumps, 9.0, FS_HZ, gyro=False, acc_noise_g=0.003, seed=4)
    batch = analyze(rec.samples, SETTINGS, "synth")
    streamed, _, _ = _stream(rec.samples, range(len(rec.samples)))
    assert streamed.to_dict() == batch.to_dict()
    # And the sign was confirmed: the reps are the +70 deg flexions, not the -40 deg excursion.
    assert [round(r.peak_flexion_deg) for r in batch.reps] == pytest.approx([70, 70, 70], abs=5)


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


def _samples(t, gyro: bool = True) -> ImuSamples:
    n = len(t)
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    return ImuSamples(np.asarray(t, float), acc, np.zeros((n, 3)) if gyro else None)


def test_time_going_backwards_within_a_chunk_is_rejected() -> None:
    with pytest.raises(ValueError, match="time goes backwards at row 2 of the chunk"):
        step(SETTINGS, init_state(SETTINGS, True), _samples([0.0, 0.02, 0.01, 0.03]))


def test_time_going_backwards_between_chunks_is_rejected() -> None:
    state, _ = step(SETTINGS, init_state(SETTINGS, True), _samples([0.0, 0.02, 0.04]))
    with pytest.raises(ValueError, match="time goes backwards between chunks"):
        step(SETTINGS, state, _samples([0.03, 0.05]))


def test_equal_stamps_are_a_burst_not_an_error() -> None:
    # A phone stamps a notification's rows on arrival: equal times, within a
    # chunk and across chunks, are accepted and every row is kept.
    state, _ = step(SETTINGS, init_state(SETTINGS, True), _samples([0.0, 0.0, 0.0, 0.06]))
    state, _ = step(SETTINGS, state, _samples([0.06, 0.06, 0.12]))
    assert state.rows == 7


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_time_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="time is not a finite number at row 1 of the chunk"):
        step(SETTINGS, init_state(SETTINGS, True), _samples([0.0, bad, 0.04]))


@pytest.mark.parametrize(
    ("t", "row"),
    [([np.nan, 0.02, 0.04], 0), ([0.0, 0.02, np.inf], 2), ([0.0, 0.02, np.nan], 2), ([0.0, -np.inf, 0.04], 1)],
)
def test_non_finite_time_at_either_end_is_rejected_with_its_row(t: list[float], row: int) -> None:
    # The check's one-pass common case reads the ends and the steps between rows.
    with pytest.raises(ValueError, match=f"time is not a finite number at row {row} of the chunk"):
        step(SETTINGS, init_state(SETTINGS, True), _samples(t))


def test_chunk_gyro_must_match_the_stream() -> None:
    with pytest.raises(ValueError, match="started with gyro"):
        step(SETTINGS, init_state(SETTINGS, True), _samples([0.0, 0.02], gyro=False))
    with pytest.raises(ValueError, match="started without gyro"):
        step(SETTINGS, init_state(SETTINGS, False), _samples([0.0, 0.02], gyro=True))


def test_finished_stream_refuses_more_rows() -> None:
    state, _ = finish(SETTINGS, init_state(SETTINGS, True))
    with pytest.raises(ValueError, match="finished"):
        step(SETTINGS, state, _samples([0.0, 0.02]))
    assert finish(SETTINGS, state) == (state, [])


def test_analyze_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="1 samples: too few"):
        analyze(_samples([0.0]))


def test_empty_chunk_is_a_no_op() -> None:
    state = init_state(SETTINGS, True)
    assert step(SETTINGS, state, _samples([])) == (state, [])


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_reps_after_a_short_stand_are_all_counted(gyro: bool) -> None:
    # 1.3 s of standing, then reps: calib_still_s (1 s) fits in; the 2 s it
    # used to be did not, and every rep before the first 2 s still stretch
    # (here: none, the recording ends 1.5 s after the last rep) was skipped.
    bumps = synth.drill(3, start_s=1.3, period_s=1.3, amp_deg=70.0)
    rec = synth.record(bumps, 7.0, FS_HZ, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=4)
    analysis = analyze(rec.samples, SETTINGS)
    assert analysis.quality.calibrated_at_s == 0.0
    assert analysis.rep_count == 3
    for rep, bump in zip(analysis.reps, bumps, strict=True):
        assert rep.peak_flexion_deg == pytest.approx(bump.amp_deg, abs=3.0 if gyro else 6.0)


def test_a_sideways_swing_before_the_reps_does_not_set_the_flexion_axis() -> None:
    # A 35 deg sideways leg swing is the first excursion past lock_deg; the
    # flexion axis comes from all the motion until the sign is confirmed, not
    # from that swing alone (then the angle was its projection: 1 rep of 35 deg).
    flexion = synth.drill(4, start_s=3.8, period_s=1.4, amp_deg=70.0)
    swing = [synth.Bump(3.0, 0.4, 0.1, 0.4, 35.0)]
    rec = synth.record_two_axes(flexion, swing, 10.0)
    analysis = analyze(rec.samples, SETTINGS)
    assert analysis.rep_count == 4
    for rep in analysis.reps:
        assert rep.peak_flexion_deg == pytest.approx(70.0, abs=1.0)


@pytest.mark.parametrize("gyro_scale", [1.0, 1.03, 1.6])
def test_rest_mismatch_reports_a_gyro_that_turns_more_than_the_thigh(gyro_scale: float) -> None:
    # Holds of 1.5 s at 70 deg; a gyro reading 1.6x the true rate (Eurobench
    # subject 03's thigh gyro turns ~1.6x what its accelerometer tilts)
    # carries the filter ~40 deg past the thigh on each rise, which the
    # accelerometer shows once the thigh rests there; a 3 % scale error stays
    # within a few degrees.  (A rest
    # back where the rep started shows nothing: the fall undoes the rise.)
    # The scale error sets in after the learning phase (a unit going wrong
    # mid-session), where the gyro-frame check cannot see it.
    bumps = [synth.Bump(3.0 + 3.5 * i, 0.35, 1.5, 0.45, 70.0) for i in range(5)]
    rec = synth.record(bumps, 21.0, FS_HZ, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=5)
    s = rec.samples
    assert s.gyr_dps is not None
    late = np.where(s.time_s >= 13.0, gyro_scale, 1.0)[:, None]
    q = analyze(ImuSamples(s.time_s, s.acc_g, s.gyr_dps * late), SETTINGS).quality
    assert q.rest_mismatch_deg is not None
    assert q.gyro_frame is not None and q.gyro_frame.verdict == "consistent"
    if gyro_scale > 1.5:
        assert q.rest_mismatch_deg > UNRELIABLE_REST_MISMATCH_DEG
        assert not q.angles_reliable
    else:
        assert q.rest_mismatch_deg < 5.0
        assert q.angles_reliable
    assert q.to_dict()["rest_mismatch_deg"] == pytest.approx(q.rest_mismatch_deg, abs=0.05)
    # Scaled from the first row, the learning phase sees it and corrects it:
    # then the angle agrees with the accelerometer at rest.
    q_all = analyze(ImuSamples(s.time_s, s.acc_g, s.gyr_dps * gyro_scale), SETTINGS).quality
    assert q_all.rest_mismatch_deg is not None and q_all.rest_mismatch_deg < 5.0
    assert (q_all.gyro_correction is not None) == (gyro_scale > 1.5)
    # Without a gyro there is nothing to compare: None, and reliable.
    q_acc = analyze(ImuSamples(s.time_s, s.acc_g, None), SETTINGS).quality
    assert q_acc.rest_mismatch_deg is None and q_acc.angles_reliable


def test_recording_shorter_than_the_calibration_window() -> None:
    # 0.7 s of standing: no quiet window of calib_still_s (1 s), nothing to calibrate on, no reps.
    assert SETTINGS.calib_still_s == 1.0
    analysis, angle = analyze_with_angle(_samples(np.arange(35) / FS_HZ), SETTINGS)
    assert analysis.rep_count == 0
    assert analysis.quality.calibrated_at_s is None
    assert np.isnan(angle).all()
    assert analysis.to_dict()["sample_rate_hz"] == pytest.approx(FS_HZ)


# ---------------------------------------------------------------------------
# gaps
# ---------------------------------------------------------------------------

GAP_BUMPS = [
    synth.Bump(3.0, 0.35, 0.2, 0.45, 70.0),
    synth.Bump(4.4, 0.35, 0.2, 0.45, 70.0),
    synth.Bump(8.0, 0.35, 0.2, 0.45, 70.0),
    synth.Bump(9.4, 0.35, 0.2, 0.45, 70.0),
]


def _with_gap(gyro: bool, start_s: float, length_s: float):
    rec = synth.record(GAP_BUMPS, 11.0, FS_HZ, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=8)
    s = rec.samples
    keep = ~((s.time_s >= start_s) & (s.time_s < start_s + length_s - 1e-9))
    idx = np.flatnonzero(keep)
    return ImuSamples(s.time_s[idx], s.acc_g[idx], None if s.gyr_dps is None else s.gyr_dps[idx])


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_short_gap_inside_a_rep_is_bridged(gyro: bool) -> None:
    whole = analyze(_with_gap(gyro, 0.0, 0.0), SETTINGS)
    got = analyze(_with_gap(gyro, 4.5, 0.1), SETTINGS)  # 5 rows lost on the way up of rep 2
    assert whole.quality.gaps == 0 and whole.rep_count == 4
    assert got.quality.gaps == 1
    assert got.quality.lost_s == pytest.approx(0.1, rel=1e-3)
    (gap,) = got.quality.gap_list
    assert gap.bridged
    assert gap.start_s == pytest.approx(4.48, abs=1e-3) and gap.end_s == pytest.approx(4.6, abs=1e-9)
    assert got.rep_count == 4
    assert not got.quality.rejections
    # The bridged samples are flagged: the rep they fall in is less certain.
    assert got.reps[1].confidence < whole.reps[1].confidence
    assert got.reps[0].confidence == pytest.approx(whole.reps[0].confidence)


def _peaks_near(reps, times) -> bool:
    return len(reps) == len(times) and all(abs(r.peak_s - t) < 0.15 for r, t in zip(reps, times, strict=True))


# Longer than max_interp_gap_s (1 s) and max_bridge_gyro_s (2 s): never bridged.
LONG_GAP_S = 2.5


def test_long_gap_in_an_unconfirmed_rise_rejects_it() -> None:
    # 2.5 s lost from 4.66 s: rep 2 has risen past min_rom but was never confirmed.
    got = analyze(_with_gap(True, 4.66, LONG_GAP_S), SETTINGS)
    assert got.quality.gaps == 1
    (gap,) = got.quality.gap_list
    assert not gap.bridged
    assert gap.end_s - gap.start_s == pytest.approx(LONG_GAP_S + 0.02)  # the last row before, the first after
    assert got.quality.lost_s == pytest.approx(LONG_GAP_S, rel=1e-3)
    assert [r.reason for r in got.quality.rejections] == ["gap"]
    assert got.quality.rejections[0].time_s < 4.66
    assert _peaks_near(got.reps, [GAP_BUMPS[i].peak_t for i in (0, 2, 3)])


def test_long_gap_after_a_rise_counts_the_rep_whose_descent_it_hid_accelerometer_only() -> None:
    # The same 2.5 s: without a gyro the detector carries its state across a
    # gap of up to 4 s, and the angle after it is down again: the descent was
    # in the gap.  The rep is counted, peaking where the data ends, ending
    # after the gap, and its confidence says most of it was not measured.
    got = analyze(_with_gap(False, 4.66, LONG_GAP_S), SETTINGS)
    assert not got.quality.rejections
    assert len(got.reps) == 4
    hidden = got.reps[1]
    assert 4.4 < hidden.peak_s < 4.66 < 4.66 + LONG_GAP_S < hidden.end_s
    assert hidden.confidence < 0.5 < min(r.confidence for r in got.reps if r is not hidden)
    # A gap longer than that still ends the rise, with a rejection.
    longer = analyze(_with_gap(False, 4.66, 4.5), SETTINGS)
    assert [r.reason for r in longer.quality.rejections] == ["gap"]
    assert _peaks_near(longer.reps, [GAP_BUMPS[i].peak_t for i in (0, 3)])


def test_long_gap_hiding_the_rise_into_a_hold_counts_the_rep_accelerometer_only() -> None:
    # A 1.5 s gap (too long to bridge) over the rise of a 2.5 s hold at 80 deg:
    # the angle after it is up, so the rise happened in the gap; the rep's
    # descent is measured.  (Before the carry this rep was lost.)
    bumps = [synth.Bump(3.0, 0.4, 2.5, 0.5, 80.0), synth.Bump(8.0, 0.4, 2.5, 0.5, 80.0)]
    rec = synth.record(bumps, 13.0, FS_HZ, gyro=False, acc_noise_g=0.003, seed=9)
    s = rec.samples
    keep = ~((s.time_s >= 7.8) & (s.time_s < 9.3))
    got = analyze(ImuSamples(s.time_s[keep], s.acc_g[keep], None), SETTINGS)
    assert got.quality.gaps == 1 and not got.quality.gap_list[0].bridged
    assert len(got.reps) == 2
    assert got.reps[1].start_s < 9.3 < got.reps[1].end_s
    assert got.reps[1].peak_flexion_deg == pytest.approx(80.0, abs=6.0)


def test_long_gap_does_not_invent_a_rep_accelerometer_only() -> None:
    # The rows end at 4.52 s, 15.7 deg into rep 2's rise: short of min_rom, so no rep.  (From 4.55 s the
    # last row was 22.2 deg up, past min_rom: a rise whose descent the gap hid, counted like the one
    # above; the filter read it under 20 deg only while it lagged with the default sensor position.)
    got = analyze(_with_gap(False, 4.53, LONG_GAP_S), SETTINGS)
    assert _peaks_near(got.reps, [GAP_BUMPS[i].peak_t for i in (0, 2, 3)])


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc-only"])
def test_long_gap_after_a_confirmed_peak_closes_the_rep(gyro: bool) -> None:
    # 2.5 s lost from 5.2 s: rep 2 already fell min_rom below its peak.
    got = analyze(_with_gap(gyro, 5.2, LONG_GAP_S), SETTINGS)
    assert got.quality.gaps == 1 and not got.quality.gap_list[0].bridged
    assert got.quality.lost_s == pytest.approx(LONG_GAP_S, rel=1e-3)
    assert not got.quality.rejections
    assert _peaks_near(got.reps, [b.peak_t for b in GAP_BUMPS])
    assert got.reps[1].end_s < 5.2  # closed with the data it had


def test_gap_hiding_a_rise_before_the_sign_is_confirmed_keeps_the_sign() -> None:
    # 0.5 s lost from 4.4 s, over the rise of rep 2 (inside the sign_confirm_s
    # span after the lock).  The held orientation misses the rise, so the trace
    # reads the fall that follows as -70 deg, as far below standing as rep 1
    # was above it.
    got = analyze(_with_gap(True, 4.4, 0.5), SETTINGS)
    assert got.rep_count >= 3
    assert all(r.peak_flexion_deg > 30.0 for r in got.reps)


def test_rejection_events_match_the_quality_list() -> None:
    _, _, events = _stream(_with_gap(True, 4.66, LONG_GAP_S), [])
    rej = [e.rejection for e in events if isinstance(e, RejectionEvent)]
    analysis, _, _ = _stream(_with_gap(True, 4.66, LONG_GAP_S), range(0, 600, 7))
    assert rej == list(analysis.quality.rejections)
    assert math.isfinite(rej[0].rom_deg) and rej[0].rom_deg >= SETTINGS.min_rom_deg


# ---------------------------------------------------------------------------
# gaps with a gyro: bridged up to max_bridge_gyro_s, post-gap windows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset_s", [0.3, 0.5, 0.7, 0.95])
def test_a_short_gap_in_a_fast_swing_does_not_tilt_the_reps_after_it(offset_s: float) -> None:
    # 0.17 s lost inside the second of six 70 deg reps at 100 Hz (rates to 290
    # deg/s).  Bridged with a straight line between the rates either side, the
    # gyro missed up to 8 deg of rotation, carried into every later peak; a gap
    # over _REANCHOR_GAP_S (0.1 s) now opens a post-gap window that re-anchors.
    bumps = synth.drill(6, start_s=3.0, period_s=1.0, amp_deg=70.0)
    s = synth.record(bumps, 12.0, 100.0, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=6).samples
    assert s.gyr_dps is not None
    lost = (s.time_s > bumps[1].t0 + offset_s) & (s.time_s < bumps[1].t0 + offset_s + 0.17)
    analysis = analyze(ImuSamples(s.time_s[~lost], s.acc_g[~lost], s.gyr_dps[~lost]), SETTINGS)
    assert analysis.rep_count == 6
    for rep in analysis.reps:
        assert rep.peak_flexion_deg == pytest.approx(70.0, abs=1.0)


@pytest.mark.parametrize("fs_hz", [100.0, 200.0])
@pytest.mark.parametrize("offset_s", [0.06, 0.1])
def test_a_gap_under_a_tenth_of_a_second_in_a_ballistic_swing_is_re_anchored(fs_hz: float, offset_s: float) -> None:
    # 0.08 s lost in the fast rise (70 deg in 0.15 s) of the fifth of 14
    # swings: under _REANCHOR_GAP_S, bridged with the rate linear between the
    # rows either side, which missed the hump of the rate by 13 deg, carried
    # into every later peak.  The thigh turned over _BRIDGE_TURN_DEG in the
    # gap, so a post-gap window re-anchors it.
    bumps = [synth.Bump(3.0 + i * 0.6, 0.15, 0.05, 0.2, 70.0) for i in range(14)]
    s = synth.record(bumps, 14.0, fs_hz, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=3).samples
    assert s.gyr_dps is not None
    lost = (s.time_s > bumps[4].t0 + offset_s) & (s.time_s < bumps[4].t0 + offset_s + 0.08)
    analysis = analyze(ImuSamples(s.time_s[~lost], s.acc_g[~lost], s.gyr_dps[~lost]), SETTINGS)
    (gap,) = analysis.quality.gap_list
    assert gap.end_s - gap.start_s < 0.1
    assert analysis.rep_count == 14
    for rep in analysis.reps[4:]:
        assert rep.peak_flexion_deg == pytest.approx(70.0, abs=1.0)


def test_a_second_short_gap_does_not_cut_the_first_gaps_window_short() -> None:
    # Two 0.08 s gaps 0.12 s apart in the fifth of 14 ballistic swings (70 deg
    # up in 0.12 s, down in 0.3 s) at +-2 g, sensor 35 cm down and 8 cm in
    # front of the femur (the filter's lever model misses both): the first
    # gap spans the swing's turn, its bridge 15 deg long.  Its window was
    # closed by the second gap and re-anchored on 0.04 s of (mostly clipped)
    # rows: 20 deg off in every later peak.  Kept open across the second gap,
    # its sum runs turn to turn and re-anchors both.
    bumps = [synth.Bump(3.0 + i * 0.6, 0.12, 0.0, 0.3, 70.0) for i in range(14)]
    s = synth.record(
        bumps, 14.0, 200.0, lever_m=0.35, offset_m=0.08, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=3
    ).samples
    assert s.gyr_dps is not None
    t0 = bumps[4].t0
    lost = ((s.time_s > t0 + 0.07) & (s.time_s < t0 + 0.15)) | ((s.time_s > t0 + 0.19) & (s.time_s < t0 + 0.27))
    acc = np.clip(s.acc_g, -2.0, 2.0)
    analysis = analyze(ImuSamples(s.time_s[~lost], acc[~lost], s.gyr_dps[~lost]), SETTINGS)
    assert [g.end_s - g.start_s < 0.1 for g in analysis.quality.gap_list] == [True, True]
    assert analysis.rep_count == 14
    for rep in analysis.reps[5:]:
        assert rep.peak_flexion_deg == pytest.approx(70.0, abs=1.5)


def test_gyro_bridges_gaps_up_to_max_bridge_gyro_s() -> None:
    # 1.5 s lost from 5.1 s, on the way down of rep 2: longer than
    # max_interp_gap_s, so bridged with a gyro only.
    for gyro in (False, True):
        got = analyze(_with_gap(gyro, 5.1, 1.5), SETTINGS)
        (gap,) = got.quality.gap_list
        assert gap.bridged == gyro
        assert got.quality.lost_s == pytest.approx(1.5, rel=1e-3)
    assert _peaks_near(got.reps, [b.peak_t for b in GAP_BUMPS])
    assert not got.quality.rejections
    # Rep 2 ends inside the bridge, redrawn from its fall to rest without a
    # false low below standing: rep 3 rises from standing, at its own start.
    assert 5.1 < got.reps[1].end_s < 6.6
    assert got.reps[2].start_s == pytest.approx(8.05, abs=0.1)
    assert got.reps[2].rom_deg == pytest.approx(70.0, abs=2.0)


# A drill streamed with gaps over 0.25 s, so that post-gap windows open in the
# running kernel: 0.5 s during the learning phase's buffer, 0.4 s bridged over
# a rep's peak, 0.3 s bridged 0.3 s later (ends that window early), one lost
# row inside the next window, 2.5 s not bridged, and 0.5 s bridged 0.4 s
# before the end (the stream ends inside its window).
GAPPY_CFG = Settings(sign_confirm_s=1.0)
GAPPY_CUTS = [(4.1, 4.6), (6.0, 6.4), (6.7, 7.0), (7.5, 7.52), (9.0, 11.5), (13.1, 13.6)]


def _gappy() -> ImuSamples:
    bumps = synth.drill(7, start_s=3.0, period_s=1.4, amp_deg=70.0)
    rec = synth.record(bumps, 14.0, FS_HZ, gyro=True, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=5)
    s = rec.samples
    t = s.time_s - s.time_s[0]
    keep = np.ones(t.size, bool)
    for a, b in GAPPY_CUTS:
        keep &= ~((t >= a) & (t < b - 1e-9))
    idx = np.flatnonzero(keep)
    return ImuSamples(s.time_s[idx], s.acc_g[idx], s.gyr_dps[idx])


GAPPY = _gappy()
GAPPY_BATCH = analyze_with_angle(GAPPY, GAPPY_CFG, "synth")
GAPPY_ROW = {a: int(np.searchsorted(GAPPY.time_s - GAPPY.time_s[0], a)) for a, _ in GAPPY_CUTS}


def test_gappy_fixture_opens_windows_in_the_running_kernel() -> None:
    analysis, _ = GAPPY_BATCH
    gaps = [g for g in analysis.quality.gap_list if g.end_s - g.start_s > 0.25]
    assert [g.bridged for g in gaps] == [True, True, True, False, True]
    assert analysis.quality.calibrated_at_s is not None
    # Streaming (rows through the kernel one chunk at a time) starts before the second cut.
    state = init_state(GAPPY_CFG, True)
    state, _ = step(GAPPY_CFG, state, GAPPY.slice(0, GAPPY_ROW[6.0]))
    assert state.running


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, len(GAPPY) - 1), max_size=40))
@example(cuts=[r + d for r in GAPPY_ROW.values() for d in range(-3, 4)])  # 1-row chunks at every gap
def test_random_chunks_with_post_gap_windows_give_exactly_the_batch_result(cuts: list[int]) -> None:
    analysis, angle, _ = _stream(GAPPY, cuts, GAPPY_CFG)
    batch, batch_angle = GAPPY_BATCH
    assert analysis == batch
    np.testing.assert_array_equal(angle, batch_angle)


def test_one_row_chunks_with_post_gap_windows_give_exactly_the_batch_result() -> None:
    # One row per step: the event buffer holds 9 rows, so the detector's
    # catch-up after a window runs out of room and resumes in later steps.
    analysis, angle, events = _stream(GAPPY, range(len(GAPPY)), GAPPY_CFG)
    batch, batch_angle = GAPPY_BATCH
    assert analysis == batch
    np.testing.assert_array_equal(angle, batch_angle)
    assert [e.number for e in events if isinstance(e, RepEvent)] == list(range(batch.rep_count))


# ---------------------------------------------------------------------------
# gaps in simulated sessions (hipflex.sensor.sim.simulate: sensor errors, random mounting)
# ---------------------------------------------------------------------------


def _cut(samples: ImuSamples, lost: np.ndarray) -> ImuSamples:
    keep = ~lost
    gyr = None if samples.gyr_dps is None else samples.gyr_dps[keep]
    return ImuSamples(samples.time_s[keep], samples.acc_g[keep], gyr)


@pytest.mark.parametrize(
    ("drill", "seed", "before_peak_s"),
    [("march", 3, 0.10), ("march", 6, 0.10), ("hold", 1, 0.25)],
)
def test_rep_whose_peak_falls_in_a_gap_is_counted_at_its_height(drill: str, seed: int, before_peak_s: float) -> None:
    # 0.5 s of rows lost from shortly before a rep's peak (100 Hz, acc+gyro).
    # The bridge is redrawn between the angles and rates on either side and the
    # orientation re-anchored after it: the rep is counted, its peak near the
    # truth (a held orientation and a fast re-anchor lost 10-20 deg of a march
    # rep's peak, and put a hold rep's peak over a second late).
    from hipflex.sensor.sim.simulate import simulate_drill

    sim = simulate_drill(drill, fs_hz=100.0, seed=seed, n_sets=1)  # type: ignore[arg-type]
    truth = sim.truth.reps
    hidden = truth[len(truth) // 2]
    t = sim.samples.time_s
    start = hidden.peak_s - before_peak_s
    got = analyze(_cut(sim.samples, (t > start) & (t < start + 0.5)), SETTINGS)
    (gap,) = got.quality.gap_list
    assert gap.bridged and gap.start_s < hidden.peak_s < gap.end_s
    assert got.rep_count == len(truth)
    rep = min(got.reps, key=lambda r: abs(r.peak_s - hidden.peak_s))
    assert rep.peak_flexion_deg == pytest.approx(hidden.peak_deg, abs=10.0)
    assert rep.peak_s == pytest.approx(hidden.peak_s, abs=0.25)


@pytest.mark.parametrize(("lever_m", "offset_m"), [(0.32, 0.07), (0.15, 0.0)])
def test_a_short_gap_in_a_steady_rise_takes_its_turn_from_the_rates(lever_m: float, offset_m: float) -> None:
    # 0.15 s lost early in the 0.8 s rise of the fourth of eight 60 deg reps
    # (100 Hz), the sensor not where the lever model puts it (22 cm, on the
    # femur's axis).  The rate runs nearly straight across the gap, so the turn
    # it hid is the integral of the cubic through the rates and angular
    # accelerations either side; re-anchored on the post-gap window's mean
    # force instead (the swing's lever terms modelled at the wrong place), the
    # next peak read 0.8-1.0 deg off the same recording without the gap.
    bumps = [synth.Bump(3.0 + i * 2.5, 0.8, 0.3, 0.8, 60.0) for i in range(8)]
    s = synth.record(
        bumps, 24.0, 100.0, lever_m=lever_m, offset_m=offset_m, acc_noise_g=0.003, gyr_noise_dps=0.3, seed=4
    ).samples
    whole = analyze(s, SETTINGS)
    t0 = bumps[3].t0 + 0.16
    got = analyze(_cut(s, (s.time_s > t0) & (s.time_s < t0 + 0.15)), SETTINGS)
    assert got.rep_count == whole.rep_count == 8
    for rep, ref in zip(got.reps[3:], whole.reps[3:], strict=True):
        assert rep.peak_flexion_deg == pytest.approx(ref.peak_flexion_deg, abs=0.4)


@pytest.mark.parametrize("seed", [0, 1])
def test_lost_row_just_after_a_gap_in_running_does_not_spoil_the_angle(seed: int) -> None:
    # Strides: 0.4 s lost, then one more row 50 ms later.  The post-gap window
    # must average the accelerometer over its whole length (a foot strike
    # reads several g); ended by the lost row after five samples it
    # re-anchored on those and put the next reps' peaks 30-50 deg too high.
    from hipflex.sensor.sim.simulate import simulate_drill

    sim = simulate_drill("stride", fs_hz=100.0, seed=seed, n_sets=1)
    truth = sim.truth.reps
    g0 = truth[len(truth) // 2].peak_s - 0.2
    t = sim.samples.time_s
    lost = (t > g0) & (t < g0 + 0.4)
    lost[int(np.searchsorted(t, g0 + 0.45))] = True
    got = analyze(_cut(sim.samples, lost), SETTINGS)
    assert got.rep_count == len(truth)
    after = [r for r in truth if g0 + 0.4 < r.peak_s < g0 + 3.0]
    assert len(after) >= 2
    for r in after:
        est = min(got.reps, key=lambda e: abs(e.peak_s - r.peak_s))
        assert est.peak_flexion_deg == pytest.approx(r.peak_deg, abs=8.0)


@pytest.mark.slow
def test_sign_of_a_side_mounted_sensor_without_gyro_is_judged_on_a_symmetric_model() -> None:
    # A march at 200 Hz, accelerometer only (+-4 g), the sensor on the side of the
    # thigh 30 cm below the hip (seed 93 of the accuracy suite's tuning seeds).  The
    # sign used to be judged with the prior 3 cm offset in front of the femur, which
    # made the correct sign's filter spin through +-180 deg; the whole session came
    # out mirrored (flexion read as extension, no true rep matched).
    from hipflex.sensor.sim.simulate import Mounting, SensorModel, plan_session, simulate

    rng = np.random.default_rng(93)
    mounting = Mounting.random(rng)
    plan = plan_session("march", rng, n_sets=3)
    sensor = SensorModel(
        fs_hz=200.0, has_gyro=False, acc_range_g=4.0,
        time_offset_s=float(rng.uniform(0.0, 5000.0)), clock_drift_ppm=float(rng.uniform(-40.0, 40.0)),
    )  # fmt: skip
    assert mounting.placement == "side"
    sim = simulate(plan, mounting, sensor, seed=93)
    got = analyze(sim.samples, SETTINGS)
    peaks = np.array([r.peak_s for r in got.reps])
    truth = sim.truth.reps
    inside = [np.any((peaks >= r.low_s) & (peaks <= r.trough_s)) for r in truth]
    assert np.mean(inside) > 0.9
    assert abs(got.rep_count - len(truth)) <= 3


def test_a_whole_recording_runs_its_blocks_on_one_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # The batch buffer runs in blocks while a revision may come (pipeline._start_if_learned): the kernel is
    # that call's own, so the blocks run it on in place; copying it per block (its history ring is 1.4 MB at
    # 200 Hz) cost ~0.7 ms a block.  Streamed chunks still copy (a state stepped from is not changed).
    from hipflex.dsp._kernel_setup import _Kernel
    from hipflex.sensor.sim.mixed import simulate_mixed

    samples = simulate_mixed(("strength", "side_lunge", "strength"), seed=3, fs_hz=50.0, sets_per_drill=2).samples
    assert samples.time_s[-1] - samples.time_s[0] > 240.0  # several blocks after the first 60 s
    copies = []
    original = _Kernel.copy

    def counted(self: _Kernel) -> _Kernel:
        copies.append(1)
        return original(self)

    monkeypatch.setattr(_Kernel, "copy", counted)
    whole = analyze(samples, SETTINGS)
    assert not copies
    state, _ = stream_in_chunks(SETTINGS, samples, range(997, len(samples), 997))
    assert copies
    assert result(SETTINGS, state).to_dict() == whole.to_dict()

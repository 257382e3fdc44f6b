"""Lever-arm identification of the accelerometer-only filter (hipflex.dsp.identify)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from identify_calls import identify_calls, mid_set_march
from synth import Bump, record
from wide_trace import stride25_correlation

from hipflex.dsp import ImuSamples, Settings, analyze
from hipflex.dsp.identify import LeverFit, identify_lever


def _bowl(lev0: float, off0: float, depth: float = 1e4):
    calls: list[tuple[float, float]] = []

    def nll(lev: float, off: float) -> float:
        calls.append((lev, off))
        return depth * (((lev - lev0) / 0.05) ** 2 + ((off - off0) / 0.05) ** 2)

    return nll, calls


def test_grid_search_finds_the_minimum_within_the_refinement_step():
    nll, calls = _bowl(0.262, 0.071)
    fit = identify_lever(nll, 0.22, 0.03)
    assert fit.identified
    assert fit.lever_arm_m == pytest.approx(0.262, abs=0.0076)
    assert fit.sensor_offset_m == pytest.approx(0.071, abs=0.0076)
    assert fit.evidence_nats > 0
    assert len(calls) > 20


def test_flat_likelihood_keeps_the_prior():
    fit = identify_lever(lambda lev, off: 123.0, 0.22, 0.03)
    assert fit == LeverFit(0.22, 0.03, False, 0.0)


def test_weak_evidence_keeps_the_prior():
    # The best candidate is only 5 nats better than the prior: not enough.
    fit = identify_lever(lambda lev, off: 100.0 - 5.0 * (abs(lev - 0.25) < 0.01), 0.22, 0.03)
    assert not fit.identified
    assert (fit.lever_arm_m, fit.sensor_offset_m) == (0.22, 0.03)


def test_candidates_stay_in_the_operating_range():
    nll, calls = _bowl(0.05, 0.3)
    fit = identify_lever(nll, 0.22, 0.03)
    assert 0.18 <= fit.lever_arm_m <= 0.30
    assert -0.10 <= fit.sensor_offset_m <= 0.10
    tried = np.array(calls[1:])  # the first call is the prior
    assert tried[:, 0].min() >= 0.18 - 1e-12 and tried[:, 0].max() <= 0.30 + 1e-12


def _ballistic(lever_m: float, offset_m: float, fs_hz: float = 100.0):
    bumps = [Bump(3.0 + 1.6 * i, 0.22, 0.05, 0.45, 85.0) for i in range(12)]
    return record(bumps, 24.0, fs_hz, gyro=False, lever_m=lever_m, offset_m=offset_m, acc_noise_g=0.01, seed=3)


def _peak_errors(rec, settings: Settings) -> np.ndarray:
    res = analyze(rec.samples, settings)
    peaks = [r.peak_flexion_deg for r in res.reps]
    assert len(peaks) == len(rec.bumps)
    return np.array(peaks) - np.array([b.amp_deg for b in rec.bumps])


def test_identification_finds_a_long_lever_and_removes_the_peak_bias():
    # A sensor 29 cm below the hip and 8 cm in front of the femur, far from the
    # priors (22 cm, 3 cm): fast swings read the wrong peak angle with the
    # priors and the right one once the position is identified.
    rec = _ballistic(0.29, 0.08)
    fixed = _peak_errors(rec, Settings(identify_lever=False))
    ident = _peak_errors(rec, Settings())
    assert np.mean(np.abs(ident)) < 3.0
    assert np.mean(np.abs(fixed)) > 2.0 * np.mean(np.abs(ident))


def test_a_sensor_behind_the_femur_is_identified_there():
    # The back of the thigh (a strap turned round, a back pocket): the sensor
    # sits 7 cm behind the femur axis, where the centripetal term d theta'^2
    # has the other sign.  A grid that only allowed the front of the femur
    # put it 3 cm in front and read these fast swings' peaks 21 deg off.
    rec = _ballistic(0.24, -0.07)
    res = analyze(rec.samples, Settings())
    assert "behind the femur" in res.quality.angle_model
    ident = _peak_errors(rec, Settings())
    assert np.mean(np.abs(ident)) < 2.0


def test_quality_says_what_the_angle_rests_on():
    rec = _ballistic(0.29, 0.08)
    model = analyze(rec.samples, Settings()).quality.angle_model
    assert "identified" in model
    assert "cm below the hip" in model
    assert "from the settings" in analyze(rec.samples, Settings(identify_lever=False)).quality.angle_model


@pytest.mark.parametrize("start", ["mid-set", "lying"])
def test_candidates_sharing_one_history_choose_as_fresh_kernels_do(start: str) -> None:
    # The candidates run in one history array, cleared between runs, and (from row 0, calibrated
    # later) share the backward run's: the same likelihoods and choice, to the bit, as a fresh
    # kernel per candidate.  "mid-set" starts inside a set (calibrated later, so every candidate
    # runs back to row 0 first); "lying" is re-calibrated (the candidates start at the window).
    import hipflex.dsp.flexion_sign as fs
    from hipflex.dsp import ImuSamples

    if start == "mid-set":
        samples = mid_set_march()
    else:
        from test_rest_pose import _session

        s = _session("lie", "stride", False, 24).samples
        samples = ImuSamples(s.time_s, s.acc_g, None)
    seen = identify_calls(samples)
    assert seen
    for (settings, state, cal, axes, stop), kw in seen:  # the sign's symmetric fit, then the final one
        symmetric = bool(kw.get("symmetric", False))
        first = cal.start_row if state.recalibrated_from_s else 0
        assert cal.start_row > 0 and (first > 0) == (start == "lying")
        want = _fresh_identify(settings, state, cal, axes, stop, symmetric)
        assert want.identified
        assert fs._identify(settings, state, cal, axes, stop, symmetric=symmetric) == want


def test_replays_sharing_one_event_buffer_run_as_with_a_fresh_one() -> None:
    # The lever search's replays drop their events and share one buffer, left as the last replay left it:
    # the kernels clear an event row before they fill it and read no other, so a buffer full of another
    # run's rows (here: garbage) leaves the angle and the state to the bit.
    import hipflex.dsp.flexion_sign as fs
    from hipflex.dsp._kernel_replay import _event_scratch, _rewind, _run_span

    settings, state, cal, axes, stop = identify_calls(mid_set_march())[0][0]
    dirty = _event_scratch()
    dirty[:] = 7.5
    runs = []
    for ev in (None, dirty, dirty):
        kern = fs._make_kernel(settings, False, cal, axes, LeverFit(0.25, 0.04, True, 0.0), True)
        _rewind(kern, state, cal, None, ev)
        runs.append((_run_span(kern, state, 0, stop, ev), kern.fstate, kern.ist, kern.hist))
    assert cal.start_row > 0 and np.isfinite(runs[0][1][fs.L.F_NLL])
    for run in runs[1:]:
        for got, want in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(got, want)


def _fresh_identify(settings: Any, state: Any, cal: Any, axes: Any, stop: int, symmetric: bool) -> LeverFit:
    """The identification as it was before the candidates shared a history: a fresh kernel per candidate."""
    import hipflex.dsp.flexion_sign as fs
    import hipflex.dsp.learning_flow as lf

    first = cal.start_row if state.recalibrated_from_s else 0

    def fresh_nll(lever_arm_m: float, sensor_offset_m: float) -> float:
        lever = LeverFit(lever_arm_m, sensor_offset_m, True, 0.0)
        if first > 0:
            kern = fs._make_kernel(settings, state.has_gyro, cal, axes, lever, True)
        else:
            kern = lf._start_kernel(settings, state, cal, axes, lever, True)
        if symmetric:
            kern.prm[fs.L.P_THETA_MIN] = -kern.prm[fs.L.P_THETA_MAX]
        else:
            kern.prm[fs.L.P_THETA_MIN] = min(kern.prm[fs.L.P_THETA_MIN], -np.radians(fs._ID_MIN_EXTENSION_DEG))
        fs._run_span(kern, state, first, stop)
        n = float(kern.fstate[fs.L.F_ID_N])
        scales[(lever_arm_m, sensor_offset_m)] = float(kern.fstate[fs.L.F_ID_NIS]) / (2.0 * n)
        return float(kern.fstate[fs.L.F_NLL])

    scales: dict[tuple[float, float], float] = {}
    prior_offset_m = 0.0 if symmetric else settings.sensor_offset_m
    return identify_lever(fresh_nll, settings.lever_arm_m, prior_offset_m, lambda lev, off: scales[(lev, off)])


def _strides(lever_m: float, offset_m: float, range_g: float) -> tuple[ImuSamples, list[Bump]]:
    # A stride set at 100 Hz: each forward swing (70 deg in 0.17 s and back)
    # is followed by a swing 25 deg behind the standing line; 0.66 s a stride.
    bumps: list[Bump] = []
    for i in range(14):
        t0 = 3.0 + 0.66 * i
        bumps += [Bump(t0, 0.17, 0.0, 0.17, 70.0), Bump(t0 + 0.34, 0.15, 0.0, 0.15, -25.0)]
    rec = record(bumps, 17.0, 100.0, gyro=False, lever_m=lever_m, offset_m=offset_m, acc_noise_g=0.01, seed=5)
    s = rec.samples
    return ImuSamples(s.time_s, np.clip(s.acc_g, -range_g, range_g), None), [b for b in bumps if b.amp_deg > 0]


@pytest.mark.parametrize(("lever_m", "offset_m", "range_g"), [(0.12, 0.10, 16.0), (0.22, -0.09, 2.0)])
def test_strides_with_a_sensor_off_the_femur_axis_keep_flexion_positive(
    lever_m: float, offset_m: float, range_g: float
) -> None:
    # In a stride the offset's centripetal term d theta'^2 is near 1 g.  The
    # sign was read from a trace with no offset, which takes that term for the
    # thigh tilting backwards (a sensor in front) or forwards (behind): the
    # backward swings came out larger than the flexions, the session was
    # traced the wrong way round (every peak at a backward swing, ~30 deg) and
    # the offset identified on the wrong side.  Read from the identified
    # model, whose offset turns with the sign, it is right.
    samples, flexions = _strides(lever_m, offset_m, range_g)
    res = analyze(samples, Settings())
    assert ("in front of" if offset_m > 0 else "behind") in res.quality.angle_model
    assert res.rep_count == len(flexions)
    got_peaks = np.array([r.peak_s for r in res.reps])
    np.testing.assert_allclose(got_peaks, [b.peak_t for b in flexions], atol=0.06)
    assert np.mean([r.peak_flexion_deg for r in res.reps]) > 50.0


def test_the_position_is_identified_within_the_thighs_range_once_the_sign_is_known() -> None:
    # Tuning seed 71 of the widened simulator: strides at 50 Hz, acc-only, a
    # sensor 27 cm below the hip and 9.6 cm in front of the femur, the session
    # started lying down.  Identified with extension allowed as far as flexion
    # (as the sign must be found), a position on the femur axis 18 cm down
    # traced the backward swings 90 deg and more behind standing and fitted
    # best: every peak 30 deg off.  Within the thigh's range the true one does.
    # (Session 13: it failed at 19.5 cm while the simulated runner's hip swung
    # +-2-3 g, below free fall for 10-40 % of a set; with a runner's bounce, a push
    # in stance and free fall in flight, the position is found again.)
    from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

    case = draw_wide_case(71)
    assert not case.sensor.has_gyro and case.drill == "stride"
    res = analyze(simulate_wide(case).samples, Settings())
    model = res.quality.angle_model
    lever_cm = float(model.split(" cm below the hip")[0].split()[-1])
    offset_cm = float(model.split(" cm in front of the femur")[0].split()[-1]) if "in front of" in model else 0.0
    assert abs(lever_cm - 100 * case.mounting.distance_below_hip_m) <= 4.0
    assert offset_cm >= 6.0


def test_the_sign_is_read_from_the_whole_excursions_not_two_extreme_rows() -> None:
    # Tuning seed 2096 of the widened simulator: strides at 25 Hz, acc-only,
    # clipped at 2 g, a sensor behind the femur, no quiet start.  The trace
    # the sign is read from has single rows far out where a clipped swing
    # drove the filter; compared by their two extreme rows the excursions came
    # out the wrong way round (the whole session traced mirrored, a set 4 short).
    from hipflex.dsp import analyze_with_angle
    from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

    case = draw_wide_case(2096)
    assert not case.sensor.has_gyro and case.drill == "stride" and case.sensor.acc_range_g == 2.0
    sim = simulate_wide(case)
    _, angle = analyze_with_angle(sim.samples, Settings())
    truth = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle)
    assert np.corrcoef(angle[ok], truth[ok])[0, 1] > 0.5


def test_a_short_lever_is_taken_only_where_it_fits_clearly_better():
    # Below the operating range a candidate needs the larger likelihood and a
    # scale _SHORT_FIT_GAIN times smaller than the best one within it.
    nll, calls = _bowl(0.12, 0.06)
    fit = identify_lever(nll, 0.22, 0.03, lambda lev, off: 1.0 if lev < 0.18 else 2.5)
    assert fit.identified
    assert fit.lever_arm_m == pytest.approx(0.12, abs=0.0076)
    assert fit.sensor_offset_m == pytest.approx(0.06, abs=0.0076)
    assert min(lev for lev, off in calls if abs(off) <= 0.10) >= 0.10 - 1e-12  # quarter-turned levers aside
    # The same likelihood, no better fit: the operating range's best stays.
    same = identify_lever(_bowl(0.12, 0.06)[0], 0.22, 0.03, lambda lev, off: 1.0 if lev < 0.18 else 1.1)
    assert same.lever_arm_m == pytest.approx(0.18)


def test_a_sensor_high_on_the_thigh_is_identified_there():
    # A strap 12 cm below the hip, 8 cm in front of the femur: fast swings
    # fit it several times better than any place 18-30 cm down, where it was
    # put at 18 cm (tuning seeds 74, 108, 147, 251: sets 2-10 short).
    rec = _ballistic(0.12, 0.08)
    model = analyze(rec.samples, Settings()).quality.angle_model
    lever_cm = float(model.split(" cm below the hip")[0].split()[-1])
    assert abs(lever_cm - 12.0) <= 2.0
    ident = _peak_errors(rec, Settings())
    assert np.mean(np.abs(ident)) < 3.0


@pytest.mark.parametrize(
    ("lever_m", "offset_m", "rise_s", "fs_hz"), [(0.28, 0.05, 0.8, 50.0), (0.30, -0.06, 1.0, 12.5)]
)
def test_slow_swings_do_not_read_as_a_short_lever(lever_m: float, offset_m: float, rise_s: float, fs_hz: float) -> None:
    # Slow raises leave the innovations far inside the filter's deliberately
    # wide noise model; the likelihood is then decided by the size of the
    # predicted covariance, smallest for the shortest lever (10 cm for these
    # sensors 28-30 cm down) although that lever fits no better.  Below the
    # operating range a lever must fit clearly better to be taken.
    bumps = [Bump(3.0 + (2.0 * rise_s + 1.5) * i, rise_s, 0.5, rise_s, 60.0) for i in range(8)]
    rec = record(
        bumps,
        6.0 + (2.0 * rise_s + 1.5) * 8,
        fs_hz,
        gyro=False,
        lever_m=lever_m,
        offset_m=offset_m,
        acc_noise_g=0.01,
        seed=3,
    )
    model = analyze(rec.samples, Settings()).quality.angle_model
    if "identified" in model:
        assert float(model.split(" cm below the hip")[0].split()[-1]) >= 18.0


def test_candidate_runs_close_no_reps() -> None:
    # A lever candidate's run is read for its likelihood alone (its events are dropped), so
    # its kernel does not smooth or measure the reps it closes (a third of each run's time
    # went to the smoother); the session's kernel over the same rows reports them.
    import hipflex.dsp.learning_flow as lf
    from hipflex.dsp import _layout as L
    from hipflex.dsp._kern_run import _run_chunk
    from hipflex.dsp._kernel_setup import _EMPTY3, _EVENT_ROWS

    rec = _ballistic(0.29, 0.08)
    settings, state, cal, axes, stop = identify_calls(rec.samples, Settings())[-1][0]

    def kinds(identify: bool) -> np.ndarray:
        kern = lf._start_kernel(settings, state, cal, axes, LeverFit(0.29, 0.08, True, 0.0), identify)
        ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
        theta = np.empty(stop)
        k, n_ev = _run_chunk(
            kern.prm, kern.fstate, kern.ist, kern.hist, state.buf_t[:stop], state.buf_acc[:stop], _EMPTY3, theta, ev
        )
        assert k == stop
        return ev[:n_ev, L.EV_KIND]

    assert np.count_nonzero(kinds(False) == L.EV_REP) >= 3
    assert np.count_nonzero(kinds(True) == L.EV_REP) == 0


@pytest.mark.parametrize("seed", [1203, 9578])
def test_the_sign_at_12_hz_is_read_from_the_likelihood_within_the_thighs_range(seed: int) -> None:
    # Tuning seeds of the widened simulator: strides at 12.5 Hz, acc-only,
    # clipped at 2 / 4 g.  A stride's swing spans 3-5 rows; the trace of the
    # identified model spun through +-120 deg both ways and its excursions
    # came out the wrong way round: the whole session traced mirrored, sets
    # 3 and 14 short.  The two mirror images' likelihoods within the thigh's
    # range (70-90 deg forward, 20-30 back) tell them apart.
    from hipflex.dsp import analyze_with_angle
    from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

    case = draw_wide_case(seed)
    assert not case.sensor.has_gyro and case.drill == "stride" and case.sensor.fs_hz == 12.5
    sim = simulate_wide(case)
    _, angle = analyze_with_angle(sim.samples, Settings())
    truth = np.interp(sim.samples.time_s, sim.truth.time_s, sim.truth.angle_deg)
    ok = np.isfinite(angle)
    assert np.corrcoef(angle[ok], truth[ok])[0, 1] > 0.5


@pytest.mark.parametrize("seed", [6, 19, 24])
def test_the_sign_at_25_hz_is_read_from_the_witness_places(seed: int) -> None:
    # Tuning seeds of the widened simulator focused on issue 14's worst
    # held-out class: strides at 25 Hz, acc-only, a front strap 10-18 cm
    # down.  The identified place is not seen at 25 Hz, and the trace with it
    # had its excursions alike both ways (1.1-1.6 times) and was taken the
    # wrong way round (sets 5-9 short).  Traced with a short lever and the
    # sensor in front of and as far behind the femur, one witness is
    # decisive the right way round.  (Seeds picked as traced mirrored without
    # the witnesses: 6, 8, 19 and 24 under walks10's wider walks between sets;
    # 4 under the simulator before it.)
    assert stride25_correlation(seed) > 0.4


def test_an_offset_side_keeps_every_candidate_strictly_on_that_side():
    # The witness places tell which side of the femur the sensor is on (flexion_sign._sign_by_witness);
    # the likelihood's best behind it, the best in front is taken, not the femur axis itself.
    nll, calls = _bowl(0.262, -0.06)
    fit = identify_lever(nll, 0.22, 0.03, offset_side=1)
    assert fit.identified and fit.sensor_offset_m > 0.0
    assert all(off > 0.0 for lev, off in calls if (lev, off) != (0.22, 0.03))
    # An earlier fit on the other side is not kept, though as likely.
    flat, _ = _bowl(0.262, -0.03, depth=4.0)
    assert identify_lever(flat, 0.30, 0.10, earlier=(0.24, -0.06), offset_side=1).sensor_offset_m > 0.0
    assert identify_lever(flat, 0.30, 0.10, earlier=(0.24, -0.06)).sensor_offset_m == -0.06
    back = identify_lever(_bowl(0.262, 0.0, depth=100.0)[0], 0.22, 0.03, offset_side=-1)
    assert back.identified and back.sensor_offset_m < 0.0


@pytest.mark.parametrize("seed", [4, 9, 58])
def test_the_place_at_25_hz_stays_on_the_witness_side(seed: int) -> None:
    # Tuning seeds of the widened simulator focused on issue 14's worst held-out class (strides at 25 Hz,
    # acc-only, a front strap 10-12 cm down).  The witness in front decided the sign, and the place
    # identified again under it put the sensor 4.5-9 cm behind the femur, where the 25 Hz likelihood
    # happened to be best: traced so the angle did not follow the strides (correlation 0.17-0.28 with the
    # truth), sets 3-11 short.  Held on the witness's side: 0.64-0.72, every set exact.
    assert stride25_correlation(seed) > 0.5


def test_an_earlier_fit_stays_where_the_likelihood_cannot_tell_it_from_the_best():
    # Near its top the likelihood is flat: a candidate 2.5 nats less likely than the best is as good, and
    # the fit the sign was read with (mirrored) stays (tuning seed 3102: the best of three candidates
    # within 3 nats followed a 0.1 deg change of the flexion axis).
    flat, _ = _bowl(0.262, 0.071, depth=10.0)
    fit = identify_lever(flat, 0.30, -0.10, earlier=(0.24, 0.06))
    assert fit.identified and (fit.lever_arm_m, fit.sensor_offset_m) == (0.24, 0.06)
    assert identify_lever(flat, 0.30, -0.10).lever_arm_m != 0.24
    # Less likely by more than a tie (14.5 nats: tuning seed 5031 lost a stride with such a fit), or below
    # the operating range: the best.
    for depth in (60.0, 1e4):
        fit = identify_lever(_bowl(0.262, 0.071, depth)[0], 0.30, -0.10, earlier=(0.24, 0.06))
        assert fit.lever_arm_m == pytest.approx(0.262, abs=0.0076)
    assert identify_lever(flat, 0.30, -0.10, earlier=(0.12, 0.06)).lever_arm_m != 0.12


def test_a_lever_across_the_vertical_is_taken_only_where_it_fits_clearly_better():
    # A lying thigh's lever lies across the rest pose's "up": in the model's terms
    # a small "lever" and an "offset" beyond any strap's.  Like a short lever it
    # needs the larger likelihood and a clearly smaller fit scale.
    from hipflex.dsp.identify import lies_across

    nll, calls = _bowl(0.03, 0.21)
    fit = identify_lever(nll, 0.22, 0.03, lambda lev, off: 1.0 if abs(off) > 0.1 else 2.5)
    assert lies_across(fit)
    assert fit.lever_arm_m == pytest.approx(0.03, abs=0.0076)
    assert fit.sensor_offset_m == pytest.approx(0.21, abs=0.016)  # a grid of 6 cm, refined by 1.5
    assert min(lev for lev, off in calls if abs(off) > 0.1) >= 0.0
    # The same likelihood, no clearly better fit: the operating range's best stays.
    same = identify_lever(_bowl(0.03, 0.21)[0], 0.22, 0.03, lambda lev, off: 1.0 if abs(off) > 0.1 else 1.5)
    assert not lies_across(same)
    assert 0.18 <= same.lever_arm_m <= 0.30


def test_the_lying_lever_is_searched_only_from_a_still_rest_and_where_its_first_row_fits():
    # The lying lever's 32 replays cost every acc-only session a quarter of its
    # identification (drills15): without a still rest it is not tried at all, and
    # where no candidate on the turning axis's line (lever 0) fits as well as the
    # best hanging lever, only that row is run.
    from hipflex.dsp.identify import lies_across

    def lying_fits(lev: float, off: float) -> float:
        return 1.0 if abs(off) > 0.1 else 2.5

    nll, calls = _bowl(0.03, 0.21)
    fit = identify_lever(nll, 0.22, 0.03, lying_fits, still_rest=False)
    assert not lies_across(fit)
    assert not [c for c in calls if abs(c[1]) > 0.1]
    # A standing thigh: the row fits worse than the hanging best, the rest of the grid is not run.
    nll, calls = _bowl(0.24, 0.03)
    fit = identify_lever(nll, 0.22, 0.03, lambda lev, off: 3.0 if abs(off) > 0.1 else 1.0)
    assert fit.lever_arm_m == pytest.approx(0.24, abs=0.0076)
    lying = [c for c in calls if abs(c[1]) > 0.1]
    assert len(lying) == 6
    assert {lev for lev, _ in lying} == {0.0}
    # Where the row fits, the whole grid runs as before, each candidate once.
    nll, calls = _bowl(0.03, 0.21)
    fit = identify_lever(nll, 0.22, 0.03, lying_fits)
    assert lies_across(fit)
    lying = [c for c in calls if abs(c[1]) > 0.1]
    assert len(lying) > 24
    assert len(set(lying)) == len(lying)


def test_a_recording_without_a_still_rest_keeps_the_hanging_lever():
    # CMU-MBL's squat deadlift, cut around its rep with no rest before it, took the
    # lying lever (its one rep lost): the lying lever needs the calibration window
    # quiet.  Tuning seed 0's clamshells take it; their window made not quiet, not.
    import dataclasses

    import hipflex.dsp.flexion_sign as fs
    from hipflex.sensor.sim.programme import simulate_programme

    sim = simulate_programme("clamshell", seed=0, fs_hz=25.0, has_gyro=False)
    assert "lying down" in analyze(sim.samples, Settings()).quality.angle_model
    orig = fs._identify
    try:
        fs._identify = lambda st, state, cal, *a, **k: orig(st, state, dataclasses.replace(cal, quiet=False), *a, **k)  # type: ignore[assignment]
        model = analyze(sim.samples, Settings()).quality.angle_model
    finally:
        fs._identify = orig
    assert "lying down" not in model
    assert "cm below the hip" in model


def test_accelerometer_only_clamshells_are_read_with_the_lying_thighs_lever():
    # Tuning seed 1, clamshells at 50 Hz without a gyro.  Under the hanging
    # thigh's lever every return read 10-20 deg behind the rest, ROMs 40-60 deg
    # for true 30-40, and the first set's first five reps, held tops read
    # 1.6 s apart, were taken for a walk (14/19).
    from hipflex.sensor.sim.programme import simulate_programme

    sim = simulate_programme("clamshell", seed=1, fs_hz=50.0, has_gyro=False)
    res = analyze(sim.samples, Settings())
    t0, t1 = sim.truth.sets[0]
    truth = [r for r in sim.truth.reps if r.set_index == 0]
    found = [s for s in res.sets if s.end_s > t0 - 1.0 and s.start_s < t1 + 1.0]
    assert sum(s.rep_count for s in found) == sum(r.counts(Settings().min_rom_deg) for r in truth)
    errors = [
        abs(rep.rom_deg - tr.rom_deg)
        for tr in truth
        for rep in (r for s in found for r in s.reps)
        if rep.start_s <= tr.peak_s <= rep.end_s
    ]
    assert len(errors) >= 15
    assert np.median(errors) < 5.0
    assert "lying down" in res.quality.angle_model

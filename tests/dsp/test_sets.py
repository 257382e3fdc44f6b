"""Sets: grouping reps by ``set_gap_s``, cadence and velocity loss, by hand and through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import synth

from hipflex.dsp import RepEvent, SetEvent, Settings, analyze, finish, init_state, step
from hipflex.dsp.sets import cadence_rpm, make_set, velocity_loss_pct
from hipflex.dsp.types import Rep


def _rep(index: int, peak_s: float, vel: float, start_s: float | None = None, end_s: float | None = None):
    start = peak_s - 0.4 if start_s is None else start_s
    end = peak_s + 0.5 if end_s is None else end_s
    return Rep(index, start, peak_s, end, 80.0, 78.0, 0.2, vel, vel / 2, 0.1, 1.0)


def test_cadence_by_hand() -> None:
    assert cadence_rpm([1.0, 2.0, 3.0]) == pytest.approx(60.0)  # 2 intervals in 2 s
    assert cadence_rpm([10.0, 10.8]) == pytest.approx(75.0)
    assert cadence_rpm([0.0, 1.0, 1.5, 4.0]) == pytest.approx(45.0)  # uses first and last only
    assert cadence_rpm([5.0]) is None
    assert cadence_rpm([]) is None
    assert cadence_rpm([2.0, 2.0]) is None  # no span, no cadence


def test_velocity_loss_by_hand() -> None:
    assert velocity_loss_pct([100.0, 120.0, 90.0]) == pytest.approx(25.0)  # (120 - 90) / 120
    assert velocity_loss_pct([500.0, 400.0]) == pytest.approx(20.0)
    assert velocity_loss_pct([90.0, 100.0]) == 0.0  # the last is the fastest
    assert velocity_loss_pct([300.0]) == 0.0
    assert velocity_loss_pct([]) == 0.0


def test_make_set_summarises_its_reps() -> None:
    reps = [_rep(0, 10.0, 400.0), _rep(1, 11.5, 500.0), _rep(2, 13.0, 350.0)]
    s = make_set(2, reps)
    assert s.index == 2 and s.rep_count == 3 and s.reps == tuple(reps)
    assert s.start_s == reps[0].start_s and s.end_s == reps[-1].end_s
    assert s.cadence_rpm == pytest.approx(60.0 * 2 / 3.0)
    assert s.velocity_loss_pct == pytest.approx(30.0)
    d = s.to_dict()
    assert list(d) == ["index", "start_s", "end_s", "rep_count", "cadence_rpm", "velocity_loss_pct", "reps"]
    assert d["rep_count"] == 3 and d["cadence_rpm"] == 40.0 and d["velocity_loss_pct"] == 30.0
    assert make_set(0, reps[:1]).cadence_rpm is None
    with pytest.raises(ValueError, match="at least one rep"):
        make_set(0, [])


# Two sets of three reps 1.3 s apart, without holds so each peak is a point.
# A quintic smoothstep rise of A deg over r s peaks at 1.875 A / r deg/s; the
# second set slows down (rise 0.30, 0.40, 0.50 s): it loses 1 - 0.30 / 0.50 = 40 %.
SET_BUMPS = [
    *(synth.Bump(3.0 + 1.3 * i, 0.35, 0.0, 0.45, 70.0) for i in range(3)),
    synth.Bump(9.0, 0.30, 0.0, 0.45, 70.0),
    synth.Bump(10.3, 0.40, 0.0, 0.45, 70.0),
    synth.Bump(11.6, 0.50, 0.0, 0.45, 70.0),
]


@pytest.fixture(scope="module")
def two_sets():
    rec = synth.record(SET_BUMPS, 14.0, 100.0, acc_noise_g=0.002, gyr_noise_dps=0.3, seed=12)
    return rec, analyze(rec.samples, Settings(set_gap_s=2.0))


def test_pipeline_splits_sets_at_set_gap(two_sets) -> None:
    rec, analysis = two_sets
    assert [s.rep_count for s in analysis.sets] == [3, 3]
    assert [s.index for s in analysis.sets] == [0, 1]
    for s in analysis.sets:
        assert [r.index for r in s.reps] == [0, 1, 2]
        assert s.start_s == s.reps[0].start_s and s.end_s == s.reps[-1].end_s
    # The gap between the sets (last end to next start) is over 2 s; within a set under.
    first, second = analysis.sets
    assert second.start_s - first.end_s >= 2.0
    # With the default 8 s the same reps are one set.
    assert [s.rep_count for s in analyze(rec.samples, Settings()).sets] == [6]


def test_pipeline_cadence_and_velocity_loss(two_sets) -> None:
    _, analysis = two_sets
    first, second = analysis.sets
    # DESIGN targets: cadence within 1 %, peak flexion velocity within 5 %.
    assert first.cadence_rpm == pytest.approx(60.0 / 1.3, rel=0.01)
    truth_second = 60.0 * 2 / (SET_BUMPS[5].peak_t - SET_BUMPS[3].peak_t)
    assert second.cadence_rpm == pytest.approx(truth_second, rel=0.01)
    for rep, bump in zip(analysis.reps, SET_BUMPS, strict=True):
        assert rep.peak_flexion_velocity_dps == pytest.approx(1.875 * bump.amp_deg / bump.rise_s, rel=0.05)
    assert first.velocity_loss_pct < 5.0  # equal reps
    assert second.velocity_loss_pct == pytest.approx(40.0, abs=3.0)
    # and the contract's formula on the reported velocities, exactly
    v = [r.peak_flexion_velocity_dps for r in second.reps]
    assert second.velocity_loss_pct == pytest.approx((max(v) - v[-1]) / max(v) * 100.0, rel=1e-12)


def test_set_events_close_each_set_once(two_sets) -> None:
    rec, analysis = two_sets
    cfg = Settings(set_gap_s=2.0)
    state = init_state(cfg, True)
    events = []
    s = rec.samples
    for a in range(0, len(s), 64):
        state, ev = step(cfg, state, s.slice(a, a + 64))
        events.extend(ev)
    state, ev = finish(cfg, state)
    events.extend(ev)
    sets = [e.set for e in events if isinstance(e, SetEvent)]
    assert sets == list(analysis.sets)
    reps = [e for e in events if isinstance(e, RepEvent)]
    assert [e.set_index for e in reps] == [0, 0, 0, 1, 1, 1]
    # The first set is announced when the first rep of the next set arrives.
    first_set_at = next(i for i, e in enumerate(events) if isinstance(e, SetEvent))
    assert events.index(reps[3]) == first_set_at + 1
    assert np.isclose(sets[0].end_s, reps[2].rep.end_s)

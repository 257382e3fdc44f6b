"""The analysis contract's invariants (``hipflex.dsp.contract``) over hostile and simulated input.

The pipeline withholds a rep that breaks the contract (it becomes a rejected
candidate ``contract:<kind>``).  That net is not what these properties rest
on: each analysis must have no violation *and* no ``contract:`` rejection,
so the core itself produced none.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipflex.dsp import ImuSamples, Settings, analyze
from hipflex.dsp import _layout as L
from hipflex.dsp.contract import CONTRACT_REASON_PREFIX, rep_violations, set_violations, violations
from hipflex.dsp.pipeline import _absorb, finish, init_state, result, step
from hipflex.dsp.types import Analysis, Rep, RepSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _hostile import HOSTILE_KINDS, RATES_HZ, analyse_in_chunks, hostile, simulated

# ---------------------------------------------------------------------------
# the invariants themselves
# ---------------------------------------------------------------------------

GOOD = Rep(0, 10.0, 10.5, 11.0, 80.0, 78.0, 0.3, 400.0, 156.0, 0.2, 0.9)


def test_a_sound_rep_breaks_nothing() -> None:
    assert rep_violations(GOOD, 20.0, prev_peak_s=9.0) == []


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"peak_s": 10.0}, "order"),
        ({"end_s": 10.4}, "order"),
        ({"rom_deg": -13.0}, "rom"),
        ({"flexion_time_s": 0.0}, "flexion_time"),
        ({"flexion_time_s": 0.6}, "flexion_time"),
        ({"peak_flexion_velocity_dps": -43.0}, "peak_velocity"),
        ({"mean_flexion_velocity_dps": math.nan}, "mean_velocity"),
        ({"hold_s": math.inf}, "finite"),
    ],
)
def test_each_broken_invariant_is_named(changes: dict[str, float], kind: str) -> None:
    bad = Rep(**{**GOOD.__dict__, **changes})
    assert [v.kind for v in rep_violations(bad, 20.0)][:1] == [kind]


def test_a_rep_must_start_after_the_previous_peak() -> None:
    assert [v.kind for v in rep_violations(GOOD, 20.0, prev_peak_s=10.0)] == ["after_peak"]


def test_set_invariants() -> None:
    s = RepSet(0, 10.0, 11.0, None, 0.0, (GOOD,))
    assert set_violations(s, prev_end_s=5.0) == []
    assert [v.kind for v in set_violations(s, prev_end_s=10.0)] == ["set_overlap"]
    narrow = RepSet(0, 10.2, 11.0, None, 0.0, (GOOD,))
    assert [v.kind for v in set_violations(narrow)] == ["set_order"]
    assert [v.kind for v in set_violations(RepSet(0, 10.0, 11.0, math.nan, 0.0, (GOOD,)))] == ["finite"]


def test_the_pipeline_withholds_a_rep_that_breaks_the_contract(caplog: pytest.LogCaptureFixture) -> None:
    # The safety net, fed a rep row by hand: it becomes a rejected candidate and a warning.
    row = np.zeros(L.EV_N)
    row[L.EV_KIND] = L.EV_REP
    row[[L.E_START, L.E_PEAK_T, L.E_END]] = [10.0, 10.5, 11.0]
    row[[L.E_PEAK_DEG, L.E_ROM, L.E_FLEX_T, L.E_PEAK_VEL, L.E_MEAN_VEL]] = [-43.0, -13.0, 0.3, -50.0, -26.0]
    cfg = Settings()
    events: list[object] = []
    with caplog.at_level(logging.WARNING, logger="hipflex.dsp.absorb"):
        state = _absorb(cfg, init_state(cfg, True), row[None, :], events)  # type: ignore[arg-type]
    assert state.n_reps == 0 and not state.open_reps
    assert [r.reason for r in state.rejections] == [CONTRACT_REASON_PREFIX + "rom"]
    assert "breaks the analysis contract" in caplog.text


# ---------------------------------------------------------------------------
# properties over hostile input (generators shared with benchmarks/contract.py)
# ---------------------------------------------------------------------------


def _assert_contract(est: Analysis) -> None:
    bad = violations(est)
    assert bad == [], bad[:5]
    net = [r for r in est.quality.rejections if r.reason.startswith(CONTRACT_REASON_PREFIX)]
    assert net == [], f"the core emitted reps the safety net had to withhold: {net[:5]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(HOSTILE_KINDS),
    fs_hz=st.sampled_from(RATES_HZ),
    dur_s=st.floats(2.0, 45.0),
    gyro=st.booleans(),
    chunked=st.booleans(),
    min_rom_deg=st.sampled_from([20.0, 8.0, 45.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_hostile_input_makes_the_core_break_the_contract(
    kind: str, fs_hz: float, dur_s: float, gyro: bool, chunked: bool, min_rom_deg: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    samples = hostile(kind, rng, fs_hz, dur_s, gyro)
    if len(samples) < 2:
        return
    cfg = Settings(min_rom_deg=min_rom_deg, candidate_deg=min(8.0, min_rom_deg / 2))
    try:
        analysis = analyse_in_chunks(samples, cfg, rng if chunked else None)
    except ValueError as err:
        # The boundary's unit check may refuse it (a still stretch reading,
        # say, 2.6 g is no accelerometer in g): nothing is emitted then, and
        # the refusal says why.  Any other exception fails the test.
        if not str(err).startswith("acc_g must be in g"):
            raise
        return
    _assert_contract(analysis)


# ---------------------------------------------------------------------------
# simulated sessions: every drill, rate, mounting; with and without gyro; whole and chunked
# ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("block", range(4))
def test_simulated_sessions_keep_the_contract(block: int) -> None:
    for k in range(4):
        seed = 7000 + 4 * block + k
        samples = simulated(seed)
        rng = np.random.default_rng(seed) if k % 2 else None  # whole, or in random chunks
        _assert_contract(analyse_in_chunks(samples, Settings(), rng))


# ---------------------------------------------------------------------------
# root causes the properties exposed, each on its own
# ---------------------------------------------------------------------------


def _bursty_garbage() -> ImuSamples:
    """2 s standing, then 28 s of garbage at 400 Hz, stamped on arrival: rows 1 us apart in tens, 25 ms between."""
    rng = np.random.default_rng(0)
    n = 12000
    acc, gyr = rng.uniform(-16.0, 16.0, (n, 3)), rng.uniform(-2000.0, 2000.0, (n, 3))
    acc[:800], gyr[:800] = [0.0, 0.0, 1.0], 0.0
    t = 100.0 + (np.arange(n) // 10) * 0.025 + (np.arange(n) % 10) * 1e-6
    return ImuSamples(t, acc, gyr)


def test_arrival_time_stamps_neither_blow_up_the_history_nor_overrun_it() -> None:
    # The period learned from rows 1 us apart is 1 us: the history ring asked for 2**26
    # rows (8 GB with the accelerometer-only columns), and each 0.2 s jump was bridged
    # with 200,000 rows, which overwrote the rep in progress (reps with start = peak = end).
    cfg = Settings(min_rom_deg=45.0)
    samples = _bursty_garbage()
    state, _ = step(cfg, init_state(cfg, True), samples)
    assert state.kernel is not None and state.kernel.hist.shape[0] <= 1 << 17
    state, _ = finish(cfg, state)
    _assert_contract(result(cfg, state))


def test_an_accelerometer_that_reads_no_gravity_gives_no_calibration_and_no_warning() -> None:
    # All-zero rows (a dead sensor) used to divide by zero while learning "up".
    t = np.arange(500) / 50.0
    est = analyze(ImuSamples(t, np.zeros((500, 3)), np.zeros((500, 3))), Settings())
    assert est.rep_count == 0 and est.quality.calibrated_at_s is None

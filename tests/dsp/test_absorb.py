"""Event rows to typed events (``hipflex.dsp.absorb``): its shortcuts give what the plain code gives."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp.absorb import _REP_COLS, _peak_event, _rep, _rep_event, _self_consistent, absorb_rows
from hipflex.dsp.contract import CONTRACT_REASON_PREFIX, rep_violations
from hipflex.dsp.events import RepEvent, RepPeakEvent
from hipflex.dsp.pipeline import init_state
from hipflex.dsp.types import Rep

_FIELDS = [f.name for f in dataclasses.fields(Rep)]


def _rep_row(start_s: float, peak_s: float, end_s: float, **more: float) -> np.ndarray:
    """A sound rep row (fields in ``more`` replace its values)."""
    values = dict(
        peak_flexion_deg=80.0,
        rom_deg=78.0,
        flexion_time_s=0.3 * (peak_s - start_s),
        peak_flexion_velocity_dps=400.0,
        mean_flexion_velocity_dps=156.0,
        hold_s=0.2,
        confidence=0.9,
    )
    values.update(more)
    row = np.zeros(L.EV_N)
    row[L.EV_KIND] = L.EV_REP
    row[list(_REP_COLS[:10])] = [start_s, peak_s, end_s, *(values[f] for f in _FIELDS[4:])]
    row[L.E_STRIKE_G] = math.nan
    return row


def _as_rep(row: np.ndarray) -> Rep:
    return Rep(0, *row[list(_REP_COLS[:10])].tolist())


def test_a_rep_built_through_its_dict_is_the_rep_its_constructor_builds() -> None:
    values = [3, 10.0, 10.5, 11.0, 80.0, 78.0, 0.3, 400.0, 156.0, 0.2, 0.9]
    fast, plain = _rep(*values), Rep(*values)  # type: ignore[arg-type]
    assert type(fast) is Rep
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert list(vars(fast)) == _FIELDS == list(vars(plain))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.index = 4  # type: ignore[misc]
    assert dataclasses.replace(fast, index=4) == dataclasses.replace(plain, index=4)


def test_events_built_through_their_dict_are_the_events_their_constructors_build() -> None:
    rep = _rep(3, 10.0, 10.5, 11.0, 80.0, 78.0, 0.3, 400.0, 156.0, 0.2, 0.9)
    pairs = [
        (_rep_event(7, 2, rep), RepEvent(7, 2, rep)),
        (_peak_event(7, 10.5, 80.0, 78.0), RepPeakEvent(7, 10.5, 80.0, 78.0)),
    ]
    for fast, plain in pairs:
        assert type(fast) is type(plain)
        assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
        assert vars(fast) == vars(plain)
        assert [f.name for f in dataclasses.fields(plain)] == list(vars(fast))  # every field, none more
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.number = 4  # type: ignore[misc]
    late = dataclasses.replace(pairs[0][0], late=True)
    assert late == RepEvent(7, 2, rep, late=True)


# Values that sit on each invariant's edge, or break it, or are not numbers.
_EDGES = {
    "start_s": [10.0, 10.5, math.nan, -math.inf],
    "peak_s": [10.5, 11.0, math.inf],
    "end_s": [11.0, 10.5, 10.4, math.nan],
    "rom_deg": [78.0, 20.0, 19.999999999999996, -13.0, math.nan],
    "flexion_time_s": [0.3, 0.0, 0.5, -0.1, math.nan],
    "peak_flexion_velocity_dps": [400.0, 0.0, -1.0, 1.7e308],
    "mean_flexion_velocity_dps": [156.0, math.nan, 1.7e308],
    "hold_s": [0.2, math.inf],
}


def test_the_row_wise_check_passes_exactly_the_reps_the_contract_finds_nothing_in() -> None:
    # Every combination of edge values: where the check passes a row, the
    # contract's own test finds nothing in that rep; where it does not, the
    # contract does find something (or the ten numbers' sum overflows, which
    # sends the contract down its itemised path: the check need only be safe).
    names = list(_EDGES)
    rows, reps = [], []
    for combo in itertools.product(*(_EDGES[n] for n in names)):
        v = dict(zip(names, combo, strict=True))
        row = _rep_row(v.pop("start_s"), v.pop("peak_s"), v.pop("end_s"), **v)
        rows.append(row)
        reps.append(_as_rep(row))
    ok = _self_consistent(np.array(rows), 20.0)
    assert ok.any() and not ok.all()
    for passed, rep, row in zip(ok.tolist(), reps, rows, strict=True):
        clean = rep_violations(rep, 20.0) == []
        if passed:
            assert clean, rep
        else:
            values = row[list(_REP_COLS[:10])]
            overflow = math.isinf(sum(values.tolist())) and np.isfinite(values).all()
            assert not clean or overflow, rep


def test_a_sound_rep_that_starts_before_the_last_peak_is_still_withheld() -> None:
    # Its own fields pass the row-wise check; starting before the previous
    # rep's peak is what is left to test per rep.
    cfg = Settings()
    rows = np.array([_rep_row(10.0, 10.5, 11.0), _rep_row(10.4, 11.5, 12.0), _rep_row(12.5, 13.0, 13.6)])
    assert _self_consistent(rows, cfg.min_rom_deg).all()
    events: list[object] = []
    state = absorb_rows(cfg, init_state(cfg, True), rows, events, at_end=True)  # type: ignore[arg-type]
    assert [r.reason for r in state.rejections] == [CONTRACT_REASON_PREFIX + "after_peak"]
    assert [r.start_s for r in state.open_reps] == [10.0, 12.5] and [r.index for r in state.open_reps] == [0, 1]
    assert [e.rep for e in events if isinstance(e, RepEvent)] == list(state.open_reps)


def test_peak_rows_and_rep_rows_keep_their_order() -> None:
    cfg = Settings()
    peak = np.zeros(L.EV_N)
    peak[[L.EV_KIND, L.EP_T, L.EP_PEAK_DEG, L.EP_ROM]] = [L.EV_PEAK, 10.5, 80.0, 30.0]
    later = peak.copy()
    later[[L.EP_T, L.EP_PEAK_DEG]] = [13.0, 70.0]
    rows = np.array([peak, _rep_row(10.0, 10.5, 11.0), later, _rep_row(12.5, 13.0, 13.6)])
    events: list[object] = []
    absorb_rows(cfg, init_state(cfg, True), rows, events)  # type: ignore[arg-type]
    assert [type(e) for e in events] == [RepPeakEvent, RepEvent, RepPeakEvent, RepEvent]
    assert events[0] == RepPeakEvent(0, 10.5, 80.0, 30.0) and events[2] == RepPeakEvent(1, 13.0, 70.0, 30.0)
    assert [e.number for e in events if isinstance(e, RepEvent)] == [0, 1]

"""``gait_swing.replaced_state``, the walking classifier's per-rep copy of its state, is ``dataclasses.replace``."""

from __future__ import annotations

import dataclasses
import math

import pytest
from gait_kit import run_swings

import hipflex.dsp.gait as gait
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gait import GaitState
from hipflex.dsp.gait_swing import replaced_state
from hipflex.dsp.types import Rep, Walk

S = Settings()


def _swing(peak_s: float, peak_deg: float, low_deg: float, rise_s: float = 0.4) -> Rep:
    return Rep(0, peak_s - rise_s, peak_s, peak_s + rise_s, peak_deg, peak_deg - low_deg, 0.2, 100.0, 50.0, 0.1, 1.0)


def test_replaced_is_dataclasses_replace_and_leaves_the_original_alone() -> None:
    g = GaitState(peaks_s=(1.0, 2.1), start_s=0.6, end_s=2.5, walks=(Walk(0.0, 1.0, 2),), lead=True)
    before = dict(g.__dict__)
    out = replaced_state(g, last_s=7.5, struck_run=True)
    want = dataclasses.replace(g, last_s=7.5, struck_run=True)
    assert out == want
    assert list(out.__dict__.items()) == list(want.__dict__.items())  # the same fields, in the same order
    assert out.__dict__ is not g.__dict__
    assert g.__dict__ == before  # the original is not touched
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.last_s = 0.0  # type: ignore[misc]
    assert hash(out) == hash(want)
    assert math.isnan(replaced_state(g, last_s=math.nan).last_s)


def test_a_classifier_run_is_the_same_with_dataclasses_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    # A drill set, a walk (first step from standing, steps from extension), a candidate on the walk's rhythm,
    # then another set: every path that copies the state per rep.
    swings: list[Rep | float] = [_swing(1.0 + 1.5 * i, 60.0, 0.0) for i in range(6)]
    swings += [_swing(20.0, 30.0, 0.0)] + [_swing(21.1 + 1.1 * i, 30.0, -10.0) for i in range(5)]
    swings += [27.7] + [_swing(40.0 + 2.0 * i, 45.0, 0.0) for i in range(4)]

    def run() -> tuple[list[Rep], list[Rep], GaitState]:
        return run_swings(S, swings)

    fast = run()
    monkeypatch.setattr(gait, "replaced_state", lambda g, **changes: dataclasses.replace(g, **changes))
    assert run() == fast
    assert fast[1] and fast[0]  # the run has both steps and counted reps

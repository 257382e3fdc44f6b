"""The collector is paused during a whole-recording analysis, and that loses nothing (dsp/_gc_pause.py)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
import synth

import hipflex.dsp.pipeline as pipeline
from hipflex.dsp import analyze
from hipflex.dsp._gc_pause import collector_paused

FS_HZ = 50.0
BUMPS = synth.drill(4, start_s=3.0, period_s=1.3, amp_deg=70.0)


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("gyro", [True, False])
def test_an_analysis_leaves_no_cycles(gyro: bool, collector_on: None) -> None:
    # Pausing the collector is free only if the analysis makes no garbage that
    # reference counting cannot free: nothing may be left for gc to find.
    rec = synth.record(BUMPS, 10.0, FS_HZ, gyro=gyro, acc_noise_g=0.003, gyr_noise_dps=0.5, seed=7)
    analyze(rec.samples)  # first: whatever one-off caches it fills
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.disable()
        result = analyze(rec.samples)
        assert result.rep_count == 4
        del result
        found = gc.collect()
        kinds = sorted({type(o).__name__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert found == 0, kinds


def test_the_collector_is_off_during_an_analysis_and_on_after(
    monkeypatch: pytest.MonkeyPatch, collector_on: None
) -> None:
    seen: list[bool] = []
    step = pipeline.step

    def spy(*args: object) -> object:
        seen.append(gc.isenabled())
        return step(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "step", spy)
    analyze(synth.record(BUMPS, 10.0, FS_HZ, gyro=True, seed=7).samples)
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(collector_on: None) -> None:
    gc.disable()
    analyze(synth.record(BUMPS, 10.0, FS_HZ, gyro=True, seed=7).samples)
    assert not gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("an analysis that fails")
    assert not gc.isenabled()


def test_overlapping_analyses_resume_it_only_when_the_last_ends(collector_on: None) -> None:
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(10.0)

    th = threading.Thread(target=other)
    th.start()
    assert inside.wait(10.0)
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's analysis still runs
    release.set()
    th.join()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("an analysis that fails")
    assert gc.isenabled()


def test_numba_compiles_with_the_collector_on(collector_on: None) -> None:
    # Its compiler makes cycles: paused throughout, a first analysis of a fresh
    # install peaked 230 MB higher.
    from numba.core import event

    with collector_paused():
        assert not gc.isenabled()
        with event.trigger_event("numba:compile", data={}):
            assert gc.isenabled()
            with event.trigger_event("numba:compile", data={}):  # a callee
                assert gc.isenabled()
            assert gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector_paused(), event.trigger_event("numba:compile", data={}):
        assert not gc.isenabled()  # the caller's choice stands

"""Issue 19 on the real recordings: every set named, and naming never changes what is counted."""

from __future__ import annotations

from pathlib import Path

import pytest
import real_kit

from hipflex.dsp import Settings, analyze, pipeline

pytestmark = pytest.mark.shared_data


@pytest.mark.parametrize(("dataset", "min_rom_deg"), [("bilkent", 10.0), ("utd_mhad", 20.0), ("hugadb", 20.0)])
def test_real_sets_are_named_and_counted_as_without_names(
    shared_data: Path, dataset: str, min_rom_deg: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(min_rom_deg=min_rom_deg)
    cases = list(real_kit.cases(shared_data, dataset).values())
    if not cases:
        pytest.skip(f"no {dataset} recordings under {shared_data}")
    named = [analyze(c.samples, settings) for c in cases]
    monkeypatch.setattr(pipeline, "describe_sets", lambda sets, *_: sets)
    plain = [analyze(c.samples, settings) for c in cases]
    n_sets = 0
    for a, b in zip(named, plain, strict=True):
        assert a.rep_count == b.rep_count
        assert [s.reps for s in a.sets] == [s.reps for s in b.sets]
        for s in a.sets:
            assert s.description is not None and s.description.recognised_from
            assert s.description.pose in (*s.description.pose_candidates, "unknown")
            n_sets += 1
    assert n_sets > 0

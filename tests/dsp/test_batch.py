"""``analyze_many`` gives each recording exactly what ``analyze`` gives it alone."""

from __future__ import annotations

import concurrent.futures as cf
import json
from typing import Any

import pytest

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.batch import analyze_many
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.sensor.sim.simulate import simulate_drill


def _recordings() -> list[ImuSamples]:
    """Short sessions of different drills, rates and sensors (with and without gyro)."""
    cases = [("ballistic", 52.0, True, 3), ("march", 100.0, False, 4), ("hold", 25.0, True, 5),
             ("strength", 52.0, False, 6)]  # fmt: skip
    return [simulate_drill(d, fs_hz=rate_hz, has_gyro=g, seed=s, n_sets=1).samples for d, rate_hz, g, s in cases]


def _exact(a: Analysis) -> str:
    # JSON text, so that NaN metrics compare equal and every float is compared to the last bit.
    return json.dumps(a.to_dict(), sort_keys=True)


@pytest.fixture(scope="module")
def recordings() -> list[ImuSamples]:
    return _recordings()


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["threads", "given-executor"])
def test_each_result_is_the_one_at_a_time_analysis(recordings: list[ImuSamples], pool: str) -> None:
    settings = Settings()
    names = [f"rec{i}.csv" for i in range(len(recordings))]
    alone = [_exact(analyze(r, settings, n)) for r, n in zip(recordings, names, strict=True)]
    if pool == "threads":
        batch = analyze_many(recordings, settings, names, workers=2)
    else:
        with cf.ThreadPoolExecutor(max_workers=3) as executor:
            batch = analyze_many(recordings, settings, names, executor=executor)
    assert [_exact(a) for a in batch] == alone  # same order, same bits
    assert [a.source for a in batch] == names
    assert sum(a.rep_count for a in batch) > 0  # the comparison is over real reps, not empty results


def test_a_bad_recording_fails_alone_or_stops_the_batch(recordings: list[ImuSamples]) -> None:
    bad: Any = "not samples"
    mixed = [recordings[0], bad, recordings[1]]
    out = analyze_many(mixed, workers=2, return_exceptions=True)
    assert isinstance(out[1], TypeError)
    assert [_exact(out[i]) for i in (0, 2)] == [_exact(analyze(recordings[i])) for i in (0, 1)]  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        analyze_many(mixed, workers=2)


def test_arguments_are_checked() -> None:
    assert analyze_many([]) == []
    with pytest.raises(ValueError, match="2 sources for 1 recordings"):
        analyze_many([ImuSamples.__new__(ImuSamples)], sources=["a", "b"])
    with pytest.raises(ValueError, match="workers must be at least 1"):
        analyze_many([ImuSamples.__new__(ImuSamples)], workers=0)

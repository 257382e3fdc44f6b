"""LiveDecoder: record-by-record decoding equals decode_capture, including the gyroscope merge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.log import read_capture
from hipflex.sensor.capture.replay import CaptureGap, decode_capture
from hipflex.sensor.live.decode import LiveDecoder, NearestMerger
from hipflex.sensor.merge import merge_acc_gyro

REPO = Path(__file__).resolve().parents[3]
H10_FIXTURE = REPO / "fixtures" / "h10" / "sim_ballistic" / "capture.jsonl"


def merge_in_pieces(ta: Any, a: Any, tg: Any, g: Any, period_s: float, cuts_a: Any, cuts_g: Any) -> Any:
    """Feed both streams in the given pieces, interleaved by time of arrival."""
    merger = NearestMerger(period_s, period_s)
    pieces = [("a", s) for s in np.split(np.arange(ta.size), cuts_a)] + [
        ("g", s) for s in np.split(np.arange(tg.size), cuts_g)
    ]
    pieces = [p for p in pieces if p[1].size]
    # A piece "arrives" when its last sample is taken; ties: gyroscope first or last at random.
    pieces.sort(key=lambda p: (ta if p[0] == "a" else tg)[p[1][-1]])
    out = []
    for kind, idx in pieces:
        if kind == "a":
            merger.add_acc(ta[idx], a[idx])
        else:
            merger.add_gyro(tg[idx], g[idx])
        got = merger.take()
        if got is not None:
            out.append(got)
    tail = merger.finish()
    if tail is not None:
        out.append(tail)
    return (
        np.concatenate([o.time_s for o in out]),
        np.concatenate([o.acc_g for o in out]),
        np.concatenate([o.gyr_dps for o in out]),
    )


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_cuts_a=st.integers(0, 30),
    n_cuts_g=st.integers(0, 30),
    gyro_delay=st.floats(-0.05, 0.05),
    hole=st.tuples(st.integers(0, 300), st.integers(0, 40)),
)
def test_incremental_merge_equals_the_batch_merge(
    seed: int, n_cuts_a: int, n_cuts_g: int, gyro_delay: float, hole: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    period = 1 / 52
    n = 400
    ta = 3.0 + np.arange(n) * period + rng.uniform(-1e-4, 1e-4, n)
    tg = 3.0 + gyro_delay + np.arange(n + 7) * period
    keep = np.ones(tg.size, bool)
    keep[hole[0] : hole[0] + hole[1]] = False  # a hole in the gyroscope stream
    tg = tg[keep]
    a, g = rng.normal(size=(ta.size, 3)), rng.normal(size=(tg.size, 3))
    cuts_a = np.sort(rng.integers(1, ta.size, n_cuts_a))
    cuts_g = np.sort(rng.integers(1, tg.size, n_cuts_g))
    t, acc, gyr = merge_in_pieces(ta, a, tg, g, period, cuts_a, cuts_g)
    batch = merge_acc_gyro(ta, a, tg, g, acc_period_s=period, gyr_period_s=period)
    np.testing.assert_array_equal(t, batch.time_s)
    np.testing.assert_array_equal(acc, batch.acc_g)
    np.testing.assert_array_equal(gyr, batch.gyr_dps)


def test_without_any_gyroscope_the_rows_pass_alone() -> None:
    merger = NearestMerger(0.01, 0.01)
    merger.add_acc(np.arange(5, dtype=np.float64) * 0.01, np.zeros((5, 3)))
    assert merger.take() is None and merger.pending_rows == 5
    tail = merger.finish()
    assert tail is not None and tail.gyr_dps is None and len(tail) == 5


def test_different_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="same rate"):
        NearestMerger(1 / 52, 1 / 104)


def test_record_by_record_equals_decode_capture_on_the_h10_fixture() -> None:
    capture = read_capture(H10_FIXTURE)
    decoder = LiveDecoder(capture.header)
    parts: list[ImuSamples] = []
    gaps: list[CaptureGap] = []
    for rec in capture.records:
        update = decoder.feed(rec)
        gaps += update.gaps
        if update.samples is not None:
            parts.append(update.samples)
    assert decoder.finish() is None  # no gyroscope: nothing held back
    batch = decode_capture(capture)
    np.testing.assert_array_equal(np.concatenate([p.time_s for p in parts]), batch.samples.time_s)
    np.testing.assert_array_equal(np.concatenate([p.acc_g for p in parts]), batch.samples.acc_g)
    assert tuple(gaps) == batch.gaps and len(gaps) == 2  # the two notifications lost in flight
    assert decoder.decoded_notifications == batch.decoded_notifications

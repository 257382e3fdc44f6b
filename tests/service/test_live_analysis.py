"""``warm_up``: the analysis kernels exist before a live stream's first chunk needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hipflex.service import live_analysis
from hipflex.service.live_analysis import LiveAnalysis, warm_up

REPO = Path(__file__).resolve().parents[2]
CAPTURES = sorted(REPO.glob("fixtures/*/*/capture.jsonl"))

# Run in a fresh interpreter: in this one, earlier tests have long since compiled everything.
# It lists every numba kernel of hipflex.dsp with the signatures it holds (compiled, or loaded
# from the on-disk cache) on a fresh start, after warm_up(), and after a live analysis of each
# capture in the chunks its live client delivered.
_PROBE = """
import importlib, json, pkgutil, sys
from numba.core.dispatcher import Dispatcher
import hipflex.dsp
from hipflex.sensor.capture.log import read_capture
from hipflex.service.live_analysis import LiveAnalysis, warm_up
from hipflex.sensor.live.decode import LiveDecoder

kernels = {}
for info in pkgutil.iter_modules(hipflex.dsp.__path__, "hipflex.dsp."):
    for obj in vars(importlib.import_module(info.name)).values():
        if isinstance(obj, Dispatcher):
            kernels[obj.py_func.__module__ + "." + obj.py_func.__name__] = obj

def signatures():
    return {name: sorted(map(str, k.signatures)) for name, k in kernels.items()}

fresh = signatures()
warm_up()
warmed = signatures()
streamed = {}
for path in sys.argv[1:]:
    capture = read_capture(path)
    decoder, analysis = LiveDecoder(capture.header), LiveAnalysis()
    for record in capture.records:
        chunk = decoder.feed(record).samples
        if chunk is not None:
            analysis.feed_sync(chunk)
            streamed.setdefault(path, signatures())  # right after the first chunk
    tail = decoder.finish()
    if tail is not None:
        analysis.feed_sync(tail)
    analysis.finish_sync()
print(json.dumps({"fresh": fresh, "warmed": warmed, "first_chunk": streamed, "end": signatures()}))
"""


@pytest.mark.slow
def test_after_warm_up_the_first_live_chunk_compiles_nothing() -> None:
    assert len(CAPTURES) >= 3  # H10 (accelerometer only), Verity Sense and MetaMotion (with gyroscope)
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, CAPTURES)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert not any(seen["fresh"].values())  # a fresh process starts with no kernel at all
    warmed = {name for name, sigs in seen["warmed"].items() if sigs}
    loops = {"hipflex.dsp._kern_run._run_chunk_gyro", "hipflex.dsp._kern_run._run_chunk_acc"}  # both modes
    assert {*loops, "hipflex.dsp._kern_reps._catch_up"} <= warmed
    assert {"hipflex.dsp.quiet_window._scan_quiet", "hipflex.dsp.learn._scan_lock_gyro"} <= warmed
    for path, after_first in seen["first_chunk"].items():
        assert after_first == seen["warmed"], path
    assert seen["end"] == seen["warmed"]  # nor does the rest of the stream, gaps and all


def test_warm_up_in_the_background_returns_a_future_that_completes() -> None:
    future = warm_up(background=True)
    assert future.result(timeout=600) is None
    assert warm_up().done()


def test_a_failed_warm_up_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: LiveAnalysis, samples: object) -> None:
        raise RuntimeError("no kernels today")

    monkeypatch.setattr(LiveAnalysis, "feed_sync", broken)
    monkeypatch.setattr(live_analysis, "_ready", set())  # as in a fresh process
    assert warm_up(background=True).result(timeout=60) is None
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)

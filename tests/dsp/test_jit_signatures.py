"""Each kernel is compiled once per analysis: no second copy for a constant argument.

numba types a constant passed from one kernel to another as a literal
(``Literal[int](0)``) and compiles the called kernel once per distinct literal: a
whole second copy of it and of what it calls, which made the first run slower
(benchmarks/README.md, "The first run").  The kernels pass such constants through
``int()``; this checks, in a fresh process, that analysing a recording with gyro and
one without leaves every kernel of ``hipflex.dsp`` with one signature at most.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CODE = """
import json, sys
from hipflex.dsp import ImuSamples, analyze
from hipflex.sensor.sim.simulate import simulate_drill
s = simulate_drill("ballistic", fs_hz=52.0, seed=1, n_sets=1).samples
analyze(s)
analyze(ImuSamples(s.time_s, s.acc_g, None))
from numba.core.registry import CPUDispatcher
counts = {}
for name, mod in list(sys.modules.items()):
    if name.startswith("hipflex.dsp.") and mod is not None:
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                counts[name + "." + obj.__name__] = [str(sig) for sig in obj.signatures]
print(json.dumps(counts))
"""


@pytest.mark.slow
def test_every_kernel_has_one_signature_after_both_kinds_of_analysis() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert "hipflex.dsp._kern_reps._catch_up" in counts  # the listing found the kernels
    assert len(counts["hipflex.dsp._kern_run._run_chunk_gyro"]) == 1  # and they ran
    assert len(counts["hipflex.dsp._kern_run._run_chunk_acc"]) == 1
    several = {name: sigs for name, sigs in counts.items() if len(sigs) > 1}
    assert several == {}

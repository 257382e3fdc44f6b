"""The compile groups name the kernels the analysis compiles, with the argument types it compiles them for.

A first run compiles the groups ahead (two processes, ``hipflex.service.first_run``);
a kernel missing from them, or listed with other argument types than the analysis
uses, would be compiled again in the middle of the analysis (or compiled for
nothing).  In a fresh process with an empty cache: after the groups, analysing a
recording with gyro and one without compiles no further hipflex kernel, and each
listed kernel, and each kernel they call, has its one signature.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = """
import json, sys
from numba.core import event
from hipflex.dsp import ImuSamples, analyze
from hipflex.dsp._precompile import GROUPS, compile_group
from hipflex.sensor.sim.simulate import simulate_drill

for name in GROUPS:
    compile_group(name)
later = []

class Later(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        func = ev.data["dispatcher"].py_func
        if func.__module__.startswith("hipflex."):
            later.append(func.__module__ + "." + func.__qualname__)

event.register("numba:compile", Later())
s = simulate_drill("ballistic", fs_hz=52.0, seed=1, n_sets=1).samples
analyze(s)
analyze(ImuSamples(s.time_s, s.acc_g, None))
import importlib
sigs = {}
for group in GROUPS.values():
    for module, kernel, _ in group:
        disp = getattr(importlib.import_module("hipflex.dsp." + module), kernel)
        sigs[module + "." + kernel] = len(disp.signatures)
# Every kernel the analysis reached, listed or called by one: one signature each (a constant
# argument passed to a kernel is typed as a literal, and each literal compiles the callee again).
from numba.core.registry import CPUDispatcher
more = {}
for name, mod in list(sys.modules.items()):
    if name.startswith("hipflex.dsp.") and mod is not None:
        for obj in list(vars(mod).values()):
            if isinstance(obj, CPUDispatcher) and obj.__module__ == name and len(obj.signatures) > 1:
                more[name + "." + obj.py_func.__qualname__] = [str(s) for s in obj.signatures]
print(json.dumps({"later": later, "sigs": sigs, "more": more}))
"""


@pytest.mark.slow
def test_after_the_groups_the_analysis_compiles_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["later"] == []
    assert set(got["sigs"].values()) == {1}
    assert got["more"] == {}


COMMON = """
import importlib, json
from hipflex.dsp import ImuSamples, analyze
from hipflex.dsp._precompile import GROUPS, load_common
from hipflex.sensor.sim.simulate import simulate_drill

def loaded():
    return {
        module + "." + kernel
        for group in GROUPS.values()
        for module, kernel, _ in group
        if getattr(importlib.import_module("hipflex.dsp." + module), kernel).signatures
    }

load_common()
before = loaded()
s = simulate_drill("ballistic", fs_hz=52.0, seed=1, n_sets=1).samples
analyze(s)
analyze(ImuSamples(s.time_s, s.acc_g, None))
print(json.dumps(sorted(loaded() - before)))
"""


def test_an_analysis_calls_from_python_only_the_kernels_loaded_ahead() -> None:
    """What ``hipflex analyze`` leaves out before forking its workers, each worker would load again."""
    out = subprocess.run([sys.executable, "-c", COMMON], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

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

# Shared by the scripts below: ``later`` lists the hipflex kernels numba compiles from here on.
LATER = """
from numba.core import event
later = []

class Later(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        func = ev.data["dispatcher"].py_func
        if func.__module__.startswith("hipflex."):
            later.append(func.__module__ + "." + func.__qualname__)

event.register("numba:compile", Later())
"""

CODE = (
    """
import json, sys
from hipflex.dsp import ImuSamples, analyze
from hipflex.dsp._precompile import GROUPS, compile_group
from hipflex.sensor.sim.simulate import simulate_drill

for name in GROUPS:
    compile_group(name)
"""
    + LATER
    + """
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
)


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


# The analysis of one recording, in a fresh process on an empty cache: the hipflex kernels it
# compiled (numba's compile events) and the cache's index files (one per kernel compiled).
MODE_CODE = (
    """
import json, sys
from pathlib import Path
from hipflex.dsp import ImuSamples, analyze
from hipflex.sensor.sim.simulate import simulate_drill

gyro = sys.argv[1] == "gyro"
if sys.argv[2] == "groups":
    from hipflex.dsp._precompile import GROUPS, compile_group

    for name in GROUPS:
        compile_group(name, gyro)
"""
    + LATER
    + """
s = simulate_drill("ballistic", fs_hz=52.0, seed=1, n_sets=1).samples
analyze(s if gyro else ImuSamples(s.time_s, s.acc_g, None))
index = sorted(p.name for p in Path(sys.argv[3]).rglob("*.nbi"))
print(json.dumps({"later": later, "index": index}))
"""
)

# Kernels of one mode only, as their cache index files begin (module.qualname-).
GYRO_ONLY = (
    "_kern_filters._tilt_step-",
    "_kern_axis._decide-",
    "_kern_axis._yaw_step-",
    "_kern_gyro_frame._fit_lever-",
)
ACC_ONLY = (
    "_kern_pendulum._pendulum_step-",
    "_kern_axis_acc._acc_watch-",
    "_kern_axis_acc._acc_decide-",
    "_kern_gap_acc._apg_finish-",
    "angle_rate_lever._rate_block_sums-",
)


def _analyse_one_mode(tmp_path: Path, mode: str, groups: str) -> dict[str, list[str]]:
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", MODE_CODE, mode, groups, str(cache)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    got: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


@pytest.mark.slow
def test_a_recording_with_a_gyro_compiles_no_accelerometer_only_kernel(tmp_path: Path) -> None:
    # The main loop called both modes' per-sample filters, post-gap windows and axis
    # watches, and numba compiled all of them with it: a gyro recording's first run
    # compiled ~3.5 s of kernels it never runs (benchmarks/README.md, "firstrun25").
    index = _analyse_one_mode(tmp_path, "gyro", "none")["index"]
    assert any(name.startswith(GYRO_ONLY) for name in index)  # the listing sees the kernels
    assert [name for name in index if name.startswith(ACC_ONLY)] == []


@pytest.mark.slow
def test_a_recording_without_a_gyro_compiles_no_gyro_kernel(tmp_path: Path) -> None:
    # The lock scan called the tilt filter in both modes too (one kernel for both).
    index = _analyse_one_mode(tmp_path, "acc", "none")["index"]
    assert any(name.startswith(ACC_ONLY) for name in index)
    assert [name for name in index if name.startswith(GYRO_ONLY)] == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gyro", "acc"])
def test_one_modes_groups_are_what_its_analysis_compiles(tmp_path: Path, mode: str) -> None:
    """After the groups of one mode, its analysis compiles nothing more, and nothing of the other mode was."""
    from hipflex.dsp._precompile import ONLY, groups

    got = _analyse_one_mode(tmp_path, mode, "groups")
    assert got["later"] == []
    other = [f"{module}.{kernel}" for rows in groups(mode != "gyro").values() for module, kernel, _ in rows]
    other = [name for name in other if ONLY.get(name) == (mode != "gyro")]
    assert other  # the other mode has kernels of its own
    named = tuple(f"{module}.{kernel.removesuffix('_called')}-" for module, kernel in (n.split(".") for n in other))
    assert [name for name in got["index"] if name.startswith(named)] == []


def test_each_mode_has_every_kernel_but_the_other_modes() -> None:
    from hipflex.dsp._precompile import GROUPS, ONLY, groups

    rows = {f"{module}.{kernel}" for group in GROUPS.values() for module, kernel, _ in group}
    assert set(ONLY) - rows <= {  # kernels only a listed kernel of one mode calls
        "_kern_gap_acc._stride_rows",
        "_kern_gap_acc._restart",
        "_kern_gap_acc._rerun",
        "_kern_gap_acc._state_from_row",
        "_kern_axis_acc._refilter",
    }
    for gyro in (True, False):
        mine = {f"{module}.{kernel}" for group in groups(gyro).values() for module, kernel, _ in group}
        assert mine == {name for name in rows if ONLY.get(name, gyro) == gyro}
        assert groups(gyro).keys() == GROUPS.keys()
    assert groups(None) == GROUPS

"""numba's set-up for processes that load kernels from the cache (dsp/_numba_setup.py).

Each check runs a fresh interpreter (numba sets itself up once per process) with its own
``NUMBA_CACHE_DIR``, and records what numba does there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CODE = """
import json
import numba
import numpy as np
from numba.core import codegen

finalized = []
real = codegen.CPUCodeLibrary.finalize

def spy(self):
    finalized.append(self.name)
    return real(self)

codegen.CPUCodeLibrary.finalize = spy
import hipflex.dsp  # installs the cache
from numba.core.registry import cpu_target
from numba.core.runtime import nrt

nrt.rtsys.initialize(cpu_target.target_context)

@numba.njit
def uses_the_runtime(n):
    a = np.arange(n, dtype=np.float64)  # allocation and reference counts: NRT
    b = a
    return b.sum() + a.size

print(json.dumps({"finalized": finalized, "value": float(uses_the_runtime(5))}))
"""


def _run(cache_dir: Path) -> dict[str, object]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    got: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def _cached(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("numba_nrt-*.bin"))


def test_the_runtime_module_is_compiled_once_then_loaded(tmp_path: Path) -> None:
    cache_dir = tmp_path / "numba-cache"
    first = _run(cache_dir)
    assert "nrt" in first["finalized"]  # type: ignore[operator]
    assert len(_cached(cache_dir)) == 1
    second = _run(cache_dir)
    assert "nrt" not in second["finalized"]  # type: ignore[operator]
    # The loaded runtime serves code compiled afterwards (linked against it), with the same result.
    assert "uses_the_runtime" in " ".join(second["finalized"])  # type: ignore[arg-type]
    assert first["value"] == second["value"] == 15.0


def test_a_damaged_cache_file_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    cache_dir = tmp_path / "numba-cache"
    _run(cache_dir)
    (path,) = _cached(cache_dir)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    again = _run(cache_dir)
    assert "nrt" in again["finalized"]  # type: ignore[operator]
    assert again["value"] == 15.0
    assert path.read_bytes() == good


KERNEL = """
import numba
import numpy as np


@numba.njit(cache=True)
def total(n):
    return np.arange(n, dtype=np.float64).sum()  # allocates: needs the runtime
"""

LOAD = """
import json
import numba
import numpy as np
import hipflex.dsp  # installs the set-up
from numba.core.registry import cpu_target

ctx = cpu_target.target_context
refreshed = []
real = type(ctx).refresh

def spy(self):
    refreshed.append(1)
    return real(self)

type(ctx).refresh = spy
import cached_kernel

value = float(cached_kernel.total(6))
loads = sum(cached_kernel.total.stats.cache_hits.values())
after_load = len(refreshed)

@numba.njit
def fresh(n):  # compiled here, after the cache load: the registries load then
    return np.ones(n).sum()

print(json.dumps({"value": value, "loads": loads, "refreshed": after_load, "fresh": float(fresh(4))}))
"""


def test_a_cache_load_does_not_load_the_compiler_registries(tmp_path: Path) -> None:
    (tmp_path / "cached_kernel.py").write_text(KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    runs = []
    for _ in range(2):  # the first compiles and caches the kernel, the second loads it
        out = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=600, env=env)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["loads"] == 0 and first["refreshed"] > 0  # compiling refreshes, as numba always does
    assert second["loads"] == 1 and second["refreshed"] == 0
    assert first["value"] == second["value"] == 15.0
    assert second["fresh"] == 4.0


LEAN_LOAD = """
import json
import sys
import numba
import numpy as np
import hipflex.dsp  # installs the set-up
from numba.core import environment, event
from numba.core.registry import cpu_target
from numba.core.runtime import nrt

nrt.rtsys.initialize(cpu_target.target_context)  # numba's runtime first: its set-up calls LLVM once per process
ARRAY_MATHS = ("numba.np.arrayobj", "numba.np.arraymath", "numba.np.linalg")
lock_events = []
real_start = event.start_event

def count(kind, data=None):
    if kind == "numba:llvm_lock":
        lock_events.append(1)
    return real_start(kind, data)

event.start_event = count
import cached_kernel

value = float(cached_kernel.total(6))
loaded = {
    "loads": sum(cached_kernel.total.stats.cache_hits.values()),
    "array_maths": sorted(m for m in ARRAY_MATHS if m in sys.modules),
    "lock_events": len(lock_events),
}

@numba.njit
def fresh(n):  # compiled here: the array maths load now, without SciPy's linear algebra
    return np.ones(n).sum()

fresh_value = float(fresh(4))
import numba.np.arraymath as arraymath
# The environments loaded before their module was imported have its globals now.
envs = [e for e in list(environment.Environment._memo.values()) if e.globals.get("__name__") in ARRAY_MATHS]
filled = all(e.globals.get("__file__") == sys.modules[e.globals["__name__"]].__file__ for e in envs)
print(json.dumps({"value": value, **loaded, "fresh": fresh_value, "blas": arraymath._HAVE_BLAS,
                  "scipy_linalg": "scipy.linalg" in sys.modules, "envs": len(envs), "filled": filled,
                  "compile_lock_events": len(lock_events) > loaded["lock_events"]}))
"""


def test_a_cache_load_imports_no_array_maths_and_keeps_llvm_quiet(tmp_path: Path) -> None:
    (tmp_path / "cached_kernel.py").write_text(KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    runs = []
    for _ in range(2):  # the first compiles and caches the kernel, the second loads it
        out = subprocess.run([sys.executable, "-c", LEAN_LOAD], capture_output=True, text=True, timeout=600, env=env)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["loads"] == 0 and second["loads"] == 1
    # The load: numba's array maths (0.05 s of CPU) not imported, no LLVM lock events broadcast.
    assert second["array_maths"] == [] and second["lock_events"] == 0
    assert first["array_maths"] != []  # (the compile of the first run imports them)
    assert first["value"] == second["value"] == 15.0
    # A compile afterwards: the array maths without scipy.linalg, the loaded environments filled in,
    # numba's compile timers served by the lock events.
    assert second["fresh"] == 4.0 and second["blas"] is True and second["scipy_linalg"] is False
    assert second["envs"] >= 2 and second["filled"] is True
    assert second["compile_lock_events"] is True

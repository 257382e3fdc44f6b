"""numba's runtime module comes from the cache in every process after the first (dsp/_nrt_cache.py).

Each check runs a fresh interpreter (the runtime is set up once per process) with its own
``NUMBA_CACHE_DIR``, and records which code libraries LLVM finalises (compiles) there.
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

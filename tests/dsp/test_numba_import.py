"""numba imported lean (dsp/_numba_import.py) and extensions looked up at the first compile (_numba_setup).

Each check runs in a fresh interpreter: what matters is what a process imports.  These tests also
fail if numba changes the internals they rely on (the version check's ``import scipy``, the
configuration's ``import yaml``, the dispatcher's ``_compilation_chain_init_hook``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _run(code: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=cwd, env=env or dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    got: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


IMPORT = """
import json, sys, types
import hipflex.dsp
meta = sys.modules["importlib.metadata"]
before = {
    "scipy": "scipy" in sys.modules,
    "yaml": "yaml" in sys.modules,
    "metadata_loaded": type(meta) is types.ModuleType,
}
import numba.core.config as config
import scipy, yaml, importlib.metadata
print(json.dumps({
    **before,
    "scipy_version": scipy.__version__,
    "yaml_loads": yaml.safe_load("a: 1"),
    "numpy_version_found": importlib.metadata.version("numpy") == __import__("numpy").__version__,
    "perf_warnings_off": config.DISABLE_PERFORMANCE_WARNINGS,
}))
"""


def test_importing_the_core_leaves_scipy_yaml_and_metadata_unloaded_but_importable(tmp_path: Path) -> None:
    got = _run(IMPORT, tmp_path)
    assert got["scipy"] is False and got["yaml"] is False and got["metadata_loaded"] is False
    assert got["scipy_version"] and got["yaml_loads"] == {"a": 1} and got["numpy_version_found"] is True


def test_a_numba_config_file_is_still_read(tmp_path: Path) -> None:
    (tmp_path / ".numba_config.yaml").write_text("disable_performance_warnings: 1\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_PERFORMANCE_WARNINGS"}
    got = _run(IMPORT, tmp_path, env)
    assert got["yaml"] is True  # numba read the file with PyYAML, as without hipflex
    assert got["perf_warnings_off"] == 1


KERNEL = """
import numpy as np
from hipflex.dsp._jit import njit


@njit
def total(n):
    return np.arange(n, dtype=np.float64).sum()
"""

LOAD = """
import json, sys, types
import cached_kernel  # imports hipflex.dsp, numba with it
import numba
import numpy as np
import numba.core.entrypoints as entrypoints

value = float(cached_kernel.total(6))
loads = sum(cached_kernel.total.stats.cache_hits.values())
after_call = {
    "metadata_loaded": type(sys.modules["importlib.metadata"]) is types.ModuleType,
    "extensions_looked_up": entrypoints._already_initialized,
}

@numba.njit
def fresh(n):  # another package's kernel, compiled: numba looks for extensions first, as always
    return np.ones(n).sum()

print(json.dumps({
    "value": value, "loads": loads, **after_call, "fresh": float(fresh(4)),
    "extensions_after_compile": entrypoints._already_initialized,
}))
"""


def test_a_cache_load_does_not_look_for_numba_extensions(tmp_path: Path) -> None:
    (tmp_path / "cached_kernel.py").write_text(KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    first, second = (_run(LOAD, tmp_path, env) for _ in range(2))  # compiles and caches, then loads
    assert first["loads"] == 0 and first["extensions_looked_up"] is True  # a compile looks them up
    assert second["loads"] == 1
    assert second["extensions_looked_up"] is False and second["metadata_loaded"] is False
    assert second["extensions_after_compile"] is True
    assert first["value"] == second["value"] == 15.0 and second["fresh"] == 4.0

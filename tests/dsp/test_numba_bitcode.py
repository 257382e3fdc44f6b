"""A cache load leaves each kernel's linking bitcode unparsed until a compile needs it (_numba_setup).

Fresh interpreters (what matters is what a process does); these also fail if numba changes the
internals the set-up replaces (``CPUCodeLibrary._unserialize`` and ``_get_module_for_linking``,
``JitEngine.is_symbol_defined``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

KERNEL = """
import numpy as np
from hipflex.dsp._jit import njit


@njit
def total(n):
    return np.arange(n, dtype=np.float64).sum()  # allocates: links numba's runtime too
"""

LOAD = """
import json
import cached_kernel  # imports hipflex.dsp (the set-up)
import llvmlite.binding as ll
import numba
from hipflex.dsp import _numba_setup

listed = []  # the symbol lists read from object code
real_list = _numba_setup.elf_defined_symbols

def list_spy(obj):
    listed.append(real_list(obj))
    return listed[-1]

_numba_setup.elf_defined_symbols = list_spy
parsed = []
real = ll.parse_bitcode

def spy(data):
    parsed.append(len(data))
    return real(data)

ll.parse_bitcode = spy
value = float(cached_kernel.total(6))
loads = sum(cached_kernel.total.stats.cache_hits.values())
parsed_at_load = len(parsed)

(cres,) = cached_kernel.total.overloads.values()
library = cres.library
entry = cres.fndesc.llvm_func_name
elf = next((names for names in listed if names and entry in names), None)
module = library._get_module_for_linking()  # parses the kept bitcode: numba's own list of the module
defined = {g.name for g in [*module.functions, *module.global_variables] if not g.is_declaration}

@numba.njit
def caller(n):  # compiled here: links the loaded kernel in
    return cached_kernel.total(n) + 1.0

print(json.dumps({
    "value": value, "loads": loads, "parsed_at_load": parsed_at_load,
    "elf_in_module": elf is not None and elf <= defined,
    "entry_in_elf": elf is not None,
    "caller": float(caller(6)), "parsed_after": len(parsed),
}))
"""


def _run(env: dict[str, str], cwd: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert out.returncode == 0, out.stderr
    got: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def test_a_cache_load_parses_no_bitcode_and_a_later_compile_links_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "cached_kernel.py").write_text(KERNEL)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    first, second = (_run(env, tmp_path) for _ in range(2))  # compiles and caches, then loads
    assert first["loads"] == 0 and second["loads"] == 1
    assert first["entry_in_elf"] is False  # compiled: nothing read from object code
    assert second["parsed_at_load"] == 0  # numba parses the kernel's and its runtime's bitcode here
    # The symbols listed from the object code are numba's own list's, the entry point among them.
    assert second["elf_in_module"] is True and second["entry_in_elf"] is True
    assert first["value"] == second["value"] == 15.0
    assert first["caller"] == second["caller"] == 16.0
    assert isinstance(second["parsed_after"], int) and second["parsed_after"] > 0

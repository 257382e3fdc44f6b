"""numba's inlining with one copy of a callee's scope per IR copy (dsp/_numba_inline.py).

Each check runs a fresh interpreter: the patch is installed at a process's first compile.
"""

from __future__ import annotations

import re
from pathlib import Path

from kit import run_numba_script

CODE = """
import json
import sys

PATCHED = sys.argv[1] == "patched"
if PATCHED:
    import hipflex.dsp._jit  # installs the patch at the first compile
    from hipflex.dsp import _numba_inline

    before = {
        "imported": "numba.core.inline_closurecall" in sys.modules,
        "installed": _numba_inline.installed(),
    }
else:
    before = {}
import numba
from numba.core import inline_closurecall

scopes = []


def spy(self, *args, **kwargs):
    out = real(self, *args, **kwargs)
    original = out[0]  # numba's unmutated copy of the callee's IR
    scopes.append([len(original.blocks), len({id(b.scope) for b in original.blocks.values()})])
    return out


@numba.njit(inline="always")
def helper(x, n):
    total = 0.0
    for i in range(n):  # a loop and branches: several blocks
        if x > i:
            total += x - i
        elif x < -i:
            total -= x + i
        else:
            total += 0.5
    return total


@numba.njit
def caller(x, n):
    return helper(x, n) + 2.0 * helper(-x, n)


# Installed now (the first compile of the process), before the inlining pass runs.
caller.compile((numba.float64, numba.int64))
real = inline_closurecall.InlineWorker.inline_ir
inline_closurecall.InlineWorker.inline_ir = spy
caller.recompile()
sig = caller.signatures[0]
print(json.dumps({
    "before": before,
    "scopes": scopes,
    "value": caller(1.5, 6),
    "asm": caller.inspect_asm(sig),
}))
"""


def _code(asm: object) -> str:
    """Machine code text without symbol names (numba's mangled names carry per-process ids)."""
    return re.sub(r"_ZN\w+", "", str(asm))


def test_an_inlined_callee_is_copied_with_one_scope_and_the_same_code(tmp_path: Path) -> None:
    patched = run_numba_script(tmp_path, CODE, "patched")
    plain = run_numba_script(tmp_path, CODE, "plain")
    # Nothing of numba's inliner is imported before a compile (a cached run never loads it).
    assert patched["before"] == {"imported": False, "installed": False}
    scopes = patched["scopes"]
    assert isinstance(scopes, list) and len(scopes) == 2  # two call sites inlined
    for n_blocks, n_scopes in scopes:
        assert n_blocks > 3
        assert n_scopes == 1  # one scope shared by the copied blocks, as in the IR copied from
    plain_scopes = plain["scopes"]
    assert isinstance(plain_scopes, list)
    assert [n for n, _ in plain_scopes] == [n for n, _ in scopes]
    assert all(s == n for n, s in plain_scopes)  # numba's own copy: a scope per block
    assert patched["value"] == plain["value"]
    assert _code(patched["asm"]) == _code(plain["asm"])

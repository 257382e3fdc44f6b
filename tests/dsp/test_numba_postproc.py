"""numba's IR post-processing without the lifetimes nobody reads (dsp/_numba_postproc.py).

The patch must be in place with the numba this project installs (if an upgrade
changes numba's ``PostProcessor.run``, the patch stands down and the first test
fails: re-check the patch), must leave the lifetimes uncomputed only where
nothing reads them, and must not change compiled code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numba
import pytest
from kit import run_numba_script
from numba import literal_unroll
from numba.core import analysis, compiler, postproc

import hipflex.dsp._jit  # noqa: F401 -- installs the patch
from hipflex.dsp import _numba_postproc


def _plain(x: float, n: int) -> float:
    total = 0.0
    for i in range(n):
        if x > i:
            total += x - i
        else:
            total -= 0.5
    return total


def _unrolled(x: float) -> float:
    total = 0.0
    for v in literal_unroll((1, 2.0)):
        total += x * v
    return total


def _with_block(x: float) -> float:
    with numba.objmode(y="float64"):
        y = x + 1.0
    return y


def _numbas_run(func_ir: Any, emit_dels: bool = False) -> None:
    """numba's own PostProcessor.run (the code the patch checks numba's against), on ``func_ir``."""
    namespace = dict(vars(postproc))
    exec(compile(_numba_postproc._NUMBA_SOURCE, "<numba>", "exec"), namespace)
    pp = postproc.PostProcessor(func_ir)
    namespace["PostProcessor"].run(pp, emit_dels)


def test_the_patch_is_installed_with_this_numba() -> None:
    assert _numba_postproc.installed()


def test_a_run_without_dels_leaves_the_lifetimes_to_be_computed_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = analysis.compute_live_variables
    monkeypatch.setattr(postproc.analysis, "compute_live_variables", lambda *a: calls.append(1) or real(*a))
    lazy = compiler.run_frontend(_plain)
    postproc.PostProcessor(lazy).run()
    assert calls == []
    assert lazy.generator_info is None
    eager = compiler.run_frontend(_plain)
    _numbas_run(eager)
    assert len(calls) == 1
    # Asked for, the lifetimes are numba's (same blocks, same analysis).
    assert sorted(lazy.blocks) == sorted(eager.blocks)
    assert lazy.variable_lifetime.livemap == eager.variable_lifetime.livemap
    assert lazy.variable_lifetime.deadmaps.combined == eager.variable_lifetime.deadmaps.combined
    # With dels (before the typed rewrites and lowering) numba's own run, entry variables included.
    postproc.PostProcessor(lazy).run(emit_dels=True)
    assert len(calls) == 2
    assert {lazy.blocks[k] for k in lazy.blocks} <= set(lazy.block_entry_vars)


@pytest.mark.parametrize("func", [_unrolled, _with_block])
def test_ir_whose_passes_read_the_lifetimes_gets_numbas_run(func: Any) -> None:
    func_ir = compiler.run_frontend(func)
    assert _numba_postproc.needs_numbas_run(func_ir.blocks)
    postproc.PostProcessor(func_ir).run()
    assert {func_ir.blocks[k] for k in func_ir.blocks} <= set(func_ir.block_entry_vars)


def test_plain_ir_does_not() -> None:
    assert not _numba_postproc.needs_numbas_run(compiler.run_frontend(_plain).blocks)


CODE = """
import json
import sys

if sys.argv[1] == "patched":
    import hipflex.dsp._jit  # installs the patch
    from hipflex.dsp import _numba_postproc
    assert _numba_postproc.installed()
import numba
import numpy as np
from numba import literal_unroll


@numba.njit(inline="always")
def helper(x, n):
    total = 0.0
    for i in range(n):
        if x > i:
            total += np.sqrt(x - i)
        elif x < -i:
            total -= x + i
    return total


@numba.njit
def caller(a, n):
    out = np.empty(a.size)
    for k in range(a.size):
        out[k] = helper(a[k], n) + 2.0 * helper(-a[k], n)
    return out


@numba.njit
def unrolled(x):  # numba's own post-processing throughout
    total = 0.0
    for v in literal_unroll((1, 2.5)):
        total += x * v
    return total


a = np.linspace(-3.0, 3.0, 7)
value = caller(a, 6).tolist() + [unrolled(1.5)]
asm = [f.inspect_asm(f.signatures[0]) for f in (caller, unrolled)]
print(json.dumps({"value": value, "asm": asm}))
"""


def _code(asm: str) -> str:
    """Machine code text without symbol names (numba's mangled names carry per-process ids and flags)."""
    asm = re.sub(r"_ZN\w+", "", asm)
    # The error message naming the function's environment: its length is the name's.
    return re.sub(r'(\.size\s+"\.const\.missing Environment: ",) \d+', r"\1 N", asm)


def test_compiled_code_is_numbas(tmp_path: Path) -> None:
    patched = run_numba_script(tmp_path, CODE, "patched")
    plain = run_numba_script(tmp_path, CODE, "plain")
    assert patched["value"] == plain["value"]
    assert [_code(a) for a in patched["asm"]] == [_code(a) for a in plain["asm"]]

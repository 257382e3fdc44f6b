"""numba's linking of large callees after the caller's own optimisation (dsp/_numba_linking.py).

The patch must be in place with the numba this project installs (if an upgrade
changes numba's ``CPUCodeLibrary.finalize``, the patch stands down and the first
test fails: re-check the patch), must stand down over any other ``finalize``,
must link a large callee after the caller's optimisation and a small or
``forceinline`` one before (so LLVM still inlines those), and must not change
the caller's own machine code or results, also of a caller loaded from numba's
cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import llvmlite.binding as ll
import numba
import numpy as np
import pytest
from numba.core import codegen

import hipflex.dsp._jit  # noqa: F401 -- installs the patch
from hipflex.dsp import _numba_linking


def _numbas_finalize() -> Any:
    """numba's own ``CPUCodeLibrary.finalize`` (the code the patch checks numba's against), with numba's globals."""
    namespace = dict(vars(codegen))
    exec(compile(_numba_linking._NUMBA_SOURCE, "<numba>", "exec"), namespace)
    return namespace["CPUCodeLibrary"].__dict__["finalize"]


def test_the_patch_is_installed_with_this_numba() -> None:
    assert _numba_linking.installed()


def test_the_patch_applies_over_numbas_finalize(monkeypatch: pytest.MonkeyPatch) -> None:
    numbas = _numbas_finalize()
    monkeypatch.setattr(codegen.CPUCodeLibrary, "finalize", numbas)
    assert not _numba_linking.installed()
    _numba_linking.install()
    assert _numba_linking.installed()
    assert codegen.CPUCodeLibrary.__dict__["finalize"] is not numbas


def test_another_finalize_is_left_as_numba_does_it(monkeypatch: pytest.MonkeyPatch) -> None:
    numbas = _numbas_finalize()

    def finalize(self: Any) -> None:  # a numba whose finalize is not 0.68's
        numbas(self)

    monkeypatch.setattr(codegen.CPUCodeLibrary, "finalize", finalize)
    _numba_linking.install()
    assert not _numba_linking.installed()
    assert codegen.CPUCodeLibrary.__dict__["finalize"] is finalize

    # ... and numba still compiles, linking its way.
    @numba.njit
    def callee(x: float) -> float:
        return x * 2.0

    @numba.njit
    def caller(x: float) -> float:
        return callee(x) + 1.0

    assert caller(2.0) == 5.0


def _module(body: str, attrs: str = "") -> Any:
    return ll.parse_assembly(f"define double @f(double %x) {attrs} {{\nentry:\n{body}  ret double %x\n}}\n")


def test_which_modules_link_early() -> None:
    few = "  %a = fadd double %x, 1.0\n"
    many = "".join(f"  %a{i} = fadd double %x, {i}.0\n" for i in range(_numba_linking.SMALL_INSTRUCTIONS))
    assert _numba_linking.links_early(_module(few))
    assert not _numba_linking.links_early(_module(many))
    assert _numba_linking.links_early(_module(many, "alwaysinline"))


def test_functions_are_read_from_the_text_as_llvmlite_walks_them() -> None:
    many = "".join(f"  %a{i} = fadd double %x, {i}.0\n" for i in range(40))
    module = ll.parse_assembly(
        str(_module(many, "alwaysinline")).replace("@f(", '@"g.h"(')
        + "define i64 @k(i64 %n) {\nentry:\n  %c = icmp sgt i64 %n, 0\n  br i1 %c, label %a, label %b\n"
        "a:\n  ret i64 1\nb:\n  ret i64 0\n}\n"
    )
    counts, inlined = _numba_linking.read_functions(module)
    walked = {fn.name: sum(1 for b in fn.blocks for _ in b.instructions) for fn in module.functions}
    assert counts == walked == {"g.h": 41, "k": 4}
    assert inlined == {"g.h"}


SCRIPT = """
import json
import sys

if sys.argv[1] == "patched":
    import hipflex.dsp._jit  # installs the patch
    from hipflex.dsp import _numba_linking
    assert _numba_linking.installed()
import numba
import numpy as np
from numba.core import codegen

# The bodies in each library's module when numba optimises it (LLVM never emits available_externally ones).
at_opt = {}
numbas_optimize = codegen.CPUCodeLibrary._optimize_final_module


def record(self):
    fns = self._final_module.functions
    at_opt[self.name] = [fn.name for fn in fns if not fn.is_declaration and fn.linkage.name != "available_externally"]
    return numbas_optimize(self)


codegen.CPUCodeLibrary._optimize_final_module = record


@numba.njit(cache=True)
def big(a, k):
    total = 0.0
    for i in range(a.size):
        x = a[i]
        if x > k:
            total += np.sin(x) * 3.0 - x * x
        elif x < -k:
            total -= np.cos(x) + 2.0 * x
        else:
            total += np.exp(-x * x) / (1.0 + abs(x))
    best = a[0]
    for i in range(1, a.size):
        if abs(a[i] - total) < abs(best - total):
            best = a[i]
    for i in range(a.size - 1):
        total += (a[i + 1] - a[i]) * best if a[i] > a[i + 1] else np.sqrt(abs(a[i])) - best
    order = np.argsort(a)  # numba's sort, inlined: ~1500 LLVM instructions in all
    for j in range(order.size):
        total += a[order[j]] * (j % 3)
    return total


@numba.njit(cache=True)
def thin(a):  # a few instructions of its own: inlined, its module (with big in it) large
    return big(a, 0.25) + 1.0


@numba.njit(cache=True)
def small(x):
    return x * 0.5 + 1.0


@numba.njit(cache=True, forceinline=True)
def forced(x, y):
    return x * y - y


@numba.njit(cache=True)
def caller(a):
    out = 0.0
    for i in range(a.size):
        out += forced(small(a[i]), 3.0)
    return out + big(a, 0.5) + thin(a)


a = np.linspace(-2.0, 2.0, 41)
value = caller(a)
asm = caller.inspect_asm(caller.signatures[0]) if caller.signatures else ""
hits = sum(caller.stats.cache_hits.values())
print(json.dumps({"value": value, "at_opt": at_opt.get("caller"), "asm": asm, "hits": hits}))
"""


def _run(tmp_path: Path, mode: str) -> dict[str, Any]:
    """Run the script in a fresh interpreter with a numba cache of its own per mode (a second run loads)."""
    script = tmp_path / f"linked_{mode}.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / f"numba-{mode}"))
    out = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def _defines(names: list[str], func: str) -> bool:
    return any(f"{len(func)}{func}" in name and not name.startswith(("_ZN7cpython", "cfunc.")) for name in names)


def _own_code(asm: str) -> str:
    """The caller's own function in ``asm``, without symbol names (they carry per-process ids) or label numbers."""
    start = asm.index("\n_ZN8__main__6caller")
    body = asm[start : asm.index(".Lfunc_end", start)]
    return re.sub(r"_ZN\w+|\.LBB\d+_\d+|\.LCPI\d+_\d+", "X", body)


def test_a_large_callee_links_after_the_callers_optimisation(tmp_path: Path) -> None:
    patched = _run(tmp_path, "patched")
    plain = _run(tmp_path, "plain")
    assert patched["value"] == plain["value"]
    # numba optimises the caller with every callee in it ...
    assert all(_defines(plain["at_opt"], f) for f in ("big", "small", "forced"))
    # ... the patch with only the small and the forceinline callee (still inlined), not the large one.
    assert _defines(patched["at_opt"], "small") and _defines(patched["at_opt"], "forced")
    assert not _defines(patched["at_opt"], "big")
    # The caller calls the large callee (through its address: numba's large code model) and has it in its
    # object; the small and the forceinline callee are inlined, as numba does.
    lines = patched["asm"].splitlines()
    taken = [line for line in lines if "movabsq" in line and "$_ZN8__main__" in line]
    assert any("3big" in line for line in taken)
    assert not any("6forced" in line or "5small" in line or "4thin" in line for line in taken)
    assert any(line.startswith("_ZN8__main__3big") and line.endswith(":") for line in lines)
    # The caller's own code is numba's: LLVM optimised it knowing what numba's order let it know of the
    # large callee, and inlined the thin one as before.
    assert _own_code(patched["asm"]) == _own_code(plain["asm"])
    # The caller's object holds the large callee's code: loaded from the cache, it runs alone.
    again = _run(tmp_path, "patched")
    assert again["hits"] == 1 and again["at_opt"] is None
    assert again["value"] == patched["value"]
    assert np.isfinite(again["value"])

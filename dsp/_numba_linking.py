"""numba's linking of a kernel's large callees after the kernel's own LLVM optimisation, not before it.

When numba finalises a compiled function's LLVM module it links in the module
of every function it calls (each callee's whole optimised module, its own
callees included, as ``linkonce_odr``) and then optimises the lot at ``-O3``
(``CPUCodeLibrary.finalize``), so that LLVM may inline a callee.  A large
callee is never inlined, yet its already optimised code is optimised again
inside every caller: the main loop re-optimises 22 functions, the rep
detector's closer is optimised once per caller (four times), and so on: ~1 s
of a first run's ~20 s of compile CPU (``benchmarks/README.md``, "The first
run", firstrun23 and firstrun24).

Here a callee's module is linked in as it is after the caller's module
optimisation when it is large (at least :data:`SMALL_INSTRUCTIONS` LLVM
instructions) and none of its functions is ``alwaysinline``; the others (the
``forceinline`` tilt filter, numba's runtime and its small overloads such as
``min`` or ``np.empty``, a project kernel of a few lines) are linked before,
as numba does.  During the optimisation the caller sees a late module's
functions as ``available_externally`` copies (bodies LLVM may read or inline
but never emits), all but the thin ones it calls (:data:`INLINABLE_INSTRUCTIONS`)
``optnone`` so that no pass spends time on them: the caller is optimised
knowing what it knew with numba's order (the attributes LLVM inferred for a
callee in its own library: no unwinding, the memory it touches, the status
codes it returns), and a thin function of a large module is inlined as
before.  The caller's own machine code is numba's (all 34 kernels of
``_precompile.GROUPS`` compared); its copies of the callees are their own
library's optimised code instead of a second optimisation of it.  A late
callee's functions the caller does not call (its Python wrappers) are then
dropped, as numba's optimisation drops them.  The callee's code is still
emitted in the caller's object: a cached kernel must stand alone.

Installed at import; a numba whose ``CPUCodeLibrary.finalize`` is not the code
this relies on (compared as bytecode and names) is left as it is
(``tests/dsp/test_numba_linking.py`` fails then: re-check on a numba upgrade).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import llvmlite.binding as ll
from numba.core import codegen, config
from numba.core.compiler_lock import require_global_compiler_lock

from hipflex.dsp._numba_flags import same_code

__all__ = ["INLINABLE_INSTRUCTIONS", "SMALL_INSTRUCTIONS", "install", "installed", "links_early", "read_functions"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()

#: A linked module with fewer LLVM instructions than this (its Python wrappers
#: included) is linked numba's way, before the caller's optimisation: optimising
#: it again costs little (hipflex's kernels whose second optimisation costs the
#: compile hold 1100-3250; numba's overloads 2-130).
SMALL_INSTRUCTIONS = 1000

#: In a module linked late, a function the caller calls with fewer instruction
#: lines than this is optimised with the caller and may be inlined as with
#: numba's order; every other is kept from the caller's optimisation (``optnone``).  With numba's order LLVM inlined
#: none of 200 or more in hipflex's kernels (the largest inlined held 158).
INLINABLE_INSTRUCTIONS = 200

# numba 0.68's CPUCodeLibrary.finalize, word for word, in its class under numba's
# import lines; compiled, never run.
_NUMBA_SOURCE = """
from numba.core import config
from numba.core.compiler_lock import require_global_compiler_lock


class CPUCodeLibrary(CodeLibrary):
    def finalize(self):
        require_global_compiler_lock()

        # Report any LLVM-related problems to the user
        self._codegen._check_llvm_bugs()

        self._raise_if_finalized()

        if config.DUMP_FUNC_OPT:
            dump("FUNCTION OPTIMIZED DUMP %s" % self.name,
                 self.get_llvm_str(), 'llvm')

        # Link libraries for shared code
        seen = set()
        for library in self._linking_libraries:
            if library not in seen:
                # Parent inherits reload_init
                self._reload_init.update(library._reload_init)
                seen.add(library)
                self._final_module.link_in(
                    library._get_module_for_linking(), preserve=True,
                )

        # Optimize the module after all dependences are linked in above,
        # to allow for inlining.
        self._optimize_final_module()

        self._final_module.verify()
        self._finalize_final_module()
"""


def _reference_code() -> Any:
    module = compile(_NUMBA_SOURCE, "<numba>", "exec")
    body = next(c for c in module.co_consts if getattr(c, "co_name", "") == "CPUCodeLibrary")
    return next(c for c in body.co_consts if getattr(c, "co_name", "") == "finalize")


def read_functions(module: Any) -> tuple[dict[str, int], set[str]]:
    """Instruction lines of each function ``module`` defines, by name, and the names of its ``alwaysinline`` ones.

    Read from the module's text: LLVM prints a module in a few milliseconds,
    while walking its instructions or attributes through llvmlite costs ~25 us
    a step (60 ms for a 2400-instruction kernel).  A function's body lies
    between its ``define`` line and a line ``}``, every instruction indented and
    every block label not (a ``switch``'s cases are lines of their own); its
    attributes are groups (``#3``) listed at the end of the text.
    """
    counts: dict[str, int] = {}
    groups: dict[str, list[str]] = {}
    inlined_groups: set[str] = set()
    name = None
    count = 0
    for line in str(module).splitlines():
        if name is None:
            if line.startswith("define "):
                head = line[line.index("@") + 1 :]
                name = head[1 : head.index('"', 1)] if head.startswith('"') else head[: head.index("(")]
                groups[name] = [word for word in line.split() if word.startswith("#")]
                if " alwaysinline " in line:
                    groups[name].append("inline")
                count = 0
            elif line.startswith("attributes #") and "alwaysinline" in line:
                inlined_groups.add(line.split()[1])
        elif line == "}":
            counts[name] = count
            name = None
        elif line.startswith("  "):
            count += 1
    inlined = {fn for fn, refs in groups.items() if "inline" in refs or inlined_groups.intersection(refs)}
    return counts, inlined


def links_early(module: Any, small: int = SMALL_INSTRUCTIONS) -> bool:
    """Whether linked LLVM ``module`` goes in before the caller's optimisation (small, or ``alwaysinline``)."""
    counts, inlined = read_functions(module)
    return bool(inlined) or sum(counts.values()) < small


def _facts(library: Any, module: Any) -> tuple[bool, set[str]]:
    """Whether a library links early, and its thin functions' names; read once (the module never changes)."""
    got = library.__dict__.get("_hipflex_linking")
    if got is None:
        counts, inlined = read_functions(module)
        early = bool(inlined) or sum(counts.values()) < SMALL_INSTRUCTIONS
        thin = {name for name, count in counts.items() if count < INLINABLE_INSTRUCTIONS}
        got = library._hipflex_linking = (early, thin)
    return got


def _signatures(library: Any, module: Any, called: set[str]) -> Any:
    """A copy of linked ``module`` that the caller's optimisation sees but does not emit.

    Each defined function is ``available_externally`` (a body LLVM may read or
    inline but never emits: its -O3 pipeline turns it into a declaration), and
    ``optnone``/``noinline`` (LLVM's passes skip it) unless the caller calls it
    (``called``) and it is small.  So the caller is optimised knowing what
    numba's order let it know of a callee it does not inline (the attributes
    LLVM inferred in the callee's own library: no unwinding, which memory it
    touches, the status codes it returns), and a thin callee is inlined as before.
    """
    _, thin = _facts(library, module)
    stub = module.clone()
    for fn in stub.functions:
        if not fn.is_declaration:
            fn.linkage = "available_externally"
            name = fn.name
            if name not in thin or name not in called:
                fn.add_function_attribute("noinline")
                fn.add_function_attribute("optnone")
    return stub


def _drop_unused(library: Any) -> None:
    """Drop what the late modules brought that nothing calls (their wrappers), as numba's -O3 would have."""
    pm = ll.create_new_module_pass_manager()
    pm.add_global_dead_code_eliminate_pass()
    pm.run(library._final_module, library._codegen._pass_builder(opt=0))


def install() -> None:
    """Patch ``CPUCodeLibrary.finalize`` (idempotent); leaves numba as it is if it differs."""
    cls: Any = codegen.CPUCodeLibrary
    with _lock:
        real = cls.__dict__.get("finalize")
        if getattr(real, "_hipflex", False):
            return
        if not same_code(real, _reference_code()) or not hasattr(codegen.CPUCodegen, "_pass_builder"):
            _log.debug("numba's CPUCodeLibrary.finalize not as expected; linking left as numba does it")
            return

        def finalize(self: Any) -> None:
            if getattr(config, "DUMP_FUNC_OPT", False):  # numba's debugging dumps: numba's own order
                return real(self)
            require_global_compiler_lock()
            self._codegen._check_llvm_bugs()
            self._raise_if_finalized()
            late = []
            seen = set()
            for library in self._linking_libraries:
                if library not in seen:
                    self._reload_init.update(library._reload_init)
                    seen.add(library)
                    module = library._get_module_for_linking()
                    if _facts(library, module)[0]:
                        self._final_module.link_in(module, preserve=True)
                    else:
                        late.append((library, module))
            if late:
                called = {fn.name for fn in self._final_module.functions if fn.is_declaration}
                for library, module in late:
                    self._final_module.link_in(_signatures(library, module, called))
            self._optimize_final_module()
            # Already optimised in their own library: linked as they are.
            for _, module in late:
                self._final_module.link_in(module, preserve=True)
            if late:
                _drop_unused(self)
            self._final_module.verify()
            self._finalize_final_module()
            return None

        finalize._hipflex = True  # type: ignore[attr-defined]
        cls.finalize = finalize


def installed() -> bool:
    """Whether the patch is in place."""
    return bool(getattr(codegen.CPUCodeLibrary.__dict__.get("finalize"), "_hipflex", False))

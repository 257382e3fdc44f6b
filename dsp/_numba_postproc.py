"""numba's IR post-processing without the variable-lifetime analysis nobody reads afterwards.

Most of numba's passes end with ``PostProcessor(func_ir).run()`` (inlining,
rewrites, SSA, ...: about 1000 runs in a first ``hipflex analyze``).  Each run
canonicalises the CFG and then computes, eagerly, the variables live at the
entry of every block (``analysis.compute_live_variables``, which needs the
CFG, every statement's uses and definitions, the live map and the dead maps):
about 2 of the first run's 21 s of compile CPU (``benchmarks/README.md``, "The
first run").  In a nopython compile of a function that is not a generator
nothing reads that result: ``block_entry_vars`` is read by object-mode lowering
and the generator analysis, and ``variable_lifetime`` by the ``del`` insertion
of a run asked for it (``emit_dels=True``), by with-lifting and loop-lifting
(each right after a run of its own, before changing the IR) and by
``literal_unroll``'s unroller.

Here a run without ``emit_dels`` canonicalises the CFG as numba does and
leaves ``variable_lifetime`` as numba's own lazily computing object
(``postproc.VariableLifetime``, whose properties compute on first use), without
computing it and without ``block_entry_vars``.  numba's own run is kept, exactly,
whenever anything could read what it computes: with ``emit_dels`` (the runs
before the typed rewrites and before lowering, which then fill
``block_entry_vars`` as numba does), for generators, and for IR with a
``with`` block or a use of ``literal_unroll``.  So the compiled code is the
same (``tests/dsp/test_numba_postproc.py`` compares machine code).

Installed at import; a numba whose ``PostProcessor.run`` is not the code this
relies on (compared as bytecode and names) is left as it is (the test fails
then: re-check on a numba upgrade).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from numba.core import ir, postproc, transforms

from hipflex.dsp._numba_flags import same_code

__all__ = ["install", "installed", "needs_numbas_run"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()

# numba 0.68's PostProcessor.run, word for word, in its class (the docstring's
# indentation is part of the code object) under numba's import line (Python 3.11
# compiles a method call on an imported name differently); compiled, never run.
_NUMBA_SOURCE = '''
from numba.core import ir, analysis, transforms, ir_utils


class PostProcessor(object):
    def run(self, emit_dels: bool = False, extend_lifetimes: bool = False):
        """
        Run the following passes over Numba IR:
        - canonicalize the CFG
        - emit explicit `del` instructions for variables
        - compute lifetime of variables
        - compute generator info (if function is a generator function)
        """
        self.func_ir.blocks = transforms.canonicalize_cfg(self.func_ir.blocks)
        vlt = VariableLifetime(self.func_ir.blocks)
        self.func_ir.variable_lifetime = vlt

        bev = analysis.compute_live_variables(vlt.cfg, self.func_ir.blocks,
                                              vlt.usedefs.defmap,
                                              vlt.deadmaps.combined)
        for offset, ir_block in self.func_ir.blocks.items():
            self.func_ir.block_entry_vars[ir_block] = bev[offset]

        if self.func_ir.is_generator:
            self.func_ir.generator_info = GeneratorInfo()
            self._compute_generator_info()
        else:
            self.func_ir.generator_info = None

        # Emit del nodes, do this last as the generator info parsing generates
        # and then strips dels as part of its analysis.
        if emit_dels:
            self._insert_var_dels(extend_lifetimes=extend_lifetimes)
'''


def _reference_code() -> Any:
    module = compile(_NUMBA_SOURCE, "<numba>", "exec")
    body = next(c for c in module.co_consts if getattr(c, "co_name", "") == "PostProcessor")
    return next(c for c in body.co_consts if getattr(c, "co_name", "") == "run")


def needs_numbas_run(blocks: dict[int, Any]) -> bool:
    """Whether IR ``blocks`` have a ``with`` block or use ``literal_unroll`` (their passes read the lifetimes)."""
    from numba.misc.special import literal_unroll

    for block in blocks.values():
        for stmt in block.body:
            if isinstance(stmt, ir.Assign):
                value = stmt.value
                if isinstance(value, (ir.Global, ir.FreeVar)) and value.value is literal_unroll:
                    return True
            elif isinstance(stmt, ir.EnterWith):
                return True
    return False


def install() -> None:
    """Patch ``PostProcessor.run`` (idempotent); leaves numba as it is if it differs."""
    cls: Any = postproc.PostProcessor
    with _lock:
        real = cls.__dict__.get("run")
        if getattr(real, "_hipflex", False):
            return
        if not same_code(real, _reference_code()) or not hasattr(postproc, "VariableLifetime"):
            _log.debug("numba's PostProcessor.run not as expected; left as numba does it")
            return

        def run(self: Any, emit_dels: bool = False, extend_lifetimes: bool = False) -> None:
            func_ir = self.func_ir
            if emit_dels or func_ir.is_generator or needs_numbas_run(func_ir.blocks):
                return real(self, emit_dels, extend_lifetimes)
            func_ir.blocks = transforms.canonicalize_cfg(func_ir.blocks)
            # numba's lazy object: computed only if something asks (nothing does, see above).
            func_ir.variable_lifetime = postproc.VariableLifetime(func_ir.blocks)
            func_ir.generator_info = None
            return None

        run._hipflex = True  # type: ignore[attr-defined]
        cls.run = run


def installed() -> bool:
    """Whether the patch is in place."""
    return bool(getattr(postproc.PostProcessor.__dict__.get("run"), "_hipflex", False))

"""numba's inlining at the IR level without its quadratic copy: one copy of a callee's scope, not one per block.

The main loop (``_run_chunk``) and the rep detector inline their per-sample helpers
(``inline="always"``, :func:`hipflex.dsp._jit.njit_borrowed_inline`).  For every call
site numba builds the callee's IR and copies it twice (``InlineWorker.inline_ir``),
block by block, each block with a ``copy.deepcopy`` of its own.  Every block refers
to the callee's scope, which lists every variable of the callee, so each block's
copy copies the whole scope again: the cost grows with blocks times variables, and
a callee that has inlined helpers of its own (the per-sample step with the tilt
filter and the axis watch) has many of both.  In the first run's critical path
that copying was about 1.9 of the main loop's ~8 s of compile CPU
(``numba_inline`` in benchmarks/README.md, "The first run").

Here the blocks of one IR are copied with one ``deepcopy`` memo, so the scope
and each variable are copied once and shared by the copied blocks, as they are
shared by the blocks copied from.  numba reads the copy's variables by name
(renaming them into the caller's scope) and then points every block at the
caller's scope, so the inlined code is the same: the machine code of
``_run_chunk`` is byte for byte what numba's own copy gives (symbol names
aside).  Only compiling is affected; loading kernels from the cache never
inlines anything, so the patch is installed at the first compile (numba's
``numba:compile`` event), not at import: ``numba.core.inline_closurecall``
imports numba's parallel accelerator, which a cached run does not load.
A numba without the internals this relies on is left as it is.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from numba.core import event

__all__ = ["install", "installed"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_state = {"listening": False, "installed": False}


class _CopyOneScopeOnce:
    """Stands in for the ``copy`` module inside ``inline_ir``: one memo per scope for ``deepcopy`` of blocks.

    The blocks of one IR share one scope object, so the memo keyed by it is
    shared by exactly the blocks of one IR (the callee's, or its copy's); a new
    instance per ``inline_ir`` call keeps memos from outliving it (the memo
    holds its scope alive, so its ``id`` is not reused meanwhile).
    """

    def __init__(self, ir_block: Any) -> None:
        self._block = ir_block
        self._memos: dict[int, dict[int, Any]] = {}

    def deepcopy(self, x: Any, memo: dict[int, Any] | None = None) -> Any:
        if memo is None and isinstance(x, self._block):
            memo = self._memos.setdefault(id(x.scope), {})
        return copy.deepcopy(x, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _patch() -> None:
    """Wrap ``InlineWorker.inline_ir`` (idempotent); leaves numba as it is if its internals differ."""
    from numba.core import inline_closurecall, ir

    worker: Any = getattr(inline_closurecall, "InlineWorker", None)
    real = getattr(worker, "inline_ir", None)
    module: Any = inline_closurecall
    if getattr(real, "_hipflex", False):
        return
    if real is None or getattr(inline_closurecall, "copy", None) is not copy:
        _log.debug("numba's inline_ir not as expected; inlining left as numba does it")
        return

    def inline_ir(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Compiles run under numba's global compiler lock: one inline_ir at a time.
        before = module.copy
        module.copy = _CopyOneScopeOnce(ir.Block)
        try:
            return real(self, *args, **kwargs)
        finally:
            module.copy = before

    inline_ir._hipflex = True  # type: ignore[attr-defined]
    worker.inline_ir = inline_ir


class _OnFirstCompile(event.Listener):
    def on_start(self, ev: Any) -> None:
        if _state["installed"]:
            return
        with _lock:
            if not _state["installed"]:
                _state["installed"] = True
                try:
                    _patch()
                except Exception:  # numba's own inlining is correct, only slower
                    _log.debug("could not patch numba's inline_ir", exc_info=True)

    def on_end(self, ev: Any) -> None:
        pass


def install() -> None:
    """Patch numba's inlining at the first compile in this process (idempotent)."""
    with _lock:
        if _state["listening"]:
            return
        _state["listening"] = True
    event.register("numba:compile", _OnFirstCompile())


def installed() -> bool:
    """Whether the patch is in place (after a first compile)."""
    from numba.core import inline_closurecall

    real = getattr(getattr(inline_closurecall, "InlineWorker", None), "inline_ir", None)
    return bool(getattr(real, "_hipflex", False))

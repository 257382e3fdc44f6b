"""Two lookups of numba's typing remembered instead of repeated: a ufunc's loop, the order of a call's templates.

numba's type inference re-resolves every call each time it propagates types
through a function, and every inlined helper brings its calls along, so the
same questions are asked thousands of times per first ``hipflex analyze``
(``benchmarks/README.md``, "The first run"):

- **Which loop of a NumPy ufunc fits these argument types**
  (``numpy_support.ufunc_find_matching_loop``, ~22 000 calls, ~0.9 s of the
  first run's ~21 s of compile CPU): it walks the ufunc's loops and asks NumPy
  whether each argument casts.  The answer depends only on the ufunc's loops
  and the argument types, so it is kept per (ufunc, number of loops, types),
  for NumPy's own ufuncs only (numba's dynamic ufuncs grow loops as they
  compile; they keep numba's way).  Each call gets its own copy of the
  answer's lists; what raises is not kept (it raises again).
- **Which templates of a function apply to the target, most specific first**
  (``utils.order_by_target_specificity``, ~19 000 calls, ~0.3 s): it depends
  on the target class and the templates (their target metadata, fixed per
  class), so it is kept per (target, templates, number of registered targets);
  each call gets its own list.

Both functions are replaced only where numba calls them (their modules'
globals) and only over the exact code they were written against (a digest of
their code objects, nested functions included, for numba 0.68); otherwise
numba is left as it is and ``tests/dsp/test_numba_typing.py`` fails: re-check
on a numba upgrade.  Installed at import (a few attribute reads and digests).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import types as pytypes
from typing import Any

import numpy as np
from numba.core import utils
from numba.core.typing import context as typing_context
from numba.core.typing import npydecl
from numba.np import numpy_support

__all__ = ["code_digest", "install", "installed"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()

#: ``code_digest`` of numba 0.68's functions this module replaces.
_NUMBA_DIGESTS = {
    "ufunc_find_matching_loop": "461c3ac82640afc61d9b692f727e6077",
    "order_by_target_specificity": "0fc11a0d10497ef7b65c46902ce80f9d",
}


def code_digest(code: pytypes.CodeType) -> str:
    """Digest of a code object's bytecode, names, constants (nested code objects included) and arguments."""
    h = hashlib.sha256()

    def feed(c: pytypes.CodeType) -> None:
        h.update(c.co_code)
        h.update(repr((c.co_names, c.co_varnames, c.co_argcount, c.co_kwonlyargcount, c.co_freevars)).encode())
        for const in c.co_consts:
            if isinstance(const, pytypes.CodeType):
                feed(const)
            else:
                h.update(repr(const).encode())

    feed(code)
    return h.hexdigest()[:32]


def _matches(func: Any, name: str) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and code_digest(code) == _NUMBA_DIGESTS[name]


def _memo_ufunc_loop(real: Any) -> Any:
    loops: dict[tuple[Any, ...], Any] = {}

    def ufunc_find_matching_loop(ufunc: Any, arg_types: Any) -> Any:
        if type(ufunc) is not np.ufunc:
            return real(ufunc, arg_types)  # numba's dynamic ufuncs add loops as they compile
        key = (ufunc, ufunc.ntypes, *arg_types)
        try:
            spec = loops[key]
        except KeyError:
            spec = loops[key] = real(ufunc, arg_types)
        except TypeError:  # an unhashable argument type: numba's way
            return real(ufunc, arg_types)
        if spec is None:
            return None
        # Callers get lists of their own, as from numba's function.
        return spec._replace(inputs=list(spec.inputs), outputs=list(spec.outputs))

    ufunc_find_matching_loop._hipflex = True  # type: ignore[attr-defined]
    return ufunc_find_matching_loop


def _memo_template_order(real: Any) -> Any:
    from numba.core.target_extension import target_registry

    orders: dict[tuple[Any, ...], list[Any]] = {}

    def order_by_target_specificity(target: Any, templates: Any, fnkey: Any = "") -> Any:
        try:
            key = (target, len(target_registry), *templates)
            order = orders.get(key)
        except TypeError:  # unhashable: numba's way
            return real(target, templates, fnkey)
        if order is None:
            order = orders[key] = real(target, templates, fnkey)  # raises when nothing applies: not kept
        return list(order)

    order_by_target_specificity._hipflex = True  # type: ignore[attr-defined]
    return order_by_target_specificity


def install() -> None:
    """Replace the two lookups where numba calls them (idempotent); leaves numba as it is if they differ."""
    with _lock:
        loop = npydecl.__dict__.get("ufunc_find_matching_loop")
        if not getattr(loop, "_hipflex", False):
            real = numpy_support.ufunc_find_matching_loop
            if loop is real and _matches(real, "ufunc_find_matching_loop"):
                memo = _memo_ufunc_loop(real)
                npydecl.ufunc_find_matching_loop = memo  # the typing of ufunc calls
                numpy_support.ufunc_find_matching_loop = memo  # modules importing it later
            else:
                _log.debug("numba's ufunc_find_matching_loop not as expected; left as numba does it")
        order = utils.__dict__.get("order_by_target_specificity")
        if not getattr(order, "_hipflex", False):
            if typing_context.order_by_target_specificity is order and _matches(order, "order_by_target_specificity"):
                memo = _memo_template_order(order)
                utils.order_by_target_specificity = memo  # types.functions calls it through the module
                typing_context.order_by_target_specificity = memo  # imported by name
            else:
                _log.debug("numba's order_by_target_specificity not as expected; left as numba does it")


def installed() -> bool:
    """Whether both lookups are replaced."""
    return bool(
        getattr(npydecl.__dict__.get("ufunc_find_matching_loop"), "_hipflex", False)
        and getattr(utils.__dict__.get("order_by_target_specificity"), "_hipflex", False)
        and getattr(typing_context.__dict__.get("order_by_target_specificity"), "_hipflex", False)
    )

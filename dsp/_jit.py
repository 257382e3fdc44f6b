"""The one place that sets numba options for every kernel in hipflex (the dsp core and the PMD decoder).

``cache=True`` keeps a second run from recompiling; ``nogil=True`` lets the
service run several sensors' kernels on threads.  fastmath is restricted to
flags that cannot change NaN/Inf semantics: dropouts arrive as NaN and must
stay NaN (so never the no-NaN and no-Inf flags, which the plain boolean fastmath
option would include).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

from . import _numba_flags, _numba_inline, _numba_linking, _numba_markup, _numba_postproc, _numba_setup, _numba_typing

__all__ = ["FASTMATH_FLAGS", "njit", "njit_borrowed", "njit_borrowed_inline", "njit_borrowed_linked", "njit_inline"]


_numba_setup.install()
_numba_inline.install()
_numba_flags.install()
_numba_markup.install()
_numba_postproc.install()
_numba_linking.install()
_numba_typing.install()

F = TypeVar("F", bound=Callable[..., Any])

#: LLVM fast-math flags that keep IEEE NaN/Inf behaviour.
FASTMATH_FLAGS = frozenset({"contract", "arcp", "nsz"})


# error_model="numpy": float division follows IEEE (x/0 gives inf or NaN, as
# dropouts already do) instead of Python's ZeroDivisionError check on every
# division in the hot loop.


def njit(fn: F) -> F:
    """Compile ``fn`` as a cached, GIL-free numba kernel."""
    return _numba_setup.defer_extensions(
        numba.njit(cache=True, nogil=True, fastmath=set(FASTMATH_FLAGS), error_model="numpy")(fn)
    )


def njit_inline(fn: F) -> F:
    """Like :func:`njit`, inlined into its callers at numba's IR level.

    For the small per-sample helpers of the main loop: a call that passes
    arrays costs atomic reference counting on each of them (a fifth of the
    loop's time when measured); inlining removes the call.
    """
    return _numba_setup.defer_extensions(
        numba.njit(cache=True, nogil=True, fastmath=set(FASTMATH_FLAGS), error_model="numpy", inline="always")(fn)
    )


# ``_nrt`` is numba's switch for its runtime (reference counting and
# allocation); numba's own tests use it, its type stubs do not list it.
_BORROWED: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": set(FASTMATH_FLAGS),
    "error_model": "numpy",
    "_nrt": False,
}


def njit_borrowed(fn: F) -> F:
    """Like :func:`njit`, without numba's reference counting (NRT off): for kernels that allocate nothing.

    Every array such a kernel sees is borrowed from its caller for the
    duration of the call, so counting references to it is pure cost: numba
    increments and decrements an array's count (a ``lock``-prefixed atomic
    each) for every inlined helper that receives it, wherever the helper's
    branches keep LLVM's pruning pass from pairing them: in the main loop
    two thirds of ``perf``'s samples fell on those atomics (session 9).  A
    kernel compiled this way cannot allocate an array (numba refuses to
    compile one that does).
    """
    return _numba_setup.defer_extensions(numba.njit(**_BORROWED)(fn))


def njit_borrowed_inline(fn: F) -> F:
    """Like :func:`njit_inline` for the helpers of :func:`njit_borrowed` kernels (NRT off)."""
    return _numba_setup.defer_extensions(numba.njit(**_BORROWED, inline="always")(fn))


def njit_borrowed_linked(fn: F) -> F:
    """Like :func:`njit_borrowed`, compiled once and inlined into its callers by LLVM.

    numba's ``forceinline`` marks the function and each caller's declaration of
    it ``alwaysinline``; numba links the callee's module into every caller's
    (from the cached bitcode when the callee came from the cache) and LLVM
    inlines it there.  For a large per-sample helper: inlined at numba's IR
    level (:func:`njit_borrowed_inline`) it is typed and lowered again inside
    each caller, which costs a first run's compile more than compiling it on
    its own; a plain call costs every row the call.
    """
    return _numba_setup.defer_extensions(numba.njit(**_BORROWED, forceinline=True)(fn))

"""The one place that sets numba options for every kernel in :mod:`hipflex.dsp`.

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

__all__ = ["FASTMATH_FLAGS", "njit", "njit_parallel"]

F = TypeVar("F", bound=Callable[..., Any])

#: LLVM fast-math flags that keep IEEE NaN/Inf behaviour.
FASTMATH_FLAGS = frozenset({"contract", "arcp", "nsz"})


def njit(fn: F) -> F:
    """Compile ``fn`` as a cached, GIL-free numba kernel."""
    return numba.njit(cache=True, nogil=True, fastmath=set(FASTMATH_FLAGS))(fn)  # type: ignore[return-value]


def njit_parallel(fn: F) -> F:
    """Like :func:`njit` with ``parallel=True``: only for batches of independent recordings."""
    return numba.njit(cache=True, nogil=True, parallel=True, fastmath=set(FASTMATH_FLAGS))(fn)  # type: ignore[return-value]

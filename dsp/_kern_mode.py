"""One kernel source compiled as two kernels, one with a gyro and one without.

The main loop serves both modes, and every mode's code in it is typed and
compiled with it: numba compiles each kernel a function calls when it types the
call, whether the call can run or not.  A recording with a gyro never runs the
accelerometer-only filter, its post-gap re-run or its axis watch, but its first
run compiled them (~3.5 s of compile CPU), and one without a gyro the tilt
filter and the gyro's axis watch (benchmarks/README.md, "firstrun25").

:func:`per_mode` gives a function's source two copies, each with the module
global :data:`WITH_GYRO_NAME` bound to a constant of its own.  numba reads a
global as a constant and, before typing, removes the branches a constant
decides (its ``dead branch pruning``, which also follows the constant into a
callee inlined at the IR level when it is passed as an argument), so a copy
types and compiles only its mode's callees.  Each copy is a kernel of its own
name (``<name>_gyro``, ``<name>_acc``) with its own entry in numba's cache.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Callable
from typing import Any

__all__ = ["WITH_GYRO_NAME", "per_mode"]

#: The module global a :func:`per_mode` function reads its mode from (``True``: a gyro).
WITH_GYRO_NAME = "_WITH_GYRO"


def per_mode(py_func: Callable[..., Any], jit: Callable[[Any], Any]) -> tuple[Any, Any]:
    """The kernels ``jit(copy)`` of ``py_func`` with a gyro and without one, in that order.

    Parameters
    ----------
    py_func : callable
        A plain function reading :data:`WITH_GYRO_NAME` from its module (where it
        must be defined too, for the plain function and the linters).
    jit : callable
        The decorator of the kernels (e.g. :func:`hipflex.dsp._jit.njit_borrowed`).

    Notes
    -----
    A copy shares the module's globals as they are when the copy is made (numba
    freezes globals at the compile anyway), so ``per_mode`` is called after the
    kernels the function calls are defined.  The copies share the code object:
    their cache entries differ by name, as two kernels of one module do.
    """
    made = []
    for gyro, suffix in ((True, "gyro"), (False, "acc")):
        globals_ = dict(py_func.__globals__)
        globals_[WITH_GYRO_NAME] = gyro
        name = f"{py_func.__name__.removesuffix('_py')}_{suffix}"
        copy = pytypes.FunctionType(py_func.__code__, globals_, name, py_func.__defaults__, py_func.__closure__)
        copy.__qualname__ = name
        copy.__module__ = py_func.__module__
        copy.__doc__ = py_func.__doc__
        copy.__annotations__ = dict(py_func.__annotations__)
        made.append(jit(copy))
    return made[0], made[1]

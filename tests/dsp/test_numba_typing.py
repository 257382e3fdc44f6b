"""numba's ufunc-loop and template-order lookups remembered (dsp/_numba_typing.py).

Both must be in place with the numba this project installs (if an upgrade changes
numba's functions, the patch stands down and the first test fails: re-check the
patch), and must answer exactly what numba's own functions answer.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba.core import types, utils
from numba.core.registry import cpu_target
from numba.core.target_extension import CPU
from numba.core.typing import context as typing_context
from numba.core.typing import npydecl
from numba.np import numpy_support

import hipflex.dsp._jit  # noqa: F401 -- installs the patch
from hipflex.dsp import _numba_typing

_ARGS = [
    (types.float64,),
    (types.int64,),
    (types.float64, types.float64),
    (types.int64, types.float64),
    (types.float32, types.int32),
    (types.boolean, types.boolean),
    (types.NPDatetime("s"), types.NPTimedelta("s")),
    (types.float64, types.float64, types.float64),  # an explicit output
    (types.unicode_type,),  # no dtype: no loop
]


def _real(name: str) -> object:
    """numba's own function (the patch wraps it)."""
    func = getattr(numpy_support if name == "ufunc_find_matching_loop" else utils, name)
    real = next(c.cell_contents for c in func.__closure__ if callable(c.cell_contents))
    return real


def test_the_patch_is_installed_with_this_numba() -> None:
    assert _numba_typing.installed()
    assert npydecl.ufunc_find_matching_loop is numpy_support.ufunc_find_matching_loop
    assert typing_context.order_by_target_specificity is utils.order_by_target_specificity


@pytest.mark.parametrize("ufunc", [np.add, np.sqrt, np.isnan, np.arctan2, np.floor_divide, np.divmod, np.logical_and])
def test_a_ufunc_loop_is_numbas(ufunc: np.ufunc) -> None:
    real = _real("ufunc_find_matching_loop")
    for args in _ARGS:
        if len(args) < ufunc.nin:
            continue
        try:
            want = real(ufunc, args)
        except Exception as exc:  # numba's answer is an error: the same error each time
            for _ in range(2):
                with pytest.raises(type(exc)):
                    numpy_support.ufunc_find_matching_loop(ufunc, args)
            continue
        for _ in range(2):  # asked, then remembered
            got = numpy_support.ufunc_find_matching_loop(ufunc, list(args))
            assert got == want
            if got is not None:
                got.inputs.append("mutated by a caller")  # each caller's own lists
                got.outputs.clear()


def test_a_dynamic_ufunc_is_asked_each_time() -> None:
    @numba.vectorize
    def plus_one(x):  # type: ignore[no-untyped-def]
        return x + 1.0

    assert numpy_support.ufunc_find_matching_loop(plus_one, (types.float64,)) is None
    plus_one(np.ones(2))  # compiles a float64 loop
    spec = numpy_support.ufunc_find_matching_loop(plus_one, (types.float64,))
    assert spec is not None and spec.outputs == [types.float64]


def test_the_template_order_is_numbas() -> None:
    real = _real("order_by_target_specificity")
    context = cpu_target.typing_context
    context.refresh()  # numba's typing registries, as before a compile
    for fn in (np.sqrt, min, abs, np.empty, len):
        fnty = context.resolve_value_type(fn)
        templates = list(fnty.templates)
        want = real(CPU, templates, fn)
        for _ in range(2):
            got = utils.order_by_target_specificity(CPU, templates, fn)
            assert got == want
            got.clear()  # each caller's own list
    assert utils.order_by_target_specificity(CPU, []) == []

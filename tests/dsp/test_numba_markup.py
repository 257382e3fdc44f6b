"""numba's error-message highlighting without swapping the process's streams (dsp/_numba_markup.py).

The patched ``_markup`` must give numba's own strings, and it must be in place with
the numba and colorama this project installs (if an upgrade changes numba's code,
the patch stands down and the first test fails: re-check the patch).
"""

from __future__ import annotations

import pytest
from numba.core import errors

import hipflex.dsp._jit  # noqa: F401 -- installs the patch
from hipflex.dsp import _numba_markup


def test_the_patch_is_installed_with_this_numba() -> None:
    pytest.importorskip("colorama")
    assert hasattr(errors, "HighlightColorScheme")
    assert _numba_markup.installed()


@pytest.mark.parametrize("theme", ["no_color", "dark_bg", "light_bg"])
def test_messages_are_numbas(theme: str) -> None:
    pytest.importorskip("colorama")
    scheme = errors.HighlightColorScheme(errors.themes[theme])
    # numba's own _markup (the source the patch checks numba's bytecode against),
    # run with numba.core.errors' globals.
    namespace = dict(vars(errors))
    exec(compile(_numba_markup._NUMBA_SOURCE, "<numba>", "exec"), namespace)
    numbas = namespace["_markup"]
    for msg in ["Cannot determine Numba type of <class 'module'>", "", "é ✓ multi\nline"]:
        for method in ("code", "errmsg", "filename", "indicate", "highlight", "reset"):
            assert getattr(scheme, method)(msg) == numbas(scheme, msg, getattr(scheme, "_" + method))

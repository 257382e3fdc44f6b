"""numba's error-message highlighting without wrapping the process's stdout and stderr for every message.

numba types a call by trying overload templates, and a template that does not
fit raises an error whose message is built (``NumbaError.__init__``, a
``typeof`` of a global it cannot type) whether or not anyone reads it: tens of
thousands per first run, nearly all caught.  With colorama installed, each
message is highlighted (``HighlightColorScheme._markup``) inside
``colorama.init()`` / ``deinit()``, which replace ``sys.stdout`` and
``sys.stderr`` with wrappers and put them back: ~3.7 % of a first run's compile
CPU under a profiler (``benchmarks/README.md``, "The first run"), for a string
that does not depend on them (the colour codes, the message, the reset code).

Here ``_markup`` builds the same string without the wrapping; messages are
unchanged, and the process's streams are no longer swapped while a kernel
compiles on another thread.  Installed at import; a numba whose ``_markup`` is
not the code this relies on (compared as bytecode and names) is left as it is
(``tests/dsp/test_numba_markup.py`` fails then: re-check on a numba upgrade).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hipflex.dsp._numba_flags import same_code

__all__ = ["install", "installed"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()

# numba 0.68's HighlightColorScheme._markup, word for word (compiled, never run:
# its names are numba.core.errors' globals).
_NUMBA_SOURCE = """
def _markup(self, msg, color=None, style=Style.BRIGHT):
    features = ''
    if color:
        features += color
    if style:
        features += style
    with ColorShell():
        with reset_terminal() as mu:
            mu += features.encode('utf-8')
            mu += (msg).encode('utf-8')
        return mu.decode('utf-8')
"""


def _reference_code() -> Any:
    module = compile(_NUMBA_SOURCE, "<numba>", "exec")
    return next(c for c in module.co_consts if getattr(c, "co_name", "") == "_markup")


def install() -> None:
    """Patch ``HighlightColorScheme._markup`` (idempotent); leaves numba as it is if it differs."""
    from numba.core import errors

    scheme: Any = getattr(errors, "HighlightColorScheme", None)
    if scheme is None:
        return  # no colorama (or highlighting disabled): numba's plain scheme does no wrapping
    with _lock:
        real = scheme.__dict__.get("_markup")
        if getattr(real, "_hipflex", False):
            return
        reset: Any = getattr(getattr(errors, "Style", None), "RESET_ALL", None)
        if not isinstance(reset, str) or not same_code(real, _reference_code()):
            _log.debug("numba's error highlighting not as expected; left as numba does it")
            return
        reset_bytes = reset.encode("utf-8")

        def _markup(self: Any, msg: str, color: str | None = None, style: str | None = real.__defaults__[1]) -> str:
            features = ""
            if color:
                features += color
            if style:
                features += style
            # What reset_terminal() collects: the features, the message, the reset code.
            return (features.encode("utf-8") + msg.encode("utf-8") + reset_bytes).decode("utf-8")

        _markup._hipflex = True  # type: ignore[attr-defined]
        scheme._markup = _markup


def installed() -> bool:
    """Whether the patch is in place (``True`` too when numba highlights nothing to patch)."""
    from numba.core import errors

    scheme: Any = getattr(errors, "HighlightColorScheme", None)
    return scheme is None or bool(getattr(scheme.__dict__.get("_markup"), "_hipflex", False))

"""numba's compile flags hashed and compared without rebuilding every option's value on each overload lookup.

Typing a call to a numba overload (``np.empty``, ``math.sqrt``, ``min``, an
inlined helper, ...) looks its implementation up in a cache keyed by, among
others, the compile's flags (``numba.core.typing.templates._get_impl``).  The
flags (``numba.core.compiler.Flags``, a ``TargetConfig``) hash as
``hash(tuple(sorted(self.values())))`` and compare as ``self.values() ==
other.values()``, where ``values()`` builds a dict of every option (about 40,
each through a property): thousands of lookups per kernel, ~3 % of a first
run's compile CPU under a profiler (``benchmarks/README.md``, "The first run").

``sorted`` of that dict sorts its keys, the option names, which are fixed per
class: the hash is a constant of the flags' class, and here it is computed once
per class (the same value numba computes).  Two flags of one class are compared
on the options set in either (``_values``), each against the other's value or
its default, which is what comparing their ``values()`` compares; flags of
different classes as numba does.  So every lookup finds what it
found before; only the time to find it changes.

Installed at import (a few attribute reads); a numba whose ``__hash__`` or
``__eq__`` is not the code this relies on is left as it is
(``tests/dsp/test_numba_flags.py`` fails then: re-check on a numba upgrade).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from numba.core.targetconfig import TargetConfig

__all__ = ["install", "installed", "same_code"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()


# numba 0.68's TargetConfig.__hash__ and __eq__, word for word: the patch applies
# only over exactly this code (compared as bytecode and names).
def _numba_hash(self: Any) -> int:
    return hash(tuple(sorted(self.values())))


def _numba_eq(self: Any, other: Any) -> Any:
    if isinstance(other, TargetConfig):
        return self.values() == other.values()
    else:
        return NotImplemented


def same_code(func: Any, ref: Any) -> bool:
    """Whether ``func`` runs exactly the code object ``ref`` (bytecode, names, constants, arguments, locals).

    What every numba patch of hipflex checks before it replaces numba's code.
    """
    code = getattr(func, "__code__", None)
    return (
        code is not None
        and code.co_code == ref.co_code
        and code.co_names == ref.co_names
        and code.co_consts == ref.co_consts
        and code.co_argcount == ref.co_argcount
        and code.co_varnames == ref.co_varnames
    )


def install() -> None:
    """Patch ``TargetConfig.__hash__`` and ``__eq__`` (idempotent); leaves numba as it is if they differ."""
    cls: Any = TargetConfig
    with _lock:
        if getattr(cls.__hash__, "_hipflex", False):
            return
        real_hash = cls.__dict__.get("__hash__")
        real_eq = cls.__dict__.get("__eq__")
        if not (same_code(real_hash, _numba_hash.__code__) and same_code(real_eq, _numba_eq.__code__)):
            _log.debug("numba's TargetConfig hashing not as expected; left as numba does it")
            return
        hashes: dict[type, int] = {}

        def __hash__(self: Any) -> int:
            kind = type(self)
            got = hashes.get(kind)
            if got is None:
                # sorted() of values() sorts its keys: the class's option names.
                got = hashes[kind] = hash(tuple(sorted(kind.options)))
            return got

        def __eq__(self: Any, other: Any) -> Any:
            if type(other) is not type(self):
                return real_eq(self, other)
            mine = self._values
            theirs = other._values
            if mine == theirs:
                return True  # the same explicitly set options: the same values()
            # values() of either is an option's set value, else its default: only
            # options set in one or both can differ (compared as dict equality does).
            options = type(self).options
            for name in mine.keys() | theirs.keys():
                default = options[name].default
                a = mine.get(name, default)
                b = theirs.get(name, default)
                if not (a is b or a == b):
                    return False
            return True

        __hash__._hipflex = True  # type: ignore[attr-defined]
        __eq__._hipflex = True  # type: ignore[attr-defined]
        cls.__hash__ = __hash__
        cls.__eq__ = __eq__


def installed() -> bool:
    """Whether the patch is in place."""
    return bool(getattr(TargetConfig.__hash__, "_hipflex", False))

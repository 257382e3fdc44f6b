"""numba imported without three modules its import pulls in that a hipflex process does not use.

``import numba`` costs ~0.17 s of CPU, part of every ``hipflex`` command's
start-up (and of each process of ``hipflex analyze`` over many files).  Three
of its imports serve nothing a process that loads hipflex's kernels from the
cache does (``python -X importtime``; CPU seconds measured on the 2-core
machine):

- **SciPy** (~0.015 s): numba imports it only to check that its version is at
  least 1.0 (``numba._ensure_critical_deps``).  Hidden while numba is
  imported, so the check is skipped; SciPy itself stays importable, and
  numba's linear algebra imports it when a kernel that uses it is compiled
  (no hipflex kernel does, see ``_numba_setup.load_array_math_without_scipy``).
- **PyYAML** (~0.01 s): numba's configuration reads a ``.numba_config.yaml``
  in the working directory with it.  Hidden only when there is no such file,
  so a configuration file is read exactly as before.
- **importlib.metadata** (~0.05 s, with the e-mail parser it imports): numba
  scans the installed packages' entry points for its extensions before the
  first compile.  Imported lazily (:class:`importlib.util.LazyLoader`): it
  loads at its first use, which a cache load never makes; a compile makes it,
  so numba's extensions are found as before.

Nothing changes once numba is imported: a hidden module is importable again
afterwards, by anyone.  If numba was imported before this module, nothing is
done.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from types import ModuleType

__all__ = ["import_numba", "lazy_module"]

#: What numba's configuration reads with PyYAML when it exists (relative: the working directory).
NUMBA_CONFIG_FILE = ".numba_config.yaml"


def lazy_module(name: str) -> ModuleType | None:
    """Put a lazily loading module ``name`` into ``sys.modules`` (its code runs at first attribute use).

    Returns the module (already imported: that one), or ``None`` when it cannot be found.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does: the package gets the submodule as attribute
        setattr(sys.modules[parent], child, module)
    return module


def import_numba() -> ModuleType:
    """``import numba``, without the modules named in this module's docstring (see there)."""
    if "numba" in sys.modules:
        return sys.modules["numba"]
    hidden = ["scipy"]
    if not os.path.isfile(NUMBA_CONFIG_FILE):
        hidden.append("yaml")
    hidden = [name for name in hidden if name not in sys.modules]
    if threading.active_count() == 1:
        # Only while no other thread runs: Python 3.11's lazy module is not thread-safe on its
        # first use (a second thread touching it mid-load sees it half filled).  Imported
        # from a busy application's worker thread, numba imports it as usual.
        lazy_module("importlib.metadata")
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" raises ImportError
    try:
        return importlib.import_module("numba")
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


import_numba()

"""Test access to the real-dataset loaders of ``benchmarks/_real_data.py`` (one copy of the parsing).

The benchmark and the tests must read the recordings the same way, so the tests
load that module by path rather than repeat it; loaded recordings are cached per
dataset for the session.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@functools.lru_cache(maxsize=1)
def real_data() -> ModuleType:
    """The ``benchmarks/_real_data.py`` module."""
    path = REPO_ROOT / "benchmarks" / "_real_data.py"
    spec = importlib.util.spec_from_file_location("hipflex_bench_real_data", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@functools.cache
def cases(root: Path, dataset: str) -> dict[str, object]:
    """The dataset's recordings by name (``RealCase`` items)."""
    return {c.name: c for c in real_data().DATASETS[dataset](root)}


def case(root: Path, dataset: str, name: str):  # type: ignore[no-untyped-def]
    """One recording; skips the test when it is absent from ``root``."""
    found = cases(root, dataset).get(name)
    if found is None:
        pytest.skip(f"{dataset} recording {name} not found under {root}")
    return found

"""Helpers shared by the dsp kernel tests: kernel state from known axes, and slot-by-slot comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp._kernel_setup import _make_kernel
from hipflex.dsp.learn import Axes, Calibration

#: Event rows: how many the tests allocate.
EV_ROWS = 512


def slot_names(prefix: str) -> dict[int, str]:
    """Index -> layout name for the slots whose constants start with ``prefix`` (e.g. ``"F_"``)."""
    names: dict[int, str] = {}
    for name, value in sorted(vars(L).items(), key=lambda kv: str(kv[0])):
        if name.startswith(prefix) and name != prefix + "N" and isinstance(value, int):
            names.setdefault(value, name)
    return names


def _label(i: int, names: dict[int, str]) -> str:
    base = max((k for k in names if k <= i), default=None)
    if base is None:
        return str(i)
    return names[base] if base == i else f"{names[base]}+{i - base}"


def assert_slots_close(got: np.ndarray, want: np.ndarray, prefix: str, rtol: float = 1e-9, atol: float = 1e-12):
    """Compare two state arrays slot by slot, naming the slots that differ."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        names = slot_names(prefix)
        lines = [f"{_label(int(i), names)}: kernel {got[i]!r} twin {want[i]!r}" for i in np.flatnonzero(bad)]
        raise AssertionError("state slots differ:\n" + "\n".join(lines))


def kernel_arrays(
    settings: Settings,
    has_gyro: bool,
    frame: np.ndarray,
    period_s: float,
    up: np.ndarray | None = None,
    bias_dps: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fresh kernel arrays ``(prm, fstate, ist, hist)`` for a sensor whose axes are the columns of ``frame``."""
    u, w, a = (np.ascontiguousarray(frame[:, i]) for i in range(3))
    cal = Calibration(
        0,
        0,
        u if up is None else up,
        np.zeros(3) if bias_dps is None else bias_dps,
        period_s,
        True,
    )
    k = _make_kernel(settings, has_gyro, cal, Axes(u, w, a))
    return k.prm, k.fstate, k.ist, k.hist


def copies(*arrays: np.ndarray) -> list[np.ndarray]:
    """Independent copies of state arrays (one set per implementation)."""
    return [np.array(a) for a in arrays]


def run_both(kernel: Callable[..., Any], twin: Callable[..., Any], state: tuple[np.ndarray, ...], *args: Any):
    """Call kernel and twin on separate copies of ``state`` then ``args``; return results and states."""
    s_k = copies(*state)
    s_t = copies(*state)
    r_k = kernel(*s_k, *args)
    r_t = twin(*s_t, *args)
    return (r_k, s_k), (r_t, s_t)


def run_numba_script(tmp_path: Path, code: str, mode: str) -> dict[str, Any]:
    """Run ``code`` (a script given ``mode`` as its argument) in a fresh interpreter with its own numba cache.

    Returns the JSON object on its last line of output: a compile in a process of its own, so that
    a patch switched on or off by ``mode`` decides everything numba compiles there.
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / f"numba-{mode}"))
    out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got

"""The cyclic garbage collector paused while a whole recording is analysed (numba's compiling excepted).

An analysis makes no reference cycles (``tests/dsp/test_gc_pause.py`` checks
that none is left to collect): everything it drops is freed by reference
counting the moment it is dropped.  The collector has nothing to find
during it, yet it is triggered by the allocations alone: a dozen passes over
the analysis's young reps and events per million rows, and every few
analyses a full pass over every object the process holds (numba's compiler
keeps tens of thousands; 25-35 ms each, a fifth of an analysis).  Paused,
nothing is kept longer than otherwise; the collector's bookkeeping resumes
as before when the last concurrent analysis ends.

Compiling is different: numba's compiler does make cycles (a first analysis
of a fresh install peaked at 558 MB with the collector paused throughout,
329 MB without), so while numba compiles (its ``numba:compile`` event,
which fires on a cache miss only) the collector runs as usual.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from typing import Any

from numba.core import event

__all__ = ["collector_paused"]

_lock = threading.Lock()
_depth = 0  # analyses in progress (threads: analyze_many)
_resume = False  # whether the collector was on when the first of them began
_compiling = 0  # numba compiles in progress (nested: a kernel's callees)


class _CompileListener(event.Listener):
    """Runs the collector while numba compiles inside a paused block."""

    def on_start(self, ev: Any) -> None:
        global _compiling
        with _lock:
            _compiling += 1
            if _compiling == 1 and _depth and _resume:
                gc.enable()

    def on_end(self, ev: Any) -> None:
        global _compiling
        with _lock:
            _compiling -= 1
            if _compiling == 0 and _depth:
                gc.disable()


event.register("numba:compile", _CompileListener())


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause :mod:`gc`'s automatic collection for the block; restore it after the last concurrent block.

    A collector the caller had disabled stays disabled; nested and
    concurrent blocks (threads) resume it only when the last one ends.
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            if not _compiling:
                gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

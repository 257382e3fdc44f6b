"""Batch analysis of many independent recordings across cores.

Each recording is analysed by :func:`hipflex.dsp.analyze` exactly as on its own (same
result, bit for bit); only the scheduling differs.  The default pool is threads: the
numba kernels are compiled ``nogil=True``, so the per-sample work of several recordings
runs in parallel while only the thin Python layer (learning-phase bookkeeping, event
objects) takes turns on the GIL.  A :class:`concurrent.futures.ProcessPoolExecutor` can be
passed instead when the Python layer dominates (many very short recordings); keep it
alive across calls, since every new worker process loads numba and the kernel caches.

Example
-------
>>> from hipflex.dsp.batch import analyze_many
>>> results = analyze_many([samples_a, samples_b], sources=["a.csv", "b.csv"])  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Sequence
from typing import Literal, overload

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.pipeline import analyze
from hipflex.dsp.types import Analysis, ImuSamples

__all__ = ["analyze_many", "default_workers"]


def default_workers() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _one(samples: ImuSamples, settings: Settings | None, source: str) -> Analysis:
    return analyze(samples, settings, source)


@overload
def analyze_many(
    recordings: Sequence[ImuSamples],
    settings: Settings | None = ...,
    sources: Sequence[str] | None = ...,
    *,
    workers: int | None = ...,
    executor: cf.Executor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> list[Analysis]: ...


@overload
def analyze_many(
    recordings: Sequence[ImuSamples],
    settings: Settings | None = ...,
    sources: Sequence[str] | None = ...,
    *,
    workers: int | None = ...,
    executor: cf.Executor | None = ...,
    return_exceptions: Literal[True],
) -> list[Analysis | BaseException]: ...


def analyze_many(
    recordings: Sequence[ImuSamples],
    settings: Settings | None = None,
    sources: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    return_exceptions: bool = False,
) -> list[Analysis] | list[Analysis | BaseException]:
    """Analyse independent recordings in parallel; results in input order.

    Parameters
    ----------
    recordings : sequence of ImuSamples
        The recordings (each with or without gyro, independently).
    settings : Settings, optional
        Used for every recording; defaults to ``Settings()``.
    sources : sequence of str, optional
        Recorded in each result (``Analysis.source``); default empty strings.
    workers : int, optional
        Threads of the default pool; default :func:`default_workers`.  Ignored when
        ``executor`` is given.
    executor : concurrent.futures.Executor, optional
        Run on this executor instead (e.g. a process pool kept across calls); it is
        not shut down here.
    return_exceptions : bool
        If True a recording that cannot be analysed yields its exception in its slot
        and the others still get their result (like the CLI with several paths);
        if False (default) the first such exception is raised after all have run.

    Returns
    -------
    list of Analysis (or exceptions, with ``return_exceptions``)
        One per recording, in input order.

    Raises
    ------
    ValueError
        If ``sources`` and ``recordings`` differ in length, or ``workers < 1``.
    """
    n = len(recordings)
    names = [""] * n if sources is None else [str(s) for s in sources]
    if len(names) != n:
        raise ValueError(f"{len(names)} sources for {n} recordings")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if n == 0:
        return []
    own = executor is None
    pool = executor or cf.ThreadPoolExecutor(max_workers=min(workers or default_workers(), n))
    try:
        futures = [pool.submit(_one, rec, settings, name) for rec, name in zip(recordings, names, strict=True)]
        out: list[Analysis | BaseException] = []
        first_error: BaseException | None = None
        for fut in futures:
            exc = fut.exception()
            if exc is None:
                out.append(fut.result())
            else:
                out.append(exc)
                first_error = first_error or exc
    finally:
        if own:
            pool.shutdown(wait=True)
    if first_error is not None and not return_exceptions:
        raise first_error
    return out

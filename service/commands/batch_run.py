"""Many recordings through ``hipflex analyze``: folder expansion and an ordered, bounded pool.

The analysis of one file is independent of every other.  The numba kernels are compiled
``nogil=True`` and pyarrow's CSV reader parses outside the GIL, but about a third of a short
file's analysis is Python (the learning phase, each rep and set, the result), which a thread
pool runs one thread at a time: 1.0-1.2x on two cores for 100 files of 1-3 minutes
(benchmarks/README.md, "Many files").  Where the platform forks, the workers are therefore
processes forked from this one: they inherit its imports (numpy, numba, the loaded kernels)
instead of starting an interpreter each, and this process analyses files too (``jobs - 1``
workers), rather than only collecting results beside ``jobs`` workers.  Results come back in input order, whatever order
the files finish in, so the output is the same bytes as analysing the files one at a time.

Only the standard library is imported at module level (see :mod:`hipflex.service.commands`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["RECORDING_SUFFIXES", "Entry", "expand_paths", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Name endings (case-insensitive) of the files a folder argument contributes: plain and
#: MetaBase CSV, Polar Sensor Logger text exports, hipflex capture logs.
RECORDING_SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".jsonl")


@dataclass(frozen=True)
class Entry:
    """One item of work: a path as the user will see it, or a problem found before loading.

    Parameters
    ----------
    path : str
        The file (a folder's files are named as ``FOLDER/NAME``, in the user's spelling of
        ``FOLDER``), or the folder itself when ``problem`` says it has no recordings.
    problem : str or None
        Set when there is nothing to analyse (reported like a bad file).
    """

    path: str
    problem: str | None = None


#: In the name of every MetaBase accelerometer export (the file a gyroscope export belongs to),
#: whatever the case; a Polar Sensor Logger stream's name ends in ``.txt``.
_MAY_HAVE_COMPANION = "_accelerometer_"


def _companions(files: list[Path]) -> set[Path]:
    """Files of a folder that an importer reads together with another file of that folder.

    A MetaBase gyroscope export is merged into its accelerometer export, and a Polar Sensor
    Logger ``_GYRO.txt`` (or any other stream of the session) belongs to its ``_ACC.txt``;
    analysed on their own they would only repeat that session or fail.  Only names that can be
    such a session's (``..._Accelerometer_...`` or ``....txt``) make it import the two importers
    (and their text-table reader and merge: ~3 ms of CPU that a folder of plain CSVs, say, never
    needs, serial before any file is analysed).
    """
    if not any(_MAY_HAVE_COMPANION in f.name.lower() or f.name.lower().endswith(".txt") for f in files):
        return set()
    from hipflex.sensor.files.import_metabase import find_gyro_sibling, parse_metabase_name
    from hipflex.sensor.files.import_polar_logger import find_stream_sibling

    skip: set[Path] = set()
    for f in files:
        named = parse_metabase_name(f.name)
        if named is not None and named.sensor == "accelerometer":
            gyro = find_gyro_sibling(f)
            if gyro is not None:
                skip.add(gyro)
        acc = find_stream_sibling(f, "ACC")
        if acc is not None and acc != f:
            skip.add(f)
    return skip


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    """A folder's recordings, sorted by path; hidden files and folders are left out."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        here = [
            Path(root, n)
            for n in sorted(names)
            if not n.startswith(".") and n.lower().endswith(RECORDING_SUFFIXES) and Path(root, n).is_file()
        ]
        skip = _companions(here)
        found.extend(p for p in here if p not in skip)
    return sorted(found)


def expand_paths(paths: Iterable[str], recursive: bool = False) -> list[Entry]:
    """The files to analyse, in order: each file argument as given, each folder replaced by its recordings.

    Parameters
    ----------
    paths : iterable of str
        Command-line arguments (files or folders).
    recursive : bool
        Also take the recordings of sub-folders (depth first, sorted).

    Returns
    -------
    list of Entry
        A folder contributes the files whose names end in one of :data:`RECORDING_SUFFIXES`,
        sorted, leaving out hidden files and the companion files of MetaBase and Polar
        sessions (see :func:`_companions`); a folder with none gives one entry with a problem.
        Anything else (missing files too) is passed through for the loader to judge.
    """
    out: list[Entry] = []
    for arg in paths:
        folder = Path(arg)
        if not folder.is_dir():
            out.append(Entry(arg))
            continue
        files = _folder_files(folder, recursive)
        if not files:
            where = "in it or its sub-folders" if recursive else "in it (--recursive looks in sub-folders)"
            kinds = ", ".join(RECORDING_SUFFIXES)
            out.append(Entry(arg, f"{arg}: is a directory with no recordings ({kinds}) {where}"))
            continue
        # os.path.join keeps the user's spelling of the folder ("data/", "./x"), so "source"
        # is what analysing that file alone by the same name would give.
        out.extend(Entry(os.path.join(arg, str(f.relative_to(folder)))) for f in files)
    return out


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    jobs: int,
    window: int | None = None,
    on_stop: Callable[[], None] | None = None,
    processes: bool = False,
) -> Generator[R, None, None]:
    """``map(fn, items)`` on ``jobs`` workers, results in input order, at most ``window`` items taken ahead.

    Parameters
    ----------
    fn : callable
        The work for one item; runs in a worker thread (``jobs > 1``).  Should return its
        failures rather than raise them (an exception is re-raised here, in order).
    items : iterable
        Consumed lazily: never more than ``window`` items are submitted and not yet yielded,
        which bounds the memory held by finished results waiting for a slow earlier one.
    jobs : int
        Worker threads; 1 runs everything in the calling thread, one item at a time.
    window : int, optional
        Items in flight (running, queued or finished but not yet yielded); default
        ``2 * jobs`` (``4 * jobs`` with ``processes``, where the calling process works too and
        would otherwise fill the window with its own results while a worker's is awaited), so
        that one long file does not leave the other workers idle at once.
    on_stop : callable, optional
        Called when the consumer stops early (an exception, or closing the generator), before
        the queued items are cancelled and the running ones are waited for, e.g. to set a
        cancel event that the loaders check (a forked worker does not see it: it finishes the
        file it has).
    processes : bool
        Run ``fn`` in ``jobs - 1`` processes forked from this one and in this one (where the
        platform forks; threads elsewhere).  ``fn`` itself is not pickled (the children inherit
        it), but each item and result of a worker is.

    Yields
    ------
    The results of ``fn``, in the order of ``items``.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1:
        yield from map(fn, items)
        return
    # Imported here: 25 ms that a single file (jobs == 1) does not need.
    import multiprocessing

    if processes and "fork" in multiprocessing.get_all_start_methods():
        limit = max(window if window is not None else 4 * jobs, jobs)
        yield from _forked_map(fn, iter(items), jobs, limit, on_stop)
        return
    limit = max(window if window is not None else 2 * jobs, jobs)
    source = iter(items)
    pending: deque[Future[Any]] = deque()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hipflex-analyze")
    finished = False
    try:
        for item in source:
            pending.append(pool.submit(fn, item))
            if len(pending) >= limit:
                break
        while pending:
            result = pending.popleft().result()
            # Refill before handing the result out, so the workers stay busy while the
            # caller writes it.
            for item in source:
                pending.append(pool.submit(fn, item))
                break
            yield result
        finished = True
    finally:
        if not finished and on_stop is not None:
            on_stop()
        pool.shutdown(wait=True, cancel_futures=True)


def _forked_map(
    fn: Callable[[T], R], source: Iterator[T], jobs: int, limit: int, on_stop: Callable[[], None] | None
) -> Generator[R, None, None]:
    """:func:`ordered_map` on ``jobs - 1`` forked workers and this process.

    This process works too, instead of waiting for results beside ``jobs`` workers on ``jobs``
    cores: whenever the oldest item is not finished it takes the next item itself (within the
    window), so the items it runs never cross a pipe (a worker's result is pickled), and one
    process fewer is forked.  A worker is given its next item the moment it finishes one (a
    callback of the pool's result thread, which runs while this process works on an item of its
    own), so it holds only :data:`_POOL_ITEMS` items: few are left queued in a worker when the
    items run out, for this process to wait for at the end.
    """
    import threading
    from concurrent.futures import ProcessPoolExecutor

    global _FORKED
    if _FORKED is not None:
        raise RuntimeError("ordered_map(processes=True) is already running")
    _FORKED = fn
    workers = jobs - 1
    # In input order, the futures of the items run here and in the workers; the window counts
    # both.  Taking an item and appending its future happen together under the lock (this thread
    # and the pool's result thread both take items), so that the futures stay in input order.
    # Re-entrant: a future already finished runs its callback at once, in the thread adding it.
    pending: deque[Future[Any]] = deque()
    lock = threading.RLock()
    in_pool = 0  # items in the workers, not finished
    taking = True  # items are still taken (false once the iterator failed or the map ended)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_fork_context())

    def feed() -> None:
        """Under ``lock``: keep each worker holding :data:`_POOL_ITEMS` items, within the window."""
        nonlocal in_pool
        while taking and in_pool < _POOL_ITEMS * workers and len(pending) < limit:
            item = next(source, _END)
            if item is _END:
                return
            try:
                future = pool.submit(_forked, item)
            except Exception as exc:  # a broken pool: the item fails in order, where it is taken
                future = Future()
                future.set_exception(exc)
                pending.append(future)
                return
            in_pool += 1
            pending.append(future)
            future.add_done_callback(refill)

    def refill(_: Future[Any]) -> None:
        """A worker finished an item (in the pool's result thread): give it the next."""
        nonlocal in_pool, taking
        with lock:
            in_pool -= 1
            try:
                feed()
            except BaseException as exc:  # the items' iterator failed: raise it in order
                future: Future[Any] = Future()
                future.set_exception(exc)
                pending.append(future)
                taking = False

    finished = False
    try:
        while True:
            here: Future[Any] | None = None
            oldest: Future[Any] | None = None
            with lock:
                feed()
                if pending and pending[0].done():
                    oldest = pending.popleft()
                elif len(pending) < limit and taking and (item := next(source, _END)) is not _END:
                    here = Future()
                    pending.append(here)
                elif pending:
                    oldest = pending.popleft()  # wait for it
                else:
                    break
            if here is not None:
                try:
                    here.set_result(fn(item))
                except Exception as exc:  # re-raised in order, where the result is taken (as a worker's is)
                    here.set_exception(exc)
            elif oldest is not None:
                yield oldest.result()
        finished = True
    finally:
        with lock:
            taking = False
        if not finished and on_stop is not None:
            on_stop()
        pool.shutdown(wait=True, cancel_futures=True)
        _FORKED = None


#: Items a forked worker holds, not yet finished (running or queued).  One more than it runs, so
#: that the next is already in its pipe when it finishes one; the pool's result thread gives it
#: another at once, whatever this process is doing.  Scheduling the measured item costs of 100
#: files of 1-3 minutes (benchmarks/many_files.py) on one worker and this process: the
#: critical path 1.377 s against 1.353 s if perfectly shared (1.390 s when this process refilled
#: the pool only between its own items, with three items a worker; 1.406 against 1.367 s on
#: average over 50 shuffled orders).
_POOL_ITEMS = 2

#: The end of the items (``next(source, _END)``).
_END: Any = object()


def _fork_context() -> Any:
    import multiprocessing

    return multiprocessing.get_context("fork")


#: The work of the running ``ordered_map(processes=True)``: set before its workers fork,
#: so that they inherit it (a closure cannot be pickled to them).
_FORKED: Callable[..., object] | None = None


def _forked(item: T) -> object:
    """The work for one item, in a forked worker."""
    assert _FORKED is not None, "not in a worker forked by ordered_map"
    return _FORKED(item)

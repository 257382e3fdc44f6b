"""The first recordings of a many-file run, parsed in a forked process while this one imports the analysis.

``hipflex analyze DIR --jobs 2`` spends its first ~0.25 s of CPU in one process (numpy, numba,
the analysis modules, the kernels' caches) while the other core waits for the workers' fork:
the speed-up on two cores is bounded by that serial part (benchmarks/README.md, "Many files").
Reading a CSV file into blocks needs none of numba.  :func:`start` forks, before that import,
a process that reads the run's first files into the blocks
:func:`hipflex.sensor.formats.open_blocks` yields and puts them into memory shared with this
process; :meth:`EarlyParse.stop`, called where the workers fork, ends it and keeps what it
finished.  Those files are then analysed from their blocks (by whichever process takes them: the
forked workers inherit the shared memory) instead of being read again; a file it did not finish,
or could not read in blocks, is read as before.  The blocks are the same, so the analysis and its
output are the same bytes.

A thread would not do: about 40 % of a file's parse holds the GIL (the block checks, copying
the columns), which would delay the imports by as much as it saves.

Only the standard library is imported at module level (see :mod:`hipflex.service.commands`).
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CAPACITY_BYTES", "EarlyParse", "start"]

#: Shared memory for the parsed files (address space: only the pages written are used).  The
#: parser stops at the first file that does not fit.  In the ~0.25 s it has on idle cores it
#: reads ~20 files of 1-3 minutes (~25 MB); the bound keeps it from reading on for long where
#: this process takes longer (a first run compiling the kernels beside the compile helper).
CAPACITY_BYTES = 64 << 20

#: The shared memory's head: the stop flag (byte 0), then the parser's CPU seconds (a double at 8).
_HEAD_BYTES = 64
#: One finished file, written to the pipe after its bytes are in the shared memory:
#: offset, length of the path (UTF-8), length of the pickled blocks.
_RECORD = struct.Struct("<QQQ")


class EarlyParse:
    """The forked parser of :func:`start`; :meth:`stop` ends it and returns what it finished.

    Attributes
    ----------
    cpu_s : float
        The parser's CPU seconds up to its last finished file (set by :meth:`stop`).
    files : int
        Files it finished (set by :meth:`stop`).
    """

    def __init__(self, pid: int, shared: mmap.mmap, read_fd: int) -> None:
        self._pid = pid
        self._shared = shared
        self._read_fd = read_fd
        self._parsed: dict[str, memoryview] | None = None
        self.cpu_s = 0.0
        self.files = 0

    def stop(self) -> dict[str, memoryview]:
        """End the parser (at once, whatever it is reading) and return its files, path -> pickled blocks.

        Idempotent: later calls return the same files.  A file whose record is not in the pipe
        was not finished and is left out.
        """
        if self._parsed is not None:
            return self._parsed
        self._shared[0] = 1
        try:
            os.kill(self._pid, 9)  # SIGKILL: it holds nothing but its copy of this process
        except ProcessLookupError:  # pragma: no cover - it had ended on its own (all files read)
            pass
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:  # pragma: no cover - reaped elsewhere
            pass
        chunks = []
        while chunk := os.read(self._read_fd, 1 << 16):
            chunks.append(chunk)
        os.close(self._read_fd)
        data = b"".join(chunks)
        view = memoryview(self._shared)
        parsed: dict[str, memoryview] = {}
        for at in range(0, len(data) - len(data) % _RECORD.size, _RECORD.size):
            offset, n_path, n_blob = _RECORD.unpack_from(data, at)
            path = bytes(view[offset : offset + n_path]).decode("utf-8", "surrogateescape")
            parsed.setdefault(path, view[offset + n_path : offset + n_path + n_blob])
        self.cpu_s = struct.unpack_from("<d", self._shared, 8)[0]
        self.files = len(parsed)
        self._parsed = parsed
        return parsed


def blocks_of(parsed: dict[str, memoryview], path: str) -> tuple[bool, list[Any]] | None:
    """``(has_gyro, blocks)`` of a file :meth:`EarlyParse.stop` returned, or ``None`` if it is not one."""
    blob = parsed.get(path)
    if blob is None:
        return None
    has_gyro, blocks = pickle.loads(blob)
    return bool(has_gyro), list(blocks)


def start(paths: Sequence[str], recursive: bool, fmt: str, load_options: Callable[[], Any]) -> EarlyParse | None:
    """Fork the parser for the files of ``paths`` (as ``hipflex analyze`` expands them), or ``None``.

    ``None`` where this process cannot fork safely or usefully: no ``os.fork``, other threads
    running (a fork copies only the calling thread, whatever locks the others hold), or the
    analysis already imported (nothing left to overlap).  ``load_options`` builds the loader
    options in the parser; if it fails the parser reads nothing (this process reports the error).
    """
    if not hasattr(os, "fork") or threading.active_count() != 1 or "hipflex.dsp.pipeline" in sys.modules:
        return None
    shared = mmap.mmap(-1, CAPACITY_BYTES)  # anonymous and shared: the parser's writes are seen here
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked parser (its coverage is not collected)
        try:
            os.close(read_fd)
            _parse(shared, write_fd, paths, recursive, fmt, load_options)
        finally:
            os._exit(0)
    os.close(write_fd)
    return EarlyParse(pid, shared, read_fd)


def _parse(
    shared: mmap.mmap,
    write_fd: int,
    paths: Sequence[str],
    recursive: bool,
    fmt: str,
    load_options: Callable[[], Any],
) -> None:  # pragma: no cover - runs in the forked parser
    """The parser: read each file into blocks, in the run's order, until stopped or out of room."""
    _without_numba()
    from hipflex.sensor.files.csv_fast import read_in_calling_thread
    from hipflex.sensor.formats import open_blocks
    from hipflex.service.commands.batch_run import expand_paths

    read_in_calling_thread()  # one core: the other is this run's start-up

    options = load_options()
    offset = _HEAD_BYTES
    for entry in expand_paths(paths, recursive=recursive):
        if shared[0]:
            return
        if entry.problem is not None:
            continue
        try:
            if os.path.getsize(entry.path) > len(shared) - offset:  # its blocks would not fit either
                return
            blocks = open_blocks(entry.path, fmt, options)
            if blocks is None:
                continue
            blob = pickle.dumps((blocks.has_gyro, list(blocks)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # read as before, where the error (or MustReadWhole) is handled
            continue
        key = entry.path.encode("utf-8", "surrogateescape")
        end = offset + len(key) + len(blob)
        if end > len(shared):
            return
        shared[offset : offset + len(key)] = key
        shared[offset + len(key) : end] = blob
        struct.pack_into("<d", shared, 8, time.process_time())
        os.write(write_fd, _RECORD.pack(offset, len(key), len(blob)))
        offset = end


def _without_numba() -> None:  # pragma: no cover - runs in the forked parser
    """Let the readers import ``hipflex.dsp``'s data modules without the package's ``__init__``.

    The package imports the analysis, hence numba (~0.15 s): the very import this process
    overlaps.  The readers need only ``hipflex.dsp.types`` and the few plain modules it imports
    (no numba); a bare package module with the package's path gives them those.  Only in the
    forked parser, which ends after reading.
    """
    if "hipflex.dsp" in sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec("hipflex.dsp")  # finds the package without running it
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType("hipflex.dsp")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["hipflex.dsp"] = package

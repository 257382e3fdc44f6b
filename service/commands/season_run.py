"""Many recordings into tables: one recording is one task, run here on threads or on a Dask cluster.

:func:`analyze_recording` is the task: it reads the recording from its path (a worker reads it
from shared storage, or an fsspec URL; the bytes never pass through the scheduler), hashes its
bytes, analyses it and returns a :class:`~hipflex.service.season_tables.RecordingResult`; it
never raises, so one bad file is one error row and not a failed job.  The same function runs
in this process (:func:`run_local`, a bounded thread pool) and on ``dask.distributed``
(:func:`run_on_dask`), so the tables are the same whichever ran them; results are put back in
input order before the tables are built.

dask and distributed are optional (``pip install "hipflex[dask]"``) and imported only by
:func:`run_on_dask` and :func:`open_client`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Collection, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hipflex.service.commands.batch_run import Entry, expand_paths, ordered_map
from hipflex.service.season_tables import RecordingResult, SeasonTables, result_tables, settings_json

if TYPE_CHECKING:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.format_spec import LoadOptions

__all__ = [
    "RecordingJob",
    "analyze_recording",
    "analyze_recordings",
    "content_sha256",
    "expand_inputs",
    "open_client",
    "run_local",
    "run_on_dask",
]

_GLOB_CHARS = frozenset("*?[")
#: Local clusters started by :func:`open_client`, by ``id`` of their client.
_LOCAL_CLUSTERS: dict[int, Any] = {}


@dataclass(frozen=True)
class RecordingJob:
    """How every recording of a run is read and analysed (sent with each task; small and picklable).

    Parameters
    ----------
    fmt : str
        Input format name, or ``"auto"``.
    options : LoadOptions or None
        Loader options (without a cancel event: it cannot cross processes).
    settings : Settings or None
        Analysis settings; None means the defaults.
    version : str
        The hipflex version recorded in the results (the caller's, so a mixed cluster shows up).
    """

    fmt: str = "auto"
    options: LoadOptions | None = None
    settings: Settings | None = None
    version: str = field(default="")

    def settings_json(self) -> str:
        """The settings used, as canonical JSON."""
        from hipflex.dsp.analysis_settings import Settings

        return settings_json(self.settings if self.settings is not None else Settings())


def _is_url(path: str) -> bool:
    return "://" in path and not os.path.exists(path)


def content_sha256(path: str) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks; ``path`` may be an fsspec URL."""
    if _is_url(path):
        import fsspec

        with fsspec.open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def analyze_recording(
    source: str, job: RecordingJob, skip: Collection[str] = frozenset(), problem: str | None = None
) -> RecordingResult:
    """Hash, read and analyse one recording; never raises (a failure is a result with ``error``).

    Parameters
    ----------
    source : str
        Path (as the user gave it, resolved against the working directory) or fsspec URL.
    job : RecordingJob
        Format, loader options, settings, version.
    skip : collection of str
        Content hashes already in the output: such a recording is not analysed (``skipped``).
    problem : str, optional
        A problem found before loading (a folder without recordings): reported as the error.

    Returns
    -------
    RecordingResult
    """
    sj = job.settings_json()
    if problem is not None:
        return RecordingResult(source, None, error=_one_line(problem), status=2, settings_json=sj, version=job.version)
    try:
        digest: str | None = content_sha256(source)
    except OSError:
        digest = None  # the loader names the problem (no such file, a folder, no permission)
    if digest is not None and digest in skip:
        return RecordingResult(source, digest, settings_json=sj, version=job.version, skipped=True)
    from hipflex.sensor.format_spec import InputError

    try:
        result = _load_and_analyze(source, job)
    except InputError as exc:
        error, status = _one_line(exc), 2
    except ValueError as exc:  # the core rejects what it cannot analyse
        error, status = f"{source}: {_one_line(exc)}", 2
    except Exception as exc:
        error, status = f"{source}: unexpected error: {type(exc).__name__}: {_one_line(exc)}", 1
    else:
        return RecordingResult(source, digest, result, settings_json=sj, version=job.version)
    return RecordingResult(source, digest, error=error, status=status, settings_json=sj, version=job.version)


def _load_and_analyze(source: str, job: RecordingJob) -> Any:
    import dataclasses

    from hipflex.dsp import analyze
    from hipflex.sensor.formats import load_samples

    if _is_url(source):
        import fsspec

        # The loaders read local files: an object-store recording is copied to a temporary file
        # on the worker (one at a time per task; companion files of a session are not fetched).
        with tempfile.TemporaryDirectory(prefix="hipflex-") as tmp:
            local = Path(tmp, source.rstrip("/").rsplit("/", 1)[-1] or "recording")
            with fsspec.open(source, "rb") as src, open(local, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            samples = load_samples(local, job.fmt, job.options)
    else:
        samples = load_samples(source, job.fmt, job.options)
    result = analyze(samples, job.settings, source=source)
    return dataclasses.replace(result, source=source, version=job.version)


def expand_inputs(paths: Iterable[str], recursive: bool = False) -> list[Entry]:
    """Folders and globs (``season/*/left_*.csv``, ``**`` with ``recursive``) as their files, in order.

    A pattern is expanded here, sorted, when no file has that very name (a shell leaves a quoted
    one alone, and a million names do not fit on a command line); a pattern matching nothing
    is one entry with a problem.  fsspec URLs are passed through unchanged.
    """
    out: list[Entry] = []
    for arg in paths:
        if _GLOB_CHARS.intersection(arg) and not os.path.exists(arg) and "://" not in arg:
            matches = sorted(glob.glob(arg, recursive=recursive))
            if not matches:
                out.append(Entry(arg, f"{arg}: no file matches this pattern"))
                continue
            out.extend(expand_paths(matches, recursive=recursive))
        else:
            out.extend(expand_paths([arg], recursive=recursive))
    return out


def run_local(
    entries: list[Entry], job: RecordingJob, jobs: int = 1, skip: Collection[str] = frozenset()
) -> Generator[tuple[int, RecordingResult], None, None]:
    """Every entry on ``jobs`` threads of this process; yields ``(input index, result)`` in input order."""

    def work(entry: Entry) -> RecordingResult:
        return analyze_recording(entry.path, job, skip, entry.problem)

    yield from enumerate(ordered_map(work, entries, max(1, min(jobs, len(entries) or 1))))


def open_client(address: str) -> Any:
    """A ``distributed.Client`` for ``tcp://HOST:PORT`` (a running scheduler) or ``local:N``.

    ``local:N`` starts a ``LocalCluster`` of N worker processes with one thread each (the
    analysis is single-threaded; processes keep the GIL out of the way); it is closed with the
    client.
    """
    from distributed import Client, LocalCluster

    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"--dask local:N needs a number of workers, got {address!r}") from None
        if n < 1:
            raise ValueError(f"--dask local:N needs at least 1 worker, got {n}")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        _LOCAL_CLUSTERS[id(client)] = cluster  # closed with the client (close_client)
        return client
    return Client(address, timeout="30s")


def close_client(client: Any) -> None:
    """Close a client from :func:`open_client` and the local cluster it started, if any."""
    cluster = _LOCAL_CLUSTERS.pop(id(client), None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_on_dask(
    client: Any,
    entries: list[Entry],
    job: RecordingJob,
    skip: Collection[str] = frozenset(),
    window: int | None = None,
    task: Callable[[str, RecordingJob, Any], RecordingResult] | None = None,
) -> Generator[tuple[int, RecordingResult], None, None]:
    """Every entry as a task on a ``distributed.Client``; yields ``(input index, result)`` as they finish.

    Parameters
    ----------
    client : distributed.Client
    entries : list of Entry
        Paths the workers can read (the same shared storage, or fsspec URLs).
    job : RecordingJob
    skip : collection of str
        Content hashes not to redo; sent to every worker once.
    window : int, optional
        Tasks submitted and not yet collected; default four per worker thread (at least 16),
        so the scheduler never holds the whole season and finished results do not pile up.
    task : callable, optional
        ``task(source, job, skip)``; default :func:`analyze_recording` (a benchmark passes an
        empty one to measure the scheduler's own cost per task).

    Notes
    -----
    A task that fails outside the analysis (a worker killed, say) becomes an error row too.
    Stopping early (an exception, closing the generator) cancels the tasks in flight.
    """
    from distributed import as_completed

    fn = task if task is not None else analyze_recording
    threads = sum(client.nthreads().values()) or 1
    limit = max(window if window is not None else 4 * threads, 16 if window is None else 1)
    # Sent once to every worker, not with each task.  In a list: scatter would spread a set's members.
    skip_on_workers: Any = client.scatter([frozenset(skip)], broadcast=True, hash=False)[0] if skip else frozenset()
    run_id = uuid.uuid4().hex[:8]
    todo = iter(enumerate(entries))
    index: dict[Any, int] = {}
    ready: list[tuple[int, RecordingResult]] = []
    done = as_completed()

    def submit_next() -> bool:
        for i, entry in todo:
            if entry.problem is not None:  # nothing to read: no task
                ready.append((i, analyze_recording(entry.path, job, problem=entry.problem)))
                continue
            fut = client.submit(fn, entry.path, job, skip_on_workers, key=f"hipflex-analyze-{run_id}-{i}", pure=False)
            index[fut] = i
            done.add(fut)
            return True
        return False

    try:
        while len(index) < limit and submit_next():
            pass
        yield from ready
        ready.clear()
        for fut in done:
            i = index.pop(fut)
            if fut.status == "error":
                exc = fut.exception()
                source = entries[i].path
                line = f"{source}: task failed: {type(exc).__name__}: {_one_line(exc)}"
                result = RecordingResult(source, None, error=line, status=1, settings_json=job.settings_json(),
                                         version=job.version)  # fmt: skip
            else:
                result = fut.result()
            fut.release()
            submit_next()
            yield from ready
            ready.clear()
            yield i, result
    finally:
        if index:
            client.cancel(list(index))


def analyze_recordings(
    paths: Iterable[str],
    client: Any = None,
    settings: Settings | None = None,
    fmt: str = "auto",
    options: LoadOptions | None = None,
    jobs: int | None = None,
    recursive: bool = False,
    skip_hashes: Collection[str] = frozenset(),
    on_result: Callable[[RecordingResult], None] | None = None,
) -> SeasonTables:
    """Files, folders or globs into the three tables, here or on a Dask cluster.

    Parameters
    ----------
    paths : iterable of str
        Recordings, folders of recordings, glob patterns or fsspec URLs.
    client : distributed.Client, optional
        Run each recording as a task on this cluster; default: threads of this process.
    settings : Settings, optional
    fmt : str
        Input format (``"auto"``: recognised from the contents).
    options : LoadOptions, optional
    jobs : int, optional
        Threads without a client (default: one per core).
    recursive : bool
        Folders' sub-folders too.
    skip_hashes : collection of str
        Content hashes to leave out (already analysed elsewhere).
    on_result : callable, optional
        Called with each result as it arrives (e.g. to advance a progress bar).

    Returns
    -------
    SeasonTables
        Rows in input order, the same whoever ran them.

    Examples
    --------
    >>> tables = analyze_recordings(["season/"])            # doctest: +SKIP
    >>> reps, sets, recordings = tables.to_pandas()         # doctest: +SKIP
    """
    from hipflex import __version__
    from hipflex.dsp.batch import default_workers

    entries = expand_inputs(paths, recursive=recursive)
    job = RecordingJob(fmt, options, settings, __version__)
    if client is not None:
        stream = run_on_dask(client, entries, job, skip_hashes)
    else:
        stream = run_local(entries, job, jobs if jobs is not None else default_workers(), skip_hashes)
    results: list[RecordingResult | None] = [None] * len(entries)
    for i, result in stream:
        results[i] = result
        if on_result is not None:
            on_result(result)
    return result_tables(r for r in results if r is not None)

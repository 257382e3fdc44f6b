"""``hipflex analyze --out results.parquet [--dask ADDRESS] [--skip-done]``: many recordings into tables.

The command-line half of :mod:`hipflex.service.commands.season_run`: options checked, the
earlier output read for ``--skip-done``, results collected with a progress bar as they arrive
(errors on stderr, one line each), the three tables written, a summary line on stderr.

Only the standard library is imported at module level (it is imported by ``analyze`` only when
``--out`` is given, but stays as light as the other command modules).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hipflex.service.commands import UsageError, check_output_folder

if TYPE_CHECKING:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.format_spec import LoadOptions
    from hipflex.service.season_tables import RecordingResult, SeasonTables

__all__ = ["add_table_arguments", "check_table_arguments", "done_hashes", "run_tables"]

Progress = Callable[[bool, int], AbstractContextManager[Callable[[str], None]]]


def add_table_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``--out``, ``--dask`` and ``--skip-done``."""
    g = p.add_argument_group(
        "tables (many recordings)",
        "Write one row per rep, per set and per recording through pyarrow instead of printing: "
        "--out results.parquet writes results.reps.parquet, results.sets.parquet and "
        "results.recordings.parquet (the same with .csv). Set and rep numbers count from 1.",
    )
    g.add_argument("--out", metavar="FILE", help="results.parquet or results.csv: the three tables' common name")
    g.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run each recording as a task on a Dask cluster: tcp://HOST:8786 (a running scheduler; "
        "the workers read the paths, so they must see the same files) or local:N (N worker processes "
        "here); needs pip install 'hipflex[dask]'",
    )
    g.add_argument(
        "--skip-done",
        action="store_true",
        help="leave out recordings whose content (SHA-256) the --out tables already hold, analysed with "
        "the same settings and version; their earlier rows are kept",
    )


def check_table_arguments(args: argparse.Namespace) -> bool:
    """Whether the run writes tables; ``UsageError`` for options that need ``--out``."""
    out = getattr(args, "out", None)
    if out is None:
        if getattr(args, "dask", None) is not None:
            raise UsageError("--dask writes tables: give --out results.parquet (or results.csv)")
        if getattr(args, "skip_done", False):
            raise UsageError("--skip-done needs --out: the tables that say what is done")
        return False
    from hipflex.service.season_tables import table_paths

    try:
        table_paths(out)
    except ValueError as exc:
        raise UsageError(f"--out {exc}") from None
    check_output_folder("--out", Path(out))  # the three tables go next to it
    return True


def done_hashes(earlier: SeasonTables, settings_json: str, version: str) -> frozenset[str]:
    """Content hashes of the recordings an earlier output analysed with these settings and version."""
    rec = earlier.recordings.select(["content_sha256", "status", "settings_json", "hipflex_version"]).to_pylist()
    return frozenset(
        r["content_sha256"]
        for r in rec
        if r["content_sha256"] and r["status"] == "ok"
        and r["settings_json"] == settings_json and r["hipflex_version"] == version
    )  # fmt: skip


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _open_client(address: str) -> Any:
    try:
        from hipflex.service.commands.season_run import open_client

        return open_client(address)
    except ImportError as exc:
        raise UsageError(f"--dask needs dask and distributed ({exc}): pip install 'hipflex[dask]'") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_tables(
    args: argparse.Namespace,
    options: LoadOptions,
    settings: Settings,
    jobs: int,
    progress: Progress,
    progress_from_files: int,
) -> int:
    """Analyse every input into the ``--out`` tables; returns 0, 2 (a bad input) or 1 (an unexpected error).

    ``progress(enabled, total)`` is the progress bar of ``hipflex analyze``, shown (on a terminal)
    with ``--progress`` or more than ``progress_from_files`` recordings.
    """
    from hipflex import __version__
    from hipflex.service.commands.season_run import RecordingJob, close_client, expand_inputs, run_local, run_on_dask
    from hipflex.service.season_tables import merge_done, read_tables, result_tables, write_tables

    entries = expand_inputs(args.paths, recursive=bool(args.recursive))
    # A cancel event cannot cross to worker processes; the loaders check it only when set.
    job = RecordingJob(args.format, dataclasses.replace(options, cancel=None), settings, __version__)
    earlier = read_tables(args.out) if args.skip_done else None
    skip = done_hashes(earlier, job.settings_json(), __version__) if earlier is not None else frozenset()

    show_bar = (bool(args.progress) or len(entries) > progress_from_files) and sys.stderr.isatty()
    results: list[RecordingResult | None] = [None] * len(entries)
    status = 0
    try:
        client = _open_client(args.dask) if args.dask is not None else None
    except (OSError, TimeoutError) as exc:  # no scheduler there, or it did not answer in time
        print(f"hipflex: cannot reach the Dask scheduler at {args.dask}: {_one_line(exc)}", file=sys.stderr)
        return 1
    try:
        if client is not None:
            stream = run_on_dask(client, entries, job, skip)
        else:
            stream = run_local(entries, job, max(1, min(jobs, len(entries))), skip)
        with progress(show_bar, len(entries)) as advance, closing(stream):
            for i, result in stream:
                results[i] = result
                if result.error is not None:
                    print(f"hipflex: {result.error}", file=sys.stderr)
                    status = 2 if result.status == 2 else max(status, result.status)
                advance(result.source)
    finally:
        if client is not None:
            close_client(client)
    done = [r for r in results if r is not None]
    tables = merge_done(earlier, done) if earlier is not None else result_tables(done)
    try:
        written = write_tables(tables, args.out)
    except OSError as exc:  # e.g. the disk filled up: say so in one line (the earlier output stays whole)
        print(f"hipflex: --out {args.out}: cannot write the tables: {_one_line(exc)}", file=sys.stderr)
        return 1
    if args.json:
        for r in done:
            if r.analysis is not None:
                sys.stdout.write(json.dumps(r.analysis.to_dict(), allow_nan=False) + "\n")
    failed = sum(r.error is not None for r in done)
    skipped = sum(r.skipped for r in done)
    print(
        f"hipflex: {len(done)} recordings: {len(done) - failed - skipped} analysed, {skipped} already done, "
        f"{failed} failed; wrote {', '.join(str(p) for p in written)}",
        file=sys.stderr,
    )
    return status

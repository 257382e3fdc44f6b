"""``hipflex analyze PATH...``: recordings in, one analysis per file out (table or JSON Lines).

Only the standard library is imported at module level; the loaders, the numba
core and rich are imported in :func:`run`, so that ``hipflex --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hipflex.service.commands import Command, UsageError, check_output_folder
from hipflex.service.commands.analyze_kernels import kernels_ready, recordings_mode
from hipflex.service.commands.batch_run import Entry, expand_paths, ordered_map
from hipflex.service.commands.mounting_opts import add_mounting_arguments, mounting_changes
from hipflex.service.commands.season_cli import add_table_arguments, check_table_arguments

if TYPE_CHECKING:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.dsp.types import Analysis, ImuSamples
    from hipflex.sensor.format_spec import LoadOptions
    from hipflex.service.commands.early_parse import EarlyParse

__all__ = [
    "COMMAND",
    "PROGRESS_FROM_FILES",
    "add_arguments",
    "add_mapping_arguments",
    "build_load_options",
    "build_settings",
    "run",
]

#: With more files than this a progress bar is shown (on stderr, when it is a terminal) even
#: without ``--progress``.
PROGRESS_FROM_FILES = 3

EPILOG = """\
examples:
  hipflex analyze session.csv
  hipflex analyze --json a.csv b.csv > results.jsonl
  hipflex analyze --json recordings/ > results.jsonl      (every recording in the folder)
  hipflex analyze trial.csv --time-col time --acc-cols Ax3,Ay3,Az3 --acc-unit m/s2 \\
      --gyro-cols Gx3,Gy3,-Gz3 --gyro-unit dps
  hipflex analyze trial.csv --columns eurobench:3
  hipflex analyze season/ --out results.parquet   (results.reps/.sets/.recordings.parquet)
  hipflex analyze --dask tcp://scheduler:8786 '/shared/season/**/*.csv' -r --out results.parquet

A folder stands for its recordings: the files ending in .csv, .txt or .jsonl, sorted
by name, not those in sub-folders unless --recursive; hidden files and the companion
files of a session (a MetaBase gyroscope export, a Polar _GYRO.txt next to its
_ACC.txt) are skipped.  Files are analysed --jobs at a time (default: every core;
this process and --jobs - 1 forked workers) and written in input order, the same
bytes as analysing each file alone.  A progress
bar is shown on stderr, when it is a terminal, with --progress or more than 3 files.

exit status: 0 all files analysed, 2 bad usage or at least one bad input file
(one line on stderr per bad file, in input order; the other files are still
analysed and written), 1 an unexpected error.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex analyze``."""
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="recordings or folders of recordings to analyse, in output order"
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="files analysed at once (default: one per core; 1 = one after another)",
    )
    p.add_argument("--recursive", "-r", action="store_true", help="a folder's sub-folders too")
    p.add_argument(
        "--format",
        default="auto",
        metavar="FMT",
        help="input format: auto (default: recognise from the contents), csv (plain or column-mapped), "
        "polar (Polar Sensor Logger ACC/GYRO .txt), metabase (MetaMotion CSV export), capture (hipflex "
        "capture log .jsonl)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document per line (JSON Lines)")
    p.add_argument("--min-rom-deg", type=float, metavar="DEG", help="smallest rise that counts as a rep (20)")
    p.add_argument("--set-gap-s", type=float, metavar="S", help="pause that splits sets, seconds (8)")
    add_mounting_arguments(p)
    p.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="also draw the angle trace with sets and reps marked to FILE (.png or .svg; one recording; "
        "needs matplotlib: pip install 'hipflex[report]')",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help=f"show a progress bar on stderr (when a terminal) also for {PROGRESS_FROM_FILES} files or fewer",
    )
    add_mapping_arguments(p)


def add_mapping_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the column-mapping options (read by :func:`build_load_options`; ``hipflex report`` has them too)."""
    g = p.add_argument_group(
        "column mapping (any CSV; implies --format csv)",
        "Name the columns to read; other columns are ignored. Start from a preset with --columns and "
        "override parts of it, or give the columns one by one (defaults: time_s in s, acc_x_g,acc_y_g,"
        "acc_z_g in g, no gyro).",
    )
    g.add_argument(
        "--columns",
        metavar="PRESET",
        help="named mapping: eurobench[:N] (Eurobench BENCH files, IMU N, 3 = thigh), hipflex[:acc]",
    )
    g.add_argument("--time-col", metavar="NAME", help="time column")
    g.add_argument("--time-unit", metavar="UNIT", help="s (default), ms, us or ns")
    g.add_argument("--acc-cols", metavar="X,Y,Z", help="accelerometer columns")
    g.add_argument("--acc-unit", metavar="UNIT", help="g (default), mg or m/s2")
    g.add_argument("--gyro-cols", metavar="X,Y,Z", help="gyroscope columns, or 'none'")
    g.add_argument("--gyro-unit", metavar="UNIT", help="dps (default) or rad/s")
    g.add_argument(
        "--acc-scale",
        type=float,
        metavar="X",
        help="multiply accelerometer values by X before --acc-unit applies (raw/10000 g: 0.0001)",
    )
    g.add_argument(
        "--gyro-scale",
        type=float,
        metavar="X",
        help="multiply gyroscope values by X before --gyro-unit applies (raw/100 deg/s: 0.01)",
    )
    header = g.add_mutually_exclusive_group()
    header.add_argument(
        "--no-header",
        action="store_const",
        const=0,
        dest="header_rows",
        help="the file has no header line: give --time-col, --acc-cols (and --gyro-cols) as field "
        "numbers counted from 0",
    )
    header.add_argument(
        "--header-rows",
        type=int,
        metavar="N",
        help="the file's header is N lines (names first, then units or labels, which are skipped)",
    )
    add_table_arguments(p)


_MAPPING_FLAGS = (
    "columns", "time_col", "time_unit", "acc_cols", "acc_unit", "gyro_cols", "gyro_unit",
    "acc_scale", "gyro_scale", "header_rows",
)  # fmt: skip


def _triple(flag: str, text: str) -> tuple[str, str, str]:
    parts = [c.strip() for c in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"{flag} needs three comma-separated column names (x,y,z), got {text!r}")
    return (parts[0], parts[1], parts[2])


def build_load_options(args: argparse.Namespace) -> LoadOptions:
    """Loader options from the column-mapping flags (``UsageError`` when inconsistent)."""
    from hipflex.sensor.files.column_presets import column_preset
    from hipflex.sensor.format_spec import ColumnMap, LoadOptions
    from hipflex.sensor.formats import AUTO, get_format

    try:
        fmt = get_format(args.format) if args.format != AUTO else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    given = [f for f in _MAPPING_FLAGS if getattr(args, f) is not None]
    if not given:
        return LoadOptions()
    if given == ["header_rows"] and args.header_rows >= 1:  # a plain file with a units line: plain columns
        if fmt is not None and fmt.name != "csv":
            raise UsageError(f"--header-rows does not apply to --format {fmt.name}")
        return LoadOptions(header_rows=args.header_rows)
    if fmt is not None and not fmt.column_mapping:
        raise UsageError(f"column mapping options do not apply to --format {fmt.name}")
    if args.header_rows == 0 and (args.time_col is None or args.acc_cols is None):
        raise UsageError(
            "--no-header needs --time-col and --acc-cols as field numbers counted from 0 "
            "(e.g. --no-header --time-col 0 --acc-cols 1,2,3 --gyro-cols 4,5,6)"
        )
    if args.header_rows == 0 and args.columns is not None:
        raise UsageError("--no-header does not go with --columns (a preset names header columns)")
    try:
        cmap = column_preset(args.columns) if args.columns is not None else ColumnMap()
        changes: dict[str, Any] = {}
        if args.time_col is not None:
            changes["time_col"] = args.time_col.strip()
        if args.acc_cols is not None:
            changes["acc_cols"] = _triple("--acc-cols", args.acc_cols)
        if args.gyro_cols is not None:
            none = args.gyro_cols.strip().lower() == "none"
            changes["gyro_cols"] = None if none else _triple("--gyro-cols", args.gyro_cols)
        for unit in ("time_unit", "acc_unit", "gyro_unit", "acc_scale", "gyro_scale", "header_rows"):
            if getattr(args, unit) is not None:
                changes[unit] = getattr(args, unit)
        return LoadOptions(columns=dataclasses.replace(cmap, **changes))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def build_settings(args: argparse.Namespace) -> Settings:
    """Analysis settings from the defaults and the flags given."""
    from hipflex.dsp.analysis_settings import Settings

    changes: dict[str, float | str] = dict(mounting_changes(args))
    if args.set_gap_s is not None:
        changes["set_gap_s"] = args.set_gap_s
    if args.min_rom_deg is not None:
        changes["min_rom_deg"] = args.min_rom_deg
        # Keep the diagnostic candidate threshold below a small --min-rom-deg.
        default_candidate = Settings().candidate_deg
        if args.min_rom_deg <= default_candidate:
            changes["candidate_deg"] = 0.4 * args.min_rom_deg
    try:
        return Settings().replace(**changes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr; yields ``advance(label)``.  A no-op unless enabled."""
    if not enabled:
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("analysing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=True,
    ) as bar:
        task = bar.add_task("", total=total)

        def advance(label: str) -> None:
            bar.update(task, advance=1, description=label)

        yield advance


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What one file gave: a result (or its JSON line), or the one-line error (and traceback) to print, in order."""

    result: Analysis | None = None
    #: With ``--json``: the line to write, made where the file was analysed.  A forked worker
    #: then sends a string instead of the Analysis, which the command would unpickle (2 ms a
    #: recording) and turn into JSON (0.8 ms) on its own, beside the two workers on two cores.
    line: str | None = None
    error: str = ""
    status: int = 0
    traceback: str = ""


def _jobs(args: argparse.Namespace, n_files: int) -> int:
    from hipflex.dsp.batch import default_workers

    jobs = args.jobs if args.jobs is not None else default_workers()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    return max(1, min(jobs, n_files))


def _import_analysis() -> None:
    """Import the analysis and the readers with the cyclic garbage collector off, then freeze what they made.

    The imports (numpy, numba, the dsp modules, pyarrow) make ~90 k objects that live as long as
    the process.  The collector, triggered by the allocations alone, passed over them ~117 times
    while they were made (once in full), ~45 ms of the 0.49 s of CPU of ``hipflex analyze`` on a
    short file, and would pass over them again at every full collection, writing to each (in a
    forked worker: copying every page of them).  :func:`gc.freeze` puts them out of its reach,
    with the few hundred objects of the reference cycles the imports leave behind (611 counted).
    Only where the analysis is not imported yet (a fresh process), so that a process that has
    run other work (a test session) does not freeze its garbage.
    """
    if "hipflex.dsp" in sys.modules:
        return
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        # numpy.ma: numba imports it at its first look at an array (typing it, it checks for a
        # masked array), so every analysis does.
        import numpy.ma  # noqa: F401

        import hipflex.dsp
        import hipflex.sensor.files.csv_stream
        import hipflex.sensor.formats  # noqa: F401
        from hipflex.sensor.files.csv_fast import import_parser

        import_parser()
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _start_early_parse(args: argparse.Namespace) -> EarlyParse | None:
    """The parser of the first files that overlaps the imports (:mod:`.early_parse`), when forked workers will run.

    Only for the plain many-file run (no tables, no ``--plot``) on more than one job: a single
    job reads ahead on a thread of its own, and analyses one file at a time as promised.
    """
    if args.plot is not None or getattr(args, "out", None) is not None or getattr(args, "dask", None) is not None:
        return None
    if (args.jobs if args.jobs is not None else _usable_cores()) <= 1:
        return None
    if len(args.paths) == 1 and not Path(args.paths[0]).is_dir():
        return None
    from hipflex.service.commands.early_parse import start

    return start(args.paths, bool(args.recursive), args.format, lambda: build_load_options(args))


def _usable_cores() -> int:
    """As :func:`hipflex.dsp.batch.default_workers`, without importing the analysis."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    """Analyse every file (folders expanded) in input order; returns 0, or 2 if any was bad input, or 1."""
    early = _start_early_parse(args)
    try:
        return _run(args, early)
    finally:
        if early is not None:
            early.stop()


def _run(args: argparse.Namespace, early: EarlyParse | None) -> int:
    _import_analysis()
    options = build_load_options(args)
    settings = build_settings(args)
    tables = check_table_arguments(args)
    entries = expand_paths(args.paths, recursive=bool(args.recursive))
    jobs = _jobs(args, len(entries))
    if args.plot is not None:
        _check_plot(args.plot, entries)

    from hipflex.service.first_run import preparing

    if tables:
        from hipflex.service.commands.season_cli import run_tables

        if args.dask is not None:  # the workers compile (or load) the kernels, not this process
            return run_tables(args, options, settings, jobs, _progress, PROGRESS_FROM_FILES)
        with preparing("analyze", "hipflex", ready=kernels_ready):
            return run_tables(args, options, settings, jobs, _progress, PROGRESS_FROM_FILES)
    # The first analysis compiles the kernels when the cache is cold: inside ``preparing``,
    # those of the recordings' mode (with a gyro or without one) when their headers tell.
    gyro = recordings_mode(entries, args.format, options)
    with preparing("analyze", "hipflex", ready=lambda: kernels_ready(gyro), gyro=gyro):
        status = _analyze_paths(args, options, settings, entries, jobs, early, gyro)
        if status == 0 and args.plot is not None:
            status = _plot(args, options, settings, entries[0].path)
        return status


def _check_plot(out: Path, entries: list[Entry]) -> None:
    """``--plot`` needs one recording, a .png or .svg name in an existing folder, and matplotlib."""
    from hipflex.service.coach_report.charts import PLOT_SUFFIXES, ChartsUnavailable, require_matplotlib

    if len(entries) != 1:
        raise UsageError(f"--plot draws one recording, got {len(entries)}; give one file")
    if out.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {out}: the picture is written as {' or '.join(PLOT_SUFFIXES)}, by its suffix")
    check_output_folder("--plot", out)
    try:
        require_matplotlib()
    except ChartsUnavailable as exc:
        raise UsageError(str(exc)) from None


def _plot(args: argparse.Namespace, options: LoadOptions, settings: Settings, path: str) -> int:
    """Draw ``--plot`` for the one recording (analysed again with its angle trace: the tables never keep it)."""
    from hipflex.service.coach_report.charts import save_trace_plot
    from hipflex.service.coach_report.inputs import ReportInputError, load_file

    try:
        item = load_file(path, args.format, options, settings)
        save_trace_plot(args.plot, item.time_s, item.angle_deg, item.analysis, title=item.title)
    except (ReportInputError, OSError) as exc:
        print(f"hipflex: --plot {args.plot}: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _analyze_blocks(
    path: str, fmt: str, options: LoadOptions, settings: Settings, parsed: tuple[bool, list[Any]] | None = None
) -> Analysis | None:
    """The analysis of a CSV recording read block by block, or ``None`` to read it whole.

    The analysis streams (:func:`hipflex.dsp.step`, the path of every analysis) over blocks
    that are exactly the samples of the file read whole, so the result is the same; a long
    recording is then never held in memory at once (peak resident memory of a 1.26 M-row file
    279 -> 208 MB).  ``None`` whenever that cannot be promised
    (:class:`~hipflex.sensor.files.csv_stream.MustReadWhole`: rows far out of order, anything
    unusual, every error) or the core rejects the stream: the whole file's analysis then gives
    the result or the error message.  ``parsed``: the file's ``(has_gyro, blocks)`` already read
    by the early parser (:mod:`.early_parse`), the same blocks ``open_blocks`` yields.
    """
    from hipflex.dsp import finish, init_state, result, step
    from hipflex.sensor.files.csv_stream import MustReadWhole
    from hipflex.sensor.formats import open_blocks

    blocks: Iterable[ImuSamples]
    if parsed is not None:
        has_gyro, blocks = parsed
    else:
        opened = open_blocks(path, fmt, options)
        if opened is None:
            return None
        has_gyro, blocks = opened.has_gyro, opened
    state = init_state(settings, has_gyro)
    try:
        for block in blocks:
            state, _ = step(settings, state, block)  # (the angle and rep events are not needed)
        state, _ = finish(settings, state)
    except (MustReadWhole, ValueError):
        return None
    return result(settings, state, source=path)


def _analyze_paths(
    args: argparse.Namespace,
    options: LoadOptions,
    settings: Settings,
    entries: list[Entry],
    jobs: int,
    early: EarlyParse | None = None,
    gyro: bool | None = None,
) -> int:
    """Analyse ``entries`` and print each result; ``gyro``: their mode when known (the kernels loaded up front)."""
    import threading

    from hipflex import __version__
    from hipflex.dsp import analyze
    from hipflex.sensor.format_spec import InputError
    from hipflex.sensor.formats import load_samples
    from hipflex.service.commands.early_parse import blocks_of

    cancel = threading.Event()  # set when the run stops early, so that queued loads give up
    options = dataclasses.replace(options, cancel=cancel)
    debug = bool(getattr(args, "debug", False))

    def work(entry: Entry) -> _Outcome:
        """Load and analyse one file (in a worker thread when ``jobs > 1``); never raises."""
        path = entry.path
        if entry.problem is not None:
            return _Outcome(error=f"hipflex: {_one_line(entry.problem)}", status=2)
        try:
            result = _analyze_blocks(path, args.format, options, settings, blocks_of(parsed, path))
            if result is None:
                result = analyze(load_samples(path, args.format, options), settings, source=path)
            result = dataclasses.replace(result, source=path, version=__version__)
            if args.json:
                return _Outcome(line=json.dumps(result.to_dict(), allow_nan=False) + "\n")
            return _Outcome(result=result)
        except InputError as exc:
            return _Outcome(error=f"hipflex: {_one_line(exc)}", status=2)
        except ValueError as exc:  # the core rejects what it cannot analyse
            tb = traceback.format_exc() if debug else ""
            return _Outcome(error=f"hipflex: {path}: {_one_line(exc)}", status=2, traceback=tb)
        except Exception as exc:
            tb = traceback.format_exc() if debug else ""
            hint = "" if debug else " (run with --debug to see the traceback)"
            line = f"hipflex: {path}: unexpected error: {type(exc).__name__}: {_one_line(exc)}{hint}"
            return _Outcome(error=line, status=1, traceback=tb)

    emit: Callable[[_Outcome], None]
    if args.json:

        def emit(outcome: _Outcome) -> None:
            assert outcome.line is not None
            sys.stdout.write(outcome.line)
            sys.stdout.flush()

    else:
        from hipflex.service.report import print_analysis, stdout_console

        console = stdout_console()

        def emit(outcome: _Outcome) -> None:
            assert outcome.result is not None
            print_analysis(console, outcome.result)

    status = 0
    show_bar = (bool(args.progress) or len(entries) > PROGRESS_FROM_FILES) and sys.stderr.isatty()
    forked = jobs > 1 and len(entries) > 1
    if forked:
        # Load the kernels here, once, for the forked workers to inherit (each would load
        # them from numba's cache again: ~0.2 s of CPU per worker), as they inherit what the
        # first file's analysis imports (_import_analysis: ~40 ms of CPU that each worker
        # repeated when the readers were imported at the first file).  Only those called
        # from Python: the main loop's callees come with its cached code, and loading them
        # too was ~10 ms of this serial part.
        from hipflex.dsp._precompile import load_common

        load_common(gyro)
    # The files the early parser finished while this process imported and loaded the above
    # (none without forked workers: it is stopped unused).
    parsed = early.stop() if early is not None and forked else {}
    if early is not None and not forked:
        early.stop()
    outcomes = ordered_map(work, entries, jobs, on_stop=cancel.set, processes=forked)
    # closing(): a broken pipe or ^C stops the workers here, not whenever the generator is collected.
    with _progress(show_bar, len(entries)) as advance, closing(outcomes):
        for entry, outcome in zip(entries, outcomes, strict=True):
            if outcome.result is not None or outcome.line is not None:
                emit(outcome)
            else:
                if outcome.traceback:
                    sys.stderr.write(outcome.traceback)
                print(outcome.error, file=sys.stderr)
                status = 2 if outcome.status == 2 else max(status, outcome.status)
            advance(entry.path)
    return status


COMMAND = Command(
    name="analyze",
    help="count reps and measure them in recorded files",
    description="Analyse recordings: one result per file (a folder: its recordings), in input order (a table, or JSON "
    "Lines with --json).",
    add_arguments=add_arguments,
    run=run,
    epilog=EPILOG,
)

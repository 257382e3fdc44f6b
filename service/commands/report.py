"""``hipflex report SESSION_OR_FILE... -o report.html``: one self-contained HTML file a coach can send.

Only the standard library is imported at module level (the parser is built for every command);
the analysis, the store and matplotlib are imported in :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hipflex.service.commands import Command, UsageError, check_output_folder

if TYPE_CHECKING:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.format_spec import LoadOptions
    from hipflex.service.coach_report.inputs import ReportInput, Side

__all__ = ["COMMAND", "add_arguments", "pair_sides", "run"]

EPILOG = """\
examples:
  hipflex report session.csv -o report.html
  hipflex report --left ana_l.csv --right ana_r.csv -o ana.html
  hipflex report 3f2c9a1e5b7d4c08a1e2f3a4b5c6d7e8 -o today.html   (stored)
  hipflex report left_thigh.csv right_thigh.csv -o both.html  (sides: names)

An input is a recording file when such a file exists, else the id of a session
stored by 'hipflex serve' (in --db); a stored session is analysed again from its
raw log with its own settings.  Sides: --left/--right, else a stored session's
side, else a file name with the word 'left' or 'right'.  With exactly one left
and one right input they are shown side by side with an asymmetry index per
metric, |L - R| / mean of L and R in %.

The file holds everything (charts as inline SVG, no scripts, no links): it opens
without a network.  The charts need matplotlib: pip install 'hipflex[report]'.

exit status: 0 written, 2 bad usage or a bad input (one line per bad input; no
file written), 1 an unexpected error.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex report``."""
    from hipflex.service.commands.analyze import add_mapping_arguments

    p.add_argument("inputs", nargs="*", metavar="SESSION_OR_FILE", help="recordings or stored session ids")
    p.add_argument("--left", metavar="SESSION_OR_FILE", help="the left thigh's recording or session")
    p.add_argument("--right", metavar="SESSION_OR_FILE", help="the right thigh's recording or session")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--title", default="", help="the report's heading (default: Hip-flexion report)")
    p.add_argument("--db", type=Path, metavar="PATH", help="database of stored sessions (default: as 'hipflex serve')")
    p.add_argument(
        "--format", default="auto", metavar="FMT", help="format of files: auto (default), csv, polar, metabase, capture"
    )
    p.add_argument("--min-rom-deg", type=float, metavar="DEG", help="smallest rise that counts as a rep in files (20)")
    p.add_argument("--set-gap-s", type=float, metavar="S", help="pause that splits sets in files, seconds (8)")
    add_mapping_arguments(p)  # as analyze's: for files (a stored session's raw log is a plain hipflex CSV)


def pair_sides(items: list[ReportInput]) -> tuple[ReportInput, ReportInput] | None:
    """The (left, right) pair to compare: when exactly one input is left and one is right."""
    left = [i for i in items if i.side == "left"]
    right = [i for i in items if i.side == "right"]
    if len(left) == 1 and len(right) == 1:
        return left[0], right[0]
    return None


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it (no half-written report)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a file to send: readable as any new file, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Analyse every input and write the report; 0, or 2 when an input is bad (nothing written)."""
    from hipflex.service.coach_report.charts import ChartsUnavailable, require_matplotlib

    given: list[tuple[str, Side | None]] = [(x, None) for x in args.inputs]
    if args.left is not None:
        given.insert(0, (args.left, "left"))
    if args.right is not None:
        given.insert(1 if args.left is not None else 0, (args.right, "right"))
    if not given:
        raise UsageError("give at least one recording or stored session (or --left and --right)")
    out: Path = args.output
    check_output_folder("-o", out)
    try:
        require_matplotlib()
    except ChartsUnavailable as exc:
        raise UsageError(str(exc)) from None

    from hipflex.service.commands.analyze import build_load_options, build_settings
    from hipflex.service.commands.analyze_kernels import kernels_ready
    from hipflex.service.first_run import preparing

    options = build_load_options(args)
    settings = build_settings(args)
    # The same kernels as analyze's: announced when they are compiled the first time.
    with preparing("analyze", "hipflex", ready=kernels_ready):
        return _report(args, given, options, settings, out)


def _report(
    args: argparse.Namespace, given: list[tuple[str, Side | None]], options: LoadOptions, settings: Settings, out: Path
) -> int:
    from hipflex import __version__
    from hipflex.service.coach_report.html_doc import render_report
    from hipflex.service.coach_report.inputs import ReportInputError, load_input
    from hipflex.service.settings import default_data_dir

    db = (args.db if args.db is not None else default_data_dir() / "hipflex.db").expanduser()
    items: list[ReportInput] = []
    bad = 0
    for name, side in given:
        try:
            items.append(load_input(name, db, args.format, options, settings, side))
        except ReportInputError as exc:
            print(f"hipflex report: {exc}", file=sys.stderr)
            bad += 1
    if bad:
        return 2
    pair = pair_sides(items)
    if pair is not None:  # the compared pair first, left then right
        items = [*pair, *(i for i in items if i is not pair[0] and i is not pair[1])]
    _write_atomically(out, render_report(items, pair, __version__, args.title))
    sides = "left and right compared" if pair else f"{len(items)} recording{'s' if len(items) != 1 else ''}"
    print(f"hipflex report: wrote {out} ({sides})", file=sys.stderr)
    return 0


COMMAND = Command(
    name="report",
    help="write a self-contained HTML report (charts, sets, left/right asymmetry)",
    description="Write one HTML file a coach can send, per recording or stored session: the\n"
    "sets, the angle trace with reps marked, per-rep velocity, flexion time and hold\n"
    "bars, and quality notes; left and right side by side with an asymmetry index.",
    add_arguments=add_arguments,
    run=run,
    epilog=EPILOG,
)

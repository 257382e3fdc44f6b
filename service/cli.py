"""The ``hipflex`` command line.

``main(argv)`` builds an argparse parser with one subparser per registered
command (see :mod:`hipflex.service.commands`), runs the chosen command and
returns its exit status.  Exit status 2 means bad usage or bad input, 1 an
unexpected error (shown as one line; ``--debug`` shows the traceback), 130 an
interrupt.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from hipflex import __version__
from hipflex.service.commands import UsageError, load_commands
from hipflex.service.commands.mounting_opts import join_signed_axis

__all__ = ["QUICK_EXIT_COMMANDS", "build_parser", "entry", "main"]

PROG = "hipflex"

#: Commands after which :func:`entry` ends the process without the interpreter's teardown.
#: They join their threads and close their files before returning, so the teardown only
#: frees memory the operating system takes back anyway: ~0.1 s of CPU with numba, LLVM
#: and pyarrow loaded (80 k objects, 620 modules), serial after every ``hipflex analyze``
#: however many cores analysed the files (benchmarks/README.md, "many_files.py").
QUICK_EXIT_COMMANDS = frozenset({"analyze"})


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options and every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Thigh IMU -> counted hip-flexion reps with contraction speed, hold, ROM and cadence.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in load_commands():
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            epilog=command.epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        # SUPPRESS keeps a global --debug given before the command from being reset here.
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks of unexpected errors",
        )
        command.add_arguments(p)
        p.set_defaults(_run=command.run, _parser=p)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(join_signed_axis(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args))
    except UsageError as exc:
        args._parser.print_usage(sys.stderr)
        print(f"{PROG} {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); stop quietly and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (run with --debug to see the traceback)"
        print(f"{PROG}: unexpected error: {type(exc).__name__}: {_one_line(str(exc))}{hint}", file=sys.stderr)
        return 1


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: its first argument that is not an option (global options take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def entry() -> NoReturn:
    """The ``hipflex`` program (``python -m hipflex`` and the installed script): :func:`main`, then exit.

    After a command of :data:`QUICK_EXIT_COMMANDS` the process ends as the interpreter's
    normal exit would (``atexit`` handlers run, standard output and error flushed, status
    120 when that flush fails) but without its teardown of every module and object.
    """
    argv = sys.argv[1:]
    status = main(argv)
    if _command_of(argv) not in QUICK_EXIT_COMMANDS:
        sys.exit(status)
    atexit._run_exitfuncs()  # logging.shutdown and the like, as at a normal exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone away or a closed stream: as Python's exit says
            status = status or 120
    os._exit(status)

"""Subcommands of the ``hipflex`` command line, one module per command.

Each module in :data:`COMMAND_MODULES` exposes ``COMMAND``, a :class:`Command`.
To add a subcommand, write ``service/commands/<name>.py`` with a ``COMMAND`` and add
its module name to the tuple.  Command modules are imported whenever the parser is
built (also for ``--help``), so they must import only the standard library at the
top and import heavy things (numpy, numba, fastapi, bleak) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hipflex.service.errors import ServiceLayerError

__all__ = ["COMMAND_MODULES", "Command", "UsageError", "check_output_folder", "load_commands"]

#: Modules that define subcommands, in ``--help`` order.
COMMAND_MODULES: tuple[str, ...] = (
    "hipflex.service.commands.analyze",
    "hipflex.service.commands.serve",
    "hipflex.service.commands.demo",
    "hipflex.service.commands.scan",
    "hipflex.service.commands.record",
    "hipflex.service.commands.report",
)


class UsageError(ServiceLayerError):
    """Bad command-line options found after parsing; reported like argparse errors (exit 2)."""


def check_output_folder(option: str, out: Path) -> None:
    """``UsageError`` unless ``out`` can be written: checked before any work, so a long run never ends unwritable."""
    if out.is_dir():
        raise UsageError(f"{option} {out}: is a folder; give the file to write")
    if not out.parent.is_dir():
        raise UsageError(f"{option} {out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {out}: the folder {out.parent} is not writable")


@dataclass(frozen=True)
class Command:
    """One ``hipflex`` subcommand.

    Parameters
    ----------
    name : str
        The word after ``hipflex``.
    help : str
        One line for ``hipflex --help``.
    add_arguments : callable
        ``add_arguments(parser)`` declares the options.
    run : callable
        ``run(args) -> int`` does the work and returns the exit status; may
        raise :class:`UsageError`.
    description : str
        Longer text for ``hipflex NAME --help`` (defaults to ``help``).
    epilog : str
        Text after the options in ``hipflex NAME --help`` (examples).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
    epilog: str = ""


def load_commands() -> list[Command]:
    """Every registered command, in :data:`COMMAND_MODULES` order."""
    return [importlib.import_module(name).COMMAND for name in COMMAND_MODULES]

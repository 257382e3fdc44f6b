"""Size limits of delimited text files, so that no file makes a reader slow or huge.

A file from an upload or a replay request is hostile input: a header of
millions of columns, or a single line of megabytes, must be refused in time
linear in its size, before any per-column work.  The limits are far above any
real recording (the widest seen, CMU-MBL's parsed CSV, has 141 columns and a
1.3 kB header).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hipflex.sensor.format_spec import InputError

__all__ = ["MAX_COLUMNS", "MAX_LINE_CHARS", "check_header", "check_line_lengths", "first_repeated"]

#: Most columns a header may have.
MAX_COLUMNS = 1024
#: Most characters in one line (header or data).
MAX_LINE_CHARS = 64 * 1024


def check_header(source: str | Path, header: str, delimiter: str) -> None:
    """Refuse a header line that is too long or has too many columns (before it is split).

    Raises
    ------
    InputError
    """
    if len(header) > MAX_LINE_CHARS:
        raise InputError(source, f"header line is {len(header)} characters long; the most accepted is {MAX_LINE_CHARS}")
    columns = header.count(delimiter) + 1
    if columns > MAX_COLUMNS:
        raise InputError(source, f"header has {columns} columns; the most accepted is {MAX_COLUMNS}")


def check_line_lengths(
    source: str | Path, lines: Sequence[str], first_line: int = 1, numbers: Sequence[int] | None = None
) -> None:
    """Refuse a file whose longest line exceeds :data:`MAX_LINE_CHARS` (one pass in C over the lengths).

    Parameters
    ----------
    lines : sequence of str
        The data lines.
    first_line : int
        File line number of ``lines[0]`` when the lines are consecutive (for the message).
    numbers : sequence of int, optional
        File line number of each line, when they are not consecutive.

    Raises
    ------
    InputError
    """
    if not lines:
        return
    lengths = list(map(len, lines))
    longest = max(lengths)
    if longest > MAX_LINE_CHARS:
        where = lengths.index(longest)
        lineno = numbers[where] if numbers is not None else first_line + where
        raise InputError(
            source,
            f"line {lineno} is {longest} characters long; the most accepted is {MAX_LINE_CHARS}",
        )


def first_repeated(names: Sequence[str]) -> str | None:
    """The first non-empty name that appears again later, in one pass (``None`` when all differ)."""
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            return name
        seen.add(name)
    return None

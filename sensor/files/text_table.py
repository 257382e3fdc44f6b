"""Delimited text exports from other apps: header, numeric columns, garbage rows skipped with reasons.

Third-party exports (MetaBase, Polar Sensor Logger) are mostly clean, but phones and
crashed apps leave cut-off last lines, stray text and rows with missing fields.  This
module reads such a file into a header and rows, and parses chosen columns:

- the fast path is :func:`numpy.loadtxt` over the wanted columns only (other columns,
  such as formatted date strings, are never converted);
- when that fails, every row is parsed on its own, and a row that lacks a wanted field
  or has text where a number belongs is **skipped with a logged reason**;
- when more than :data:`MAX_BAD_FRACTION` of the rows are bad, the file is rejected
  with an :class:`~hipflex.sensor.format_spec.InputError` naming the first bad line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.limits import check_header, check_line_lengths
from hipflex.sensor.format_spec import InputError, validate_samples
from hipflex.sensor.merge import MergeRule, merge_acc_gyro, tidy_stream

__all__ = ["MAX_BAD_FRACTION", "RowProblem", "TextTable", "merge_gyro_export", "parse_columns", "read_table"]

_log = logging.getLogger(__name__)

#: Largest fraction of unreadable rows that are skipped rather than rejecting the file.
MAX_BAD_FRACTION: Final = 0.1
_DELIMITERS: Final = (",", ";", "\t")
_MAX_LOGGED: Final = 5


@dataclass(frozen=True)
class RowProblem:
    """A skipped row: its file line number and why."""

    line: int
    reason: str


@dataclass(frozen=True, eq=False)
class TextTable:
    """A delimited text file split into header names and data lines.

    Attributes
    ----------
    source : Path
        The file.
    names : tuple of str
        Header names, stripped of spaces and quotes (a trailing empty name from a
        trailing delimiter is dropped).
    delimiter : str
        Field separator detected from the header.
    lines : tuple of str
        Non-blank data lines.
    line_numbers : ndarray of int64
        File line number of each data line.
    cut_tail : bool
        True when the file does not end with a newline (possibly cut short).
    """

    source: Path
    names: tuple[str, ...]
    delimiter: str
    lines: tuple[str, ...]
    line_numbers: NDArray[np.int64]
    cut_tail: bool


def _clean(name: str) -> str:
    return name.strip().strip("\"'").strip()


def read_table(path: str | Path) -> TextTable:
    """Read a delimited text file: the first non-blank line is the header.

    Raises
    ------
    InputError
        Unreadable, binary, empty, or a header without data rows.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in raw[:8192]:
        raise InputError(path, "is not a text file (it contains binary data)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    all_lines = text.split("\n")
    numbered = [(i + 1, s.rstrip("\r")) for i, s in enumerate(all_lines) if s.strip()]
    if not numbered:
        raise InputError(path, "file is empty")
    _, header = numbered[0]
    counts = [header.count(d) for d in _DELIMITERS]
    delimiter = _DELIMITERS[int(np.argmax(counts))] if max(counts) else ","
    check_header(path, header, delimiter)  # before any per-column work
    names = [_clean(n) for n in header.split(delimiter)]
    while names and not names[-1]:
        names.pop()
    body = numbered[1:]
    if not body:
        raise InputError(path, "has a header line but no data rows")
    check_line_lengths(path, [s for _, s in body], numbers=[n for n, _ in body])
    return TextTable(
        source=path,
        names=tuple(names),
        delimiter=delimiter,
        lines=tuple(s for _, s in body),
        line_numbers=np.asarray([n for n, _ in body], dtype=np.int64),
        cut_tail=not text.endswith("\n"),
    )


def _parse_slow(
    table: TextTable, cols: Sequence[int]
) -> tuple[NDArray[np.float64], NDArray[np.int64], list[RowProblem]]:
    rows: list[list[float]] = []
    kept: list[int] = []
    problems: list[RowProblem] = []
    need = max(cols) + 1
    last = len(table.lines) - 1
    for j, line in enumerate(table.lines):
        lineno = int(table.line_numbers[j])
        fields = line.split(table.delimiter)
        if len(fields) < need:
            cut = j == last and table.cut_tail
            why = "last line cut short" if cut else f"has {len(fields)} fields, needs at least {need}"
            problems.append(RowProblem(lineno, why))
            continue
        row: list[float] = []
        for k in cols:
            text = _clean(fields[k])
            try:
                value = float(text)
            except ValueError:
                name = table.names[k] if k < len(table.names) else f"field {k + 1}"
                problems.append(RowProblem(lineno, f"column {name!r}: {text[:30]!r} is not a number"))
                break
            row.append(value)
        else:
            rows.append(row)
            kept.append(lineno)
    data = np.asarray(rows, dtype=np.float64).reshape(-1, len(cols))
    return data, np.asarray(kept, dtype=np.int64), problems


def parse_columns(
    table: TextTable, cols: Sequence[int], *, max_bad_fraction: float = MAX_BAD_FRACTION
) -> tuple[NDArray[np.float64], NDArray[np.int64], tuple[RowProblem, ...]]:
    """Parse columns ``cols`` of every data line as float64.

    Parameters
    ----------
    table : TextTable
        From :func:`read_table`.
    cols : sequence of int
        Field indices to parse, in output order.
    max_bad_fraction : float
        Reject the file when more than this fraction of rows is unreadable.

    Returns
    -------
    data : ndarray, shape (n, len(cols))
        The readable rows.
    line_numbers : ndarray of int64, shape (n,)
        File line of each returned row.
    skipped : tuple of RowProblem
        Rows left out and why (logged as warnings).

    Raises
    ------
    InputError
        Too many unreadable rows, or none readable.
    """
    shape = (len(table.lines), len(cols))
    try:
        data = np.loadtxt(
            list(table.lines), dtype=np.float64, delimiter=table.delimiter, usecols=list(cols), ndmin=2,
            quotechar='"', comments=None,
        )  # fmt: skip
        if data.shape == shape:
            return data, table.line_numbers, ()
    except ValueError:
        pass
    data, kept, problems = _parse_slow(table, cols)
    n = len(table.lines)
    serious = [p for p in problems if p.reason != "last line cut short"]
    if not kept.size or len(serious) > max_bad_fraction * n:
        first = serious[0] if serious else problems[0]
        raise InputError(
            table.source,
            f"line {first.line}: {first.reason} ({len(problems)} of {n} rows unreadable)",
        )
    for p in problems[:_MAX_LOGGED]:
        _log.warning("%s: line %d skipped: %s", table.source, p.line, p.reason)
    if len(problems) > _MAX_LOGGED:
        _log.warning("%s: %d more unreadable rows skipped", table.source, len(problems) - _MAX_LOGGED)
    return data, kept, tuple(problems)


def merge_gyro_export(
    path: Path, base: ImuSamples, gyro_time_s: NDArray[np.float64], gyr_dps: NDArray[np.float64], gyro_path: Path,
    rule: MergeRule, what: str,
) -> ImuSamples:  # fmt: skip
    """The accelerometer samples of an export with the gyroscope of its sibling file merged in.

    Parameters
    ----------
    path : Path
        The accelerometer file (named in errors).
    base : ImuSamples
        Its validated samples.
    gyro_time_s, gyr_dps : ndarray
        The gyroscope file's times, seconds, and rates, deg/s, as read.
    gyro_path : Path
        The gyroscope file (named in errors).
    rule : str
        :func:`~hipflex.sensor.merge.merge_acc_gyro`'s rule.
    what : str
        How the app names the gyroscope file (``"gyroscope"``, ``"GYRO"``).

    Raises
    ------
    InputError
        The streams cannot be merged, or the merged samples fail the shared checks.
    """
    try:
        gt, gyr = tidy_stream(gyro_time_s, gyr_dps)
        merged = merge_acc_gyro(base.time_s, base.acc_g, gt, gyr, rule=rule)
    except ValueError as exc:
        raise InputError(path, f"cannot merge the {what} file {gyro_path.name}: {exc}") from None
    return validate_samples(path, merged.time_s, merged.acc_g, merged.gyr_dps)

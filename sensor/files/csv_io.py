"""The plain hipflex CSV format, a generic column-mapping CSV reader, and a writer.

The plain format::

    # comment lines start with '#', anywhere in the file
    time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps
    12.500,0.01,-0.02,0.99,0.1,-0.3,0.2
    12.510,,,,,,

Time is in seconds with any origin; the three gyroscope columns are optional.
An empty field (or ``nan``) is a dropout.  Any other CSV can be read with a
:class:`~hipflex.sensor.format_spec.ColumnMap` that names the time, accelerometer
and gyroscope columns and their units, or with a named preset such as
``eurobench:3`` (see :mod:`hipflex.sensor.files.column_presets`).

Parsing streams the file through pyarrow's CSV parser
(:mod:`hipflex.sensor.files.csv_fast`; about 0.35 s of CPU per million rows)
straight into float64 arrays.  A file it does not handle -- anything unusual, and every
file with an error -- goes to the careful reader: :func:`numpy.loadtxt` on the
data lines, then a line-by-line pass that accepts what it can and names the
first bad line and column in the error message.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.csv_fast import Selection, read_columns
from hipflex.sensor.files.limits import MAX_LINE_CHARS, check_header, first_repeated
from hipflex.sensor.files.text_lines import TextLines, file_encoding, split_lines
from hipflex.sensor.format_spec import (
    ACC_UNITS,
    GYRO_UNITS,
    TIME_UNITS,
    ColumnMap,
    FileFormat,
    InputError,
    LoadCancelled,
    LoadOptions,
    validate_samples,
)

__all__ = [
    "FORMATS",
    "PLAIN_ACC",
    "PLAIN_GYRO",
    "PLAIN_TIME",
    "mapped_selection",
    "plain_selection",
    "read_csv",
    "read_mapped_csv",
    "write_csv",
]

PLAIN_TIME = "time_s"
PLAIN_ACC = ("acc_x_g", "acc_y_g", "acc_z_g")
PLAIN_GYRO = ("gyro_x_dps", "gyro_y_dps", "gyro_z_dps")
_PLAIN_ALL = (PLAIN_TIME, *PLAIN_ACC, *PLAIN_GYRO)
_EXPECTED = f"{PLAIN_TIME},{','.join(PLAIN_ACC)}[,{','.join(PLAIN_GYRO)}]"
_MAPPING_HINT = "for other layouts name the columns with --time-col/--acc-cols/--gyro-cols"
_DELIMITERS = (",", ";", "\t")
_MAX_LISTED = 30


# ---------------------------------------------------------------------------- reading


@dataclass
class _Table:
    """Header and data lines of a delimited text file (blank and comment lines left out)."""

    source: Path
    names: list[str]
    delimiter: str
    lines: TextLines
    first_line: int  # file line number of the line after the header (index 0 of ``lines.edges``)

    def line_numbers(self) -> NDArray[np.int64]:
        """The file line number of each data line."""
        return self.lines.indices() + self.first_line


def _clean_name(name: str) -> str:
    return name.strip().strip("\"'").strip()


def _detect_delimiter(header: str) -> str:
    counts = [header.count(d) for d in _DELIMITERS]
    return _DELIMITERS[int(np.argmax(counts))] if max(counts) > 0 else ","


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in raw[:8192]:
        raise InputError(path, "is not a text file (it contains binary data)")
    return raw


def _table(path: Path, raw: bytes, header_rows: int = 1) -> _Table:
    """Split off the header (first line that is neither blank nor a comment); the rest stays bytes.

    ``header_rows`` as in :class:`~hipflex.sensor.format_spec.ColumnMap`: ``0`` makes the
    first line data and names the fields ``"0"``, ``"1"``, ...; ``N > 1`` skips the ``N - 1``
    lines after the names.
    """
    if not raw.strip():
        raise InputError(path, "file is empty")
    encoding, pos = file_encoding(raw)
    lineno, blank_only = 1, True
    while True:
        end = raw.find(b"\n", pos)
        line = (raw[pos:] if end < 0 else raw[pos:end]).decode(encoding)
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        blank_only = blank_only and not stripped
        if end < 0:
            raise InputError(path, "file is empty" if blank_only else "has only comment lines, no header line")
        pos, lineno = end + 1, lineno + 1
    delimiter = _detect_delimiter(line)
    check_header(path, line, delimiter)  # before any per-column work
    names = [_clean_name(n) for n in line.split(delimiter)]
    start = len(raw) if end < 0 else end + 1
    if header_rows == 0:  # the first line is data: fields are named by number
        names = [str(i) for i in range(len(names))]
        start, lineno = pos, lineno - 1
    lines = split_lines(raw, start, encoding)
    lines.check_lengths(path, lineno + 1, MAX_LINE_CHARS)
    if lines.has_empty() or raw.find(b"#", start) >= 0:  # (lines of only spaces are data otherwise)
        lines = lines.without_blank_and_comments()
    if header_rows > 1:  # units or sensor labels under the names: not data
        lines = replace(lines, keep=lines.indices()[header_rows - 1 :])
    if not len(lines):
        raise InputError(path, "has no data rows" if header_rows == 0 else "has a header line but no data rows")
    # A last line cut short by a crash mid-write is dropped.
    if (
        len(lines) > 1
        and not raw.endswith(b"\n")
        and lines.chunk(len(lines) - 1, len(lines))[0].count(delimiter) + 1 < len(names)
    ):
        lines = lines.without_last()
    return _Table(path, names, delimiter, lines, lineno + 1)


def _fill_empty(lines: list[str], d: str) -> list[str]:
    """Write ``nan`` into empty fields (dropouts) so that loadtxt accepts them."""
    # Blanks in an empty field are spaces (and tabs, unless the tab is the delimiter: then a
    # greedy [ \t]* swallowed the next delimiter and two empty fields became one).
    blank = "[ ]*" if d == "\t" else "[ \t]*"
    pattern = re.compile(rf"(?:(?<={re.escape(d)})|^){blank}(?={re.escape(d)}|\r?$)", re.M)
    return pattern.sub("nan", "\n".join(lines)).split("\n")


def _loadtxt(lines: list[str], d: str, usecols: list[int] | None) -> NDArray[np.float64]:
    return np.loadtxt(lines, dtype=np.float64, delimiter=d, quotechar='"', comments="#", ndmin=2, usecols=usecols)


def _all_lines(table: _Table) -> Iterator[str]:
    for a in range(0, len(table.lines), CHUNK_LINES):
        yield from table.lines.chunk(a, a + CHUNK_LINES)


def _parse_slow(table: _Table, cols: Sequence[int], strict: bool) -> tuple[NDArray[np.float64], list[int]]:
    """Line-by-line parse that names the first bad line; also accepts what loadtxt rejects."""
    d, names = table.delimiter, table.names
    numbers = table.line_numbers()
    rows: list[list[float]] = []
    kept: list[int] = []
    need = max(cols) + 1
    # Whitespace around a line is not data, except the delimiter itself: a tab-separated line
    # ending in a tab has an empty last field (a dropout), as in the fast path.
    ws = " \r\n\x0b\x0c" if d == "\t" else None
    for j, line in enumerate(_all_lines(table)):
        u = line.strip()
        if not u or u[0] == "#":
            continue
        u = line.strip(ws)
        if "#" in u:
            u = u[: u.index("#")].rstrip(ws)
        fields = u.split(d)
        lineno = int(numbers[j])
        if strict and len(fields) != len(names):
            raise InputError(table.source, f"line {lineno} has {len(fields)} fields but the header has {len(names)}")
        if len(fields) < need:
            raise InputError(
                table.source,
                f"line {lineno} has {len(fields)} fields but column {names[need - 1]!r} is field {need}",
            )
        row = []
        for k in cols:
            f = _clean_name(fields[k])
            try:
                row.append(float(f) if f else float("nan"))
            except ValueError:
                raise InputError(
                    table.source,
                    f"line {lineno}, column {names[k]!r}: {f[:40]!r} is not a number{_header_rows_hint(table, j)}",
                ) from None
        rows.append(row)
        kept.append(lineno)
    if not rows:
        raise InputError(table.source, "has a header line but no data rows")
    return np.asarray(rows, dtype=np.float64), kept


#: Data lines parsed at once: a cancel request is seen within a chunk, and no call into loadtxt holds
#: the GIL for long (about 4 ms; a server parses on threads beside its event loop).
CHUNK_LINES = 10_000


def _parse(
    table: _Table, cols: Sequence[int], strict: bool, cancel: threading.Event | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Columns ``cols`` of every data row as float64, and each row's file line number.

    The lines are parsed in chunks of :data:`CHUNK_LINES`, with ``cancel``
    checked between them; any chunk loadtxt cannot take sends the whole table
    through the line-by-line pass, so the result does not depend on the chunking.
    """
    use_all = list(cols) == list(range(len(table.names)))
    usecols = None if use_all else list(cols)
    d, n = table.delimiter, len(table.lines)
    out = np.empty((n, len(cols)), dtype=np.float64)
    for a in range(0, n, CHUNK_LINES):
        if cancel is not None and cancel.is_set():
            raise LoadCancelled(f"{table.source}: loading cancelled")
        chunk = table.lines.chunk(a, a + CHUNK_LINES)
        try:
            data = _loadtxt(chunk, d, usecols)
        except ValueError:
            # Most often empty fields (dropouts): fill them with nan and try once more.
            try:
                data = _loadtxt(_fill_empty(chunk, d), d, usecols)
            except ValueError:
                data = None
        if data is None or data.shape != (len(chunk), len(cols)):
            slow, kept = _parse_slow(table, cols, strict)
            return slow, np.asarray(kept, dtype=np.int64)
        out[a : a + len(chunk)] = data
    return out, table.line_numbers()


#: Leading data lines looked at for a header of more than one line.
_MAX_HEADER_ROWS = 20


def _text_line(line: str, d: str) -> bool:
    """A line whose fields are all text (none a number, not all empty): a header line, not data."""
    fields = [_clean_name(f) for f in line.split(d)]
    named = [f for f in fields if f]
    return bool(named) and not any(_is_number(f) for f in named)


def _header_rows_hint(table: _Table, j: int = 0) -> str:
    """A clause naming ``--header-rows N`` when data line ``j`` is among the first lines and all are text.

    A units or labels line under the names ("s,g,g,g") is the usual cause of text where a
    number should be, and of names repeated across sensors; ``""`` otherwise.
    """
    lines = table.lines.chunk(0, _MAX_HEADER_ROWS)
    k = 0
    while k < len(lines) and _text_line(lines[k], table.delimiter):
        k += 1
    if k == 0 or j >= k:
        return ""
    return f"; the file seems to have {k + 1} header rows (read it with --header-rows {k + 1})"


def _listed(names: Iterable[str]) -> str:
    shown = [n for n in names]
    more = f",… ({len(shown)} columns)" if len(shown) > _MAX_LISTED else ""
    return ",".join(shown[:_MAX_LISTED]) + more


def _numeric_header(table: _Table) -> bool:
    named = [n for n in table.names if n]
    return bool(named) and all(_is_number(n) for n in named)


def _header_problem(table: _Table, problem: str) -> InputError:
    if _numeric_header(table):
        return InputError(
            table.source, f"{problem}; the first line is numbers, not a header (add the line {_EXPECTED})"
        )
    return InputError(table.source, f"{problem}; found: {_listed(table.names)}")


def _plain_cols(table: _Table) -> list[int]:
    """Field indices of time, acc (and gyro) in a plain file's header (``InputError`` when it does not fit)."""
    names = table.names
    path = table.source
    if _numeric_header(table):
        raise _header_problem(table, "no header line")
    repeated = first_repeated(names)  # one pass: a hostile header may be wide
    if repeated is not None:
        hint = _header_rows_hint(table)
        raise InputError(path, f"column {repeated!r} appears more than once in the header{hint}")
    unknown = [n for n in names if n and n not in _PLAIN_ALL]
    has_gyro = [g in names for g in PLAIN_GYRO]
    missing = [c for c in (PLAIN_TIME, *PLAIN_ACC) if c not in names]
    if any(has_gyro) and not all(has_gyro):
        missing += [g for g, h in zip(PLAIN_GYRO, has_gyro, strict=True) if not h]
    if PLAIN_TIME in missing and not unknown and len(missing) < 4:
        raise _header_problem(table, f"no time column {PLAIN_TIME!r}")
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {','.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {_listed(unknown)}")
        raise _header_problem(table, f"not a hipflex CSV: {'; '.join(parts)} (expected {_EXPECTED}; {_MAPPING_HINT})")
    wanted = (PLAIN_TIME, *PLAIN_ACC, *(PLAIN_GYRO if all(has_gyro) else ()))
    return [names.index(c) for c in wanted]


def _header_table(path: Path, line: str) -> _Table:
    """A table of just the header line (for the fast path, which never splits the data into lines)."""
    delimiter = _detect_delimiter(line)
    check_header(path, line, delimiter)
    names = [_clean_name(n) for n in line.split(delimiter)]
    return _Table(path, names, delimiter, split_lines(b"", 0, "utf-8"), 0)


def _fast(path: Path, choose: Callable[[str], Selection], cancel: threading.Event | None) -> ImuSamples | None:
    """Read with pyarrow (:mod:`.csv_fast`); ``None`` sends the file to the careful reader.

    The careful reader also produces every error message, so that they name the line.
    """
    arrays = read_columns(path, choose, cancel)
    if arrays is None:
        return None
    try:
        return validate_samples(path, *arrays, owned=True)  # fresh arrays: no copies for lost rows
    except InputError:
        return None


def plain_selection(path: Path) -> Callable[[str], Selection]:
    """The fast path's choice of fields in a plain hipflex CSV, given its header line.

    The returned function raises :class:`InputError` when the header does not fit.
    """

    def choose(line: str) -> Selection:
        table = _header_table(path, line)
        cols = _plain_cols(table)
        gyro = (cols[4], cols[5], cols[6]) if len(cols) == 7 else None
        return Selection(len(table.names), table.delimiter, cols[0], (cols[1], cols[2], cols[3]), gyro)

    return choose


def mapped_selection(path: Path, columns: ColumnMap) -> Callable[[str], Selection]:
    """The fast path's choice of fields and factors for a column mapping, given the header line."""

    def choose(line: str) -> Selection:
        table = _header_table(path, line)
        cols, signs = _mapped_cols(table, columns)
        units = [TIME_UNITS[columns.time_unit], *[_acc_factor(columns)] * 3]
        units += [_gyro_factor(columns)] * 3
        f = [float(sign * unit) for sign, unit in zip(signs, units, strict=False)]
        gyro = (cols[4], cols[5], cols[6]) if len(cols) == 7 else None
        gyro_f = (f[4], f[5], f[6]) if len(cols) == 7 else (1.0, 1.0, 1.0)
        return Selection(len(table.names), table.delimiter, cols[0], (cols[1], cols[2], cols[3]), gyro,
                         f[0], (f[1], f[2], f[3]), gyro_f)  # fmt: skip

    return choose


def read_csv(path: str | Path, *, cancel: threading.Event | None = None, header_rows: int = 1) -> ImuSamples:
    """Read a plain hipflex CSV file.

    Parameters
    ----------
    path : str or Path
        The file.
    cancel : threading.Event, optional
        Checked between chunks of rows; when set, :class:`LoadCancelled` is raised.
    header_rows : int
        Lines of header: the names, then ``header_rows - 1`` lines (units) that are skipped.

    Returns
    -------
    ImuSamples
        In the file's own time base; gyro ``None`` without gyro columns.

    Raises
    ------
    InputError
        Missing, unknown or repeated columns, text in a number, time problems
        (see :func:`~hipflex.sensor.format_spec.validate_samples`).
    """
    path = Path(path)
    fast = _fast(path, plain_selection(path), cancel) if header_rows == 1 else None
    if fast is not None:
        return fast
    table = _table(path, _read_bytes(path), header_rows)
    cols = _plain_cols(table)
    data, lines = _parse(table, cols, strict=True, cancel=cancel)
    gyr = data[:, 4:7] if len(cols) == 7 else None
    return validate_samples(path, data[:, 0], data[:, 1:4], gyr, lines)


def _sign(table: _Table, wanted: str) -> float:
    """-1 for an axis named ``-NAME`` (negated) unless a column is literally called that."""
    if wanted.startswith("-") and _find_exact(table, wanted) is None:
        return -1.0
    return 1.0


def _find_exact(table: _Table, wanted: str) -> int | None:
    names = table.names
    exact = [i for i, n in enumerate(names) if n == _clean_name(wanted)]
    return exact[0] if len(exact) == 1 else None


def _find(table: _Table, wanted: str) -> int | None:
    if wanted.startswith("-") and len(wanted) > 1 and _find_exact(table, wanted) is None:
        wanted = wanted[1:]  # "-Gz3": the column Gz3, negated (see _sign)
    names = table.names
    exact = [i for i, n in enumerate(names) if n == _clean_name(wanted)]
    if len(exact) > 1:
        hint = _header_rows_hint(table)
        raise InputError(table.source, f"column {wanted!r} appears more than once in the header{hint}")
    if exact:
        return exact[0]
    loose = [i for i, n in enumerate(names) if n.lower() == _clean_name(wanted).lower()]
    return loose[0] if len(loose) == 1 else None


def read_mapped_csv(path: str | Path, columns: ColumnMap, *, cancel: threading.Event | None = None) -> ImuSamples:
    """Read any delimited text file through a column mapping.

    Parameters
    ----------
    path : str or Path
        The file: one header line, then rows (``,``, ``;`` or tab separated,
        detected from the header); ``#`` comment lines and empty fields allowed.
    columns : ColumnMap
        Which columns hold time, acceleration and angular rate, and their units.
    cancel : threading.Event, optional
        As in :func:`read_csv`.

    Returns
    -------
    ImuSamples
        Time in seconds (in the file's own time base), acceleration in g,
        angular rate in deg/s.

    Raises
    ------
    InputError
        A mapped column is not in the header, or any problem that
        :func:`read_csv` reports.
    """
    path = Path(path)
    # The fast path reads one header line; other layouts take the careful reader.
    fast = _fast(path, mapped_selection(path, columns), cancel) if columns.header_rows == 1 else None
    if fast is not None:
        return fast
    table = _table(path, _read_bytes(path), columns.header_rows)
    cols, signs = _mapped_cols(table, columns)
    data, lines = _parse(table, cols, strict=False, cancel=cancel)
    data = data * signs
    t = data[:, 0] * TIME_UNITS[columns.time_unit]
    acc = data[:, 1:4] * _acc_factor(columns)
    gyr = None if columns.gyro_cols is None else data[:, 4:7] * _gyro_factor(columns)
    return validate_samples(path, t, acc, gyr, lines)


def _acc_factor(columns: ColumnMap) -> float:
    """g per raw accelerometer value: the scale, then the unit."""
    return columns.acc_scale * ACC_UNITS[columns.acc_unit]


def _gyro_factor(columns: ColumnMap) -> float:
    """deg/s per raw gyroscope value: the scale, then the unit."""
    return columns.gyro_scale * GYRO_UNITS[columns.gyro_unit]


def _mapped_cols(table: _Table, columns: ColumnMap) -> tuple[list[int], NDArray[np.float64]]:
    """Field indices of the mapped columns and their signs (``InputError`` when one is missing)."""
    if columns.header_rows == 0:  # numbered fields: say which numbers exist, not "no header"
        n = len(table.names)
        absent = [c for c in columns.names if _find(table, c) is None]
        if absent:
            raise InputError(
                table.source,
                f"no column {','.join(absent)}: the first line has {n} fields, numbered 0 to {n - 1} (--no-header)",
            )
    if _find(table, columns.time_col) is None:
        raise _header_problem(table, f"no time column {columns.time_col!r} (--time-col)")
    roles = [("--acc-cols", columns.acc_cols)]
    if columns.gyro_cols is not None:
        roles.append(("--gyro-cols", columns.gyro_cols))
    for flag, names in roles:
        absent = [n for n in names if _find(table, n) is None]
        if absent:
            raise _header_problem(table, f"unknown column(s) {','.join(absent)} ({flag})")
    cols = [i for n in columns.names if (i := _find(table, n)) is not None]
    signs = np.array([_sign(table, n) for n in columns.names])
    return cols, signs


# ---------------------------------------------------------------------------- writing


def write_csv(path: str | Path, samples: ImuSamples, comments: Iterable[str] = ()) -> None:
    """Write samples as a plain hipflex CSV file.

    A row with any NaN value is written with all its value fields empty (a
    dropout), which is how every reader treats it.

    Parameters
    ----------
    path : str or Path
        Destination (overwritten).
    samples : ImuSamples
        The data; NaN values are written as empty fields (dropouts).
    comments : iterable of str
        Provenance lines written first, each prefixed with ``# ``.
    """
    from hipflex import __version__

    head = [f"hipflex {__version__} plain CSV: time_s in s, acc in g, gyro in deg/s; empty = dropout"]
    head += [part for c in comments for part in str(c).splitlines()]
    cols = [PLAIN_TIME, *PLAIN_ACC]
    blocks = [samples.time_s[:, None], samples.acc_g]
    fmt = ["%.6f"] * 4
    if samples.gyr_dps is not None:
        cols += PLAIN_GYRO
        blocks.append(samples.gyr_dps)
        fmt += ["%.4f"] * 3
    table = np.hstack(blocks)
    lost = np.isnan(table[:, 1:]).any(axis=1)
    table[lost, 1:] = np.nan  # a dropout is a whole row, as the reader treats it
    buf = io.StringIO()
    np.savetxt(buf, table, fmt=fmt, delimiter=",")
    body = buf.getvalue().replace("nan", "")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(f"# {line}\n" for line in head)
        fh.write(",".join(cols) + "\n")
        fh.write(body)


# ---------------------------------------------------------------------------- registry


def _sniff_plain(path: Path, head: str) -> bool:
    for line in head.splitlines():
        u = line.strip()
        if u and not u.startswith("#"):
            names = {_clean_name(n) for n in u.split(_detect_delimiter(u))}
            return PLAIN_TIME in names and set(PLAIN_ACC) <= names
    return False


def _load(path: Path, options: LoadOptions) -> ImuSamples:
    if options.columns is not None:
        return read_mapped_csv(path, options.columns, cancel=options.cancel)
    return read_csv(path, cancel=options.cancel, header_rows=options.header_rows)


#: The formats this module provides (see :mod:`hipflex.sensor.formats`).
FORMATS: tuple[FileFormat, ...] = (
    FileFormat(
        name="csv",
        description="plain hipflex CSV (time_s,acc_x_g,…[,gyro_x_dps,…]) or any CSV with a column mapping",
        load=_load,
        sniff=_sniff_plain,
        column_mapping=True,
    ),
)

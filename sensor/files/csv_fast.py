"""The fast path of the CSV readers: pyarrow's multithreaded parser over the file's bytes.

:func:`read_columns` streams a delimited text file through :func:`pyarrow.csv.open_csv` and
writes the chosen columns straight into contiguous float64 arrays (time, acceleration,
angular rate), never holding the file as text or as a list of lines.  On the way, each block
of bytes is checked and tidied so that the result is exactly what the careful line-by-line
reader in :mod:`hipflex.sensor.files.csv_io` produces:

- the header is the first line that is neither blank nor a ``#`` comment (a UTF-8 byte-order
  mark is skipped); comment lines after it are removed, blank lines are skipped by pyarrow;
- empty fields (and ``nan``) become NaN, quoted numbers are read, CRLF line ends are accepted;
- a last line without a newline that has too few fields (cut short by a crash) is dropped.

It handles the common case only.  Anything unusual -- a file that is not UTF-8, a lone carriage
return, a ``#`` after data on a line, a line that may exceed
:data:`~hipflex.sensor.files.limits.MAX_LINE_CHARS`, a row with the wrong number of fields, a field
that is not a number -- makes it give up (:func:`read_columns` returns ``None``) and the caller
runs the careful reader, which accepts what it can and names the file, line and column of
what it cannot.  So every error message comes from one place.
"""

from __future__ import annotations

import codecs
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.errors import SensorLayerError
from hipflex.sensor.files.limits import MAX_LINE_CHARS
from hipflex.sensor.format_spec import InputError, LoadCancelled

__all__ = ["ColumnBlocks", "Declined", "Selection", "import_parser", "read_columns", "read_in_calling_thread"]

#: Bytes read from the file at a time (and pyarrow's block size): 256 KiB blocks left ~10 MB
#: resident after a 1.26 M-row file, 1 MiB blocks ~25-45 MB, at the same speed.
_CHUNK = 1 << 18
#: A line longer than MAX_LINE_CHARS contains a whole aligned window of this size without a
#: newline; a window without one sends the file to the careful reader, which checks exactly.
_WINDOW = MAX_LINE_CHARS // 2
#: Room for one more pyarrow batch in a block (rows; a block grows if a batch has more).
_BATCH_ROWS = 8192
#: Blocks a :class:`ColumnBlocks` reader thread may have made and not yet handed out.
_AHEAD_BLOCKS = 2
#: Whether the readers may use threads besides the calling one (pyarrow's parser threads, a
#: file's read-ahead thread); see :func:`read_in_calling_thread`.
_THREADS = True
_BOM = codecs.BOM_UTF8
#: ASCII whitespace, what :meth:`bytes.strip` removes.
_SPACE = b" \t\n\r\x0b\x0c"


class Declined(SensorLayerError):
    """The fast path does not handle this file; the careful reader will."""


@dataclass(frozen=True)
class Selection:
    """Which fields of each row to read, and the factor each is multiplied by.

    Attributes
    ----------
    n_fields : int
        Fields in the header (every row must have exactly this many).
    delimiter : str
        One of ``,``, ``;``, tab.
    time_col : int
        Field index of the time.
    acc_cols, gyro_cols : tuple of 3 int
        Field indices of the accelerometer and gyroscope axes (``gyro_cols`` may be ``None``).
    time_scale : float
        Factor to seconds.
    acc_scale, gyro_scale : tuple of 3 float
        Factor of each axis to g or deg/s, sign included (``-1`` for a negated axis).
    """

    n_fields: int
    delimiter: str
    time_col: int
    acc_cols: tuple[int, int, int]
    gyro_cols: tuple[int, int, int] | None = None
    time_scale: float = 1.0
    acc_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gyro_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)


class _Body(io.RawIOBase):
    """The data lines of a file, as pyarrow reads them: checked, with comment lines removed.

    Raises :class:`Declined` (through pyarrow) at the first thing the fast path does not handle.
    """

    def __init__(self, fh: BinaryIO, first: bytes, n_fields: int, delimiter: str) -> None:
        self._fh = fh
        self._carry = first  # bytes after the header not yet passed on
        self._n_fields = n_fields
        self._delimiter = delimiter.encode()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = b""
        self._emitted = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = _CHUNK if size is None or size < 0 else size
        while not self._pending and not self._eof:
            self._pending = self._next()
        out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def _next(self) -> bytes:
        """The next block of whole, checked data lines (or the tidied last line at the end)."""
        raw = self._fh.read(_CHUNK)
        data = self._carry + raw
        end = data.rfind(b"\n") + 1
        if not raw:
            self._eof = True
            self._carry = b""
            block = self._checked(data[:end])  # first: it tells whether data lines came before the last
            return block + self._last_line(data[end:])
        if end == 0:
            if len(data) > 4 * MAX_LINE_CHARS:  # a line this long is refused by the careful reader
                raise Declined
            self._carry = data
            return b""
        block, self._carry = data[:end], data[end:]
        return self._checked(block)

    def _checked(self, block: bytes) -> bytes:
        if not block.isascii() or self._utf8.getstate()[0]:
            try:
                self._utf8.decode(block)
            except UnicodeDecodeError:
                raise Declined from None
        # A carriage return ends a line only before a newline for the careful reader.
        if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
            raise Declined
        # pyarrow reads "nan(...)" as NaN; Python's float() refuses it.  A NUL byte is left to
        # the careful reader (it refuses one near the start as binary).
        if b"(" in block or b"\x00" in block:
            raise Declined
        for i in range(0, len(block), _WINDOW):
            if block.find(b"\n", i, i + _WINDOW) < 0:
                raise Declined
        if b"#" in block:
            block = _drop_comment_lines(block)
        self._emitted = self._emitted or bool(block.strip(_SPACE))
        return block

    def _last_line(self, line: bytes) -> bytes:
        """The last line of a file that does not end with a newline: kept, dropped or given up on."""
        if not line:
            return b""
        others = self._emitted  # data lines came before this one
        line = self._checked(line + b"\n")[:-1]
        stripped = line.strip(_SPACE)
        if not stripped:
            return b""  # a blank or comment line
        # Cut short by a crash mid-write (fewer fields than the header): dropped, as the
        # careful reader does when other data lines came before it.
        if others and line.count(self._delimiter) + 1 < self._n_fields:
            return b""
        return line


def _drop_comment_lines(block: bytes) -> bytes:
    """``block`` without its ``#`` comment lines; a ``#`` after data on a line gives up."""
    kept: list[bytes] = []
    for line in block.split(b"\n"):
        if b"#" in line:
            if line.strip(_SPACE).startswith(b"#"):
                continue
            raise Declined  # the careful reader strips such a comment (and may reject the line)
        kept.append(line)
    return b"\n".join(kept)


def _header(fh: BinaryIO) -> tuple[str, bytes] | None:
    """The header line (decoded) and the bytes after it that were already read.

    ``None`` when the file is binary, empty, has no header line or no line end after it.
    """
    data = fh.read(_CHUNK)
    if b"\x00" in data[:8192]:
        return None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            if len(data) - pos > 4 * MAX_LINE_CHARS:
                return None
            more = fh.read(_CHUNK)
            if not more:
                return None
            data, pos = data[pos:] + more, 0
            continue
        try:
            line = data[pos:end].decode("utf-8")
        except UnicodeDecodeError:
            return None
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return line, data[end + 1 :]
        pos = end + 1


def import_parser() -> None:
    """Import pyarrow's CSV reader now (~30 ms of CPU), e.g. before forking workers that would each import it.

    The readers import it on their first file only, so that a command that reads no CSV never does.
    """
    import pyarrow.csv  # noqa: F401


def read_in_calling_thread() -> None:
    """From now on, read every file in the calling thread only: no parser or read-ahead threads.

    The same blocks and values, about the same CPU; for a process that must keep to one core:
    the early parser of ``hipflex analyze`` (:mod:`hipflex.service.commands.early_parse`), which
    runs on the core the command's start-up leaves idle and would otherwise take time from it.
    """
    global _THREADS
    _THREADS = False


def _batches(body: _Body, sel: Selection, names: list[str]) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cols = sorted({sel.time_col, *sel.acc_cols, *(sel.gyro_cols or ())})
    read = pacsv.ReadOptions(column_names=names, block_size=_CHUNK, use_threads=_THREADS)
    parse = pacsv.ParseOptions(
        delimiter=sel.delimiter, quote_char='"', double_quote=True, escape_char=False,
        newlines_in_values=False, ignore_empty_lines=True,
    )  # fmt: skip
    convert = pacsv.ConvertOptions(
        column_types={names[i]: pa.float64() for i in cols},
        include_columns=[names[i] for i in cols],
        null_values=[""],  # an empty field is a dropout; "NA", "null" and the like are not numbers
        quoted_strings_can_be_null=True,
    )
    try:
        # pyarrow's streaming reader, not its multithreaded table reader: on a 1.26 M-row file the
        # table reader's worker threads left 80-130 MB of freed blocks resident (glibc arenas),
        # more than the whole recording's arrays, and it parsed no faster on the shared 2-core
        # machine we measured on (0.25-0.3 s either way).
        # Blocks from the system allocator in small blocks keep what stays resident small
        # (pyarrow's default pool, mimalloc, kept ~30 MB more at the peak).
        yield from pacsv.open_csv(
            body, read_options=read, parse_options=parse, convert_options=convert,
            memory_pool=pa.system_memory_pool(),
        )  # fmt: skip
    except pa.ArrowException:  # a row with the wrong number of fields, a field that is not a number
        raise Declined from None


def _values(col: Any) -> NDArray[np.float64]:
    """A float64 pyarrow column as a numpy view, NaN where the field was empty (null).

    Read from the column's buffers: pyarrow's ``to_numpy`` imports pandas when it is
    installed (0.9 s of a 1 s ``hipflex analyze`` here), for nothing the reader needs.
    """
    validity, data = col.buffers()
    values: NDArray[np.float64] = np.frombuffer(data, dtype=np.float64, count=len(col), offset=col.offset * 8)
    if col.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        present = bits[col.offset : col.offset + len(col)].astype(bool)
        values = np.where(present, values, np.nan)
    return values


class _Columns:
    """Growing contiguous float64 outputs, filled batch by batch (spare capacity is never touched)."""

    def __init__(self, widths: Sequence[int], capacity: int) -> None:
        self.capacity = max(capacity, 1024)
        self.arrays = [np.empty((self.capacity, w), dtype=np.float64) for w in widths]
        self.n = 0

    def reserve(self, m: int) -> None:
        if self.n + m > self.capacity:
            self.capacity = max(2 * self.capacity, self.n + m)
            for a in self.arrays:  # realloc: large blocks are remapped, not copied
                a.resize((self.capacity, a.shape[1]), refcheck=False)

    def trim(self) -> list[NDArray[np.float64]]:
        for a in self.arrays:
            a.resize((self.n, a.shape[1]), refcheck=False)
        return self.arrays


def _estimate_rows(first: bytes, size_b: int) -> int:
    """Rows in a body of ``size_b`` bytes, from the line density of its first bytes (+10 %)."""
    lines = first.count(b"\n")
    if lines < 8:  # too few to tell (the outputs then grow as needed)
        return 1024
    return int(1.1 * size_b * lines / len(first)) + 16


#: Field indices and factors of one output (time, acc or gyro).
_Group = tuple[tuple[int, ...], tuple[float, ...]]


def _groups(sel: Selection) -> list[_Group]:
    """The selection's columns as (field indices, factors): time, acc (and gyro)."""
    groups: list[_Group] = [
        ((sel.time_col,), (sel.time_scale,)),
        (sel.acc_cols, sel.acc_scale),
    ]
    if sel.gyro_cols is not None:
        groups.append((sel.gyro_cols, sel.gyro_scale))
    return groups


def _append(out: _Columns, batch: Any, groups: list[_Group], names: list[str]) -> None:
    """Copy one pyarrow batch's selected fields to the end of ``out``."""
    m = batch.num_rows
    out.reserve(m)
    for (cols, _), arr in zip(groups, out.arrays, strict=True):
        for j, c in enumerate(cols):
            arr[out.n : out.n + m, j] = _values(batch.column(names[c]))
    out.n += m


def _scaled(
    out: _Columns, groups: list[_Group]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """The filled rows of ``out`` as (time, acc, gyro), multiplied by the selection's factors."""
    arrays = out.trim()
    for (_, scales), arr in zip(groups, arrays, strict=True):
        if any(s != 1.0 for s in scales):
            arr *= np.asarray(scales)  # x * (sign * unit) is bitwise (x * sign) * unit
    return arrays[0].reshape(-1), arrays[1], (arrays[2] if len(arrays) == 3 else None)


def read_columns(
    path: Path, choose: Callable[[str], Selection], cancel: threading.Event | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None] | None:
    """Time, acceleration and angular rate of a delimited text file, or ``None``.

    Parameters
    ----------
    path : Path
        The file.
    choose : callable
        Given the header line, returns the :class:`Selection` (raises
        :class:`~hipflex.sensor.format_spec.InputError` when the header does not fit).
    cancel : threading.Event, optional
        Checked between blocks; when set, :class:`~hipflex.sensor.format_spec.LoadCancelled`
        is raised (a server whose client went away).

    Returns
    -------
    (time, acc, gyro) or None
        Contiguous float64 arrays of shape (n,), (n, 3) and (n, 3) (gyro ``None`` without
        gyro columns), scaled by the selection's factors; NaN marks an empty field.  ``None``
        when the fast path does not handle the file (anything unusual, including every kind of
        error: the careful reader then reports it).
    """
    try:
        with open(path, "rb") as fh:
            found = _header(fh)
            if found is None:
                return None
            line, first = found
            sel = choose(line)
            names = [f"f{i}" for i in range(sel.n_fields)]
            body = _Body(fh, first, sel.n_fields, sel.delimiter)
            groups = _groups(sel)
            size_b = path.stat().st_size
            out = _Columns([len(c) for c, _ in groups], _estimate_rows(first[:65536], size_b))
            for batch in _batches(body, sel, names):
                if cancel is not None and cancel.is_set():
                    raise LoadCancelled(f"{path}: loading cancelled")
                _append(out, batch, groups, names)
    except (Declined, InputError, OSError):
        return None
    if out.n == 0:
        return None
    return _scaled(out, groups)


class ColumnBlocks:
    """The rows of a delimited text file as consecutive blocks of columns (the fast path, streamed).

    The header is read on construction (:attr:`selection` then tells whether there is a
    gyro); iterating yields ``(time, acc, gyro)`` blocks of at least ``block_rows`` rows (the
    last may be shorter), fresh contiguous float64 arrays scaled as in :func:`read_columns`,
    so that the blocks joined are exactly what :func:`read_columns` returns.  The blocks are
    made in a thread of their own, up to :data:`_AHEAD_BLOCKS` ahead of the consumer: pyarrow's
    streaming reader parses in the thread that asks for a batch (outside the GIL), so the file
    is parsed while the consumer analyses the blocks before (a 1.26 M-row file's ~0.3 s of
    parsing ran on the analysing thread, between its blocks); a file of about one block is read
    in the consumer's thread.  Only those blocks, the one being
    filled and pyarrow's read-ahead are held at a time.

    Raises
    ------
    Declined
        On construction or while iterating: the fast path does not handle this file (anything
        :func:`read_columns` returns ``None`` for), so it must be read whole.
    LoadCancelled
        ``cancel`` was set.
    """

    def __init__(
        self, path: Path, choose: Callable[[str], Selection], cancel: threading.Event | None, block_rows: int
    ) -> None:
        self._path = path
        self._cancel = cancel
        self._block_rows = block_rows
        self._ahead: _Ahead | None = None
        self._fh = open(path, "rb")  # closed by close(), at the end of iterating
        try:
            found = _header(self._fh)
            if found is None:
                raise Declined
            line, self._first = found
            self.selection = choose(line)
        except (InputError, OSError):
            self.close()
            raise Declined from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the reader thread and close the file (iterating to the end also does)."""
        if self._ahead is not None:
            self._ahead.close()
        self._fh.close()

    def __iter__(self) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]]:
        try:
            rows = _estimate_rows(self._first[:65536], os.fstat(self._fh.fileno()).st_size)
            if rows <= self._block_rows or not _THREADS:
                # One block: nothing to parse while it is analysed, so no thread (~0.3 ms a file).
                yield from self._blocks()
                return
            self._ahead = _Ahead(self._blocks(), _AHEAD_BLOCKS, name=f"hipflex-read {self._path.name}")
            yield from self._ahead
        finally:
            self.close()

    def _blocks(self) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]]:
        """The blocks, made one after the other (in the reader thread)."""
        sel = self.selection
        names = [f"f{i}" for i in range(sel.n_fields)]
        groups = _groups(sel)
        widths = [len(c) for c, _ in groups]
        emitted = False
        try:
            body = _Body(self._fh, self._first, sel.n_fields, sel.delimiter)
            out = _Columns(widths, self._block_rows + _BATCH_ROWS)
            for batch in _batches(body, sel, names):
                if self._cancel is not None and self._cancel.is_set():
                    raise LoadCancelled(f"{self._path}: loading cancelled")
                _append(out, batch, groups, names)
                if out.n >= self._block_rows:
                    yield _scaled(out, groups)
                    emitted = True
                    out = _Columns(widths, self._block_rows + _BATCH_ROWS)
            if out.n:
                yield _scaled(out, groups)
            elif not emitted:
                raise Declined  # no data rows: the careful reader says so
        except OSError:
            raise Declined from None
        finally:
            self._fh.close()


class _Ahead:
    """An iterator run in a thread of its own, up to ``depth`` items ahead of the one consuming it.

    Iterating (once) starts the thread and yields the items in order; an exception of the
    source is raised where its item would have come.  :meth:`close` (also on leaving the
    iteration early) stops the thread after its current item and waits for it, so that nothing
    the source uses (the open file) is touched once it returns.
    """

    _ITEM, _END, _RAISE = range(3)

    def __init__(self, source: Iterator[Any], depth: int, name: str) -> None:
        self._source = source
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            for item in self._source:
                self._queue.put((self._ITEM, item))
                if self._stop.is_set():
                    return
            self._queue.put((self._END, None))
        except BaseException as exc:  # raised again by the consumer, in order
            self._queue.put((self._RAISE, exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[Any]:
        self._thread.start()
        try:
            while True:
                kind, item = self._queue.get()
                if kind == self._ITEM:
                    yield item
                elif kind == self._END:
                    return
                else:
                    raise item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread (if started) and wait for it; takes what it still hands out."""
        self._stop.set()
        if self._thread is threading.current_thread():
            return
        while self._thread.is_alive():
            try:  # a full queue blocks the thread's put: empty it
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass

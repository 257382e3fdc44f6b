"""A CSV recording block by block, checked and tidied exactly as when it is read whole.

:func:`open_csv_blocks` streams a plain (or column-mapped) CSV through the fast path's
block reader (:class:`~hipflex.sensor.files.csv_fast.ColumnBlocks`) and passes each block
through :class:`BlockCheck`, which does per block what
:func:`~hipflex.sensor.format_spec.validate_samples` does to the whole file, so that the
blocks joined are the same samples, bit for bit.  A long recording is then analysed without
ever holding all of it (a 1.26 M-row acc+gyro file is 70 MB of float64 columns).

What needs the whole file is kept small or decided at the end:

- the stable sort of out-of-order rows: the last :data:`HOLD_ROWS` rows (in time order) are
  held back from each block; a late row that belongs before the rows already passed on cannot
  be placed, and the stream stops (:class:`MustReadWhole`);
- duplicate rows: the first row of a block is compared with the last row passed on;
- the checks of the whole recording (too many rows out of order, too short, no acceleration,
  a gyroscope that is empty throughout, values that look like m/s^2): decided after the last
  block from running counts and one byte per valid row (its magnitude below, within or
  above the m/s^2 range).

Any of these (and anything the fast path does not handle) raises :class:`MustReadWhole`
while iterating; the caller then reads the file whole
(:func:`~hipflex.sensor.formats.load_samples`), which gives the same samples or the error
message naming the line.  Results built from the blocks must therefore not be used until the
iteration has ended without it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.errors import SensorLayerError
from hipflex.sensor.files.csv_fast import ColumnBlocks, Declined
from hipflex.sensor.files.csv_io import mapped_selection, plain_selection
from hipflex.sensor.format_spec import MIN_DURATION_S, MIN_SAMPLES, REPAIR_LIMIT, LoadOptions

__all__ = ["BLOCK_ROWS", "HOLD_ROWS", "BlockCheck", "CsvBlocks", "MustReadWhole", "open_csv_blocks"]

#: Rows per block: 1.8 MB of acc+gyro columns; a few dozen blocks per hour of 200 Hz.
BLOCK_ROWS = 32768
#: Rows held back from each block (the latest in time): how far back a late row may belong.
HOLD_ROWS = 1024
#: Magnitudes (g) strictly between these look like m/s^2 (as in validate_samples).
_MS2_LOW, _MS2_HIGH = 4.0, 20.0


class MustReadWhole(SensorLayerError):
    """The blocks would not be the samples of the file read whole: read it whole."""


def _nan_rows(x: NDArray[np.float64]) -> NDArray[np.bool_]:
    return np.isnan(x[:, 0]) | np.isnan(x[:, 1]) | np.isnan(x[:, 2])


def _norm(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's magnitude, bit for bit validate_samples's ``sqrt((v * v).sum(axis=1))``.

    numpy sums three columns left to right, as here; its reduction over a short last axis is
    slower than three column additions (a 32768-row block alone: 1.7 against 0.1 ms; the block
    checks of a 1.26 M-row file in the reader's flow: 0.087 -> 0.070 s of CPU).
    """
    sq = v * v
    out: NDArray[np.float64] = np.sqrt(sq[:, 0] + sq[:, 1] + sq[:, 2])
    return out


def _same(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Row by row: equal in every column (NaN equals NaN), as validate_samples compares rows."""
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)


def _median_range(ranges: NDArray[np.uint8]) -> int:
    """Where validate_samples's median magnitude falls: 0 outside (4, 20) g, 1 inside, -1 cannot tell.

    ``ranges`` holds each valid row's magnitude range (0: <= 4 g, 1: within, 2: >= 20 g); the
    median is taken over the same rows as there (every ``n // 20000``-th).  The middle value of
    an odd count, or two middle values in the same range, decide; two in different ranges
    (their mean may fall either side of a bound) cannot.
    """
    sub = ranges[:: max(1, ranges.size // 20000)]
    below = int(np.count_nonzero(sub == 0))
    within = int(np.count_nonzero(sub == 1))

    def at(k: int) -> int:  # the range of the k-th smallest magnitude
        return 0 if k < below else 1 if k < below + within else 2

    k = sub.size
    lo, hi = at((k - 1) // 2), at(k // 2)
    if lo != hi:
        return -1
    return 1 if lo == 1 else 0


class BlockCheck:
    """:func:`~hipflex.sensor.format_spec.validate_samples`, one block of rows at a time.

    Parameters
    ----------
    has_gyro : bool
        Whether the blocks have angular rate columns.
    hold_rows : int
        Rows held back from each block (see :data:`HOLD_ROWS`).

    Notes
    -----
    :meth:`feed` each block of rows in file order, then :meth:`finish`; each returns the rows
    now final (or ``None``).  Joined, they are what ``validate_samples`` returns for the whole
    file, or one of the calls raises :class:`MustReadWhole`.  The arrays fed are taken over
    (written in place).
    """

    def __init__(self, has_gyro: bool, hold_rows: int = HOLD_ROWS) -> None:
        self.has_gyro = has_gyro
        self._hold_rows = hold_rows
        empty3 = np.zeros((0, 3))
        self._held: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None] = (
            np.zeros(0),
            empty3,
            empty3.copy() if has_gyro else None,
        )
        self._max_t = -math.inf  # latest time read so far (file order)
        self._rows_in = 0
        self._late = 0  # rows before the latest earlier time
        self._last: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None] | None = None
        self._rows_out = 0
        self._first_t = math.nan
        self._last_t = math.nan
        self._gyro_seen = False
        # Per valid row passed on: 0, 1 or 2 for a magnitude <= 4 g, within (4, 20) g, >= 20 g.
        self._ranges: list[NDArray[np.uint8]] = []

    def feed(
        self, t: NDArray[np.float64], acc: NDArray[np.float64], gyr: NDArray[np.float64] | None
    ) -> ImuSamples | None:
        """Take the next rows of the file; return the rows now final (``None`` when none are)."""
        if t.size == 0:
            return None
        if not np.isfinite(t).all():
            raise MustReadWhole("a time is missing or not finite")
        self._count_late(t)
        if self._last is not None and float(t.min()) < float(self._last[0][0]):
            raise MustReadWhole("a row belongs before rows already passed on")
        ht, ha, hg = self._held
        t = np.concatenate([ht, t]) if ht.size else t
        acc = np.concatenate([ha, acc]) if ht.size else acc
        if gyr is not None and hg is not None and ht.size:
            gyr = np.concatenate([hg, gyr])
        if not bool(np.all(t[1:] >= t[:-1])):
            # Held rows are in time order and before the new ones in the file: a stable sort
            # of the two is the whole file's stable sort of these rows.
            order = np.argsort(t, kind="stable")
            t, acc = t[order], acc[order]
            gyr = None if gyr is None else gyr[order]
        keep = max(0, t.size - self._hold_rows)
        self._held = (t[keep:].copy(), acc[keep:].copy(), None if gyr is None else gyr[keep:].copy())
        if keep == 0:
            return None
        return self._pass_on(t[:keep], acc[:keep], None if gyr is None else gyr[:keep])

    def finish(self) -> ImuSamples | None:
        """The held rows, after the checks of the whole recording (:class:`MustReadWhole` when one fails)."""
        t, acc, gyr = self._held
        out = self._pass_on(t, acc, gyr) if t.size else None
        if self._rows_in == 0:
            raise MustReadWhole("no rows")
        if self._late and self._late >= REPAIR_LIMIT * self._rows_in:
            raise MustReadWhole("too many rows out of order")
        if self.has_gyro and not self._gyro_seen:
            raise MustReadWhole("the gyroscope columns are empty")
        if self._rows_out < MIN_SAMPLES or self._last_t - self._first_t < MIN_DURATION_S:
            raise MustReadWhole("too short")
        if not self._ranges:
            raise MustReadWhole("no accelerometer values")
        if _median_range(np.concatenate(self._ranges)) != 0:
            raise MustReadWhole("the accelerometer may be in m/s^2")
        return out

    def _count_late(self, t: NDArray[np.float64]) -> None:
        """Count the rows before the latest time of the rows before them in the file."""
        self._rows_in += t.size
        if float(t[0]) >= self._max_t and bool(np.all(t[1:] >= t[:-1])):
            self._max_t = float(t[-1])
            return
        prior = np.maximum.accumulate(t)
        self._late += int(np.count_nonzero(t[1:] < np.maximum(prior[:-1], self._max_t)))
        self._late += int(t[0] < self._max_t)
        self._max_t = max(self._max_t, float(prior[-1]))

    def _pass_on(
        self, t: NDArray[np.float64], acc: NDArray[np.float64], gyr: NDArray[np.float64] | None
    ) -> ImuSamples | None:
        """Drop repeated rows, mark lost rows, note what the whole-file checks need."""
        same_t = np.flatnonzero(t[1:] == t[:-1]) + 1
        dup = same_t[_same(acc[same_t], acc[same_t - 1])]
        if gyr is not None:
            dup = dup[_same(gyr[dup], gyr[dup - 1])]
        last = self._last
        first_dup = (
            last is not None
            and t[0] == last[0][0]
            and bool(_same(acc[:1], last[1])[0])
            and (gyr is None or last[2] is None or bool(_same(gyr[:1], last[2])[0]))
        )
        self._last = (t[-1:].copy(), acc[-1:].copy(), None if gyr is None else gyr[-1:].copy())
        if dup.size or first_dup:
            keep = np.ones(t.size, dtype=bool)
            keep[dup] = False
            keep[0] = not first_dup
            t, acc = t[keep], acc[keep]
            gyr = None if gyr is None else gyr[keep]
        if t.size == 0:
            return None
        lost = _nan_rows(acc)
        if gyr is not None:
            self._gyro_seen = self._gyro_seen or not bool(np.isnan(gyr).all())
            lost |= _nan_rows(gyr)
        if lost.any():
            acc[lost] = np.nan
            if gyr is not None:
                gyr[lost] = np.nan
        valid = acc[~lost] if lost.any() else acc
        if valid.size:
            norm = _norm(valid)
            self._ranges.append((norm > _MS2_LOW).view(np.uint8) + (norm >= _MS2_HIGH).view(np.uint8))
        if self._rows_out == 0:
            self._first_t = float(t[0])
        self._rows_out += t.size
        self._last_t = float(t[-1])
        return ImuSamples(t, acc, gyr)


class CsvBlocks:
    """A CSV recording's samples as checked blocks (see the module's docstring).

    Attributes
    ----------
    has_gyro : bool
        Whether the blocks carry angular rate (known from the header).
    """

    def __init__(self, columns: ColumnBlocks, hold_rows: int = HOLD_ROWS) -> None:
        self._columns = columns
        self._hold_rows = hold_rows
        self.has_gyro = columns.selection.gyro_cols is not None

    def __iter__(self) -> Iterator[ImuSamples]:
        """The samples, block by block; :class:`MustReadWhole` when they would not be the file's."""
        check = BlockCheck(self.has_gyro, self._hold_rows)
        try:
            for t, acc, gyr in self._columns:
                block = check.feed(t, acc, gyr)
                if block is not None:
                    yield block
        except Declined:
            raise MustReadWhole("not for the fast path") from None
        finally:
            self._columns.close()
        block = check.finish()
        if block is not None:
            yield block

    def close(self) -> None:
        """Close the file without reading its samples (iterating closes it too)."""
        self._columns.close()


def open_csv_blocks(
    path: str | Path, options: LoadOptions, block_rows: int | None = None, hold_rows: int = HOLD_ROWS
) -> CsvBlocks | None:
    """A CSV file (plain, or through ``options.columns``) as checked blocks, or ``None``.

    Parameters
    ----------
    path : str or Path
        The file (its format already known to be CSV).
    options : LoadOptions
        As for :func:`~hipflex.sensor.formats.load_samples`.
    block_rows : int, optional
        Rows read per block (the blocks passed on are about this long); default
        :data:`BLOCK_ROWS`.
    hold_rows : int
        Rows held back from each block (see :data:`HOLD_ROWS`).

    Returns
    -------
    CsvBlocks or None
        ``None`` when the file must be read whole from the start (a layout of more than one
        header line, a header the fast path cannot read, an unreadable file).
    """
    path = Path(path)
    columns = options.columns
    if (options.header_rows if columns is None else columns.header_rows) != 1:
        return None
    choose = plain_selection(path) if columns is None else mapped_selection(path, columns)
    cancel: threading.Event | None = options.cancel
    try:
        return CsvBlocks(ColumnBlocks(path, choose, cancel, block_rows or BLOCK_ROWS), hold_rows)
    except Declined:
        return None

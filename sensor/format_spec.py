"""What every file format shares: the format record, loader options, units and input checks.

A leaf of :mod:`hipflex.sensor`: the importers (:mod:`hipflex.sensor.files`), the capture
replay (:mod:`hipflex.sensor.capture.replay`) and the registry (:mod:`hipflex.sensor.formats`)
build on it, and it imports none of them.

Every problem with an input file is an :class:`InputError` whose message is one line
that starts with the file name.  Importers build their arrays and hand them to
:func:`validate_samples`, which applies the checks every format shares (finite,
increasing time; enough data; accelerometer units that look like g).  Each format is a
:class:`FileFormat`: a name, a loader and a sniffer that recognises the format from
the first few kilobytes of the file (:func:`read_head`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from hipflex.dsp.types import ImuSamples
from hipflex.dsp.units import STANDARD_GRAVITY_MPS2
from hipflex.sensor.errors import SensorLayerError

__all__ = [
    "ACC_UNITS",
    "GYRO_UNITS",
    "MIN_DURATION_S",
    "MIN_SAMPLES",
    "REPAIR_LIMIT",
    "TIME_UNITS",
    "ColumnMap",
    "FileFormat",
    "InputError",
    "LoadCancelled",
    "LoadOptions",
    "read_head",
    "validate_samples",
]

#: Shortest recording accepted, seconds (the first ~2 s of quiet standing calibrate).
MIN_DURATION_S = 2.0
#: Fewest samples accepted.
MIN_SAMPLES = 10
#: Largest fraction of rows whose out-of-order time is repaired by sorting.
REPAIR_LIMIT = 0.01

TimeUnit = Literal["s", "ms", "us", "ns"]
AccUnit = Literal["g", "mg", "m/s2"]
GyroUnit = Literal["dps", "rad/s"]

#: Seconds per unit of the time column.
TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: g per unit of the accelerometer columns.
ACC_UNITS: dict[str, float] = {"g": 1.0, "mg": 1e-3, "m/s2": 1.0 / STANDARD_GRAVITY_MPS2}
#: deg/s per unit of the gyroscope columns.
GYRO_UNITS: dict[str, float] = {"dps": 1.0, "rad/s": 180.0 / math.pi}

_UNIT_ALIASES = {
    "sec": "s", "seconds": "s", "msec": "ms", "µs": "us",
    "m/s^2": "m/s2", "m/s²": "m/s2", "mps2": "m/s2", "ms2": "m/s2",
    "deg/s": "dps", "°/s": "dps", "rad/sec": "rad/s", "rps": "rad/s",
}  # fmt: skip


class InputError(SensorLayerError, ValueError):
    """A recording cannot be read; the message is one line naming the file and the problem."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class LoadCancelled(SensorLayerError, RuntimeError):
    """Loading stopped because :attr:`LoadOptions.cancel` was set (not a problem with the file)."""


def _unit(kind: str, value: str, table: dict[str, float]) -> str:
    key = _UNIT_ALIASES.get(value.strip(), value.strip())
    if key not in table:
        raise ValueError(f"unknown {kind} unit {value!r}; use one of {', '.join(table)}")
    return key


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a delimited text file hold time, acceleration and angular rate.

    Parameters
    ----------
    time_col : str
        Header name of the time column.
    acc_cols : tuple of 3 str
        Header names of the accelerometer x, y, z columns.
    gyro_cols : tuple of 3 str or None
        Header names of the gyroscope x, y, z columns; ``None`` for an
        accelerometer-only recording.
    time_unit : {"s", "ms", "us", "ns"}
        Unit of the time column.
    acc_unit : {"g", "mg", "m/s2"}
        Unit of the accelerometer columns.
    gyro_unit : {"dps", "rad/s"}
        Unit of the gyroscope columns.
    acc_scale, gyro_scale : float
        Factor each accelerometer (gyroscope) value is multiplied by before the unit
        applies, for raw integer counts: raw/10000 g is ``acc_scale=1e-4`` with
        ``acc_unit="g"``; raw mm/s^2 is ``acc_scale=1e-3`` with ``acc_unit="m/s2"``.
    header_rows : int
        Lines of header before the data.  ``1`` (default): one line of column names.
        ``0``: no header; every column is then given by its field number counted from
        0 (``time_col="0"``, ``acc_cols=("1", "2", "3")``; ``"-3"`` reads field 3 negated).
        ``N > 1``: names come from the first header line, the next ``N - 1`` lines
        (units, sensor labels) are skipped.

    Notes
    -----
    Names match exactly after stripping spaces and quotes, or else
    case-insensitively when that is unambiguous.  A name written ``-NAME``
    reads column ``NAME`` negated (for sensors whose axes are mirrored).  Other columns are ignored.
    Unit spellings such as ``m/s^2`` and ``deg/s`` are normalised.
    """

    time_col: str = "time_s"
    acc_cols: tuple[str, str, str] = ("acc_x_g", "acc_y_g", "acc_z_g")
    gyro_cols: tuple[str, str, str] | None = None
    time_unit: str = "s"
    acc_unit: str = "g"
    gyro_unit: str = "dps"
    acc_scale: float = 1.0
    gyro_scale: float = 1.0
    header_rows: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_unit", _unit("time", self.time_unit, TIME_UNITS))
        object.__setattr__(self, "acc_unit", _unit("accelerometer", self.acc_unit, ACC_UNITS))
        object.__setattr__(self, "gyro_unit", _unit("gyroscope", self.gyro_unit, GYRO_UNITS))
        for name, cols in (("acc_cols", self.acc_cols), ("gyro_cols", self.gyro_cols)):
            if cols is not None and (len(cols) != 3 or not all(c.strip() for c in cols)):
                raise ValueError(f"{name} needs three column names (x, y, z), got {list(cols)}")
        if not self.time_col.strip():
            raise ValueError("time_col must name a column")
        for name, scale in (("acc_scale", self.acc_scale), ("gyro_scale", self.gyro_scale)):
            if not (math.isfinite(scale) and scale != 0.0):
                raise ValueError(f"{name} must be a finite number other than 0, got {scale!r}")
        if self.header_rows < 0:
            raise ValueError(f"header_rows must be 0 (no header) or more, got {self.header_rows}")
        if self.header_rows == 0:
            bad = [c for c in self.names if not c.strip().lstrip("-").isdigit()]
            if bad:
                raise ValueError(
                    "without a header, columns are field numbers counted from 0 "
                    f"(e.g. --time-col 0 --acc-cols 1,2,3); got {','.join(bad)}"
                )

    @property
    def names(self) -> tuple[str, ...]:
        """All mapped column names: time, acc x/y/z, then gyro x/y/z if any."""
        return (self.time_col, *self.acc_cols, *(self.gyro_cols or ()))


@dataclass(frozen=True)
class LoadOptions:
    """Options that a user may pass to any loader.

    Parameters
    ----------
    columns : ColumnMap or None
        Generic column mapping for third-party CSV files (only formats with
        ``column_mapping=True`` accept it); ``None`` reads the format's own layout.
    cancel : threading.Event or None
        Set by another thread to stop loading (a server whose client went away):
        loaders that parse in chunks check it between chunks and raise
        :class:`LoadCancelled`; every loader is checked once before it starts.
    header_rows : int
        Lines of header of a plain hipflex CSV read without a column mapping: names on the
        first, the others (a units line) skipped.  A mapping has its own
        (:attr:`ColumnMap.header_rows`).
    """

    columns: ColumnMap | None = None
    cancel: threading.Event | None = None
    header_rows: int = 1

    def __post_init__(self) -> None:
        if self.header_rows < 1:
            raise ValueError(f"header_rows must be 1 or more without a column mapping, got {self.header_rows}")


Loader = Callable[[Path, LoadOptions], ImuSamples]
Sniffer = Callable[[Path, str], bool]


@dataclass(frozen=True)
class FileFormat:
    """One importable file format.

    Parameters
    ----------
    name : str
        The ``--format`` name.
    description : str
        One line for ``--help`` and error messages.
    load : callable
        ``load(path, options) -> ImuSamples``; raises :class:`InputError`.
    sniff : callable
        ``sniff(path, head) -> bool`` where ``head`` is the start of the file
        decoded as text (see :func:`read_head`); must be cheap and never raise.
    column_mapping : bool
        Whether ``load`` honours :attr:`LoadOptions.columns`.
    """

    name: str
    description: str
    load: Loader
    sniff: Sniffer
    column_mapping: bool = False


def read_head(path: Path, size: int = 8192) -> str:
    """The first ``size`` bytes of a file decoded leniently (for sniffers)."""
    with open(path, "rb") as fh:
        raw = fh.read(size)
    return raw.decode("utf-8-sig", errors="replace")


def _same_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows`` (indices >= 1): equal to the row before in every column (NaN equals NaN)."""
    a, b = x[rows], x[rows - 1]
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)


def _nan_rows(x: np.ndarray) -> np.ndarray:
    """Rows of an (n, 3) array with a NaN in any column."""
    # Column by column: a third of the time of np.isnan(x).any(axis=1) on a long recording.
    return np.isnan(x[:, 0]) | np.isnan(x[:, 1]) | np.isnan(x[:, 2])


def validate_samples(
    source: str | Path,
    time_s: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike | None = None,
    line_numbers: ArrayLike | None = None,
    *,
    owned: bool = False,
) -> ImuSamples:
    """Check and tidy decoded samples; the shared last step of every importer.

    Parameters
    ----------
    source : str or Path
        The file, for messages.
    time_s : array_like, shape (n,)
        Times in seconds.
    acc_g : array_like, shape (n, 3)
        Acceleration in g; NaN marks a dropout.
    gyr_dps : array_like, shape (n, 3), optional
        Angular rate in deg/s.  An all-NaN gyroscope is dropped (``None``).
    line_numbers : array_like of int, shape (n,), optional
        File line of each row, for messages (otherwise rows are named).
    owned : bool
        The arrays are the caller's to give away (float64, not used afterwards): lost rows
        are written in place instead of into copies (a reader's own fresh arrays; saves the
        copies of a long recording's acc and gyro).

    Returns
    -------
    ImuSamples
        Non-decreasing time (rows stamped together on arrival keep their
        shared time; the core re-times them).  A row with any NaN value is NaN
        in all of acc (and gyro): a dropout that the core bridges or reports.

    Raises
    ------
    InputError
        No rows, non-finite time, time going backwards in more than
        :data:`REPAIR_LIMIT` of the rows, fewer than :data:`MIN_SAMPLES` samples
        or :data:`MIN_DURATION_S` seconds, no accelerometer values, or
        accelerometer values that look like m/s^2 rather than g.

    Notes
    -----
    A few out-of-order rows (less than 1 % of the rows are before the
    latest earlier time: a swapped pair) are repaired by a stable sort on
    time.  A row that repeats the row before it exactly (same time, same
    values) is a duplicate and is dropped; rows that share a time but not
    their values are distinct samples stamped together and are all kept.
    """
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    gyr = None if gyr_dps is None else np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
    lines = None if line_numbers is None else np.asarray(line_numbers).reshape(-1)
    n = t.shape[0]

    def where(i: int) -> str:
        return f"line {int(lines[i])}" if lines is not None else f"row {i + 1}"

    if n == 0:
        raise InputError(source, "no data rows")
    bad_t = np.flatnonzero(~np.isfinite(t))
    if bad_t.size:
        i = int(bad_t[0])
        raise InputError(source, f"{where(i)}: time is missing or not a finite number")

    if n > 1:
        prior_max = np.maximum.accumulate(t)[:-1]
        late = np.flatnonzero(t[1:] < prior_max) + 1
        if late.size:
            if late.size >= REPAIR_LIMIT * n:
                i = int(late[0])
                raise InputError(
                    source,
                    f"{where(i)}: time goes backwards ({t[i]:.6g} s after {prior_max[i - 1]:.6g} s); "
                    f"{late.size} of {n} rows are out of order, more than the "
                    f"{REPAIR_LIMIT:.0%} that are repaired by sorting",
                )
            order = np.argsort(t, kind="stable")
            t, acc = t[order], acc[order]
            gyr = None if gyr is None else gyr[order]
        # Only rows that share their time with the row before can repeat it.
        same_t = np.flatnonzero(t[1:] == t[:-1]) + 1
        dup = same_t[_same_rows(acc, same_t)]
        if gyr is not None:
            dup = dup[_same_rows(gyr, dup)]
        if dup.size:
            keep = np.ones(n, dtype=bool)
            keep[dup] = False
            t, acc = t[keep], acc[keep]
            gyr = None if gyr is None else gyr[keep]
            n = t.shape[0]

    if gyr is not None and np.isnan(gyr).all():
        gyr = None
    lost = _nan_rows(acc)
    if gyr is not None:
        lost |= _nan_rows(gyr)
    if lost.any():  # copy before writing, unless the caller gave its arrays away
        acc = acc if owned else acc.copy()
        acc[lost] = np.nan
        if gyr is not None:
            gyr = gyr if owned else gyr.copy()
            gyr[lost] = np.nan

    duration = float(t[-1] - t[0])
    if n < MIN_SAMPLES or duration < MIN_DURATION_S:
        raise InputError(
            source,
            f"too short: {n} samples over {duration:.3g} s; need at least {MIN_SAMPLES} samples "
            f"and {MIN_DURATION_S:g} s (the first seconds of quiet standing calibrate the sensor)",
        )
    if lost.all():
        raise InputError(source, "no accelerometer values (every row is empty or NaN)")
    valid_rows = np.flatnonzero(~lost)  # (indices, not a copy of every valid row)
    valid = acc[valid_rows[:: max(1, valid_rows.shape[0] // 20000)]]
    norm = float(np.median(np.sqrt((valid * valid).sum(axis=1))))
    if 4.0 < norm < 20.0:
        raise InputError(
            source,
            f"accelerometer magnitude is about {norm:.1f}, which looks like m/s^2, not g "
            "(use --acc-unit m/s2 with a column mapping)",
        )
    return ImuSamples(t, acc, gyr)

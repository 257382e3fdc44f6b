"""Polar Sensor Logger (Android app) exports: ``..._ACC.txt`` + sibling ``..._GYRO.txt``.

The app writes one semicolon-separated text file per stream, named
``Polar_<model>_<device id>_<date>_<STREAM>.txt`` (e.g. ``Polar_Sense_B5A8C12F_20240301_101500_ACC.txt``,
``Polar_H10_1A2B3C4D_20240301_101500_ACC.txt``), with the headers::

    Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]
    Phone timestamp;sensor timestamp [ns];X [dps];Y [dps];Z [dps]

``Phone timestamp`` is the phone's formatted wall clock (not read); ``sensor timestamp``
is the Polar device clock in ns since 2000-01-01, one per sample, which is the **time
column** here (seconds = ns * 1e-9, the device's own time base).

Header variants accepted, since the exact text differs between app versions and we
could not check them all: a trailing space or ``;`` after the last name; any column
order, with extra columns ignored (e.g. a ``timestamp [ms]`` column); names matched
case-insensitively; accelerometer units ``mg`` (the app's), ``g`` or ``m/s^2``;
gyroscope units ``dps``, ``deg/s`` or ``rad/s``.  A ``[G]`` (Gauss, ``_MAGN.txt``)
file is a magnetometer and rejected.

Give the **ACC** file; the GYRO file of the same session is the same name with
``_ACC.txt`` replaced by ``_GYRO.txt``.  The Verity Sense samples both at one rate, so the
gyroscope is merged onto the accelerometer times by nearest device timestamp within
half a period; at different rates it is interpolated linearly (see
:func:`~hipflex.sensor.merge.merge_acc_gyro`, ``rule="auto"``).  Only the time span both
streams cover is kept.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.text_table import TextTable, merge_gyro_export, parse_columns, read_table
from hipflex.sensor.format_spec import ACC_UNITS, GYRO_UNITS, FileFormat, InputError, LoadOptions, validate_samples

__all__ = ["FORMATS", "find_stream_sibling", "read_polar_logger"]

_log = logging.getLogger(__name__)

_TIME_COL: Final = "sensor timestamp [ns]"
_AXIS = re.compile(r"^(?P<axis>[xyz])\s*\[(?P<unit>[^\]]+)\]$", re.IGNORECASE)
_STREAM = re.compile(r"^(?P<stem>.+)_(?P<stream>ACC|GYRO|MAGN|MAG|PPG|PPI|ECG|HR)\.txt$", re.IGNORECASE)
_ACC_UNIT_NAMES: Final = {"mg": "mg", "g": "g", "m/s^2": "m/s2", "m/s2": "m/s2", "m/s²": "m/s2"}
_GYRO_UNIT_NAMES: Final = {"dps": "dps", "deg/s": "dps", "°/s": "dps", "rad/s": "rad/s"}


def find_stream_sibling(path: str | Path, stream: str) -> Path | None:
    """The file of another stream of the same session (``_ACC.txt`` -> ``_GYRO.txt``), if present."""
    path = Path(path)
    m = _STREAM.match(path.name)
    if m is None:
        return None
    want = f"{m['stem']}_{stream}.txt".lower()
    try:
        for other in sorted(path.parent.iterdir()):
            if other.name.lower() == want and other != path:
                return other
    except OSError:
        return None
    return None


def _axes(table: TextTable) -> tuple[list[int], str] | None:
    """Field indices of X, Y, Z and their common unit (as written), or ``None``."""
    found: dict[str, tuple[int, str]] = {}
    for i, name in enumerate(table.names):
        m = _AXIS.match(name)
        if m is not None and m["axis"].lower() not in found:
            found[m["axis"].lower()] = (i, m["unit"].strip())
    if set(found) != {"x", "y", "z"} or len({u for _, u in found.values()}) != 1:
        return None
    return [found[a][0] for a in "xyz"], found["x"][1]


def _stream(table: TextTable) -> tuple[str, list[int], float]:
    """(``"acc"`` or ``"gyro"``, [time, x, y, z] indices, scale to g or deg/s)."""
    path = table.source
    lowered = [n.lower() for n in table.names]
    axes = _axes(table)
    if _TIME_COL not in lowered or axes is None:
        found = ";".join(table.names[:8])
        raise InputError(
            path, f"not a Polar Sensor Logger ACC/GYRO file: expected columns {_TIME_COL!r} and "
            f"X [unit];Y [unit];Z [unit]; found: {found}"
        )  # fmt: skip
    cols, unit = axes
    idx = [lowered.index(_TIME_COL), *cols]
    if unit in _ACC_UNIT_NAMES or unit.lower() == "mg":
        return "acc", idx, ACC_UNITS[_ACC_UNIT_NAMES.get(unit, "mg")]
    if unit.lower() in _GYRO_UNIT_NAMES:
        return "gyro", idx, GYRO_UNITS[_GYRO_UNIT_NAMES[unit.lower()]]
    if unit in ("G", "uT", "µT", "mG"):
        raise InputError(path, f"is a magnetometer file (X [{unit}]), not an accelerometer file")
    raise InputError(path, f"unknown unit [{unit}] of the X/Y/Z columns (expected mg, g, m/s^2, dps or rad/s)")


def _read(table: TextTable) -> tuple[str, NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    kind, idx, scale = _stream(table)
    data, lines, _ = parse_columns(table, idx)
    return kind, data[:, 0] * 1e-9, data[:, 1:4] * scale, lines


def read_polar_logger(path: str | Path, *, gyro_path: str | Path | None = None) -> ImuSamples:
    """Read a Polar Sensor Logger ACC file, merged with its GYRO sibling when there is one.

    Parameters
    ----------
    path : str or Path
        The ``..._ACC.txt`` file.
    gyro_path : str or Path, optional
        The gyroscope file; default the ``_GYRO.txt`` sibling (:func:`find_stream_sibling`).

    Returns
    -------
    ImuSamples
        Time in device seconds since 2000-01-01, acceleration in g, angular rate in
        deg/s (``None`` for the H10, which has no gyroscope).

    Raises
    ------
    InputError
        A GYRO file given as the main file, unknown columns or units, unreadable
        rows, streams that do not overlap, or the shared checks of
        :func:`~hipflex.sensor.format_spec.validate_samples`.
    """
    path = Path(path)
    kind, t, acc, lines = _read(read_table(path))
    if kind == "gyro":
        sib = find_stream_sibling(path, "ACC")
        hint = f" {sib.name}" if sib is not None else " (..._ACC.txt)"
        raise InputError(
            path, f"is a Polar Sensor Logger GYRO file; analyse the ACC file{hint} (the gyroscope is merged)"
        )
    gpath = find_stream_sibling(path, "GYRO") if gyro_path is None else Path(gyro_path)
    if gpath is None:
        return validate_samples(path, t, acc, None, lines)
    if not gpath.is_file():
        raise InputError(path, f"gyroscope file {gpath} not found")
    gkind, gt, gyr, _ = _read(read_table(gpath))
    if gkind != "gyro":
        raise InputError(gpath, "expected a GYRO file (X [dps];Y [dps];Z [dps])")
    base = validate_samples(path, t, acc, None, lines)
    return merge_gyro_export(path, base, gt, gyr, gpath, "auto", "GYRO")


def _load(path: Path, options: LoadOptions) -> ImuSamples:
    return read_polar_logger(path)


def _sniff(path: Path, head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0].strip().lower()
    return first.startswith("phone timestamp;") and _TIME_COL in first and "x [" in first


#: The formats this module provides (see :mod:`hipflex.sensor.formats`).
FORMATS: tuple[FileFormat, ...] = (
    FileFormat(
        name="polar",
        description="Polar Sensor Logger export (..._ACC.txt; the session's _GYRO.txt is merged)",
        load=_load,
        sniff=_sniff,
    ),
)

"""MetaBase (MbientLab MetaMotion) CSV exports: accelerometer file + sibling gyroscope file.

MetaBase writes one CSV per sensor per session, named like::

    <session>_MetaWear_2019-01-11T16.10.08.270_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv
    <session>_MetaWear_2019-01-11T16.10.08.270_C42732BE255C_Gyroscope_25.000Hz_1.4.4.csv

with the headers::

    epoch (ms),time (01:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)
    epoch (ms),time (01:00),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)

(``time (01:00)`` names the time zone of the formatted time, which is not read).

Give the **accelerometer** file.  Its gyroscope sibling is found in the same folder: the
name with ``_Accelerometer_<rate>Hz`` replaced by ``_Gyroscope_<any rate>Hz`` and
everything else equal (or, failing that, equal apart from white space: real exports have
names such as ``A-bench-half _MetaWear_...`` next to ``A-bench-half_MetaWear_...``).
Without a sibling the recording is read accelerometer-only.

**Time** is ``epoch (ms)`` / 1000: Unix seconds, the files' shared clock.  The two sensors
run at different rates (12.5 and 25 Hz by default), so the gyroscope is **resampled onto
the accelerometer times by linear interpolation** between the two gyroscope samples around
each accelerometer time (:func:`~hipflex.sensor.merge.merge_acc_gyro` with
``rule="linear"``): only the time span both files cover is kept, and an accelerometer
time inside a hole of the gyroscope stream (neighbours more than 1.5 gyroscope periods
apart) becomes a dropout rather than a value bridged across the hole.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.text_table import TextTable, merge_gyro_export, parse_columns, read_table
from hipflex.sensor.format_spec import FileFormat, InputError, LoadOptions, validate_samples

__all__ = ["FORMATS", "MetaBaseName", "find_gyro_sibling", "parse_metabase_name", "read_metabase"]

_log = logging.getLogger(__name__)

_TIME_COL: Final = "epoch (ms)"
_ACC_COLS: Final = ("x-axis (g)", "y-axis (g)", "z-axis (g)")
_GYRO_COLS: Final = ("x-axis (deg/s)", "y-axis (deg/s)", "z-axis (deg/s)")
_NAME = re.compile(
    r"^(?P<prefix>.+)_(?P<sensor>Accelerometer|Gyroscope)_(?P<rate>\d+(?:\.\d+)?)Hz(?P<suffix>.*)\.csv$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MetaBaseName:
    """The parts of a MetaBase export file name.

    Attributes
    ----------
    prefix : str
        Everything before ``_<Sensor>_`` (session, device, start time, address).
    sensor : str
        ``"accelerometer"`` or ``"gyroscope"``.
    rate_hz : float
        Sample rate written in the name, Hz.
    suffix : str
        Everything between ``Hz`` and ``.csv`` (the MetaBase version, e.g. ``_1.4.4``).
    """

    prefix: str
    sensor: str
    rate_hz: float
    suffix: str


def parse_metabase_name(name: str) -> MetaBaseName | None:
    """Split a MetaBase file name into its parts, ``None`` when it does not follow the pattern."""
    m = _NAME.match(name)
    if m is None:
        return None
    return MetaBaseName(m["prefix"], m["sensor"].lower(), float(m["rate"]), m["suffix"])


def _sibling(path: Path, want: str) -> Path | None:
    me = parse_metabase_name(path.name)
    if me is None:
        return None
    try:
        candidates = sorted(path.parent.iterdir())
    except OSError:
        return None
    named = [(other, it) for other in candidates if (it := parse_metabase_name(other.name)) and it.sensor == want]
    found = [other for other, it in named if (it.prefix, it.suffix) == (me.prefix, me.suffix)]
    if not found:  # real exports sometimes differ by a stray space ("A-bench-half _MetaWear_...")
        key = ("".join(me.prefix.split()), me.suffix)
        found = [other for other, it in named if ("".join(it.prefix.split()), it.suffix) == key]
    if len(found) > 1:
        _log.warning("%s: several %s files match; using %s", path, want, found[0].name)
    return found[0] if found else None


def find_gyro_sibling(acc_path: str | Path) -> Path | None:
    """The gyroscope export of the same session as an accelerometer export, if present."""
    return _sibling(Path(acc_path), "gyroscope")


def _index(table: TextTable, wanted: tuple[str, ...]) -> list[int] | None:
    lowered = [n.lower() for n in table.names]
    if not all(w in lowered for w in wanted):
        return None
    return [lowered.index(w) for w in wanted]


def _read_sensor(
    table: TextTable, cols: tuple[str, ...], what: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Time (s) and x/y/z of one MetaBase file, with file line numbers."""
    path = table.source
    idx = _index(table, (_TIME_COL, *cols))
    if idx is None:
        found = ",".join(table.names[:8])
        raise InputError(path, f"not a MetaBase {what} export: expected columns {_TIME_COL},{','.join(cols)}; "
                         f"found: {found}")  # fmt: skip
    data, lines, _ = parse_columns(table, idx)
    return data[:, 0] * 1e-3, data[:, 1:4], lines


def _kind(table: TextTable) -> str:
    if _index(table, _GYRO_COLS) is not None:
        return "gyroscope"
    if _index(table, _ACC_COLS) is not None:
        return "accelerometer"
    return "other"


def read_metabase(path: str | Path, *, gyro_path: str | Path | None = None) -> ImuSamples:
    """Read a MetaBase accelerometer export, merged with its gyroscope sibling.

    Parameters
    ----------
    path : str or Path
        The ``..._Accelerometer_<rate>Hz_...csv`` file.
    gyro_path : str or Path, optional
        The gyroscope file; default :func:`find_gyro_sibling`.

    Returns
    -------
    ImuSamples
        Time in Unix seconds, acceleration in g, angular rate in deg/s (``None`` when
        there is no gyroscope file).

    Raises
    ------
    InputError
        A gyroscope file given as the main file, unknown columns, unreadable rows,
        files that do not overlap in time, or the shared checks of
        :func:`~hipflex.sensor.format_spec.validate_samples`.
    """
    path = Path(path)
    table = read_table(path)
    kind = _kind(table)
    if kind == "gyroscope":
        acc_sibling = _sibling(path, "accelerometer")
        hint = f" {acc_sibling.name}" if acc_sibling is not None else " (..._Accelerometer_<rate>Hz_...csv)"
        raise InputError(
            path,
            f"is a MetaBase gyroscope export; analyse its accelerometer file{hint} "
            "(the gyroscope is merged automatically)",
        )
    if kind != "accelerometer":
        found = ",".join(table.names[:8])
        raise InputError(
            path, f"not a MetaBase accelerometer export (no x-axis (g),y-axis (g),z-axis (g) columns); found: {found}"
        )
    t, acc, lines = _read_sensor(table, _ACC_COLS, "accelerometer")
    gpath = find_gyro_sibling(path) if gyro_path is None else Path(gyro_path)
    if gpath is None:
        _log.info("%s: no gyroscope sibling found; reading the accelerometer only", path)
        return validate_samples(path, t, acc, None, lines)
    if not gpath.is_file():
        raise InputError(path, f"gyroscope file {gpath} not found")
    gt, gyr, _ = _read_sensor(read_table(gpath), _GYRO_COLS, "gyroscope")
    base = validate_samples(path, t, acc, None, lines)
    return merge_gyro_export(path, base, gt, gyr, gpath, "linear", "gyroscope")


def _load(path: Path, options: LoadOptions) -> ImuSamples:
    return read_metabase(path)


def _sniff(path: Path, head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0].strip().lower()
    return first.startswith(_TIME_COL + ",") and "-axis (" in first


#: The formats this module provides (see :mod:`hipflex.sensor.formats`).
FORMATS: tuple[FileFormat, ...] = (
    FileFormat(
        name="metabase",
        description="MetaBase (MbientLab MetaMotion) CSV export; the gyroscope file of the session is merged",
        load=_load,
        sniff=_sniff,
    ),
)

"""A slow, obvious twin of the plain CSV reader, written from the format's description.

The plain format (see :mod:`hipflex.sensor.files.csv_io`): the file is UTF-8 (a byte-order mark is
skipped), else Latin-1; lines are separated by ``\\n`` (a ``\\r`` before it belongs to the line
end); lines that are blank or start with ``#`` (after spaces) are ignored anywhere; the first
other line is the header, whose names may be quoted; a ``#`` after data starts a comment; every
other line is a row with one field per header name; a field is a number (possibly quoted, with
spaces around it), or empty / ``nan`` for a lost sample; a last line without a newline that has
fewer fields than the header was cut short by a crash and is dropped.  No error handling: the
twin is for files the reader accepts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PLAIN = ("time_s", "acc_x_g", "acc_y_g", "acc_z_g", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps")


def _value(field: str) -> float:
    text = field.strip().strip('"').strip()
    return float(text) if text else float("nan")


def read_plain(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Time (s), acceleration (g) and angular rate (deg/s, or ``None``) of a plain CSV file."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    ends_with_newline = text.endswith("\n")
    lines = [s.rstrip("\r") for s in text.split("\n")]
    kept = [s for s in lines if s.strip() and not s.strip().startswith("#")]
    header, rows = kept[0], [s.split("#")[0] for s in kept[1:]]  # '#' after data starts a comment too
    delimiter = max((",", ";", "\t"), key=header.count)  # ties: the first
    names = [n.strip().strip('"').strip() for n in header.split(delimiter)]
    if not ends_with_newline and len(rows) > 1 and len(rows[-1].split(delimiter)) < len(names):
        rows = rows[:-1]
    wanted = [n for n in PLAIN if n in names]
    table = np.array([[_value(r.split(delimiter)[names.index(n)]) for n in wanted] for r in rows])
    gyr = table[:, 4:7] if len(wanted) == 7 else None
    return table[:, 0], table[:, 1:4], gyr

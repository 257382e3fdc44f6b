"""Named column mappings for third-party CSV files (``--columns NAME[:ARG]``).

A preset is a :class:`~hipflex.sensor.format_spec.ColumnMap` with a name, for files whose
layout is known (``eurobench:3`` is the thigh IMU of a Eurobench BENCH file); the plain
format's own names are ``hipflex``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hipflex.sensor.files.csv_io import PLAIN_GYRO
from hipflex.sensor.format_spec import ColumnMap

__all__ = ["COLUMN_PRESETS", "ColumnPreset", "column_preset"]


@dataclass(frozen=True)
class ColumnPreset:
    """A named column mapping; ``build(arg)`` gets the text after ``name:`` (or ``""``)."""

    description: str
    build: Callable[[str], ColumnMap]


def _eurobench(arg: str) -> ColumnMap:
    imu = arg or "3"
    if imu not in {"1", "2", "3", "4", "5", "6"}:
        raise ValueError(f"eurobench IMU must be 1..6 (3 = thigh), got {imu!r}")
    return ColumnMap(
        time_col="time",
        acc_cols=(f"Ax{imu}", f"Ay{imu}", f"Az{imu}"),
        # These files' gyro z axis is mirrored relative to the accelerometer:
        # rotating the sitting gravity vector by the integrated gyro matches the
        # standing accelerometer within 1-3 deg only with z negated (41-79 deg
        # off otherwise), so the preset negates it.
        gyro_cols=(f"Gx{imu}", f"Gy{imu}", f"-Gz{imu}"),
        time_unit="s",
        acc_unit="m/s2",
        gyro_unit="dps",
    )


def _plain(arg: str) -> ColumnMap:
    if arg not in {"", "acc"}:
        raise ValueError(f"hipflex preset takes no argument or ':acc', got {arg!r}")
    return ColumnMap(gyro_cols=None if arg == "acc" else PLAIN_GYRO)


#: Named column mappings for ``--columns NAME[:ARG]``.
COLUMN_PRESETS: dict[str, ColumnPreset] = {
    "eurobench": ColumnPreset(
        "Eurobench BENCH CSV (time in s, Ax/Ay/Az m/s^2, Gx/Gy/-Gz deg/s); ':N' picks IMU N: "
        "1 foot, 2 shank, 3 thigh (default), 4 pelvis, 5 trunk",
        _eurobench,
    ),
    "hipflex": ColumnPreset("the plain format's own names; ':acc' reads the accelerometer only", _plain),
}


def column_preset(spec: str) -> ColumnMap:
    """The :class:`ColumnMap` for a preset spec such as ``"eurobench:3"``.

    Raises
    ------
    ValueError
        Unknown preset or bad argument.
    """
    name, _, arg = spec.partition(":")
    preset = COLUMN_PRESETS.get(name.strip().lower())
    if preset is None:
        raise ValueError(f"unknown column preset {name!r}; known presets: {', '.join(COLUMN_PRESETS)}")
    return preset.build(arg.strip())

"""Encode known samples as the notifications a device would send: captures for fixtures and tests.

The inverse of :mod:`hipflex.sensor.capture.replay`: uniformly sampled arrays (e.g. from
:func:`~hipflex.sensor.sim.simulate.simulate_drill`) become byte-exact notifications made by
the protocol encoders (:func:`~hipflex.sensor.polar.frames.encode_acc_frame_raw`,
:func:`~hipflex.sensor.polar.frames.encode_delta_frame`,
:func:`~hipflex.sensor.metawear.protocol.encode_data_notification`), stamped with the host time at
which they would arrive.  Loss is simulated by leaving notifications out afterwards
(BLE loses whole notifications, never samples inside one).

Time bases: sample ``i`` is taken at ``time_s[i]`` (seconds).  Polar device time is
``device_t0_ns + round((time_s[i] - time_s[0]) * 1e9)``; a notification arrives on the
host clock at ``host_t0_s + time of its last sample + latency_s``.  With a header whose
``started_host_s`` is ``host_t0_s``, replay returns sample times ``time_s + latency_s``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hipflex.sensor.capture.log import CaptureEvent, CaptureHeader, CaptureRecord, CaptureWriter, Notification
from hipflex.sensor.metawear.protocol import (
    ACC_LSB_PER_G,
    GYRO_LSB_PER_DPS,
    METAWEAR_NOTIFY_UUID,
    ImuChip,
    MetaWearSensor,
    encode_data_notification,
)
from hipflex.sensor.polar.control import PMD_DATA_UUID
from hipflex.sensor.polar.frames import (
    PMD_EPOCH_UNIX_NS,
    PmdMeasurementType,
    encode_acc_frame_raw,
    encode_delta_frame,
)

__all__ = [
    "H10_RESET_EPOCH_NS",
    "h10_acc_notifications",
    "metawear_notifications",
    "verity_notifications",
    "write_capture",
]

#: Where an H10 clock that lost its time restarts: 2019-01-01T00:00:00Z in PMD ns.
H10_RESET_EPOCH_NS: Final = 1_546_300_800_000_000_000 - PMD_EPOCH_UNIX_NS

FloatArray = NDArray[np.float64]


def _arrays(time_s: ArrayLike, *values: ArrayLike | None) -> tuple[FloatArray, list[FloatArray | None]]:
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.diff(t) > 0):
        raise ValueError("time_s must be non-empty and strictly increasing")
    out: list[FloatArray | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        a = np.asarray(v, dtype=np.float64)
        if a.shape != (t.size, 3) or not np.all(np.isfinite(a)):
            raise ValueError(f"values must be finite with shape ({t.size}, 3), got {a.shape}")
        out.append(a)
    return t, out


def _device_ns(t: FloatArray, device_t0_ns: int) -> NDArray[np.int64]:
    return device_t0_ns + np.rint((t - t[0]) * 1e9).astype(np.int64)


def _chunks(n: int, size: int) -> list[slice]:
    if size < 1:
        raise ValueError(f"samples per notification must be >= 1, got {size}")
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def h10_acc_notifications(
    time_s: ArrayLike,
    acc_g: ArrayLike,
    *,
    device_t0_ns: int = H10_RESET_EPOCH_NS,
    samples_per_frame: int = 36,
    host_t0_s: float = 0.0,
    latency_s: float = 0.0,
) -> list[Notification]:
    """Polar H10 raw ACC frames (type ``0x01``, int16 mG), one notification per frame.

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Sample instants, seconds, strictly increasing (the device loses no samples).
    acc_g : array_like, shape (n, 3)
        Acceleration, g; rounded to whole mG.
    device_t0_ns : int
        Device time of the first sample, ns since 2000-01-01.
    samples_per_frame : int
        Samples per frame (36 fills MTU 232).
    host_t0_s, latency_s : float
        Host clock at ``time_s == 0`` and delivery delay, seconds.
    """
    t, (acc,) = _arrays(time_s, acc_g)
    assert acc is not None
    dev = _device_ns(t, device_t0_ns)
    return [
        Notification(
            host_t0_s + float(t[s][-1]) + latency_s,
            PMD_DATA_UUID,
            encode_acc_frame_raw(int(dev[s][-1]), acc[s]),
        )
        for s in _chunks(t.size, samples_per_frame)
    ]


def _int16(x: FloatArray) -> NDArray[np.int64]:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int64)


def verity_notifications(
    time_s: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike,
    *,
    acc_factor: float = 1.0,
    gyro_factor: float = 1.0,
    device_t0_ns: int = 800_000_000_000_000_000,
    acc_per_frame: int = 71,
    gyro_per_frame: int = 60,
    gyro_delay_s: float = 0.0,
    host_t0_s: float = 0.0,
    latency_s: float = 0.0,
) -> list[Notification]:
    """Polar Verity Sense ACC (``0x81``, mG x FACTOR) and GYRO (``0x80``, x FACTOR) frames.

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Accelerometer sample instants, seconds.
    acc_g, gyr_dps : array_like, shape (n, 3)
        Acceleration (g) and angular rate (deg/s); stored as int16 counts of
        ``1000 * acc_g / acc_factor`` and ``gyr_dps / gyro_factor``.
    acc_factor, gyro_factor : float
        FACTOR of each stream (from the START reply).
    device_t0_ns : int
        Device time of the first sample, ns since 2000-01-01.
    acc_per_frame, gyro_per_frame : int
        Samples per frame of each stream (they need not match).
    gyro_delay_s : float
        Gyroscope sample instants are ``time_s + gyro_delay_s``.
    host_t0_s, latency_s : float
        Host clock at ``time_s == 0`` and delivery delay, seconds.

    Returns
    -------
    list of Notification
        Both streams, in arrival order.
    """
    t, (acc, gyr) = _arrays(time_s, acc_g, gyr_dps)
    assert acc is not None and gyr is not None
    out: list[Notification] = []
    streams = (
        (PmdMeasurementType.ACC, 0x81, t, _int16(acc * 1000.0 / acc_factor), acc_per_frame),
        (PmdMeasurementType.GYRO, 0x80, t + gyro_delay_s, _int16(gyr / gyro_factor), gyro_per_frame),
    )
    for measurement, frame_type, ts, counts, per_frame in streams:
        dev = device_t0_ns + np.rint((ts - t[0]) * 1e9).astype(np.int64)
        for s in _chunks(ts.size, per_frame):
            data = encode_delta_frame(measurement, frame_type, int(dev[s][-1]), counts[s])
            out.append(Notification(host_t0_s + float(ts[s][-1]) + latency_s, PMD_DATA_UUID, data))
    out.sort(key=lambda r: r.t_s)
    return out


def metawear_notifications(
    time_s: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike | None = None,
    *,
    chip: ImuChip = ImuChip.BMI160,
    acc_range_g: int = 16,
    gyro_range_dps: int = 2000,
    host_t0_s: float = 0.0,
    latency_s: float = 0.0,
) -> list[Notification]:
    """MetaWear packed accelerometer (and gyroscope) notifications, 3 samples each.

    A remainder of fewer than 3 samples is sent as single-sample notifications.

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Sample instants, seconds (both sensors sample together).
    acc_g : array_like, shape (n, 3)
        Acceleration, g.
    gyr_dps : array_like, shape (n, 3), optional
        Angular rate, deg/s.
    chip : ImuChip
        Board chip (selects the data registers).
    acc_range_g, gyro_range_dps : int
        Configured ranges (select the scale).
    host_t0_s, latency_s : float
        Host clock at ``time_s == 0`` and delivery delay, seconds.
    """
    t, (acc, gyr) = _arrays(time_s, acc_g, gyr_dps)
    assert acc is not None
    if acc_range_g not in ACC_LSB_PER_G or gyro_range_dps not in GYRO_LSB_PER_DPS:
        raise ValueError(f"unsupported range {acc_range_g} g / {gyro_range_dps} deg/s")
    out: list[Notification] = []
    full = t.size - t.size % 3
    pieces = [*_chunks(full, 3), *(slice(i, i + 1) for i in range(full, t.size))]
    for s in pieces:
        arrive = host_t0_s + float(t[s][-1]) + latency_s
        data = encode_data_notification(MetaWearSensor.ACC, chip, acc[s], acc_range_g)
        out.append(Notification(arrive, METAWEAR_NOTIFY_UUID, data))
        if gyr is not None:
            data = encode_data_notification(MetaWearSensor.GYRO, chip, gyr[s], gyro_range_dps)
            out.append(Notification(arrive, METAWEAR_NOTIFY_UUID, data))
    return out


def write_capture(
    path: str | Path, header: CaptureHeader, records: Iterable[CaptureRecord], *, overwrite: bool = False
) -> None:
    """Write a capture file from records (in the order given) through :class:`CaptureWriter`."""
    with CaptureWriter(path, header, overwrite=overwrite, flush_interval_s=3600.0) as w:
        for rec in records:
            if isinstance(rec, Notification):
                w.write_notification(rec.char_uuid, rec.data, t_s=rec.t_s)
            elif isinstance(rec, CaptureEvent):
                w.write_event(rec.event, t_s=rec.t_s, **dict(rec.info))

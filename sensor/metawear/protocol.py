"""MetaWear (MbientLab MetaMotion) protocol: command bytes, discovery, data notifications.

A command is ``[module, register, data...]`` written without response to the
command characteristic; notifications arrive as ``[module, register, payload...]``.
hipflex streams the Bosch accelerometer (module 0x03) and gyroscope (module 0x13)
of the BMI160 (MetaMotion R/C/RL) and BMI270 (MetaMotion S) boards.  The chip is
detected from the module discovery reply, never from the model name, because the
config bytes and data registers differ between the two.  Facts and SDK test
vectors: ``../shared/reference/ble.md`` section 2.

MetaWear streams carry no timestamps; :mod:`hipflex.sensor.metawear.timing`
places samples in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hipflex.sensor.errors import SensorLayerError

__all__ = [
    "ACC_LSB_PER_G",
    "GYRO_LSB_PER_DPS",
    "MBIENTLAB_COMPANY_ID",
    "METAWEAR_COMMAND_UUID",
    "METAWEAR_NOTIFY_UUID",
    "METAWEAR_SERVICE_UUID",
    "PACKED_SAMPLES",
    "READ_BIT",
    "ImuChip",
    "MetaWearDecodeError",
    "MetaWearDecoder",
    "MetaWearModule",
    "MetaWearModuleInfo",
    "MetaWearPacket",
    "MetaWearSensor",
    "acc_config_command",
    "acc_start_commands",
    "acc_stop_commands",
    "connection_parameters_command",
    "discovery_command",
    "encode_data_notification",
    "gyro_config_command",
    "gyro_start_commands",
    "gyro_stop_commands",
    "parse_module_info",
]

METAWEAR_SERVICE_UUID: Final = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND_UUID: Final = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY_UUID: Final = "326a9006-85cb-9195-d9dd-464cfbbae75a"
#: Bluetooth SIG company identifier of MbientLab Inc. (advertised manufacturer data).
MBIENTLAB_COMPANY_ID: Final = 0x067E

#: Accelerometer sensitivity per range, LSB per g.
ACC_LSB_PER_G: Final = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
#: Gyroscope sensitivity per range, LSB per deg/s.
GYRO_LSB_PER_DPS: Final = {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}

READ_BIT: Final = 0x80  # bit 7 of the register turns a write into a read
_SAMPLE_BYTES: Final = 6  # x, y, z as int16
PACKED_SAMPLES: Final = 3  # 20-byte packed notification fits the default MTU of 23


class MetaWearDecodeError(SensorLayerError, ValueError):
    """Bytes from a MetaWear board that do not form the expected message."""


class MetaWearModule(IntEnum):
    """Module ids (first byte of every command and notification)."""

    SWITCH = 0x01
    LED = 0x02
    ACCELEROMETER = 0x03
    TEMPERATURE = 0x04
    GPIO = 0x05
    HAPTIC = 0x08
    DATA_PROCESSOR = 0x09
    EVENT = 0x0A
    LOGGING = 0x0B
    TIMER = 0x0C
    MACRO = 0x0F
    SETTINGS = 0x11
    BAROMETER = 0x12
    GYRO = 0x13
    MAGNETOMETER = 0x15
    SENSOR_FUSION = 0x19
    DEBUG = 0xFE


class ImuChip(Enum):
    """Bosch IMU on the board."""

    BMI160 = "bmi160"
    BMI270 = "bmi270"


class MetaWearSensor(Enum):
    """Which stream a data notification belongs to."""

    ACC = "acc"
    GYRO = "gyro"


# Implementation byte of the discovery reply -> chip, per module.
_ACC_IMPLEMENTATION: Final = {1: ImuChip.BMI160, 4: ImuChip.BMI270}
_GYRO_IMPLEMENTATION: Final = {0: ImuChip.BMI160, 1: ImuChip.BMI270}

# Registers shared by both chips: 1 power, 2 data-interrupt enable, 3 config.
_POWER, _INTERRUPT_ENABLE, _CONFIG = 0x01, 0x02, 0x03
_ACC_DATA: Final = {ImuChip.BMI160: 0x04, ImuChip.BMI270: 0x04}
_ACC_PACKED: Final = {ImuChip.BMI160: 0x1C, ImuChip.BMI270: 0x05}
_GYRO_DATA: Final = {ImuChip.BMI160: 0x05, ImuChip.BMI270: 0x04}
_GYRO_PACKED: Final = {ImuChip.BMI160: 0x07, ImuChip.BMI270: 0x05}

# Bosch ODR codes (bits 0-3 of the config byte); rates below 12.5 Hz need other filter bits.
_ACC_ODR_CODE: Final = {12.5: 5, 25.0: 6, 50.0: 7, 100.0: 8, 200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12}
_GYRO_ODR_CODE: Final = {25.0: 6, 50.0: 7, 100.0: 8, 200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12, 3200.0: 13}
_ACC_RANGE_CODE: Final = {
    ImuChip.BMI160: {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C},
    ImuChip.BMI270: {2: 0x00, 4: 0x01, 8: 0x02, 16: 0x03},
}
_GYRO_RANGE_CODE: Final = {2000: 0, 1000: 1, 500: 2, 250: 3, 125: 4}
_NORMAL_BWP: Final = 2  # normal filter mode at >= 12.5 Hz


def _code(table: dict[float, int], odr_hz: float, what: str) -> int:
    code = table.get(float(odr_hz))
    if code is None:
        raise ValueError(f"{what} ODR {odr_hz} Hz not supported; choose one of {sorted(table)}")
    return code


def discovery_command(module: int) -> bytes:
    """Ask a module for its implementation and revision (``[module, 0x80]``)."""
    return bytes([module, READ_BIT])


@dataclass(frozen=True)
class MetaWearModuleInfo:
    """A module discovery reply.

    Attributes
    ----------
    module : int
        Module id.
    present : bool
        False when the board has no such module (reply of two bytes or fewer).
    implementation, revision : int
        Which hardware implements the module, and its firmware revision.
    extra : bytes
        Further bytes, module specific.
    """

    module: int
    present: bool
    implementation: int = 0
    revision: int = 0
    extra: bytes = b""

    @property
    def chip(self) -> ImuChip:
        """Bosch chip of an accelerometer or gyroscope module.

        Raises
        ------
        MetaWearDecodeError
            Module absent, not an IMU module, or an implementation hipflex does not know.
        """
        table: dict[int, ImuChip] = {}
        if self.module == MetaWearModule.ACCELEROMETER:
            table = _ACC_IMPLEMENTATION
        elif self.module == MetaWearModule.GYRO:
            table = _GYRO_IMPLEMENTATION
        chip = table.get(self.implementation) if self.present else None
        if chip is None:
            raise MetaWearDecodeError(
                f"module 0x{self.module:02X} (present={self.present}, implementation "
                f"{self.implementation}) is not a supported Bosch IMU"
            )
        return chip

    @property
    def supports_packed(self) -> bool:
        """Packed (3 samples per notification) streaming needs module revision >= 1."""
        return self.present and self.revision >= 1


def parse_module_info(reply: bytes | bytearray) -> MetaWearModuleInfo:
    """Parse a discovery reply ``[module, 0x80, implementation, revision, extra...]``.

    Raises
    ------
    MetaWearDecodeError
        Not a discovery reply.
    """
    if len(reply) < 2 or reply[1] != READ_BIT:
        raise MetaWearDecodeError(f"not a module discovery reply: {bytes(reply).hex(' ')}")
    if len(reply) <= 2:
        return MetaWearModuleInfo(reply[0], False)
    revision = reply[3] if len(reply) > 3 else 0
    return MetaWearModuleInfo(reply[0], True, reply[2], revision, bytes(reply[4:]))


def acc_config_command(chip: ImuChip, odr_hz: float, range_g: int) -> bytes:
    """Accelerometer config ``[03 03 b0 b1]``.

    BMI160 200 Hz +/-8 g gives ``03 03 29 08``; BMI270 100 Hz +/-8 g gives ``03 03 A8 02``.

    Parameters
    ----------
    chip : ImuChip
        From :attr:`MetaWearModuleInfo.chip`.
    odr_hz : float
        12.5, 25, 50, 100, 200, 400, 800 or 1600 Hz.
    range_g : int
        Full scale +/-2, 4, 8 or 16 g.
    """
    b0 = _code(_ACC_ODR_CODE, odr_hz, "accelerometer") | (_NORMAL_BWP << 4)
    if chip is ImuChip.BMI270:
        b0 |= 0x80  # BMI270 filter_perf: the high-performance filter (BMI160's bit 7 is undersampling, off)
    if range_g not in _ACC_RANGE_CODE[chip]:
        raise ValueError(f"accelerometer range +/-{range_g} g not supported; choose 2, 4, 8 or 16")
    return bytes([MetaWearModule.ACCELEROMETER, _CONFIG, b0, _ACC_RANGE_CODE[chip][range_g]])


def gyro_config_command(odr_hz: float, range_dps: int) -> bytes:
    """Gyroscope config ``[13 03 b0 b1]``, identical for BMI160 and BMI270.

    200 Hz +/-2000 deg/s gives ``13 03 29 00``; 50 Hz +/-125 deg/s gives ``13 03 27 04``.
    """
    b0 = _code(_GYRO_ODR_CODE, odr_hz, "gyroscope") | (_NORMAL_BWP << 4)
    if range_dps not in _GYRO_RANGE_CODE:
        choices = sorted(_GYRO_RANGE_CODE)
        raise ValueError(f"gyroscope range +/-{range_dps} deg/s not supported; choose {choices}")
    return bytes([MetaWearModule.GYRO, _CONFIG, b0, _GYRO_RANGE_CODE[range_dps]])


def _data_register(sensor: MetaWearSensor, chip: ImuChip, packed: bool) -> int:
    if sensor is MetaWearSensor.ACC:
        return (_ACC_PACKED if packed else _ACC_DATA)[chip]
    return (_GYRO_PACKED if packed else _GYRO_DATA)[chip]


def _start(module: int, data_reg: int) -> tuple[bytes, ...]:
    # Subscribe before sampling starts so the first samples are not sent into the void.
    return (
        bytes([module, data_reg, 0x01]),
        bytes([module, _INTERRUPT_ENABLE, 0x01, 0x00]),
        bytes([module, _POWER, 0x01]),
    )


def _stop(module: int, data_reg: int) -> tuple[bytes, ...]:
    return (
        bytes([module, _POWER, 0x00]),
        bytes([module, _INTERRUPT_ENABLE, 0x00, 0x01]),
        bytes([module, data_reg, 0x00]),
    )


def acc_start_commands(chip: ImuChip, *, packed: bool = True) -> tuple[bytes, ...]:
    """Subscribe, enable sampling, power on; write after :func:`acc_config_command`.

    The start value is 1 at every supported rate (BMI270 uses 2 only below 12.5 Hz).
    """
    return _start(MetaWearModule.ACCELEROMETER, _data_register(MetaWearSensor.ACC, chip, packed))


def acc_stop_commands(chip: ImuChip, *, packed: bool = True) -> tuple[bytes, ...]:
    """Power off, disable sampling, unsubscribe."""
    return _stop(MetaWearModule.ACCELEROMETER, _data_register(MetaWearSensor.ACC, chip, packed))


def gyro_start_commands(chip: ImuChip, *, packed: bool = True) -> tuple[bytes, ...]:
    """Subscribe, enable sampling, power on; write after :func:`gyro_config_command`."""
    return _start(MetaWearModule.GYRO, _data_register(MetaWearSensor.GYRO, chip, packed))


def gyro_stop_commands(chip: ImuChip, *, packed: bool = True) -> tuple[bytes, ...]:
    """Power off, disable sampling, unsubscribe."""
    return _stop(MetaWearModule.GYRO, _data_register(MetaWearSensor.GYRO, chip, packed))


def connection_parameters_command(
    min_interval_ms: float = 7.5,
    max_interval_ms: float = 15.0,
    latency: int = 0,
    timeout_ms: float = 6000.0,
) -> bytes:
    """Ask the board for new link parameters ``[11 09 min max latency timeout]``.

    Intervals go in 1.25 ms units and the supervision timeout in 10 ms units (u16 LE).
    The vendor advises a 7.5 ms interval for high sample rates.

    Raises
    ------
    ValueError
        Values outside the Bluetooth limits (interval 7.5-4000 ms, latency 0-499,
        timeout 100-32000 ms) or a timeout too short for the interval and latency.
    """
    lo, hi = round(min_interval_ms / 1.25), round(max_interval_ms / 1.25)
    timeout = round(timeout_ms / 10.0)
    if not 6 <= lo <= hi <= 3200:
        raise ValueError(
            f"intervals must satisfy 7.5 <= min <= max <= 4000 ms, got {min_interval_ms}, {max_interval_ms}"
        )
    if not 0 <= latency <= 499:
        raise ValueError(f"latency must be 0..499 connection events, got {latency}")
    if not 10 <= timeout <= 3200 or timeout_ms <= 2 * (1 + latency) * max_interval_ms:
        raise ValueError(f"timeout {timeout_ms} ms is outside 100-32000 ms or too short for the interval")
    body = b"".join(v.to_bytes(2, "little") for v in (lo, hi, latency, timeout))
    return bytes([MetaWearModule.SETTINGS, 0x09]) + body


@dataclass(frozen=True, eq=False)
class MetaWearPacket:
    """Samples from one data notification.

    Attributes
    ----------
    sensor : MetaWearSensor
        Accelerometer or gyroscope.
    packed : bool
        True for a packed notification (3 samples).
    counts : ndarray of int16, shape (n, 3)
        Raw x, y, z as sent.
    values : ndarray of float64, shape (n, 3)
        Acceleration in g or angular rate in deg/s.
    """

    sensor: MetaWearSensor
    packed: bool
    counts: NDArray[np.int16]
    values: NDArray[np.float64]

    @property
    def n_samples(self) -> int:
        """Samples in the notification (1 or 3)."""
        return int(self.counts.shape[0])


@dataclass(frozen=True)
class MetaWearDecoder:
    """Decodes data notifications for one board configuration.

    Attributes
    ----------
    acc_chip : ImuChip
        Accelerometer chip (from discovery).
    acc_range_g : int
        Configured accelerometer range, +/- g.
    gyro_chip : ImuChip or None
        Gyroscope chip; ``None`` when the gyro is not streamed.
    gyro_range_dps : int
        Configured gyroscope range, +/- deg/s.
    """

    acc_chip: ImuChip
    acc_range_g: int = 8
    gyro_chip: ImuChip | None = None
    gyro_range_dps: int = 2000

    def __post_init__(self) -> None:
        if self.acc_range_g not in ACC_LSB_PER_G:
            raise ValueError(f"acc_range_g must be one of {sorted(ACC_LSB_PER_G)}, got {self.acc_range_g}")
        if self.gyro_range_dps not in GYRO_LSB_PER_DPS:
            choices = sorted(GYRO_LSB_PER_DPS)
            raise ValueError(f"gyro_range_dps must be one of {choices}, got {self.gyro_range_dps}")

    def _route(self, module: int, register: int) -> tuple[MetaWearSensor, bool] | None:
        routes = [(MetaWearSensor.ACC, self.acc_chip)]
        if self.gyro_chip is not None:
            routes.append((MetaWearSensor.GYRO, self.gyro_chip))
        for sensor, chip in routes:
            mod = MetaWearModule.ACCELEROMETER if sensor is MetaWearSensor.ACC else MetaWearModule.GYRO
            if module != mod:
                continue
            for packed in (False, True):
                if register == _data_register(sensor, chip, packed):
                    return sensor, packed
        return None

    def decode(self, data: bytes | bytearray) -> MetaWearPacket | None:
        """Decode one notification; ``None`` when it is not an IMU data notification.

        Raises
        ------
        MetaWearDecodeError
            A data notification with the wrong length.
        """
        if len(data) < 2:
            raise MetaWearDecodeError(f"notification of {len(data)} bytes has no header")
        route = self._route(data[0], data[1])
        if route is None:
            return None
        sensor, packed = route
        n = PACKED_SAMPLES if packed else 1
        if len(data) != 2 + n * _SAMPLE_BYTES:
            kind = "packed " if packed else ""
            raise MetaWearDecodeError(
                f"{kind}{sensor.value} notification must be {2 + n * _SAMPLE_BYTES} bytes, got {len(data)}"
            )
        counts = np.frombuffer(data, dtype="<i2", offset=2).reshape(n, 3).astype(np.int16)
        if sensor is MetaWearSensor.ACC:
            scale = ACC_LSB_PER_G[self.acc_range_g]
        else:
            scale = GYRO_LSB_PER_DPS[self.gyro_range_dps]
        return MetaWearPacket(sensor, packed, counts, counts / scale)


def encode_data_notification(
    sensor: MetaWearSensor,
    chip: ImuChip,
    values: ArrayLike,
    range_value: int,
    *,
    packed: bool | None = None,
) -> bytes:
    """Build a data notification from physical values, for the emulator.

    Parameters
    ----------
    sensor : MetaWearSensor
        Accelerometer (values in g) or gyroscope (values in deg/s).
    chip : ImuChip
        Chip whose data register to use.
    values : array_like of float, shape (1, 3) or (3, 3)
        Samples; they are rounded to counts and saturate at int16 like the ADC.
    range_value : int
        Configured range, +/- g or +/- deg/s.
    packed : bool or None
        Packed register; by default packed when three samples are given.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] not in (1, PACKED_SAMPLES) or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be finite with shape (1, 3) or (3, 3), got {v.shape}")
    is_packed = v.shape[0] == PACKED_SAMPLES if packed is None else packed
    if v.shape[0] != (PACKED_SAMPLES if is_packed else 1):
        kind, need = ("packed", PACKED_SAMPLES) if is_packed else ("single", 1)
        raise ValueError(f"a {kind} notification takes {need} sample(s), got {v.shape[0]}")
    table = ACC_LSB_PER_G if sensor is MetaWearSensor.ACC else GYRO_LSB_PER_DPS
    if range_value not in table:
        raise ValueError(f"range {range_value} not one of {sorted(table)}")
    counts = np.clip(np.rint(v * table[range_value]), -32768, 32767).astype("<i2")
    module = MetaWearModule.ACCELEROMETER if sensor is MetaWearSensor.ACC else MetaWearModule.GYRO
    return bytes([module, _data_register(sensor, chip, is_packed)]) + counts.tobytes()

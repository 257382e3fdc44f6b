"""Polar PMD control point: request bytes, response and feature parsing.

The control point (CP) takes ``[opcode, params...]`` writes and answers with
indications ``[0xF0, opcode, measurement, status, more, params...]``; a reply
that does not fit one indication sets ``more`` and continues in further packets
with the same 5-byte header.  Reading the CP (instead of awaiting an
indication) returns the feature bitmap ``[0x0F, mask1, mask2]``.  The device can
also indicate ``[0x01, measurement...]`` on its own when it stops a stream.
Facts and test vectors: ``../shared/reference/ble.md`` sections 1.1-1.4 and 1.9.

Settings travel as TLVs ``[type, count, value x count]`` with a fixed size per
type; CHANNELS is a single byte (Verity firmware rejects two, bleakheart #10).
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Final

from hipflex.sensor.errors import SensorLayerError
from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType

__all__ = [
    "CP_RESPONSE_CODE",
    "MEASUREMENT_STOPPED_CODE",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_COMPANY_ID",
    "RESPONSE_HEADER_BYTES",
    "PmdFeatures",
    "PmdMeasurementStopped",
    "PmdOpCode",
    "PmdResponse",
    "PmdResponseAssembler",
    "PmdSettingType",
    "PmdSettings",
    "PmdStartSettings",
    "PmdStatus",
    "PmdStatusError",
    "build_get_settings",
    "build_sdk_mode",
    "build_start",
    "build_stop",
    "parse_cp_indication",
    "parse_cp_response",
    "parse_features",
    "parse_settings",
]

_log = logging.getLogger(__name__)

PMD_SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
#: Bluetooth SIG company identifier of Polar Electro Oy (advertised manufacturer data).
POLAR_COMPANY_ID: Final = 0x006B
#: First byte of every control-point response indication.
CP_RESPONSE_CODE: Final = 0xF0
_FEATURE_READ_CODE: Final = 0x0F
#: First byte of a device-initiated ONLINE_MEASUREMENT_STOPPED indication.
MEASUREMENT_STOPPED_CODE: Final = 0x01
#: Bytes before the parameters of a control-point response.
RESPONSE_HEADER_BYTES: Final = 5


class PmdOpCode(IntEnum):
    """Control-point request opcodes."""

    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 7
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 8
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 9


class PmdStatus(IntEnum):
    """Status byte of a control-point response."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class PmdSettingType(IntEnum):
    """Setting TLV type codes."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


# Bytes per value of each setting type; the TLV count multiplies it.
_SETTING_SIZE: Final = {
    PmdSettingType.SAMPLE_RATE: 2,
    PmdSettingType.RESOLUTION: 2,
    PmdSettingType.RANGE: 2,
    PmdSettingType.RANGE_MILLIUNIT: 4,
    PmdSettingType.CHANNELS: 1,
    PmdSettingType.FACTOR: 4,
    PmdSettingType.SECURITY: 16,
}


class PmdStatusError(SensorLayerError, RuntimeError):
    """A control-point request that the device refused; ``status`` says why."""

    def __init__(self, response: PmdResponse) -> None:
        self.response = response
        self.status = response.status
        super().__init__(
            f"PMD {_name(PmdOpCode, response.opcode)} for {_name(PmdMeasurementType, response.measurement)} "
            f"failed: {_name(PmdStatus, response.status)}"
        )


def _name(enum: type[IntEnum], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return f"{enum.__name__}({value})"


@dataclass(frozen=True)
class PmdSettings:
    """Settings from a TLV list: the choices a GET reply offers, or what a START reply reports.

    Attributes
    ----------
    sample_rate_hz : tuple of int
        Sample rates, Hz.
    resolution_bits : tuple of int
        Bits per value.
    range : tuple of int
        Full-scale ranges, +/- in the measurement's unit (g, deg/s or Gauss).
    range_milliunit : tuple of int
        Ranges in thousandths of the unit (unused by current firmware).
    channels : tuple of int
        Channel counts.
    factor : float or None
        Multiplier for every later sample of the measurement (START replies).
    """

    sample_rate_hz: tuple[int, ...] = ()
    resolution_bits: tuple[int, ...] = ()
    range: tuple[int, ...] = ()
    range_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factor: float | None = None


@dataclass(frozen=True)
class PmdStartSettings:
    """The one setting of each kind sent with REQUEST_MEASUREMENT_START.

    Attributes
    ----------
    sample_rate_hz : int
        Sample rate, Hz (H10 ACC 25/50/100/200; Verity 52 by default).
    resolution_bits : int
        Bits per value (16 for ACC and GYRO).
    range : int or None
        Full scale, +/- g for ACC or deg/s for GYRO; omitted when ``None``.
    channels : int or None
        Channel count; omitted when ``None`` (the H10 does not take it, Verity does).
    """

    sample_rate_hz: int
    resolution_bits: int
    range: int | None = None
    channels: int | None = None

    def to_tlv(self) -> bytes:
        """The TLV bytes, one value per setting in the order the Polar apps send them."""
        parts = [_tlv(PmdSettingType.SAMPLE_RATE, self.sample_rate_hz)]
        parts.append(_tlv(PmdSettingType.RESOLUTION, self.resolution_bits))
        if self.range is not None:
            parts.append(_tlv(PmdSettingType.RANGE, self.range))
        if self.channels is not None:
            parts.append(_tlv(PmdSettingType.CHANNELS, self.channels))
        return b"".join(parts)


def _tlv(kind: PmdSettingType, value: int) -> bytes:
    size = _SETTING_SIZE[kind]
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{kind.name} value {value} does not fit in {size} byte(s)")
    return bytes([kind, 1]) + value.to_bytes(size, "little")


def build_get_settings(measurement: int, *, sdk_mode: bool = False) -> bytes:
    """GET_MEASUREMENT_SETTINGS (or its SDK-mode twin) for one measurement."""
    op = PmdOpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS if sdk_mode else PmdOpCode.GET_MEASUREMENT_SETTINGS
    return bytes([op, measurement])


def build_start(measurement: int, settings: PmdStartSettings) -> bytes:
    """REQUEST_MEASUREMENT_START with settings TLVs.

    Example: H10 ACC 200 Hz, 16 bit, +/-8 g is ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``.
    """
    return bytes([PmdOpCode.REQUEST_MEASUREMENT_START, measurement]) + settings.to_tlv()


def build_stop(measurement: int) -> bytes:
    """STOP_MEASUREMENT for one measurement."""
    return bytes([PmdOpCode.STOP_MEASUREMENT, measurement])


def build_sdk_mode(enable: bool) -> bytes:
    """Enter (``02 09``) or leave (``03 09``) SDK mode, which unlocks Verity rates and ranges."""
    op = PmdOpCode.REQUEST_MEASUREMENT_START if enable else PmdOpCode.STOP_MEASUREMENT
    return bytes([op, PmdMeasurementType.SDK_MODE])


def parse_settings(params: bytes | bytearray) -> PmdSettings:
    """Parse a settings TLV list (GET reply parameters or START reply parameters).

    A lone byte is accepted as "no settings", as the Polar SDK does, because some
    replies pad their parameters with one byte.

    Raises
    ------
    PmdDecodeError
        Unknown setting type (its size is unknown, so nothing after it can be read)
        or a TLV running past the end.
    """
    values: dict[PmdSettingType, list[int]] = {k: [] for k in _SETTING_SIZE}
    factor: float | None = None
    data = bytes(params)
    if len(data) <= 1:
        return PmdSettings()
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise PmdDecodeError(f"settings TLV header truncated at byte {pos} of {len(data)}")
        try:
            kind = PmdSettingType(data[pos])
        except ValueError:
            raise PmdDecodeError(f"unknown setting type {data[pos]} at byte {pos}") from None
        count, size = data[pos + 1], _SETTING_SIZE[kind]
        end = pos + 2 + count * size
        if end > len(data):
            raise PmdDecodeError(f"{kind.name} setting needs {end} bytes, parameters have {len(data)}")
        for off in range(pos + 2, end, size):
            chunk = data[off : off + size]
            if kind is PmdSettingType.FACTOR:
                factor = struct.unpack("<f", chunk)[0]
            elif kind is not PmdSettingType.SECURITY:
                values[kind].append(int.from_bytes(chunk, "little"))
        pos = end
    if factor is not None and not math.isfinite(factor):
        raise PmdDecodeError(f"FACTOR is not a finite number: {factor!r}")
    return PmdSettings(
        sample_rate_hz=tuple(values[PmdSettingType.SAMPLE_RATE]),
        resolution_bits=tuple(values[PmdSettingType.RESOLUTION]),
        range=tuple(values[PmdSettingType.RANGE]),
        range_milliunit=tuple(values[PmdSettingType.RANGE_MILLIUNIT]),
        channels=tuple(values[PmdSettingType.CHANNELS]),
        factor=factor,
    )


@dataclass(frozen=True)
class PmdResponse:
    """A complete control-point response (all ``more`` packets joined).

    Attributes
    ----------
    opcode : int
        Opcode of the request answered (:class:`PmdOpCode`).
    measurement : int
        Measurement type byte echoed by the device.
    status : int
        :class:`PmdStatus` code.
    more : bool
        True while further packets follow (only on single packets from
        :func:`parse_cp_response`; assembled responses have it False).
    params : bytes
        Parameters, concatenated over packets.
    """

    opcode: int
    measurement: int
    status: int
    more: bool = False
    params: bytes = b""

    @property
    def ok(self) -> bool:
        """True when the request succeeded."""
        return self.status == PmdStatus.SUCCESS

    @property
    def already_in_state(self) -> bool:
        """True for status 6: the stream was already running (or already stopped)."""
        return self.status == PmdStatus.ALREADY_IN_STATE

    def settings(self) -> PmdSettings:
        """Parameters parsed as settings TLVs (GET and START replies)."""
        return parse_settings(self.params)

    @property
    def factor(self) -> float:
        """FACTOR from a START reply, 1.0 when the reply carries none."""
        f = self.settings().factor
        return 1.0 if f is None else f

    def raise_for_status(self) -> PmdResponse:
        """Return ``self`` when successful, else raise :class:`PmdStatusError`."""
        if not self.ok:
            raise PmdStatusError(self)
        return self


@dataclass(frozen=True)
class PmdMeasurementStopped:
    """Device-initiated indication that it stopped the listed measurements."""

    measurements: tuple[int, ...]


@dataclass(frozen=True)
class PmdFeatures:
    """Measurements a device offers, from reading the control point."""

    measurements: frozenset[PmdMeasurementType] = field(default_factory=frozenset)

    def supports(self, measurement: int) -> bool:
        """True when the device advertises ``measurement``."""
        return measurement in self.measurements


_MASK1_BITS: Final = (
    (0x01, PmdMeasurementType.ECG),
    (0x02, PmdMeasurementType.PPG),
    (0x04, PmdMeasurementType.ACC),
    (0x08, PmdMeasurementType.PPI),
    (0x20, PmdMeasurementType.GYRO),
    (0x40, PmdMeasurementType.MAG),
    (0x80, PmdMeasurementType.SKIN_TEMP),
)
_MASK2_BITS: Final = (
    (0x02, PmdMeasurementType.SDK_MODE),
    (0x04, PmdMeasurementType.LOCATION),
    (0x08, PmdMeasurementType.PRESSURE),
    (0x10, PmdMeasurementType.TEMPERATURE),
    (0x20, PmdMeasurementType.OFFLINE_RECORDING),
    (0x40, PmdMeasurementType.OFFLINE_HR),
)


def parse_features(data: bytes | bytearray) -> PmdFeatures:
    """Parse the control-point read ``[0x0F, mask1, mask2, ...]`` (H10: ``0f 05 00``).

    Raises
    ------
    PmdDecodeError
        Wrong first byte, typically a response indication handed in by mistake.
    """
    if len(data) < 2 or data[0] != _FEATURE_READ_CODE:
        raise PmdDecodeError(f"not a PMD feature read: {bytes(data).hex(' ')}")
    found = {m for bit, m in _MASK1_BITS if data[1] & bit}
    if len(data) > 2:
        found |= {m for bit, m in _MASK2_BITS if data[2] & bit}
    return PmdFeatures(frozenset(found))


def parse_cp_response(packet: bytes | bytearray) -> PmdResponse:
    """Parse one response packet ``[0xF0, op, type, status, more, params...]``.

    An error status ends the response: ``more`` and parameters are ignored then, as
    in the Polar SDK.  Four-byte packets (no ``more`` byte) are accepted.

    Raises
    ------
    PmdDecodeError
        Not a response packet or shorter than four bytes.
    """
    data = bytes(packet)
    if len(data) < 4 or data[0] != CP_RESPONSE_CODE:
        raise PmdDecodeError(f"not a PMD control-point response: {data.hex(' ')}")
    op, measurement, status = data[1], data[2], data[3]
    if status != PmdStatus.SUCCESS:
        return PmdResponse(op, measurement, status)
    more = len(data) > 4 and data[4] != 0
    return PmdResponse(op, measurement, status, more, data[RESPONSE_HEADER_BYTES:])


def parse_cp_indication(data: bytes | bytearray) -> PmdResponse | PmdMeasurementStopped:
    """Classify a control-point indication: a response packet or a device-initiated stop.

    Raises
    ------
    PmdDecodeError
        Neither kind.
    """
    if len(data) >= 1 and data[0] == MEASUREMENT_STOPPED_CODE:
        return PmdMeasurementStopped(tuple(data[1:]))
    return parse_cp_response(data)


@dataclass(frozen=True)
class PmdResponseAssembler:
    """Joins multi-packet responses; an explicit state value, ``feed`` returns the next one.

    Attributes
    ----------
    pending : PmdResponse or None
        Header and parameters collected so far while ``more`` packets are awaited.
    """

    pending: PmdResponse | None = None

    def feed(self, packet: bytes | bytearray) -> tuple[PmdResponseAssembler, PmdResponse | None]:
        """Add one response packet; returns the new state and the response once complete.

        A packet whose opcode or measurement differs from the pending one starts over
        (the earlier, incomplete response is dropped with a warning), because the device
        never interleaves responses and a mismatch means a packet was lost.
        """
        part = parse_cp_response(packet)
        head = self.pending
        if head is not None and (head.opcode, head.measurement) != (part.opcode, part.measurement):
            _log.warning(
                "dropping incomplete PMD response to opcode %d: a response to opcode %d arrived",
                head.opcode,
                part.opcode,
            )
            head = None
        joined = part if head is None else replace(part, params=head.params + part.params)
        if joined.more:
            return PmdResponseAssembler(joined), None
        return PmdResponseAssembler(), replace(joined, more=False)

"""Polar PMD data frames: notification bytes to typed samples, and back for emulators.

A PMD data notification is ``[measurement][u64 ns since 2000-01-01][frame type][payload]``
(little-endian).  Bit 7 of the frame type marks a delta-compressed payload: one
reference sample followed by bit-packed blocks of W-bit two's-complement deltas,
LSB-first across the byte stream, channel-interleaved.  The byte layout, the
scaling rules (FACTOR from the START reply, x1000 for compressed ACC type 0) and
the SDK test vectors are in ``../shared/reference/ble.md`` sections 1.5-1.7.

Everything here is pure and synchronous: no I/O, no clocks.  The delta decoder is
a numba kernel (with :mod:`hipflex.dsp._jit`'s options, like every kernel) because it
runs once per notification on the hot path; the
encoders are plain numpy since only tests and the emulator call them.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hipflex.dsp._jit import njit
from hipflex.sensor.errors import SensorLayerError

__all__ = [
    "COMPRESSED_FLAG",
    "HEADER_BYTES",
    "PMD_EPOCH_UNIX_NS",
    "PmdDecodeError",
    "PmdFrame",
    "PmdFrameFormat",
    "PmdMeasurementType",
    "PmdRepeatFilter",
    "decode_pmd_frame",
    "encode_acc_frame_raw",
    "encode_delta_frame",
    "encode_raw_frame",
    "pmd_frame_format",
    "raw_samples_per_frame",
]

#: Nanoseconds from the Unix epoch to the PMD epoch 2000-01-01T00:00:00Z.
PMD_EPOCH_UNIX_NS: Final = 946_684_800_000_000_000
#: Measurement byte + u64 timestamp + frame-type byte.
HEADER_BYTES: Final = 10
#: Frame-type bit that marks a delta-compressed payload.
COMPRESSED_FLAG: Final = 0x80
# ATT notification header (opcode + handle) that the MTU also has to carry.
_ATT_NOTIFY_OVERHEAD: Final = 3
# Delta widths above 32 bits cannot come from <= 32-bit samples; treat them as corruption.
# Width 0 (all deltas zero) is accepted as the Polar SDK accepts it; a block of zero samples
# is not, because no encoder writes one and a zero-filled tail would otherwise pass silently.
_MAX_DELTA_BITS: Final = 32


class PmdDecodeError(SensorLayerError, ValueError):
    """Bytes from a Polar device that do not form a valid PMD message."""


class PmdMeasurementType(IntEnum):
    """Measurement-type codes (low 6 bits of byte 0 of a data frame)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


@dataclass(frozen=True)
class PmdFrameFormat:
    """How one (measurement, frame type) pair is laid out and scaled.

    Attributes
    ----------
    measurement : PmdMeasurementType
        Measurement the format belongs to.
    frame_type : int
        Full frame-type byte, including :data:`COMPRESSED_FLAG`.
    channels : int
        Values per sample (3 for x, y, z).
    resolution_bits : int
        Bits per value in the reference sample (compressed) or per stored value (raw).
    unit : str
        Physical unit of decoded values: ``"g"``, ``"deg/s"``, ``"gauss"`` or ``"uV"``.
    counts_per_unit : float
        Physical value = counts x FACTOR / ``counts_per_unit`` (1000 turns mG into g).
    float_bits : bool
        Values are IEEE-754 float32 bit patterns rather than integers.
    """

    measurement: PmdMeasurementType
    frame_type: int
    channels: int
    resolution_bits: int
    unit: str
    counts_per_unit: float = 1.0
    float_bits: bool = False

    @property
    def compressed(self) -> bool:
        """True for delta-compressed payloads."""
        return bool(self.frame_type & COMPRESSED_FLAG)

    @property
    def bytes_per_value(self) -> int:
        """Bytes per value in a raw payload or in the reference sample."""
        return (self.resolution_bits + 7) // 8


_M = PmdMeasurementType
_FORMATS: Final[dict[tuple[int, int], PmdFrameFormat]] = {
    (f.measurement, f.frame_type): f
    for f in (
        # Raw ACC is mG in every type (the SDK reads all three as mG); the H10 sends type 1.
        PmdFrameFormat(_M.ACC, 0x00, 3, 8, "g", 1000.0),
        PmdFrameFormat(_M.ACC, 0x01, 3, 16, "g", 1000.0),
        PmdFrameFormat(_M.ACC, 0x02, 3, 24, "g", 1000.0),
        # Compressed ACC type 0 arrives in G: the SDK's x1000 to mG and our /1000 to g cancel.
        PmdFrameFormat(_M.ACC, 0x80, 3, 16, "g", 1.0),
        # Compressed ACC type 1 is the Verity Sense default: mG x FACTOR.
        PmdFrameFormat(_M.ACC, 0x81, 3, 16, "g", 1000.0),
        PmdFrameFormat(_M.GYRO, 0x80, 3, 16, "deg/s", 1.0),
        PmdFrameFormat(_M.GYRO, 0x81, 3, 32, "deg/s", 1.0, float_bits=True),
        PmdFrameFormat(_M.MAG, 0x80, 3, 16, "gauss", 1.0),
        PmdFrameFormat(_M.ECG, 0x00, 1, 24, "uV", 1.0),
    )
}


def pmd_frame_format(measurement: int, frame_type: int) -> PmdFrameFormat:
    """Look up the layout of a (measurement, frame type) pair.

    Raises
    ------
    PmdDecodeError
        When hipflex does not decode that combination.
    """
    fmt = _FORMATS.get((measurement & 0x3F, frame_type))
    if fmt is None:
        try:
            name = PmdMeasurementType(measurement & 0x3F).name
        except ValueError:
            name = f"unknown measurement {measurement & 0x3F}"
        kind = "compressed" if frame_type & COMPRESSED_FLAG else "raw"
        raise PmdDecodeError(
            f"unsupported PMD frame: {name} {kind} type {frame_type & 0x7F} (frame byte 0x{frame_type:02X})"
        )
    return fmt


@dataclass(frozen=True, eq=False)
class PmdFrame:
    """One decoded PMD data notification.

    Attributes
    ----------
    measurement : PmdMeasurementType
        What was measured.
    frame_type : int
        Full frame-type byte (``0x01`` H10 raw ACC, ``0x81`` Verity compressed ACC, ...).
    timestamp_ns : int
        Device time of the **last** sample, ns since 2000-01-01T00:00:00Z.
    counts : ndarray of int64, shape (n, channels)
        Integers as sent, before FACTOR and unit conversion (for float-bit formats,
        the int32 bit patterns).  Kept for clip detection and byte-exact round trips.
    values : ndarray of float64, shape (n, channels)
        Physical values in :attr:`unit` (acceleration in g, angular rate in deg/s).
    unit : str
        Unit of :attr:`values`.
    """

    measurement: PmdMeasurementType
    frame_type: int
    timestamp_ns: int
    counts: NDArray[np.int64]
    values: NDArray[np.float64]
    unit: str

    @property
    def compressed(self) -> bool:
        """True when the payload was delta-compressed."""
        return bool(self.frame_type & COMPRESSED_FLAG)

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.values.shape[0])

    @property
    def timestamp_unix_ns(self) -> int:
        """:attr:`timestamp_ns` moved to the Unix epoch (still the device clock)."""
        return self.timestamp_ns + PMD_EPOCH_UNIX_NS


class PmdRepeatFilter:
    """Recognises a PMD data notification delivered twice.

    A data frame's header holds its measurement, the device time of its last sample and
    its frame type; the same header twice among the last few frames is one frame delivered
    twice (BLE stacks do that now and then), never new data: a device clock that resets
    brings new times, not an exact repeat.  The live clients and replay use one rule, so
    that a capture replays to the samples the live session had.

    Parameters
    ----------
    window : int
        How many recent frame headers are remembered (default 8).
    """

    def __init__(self, window: int = 8) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self._recent: deque[bytes] = deque(maxlen=window)

    def is_repeat(self, data: bytes | bytearray | memoryview) -> bool:
        """True when ``data`` repeats a recent frame; otherwise remembers it and returns False.

        Notifications shorter than a frame header are never repeats.
        """
        if len(data) < HEADER_BYTES:
            return False
        key = bytes(data[:HEADER_BYTES])
        if key in self._recent:
            return True
        self._recent.append(key)
        return False


# Kernel status codes, turned into messages by _raise_delta_error.
_OK, _SHORT_REF, _SHORT_HEADER, _BAD_WIDTH, _ZERO_COUNT, _SHORT_BLOCK = range(6)


@njit  # the project's one set of numba options (integer-only kernel: they change nothing here)
def _decode_delta_kernel(
    payload: NDArray[np.uint8], channels: int, resolution_bits: int
) -> tuple[NDArray[np.int64], int, int]:
    """Reference sample + delta blocks -> int64 samples; returns (samples, status, offset)."""
    n_bytes = payload.shape[0]
    ref_width = (resolution_bits + 7) // 8
    pos = channels * ref_width
    empty = np.zeros((0, channels), dtype=np.int64)
    if n_bytes < pos:
        return empty, _SHORT_REF, n_bytes
    # Pass 1 validates every block header and counts samples, so pass 2 can fill one array.
    total = 1
    while pos < n_bytes:
        if pos + 2 > n_bytes:
            return empty, _SHORT_HEADER, pos
        width = int(payload[pos])
        count = int(payload[pos + 1])
        if width > _MAX_DELTA_BITS:
            return empty, _BAD_WIDTH, pos
        if count == 0:
            return empty, _ZERO_COUNT, pos
        pos += 2 + (count * channels * width + 7) // 8
        if pos > n_bytes:
            return empty, _SHORT_BLOCK, pos
        total += count
    out = np.empty((total, channels), dtype=np.int64)
    ref_mask = (np.int64(1) << resolution_bits) - 1
    ref_sign = np.int64(1) << (resolution_bits - 1)
    for c in range(channels):
        v = np.int64(0)
        for b in range(ref_width):
            v |= np.int64(payload[c * ref_width + b]) << (8 * b)
        v &= ref_mask
        if v & ref_sign:
            v -= ref_mask + 1
        out[0, c] = v
    pos = channels * ref_width
    row = 1
    while pos < n_bytes:
        width = int(payload[pos])
        count = int(payload[pos + 1])
        pos += 2
        block_end = pos + (count * channels * width + 7) // 8
        if width == 0:  # every delta is zero: the samples repeat
            for _ in range(count):
                out[row] = out[row - 1]
                row += 1
            continue
        mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
        sign = np.int64(1) << (width - 1)
        # Bit accumulator: bytes enter at the top, deltas leave from the bottom (LSB-first).
        acc = np.uint64(0)
        have = 0
        for _ in range(count):
            for c in range(channels):
                while have < width:
                    acc |= np.uint64(payload[pos]) << np.uint64(have)
                    pos += 1
                    have += 8
                d = np.int64(acc & mask)
                acc >>= np.uint64(width)
                have -= width
                if d & sign:
                    d -= sign << 1
                out[row, c] = out[row - 1, c] + d
            row += 1
        pos = block_end  # padding bits at the end of a block are dropped
    return out, _OK, pos


def _raise_delta_error(status: int, offset: int, fmt: PmdFrameFormat, payload_len: int) -> None:
    where = f"payload offset {offset} of {payload_len}"
    reasons = {
        _SHORT_REF: f"payload shorter than the {fmt.channels * fmt.bytes_per_value}-byte reference sample",
        _SHORT_HEADER: f"truncated delta block header at {where}",
        _BAD_WIDTH: f"bad delta block header at {where}: bit width above {_MAX_DELTA_BITS}",
        _ZERO_COUNT: f"bad delta block header at {where}: zero samples",
        _SHORT_BLOCK: f"truncated delta block: needs {offset} bytes, payload has {payload_len}",
    }
    raise PmdDecodeError(f"{fmt.measurement.name} frame 0x{fmt.frame_type:02X}: {reasons[status]}")


def _decode_raw(payload: NDArray[np.uint8], fmt: PmdFrameFormat) -> NDArray[np.int64]:
    width = fmt.bytes_per_value
    sample_bytes = width * fmt.channels
    if payload.size == 0 or payload.size % sample_bytes:
        raise PmdDecodeError(
            f"{fmt.measurement.name} frame 0x{fmt.frame_type:02X}: payload of {payload.size} bytes "
            f"is not a whole number of {sample_bytes}-byte samples (truncated?)"
        )
    if width in (1, 2, 4):
        dtype = np.dtype({1: "i1", 2: "<i2", 4: "<i4"}[width])
        flat = payload.view(dtype).astype(np.int64)
    else:  # int24 has no numpy dtype: assemble the bytes, then sign-extend
        b = payload.reshape(-1, width).astype(np.int64)
        flat = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        flat -= (flat >> 23) << 24
    return flat.reshape(-1, fmt.channels)


def decode_pmd_frame(data: bytes | bytearray | memoryview, factor: float = 1.0) -> PmdFrame:
    """Decode one PMD data notification.

    Parameters
    ----------
    data : bytes-like
        The notification value, header included.
    factor : float
        FACTOR setting from the START reply for this measurement (default 1.0).  Every
        value is multiplied by it before unit conversion.

    Returns
    -------
    PmdFrame
        Samples in physical units with the device timestamp of the last sample.

    Raises
    ------
    PmdDecodeError
        Short header, unsupported measurement or frame type, truncated payload, or a bad
        delta block header.
    """
    if len(data) < HEADER_BYTES:
        raise PmdDecodeError(f"PMD frame of {len(data)} bytes is shorter than its {HEADER_BYTES}-byte header")
    if not math.isfinite(factor):
        raise PmdDecodeError(f"FACTOR must be finite, got {factor!r}")
    raw = np.frombuffer(data, dtype=np.uint8)
    fmt = pmd_frame_format(int(raw[0]), int(raw[9]))
    timestamp_ns = int.from_bytes(bytes(data[1:9]), "little")
    payload = raw[HEADER_BYTES:]
    if fmt.compressed:
        counts, status, offset = _decode_delta_kernel(payload, fmt.channels, fmt.resolution_bits)
        if status != _OK:
            _raise_delta_error(status, offset, fmt, payload.size)
    else:
        counts = _decode_raw(payload, fmt)
    if fmt.float_bits:
        # Sums of 32-bit patterns wrap like the device's own arithmetic.
        counts = ((counts + 2**31) & 0xFFFFFFFF) - 2**31
        # Signalling-NaN patterns raise "invalid" on widening; they stay NaN (= dropped value).
        with np.errstate(invalid="ignore"):
            values = counts.astype(np.int32).view(np.float32).astype(np.float64) * factor
    else:
        values = np.asarray(counts * float(factor) / fmt.counts_per_unit, dtype=np.float64)
    return PmdFrame(fmt.measurement, fmt.frame_type, timestamp_ns, counts, values, fmt.unit)


def _header(fmt: PmdFrameFormat, timestamp_ns: int) -> bytes:
    if not 0 <= timestamp_ns < 2**64:
        raise ValueError(f"timestamp_ns must fit in u64, got {timestamp_ns}")
    return bytes([fmt.measurement]) + timestamp_ns.to_bytes(8, "little") + bytes([fmt.frame_type])


def _as_counts(counts: ArrayLike, fmt: PmdFrameFormat) -> NDArray[np.int64]:
    arr = np.asarray(counts)
    if arr.ndim != 2 or arr.shape[1] != fmt.channels or arr.shape[0] == 0:
        raise ValueError(f"counts must have shape (n >= 1, {fmt.channels}), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"counts must be integers, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    lo, hi = -(1 << (fmt.resolution_bits - 1)), (1 << (fmt.resolution_bits - 1)) - 1
    if out.min() < lo or out.max() > hi:
        raise ValueError(f"counts outside the {fmt.resolution_bits}-bit range [{lo}, {hi}]")
    return out


def encode_raw_frame(measurement: int, frame_type: int, timestamp_ns: int, counts: ArrayLike) -> bytes:
    """Build an uncompressed PMD data frame from integer counts.

    Parameters
    ----------
    measurement, frame_type : int
        A raw (bit 7 clear) format known to :func:`pmd_frame_format`.
    timestamp_ns : int
        Device time of the last sample, ns since 2000-01-01.
    counts : array_like of int, shape (n, channels)
        Values as the device stores them (mG for ACC).

    Returns
    -------
    bytes
        The notification value; :func:`decode_pmd_frame` returns ``counts`` from it.
    """
    fmt = pmd_frame_format(measurement, frame_type)
    if fmt.compressed:
        raise ValueError(f"frame type 0x{frame_type:02X} is compressed: use encode_delta_frame")
    c = _as_counts(counts, fmt)
    width = fmt.bytes_per_value
    # Little-endian two's complement: take the low `width` bytes of each int64.
    body = c.astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width]
    return _header(fmt, timestamp_ns) + body.tobytes()


def encode_acc_frame_raw(timestamp_ns: int, acc_g: ArrayLike, *, frame_type: int = 0x01) -> bytes:
    """Build a raw ACC frame (H10 format ``0x01`` by default) from accelerations in g.

    Values are rounded to whole mG and saturate at the integer range, as a sensor's
    ADC would.

    Parameters
    ----------
    timestamp_ns : int
        Device time of the last sample, ns since 2000-01-01.
    acc_g : array_like of float, shape (n, 3)
        Specific force in g.
    frame_type : int
        0, 1 or 2 (int8, int16 or int24 mG).
    """
    fmt = pmd_frame_format(PmdMeasurementType.ACC, frame_type)
    a = np.asarray(acc_g, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or not np.all(np.isfinite(a)):
        raise ValueError(f"acc_g must be finite with shape (n, 3), got {a.shape}")
    lim = (1 << (fmt.resolution_bits - 1)) - 1
    counts = np.clip(np.rint(a * fmt.counts_per_unit), -lim - 1, lim).astype(np.int64)
    return encode_raw_frame(PmdMeasurementType.ACC, frame_type, timestamp_ns, counts)


def _delta_width(deltas: NDArray[np.int64]) -> int:
    """Fewest bits whose two's complement holds every delta (at least 1)."""
    # A W-bit field holds -2**(W-1) .. 2**(W-1)-1, so v needs bit_length(v) + 1 bits for
    # v >= 0 and bit_length(~v) + 1 = bit_length(-v - 1) + 1 for v < 0; the extremes decide.
    return max((v if v >= 0 else ~v).bit_length() + 1 for v in (int(deltas.max()), int(deltas.min())))


def _pack_lsb_first(values: NDArray[np.int64], width: int) -> bytes:
    bits = (values[:, None] >> np.arange(width, dtype=np.int64)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def encode_delta_frame(
    measurement: int,
    frame_type: int,
    timestamp_ns: int,
    counts: ArrayLike,
    *,
    block_samples: int = 255,
) -> bytes:
    """Build a delta-compressed PMD data frame from integer counts.

    Each block uses the smallest bit width that holds all its deltas.

    Parameters
    ----------
    measurement, frame_type : int
        A compressed (bit 7 set) format known to :func:`pmd_frame_format`.
    timestamp_ns : int
        Device time of the last sample, ns since 2000-01-01.
    counts : array_like of int, shape (n, channels)
        Sample values; the first becomes the reference sample.  For float-bit formats
        these are int32 bit patterns.
    block_samples : int
        Most delta samples per block, 1..255 (the count field is one byte).

    Returns
    -------
    bytes
        The notification value; :func:`decode_pmd_frame` returns ``counts`` from it.
    """
    fmt = pmd_frame_format(measurement, frame_type)
    if not fmt.compressed:
        raise ValueError(f"frame type 0x{frame_type:02X} is raw: use encode_raw_frame")
    if not 1 <= block_samples <= 255:
        raise ValueError(f"block_samples must be in 1..255, got {block_samples}")
    c = _as_counts(counts, fmt)
    width = fmt.bytes_per_value
    out = [_header(fmt, timestamp_ns), c[0].astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width].tobytes()]
    deltas = np.diff(c, axis=0)
    if fmt.float_bits:
        deltas = ((deltas + 2**31) & 0xFFFFFFFF) - 2**31  # the decoder wraps sums to 32 bits
    for start in range(0, deltas.shape[0], block_samples):
        block = deltas[start : start + block_samples]
        w = _delta_width(block)
        out.append(bytes([w, block.shape[0]]))
        out.append(_pack_lsb_first(block.reshape(-1), w))
    return b"".join(out)


def raw_samples_per_frame(measurement: int, frame_type: int, att_mtu: int) -> int:
    """Most samples a raw frame can carry in one notification at ``att_mtu`` bytes.

    A notification carries ATT_MTU - 3 bytes; the PMD header takes 10 of them.  Example:
    H10 ACC (6 bytes per sample) at MTU 232 gives 36 samples, 180 ms at 200 Hz.
    """
    fmt = pmd_frame_format(measurement, frame_type)
    if fmt.compressed:
        raise ValueError("compressed frames have no fixed sample size")
    room = att_mtu - _ATT_NOTIFY_OVERHEAD - HEADER_BYTES
    n = room // (fmt.channels * fmt.bytes_per_value)
    if n < 1:
        raise ValueError(f"ATT MTU {att_mtu} leaves no room for one sample")
    return n

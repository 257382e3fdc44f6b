"""Capture log records: the header (device, stream settings) and the body records.

Typed, frozen values for :mod:`hipflex.sensor.capture.log`, which describes the JSON Lines
layout and writes and reads the files.  ``to_dict`` / ``from_dict`` convert the header
to and from its JSON object; body lines are parsed by the reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from hipflex.sensor.format_spec import InputError

__all__ = [
    "CAPTURE_VERSION",
    "DEVICE_KINDS",
    "EVENT_KINDS",
    "HEADER_KEY",
    "STREAM_NAMES",
    "CaptureDevice",
    "CaptureEvent",
    "CaptureFormatError",
    "CaptureHeader",
    "CaptureProblem",
    "CaptureRecord",
    "Notification",
    "StreamSettings",
    "record_from_json",
]

#: Version written in the header's ``hipflex_capture`` key.
CAPTURE_VERSION: Final = 1
#: Key that marks the header line (and makes the format recognisable).
HEADER_KEY: Final = "hipflex_capture"
#: Device kinds the replay decoders understand.
DEVICE_KINDS: Final = ("polar", "metawear")
#: Event kinds written by hipflex clients (readers accept others too).  ``duplicate`` stands
#: for a notification delivered twice (its ``char_uuid`` and ``hex`` are kept; it is not decoded).
EVENT_KINDS: Final = ("disconnected", "reconnected", "stream_started", "stream_stopped", "gap", "duplicate")
#: Stream names of the header's ``streams`` object.
STREAM_NAMES: Final = ("acc", "gyro")


class CaptureFormatError(InputError):
    """A file that is not a readable hipflex capture (missing or bad header)."""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class CaptureDevice:
    """Which sensor was recorded.

    Attributes
    ----------
    kind : str
        Protocol family: ``"polar"`` (PMD) or ``"metawear"``.
    model : str
        Model, e.g. ``"H10"``, ``"Verity Sense"``, ``"MetaMotion S"``.
    name, address, firmware : str
        Advertised name, BLE address (a UUID on macOS) and firmware version, as read.
    """

    kind: str
    model: str = ""
    name: str = ""
    address: str = ""
    firmware: str = ""

    def to_dict(self) -> dict[str, str]:
        """The header's ``device`` object."""
        return {k: getattr(self, k) for k in ("kind", "model", "name", "address", "firmware")}


@dataclass(frozen=True)
class StreamSettings:
    """Measurement settings of one stream, as the device confirmed them.

    Attributes
    ----------
    sample_rate_hz : float
        Nominal output data rate, Hz.
    range_g : float or None
        Accelerometer full scale, +/- g (``acc`` stream).
    range_dps : float or None
        Gyroscope full scale, +/- deg/s (``gyro`` stream).
    resolution_bits : int or None
        Bits per value (Polar).
    factor : float
        Polar FACTOR from the START reply; every sample is multiplied by it (default 1).
    chip : str or None
        MetaWear Bosch chip, ``"bmi160"`` or ``"bmi270"`` (from module discovery).
    """

    sample_rate_hz: float
    range_g: float | None = None
    range_dps: float | None = None
    resolution_bits: int | None = None
    factor: float = 1.0
    chip: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sample_rate_hz) and self.sample_rate_hz > 0):
            raise ValueError(f"sample_rate_hz must be positive, got {self.sample_rate_hz!r}")
        if not math.isfinite(self.factor) or self.factor == 0:
            raise ValueError(f"factor must be a finite non-zero number, got {self.factor!r}")

    def to_dict(self) -> dict[str, Any]:
        """The stream's object in the header (``None`` fields left out)."""
        out: dict[str, Any] = {"sample_rate_hz": self.sample_rate_hz}
        for key in ("range_g", "range_dps", "resolution_bits", "factor", "chip"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> StreamSettings:
        """Parse a header stream object (``ValueError``/``TypeError`` on bad values)."""
        num = {"sample_rate_hz", "range_g", "range_dps", "factor"}
        kwargs: dict[str, Any] = {}
        for key in ("sample_rate_hz", "range_g", "range_dps", "resolution_bits", "factor", "chip"):
            value = obj.get(key)
            if value is None:
                continue
            if key in num and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"{key} must be a number, got {value!r}")
            kwargs[key] = float(value) if key in num else value
        if "resolution_bits" in kwargs:
            kwargs["resolution_bits"] = int(kwargs["resolution_bits"])
        if "chip" in kwargs:
            kwargs["chip"] = str(kwargs["chip"])
        return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class CaptureHeader:
    """The first line of a capture.

    Attributes
    ----------
    device : CaptureDevice
        The recorded sensor.
    streams : mapping of str to StreamSettings
        ``"acc"`` and optionally ``"gyro"``.
    started_unix_s : float or None
        Wall-clock time when recording started, seconds since 1970 (filled in by the writer).
    started_host_s : float or None
        The host clock (the ``t`` of records) at ``started_unix_s`` (filled in by the writer).
    host_clock : str
        Which host clock ``t`` uses (``"monotonic"`` for :func:`time.monotonic`).
    version : int
        Capture format version.
    extra : mapping
        Further header keys, kept as read (provenance, client version, ...).
    """

    device: CaptureDevice
    streams: Mapping[str, StreamSettings]
    started_unix_s: float | None = None
    started_host_s: float | None = None
    host_clock: str = "monotonic"
    version: int = CAPTURE_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "streams", MappingProxyType(dict(self.streams)))
        object.__setattr__(self, "extra", _frozen(self.extra))
        if "acc" not in self.streams:
            raise ValueError("a capture header needs an 'acc' stream")
        unknown = set(self.streams) - set(STREAM_NAMES)
        if unknown:
            raise ValueError(f"unknown stream(s) {sorted(unknown)}; known: {', '.join(STREAM_NAMES)}")

    def to_dict(self) -> dict[str, Any]:
        """The header line as a JSON object."""
        out: dict[str, Any] = {
            HEADER_KEY: self.version,
            "device": self.device.to_dict(),
            "streams": {name: s.to_dict() for name, s in self.streams.items()},
            "started_unix_s": self.started_unix_s,
            "started_host_s": self.started_host_s,
            "host_clock": self.host_clock,
        }
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CaptureHeader:
        """Parse a header line's object (``ValueError``/``TypeError``/``KeyError`` on bad content)."""
        version = obj[HEADER_KEY]
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"bad capture version {version!r}")
        if version > CAPTURE_VERSION:
            raise ValueError(f"capture version {version} is newer than this hipflex reads ({CAPTURE_VERSION})")
        dev = obj["device"]
        fields = ("kind", "model", "name", "address", "firmware")
        device = CaptureDevice(**{k: str(dev.get(k, "") or "") for k in fields})
        streams = {str(name): StreamSettings.from_dict(s) for name, s in dict(obj["streams"]).items()}
        known = {HEADER_KEY, "device", "streams", "started_unix_s", "started_host_s", "host_clock"}
        started_unix, started_host = obj.get("started_unix_s"), obj.get("started_host_s")
        return cls(
            device=device,
            streams=streams,
            started_unix_s=None if started_unix is None else float(started_unix),
            started_host_s=None if started_host is None else float(started_host),
            host_clock=str(obj.get("host_clock", "monotonic")),
            version=version,
            extra={k: v for k, v in obj.items() if k not in known},
        )


@dataclass(frozen=True)
class Notification:
    """One raw BLE notification (or indication).

    Attributes
    ----------
    t_s : float
        Host arrival time, seconds (the header's ``host_clock``).
    char_uuid : str
        Characteristic UUID, lower-case 128-bit form.
    data : bytes
        The value as received.
    line : int
        Line of the capture file (0 when not read from a file).
    """

    t_s: float
    char_uuid: str
    data: bytes
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, eq=False)
class CaptureEvent:
    """Something that happened to the link or a stream.

    Attributes
    ----------
    t_s : float
        Host time, seconds.
    event : str
        Kind, see :data:`EVENT_KINDS` (others are passed through).
    info : mapping
        Further keys of the line, e.g. ``{"stream": "acc"}`` or ``{"reason": "link lost"}``.
    line : int
        Line of the capture file (0 when not read from a file).
    """

    t_s: float
    event: str
    info: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", _frozen(self.info))


#: A record of a capture body.
CaptureRecord = Notification | CaptureEvent


@dataclass(frozen=True)
class CaptureProblem:
    """A line the reader skipped: file line number and why."""

    line: int
    reason: str


def record_from_json(obj: Any, line: int = 0) -> CaptureRecord:
    """A body line's parsed JSON as a record.

    Parameters
    ----------
    obj : Any
        The result of :func:`json.loads` on one body line.
    line : int
        File line number, kept in the record.

    Raises
    ------
    ValueError
        Not a notification or event; the message names the problem.
    """
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if HEADER_KEY in obj:
        raise ValueError("a second header line")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"'t' is not a finite number ({t!r})")
    if "event" in obj:
        event = obj["event"]
        if not isinstance(event, str) or not event:
            raise ValueError(f"'event' is not a name ({event!r})")
        info = {k: v for k, v in obj.items() if k not in ("t", "event")}
        return CaptureEvent(float(t), event, info, line)
    char, data = obj.get("char"), obj.get("data")
    if not isinstance(char, str) or not char.strip():
        raise ValueError("neither an event nor a notification (no 'char')")
    if not isinstance(data, str):
        raise ValueError("'data' is not a hex string")
    try:
        raw = bytes.fromhex(data)
    except ValueError:
        raise ValueError(f"'data' is not valid hex ({data[:20]!r}...)") from None
    return Notification(float(t), char.strip().lower(), raw, line)

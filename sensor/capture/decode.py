"""Per-record capture decoders: raw notifications -> per-stream samples on the output time base.

:class:`PolarCaptureDecoder` and :class:`MetaWearCaptureDecoder` (:func:`capture_decoder`
picks one for a header) take one ``feed(record)`` per capture line; samples accumulate in
:class:`CaptureStreams`.  :func:`hipflex.sensor.capture.replay.decode_capture` runs a whole capture
through one, and the live clients' :class:`~hipflex.sensor.live.decode.LiveDecoder` feeds it
record by record, so live and replay decode alike.  The decoding and time-base rules are
described in :mod:`hipflex.sensor.capture.replay`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.capture.log import (
    CaptureEvent,
    CaptureFormatError,
    CaptureHeader,
    CaptureProblem,
    CaptureRecord,
    Notification,
)
from hipflex.sensor.metawear.protocol import (
    ACC_LSB_PER_G,
    GYRO_LSB_PER_DPS,
    METAWEAR_NOTIFY_UUID,
    ImuChip,
    MetaWearDecodeError,
    MetaWearDecoder,
    MetaWearSensor,
)
from hipflex.sensor.metawear.timing import MetaWearClock
from hipflex.sensor.polar.control import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PmdMeasurementStopped,
    PmdOpCode,
    PmdResponseAssembler,
    parse_cp_indication,
)
from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType, PmdRepeatFilter, decode_pmd_frame
from hipflex.sensor.polar.timing import DEFAULT_GAP_RATIO, PmdTimestampError, PmdTimingState, assign_sample_times

__all__ = [
    "REANCHOR_S",
    "CaptureGap",
    "CaptureStreams",
    "MetaWearCaptureDecoder",
    "PolarCaptureDecoder",
    "StreamSamples",
    "capture_decoder",
]

_log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: A Polar frame whose mapped time disagrees with its host arrival time by more than
#: this starts a new clock segment, seconds (BLE delivery lags are well under it).
REANCHOR_S: Final = 10.0
_PMD_STREAMS: Final = {PmdMeasurementType.ACC: "acc", PmdMeasurementType.GYRO: "gyro"}
_MW_STREAMS: Final = {MetaWearSensor.ACC: "acc", MetaWearSensor.GYRO: "gyro"}


@dataclass(frozen=True)
class CaptureGap:
    """Samples missing from one stream, in the output time base.

    Attributes
    ----------
    stream : str
        ``"acc"`` or ``"gyro"``.
    before_s, after_s : float
        Times of the samples either side of the hole, seconds.
    lost_samples : int
        Estimated samples missing, from the nominal rate.
    reason : str
        ``"loss"`` (lost notifications), ``"reconnect"`` (link drop) or
        ``"clock_reset"`` (device clock jumped; new clock segment).
    """

    stream: str
    before_s: float
    after_s: float
    lost_samples: int
    reason: str

    @property
    def duration_s(self) -> float:
        """Time between the samples either side of the gap, seconds."""
        return self.after_s - self.before_s


@dataclass(frozen=True, eq=False)
class StreamSamples:
    """One decoded stream before merging: times (s, output time base) and values (g or deg/s)."""

    name: str
    time_s: FloatArray
    values: FloatArray


@dataclass
class CaptureStreams:
    """What a capture decoder has produced so far: per-stream samples and bookkeeping.

    Attributes
    ----------
    rates_hz : dict of str to float
        Nominal rate of each stream (from the header), Hz.
    chunks : dict of str to list of (ndarray, ndarray)
        Each stream's decoded blocks of (times in seconds, values), in order; a consumer
        may take and clear them (the live decoder does).
    last_s : dict of str to float
        Time of each stream's newest kept sample, seconds.
    gaps : list of CaptureGap
        Holes found so far.
    problems : list of CaptureProblem
        Notifications that failed to decode.
    decoded : int
        Data notifications decoded.
    ignored : int
        Notifications that carry no IMU data hipflex uses.
    duplicates : int
        Notifications delivered twice (``duplicate`` events and repeated data frames),
        not decoded.
    """

    rates_hz: dict[str, float]
    chunks: dict[str, list[tuple[FloatArray, FloatArray]]] = field(default_factory=dict)
    last_s: dict[str, float] = field(default_factory=dict)
    gaps: list[CaptureGap] = field(default_factory=list)
    problems: list[CaptureProblem] = field(default_factory=list)
    decoded: int = 0
    ignored: int = 0
    duplicates: int = 0

    def add(self, name: str, time_s: FloatArray, values: FloatArray, reason: str = "loss") -> None:
        """Append a block; drops samples not after the last kept one and notes holes."""
        last = self.last_s.get(name)
        if last is not None:
            keep = time_s > last
            if not keep.all():
                _log.warning("%d %s samples at or before an earlier sample were dropped", (~keep).sum(), name)
                time_s, values = time_s[keep], values[keep]
            if time_s.size == 0:
                return
            period = 1.0 / self.rates_hz[name]
            if time_s[0] - last > DEFAULT_GAP_RATIO * period:
                lost = max(0, round((time_s[0] - last) / period) - 1)
                self.gaps.append(CaptureGap(name, last, float(time_s[0]), lost, reason))
        self.chunks.setdefault(name, []).append((time_s, values))
        self.last_s[name] = float(time_s[-1])

    def problem(self, line: int, reason: str) -> None:
        """Note a notification that could not be used (the first 20 are logged)."""
        self.problems.append(CaptureProblem(line, reason))
        if len(self.problems) <= 20:
            _log.warning("capture line %d skipped: %s", line, reason)

    def stream(self, name: str) -> StreamSamples | None:
        """Everything still held for ``name``, joined (``None`` when nothing is)."""
        parts = self.chunks.get(name)
        if not parts:
            return None
        return StreamSamples(name, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


class PolarCaptureDecoder:
    """Polar PMD capture records -> per-stream samples on the output time base, one record at a time.

    Parameters
    ----------
    header : CaptureHeader
        The capture's header (a ``polar`` device): stream rates and FACTORs.
    origin_s : float
        Host time that becomes 0 s of the output (``header.started_host_s``).

    Attributes
    ----------
    out : CaptureStreams
        The samples, gaps, problems and counters so far.

    Notes
    -----
    See the module notes for the timing rules.  A data frame delivered twice is dropped
    and counted in ``out.duplicates`` (the rule of the live client,
    :class:`~hipflex.sensor.polar.frames.PmdRepeatFilter`), never taken for a clock reset.
    """

    def __init__(self, header: CaptureHeader, origin_s: float) -> None:
        self.origin_s = origin_s
        # Keyed by the measurement byte as an int (frames carry plain ints).
        self.measurements: dict[int, str] = {int(m): name for m, name in _PMD_STREAMS.items() if name in header.streams}
        rates = {name: header.streams[name].sample_rate_hz for name in self.measurements.values()}
        self.factor: dict[int, float] = {m: header.streams[name].factor for m, name in self.measurements.items()}
        self.out = CaptureStreams(rates)
        self.timing = PmdTimingState()
        self.assembler = PmdResponseAssembler()
        self.repeats = PmdRepeatFilter()
        self.anchor: tuple[int, float] | None = None  # (device ns, output s) of one instant
        self.pending_reason: dict[str, str] = {}  # why the next hole of a stream happened

    def feed(self, rec: CaptureRecord) -> None:
        """Decode one record (notification or event) into :attr:`out`."""
        if isinstance(rec, CaptureEvent):
            self._event(rec)
        elif rec.char_uuid == PMD_DATA_UUID:
            self._data(rec)
        elif rec.char_uuid == PMD_CONTROL_POINT_UUID:
            self._control(rec)
        else:
            self.out.ignored += 1

    def _restart(self, measurement: int | None, reason: str) -> None:
        self.timing = self.timing.reset(measurement)
        names = self.measurements.values() if measurement is None else [self.measurements.get(measurement)]
        for name in names:
            if name is not None:
                self.pending_reason[name] = reason

    def _event(self, rec: CaptureEvent) -> None:
        if rec.event == "duplicate":
            self.out.duplicates += 1  # the live client dropped it: nothing to decode
        elif rec.event == "disconnected":
            self._restart(None, "reconnect")
        elif rec.event in ("stream_started", "stream_stopped"):
            by_name = {name: m for m, name in self.measurements.items()}
            m = by_name.get(str(rec.info.get("stream", "")))
            factor = rec.info.get("factor")
            if m is not None and isinstance(factor, int | float) and math.isfinite(factor) and factor != 0:
                self.factor[m] = float(factor)
            self._restart(m, "reconnect")

    def _control(self, rec: Notification) -> None:
        self.out.ignored += 1
        try:
            parsed = parse_cp_indication(rec.data)
            if isinstance(parsed, PmdMeasurementStopped):
                for m in parsed.measurements:
                    self._restart(m & 0x3F, "reconnect")
                return
            self.assembler, response = self.assembler.feed(rec.data)
        except PmdDecodeError:
            return  # a feature read or something else that is no response
        if response is None or not response.ok or response.opcode != PmdOpCode.REQUEST_MEASUREMENT_START:
            return
        m = response.measurement & 0x3F
        factor = response.settings().factor if response.params else None
        if m in self.factor and factor is not None and math.isfinite(factor) and factor != 0:
            self.factor[m] = factor
        self._restart(m, "reconnect")

    def _to_output(self, time_ns: NDArray[np.int64]) -> FloatArray:
        assert self.anchor is not None
        anchor_ns, anchor_s = self.anchor
        return anchor_s + (time_ns - anchor_ns).astype(np.float64) * 1e-9

    def _data(self, rec: Notification) -> None:
        if self.repeats.is_repeat(rec.data):
            # Delivered twice: the live client would have logged a ``duplicate`` event instead.
            self.out.duplicates += 1
            _log.debug("capture line %d: PMD frame delivered twice, dropped", rec.line)
            return
        m = rec.data[0] & 0x3F if rec.data else -1
        name = self.measurements.get(m)
        if name is None:
            self.out.ignored += 1
            return
        try:
            frame = decode_pmd_frame(rec.data, self.factor[m])
        except PmdDecodeError as exc:
            self.out.problem(rec.line, f"undecodable PMD frame: {exc}")
            return
        rate = self.out.rates_hz[name]
        reason = self.pending_reason.pop(name, "loss")
        try:
            self.timing, times = assign_sample_times(self.timing, frame, rate)
        except PmdTimestampError:
            # The device clock went backwards: every stream starts a new clock segment.
            self.timing, self.anchor = PmdTimingState(), None
            reason = "clock_reset" if reason == "loss" else reason
            try:
                self.timing, times = assign_sample_times(self.timing, frame, rate)
            except PmdTimestampError as exc:
                self.out.problem(rec.line, f"untimeable PMD frame: {exc}")
                return
        arrival_s = rec.t_s - self.origin_s
        if self.anchor is not None:
            drift = float(self._to_output(np.array([frame.timestamp_ns], dtype=np.int64))[0]) - arrival_s
            if abs(drift) > REANCHOR_S:
                _log.warning("PMD device clock off the host clock by %.1f s: new clock segment", drift)
                self.anchor = None
                reason = "clock_reset" if reason == "loss" else reason
                self.timing = PmdTimingState().with_previous(m, frame.frame_type, frame.timestamp_ns)
        if self.anchor is None:
            # Place the frame's last sample at its arrival, after everything already kept.
            after = max(self.out.last_s.values(), default=-math.inf)
            span_s = (int(times.time_ns[-1]) - int(times.time_ns[0])) * 1e-9
            anchor_s = max(arrival_s, after + span_s + 1.0 / rate) if self.out.last_s else arrival_s
            self.anchor = (frame.timestamp_ns, anchor_s)
        time_s = self._to_output(times.time_ns)
        self.out.decoded += 1
        self.out.add(name, time_s, frame.values.astype(np.float64, copy=False), reason)


class MetaWearCaptureDecoder:
    """MetaWear capture records -> per-stream samples timed from the configured rates, one at a time.

    Parameters
    ----------
    header : CaptureHeader
        The capture's header (a ``metawear`` device): chips, ranges and rates.
    origin_s : float
        Host time that becomes 0 s of the output (``header.started_host_s``).
    path : str
        Name of the capture, for messages.

    Attributes
    ----------
    out : CaptureStreams
        The samples, gaps, problems and counters so far.

    Raises
    ------
    CaptureFormatError
        Chip or range settings the decoder does not know.
    """

    def __init__(self, header: CaptureHeader, origin_s: float, path: str) -> None:
        self.origin_s = origin_s
        acc = header.streams["acc"]
        gyro = header.streams.get("gyro")
        try:
            acc_chip = ImuChip(str(acc.chip).lower())
            gyro_chip = None if gyro is None else ImuChip(str(gyro.chip).lower())
            acc_range = _whole(acc.range_g, ACC_LSB_PER_G, "acc range_g")
            gyro_range = 2000 if gyro is None else _whole(gyro.range_dps, GYRO_LSB_PER_DPS, "gyro range_dps")
            self.decoder = MetaWearDecoder(acc_chip, acc_range, gyro_chip, gyro_range)
        except ValueError as exc:
            chips = ", ".join(c.value for c in ImuChip)
            raise CaptureFormatError(path, f"bad MetaWear stream settings: {exc} (chip: {chips})") from None
        rates = {name: s.sample_rate_hz for name, s in header.streams.items()}
        self.clocks = {name: MetaWearClock(rate) for name, rate in rates.items()}
        self.out = CaptureStreams(rates)

    def feed(self, rec: CaptureRecord) -> None:
        """Decode one record (notification or event) into :attr:`out`."""
        if isinstance(rec, CaptureEvent):
            if rec.event == "duplicate":
                self.out.duplicates += 1
            elif rec.event in ("disconnected", "reconnected", "stream_started"):
                only = rec.info.get("stream") if rec.event == "stream_started" else None
                for name, clock in self.clocks.items():
                    if only in (None, name):
                        self.clocks[name] = clock.reanchor()
            return
        if rec.char_uuid != METAWEAR_NOTIFY_UUID:
            self.out.ignored += 1
            return
        try:
            packet = self.decoder.decode(rec.data)
        except MetaWearDecodeError as exc:
            self.out.problem(rec.line, f"undecodable MetaWear notification: {exc}")
            return
        if packet is None:
            self.out.ignored += 1
            return
        name = _MW_STREAMS[packet.sensor]
        self.clocks[name], timing = self.clocks[name].advance(rec.t_s, packet.n_samples)
        self.out.decoded += 1
        reason = "loss"
        if timing.gap is not None and timing.gap.reconnect:
            reason = "reconnect"
        self.out.add(name, timing.time_s - self.origin_s, packet.values, reason)


def _whole(value: float | None, table: Mapping[int, float], what: str) -> int:
    if value is None or float(value) not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {value!r}")
    return int(value)


def capture_decoder(header: CaptureHeader, path: str = "<capture>") -> PolarCaptureDecoder | MetaWearCaptureDecoder:
    """The per-record decoder for a capture's device, with its output origin at ``header.started_host_s``.

    Parameters
    ----------
    header : CaptureHeader
        The capture's header.
    path : str
        Name of the capture, for messages.

    Returns
    -------
    PolarCaptureDecoder or MetaWearCaptureDecoder

    Raises
    ------
    CaptureFormatError
        A device kind or settings the decoders cannot use.
    """
    origin_s = header.started_host_s if header.started_host_s is not None else 0.0
    if header.device.kind == "polar":
        return PolarCaptureDecoder(header, origin_s)
    if header.device.kind == "metawear":
        return MetaWearCaptureDecoder(header, origin_s, path)
    raise CaptureFormatError(path, f"device kind {header.device.kind!r} is not supported (known: polar, metawear)")

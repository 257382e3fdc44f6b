"""Replay a capture: raw notifications -> :class:`~hipflex.dsp.types.ImuSamples`, and back in time.

Decoding goes through the same pure decoders as the live clients:

- **Polar** (``device.kind == "polar"``): data notifications ->
  :func:`~hipflex.sensor.polar.frames.decode_pmd_frame` (with each stream's FACTOR) ->
  per-sample device times by :func:`~hipflex.sensor.polar.timing.assign_sample_times`
  (nominal rate from the header).  Control-point indications are followed too: a START
  reply that carries a FACTOR replaces the stream's factor and restarts its timing, a
  device-initiated stop restarts it, and a ``disconnected`` event clears all of it, as
  the Polar SDK does.
- **MetaWear** (``device.kind == "metawear"``): data notifications ->
  :class:`~hipflex.sensor.metawear.protocol.MetaWearDecoder` -> sample times counted from the
  configured rate and anchored on host arrival time by
  :class:`~hipflex.sensor.metawear.timing.MetaWearClock`, re-anchored after
  ``disconnected`` / ``reconnected`` / ``stream_started`` events.

**Output time base**: seconds on the host clock since the capture started
(``t - started_host_s``).  Polar device time is mapped onto it by one offset per
clock segment: the last sample of the first frame is placed at that notification's
host arrival time, and every later sample at ``anchor + (device_ns - anchor_ns) * 1e-9``,
so sample spacing is exactly the device's.  A new segment (new anchor) starts only when
the device clock goes backwards (an H10 that forgot its time) or disagrees with the
host by more than :data:`REANCHOR_S`; its samples are kept after the earlier ones.
Lost frames stay holes in the time column (reported in :attr:`DecodedCapture.gaps`);
nothing is interpolated or invented.  A data frame delivered twice (the same header among
the last few frames, :class:`~hipflex.sensor.polar.frames.PmdRepeatFilter`) is dropped and
counted in :attr:`DecodedCapture.duplicates`, exactly as the live client drops it (it logs
a ``duplicate`` event instead of the notification; those are counted too): it is
neither a repeated sample nor a device clock reset.  Gaps are found from the sample times alone, never
from arrival times or from ``gap`` events (those are informational).

**Merging** the gyroscope onto the accelerometer uses
:func:`~hipflex.sensor.merge.merge_acc_gyro` with the header's nominal rates: the Verity
Sense sends ACC and GYRO at the same rate, so each accelerometer sample takes the gyro
sample nearest in device time within half a period (else NaN: a dropout row), and only
the time span both streams cover is kept.

The per-record decoders of :mod:`hipflex.sensor.capture.decode`, :class:`PolarCaptureDecoder`
and :class:`MetaWearCaptureDecoder` (:func:`capture_decoder` picks one for a header), are
incremental: one ``feed(record)`` per capture line, samples accumulating in
:class:`CaptureStreams`.  :func:`decode_capture` runs a whole capture through one; the live
clients' :class:`~hipflex.sensor.live.decode.LiveDecoder` feeds it record by record, so live
and replay decode alike.

:class:`CaptureReplay` (:mod:`hipflex.sensor.capture.replay_source`, re-exported here) yields the
raw records again, at the original pace (times a ``speed`` factor) or as fast as
possible, for the live pipeline and the API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.decode import (
    REANCHOR_S,
    CaptureGap,
    CaptureStreams,
    MetaWearCaptureDecoder,
    PolarCaptureDecoder,
    StreamSamples,
    capture_decoder,
)
from hipflex.sensor.capture.log import HEADER_KEY, Capture, CaptureHeader, CaptureProblem, read_capture
from hipflex.sensor.capture.replay_source import CaptureReplay
from hipflex.sensor.format_spec import FileFormat, InputError, LoadOptions, validate_samples
from hipflex.sensor.merge import merge_acc_gyro

__all__ = [
    "FORMATS",
    "REANCHOR_S",
    "CaptureDecodeError",
    "CaptureGap",
    "CaptureReplay",
    "CaptureStreams",
    "DecodedCapture",
    "MetaWearCaptureDecoder",
    "PolarCaptureDecoder",
    "StreamSamples",
    "capture_decoder",
    "decode_capture",
    "load_capture",
]

_log = logging.getLogger(__name__)


class CaptureDecodeError(InputError):
    """A capture whose notifications do not decode into accelerometer samples."""


@dataclass(frozen=True, eq=False)
class DecodedCapture:
    """The result of decoding a capture.

    Attributes
    ----------
    header : CaptureHeader
        The capture's header.
    samples : ImuSamples
        Merged samples (not yet checked by :func:`~hipflex.sensor.format_spec.validate_samples`).
    streams : mapping of str to StreamSamples
        Each decoded stream on its own timeline.
    gaps : tuple of CaptureGap
        Holes found in the streams, in time order.
    merge_rule : str or None
        How the gyroscope was aligned (``None`` without one).
    decoded_notifications : int
        Data notifications decoded.
    ignored_notifications : int
        Notifications that carry no IMU data hipflex uses (other characteristics,
        other measurements, control-point replies).
    problems : tuple of CaptureProblem
        Lines skipped by the reader and notifications that failed to decode.
    duplicates : int
        Notifications delivered twice and not decoded: ``duplicate`` events the live
        client logged, plus data frames repeated in the capture itself.
    """

    header: CaptureHeader
    samples: ImuSamples
    streams: Mapping[str, StreamSamples]
    gaps: tuple[CaptureGap, ...]
    merge_rule: str | None
    decoded_notifications: int
    ignored_notifications: int
    problems: tuple[CaptureProblem, ...] = ()
    duplicates: int = 0


def decode_capture(source: Capture | str | Path) -> DecodedCapture:
    """Decode a capture into samples through the device decoders.

    Parameters
    ----------
    source : Capture or str or Path
        A capture read with :func:`~hipflex.sensor.capture.log.read_capture`, or its file.

    Returns
    -------
    DecodedCapture
        Samples in seconds since the capture started (host clock), acceleration in g,
        angular rate in deg/s (``None`` without a gyroscope stream).

    Raises
    ------
    CaptureFormatError
        Not a capture, or a header the decoders cannot use (unknown device kind,
        missing MetaWear chip or range).
    CaptureDecodeError
        No accelerometer sample could be decoded.
    """
    capture = source if isinstance(source, Capture) else read_capture(source)
    path = str(capture.path) if capture.path is not None else "<capture>"
    header = capture.header
    decoder = capture_decoder(header, path)
    for rec in capture.records:
        decoder.feed(rec)
    out = decoder.out
    if out.duplicates:
        _log.info("%s: %d notification(s) delivered twice were dropped", path, out.duplicates)
    problems = (*capture.problems, *out.problems)
    acc = out.stream("acc")
    if acc is None:
        first = f"; first problem: line {out.problems[0].line}: {out.problems[0].reason}" if out.problems else ""
        raise CaptureDecodeError(
            path,
            f"no accelerometer samples decoded from {len(capture.notifications)} notifications "
            f"({len(out.problems)} undecodable){first}",
        )
    streams = {name: s for name in ("acc", "gyro") if (s := out.stream(name)) is not None}
    gyro = streams.get("gyro")
    if "gyro" in header.streams and gyro is None:
        _log.warning("%s: the header lists a gyroscope stream but no gyroscope sample was decoded", path)
    rule = None
    if gyro is None:
        samples = ImuSamples(acc.time_s, acc.values)
    else:
        try:
            merged = merge_acc_gyro(
                acc.time_s,
                acc.values,
                gyro.time_s,
                gyro.values,
                acc_period_s=1.0 / header.streams["acc"].sample_rate_hz,
                gyr_period_s=1.0 / header.streams["gyro"].sample_rate_hz,
            )
        except ValueError as exc:
            raise CaptureDecodeError(path, str(exc)) from None
        samples = ImuSamples(merged.time_s, merged.acc_g, merged.gyr_dps)
        rule = merged.rule
    gaps = tuple(sorted(out.gaps, key=lambda g: (g.before_s, g.stream)))
    return DecodedCapture(
        header, samples, MappingProxyType(streams), gaps, rule, out.decoded, out.ignored, problems, out.duplicates
    )


def load_capture(path: str | Path, options: LoadOptions | None = None) -> ImuSamples:
    """Read and decode a capture file and apply the shared input checks (the ``capture`` format).

    Raises
    ------
    InputError
        Any problem with the file (one line naming it and the problem).
    """
    decoded = decode_capture(Path(path))
    skipped = len(decoded.problems)
    if skipped:
        _log.warning("%s: %d line(s) or notification(s) skipped (see the messages above)", path, skipped)
    s = decoded.samples
    return validate_samples(path, s.time_s, s.acc_g, s.gyr_dps)


# ---------------------------------------------------------------------------- registry


def _sniff(path: Path, head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("{") and f'"{HEADER_KEY}"' in first


#: The formats this module provides (see :mod:`hipflex.sensor.formats`).
FORMATS: tuple[FileFormat, ...] = (
    FileFormat(
        name="capture",
        description="hipflex capture log (JSON Lines of raw BLE notifications), decoded like the live device",
        load=load_capture,
        sniff=_sniff,
    ),
)

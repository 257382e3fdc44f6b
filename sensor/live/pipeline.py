"""The two halves of a live client's data path: the record sink (event loop) and the decode worker (thread).

:class:`RecordSink` is what the BLE callback calls: it appends each record (notification
or link event) to the :class:`~hipflex.sensor.capture.log.CaptureWriter` -- an in-memory
append, a background thread writes every second -- and only then puts it on the queue
the decoder reads, so the capture log and the decoder see one and the same sequence.
Records that arrive before the capture header can be written (discovery replies) wait
in memory and go out, in order, when it opens.

:class:`DecodeWorker` runs in the client's worker thread: it feeds the queued records to
:class:`~hipflex.sensor.live.decode.LiveDecoder` (the decoders of ``decode_capture``),
keeps the :class:`~hipflex.sensor.live.clock.ClockSync` mapping up to date, turns the gaps
found into :class:`~hipflex.sensor.live.client.StreamGap` events and the new rows of a batch into
one :class:`~hipflex.sensor.live.client.SampleChunk`, and ends the session when nothing the
device sends can be decoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.log import CaptureHeader, CaptureRecord, CaptureWriteError, CaptureWriter
from hipflex.sensor.capture.log import Notification as CaptureNotification
from hipflex.sensor.errors import StreamFailed
from hipflex.sensor.live.client import ClientItem, SampleChunk, StreamGap
from hipflex.sensor.live.clock import ClockSync
from hipflex.sensor.live.decode import LiveDecoder

__all__ = ["BAD_FRAMES_LIMIT", "ClientStats", "DecodeWorker", "RecordSink"]

_log = logging.getLogger(__name__)

#: This many undecodable data notifications in a row (with none decoded since the stream
#: started) end the session: the link or the firmware is not delivering usable frames.
BAD_FRAMES_LIMIT: Final = 20


@dataclass
class ClientStats:
    """Counters of one client (mutated by the client; read them, do not write)."""

    notifications: int = 0  #: raw notifications and indications received
    decoded_notifications: int = 0  #: data notifications decoded into samples
    undecodable: int = 0  #: data notifications the decoder skipped (logged)
    samples: int = 0  #: rows handed out
    gaps: int = 0  #: gaps reported
    reconnects: int = 0  #: successful reconnects
    stream_restarts: int = 0  #: restarts without a reconnect (device stop, stall)
    dropped_after_stop: int = 0  #: notifications that arrived after the end of the session
    repeats: int = 0  #: notifications delivered twice (logged as ``duplicate`` events, not decoded)


class RecordSink:
    """Capture first, then queue (see the module notes).  Event-loop thread only.

    Parameters
    ----------
    stats : ClientStats
        Where notifications dropped after the end are counted.
    on_error : callable
        Called with a :class:`StreamFailed` when the capture cannot be written (disk full).
    """

    def __init__(self, stats: ClientStats, on_error: Callable[[BaseException], None]) -> None:
        self.stats = stats
        self.on_error = on_error
        self.header: CaptureHeader | None = None
        self.writer: CaptureWriter | None = None
        self.queue: asyncio.Queue[CaptureRecord | None] = asyncio.Queue()
        self.recording = True
        self._early: list[CaptureRecord] = []

    def open(
        self, header: CaptureHeader, path: Path | None, *, overwrite: bool, clock: Callable[[], float]
    ) -> CaptureHeader:
        """Open the capture (when ``path``) and release the records that waited for it.

        Raises
        ------
        StreamFailed
            The file exists (and ``overwrite`` is false) or cannot be written.
        """
        if path is not None:
            try:
                self.writer = CaptureWriter(path, header, clock=clock, overwrite=overwrite)
            except FileExistsError:
                raise StreamFailed(f"{path} already exists; choose another file or allow overwriting") from None
            except OSError as exc:
                raise StreamFailed(f"cannot write the capture {path}: {exc.strerror or exc}") from None
            header = self.writer.header
        self.header = header
        early, self._early = self._early, []
        for rec in early:
            self.record(rec)
        return header

    def record(self, rec: CaptureRecord) -> None:
        """Append to the capture, then queue for decoding."""
        if not self.recording:
            if isinstance(rec, CaptureNotification):
                self.stats.dropped_after_stop += 1
            return
        if self.header is None:
            self._early.append(rec)
            return
        writer = self.writer
        if writer is not None:
            try:
                if isinstance(rec, CaptureNotification):
                    writer.write_notification(rec.char_uuid, rec.data, t_s=rec.t_s)
                else:
                    writer.write_event(rec.event, t_s=rec.t_s, **dict(rec.info))
            except CaptureWriteError as exc:
                self.on_error(StreamFailed(f"recording stopped: {exc}"))
                return
        self.queue.put_nowait(rec)

    def log_gap(self, gap: StreamGap) -> None:
        """A ``gap`` line, straight to the file.

        Informational: the decoders find gaps from sample times and ignore these lines, and
        the last gaps are found after recording ends, so they skip the decoder queue.
        """
        writer = self.writer
        if writer is None or writer.closed:
            return
        try:
            writer.write_event(
                "gap", stream=gap.stream, start_s=gap.start_s, end_s=gap.end_s,
                lost_samples=gap.lost_samples, reason=gap.reason,
            )  # fmt: skip
        except CaptureWriteError as exc:
            _log.error("%s", exc)

    def end(self) -> None:
        """No more records: the decoder finishes what is queued.  Idempotent."""
        if self.recording:
            self.recording = False
            self.queue.put_nowait(None)

    def close(self) -> None:
        """Flush, fsync and close the capture."""
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except CaptureWriteError as exc:
                _log.error("%s", exc)


class DecodeWorker:
    """Records in, chunks and gaps out (worker thread; one call at a time).

    Parameters
    ----------
    header : CaptureHeader
        The capture header (session-time origin, stream settings).
    stats : ClientStats
        Counters to update.
    clock_sync : ClockSync
        The device -> host mapping to feed and to map chunks with.
    name : str
        Sensor name, for messages.
    mtu : callable
        Current ATT MTU, for the message when nothing decodes.
    """

    def __init__(
        self, header: CaptureHeader, stats: ClientStats, clock_sync: ClockSync, name: str, mtu: Callable[[], int]
    ) -> None:
        self.decoder = LiveDecoder(header)
        self.origin_s = header.started_host_s or 0.0
        self.stats = stats
        self.clock_sync = clock_sync
        self.name = name
        self.mtu = mtu
        self._bad_run = 0

    def decode(self, batch: list[CaptureRecord]) -> list[ClientItem]:
        """Feed a batch; return its gaps and one chunk of the rows it completed.

        Raises
        ------
        StreamFailed
            :data:`BAD_FRAMES_LIMIT` undecodable data notifications with none decoded.
        """
        items: list[ClientItem] = []
        parts: list[ImuSamples] = []
        received = None
        for rec in batch:
            update = self.decoder.feed(rec)
            if isinstance(rec, CaptureNotification):
                if update.newest_s is not None:
                    self.clock_sync.observe(update.newest_s, rec.t_s)
                    self.stats.decoded_notifications += 1
                    self._bad_run = 0
                elif update.problems:
                    self.stats.undecodable += len(update.problems)
                    self._bad_run += len(update.problems)
                    if self._bad_run >= BAD_FRAMES_LIMIT and self.stats.decoded_notifications == 0:
                        raise StreamFailed(self._bad_frames_message(update.problems[-1].reason))
            items += [StreamGap(g.before_s, g.after_s, g.reason, g.stream, g.lost_samples) for g in update.gaps]
            if update.samples is not None and len(update.samples):
                parts.append(update.samples)
                received = rec.t_s
        if parts and received is not None:
            items.append(self._chunk(parts, received))
        return items

    def finish(self, now_s: float) -> list[ClientItem]:
        """The rows held back for the gyroscope merge, at the end of the session."""
        tail = self.decoder.finish()
        return [] if tail is None or len(tail) == 0 else [self._chunk([tail], now_s)]

    def _chunk(self, parts: list[ImuSamples], received_s: float) -> SampleChunk:
        if len(parts) == 1:
            samples = parts[0]
        else:
            gyr: Any = None if parts[0].gyr_dps is None else np.concatenate([p.gyr_dps for p in parts])
            samples = ImuSamples(
                np.concatenate([p.time_s for p in parts]), np.concatenate([p.acc_g for p in parts]), gyr
            )
        est = self.clock_sync.estimate
        host = est.to_host(samples.time_s) if est is not None else samples.time_s + self.origin_s
        return SampleChunk(samples, received_s, np.asarray(host, dtype=np.float64))

    def _bad_frames_message(self, reason: str) -> str:
        mtu = self.mtu()
        hint = (
            f" The link's ATT MTU is {mtu} bytes, so notifications carry at most {mtu - 3} bytes; the sensor "
            "sends bigger frames. Use an adapter/OS that negotiates a larger MTU."
            if mtu <= 64
            else ""
        )
        return (
            f"{self.name} sends data that cannot be decoded ({BAD_FRAMES_LIMIT} notifications in a row; "
            f"last: {reason}).{hint}"
        )

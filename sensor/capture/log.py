"""Capture log: every raw BLE notification, appended before it is decoded (JSON Lines).

A capture is a text file, one JSON object per line::

    {"hipflex_capture": 1, "device": {"kind": "polar", "model": "H10", "name": "Polar H10 1A2B3C4D",
     "address": "A0:9E:1A:00:00:01", "firmware": "3.1.1"},
     "streams": {"acc": {"sample_rate_hz": 200, "range_g": 8, "resolution_bits": 16, "factor": 1.0}},
     "started_unix_s": 1767225600.25, "started_host_s": 81234.5, "host_clock": "monotonic"}
    {"t": 81234.61, "char": "fb005c82-02e7-f387-1cad-8acd2d8df0c8", "data": "02a0b1...01e8ff"}
    {"t": 81240.02, "event": "disconnected", "reason": "link lost"}

- The **header** is the first line: device identity and the measurement settings the
  decoders need (rates, ranges, resolution, FACTOR, chip).  ``started_host_s`` is the
  host clock (``t``) at ``started_unix_s``, so ``unix = started_unix_s + t - started_host_s``.
- A **notification** line holds the host arrival time ``t`` (seconds, the host clock named
  by ``host_clock``), the characteristic UUID (lower-case, 128-bit) and the value bytes as
  lower-case hex.
- An **event** line holds ``t``, ``event`` (``disconnected``, ``reconnected``,
  ``stream_started``, ``stream_stopped``, ``gap``, ``duplicate``, or a newer kind) and any
  further keys.  ``duplicate`` keeps a notification the client received twice
  (``char_uuid``, ``hex``) without decoding it.

:class:`CaptureWriter` buffers lines in memory and a background thread hands them to the
operating system at least every ``flush_interval_s`` (1 s), so a killed process loses at
most the last second; :meth:`CaptureWriter.close` flushes and fsyncs.  A BLE callback only
appends to the buffer (no disk I/O on the event loop).  A full disk stops the recording
with :class:`CaptureDiskFullError`; everything written before stays readable.

:class:`CaptureReader` yields typed records (:class:`Notification`, :class:`CaptureEvent`).
A last line cut short by a crash is skipped with a logged reason; a corrupt line
elsewhere is skipped, logged and counted (:attr:`CaptureReader.skipped_lines`).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from hipflex.sensor.capture.records import (
    CAPTURE_VERSION,
    DEVICE_KINDS,
    EVENT_KINDS,
    HEADER_KEY,
    STREAM_NAMES,
    CaptureDevice,
    CaptureEvent,
    CaptureFormatError,
    CaptureHeader,
    CaptureProblem,
    CaptureRecord,
    Notification,
    StreamSettings,
    record_from_json,
)
from hipflex.sensor.errors import SensorLayerError

__all__ = [
    "CAPTURE_VERSION",
    "DEVICE_KINDS",
    "EVENT_KINDS",
    "HEADER_KEY",
    "STREAM_NAMES",
    "Capture",
    "CaptureDevice",
    "CaptureDiskFullError",
    "CaptureEvent",
    "CaptureFormatError",
    "CaptureHeader",
    "CaptureProblem",
    "CaptureReader",
    "CaptureRecord",
    "CaptureWriteError",
    "CaptureWriter",
    "Notification",
    "StreamSettings",
    "read_capture",
]

_log = logging.getLogger(__name__)

_RESERVED = frozenset({"t", "event", "char", "data"})
_MAX_LOGGED_PROBLEMS = 20


class CaptureWriteError(SensorLayerError, OSError):
    """Writing the capture failed; what was written before stays in the file."""


class CaptureDiskFullError(CaptureWriteError):
    """The disk filled up (ENOSPC) while writing the capture."""


def _normalise_uuid(char_uuid: str) -> str:
    text = str(char_uuid).strip().lower()
    if not text:
        raise ValueError("char_uuid must not be empty")
    return text


def _dumps(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------- writing


class CaptureWriter:
    """Appends a capture log; safe to call from a BLE callback (no disk I/O there).

    Parameters
    ----------
    path : str or Path
        New file to create (an existing file is refused unless ``overwrite``).
    header : CaptureHeader
        Device and stream settings; ``started_unix_s`` / ``started_host_s`` are filled in
        from :func:`time.time` and ``clock`` when ``None``.
    flush_interval_s : float
        Buffered lines reach the operating system at least this often, seconds.  A killed
        process loses at most this much; a power cut may lose more (only :meth:`close`
        fsyncs).
    clock : callable
        Host clock for records written without ``t_s`` (default :func:`time.monotonic`).
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    FileExistsError
        The file exists and ``overwrite`` is false.
    CaptureWriteError
        The header cannot be written.

    Notes
    -----
    Methods are thread-safe.  After a write error every later call raises it again;
    :meth:`close` still closes the file.  Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        header: CaptureHeader,
        *,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        overwrite: bool = False,
    ) -> None:
        if not (math.isfinite(flush_interval_s) and flush_interval_s > 0):
            raise ValueError(f"flush_interval_s must be positive, got {flush_interval_s!r}")
        self.path = Path(path)
        self._clock = clock
        self._interval_s = float(flush_interval_s)
        if header.started_unix_s is None or header.started_host_s is None:
            header = replace(
                header,
                started_unix_s=time.time() if header.started_unix_s is None else header.started_unix_s,
                started_host_s=clock() if header.started_host_s is None else header.started_host_s,
            )
        self.header = header
        self._lock = threading.Lock()  # guards the buffer and the counters
        self._io_lock = threading.Lock()  # serialises writes to the file, in order
        self._buffer: list[bytes] = []
        self._error: CaptureWriteError | None = None
        self._error_raised = False  # whether a caller has seen self._error
        self._closed = False
        self.bytes_written = 0  #: bytes handed to the operating system so far
        self.records_written = 0  #: notification and event lines accepted so far
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        self._fd = os.open(self.path, flags | getattr(os, "O_BINARY", 0), 0o644)
        try:
            self._write_chunk(_dumps(header.to_dict()))
        except CaptureWriteError:
            os.close(self._fd)
            raise
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name=f"capture-flush {self.path.name}", daemon=True)
        self._thread.start()

    # -- records

    def now(self) -> float:
        """The writer's host clock, seconds."""
        return float(self._clock())

    def write_notification(
        self, char_uuid: str, data: bytes | bytearray | memoryview, t_s: float | None = None
    ) -> None:
        """Append one notification (call before decoding it).

        Parameters
        ----------
        char_uuid : str
            Characteristic UUID.
        data : bytes-like
            The value as received.
        t_s : float, optional
            Host arrival time, seconds; default now on the writer's clock.
        """
        t = self.now() if t_s is None else float(t_s)
        line = _dumps({"t": t, "char": _normalise_uuid(char_uuid), "data": bytes(data).hex()})
        self._append(line)

    def write_event(self, event: str, t_s: float | None = None, **info: Any) -> None:
        """Append an event line, e.g. ``write_event("disconnected", reason="link lost")``.

        Parameters
        ----------
        event : str
            Kind, see :data:`EVENT_KINDS`.
        t_s : float, optional
            Host time, seconds; default now.
        **info
            Further JSON-serialisable keys (not ``t``, ``event``, ``char``, ``data``).
        """
        if not event or not isinstance(event, str):
            raise ValueError(f"event must be a non-empty string, got {event!r}")
        clash = _RESERVED & set(info)
        if clash:
            raise ValueError(f"event info may not use the reserved key(s) {sorted(clash)}")
        t = self.now() if t_s is None else float(t_s)
        self._append(_dumps({"t": t, "event": event, **info}))

    def _append(self, line: bytes) -> None:
        with self._lock:
            if self._error is not None:
                self._error_raised = True
                raise self._error
            if self._closed:
                raise ValueError(f"capture {self.path} is closed")
            self._buffer.append(line)
            self.records_written += 1

    # -- flushing

    def _write_chunk(self, chunk: bytes) -> None:
        """Write ``chunk`` fully; on failure keep only complete lines and record the error."""
        done = 0
        try:
            while done < len(chunk):
                done += self._os_write(chunk[done:])
        except OSError as exc:
            keep = chunk.rfind(b"\n", 0, done) + 1  # drop a partial line, keep complete ones
            try:
                os.ftruncate(self._fd, self.bytes_written + keep)
            except OSError:
                pass  # the reader skips a cut last line anyway
            self.bytes_written += keep
            if exc.errno == errno.ENOSPC:
                error: CaptureWriteError = CaptureDiskFullError(
                    errno.ENOSPC,
                    f"capture {self.path}: disk full; recording stopped, the {self.bytes_written} bytes "
                    "written before are kept and readable",
                )
            else:
                error = CaptureWriteError(
                    exc.errno,
                    f"capture {self.path}: write failed ({exc.strerror or exc}); recording stopped, the "
                    f"{self.bytes_written} bytes written before are kept",
                )
            with self._lock:
                self._error = error
            _log.error("%s", error)
            raise error from exc
        self.bytes_written += done

    def _os_write(self, data: bytes) -> int:
        return os.write(self._fd, data)

    def flush(self) -> None:
        """Hand every buffered line to the operating system now.

        Raises
        ------
        CaptureWriteError
            Writing failed now or earlier (:class:`CaptureDiskFullError` for a full disk).
        """
        try:
            self._flush()
        except CaptureWriteError:
            self._error_raised = True
            raise

    def _flush(self) -> None:
        with self._io_lock:
            with self._lock:
                if self._error is not None:
                    raise self._error
                chunk = b"".join(self._buffer)
                self._buffer.clear()
            if chunk and self._fd >= 0:
                self._write_chunk(chunk)

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._flush()
            except CaptureWriteError:
                return  # recorded in self._error; raised to the caller on its next call
            except Exception:  # never let the flusher die silently with data pending
                _log.exception("capture %s: unexpected error in the flush thread", self.path)
                return

    def close(self) -> None:
        """Flush, fsync and close.  Idempotent.

        Raises
        ------
        CaptureWriteError
            The last flush failed, or an earlier background flush did and no call has
            raised it yet (the file is closed anyway).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        reported = self._error_raised
        try:
            self.flush()
        except CaptureWriteError:
            if not reported:
                raise
        finally:
            with self._io_lock:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    _log.warning("capture %s: fsync failed (%s)", self.path, exc.strerror or exc)
                os.close(self._fd)
                self._fd = -1

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------- reading


class CaptureReader:
    """Reads a capture lazily: :attr:`header` at once, records by iterating.

    Parameters
    ----------
    path : str or Path
        The capture file.

    Raises
    ------
    CaptureFormatError
        Missing file, empty file, or a first line that is not a capture header.

    Attributes
    ----------
    header : CaptureHeader
        The header line.
    skipped_lines : int
        Corrupt lines skipped so far (a cut last line is not counted, see
        :attr:`truncated_tail`).
    truncated_tail : bool
        True when the last line was cut short (crash while writing) and skipped.
    problems : list of CaptureProblem
        Every skipped line with its reason, the cut tail included.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.skipped_lines = 0
        self.truncated_tail = False
        self.problems: list[CaptureProblem] = []
        try:
            self._fh: IO[bytes] = open(self.path, "rb")
        except FileNotFoundError:
            raise CaptureFormatError(self.path, "no such file") from None
        except OSError as exc:
            raise CaptureFormatError(self.path, f"cannot be opened ({exc.strerror or exc})") from None
        try:
            self.header = self._read_header()
        except BaseException:
            self._fh.close()
            raise
        self._line = 1

    def _read_header(self) -> CaptureHeader:
        first = self._fh.readline()
        if not first.strip():
            raise CaptureFormatError(self.path, "file is empty (no capture header line)")
        try:
            obj = json.loads(first.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise CaptureFormatError(self.path, "line 1 is not a JSON capture header") from None
        if not isinstance(obj, dict) or HEADER_KEY not in obj:
            raise CaptureFormatError(self.path, f"line 1 is not a capture header (no {HEADER_KEY!r} key)")
        try:
            return CaptureHeader.from_dict(obj)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CaptureFormatError(self.path, f"bad capture header: {what}") from None

    def _skip(self, line: int, reason: str, *, tail: bool = False) -> None:
        self.problems.append(CaptureProblem(line, reason))
        if tail:
            self.truncated_tail = True
            _log.info("capture %s: line %d skipped: %s", self.path, line, reason)
            return
        self.skipped_lines += 1
        if self.skipped_lines <= _MAX_LOGGED_PROBLEMS:
            _log.warning("capture %s: line %d skipped: %s", self.path, line, reason)
        elif self.skipped_lines == _MAX_LOGGED_PROBLEMS + 1:
            _log.warning("capture %s: further skipped lines are counted, not logged", self.path)

    def __iter__(self) -> Iterator[CaptureRecord]:
        for raw in self._fh:
            self._line += 1
            line = self._line
            complete = raw.endswith(b"\n")
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                record = record_from_json(obj, line)
            except (UnicodeDecodeError, ValueError) as exc:
                if not complete:
                    self._skip(
                        line, f"last line cut short ({len(raw)} bytes, no newline): crash while writing?", tail=True
                    )
                else:
                    reason = (
                        "not valid JSON" if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError) else str(exc)
                    )
                    self._skip(line, reason)
                continue
            yield record

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True, eq=False)
class Capture:
    """A whole capture in memory.

    Attributes
    ----------
    path : Path or None
        Where it was read from.
    header : CaptureHeader
        The header.
    records : tuple of CaptureRecord
        Notifications and events in file order.
    skipped_lines : int
        Corrupt lines skipped (not counting a cut last line).
    truncated_tail : bool
        True when a cut last line was skipped.
    problems : tuple of CaptureProblem
        Each skipped line and why.
    """

    path: Path | None
    header: CaptureHeader
    records: tuple[CaptureRecord, ...]
    skipped_lines: int = 0
    truncated_tail: bool = False
    problems: tuple[CaptureProblem, ...] = ()

    @property
    def notifications(self) -> tuple[Notification, ...]:
        """Only the notification records."""
        return tuple(r for r in self.records if isinstance(r, Notification))

    @property
    def events(self) -> tuple[CaptureEvent, ...]:
        """Only the event records."""
        return tuple(r for r in self.records if isinstance(r, CaptureEvent))


def read_capture(path: str | Path) -> Capture:
    """Read a whole capture file.

    Raises
    ------
    CaptureFormatError
        Not a capture (see :class:`CaptureReader`).
    """
    with CaptureReader(path) as reader:
        records = tuple(reader)
        return Capture(
            Path(path), reader.header, records, reader.skipped_lines, reader.truncated_tail, tuple(reader.problems)
        )

"""Capture log: round trip, crash safety (SIGKILL, cut last line), corrupt lines, full disk."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hipflex.sensor.capture.log import (
    CaptureDevice,
    CaptureDiskFullError,
    CaptureEvent,
    CaptureFormatError,
    CaptureHeader,
    CaptureReader,
    CaptureWriter,
    Notification,
    StreamSettings,
    read_capture,
)
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.polar.control import PMD_DATA_UUID

DEVICE = CaptureDevice("polar", "Verity Sense", "Polar Sense B5A8C12F", "A0:9E:1A:B5:A8:C1", "2.1.0")
STREAMS = {
    "acc": StreamSettings(52.0, range_g=8, resolution_bits=16, factor=1.0),
    "gyro": StreamSettings(52.0, range_dps=2000, resolution_bits=16, factor=0.5),
}


def header(**kw: object) -> CaptureHeader:
    return CaptureHeader(DEVICE, STREAMS, started_unix_s=1767225600.25, started_host_s=1000.0, **kw)


def write_sample_capture(path: Path, n: int = 20) -> list[Notification | CaptureEvent]:
    """A small capture with explicit times; returns the records written."""
    written: list[Notification | CaptureEvent] = []
    with CaptureWriter(path, header()) as w:
        for i in range(n):
            data = bytes([2, i, 0, 0, 0, 0, 0, 0, 0, 0x81, i ^ 0x5A])
            w.write_notification(PMD_DATA_UUID.upper(), data, t_s=1000.0 + 0.1 * i)
            written.append(Notification(1000.0 + 0.1 * i, PMD_DATA_UUID, data))
            if i == n // 2:
                w.write_event("disconnected", t_s=1000.05 + 0.1 * i, reason="link lost")
                written.append(CaptureEvent(1000.05 + 0.1 * i, "disconnected", {"reason": "link lost"}))
    return written


def same(a: Notification | CaptureEvent, b: Notification | CaptureEvent) -> bool:
    if isinstance(a, Notification):
        return a == b
    assert isinstance(b, CaptureEvent)
    return (a.t_s, a.event, dict(a.info)) == (b.t_s, b.event, dict(b.info))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    written = write_sample_capture(path)
    cap = read_capture(path)
    assert cap.header.to_dict() == header().to_dict()
    assert cap.header.device == DEVICE
    assert dict(cap.header.streams) == STREAMS
    assert len(cap.records) == len(written)
    assert all(same(a, b) for a, b in zip(cap.records, written, strict=True))
    assert cap.skipped_lines == 0 and not cap.truncated_tail and cap.problems == ()
    assert [r.line for r in cap.records][:2] == [2, 3]
    # The documented line layout: a header, then compact objects with lower-case uuid and hex.
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["hipflex_capture"] == 1 and first["streams"]["gyro"]["factor"] == 0.5
    assert json.loads(lines[1]) == {"t": 1000.0, "char": PMD_DATA_UUID, "data": written[0].data.hex()}


def test_writer_fills_in_start_times_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    h = CaptureHeader(DEVICE, {"acc": StreamSettings(200.0)})
    with CaptureWriter(path, h, clock=lambda: 42.0) as w:
        w.write_event("stream_started", stream="acc")
    cap = read_capture(path)
    assert cap.header.started_host_s == 42.0
    assert cap.header.started_unix_s is not None and abs(cap.header.started_unix_s - time.time()) < 60
    assert isinstance(cap.records[0], CaptureEvent) and cap.records[0].t_s == 42.0
    with pytest.raises(FileExistsError):
        CaptureWriter(path, h)
    CaptureWriter(path, h, overwrite=True).close()
    assert read_capture(path).records == ()


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path / "c.jsonl", header()) as w:
        with pytest.raises(ValueError, match="reserved"):
            w.write_event("gap", data="x")
        with pytest.raises(ValueError, match="non-empty"):
            w.write_event("")
    with pytest.raises(ValueError, match="closed"):
        w.write_notification(PMD_DATA_UUID, b"\x00")
    w.close()  # idempotent


def test_flushes_within_the_interval_without_close(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(path, header(), flush_interval_s=0.1)
    try:
        w.write_notification(PMD_DATA_UUID, b"\x02\x01", t_s=1.0)
        deadline = time.monotonic() + 5.0
        while len(path.read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(read_capture(path).records) == 1
    finally:
        w.close()


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from hipflex.sensor.capture.log import CaptureHeader, CaptureWriter, CaptureDevice, StreamSettings
    w = CaptureWriter(sys.argv[1], CaptureHeader(CaptureDevice("polar", "H10"), {"acc": StreamSettings(200.0)}))
    print("ready", flush=True)
    i = 0
    while True:
        w.write_notification("fb005c82-02e7-f387-1cad-8acd2d8df0c8", i.to_bytes(4, "little"))
        i += 1
        time.sleep(0.002)
    """
)


@pytest.mark.slow
def test_survives_sigkill_as_a_prefix_flushed_without_close(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(2.5)  # the scenario: record for a while (flushing without close), then crash
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    cap = read_capture(path)
    seq = [int.from_bytes(r.data, "little") for r in cap.notifications]
    assert len(seq) > 100
    assert seq == list(range(len(seq)))  # a prefix, nothing missing in the middle
    assert cap.skipped_lines == 0
    # How much of the last second is lost is a timing claim: benchmarks/capture_loss.py measures it.


def test_cut_last_line_is_skipped_with_a_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.jsonl"
    written = write_sample_capture(path)
    with open(path, "ab") as fh:
        fh.write(b'{"t":1003.0,"char":"fb005c82-02e7-f387-1cad-8acd2d8df0c8","data":"0201')
    with caplog.at_level(logging.INFO, logger="hipflex.sensor.capture.log"):
        cap = read_capture(path)
    assert len(cap.records) == len(written)
    assert cap.truncated_tail and cap.skipped_lines == 0
    assert len(cap.problems) == 1 and "cut short" in cap.problems[0].reason
    assert "cut short" in caplog.text


def test_corrupt_middle_lines_are_skipped_logged_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.jsonl"
    written = write_sample_capture(path)
    lines = path.read_bytes().split(b"\n")
    bad = [
        b'{"t":1000.01,"char":"fb005c82-02e7-f387-1cad-8acd2d8df0c8","da',  # cut, then more lines
        b"\xff\xfe garbage",
        b'{"t":"soon","event":"gap"}',
        b'{"t":1.0,"char":"x","data":"abc"}',  # odd hex
        b'{"t":1.0}',
        b"[1, 2]",
        lines[0],  # a second header
    ]
    path.write_bytes(b"\n".join([lines[0], lines[1], *bad, *lines[2:]]))
    with caplog.at_level(logging.WARNING, logger="hipflex.sensor.capture.log"):
        cap = read_capture(path)
    assert len(cap.records) == len(written)
    assert all(same(a, b) for a, b in zip(cap.records, written, strict=True))
    assert cap.skipped_lines == len(bad) and not cap.truncated_tail
    assert [p.line for p in cap.problems] == list(range(3, 3 + len(bad)))
    reasons = " | ".join(p.reason for p in cap.problems)
    for word in ("not valid JSON", "'t' is not a finite number", "not valid hex", "no 'char'", "second header"):
        assert word in reasons
    assert caplog.text.count("skipped") == len(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"time_s,acc_x_g\n1,2\n", "not a JSON capture header"),
        (b'{"t": 1.0, "event": "gap"}\n', "not a capture header"),
        (b'{"hipflex_capture": 99, "device": {"kind": "polar"}, "streams": {"acc": {"sample_rate_hz": 1}}}\n',
         "newer"),
        (b'{"hipflex_capture": 1, "device": {"kind": "polar"}, "streams": {"gyro": {"sample_rate_hz": 1}}}\n',
         "needs an 'acc' stream"),
        (b'{"hipflex_capture": 1, "device": {"kind": "polar"}, "streams": {"acc": {"sample_rate_hz": "x"}}}\n',
         "must be a number"),
        (b'{"hipflex_capture": 1, "streams": {"acc": {"sample_rate_hz": 1}}}\n', "missing 'device'"),
    ],
)  # fmt: skip
def test_bad_headers_are_input_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError, match=message) as info:
        CaptureReader(path)
    assert isinstance(info.value, InputError) and str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="no such file"):
        read_capture(tmp_path / "nope.jsonl")


class _FillingWriter(CaptureWriter):
    """A writer whose disk holds ``budget`` more bytes after the header, then reports ENOSPC."""

    budget = 10_000

    def _os_write(self, data: bytes) -> int:
        if not hasattr(self, "_left"):  # the header line
            self._left = self.budget
            return super()._os_write(data)
        if self._left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = super()._os_write(data[: self._left])
        self._left -= n
        return n


def test_disk_full_keeps_what_was_written_and_raises_clearly(tmp_path: Path) -> None:
    path = tmp_path / "full.jsonl"
    w = _FillingWriter(path, header(), flush_interval_s=60.0)
    for i in range(20):
        w.write_notification(PMD_DATA_UUID, bytes(40), t_s=float(i))
    w.flush()  # about 2.7 kB: fits
    for i in range(20, 200):
        w.write_notification(PMD_DATA_UUID, bytes(40), t_s=float(i))
    with pytest.raises(CaptureDiskFullError, match="disk full") as info:
        w.flush()
    assert info.value.errno == errno.ENOSPC
    assert "kept" in str(info.value) and str(path) in str(info.value)
    with pytest.raises(CaptureDiskFullError):
        w.write_notification(PMD_DATA_UUID, b"\x00")
    w.close()  # already reported: closing does not raise again
    cap = read_capture(path)
    assert cap.skipped_lines == 0 and not cap.truncated_tail  # the partial line was cut off
    ts = [r.t_s for r in cap.records]
    assert ts == [float(i) for i in range(len(ts))] and 20 < len(ts) < 200
    assert path.stat().st_size == w.bytes_written <= len(path.read_bytes())


def test_disk_full_in_the_background_is_raised_by_close(tmp_path: Path) -> None:
    path = tmp_path / "full.jsonl"

    class Full(_FillingWriter):
        budget = 0

    w = Full(path, header(), flush_interval_s=0.05)
    w.write_notification(PMD_DATA_UUID, bytes(40), t_s=0.0)
    deadline = time.monotonic() + 5.0
    while w._error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(CaptureDiskFullError):
        w.close()
    assert read_capture(path).records == ()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_dev_full_header_write_fails_clearly() -> None:
    with pytest.raises(CaptureDiskFullError, match="disk full"):
        CaptureWriter("/dev/full", header(), overwrite=True)

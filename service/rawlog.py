"""A session's raw sample log: every chunk, appended before it is analysed.

The log is a plain hipflex CSV file (``time_s,acc_x_g,acc_y_g,acc_z_g`` and,
with a gyro, ``gyro_x_dps,gyro_y_dps,gyro_z_dps``), written with the shortest
exact decimal form of every value, so ``hipflex analyze`` on the log sees
exactly the samples the live pipeline saw.  A lost row has empty value
fields, as everywhere in hipflex.

Every chunk is written and flushed to the operating system before it is
analysed, so a killed server loses nothing; :meth:`SampleLog.append` also
calls ``fsync`` at most every ``sync_interval_s`` (1 s), which bounds what a
power cut can lose.  A log cut short mid-line by a crash is repaired by
:func:`repair_log` (the partial last line is dropped) before it is read.

Raw BLE notifications (bytes, before decoding) are the business of the
sensor layer's capture log; this log holds decoded samples from any source.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import IO

import numpy as np

from hipflex.dsp.types import ImuSamples

__all__ = ["SampleLog", "format_rows", "repair_log"]

_HEAD_ACC = "time_s,acc_x_g,acc_y_g,acc_z_g"
_HEAD_GYRO = ",gyro_x_dps,gyro_y_dps,gyro_z_dps"


def format_rows(chunk: ImuSamples) -> str:
    """CSV lines for a chunk (with trailing newline); exact, lost rows have empty values."""
    blocks = [chunk.time_s[:, None], chunk.acc_g]
    if chunk.gyr_dps is not None:
        blocks.append(chunk.gyr_dps)
    table = np.hstack(blocks).tolist()
    width = len(table[0]) - 1 if table else 0
    empty = "," * width
    out: list[str] = []
    for row in table:
        vals = row[1:]
        if any(math.isnan(v) for v in vals):
            out.append(repr(row[0]) + empty)
        else:
            out.append(",".join(map(repr, row)))
    out.append("")
    return "\n".join(out)


class SampleLog:
    """Append-only raw sample log of one session.

    Parameters
    ----------
    path : Path
        The CSV file; created (with its folder) if missing, appended to if not.
    has_gyro : bool
        Whether rows carry gyro columns (fixes the header).
    comments : sequence of str
        Provenance lines written as ``# `` comments when the file is created.
    sync_interval_s : float
        Longest time between ``fsync`` calls, seconds.
    """

    def __init__(
        self,
        path: Path,
        has_gyro: bool,
        comments: tuple[str, ...] = (),
        sync_interval_s: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.has_gyro = has_gyro
        self.sync_interval_s = sync_interval_s
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8", newline="\n")
        if new:
            head = "".join(f"# {c}\n" for c in comments)
            self._fh.write(head + _HEAD_ACC + (_HEAD_GYRO if has_gyro else "") + "\n")
            self._sync()
        self._last_sync = time.monotonic()

    def append(self, chunk: ImuSamples) -> None:
        """Write a chunk and flush it to the operating system (fsync at most every interval)."""
        if self._fh is None:
            raise ValueError(f"sample log {self.path} is closed")
        if chunk.has_gyro != self.has_gyro:
            raise ValueError("chunk gyro columns do not match the log")
        if len(chunk) == 0:
            return
        self._fh.write(format_rows(chunk))
        self._fh.flush()
        self.rows += len(chunk)
        now = time.monotonic()
        if now - self._last_sync >= self.sync_interval_s:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def _sync(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush, fsync and close (idempotent)."""
        if self._fh is not None:
            self._sync()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> SampleLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_log(path: Path) -> int:
    """Drop a partial last line left by a crash; returns the bytes removed."""
    path = Path(path)
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        block = min(size, 1 << 16)
        fh.seek(size - block)
        tail = fh.read(block)
        cut = tail.rfind(b"\n")
        keep = size - block + cut + 1 if cut >= 0 else 0
        fh.truncate(keep)
        return size - keep

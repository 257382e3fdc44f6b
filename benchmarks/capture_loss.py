"""Capture logs under SIGKILL: how much of the last second a killed recorder loses.

A child process writes a PMD-sized notification every 2 ms through
:class:`~hipflex.sensor.capture.log.CaptureWriter` (flushed every ``flush_interval_s``,
1 s) and is killed with SIGKILL after ``--run-s`` seconds; the loss is the time from the
last notification on disk to the kill, on the host's monotonic clock (shared with the
child).  The design bound is one flush interval plus scheduling delay.  The unit test
(``tests/sensor/capture/test_capture.py``) checks what stays true on any machine: the
file is a prefix with nothing missing in the middle and was flushed without ``close``.

    python benchmarks/capture_loss.py --runs 5

The last line is machine-readable: ``capture_loss: max <s> s, median <s> s over <n> kills``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from hipflex.sensor.capture.log import read_capture

_CHILD = textwrap.dedent(
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


def lost_s(path: Path, run_s: float) -> float:
    """Seconds between the last notification on disk and the SIGKILL of its writer."""
    with subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(run_s)  # the scenario: record for a while, then crash
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    return killed_at - read_capture(path).notifications[-1].t_s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="kills")
    parser.add_argument("--run-s", type=float, default=2.5, help="seconds recorded before each kill")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        lost = [lost_s(Path(tmp) / f"kill{i}.jsonl", args.run_s) for i in range(args.runs)]
    for i, s in enumerate(lost):
        print(f"kill {i}: lost {s:.3f} s")
    print(f"capture_loss: max {max(lost):.3f} s, median {statistics.median(lost):.3f} s over {len(lost)} kills")


if __name__ == "__main__":
    main()

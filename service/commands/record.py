"""``hipflex record DEVICE --out FILE.jsonl``: stream a sensor to a capture log with a live rep count.

Connects to the sensor (an address, or part of its name, as ``hipflex scan`` shows it),
streams until ``--duration`` or Ctrl-C, writes every raw notification to the capture log
(JSON Lines, flushed every second) and runs the analysis live.  Ctrl-C stops the streams,
finishes the analysis and closes the log; a second Ctrl-C abandons the clean stop.
The capture replays to the same analysis: ``hipflex analyze FILE.jsonl``.

Only the standard library is imported at module level; bleak, numpy and the core are
imported in :func:`run`.  ``HIPFLEX_BLE_BACKEND`` swaps in emulated sensors
(:mod:`hipflex.sensor.emulate.world`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hipflex.service.commands import Command, UsageError
from hipflex.service.commands.mounting_opts import add_mounting_arguments, mounting_changes

if TYPE_CHECKING:
    import asyncio

    from hipflex.dsp.analysis_settings import Settings

__all__ = ["COMMAND", "LiveDisplay", "add_arguments", "run"]

EPILOG = """\
examples:
  hipflex record "Polar H10" --out session.jsonl            # until Ctrl-C
  hipflex record A0:9E:1A:12:34:56 --out s.jsonl --duration 120 --rate 100
  hipflex record metawear --out s.jsonl --json > analysis.json
  hipflex record "Polar Sense" --out s.jsonl --face-normal-axis +z --sensor-placement lateral --sensor-leg right

exit status: 0 recorded (stopped by --duration or Ctrl-C), 2 bad usage or the sensor
could not be used (no adapter, permission denied, not found, busy, refused to stream),
with one line on stderr saying why; 130 a second Ctrl-C.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex record``."""
    p.add_argument("device", metavar="DEVICE", help="sensor address, or part of its name (see hipflex scan)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.jsonl", help="capture log to write")
    p.add_argument("--duration", type=float, metavar="S", help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument(
        "--rate",
        type=float,
        metavar="HZ",
        help="sample rate: H10 25/50/100/200 (200), Verity Sense 52 or 26-416 in SDK mode (52), "
        "MetaMotion 25-800 (100)",
    )
    p.add_argument("--range-g", type=int, default=8, metavar="G", help="accelerometer range, +/- g (8)")
    p.add_argument("--no-gyro", dest="gyro", action="store_false", help="stream acceleration only")
    p.add_argument("--overwrite", action="store_true", help="replace FILE.jsonl when it exists")
    p.add_argument("--scan-timeout", type=float, default=10.0, metavar="S", help="how long to look for it (10)")
    p.add_argument("--json", action="store_true", help="print the final analysis as one JSON line on stdout")
    add_mounting_arguments(p, "; analyse the capture again with the same options for the same names")


class LiveDisplay:
    """What the terminal shows: a status line redrawn in place on a TTY, one line per event otherwise."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out, self.tty = out, tty
        self.reps = 0
        self.sets = 0
        self.last_peak_deg: float | None = None
        self.gaps = 0
        self.lost_s = 0.0
        self.battery: int | None = None
        self.elapsed_s = 0.0
        self.state = "connecting"

    def _line(self) -> str:
        peak = "" if self.last_peak_deg is None else f"  last {self.last_peak_deg:.0f} deg"
        battery = "" if self.battery is None else f"  battery {self.battery} %"
        gaps = f"  gaps {self.gaps} ({self.lost_s:.1f} s)" if self.gaps else ""
        m, s = divmod(int(self.elapsed_s), 60)
        return f"{self.state} {m:02d}:{s:02d}  reps {self.reps}  sets {self.sets}{peak}{gaps}{battery}"

    def note(self, text: str) -> None:
        """An event worth a line of its own."""
        if self.tty:
            self.out.write("\r\x1b[K" + text + "\n")
            self.refresh()
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def refresh(self) -> None:
        """Redraw the status line (TTY only)."""
        if self.tty:
            self.out.write("\r\x1b[K" + self._line())
            self.out.flush()

    def close(self) -> None:
        """End the status line."""
        if self.tty:
            self.out.write("\r\x1b[K" + self._line() + "\n")
            self.out.flush()

    def rep(self, number: int, set_index: int, peak_deg: float, peak_s: float) -> None:
        """Rep ``number`` (from 1) is complete: count it (a line of its own when not on a terminal)."""
        self.reps, self.sets, self.last_peak_deg = number, set_index + 1, peak_deg
        if not self.tty:
            self.note(f"rep {number}: peak {peak_deg:.1f} deg at {peak_s:.2f} s")

    def finish(self, result: Any) -> None:
        """Count the reps only the end of the stream completed (the last one, often), then end the line.

        Parameters
        ----------
        result : Analysis
            The final analysis; its first :attr:`reps` reps were counted live.
        """
        done = [(s.index, r) for s in result.sets for r in s.reps]
        for number, (set_index, r) in enumerate(done[self.reps :], start=self.reps + 1):
            self.rep(number, set_index, r.peak_flexion_deg, r.peak_s)
        self.close()


def _error(text: str) -> int:
    print(f"hipflex record: {' '.join(str(text).split())}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Record; returns the exit status (see the epilog)."""
    if args.duration is not None and not args.duration > 0:
        raise UsageError("--duration must be positive")
    if args.rate is not None and not 0 < args.rate <= 1000:
        raise UsageError("--rate must be in (0, 1000] Hz")
    if not args.scan_timeout > 0:
        raise UsageError("--scan-timeout must be positive")
    settings = _analysis_settings(args)
    if args.out.exists() and not args.overwrite:
        return _error(f"{args.out} already exists; choose another file or add --overwrite")
    if not args.out.parent.is_dir():
        return _error(f"{args.out}: folder {args.out.parent} does not exist")
    logging.basicConfig(level=logging.WARNING, format="hipflex: %(message)s")
    logging.getLogger("bumble").setLevel(logging.ERROR)  # the emulated link's own chatter
    import asyncio  # here and below, not at the top: every command's module is imported by the CLI

    try:
        return asyncio.run(_record(args, settings))
    except KeyboardInterrupt:
        print("hipflex record: interrupted; the capture log keeps everything up to the last second", file=sys.stderr)
        return 130


def _analysis_settings(args: argparse.Namespace) -> Settings:
    """The live analysis' settings: the defaults with the mounting options (``UsageError`` naming a bad one)."""
    from hipflex.dsp.analysis_settings import Settings

    try:
        return Settings().replace(**mounting_changes(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _analyse_again(args: argparse.Namespace) -> str:
    """The ``hipflex analyze`` command that gives the same result from the capture log."""
    flags = "".join(f" --{name.replace('_', '-')} {value}" for name, value in mounting_changes(args).items())
    return f"hipflex analyze {args.out}{flags}"


async def _record(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from hipflex.sensor.emulate.world import ENV_VAR, ble_world
    from hipflex.sensor.errors import SensorError

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()

    def on_sigint() -> None:
        if stop.is_set() and main is not None:
            main.cancel()  # a second Ctrl-C: give up on the clean stop
        stop.set()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on some platforms
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        async with ble_world(os.environ.get(ENV_VAR), rate_hz=args.rate) as backends:
            return await _session(args, backends, stop, settings)
    except (SensorError, ValueError) as exc:
        kept = ""
        if isinstance(exc, SensorError) and args.out.exists() and args.out.stat().st_size > 0:
            kept = f"; {args.out} keeps what was recorded ({_analyse_again(args)})"
        return _error(f"{exc}{kept}")
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _analysis_ready(ready: asyncio.Future[None], stop: asyncio.Event, display: LiveDisplay) -> bool:
    """Wait for the analysis warm-up before streaming (so the first reps show live); False if Ctrl-C came first.

    The warm-up readies the mode the connected sensor streams (with a gyro or without
    one), known once it is connected: on a fresh install the link waits, connected and
    not yet streaming, through that mode's first-run compilation (a few seconds; the
    other mode's kernels are not compiled).
    """
    import asyncio

    if ready.done():
        return True
    display.state = "preparing"
    display.note("preparing analysis...")
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    display.state = "connecting"
    return ready.done()


async def _session(args: argparse.Namespace, backends: Any, stop: asyncio.Event, settings: Settings) -> int:
    import asyncio
    import time

    from hipflex.dsp.events import CalibratedEvent, RepEvent, SetEvent
    from hipflex.sensor.live.client import Battery, Connected, Disconnected, Reconnecting, SampleChunk, StreamGap
    from hipflex.sensor.live.opener import open_sensor
    from hipflex.sensor.live.scan import find_sensor
    from hipflex.service.live_analysis import LiveAnalysis, warm_up

    display = LiveDisplay(sys.stderr, sys.stderr.isatty())
    clock = backends.clock or time.monotonic
    found = await find_sensor(args.device, args.scan_timeout, backends=backends)
    display.note(f"found {found.info.name} ({found.info.model}, {found.info.address})")
    client = open_sensor(
        found, sample_rate_hz=args.rate, range_g=args.range_g, gyro=args.gyro,
        capture_path=args.out, overwrite=args.overwrite, backends=backends,
    )  # fmt: skip
    analysis = LiveAnalysis(settings, source=str(args.out))
    async with client:
        # Connected: the client knows what the sensor streams (a Polar H10 no gyro, a Verity Sense or a
        # MetaMotion one unless it has none or --no-gyro), so only that mode's kernels are compiled.
        ready = asyncio.wrap_future(warm_up(background=True, announce="hipflex record", gyro=client.has_gyro))
        if not await _analysis_ready(ready, stop, display):
            print(f"hipflex record: interrupted before streaming started; {args.out} holds no samples", file=sys.stderr)
            return 130
        await client.start()
        started = clock()

        async def stopper() -> None:
            while not stop.is_set():
                if args.duration is not None and clock() - started >= args.duration:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):  # not wait_for: it can swallow the cancel at the end
                        await stop.wait()
            display.state = "stopping"
            await client.stop()

        watcher = asyncio.create_task(stopper())
        try:
            async for item in client.samples():
                display.elapsed_s = clock() - started
                if isinstance(item, SampleChunk):
                    for event in await analysis.feed(item.samples):
                        if isinstance(event, RepEvent):
                            r = event.rep
                            display.rep(event.number + 1, event.set_index, r.peak_flexion_deg, r.peak_s)
                        elif isinstance(event, SetEvent):
                            display.sets = event.set.index + 1
                        elif isinstance(event, CalibratedEvent) and event.revised:
                            # The reps that follow restart from 1 and replace those shown so far.
                            display.reps, display.sets = 0, 0
                            display.note("rest pose re-learned at the wait between sets: counting again from the start")
                elif isinstance(item, Connected):
                    display.state = "recording"
                    again = "reconnected to" if item.reconnect else "streaming from"
                    display.note(f"{again} {item.name} (ATT MTU {item.mtu}); Ctrl-C stops")
                elif isinstance(item, Disconnected):
                    display.state = "reconnecting"
                    why = "" if item.reason == "link lost" else f" ({item.reason})"
                    display.note(f"link lost{why}; reconnecting")
                elif isinstance(item, Reconnecting) and item.attempt > 1:
                    display.note(f"reconnect attempt {item.attempt} in {item.delay_s:g} s ({item.last_error})")
                elif isinstance(item, StreamGap):
                    display.gaps += 1
                    display.lost_s += item.duration_s
                    display.note(f"gap in {item.stream}: {item.duration_s:.2f} s ({item.reason})")
                elif isinstance(item, Battery):
                    display.battery = item.pct
                display.refresh()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    if analysis.rows == 0:
        display.close()
        return _error(f"{found.info.name} sent no samples; {args.out} holds what was received")
    result = await analysis.finish()
    display.finish(result)
    s = client.stats
    print(
        f"recorded {args.out}: {result.duration_s:.1f} s at {result.sample_rate_hz:.4g} Hz, {result.rep_count} reps "
        f"in {len(result.sets)} sets, {len(result.quality.gap_list)} gaps ({result.quality.lost_s:.1f} s lost), "
        f"{s.reconnects} reconnects; analyse again with: {_analyse_again(args)}",
        file=sys.stderr,
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
    return 0


COMMAND = Command(
    name="record",
    help="stream a sensor to a capture log with a live rep count (Ctrl-C stops)",
    add_arguments=add_arguments,
    run=run,
    description="Connect to a Polar H10 / Verity Sense or MetaMotion, stream its accelerometer (and gyroscope) "
    "into a capture log, and count reps live. Dropped links are reconnected; the gaps are recorded.",
    epilog=EPILOG,
)

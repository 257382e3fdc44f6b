"""``hipflex demo``: the whole live path on a simulated recording, in one command.

Starts the server on 127.0.0.1 (a temporary database unless ``--db``),
writes a small simulated recording made deterministically by the simulator,
starts a replay session of it through the API (raw log, live DSP, store,
streams), prints the dashboard URL and keeps going, one drill after another,
until Ctrl-C.  The analysis of the recordings' mode (with a gyro, :data:`DEMO_HAS_GYRO`)
is prepared (:func:`prepare_analysis`) while the server starts, and the first session
waits for it.  Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hipflex.service.commands import Command, UsageError
from hipflex.service.commands.serve import add_server_arguments, build_service_settings

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["COMMAND", "DEMO_DRILLS", "DEMO_HAS_GYRO", "DEMO_SEED", "add_arguments", "make_recording",
           "prepare_analysis", "run"]  # fmt: skip

#: Drills played in turn.
DEMO_DRILLS: tuple[str, ...] = ("ballistic", "hold", "march", "strength", "stride")
#: Seed of the demo recordings (the same recordings on every machine).
DEMO_SEED = 2024
#: The demo recordings have gyro columns: the analysis of that mode only is prepared for them.
DEMO_HAS_GYRO = True

EPILOG = """\
examples:
  hipflex demo                      # then open the printed URL
  hipflex demo --speed 4 --browser  # four times real time, open the dashboard
  hipflex demo --once --speed 50    # one recording, then exit
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex demo``."""
    add_server_arguments(p, db_default="a temporary folder, removed at exit")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed, times real time (1)")
    p.add_argument("--drill", choices=DEMO_DRILLS, help="play only this drill (default: each in turn)")
    p.add_argument("--once", action="store_true", help="exit after one recording")
    p.add_argument("--browser", action="store_true", help="open the dashboard in a web browser")
    p.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser (default)")


def make_recording(folder: Path, drill: str, seed: int = DEMO_SEED) -> Path:
    """Write the demo recording of one drill (plain hipflex CSV, 100 Hz, with gyro); returns its path."""
    from hipflex.sensor.files.csv_io import write_csv
    from hipflex.sensor.sim.simulate import DRILLS, simulate_drill

    path = folder / f"demo-{drill}.csv"
    if not path.exists():
        which = next(d for d in DRILLS if d == drill)
        sim = simulate_drill(which, fs_hz=100.0, has_gyro=DEMO_HAS_GYRO, seed=seed, n_sets=2)
        write_csv(path, sim.samples, comments=[f"hipflex demo recording: simulated {drill}, seed {seed}"])
    return path


def prepare_analysis() -> Future[None]:
    """Compile (or load) the analysis kernels of the demo recordings' mode in the background.

    Only that mode's: the other mode's kernels would be ~3 s more of compiling on a
    fresh install that the demo never runs (benchmarks/README.md, "firstrun25").
    """
    from hipflex.service.live_analysis import warm_up

    return warm_up(background=True, announce="hipflex demo", gyro=DEMO_HAS_GYRO)


def _call(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import urllib.request  # here, not at the top: every command's module is imported by the CLI

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def run(args: argparse.Namespace) -> int:
    """Serve, stream the demo recordings, print the URL; stop cleanly on Ctrl-C."""
    if not 0 < args.speed <= 1000:
        raise UsageError("--speed must be in (0, 1000]")
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="hipflex-demo-")
        args.db = Path(tmp.name) / "hipflex.db"
    settings = build_service_settings(args, "127.0.0.1")

    import logging

    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ready = prepare_analysis()  # while the server starts
    try:
        server = ServerThread(create_app(settings), "127.0.0.1", settings.port, log_level=args.log_level)
    except OSError:
        server = ServerThread(create_app(settings), "127.0.0.1", 0, log_level=args.log_level)
    drills = [args.drill] if args.drill else list(DEMO_DRILLS)
    try:
        server.start()
        url = server.url + "/"
        print(f"hipflex demo: dashboard at {url}", flush=True)
        print(f"  API docs {server.url}/docs, data in {settings.db_path.parent}; Ctrl-C to stop", flush=True)
        if args.browser:
            import webbrowser

            webbrowser.open(url)
        # So the dashboard shows the first recording live, not after a compilation
        # (announced on stderr with progress when the cache is cold).
        ready.result()
        i = 0
        while True:
            drill = drills[i % len(drills)]
            recording = make_recording(settings.capture_dir, drill)
            session = _call(server.url, "POST", "/api/v1/sessions", {
                "source": "replay", "capture_path": str(recording), "speed": args.speed,
                "label": f"demo: {drill}", "side": "left",
            })  # fmt: skip
            print(f"  session {session['id']}: {drill} at {args.speed:g}x", flush=True)
            while session["status"] == "running":
                time.sleep(0.5)
                session = _call(server.url, "GET", f"/api/v1/sessions/{session['id']}")
            print(f"  session {session['id']}: {session['status']}, {session['rep_count']} reps "
                  f"in {session['set_count']} sets", flush=True)  # fmt: skip
            i += 1
            if args.once and i >= 1:
                break
            time.sleep(2.0)
    except KeyboardInterrupt:
        print("hipflex demo: stopping", file=sys.stderr)
    finally:
        server.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0


COMMAND = Command(
    name="demo",
    help="serve the dashboard and stream a simulated session through the live path",
    description="Start the local API on 127.0.0.1 and stream simulated recordings through it until Ctrl-C.",
    add_arguments=add_arguments,
    run=run,
    epilog=EPILOG,
)

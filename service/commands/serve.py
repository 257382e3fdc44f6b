"""``hipflex serve``: run the local API and dashboard.

Only the standard library is imported at module level; FastAPI, uvicorn and
the app are imported in :func:`run`, so ``hipflex analyze`` never pays for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hipflex.service.commands import Command, UsageError
from hipflex.service.commands.mounting_opts import add_mounting_arguments, mounting_changes

if TYPE_CHECKING:
    from hipflex.service.settings import ServiceSettings

__all__ = ["COMMAND", "add_arguments", "add_server_arguments", "build_service_settings", "run"]

EPILOG = """\
examples:
  hipflex serve                                # http://127.0.0.1:8765/, data in ~/.local/share/hipflex
  hipflex serve --port 9000 --db ./hipflex.db
  hipflex serve --host 0.0.0.0                 # other machines: prints a token to use

Device sessions connect to real sensors through the OS's Bluetooth; HIPFLEX_BLE_BACKEND
(e.g. fake:h10 or bumble:all) swaps in emulated ones, as for hipflex scan / record.

Binding to anything but 127.0.0.1/localhost requires a token: --token, $HIPFLEX_TOKEN,
or a generated one printed at start-up.  Clients send 'Authorization: Bearer <token>'
(or ?token= on streams and the dashboard page).  Ctrl-C stops cleanly: running sessions
are finished and stored.  A session interrupted by a crash is recovered from its raw
log at the next start.
"""


def add_server_arguments(
    p: argparse.ArgumentParser, default_port: int = 8765, db_default: str = "the user data folder"
) -> None:
    """Options shared by ``serve`` and ``demo``; ``db_default`` says where the database goes without ``--db``."""
    p.add_argument("--port", type=int, default=default_port, help=f"TCP port, 0 for any free one ({default_port})")
    p.add_argument("--db", type=Path, metavar="PATH", help=f"SQLite database (default: {db_default})")
    p.add_argument("--capture-dir", type=Path, metavar="DIR", help="folder for raw sample logs (beside the db)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex serve``."""
    p.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1); others need a token")
    add_server_arguments(p)
    p.add_argument("--token", default=os.environ.get("HIPFLEX_TOKEN"), help="API token ($HIPFLEX_TOKEN)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow a browser origin besides the server's own (repeatable)")  # fmt: skip
    p.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload to /api/v1/analyze (50)")
    p.add_argument("--replay-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="a folder replay sessions may read besides the capture folder (repeatable)")  # fmt: skip
    add_mounting_arguments(p, "; the default of every session and upload, which may give their own")


def build_service_settings(args: argparse.Namespace, host: str) -> ServiceSettings:
    """Service settings from the options (``UsageError`` when inconsistent)."""
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.emulate.world import ENV_VAR, parse_world
    from hipflex.service.settings import ServiceSettings, default_data_dir

    db = args.db if args.db is not None else default_data_dir() / "hipflex.db"
    capture = args.capture_dir if args.capture_dir is not None else db.parent / "captures"
    ble_backend = os.environ.get(ENV_VAR) or None
    try:
        if ble_backend is not None:
            parse_world(ble_backend)
        return ServiceSettings(
            host=host,
            port=args.port,
            db_path=db.expanduser(),
            capture_dir=capture.expanduser(),
            token=getattr(args, "token", None) or None,
            cors_origins=tuple(getattr(args, "cors_origin", ())),
            max_upload_bytes=int(getattr(args, "max_upload_mb", 50.0) * 1024 * 1024),
            ble_backend=ble_backend,
            replay_dirs=tuple(d.expanduser() for d in getattr(args, "replay_dir", ())) or None,
            analysis=Settings().replace(**mounting_changes(args)),
        ).with_token()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    settings = build_service_settings(args, args.host)

    import logging

    from hipflex.service.app import create_app
    from hipflex.service.datafolder import DatabaseRefused, prepare_data
    from hipflex.service.datalock import DataFolderLocked, DataLock
    from hipflex.service.server import Server, bind_socket, make_config

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Lock and check the data before uvicorn starts, so that refusing is one line, not a start-up traceback.
    lock = DataLock(settings.lock_path, settings.db_path)
    try:
        prepare_data(settings, lock)
    except (DataFolderLocked, DatabaseRefused) as exc:
        print(f"hipflex serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hipflex serve: cannot use {settings.db_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        lock.release()
        print(f"hipflex serve: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{port}/"
    app = create_app(settings, data_lock=lock)

    def announce() -> None:  # once uvicorn listens: a client that reads the URL can connect at once
        print(f"hipflex serving on {url}  (database {settings.db_path})", flush=True)
        if settings.token is not None:
            print(f"token: {settings.token}", flush=True)
            print(f"dashboard: {url}?token={settings.token}", flush=True)

    server = Server(make_config(app, log_level=args.log_level), on_started=announce)
    # Nothing is compiled up front: each live session readies its source's mode at connect
    # (hipflex.service.live), so that the API answers at once and a first run compiles one mode.
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        lock.release()
    if not server.started:
        print("hipflex serve: the server did not start (see the log above)", file=sys.stderr)
        return 1
    print("hipflex: stopped", file=sys.stderr)
    return 0


COMMAND = Command(
    name="serve",
    help="run the local API and dashboard",
    description="Run the local API (/api/v1) and the dashboard on this machine.",
    add_arguments=add_arguments,
    run=run,
    epilog=EPILOG,
)

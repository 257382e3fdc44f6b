"""``hipflex scan``: list nearby supported sensors (Polar H10 / Verity Sense, MetaMotion).

Only the standard library is imported at module level; bleak and the sensor layer are
imported in :func:`run`.  ``HIPFLEX_BLE_BACKEND`` swaps in emulated sensors (see
:mod:`hipflex.sensor.emulate.world`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from hipflex.service.commands import Command, UsageError

__all__ = ["COMMAND", "add_arguments", "format_table", "run"]

EPILOG = """\
examples:
  hipflex scan
  hipflex scan --timeout 10 --no-battery
  hipflex scan --json

exit status: 0 scanned (even when nothing was found), 2 Bluetooth unusable
(no adapter, no permission), with one line on stderr saying why.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``hipflex scan``."""
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="listen this long, seconds (5)")
    p.add_argument(
        "--no-battery",
        dest="battery",
        action="store_false",
        help="do not connect to read battery levels that are not advertised",
    )
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")


def _battery(row: dict[str, Any]) -> str:
    if row["battery_pct"] is not None:
        return f"{row['battery_pct']} %"
    return row.get("battery_note") or "-"  # why it could not be read ("busy (connected elsewhere)"), or not read


def format_table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns: name, address, kind, model, RSSI, battery (or why it is unknown)."""
    head = ("NAME", "ADDRESS", "KIND", "MODEL", "RSSI", "BATTERY")
    cells = [
        (
            r["name"],
            r["address"],
            r["kind"],
            r["model"],
            "-" if r["rssi_dbm"] is None else f"{r['rssi_dbm']} dBm",
            _battery(r),
        )
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in (head, *cells)) for i in range(len(head))]
    return "\n".join("  ".join(str(c[i]).ljust(widths[i]) for i in range(len(head))).rstrip() for c in (head, *cells))


async def _scan(args: argparse.Namespace) -> list[dict[str, Any]]:
    from dataclasses import asdict

    from hipflex.sensor.emulate.world import ENV_VAR, ble_world
    from hipflex.sensor.live.scan import scan_sensors

    async with ble_world(os.environ.get(ENV_VAR)) as backends:
        found = await scan_sensors(args.timeout, backends=backends, read_batteries=args.battery)
    return [asdict(s) for s in found]


def run(args: argparse.Namespace) -> int:
    """Scan, print the table (or JSON); exit 2 with one line when Bluetooth cannot be used."""
    if not 0 < args.timeout <= 120:
        raise UsageError("--timeout must be in (0, 120] seconds")
    from hipflex.sensor.errors import SensorError

    try:
        rows = asyncio.run(_scan(args))
    except (SensorError, ValueError) as exc:
        print(f"hipflex scan: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows))
    elif rows:
        print(format_table(rows))
    else:
        print(
            f"no supported sensor found within {args.timeout:g} s (Polar H10, Verity Sense, MetaMotion); "
            "wake it (strap it on or press its button) and close apps that hold it"
        )
    return 0


COMMAND = Command(
    name="scan",
    help="list nearby Polar and MetaMotion sensors (name, address, kind, RSSI, battery)",
    add_arguments=add_arguments,
    run=run,
    description="Listen for Polar H10 / Verity Sense and MbientLab MetaMotion sensors and list them, strongest "
    "signal first. Battery levels that are not advertised are read over a short connection; when that fails, "
    "the BATTERY column says why (e.g. 'busy (connected elsewhere)').",
    epilog=EPILOG,
)

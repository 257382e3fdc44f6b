"""The mounting options shared by ``analyze``, ``record`` and ``serve``: how the sensor is strapped.

``--face-normal-axis``, ``--sensor-placement`` and ``--sensor-leg`` set the
analysis settings of the same names (naming only, never a count; see
:mod:`hipflex.dsp.mounting_prior`).  Only the standard library is imported, as
every command module must.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = [
    "FACE_NORMAL_CHOICES",
    "MOUNTING_SETTINGS",
    "add_mounting_arguments",
    "join_signed_axis",
    "mounting_changes",
]

#: ``--face-normal-axis`` values (``hipflex.dsp.mounting_prior.FACE_NORMAL_AXES``, kept here so ``--help``
#: needs no numpy; tests/service/test_live_mounting.py checks they agree).
FACE_NORMAL_CHOICES: tuple[str, ...] = ("x", "y", "z", "+x", "+y", "+z", "-x", "-y", "-z")
#: The analysis settings these options set, by option destination.
MOUNTING_SETTINGS: tuple[str, ...] = ("face_normal_axis", "sensor_placement", "sensor_leg")


def add_mounting_arguments(p: argparse.ArgumentParser, scope: str = "") -> None:
    """Declare the three options; ``scope`` ends their help (e.g. what they apply to)."""
    p.add_argument(
        "--face-normal-axis",
        choices=FACE_NORMAL_CHOICES,
        metavar="AXIS",
        help="naming only: the sensor is strapped flat on the thigh and this device axis is normal to its face "
        "(z for Polar Verity Sense / H10 and MetaMotion; +z / -z when that sense points out of the skin); "
        f"names lying and standing drills better, never changes a count{scope}",
    )
    p.add_argument(
        "--sensor-placement",
        choices=("front", "lateral"),
        help="naming only, with --face-normal-axis: the sensor is on the front or the outer side of the thigh",
    )
    p.add_argument(
        "--sensor-leg",
        choices=("right", "left"),
        help="naming only, with a signed --face-normal-axis: the leg the sensor is on (flexion vs extension)",
    )


def mounting_changes(args: argparse.Namespace) -> dict[str, str]:
    """The mounting settings the options gave, by setting name (absent when not given)."""
    return {name: getattr(args, name) for name in MOUNTING_SETTINGS if getattr(args, name, None) is not None}


def join_signed_axis(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--face-normal-axis -x|-y|-z`` joined into one ``--face-normal-axis=-z`` argument.

    argparse reads an argument that starts with a minus as the next option, so
    ``--face-normal-axis -z`` failed with "expected one argument" although
    ``-z`` is one of the choices; only these three values are joined (``-z``
    is no option of any command).
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--face-normal-axis" and i + 1 < len(argv) and argv[i + 1] in ("-x", "-y", "-z"):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out

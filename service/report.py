"""Readable rich tables for an :class:`~hipflex.dsp.types.Analysis` (``hipflex analyze`` without ``--json``).

Imported only when tables are printed; other commands (``demo``) may reuse it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from hipflex.dsp.types import Analysis, RepSet

__all__ = [
    "angle_warning",
    "calibration_hint",
    "gyro_frame_warning",
    "print_analysis",
    "quality_line",
    "stdout_console",
    "summary_line",
]


def stdout_console() -> Console:
    """A console on stdout: the terminal's width (or ``COLUMNS`` when set), else 120 columns for a file or pipe."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return Console(highlight=False)
    return Console(width=120, highlight=False)


def _f(x: float | None, nd: int = 1) -> str:
    if x is None or x != x:  # None or NaN
        return "-"
    return f"{x:.{nd}f}"


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v == v]
    return sum(finite) / len(finite) if finite else None


def summary_line(result: Analysis) -> str:
    """``path: 100 Hz, 93.2 s, gyro+acc; 50 reps in 5 sets``."""
    sets = len(result.sets)
    return (
        f"{result.source}: {result.sample_rate_hz:.4g} Hz, {result.duration_s:.1f} s, "
        f"{result.quality.orientation}; {result.rep_count} rep{'s' if result.rep_count != 1 else ''} "
        f"in {sets} set{'s' if sets != 1 else ''}"
    )


def quality_line(result: Analysis) -> str:
    """Gaps, lost time, clipping, orientation model and calibration in one line."""
    q = result.quality
    calibrated = "not calibrated" if q.calibrated_at_s is None else f"calibrated at {q.calibrated_at_s:.2f} s"
    parts = [
        f"{q.gaps} gap{'s' if q.gaps != 1 else ''} ({q.lost_s:.2f} s lost)",
        f"{q.clipped_samples} clipped samples",
        f"orientation {q.orientation} ({q.angle_model})",
        calibrated,
    ]
    if q.skipped_before_calibration_s > 0:
        parts.append(f"{q.skipped_before_calibration_s:.1f} s skipped before calibration")
    if q.calibration is not None and q.calibration != "quiet window":
        parts.append(f"rest pose from the {q.calibration} ({q.calibration_window_s:g} s)")
    if q.rejections:
        parts.append(f"{len(q.rejections)} rejected candidates")
    if q.rest_mismatch_deg is not None:
        parts.append(f"angle within {q.rest_mismatch_deg:.0f}° of the accelerometer at rest")
    if q.gyro_correction is not None:
        parts.append(f"gyro corrected: {q.gyro_correction}")
    if q.needs_gyro:
        parts.append(f"needs a gyro, not counted: {', '.join(q.needs_gyro)}")
    return "quality: " + ", ".join(parts)


def gyro_frame_warning(result: Analysis) -> str | None:
    """A plain-language line when the gyro turned gravity unlike the accelerometer and no correction fitted."""
    check = result.quality.gyro_frame
    if check is None or check.verdict != "mismatch":
        return None
    return (
        f"warning: the gyro does not turn gravity the way the accelerometer sees it turn ({check.residual_deg:.0f}° "
        f"RMS over a {check.motion_deg:.0f}° motion, no axis mirror, swap or scale fits clearly), so the angles and "
        "possibly the counts are unreliable: check the gyro's axes and unit against the accelerometer's"
    )


def angle_warning(result: Analysis) -> str | None:
    """A plain-language line when the gyro's angle and the accelerometer disagreed at rest."""
    q = result.quality
    if q.angles_reliable or q.rest_mismatch_deg is None:
        return None
    return (
        f"warning: at rest the angle was up to {q.rest_mismatch_deg:.0f}° from what the accelerometer reads, so the "
        "angles (peak, ROM, velocity) are unreliable though the counts may be right: the gyro's turns do not match "
        "its accelerometer (a faulty unit, or a sensor turning in its strap), or lost packets hid a movement"
    )


def calibration_hint(result: Analysis) -> str | None:
    """A plain-language line when the rest pose is uncertain (no still stretch) or nothing could be analysed."""
    q = result.quality
    still_s = result.settings.calib_still_s
    advice = f"stand still for at least {still_s:g} s at the start of a recording"
    if q.calibrated_at_s is None:
        return f"hint: no stretch of {still_s:g} s in the recording to learn the rest pose on, so nothing was analysed"
    if q.calibration == "quietest window":
        motion = "" if q.calibration_motion is None else f" (it moved {q.calibration_motion:.1f}x the stillness limit)"
        return (
            f"hint: the thigh was never still for {still_s:g} s; the rest pose comes from the quietest stretch "
            f"at {q.calibrated_at_s:.1f} s{motion}, so the angles are less certain. Next time, {advice}"
        )
    return None


@dataclass(frozen=True)
class _Column:
    """One table column: its header (name, then unit on a second line) and how soon it is dropped when narrow.

    ``drop_rank`` 0 is never dropped; higher ranks go first when the console is too narrow.
    """

    header: str
    drop_rank: int = 0

    @property
    def label(self) -> str:
        """The header on one line, as a footnote names it."""
        return self.header.replace("\n", " ")


_SET_COLUMNS = (
    _Column("set"),
    _Column("reps"),
    _Column("start\ns", 5),
    _Column("end\ns", 6),
    _Column("cadence\nrpm", 3),
    _Column("vel. loss\n%", 2),
    _Column("mean\npeak °", 1),
    _Column("mean\nROM °"),
    _Column("mean\npeak °/s"),
    _Column("mean\nhold s", 4),
)

_REP_COLUMNS = (
    _Column("set"),
    _Column("rep"),
    _Column("start\ns", 5),
    _Column("peak\ns"),
    _Column("end\ns", 6),
    _Column("peak\n°"),
    _Column("ROM\n°"),
    _Column("rise\ns", 7),
    _Column("peak\n°/s"),
    _Column("mean\n°/s", 8),
    _Column("hold\ns", 4),
    _Column("conf.", 9),
)


def _build(title: str, columns: Sequence[_Column], rows: Sequence[Sequence[str]], keep: Sequence[int]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    for i in keep:
        width = max([len(line) for line in columns[i].header.split("\n")] + [len(row[i]) for row in rows])
        # no_wrap plus a min_width of the widest cell: a number is printed whole or its column is dropped.
        t.add_column(columns[i].header, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        t.add_row(*(row[i] for i in keep))
    return t


def _fitted_table(
    console: Console, title: str, columns: Sequence[_Column], rows: Sequence[Sequence[str]]
) -> tuple[Table, list[str]]:
    """The table with as many columns as fit the console, dropping the least important first.

    Returns the table and the labels of the dropped columns (for a footnote).
    """
    keep = list(range(len(columns)))
    order = sorted((i for i, c in enumerate(columns) if c.drop_rank), key=lambda i: -columns[i].drop_rank)
    dropped: list[str] = []
    wide = console.options.update_width(10_000)
    while True:
        table = _build(title, columns, rows, keep)
        if Measurement.get(console, wide, table).maximum <= console.width or not order:
            return table, dropped
        i = order.pop(0)
        keep.remove(i)
        dropped.append(columns[i].label)


def _set_rows(sets: Sequence[RepSet]) -> list[list[str]]:
    return [
        [
            str(s.index + 1),
            f"{s.rep_count} ({len(s.hidden_peaks_s)} in gaps)" if s.hidden_peaks_s else str(s.rep_count),
            _f(s.start_s, 2),
            _f(s.end_s, 2),
            _f(s.cadence_rpm, 1),
            _f(s.velocity_loss_pct, 1),
            _f(_mean([r.peak_flexion_deg for r in s.reps])),
            _f(_mean([r.rom_deg for r in s.reps])),
            _f(_mean([r.peak_flexion_velocity_dps for r in s.reps]), 0),
            _f(_mean([r.hold_s for r in s.reps]), 2),
        ]
        for s in sets
    ]


def _rep_rows(sets: Sequence[RepSet]) -> list[list[str]]:
    return [
        [
            str(s.index + 1),
            str(r.index + 1),
            _f(r.start_s, 2),
            _f(r.peak_s, 2),
            _f(r.end_s, 2),
            _f(r.peak_flexion_deg),
            _f(r.rom_deg),
            _f(r.flexion_time_s, 3),
            _f(r.peak_flexion_velocity_dps, 0),
            _f(r.mean_flexion_velocity_dps, 0),
            _f(r.hold_s, 2),
            _f(r.confidence, 2),
        ]
        for s in sets
        for r in s.reps
    ]


def _path_lines(path: str, width: int) -> list[str]:
    """``path`` in lines of at most ``width`` characters, broken only after a path separator when it must be.

    A single name longer than the line is folded (nothing else can fit it).
    """
    parts = re.findall(r"[^/\\]*[/\\]|[^/\\]+$", path) or [path]
    lines = [""]
    for part in parts:
        while len(part) > width:  # one name longer than a line
            if lines[-1]:
                lines.append("")
            lines[-1], part = part[:width], part[width:]
            lines.append("")
        if len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return [line for line in lines if line]


def _print_summary(console: Console, result: Analysis) -> None:
    line = summary_line(result)
    if len(line) <= console.width:
        console.print(line, style="bold", markup=False, no_wrap=True)
        return
    # Too long for one line: the path on its own line(s), broken only at separators, then the figures.
    for part in _path_lines(result.source, console.width):
        console.print(part, style="bold", markup=False, no_wrap=True, overflow="fold")
    console.print("  " + line[len(result.source) + 2 :], style="bold", markup=False)


def print_analysis(console: Console, result: Analysis) -> None:
    """Print the summary line, the sets and reps tables and the quality line.

    Sets and reps are numbered from 1 here (the JSON ``index`` fields count from 0).  The set table's
    peak, ROM, velocity and hold are means over the set's reps and say so.  Tables fit the console's
    width without cutting a number: headers put the unit on a second line, and when that is not enough
    the least important columns are left out and a footnote names them.
    """
    _print_summary(console, result)
    if result.sets:
        for title, columns, rows in (("sets", _SET_COLUMNS, _set_rows(result.sets)),
                                     ("reps", _REP_COLUMNS, _rep_rows(result.sets))):  # fmt: skip
            table, dropped = _fitted_table(console, title, columns, rows)
            console.print(table)
            if dropped:
                console.print(
                    f"{title}: left out to fit {console.width} columns: {', '.join(dropped)} (all are in --json)",
                    markup=False,
                )
    else:
        console.print("no reps found", markup=False)
    console.print(quality_line(result), markup=False)
    for note in (gyro_frame_warning(result), angle_warning(result), calibration_hint(result)):
        if note is not None:
            console.print(note, markup=False)
    console.print()

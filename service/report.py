"""Readable rich tables for an :class:`~hipflex.dsp.types.Analysis` (``hipflex analyze`` without ``--json``).

Imported only when tables are printed; other commands (``demo``) may reuse it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console
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
    """A console on stdout: the terminal's width, or 120 columns when stdout is a file or a pipe."""
    if sys.stdout.isatty():
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


def _sets_table(sets: Sequence[RepSet]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, title="sets", title_justify="left", pad_edge=False)
    for name in ("set", "reps", "start s", "end s", "cadence rpm", "vel. loss %", "peak °", "ROM °",
                 "peak °/s", "hold s"):  # fmt: skip
        t.add_column(name, justify="right")
    for s in sets:
        t.add_row(
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
        )
    return t


def _reps_table(sets: Sequence[RepSet]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, title="reps", title_justify="left", pad_edge=False)
    for name in ("set", "rep", "start s", "peak s", "end s", "peak °", "ROM °", "rise s", "peak °/s",
                 "mean °/s", "hold s", "conf."):  # fmt: skip
        t.add_column(name, justify="right")
    for s in sets:
        for r in s.reps:
            t.add_row(
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
            )
    return t


def print_analysis(console: Console, result: Analysis) -> None:
    """Print the summary line, the sets and reps tables and the quality line.

    Sets and reps are numbered from 1 here (the JSON ``index`` fields count from 0).
    """
    console.print(summary_line(result), style="bold", markup=False)
    if result.sets:
        console.print(_sets_table(result.sets))
        console.print(_reps_table(result.sets))
    else:
        console.print("no reps found", markup=False)
    console.print(quality_line(result), markup=False)
    for note in (gyro_frame_warning(result), angle_warning(result), calibration_hint(result)):
        if note is not None:
            console.print(note, markup=False)
    console.print()

"""Pictures of an analysis drawn with matplotlib: the angle trace with sets and reps marked, and per-rep bars.

matplotlib is an optional dependency (``pip install 'hipflex[report]'``): :func:`require_matplotlib`
turns its absence into one clear line.  Figures are built with :class:`matplotlib.figure.Figure`
directly (no pyplot: no global figure registry, no GUI backend, safe off the main thread), and are
rendered as SVG (text as paths, so the picture needs no font on the reader's machine) or PNG.
"""

from __future__ import annotations

import importlib.util
import io
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hipflex.dsp.types import Analysis
from hipflex.service.errors import ServiceLayerError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BARS_SIZE_IN",
    "PLOT_SUFFIXES",
    "TRACE_SIZE_IN",
    "ChartsUnavailable",
    "RepBars",
    "figure_bytes",
    "rep_bars",
    "rep_bars_figure",
    "require_matplotlib",
    "save_trace_plot",
    "trace_figure",
]

#: File suffixes ``--plot`` writes, and the matplotlib format of each.
PLOT_SUFFIXES: dict[str, str] = {".png": "png", ".svg": "svg"}
#: Default figure sizes, inches: wide enough for a laptop screen or half of it.
TRACE_SIZE_IN = (8.0, 3.0)
BARS_SIZE_IN = (8.0, 5.0)
# Colours: the line, the peak markers, the shading of alternate sets, the bars of alternate sets.
_LINE = "#1f4e79"
_PEAK = "#c0392b"
_SET_SHADES = ("#e8f1fa", "#fdf2e3")
_SET_BARS = ("#2e86c1", "#e67e22")
# Rep numbers are written beside the peaks up to this many reps (more would overlap).
_MAX_LABELLED_REPS = 40


class ChartsUnavailable(ServiceLayerError, RuntimeError):
    """matplotlib is not installed; the message says how to install it (one line)."""


def require_matplotlib() -> None:
    """Raise :class:`ChartsUnavailable` unless matplotlib can be imported."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ChartsUnavailable(
            "the charts need matplotlib, which is not installed: pip install 'hipflex[report]' (or matplotlib)"
        )


def trace_figure(
    time_s: np.ndarray,
    angle_deg: np.ndarray,
    analysis: Analysis,
    title: str = "",
    size_in: tuple[float, float] = TRACE_SIZE_IN,
) -> Figure:
    """The flexion angle over time, each set shaded and labelled, each rep's peak marked (and numbered).

    Parameters
    ----------
    time_s : ndarray
        Row times, s (the recording's own time base, as the analysis's times are).
    angle_deg : ndarray
        Flexion angle per row, deg (NaN where unknown: the line breaks there).
    analysis : Analysis
        The analysis of the same rows.
    title : str
        Shown above the chart.
    size_in : (float, float)
        Width and height, inches (fonts keep their size: a narrow figure is for a phone).
    """
    with _rc():
        return _trace_figure(time_s, angle_deg, analysis, title, size_in)


def _trace_figure(
    time_s: np.ndarray, angle_deg: np.ndarray, analysis: Analysis, title: str, size_in: tuple[float, float]
) -> Figure:
    from matplotlib.figure import Figure

    # Every row is given: matplotlib's path simplification (on by default, for SVG too) merges rows closer
    # than a fraction of a pixel and keeps the extremes, so an hour at 100 Hz stays a small file, peaks whole.
    t, deg = np.asarray(time_s, dtype=np.float64), np.asarray(angle_deg, dtype=np.float64)
    fig = Figure(figsize=size_in, layout="constrained")
    ax = fig.add_subplot()
    for s in analysis.sets:
        ax.axvspan(s.start_s, s.end_s, color=_SET_SHADES[s.index % 2], zorder=0, lw=0)
        ax.text((s.start_s + s.end_s) / 2, 1.0, f"set {s.index + 1}", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.plot(t, deg, color=_LINE, lw=0.9, label="flexion angle")
    reps = [r for s in analysis.sets for r in s.reps]
    if reps:
        ax.plot([r.peak_s for r in reps], [r.peak_flexion_deg for r in reps], "v", color=_PEAK, ms=4,
                label="rep peak", zorder=3)  # fmt: skip
    if 0 < len(reps) <= _MAX_LABELLED_REPS:
        for s in analysis.sets:
            for r in s.reps:
                ax.annotate(str(r.index + 1), (r.peak_s, r.peak_flexion_deg), xytext=(0, 5),
                            textcoords="offset points", ha="center", fontsize=7, color=_PEAK)  # fmt: skip
    ax.set_xlabel("time, s")
    ax.set_ylabel("hip flexion, °")
    ax.margins(x=0.01, y=0.12)
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(loc="best", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, loc="left", fontsize=10, pad=14)
    return fig


@dataclass(frozen=True)
class RepBars:
    """Per-rep values for the bar charts, in rep order over the whole recording.

    ``set_number`` and ``rep_number`` count from 1 (as people count).
    """

    set_number: tuple[int, ...]
    rep_number: tuple[int, ...]
    peak_velocity_dps: tuple[float, ...]
    flexion_time_s: tuple[float, ...]
    hold_s: tuple[float, ...]


def rep_bars(analysis: Analysis) -> RepBars:
    """The per-rep values the bar charts show."""
    rows = [(s.index + 1, r.index + 1, r.peak_flexion_velocity_dps, r.flexion_time_s, r.hold_s)
            for s in analysis.sets for r in s.reps]  # fmt: skip
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return RepBars(*(tuple(c) for c in cols))


def rep_bars_figure(analysis: Analysis, title: str = "", size_in: tuple[float, float] = BARS_SIZE_IN) -> Figure:
    """Three bar charts, one bar per rep coloured by set: peak flexion velocity, flexion (rise) time, hold.

    ``size_in`` is the width and height, inches.
    """
    with _rc():
        return _rep_bars_figure(analysis, title, size_in)


def _rep_bars_figure(analysis: Analysis, title: str, size_in: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    bars = rep_bars(analysis)
    n = len(bars.rep_number)
    fig = Figure(figsize=size_in, layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    x = np.arange(n)
    colours = [_SET_BARS[(k - 1) % 2] for k in bars.set_number]
    panels = (
        (bars.peak_velocity_dps, "peak flexion\nvelocity, °/s"),
        (bars.flexion_time_s, "flexion\ntime, s"),
        (bars.hold_s, "hold, s"),
    )
    for ax, (values, label) in zip(axes, panels, strict=True):
        ax.bar(x, np.asarray(values, dtype=np.float64), color=colours, width=0.8)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", lw=0.4, alpha=0.5)
    step = max(1, int(np.ceil(n / (4.0 * size_in[0]))))  # about 4 labels an inch
    axes[-1].set_xticks(x[::step], [str(r) for r in bars.rep_number[::step]], fontsize=7)
    axes[-1].set_xlabel("rep (numbered within its set)")
    if n:
        sets = sorted(set(bars.set_number))
        handles = [Patch(color=_SET_BARS[(k - 1) % 2], label=f"set {k}") for k in sets[:2]]
        if len(sets) > 2:
            handles = [Patch(color=_SET_BARS[0], label="odd sets"), Patch(color=_SET_BARS[1], label="even sets")]
        # Above the top panel, not over its bars.
        axes[0].legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=7,
                       frameon=False, borderaxespad=0.2)  # fmt: skip
    else:
        axes[0].text(0.5, 0.5, "no reps", transform=axes[0].transAxes, ha="center", va="center")
    if title:
        axes[0].set_title(title, loc="left", fontsize=10)
    return fig


def figure_bytes(fig: Figure, fmt: str, dpi: float = 150.0) -> bytes:
    """The figure as ``svg`` or ``png`` bytes (no creation date: the same figure gives the same bytes)."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with _rc():
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def save_trace_plot(path: Path, time_s: np.ndarray, angle_deg: np.ndarray, analysis: Analysis, title: str) -> None:
    """Write the angle-trace picture (``trace_figure``) to ``path``, PNG or SVG by its suffix.

    Raises
    ------
    ValueError
        When the suffix is not one of :data:`PLOT_SUFFIXES`.
    """
    fmt = PLOT_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: a plot is written as {' or '.join(PLOT_SUFFIXES)}, not {path.suffix or 'no suffix'}")
    fig = trace_figure(time_s, angle_deg, analysis, title)
    path.write_bytes(figure_bytes(fig, fmt))


def _rc() -> AbstractContextManager[None]:
    """The rc settings, for building figures (font sizes are read when text is made) and saving them."""
    import matplotlib

    # The hash salt makes SVG ids reproducible (same analysis, same bytes); text as paths needs no font.
    return matplotlib.rc_context({"svg.hashsalt": "hipflex", "svg.fonttype": "path", "font.size": 9.0})

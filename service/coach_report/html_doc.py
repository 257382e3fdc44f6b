"""The report as one self-contained HTML file: styles inline, charts as SVG data URIs, no script, no link.

Opened from a mail attachment on a phone or a laptop without a network it shows everything.  The
page is one column on a phone and puts the left and right sides next to each other from 900 px;
wide tables scroll inside their own box, so the page itself never scrolls sideways.

Numbering is for people: sets and reps count from 1.  Machine-readable ``data-*`` attributes
carry the unrounded values of the asymmetry table and the set rows (for tests and scrapers).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from hipflex.dsp.types import Analysis, RepSet
from hipflex.service.coach_report.asymmetry import MetricRow, compare_sides
from hipflex.service.coach_report.charts import figure_bytes, rep_bars_figure, trace_figure
from hipflex.service.coach_report.inputs import ReportInput

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["render_report"]

# Charts for a phone's width, inches: drawn narrow rather than scaled down, so their text stays readable.
_PHONE_TRACE_IN = (4.2, 2.8)
_PHONE_BARS_IN = (4.2, 4.6)

_CSS = """
:root { --ink: #1b2631; --muted: #5d6d7e; --line: #d5dbe1; --bg: #ffffff; --band: #f4f6f8; --warn: #9a5b00; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 12px; }
h1 { font-size: 1.4rem; margin: 0.2em 0; }
h2 { font-size: 1.15rem; margin: 0.8em 0 0.3em; }
h3 { font-size: 1rem; margin: 0.9em 0 0.3em; }
p.meta { color: var(--muted); margin: 0 0 0.8em; overflow-wrap: anywhere; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr); gap: 16px; }
@media (min-width: 900px) { .sides.two { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); } }
section.input { min-width: 0; border-top: 3px solid var(--line); padding-top: 4px; }
section.input[data-side=left] { border-top-color: #2e86c1; }
section.input[data-side=right] { border-top-color: #e67e22; }
dl.summary { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
th, td { padding: 3px 8px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
table.compare td:first-child { white-space: normal; }
thead th { background: var(--band); font-weight: 600; }
img.chart { display: block; width: 100%; height: auto; margin: 6px 0; }
img.chart.narrow { display: none; }
@media (max-width: 600px) { img.chart.wide { display: none; } img.chart.narrow { display: block; } }
ul.notes { padding-left: 1.2em; margin: 0.3em 0; }
ul.notes li.warning { color: var(--warn); }
section.compare { margin-bottom: 8px; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 24px; }
"""


def _f(x: float | None, nd: int) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.{nd}f}"


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else None


def _best(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def _img(wide: Figure, narrow: Figure, alt: str, test_id: str) -> str:
    """The chart twice: drawn for a laptop and for a phone (readable text on both); CSS shows one."""
    out = []
    for cls, fig in (("wide", wide), ("narrow", narrow)):
        data = base64.b64encode(figure_bytes(fig, "svg")).decode("ascii")
        out.append(f'<img class="chart {cls}" data-testid="{test_id}-{cls}" alt="{escape(alt)}" '
                   f'src="data:image/svg+xml;base64,{data}">')  # fmt: skip
    return "".join(out)


_SET_HEAD = (
    ("set", ""), ("reps", ""), ("start", "s"), ("end", "s"), ("cadence", "rpm"), ("velocity loss", "%"),
    ("mean peak", "°"), ("mean ROM", "°"), ("best peak velocity", "°/s"), ("mean peak velocity", "°/s"),
    ("mean flexion time", "s"), ("mean hold", "s"), ("longest hold", "s"),
)  # fmt: skip


def _set_row(s: RepSet) -> str:
    reps = s.reps
    hidden = f" ({len(s.hidden_peaks_s)} in gaps)" if s.hidden_peaks_s else ""
    cells = [
        str(s.index + 1), f"{s.rep_count}{hidden}", _f(s.start_s, 1), _f(s.end_s, 1), _f(s.cadence_rpm, 1),
        _f(s.velocity_loss_pct, 1), _f(_mean([r.peak_flexion_deg for r in reps]), 1),
        _f(_mean([r.rom_deg for r in reps]), 1), _f(_best([r.peak_flexion_velocity_dps for r in reps]), 0),
        _f(_mean([r.peak_flexion_velocity_dps for r in reps]), 0), _f(_mean([r.flexion_time_s for r in reps]), 3),
        _f(_mean([r.hold_s for r in reps]), 2), _f(_best([r.hold_s for r in reps]), 2),
    ]  # fmt: skip
    tds = "".join(f"<td>{escape(c)}</td>" for c in cells)
    return f'<tr data-set-number="{s.index + 1}" data-rep-count="{s.rep_count}">{tds}</tr>'


def _sets_table(analysis: Analysis) -> str:
    if not analysis.sets:
        return '<p data-testid="no-reps">No reps found.</p>'
    head = "".join(f"<th>{escape(n)}{'<br>' + escape(u) if u else ''}</th>" for n, u in _SET_HEAD)
    rows = "".join(_set_row(s) for s in analysis.sets)
    return (f'<div class="scroll"><table data-testid="sets"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")  # fmt: skip


def _notes(analysis: Analysis) -> list[tuple[str, str]]:
    """(class, text) of the quality notes: the quality line, then warnings and hints that apply."""
    from hipflex.service.report import angle_warning, calibration_hint, gyro_frame_warning, quality_line

    notes = [("", quality_line(analysis).removeprefix("quality: "))]
    for note in (gyro_frame_warning(analysis), angle_warning(analysis), calibration_hint(analysis)):
        if note is not None:
            notes.append(("warning", note))
    return notes


def _summary(item: ReportInput) -> str:
    a = item.analysis
    rows = [
        ("source", item.name if item.kind == "file" else f"stored session {item.name}"),
        ("side", item.side or "not given"),
        ("recording", f"{a.duration_s:.1f} s at {a.sample_rate_hz:.4g} Hz, {a.quality.orientation}"),
        ("reps", f"{a.rep_count} in {len(a.sets)} set{'s' if len(a.sets) != 1 else ''}"),
    ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="summary" data-testid="summary">{body}</dl>'


def _input_section(item: ReportInput) -> str:
    a = item.analysis
    heading = f"{item.side.capitalize()}: {item.title}" if item.side else item.title
    trace = (trace_figure(item.time_s, item.angle_deg, a),
             trace_figure(item.time_s, item.angle_deg, a, size_in=_PHONE_TRACE_IN))  # fmt: skip
    bars = rep_bars_figure(a), rep_bars_figure(a, size_in=_PHONE_BARS_IN)
    notes = "".join(f'<li class="{c}">{escape(t)}</li>' if c else f"<li>{escape(t)}</li>" for c, t in _notes(a))
    side = f' data-side="{item.side}"' if item.side else ""
    return (
        f'<section class="input" data-testid="input"{side} data-rep-count="{a.rep_count}" '
        f'data-set-count="{len(a.sets)}">'
        f"<h2>{escape(heading)}</h2>{_summary(item)}"
        f"<h3>Sets</h3>{_sets_table(a)}"
        f"<h3>Angle trace</h3>"
        + _img(*trace, f"hip flexion angle over time of {item.title}, sets shaded, rep peaks marked", "trace")
        + "<h3>Per rep: peak velocity, flexion time, hold</h3>"
        + _img(*bars, f"per-rep peak flexion velocity, flexion time and hold of {item.title}", "rep-bars")
        + f'<h3>Quality notes</h3><ul class="notes" data-testid="notes">{notes}</ul></section>'
    )


def _asymmetry_table(left: ReportInput, right: ReportInput, rows: list[MetricRow]) -> str:
    body = []
    for r in rows:
        m = r.metric
        unit = f" ({m.unit})" if m.unit else ""
        ai = "" if r.asymmetry_pct is None else f' data-asymmetry-pct="{r.asymmetry_pct!r}"'
        body.append(
            f'<tr data-metric="{m.key}"{ai}><td>{escape(m.label + unit)}</td><td>{_f(r.left, m.decimals)}</td>'
            f"<td>{_f(r.right, m.decimals)}</td><td>{_f(r.asymmetry_pct, 1)}</td></tr>"
        )
    return (
        '<section class="compare" data-testid="asymmetry"><h2>Left and right</h2>'
        f'<p class="meta">Left: {escape(left.title)} · right: {escape(right.title)}. Asymmetry index = '
        "|L − R| / mean of L and R, in %; means over every rep.</p>"
        '<div class="scroll"><table class="compare"><thead><tr><th>metric</th><th>left</th><th>right</th>'
        f"<th>asymmetry %</th></tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def render_report(
    items: Sequence[ReportInput], pair: tuple[ReportInput, ReportInput] | None, version: str, title: str = ""
) -> str:
    """The whole HTML document.

    Parameters
    ----------
    items : sequence of ReportInput
        The inputs in the order shown (a compared pair first: left, right).
    pair : (left, right) or None
        Compared side by side with the asymmetry table.
    version : str
        hipflex's version, in the footer.
    title : str
        The report's heading (default: "Hip-flexion report").
    """
    heading = title or "Hip-flexion report"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    names = ", ".join(i.title for i in items)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta">{escape(names)} · made {made} with hipflex {escape(version)}. Sets and reps count '
        "from 1; times are the recording's own, in s.</p>",
    ]
    if pair is not None:
        parts.append(_asymmetry_table(pair[0], pair[1], compare_sides(pair[0].analysis, pair[1].analysis)))
        rest = [i for i in items if i is not pair[0] and i is not pair[1]]
        parts.append(f'<div class="sides two">{_input_section(pair[0])}{_input_section(pair[1])}</div>')
    else:
        rest = list(items)
    if rest:
        parts.append('<div class="sides">' + "".join(_input_section(i) for i in rest) + "</div>")
    parts.append(
        "<footer>Angles are hip flexion of the thigh from its rest pose. Peak velocity is the fastest flexion "
        "between a rep's start and its peak; flexion time is the time from 10 % to 90 % of the rise; hold is "
        "the time the thigh stays near its peak angle."
        "</footer></main></body></html>"
    )
    return "\n".join(parts) + "\n"

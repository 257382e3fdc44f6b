"""The analysis contract's invariants as code.

Every rep and set the core emits satisfies these, whatever the input
(README, "The analysis contract"):

* ``order``: ``start_s < peak_s <= end_s``;
* ``rom``: ``rom_deg >= min_rom_deg``;
* ``flexion_time``: ``0 < flexion_time_s < peak_s - start_s`` (the 10-90 %
  time lies inside the rise);
* ``peak_velocity``: ``peak_flexion_velocity_dps > 0``;
* ``mean_velocity``: ``mean_flexion_velocity_dps`` is a number (finite);
* ``finite``: every number of a rep is finite; a set's ``cadence_rpm`` is
  either finite or ``None`` (the explicit null: fewer than two peaks);
* ``after_peak``: a rep starts after the previous rep's peak;
* ``set_order``: reps in a set are in time order, and the set's span
  contains theirs;
* ``set_overlap``: sets do not overlap, and are in time order.

:func:`rep_violations` checks one rep (and its predecessor), as the pipeline
does when a rep is emitted; :func:`violations` checks a whole
:class:`~hipflex.dsp.types.Analysis`.  The pipeline uses the first as a
safety net: a rep that breaks the contract never reaches the user, it
becomes a rejected candidate with reason ``contract:<kind>`` and a logged
warning.  The property tests check that the core produces none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hipflex.dsp.types import Analysis, Rep, RepSet

__all__ = ["CONTRACT_REASON_PREFIX", "Violation", "rep_violations", "set_violations", "violations"]

#: Prefix of the ``Rejection.reason`` of a rep the safety net withheld.
CONTRACT_REASON_PREFIX = "contract:"

_REP_NUMBERS = (
    "start_s",
    "peak_s",
    "end_s",
    "peak_flexion_deg",
    "rom_deg",
    "flexion_time_s",
    "peak_flexion_velocity_dps",
    "mean_flexion_velocity_dps",
    "hold_s",
    "confidence",
)


@dataclass(frozen=True)
class Violation:
    """One broken invariant.

    Attributes
    ----------
    kind : str
        Which invariant (``order``, ``rom``, ``flexion_time``, ``peak_velocity``,
        ``mean_velocity``, ``finite``, ``after_peak``, ``set_order``,
        ``set_overlap``).
    where : str
        The set and rep it was found in, e.g. ``set 1 rep 4``.
    detail : str
        The values that break it.
    """

    kind: str
    where: str
    detail: str


def rep_violations(rep: Rep, min_rom_deg: float, prev_peak_s: float | None = None, where: str = "") -> list[Violation]:
    """The invariants one rep breaks, in a fixed order (empty if none).

    Parameters
    ----------
    rep : Rep
    min_rom_deg : float
        The setting the rep was detected with, deg.
    prev_peak_s : float, optional
        Peak time of the rep before it (in any set), s.
    where : str
        Label for the violations.
    """
    r = rep
    # The common case in one expression: a sum of numbers is finite only when
    # every one of them is, and then the comparisons below are the checks
    # that follow, all passing.  Anything else takes the itemised path.
    total = (
        r.start_s
        + r.peak_s
        + r.end_s
        + r.peak_flexion_deg
        + r.rom_deg
        + r.flexion_time_s
        + r.peak_flexion_velocity_dps
        + r.mean_flexion_velocity_dps
        + r.hold_s
        + r.confidence
    )
    if (
        math.isfinite(total)
        and r.start_s < r.peak_s <= r.end_s
        and r.rom_deg >= min_rom_deg
        and 0.0 < r.flexion_time_s < r.peak_s - r.start_s
        and r.peak_flexion_velocity_dps > 0.0
        and (prev_peak_s is None or r.start_s > prev_peak_s)
    ):
        return []
    out: list[Violation] = []

    def bad(kind: str, detail: str) -> None:
        out.append(Violation(kind, where, detail))

    nonfinite = [n for n in _REP_NUMBERS if not math.isfinite(float(getattr(rep, n)))]
    # mean velocity has its own invariant; the others are "finite".
    if any(n != "mean_flexion_velocity_dps" for n in nonfinite):
        bad("finite", "not finite: " + ", ".join(n for n in nonfinite if n != "mean_flexion_velocity_dps"))
    if not math.isfinite(rep.mean_flexion_velocity_dps):
        bad("mean_velocity", f"mean_flexion_velocity_dps={rep.mean_flexion_velocity_dps}")
    if not (rep.start_s < rep.peak_s <= rep.end_s):
        bad("order", f"start_s={rep.start_s} peak_s={rep.peak_s} end_s={rep.end_s}")
    if not rep.rom_deg >= min_rom_deg:
        bad("rom", f"rom_deg={rep.rom_deg} < min_rom_deg={min_rom_deg}")
    rise_s = rep.peak_s - rep.start_s
    if not (0.0 < rep.flexion_time_s < rise_s):
        bad("flexion_time", f"flexion_time_s={rep.flexion_time_s}, rise {rise_s} s")
    if not rep.peak_flexion_velocity_dps > 0.0:
        bad("peak_velocity", f"peak_flexion_velocity_dps={rep.peak_flexion_velocity_dps}")
    if prev_peak_s is not None and not rep.start_s > prev_peak_s:
        bad("after_peak", f"start_s={rep.start_s} <= previous peak_s={prev_peak_s}")
    return out


def set_violations(rep_set: RepSet, prev_end_s: float | None = None, where: str = "") -> list[Violation]:
    """The set-level invariants ``rep_set`` breaks (its reps' own fields are not checked here).

    Parameters
    ----------
    rep_set : RepSet
    prev_end_s : float, optional
        End of the set before it, s.
    where : str
        Label for the violations.
    """
    out: list[Violation] = []
    s = rep_set
    if not (math.isfinite(s.start_s) and math.isfinite(s.end_s) and math.isfinite(s.velocity_loss_pct)):
        out.append(Violation("finite", where, f"start_s={s.start_s} end_s={s.end_s} loss={s.velocity_loss_pct}"))
    if s.cadence_rpm is not None and not (math.isfinite(s.cadence_rpm) and s.cadence_rpm > 0.0):
        out.append(Violation("finite", where, f"cadence_rpm={s.cadence_rpm}"))
    if any(not math.isfinite(t) for t in s.hidden_peaks_s):
        out.append(Violation("finite", where, "hidden peak not finite"))
    for i, r in enumerate(s.reps):
        if r.index != i or not (s.start_s <= r.start_s and r.end_s <= s.end_s):
            out.append(Violation("set_order", where, f"rep {i} (index {r.index}) {r.start_s}..{r.end_s} outside"))
        if i and not r.start_s >= s.reps[i - 1].start_s:
            out.append(Violation("set_order", where, f"rep {i} starts before rep {i - 1}"))
    if not s.reps:
        out.append(Violation("set_order", where, "empty set"))
    if prev_end_s is not None and not s.start_s > prev_end_s:
        out.append(Violation("set_overlap", where, f"start_s={s.start_s} <= previous set's end_s={prev_end_s}"))
    return out


def violations(analysis: Analysis) -> list[Violation]:
    """Every invariant the reps and sets of ``analysis`` break (empty if none)."""
    out: list[Violation] = []
    min_rom = analysis.settings.min_rom_deg
    prev_peak: float | None = None
    prev_end: float | None = None
    for si, s in enumerate(analysis.sets):
        out += set_violations(s, prev_end, f"set {si}")
        prev_end = s.end_s
        for ri, r in enumerate(s.reps):
            out += rep_violations(r, min_rom, prev_peak, f"set {si} rep {ri}")
            prev_peak = r.peak_s
    return out

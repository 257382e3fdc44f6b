"""Kernel event rows to typed events: reps counted into sets, peaks, gaps and rejections.

The main-loop kernel (:mod:`hipflex.dsp._kern_run`) reports what it found
as rows of floats (layout in :mod:`hipflex.dsp._layout`); this turns them
into the public events (:mod:`hipflex.dsp.events`) and the results the
stream state accumulates.  Every rep passes through the walking classifier
(:mod:`hipflex.dsp.gait`) first and the analysis contract's check
(:mod:`hipflex.dsp.contract`) last.  Describing the sets it closes is the
pipeline's (it needs the lever sums and the calibration).

Its cost is per rep (a few microseconds: one rep every ~600 rows at 200 Hz),
so the objects are built the cheap way (see :func:`_rep`).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.contract import CONTRACT_REASON_PREFIX, Violation, rep_violations
from hipflex.dsp.events import Event, GapEvent, RejectionEvent, RepEvent, RepPeakEvent, SetEvent
from hipflex.dsp.gait import feed_candidate, feed_rep, flush
from hipflex.dsp.sets import make_set
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.types import Gap, Rejection, Rep

__all__ = ["absorb_rows"]

_REASONS = {
    L.REJ_ROM: "rom_below_min",
    L.REJ_GAP: "gap",
    L.REJ_TOO_LONG: "too_long",
    L.REJ_UNFINISHED: "unfinished",
    L.REJ_RESTED: "rested",
}
_log = logging.getLogger(__name__)
_new = object.__new__
_EV_REP = float(L.EV_REP)
_EV_PEAK = float(L.EV_PEAK)
# The columns of a rep row in the order of Rep's fields after ``index``, then the heel strike.
_REP_COLS = (
    L.E_START,
    L.E_PEAK_T,
    L.E_END,
    L.E_PEAK_DEG,
    L.E_ROM,
    L.E_FLEX_T,
    L.E_PEAK_VEL,
    L.E_MEAN_VEL,
    L.E_HOLD,
    L.E_CONF,
    L.E_STRIKE_G,
)
_PEAK_COLS = (L.EP_T, L.EP_PEAK_DEG, L.EP_ROM)


def _self_consistent(rep_rows: np.ndarray, min_rom_deg: float) -> np.ndarray:
    """For each rep row, whether :func:`~hipflex.dsp.contract.rep_violations` finds nothing in its own fields.

    The same expression as that function's common case, over all rows at
    once (element by element, in the same order, so to the bit): the sum of
    the ten numbers is finite and their order, rise and speeds are a rep's.
    Only the start after the previous rep's peak is left to test per rep.
    """
    if rep_rows.shape[0] == 0:
        return np.zeros(0, dtype=bool)  # without the error-state switch (a live step with no rep)
    c = rep_rows.T
    start, peak, end = c[L.E_START], c[L.E_PEAK_T], c[L.E_END]
    flex = c[L.E_FLEX_T]
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: the contract's nets catch them
        total = (
            start
            + peak
            + end
            + c[L.E_PEAK_DEG]
            + c[L.E_ROM]
            + flex
            + c[L.E_PEAK_VEL]
            + c[L.E_MEAN_VEL]
            + c[L.E_HOLD]
            + c[L.E_CONF]
        )
        return (
            np.isfinite(total)
            & (start < peak)
            & (peak <= end)
            & (c[L.E_ROM] >= min_rom_deg)
            & (flex > 0.0)
            & (flex < peak - start)
            & (c[L.E_PEAK_VEL] > 0.0)
        )


def _rep(
    index: int,
    start_s: float,
    peak_s: float,
    end_s: float,
    peak_flexion_deg: float,
    rom_deg: float,
    flexion_time_s: float,
    peak_flexion_velocity_dps: float,
    mean_flexion_velocity_dps: float,
    hold_s: float,
    confidence: float,
) -> Rep:
    """``Rep(index, start_s, ...)``, built at half the cost.

    A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__`` (a global lookup and a call per field, ~1.2 us for
    a rep's eleven); filling the new instance's ``__dict__`` in one call
    gives the same object (equal, same fields, still frozen) in half that.
    The rep and peak events are built the same way (:func:`_rep_event`,
    :func:`_peak_event`).
    """
    rep = _new(Rep)
    rep.__dict__.update(
        index=index,
        start_s=start_s,
        peak_s=peak_s,
        end_s=end_s,
        peak_flexion_deg=peak_flexion_deg,
        rom_deg=rom_deg,
        flexion_time_s=flexion_time_s,
        peak_flexion_velocity_dps=peak_flexion_velocity_dps,
        mean_flexion_velocity_dps=mean_flexion_velocity_dps,
        hold_s=hold_s,
        confidence=confidence,
    )
    return rep


def _rep_event(number: int, set_index: int, rep: Rep) -> RepEvent:
    """``RepEvent(number, set_index, rep)``, filled through its ``__dict__`` as :func:`_rep` is.

    (The dict each such instance carries made the collector's passes come
    sooner, which once cost more than the construction saved; a whole
    analysis now runs with the collector paused, ``dsp/_gc_pause.py``.)
    """
    e = _new(RepEvent)
    e.__dict__.update(number=number, set_index=set_index, rep=rep, late=False)
    return e


def _peak_event(number: int, peak_s: float, peak_flexion_deg: float, rom_deg: float) -> RepPeakEvent:
    """``RepPeakEvent(number, peak_s, peak_flexion_deg, rom_deg)``, filled through its ``__dict__``."""
    e = _new(RepPeakEvent)
    e.__dict__.update(number=number, peak_s=peak_s, peak_flexion_deg=peak_flexion_deg, rom_deg=rom_deg)
    return e


def _with_index(rep: Rep, index: int) -> Rep:
    """``rep`` at position ``index`` of its set (``dataclasses.replace`` costs several times more per rep)."""
    return _rep(
        index,
        rep.start_s,
        rep.peak_s,
        rep.end_s,
        rep.peak_flexion_deg,
        rep.rom_deg,
        rep.flexion_time_s,
        rep.peak_flexion_velocity_dps,
        rep.mean_flexion_velocity_dps,
        rep.hold_s,
        rep.confidence,
    )


def absorb_rows(
    settings: Settings,
    state: StreamState,
    rows: np.ndarray,
    events: list[Event],
    at_end: bool = False,
    set_at: list[int] | None = None,
) -> StreamState:
    """Turn kernel event rows into typed events (appended to ``events``) and accumulate results.

    Every rep passes through the walking classifier (:mod:`hipflex.dsp.gait`)
    first: it is counted once that knows it is not a walking step, which for
    a swing that could be one is up to ``gait_min_strides - 1`` swings later;
    ``at_end`` releases what it still holds.  A rep that starts
    ``settings.set_gap_s`` or more after the open set's last rep closes that
    set: its :class:`SetEvent` and the state's ``closed_sets`` carry it
    without a description (the caller describes it).

    Parameters
    ----------
    settings : Settings
    state : StreamState
        Not modified.
    rows : ndarray, shape (k, EV_N)
        The kernel's event rows, in time order.
    events : list of Event
        Appended to.
    at_end : bool
        The stream ends: the walking classifier releases what it holds.
    set_at : list of int, optional
        Appended with the position in ``events`` of each :class:`SetEvent`
        added (so the caller finds them without testing every event).

    Returns
    -------
    StreamState
        ``state`` with the reps, sets, gaps, rejections and walking
        classifier's state updated.
    """
    if rows.shape[0] == 0 and not at_end:
        return state  # most live steps
    n_reps = state.n_reps
    closed = list(state.closed_sets)
    open_reps = list(state.open_reps)
    gaps = list(state.gaps)
    rejections = list(state.rejections)
    gait = state.gait
    set_gap_s = settings.set_gap_s
    min_rom_deg = settings.min_rom_deg

    checked: Rep | None = None  # the rep just built, if its row passed _self_consistent

    def count(reps: tuple[Rep, ...]) -> None:
        nonlocal n_reps, open_reps
        for rep in reps:
            prev = open_reps[-1] if open_reps else (closed[-1].reps[-1] if closed else None)
            if rep is checked and (prev is None or rep.start_s > prev.peak_s):
                bad = []  # its own fields passed with its row (_self_consistent); rep_violations' answer
            else:
                bad = rep_violations(rep, min_rom_deg, None if prev is None else prev.peak_s)
            if bad:
                # The safety net: the core should never get here (the property
                # tests check that it does not); a rep that breaks the contract
                # is withheld and said, never emitted.
                rej = _contract_rejection(rep, bad)
                rejections.append(rej)
                events.append(RejectionEvent(rej))
                continue
            if open_reps and rep.start_s - open_reps[-1].end_s >= set_gap_s:
                done_set = make_set(len(closed), open_reps, gaps)  # described by the caller
                closed.append(done_set)
                if set_at is not None:
                    set_at.append(len(events))
                events.append(SetEvent(done_set))
                open_reps = []
            if rep.index != len(open_reps):
                rep = _with_index(rep, len(open_reps))
            open_reps.append(rep)
            events.append(_rep_event(n_reps, len(closed), rep))
            n_reps += 1

    def walked(steps: tuple[Rep, ...]) -> None:
        for rep in steps:
            rej = Rejection(rep.peak_s, "walking", rep.rom_deg)
            rejections.append(rej)
            events.append(RejectionEvent(rej))

    has_gyro = state.has_gyro
    standing_known = state.cal is not None and state.cal.quiet
    kind_col = rows[:, L.EV_KIND]
    # Python floats once, column by column, for the columns each kind of row
    # reads (indexing a numpy row per field costs more than the rest of a
    # rep's bookkeeping; a list per row, more than the rows' zip).
    rep_rows = rows[kind_col == L.EV_REP]
    reps_in = zip(*rep_rows[:, _REP_COLS].T.tolist(), _self_consistent(rep_rows, min_rom_deg).tolist(), strict=True)
    peaks_in = zip(*rows[kind_col == L.EV_PEAK][:, _PEAK_COLS].T.tolist(), strict=True)
    for i, kind in enumerate(kind_col.tolist()):
        if kind == _EV_REP:
            start_s, peak_s, end_s, peak_deg, rom_deg, flex_s, peak_vel, mean_vel, hold_s, conf, strike_g, ok = next(
                reps_in
            )
            # Built with the index count() will most likely give it (the next
            # in the open set, or 0 for a new set), so that it need not be
            # built again there; count() corrects it when reps held back by
            # the walking classifier come first.
            index = len(open_reps) if open_reps and start_s - open_reps[-1].end_s < set_gap_s else 0
            rep = _rep(index, start_s, peak_s, end_s, peak_deg, rom_deg, flex_s, peak_vel, mean_vel, hold_s, conf)
            checked = rep if ok else None
            gait, released, steps = feed_rep(settings, gait, rep, has_gyro, standing_known, strike_g)
            if steps:
                walked(steps)
            if released:
                count(released)
        elif kind == _EV_PEAK:
            events.append(_peak_event(n_reps, *next(peaks_in)))
        elif kind == L.EV_REJECT:
            row = rows[i].tolist()
            rej = Rejection(row[L.EJ_T], _REASONS[row[L.EJ_REASON]], row[L.EJ_ROM])
            rejections.append(rej)
            events.append(RejectionEvent(rej))
            if row[L.EJ_REASON] == L.REJ_ROM:
                gait, released, steps = feed_candidate(settings, gait, rej.time_s)
                walked(steps)
                count(released)
        elif kind == L.EV_GAP:
            row = rows[i].tolist()
            gap = Gap(row[L.EG_T_HAT], row[L.EG_T_IN], row[L.EG_BRIDGED] > 0)
            gaps.append(gap)
            events.append(GapEvent(gap))
    if at_end:
        gait, released = flush(settings, gait)
        count(released)
    return dataclasses.replace(
        state,
        n_reps=n_reps,
        closed_sets=tuple(closed),
        open_reps=tuple(open_reps),
        gaps=tuple(gaps),
        rejections=tuple(rejections),
        gait=gait,
    )


def _contract_rejection(rep: Rep, bad: list[Violation]) -> Rejection:
    """The rejected candidate a rep that breaks the contract becomes (reason ``contract:<first kind>``)."""
    kind = bad[0].kind
    _log.warning(
        "withheld a rep that breaks the analysis contract (%s): %s",
        ", ".join(f"{v.kind}: {v.detail}" for v in bad),
        rep,
    )
    when = next((t for t in (rep.peak_s, rep.start_s, rep.end_s) if math.isfinite(t)), 0.0)
    rom = rep.rom_deg if math.isfinite(rep.rom_deg) else 0.0
    return Rejection(when, CONTRACT_REASON_PREFIX + kind, rom)

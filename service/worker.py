"""The synchronous half of a live session: raw log, DSP step, persistence.

A :class:`SessionWorker` is driven from a worker thread (never the event
loop), one call at a time per session.  For every chunk it

1. tidies the rows (a row with any NaN is a whole dropout; rows not after
   the previous time are dropped, as the file readers do),
2. appends them to the raw sample log and flushes,
3. runs :func:`hipflex.dsp.step`,
4. stores completed reps and the set in progress, and
5. returns the stream messages (see :mod:`hipflex.service.messages`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hipflex.dsp import finish, init_state, result, step
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.events import CalibratedEvent, Event, GapEvent, RepEvent, SetEvent
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.service.messages import AngleDecimator, event_messages, status_message
from hipflex.service.rawlog import SampleLog
from hipflex.service.store import Store

__all__ = ["PHASES", "SessionWorker", "analysis_phase", "tidy_chunk"]

#: Wall time between progress updates in the store, seconds.
PROGRESS_INTERVAL_S = 1.0


#: What the analysis is doing, in order: no rest pose yet (it waits for ``calib_still_s`` of stillness, or
#: takes the quietest stretch once ``max_learn_s`` passed); rest pose known, the flexion axis and its sign
#: are being learned from the first movements; the kernel runs and reps are counted.
PHASES: tuple[str, ...] = ("waiting_for_still", "learning_axis", "counting")


def analysis_phase(state: StreamState) -> str:
    """The phase (one of :data:`PHASES`) the streaming analysis is in, read from its state.

    Rows are buffered until the rest pose is known (``cal``) and then until the axis is locked
    and the sign confirmed (the kernel starts, ``running``); reps made meanwhile are counted once
    it starts.
    """
    if state.running:
        return PHASES[2]
    return PHASES[0] if state.cal is None else PHASES[1]


def tidy_chunk(chunk: ImuSamples, after_s: float | None) -> ImuSamples:
    """Rows as the file readers would give them: lost rows all-NaN, times increasing after ``after_s``."""
    t = chunk.time_s
    keep = np.isfinite(t)
    if after_s is not None:
        keep &= t > after_s
    if t.size > 1:
        running_max = np.maximum.accumulate(np.where(keep, t, -np.inf))
        keep[1:] &= t[1:] > running_max[:-1]
    acc, gyr = chunk.acc_g, chunk.gyr_dps
    lost = np.isnan(acc).any(axis=1)
    if gyr is not None:
        lost |= np.isnan(gyr).any(axis=1)
    if keep.all() and not lost.any():
        return chunk
    acc = acc.copy()
    acc[lost] = np.nan
    if gyr is not None:
        gyr = gyr.copy()
        gyr[lost] = np.nan
        gyr = gyr[keep]
    return ImuSamples(t[keep], acc[keep], gyr)


class SessionWorker:
    """State and side effects of one session's pipeline.

    Parameters
    ----------
    session_id : str
    settings : Settings
        Analysis settings of the session.
    has_gyro : bool
        Whether the source delivers angular rate.
    log : SampleLog
        The raw sample log (already open).
    store : Store
    angle_rate_hz : float
        Rate of the decimated angle trace.
    """

    def __init__(
        self,
        session_id: str,
        settings: Settings,
        has_gyro: bool,
        log: SampleLog,
        store: Store,
        angle_rate_hz: float,
    ) -> None:
        self.session_id = session_id
        self.settings = settings
        self.log = log
        self.store = store
        self.state = init_state(settings, has_gyro)
        self.decimate = AngleDecimator(angle_rate_hz)
        self.has_gyro = has_gyro
        self.rows = 0
        self.first_s: float | None = None
        self.last_s: float | None = None
        self.live_state = "calibrating"
        self.battery_pct: int | None = None
        self._progress_at = 0.0

    @property
    def rep_count(self) -> int:
        """Reps completed so far (with swings closed sets found hidden in gaps)."""
        return self.state.rep_count

    def status(self, state: str | None = None, **extra: Any) -> dict[str, Any]:
        """A status message for the current (or a new) state."""
        if state is not None:
            self.live_state = state
        phase = analysis_phase(self.state)
        return status_message(self.live_state, self.battery_pct, self.rep_count, phase=phase, **extra)

    def process(self, chunk: ImuSamples, received_at: float) -> list[dict[str, Any]]:
        """Log, analyse and persist one chunk; returns its stream messages."""
        chunk = tidy_chunk(chunk, self.last_s)
        if len(chunk) == 0:
            return []
        self.log.append(chunk)  # before analysis: a crash loses nothing that was analysed
        phase = analysis_phase(self.state)
        self.state, events = step(self.settings, self.state, chunk)
        events = self._after_revision(events)
        self.rows += len(chunk)
        if self.first_s is None:
            self.first_s = float(chunk.time_s[0])
        self.last_s = float(chunk.time_s[-1])
        out = self._side_effects(events)
        if not self.state.running and analysis_phase(self.state) != phase and self.live_state == "calibrating":
            out.append(self.status())  # the rest pose is known: now learning the axis (no event says so)
        if self.live_state == "gap":
            out.append(self.status("running" if self.state.running else "calibrating"))
        out.extend(event_messages(events, self.decimate, received_at))
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_INTERVAL_S:
            self._progress_at = now
            self.store.update_progress(self.session_id, self.rows, self.first_s, self.last_s, self.has_gyro)
        return out

    def _after_revision(self, events: list[Event]) -> list[Event]:
        """The events that still stand: a revised calibration voids the stored reps and sets and what came before it.

        The analysis re-learned the rest pose and reports angles and reps from the first row again
        (see :func:`hipflex.dsp.step`); clients are told by the ``revised`` status that follows.
        """
        last = None
        for i, e in enumerate(events):
            if isinstance(e, CalibratedEvent) and e.revised:
                last = i
        if last is None:
            return events
        self.store.clear_results(self.session_id)
        self.decimate = AngleDecimator(self.decimate.rate_hz)  # the trace starts again at the first row
        return events[last:]

    def _side_effects(self, events: list[Event]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        new_rep = False
        for e in events:
            if isinstance(e, CalibratedEvent):
                extra: dict[str, Any] = {"revised": True} if e.revised else {}
                out.append(self.status("running", calibrated_at_s=round(e.time_s, 4), **extra))
            elif isinstance(e, GapEvent):
                g = e.gap
                gap = {"start_s": round(g.start_s, 4), "end_s": round(g.end_s, 4), "bridged": g.bridged}
                out.append(self.status(gap=gap))
            elif isinstance(e, RepEvent):
                self.store.add_rep(self.session_id, e.number, e.set_index, e.rep)
                new_rep = True
            elif isinstance(e, SetEvent):
                self.store.put_set(self.session_id, e.set, closed=True)
        if new_rep and self.state.open_reps:
            self.store.put_set(self.session_id, self.state.sets[-1], closed=False)
        return out

    def snapshot(self) -> Analysis:
        """The analysis so far (provisional while running)."""
        return self._result(self.state)

    def _result(self, state: Any) -> Analysis:
        return result(self.settings, state, source=self.log.path.name)  # no server path in documents

    def finish(self, status: str, error: str | None = None) -> tuple[Analysis, list[dict[str, Any]]]:
        """End the stream: close the log, finish the pipeline, store the final analysis."""
        self.log.close()
        events: list[Event] = []
        if not self.state.finished:
            self.state, events = finish(self.settings, self.state)
        analysis = self._result(self.state)
        msgs = event_messages(events, self.decimate, time.time())
        span = None if self.first_s is None or self.last_s is None else (self.first_s, self.last_s)
        self.store.finish_session(self.session_id, status, analysis, self.rows, error=error, sample_span_s=span)
        msgs.append(self.status("stopped", session_status=status))
        return analysis, msgs

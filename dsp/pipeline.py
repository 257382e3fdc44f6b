"""The streaming core: ``step(settings, state, chunk) -> (state, events)``, and batch analysis.

Batch analysis is the streaming path run over one chunk, so a replayed
recording and the live session that recorded it give the same reps.

The state is an explicit, immutable value (:class:`StreamState`); ``step``
copies the kernel arrays before running, so an old state can be reused.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hipflex.dsp import _layout as L
from hipflex.dsp._gc_pause import collector_paused
from hipflex.dsp._kern_run import _finish, _run_chunk
from hipflex.dsp._kernel_setup import _EMPTY3, _EVENT_ROWS, _Kernel
from hipflex.dsp.absorb import absorb_rows
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.angle_rate_lever import accumulate_angle_rate
from hipflex.dsp.events import (
    AngleBlock,
    CalibratedEvent,
    Event,
    RepEvent,
    SetEvent,
)
from hipflex.dsp.learn import Axes, Calibration
from hipflex.dsp.learning_flow import begin_lock, correct_gyro, learn, ready_kernel, rest_window
from hipflex.dsp.lever_sums import LeverBlocks, accumulate_lever, accumulate_lever_checked
from hipflex.dsp.rest_bias import still_run_bias, stiller
from hipflex.dsp.rest_pose import (
    REVISE_WITHIN_S,
    feed_dwells,
    first_wait_elsewhere_s,
    new_dwell_state,
    wait_window_s,
    watch_until_s,
)
from hipflex.dsp.session_result import described_sets, result
from hipflex.dsp.sets import make_set
from hipflex.dsp.stream_state import Relock, StreamState
from hipflex.dsp.timeline import retime
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.dsp.validate import check_samples

__all__ = [
    "StreamState",
    "analyze",
    "analyze_with_angle",
    "finish",
    "init_state",
    "result",
    "step",
]

# The rest pose is re-learned from the session's evidence at most this many
# times (each time on a longer dwell than the calibrated pose ever had, so
# this only bounds the work on pathological input).
_MAX_RECALIBRATIONS = 4
# The first block of a buffer run while a revision may still come (s); each later block is as long as
# everything before it, so a revision analyses again at most about twice the rows that showed it, and a
# 15-minute watch costs a few blocks (each a kernel call, a copy of its state and a watch).
_WATCH_BLOCK_S = 60.0


def init_state(settings: Settings, has_gyro: bool) -> StreamState:
    """A fresh state for a sensor with or without gyro."""
    del settings  # the state does not depend on settings until calibration
    return StreamState(has_gyro=has_gyro, buf_gyr=_EMPTY3 if has_gyro else None)


def _check_chunk(state: StreamState, chunk: ImuSamples) -> None:
    if chunk.has_gyro != state.has_gyro:
        want = "with" if state.has_gyro else "without"
        raise ValueError(f"this stream was started {want} gyro; the chunk does not match")
    t = chunk.time_s
    if t.size == 0:
        return
    # The common case in one pass: with finite ends and every row at or after
    # the one before (a NaN compares false), every time is finite and none
    # goes backwards.
    if not (math.isfinite(t[0]) and math.isfinite(t[-1]) and bool(np.all(t[1:] >= t[:-1]))):
        nan = np.flatnonzero(~np.isfinite(t))
        if nan.size:
            raise ValueError(f"time is not a finite number at row {int(nan[0])} of the chunk")
        # Equal stamps are a burst stamped on arrival (the timeline re-times
        # them); only time going backwards is an error.
        bad = np.flatnonzero(np.diff(t) < 0)
        if bad.size:
            raise ValueError(f"time goes backwards at row {int(bad[0]) + 1} of the chunk")
    if not math.isnan(state.last_time_s) and t[0] < state.last_time_s:
        raise ValueError(f"time goes backwards between chunks ({t[0]:.6f} s after {state.last_time_s:.6f} s)")


def _run(
    settings: Settings, state: StreamState, kern: _Kernel, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray
) -> tuple[StreamState, list[Event], np.ndarray]:
    """Run the kernel over rows; convert event rows into typed events."""
    n = t.shape[0]
    theta = np.empty(n)  # the kernel writes every row it is given (NaN for a dropped one)
    events: list[Event] = []
    ev = np.zeros((min(n, _EVENT_ROWS) + 8, L.EV_N))
    done = 0
    while done < n:
        k, n_ev = _run_chunk(
            kern.prm, kern.fstate, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev
        )
        if not state.has_gyro:
            # The lever sums from the angle's rate (dsp.angle_rate_lever), summed before the events are
            # absorbed: a set closing among them is described from its rows' sums.
            part = slice(done, done + k)
            lever, last = accumulate_angle_rate(state.lever_blocks, state.rate_last, t[part], acc[part], theta[part])
            state = dataclasses.replace(state, lever_blocks=lever, rate_last=last)
        state = _absorb(settings, _relocked(state, ev[:n_ev]), ev[:n_ev], events)
        done += k
    return state, events, theta


def _relocked(state: StreamState, rows: np.ndarray) -> StreamState:
    """``state`` with the re-locked axes among the kernel's event ``rows`` (``dsp/_kern_axis.py``) added."""
    new = rows[rows[:, L.EV_KIND] == L.EV_AXES]
    if not new.shape[0]:
        return state
    relocks = tuple(
        Relock(
            float(r[L.EX_T]),
            Axes(r[L.EX_U : L.EX_U + 3].copy(), r[L.EX_W : L.EX_W + 3].copy(), r[L.EX_A : L.EX_A + 3].copy()),
        )
        for r in new
    )
    return dataclasses.replace(state, relocks=(*state.relocks, *relocks))


def _absorb(
    settings: Settings, state: StreamState, rows: np.ndarray, events: list[Event], at_end: bool = False
) -> StreamState:
    """Turn kernel event rows into typed events and accumulate results (:func:`~hipflex.dsp.absorb.absorb_rows`).

    The sets this closes are described here, together (one scoring for
    all), before anyone sees their events.
    """
    first = len(state.closed_sets)
    set_at: list[int] = []  # where the SetEvents this call adds are (testing each event cost ~1 ms per analysis)
    state = absorb_rows(settings, state, rows, events, at_end, set_at)
    if len(state.closed_sets) == first:
        return state
    closed = (*state.closed_sets[:first], *described_sets(settings, state, state.closed_sets[first:]))
    for i in set_at:
        e = events[i]
        assert isinstance(e, SetEvent)
        if e.set.description is None:
            events[i] = SetEvent(closed[e.set.index])
    return dataclasses.replace(state, closed_sets=closed)


def step(settings: Settings, state: StreamState, chunk: ImuSamples) -> tuple[StreamState, list[Event]]:
    """Feed one chunk of rows; return the new state and the events it produced.

    Parameters
    ----------
    settings : Settings
        Must be the same object (or equal) for every call on a stream.
    state : StreamState
        From :func:`init_state` or a previous ``step``; not modified.
    chunk : ImuSamples
        The next rows, times non-decreasing and not before the previous
        chunk's (rows stamped together on arrival may share a time).

    Returns
    -------
    state : StreamState
    events : list of Event
        An :class:`AngleBlock` for every row once the learning phase ends
        (the rows held while the period is bootstrapped and the rows buffered
        while learning are released in one block; times on the re-timed
        grid), then rep, set, gap and rejection events in time order.  A
        :class:`CalibratedEvent` with ``revised`` set voids everything
        announced before it: the rest pose was re-learned (or the gyro bias
        re-measured at the first rest), and the angles and reps from the
        first row follow it again.
    """
    if state.finished:
        raise ValueError("the stream is finished; start a new state")
    try:
        _check_chunk(state, check_samples(chunk, "chunk", values=False))
    except ValueError:
        check_samples(chunk, "chunk")  # an infinite value is named first
        raise
    if len(chunk) == 0:
        return state, []
    first = state.first_time_s if state.rows else float(chunk.time_s[0])
    last = float(chunk.time_s[-1])
    state = dataclasses.replace(state, rows=state.rows + len(chunk), first_time_s=first, last_time_s=last)
    timeline, rows = retime(state.timeline, chunk)
    state = dataclasses.replace(state, timeline=timeline)
    # The lever pass reads every value of the chunk when the timeline released
    # its rows as they came: if it found them all finite, there is no infinity
    # to look for (a second pass over the values, 3-4 ms per million rows).
    lever, finite = None, False
    if rows.gyr_dps is not None and rows.acc_g is chunk.acc_g and rows.gyr_dps is chunk.gyr_dps:
        lever, finite = accumulate_lever_checked(state.lever_blocks, rows.time_s, rows.acc_g, rows.gyr_dps)
    if not finite:
        check_samples(chunk, "chunk")
    return _feed(settings, state, rows, lever)


def _feed(
    settings: Settings, state: StreamState, chunk: ImuSamples, lever: LeverBlocks | None = None, owned: bool = False
) -> tuple[StreamState, list[Event]]:
    """Run re-timed rows through learning or the running kernel (``lever``: their lever sums, if done).

    ``owned``: no other value shares ``state``'s kernel arrays, so the kernel
    runs on in place (a copy of its history ring is 1.4 MB at 200 Hz).
    """
    if len(chunk) == 0:
        return state, []
    gyr = chunk.gyr_dps if chunk.gyr_dps is not None else _EMPTY3
    if chunk.gyr_dps is not None:
        # Read only to describe sets (dsp.posture), never by the counting.
        if lever is None:
            lever = accumulate_lever(state.lever_blocks, chunk.time_s, chunk.acc_g, chunk.gyr_dps)
        state = dataclasses.replace(state, lever_blocks=lever)
    if state.running:
        assert state.kernel is not None
        kern = state.kernel if owned else state.kernel.copy()
        if state.kept is not None:
            state = dataclasses.replace(state, kept=(*state.kept, (chunk.time_s, chunk.acc_g, chunk.gyr_dps)))
        gyr = correct_gyro(state, gyr)
        state, events, theta = _run(settings, state, kern, chunk.time_s, chunk.acc_g, gyr)
        state = dataclasses.replace(state, kernel=kern)
        return _watch(settings, state, chunk.time_s, theta, [AngleBlock(chunk.time_s, theta), *events])
    if state.buf_t.size == 0:
        # The first chunk (a whole file in batch mode) is used as it is, not copied.
        buf_t, buf_acc, buf_gyr = chunk.time_s, chunk.acc_g, None if state.buf_gyr is None else gyr
    else:
        buf_t = np.concatenate([state.buf_t, chunk.time_s])
        buf_acc = np.concatenate([state.buf_acc, chunk.acc_g])
        buf_gyr = None if state.buf_gyr is None else np.concatenate([state.buf_gyr, gyr])
    state = dataclasses.replace(state, buf_t=buf_t, buf_acc=buf_acc, buf_gyr=buf_gyr)
    return _start_if_learned(settings, learn(settings, state, force=False))


def _start_if_learned(settings: Settings, state: StreamState, at_end: bool = False) -> tuple[StreamState, list[Event]]:
    """Once calibrated and locked, run the kernel over the buffer from its first row and switch to streaming.

    The sign is confirmed over a fixed span after the lock row, so streaming
    starts once that span is buffered (or the stream ends); see
    :func:`~hipflex.dsp.learning_flow.ready_kernel`.  The rows before the
    calibration window are analysed too (the thigh's pose at row 0 is found
    by running the filter back from the window); the reps among them are
    emitted now, late, and their events say so.
    """
    raw = (state.buf_t, state.buf_acc, state.buf_gyr)  # before the gyro frame is corrected
    state, kern = ready_kernel(settings, state, at_end)
    if kern is None:
        return state, []
    assert state.cal is not None
    cal = state.cal

    t = state.buf_t
    watching = len(state.recalibrated_from_s) < _MAX_RECALIBRATIONS
    # While the rest pose or the gyro bias may still be revised (the watch below), the buffer (a whole file
    # in batch mode) runs in blocks as a live stream's chunks would: a revision then analyses again only
    # the rows up to the block that showed it, not the whole file twice.  Any chunking gives the same result.
    m = t.shape[0] if at_end or not watching else _first_block_rows(t, cal.end_row)
    gyr = state.buf_gyr[:m] if state.buf_gyr is not None else _EMPTY3
    cal_t = float(t[cal.start_row])
    state = dataclasses.replace(state, kernel=kern, cal_time_s=cal_t)
    state, events, theta = _run(settings, state, kern, t[:m], state.buf_acc[:m], gyr)
    # Reps that began before the rest pose was known are reported only now
    # (the rep events are in time order: the late ones come first).
    for i, e in enumerate(events):
        if isinstance(e, RepEvent):
            if e.rep.start_s >= cal_t:
                break
            events[i] = dataclasses.replace(e, late=True)
    state = dataclasses.replace(
        state, buf_t=np.zeros(0), buf_acc=_EMPTY3, buf_gyr=None if state.buf_gyr is None else _EMPTY3
    )
    calibrated = CalibratedEvent(cal_t, cal.quiet, state.recalibrated_from_s, state.announced)
    events = [calibrated, AngleBlock(t[:m], theta), *events]
    if watching:
        first = (raw[0][:m], raw[1][:m], None if raw[2] is None else raw[2][:m])
        state = dataclasses.replace(state, kept=(first,), dwell=new_dwell_state(float(t[0])))
        state, events = _watch(settings, state, t[:m], theta, events, at_end)
    if any(isinstance(e, CalibratedEvent) for e in events):
        state = dataclasses.replace(state, announced=True)
    a = m
    while a < t.shape[0]:
        # Blocks while the watch reads (it stops REVISE_WITHIN_S after the first row), then the rest at once.
        b = t.shape[0] if state.dwell is None else _block_end(t, a)
        rows = ImuSamples(raw[0][a:b], raw[1][a:b], None if raw[2] is None else raw[2][a:b])
        # (Their lever sums are in already.)  The kernel is this call's own (ready_kernel's, or a re-run's
        # from _watch): the blocks run it on in place, as one call over the rows would.
        state, more = _feed(settings, state, rows, state.lever_blocks, owned=True)
        events += more
        a = b
    return state, events


def _first_block_rows(t: np.ndarray, cal_end_row: int) -> int:
    """End (exclusive) of the first block: ``_WATCH_BLOCK_S`` past the calibration window."""
    return max(1, int(np.searchsorted(t, t[cal_end_row] + _WATCH_BLOCK_S, side="right")))


def _block_end(t: np.ndarray, start: int) -> int:
    """End (exclusive) of the block from row ``start``: as long as the rows before it, ``_WATCH_BLOCK_S`` at least."""
    span_s = max(_WATCH_BLOCK_S, float(t[start] - t[0]))
    return max(start + 1, int(np.searchsorted(t, t[start] + span_s, side="right")))


def _watch(
    settings: Settings,
    state: StreamState,
    t: np.ndarray,
    theta: np.ndarray,
    events: list[Event],
    at_end: bool = False,
) -> tuple[StreamState, list[Event]]:
    """Read the rows' angle for evidence that the rest pose is another (:mod:`hipflex.dsp.rest_pose`).

    Without any, the events stand.  With some, the session is analysed
    again from its first row with the rest pose re-learned in the dwell
    that showed it (:func:`_revise`): its events replace these.  With a
    gyro, the first rest in the calibrated pose may measure the gyro bias
    better than the calibration window did (:func:`_rebias`), with the same
    effect.  Rows ``REVISE_WITHIN_S`` after the first are no longer read
    (nor kept).
    """
    if state.dwell is None:
        return state, events
    assert state.cal is not None
    t0_s = state.dwell.t0_s
    n = int(np.searchsorted(t, t0_s + REVISE_WITHIN_S, side="left"))
    elsewhere_s = first_wait_elsewhere_s(
        state.cal.up, [r.time_s for r in state.relocks], [r.axes.u for r in state.relocks]
    )
    upto_s = watch_until_s(t0_s, float(t[-1]), elsewhere_s)
    first_rest_s = state.dwell.first_rest_s
    dwell, found = feed_dwells(state.dwell, t[:n], theta[:n], settings.set_gap_s, upto_s)
    if (
        found is None
        and state.has_gyro
        and not state.rest_bias
        and first_rest_s is None
        and dwell.first_rest_s is not None
    ):
        rebiased = _rebias(settings, state, dwell.first_rest_s, at_end)
        if rebiased is not None:
            return rebiased
    if (
        found is None
        and elsewhere_s is not None
        and upto_s == elsewhere_s
        and dwell.longest_rest_s <= 0.0
        and not state.recalibrated_from_s
    ):
        # The axis watch saw a wait between sets in another pose before any in
        # the calibrated one: the rest pose is re-learned in that wait.  Not
        # after a revision: a session in two poses whose waits the dwells
        # miss would otherwise turn the rest pose back and forth.
        found = wait_window_s(elsewhere_s, settings.set_gap_s)
    revised = None if found is None else _revise(settings, state, found, at_end)
    if revised is not None:
        return revised
    if found is not None or upto_s >= t0_s + REVISE_WITHIN_S or upto_s == elsewhere_s:
        return dataclasses.replace(state, dwell=None, kept=None), events  # the rest pose stands for good
    return dataclasses.replace(state, dwell=dwell), events


def _revise(
    settings: Settings, state: StreamState, dwell_s: tuple[float, float], at_end: bool
) -> tuple[StreamState, list[Event]] | None:
    """Analyse the kept rows again from the first, with the rest pose learned in the dwell ``dwell_s``.

    The results so far are dropped; the next :class:`CalibratedEvent` says
    so (``revised``) if one was announced, and the angles and reps from the
    first row follow it again.  None if the dwell holds no quiet window
    (the calibration then stands).
    """
    assert state.cal is not None
    fresh = _kept_state(state, (*state.recalibrated_from_s, state.cal_time_s))
    a, b = (int(x) for x in np.searchsorted(fresh.buf_t, dwell_s, side="left"))
    cal = rest_window(settings, fresh, a, b)
    if cal is None:
        return None
    return _restart(settings, fresh, cal, at_end)


def _rebias(
    settings: Settings, state: StreamState, rest_s: tuple[float, float], at_end: bool
) -> tuple[StreamState, list[Event]] | None:
    """Analyse the kept rows again from the first with the gyro bias measured at the first rest ``rest_s``.

    A calibration window taken on the move (a walk before the first set, a
    pause within it) reads part of the movement as gyro bias, and the
    filter learns the rest of it only over the first set, whose angles
    drift meanwhile.  The first rest between sets is a stiller stretch in
    the same pose: where its stillest window is clearly stiller than the
    calibration's, its mean rate is the better bias, and the session is
    analysed again from its first row with it (the rest pose and its window
    stay).  None if it is not.
    """
    assert state.cal is not None
    fresh = _kept_state(state, state.recalibrated_from_s)
    a, b = (int(x) for x in np.searchsorted(fresh.buf_t, rest_s, side="left"))
    rest = rest_window(settings, fresh, a, b)
    if rest is None or not stiller(rest, state.cal):
        return None
    assert fresh.buf_gyr is not None
    rows = (fresh.buf_t[a:b], fresh.buf_acc[a:b], fresh.buf_gyr[a:b])
    # The gyro as given stands (learning_flow._check_gyro_frame keeps a
    # state's verdict): judged again with the rest's bias, a bias wrong by a
    # deg/s or so turned "as given" into "corrected" on a tuning session
    # (111, strength 25 Hz: every peak +11 deg).  A correction is judged
    # again: found with the calibration window's bias, the very bias this
    # replaces, it can be that bias's error (tuning mixed 49, 50 Hz: the
    # window's bias, 0.4 deg/s from the rest's about y, left the gyro as
    # given a 3.8 deg residual that mirroring y cut to 1.3; with the rest's
    # bias the gyro as given fits to 1.4 deg, and the mirrored rate had
    # merged and split sets).
    frame = state.gyro_frame
    again = frame is not None and frame.verdict == "corrected"
    bias = still_run_bias(
        settings,
        None if again else frame,  # the gyro as given, to be judged with it
        *rows,
        dataclasses.replace(rest, start_row=rest.start_row - a, end_row=rest.end_row - a),
    )
    if bias is None:
        return None
    cal = dataclasses.replace(state.cal, gyro_bias_dps=bias)
    fresh = dataclasses.replace(fresh, rest_bias=True, gyro_frame=None if again else frame)
    return _restart(settings, fresh, cal, at_end)


def _kept_state(state: StreamState, recalibrated_from_s: tuple[float, ...]) -> StreamState:
    """A state that has buffered the kept rows, to learn and run again from the first."""
    assert state.kept is not None
    t = np.concatenate([c[0] for c in state.kept])
    acc = np.concatenate([c[1] for c in state.kept])
    gyr = None if not state.has_gyro else np.concatenate([c[2] for c in state.kept if c[2] is not None])
    return StreamState(
        has_gyro=state.has_gyro,
        timeline=state.timeline,
        rows=state.rows,
        first_time_s=state.first_time_s,
        last_time_s=state.last_time_s,
        buf_t=t,
        buf_acc=acc,
        buf_gyr=gyr,
        recalibrated_from_s=recalibrated_from_s,
        announced=state.announced,
        # Summed once per arriving row whatever the calibration (dsp.posture); the kept rows are not fed again.
        lever_blocks=state.lever_blocks,
        rate_last=state.rate_last,
    )


def _restart(settings: Settings, fresh: StreamState, cal: Calibration, at_end: bool) -> tuple[StreamState, list[Event]]:
    """Learn the axes from ``cal`` over ``fresh``'s rows and run the kernel from the first."""
    lstate = begin_lock(settings, fresh.buf_t, fresh.buf_acc, fresh.buf_gyr, cal)
    fresh = dataclasses.replace(fresh, cal=cal, lstate=lstate)
    return _start_if_learned(settings, learn(settings, fresh, force=at_end), at_end)


def finish(settings: Settings, state: StreamState) -> tuple[StreamState, list[Event]]:
    """End the stream: force the learning phase if needed, close the open rep and set."""
    return _end(settings, state, owned=False)


def _end(settings: Settings, state: StreamState, owned: bool) -> tuple[StreamState, list[Event]]:
    """:func:`finish`; ``owned``: no other value shares ``state``'s kernel arrays, so they need no copy.

    (A whole-recording analysis owns the state :func:`step` returned it:
    copying the history ring, 1.4 MB at 200 Hz, cost ~0.7 ms per analysis.)
    """
    if state.finished:
        return state, []
    events: list[Event] = []
    if state.timeline.state is None and state.rows:
        timeline, rows = retime(state.timeline, _no_rows(state.has_gyro), final=True)
        state = dataclasses.replace(state, timeline=timeline)
        state, events = _feed(settings, state, rows)
    if not state.running:
        state = learn(settings, state, force=True)
        state, more = _start_if_learned(settings, state, at_end=True)
        events.extend(more)
    if state.kernel is not None:
        kern = state.kernel if owned else state.kernel.copy()
        ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
        done = False
        while not done:
            n_ev, done = _finish(kern.prm, kern.fstate, kern.ist, kern.hist, ev)
            state = _absorb(settings, _relocked(dataclasses.replace(state, kernel=kern), ev[:n_ev]), ev[:n_ev], events)
    state = _absorb(settings, state, np.zeros((0, L.EV_N)), events, at_end=True)
    if state.open_reps:
        last = described_sets(settings, state, (make_set(len(state.closed_sets), state.open_reps, state.gaps),))[0]
        events.append(SetEvent(last))
        state = dataclasses.replace(state, closed_sets=(*state.closed_sets, last), open_reps=())
    return dataclasses.replace(state, finished=True), events


def _no_rows(has_gyro: bool) -> ImuSamples:
    return ImuSamples(np.zeros(0), _EMPTY3, _EMPTY3 if has_gyro else None)


def analyze_with_angle(
    samples: ImuSamples, settings: Settings | None = None, source: str = ""
) -> tuple[Analysis, np.ndarray]:
    """Analyse a whole recording; also return the flexion angle at every row, deg."""
    analysis, events = _whole(samples, settings or Settings(), source)
    blocks: list[np.ndarray] = []
    # By exact type (events are final dataclasses): isinstance against a union
    # over every rep and peak event cost ~1 ms per analysis.
    for e in events:
        if type(e) is AngleBlock:
            blocks.append(e.angle_deg)
        elif type(e) is CalibratedEvent and e.revised:
            blocks = []  # the angles from the first row follow again
    if len(blocks) == 1 and len(blocks[0]) == len(samples):
        return analysis, blocks[0]  # one block (a short recording, or no watch): no copy
    angle = np.full(len(samples), np.nan)
    pos = 0
    for block in blocks:
        angle[pos : pos + len(block)] = block
        pos += len(block)
    return analysis, angle


def _whole(samples: ImuSamples, settings: Settings, source: str) -> tuple[Analysis, list[Event]]:
    """The analysis of a whole recording (the streaming path over one chunk) and every event of it."""
    check_samples(samples, values=False)  # step() scans the values once
    if len(samples) < 2:
        raise ValueError(f"{len(samples)} samples: too few to analyse")
    with collector_paused():  # it makes no reference cycles (dsp/_gc_pause.py)
        state = init_state(settings, samples.has_gyro)
        state, events = step(settings, state, samples)
        state, more = _end(settings, state, owned=True)  # nothing else holds the state step returned
        return result(settings, state, source), events + more


def analyze(samples: ImuSamples, settings: Settings | None = None, source: str = "") -> Analysis:
    """Analyse a whole recording: the streaming path over one chunk.

    Parameters
    ----------
    samples : ImuSamples
        The recording; times non-decreasing (re-timed onto a regular grid), NaN rows are dropouts.
    settings : Settings, optional
        Defaults to ``Settings()``.
    source : str
        Recorded in the result (the path as the user gave it).

    Returns
    -------
    Analysis
    """
    # Not analyze_with_angle: the angle blocks (one per block a batch runs) are not joined.
    return _whole(samples, settings or Settings(), source)[0]

"""The streaming core: ``step(settings, state, chunk) -> (state, events)``, and batch analysis.

Batch analysis is the streaming path run over one chunk, so a replayed
recording and the live session that recorded it give the same reps.

The state is an explicit, immutable value (:class:`StreamState`); ``step``
copies the kernel arrays before running, so an old state can be reused.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hipflex import __version__
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_gap import _pg_finish
from hipflex.dsp._kern_run import _finish, _run_chunk
from hipflex.dsp.contract import CONTRACT_REASON_PREFIX, Violation, rep_violations
from hipflex.dsp.events import (
    AngleBlock,
    CalibratedEvent,
    Event,
    GapEvent,
    RejectionEvent,
    RepEvent,
    RepPeakEvent,
    SetEvent,
)
from hipflex.dsp.gait import GaitState, feed_candidate, feed_rep, flush, walks_so_far
from hipflex.dsp.gyro_frame import check_gyro_frame
from hipflex.dsp.identify import LeverFit, identify_lever
from hipflex.dsp.learn import (
    L_LOCK_ROW,
    L_SCANNED,
    Q_BEST_SCORE,
    Axes,
    Calibration,
    find_quiet_window,
    lock_axes,
    new_lock_state,
    new_quiet_state,
    scan_before,
    scan_lock,
)
from hipflex.dsp.sets import make_set
from hipflex.dsp.timeline import Timeline, retime
from hipflex.dsp.types import (
    Analysis,
    Gap,
    GyroFrameCheck,
    ImuSamples,
    Quality,
    Rejection,
    Rep,
    RepSet,
    Settings,
)
from hipflex.dsp.validate import check_gravity_g, check_samples

__all__ = [
    "StreamState",
    "analyze",
    "analyze_with_angle",
    "finish",
    "init_state",
    "result",
    "step",
]

_REASONS = {
    L.REJ_ROM: "rom_below_min",
    L.REJ_GAP: "gap",
    L.REJ_TOO_LONG: "too_long",
    L.REJ_UNFINISHED: "unfinished",
    L.REJ_RESTED: "rested",
}
_EVENT_ROWS = 4096
# Without a quiet window of calib_still_s, quiet windows this much shorter are
# searched (longest first) before the quietest full window is taken.
_SHORT_WINDOW_FRACTIONS = (0.5, 0.25)
_MAX_CAP_LOG2 = 17
_log = logging.getLogger(__name__)
_EMPTY3 = np.zeros((0, 3), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Kernel:
    """Arrays the numba kernels read and update (see ``_layout``)."""

    prm: np.ndarray
    fs: np.ndarray
    ist: np.ndarray
    hist: np.ndarray

    def copy(self) -> _Kernel:
        return _Kernel(self.prm, self.fs.copy(), self.ist.copy(), self.hist.copy())


@dataclass(frozen=True, eq=False)
class StreamState:
    """Everything the core carries from one chunk to the next.

    Create it with :func:`init_state`; never mutate it.  Rows first pass
    the timeline (``timeline``), which holds them until the sample period is
    bootstrapped and then releases them re-timed on a regular grid.  While learning
    (before calibration and the axis lock) rows are buffered; afterwards the
    kernel arrays in ``kernel`` carry the filters, the timeline and the
    detector, and only results are accumulated here.
    """

    has_gyro: bool
    timeline: Timeline = field(default_factory=Timeline)
    rows: int = 0
    first_time_s: float = math.nan
    last_time_s: float = math.nan
    buf_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    buf_acc: np.ndarray = field(default_factory=lambda: _EMPTY3)
    buf_gyr: np.ndarray | None = None
    qstate: np.ndarray = field(default_factory=new_quiet_state)
    lstate: np.ndarray | None = None
    cal: Calibration | None = None
    cal_time_s: float = math.nan
    axes: Axes | None = None
    lever: LeverFit | None = None
    gyro_frame: GyroFrameCheck | None = None
    kernel: _Kernel | None = None
    n_reps: int = 0
    closed_sets: tuple[RepSet, ...] = ()
    open_reps: tuple[Rep, ...] = ()
    gaps: tuple[Gap, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    gait: GaitState = field(default_factory=GaitState)
    finished: bool = False

    @property
    def running(self) -> bool:
        """True once calibration and the axis lock are done."""
        return self.kernel is not None

    @property
    def rep_count(self) -> int:
        """Reps so far: every completed rep plus the swings closed sets found hidden in gaps."""
        return self.n_reps + sum(len(s.hidden_peaks_s) for s in self.closed_sets)

    @property
    def sets(self) -> tuple[RepSet, ...]:
        """Closed sets plus the set in progress."""
        if not self.open_reps:
            return self.closed_sets
        return (*self.closed_sets, make_set(len(self.closed_sets), self.open_reps, self.gaps))


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


def _make_kernel(
    settings: Settings,
    has_gyro: bool,
    cal: Calibration,
    axes: Axes,
    lever: LeverFit | None = None,
    identify: bool = False,
) -> _Kernel:
    prm = np.zeros(L.P_N)
    prm[L.P_MIN_ROM] = settings.min_rom_deg
    prm[L.P_CAND] = settings.candidate_deg
    prm[L.P_ONSET_FRAC] = settings.onset_fraction
    prm[L.P_HOLD_BAND] = settings.hold_band_deg
    prm[L.P_SETTLE_S] = settings.settle_s
    prm[L.P_MAX_INTERP_S] = settings.max_bridge_gyro_s if has_gyro else settings.max_interp_gap_s
    prm[L.P_LEVER_M] = settings.lever_arm_m if lever is None else lever.lever_arm_m
    prm[L.P_TILT_TAU] = settings.tilt_tau_s
    prm[L.P_ACC_RANGE] = settings.acc_range_g or 0.0
    prm[L.P_HAS_GYRO] = 1.0 if has_gyro else 0.0
    prm[L.P_U : L.P_U + 3] = axes.u
    prm[L.P_W : L.P_W + 3] = axes.w
    prm[L.P_A : L.P_A + 3] = axes.a
    prm[L.P_STILL_GYR] = settings.still_gyr_dps
    prm[L.P_EKF_Q] = settings.pendulum_jerk_rad_s3**2
    prm[L.P_EKF_R] = settings.pendulum_acc_noise_g
    prm[L.P_BIAS_TAU] = settings.gyro_bias_tau_s
    prm[L.P_OFFSET_M] = settings.sensor_offset_m if lever is None else lever.sensor_offset_m
    prm[L.P_ID] = 1.0 if identify else 0.0
    prm[L.P_G_CAL] = cal.gravity_g
    prm[L.P_THETA_MAX] = math.radians(settings.pendulum_max_flexion_deg)
    prm[L.P_THETA_MIN] = -math.radians(settings.pendulum_max_extension_deg)
    prm[L.P_ZUPT_S] = settings.pendulum_still_s
    prm[L.P_SET_GAP_S] = settings.set_gap_s
    fs = np.zeros(L.F_N)
    fs[L.F_PERIOD] = cal.period_s
    fs[L.F_G_EST] = cal.gravity_g
    fs[L.F_ZLP : L.F_ZLP + 3] = cal.up * cal.gravity_g
    fs[L.F_UP : L.F_UP + 3] = cal.up  # measured gravity, not the sagittal basis vector
    fs[L.F_BIAS : L.F_BIAS + 3] = cal.gyro_bias_dps
    # Pendulum filter starts at standing, at rest, fairly certain of the angle.
    p0 = np.diag([(2.0 * L.DEG) ** 2, (5.0 * L.DEG) ** 2, 1.0])
    fs[L.F_P : L.F_P + L.PX * L.PX] = p0.ravel()
    fs[L.F_LOW] = math.inf
    fs[L.F_MREF] = math.nan  # no motionless stretch yet
    ist = np.zeros(L.I_N, dtype=np.int64)
    # At most 2**17 rows (history_s at over 2 kHz): a period estimated from
    # arrival-time stamps (rows 1 us apart) asked for 2**26 rows, 8 GB.
    cap = 1 << max(8, min(_MAX_CAP_LOG2, math.ceil(math.log2(settings.history_s / cal.period_s))))
    ist[L.I_CAP] = cap
    hist = np.zeros((cap, L.H_N if has_gyro else L.H_N_PENDULUM))
    return _Kernel(np.ascontiguousarray(prm), fs, ist, hist)


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
        k, n_ev = _run_chunk(kern.prm, kern.fs, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev)
        state = _absorb(settings, state, ev[:n_ev], events)
        done += k
    return state, events, theta


def _with_index(rep: Rep, index: int) -> Rep:
    """``rep`` at position ``index`` of its set (``dataclasses.replace`` costs several times more per rep)."""
    return Rep(
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


def _absorb(
    settings: Settings, state: StreamState, rows: np.ndarray, events: list[Event], at_end: bool = False
) -> StreamState:
    """Turn kernel event rows into typed events and accumulate results.

    Every rep passes through the walking classifier (:mod:`hipflex.dsp.gait`)
    first: it is counted once that knows it is not a walking step, which for
    a swing that could be one is up to ``gait_min_strides - 1`` swings later;
    ``at_end`` releases what it still holds.
    """
    n_reps = state.n_reps
    closed = list(state.closed_sets)
    open_reps = list(state.open_reps)
    gaps = list(state.gaps)
    rejections = list(state.rejections)
    gait = state.gait

    def count(reps: tuple[Rep, ...]) -> None:
        nonlocal n_reps, open_reps
        for rep in reps:
            prev = open_reps[-1] if open_reps else (closed[-1].reps[-1] if closed else None)
            bad = rep_violations(rep, settings.min_rom_deg, None if prev is None else prev.peak_s)
            if bad:
                # The safety net: the core should never get here (the property
                # tests check that it does not); a rep that breaks the contract
                # is withheld and said, never emitted.
                rej = _contract_rejection(rep, bad)
                rejections.append(rej)
                events.append(RejectionEvent(rej))
                continue
            if open_reps and rep.start_s - open_reps[-1].end_s >= settings.set_gap_s:
                done_set = make_set(len(closed), open_reps, gaps)
                closed.append(done_set)
                events.append(SetEvent(done_set))
                open_reps = []
            if rep.index != len(open_reps):
                rep = _with_index(rep, len(open_reps))
            open_reps.append(rep)
            events.append(RepEvent(n_reps, len(closed), rep))
            n_reps += 1

    def walked(steps: tuple[Rep, ...]) -> None:
        for rep in steps:
            rej = Rejection(rep.peak_s, "walking", rep.rom_deg)
            rejections.append(rej)
            events.append(RejectionEvent(rej))

    standing_known = state.cal is not None and state.cal.quiet
    # Python floats once for all rows: indexing a numpy row per field costs
    # more than the rest of a rep's bookkeeping.
    for row in rows.tolist():
        kind = row[L.EV_KIND]
        if kind == L.EV_REP:
            # Built with the index count() will most likely give it (the next
            # in the open set, or 0 for a new set), so that it need not be
            # built again there; count() corrects it when reps held back by
            # the walking classifier come first.
            start_s = row[L.E_START]
            index = len(open_reps) if open_reps and start_s - open_reps[-1].end_s < settings.set_gap_s else 0
            rep = Rep(
                index,
                start_s,
                row[L.E_PEAK_T],
                row[L.E_END],
                row[L.E_PEAK_DEG],
                row[L.E_ROM],
                row[L.E_FLEX_T],
                row[L.E_PEAK_VEL],
                row[L.E_MEAN_VEL],
                row[L.E_HOLD],
                row[L.E_CONF],
            )
            gait, released, steps = feed_rep(settings, gait, rep, state.has_gyro, standing_known)
            if steps:
                walked(steps)
            if released:
                count(released)
        elif kind == L.EV_PEAK:
            events.append(RepPeakEvent(n_reps, row[1], row[2], row[3]))
        elif kind == L.EV_REJECT:
            rej = Rejection(row[1], _REASONS[row[2]], row[3])
            rejections.append(rej)
            events.append(RejectionEvent(rej))
            if row[2] == L.REJ_ROM:
                gait, released, steps = feed_candidate(settings, gait, rej.time_s)
                walked(steps)
                count(released)
        elif kind == L.EV_GAP:
            gap = Gap(row[1], row[2], row[3] > 0)
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


def _short_quiet_window(
    settings: Settings, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, max_gap_s: float, period_s: float
) -> tuple[Calibration, float, float] | None:
    """The stillest quiet window of the longest of ``_SHORT_WINDOW_FRACTIONS`` of ``calib_still_s`` that has one.

    Called when no window of ``calib_still_s`` in the rows is still: a shorter
    one that is (the pause before a squat, the stand after it) knows the rest
    pose and the gyro bias far better than a window through a movement, whose
    mean rate is no bias.  Of those the stillest, not the first: a brief pause
    at the bottom of a squat is less still than standing.

    Returns
    -------
    (Calibration, window_s, motion) or None
    """
    for frac in _SHORT_WINDOW_FRACTIONS:
        win_s = settings.calib_still_s * frac
        qs = new_quiet_state()

        def search(force: bool, qs: np.ndarray = qs, win_s: float = win_s) -> Calibration | None:
            return find_quiet_window(
                t,
                acc,
                gyr,
                win_s,
                settings.still_acc_g,
                settings.still_gyr_dps,
                max_gap_s,
                qs,
                force=force,
                period_s=period_s,
            )

        if search(False) is None:
            continue
        while search(False) is not None:
            pass  # every quiet window, for the stillest
        best = search(True)  # the stillest window seen (reported as not quiet by the search)
        assert best is not None
        return dataclasses.replace(best, quiet=True), win_s, float(qs[Q_BEST_SCORE])
    return None


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


def _learn(settings: Settings, state: StreamState, force: bool) -> StreamState:
    """Advance calibration and the axis lock over the buffered rows.

    Each search only looks at rows up to ``max_learn_s`` after its own start;
    the fallback (quietest window, evidence so far) is taken once a row past
    that limit has arrived, or at the end of the stream.  Both decisions thus
    depend on rows, not on where chunks happened to end.
    """
    t, acc, gyr = state.buf_t, state.buf_acc, state.buf_gyr
    if t.size == 0 or state.axes is not None:
        return state  # nothing yet, or locked and waiting for the sign window
    cal = state.cal
    qstate = state.qstate.copy()
    lstate = None if state.lstate is None else state.lstate.copy()
    if cal is None:
        lim = int(np.searchsorted(t, t[0] + settings.max_learn_s, side="right"))
        g_lim = None if gyr is None else gyr[:lim]
        max_gap_s = settings.max_bridge_gyro_s if gyr is not None else settings.max_interp_gap_s
        win_s = settings.calib_still_s
        cal = find_quiet_window(
            t[:lim],
            acc[:lim],
            g_lim,
            win_s,
            settings.still_acc_g,
            settings.still_gyr_dps,
            max_gap_s,
            qstate,
            force=force or lim < t.size,
            period_s=state.timeline.period0_s,
        )
        score = float(qstate[Q_BEST_SCORE])
        if cal is not None and not cal.quiet:
            short = _short_quiet_window(settings, t[:lim], acc[:lim], g_lim, max_gap_s, state.timeline.period0_s)
            if short is not None:
                cal, win_s, score = short
        if cal is not None:
            check_gravity_g(cal.gravity_g, score)
            cal = dataclasses.replace(cal, window_s=win_s, motion=score)
            lstate = new_lock_state(cal, acc, settings.tilt_tau_s, settings.still_gyr_dps, settings.gyro_bias_tau_s)
            # The thigh may have moved before it first rested (people press
            # record and start): those rows count as evidence too, and an
            # excursion among them locks the axes at once.
            scan_before(t, acc, gyr, cal, settings.lock_deg, lstate)
    axes = None
    if cal is not None and lstate is not None:
        lim = int(np.searchsorted(t, t[cal.end_row] + settings.max_learn_s, side="right"))
        gyr_lim = None if gyr is None else gyr[:lim]
        row = int(lstate[L_LOCK_ROW])
        if row < 0:
            row = scan_lock(t[:lim], acc[:lim], gyr_lim, cal, settings.lock_deg, lstate)
        if row >= 0 or force or lim < t.size:
            axes = lock_axes(cal, lstate, state.has_gyro)
    return dataclasses.replace(state, qstate=qstate, lstate=lstate, cal=cal, axes=axes)


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
        grid), then rep, set, gap and rejection events in time order.
    """
    if state.finished:
        raise ValueError("the stream is finished; start a new state")
    _check_chunk(state, check_samples(chunk, "chunk"))
    if len(chunk) == 0:
        return state, []
    first = state.first_time_s if state.rows else float(chunk.time_s[0])
    last = float(chunk.time_s[-1])
    state = dataclasses.replace(state, rows=state.rows + len(chunk), first_time_s=first, last_time_s=last)
    timeline, chunk = retime(state.timeline, chunk)
    state = dataclasses.replace(state, timeline=timeline)
    return _feed(settings, state, chunk)


def _feed(settings: Settings, state: StreamState, chunk: ImuSamples) -> tuple[StreamState, list[Event]]:
    """Run re-timed rows through learning or the running kernel."""
    if len(chunk) == 0:
        return state, []
    gyr = chunk.gyr_dps if chunk.gyr_dps is not None else _EMPTY3
    if state.running:
        assert state.kernel is not None
        kern = state.kernel.copy()
        gyr = _correct_gyro(state, gyr)
        state, events, theta = _run(settings, state, kern, chunk.time_s, chunk.acc_g, gyr)
        state = dataclasses.replace(state, kernel=kern)
        return state, [AngleBlock(chunk.time_s, theta), *events]
    if state.buf_t.size == 0:
        # The first chunk (a whole file in batch mode) is used as it is, not copied.
        buf_t, buf_acc, buf_gyr = chunk.time_s, chunk.acc_g, None if state.buf_gyr is None else gyr
    else:
        buf_t = np.concatenate([state.buf_t, chunk.time_s])
        buf_acc = np.concatenate([state.buf_acc, chunk.acc_g])
        buf_gyr = None if state.buf_gyr is None else np.concatenate([state.buf_gyr, gyr])
    state = dataclasses.replace(state, buf_t=buf_t, buf_acc=buf_acc, buf_gyr=buf_gyr)
    return _start_if_learned(settings, _learn(settings, state, force=False))


def _start_if_learned(settings: Settings, state: StreamState, at_end: bool = False) -> tuple[StreamState, list[Event]]:
    """Once calibrated and locked, run the kernel over the buffer from its first row and switch to streaming.

    The sign is confirmed over a fixed span after the lock row, so streaming
    starts once that span is buffered (or the stream ends).  The rows before
    the calibration window are analysed too (the thigh's pose at row 0 is
    found by running the filter back from the window, :func:`_rewind`); the
    reps among them are emitted now, late, and their events say so.
    """
    if state.axes is None or state.cal is None or state.lstate is None:
        return state, []
    cal = state.cal
    lock_row = int(state.lstate[L_LOCK_ROW])
    if lock_row < 0:
        lock_row = max(cal.end_row, int(state.lstate[L_SCANNED]) - 1)
    stop = int(np.searchsorted(state.buf_t, state.buf_t[lock_row] + settings.sign_confirm_s, side="right"))
    if stop >= state.buf_t.size and not at_end:
        return state, []
    if state.has_gyro:
        state, cal = _check_gyro_frame(state, cal, stop)
    assert state.axes is not None and state.lstate is not None
    axes = state.axes
    if state.has_gyro and state.buf_gyr is not None:
        # The flexion axis from all the motion until the sign is confirmed
        # (before the calibration window too), not only the first lock_deg of
        # the first excursion, which can be mostly a lift-off jolt (Eurobench
        # subject 03: 48 deg off the flexion axis).
        rate = state.buf_gyr[:stop] - cal.gyro_bias_dps
        rate = rate[~np.isnan(rate).any(axis=1)]
        axes = lock_axes(cal, state.lstate, True, rate.T @ rate)
    axes = _confirm_sign(settings, state, cal, axes, stop)
    lever = None if state.has_gyro or not settings.identify_lever else _identify(settings, state, cal, axes, stop)
    kern = _start_kernel(settings, state, cal, axes, lever)
    state = dataclasses.replace(state, axes=axes, lever=lever)
    t = state.buf_t
    gyr = state.buf_gyr if state.buf_gyr is not None else _EMPTY3
    cal_t = float(t[cal.start_row])
    state = dataclasses.replace(state, kernel=kern, cal_time_s=cal_t)
    state, events, theta = _run(settings, state, kern, t, state.buf_acc, gyr)
    # Reps that began before the rest pose was known are reported only now.
    events = [
        dataclasses.replace(e, late=True) if isinstance(e, RepEvent) and e.rep.start_s < cal_t else e for e in events
    ]
    state = dataclasses.replace(
        state, buf_t=np.zeros(0), buf_acc=_EMPTY3, buf_gyr=None if state.buf_gyr is None else _EMPTY3
    )
    return state, [CalibratedEvent(cal_t, cal.quiet), AngleBlock(t, theta), *events]


def _check_gyro_frame(state: StreamState, cal: Calibration, stop: int) -> tuple[StreamState, Calibration]:
    """Judge the gyro's frame on buffer rows ``cal.start_row:stop``; apply the correction it finds.

    The learning phase's rows are those the lock and the sign are decided
    on, so every later decision (axes, sign, angles) sees the corrected
    rate.  The correction is a fixed 3x3 matrix, applied to the whole buffer
    here and to every later chunk in :func:`step`; the bias measured on the
    stand turns with it.
    """
    gyr = state.buf_gyr
    assert gyr is not None
    s = cal.start_row
    check = check_gyro_frame(
        state.buf_t[s:stop], state.buf_acc[s:stop], gyr[s:stop], cal.gyro_bias_dps, cal.up, cal.gravity_g
    )
    state = dataclasses.replace(state, gyro_frame=check)
    if check.verdict != "corrected":
        return state, cal
    m = check.matrix
    cal = dataclasses.replace(cal, gyro_bias_dps=np.ascontiguousarray(m @ cal.gyro_bias_dps))
    return dataclasses.replace(state, buf_gyr=np.ascontiguousarray(gyr @ m.T), cal=cal), cal


def _correct_gyro(state: StreamState, gyr: np.ndarray) -> np.ndarray:
    """The chunk's gyro rows with the frame correction found in the learning phase (if any)."""
    check = state.gyro_frame
    if check is None or check.verdict != "corrected" or gyr.shape[0] == 0:
        return gyr
    return np.ascontiguousarray(gyr @ check.matrix.T)


def _start_kernel(
    settings: Settings,
    state: StreamState,
    cal: Calibration,
    axes: Axes,
    lever: LeverFit | None,
    identify: bool = False,
) -> _Kernel:
    """A kernel ready to run from buffer row 0 (see :func:`_rewind`)."""
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever, identify)
    _rewind(kern, state, cal)
    return kern


def _rewind(kern: _Kernel, state: StreamState, cal: Calibration) -> None:
    """Set the orientation of a fresh kernel to the thigh's at buffer row 0.

    The kernel starts at rest in the calibrated pose, which holds at the
    window, not at row 0 if the thigh moved before it.  Run backwards in time
    from the window (times, gyro and gyro bias negated) the same filters
    track the thigh back to row 0: the gyro turns "up" back exactly, and the
    pendulum model is the same backwards (its rate changes sign, its
    acceleration does not).  The state found there starts the forward run.
    """
    s = cal.start_row
    if s <= 0:
        return
    back = _Kernel(kern.prm, kern.fs.copy(), kern.ist.copy(), kern.hist.copy())
    back.fs[L.F_BIAS : L.F_BIAS + 3] = -cal.gyro_bias_dps
    t = np.ascontiguousarray(-state.buf_t[s::-1])
    acc = np.ascontiguousarray(state.buf_acc[s::-1])
    gyr = np.ascontiguousarray(-state.buf_gyr[s::-1]) if state.buf_gyr is not None else _EMPTY3
    theta = np.empty(t.shape[0])
    ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
    done = 0
    while done < t.shape[0]:
        k, _ = _run_chunk(back.prm, back.fs, back.ist, back.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev)
        done += k
    if back.fs[L.F_PG_S] > 0.0:
        _pg_finish(back.prm, back.fs, back.ist, back.hist)  # re-anchor "up" after a gap near row 0
    fs = kern.fs
    fs[L.F_UP : L.F_UP + 3] = back.fs[L.F_UP : L.F_UP + 3]
    fs[L.F_G_EST] = back.fs[L.F_G_EST]
    fs[L.F_ZLP : L.F_ZLP + 3] = back.fs[L.F_ZLP : L.F_ZLP + 3]
    # Pendulum state (theta, rate, acceleration): forwards the rate is negated,
    # and with it its covariances with the angle and the acceleration.
    flip = np.array([1.0, -1.0, 1.0])
    fs[L.F_X : L.F_X + L.PX] = back.fs[L.F_X : L.F_X + L.PX] * flip
    p = back.fs[L.F_P : L.F_P + L.PX * L.PX].reshape(L.PX, L.PX)
    fs[L.F_P : L.F_P + L.PX * L.PX] = (p * np.outer(flip, flip)).ravel()


def _run_span(kern: _Kernel, state: StreamState, start: int, stop: int) -> np.ndarray:
    """Run ``kern`` over buffer rows ``start:stop`` for its state alone (events dropped); the angle, deg."""
    t = state.buf_t[start:stop]
    gyr = state.buf_gyr[start:stop] if state.buf_gyr is not None else _EMPTY3
    acc = state.buf_acc[start:stop]
    theta = np.full(t.shape[0], np.nan)
    ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
    done = 0
    while done < t.shape[0]:
        k, _ = _run_chunk(kern.prm, kern.fs, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev)
        done += k
    return theta


def _confirm_sign(settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int) -> Axes:
    """Make the thigh's larger excursions positive (flexion).

    The lock takes its sign from the first excursion, which can be a step
    backwards, or (accelerometer only) a low-pass misled by the offset term of
    a front-mounted sensor during fast swings, or (calibrated after the first
    reps) nothing at all; the angle over buffer rows ``0:stop`` is a far more
    reliable witness.  It is read from
    the kernel's history once any post-gap window is closed: the live trace
    of a window is the gyro's uncorrected guess, which after a gap that hid a
    rise reads the following fall as a deep excursion the wrong way.
    """
    # Without a gyro, with no offset in front of the femur: then the pendulum
    # model is symmetric in the sign, and the two signs' traces mirror each
    # other.  With the prior offset one sign's filter can spin through +-180 deg
    # (a side-mounted sensor, whose true offset is ~0, in a march at 200 Hz),
    # and its garbage trace decided the sign.
    # The thigh's range must not break that symmetry either: a trace whose
    # flexions come out backwards is held at the extension bound (60 deg),
    # where the filter, fed a thigh beyond it, turns out garbage, and one
    # spurious spike forwards outweighed the whole set (a ballistic set
    # before the calibration window, 52 Hz, clipped at 4 g: every rep
    # counted the wrong way round).  The same bound both ways.
    lever = None if state.has_gyro else LeverFit(settings.lever_arm_m, 0.0, False, 0.0)
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever)
    kern.prm[L.P_THETA_MIN] = -kern.prm[L.P_THETA_MAX]
    _rewind(kern, state, cal)
    theta = _run_span(kern, state, 0, stop)
    if kern.fs[L.F_PG_S] > 0.0:
        _pg_finish(kern.prm, kern.fs, kern.ist, kern.hist)
    kept = kern.hist[: int(min(kern.ist[L.I_SAMPLE], kern.ist[L.I_CAP]))]
    if kept.shape[0] == 0:
        return axes
    # Rows older than the ring (a long learning phase) count with their live angle.
    older = theta[state.buf_t[:stop] < kept[:, L.H_TIME].min()]
    seen = np.concatenate([older, kept[:, L.H_THETA]])
    # An excursion leaves the rest pose and comes back.  Rows before the thigh
    # first came within candidate_deg of it (a recording that starts
    # mid-movement, one whose quietest window lies inside the only rep) show
    # the end of one at most, never its size.
    near = np.flatnonzero(np.abs(seen) <= settings.candidate_deg)
    seen = seen[near[0] :] if near.size else seen
    if np.all(np.isnan(seen)) or np.nanmax(seen) >= -np.nanmin(seen):
        return axes
    return Axes(axes.u, -axes.w, -axes.a)


def _identify(settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int) -> LeverFit:
    """Lever arm and offset of an accelerometer-only sensor, from the rows the sign was confirmed on."""

    def nll(lever_arm_m: float, sensor_offset_m: float) -> float:
        kern = _start_kernel(settings, state, cal, axes, LeverFit(lever_arm_m, sensor_offset_m, True, 0.0), True)
        _run_span(kern, state, 0, stop)
        return float(kern.fs[L.F_NLL])

    return identify_lever(nll, settings.lever_arm_m, settings.sensor_offset_m)


def finish(settings: Settings, state: StreamState) -> tuple[StreamState, list[Event]]:
    """End the stream: force the learning phase if needed, close the open rep and set."""
    if state.finished:
        return state, []
    events: list[Event] = []
    if state.timeline.state is None and state.rows:
        timeline, rows = retime(state.timeline, _no_rows(state.has_gyro), final=True)
        state = dataclasses.replace(state, timeline=timeline)
        state, events = _feed(settings, state, rows)
    if not state.running:
        state = _learn(settings, state, force=True)
        state, more = _start_if_learned(settings, state, at_end=True)
        events.extend(more)
    if state.kernel is not None:
        kern = state.kernel.copy()
        ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
        done = False
        while not done:
            n_ev, done = _finish(kern.prm, kern.fs, kern.ist, kern.hist, ev)
            state = _absorb(settings, dataclasses.replace(state, kernel=kern), ev[:n_ev], events)
    state = _absorb(settings, state, np.zeros((0, L.EV_N)), events, at_end=True)
    if state.open_reps:
        last = make_set(len(state.closed_sets), state.open_reps, state.gaps)
        events.append(SetEvent(last))
        state = dataclasses.replace(state, closed_sets=(*state.closed_sets, last), open_reps=())
    return dataclasses.replace(state, finished=True), events


def _no_rows(has_gyro: bool) -> ImuSamples:
    return ImuSamples(np.zeros(0), _EMPTY3, _EMPTY3 if has_gyro else None)


def _pendulum_model(lever: LeverFit | None) -> str:
    text = "thigh pendulum EKF (gravity + tangential + centripetal acceleration)"
    if lever is None or not lever.identified:
        return text + "; sensor position from the settings"
    return (
        text + f"; sensor {100 * lever.lever_arm_m:.1f} cm below the hip, {100 * lever.sensor_offset_m:.1f} cm in"
        " front of the femur, identified from the first motion"
    )


def _calibration_kind(
    settings: Settings, cal: Calibration | None
) -> Literal["quiet window", "short quiet window", "quietest window"] | None:
    if cal is None:
        return None
    if not cal.quiet:
        return "quietest window"
    return "short quiet window" if cal.window_s < settings.calib_still_s else "quiet window"


def result(settings: Settings, state: StreamState, source: str = "") -> Analysis:
    """The analysis so far (complete after :func:`finish`)."""
    kern = state.kernel
    lost = float(kern.fs[L.F_LOST_S]) if kern is not None else 0.0
    # Rows the timeline found lost only from a block's envelope rising (their
    # place unknown, so no gap marks them) count as lost time too.
    lost += state.timeline.late_lost_s
    clipped = int(kern.ist[L.I_CLIPPED]) if kern is not None else 0
    period = state.timeline.period_s
    has_cal = not math.isnan(state.cal_time_s)
    duration = state.last_time_s - state.first_time_s if state.rows else 0.0
    cal = state.cal if has_cal else None
    quality = Quality(
        gaps=len(state.gaps),
        lost_s=lost,
        clipped_samples=clipped,
        orientation="gyro+acc" if state.has_gyro else "acc-only",
        angle_model=(
            "gyro tilt filter, accelerometer-corrected with hip-rotation compensation"
            if state.has_gyro
            else _pendulum_model(state.lever)
        ),
        calibrated_at_s=state.cal_time_s if has_cal else None,
        # Every row is analysed once calibrated; before, none is.
        skipped_before_calibration_s=0.0 if has_cal else duration,
        gap_list=state.gaps,
        rejections=state.rejections,
        rest_mismatch_deg=float(kern.fs[L.F_REST_DIFF_DEG]) if kern is not None and state.has_gyro else None,
        gyro_frame=state.gyro_frame,
        calibration=_calibration_kind(settings, cal),
        calibration_window_s=None if cal is None else cal.window_s,
        calibration_motion=None if cal is None or not math.isfinite(cal.motion) else cal.motion,
        analysed_before_calibration_s=(state.cal_time_s - state.first_time_s) if has_cal else 0.0,
        walks=walks_so_far(settings, state.gait),
    )
    return Analysis(
        source=source,
        settings=settings,
        sample_rate_hz=1.0 / period if period > 0 else math.nan,
        duration_s=duration,
        has_gyro=state.has_gyro,
        quality=quality,
        sets=state.sets,
        version=__version__,
    )


def analyze_with_angle(
    samples: ImuSamples, settings: Settings | None = None, source: str = ""
) -> tuple[Analysis, np.ndarray]:
    """Analyse a whole recording; also return the flexion angle at every row, deg."""
    settings = settings or Settings()
    check_samples(samples, values=False)  # step() scans the values once
    if len(samples) < 2:
        raise ValueError(f"{len(samples)} samples: too few to analyse")
    state = init_state(settings, samples.has_gyro)
    state, events = step(settings, state, samples)
    state, more = finish(settings, state)
    blocks = [e.angle_deg for e in (*events, *more) if isinstance(e, AngleBlock)]
    if len(blocks) == 1 and len(blocks[0]) == len(samples):
        return result(settings, state, source), blocks[0]  # the common case: no copy
    angle = np.full(len(samples), np.nan)
    pos = 0
    for block in blocks:
        angle[pos : pos + len(block)] = block
        pos += len(block)
    return result(settings, state, source), angle


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
    return analyze_with_angle(samples, settings, source)[0]

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
from hipflex.dsp.identify import LeverFit, identify_lever
from hipflex.dsp.learn import (
    L_LOCK_ROW,
    L_SCANNED,
    Axes,
    Calibration,
    find_quiet_window,
    lock_axes,
    new_lock_state,
    new_quiet_state,
    scan_lock,
)
from hipflex.dsp.sets import make_set
from hipflex.dsp.types import Analysis, Gap, ImuSamples, Quality, Rejection, Rep, RepSet, Settings

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

    Create it with :func:`init_state`; never mutate it.  While learning
    (before calibration and the axis lock) rows are buffered; afterwards the
    kernel arrays in ``kernel`` carry the filters, the timeline and the
    detector, and only results are accumulated here.
    """

    has_gyro: bool
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
    kernel: _Kernel | None = None
    n_reps: int = 0
    closed_sets: tuple[RepSet, ...] = ()
    open_reps: tuple[Rep, ...] = ()
    gaps: tuple[Gap, ...] = ()
    rejections: tuple[Rejection, ...] = ()
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
    nan = np.flatnonzero(~np.isfinite(t))
    if nan.size:
        raise ValueError(f"time is not a finite number at row {int(nan[0])} of the chunk")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        raise ValueError(f"time does not increase at row {int(bad[0]) + 1} of the chunk")
    if not math.isnan(state.last_time_s) and t[0] <= state.last_time_s:
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
    theta = np.full(n, np.nan)
    events: list[Event] = []
    ev = np.zeros((min(n, _EVENT_ROWS) + 8, L.EV_N))
    done = 0
    while done < n:
        k, n_ev = _run_chunk(kern.prm, kern.fs, kern.ist, kern.hist, t[done:], acc[done:], gyr[done:], theta[done:], ev)
        state = _absorb(settings, state, ev[:n_ev], events)
        done += k
    return state, events, theta


def _absorb(settings: Settings, state: StreamState, rows: np.ndarray, events: list[Event]) -> StreamState:
    """Turn kernel event rows into typed events and accumulate results."""
    n_reps = state.n_reps
    closed = list(state.closed_sets)
    open_reps = list(state.open_reps)
    gaps = list(state.gaps)
    rejections = list(state.rejections)
    for row in rows:
        kind = row[L.EV_KIND]
        if kind == L.EV_REP:
            prev = open_reps[-1] if open_reps else (closed[-1].reps[-1] if closed else None)
            rep = Rep(
                index=0,
                start_s=float(row[L.E_START]),
                peak_s=float(row[L.E_PEAK_T]),
                end_s=float(row[L.E_END]),
                peak_flexion_deg=float(row[L.E_PEAK_DEG]),
                rom_deg=float(row[L.E_ROM]),
                flexion_time_s=float(row[L.E_FLEX_T]),
                peak_flexion_velocity_dps=float(row[L.E_PEAK_VEL]),
                mean_flexion_velocity_dps=float(row[L.E_MEAN_VEL]),
                hold_s=float(row[L.E_HOLD]),
                confidence=float(row[L.E_CONF]),
            )
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
            rep = dataclasses.replace(rep, index=len(open_reps))
            open_reps.append(rep)
            events.append(RepEvent(n_reps, len(closed), rep))
            n_reps += 1
        elif kind == L.EV_PEAK:
            events.append(RepPeakEvent(n_reps, float(row[1]), float(row[2]), float(row[3])))
        elif kind == L.EV_REJECT:
            rej = Rejection(float(row[1]), _REASONS[float(row[2])], float(row[3]))
            rejections.append(rej)
            events.append(RejectionEvent(rej))
        elif kind == L.EV_GAP:
            gap = Gap(float(row[1]), float(row[2]), bool(row[3] > 0))
            gaps.append(gap)
            events.append(GapEvent(gap))
    return dataclasses.replace(
        state,
        n_reps=n_reps,
        closed_sets=tuple(closed),
        open_reps=tuple(open_reps),
        gaps=tuple(gaps),
        rejections=tuple(rejections),
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
        cal = find_quiet_window(
            t[:lim],
            acc[:lim],
            None if gyr is None else gyr[:lim],
            settings.calib_still_s,
            settings.still_acc_g,
            settings.still_gyr_dps,
            settings.max_bridge_gyro_s if gyr is not None else settings.max_interp_gap_s,
            qstate,
            force=force or lim < t.size,
        )
        if cal is not None:
            lstate = new_lock_state(cal, acc, settings.tilt_tau_s, settings.still_gyr_dps, settings.gyro_bias_tau_s)
    axes = None
    if cal is not None and lstate is not None:
        lim = int(np.searchsorted(t, t[cal.end_row] + settings.max_learn_s, side="right"))
        gyr_lim = None if gyr is None else gyr[:lim]
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
        The next rows, times strictly increasing and after the previous chunk.

    Returns
    -------
    state : StreamState
    events : list of Event
        An :class:`AngleBlock` for every row once the learning phase ends
        (the rows buffered while learning are released in one block), then
        rep, set, gap and rejection events in time order.
    """
    if state.finished:
        raise ValueError("the stream is finished; start a new state")
    _check_chunk(state, chunk)
    if len(chunk) == 0:
        return state, []
    first = state.first_time_s if state.rows else float(chunk.time_s[0])
    last = float(chunk.time_s[-1])
    state = dataclasses.replace(state, rows=state.rows + len(chunk), first_time_s=first, last_time_s=last)
    gyr = chunk.gyr_dps if chunk.gyr_dps is not None else _EMPTY3
    if state.running:
        assert state.kernel is not None
        kern = state.kernel.copy()
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
    """Once calibrated and locked, run the kernel over the buffer and switch to streaming.

    The sign is confirmed over a fixed span after the lock row, so streaming
    starts once that span is buffered (or the stream ends).
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
    axes = state.axes
    if state.has_gyro and state.buf_gyr is not None:
        # The flexion axis from all the motion until the sign is confirmed, not
        # only the first lock_deg of the first excursion, which can be mostly a
        # lift-off jolt (Eurobench subject 03: 48 deg off the flexion axis).
        rate = state.buf_gyr[cal.end_row + 1 : stop] - cal.gyro_bias_dps
        rate = rate[~np.isnan(rate).any(axis=1)]
        axes = lock_axes(cal, state.lstate, True, rate.T @ rate)
    axes = _confirm_sign(settings, state, cal, axes, stop)
    lever = None if state.has_gyro or not settings.identify_lever else _identify(settings, state, cal, axes, stop)
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever)
    state = dataclasses.replace(state, axes=axes, lever=lever)
    t = state.buf_t
    gyr = state.buf_gyr if state.buf_gyr is not None else _EMPTY3
    s = cal.start_row
    cal_t = float(t[s])
    state = dataclasses.replace(state, kernel=kern, cal_time_s=cal_t)
    state, events, theta_tail = _run(settings, state, kern, t[s:], state.buf_acc[s:], gyr[s:])
    theta = np.concatenate([np.full(s, np.nan), theta_tail])
    state = dataclasses.replace(
        state, buf_t=np.zeros(0), buf_acc=_EMPTY3, buf_gyr=None if state.buf_gyr is None else _EMPTY3
    )
    return state, [CalibratedEvent(cal_t, cal.quiet), AngleBlock(t, theta), *events]


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
    a front-mounted sensor during fast swings; the angle over buffer rows
    ``cal.start_row:stop`` is a far more reliable witness.  It is read from
    the kernel's history once any post-gap window is closed: the live trace
    of a window is the gyro's uncorrected guess, which after a gap that hid a
    rise reads the following fall as a deep excursion the wrong way.
    """
    # Without a gyro, with no offset in front of the femur: then the pendulum
    # model is symmetric in the sign, and the two signs' traces mirror each
    # other.  With the prior offset one sign's filter can spin through +-180 deg
    # (a side-mounted sensor, whose true offset is ~0, in a march at 200 Hz),
    # and its garbage trace decided the sign.
    lever = None if state.has_gyro else LeverFit(settings.lever_arm_m, 0.0, False, 0.0)
    kern = _make_kernel(settings, state.has_gyro, cal, axes, lever)
    theta = _run_span(kern, state, cal.start_row, stop)
    if kern.fs[L.F_PG_S] > 0.0:
        _pg_finish(kern.prm, kern.fs, kern.ist, kern.hist)
    kept = kern.hist[: int(min(kern.ist[L.I_SAMPLE], kern.ist[L.I_CAP]))]
    if kept.shape[0] == 0:
        return axes
    # Rows older than the ring (a long learning phase) count with their live angle.
    older = theta[state.buf_t[cal.start_row : stop] < kept[:, L.H_TIME].min()]
    seen = np.concatenate([older, kept[:, L.H_THETA]])
    if np.all(np.isnan(seen)) or np.nanmax(seen) >= -np.nanmin(seen):
        return axes
    return Axes(axes.u, -axes.w, -axes.a)


def _identify(settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int) -> LeverFit:
    """Lever arm and offset of an accelerometer-only sensor, from the rows the sign was confirmed on."""

    def nll(lever_arm_m: float, sensor_offset_m: float) -> float:
        kern = _make_kernel(settings, False, cal, axes, LeverFit(lever_arm_m, sensor_offset_m, True, 0.0), True)
        _run_span(kern, state, cal.start_row, stop)
        return float(kern.fs[L.F_NLL])

    return identify_lever(nll, settings.lever_arm_m, settings.sensor_offset_m)


def finish(settings: Settings, state: StreamState) -> tuple[StreamState, list[Event]]:
    """End the stream: force the learning phase if needed, close the open rep and set."""
    if state.finished:
        return state, []
    events: list[Event] = []
    if not state.running:
        state = _learn(settings, state, force=True)
        state, events = _start_if_learned(settings, state, at_end=True)
    if state.kernel is not None:
        kern = state.kernel.copy()
        ev = np.zeros((_EVENT_ROWS + 8, L.EV_N))
        done = False
        while not done:
            n_ev, done = _finish(kern.prm, kern.fs, kern.ist, kern.hist, ev)
            state = _absorb(settings, dataclasses.replace(state, kernel=kern), ev[:n_ev], events)
    if state.open_reps:
        last = make_set(len(state.closed_sets), state.open_reps, state.gaps)
        events.append(SetEvent(last))
        state = dataclasses.replace(state, closed_sets=(*state.closed_sets, last), open_reps=())
    return dataclasses.replace(state, finished=True), events


def _pendulum_model(lever: LeverFit | None) -> str:
    text = "thigh pendulum EKF (gravity + tangential + centripetal acceleration)"
    if lever is None or not lever.identified:
        return text + "; sensor position from the settings"
    return (
        text + f"; sensor {100 * lever.lever_arm_m:.1f} cm below the hip, {100 * lever.sensor_offset_m:.1f} cm in"
        " front of the femur, identified from the first motion"
    )


def result(settings: Settings, state: StreamState, source: str = "") -> Analysis:
    """The analysis so far (complete after :func:`finish`)."""
    kern = state.kernel
    lost = float(kern.fs[L.F_LOST_S]) if kern is not None else 0.0
    clipped = int(kern.ist[L.I_CLIPPED]) if kern is not None else 0
    period = float(kern.fs[L.F_PERIOD]) if kern is not None else math.nan
    if kern is None and state.buf_t.size > 1:
        period = float(np.median(np.diff(state.buf_t)))
    has_cal = not math.isnan(state.cal_time_s)
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
        skipped_before_calibration_s=(state.cal_time_s - state.first_time_s) if has_cal else 0.0,
        gap_list=state.gaps,
        rejections=state.rejections,
        rest_mismatch_deg=float(kern.fs[L.F_REST_DIFF_DEG]) if kern is not None and state.has_gyro else None,
    )
    duration = state.last_time_s - state.first_time_s if state.rows else 0.0
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
    if len(samples) < 2:
        raise ValueError(f"{len(samples)} samples: too few to analyse")
    state = init_state(settings, samples.has_gyro)
    state, events = step(settings, state, samples)
    state, more = finish(settings, state)
    angle = np.full(len(samples), np.nan)
    pos = 0
    for e in (*events, *more):
        if isinstance(e, AngleBlock):
            angle[pos : pos + len(e.angle_deg)] = e.angle_deg
            pos += len(e.angle_deg)
    return result(settings, state, source), angle


def analyze(samples: ImuSamples, settings: Settings | None = None, source: str = "") -> Analysis:
    """Analyse a whole recording: the streaming path over one chunk.

    Parameters
    ----------
    samples : ImuSamples
        The recording; times strictly increasing, NaN rows are dropouts.
    settings : Settings, optional
        Defaults to ``Settings()``.
    source : str
        Recorded in the result (the path as the user gave it).

    Returns
    -------
    Analysis
    """
    return analyze_with_angle(samples, settings, source)[0]

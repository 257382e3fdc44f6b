"""Per-drill kinematics of one set: the set types and the standing drills.

Each generator (here: ballistic, hold, strength; :mod:`.sim_gait`: march,
stride) turns a planned :class:`~hipflex.sensor.sim.plan.Segment` into
a :class:`SetMotion`: keyframes of the thigh flexion angle (joined later by
C2 quintic splines, i.e. minimum-jerk moves between rest points), the rep
keyframes the truth is measured around, hip vertical / forward keyframes
and foot strikes.  Ranges follow observed drill practice (see
``plan_session``); every rep rises at least 35 degrees from a low below
10 degrees, so each is a clear excursion with a clear low on both sides.

A minimum-jerk move of amplitude A over T seconds peaks at 1.875 A / T
deg/s and takes 0.507 T from 10 % to 90 %; the generators use that to hit
velocity and rise-time targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .plan import SET_LEAD_S, SET_TAIL_S, Segment
from .track import KeyBuilder, Keys

__all__ = [
    "Impacts",
    "RepKeys",
    "SetMotion",
    "Stances",
    "Tremor",
    "ballistic_set",
    "final_low",
    "hold_set",
    "rep_periods",
    "round_extrema",
    "strength_set",
]

FloatArray = NDArray[np.float64]
_MJ_PEAK = 1.875  # peak velocity of a minimum-jerk move, in units of amplitude / duration


@dataclass(frozen=True)
class RepKeys:
    """Keyframe times of one rep, seconds: start of the rise, peak, end of the descent."""

    rise_s: float
    peak_s: float
    return_s: float


@dataclass(frozen=True, eq=False)
class Impacts:
    """Foot strikes: time (s), peak acceleration (g), spike width sigma (s), wobble scale (0..1)."""

    time_s: FloatArray
    peak_g: FloatArray
    sigma_s: FloatArray
    wobble: FloatArray

    @classmethod
    def empty(cls) -> Impacts:
        """No strikes."""
        z = np.zeros(0)
        return cls(z, z, z, z)

    @classmethod
    def of(cls, rows: list[tuple[float, float, float, float]]) -> Impacts:
        """From (time_s, peak_g, sigma_s, wobble) rows."""
        if not rows:
            return cls.empty()
        a = np.array(rows, dtype=np.float64)
        return cls(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy())


@dataclass(frozen=True)
class Stances:
    """Running steps seen at the hip: each a ground contact then a flight (session time, seconds).

    Attributes
    ----------
    time_s : ndarray
        Landing times (start of each contact).
    contact_s : ndarray
        Ground contact durations.
    step_s : ndarray
        Landing to the next landing.
    scale : ndarray
        0-1, the bounce's share of full running (ramps in as the runner speeds up, out as they stop).
    """

    time_s: FloatArray
    contact_s: FloatArray
    step_s: FloatArray
    scale: FloatArray

    @classmethod
    def empty(cls) -> Stances:
        """No running steps."""
        z = np.zeros(0)
        return cls(z, z, z, z)


@dataclass(frozen=True)
class Tremor:
    """A window of physiological tremor added to the thigh angle."""

    start_s: float
    end_s: float
    amp_deg: float
    freq_hz: float


@dataclass(frozen=True, eq=False)
class SetMotion:
    """Kinematics of one set (times in session time, seconds).

    Attributes
    ----------
    start_s, end_s : float
        The set's interval (end may exceed the planned end if the drawn
        tempo needs it).
    theta_keys : Keys
        Flexion angle keyframes, degrees; first and last at rest (0 velocity).
    reps : tuple of RepKeys
        One per planned rep.
    hip_z_keys, hip_vx_keys : Keys or None
        Vertical hip offset (m) and forward hip speed (m/s) keyframes.
    strikes : Impacts
        Instrumented-leg foot strikes (spike along the thigh, tissue wobble).
    contra : Impacts
        Other-leg foot strikes (vertical jolt at the hip).
    stances : Stances
        Running steps: the hip's vertical push in stance and free fall in flight.
    tremors : tuple of Tremor
        Tremor windows (holds).
    """

    start_s: float
    end_s: float
    theta_keys: Keys
    reps: tuple[RepKeys, ...]
    hip_z_keys: Keys | None = None
    hip_vx_keys: Keys | None = None
    strikes: Impacts = field(default_factory=Impacts.empty)
    contra: Impacts = field(default_factory=Impacts.empty)
    stances: Stances = field(default_factory=Stances.empty)
    tremors: tuple[Tremor, ...] = ()


def rep_periods(rng: np.random.Generator, mean_s: float, n: int, rel_std: float) -> FloatArray:
    """Rep periods (s) wobbling around ``mean_s`` but summing to ``n * mean_s`` (the plan's cadence)."""
    p = mean_s * (1.0 + rel_std * np.clip(rng.standard_normal(n), -2.5, 2.5))
    return p * (n * mean_s / p.sum())


def round_extrema(keys: KeyBuilder, min_deg: float = 5.0) -> None:
    """Give swing turnarounds the curvature of a cosine instead of a minimum-jerk stop.

    Cyclic swings (marching, running) pass through their extremes without
    lingering; zero acceleration there would make the thigh pause at every
    turn.  A key whose neighbours both lie more than ``min_deg`` on the same
    side gets the mean of the two half-cosine end accelerations
    ``(pi / T)^2 * A / 2``.
    """
    y, t = keys.y, keys.t_s
    for k in range(1, len(y) - 1):
        left, right = y[k] - y[k - 1], y[k] - y[k + 1]
        if min(abs(left), abs(right)) > min_deg and left * right > 0:
            a_l = (np.pi / (t[k] - t[k - 1])) ** 2 * left / 2.0
            a_r = (np.pi / (t[k + 1] - t[k])) ** 2 * right / 2.0
            keys.ddy[k] = float(-0.5 * (a_l + a_r))


def final_low(rng: np.random.Generator) -> float:
    """The last return of a set ends near standing so the rest starts quiet."""
    return float(rng.uniform(-1.0, 2.0))


def ballistic_set(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """Rapid band contractions: fast minimum-jerk rises, >= 1.2x slower returns, fading velocity."""
    n = seg.n_reps
    period = max((seg.duration_s - SET_LEAD_S - SET_TAIL_S) / n, 0.4)
    periods = rep_periods(rng, period, n, 0.05)
    rom_set, v_set = rng.uniform(45.0, 75.0), rng.uniform(650.0, 1000.0)
    fatigue, low_set = rng.uniform(0.03, 0.2), rng.uniform(0.0, 6.0)
    keys, reps = KeyBuilder(), []
    t = t0 + SET_LEAD_S
    keys.add(t0, 0.0)
    keys.add(t, 0.0)
    low = 0.0
    for i in range(n):
        frac = i / max(n - 1, 1)
        v = float(np.clip(v_set * (1.0 - fatigue * frac) * (1.0 + 0.04 * rng.standard_normal()), 500, 1100))
        rom = float(np.clip(rom_set * (1.0 - 0.3 * fatigue * frac) + 5.0 * rng.standard_normal(), 35, 80))
        dwell = rng.uniform(0.0, 0.05)
        # Rise time from the velocity target, kept >= 0.15 s (10-90 % >= 0.076 s)
        # and short enough that the return is at least 1.2x slower than the rise.
        t_up = float(np.clip(_MJ_PEAK * rom / v, 0.15, min(0.33, (periods[i] - dwell) / 2.2)))
        rom = float(np.clip(v * t_up / _MJ_PEAK, 35.0, 80.0))
        t_down = periods[i] - dwell - t_up
        peak = low + rom
        low = final_low(rng) if i == n - 1 else float(np.clip(low_set + 1.5 * rng.standard_normal(), 0, 10))
        rise = t
        keys.add(t + t_up, peak)
        t += t_up + t_down
        keys.add(t, low)
        reps.append(RepKeys(rise, rise + t_up, t))
        if dwell > 0.01 and i < n - 1:
            t += dwell
            keys.add(t, low)
    end = max(t + SET_TAIL_S, t0 + seg.duration_s)
    keys.add(end, low)
    return SetMotion(t0, end, keys.build(), tuple(reps))


def _fit_gaps(gaps: FloatArray, target_s: float, lo: float, hi: float) -> FloatArray:
    """Scale standing gaps so they add up to ``target_s`` (each kept within [lo, hi])."""
    if gaps.size == 0 or gaps.sum() <= 0:
        return gaps
    return np.clip(gaps * max(target_s, 0.0) / gaps.sum(), lo, hi)


def hold_set(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """3-second holds near 90 degrees: lift with overshoot, settle, sag, lower; gaps fitted to the plan."""
    n = seg.n_reps
    target_set = rng.uniform(83.0, 97.0)
    lift = rng.uniform(0.4, 0.8, n)
    hold = rng.uniform(2.9, 3.2, n)
    lower = rng.uniform(0.8, 1.2, n)
    gaps = _fit_gaps(
        rng.uniform(1.0, 2.0, n - 1),
        seg.duration_s - SET_LEAD_S - SET_TAIL_S - float((lift + hold + lower).sum()),
        0.8,
        3.0,
    )
    keys, reps, tremors = KeyBuilder(), [], []
    t = t0 + SET_LEAD_S
    keys.add(t0, 0.0)
    keys.add(t, 0.0)
    for i in range(n):
        target = float(np.clip(target_set + 2.5 * rng.standard_normal(), 80.0, 100.0))
        overshoot, settle = rng.uniform(1.5, 5.0), rng.uniform(0.25, 0.45)
        sag = rng.uniform(2.0, 6.0)
        rise = t
        t_peak = t + lift[i]
        keys.add(t_peak, target + overshoot)
        # Settle onto the target already sagging, then sag at a steady rate.
        keys.add(t_peak + settle, target, -sag / (hold[i] - settle))
        keys.add(t_peak + hold[i], target - sag)
        t = t_peak + hold[i] + lower[i]
        low = final_low(rng) if i == n - 1 else float(rng.uniform(0.0, 3.0))
        keys.add(t, low)
        reps.append(RepKeys(rise, t_peak, t))
        tremors.append(Tremor(t_peak, t_peak + hold[i], float(rng.uniform(0.03, 0.08)), float(rng.uniform(6.0, 10.0))))
        if i < n - 1:
            t += gaps[i]
            keys.add(t, low)
    end = max(t + SET_TAIL_S, t0 + seg.duration_s)
    keys.add(end, keys.last_y)
    return SetMotion(t0, end, keys.build(), tuple(reps), tremors=tuple(tremors))


def strength_set(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """Slow reps: 1-1.5 s up, a short pause at the top, 1.5-2 s down; gaps fitted to the plan."""
    n = seg.n_reps
    up = rng.uniform(1.0, 1.5, n)
    pause = rng.uniform(0.15, 0.4, n)
    down = rng.uniform(1.5, 2.0, n)
    gaps = _fit_gaps(
        rng.uniform(0.2, 0.6, n - 1),
        seg.duration_s - SET_LEAD_S - SET_TAIL_S - float((up + pause + down).sum()),
        0.15,
        1.5,
    )
    rom_set, low_set = rng.uniform(60.0, 85.0), rng.uniform(0.0, 4.0)
    keys, reps = KeyBuilder(), []
    t = t0 + SET_LEAD_S
    keys.add(t0, 0.0)
    keys.add(t, 0.0)
    low = 0.0
    for i in range(n):
        # Slow reps still fade a little: ROM drops by up to ~8 degrees over the set.
        rom = float(np.clip(rom_set - 8.0 * i / max(n - 1, 1) * rng.uniform() + 4 * rng.standard_normal(), 50, 90))
        peak = low + rom
        rise = t
        t_peak = t + up[i]
        keys.add(t_peak, peak)
        keys.add(t_peak + pause[i], peak - rng.uniform(0.3, 1.5))
        t = t_peak + pause[i] + down[i]
        low = final_low(rng) if i == n - 1 else float(np.clip(low_set + rng.standard_normal(), 0, 6))
        keys.add(t, low)
        reps.append(RepKeys(rise, t_peak, t))
        if i < n - 1:
            t += gaps[i]
            keys.add(t, low)
    end = max(t + SET_TAIL_S, t0 + seg.duration_s)
    keys.add(end, low)
    return SetMotion(t0, end, keys.build(), tuple(reps))

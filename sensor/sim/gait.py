"""Kinematics of the cyclic drills, march and stride: swings, hip bounce, foot strikes.

Swings reverse without lingering (cosine-like turnarounds), the hip bounces
at step frequency (running: a push in stance, free fall in flight), and every landing of the instrumented foot is a foot
strike (a spike along the thigh followed by soft-tissue wobble, see
:mod:`.sim_motion`); landings of the other foot jolt the hip.
"""

from __future__ import annotations

import numpy as np

from .drills import Impacts, RepKeys, SetMotion, Stances, final_low, rep_periods, round_extrema
from .plan import SET_LEAD_S, SET_TAIL_S, STRIDE_STOP_S, Segment
from .track import KeyBuilder, Keys

__all__ = ["march_set", "stride_set"]


def march_set(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """High-knee marching: a swing per rep period, stance dwell at -5..0 degrees, 1.5-3 cm hip bounce."""
    n = seg.n_reps
    period = max((seg.duration_s - SET_LEAD_S - SET_TAIL_S) / n, 0.6)
    periods = rep_periods(rng, period, n, 0.04)
    peak_set, low_set = rng.uniform(65.0, 90.0), rng.uniform(-5.0, -1.0)
    bounce_m = rng.uniform(0.015, 0.03)
    keys, reps = KeyBuilder(), []
    landings: list[float] = []
    strikes: list[tuple[float, float, float, float]] = []
    contra: list[tuple[float, float, float, float]] = []
    t = t0 + SET_LEAD_S
    keys.add(t0, 0.0)
    keys.add(t, 0.0)
    low = 0.0
    for i in range(n):
        rise_d = periods[i] * rng.uniform(0.33, 0.4)
        fall_d = periods[i] * rng.uniform(0.33, 0.4)
        peak = float(np.clip(peak_set + 4.0 * rng.standard_normal(), 60.0, 95.0))
        low = final_low(rng) if i == n - 1 else float(np.clip(low_set + rng.standard_normal(), -5.0, 0.0))
        rise = t
        keys.add(t + rise_d, peak)
        t_down = t + rise_d + fall_d
        keys.add(t_down, low)
        reps.append(RepKeys(rise, rise + rise_d, t_down))
        # The foot lands just before the thigh is back at its low.
        land = t + rise_d + 0.88 * fall_d
        strikes.append((land, rng.uniform(1.0, 2.0), rng.uniform(0.010, 0.016), 0.3))
        landings.append(land)
        if i < n - 1:
            other = land + 0.5 * periods[i]
            contra.append((other, rng.uniform(0.3, 0.8), rng.uniform(0.012, 0.018), 0.0))
            landings.append(other)
        t = rise + periods[i]
        if i < n - 1:
            keys.add(t, low)
    end = max(t_down + SET_TAIL_S, t0 + seg.duration_s)
    keys.add(end, low)
    round_extrema(keys)
    hip_z = _bounce_keys(t0 + SET_LEAD_S, end, landings, 0.06, bounce_m)
    return SetMotion(
        t0,
        end,
        keys.build(),
        tuple(reps),
        hip_z_keys=hip_z,
        strikes=Impacts.of(strikes),
        contra=Impacts.of(contra),
    )


def _bounce_keys(start_s: float, end_s: float, landings_s: list[float], delay_s: float, amp_m: float) -> Keys:
    """Walking-like vertical hip keyframes: a dip of ``amp_m`` ``delay_s`` after each landing, level midway between."""
    kb = KeyBuilder()
    kb.add(start_s, 0.0)
    lows = [x + delay_s for x in landings_s]
    for j, tl in enumerate(lows):
        kb.add(tl, -amp_m)
        if j + 1 < len(lows):
            kb.add(0.5 * (tl + lows[j + 1]), 0.0)
    kb.add(end_s, 0.0)
    return kb.build()


def _running_stances(start_s: float, landings_s: list[float], ramp_s: float, duty: float) -> Stances:
    """Each landing starts a contact of ``duty`` of its step, then flight; none after the last landing.

    The bounce ramps in over ``ramp_s`` after ``start_s`` and fades over the
    last three steps (the runner stops; the last landing is at rest).
    """
    n = len(landings_s) - 1
    if n < 1:
        return Stances.empty()
    t = np.asarray(landings_s, dtype=np.float64)
    step = np.diff(t)
    j = np.arange(n)
    scale = np.minimum((n - j) / 3.0, 1.0)
    if ramp_s > 0.0:
        scale = np.minimum(scale, np.clip((t[:-1] - start_s) / ramp_s, 0.0, 1.0))
    return Stances(t[:-1].copy(), duty * step, step, scale)


def stride_set(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """Running strides: -25 to +60..80 degree swings, 4-8 m/s hip speed, a bounce per step, foot strikes.

    The hip's vertical motion is that of a runner: ground contact for 55-75 %
    of each step with a half-sine push (1.1-1.9 g of hip acceleration at its
    peak, 2.1-2.9 g of specific force: vertical ground reaction forces of
    2-3 body weights), free fall in flight (specific force 0, never below).
    """
    n = seg.n_reps
    period = max((seg.duration_s - SET_LEAD_S - SET_TAIL_S - STRIDE_STOP_S) / n, 0.5)
    periods = rep_periods(rng, period, n, 0.03)
    peak_set, low_set = rng.uniform(62.0, 78.0), rng.uniform(-27.0, -22.0)
    v_run = rng.uniform(4.0, 8.0)
    keys, reps = KeyBuilder(), []
    strikes: list[tuple[float, float, float, float]] = []
    contra: list[tuple[float, float, float, float]] = []
    start = t0 + SET_LEAD_S
    t = start
    keys.add(t0, 0.0)
    keys.add(t, 0.0)
    for i in range(n):
        last = i == n - 1
        rise_d = periods[i] * rng.uniform(0.42, 0.5)
        # The last swing comes down to standing: the runner stops.
        fall_d = rng.uniform(0.5, 0.7) if last else periods[i] - rise_d
        peak = float(np.clip(peak_set + 3.0 * rng.standard_normal(), 60.0, 80.0))
        low = final_low(rng) if last else float(np.clip(low_set + 1.5 * rng.standard_normal(), -30, -20))
        rise = t
        keys.add(t + rise_d, peak)
        t += rise_d + fall_d
        keys.add(t, low)
        reps.append(RepKeys(rise, rise + rise_d, t))
        # Initial contact while the thigh is still ~20-35 degrees forward.
        strike = rise + rise_d + (0.7 if last else rng.uniform(0.4, 0.5)) * fall_d
        strikes.append((strike, rng.uniform(3.0, 8.0), rng.uniform(0.005, 0.009), 1.0))
        if not last:
            contra.append((strike + 0.5 * periods[i], rng.uniform(0.5, 1.5), rng.uniform(0.008, 0.012), 0.0))
    end = max(t + SET_TAIL_S, t0 + seg.duration_s)
    keys.add(end, keys.last_y)
    round_extrema(keys)
    strike_t = sorted([s[0] for s in strikes[:-1]] + [c[0] for c in contra])
    ramp = float(min(rng.uniform(2.0, 3.0), 0.4 * (t - start)))
    stances = _running_stances(start, strike_t, ramp, rng.uniform(0.55, 0.75))
    # Forward speed: accelerate, cruise with a small brake/push ripple per step, stop.
    vx = KeyBuilder()
    vx.add(start, 0.0)
    vx.add(start + ramp, v_run)
    decel_start = reps[-1].peak_s - 0.8
    ripple = rng.uniform(0.1, 0.3)
    for s_t in strike_t:
        if start + ramp + 0.1 < s_t and s_t + 0.25 < decel_start:
            vx.add(s_t + 0.04, v_run - ripple)
            vx.add(s_t + 0.2, v_run + 0.5 * ripple)
    vx.add(max(decel_start, start + ramp + 0.05), v_run)
    vx.add(t + 0.2, 0.0)
    return SetMotion(
        t0,
        end,
        keys.build(),
        tuple(reps),
        hip_vx_keys=vx.build(),
        strikes=Impacts.of(strikes),
        contra=Impacts.of(contra),
        stances=stances,
    )

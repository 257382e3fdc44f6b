"""Generated sessions for the contract checks: hostile input and simulated sessions.

Used by ``benchmarks/contract.py`` and ``tests/dsp/test_contract.py``.  Every
session is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np

from hipflex.dsp import Analysis, ImuSamples, Settings, analyze
from hipflex.dsp.pipeline import finish, init_state, result, step
from hipflex.dsp.units import STANDARD_GRAVITY_MPS2

__all__ = ["HOSTILE_KINDS", "RATES_HZ", "analyse_in_chunks", "hostile", "simulated"]

HOSTILE_KINDS = ("garbage", "noise", "flat", "steps", "spikes", "swings", "clipped", "mixed")
RATES_HZ = (12.5, 25.0, 52.0, 100.0, 200.0, 400.0)
_G0 = STANDARD_GRAVITY_MPS2


def _times(rng: np.random.Generator, n: int, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Increasing times with jitter up to +-45 % of the period, arrival-time bursts and dropped rows."""
    period = 1.0 / fs_hz
    dt = period * (1.0 + rng.uniform(-0.45, 0.45, n))
    if rng.random() < 0.3:  # phone-style stamps: a notification's rows near-equal, then a jump
        burst = int(rng.integers(5, 40))
        # Rows 1 us apart are the worst case (and slow: the timeline takes the
        # period from them and bridges the jumps), so they are the rarer one.
        inside = 1e-6 if rng.random() < 0.1 else 0.05 * period
        dt = np.where(np.arange(n) % burst == 0, period * burst, inside)
    t = float(rng.uniform(-100.0, 5000.0)) + np.cumsum(dt)
    keep = rng.random(n) > rng.choice([0.0, 0.02, 0.2])
    if rng.random() < 0.3:  # a long outage
        a = int(rng.integers(0, n))
        keep[a : a + int(rng.integers(1, max(2, n // 4)))] = False
    return t[keep], keep


def _swings(rng: np.random.Generator, n: int, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Random flexion excursions (any rise, hold, fall, amplitude, pause) of a thigh pendulum.

    Specific force and rate of a sensor ``lever`` below the hip on a thigh
    whose angle follows raised-cosine ramps; sensor axes: x up the thigh,
    y anterior, z the flexion axis.
    """
    t = np.arange(n) / fs_hz
    th = np.zeros(n)
    t0 = float(rng.uniform(0.0, 3.0))
    while t0 < t[-1] - 1.0:
        rise, hold, fall = rng.uniform(0.05, 3.0), rng.choice([0.0, rng.uniform(0.0, 6.0)]), rng.uniform(0.05, 3.0)
        amp = np.deg2rad(rng.uniform(-40.0, 130.0))
        up = np.clip((t - t0) / rise, 0.0, 1.0)
        down = np.clip((t - t0 - rise - hold) / fall, 0.0, 1.0)
        th += amp * (0.5 - 0.5 * np.cos(np.pi * up)) - amp * (0.5 - 0.5 * np.cos(np.pi * down))
        t0 += rise + hold + fall + float(rng.choice([0.0, rng.uniform(0.0, 12.0)]))
    om = np.gradient(th, t)
    al = np.gradient(om, t)
    lever = float(rng.uniform(0.1, 0.35))
    acc = np.column_stack([np.cos(th) + lever * om * om / _G0, np.sin(th) + lever * al / _G0, np.zeros(n)])
    gyr = np.column_stack([np.zeros(n), np.zeros(n), np.rad2deg(om)])
    acc += rng.normal(0.0, 0.01, acc.shape)
    gyr += rng.normal(0.0, 0.5, gyr.shape)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # any mounting
    return acc @ q.T, gyr @ q.T


def hostile(kind: str, rng: np.random.Generator, fs_hz: float, dur_s: float, gyro: bool) -> ImuSamples:
    """One hostile recording of the given kind (see ``HOSTILE_KINDS``), with NaN runs and bad time stamps."""
    n = max(int(dur_s * fs_hz), 4)
    g = np.array([0.0, 0.0, 1.0])
    acc = np.tile(g, (n, 1))
    gyr = np.zeros((n, 3))
    if kind == "garbage":
        acc = rng.uniform(-16.0, 16.0, (n, 3))
        gyr = rng.uniform(-2000.0, 2000.0, (n, 3))
    elif kind == "noise":
        acc = acc + rng.normal(0.0, rng.choice([0.01, 0.2, 1.0]), (n, 3))
        gyr = rng.normal(0.0, rng.choice([1.0, 50.0, 500.0]), (n, 3))
    elif kind == "flat":
        acc = np.tile([g, np.zeros(3), rng.normal(0.0, 1.0, 3)][int(rng.integers(0, 3))], (n, 1))
    elif kind == "steps":
        for c in np.sort(rng.integers(0, n, int(rng.integers(1, 12)))):
            acc[c:] = rng.normal(0.0, 1.0, 3)
            gyr[c : c + 3] = rng.normal(0.0, 300.0, 3)
    elif kind == "spikes":
        idx = rng.integers(0, n, int(rng.integers(1, max(2, n // 20))))
        acc[idx] = rng.choice([-16.0, 16.0], (idx.size, 3))
        gyr[idx] = rng.choice([-2000.0, 2000.0], (idx.size, 3))
    else:  # swings, clipped, mixed
        acc, gyr = _swings(rng, n, fs_hz)
        if kind == "clipped":
            lim = float(rng.choice([2.0, 4.0]))
            acc = np.clip(acc, -lim, lim)
            gyr = np.clip(gyr, -250.0, 250.0)
        elif kind == "mixed":
            a = int(rng.integers(0, n))
            b = a + int(rng.integers(1, max(2, n // 5)))
            acc[a:b] = rng.uniform(-8.0, 8.0, acc[a:b].shape)
    acc = np.array(acc, dtype=np.float64)
    gyr = np.array(gyr, dtype=np.float64)
    for _ in range(int(rng.integers(0, 4))):  # NaN runs
        a = int(rng.integers(0, n))
        acc[a : a + int(rng.integers(1, 200)), int(rng.integers(0, 3))] = np.nan
    t, keep = _times(rng, n, fs_hz)
    return ImuSamples(t, acc[keep], gyr[keep] if gyro else None)


def simulated(seed: int) -> ImuSamples:
    """A session from the project simulator: random drill, rate, range, mounting, impairments, gyro or not."""
    from hipflex.sensor.sim.simulate import DRILLS, Mounting, SensorModel, plan_session, simulate

    rng = np.random.default_rng(seed)
    sensor = SensorModel(
        fs_hz=float(rng.choice(RATES_HZ)),
        has_gyro=bool(rng.random() < 0.5),
        acc_range_g=float(rng.choice([2.0, 4.0, 8.0, 16.0])),
        loss_fraction=float(rng.choice([0.0, 0.02])),
        jitter_s=float(rng.choice([0.0, 0.002])),
        time_offset_s=float(rng.uniform(0.0, 1000.0)),
        clock_drift_ppm=float(rng.uniform(-100.0, 100.0)),
    )
    drill = DRILLS[int(rng.integers(0, len(DRILLS)))]
    plan = plan_session(drill, rng, n_sets=2, stand_s=float(rng.uniform(0.5, 3.0)))
    return simulate(plan, Mounting.random(rng), sensor, seed=seed).samples


def analyse_in_chunks(samples: ImuSamples, cfg: Settings, rng: np.random.Generator | None) -> Analysis:
    """The streaming path over random chunks of 1-400 rows (``analyze`` when ``rng`` is None)."""
    if rng is None:
        return analyze(samples, cfg)
    state = init_state(cfg, samples.has_gyro)
    a = 0
    while a < len(samples):
        b = a + int(rng.integers(1, 400))
        state, _ = step(cfg, state, samples.slice(a, b))
        a = b
    state, _ = finish(cfg, state)
    return result(cfg, state)

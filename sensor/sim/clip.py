"""One-rep clips: recordings cut tightly around a single rep, with no stillness anywhere.

Some real data sets publish each rep as a file of its own, cut from a longer
recording so that the file starts part-way up the rise and ends part-way
down the return (the CMU-MBL SUB22 lunges, step-ups and squats: 1.0-3.8 s,
the thigh moving at 50-200 deg/s at the first row).  A recording like that
has no quiet window of any length: the core's calibration falls back to
the quietest one, which lies inside the rep (its turn).  :func:`one_rep_clip`
makes such a recording from any simulation, :func:`draw_clip` simulates a
squat-like rep for it from a seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .body import Mounting, ThighKinematics, rigid_body_signals
from .drills import round_extrema
from .motion import DENSE_HZ
from .plan import Segment, SessionPlan
from .sensor import SensorModel, sample_signals
from .simulate import Simulation, Truth, TruthRep
from .track import KeyBuilder, Track, quintic_track, smooth_noise
from .wide import WIDE_ACC_RANGES_G, WIDE_RATES_HZ

__all__ = ["CLIP_EDGE_FRACTIONS", "ClipCase", "draw_clip", "one_rep_clip"]

#: The range of ``edge_fraction`` :func:`draw_clip` draws from: CMU-MBL's squat and
#: step-up files start 10-30 deg into a 45-80 deg rise and end as far above the low.
CLIP_EDGE_FRACTIONS = (0.1, 0.35)

# The stream of the seed a clip's draws come from (``default_rng([seed, 21])``).
_CLIP_STREAM = 21
# Hip to knee, m: how far the hip drops in a squat-like clip (length x (1 - cos flexion)).
_THIGH_M = 0.42


def one_rep_clip(sim: Simulation, rep: int, edge_fraction: float) -> Simulation:
    """``sim`` cut to true rep ``rep`` alone, from ``edge_fraction`` of its rise to as much of its return.

    The clip starts where the true angle has risen ``edge_fraction`` of the
    way from the rep's low to its peak and ends where it has come back down
    to ``edge_fraction`` of the way from its trough to the peak, so the thigh
    moves at the first row and at the last.  The truth keeps that rep only
    (its low and trough are moved to the clip's ends, at their angles), no
    rest, and its set clipped to the clip.

    Parameters
    ----------
    sim : Simulation
    rep : int
        Index into ``sim.truth.reps``.
    edge_fraction : float
        In [0, 0.5).

    Returns
    -------
    Simulation
    """
    if not 0.0 <= edge_fraction < 0.5:
        raise ValueError(f"edge_fraction must be in [0, 0.5), got {edge_fraction!r}")
    truth = sim.truth
    r = truth.reps[rep]
    t, th = truth.time_s, truth.angle_deg
    rise = np.flatnonzero((t >= r.low_s) & (t <= r.peak_s))
    fall = np.flatnonzero((t >= r.peak_s) & (t <= r.trough_s))
    i0 = int(rise[np.argmax(th[rise] >= r.low_deg + edge_fraction * r.rom_deg)])
    i1 = int(fall[np.argmax(th[fall] <= r.trough_deg + edge_fraction * r.fall_deg)])
    start_s, end_s = float(t[i0]), float(t[i1])
    s = sim.samples
    keep = (s.time_s >= start_s) & (s.time_s <= end_s)
    samples = dataclasses.replace(
        s, time_s=s.time_s[keep], acc_g=s.acc_g[keep], gyr_dps=None if s.gyr_dps is None else s.gyr_dps[keep]
    )
    kept_rep = dataclasses.replace(r, low_s=start_s, low_deg=float(th[i0]), trough_s=end_s, trough_deg=float(th[i1]))
    clipped = Truth(
        time_s=truth.time_s,
        angle_deg=truth.angle_deg,
        velocity_dps=truth.velocity_dps,
        reps=(kept_rep,),
        sets=((start_s, end_s),),
        rests=(),
    )
    di = None if sim.device_index is None else sim.device_index[keep]
    return dataclasses.replace(sim, samples=samples, truth=clipped, device_index=di)


def draw_clip(seed: int, has_gyro: bool | None = None) -> tuple[ClipCase, Simulation]:
    """A one-rep clip drawn from ``seed``: a squat-like rep with no pause at its turn, cut at both ends.

    The thigh rises 40-85 deg in 0.8-1.2 s and comes back in 0.8-1.3 s,
    turning without a pause (as CMU-MBL's squats and step-ups turn at
    their bottom: 10-40 deg/s at the slowest row); in half the clips the
    hip drops with the thigh's tilt (a squat), in the others it stays (a
    step-up's knee drive).  The sensor is drawn as the wide simulator draws
    it (anywhere on the thigh, any rate and range, packet loss, jitter,
    drift); the clip is cut from the recording by :func:`one_rep_clip`
    with ``edge_fraction`` uniform in :data:`CLIP_EDGE_FRACTIONS`.

    Parameters
    ----------
    seed : int
        Seed (non-negative); below 10 000 for tuning.
    has_gyro : bool, optional
        Forced; drawn (1 in 2) when None.

    Returns
    -------
    (ClipCase, Simulation)
    """
    rng = np.random.default_rng([seed, _CLIP_STREAM])
    fs_hz = float(WIDE_RATES_HZ[int(rng.integers(len(WIDE_RATES_HZ)))])
    gyro = bool(rng.random() < 0.5) if has_gyro is None else has_gyro
    sensor = SensorModel(
        fs_hz=fs_hz,
        has_gyro=gyro,
        acc_range_g=float(WIDE_ACC_RANGES_G[int(rng.integers(len(WIDE_ACC_RANGES_G)))]),
        loss_fraction=float(rng.uniform(0.0, 0.04)) if rng.random() < 0.5 else 0.0,
        jitter_s=float(rng.uniform(0.0, 0.2) / fs_hz) if rng.random() < 0.5 else 0.0,
        time_offset_s=float(np.round(rng.uniform(0.0, 1e5), 3)),
        clock_drift_ppm=float(rng.uniform(-50.0, 50.0)),
    )
    mounting = Mounting.anywhere(rng)
    low, rom = float(rng.uniform(0.0, 5.0)), float(rng.uniform(40.0, 85.0))
    up_s, down_s = float(rng.uniform(0.8, 1.2)), float(rng.uniform(0.8, 1.3))
    squat = bool(rng.random() < 0.5)
    edge = float(rng.uniform(*CLIP_EDGE_FRACTIONS))
    t0 = 1.0  # standing before the rep (cut away)
    keys = KeyBuilder()
    keys.add(0.0, low)
    keys.add(t0, low)
    keys.add(t0 + up_s, low + rom)
    keys.add(t0 + up_s + down_s, low)
    end_s = t0 + up_s + down_s + 1.0
    keys.add(end_s, low)
    # No lingering at the turn: the peak key gets a cosine's curvature.
    round_extrema(keys)
    ts = np.arange(round(end_s * DENSE_HZ) + 1) / DENSE_HZ
    streams = np.random.SeedSequence([seed, _CLIP_STREAM]).spawn(2)
    noise_rng = np.random.default_rng(streams[0])
    phi = quintic_track(ts, keys.build()) + smooth_noise(ts, noise_rng, 0.4, 0.5)
    zero = Track.zeros(ts.size)
    hip = np.zeros((ts.size, 3))
    if squat:
        # The hip drops as the thigh tilts forward: height ~ thigh length x cos(flexion).
        th = np.radians(phi.y)
        hip[:, 2] = np.gradient(np.gradient(_THIGH_M * (np.cos(th) - 1.0), ts), ts)
    kin = ThighKinematics(time_s=ts, flexion_deg=phi, abduction_deg=zero, rotation_deg=zero, hip_acc_mps2=hip)
    body = rigid_body_signals(kin, mounting)
    sampled = sample_signals(ts, body.acc_g, body.gyr_dps if gyro else None, sensor, streams[1])
    off = sensor.time_offset_s
    p = int(np.argmax(phi.y))
    rep = TruthRep(
        0, t0 + off, float(ts[p]) + off, t0 + up_s + down_s + off, float(phi.y[int(t0 * DENSE_HZ)]),
        float(phi.y[p]), float(phi.y[int((t0 + up_s + down_s) * DENSE_HZ)]), float(np.max(phi.dy[: p + 1])),
    )  # fmt: skip
    truth = Truth(ts + off, phi.y.copy(), phi.dy.copy(), (rep,), ((t0 + off, end_s + off),), ())
    full = Simulation(
        sampled.samples,
        truth,
        SessionPlan((Segment("set", end_s, "strength", 1),)),
        mounting,
        sensor,
        seed,
        sampled.errors,
        sampled.device_index,
    )
    case = ClipCase(seed, sensor, mounting, squat, rom, up_s, down_s, edge)
    return case, one_rep_clip(full, 0, edge)


@dataclass(frozen=True)
class ClipCase:
    """What :func:`draw_clip` drew (for reports): the sensor, where it sat, the rep and the cut."""

    seed: int
    sensor: SensorModel
    mounting: Mounting
    squat: bool
    rom_deg: float
    up_s: float
    down_s: float
    edge_fraction: float

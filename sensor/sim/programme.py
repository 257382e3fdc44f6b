"""Every drill of a runner's hip programme (issue 19), from its start pose, with truth per set.

The standing flexion drills (ballistic, hold, strength, march, stride) come
from :func:`~hipflex.sensor.sim.simulate.simulate_drill`; this module adds
the drills done in another plane or from another pose: side-lying
abduction, clamshells, the single-leg glute bridge, donkey kicks, the
single-leg deadlift, side lunges, hip hikes, hip rotations and the hip
flexor stretch (and, for the real Bilkent recordings' exercises, the
straight-leg raise on the back and the leg raise face down).

Each drill is a :class:`DrillSpec`: the body's rest pose (which way the
pelvis lies against gravity, :func:`pose_matrix`), the thigh's rest angle
relative to the pelvis, the plane it moves in (flexion, abduction or
rotation channel of :class:`~hipflex.sensor.sim.body.ThighKinematics`)
with the sign that makes the working direction positive, and ranges of
range of motion, tempo, holds and reps drawn from practice (hip programmes
for runners; rehab protocols such as Bilkent's 5 s holds).  A set is a run
of minimum-jerk excursions of the working angle from its rest level and
back; the truth is measured on that working angle, so it is the angle a
thigh sensor can see turning, whatever the plane.

Randomness: child streams of ``SeedSequence(seed)``: 0 motion, 1 sensor,
2 mounting, so the same seed gives the same motion whatever the mounting
(a rotated or mirrored sensor sees the same drill).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples

from .body import Mounting, ThighKinematics, rigid_body_signals
from .drills import RepKeys
from .motion import DENSE_HZ
from .plan import DRILLS, SET_LEAD_S, SET_TAIL_S, Drill
from .sensor import SensorErrors, SensorModel, sample_signals
from .simulate import Truth, TruthRep, simulate_drill
from .track import KeyBuilder, Track, add_windowed_sinusoid, quintic_track, smooth_noise

__all__ = [
    "ALL_DRILLS",
    "MOVEMENTS",
    "POSES",
    "PROGRAMME_DRILLS",
    "SPECS",
    "DrillSpec",
    "Movement",
    "Pose",
    "ProgrammeDrill",
    "ProgrammeSimulation",
    "SetTruth",
    "pose_matrix",
    "simulate_programme",
]

FloatArray = NDArray[np.float64]
Pose = Literal["standing", "seated", "supine", "side", "prone", "all_fours"]
Movement = Literal["flexion", "extension", "abduction", "adduction", "rotation"]
ProgrammeDrill = Literal[
    "side_lying_abduction",
    "clamshell",
    "glute_bridge",
    "donkey_kick",
    "single_leg_deadlift",
    "side_lunge",
    "hip_hike",
    "hip_rotation",
    "hip_flexor_stretch",
    "straight_leg_raise",
    "prone_leg_raise",
]
POSES: tuple[Pose, ...] = get_args(Pose)
MOVEMENTS: tuple[Movement, ...] = get_args(Movement)
PROGRAMME_DRILLS: tuple[ProgrammeDrill, ...] = get_args(ProgrammeDrill)
#: Every drill the simulator knows: the standing flexion drills first.
ALL_DRILLS: tuple[str, ...] = (*DRILLS, *PROGRAMME_DRILLS)
Channel = Literal["flexion", "abduction", "rotation"]
Range = tuple[float, float]


@dataclass(frozen=True)
class DrillSpec:
    """How one drill is done.

    Attributes
    ----------
    pose : Pose
        The body's rest pose (kneeling counts as standing: the thigh hangs
        below the hip the same way).
    movement : Movement
        What the thigh does relative to the body in the working direction.
    channel : {"flexion", "abduction", "rotation"}
        The thigh angle that moves; ``sign`` makes the working direction positive.
    base_flexion_deg : (lo, hi)
        Thigh flexion relative to the pelvis at rest, degrees (knees bent,
        all fours, ...).
    rom_deg, up_s, hold_s, down_s, gap_s : (lo, hi)
        Excursion of the working angle, rise, hold at the top, return and
        pause at the bottom: uniform ranges per rep (ROM: per set, then
        +-3 deg per rep).
    reps : (lo, hi)
        Reps per set (inclusive).
    """

    pose: Pose
    movement: Movement
    channel: Channel
    sign: float
    base_flexion_deg: Range
    rom_deg: Range
    up_s: Range
    hold_s: Range
    down_s: Range
    gap_s: Range
    reps: tuple[int, int]


#: The drills of issue 19's table (ranges from runners' hip programmes and rehab protocols).
# fmt: off
SPECS: dict[ProgrammeDrill, DrillSpec] = {
    # name: pose, movement, channel, sign, base flexion, ROM, up, hold, down, gap (deg, s), reps
    "side_lying_abduction": DrillSpec("side", "abduction", "abduction", 1.0, (0, 10),
        (30, 45), (0.8, 1.4), (0.3, 1.0), (1.0, 1.6), (0.2, 0.8), (15, 20)),
    # Knees bent, hips ~45 deg flexed: the knee opens (external rotation / abduction in flexion).
    "clamshell": DrillSpec("side", "rotation", "abduction", 1.0, (35, 55),
        (25, 40), (0.6, 1.1), (0.3, 1.0), (0.8, 1.3), (0.2, 0.6), (15, 20)),
    # On the back, knee bent: the hip extends from ~50 deg flexion as the pelvis rises; hold at the top.
    "glute_bridge": DrillSpec("supine", "extension", "flexion", -1.0, (45, 60),
        (25, 40), (0.8, 1.4), (1.5, 3.0), (1.0, 1.5), (0.5, 1.5), (10, 15)),
    # On all fours the thigh hangs at 90 deg flexion; the kick extends it towards the trunk's line.
    "donkey_kick": DrillSpec("all_fours", "extension", "flexion", -1.0, (85, 95),
        (50, 80), (0.7, 1.2), (0.2, 0.8), (0.8, 1.2), (0.2, 0.6), (12, 15)),
    # The free thigh swings back as the trunk hinges (seen from the thigh: extension from standing).
    "single_leg_deadlift": DrillSpec("standing", "extension", "flexion", -1.0, (0, 5),
        (50, 80), (1.5, 2.5), (0.3, 1.0), (1.5, 2.5), (0.5, 1.5), (8, 12)),
    "side_lunge": DrillSpec("standing", "abduction", "abduction", 1.0, (0, 5),
        (25, 40), (0.8, 1.2), (0.5, 1.5), (0.8, 1.2), (0.8, 1.5), (8, 12)),
    # Pelvis drop and hike on a step: the thigh tilts only a few degrees in the frontal plane.
    "hip_hike": DrillSpec("standing", "adduction", "abduction", -1.0, (0, 3),
        (4, 10), (0.8, 1.2), (0.5, 1.0), (0.8, 1.2), (0.5, 1.0), (10, 15)),
    # Standing external rotation about the thigh's long axis (mobility, 2 x 10).
    "hip_rotation": DrillSpec("standing", "rotation", "rotation", -1.0, (0, 5),
        (30, 45), (0.8, 1.2), (0.0, 0.5), (0.8, 1.2), (0.3, 0.8), (10, 10)),
    # Kneeling lunge: the back thigh extends behind the vertical and stays there for 30 s, twice.
    "hip_flexor_stretch": DrillSpec("standing", "extension", "flexion", -1.0, (0, 5),
        (15, 28), (1.5, 2.5), (25, 32), (1.5, 2.5), (4, 7), (2, 2)),
    # Bilkent's exercises: on the back, knee straight, raise and hold 5 s; face down, raise and hold.
    "straight_leg_raise": DrillSpec("supine", "flexion", "flexion", 1.0, (0, 5),
        (35, 70), (1.0, 1.8), (4.5, 5.5), (1.0, 1.8), (1.0, 2.0), (10, 10)),
    "prone_leg_raise": DrillSpec("prone", "extension", "flexion", -1.0, (0, 5),
        (25, 40), (1.0, 1.8), (4.5, 5.5), (1.0, 1.8), (1.0, 2.0), (10, 10)),
}
# fmt: on


def pose_matrix(pose: Pose, leg: Literal["right", "left"]) -> FloatArray:
    """Pelvis axes -> world axes for a rest pose, shape (3, 3).

    Pelvis axes as the thigh's standing axes (x anterior, y left, z towards
    the head); world z up.  Lying on the side puts the instrumented leg on
    top (its lateral side up), so the matrix mirrors with ``leg``.  On all
    fours the pelvis faces down like prone (the thigh then hangs at 90
    degrees of flexion); seated it is upright like standing.
    """
    x, y, z = np.eye(3)
    if pose in ("standing", "seated"):
        cols = (x, y, z)
    elif pose == "supine":
        cols = (z, y, -x)
    elif pose in ("prone", "all_fours"):
        cols = (-z, y, x)
    elif pose == "side":
        s = 1.0 if leg == "left" else -1.0  # the lateral side of the leg faces up
        cols = (s * y, s * z, x)
    else:
        raise ValueError(f"unknown pose {pose!r}")
    return np.stack(cols, axis=1)


@dataclass(frozen=True)
class SetTruth:
    """What one simulated set was: the drill, its pose and movement, and each rep's true hold (s)."""

    drill: str
    pose: Pose
    movement: Movement
    hold_s: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class ProgrammeSimulation:
    """A simulated recording of one drill with its truth.

    ``truth.angle_deg`` is the working angle (positive in the working
    direction, 0 at the first rest); ``set_truth`` names each set.
    """

    drill: str
    samples: ImuSamples
    truth: Truth
    set_truth: tuple[SetTruth, ...]
    mounting: Mounting
    sensor: SensorModel
    seed: int
    errors: SensorErrors | None = None


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1]))


def _set_keys(rng: np.random.Generator, t0: float, spec: DrillSpec, keys: KeyBuilder) -> tuple[float, list[RepKeys]]:
    """Keyframes of one set of the working angle from ``t0``; returns the set's end and its reps."""
    n = int(rng.integers(spec.reps[0], spec.reps[1] + 1))
    rom_set = _u(rng, spec.rom_deg)
    t = t0 + SET_LEAD_S
    keys.add(t, 0.0)
    reps: list[RepKeys] = []
    low = 0.0
    for i in range(n):
        rom = float(np.clip(rom_set + 3.0 * rng.standard_normal(), spec.rom_deg[0] * 0.8, spec.rom_deg[1] * 1.1))
        up, hold, down = _u(rng, spec.up_s), _u(rng, spec.hold_s), _u(rng, spec.down_s)
        rise = t
        t_peak = t + up
        keys.add(t_peak, low + rom)
        if hold > 0.05:
            # A hold sags a little (fatigue) and never pauses dead still.
            keys.add(t_peak + hold, low + rom - rng.uniform(0.5, 2.0) * min(1.0, hold / 3.0))
        t = t_peak + hold + down
        low = float(rng.uniform(-1.0, 2.0))
        keys.add(t, low)
        reps.append(RepKeys(rise, t_peak, t))
        if i < n - 1:
            t += _u(rng, spec.gap_s)
            keys.add(t, low)
    end = t + SET_TAIL_S
    keys.add(end, low)
    return end, reps


def _clock_truth(
    ts: FloatArray,
    phi: Track,
    reps: tuple[TruthRep, ...],
    sets: list[tuple[float, float]],
    rests: list[tuple[float, float]],
    off_s: float,
) -> Truth:
    """The truth on the sensor's clock: every time of the body's clock ``ts`` moved by the sensor's offset, s."""

    def shift(r: TruthRep) -> TruthRep:
        return TruthRep(
            r.set_index, r.low_s + off_s, r.peak_s + off_s, r.trough_s + off_s, r.low_deg, r.peak_deg, r.trough_deg,
            r.peak_velocity_dps,
        )  # fmt: skip

    return Truth(
        time_s=ts + off_s,
        angle_deg=phi.y.copy(),
        velocity_dps=phi.dy.copy(),
        reps=tuple(shift(r) for r in reps),
        sets=tuple((a + off_s, b + off_s) for a, b in sets),
        rests=tuple((a + off_s, b + off_s) for a, b in rests),
    )


#: The analysis' ``onset_fraction``: a rep starts and ends where the angle is within this fraction of its rise
#: (fall) from its low (trough), which bounds the contract's hold.
_ONSET_FRACTION = 0.05


def _contract_hold_s(th: FloatArray, lo: int, p: int, tr: int, band_deg: float) -> float:
    """A rep's ``hold_s`` as the contract defines it, on the dense angle ``th`` (indices of low, peak, trough).

    The time within ``band_deg`` of the peak between the rep's start (the last time the angle was within
    ``onset_fraction`` of the rise above its low) and its end (the first time it comes within
    ``onset_fraction`` of the fall to the trough), s.  Measured from the low and the trough instead, a rep
    smaller than the band (a hip hike's 4-10 deg) would hold through the pauses at the bottom as well.
    """
    below = np.flatnonzero(th[lo : p + 1] <= th[lo] + _ONSET_FRACTION * (th[p] - th[lo]))
    start = lo + int(below[-1]) if below.size else lo
    back = np.flatnonzero(th[p : tr + 1] <= th[tr] + _ONSET_FRACTION * (th[p] - th[tr]))
    end = p + int(back[0]) if back.size else tr
    return float(np.count_nonzero(th[start:end] >= th[p] - band_deg)) / DENSE_HZ


def _truth(
    ts: FloatArray, phi: Track, sets: list[tuple[float, float]], set_reps: list[list[RepKeys]], band_deg: float
) -> tuple[tuple[TruthRep, ...], list[tuple[float, ...]]]:
    """Each rep's true low, peak, trough and velocity on the working angle, and its hold (s) within ``band_deg``."""
    th, vel = phi.y, phi.dy

    def idx(t: float) -> int:
        return int(np.clip(np.searchsorted(ts, t), 0, ts.size - 1))

    out: list[TruthRep] = []
    holds: list[tuple[float, ...]] = []
    for s_i, ((s0, s1), reps) in enumerate(zip(sets, set_reps, strict=True)):
        peaks = [idx(rk.rise_s) + int(np.argmax(th[idx(rk.rise_s) : idx(rk.return_s) + 1])) for rk in reps]
        bounds = [idx(s0), *peaks, int(np.searchsorted(ts, s1, side="right"))]
        h: list[float] = []
        for j, p in enumerate(peaks):
            lo = bounds[j] + int(np.argmin(th[bounds[j] : p + 1]))
            tr = p + int(np.argmin(th[p : bounds[j + 2]]))
            out.append(
                TruthRep(
                    s_i,
                    float(ts[lo]),
                    float(ts[p]),
                    float(ts[tr]),
                    float(th[lo]),
                    float(th[p]),
                    float(th[tr]),
                    float(np.max(vel[lo : p + 1])),
                )
            )
            h.append(_contract_hold_s(th, lo, p, tr, band_deg))
        holds.append(tuple(h))
    return tuple(out), holds


def _simulate_spec(
    drill: ProgrammeDrill,
    spec: DrillSpec,
    rng: np.random.Generator,
    n_sets: int,
    leg: Literal["right", "left"],
    set_specs: tuple[DrillSpec, ...] | None = None,
) -> tuple[ThighKinematics, Track, list[tuple[float, float]], list[tuple[float, float]], list[list[RepKeys]]]:
    """The body's kinematics of ``n_sets`` sets of ``spec``; ``set_specs``, if given, the reps of each set.

    ``spec`` fixes the pose, the plane and the rest; ``set_specs[i]`` (same pose and plane) the range,
    tempo and reps of set ``i`` (a protocol's correct, fast and small sets: :mod:`.lying`).
    """
    del drill
    keys = KeyBuilder()
    keys.add(0.0, 0.0)
    t = _u(rng, (3.0, 5.0))
    rests = [(0.0, t)]
    sets: list[tuple[float, float]] = []
    set_reps: list[list[RepKeys]] = []
    holds: list[tuple[float, float]] = []
    for i in range(n_sets):
        if i > 0:
            r = _u(rng, (12.0, 25.0))
            keys.add(t + 0.8, 0.0)
            rests.append((t, t + r))
            t += r
        end, reps = _set_keys(rng, t, spec if set_specs is None else set_specs[i], keys)
        sets.append((t, end))
        set_reps.append(reps)
        holds += [(rk.peak_s, rk.return_s) for rk in reps]
        t = end
    keys.add(t + 0.8, 0.0)
    end_s = t + _u(rng, (3.0, 5.0))
    rests.append((t, end_s))
    keys.add(end_s, 0.0)
    ts = np.arange(round(end_s * DENSE_HZ) + 1) / DENSE_HZ
    sched = [(a, b, 0.15) for a, b in rests] + [(a, b, 0.4) for a, b in sets]
    phi = quintic_track(ts, keys.build()) + smooth_noise(ts, rng, 1.5, sched)
    for a, b in holds:
        if b - a > 1.5:  # physiological tremor in a held position
            add_windowed_sinusoid(phi, ts, a, b, 0.3, _u(rng, (0.03, 0.08)), _u(rng, (6.0, 10.0)), _u(rng, (0, 6.3)))
    base = Track.zeros(ts.size)
    base.y[:] = _u(rng, spec.base_flexion_deg)
    work = phi.scaled(spec.sign)
    # The other two angles wander a little and couple weakly to the working one (nobody moves in one plane).
    out_sched = [(a, b, 0.3) for a, b in rests] + [(a, b, 1.0) for a, b in sets]
    chans: dict[Channel, Track] = {}
    for ch in ("flexion", "abduction", "rotation"):
        wander = smooth_noise(ts, rng, 0.8, out_sched)
        chans[ch] = work if ch == spec.channel else phi.scaled(float(rng.uniform(-0.05, 0.05))) + wander
    chans["flexion"] = chans["flexion"] + base
    hip = np.stack([smooth_noise(ts, rng, 1.0, 0.002).ddy for _ in range(3)], axis=1)
    kin = ThighKinematics(
        time_s=ts,
        flexion_deg=chans["flexion"],
        abduction_deg=chans["abduction"],
        rotation_deg=chans["rotation"],
        hip_acc_mps2=hip,
        pose_matrix=pose_matrix(spec.pose, leg),
    )
    return kin, phi, sets, rests, set_reps


def simulate_programme(
    drill: str,
    *,
    fs_hz: float = 100.0,
    has_gyro: bool = True,
    seed: int,
    n_sets: int | None = None,
    mounting: Mounting | None = None,
    sensor: SensorModel | None = None,
    hold_band_deg: float = 10.0,
) -> ProgrammeSimulation:
    """A session of ``drill`` (any of ``ALL_DRILLS``) with per-set truth.

    Parameters
    ----------
    drill : str
        A standing flexion drill of ``DRILLS`` or one of ``PROGRAMME_DRILLS``.
    fs_hz, has_gyro : float, bool
        The default sensor's rate (Hz) and gyro.
    seed : int
        Seed of the motion, the sensor and (when not given) the mounting.
    n_sets : int, optional
        Sets (default 3; 2 for the hip flexor stretch, once per side).
    mounting : Mounting, optional
        Default :meth:`Mounting.random` (front or side, either leg, any rotation).
    sensor : SensorModel, optional
        Default ``SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)``.
    hold_band_deg : float
        Band below the peak the true hold is measured in, deg (the analysis' ``hold_band_deg``).

    Returns
    -------
    ProgrammeSimulation
    """
    if drill in DRILLS:
        flex: Drill = drill
        sim = simulate_drill(
            flex, fs_hz=fs_hz, has_gyro=has_gyro, seed=seed, n_sets=n_sets or 3, mounting=mounting, sensor=sensor
        )
        tr = sim.truth
        flex_truth: list[SetTruth] = []
        for s_i in range(len(tr.sets)):
            h = []
            for r in (r for r in tr.reps if r.set_index == s_i):
                lo, pk, tro = (int(i) for i in np.searchsorted(tr.time_s, [r.low_s, r.peak_s, r.trough_s]))
                h.append(_contract_hold_s(tr.angle_deg, lo, pk, tro, hold_band_deg))
            flex_truth.append(SetTruth(drill, "standing", "flexion", tuple(h)))
        return ProgrammeSimulation(
            drill, sim.samples, tr, tuple(flex_truth), sim.mounting, sim.sensor, seed, sim.errors
        )
    if drill not in SPECS:
        raise ValueError(f"unknown drill {drill!r}; expected one of {ALL_DRILLS}")
    spec = SPECS[drill]
    streams = np.random.SeedSequence(seed).spawn(3)
    if mounting is None:
        mounting = Mounting.random(np.random.default_rng(streams[2]))
    if sensor is None:
        sensor = SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)
    n = n_sets or (2 if drill == "hip_flexor_stretch" else 3)
    kin, phi, sets, rests, set_reps = _simulate_spec(drill, spec, np.random.default_rng(streams[0]), n, mounting.leg)
    body = rigid_body_signals(kin, mounting)
    sampled = sample_signals(kin.time_s, body.acc_g, body.gyr_dps if sensor.has_gyro else None, sensor, streams[1])
    reps, holds = _truth(kin.time_s, phi, sets, set_reps, hold_band_deg)
    truth = _clock_truth(kin.time_s, phi, reps, sets, rests, sensor.time_offset_s)
    set_truth = tuple(SetTruth(drill, spec.pose, spec.movement, h) for h in holds)
    return ProgrammeSimulation(drill, sampled.samples, truth, set_truth, mounting, sensor, seed, sampled.errors)

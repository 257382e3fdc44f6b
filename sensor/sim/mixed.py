"""Several drills in one recording: sets in different planes and poses, with the body changing pose between them.

A physio's session rarely holds one drill: side-lying abduction, then a
glute bridge on the back, then standing flexion, with the person lying
down, rolling over and getting up in between.  :func:`simulate_mixed`
strings drills of :data:`~hipflex.sensor.sim.programme.SPECS` (and a
standing flexion set) into one recording: each drill's sets as
:func:`~hipflex.sensor.sim.programme.simulate_programme` does them, and
between drills a rest, a turn of the whole body into the next drill's pose
(pelvis rotating about one axis over a few seconds, the hip rising or
falling) and a rest again.  The truth per set is the set's own working
angle (0 at the rest it starts from), its drill, pose and movement.

Randomness: child streams of ``SeedSequence(seed)``: 0 motion, 1 sensor,
2 mounting (as in :mod:`~hipflex.sensor.sim.programme`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .body import Mounting, ThighKinematics, rigid_body_signals
from .drills import RepKeys
from .motion import DENSE_HZ
from .programme import SPECS, DrillSpec, ProgrammeSimulation, SetTruth, _clock_truth, _set_keys, _truth, _u, pose_matrix
from .sensor import SensorModel, sample_signals
from .track import KeyBuilder, Track, quintic_track, smooth_noise

__all__ = ["MIXED_PROGRAMME", "STANDING_FLEXION", "simulate_mixed"]

FloatArray = NDArray[np.float64]

#: A standing strength set of hip flexion (the simulator's "strength" drill), as a spec.
STANDING_FLEXION = DrillSpec(
    "standing", "flexion", "flexion", 1.0, (0, 5), (40, 65), (0.6, 1.0), (0.2, 0.6), (0.6, 1.0), (0.3, 0.8), (10, 15)
)
#: The default session: on the side, on the back, standing (issue 19's example), then on the side again.
MIXED_PROGRAMME: tuple[str, ...] = ("side_lying_abduction", "glute_bridge", "strength", "side_lunge")
# Hip height above the floor per pose, m (only its changes matter: the hip's acceleration).
_HIP_HEIGHT_M = {"standing": 0.9, "seated": 0.5, "supine": 0.15, "side": 0.2, "prone": 0.15, "all_fours": 0.6}
_TURN_S = (2.5, 4.0)  # the body's change of pose, s
_REST_S = (10.0, 16.0)  # rest before and after a change of pose (each), s: longer than set_gap_s
_SET_REST_S = (12.0, 20.0)  # rest between two sets of one drill, s


def _spec(drill: str) -> DrillSpec:
    if drill == "strength":
        return STANDING_FLEXION
    if drill not in SPECS:
        raise ValueError(f"unknown drill {drill!r}; expected 'strength' or one of {tuple(SPECS)}")
    return SPECS[drill]


def _axis_angle(m: FloatArray) -> tuple[FloatArray, float]:
    """Unit axis and angle (rad) of a rotation matrix (any axis for no rotation)."""
    angle = float(np.arccos(np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0)))
    if angle < 1e-9:
        return np.array([0.0, 0.0, 1.0]), 0.0
    if angle > np.pi - 1e-6:
        # Half turn: the axis is the column of m + I with the largest norm.
        b = m + np.eye(3)
        k = b[:, int(np.argmax(np.linalg.norm(b, axis=0)))]
        return k / np.linalg.norm(k), angle
    k = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
    return k / np.linalg.norm(k), angle


def _rodrigues(k: FloatArray, angles: FloatArray) -> FloatArray:
    """Rotations by ``angles`` (rad, shape (n,)) about unit axis ``k``: shape (n, 3, 3)."""
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3)[None] + s * kx[None] + (1.0 - c) * (kx @ kx)[None]


@dataclass(frozen=True)
class _Block:
    drill: str
    spec: DrillSpec
    start_s: float  # the pose holds from here (after the turn into it)
    end_s: float  # until here (the turn out of it starts)
    base_deg: float


def simulate_mixed(
    drills: tuple[str, ...] = MIXED_PROGRAMME,
    *,
    fs_hz: float = 100.0,
    has_gyro: bool = True,
    seed: int,
    sets_per_drill: int = 2,
    mounting: Mounting | None = None,
    sensor: SensorModel | None = None,
    hold_band_deg: float = 10.0,
) -> ProgrammeSimulation:
    """One recording of ``drills`` in turn, ``sets_per_drill`` sets each, with per-set truth.

    Parameters
    ----------
    drills : tuple of str
        ``"strength"`` (standing flexion) or drills of ``SPECS``, in order.
    fs_hz, has_gyro : float, bool
        The default sensor's rate (Hz) and gyro.
    seed : int
        Seed of the motion, the sensor and (when not given) the mounting.
    sets_per_drill : int
        Sets of each drill, with rests of ``_SET_REST_S`` between them.
    mounting : Mounting, optional
        Default :meth:`Mounting.random`.
    sensor : SensorModel, optional
        Default ``SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)``.
    hold_band_deg : float
        Band below the peak the true hold is measured in, deg.

    Returns
    -------
    ProgrammeSimulation
        ``drill`` is the drills joined by ``+``; ``truth.angle_deg`` is each
        set's working angle (0 at the rest it starts from).
    """
    if not drills or sets_per_drill < 1:
        raise ValueError("need at least one drill and one set per drill")
    specs = [_spec(d) for d in drills]
    streams = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(streams[0])
    if mounting is None:
        mounting = Mounting.random(np.random.default_rng(streams[2]))
    if sensor is None:
        sensor = SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)

    work = KeyBuilder()  # the working angle of every set (0 at rest and through the turns)
    work.add(0.0, 0.0)
    t = _u(rng, (4.0, 6.0))
    blocks: list[_Block] = []
    sets: list[tuple[float, float]] = []
    set_reps: list[list[RepKeys]] = []
    set_drill: list[int] = []
    rests: list[tuple[float, float]] = [(0.0, t)]
    holds: list[tuple[float, float]] = []
    turns: list[tuple[float, float]] = []
    for i, spec in enumerate(specs):
        b0 = 0.0 if i == 0 else t
        if i > 0:
            # Rest, turn into the next pose, rest again.
            r0 = _u(rng, _REST_S)
            turn = _u(rng, _TURN_S)
            r1 = _u(rng, _REST_S)
            rests.append((t, t + r0))
            turns.append((t + r0, t + r0 + turn))
            rests.append((t + r0 + turn, t + r0 + turn + r1))
            b0 = t + r0 + turn
            t = b0 + r1
            work.add(t - 0.5, 0.0)
        for k in range(sets_per_drill):
            if k > 0:
                r = _u(rng, _SET_REST_S)
                rests.append((t, t + r))
                t += r
                work.add(t - 0.5, 0.0)
            end, reps = _set_keys(rng, t, spec, work)
            sets.append((t, end))
            set_reps.append(reps)
            set_drill.append(i)
            holds += [(rk.peak_s, rk.return_s) for rk in reps]
            t = end
            work.add(t + 0.8, 0.0)
        blocks.append(_Block(drills[i], spec, b0, t, _u(rng, spec.base_flexion_deg)))
    end_s = t + _u(rng, (4.0, 6.0))
    rests.append((t, end_s))
    work.add(end_s, 0.0)
    ts = np.arange(round(end_s * DENSE_HZ) + 1) / DENSE_HZ
    sched = [(a, b, 0.15) for a, b in rests] + [(a, b, 0.4) for a, b in sets]
    phi = quintic_track(ts, work.build()) + smooth_noise(ts, rng, 1.5, sched)

    # Each channel: the block's rest level, plus the working angle (signed) in
    # the block's channel; between blocks a minimum-jerk move from one rest
    # level to the next over the turn.
    level = {ch: KeyBuilder() for ch in ("flexion", "abduction", "rotation")}
    for i, b in enumerate(blocks):
        for ch, kb in level.items():
            v = b.base_deg if ch == "flexion" else 0.0
            t_in = b.start_s if i > 0 else 0.0
            kb.add(t_in, v)
            kb.add(turns[i][0] if i < len(blocks) - 1 else end_s, v)
    chans: dict[str, Track] = {ch: quintic_track(ts, kb.build()) for ch, kb in level.items()}
    out_sched = [(a, b, 0.3) for a, b in rests] + [(a, b, 1.0) for a, b in sets]
    for ch in chans:
        # The working angle's share in this channel: the block's sign in its
        # own channel, a little coupling in the others (nobody moves in one
        # plane); it changes over each turn, smoothly (phi is ~0 there).
        gains = [b.spec.sign if b.spec.channel == ch else float(rng.uniform(-0.05, 0.05)) for b in blocks]
        gk = KeyBuilder()
        gk.add(0.0, gains[0])
        for i, (ta, tb) in enumerate(turns):
            gk.add(ta, gains[i])
            gk.add(tb, gains[i + 1])
        gain = quintic_track(ts, gk.build())
        chans[ch] = chans[ch] + gain.times(phi) + smooth_noise(ts, rng, 0.8, out_sched)

    # The pelvis: each block's pose, turned into the next about one axis over the turn.
    poses = [pose_matrix(b.spec.pose, mounting.leg) for b in blocks]
    pose = np.broadcast_to(poses[0], (ts.size, 3, 3)).copy()
    rate = np.zeros((ts.size, 3))
    height = KeyBuilder()
    height.add(0.0, _HIP_HEIGHT_M[blocks[0].spec.pose])
    for i, (ta, tb) in enumerate(turns):
        p0, p1 = poses[i], poses[i + 1]
        axis, ang = _axis_angle(p1 @ p0.T)  # world axis
        sel = ts >= ta
        s = quintic_track(ts, KeyBuilder(t_s=[ta, tb], y=[0.0, 1.0], dy=[0.0, 0.0], ddy=[0.0, 0.0]).build())
        pose[sel] = _rodrigues(axis, ang * s.y[sel]) @ p0
        # World rate k * ang * s', in the pelvis' own axes: P^T k.
        rate[sel] = np.degrees(ang * s.dy[sel])[:, None] * np.einsum("nji,j->ni", pose[sel], axis)
        height.add(ta, _HIP_HEIGHT_M[blocks[i].spec.pose])
        height.add(tb, _HIP_HEIGHT_M[blocks[i + 1].spec.pose])
    height.add(end_s, _HIP_HEIGHT_M[blocks[-1].spec.pose])
    hip_z = quintic_track(ts, height.build())
    hip = np.stack([smooth_noise(ts, rng, 1.0, 0.002).ddy for _ in range(3)], axis=1)
    hip[:, 2] += hip_z.ddy
    kin = ThighKinematics(
        time_s=ts,
        flexion_deg=chans["flexion"],
        abduction_deg=chans["abduction"],
        rotation_deg=chans["rotation"],
        hip_acc_mps2=hip,
        pose_matrix=pose,
        pelvis_rate_dps=rate,
    )
    body = rigid_body_signals(kin, mounting)
    sampled = sample_signals(kin.time_s, body.acc_g, body.gyr_dps if sensor.has_gyro else None, sensor, streams[1])
    truth_reps, hold_s = _truth(kin.time_s, phi, sets, set_reps, hold_band_deg)
    truth = _clock_truth(kin.time_s, phi, truth_reps, sets, rests, sensor.time_offset_s)
    set_truth = tuple(
        SetTruth(drills[d], specs[d].pose, specs[d].movement, h) for d, h in zip(set_drill, hold_s, strict=True)
    )
    name = "+".join(drills)
    return ProgrammeSimulation(name, sampled.samples, truth, set_truth, mounting, sensor, seed, sampled.errors)

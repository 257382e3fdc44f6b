"""Whole-session thigh and hip motion from a plan.

Lays the plan's segments end to end, asks :mod:`.sim_drills` or
:mod:`.sim_gait` for each set, fills stands and rests with quiet standing,
sway, weight shifts, fidgets and leg shakes, and assembles the dense (1 kHz) kinematics the rigid-body model
needs: flexion / abduction / internal rotation of the thigh, hip
acceleration, and soft-tissue wobble and impacts at the strap.

Rest motion is kept well clear of rep size: every fidget or weight shift
stays within -2.5..+5.5 degrees of standing and sway is clipped to +-0.6
degrees, so nothing in a rest spans 10 degrees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.units import STANDARD_GRAVITY_MPS2 as G_MPS2

from .activity import LIE_FLEXION_DEG, lie_then_stand, walk_bout
from .body import ThighKinematics
from .drills import Impacts, RepKeys, SetMotion, ballistic_set, hold_set, strength_set
from .gait import march_set, stride_set
from .plan import Drill, Segment, SessionPlan
from .track import (
    KeyBuilder,
    Track,
    add_damped_bursts,
    add_gaussian_bumps,
    add_stance_bounces,
    add_windowed_sinusoid,
    quintic_track,
    smooth_noise,
)

__all__ = ["DENSE_HZ", "GENERATORS", "SessionMotion", "build_motion", "generate_set"]

FloatArray = NDArray[np.float64]
#: Rate of the dense simulation grid, Hz.
DENSE_HZ = 1000.0

#: One set generator per drill: (rng, start time s, segment) -> SetMotion.
GENERATORS: dict[Drill, Callable[[np.random.Generator, float, Segment], SetMotion]] = {
    "ballistic": ballistic_set,
    "hold": hold_set,
    "strength": strength_set,
    "march": march_set,
    "stride": stride_set,
}


def generate_set(rng: np.random.Generator, t0_s: float, seg: Segment) -> SetMotion:
    """Kinematics of the set ``seg`` starting at ``t0_s`` (session time, seconds)."""
    if seg.kind != "set" or seg.drill is None:
        raise ValueError("generate_set needs a set segment")
    return GENERATORS[seg.drill](rng, t0_s, seg)


@dataclass(frozen=True, eq=False)
class SessionMotion:
    """Dense kinematics of a whole session (session time from 0, seconds).

    Attributes
    ----------
    kinematics : ThighKinematics
        Thigh, hip and strap motion on the dense grid.
    sets, rests : tuple of (start_s, end_s)
        Intervals of the sets, and of the stands and rests.
    set_reps : tuple of tuple of RepKeys
        The rep keyframes of each set.
    """

    kinematics: ThighKinematics
    sets: tuple[tuple[float, float], ...]
    rests: tuple[tuple[float, float], ...]
    set_reps: tuple[tuple[RepKeys, ...], ...]


@dataclass(frozen=True)
class _Shake:
    """A leg shake in a rest: flexion and rotation oscillation."""

    start_s: float
    end_s: float
    amp_deg: float
    rot_amp_deg: float
    freq_hz: float


def _rest_events(
    rng: np.random.Generator, a: float, b: float, theta: KeyBuilder, hip_y: KeyBuilder, shakes: list[_Shake]
) -> None:
    """Weight shifts, fidgets and leg shakes between ``a`` and ``b`` seconds (never rep-like)."""
    t = a + rng.uniform(1.0, 2.5)
    while t < b - 2.5:
        kind = rng.choice(3, p=[0.4, 0.35, 0.25])
        if kind == 0:  # weight shift onto the other leg and back, thigh tilting a little
            move, stay = rng.uniform(0.6, 1.0), rng.uniform(1.0, 3.0)
            if t + 2 * move + stay > b - 1.0:
                break
            dth = rng.uniform(-2.5, 3.0)
            dy = rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.04)
            for kb, v in ((theta, dth), (hip_y, dy)):
                kb.add(t, 0.0)
                kb.add(t + move, v)
                kb.add(t + move + stay, v)
                kb.add(t + 2 * move + stay, 0.0)
            t += 2 * move + stay
        elif kind == 1:  # a small knee lift / fidget
            up, down = rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.5)
            theta.add(t, 0.0)
            theta.add(t + up, rng.uniform(2.0, 5.5))
            theta.add(t + up + down, 0.0)
            t += up + down
        else:  # shaking the leg out
            dur = rng.uniform(1.0, 2.0)
            if t + dur > b - 1.0:
                break
            shakes.append(_Shake(t, t + dur, rng.uniform(0.8, 2.0), rng.uniform(2.0, 4.0), rng.uniform(3.5, 6.0)))
            t += dur
        t += rng.uniform(1.5, 4.0)


def _concat(items: list[Impacts]) -> Impacts:
    if not items:
        return Impacts.empty()
    return Impacts(*(np.concatenate([getattr(x, f) for x in items]) for f in ("time_s", "peak_g", "sigma_s", "wobble")))


def build_motion(plan: SessionPlan, rng: np.random.Generator) -> SessionMotion:
    """Dense session kinematics for ``plan``.

    Parameters
    ----------
    plan : SessionPlan
        The session structure.
    rng : numpy.random.Generator
        Source of every rep-, rest- and session-level variation.

    Returns
    -------
    SessionMotion
    """
    theta_k, hip_y_k, hip_z_k, hip_vx_k = KeyBuilder(), KeyBuilder(), KeyBuilder(), KeyBuilder()
    for i, seg in enumerate(plan.segments):
        if seg.kind == "lie" and i > 0:
            raise ValueError("a 'lie' segment can only open a session (lying down from standing would be a rise)")
    # Only a session that opens lying down draws its lying angle (older plans keep their random streams).
    lie_deg = float(rng.uniform(*LIE_FLEXION_DEG)) if plan.segments[0].kind == "lie" else 0.0
    other_motions: list[SetMotion] = []  # walks and the getting up: moving, but no reps
    if lie_deg:
        lying = lie_then_stand(rng, 0.0, plan.segments[0], lie_deg)
        theta_k.extend(lying.theta_keys)
        if lying.hip_z_keys is not None:
            hip_z_k.extend(lying.hip_z_keys)
        other_motions.append(lying)
    for kb in (theta_k, hip_y_k, hip_z_k, hip_vx_k):
        if not kb.t_s:
            kb.add(0.0, 0.0)
    sets: list[tuple[float, float]] = []
    rests: list[tuple[float, float]] = []
    set_motions: list[SetMotion] = []
    shakes: list[_Shake] = []
    # (start, end, activity) with activity 0 = quiet stand, 1 = rest, 2 = set; scales the wander.
    phases: list[tuple[float, float, int]] = []
    t = 0.0
    for seg in plan.segments:
        if seg.kind == "lie":
            rests.append((t, t + seg.duration_s))
            phases.append((t, t + seg.duration_s, 0))
            t += seg.duration_s
            continue
        if seg.kind == "walk":
            wm = walk_bout(rng, t, seg)
            theta_k.extend(wm.theta_keys)
            for kb, keys in ((hip_z_k, wm.hip_z_keys), (hip_vx_k, wm.hip_vx_keys)):
                if keys is not None:
                    kb.extend(keys)
            other_motions.append(wm)
            rests.append((t, wm.end_s))
            phases.append((t, wm.end_s, 2))
            t = wm.end_s
            continue
        if seg.kind == "set":
            sm = generate_set(rng, t, seg)
            theta_k.extend(sm.theta_keys)
            for kb, keys in ((hip_z_k, sm.hip_z_keys), (hip_vx_k, sm.hip_vx_keys)):
                if keys is not None:
                    kb.extend(keys)
            sets.append((sm.start_s, sm.end_s))
            set_motions.append(sm)
            phases.append((sm.start_s, sm.end_s, 2))
            t = sm.end_s
            continue
        a, b = t, t + seg.duration_s
        # Settle back to standing from wherever the last set ended (within a few degrees).
        theta_k.add(a + min(0.8, seg.duration_s / 3.0), 0.0)
        if seg.kind == "rest":
            _rest_events(rng, a, b, theta_k, hip_y_k, shakes)
        rests.append((a, b))
        phases.append((a, b, 0 if seg.kind == "stand" else 1))
        t = b
    total_s = t
    for kb in (theta_k, hip_y_k, hip_z_k, hip_vx_k):
        kb.add(total_s, kb.last_y)
    ts = np.arange(round(total_s * DENSE_HZ) + 1) / DENSE_HZ

    def sched(stand: float, rest: float, active: float) -> list[tuple[float, float, float]]:
        return [(p0, p1, (stand, rest, active)[k]) for p0, p1, k in phases]

    # Thigh angle: drill keyframes + body sway + tremor + leg shakes.
    theta = quintic_track(ts, theta_k.build()) + smooth_noise(ts, rng, 1.5, sched(0.1, 0.3, 0.3))
    for sm in set_motions:
        for tr in sm.tremors:
            for k in range(2):  # two incommensurate components read as irregular tremor
                f = tr.freq_hz * (1.0 if k == 0 else rng.uniform(1.2, 1.4))
                add_windowed_sinusoid(
                    theta, ts, tr.start_s, tr.end_s, 0.3, tr.amp_deg / (k + 1), f, rng.uniform(0, 2 * np.pi)
                )
    rotation_extra = Track.zeros(ts.shape[0])
    for sh in shakes:
        add_windowed_sinusoid(theta, ts, sh.start_s, sh.end_s, 0.25, sh.amp_deg, sh.freq_hz, rng.uniform(0, 6.3))
        add_windowed_sinusoid(
            rotation_extra, ts, sh.start_s, sh.end_s, 0.25, sh.rot_amp_deg, sh.freq_hz, rng.uniform(0, 6.3)
        )

    # Out-of-plane: a per-person coupling to flexion (few degrees at 90) plus wander.
    k_abd, k_rot = rng.uniform(-0.05, 0.05), rng.uniform(-0.06, 0.06)
    abduction = theta.scaled(k_abd) + smooth_noise(ts, rng, 0.7, sched(0.05, 0.3, 1.2))
    rotation = theta.scaled(k_rot) + smooth_noise(ts, rng, 0.7, sched(0.05, 0.4, 1.5)) + rotation_extra

    # Hip: trunk sway wander, weight shifts, bounce, running speed, other-leg strikes.
    hx = smooth_noise(ts, rng, 1.0, sched(0.002, 0.007, 0.015))
    hy = smooth_noise(ts, rng, 1.0, sched(0.002, 0.007, 0.015)) + quintic_track(ts, hip_y_k.build())
    hz = smooth_noise(ts, rng, 1.5, sched(0.001, 0.002, 0.003)) + quintic_track(ts, hip_z_k.build())
    contra = _concat([sm.contra for sm in set_motions + other_motions])
    add_gaussian_bumps(hz, ts, contra.time_s, -contra.peak_g * G_MPS2 * contra.sigma_s**2, contra.sigma_s)
    for sm in set_motions:
        st = sm.stances
        add_stance_bounces(hz, ts, st.time_s, st.contact_s, st.step_s, st.scale, G_MPS2)
    hip_acc = np.stack([hx.ddy + quintic_track(ts, hip_vx_k.build()).dy, hy.ddy, hz.ddy], axis=1)

    strikes = _concat([sm.strikes for sm in set_motions + other_motions])
    wobble: Track | None = None
    wobble_axis: FloatArray | None = None
    tissue: Track | None = None
    if strikes.time_s.size:
        freq_hz, decay_s = rng.uniform(15.0, 25.0), rng.uniform(0.03, 0.06)
        wobble_rad, trans_g = np.radians(rng.uniform(1.0, 2.5)), rng.uniform(0.1, 0.4)
        # Soft tissue swings mostly across the thigh; the strike spike runs mostly along it.
        beta, gamma = rng.uniform(0, 2 * np.pi, 2)
        wobble_axis = np.array([np.cos(beta), np.sin(beta), 0.2 * rng.standard_normal()])
        wobble_axis /= np.linalg.norm(wobble_axis)
        trans_dir = np.array([np.cos(gamma), np.sin(gamma), 0.3 * rng.standard_normal()])
        trans_dir /= np.linalg.norm(trans_dir)
        spike_dir = np.array([0.15 * rng.standard_normal(), 0.15 * rng.standard_normal(), 1.0])
        spike_dir /= np.linalg.norm(spike_dir)
        wobble = Track.zeros(ts.shape[0])
        add_damped_bursts(wobble, ts, strikes.time_s, wobble_rad * strikes.wobble, freq_hz, decay_s)
        trans = Track.zeros(ts.shape[0])
        trans_amp_m = trans_g * G_MPS2 / (2 * np.pi * freq_hz) ** 2
        add_damped_bursts(trans, ts, strikes.time_s, trans_amp_m * strikes.wobble, freq_hz, decay_s)
        spike = Track.zeros(ts.shape[0])
        add_gaussian_bumps(spike, ts, strikes.time_s, -strikes.peak_g * G_MPS2 * strikes.sigma_s**2, strikes.sigma_s)
        tissue = spike.outer(spike_dir) + trans.outer(trans_dir)

    kin = ThighKinematics(
        time_s=ts,
        flexion_deg=theta,
        abduction_deg=abduction,
        rotation_deg=rotation,
        hip_acc_mps2=hip_acc,
        wobble_rad=wobble,
        wobble_axis=wobble_axis,
        tissue_m=tissue,
    )
    return SessionMotion(kin, tuple(sets), tuple(rests), tuple(sm.reps for sm in set_motions))

"""Simulated thigh-IMU sessions with ground truth: a sample source like any device.

The simulator chains four concerns, each in its own module:

* :mod:`.sim_plan` – what the athlete does (:func:`plan_session`),
* :mod:`.sim_drills` / :mod:`.sim_motion` – smooth (C2) thigh and hip
  kinematics on a 1 kHz grid, per drill,
* :mod:`.sim_body` – rigid-body specific force and angular rate at a sensor
  strapped anywhere on the thigh (:class:`Mounting`),
* :mod:`.sim_sensor` – the device: anti-alias averaging, sampling with clock
  drift, bias/scale/noise, quantisation, clipping, burst loss, jitter
  (:class:`SensorModel`).

Example
-------
>>> sim = simulate_drill("ballistic", fs_hz=100, seed=1)
>>> sim.samples.acc_g.shape[1], len(sim.truth.reps) == sim.plan.n_reps
(3, True)

Randomness: everything derives from ``numpy.random.SeedSequence(seed)``;
the motion, the sensor errors and (in :func:`simulate_drill`) the plan and
mounting use separate child streams, so the same seed gives the same motion
whatever the mounting or the sensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples

from .body import Mounting, rigid_body_signals
from .motion import DENSE_HZ, SessionMotion, build_motion
from .plan import DRILLS, Drill, Segment, SessionPlan, plan_session
from .sensor import SensorErrors, SensorModel, sample_signals

__all__ = [
    "DENSE_HZ",
    "DRILLS",
    "Drill",
    "Mounting",
    "Segment",
    "SensorErrors",
    "SensorModel",
    "SessionPlan",
    "Simulation",
    "Truth",
    "TruthRep",
    "plan_session",
    "simulate",
    "simulate_drill",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TruthRep:
    """One true rep, times in the samples' time base (seconds).

    Attributes
    ----------
    set_index : int
        Set the rep belongs to (0-based).
    low_s : float
        Lowest true angle between the previous rep's peak (or set start) and this peak.
    peak_s : float
        True maximum of the rep.
    trough_s : float
        Lowest true angle between this peak and the next rep's peak (or set end).
    low_deg, peak_deg, trough_deg : float
        True angle at those instants, degrees.
    peak_velocity_dps : float
        Largest true d(theta)/dt between ``low_s`` and ``peak_s``, deg/s.
    """

    set_index: int
    low_s: float
    peak_s: float
    trough_s: float
    low_deg: float = float("nan")
    peak_deg: float = float("nan")
    trough_deg: float = float("nan")
    peak_velocity_dps: float = float("nan")

    @property
    def rom_deg(self) -> float:
        """Peak minus the low before it, degrees."""
        return self.peak_deg - self.low_deg

    @property
    def fall_deg(self) -> float:
        """Peak minus the trough after it, degrees."""
        return self.peak_deg - self.trough_deg

    def counts(self, min_rom_deg: float) -> bool:
        """True when the contract counts this excursion as a rep at ``min_rom_deg``.

        A rep rises at least ``min_rom_deg`` from its low and comes back down by
        as much (the contract's hysteresis, README "Rep"); a drawn excursion
        that falls short either way (a 5 deg hip hike at the default 20 deg, or a
        21 deg rise whose return stops 2 deg higher than it started) is a
        rejected candidate there, so it is no true rep either.
        """
        return self.rom_deg >= min_rom_deg and self.fall_deg >= min_rom_deg


@dataclass(frozen=True, eq=False)
class Truth:
    """Ground truth of a simulation on a dense 1 kHz grid.

    Attributes
    ----------
    time_s : ndarray, shape (n,)
        Dense time grid, seconds, in the samples' time base (includes the
        sensor's ``time_offset_s``; with clock drift a sample taken at truth
        time ``offset + t`` is reported at ``offset + t (1 + ppm * 1e-6)``).
    angle_deg : ndarray, shape (n,)
        True sagittal flexion of the rigid thigh, degrees (0 = standing,
        knee forward/up positive).  Excludes strap wobble and impacts.
    velocity_dps : ndarray, shape (n,)
        Exact time derivative of ``angle_deg``, deg/s.
    reps : tuple of TruthRep
        Every planned rep, in time order.
    sets : tuple of (start_s, end_s)
        Each set's interval.
    rests : tuple of (start_s, end_s)
        Quiet periods (the initial stand, rests, final stand): no rep may be found here.
    """

    time_s: FloatArray
    angle_deg: FloatArray
    velocity_dps: FloatArray
    reps: tuple[TruthRep, ...]
    sets: tuple[tuple[float, float], ...]
    rests: tuple[tuple[float, float], ...]


@dataclass(frozen=True, eq=False)
class Simulation:
    """A simulated recording and everything needed to judge an analysis of it.

    Attributes
    ----------
    samples : ImuSamples
        What the device reports.
    truth : Truth
        Ground truth.
    plan, mounting, sensor, seed :
        The inputs, for provenance.
    errors : SensorErrors or None
        The sensor errors drawn for this run.
    device_index : ndarray of int64, shape (m,) or None
        Device sample counter of each kept row (gaps = lost rows).
    """

    samples: ImuSamples
    truth: Truth
    plan: SessionPlan
    mounting: Mounting
    sensor: SensorModel
    seed: int
    errors: SensorErrors | None = None
    device_index: NDArray[np.int64] | None = None


def _streams(seed: int) -> list[np.random.SeedSequence]:
    # Children: 0 motion, 1 sensor, 2 plan, 3 mounting (spawn keys are stable).
    return np.random.SeedSequence(seed).spawn(4)


def _truth_reps(motion: SessionMotion, offset_s: float) -> tuple[TruthRep, ...]:
    """Locate each planned rep's true low, peak and trough on the dense angle."""
    ts = motion.kinematics.time_s
    th = motion.kinematics.flexion_deg.y
    vel = motion.kinematics.flexion_deg.dy

    def idx(t: float) -> int:
        return int(np.clip(np.searchsorted(ts, t), 0, ts.size - 1))

    out: list[TruthRep] = []
    for s_i, ((s0, s1), reps) in enumerate(zip(motion.sets, motion.set_reps, strict=True)):
        peaks = []
        for rk in reps:
            a, b = idx(rk.rise_s), idx(rk.return_s) + 1
            peaks.append(a + int(np.argmax(th[a:b])))
        # Search windows end on the last grid point inside the set.
        bounds = [idx(s0), *peaks, int(np.searchsorted(ts, s1, side="right"))]
        for j, p in enumerate(peaks):
            lo = bounds[j] + int(np.argmin(th[bounds[j] : p + 1]))
            tr = p + int(np.argmin(th[p : bounds[j + 2]]))
            out.append(
                TruthRep(
                    set_index=s_i,
                    low_s=float(ts[lo] + offset_s),
                    peak_s=float(ts[p] + offset_s),
                    trough_s=float(ts[tr] + offset_s),
                    low_deg=float(th[lo]),
                    peak_deg=float(th[p]),
                    trough_deg=float(th[tr]),
                    peak_velocity_dps=float(np.max(vel[lo : p + 1])),
                )
            )
    return tuple(out)


def simulate(plan: SessionPlan, mounting: Mounting, sensor: SensorModel, seed: int) -> Simulation:
    """Simulate a recording of ``plan`` by ``sensor`` strapped at ``mounting``.

    Parameters
    ----------
    plan : SessionPlan
        Session structure (start with a quiet ``stand`` for calibration).
    mounting : Mounting
        Sensor placement and rotation on the thigh.
    sensor : SensorModel
        The device.
    seed : int
        Seed of all motion and sensor randomness (deterministic per seed).

    Returns
    -------
    Simulation
        Samples (n, 3) at ~``sensor.fs_hz`` plus truth on a 1 kHz grid.
    """
    streams = _streams(seed)
    motion = build_motion(plan, np.random.default_rng(streams[0]))
    kin = motion.kinematics
    body = rigid_body_signals(kin, mounting)
    sampled = sample_signals(kin.time_s, body.acc_g, body.gyr_dps if sensor.has_gyro else None, sensor, streams[1])
    off = sensor.time_offset_s
    truth = Truth(
        time_s=kin.time_s + off,
        angle_deg=kin.flexion_deg.y.copy(),
        velocity_dps=kin.flexion_deg.dy.copy(),
        reps=_truth_reps(motion, off),
        sets=tuple((a + off, b + off) for a, b in motion.sets),
        rests=tuple((a + off, b + off) for a, b in motion.rests),
    )
    return Simulation(
        samples=sampled.samples,
        truth=truth,
        plan=plan,
        mounting=mounting,
        sensor=sensor,
        seed=seed,
        errors=sampled.errors,
        device_index=sampled.device_index,
    )


def simulate_drill(
    drill: Drill,
    *,
    fs_hz: float,
    has_gyro: bool = True,
    seed: int,
    n_sets: int = 3,
    mounting: Mounting | None = None,
    sensor: SensorModel | None = None,
) -> Simulation:
    """Convenience: a typical session of one drill.

    Parameters
    ----------
    drill : Drill
        One of ``DRILLS``.
    fs_hz : float
        Output data rate of the default sensor, Hz.
    has_gyro : bool
        Whether the default sensor has a gyro.
    seed : int
        Seed of the plan, the mounting (when not given), the motion and the sensor.
    n_sets : int
        Number of sets.
    mounting : Mounting, optional
        Default: :meth:`Mounting.random` from the seed.
    sensor : SensorModel, optional
        Default: ``SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)`` (default
        errors, no loss, jitter, offset or drift).  When given it is used
        as is and ``fs_hz`` / ``has_gyro`` are ignored.

    Returns
    -------
    Simulation
    """
    streams = _streams(seed)
    plan = plan_session(drill, np.random.default_rng(streams[2]), n_sets=n_sets)
    if mounting is None:
        mounting = Mounting.random(np.random.default_rng(streams[3]))
    if sensor is None:
        sensor = SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)
    return simulate(plan, mounting, sensor, seed)

"""The widened simulated space: sessions drawn from everything a user's first recording may be.

:func:`draw_wide_case` draws one session description (:class:`WideCase`)
from a seed, :func:`simulate_wide` simulates it.  Over the narrow space of
:func:`~hipflex.sensor.sim.simulate.simulate_drill` it adds

* output data rates from 12.5 to 400 Hz and accelerometer ranges of
  +-2, 4, 8 and 16 g (fast drills clip at +-2 and 4 g: the range is a bound,
  not a value);
* a sensor anywhere on the thigh (front, outer side, back, a little of the
  inner side) at any rotation, 10-35 cm below the hip
  (:meth:`~hipflex.sensor.sim.body.Mounting.anywhere`);
* how the recording starts (``lead_in``): 3 s of quiet standing, a short
  stand, none (the first set starts at once), walking, a fidgety rest,
  lying on the back and getting up, or in the middle of the first set
  (the recording starts at the peak of one of its first reps);
* what happens between sets (``between``): the standing rest with fidgets,
  a walk inside the rest, or two;
* packet loss, timestamp jitter and clock drift as in the accuracy suite;
* optionally (:func:`draw_sensor_fault`, a separate stream of the seed, so
  the sessions themselves are unchanged) a faulty unit: an accelerometer
  off by per-axis gains and offsets (it reads 0.6-1.4 g at rest, as
  Eurobench subject 03's thigh unit reads 1.12-1.33 g), and a gyro whose
  frame disagrees with it (an axis mirrored, as in the raw Eurobench files).

Every draw comes from ``numpy.random.default_rng(seed)`` in a fixed order,
so a seed names one session for good.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from .body import Mounting
from .plan import DRILLS, Drill, Segment, SessionPlan, plan_session
from .sensor import SensorModel
from .simulate import Simulation, Truth, simulate

__all__ = [
    "BETWEEN_KINDS",
    "LEAD_IN_KINDS",
    "WIDE_ACC_RANGES_G",
    "WIDE_RATES_HZ",
    "Between",
    "LeadIn",
    "SensorFault",
    "WideCase",
    "WideFocus",
    "apply_sensor_fault",
    "draw_sensor_fault",
    "draw_wide_case",
    "simulate_wide",
    "trim_start",
]

LeadIn = Literal["quiet", "short", "none", "walk", "fidget", "lying", "midset"]
Between = Literal["rest", "walk", "walks"]
LEAD_IN_KINDS: tuple[LeadIn, ...] = get_args(LeadIn)
BETWEEN_KINDS: tuple[Between, ...] = get_args(Between)
#: Output data rates of common IMUs (MetaMotion 12.5-400, Polar 25-200, phones 50-400), Hz.
WIDE_RATES_HZ = (12.5, 25.0, 50.0, 52.0, 100.0, 104.0, 200.0, 400.0)
#: Accelerometer full-scale ranges, g.
WIDE_ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class WideCase:
    """One session of the widened space (everything needed to simulate it again).

    Attributes
    ----------
    seed : int
        The seed the case was drawn from (also the simulation's seed).
    drill : Drill
        The drill of every set.
    n_sets : int
        Number of sets.
    lead_in : LeadIn
        How the recording starts.
    between : Between
        What happens between sets.
    mounting : Mounting
        Where the sensor sits.
    sensor : SensorModel
        Rate, range, gyro, loss, jitter, drift.
    midset_rep : int
        With ``lead_in == "midset"``: the recording starts at the peak of
        this rep of the first set (0-based); -1 otherwise.
    plan : SessionPlan
        The session structure.
    """

    seed: int
    drill: Drill
    n_sets: int
    lead_in: LeadIn
    between: Between
    mounting: Mounting
    sensor: SensorModel
    midset_rep: int
    plan: SessionPlan

    @property
    def placement_label(self) -> str:
        """front / side / back / inner: the quarter of the thigh the sensor sits on."""
        az = self.mounting.effective_azimuth_deg % 360.0
        if az < 45.0 or az >= 315.0:
            return "front"
        if az < 135.0:
            return "side"
        if az < 225.0:
            return "back"
        return "inner"


def _lead_in_segments(kind: LeadIn, rng: np.random.Generator) -> list[Segment]:
    if kind == "quiet":
        return [Segment("stand", 3.0)]
    if kind == "short":
        return [Segment("stand", float(rng.uniform(0.3, 1.5)))]
    if kind == "walk":
        return [Segment("walk", float(rng.uniform(4.0, 10.0)))]
    if kind == "fidget":
        return [Segment("rest", float(rng.uniform(5.0, 10.0)))]
    if kind == "lying":
        return [Segment("lie", float(rng.uniform(6.0, 12.0))), Segment("stand", float(rng.uniform(0.5, 2.0)))]
    return []  # none, midset: the first set starts the recording


def _between_segments(kind: Between, rest_s: float, rng: np.random.Generator) -> list[Segment]:
    if kind == "rest":
        return [Segment("rest", rest_s)]
    n_walks = 1 if kind == "walk" else 2
    segs: list[Segment] = []
    for _ in range(n_walks):
        segs.append(Segment("rest", float(rng.uniform(2.0, 4.0))))
        segs.append(Segment("walk", float(rng.uniform(4.0, 10.0))))
    segs.append(Segment("rest", float(rng.uniform(2.0, 4.0))))
    return segs


def draw_wide_case(seed: int, *, n_sets: int = 3, focus: WideFocus | None = None) -> WideCase:
    """Draw one session of the widened space from ``seed``.

    Parameters
    ----------
    seed : int
        Seed (non-negative).  Seeds below 10 000 are for tuning; see
        ``benchmarks/README.md`` for the held-out blocks.
    n_sets : int
        Sets per session.
    focus : WideFocus or None
        Force part of the draw (a failure class reproduced on tuning seeds).

    Returns
    -------
    WideCase
    """
    rng = np.random.default_rng(seed)
    drill: Drill = DRILLS[int(rng.integers(len(DRILLS)))]
    fs_hz = float(WIDE_RATES_HZ[int(rng.integers(len(WIDE_RATES_HZ)))])
    has_gyro = bool(rng.random() < 0.5)
    forced = np.random.default_rng([seed, _FOCUS_STREAM])
    if focus is not None:
        drill = focus.drill if focus.drill is not None else drill
        if focus.rates_hz is not None:
            fs_hz = float(focus.rates_hz[int(forced.integers(len(focus.rates_hz)))])
        has_gyro = focus.has_gyro if focus.has_gyro is not None else has_gyro
    acc_range_g = float(WIDE_ACC_RANGES_G[int(rng.integers(len(WIDE_ACC_RANGES_G)))])
    lead_in: LeadIn = LEAD_IN_KINDS[int(rng.integers(len(LEAD_IN_KINDS)))]
    between: Between = BETWEEN_KINDS[int(rng.integers(len(BETWEEN_KINDS)))]
    mounting = Mounting.anywhere(rng)
    if focus is not None and focus.azimuth_range_deg is not None:
        mounting = dataclasses.replace(mounting, azimuth_deg=float(forced.uniform(*focus.azimuth_range_deg)))
    if focus is not None and focus.distance_range_m is not None:
        mounting = dataclasses.replace(mounting, distance_below_hip_m=float(forced.uniform(*focus.distance_range_m)))
    loss = float(rng.uniform(0.0, 0.04)) if rng.random() < 0.5 else 0.0
    jitter_s = float(rng.uniform(0.0, 0.2) / fs_hz) if rng.random() < 0.5 else 0.0
    sensor = SensorModel(
        fs_hz=fs_hz,
        has_gyro=has_gyro,
        acc_range_g=acc_range_g,
        loss_fraction=loss,
        jitter_s=jitter_s,
        time_offset_s=float(np.round(rng.uniform(0.0, 1e5), 3)),
        clock_drift_ppm=float(rng.uniform(-50.0, 50.0)),
    )
    base = plan_session(drill, rng, n_sets=n_sets)
    segs: list[Segment] = _lead_in_segments(lead_in, rng)
    for seg in base.segments[1:]:  # the base plan's opening stand is replaced by the lead-in
        if seg.kind == "rest":
            segs += _between_segments(between, seg.duration_s, rng)
        else:
            segs.append(seg)
    midset_rep = int(rng.integers(0, 3)) if lead_in == "midset" else -1
    return WideCase(
        seed=seed,
        drill=drill,
        n_sets=n_sets,
        lead_in=lead_in,
        between=between,
        mounting=mounting,
        sensor=sensor,
        midset_rep=midset_rep,
        plan=SessionPlan(tuple(segs)),
    )


def trim_start(sim: Simulation, start_s: float) -> Simulation:
    """The recording as if it had started at ``start_s`` (samples' time base).

    Rows before ``start_s`` are dropped; so are the true reps whose low lies
    before it, and every set and rest interval is clipped to start there.
    Cut at a true peak, the first rep kept is the one after that peak, whole.
    """
    keep = sim.samples.time_s >= start_s
    s = sim.samples
    samples = dataclasses.replace(
        s, time_s=s.time_s[keep], acc_g=s.acc_g[keep], gyr_dps=None if s.gyr_dps is None else s.gyr_dps[keep]
    )
    t = sim.truth

    def clip(spans: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        return tuple((max(a, start_s), b) for a, b in spans if b > start_s)

    truth = Truth(
        time_s=t.time_s,
        angle_deg=t.angle_deg,
        velocity_dps=t.velocity_dps,
        reps=tuple(r for r in t.reps if r.low_s >= start_s),
        # Set indices stay those of the plan, so sets are clipped, never dropped.
        sets=tuple((max(a, start_s), b) for a, b in t.sets),
        rests=clip(t.rests),
    )
    di = None if sim.device_index is None else sim.device_index[keep]
    return dataclasses.replace(sim, samples=samples, truth=truth, device_index=di)


def simulate_wide(case: WideCase) -> Simulation:
    """Simulate ``case`` (deterministic: the same case gives the same recording)."""
    sim = simulate(case.plan, case.mounting, case.sensor, seed=case.seed)
    if case.lead_in == "midset":
        first = [r for r in sim.truth.reps if r.set_index == 0]
        k = min(case.midset_rep, len(first) - 2)
        sim = trim_start(sim, first[k].peak_s)
    return sim


#: The stream of the seed a focused draw's forced values come from (``default_rng([seed, 26])``).
_FOCUS_STREAM = 26


@dataclass(frozen=True)
class WideFocus:
    """A corner of the widened space to draw from (:func:`draw_wide_case`'s ``focus``).

    Every field left None is drawn as usual; a forced one replaces the draw.
    Forced rates, azimuths and distances are drawn from a stream of their own
    (``default_rng([seed, 26])``), so the rest of the session is drawn as it
    would be with the same drill.

    Attributes
    ----------
    drill : Drill or None
        Every set's drill.
    rates_hz : tuple of float or None
        Output data rates to choose from (uniformly).
    has_gyro : bool or None
    azimuth_range_deg : tuple of float or None
        The sensor's azimuth around the thigh (front 0, outer side 90), deg.
    distance_range_m : tuple of float or None
        The sensor's distance below the hip, m.
    """

    drill: Drill | None = None
    rates_hz: tuple[float, ...] | None = None
    has_gyro: bool | None = None
    azimuth_range_deg: tuple[float, float] | None = None
    distance_range_m: tuple[float, float] | None = None


#: Per-axis gain error and offset of a faulty accelerometer (uniform in +-), and the stream of the seed they come from.
FAULT_ACC_GAIN = 0.3
FAULT_ACC_OFFSET_G = 0.25
_FAULT_STREAM = 14


@dataclass(frozen=True)
class SensorFault:
    """A faulty unit: ``acc_read = acc * acc_gain + acc_offset_g``, ``gyr_read = gyr_matrix @ gyr``.

    Attributes
    ----------
    acc_gain : ndarray, shape (3,)
    acc_offset_g : ndarray, shape (3,)
    gyr_matrix : ndarray, shape (3, 3)
        The identity or one axis mirrored.
    description : str
    """

    acc_gain: np.ndarray
    acc_offset_g: np.ndarray
    gyr_matrix: np.ndarray
    description: str


def draw_sensor_fault(seed: int) -> SensorFault:
    """The faulty unit of session ``seed``: acc gains and offsets, and (2 in 3) a mirrored gyro axis.

    Drawn from its own stream (``default_rng([seed, 14])``), so
    :func:`draw_wide_case` draws the same session with or without it.
    """
    rng = np.random.default_rng([seed, _FAULT_STREAM])
    gain = 1.0 + rng.uniform(-FAULT_ACC_GAIN, FAULT_ACC_GAIN, 3)
    offset = rng.uniform(-FAULT_ACC_OFFSET_G, FAULT_ACC_OFFSET_G, 3)
    k = int(rng.integers(4))
    m = np.eye(3)
    text = "acc gains/offsets"
    if k < 3:
        m[k, k] = -1.0
        text += f", gyro {'xyz'[k]} mirrored"
    return SensorFault(gain, offset, m, text)


def apply_sensor_fault(sim: Simulation, fault: SensorFault) -> Simulation:
    """``sim`` as read by the faulty unit (the truth is unchanged).

    The accelerometer's range still bounds what it reads (a gain above 1
    clips earlier, an offset shifts the clip).
    """
    s = sim.samples
    acc = s.acc_g * fault.acc_gain + fault.acc_offset_g
    gyr = None if s.gyr_dps is None else s.gyr_dps @ fault.gyr_matrix.T
    return dataclasses.replace(sim, samples=dataclasses.replace(s, acc_g=acc, gyr_dps=gyr))

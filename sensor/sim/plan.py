"""Session plans for the simulator: what the athlete does, segment by segment.

A :class:`SessionPlan` is the structure of a session (quiet standing, sets of
a drill with a number of reps, rests).  The rep-by-rep kinematics are drawn
later by :func:`hipflex.sensor.sim.simulate.simulate` from its seed, so one plan
can be replayed with different motion noise, mountings and sensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = [
    "DRILLS",
    "SET_LEAD_S",
    "SET_TAIL_S",
    "STRIDE_STOP_S",
    "Drill",
    "Segment",
    "SessionPlan",
    "nominal_set_duration_s",
    "plan_session",
]

Drill = Literal["ballistic", "hold", "strength", "march", "stride"]
SegmentKind = Literal["stand", "rest", "set", "walk", "lie"]
DRILLS: tuple[Drill, ...] = get_args(Drill)

#: Standing time inside a set before the first rise, seconds.
SET_LEAD_S = 0.6
#: Standing time inside a set after the last return, seconds.
SET_TAIL_S = 0.6
#: Extra time a stride set needs to come to a stop, seconds.
STRIDE_STOP_S = 1.0

# Mean phase durations (s) used to turn a rep count into a planned set length.
_HOLD_REP_S = 0.6 + 3.05 + 1.0  # lift, hold, lower
_HOLD_GAP_S = 1.5  # standing between holds
_STRENGTH_REP_S = 1.25 + 0.28 + 1.75  # up, pause, down
_STRENGTH_GAP_S = 0.4  # pause at the bottom


@dataclass(frozen=True)
class Segment:
    """One piece of a session plan.

    Attributes
    ----------
    kind : {"stand", "rest", "set", "walk", "lie"}
        ``stand``: quiet standing (calibration); ``rest``: standing with sway,
        weight shifts, fidgets and leg shakes; ``set``: reps of ``drill``;
        ``walk``: walking (thigh swings of 20-35 degrees, no reps of the
        session, e.g. to a bench and back between sets); ``lie``: lying on
        the back (thigh horizontal, ~90 degrees of flexion in the world
        frame), then sitting up and standing up by the segment's end (only
        as the first segment: lying down from standing would be a rise).
    duration_s : float
        Length of a stand or rest, seconds; for a set, its planned length
        (periodic drills fit their cadence to it; hold and strength sets fit
        their standing gaps to it and may run a little longer).
    drill : Drill or None
        The drill of a set.
    n_reps : int
        Planned reps of a set (forward swings for march and stride).
    """

    kind: SegmentKind
    duration_s: float
    drill: Drill | None = None
    n_reps: int = 0

    def __post_init__(self) -> None:
        if self.kind not in get_args(SegmentKind):
            raise ValueError(f"segment kind must be stand, rest, set, walk or lie, got {self.kind!r}")
        if not (np.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"segment duration_s must be positive, got {self.duration_s!r}")
        if self.kind == "set":
            if self.drill not in DRILLS:
                raise ValueError(f"a set needs a drill out of {DRILLS}, got {self.drill!r}")
            if self.n_reps < 1:
                raise ValueError(f"a set needs n_reps >= 1, got {self.n_reps!r}")
        elif self.n_reps != 0:
            raise ValueError(f"a {self.kind} segment has no reps, got n_reps={self.n_reps!r}")


@dataclass(frozen=True)
class SessionPlan:
    """A session: segments in order.  Start with a ``stand`` for calibration."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        segs = tuple(self.segments)
        if not segs:
            raise ValueError("a session plan needs at least one segment")
        object.__setattr__(self, "segments", segs)

    @property
    def n_reps(self) -> int:
        """Planned reps over all sets."""
        return sum(s.n_reps for s in self.segments)

    @property
    def n_sets(self) -> int:
        """Number of sets."""
        return sum(1 for s in self.segments if s.kind == "set")

    @property
    def duration_s(self) -> float:
        """Planned length, seconds (the simulated one can be slightly longer)."""
        return float(sum(s.duration_s for s in self.segments))


def nominal_set_duration_s(drill: Drill, n_reps: int, period_s: float | None = None) -> float:
    """Planned length of a set of ``n_reps``, seconds.

    ``period_s`` is the rep period of the periodic drills (ballistic, march,
    stride); hold and strength use their mean tempo.
    """
    core: float
    if drill == "hold":
        core = n_reps * _HOLD_REP_S + (n_reps - 1) * _HOLD_GAP_S
    elif drill == "strength":
        core = n_reps * _STRENGTH_REP_S + (n_reps - 1) * _STRENGTH_GAP_S
    else:
        if period_s is None:
            raise ValueError(f"{drill} needs period_s")
        core = n_reps * period_s + (STRIDE_STOP_S if drill == "stride" else 0.0)
    return SET_LEAD_S + core + SET_TAIL_S


def plan_session(drill: Drill, rng: np.random.Generator, n_sets: int = 3, stand_s: float = 3.0) -> SessionPlan:
    """A typical session of one drill.

    ``stand_s`` of quiet standing (the calibration period), then ``n_sets`` sets
    separated by rests of 12–25 s, then 3–5 s of standing before the
    recording stops.

    Parameters
    ----------
    drill : Drill
        ``ballistic`` (sets of ~10 s at 1.2–2.2 reps/s), ``hold`` (4–6 holds
        of 3 s), ``strength`` (15 slow reps), ``march`` (15–25 swings at one
        per 0.9–1.3 s) or ``stride`` (10–20 swings at 1.3–1.6 per second).
    rng : numpy.random.Generator
        Source of rep counts, cadences and rest lengths.
    n_sets : int
        Number of sets, at least 1.
    stand_s : float
        Quiet standing before the first set, s (> 0).  People who start
        moving at once leave 1-2 s; the calibration needs ``calib_still_s``.

    Returns
    -------
    SessionPlan
    """
    if drill not in DRILLS:
        raise ValueError(f"unknown drill {drill!r}; expected one of {DRILLS}")
    if n_sets < 1:
        raise ValueError(f"n_sets must be at least 1, got {n_sets}")
    segs: list[Segment] = [Segment("stand", stand_s)]
    for i in range(n_sets):
        if i > 0:
            segs.append(Segment("rest", float(rng.uniform(12.0, 25.0))))
        n, duration_s = _draw_set(drill, rng)
        segs.append(Segment("set", duration_s, drill, n))
    segs.append(Segment("stand", float(rng.uniform(3.0, 5.0))))
    return SessionPlan(tuple(segs))


def _draw_set(drill: Drill, rng: np.random.Generator) -> tuple[int, float]:
    """Rep count and planned length of one set."""
    if drill == "ballistic":
        # "Sets of 10 s": the cadence decides how many contractions fit.
        rate_hz = rng.uniform(1.2, 2.2)
        n = max(round(rate_hz * 10.0), 8)
        return n, nominal_set_duration_s(drill, n, 1.0 / rate_hz)
    if drill == "hold":
        n = int(rng.integers(4, 7))
        return n, nominal_set_duration_s(drill, n)
    if drill == "strength":
        return 15, nominal_set_duration_s(drill, 15)
    if drill == "march":
        n = int(rng.integers(15, 26))
        return n, nominal_set_duration_s(drill, n, rng.uniform(0.9, 1.3))
    n = int(rng.integers(10, 21))
    return n, nominal_set_duration_s(drill, n, 1.0 / rng.uniform(1.3, 1.6))

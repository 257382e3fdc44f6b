"""A rehab protocol done lying down from the first sample: raises on the back, on the side or face down (issue 19).

Bilkent's recordings (Yurtman & Barshan 2014; ``../shared/data`` README 6)
start with the person already lying and never stand: each holds one raise,
10 reps held 5 s, 10 reps "too fast" (no hold), 10 reps of low amplitude,
with the range each person reaches set by the person rather than the pose
(8-22 deg for one subject, 50-107 for another, in every pose).  So neither a
standing moment (which would fix the strap's "front") nor the range (which
:data:`~hipflex.sensor.sim.programme.SPECS` draws from each drill's own
practice range) tells the pose.  :func:`simulate_lying_protocol` draws such
sessions: one pose's raise (:data:`LYING_RAISES`), three sets (held, fast,
small), a range drawn per session from :data:`SESSION_ROM_DEG` whatever the
pose, and the strap anywhere (:meth:`~hipflex.sensor.sim.body.Mounting.random`)
unless given.

Randomness: child streams of ``SeedSequence(seed)``: 0 motion, 1 sensor,
2 mounting, 3 the protocol's ranges and tempi (as in :mod:`.programme`, with
one more stream so the body's noise draws stay those of the same seed).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from .body import Mounting, rigid_body_signals
from .programme import SPECS, ProgrammeSimulation, SetTruth, _clock_truth, _simulate_spec, _truth, _u
from .sensor import SensorModel, sample_signals

__all__ = ["LYING_RAISES", "SESSION_ROM_DEG", "simulate_lying_protocol"]

#: The raise of each lying pose (Bilkent's exercises 3-5), as drills of ``SPECS``.
LYING_RAISES: dict[str, Literal["straight_leg_raise", "side_lying_abduction", "prone_leg_raise"]] = {
    "supine": "straight_leg_raise",
    "side": "side_lying_abduction",
    "prone": "prone_leg_raise",
}
#: The held and fast sets' range, deg, drawn log-uniformly per session whatever the pose (Bilkent: 8-107 deg
#: across three subjects, each about the same in every pose); the small set reaches ``_SMALL_SHARE`` of it.
SESSION_ROM_DEG = (12.0, 90.0)
_SMALL_SHARE = (0.3, 0.6)
_ROM_SPREAD = 0.15  # each set's per-rep range within +-15 % of its own (plus the +-3 deg _set_keys adds)
# (up, hold, down, gap) of the three sets, s: held 5 s as prescribed, "too fast" with no hold, small and held.
_TEMPI = (
    ((1.0, 2.0), (4.5, 5.5), (1.0, 2.0), (1.0, 2.5)),
    ((0.35, 0.7), (0.0, 0.3), (0.35, 0.7), (0.1, 0.5)),
    ((0.6, 1.5), (1.0, 5.0), (0.6, 1.5), (0.5, 2.0)),
)


def simulate_lying_protocol(
    pose: Literal["supine", "side", "prone"],
    *,
    fs_hz: float = 25.0,
    has_gyro: bool = True,
    seed: int,
    mounting: Mounting | None = None,
    sensor: SensorModel | None = None,
    hold_band_deg: float = 10.0,
) -> ProgrammeSimulation:
    """One session of ``pose``'s raise, lying from the first sample: a held, a fast and a small set of 10 reps.

    Parameters
    ----------
    pose : {"supine", "side", "prone"}
        The pose; the raise is :data:`LYING_RAISES` ``[pose]`` (its plane and rest from ``SPECS``).
    fs_hz, has_gyro : float, bool
        The default sensor's rate (Hz; Bilkent's 25) and gyro.
    seed : int
        Seed of the motion, the sensor, the mounting (when not given) and the protocol's ranges.
    mounting : Mounting, optional
        Default :meth:`Mounting.random` (front or side, either leg, any rotation: nothing known).
    sensor : SensorModel, optional
        Default ``SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)``.
    hold_band_deg : float
        Band below the peak the true hold is measured in, deg.

    Returns
    -------
    ProgrammeSimulation
        ``drill`` is ``"lying:" + pose``; each set's truth names the pose's raise.
    """
    if pose not in LYING_RAISES:
        raise ValueError(f"unknown lying pose {pose!r}; expected one of {tuple(LYING_RAISES)}")
    drill = LYING_RAISES[pose]
    spec = SPECS[drill]
    streams = np.random.SeedSequence(seed).spawn(4)
    proto = np.random.default_rng(streams[3])
    rom = float(np.exp(proto.uniform(*np.log(SESSION_ROM_DEG))))
    set_specs = []
    for k, (up, hold, down, gap) in enumerate(_TEMPI):
        r = rom if k < 2 else rom * _u(proto, _SMALL_SHARE)
        set_specs.append(
            dataclasses.replace(
                spec,
                rom_deg=(r * (1.0 - _ROM_SPREAD), r * (1.0 + _ROM_SPREAD)),
                up_s=up,
                hold_s=hold,
                down_s=down,
                gap_s=gap,
                reps=(10, 10),
            )
        )
    if mounting is None:
        mounting = Mounting.random(np.random.default_rng(streams[2]))
    if sensor is None:
        sensor = SensorModel(fs_hz=fs_hz, has_gyro=has_gyro)
    rng = np.random.default_rng(streams[0])
    kin, phi, sets, rests, set_reps = _simulate_spec(drill, spec, rng, 3, mounting.leg, tuple(set_specs))
    body = rigid_body_signals(kin, mounting)
    sampled = sample_signals(kin.time_s, body.acc_g, body.gyr_dps if sensor.has_gyro else None, sensor, streams[1])
    reps, holds = _truth(kin.time_s, phi, sets, set_reps, hold_band_deg)
    truth = _clock_truth(kin.time_s, phi, reps, sets, rests, sensor.time_offset_s)
    set_truth = tuple(SetTruth(drill, spec.pose, spec.movement, h) for h in holds)
    return ProgrammeSimulation(
        f"lying:{pose}", sampled.samples, truth, set_truth, mounting, sensor, seed, sampled.errors
    )

"""Kinematics of what people do outside their sets: walking, and lying down before getting up.

Neither produces reps of the session (the truth lists these spans as rests),
but both move the thigh much more than the fidgets of a standing rest:

* **walking** (:func:`walk_bout`): the thigh swings from 4-14 degrees behind
  the standing line to 8-22 degrees in front of it once per stride
  (1.0-1.25 s), the hip moves forward at 0.8-1.4 m/s and bounces, the
  instrumented foot strikes the floor once per stride and the other foot
  jolts the hip half a stride later.  Sagittal thigh angles in level walking
  span roughly 30-45 degrees in gait laboratories; the short slow steps of
  someone crossing a gym between sets are smaller, so the swing here is
  12-36 degrees, on both sides of ``min_rom_deg`` (20).  A brisk walker
  (``_BRISK_P`` of the walks) swings 8-14 degrees further forward and 4-8
  further back (peaks up to 38, swings up to 60; gait laboratories'
  30-45 at ordinary speed, more when fast; the real thigh straps of
  ../shared/data swing 31-53 peak to peak, median 40).  Its landings are
  drawn as everyone's: in those straps the per-walker jolt (0.7-2.4 g) does
  not grow with the swing.  The body's forward speed
  dips after every landing (braking) and recovers before the next
  (push-off): 0.1-0.35 m/s per step, anterior-posterior ground reaction
  forces of 0.1-0.25 body weight.  By the contract's definition a forward
  swing of 20 degrees or more is a rep, so a core that counts none here
  must tell gait from the drills;
* **lying on the back, then getting up** (:func:`lie_then_stand`): the thigh
  is horizontal (82-95 degrees of flexion in the world frame: lying on the
  back orients the thigh as a 90 degree knee lift does), the person sits up
  (the thigh stays put) and stands up (flexion falls to standing while the
  hip rises 0.35-0.5 m).
"""

from __future__ import annotations

import itertools

import numpy as np

from .drills import Impacts, SetMotion, round_extrema
from .gait import _bounce_keys
from .plan import Segment
from .track import KeyBuilder

__all__ = ["LIE_FLEXION_DEG", "lie_then_stand", "walk_bout"]

#: Peak acceleration of a walking heel strike along the thigh, per walk, g.  Measured on the real
#: walks of ../shared/data (the largest jump of |acc| above its 0.2 s mean in each 1.1 s of walking):
#: thigh straps (Marpino, 100 Hz) 0.6 / 1.1 / 2.2 g (10th / 50th / 90th percentile, per-walker medians
#: 0.7-2.6 g), phones in a front pocket (Oxford, 100-400 Hz) per-walker medians 0.5-2.6 g.  The
#: strike alone is drawn a little lower: the other foot's jolt and the tissue wobble add to that jump.
_WALK_STRIKE_G = (0.45, 2.5)

#: Share of walks that are brisk (a longer swing, more braking and push-off).
_BRISK_P = 0.35

#: Range of the thigh's world-frame flexion while lying on the back, degrees.
LIE_FLEXION_DEG = (82.0, 95.0)


def walk_bout(rng: np.random.Generator, t0: float, seg: Segment) -> SetMotion:
    """Walking from ``t0`` for ``seg.duration_s`` seconds, starting and ending standing.

    Returns a :class:`SetMotion` with no reps (its ``reps`` is empty): the
    swings are steps, not reps of the session.
    """
    end = t0 + seg.duration_s
    # The brisk walker and the braking and push-off are drawn from a child stream, so that the walk's own
    # draws (and every draw of the session after it) are those of a walk without them.
    sub = rng.spawn(1)[0]
    brisk = bool(sub.uniform() < _BRISK_P)
    peak_add, low_add = (sub.uniform(8.0, 14.0), sub.uniform(4.0, 8.0)) if brisk else (0.0, 0.0)
    ripple = sub.uniform(0.2, 0.35) if brisk else sub.uniform(0.1, 0.25)
    stride_s = rng.uniform(1.0, 1.25)
    peak_set, low_set = rng.uniform(8.0, 22.0), rng.uniform(-14.0, -4.0)
    v_walk = rng.uniform(0.8, 1.4)
    # The heel strike's jolt at the thigh differs more between walkers (shoes, gait, strap) than
    # between their steps: a level per walk, a spread per step (see _WALK_STRIKE_G).
    strike_g = rng.uniform(*_WALK_STRIKE_G)
    keys = KeyBuilder()
    keys.add(t0, 0.0)
    t = t0 + rng.uniform(0.2, 0.5)
    keys.add(t, 0.0)
    strikes: list[tuple[float, float, float, float]] = []
    contra: list[tuple[float, float, float, float]] = []
    landings: list[float] = []
    start = t
    # Each stride: swing forward (~40 % of the stride), stance back to the low.
    while t + stride_s + 0.8 < end:
        p = stride_s * (1.0 + 0.03 * rng.standard_normal())
        swing = p * rng.uniform(0.38, 0.45)
        peak = float(np.clip(peak_set + 1.5 * rng.standard_normal(), 6.0, 24.0)) + peak_add
        low = float(np.clip(low_set + 1.0 * rng.standard_normal(), -16.0, -2.0)) - low_add
        keys.add(t + swing, peak)
        # Heel strike just after the peak; the thigh then extends through stance.
        land = t + swing + 0.1 * p
        strikes.append((land, strike_g * rng.uniform(0.8, 1.2), rng.uniform(0.012, 0.02), 0.2))
        contra.append((land + 0.5 * p, rng.uniform(0.2, 0.5), rng.uniform(0.014, 0.02), 0.0))
        landings += [land, land + 0.5 * p]
        keys.add(t + p, low)
        t += p
    stop = min(t + rng.uniform(0.5, 0.8), end - 0.05)
    keys.add(stop, 0.0)
    keys.add(end, 0.0)
    round_extrema(keys, min_deg=4.0)
    hip_z = _bounce_keys(start, end, [x for x in landings if x < stop], 0.06, rng.uniform(0.01, 0.025))
    vx = KeyBuilder()
    vx.add(start, 0.0)
    if t > start + 1.0:
        vx.add(start + 0.6, v_walk)
        # Fastest at each landing (double support), slowest half a step later (mid-stance): braking after
        # the landing, push-off before the next.
        cruise = [x for x in landings if start + 0.8 < x and x + 0.6 < max(t - 0.6, start + 0.7)]
        for a, b in itertools.pairwise(cruise):
            vx.add(a, v_walk + 0.5 * ripple)
            vx.add(0.5 * (a + b), v_walk - 0.5 * ripple)
        vx.add(max(t - 0.6, start + 0.7), v_walk)
    vx.add(stop, 0.0)
    return SetMotion(
        t0, end, keys.build(), (), hip_z_keys=hip_z, hip_vx_keys=vx.build(),
        strikes=Impacts.of(strikes), contra=Impacts.of(contra),
    )  # fmt: skip


def lie_then_stand(rng: np.random.Generator, t0: float, seg: Segment, lie_deg: float) -> SetMotion:
    """Lying on the back at ``lie_deg`` of flexion, then sitting up and standing up by the segment's end.

    The last 2.5-4 s of the segment are the getting up: 1-2 s sitting up
    (the thigh stays horizontal), then a 0.9-1.6 s stand-up in which the
    flexion falls to standing and the hip rises 0.35-0.5 m; the segment ends
    with the person standing still for at least 0.3 s.
    """
    end = t0 + seg.duration_s
    sit_s, rise_s = rng.uniform(1.0, 2.0), rng.uniform(0.9, 1.6)
    stand_up_end = end - max(0.3, 0.1 * seg.duration_s)
    stand_up_start = max(t0 + 0.2, stand_up_end - rise_s)
    sit_start = max(t0 + 0.1, stand_up_start - sit_s)
    keys = KeyBuilder()
    keys.add(t0, lie_deg)
    keys.add(sit_start, lie_deg)
    # Sitting up rolls the pelvis: the thigh settles a few degrees.
    seated = float(lie_deg + rng.uniform(-6.0, 2.0))
    keys.add(stand_up_start, seated)
    keys.add(stand_up_end, 0.0)
    keys.add(end, 0.0)
    drop = rng.uniform(0.35, 0.5)
    hz = KeyBuilder()
    hz.add(t0, -drop)
    hz.add(stand_up_start, -drop)
    hz.add(stand_up_end, 0.0)
    hz.add(end, 0.0)
    return SetMotion(t0, end, keys.build(), (), hip_z_keys=hz.build())

"""Pose and movement from the thigh's own frame, where the mounting is given (and the lever or the rise measured).

The flat-on-the-skin prior (:mod:`hipflex.dsp.mounting_prior`) names one
thigh direction in the sensor's frame, the face normal ``n``; the strap's
turn about it stays unknown, and that turn is exactly what separates a raise
on the back from one face down seen from the outer side (both are a turn
about the normal, the thigh's lateral axis) and a side-lying raise from a
clamshell (both turn about an axis across the normal).  The session's lever
(pivot to sensor, fitted from the motion: ``GyroFrameCheck.lever``) names a
second one: the thigh's long axis, pointing away from the pivot.  Its part
along ``n`` is the sensor's offset from the femur (a flat sensor sits out of
the skin along its normal), so the long axis is the lever across ``n``.

With the hip as the pivot, ``U = -lever`` (across ``n``, unit) points up the
thigh and ``W = n x U`` completes a frame in which every drill's rest "up"
and rep axis are predicted from the placement's azimuth and the leg
(:data:`~hipflex.dsp.drill_prototypes.REST_UP`, ``REP_AXIS``): the pose is
where gravity sits in the thigh frame and the movement is the rep axis'
direction across the thigh, signed.  Which end of the thigh is the pivot is
not observable in one set: a face-down raise about the hip and a
sit-to-stand about the knee are one rigid motion (naming9), so are a raise
on the back and a sit-to-stand seen from the front.  The hip is taken: the
frame is used only where the lever lies across the rest vertical (a thigh on
the floor or a seat) and the set's other evidence already puts it lying or
seated (:func:`.posture._in_thigh_frame`), where the programme's drills are
raises from lying about the hip, and the knee-pivot drills lose the tie as
they do without a gyro (``P_ACC_ONLY_PRIOR``).  Without a lever the rise
names the long axis: a raise about the hip lifts the knee end, so up the
thigh is ``axis x up`` (:func:`frame_cosines`).  On the back and seated gravity sits alike
(anterior up); what tells them apart here is the movement: a flexion from
there is a raise on the back (hip pivot), an extension a sit-to-stand.

The rep axis' part along the long axis is not used: the lever is fitted
from the turn itself, and its part along the turn's axis is not observable
(the tangential and centripetal terms have none), so a turn with a part
about the thigh's own axis (a clamshell's hip flexed ~45 deg, a face-down
raise done with the leg turned out) reads as the turn across the thigh it
contains.  Seen so a clamshell is an abduction of the lying thigh (its
prototype's rest "up" and axis are the side-lying raise's), and a clamshell
is not named where this frame is measured: a set is named the drill of the
pose and movement the frame reads, or ``unknown``.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp.mounting_prior import FlatPrior

__all__ = [
    "FRAME_MOVES",
    "FRAME_POSES",
    "MAX_LEVER_UP_COS",
    "MIN_ACROSS",
    "frame_cosines",
    "frame_pose_movement",
]

#: The frame is used where the lever, across the normal, lies within this cosine of the horizontal:
#: a thigh on the floor or a seat (Bilkent's raises -0.2..+0.3; a hanging thigh reads -1, a squat's +1,
#: a bridge's thigh starts 45-60 deg up).
MAX_LEVER_UP_COS = 0.6
#: Least length of the unit lever across the normal, and of the rep axis across the long axis, for a
#: direction to be read from them (a lever along the normal is the offset alone; an axis along the thigh
#: is a turn about it, whose plane across the thigh is not measured).
MIN_ACROSS = 0.4
#: Rest "up" of each pose group in thigh axes (anterior, lateral, up the thigh): on the back and seated
#: alike, the anterior side up (the movement tells them apart: see the module notes).
FRAME_POSES: dict[tuple[str, ...], tuple[float, float, float]] = {
    ("supine", "seated"): (1.0, 0.0, 0.0),
    ("prone",): (-1.0, 0.0, 0.0),
    ("side",): (0.0, 1.0, 0.0),
    ("standing", "all_fours"): (0.0, 0.0, 1.0),
}
#: Rep axes across the thigh, signed as the working turn of a right leg (``drill_prototypes``' convention).
FRAME_MOVES: dict[str, tuple[float, float, float]] = {
    "flexion": (0.0, 1.0, 0.0),
    "extension": (0.0, -1.0, 0.0),
    "abduction": (-1.0, 0.0, 0.0),
    "adduction": (1.0, 0.0, 0.0),
}
_NAN3 = (math.nan, math.nan, math.nan)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 and math.isfinite(n) else None


def frame_cosines(
    prior: FlatPrior | None, lever: np.ndarray | None, up: np.ndarray | None, axis: np.ndarray | None
) -> tuple[tuple[float, float, float], tuple[float, float, float], str]:
    """The rest "up" and the rep axis in the frame ``(n, U, W)`` (see the module notes), and what gave ``U``.

    Needs the normal's sense and the leg (``prior.signed``,
    ``prior.leg_sign``), ``up`` and ``axis``.  ``U`` is ``-lever`` across
    ``n`` (``"lever"``) where the lever across ``n`` is at least
    ``MIN_ACROSS`` long and within ``MAX_LEVER_UP_COS`` of the horizontal;
    else (no lever, or not a thigh across the vertical) ``axis x up``
    across ``n`` (``"rise"``): the long axis of a thigh lying across the
    vertical whose working turn lifts its far end, which holds only where
    the thigh lies (the caller's to judge, :func:`.posture._scored`).  The
    axis' part along ``U`` is dropped and the rest made unit (NaN where
    shorter than ``MIN_ACROSS``).  NaN and ``""`` where not measured.
    """
    if prior is None or not prior.signed or not prior.leg_sign:
        return _NAN3, _NAN3, ""
    u = None if up is None else _unit(np.asarray(up, dtype=np.float64))
    a = None if axis is None else _unit(np.asarray(axis, dtype=np.float64))
    if u is None or a is None:
        return _NAN3, _NAN3, ""
    n = prior.normal
    lev = None if lever is None else _unit(np.asarray(lever, dtype=np.float64))
    big_u, kind = None, ""
    if lev is not None:
        across = lev - float(lev @ n) * n
        if float(np.linalg.norm(across)) >= MIN_ACROSS:
            big_u = -across / float(np.linalg.norm(across))  # up the thigh, with the hip as the pivot
            kind = "lever"
            if abs(float(big_u @ u)) > MAX_LEVER_UP_COS:  # the lever says the thigh does not lie
                return _NAN3, _NAN3, ""
    if big_u is None:
        # A raise about the hip lifts the knee end: (axis x -U) . up > 0, so U lies along axis x up.
        rise = np.cross(a, u)
        across = rise - float(rise @ n) * n
        if float(np.linalg.norm(across)) < MIN_ACROSS:
            return _NAN3, _NAN3, ""
        big_u, kind = across / float(np.linalg.norm(across)), "rise"
    w = np.cross(n, big_u)
    up3 = (float(u @ n), float(u @ big_u), float(u @ w))
    a_n, a_w = float(a @ n), float(a @ w)
    r = math.hypot(a_n, a_w)
    if r < MIN_ACROSS:
        return up3, _NAN3, kind
    return up3, (a_n / r, 0.0, a_w / r), kind


def _basis(prior: FlatPrior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n``, ``U`` and ``W`` in thigh axes at each azimuth the prior allows, each (K, 3).

    The thigh axes of a right leg (anterior, lateral outwards, up) are a
    left-handed triple in space and a left leg's a right-handed one, so the
    space cross product ``n x U`` reads ``-leg_sign * (sin psi, -cos psi, 0)``.
    """
    psi = np.radians(prior.azimuths_deg)
    n_t = np.stack([np.cos(psi), np.sin(psi), np.zeros_like(psi)], axis=1)
    u_t = np.tile(np.array([0.0, 0.0, 1.0]), (psi.size, 1))
    w_t = -prior.leg_sign * np.stack([np.sin(psi), -np.cos(psi), np.zeros_like(psi)], axis=1)
    return n_t, u_t, w_t


def frame_pose_movement(
    prior: FlatPrior, up3: tuple[float, float, float], axis3: tuple[float, float, float]
) -> tuple[tuple[str, ...], str] | None:
    """The pose group and the movement whose thigh-frame geometry is nearest the measured one, or None.

    Pose groups and movements as :data:`FRAME_POSES` and :data:`FRAME_MOVES`;
    the pair is chosen jointly at the best azimuth the prior allows (the
    squared distances of the three "up" cosines and the two axis cosines
    across the thigh summed).  None where either is not measured.
    """
    if not (all(math.isfinite(x) for x in up3) and all(math.isfinite(x) for x in axis3)):
        return None
    n_t, u_t, w_t = _basis(prior)
    mu = np.array(up3)
    ma = np.array([axis3[0], axis3[2]])
    best: tuple[float, tuple[str, ...], str] | None = None
    for poses, rest in FRAME_POSES.items():
        r = np.array(rest)
        d_up = (n_t @ r - mu[0]) ** 2 + (u_t @ r - mu[1]) ** 2 + (w_t @ r - mu[2]) ** 2  # (K,)
        for move, ax in FRAME_MOVES.items():
            x = prior.leg_sign * np.array(ax)
            pa = np.stack([n_t @ x, w_t @ x], axis=1)  # (K, 2)
            d = float(np.min(d_up + np.sum((pa - ma) ** 2, axis=1)))
            if best is None or d < best[0]:
                best = (d, poses, move)
    assert best is not None
    return best[1], best[2]

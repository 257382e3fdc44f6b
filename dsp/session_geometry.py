"""What a session's earlier sets tell about a later set's drill: the strap stays put for a session.

Two sets done in different poses see one thigh from one sensor frame, so
the angle between their rest "up" directions and the one between their
(signed) rep axes are the angles between the two drills' thigh directions,
whatever the mounting: dot products of two directions, or of two rotation
axes, do not change when the sensor is turned on the thigh or the leg is
mirrored.  A standing flexion and a donkey kick hang the same way and turn
about the same line; only their senses differ, and a glute bridge earlier
in the session (an extension) tells which: a standing set whose axis is
opposite the bridge's flexes.  :mod:`hipflex.dsp.posture` adds
:func:`session_fit` to a set's score, given the drills' geometry.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "POOL_FLOOR",
    "SAME_FRAME_COS",
    "SESSION_SIGMA",
    "pooled_poses",
    "pose_evidence",
    "same_frame_pooled",
    "session_fit",
    "unit",
]

#: Spread of a measured cosine about the one two drills' geometries predict: a pose is held within
#: 10-20 deg of the prototype's (0.15-0.3 in a cosine).
SESSION_SIGMA = 0.25
#: Earlier sets in the same frame (both cosines above this) tell nothing a set's own features do not:
#: they are left out, so a one-drill session is named as if alone.
SAME_FRAME_COS = math.cos(math.radians(20.0))
#: Most one earlier set in a set's frame can cost a pose (a mean log-likelihood per feature, as the pose
#: scores: a 1.4-sigma miss of every kinematic feature): one set named wrong cannot outvote a later set's
#: clear measurement alone.
POOL_FLOOR = -1.0


def unit(v: np.ndarray | None) -> np.ndarray | None:
    """``v`` scaled to unit length; None for None, a zero or a non-finite vector."""
    if v is None:
        return None
    n = float(np.linalg.norm(v))
    return np.asarray(v, dtype=np.float64) / n if n > 0 and math.isfinite(n) else None


def session_fit(
    up: np.ndarray | None,
    axis: np.ndarray | None,
    named: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    up_cos: np.ndarray,
    axis_cos: np.ndarray,
    floor: float,
) -> np.ndarray | None:
    """Log-likelihood of one set's frame under each drill given the session's earlier sets, shape (P,).

    Parameters
    ----------
    up, axis : ndarray or None
        The set's unit rest "up" and rep axis, sensor frame.
    named : sequence of (ndarray, ndarray, ndarray)
        Each earlier set's unit up, unit axis and the weights of its drills
        (shape (P,), summing to 1): an earlier set is not taken for its best
        drill alone, so one named wrong among close candidates (a side-lying
        raise a side lunge) does not mislead the sets after it.
    up_cos, axis_cos : ndarray, shape (P, P)
        Cosines between two drills' rest "up" directions and between their
        rep axes (thigh axes).
    floor : float
        The most one earlier set can cost a drill (log-likelihood).

    Returns
    -------
    ndarray or None
        The mean over earlier sets of each drill's log-likelihood (Gaussian,
        ``SESSION_SIGMA`` per cosine, mixed over the earlier set's drills);
        None when no earlier set was measured in another frame.
    """
    if up is None or axis is None:
        return None
    if not named:
        return None
    # Most earlier sets share this set's frame and tell nothing: found for all at once (a dot product
    # each was 1.4 us; a long recording's 142 sets, each against those before it, spent 14 ms here).
    ups = np.array([u for u, _, _ in named], dtype=np.float64)
    axes = np.array([a for _, a, _ in named], dtype=np.float64)
    other = ~((ups @ up > SAME_FRAME_COS) & (axes @ axis > SAME_FRAME_COS))
    parts = []
    for i in np.flatnonzero(other):
        u, a, w = named[int(i)]
        cu, ca = float(up @ u), float(axis @ a)
        if cu > SAME_FRAME_COS and ca > SAME_FRAME_COS:
            continue
        du, da = cu - up_cos, ca - axis_cos  # (P, Q): this set's drill, the earlier one's
        like = np.exp(-0.5 * (du * du + da * da) / (SESSION_SIGMA * SESSION_SIGMA)) @ w
        with np.errstate(divide="ignore"):
            parts.append(np.maximum(np.log(like), floor))
    return np.mean(parts, axis=0) if parts else None


def pose_evidence(pose_scores: np.ndarray, same_pose: np.ndarray, floor: float) -> np.ndarray:
    """What each set's own measurement says of each prototype's pose, shape (S, P).

    Parameters
    ----------
    pose_scores : ndarray, shape (S, P)
        Each set's pose score under each prototype (``-inf`` for prototypes
        that do not compete).
    same_pose : ndarray of bool, shape (P, P)
        Whether two prototypes share a pose.
    floor : float
        The most one set can cost a pose.

    Returns
    -------
    ndarray
        The best score among the prototypes of each prototype's pose, less
        the set's best score (0 for its best pose), at least ``floor``.
    """
    with np.errstate(invalid="ignore"):
        best = np.where(same_pose[None, :, :], pose_scores[:, None, :], -math.inf).max(axis=2)
        rel = best - pose_scores.max(axis=1, keepdims=True)
    return np.where(np.isfinite(rel), np.maximum(rel, floor), floor)


def same_frame_pooled(
    frames: Sequence[tuple[np.ndarray | None, np.ndarray | None]], evidence: np.ndarray, first: int
) -> np.ndarray:
    """Each of the sets from ``first`` on: the summed ``evidence`` of the sets before it in its frame, (S - first, P).

    ``frames`` holds every set's unit rest "up" and rep axis (None where
    unknown), in the session's order, and ``evidence`` their
    :func:`pose_evidence`.  Two sets whose rest "up" and rep axis both lie
    within 20 deg (``SAME_FRAME_COS``) of each other rest with gravity in
    the same place in the thigh's frame and turn about the same line: the
    same pose, whatever the mounting.  Only earlier sets count, so that a
    set's name is the one it had when it closed.
    """
    n = len(frames)
    out = np.zeros((n - first, evidence.shape[1]))
    known = np.array([u is not None and a is not None for u, a in frames], dtype=bool)
    if n <= first or not known[first:].any():
        return out
    # Every pair's two cosines at once (the loop over pairs with a dot each was 2 us a pair: a long
    # recording's 142 sets, named block by block, spent 21 ms here).
    ups = np.array([u if ok else (0.0, 0.0, 0.0) for (u, _), ok in zip(frames, known, strict=True)], dtype=np.float64)
    axes = np.array([a if ok else (0.0, 0.0, 0.0) for (_, a), ok in zip(frames, known, strict=True)], dtype=np.float64)
    same = (ups[first:] @ ups.T > SAME_FRAME_COS) & (axes[first:] @ axes.T > SAME_FRAME_COS) & known[None, :]
    same &= np.arange(n)[None, :] < np.arange(first, n)[:, None]  # only the sets before each
    for k in np.flatnonzero(known[first:] & same.any(axis=1)):
        out[k] = evidence[same[k]].sum(axis=0)  # row after row, in the sets' order
    return out


def pooled_poses(
    frames: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
    pose_scores: np.ndarray,
    same_pose: np.ndarray,
    first: int,
) -> np.ndarray:
    """The pose evidence of the sets before each set from ``first`` on, in its frame, shape (S - first, P).

    The strap stays put for a session, so sets resting with gravity in one
    place of the sensor's frame and turning about one line rest in one
    pose: where a set's own range cannot tell it (a raise face down and one
    on the back where their ranges meet, 35-40 deg: tuning seeds 0-11, 21 of
    72 face-down sets went to the back), the sets before it in its frame
    add what theirs say.  ``frames`` and ``pose_scores`` (S, P) are every
    set's, in the session's order; :func:`pose_evidence` with
    ``POOL_FLOOR``, summed by :func:`same_frame_pooled`.
    """
    return same_frame_pooled(frames, pose_evidence(pose_scores, same_pose, POOL_FLOOR), first)

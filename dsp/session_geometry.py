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

__all__ = ["SAME_FRAME_COS", "SESSION_SIGMA", "session_fit", "unit"]

#: Spread of a measured cosine about the one two drills' geometries predict: a pose is held within
#: 10-20 deg of the prototype's (0.15-0.3 in a cosine).
SESSION_SIGMA = 0.25
#: Earlier sets in the same frame (both cosines above this) tell nothing a set's own features do not:
#: they are left out, so a one-drill session is named as if alone.
SAME_FRAME_COS = math.cos(math.radians(20.0))


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
    parts = []
    for u, a, w in named:
        cu, ca = float(up @ u), float(axis @ a)
        if cu > SAME_FRAME_COS and ca > SAME_FRAME_COS:
            continue
        du, da = cu - up_cos, ca - axis_cos  # (P, Q): this set's drill, the earlier one's
        like = np.exp(-0.5 * (du * du + da * da) / (SESSION_SIGMA * SESSION_SIGMA)) @ w
        with np.errstate(divide="ignore"):
            parts.append(np.maximum(np.log(like), floor))
    return np.mean(parts, axis=0) if parts else None

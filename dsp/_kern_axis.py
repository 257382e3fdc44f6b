"""The rep axis per set: learned again when a set moves in another plane or from another pose (gyro).

The learning flow locks the rest pose ``u`` and the rep axis (``w``, ``a =
w x u``) once, from the first excursion.  A session of several drills (on
the side, then on the back, then standing) needs them per set: the thigh's
angle in the first set's plane says nothing about the next.  The tilt
filter tracks the whole of "up" in the sensor frame, so the tilt from any
pose and its direction are known at every sample; this watch reads them.

* The *reference* is "up" at the thigh's last still pose (the tilt filter's
  rest test, ``F_REST_S``).  The thigh is *quiet* while it stays within
  ``lock_deg`` of it; ``F_AX_QUIET_S`` is how long (counted from the first
  excursion: the stretch a recording starts in is no rest between sets).
* After a quiet stretch of ``set_gap_s`` or more (a rest between sets) the
  first sample that tilts ``_HOLD_DEG`` from the reference starts a *hold*:
  the rep detector reads no further (``I_AX_HOLD``) until it is decided.
* Once the tilt reaches a rep's (``min_rom_deg``, at most ``lock_deg``;
  from a rest in another pose ``candidate_deg``) its direction ``d`` (of "up" away from
  the reference, perpendicular to it) is the new set's plane.  If that
  plane's axis ``d x ref`` is more than ``_AXIS_DEG`` from the locked axis,
  or the reference more than ``_POSE_DEG`` from the locked rest pose, the
  axes become ``u = ref``, ``w = d``: the first excursion is the working
  direction, positive.  The held rows' angle and rate are computed again
  under the new axes (the history keeps "up" and the rate of every row),
  and the detector reads on from a fresh low.
* A hold ends undecided (axes kept) if the thigh is still again, after
  ``_MAX_HOLD_S``, or at a gap that interrupts the detector.

Decided from rows alone (never from where a chunk ended), so any chunking
gives the batch result.  Single-plane sessions keep their axes: each set's
first excursion is in the locked plane from the same pose.  The angle
already emitted for held rows (at most ``_MAX_HOLD_S``) stays in the old
axes; the reps and the history use the new.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._layout import (
    DEG,
    EV_AXES,
    EV_KIND,
    EX_A,
    EX_T,
    EX_U,
    EX_W,
    F_AX_QUIET_S,
    F_AX_REF,
    F_AX_YAW,
    F_LOW,
    F_MREF,
    F_PERIOD,
    F_PREV_OA,
    F_PREV_W,
    F_REST_S,
    F_UP,
    H_OMEGA,
    H_THETA,
    H_TIME,
    H_UP,
    H_VEL,
    I_AX_HOLD,
    I_AX_NEW,
    I_CAND_ACTIVE,
    I_CAP,
    I_DET,
    I_PHASE,
    I_RESTED,
    P_A,
    P_AX_COS_DECIDE,
    P_AX_COS_DECIDE_POSE,
    P_AX_COS_LOCK,
    P_AX_ROT,
    P_AX_WATCH,
    P_CAND,
    P_SET_GAP_S,
    P_U,
    P_W,
    PHASE_FALL,
    PHASE_SEEK,
    RAD,
)

__all__: list[str] = []

# A still pose: the tilt filter's own rest test (its _REST_MIN_S), s; compared
# half a sample past it as there (a sum of periods ties with it in the last bits).
_STILL_S = 0.5
# The tilt from the reference that starts a hold, deg: above the sway of a
# rest (a fraction of a degree to the gyro), far below any rep.
_HOLD_DEG = 2.0
_COS_HOLD = math.cos(math.radians(_HOLD_DEG))
# A set's plane this far from the locked one, deg, is another plane (the
# design of session 11: halfway between one plane and the next is 45).
_AXIS_DEG = 30.0
_COS_AXIS = math.cos(math.radians(_AXIS_DEG))
# A rest pose this far from the locked one, deg, is another pose (as
# rest_pose and learning_flow: halfway to a right angle).
_POSE_DEG = 45.0
_COS_POSE = math.cos(math.radians(_POSE_DEG))
# A still thigh within this fraction of candidate_deg of a rotation set's
# rest level is back at rest (the detector's rest band, dsp/_kern_reps).
_REZERO_FRAC = 0.5
# Longest hold, s: a rise reaches lock_deg well within it; longer, it was no rep's rise.
_MAX_HOLD_S = 3.0
# At most this fraction of the history ring is held (the detector's rep metrics read back from it).
_RING_DIV = 16


@njit_borrowed_inline
def _axis_release(ist: np.ndarray) -> None:
    """End a hold undecided: the detector reads on (the caller catches it up)."""
    ist[I_AX_HOLD] = 0


@njit_borrowed_inline
def _keep_row(fstate: np.ndarray, hist: np.ndarray, slot: int) -> None:
    """Keep "up" and the rate of a held row in its history slot (only held rows are read again)."""
    hist[slot, H_UP] = fstate[F_UP]
    hist[slot, H_UP + 1] = fstate[F_UP + 1]
    hist[slot, H_UP + 2] = fstate[F_UP + 2]
    hist[slot, H_OMEGA] = fstate[F_PREV_W]
    hist[slot, H_OMEGA + 1] = fstate[F_PREV_W + 1]
    hist[slot, H_OMEGA + 2] = fstate[F_PREV_W + 2]


@njit_borrowed
def _yaw_step(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, s: int) -> float:
    """A rotation set: the angle of sample ``s`` is the rate about ``P_A`` (up) integrated, deg.

    A call, not inlined: only rotation sessions take it, and the main loop
    stays as small as before.  A rotation about the thigh's long axis
    (standing hip rotation) leaves "up" where it was, so the tilt angle cannot see it; the bias-corrected
    gyro integrated about the standing vertical can.  Its drift (the bias
    left after the tilt filter's estimate) is a rest level that moves by a
    degree or so a minute, enough over a set to make its reps start behind
    the rest pose as a walk's steps do; it is reset whenever the thigh is
    still within half of ``candidate_deg`` of the rest level (the band in
    which the detector calls the thigh rested).
    """
    oa = fstate[F_PREV_W] * prm[P_A] + fstate[F_PREV_W + 1] * prm[P_A + 1] + fstate[F_PREV_W + 2] * prm[P_A + 2]
    yaw = fstate[F_AX_YAW] + oa * fstate[F_PERIOD] * RAD
    if fstate[F_REST_S] > _STILL_S + 0.5 * fstate[F_PERIOD] and abs(yaw) < _REZERO_FRAC * prm[P_CAND]:
        # Still near the rest level: the thigh is back in the rest pose, and
        # what the integral shows there is drift.
        yaw = 0.0
    fstate[F_AX_YAW] = yaw
    if abs(yaw) * DEG > math.acos(prm[P_AX_COS_LOCK]):
        # A rotation of lock_deg ends a rest as a tilt does (the set after it
        # is then watched for its plane): the quiet time is 0 after this row.
        fstate[F_AX_QUIET_S] = -fstate[F_PERIOD]
    hist[s & (ist[I_CAP] - 1), H_THETA] = yaw
    return yaw


@njit_borrowed
def _held_row(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    hold: int,
    c: float,
    still: bool,
) -> tuple[bool, float]:
    """A row of a hold (held since sample ``hold``): whether the set's axes were decided at it, and its angle, deg.

    Called, not inlined, from the per-sample watch: holds are rare (a rise after a
    rest of ``set_gap_s``), and the main loop's compile grew by the inlined branch
    (5.5 -> 6.0 s of the first run's critical path).  ``c``: cosine between "up"
    and the reference pose; ``still``: the thigh is still.
    """
    cap = ist[I_CAP]
    _keep_row(fstate, hist, s & (cap - 1))
    # From a rest in the locked pose, a set's plane is read once the tilt
    # is a rep's (min_rom_deg, at most lock_deg): a fidget after a rest
    # must not turn the axis.  From another pose the locked axes mean
    # nothing, and a candidate's tilt is enough.
    same_pose = (
        fstate[F_AX_REF] * prm[P_U] + fstate[F_AX_REF + 1] * prm[P_U + 1] + fstate[F_AX_REF + 2] * prm[P_U + 2]
        >= _COS_POSE
    )
    if c < (prm[P_AX_COS_DECIDE] if same_pose else prm[P_AX_COS_DECIDE_POSE]):
        _axis_release(ist)
        fstate[F_AX_QUIET_S] = 0.0
        return True, _decide(prm, fstate, ist, hist, hold, s, theta)
    if still or s - hold >= cap // _RING_DIV or (s - hold) * fstate[F_PERIOD] > _MAX_HOLD_S:
        _axis_release(ist)
    return False, theta


@njit_borrowed_inline
def _axis_watch(prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, s: int, theta: float) -> float:
    """Watch processed sample ``s`` (gyro; written to the history); its angle, deg (new if the axes changed).

    Follows the reference pose and the quiet time, starts, ends or decides
    a hold (see the module docstring), and keeps "up" and the rate of held
    rows in the history.
    """
    if prm[P_AX_WATCH] <= 0.0:
        return theta
    if prm[P_AX_ROT] != 0.0:
        theta = _yaw_step(prm, fstate, ist, hist, s)
    cap = ist[I_CAP]
    ux = fstate[F_UP]
    uy = fstate[F_UP + 1]
    uz = fstate[F_UP + 2]
    still = fstate[F_REST_S] > _STILL_S + 0.5 * fstate[F_PERIOD]
    c = ux * fstate[F_AX_REF] + uy * fstate[F_AX_REF + 1] + uz * fstate[F_AX_REF + 2]
    hold = ist[I_AX_HOLD]
    if hold != 0:
        decided, theta = _held_row(prm, fstate, ist, hist, s, theta, hold, c, still)
        if decided:
            return theta
    if still:
        fstate[F_AX_REF] = ux
        fstate[F_AX_REF + 1] = uy
        fstate[F_AX_REF + 2] = uz
        c = 1.0
    if c < prm[P_AX_COS_LOCK]:
        fstate[F_AX_QUIET_S] = 0.0
    else:
        fstate[F_AX_QUIET_S] += fstate[F_PERIOD]
    if (
        ist[I_AX_HOLD] == 0
        and hold == 0
        and c < _COS_HOLD
        and fstate[F_AX_QUIET_S] >= prm[P_SET_GAP_S]
        and ist[I_DET] >= s
    ):
        ist[I_AX_HOLD] = s
        _keep_row(fstate, hist, s & (cap - 1))
    return theta


@njit_borrowed_inline
def _turn_axes(prm: np.ndarray, fstate: np.ndarray, vx: float, vy: float, vz: float) -> bool:
    """Whether the pose ``v`` reached from the reference pose ``F_AX_REF`` sets new axes; if so, sets them.

    The turn's direction ``w`` is ``v`` less its part along the reference
    ``u``; the new axis ``a = w x u``.  Nothing changes (False) when the turn
    has no direction or keeps the locked axis from the locked pose.  Shared
    by both deciders (with a gyro :func:`_decide`, without
    ``_kern_axis_acc._acc_decide``).
    """
    rx = fstate[F_AX_REF]
    ry = fstate[F_AX_REF + 1]
    rz = fstate[F_AX_REF + 2]
    c = vx * rx + vy * ry + vz * rz
    dx = vx - c * rx
    dy = vy - c * ry
    dz = vz - c * rz
    n = math.sqrt(dx * dx + dy * dy + dz * dz)
    if n <= 0.0:
        return False
    dx /= n
    dy /= n
    dz /= n
    ax = dy * rz - dz * ry
    ay = dz * rx - dx * rz
    az = dx * ry - dy * rx
    same_axis = abs(ax * prm[P_A] + ay * prm[P_A + 1] + az * prm[P_A + 2]) >= _COS_AXIS
    same_pose = rx * prm[P_U] + ry * prm[P_U + 1] + rz * prm[P_U + 2] >= _COS_POSE
    if same_axis and same_pose:
        return False
    prm[P_U] = rx
    prm[P_U + 1] = ry
    prm[P_U + 2] = rz
    prm[P_W] = dx
    prm[P_W + 1] = dy
    prm[P_W + 2] = dz
    prm[P_A] = ax
    prm[P_A + 1] = ay
    prm[P_A + 2] = az
    prm[P_AX_ROT] = 0.0  # a tilt set after a rotation set: the tilt angle again
    return True


@njit_borrowed_inline
def _fresh_search(fstate: np.ndarray, ist: np.ndarray, hold: int) -> None:
    """The detector starts a fresh search for a low at the held row ``hold``, under new axes.

    The rows before the hold are in the old axes: a rise the detector
    followed in them (never confirmed: the body turning into this pose, read
    in the old axes) is dropped with them.  ``I_AX_NEW`` makes the axes
    reported (:func:`_axis_report`) before the detector reads the held rows,
    so the set they start is named from these axes, not the session's first.
    """
    ist[I_PHASE] = PHASE_SEEK
    ist[I_RESTED] = 0
    ist[I_CAND_ACTIVE] = 0
    fstate[F_LOW] = math.inf
    fstate[F_MREF] = math.nan
    ist[I_AX_NEW] = hold


@njit_borrowed
def _decide(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, hold: int, s: int, theta: float
) -> float:
    """At the sample ``s`` a held rise reached ``lock_deg``: new axes if it is in another plane or pose.

    Rows ``hold..s`` are read again under the new axes (angle and rate),
    and the detector, which read up to ``hold``, starts a fresh search for
    a low.  Returns the angle of row ``s``, deg.  Twin:
    ``tests/naive.py:axis_decide``.
    """
    if ist[I_PHASE] == PHASE_FALL:
        return theta  # a confirmed rep is not cut (after a rest of set_gap_s it has settled: rare)
    if not _turn_axes(prm, fstate, fstate[F_UP], fstate[F_UP + 1], fstate[F_UP + 2]):
        return theta
    rx = prm[P_U]
    ry = prm[P_U + 1]
    rz = prm[P_U + 2]
    dx = prm[P_W]
    dy = prm[P_W + 1]
    dz = prm[P_W + 2]
    ax = prm[P_A]
    ay = prm[P_A + 1]
    az = prm[P_A + 2]
    fstate[F_AX_YAW] = 0.0
    cap = ist[I_CAP]
    for k in range(hold, s + 1):
        slot = k & (cap - 1)
        vx = hist[slot, H_UP]
        vy = hist[slot, H_UP + 1]
        vz = hist[slot, H_UP + 2]
        hist[slot, H_THETA] = math.atan2(vx * dx + vy * dy + vz * dz, vx * rx + vy * ry + vz * rz) * RAD
        oa = hist[slot, H_OMEGA] * ax + hist[slot, H_OMEGA + 1] * ay + hist[slot, H_OMEGA + 2] * az
        hist[slot, H_VEL] = oa * RAD
    fstate[F_PREV_OA] = fstate[F_PREV_W] * ax + fstate[F_PREV_W + 1] * ay + fstate[F_PREV_W + 2] * az
    _fresh_search(fstate, ist, hold)
    return hist[s & (cap - 1), H_THETA]


@njit_borrowed_inline
def _axis_report(prm: np.ndarray, ist: np.ndarray, hist: np.ndarray, ev: np.ndarray, n_ev: int) -> int:
    """An axes event row for axes :func:`_decide` changed and did not report yet; the event rows written.

    The row carries the time of the new set's first held row and the new
    ``u``, ``w`` and ``a``: every rep from that time on is measured in
    them (until the next such row), so its set is named in them
    (``dsp.posture``).  Twin: ``tests/naive.py:axis_report``.
    """
    hold = ist[I_AX_NEW]
    if hold <= 0:
        return n_ev
    ist[I_AX_NEW] = 0
    ev[n_ev, :] = 0.0
    ev[n_ev, EV_KIND] = EV_AXES
    ev[n_ev, EX_T] = hist[hold & (ist[I_CAP] - 1), H_TIME]
    for i in range(3):
        ev[n_ev, EX_U + i] = prm[P_U + i]
        ev[n_ev, EX_W + i] = prm[P_W + i]
        ev[n_ev, EX_A + i] = prm[P_A + i]
    return n_ev + 1

"""The rep axis per set without a gyro: learned again when a set starts from a rest in another plane or pose.

The gyro's watch (:mod:`hipflex.dsp._kern_axis`) reads "up" from the tilt
filter.  Without a gyro the pendulum filter knows only the angle in the
locked plane; what it sees of the whole pose is the specific force,
low-passed for its stillness test (``F_ZLP``, 0.1 s): at rest that is "up"
scaled by gravity, and during a rep of a thigh turning about the hip its
tangential and centripetal terms stay in the rep's plane, so its direction
away from the rest pose is the rep's working direction.

* The *reference* is that force's direction at the thigh's last still pose:
  still for ``_STILL_S`` by the filter's per-row test (``F_ZSTILL_S`` > 0)
  with the direction within ``_HOLD_DEG`` of where the stretch began
  (``F_AX_ANCHOR``, ``F_AX_STILL_S``).  The filter's test alone passes the
  slow parts of a slow rise (a rotation under ~20 deg/s changes the force by
  less than its 0.04 g band): the reference would follow the rep.  The thigh
  is *quiet* while the force stays within ``lock_deg`` of it and the
  filter's per-row test passed ``_STILL_S`` ago or less (``F_AX_QUIET_S``,
  ``F_AX_MOVE_S``; the settling after a change of pose passes it; counted
  from the first excursion, as with a gyro): a rest between sets is a still
  stretch, a walk is not.
* After a quiet stretch of ``set_gap_s`` or more, the first row whose force
  turns ``_HOLD_DEG`` from the reference starts a hold: the rep detector
  reads no further (``I_AX_HOLD``), the filter's axis-free state after that
  row is kept (``F_AX_SNAP``), and every held row keeps its specific force
  and clip bits in the history (``H_ACC``, ``H_CLIP``).
* Once the force has turned a rep's angle (``min_rom_deg``, at most
  ``lock_deg``; from a rest more than ``_POSE_DEG`` from the locked pose,
  ``candidate_deg``), if the turn's plane is more than ``_AXIS_DEG`` from the
  locked one or the rest more than ``_POSE_DEG`` from the locked rest, the
  axes become ``u = ref``, ``w`` = the turn's direction, ``a = w x u``: the
  first excursion is the working direction, positive.  The filter restarts
  at the hold's first row (its angle the low-passed force's under the new
  axes, at rest, the rate unknown) and runs again over the held rows; the
  detector reads them afresh.  Ends undecided (axes kept) as with a gyro:
  still again, after ``_MAX_HOLD_S``, or at a gap that interrupts the
  detector.

Decided from rows alone, so any chunking gives the batch result.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed, njit_borrowed_inline
from hipflex.dsp._kern_axis import _COS_POSE, _MAX_HOLD_S, _RING_DIV, _STILL_S, _axis_release, _fresh_search, _turn_axes
from hipflex.dsp._kern_pendulum import _pendulum_step, _zupt_anchor_here
from hipflex.dsp._layout import (
    DEG,
    F_AX_ANCHOR,
    F_AX_MOVE_S,
    F_AX_QUIET_S,
    F_AX_REF,
    F_AX_SNAP,
    F_AX_STILL_S,
    F_G_EST,
    F_JOLT,
    F_LAST_SIGMA,
    F_P,
    F_PERIOD,
    F_X,
    F_ZLP,
    F_ZSTILL_S,
    H_ACC,
    H_CLIP,
    H_DT,
    H_JOLT,
    H_P,
    H_SIGMA,
    H_THETA,
    H_VEL,
    H_X,
    I_AX_HOLD,
    I_CAP,
    I_DET,
    I_PHASE,
    P_AX_COS_DECIDE,
    P_AX_COS_DECIDE_POSE,
    P_AX_COS_LOCK,
    P_HANG_LEVER,
    P_HANG_THETA_MAX,
    P_LEVER_M,
    P_LIE_AXIS,
    P_LIE_LEVER,
    P_LIE_THETA_MAX,
    P_OFFSET_M,
    P_SET_GAP_S,
    P_THETA_MAX,
    P_U,
    P_W,
    PHASE_FALL,
    RAD,
)

__all__: list[str] = []

# The turn of the low-passed force from the reference that starts a hold,
# deg: above what the 0.1 s low-pass leaves of a rest's sensor noise and sway
# (a few tenths of a degree), far below any rep.
_HOLD_DEG = 2.0
_COS_HOLD = math.cos(math.radians(_HOLD_DEG))
# The restarted filter's uncertainty at the hold's first row: the angle is
# measured (the low-passed force lags the thigh by ~0.1 s: a few degrees at
# a rep's start), the rate and acceleration unknown (as after a gap,
# _kern_pendulum._pendulum_reanchor).
_RESTART_ANGLE_SD_DEG = 5.0
_RESTART_RATE_SD_DPS = 50.0
_RESTART_ACCEL_VAR = 100.0
# A set's thigh stands (the hanging lever, not a lying one) when its axis is
# within this of the rest's "up", deg: halfway between standing and lying.
_UPRIGHT_DEG = 45.0
_COS_UPRIGHT = math.cos(math.radians(_UPRIGHT_DEG))


@njit_borrowed_inline
def _write_row(fstate: np.ndarray, hist: np.ndarray, slot: int, theta: float, vel: float, sig: float) -> None:
    """What the main loop writes of a filtered row (``_kern_run._process_py``), from the filter's state."""
    hist[slot, H_THETA] = theta
    hist[slot, H_VEL] = vel
    hist[slot, H_SIGMA] = sig
    for i in range(3):
        hist[slot, H_X + i] = fstate[F_X + i]
    hist[slot, H_P] = fstate[F_P]
    hist[slot, H_P + 1] = fstate[F_P + 1]
    hist[slot, H_P + 2] = fstate[F_P + 2]
    hist[slot, H_P + 3] = fstate[F_P + 4]
    hist[slot, H_P + 4] = fstate[F_P + 5]
    hist[slot, H_P + 5] = fstate[F_P + 8]
    hist[slot, H_JOLT] = fstate[F_JOLT]


@njit_borrowed
def _refilter(
    prm: np.ndarray, fstate: np.ndarray, hist: np.ndarray, cap: int, first: int, last: int, th: float, sig: float
) -> float:
    """Filter history rows ``first..last`` again from the filter's state, each row written as the main loop does.

    ``th`` (deg) and ``sig`` (deg) are the angle and its standard deviation
    before ``first``, kept where no row is run.  Returns the last row's angle,
    deg; ``F_LAST_SIGMA`` is left at the last row's deviation.  Used where the
    rows are re-run from a new state: an axis hold (:func:`_acc_hold`) and the
    post-gap window's periodic run (``_kern_gap_acc``).
    """
    for k in range(first, last + 1):
        slot = k & (cap - 1)
        th, vel, sig = _step_row(prm, fstate, hist, slot)
        _write_row(fstate, hist, slot, th, vel, sig)
    fstate[F_LAST_SIGMA] = sig
    return th


@njit_borrowed_inline
def _step_row(prm: np.ndarray, fstate: np.ndarray, hist: np.ndarray, slot: int) -> tuple[float, float, float]:
    """One filter step on the force and clip bits history row ``slot`` kept: angle, rate (deg, deg/s), angle sd."""
    return _pendulum_step(
        prm,
        fstate,
        hist[slot, H_ACC],
        hist[slot, H_ACC + 1],
        hist[slot, H_ACC + 2],
        hist[slot, H_DT],
        int(hist[slot, H_CLIP]),
    )


@njit_borrowed
def _acc_hold(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    hold: int,
    c: float,
    ax: float,
    ay: float,
    az: float,
    clip: int,
) -> tuple[bool, float]:
    """Row ``s`` of a hold (held since row ``hold``): whether the hold was decided at it, and its angle, deg.

    The row's force and clip bits are kept for a re-run.

    Called, not inlined: holds are rare.  ``c``: cosine between the
    low-passed force and the reference.
    """
    cap = ist[I_CAP]
    slot = s & (cap - 1)
    hist[slot, H_ACC] = ax
    hist[slot, H_ACC + 1] = ay
    hist[slot, H_ACC + 2] = az
    hist[slot, H_CLIP] = clip
    # From a rest in the locked pose, a set's plane is read once the force
    # has turned a rep's angle (a fidget after a rest must not turn the
    # axis); from another pose the locked axes mean nothing, and a
    # candidate's turn is enough.
    same_pose = (
        fstate[F_AX_REF] * prm[P_U] + fstate[F_AX_REF + 1] * prm[P_U + 1] + fstate[F_AX_REF + 2] * prm[P_U + 2]
        >= _COS_POSE
    )
    if c < (prm[P_AX_COS_DECIDE] if same_pose else prm[P_AX_COS_DECIDE_POSE]):
        _axis_release(ist)
        fstate[F_AX_QUIET_S] = 0.0
        return True, _acc_decide(prm, fstate, ist, hist, hold, s, theta)
    if fstate[F_AX_STILL_S] > _STILL_S or s - hold >= cap // _RING_DIV or (s - hold) * fstate[F_PERIOD] > _MAX_HOLD_S:
        _axis_release(ist)
    return False, theta


@njit_borrowed_inline
def _lever_for_pose(prm: np.ndarray, rx: float, ry: float, rz: float) -> None:
    """A lying lever's session: the lever and bound of a set whose rest's "up" is ``(rx, ry, rz)``.

    The thigh stands when its axis (``P_LIE_AXIS``) is within
    ``_UPRIGHT_DEG`` of the line of "up" (either way: the lever's sign is
    the identification's): the hanging lever, else the lying one.
    """
    c = abs(rx * prm[P_LIE_AXIS] + ry * prm[P_LIE_AXIS + 1] + rz * prm[P_LIE_AXIS + 2])
    if c == 0.0:
        return  # no lying lever (zeros), or a thigh exactly across: nothing to switch
    k = P_HANG_LEVER if c >= _COS_UPRIGHT else P_LIE_LEVER
    prm[P_LEVER_M] = prm[k]
    prm[P_OFFSET_M] = prm[k + 1]
    prm[P_THETA_MAX] = prm[P_HANG_THETA_MAX] if c >= _COS_UPRIGHT else prm[P_LIE_THETA_MAX]


@njit_borrowed
def _acc_decide(
    prm: np.ndarray, fstate: np.ndarray, ist: np.ndarray, hist: np.ndarray, hold: int, s: int, theta: float
) -> float:
    """At row ``s`` the held force turned a candidate's angle: new axes, the filter run again from row ``hold``.

    Returns the angle of row ``s``, deg.  Twin: ``tests/naive.py:acc_axis_decide``.
    """
    if ist[I_PHASE] == PHASE_FALL:
        return theta  # a confirmed rep is not cut
    if not _turn_axes(prm, fstate, fstate[F_ZLP], fstate[F_ZLP + 1], fstate[F_ZLP + 2]):
        return theta  # no turn, or the locked plane from the locked pose: the held rows are right as they are
    rx = prm[P_U]
    ry = prm[P_U + 1]
    rz = prm[P_U + 2]
    _lever_for_pose(prm, rx, ry, rz)
    dx = prm[P_W]
    dy = prm[P_W + 1]
    dz = prm[P_W + 2]
    # The filter's axis-free state (stillness, gravity) runs again from where
    # it was after the hold's first row: the same rows give the same values.
    cap = ist[I_CAP]
    for i in range(3):
        fstate[F_ZLP + i] = fstate[F_AX_SNAP + i]
    fstate[F_ZSTILL_S] = fstate[F_AX_SNAP + 3]
    fstate[F_G_EST] = fstate[F_AX_SNAP + 4]
    # Its still stretch goes on from there, anchored where the force is (the anchor is not kept).
    _zupt_anchor_here(fstate)
    # The restart: the hold's first row at the angle of its low-passed force, at rest.
    sx = fstate[F_ZLP]
    sy = fstate[F_ZLP + 1]
    sz = fstate[F_ZLP + 2]
    theta0 = math.atan2(sx * dx + sy * dy + sz * dz, sx * rx + sy * ry + sz * rz)
    fstate[F_X] = theta0
    fstate[F_X + 1] = 0.0
    fstate[F_X + 2] = 0.0
    for i in range(9):
        fstate[F_P + i] = 0.0
    fstate[F_P] = (_RESTART_ANGLE_SD_DEG * DEG) ** 2
    fstate[F_P + 4] = (_RESTART_RATE_SD_DPS * DEG) ** 2
    fstate[F_P + 8] = _RESTART_ACCEL_VAR
    fstate[F_JOLT] = 0.0
    slot = hold & (cap - 1)
    _write_row(fstate, hist, slot, theta0 * RAD, 0.0, _RESTART_ANGLE_SD_DEG)
    # No prediction links this row to the one before it (the rep smoother starts here).
    hist[slot, H_DT] = math.nan
    th = _refilter(prm, fstate, hist, cap, hold + 1, s, theta0 * RAD, _RESTART_ANGLE_SD_DEG)
    _fresh_search(fstate, ist, hold)  # as with a gyro (_kern_axis._decide)
    return th


# Called, not inlined into the main loop (only accelerometer-only analyses
# with the watch on reach it): inlined, the main loop's compile typed and
# optimised it, and the hold it calls, for every first run, on the command's
# critical path; called, it compiles in the first-run helper's ``step`` group
# (dsp/_precompile.py) and the main loop's compile loads it from the cache.
@njit_borrowed
def _acc_watch(
    prm: np.ndarray,
    fstate: np.ndarray,
    ist: np.ndarray,
    hist: np.ndarray,
    s: int,
    theta: float,
    ax: float,
    ay: float,
    az: float,
    clip: int,
) -> float:
    """Watch processed row ``s`` (no gyro; ``ax..az``, ``clip``: what the filter read); its angle, deg.

    Follows the reference pose and the quiet time, starts, ends or decides
    a hold (see the module docstring).
    """
    fx = fstate[F_ZLP]
    fy = fstate[F_ZLP + 1]
    fz = fstate[F_ZLP + 2]
    n = math.sqrt(fx * fx + fy * fy + fz * fz)
    if n <= 0.0:
        return theta
    c = (fx * fstate[F_AX_REF] + fy * fstate[F_AX_REF + 1] + fz * fstate[F_AX_REF + 2]) / n
    if (
        fstate[F_ZSTILL_S] > 0.0
        and fx * fstate[F_AX_ANCHOR] + fy * fstate[F_AX_ANCHOR + 1] + fz * fstate[F_AX_ANCHOR + 2] >= _COS_HOLD * n
    ):
        fstate[F_AX_STILL_S] += fstate[F_PERIOD]
    else:
        fstate[F_AX_ANCHOR] = fx / n
        fstate[F_AX_ANCHOR + 1] = fy / n
        fstate[F_AX_ANCHOR + 2] = fz / n
        fstate[F_AX_STILL_S] = 0.0
    hold = ist[I_AX_HOLD]
    if hold != 0:
        decided, theta = _acc_hold(prm, fstate, ist, hist, s, theta, hold, c, ax, ay, az, clip)
        if decided:
            return theta
    if fstate[F_AX_STILL_S] > _STILL_S:
        fstate[F_AX_REF] = fx / n
        fstate[F_AX_REF + 1] = fy / n
        fstate[F_AX_REF + 2] = fz / n
        c = 1.0
    if fstate[F_ZSTILL_S] > 0.0:
        fstate[F_AX_MOVE_S] = 0.0
    else:
        fstate[F_AX_MOVE_S] += fstate[F_PERIOD]
    if c < prm[P_AX_COS_LOCK] or fstate[F_AX_MOVE_S] > _STILL_S:
        # A rest between sets is a still stretch: a walk's swings stay within
        # lock_deg of the pose before it, but it is never still for long (the
        # force read in a swing is no rep's direction: Oxford's pocket walks
        # re-locked on foot strikes).  A rise's first rows, up to the turn
        # that starts a hold, are not still either.
        fstate[F_AX_QUIET_S] = 0.0
    else:
        fstate[F_AX_QUIET_S] += fstate[F_PERIOD]
    if hold == 0 and c < _COS_HOLD and fstate[F_AX_QUIET_S] >= prm[P_SET_GAP_S] and ist[I_DET] >= s:
        ist[I_AX_HOLD] = s
        fstate[F_AX_SNAP] = fx
        fstate[F_AX_SNAP + 1] = fy
        fstate[F_AX_SNAP + 2] = fz
        fstate[F_AX_SNAP + 3] = fstate[F_ZSTILL_S]
        fstate[F_AX_SNAP + 4] = fstate[F_G_EST]
    return theta

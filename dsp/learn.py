"""The learning phase: calibration from the first quiet period, then the flexion axis.

Before any angle can be computed the core must know, in the sensor frame,

1. the direction of gravity at rest (the thigh's "up", ``u``) and the gyro
   bias -- from the first quiet window of ``calib_still_s``, wherever it is;
2. the flexion axis ``a`` and its sign -- from the first excursion of the thigh
   ``lock_deg`` away from that pose, after the window or (read backwards from
   it, :func:`scan_before`) before it: the excursion's direction is "forward"
   (positive flexion).  With a gyro the axis is the principal axis of the
   angular rate (the pipeline passes :func:`lock_axes` the rate over the
   longer span on which it confirms the sign); without one it is the
   principal direction in which the low-passed accelerometer leaves ``u``
   (gravity, tangential and centripetal acceleration all lie in the sagittal
   plane).

So any mounting rotation works and no calibration pose is needed.  Each
decision at row ``k`` depends only on rows ``<= k``, and the scans resume
where they stopped, so the outcome does not depend on how the stream was
chunked.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from hipflex.dsp._jit import njit
from hipflex.dsp._kern_filters import _tilt_step_called
from hipflex.dsp._kern_mode import per_mode
from hipflex.dsp._layout import (
    F_BIAS,
    F_N,
    F_UP,
    P_A,
    P_BIAS_TAU,
    P_G_CAL,
    P_N,
    P_STILL_GYR,
    P_TILT_TAU,
    P_U,
    P_W,
    RAD,
)

__all__ = ["Axes", "Calibration", "lock_axes", "scan_before", "scan_lock"]

# Whether the lock scan's kernel has a gyro: each of its two copies reads its own
# constant here (dsp/_kern_mode.py); this value serves only the plain _scan_lock_py.
_WITH_GYRO = True

# Time constant of the low-pass on the accelerometer used to find the first
# excursion, s: long enough to average out impacts, short enough for 0.1 s reps.
_LOCK_LP_TAU_S = 0.15
# Without a gyro the provisional sign comes from a slower low-pass: the thigh
# spends its time forward of standing, while the offset term -d theta'^2 of a
# front-mounted sensor points backwards during fast swings and can dominate a
# short average.  (The pipeline then confirms the sign on the filter's angle.)
_SIGN_LP_TAU_S = 1.0
# Without a gyro the low-passed accelerometer understates the tilt of a fast
# swing (its centripetal term points along the thigh): a march to 80 deg shows
# ~26 deg.  Its lock fires at this fraction of lock_deg instead; the sign is
# confirmed later on the filter's angle, so an early lock is safe.
_ACC_LOCK_FRACTION = 0.6

# With a gyro its principal axis is the flexion axis unless it lies within
# acos(this) = 18 deg of "up": that is a turn about the vertical, not a
# flexion.  The test is loose because a miscalibrated accelerometer (offsets,
# per-axis scale errors) tilts "up" (Eurobench subject 03: |axis . up| = 0.72,
# where a sound unit reads about 0).
_GYRO_AXIS_MAX_COS = 0.95

# Resumable lock scan state.
L_SCANNED = 0  # rows already fed (absolute index into the buffer)
L_LP = 1  # 1..3 low-passed accelerometer
L_MAX_TILT = 4
L_MAX_ROW = 5
L_LOCK_ROW = 6  # -1 until locked
L_S = 7  # 7..15 accumulated 3x3 scatter of the axis evidence
L_LAST_T = 16
L_SLOW = 17  # 17..19 slowly low-passed accelerometer (sign of an acc-only lock)
L_FS = 20  # embedded tilt-filter float state (gyro lock scan)
L_PRM = L_FS + F_N  # embedded tilt-filter parameters
L_N = L_PRM + P_N


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of the quiet standing period.

    Attributes
    ----------
    start_row, end_row : int
        Buffer rows of the window (inclusive).
    up : ndarray, shape (3,)
        Unit gravity direction ("up") in the sensor frame while standing.
    gyro_bias_dps : ndarray, shape (3,)
        Mean angular rate over the window (zeros without gyro), deg/s.
    period_s : float
        Median sample interval in the window, s.
    gravity_g : float
        Magnitude of the mean accelerometer reading in the window (1 for a
        perfect sensor), in the sensor's g.
    quiet : bool
        False when no window met the thresholds and the quietest one was used.
    window_s : float
        Length of the window searched for, s (NaN if not recorded).
    motion : float
        The window's largest deviation as a multiple of the stillness
        thresholds (at most 1 when ``quiet``; NaN if not recorded).
    from_first_row : bool
        True where no window held the rest pose and ``up`` is the force's
        direction at ``start_row``, where a recording that never stood still
        started (:mod:`hipflex.dsp.no_stand`); the sign was read there too.
    """

    start_row: int
    end_row: int
    up: np.ndarray
    gyro_bias_dps: np.ndarray
    period_s: float
    quiet: bool
    gravity_g: float = 1.0
    window_s: float = math.nan
    motion: float = math.nan
    from_first_row: bool = False


@dataclass(frozen=True, eq=False)
class Axes:
    """Thigh axes in the sensor frame: ``u`` up, ``w`` anterior, ``a = w x u`` flexion axis."""

    u: np.ndarray
    w: np.ndarray
    a: np.ndarray


def new_lock_state(
    cal: Calibration, acc_g: np.ndarray, tilt_tau_s: float, still_gyr_dps: float, bias_tau_s: float
) -> np.ndarray:
    """Fresh lock-scan state starting at the end of the calibration window.

    With a gyro the scan tracks "up" with the same tilt filter the core uses
    (no lever-arm compensation yet: the axes are not known), so the first
    excursion is measured by rotation, not by the accelerometer alone.
    """
    ls = np.zeros(L_N)
    ls[L_SCANNED] = cal.end_row + 1
    ls[L_LP : L_LP + 3] = np.nanmean(acc_g[cal.start_row : cal.end_row + 1], axis=0)
    ls[L_SLOW : L_SLOW + 3] = ls[L_LP : L_LP + 3]
    ls[L_LOCK_ROW] = -1
    ls[L_MAX_ROW] = -1
    ls[L_LAST_T] = np.nan
    fstate = ls[L_FS : L_FS + F_N]
    fstate[F_UP : F_UP + 3] = cal.up
    fstate[F_BIAS : F_BIAS + 3] = cal.gyro_bias_dps
    prm = ls[L_PRM : L_PRM + P_N]
    prm[P_U : P_U + 3] = cal.up
    perp = _any_perpendicular(cal.up)
    prm[P_W : P_W + 3] = perp
    prm[P_A : P_A + 3] = np.cross(perp, cal.up)
    prm[P_TILT_TAU] = tilt_tau_s
    prm[P_STILL_GYR] = still_gyr_dps
    prm[P_BIAS_TAU] = bias_tau_s
    prm[P_G_CAL] = cal.gravity_g
    return ls


def _any_perpendicular(u: np.ndarray) -> np.ndarray:
    v = np.cross(u, [1.0, 0.0, 0.0])
    if np.linalg.norm(v) < 1e-6:
        v = np.cross(u, [0.0, 1.0, 0.0])
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def _scan_lock_py(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    up: np.ndarray,
    bias: np.ndarray,
    lock_deg: float,
    ls: np.ndarray,
) -> int:
    """Feed rows to the excursion finder; return the lock row or -1.

    Compiled once per mode (``_scan_lock_gyro``, ``_scan_lock_acc``;
    ``dsp/_kern_mode.py``): without a gyro the tilt filter is not compiled.
    """
    has_gyro = _WITH_GYRO
    n = t.shape[0]
    k = int(ls[L_SCANNED])
    while k < n:
        ok = not math.isnan(t[k] + acc[k, 0] + acc[k, 1] + acc[k, 2])
        if has_gyro and ok:
            ok = not math.isnan(gyr[k, 0] + gyr[k, 1] + gyr[k, 2])
        if ok:
            dt = 0.0 if math.isnan(ls[L_LAST_T]) else t[k] - ls[L_LAST_T]
            ls[L_LAST_T] = t[k]
            al = dt / (_LOCK_LP_TAU_S + dt)
            al_slow = dt / (_SIGN_LP_TAU_S + dt)
            for c in range(3):
                ls[L_LP + c] += al * (acc[k, c] - ls[L_LP + c])
                ls[L_SLOW + c] += al_slow * (acc[k, c] - ls[L_SLOW + c])
            if has_gyro:
                if dt > 0.0:
                    fsv = ls[L_FS : L_FS + F_N]
                    _tilt_step_called(
                        ls[L_PRM : L_PRM + P_N],
                        fsv,
                        acc[k, 0],
                        acc[k, 1],
                        acc[k, 2],
                        gyr[k, 0],
                        gyr[k, 1],
                        gyr[k, 2],
                        dt,
                        bool(False),  # noqa: UP018 (a bool, not a Literal[bool]: one signature of the callee)
                    )
                lx = ls[L_FS + F_UP]
                ly = ls[L_FS + F_UP + 1]
                lz = ls[L_FS + F_UP + 2]
            else:
                lx = ls[L_LP]
                ly = ls[L_LP + 1]
                lz = ls[L_LP + 2]
            ln = math.sqrt(lx * lx + ly * ly + lz * lz)
            if ln > 1e-9:
                cosang = (lx * up[0] + ly * up[1] + lz * up[2]) / ln
                cosang = min(1.0, max(-1.0, cosang))
                tilt = math.acos(cosang) * RAD
                # Evidence for the axis: the rate (gyro) or the low-passed
                # deviation from up (accelerometer), both perpendicular to up.
                if has_gyro:
                    # The rotation axis itself (not forced perpendicular to
                    # up: a miscalibrated accelerometer must not tilt it).
                    e0 = gyr[k, 0] - bias[0]
                    e1 = gyr[k, 1] - bias[1]
                    e2 = gyr[k, 2] - bias[2]
                else:
                    e0 = lx / ln
                    e1 = ly / ln
                    e2 = lz / ln
                    d = e0 * up[0] + e1 * up[1] + e2 * up[2]
                    e0 -= d * up[0]
                    e1 -= d * up[1]
                    e2 -= d * up[2]
                ev = (e0, e1, e2)
                for r in range(3):
                    for c in range(3):
                        ls[L_S + 3 * r + c] += ev[r] * ev[c]
                if tilt > ls[L_MAX_TILT]:
                    ls[L_MAX_TILT] = tilt
                    ls[L_MAX_ROW] = k
                if tilt >= (lock_deg if has_gyro else lock_deg * _ACC_LOCK_FRACTION):
                    ls[L_LOCK_ROW] = k
                    ls[L_SCANNED] = k + 1
                    return k
        k += 1
    ls[L_SCANNED] = n
    return -1


_scan_lock_gyro, _scan_lock_acc = per_mode(_scan_lock_py, njit)


def _scan_lock(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    has_gyro: bool,
    up: np.ndarray,
    bias: np.ndarray,
    lock_deg: float,
    ls: np.ndarray,
) -> int:
    """``_scan_lock_py`` in the mode ``has_gyro`` (the kernel of that mode)."""
    scan = _scan_lock_gyro if has_gyro else _scan_lock_acc
    return int(scan(t, acc, gyr, up, bias, lock_deg, ls))


def scan_lock(
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray | None,
    cal: Calibration,
    lock_deg: float,
    lstate: np.ndarray,
) -> int:
    """Continue looking for the first excursion of ``lock_deg``; the row or -1."""
    gyr = gyr_dps if gyr_dps is not None else np.zeros((0, 3))
    return int(_scan_lock(time_s, acc_g, gyr, gyr_dps is not None, cal.up, cal.gyro_bias_dps, lock_deg, lstate))


def scan_before(
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray | None,
    cal: Calibration,
    lock_deg: float,
    lstate: np.ndarray,
) -> float:
    """Scan the rows before the calibration window, backwards from it; the largest tilt seen, deg.

    People press record and start: the quiet window can come after the first
    reps (a squat clip that rests at the end).  Read backwards in time (times
    negated, the gyro and its bias negated) the rows are a recording that
    starts at rest in the calibrated pose, so the same excursion finder tracks
    the thigh back to row 0.  Its axis evidence is added to ``lstate``; if the
    thigh went ``lock_deg`` from the rest pose before the window, the lock is
    set at the window's end (``L_LOCK_ROW``): the excursion has been seen.

    Parameters
    ----------
    time_s, acc_g, gyr_dps : ndarray, shapes (n,), (n, 3), (n, 3) or None
        The buffered rows (at least up to ``cal.end_row``).
    cal : Calibration
    lock_deg : float
        Excursion that fixes the axes, deg (as for :func:`scan_lock`).
    lstate : ndarray, shape (L_N,)
        The forward scan's fresh state (:func:`new_lock_state`), updated in place.

    Returns
    -------
    float
        Largest tilt from the rest pose before the window, deg (0 if the window starts at row 0).
    """
    s = cal.start_row
    if s <= 0:
        return 0.0
    has_gyro = gyr_dps is not None
    # Rows s, s-1, ..., 0: the first is inside the window (at rest), so the
    # first step back has its true time step.
    t_rev = np.ascontiguousarray(-time_s[s::-1])
    acc_rev = np.ascontiguousarray(acc_g[s::-1])
    gyr_rev = np.ascontiguousarray(-gyr_dps[s::-1]) if gyr_dps is not None else np.zeros((0, 3))
    rev_cal = dataclasses.replace(cal, gyro_bias_dps=np.ascontiguousarray(-cal.gyro_bias_dps))
    back = new_lock_state(
        rev_cal,
        acc_g,
        float(lstate[L_PRM + P_TILT_TAU]),
        float(lstate[L_PRM + P_STILL_GYR]),
        float(lstate[L_PRM + P_BIAS_TAU]),
    )
    back[L_SCANNED] = 0
    # An infinite lock angle: scan every row, gathering the axis evidence.
    _scan_lock(t_rev, acc_rev, gyr_rev, has_gyro, rev_cal.up, rev_cal.gyro_bias_dps, math.inf, back)
    # The rate's scatter is the same read backwards (its sign does not matter);
    # so is the accelerometer's deviation from up.
    lstate[L_S : L_S + 9] += back[L_S : L_S + 9]
    tilt = float(back[L_MAX_TILT])
    if tilt >= (lock_deg if has_gyro else lock_deg * _ACC_LOCK_FRACTION):
        lstate[L_LOCK_ROW] = cal.end_row
    return tilt


def lock_axes(cal: Calibration, lstate: np.ndarray, has_gyro: bool, rate_scatter: np.ndarray | None = None) -> Axes:
    """Fix the thigh axes from the evidence gathered by :func:`scan_lock`.

    With a gyro the flexion axis ``a`` is the principal axis of the angular
    rate, and ``u`` is the standing gravity direction made perpendicular to
    it, so the angle is the rotation about ``a`` even if the accelerometer
    is miscalibrated.  Without a gyro ``w`` is the principal direction in
    which the low-passed accelerometer left ``u``.  The sign makes the
    excursion that ended the scan (the first to reach ``lock_deg``, or the
    last state when forced) positive flexion.

    Parameters
    ----------
    cal : Calibration
    lstate : ndarray, shape (L_N,)
        The lock scan's state.
    has_gyro : bool
    rate_scatter : ndarray, shape (3, 3), optional
        With a gyro: the scatter of bias-corrected angular rate, (deg/s)^2,
        over more motion than the scan saw (the pipeline passes the span the
        sign is confirmed on); its principal axis replaces the scan's.
    """
    u = cal.up
    cur = lstate[L_FS + F_UP : L_FS + F_UP + 3] if has_gyro else lstate[L_SLOW : L_SLOW + 3]
    dev = cur - np.dot(cur, u) * u
    if not has_gyro and np.linalg.norm(dev) < 0.05:
        fast = lstate[L_LP : L_LP + 3]
        dev = fast - np.dot(fast, u) * u
    scatter = lstate[L_S : L_S + 9].reshape(3, 3)
    if has_gyro and rate_scatter is not None and np.all(np.isfinite(rate_scatter)) and np.trace(rate_scatter) > 0.0:
        scatter = rate_scatter
    vec = dev
    if np.all(np.isfinite(scatter)) and np.trace(scatter) > 0.0:
        vec = np.linalg.eigh(scatter)[1][:, -1]
    if np.linalg.norm(vec) < 1e-9:
        vec = _any_perpendicular(u)  # no motion at all: no reps can be found
    vec = vec / np.linalg.norm(vec)
    if has_gyro and abs(np.dot(vec, u)) < _GYRO_AXIS_MAX_COS:
        a = vec
        u_s = u - np.dot(u, a) * a
        u_s = u_s / np.linalg.norm(u_s)
        w = np.cross(u_s, a)
    else:
        u_s = u
        w = vec - np.dot(vec, u) * u
        if np.linalg.norm(w) < 1e-9:
            w = _any_perpendicular(u)
        w = w / np.linalg.norm(w)
    if np.dot(w, dev) < 0.0:
        w = -w
    a = np.cross(w, u_s)
    a = a / np.linalg.norm(a)
    return Axes(np.ascontiguousarray(u_s), np.ascontiguousarray(w), np.ascontiguousarray(a))

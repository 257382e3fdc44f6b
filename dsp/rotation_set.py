"""A session that starts with a rotation about the thigh's long axis (standing hip rotation, gyro only).

The axes are locked from a tilt of the thigh (:mod:`hipflex.dsp.learn`).  A
standing hip rotation turns the thigh about its own long axis, which is
vertical when standing: "up" stays where it was in the sensor frame, so no
tilt reaches ``lock_deg`` and the tilt angle reads nothing.  The gyro sees
it all, about one axis: the standing vertical.  When the angular rate of the
rows the axes were learned on turns about that axis alone and its integral
moves a rep's range, the session's angle is the rotation about "up"
(``_kern_axis._yaw_step``), signed so that the first excursion from the rest
pose is positive, as every working direction is.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp.learn import Axes, Calibration

__all__: list[str] = []

# The rate's principal axis this close to the vertical, deg, is a rotation
# about the thigh: the design's split between one plane and another (as the
# per-set axis, dsp/_kern_axis._AXIS_DEG).  A tilt in any plane turns about
# a horizontal axis (90 deg from it).
_AXIS_DEG = 30.0
# Share of the rate's energy (its scatter's largest eigenvalue over the
# trace) about that axis: a rotation drill turns about one axis (its
# off-axis rate, rms, at most half the on-axis one).  A wrist on a barbell
# (Ebbelaar: 0.55-0.58, the simulated hip rotation 0.99) turns about all.
_ONE_AXIS_SHARE = 0.8


def rotation_axes(t_s: np.ndarray, gyr_dps: np.ndarray, cal: Calibration, min_rotation_deg: float) -> Axes | None:
    """The axes of a rotation session (``a`` = +-up), or None when the thigh tilts.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Row times of the rows the axes are learned on, s.
    gyr_dps : ndarray, shape (n, 3)
        Their angular rate, deg/s (NaN rows are skipped).
    cal : Calibration
        The rest pose (``up``, gyro bias, the calibration window's rows).
    min_rotation_deg : float
        The rotation about "up" that makes a rep (``min(lock_deg, min_rom_deg)``).

    Returns
    -------
    Axes or None
        ``u`` = up, ``w`` any horizontal direction, ``a`` = up signed so that the
        first excursion of the integrated rotation from its level at the
        calibration window is positive.
    """
    n = t_s.shape[0]
    if n < 3:
        return None
    rate = gyr_dps - cal.gyro_bias_dps
    ok = ~np.isnan(rate).any(axis=1)
    if ok.sum() < 3:
        return None
    r = rate[ok]
    scatter = r.T @ r
    vals, vecs = np.linalg.eigh(scatter)
    principal = vecs[:, -1]
    up = cal.up / np.linalg.norm(cal.up)
    if abs(float(principal @ up)) < math.cos(math.radians(_AXIS_DEG)) or vals[-1] < _ONE_AXIS_SHARE * vals.sum():
        return None
    # The rotation about up, integrated row by row (a missing row adds nothing).
    dt = np.diff(t_s, prepend=t_s[0])
    about = np.where(ok, np.nan_to_num(rate @ up) * dt, 0.0)
    yaw = np.cumsum(about)
    rest = yaw[min(max(cal.end_row, 0), n - 1)]
    seen = yaw - rest
    # The first excursion from the rest pose is the working direction: the
    # extremes of the whole span are not (the integral drifts with the bias
    # left after calibration, tens of degrees over minutes).
    out = np.flatnonzero(np.abs(seen) >= min_rotation_deg)
    if out.size == 0:
        return None
    a = up if seen[out[0]] > 0.0 else -up
    # Any horizontal w: the tilt angle is not read in a rotation set.
    helper = np.eye(3)[int(np.argmin(np.abs(up)))]
    w = np.cross(up, helper)
    w /= np.linalg.norm(w)
    return Axes(up.copy(), w, a.copy())

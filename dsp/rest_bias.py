"""The gyro bias measured at the first rest between sets (gyro only).

The rest pose and the gyro bias are learned at the session's first still
window (:mod:`hipflex.dsp.learning_flow`).  In a session that starts with a
walk, or mid-set, that window is a pause on the move: its mean rate holds
part of the movement's turn (0.5-1 deg/s off on tuning sessions), and the
tilt filter learns the rest of the error only over the first set, whose
angles drift meanwhile (the first set was half of the peak error with a
gyro).  The first rest between sets (:mod:`hipflex.dsp.rest_pose`) is a
stiller stretch: where it is, the pipeline analyses the session again from
its first row with the bias measured there (``pipeline._rebias``).
"""

from __future__ import annotations

import numpy as np

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.gyro_frame import GyroFrameCheck
from hipflex.dsp.learn import Calibration

__all__ = ["still_run_bias", "stiller"]

# The rest's stillest window replaces the calibration window's gyro bias
# when its motion (deviation over the stillness thresholds) is below this
# fraction of the calibration window's.
_MOTION_RATIO = 0.75
# The still stretch around that window, which the bias is measured over,
# lasts this long at least, s.
_MIN_STILL_S = 3.0
# The accelerometer's direction at either end of that stretch is its mean over this, s.
# A weight shift moves the hip a few cm within a second (0.02 g sideways, a
# degree of false tilt over a 0.5 s mean): at 0.5 s the bias was 0.083 deg/s
# off about the flexion axis on average over tuning rests (max 0.37), at 1 s
# 0.072 (max 0.28).
_END_S = 1.0


def stiller(rest: Calibration, cal: Calibration) -> bool:
    """True if the rest's stillest window ``rest`` is stiller than the calibration window ``cal``."""
    return bool(rest.motion < _MOTION_RATIO * cal.motion)


def still_run_bias(
    settings: Settings,
    frame: GyroFrameCheck | None,
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    rest: Calibration,
) -> np.ndarray | None:
    """The gyro bias over the still run around ``rest``'s window in these rows, deg/s (None if short).

    Standing still sways, and a rest starts while the thigh still settles
    from the last rep (a few degrees over seconds, under the stillness
    threshold): the mean rate over a still stretch is the bias plus the
    stretch's net turn over its length (tenths of a deg/s).  The
    accelerometer reads gravity alone there, so it measures that turn about
    the horizontal axes (from its mean direction over the run's first and
    last ``_END_S``): it is taken out of the gyro's.  The turn about the
    vertical is not observed; standing, it is small.

    Parameters
    ----------
    settings : Settings
        The stillness thresholds (``still_gyr_dps``, ``still_acc_g``).
    frame : GyroFrameCheck or None
        The gyro's frame check; a correction found there turns the
        accelerometer's turn into the given gyro's frame.
    t, acc, gyr : ndarray
        The rest's rows: time s, specific force g, rate deg/s (the given gyro's frame).
    rest : Calibration
        The stillest window among them (rows of these arrays).
    """
    with np.errstate(invalid="ignore"):
        dev_g = np.linalg.norm(gyr - rest.gyro_bias_dps, axis=1)
        dev_a = np.linalg.norm(acc - rest.up * rest.gravity_g, axis=1)
    still = ~((dev_g >= settings.still_gyr_dps) | (dev_a >= settings.still_acc_g))  # a dropped row keeps the run
    moving = np.flatnonzero(~still)
    before = moving[moving < rest.start_row]
    after = moving[moving > rest.end_row]
    lo = int(before[-1]) + 1 if before.size else 0
    hi = int(after[0]) if after.size else gyr.shape[0]
    if t[hi - 1] - t[lo] < _MIN_STILL_S:
        return None
    k = max(1, round(_END_S / rest.period_s))
    # Dropped rows (NaN) keep the run but measure nothing: the ends are the
    # first and last k measured rows.
    rows = lo + np.flatnonzero(np.isfinite(acc[lo:hi]).all(axis=1) & np.isfinite(gyr[lo:hi]).all(axis=1))
    if rows.size < 2 * k:
        return None
    f0 = acc[rows[:k]].mean(axis=0)
    f1 = acc[rows[-k:]].mean(axis=0)
    # Between the two ends' middle rows "up" turned from u0 to u1 by the
    # rotation -theta (small), so theta's horizontal part is u1 x u0.
    i0, i1 = int(rows[k // 2]), int(rows[rows.size - k + k // 2])
    span_s = float(t[i1] - t[i0])
    turn_deg = np.degrees(np.cross(f1 / np.linalg.norm(f1), f0 / np.linalg.norm(f0)))
    if frame is not None and frame.verdict == "corrected":
        turn_deg = np.linalg.solve(frame.matrix, turn_deg)  # into the given gyro's frame, as the rows are
    mean_dps = gyr[rows[(rows >= i0) & (rows < i1)]].mean(axis=0)
    bias = mean_dps - turn_deg / span_s
    return np.ascontiguousarray(bias) if np.isfinite(bias).all() else None

"""Ground-truth rep metrics from a simulator's dense true angle, by the contract's definitions.

This is the judge's side of the accuracy benchmark: it never sees the
estimator's angles, only the true thigh angle on a 1 kHz grid and the
simulator's rep windows (time of the low before each rise, the peak, the
trough after).  Definitions are those of README "The analysis contract".

The simulator's angle is the sagittal angle from its own standing pose (0);
the contract's is "measured from [the thigh's] orientation during the first
quiet period" (the calibration window, re-learned where the rest pose is):
where that window is not at the simulator's 0 (a recording that starts in a
set pauses at lows of -1..6 deg), every angle the contract defines is lower by
the true angle over the window.  :func:`contract_reference_deg` is that
angle, from the window the analysis reports (``quality.calibrated_at_s``,
``calibration_window_s``); pass ``angle_deg - reference`` to :func:`true_reps`.
Differences (ROM, velocities, times) do not depend on it, only the peak angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TrueRep", "contract_reference_deg", "true_reps"]

ONSET_FRACTION = 0.05
HOLD_BAND_DEG = 10.0


@dataclass(frozen=True)
class TrueRep:
    """Contract metrics of one simulated rep (seconds, degrees, deg/s)."""

    set_index: int
    start_s: float
    peak_s: float
    end_s: float
    peak_flexion_deg: float
    rom_deg: float
    flexion_time_s: float
    peak_flexion_velocity_dps: float
    mean_flexion_velocity_dps: float
    hold_s: float


def _last_up_cross(t: np.ndarray, y: np.ndarray, i_lo: int, i_hi: int, level: float) -> float:
    """Time of the last upward crossing of ``level`` in y[i_lo..i_hi] (linear)."""
    seg = y[i_lo : i_hi + 1]
    below = np.flatnonzero(seg < level)
    if below.size == 0:
        return float(t[i_lo])
    j = i_lo + int(below[-1])
    if j >= i_hi:
        return float(t[i_hi])
    f = (level - y[j]) / (y[j + 1] - y[j])
    return float(t[j] + f * (t[j + 1] - t[j]))


def _first_down_cross(t: np.ndarray, y: np.ndarray, i_lo: int, i_hi: int, level: float) -> float:
    seg = y[i_lo : i_hi + 1]
    at = np.flatnonzero(seg <= level)
    if at.size == 0:
        return float(t[i_hi])
    j = i_lo + int(at[0])
    if j == i_lo:
        return float(t[j])
    f = (y[j - 1] - level) / (y[j - 1] - y[j])
    return float(t[j - 1] + f * (t[j] - t[j - 1]))


def _time_above(t: np.ndarray, y: np.ndarray, t0: float, t1: float, level: float) -> float:
    """Measure of {t in [t0, t1] : y(t) >= level} for piecewise-linear y."""
    i0 = int(np.searchsorted(t, t0))
    i1 = int(np.searchsorted(t, t1))
    tt = np.concatenate([[t0], t[i0:i1], [t1]])
    yy = np.interp(tt, t, y)
    total = 0.0
    for a, b, ya, yb in zip(tt[:-1], tt[1:], yy[:-1], yy[1:], strict=True):
        if ya >= level and yb >= level:
            total += b - a
        elif ya >= level or yb >= level:
            hi, lo = max(ya, yb), min(ya, yb)
            total += (b - a) * (hi - level) / (hi - lo)
    return total


def contract_reference_deg(
    time_s: np.ndarray, angle_deg: np.ndarray, calibrated_at_s: float | None, window_s: float | None
) -> float:
    """The true angle over the analysis' calibration window, deg (0 without one).

    Parameters
    ----------
    time_s, angle_deg : ndarray
        The simulator's dense time (s, the samples' time base) and true angle (deg).
    calibrated_at_s, window_s : float or None
        Start and length of the window the analysis calibrated on, s
        (``Quality.calibrated_at_s``, ``Quality.calibration_window_s``).

    Returns
    -------
    float
        The mean true angle over the window: the contract's zero, on the simulator's scale.
    """
    if calibrated_at_s is None or not window_s:
        return 0.0
    inside = (time_s >= calibrated_at_s) & (time_s <= calibrated_at_s + window_s)
    return float(np.mean(angle_deg[inside])) if inside.any() else 0.0


def true_reps(
    time_s: np.ndarray,
    angle_deg: np.ndarray,
    velocity_dps: np.ndarray,
    windows: list[tuple[int, float, float, float]],
) -> list[TrueRep]:
    """Metrics for each rep window ``(set_index, low_s, peak_s, trough_s)``."""
    out = []
    for set_index, low_s, peak_s, trough_s in windows:
        il, ip, it = (int(np.searchsorted(time_s, x)) for x in (low_s, peak_s, trough_s))
        low = float(angle_deg[il])
        peak = float(angle_deg[ip])
        trough = float(angle_deg[it])
        rise = peak - low
        start = _last_up_cross(time_s, angle_deg, il, ip, low + ONSET_FRACTION * rise)
        t90 = _last_up_cross(time_s, angle_deg, il, ip, low + 0.9 * rise)
        i90 = int(np.searchsorted(time_s, t90))
        t10 = _last_up_cross(time_s, angle_deg, il, max(il, i90), low + 0.1 * rise)
        i_start = int(np.searchsorted(time_s, start))
        vmax = float(np.max(velocity_dps[i_start : ip + 1]))
        end = _first_down_cross(time_s, angle_deg, ip, it, trough + ONSET_FRACTION * (peak - trough))
        hold = _time_above(time_s, angle_deg, start, end, peak - HOLD_BAND_DEG)
        out.append(
            TrueRep(
                set_index=set_index,
                start_s=start,
                peak_s=float(time_s[ip]),
                end_s=end,
                peak_flexion_deg=peak,
                rom_deg=rise,
                flexion_time_s=t90 - t10,
                peak_flexion_velocity_dps=vmax,
                mean_flexion_velocity_dps=rise / (time_s[ip] - start),
                hold_s=hold,
            )
        )
    return out

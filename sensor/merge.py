"""Put gyroscope samples on the accelerometer's timeline (streams that arrive separately).

Devices and exports deliver the accelerometer and the gyroscope as two streams with
their own timestamps: the Verity Sense in separate PMD frames, MetaWear in separate
notifications, MetaBase and Polar Sensor Logger in separate files.  hipflex's
:class:`~hipflex.dsp.types.ImuSamples` has one time column, so the gyroscope is moved
onto the accelerometer's sample times.  The rule, in both modes:

1. **Overlap only.**  Accelerometer rows before the first or after the last gyroscope
   sample (beyond the tolerance below) are dropped: the analysis starts where both
   sensors report.
2. **No invented samples.**  Inside the overlap, an accelerometer row whose gyroscope
   value cannot be had from nearby samples gets NaN, which the importers turn into a
   dropout row (the core bridges short gaps and reports long ones).

Modes:

- ``"nearest"`` (same rate, e.g. Verity ACC and GYRO, both 52 Hz, sampled together by
  one IMU chip): each accelerometer row takes the gyroscope sample nearest in time if it
  is closer than half an accelerometer period, else NaN.  Values are never blended.
- ``"linear"`` (different rates, e.g. MetaBase accelerometer 12.5 Hz and gyroscope 25 Hz):
  linear interpolation between the two gyroscope samples around each accelerometer time,
  provided they are at most ``1.5`` gyroscope periods apart (no interpolation across a
  hole in the gyroscope stream), else NaN.
- ``"auto"``: ``nearest`` when the two median sample intervals agree within 5 %, else
  ``linear``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_LINEAR_SPACING",
    "SAME_RATE_TOLERANCE",
    "MergeRule",
    "MergedStreams",
    "align_nearest",
    "interpolate_linear",
    "median_period_s",
    "merge_acc_gyro",
    "tidy_stream",
]

FloatArray = NDArray[np.float64]
MergeRule = Literal["auto", "nearest", "linear"]

#: Relative difference of median sample intervals below which ``auto`` picks ``nearest``.
SAME_RATE_TOLERANCE = 0.05
#: Largest gyroscope sample spacing, in gyroscope periods, that ``linear`` interpolates over.
MAX_LINEAR_SPACING = 1.5


@dataclass(frozen=True, eq=False)
class MergedStreams:
    """Accelerometer rows in the overlap with the gyroscope moved onto their times.

    Attributes
    ----------
    time_s : ndarray, shape (n,)
        Accelerometer sample times, seconds.
    acc_g : ndarray, shape (n, 3)
        Acceleration, g.
    gyr_dps : ndarray, shape (n, 3)
        Angular rate, deg/s; NaN where no gyroscope value could be had.
    rule : str
        ``"nearest"`` or ``"linear"``, the mode actually used.
    dropped_rows : int
        Accelerometer rows dropped outside the overlap.
    """

    time_s: FloatArray
    acc_g: FloatArray
    gyr_dps: FloatArray
    rule: str
    dropped_rows: int


def median_period_s(time_s: ArrayLike) -> float:
    """Median interval between consecutive times, seconds (NaN for fewer than two)."""
    t = np.asarray(time_s, dtype=np.float64)
    if t.size < 2:
        return float("nan")
    return float(np.median(np.diff(t)))


def _resample_arrays(
    ref_time_s: ArrayLike, time_s: ArrayLike, values: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The inputs of a resampler as float64 arrays (values as rows), and its all-NaN output."""
    ref = np.asarray(ref_time_s, dtype=np.float64)
    t = np.asarray(time_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64).reshape(t.shape[0], -1)
    return ref, t, v, np.full((ref.shape[0], v.shape[1]), np.nan)


def align_nearest(ref_time_s: ArrayLike, time_s: ArrayLike, values: ArrayLike, tolerance_s: float) -> FloatArray:
    """Values of the sample nearest to each reference time, NaN beyond ``tolerance_s``.

    Parameters
    ----------
    ref_time_s : array_like, shape (n,)
        Increasing reference times, seconds.
    time_s : array_like, shape (m,)
        Increasing times of ``values``, seconds.
    values : array_like, shape (m, k)
        Samples.
    tolerance_s : float
        Largest accepted distance (strictly less than), seconds.

    Returns
    -------
    ndarray, shape (n, k)
    """
    ref, t, v, out = _resample_arrays(ref_time_s, time_s, values)
    if t.size == 0 or ref.size == 0:
        return out
    right = np.clip(np.searchsorted(t, ref), 1, t.size - 1) if t.size > 1 else np.zeros(ref.size, np.int64)
    left = np.maximum(right - 1, 0)
    pick = np.where(np.abs(t[left] - ref) <= np.abs(t[right] - ref), left, right)
    ok = np.abs(t[pick] - ref) < tolerance_s
    out[ok] = v[pick[ok]]
    return out


def interpolate_linear(ref_time_s: ArrayLike, time_s: ArrayLike, values: ArrayLike, max_spacing_s: float) -> FloatArray:
    """Linear interpolation at each reference time between the samples around it.

    NaN outside ``[time_s[0], time_s[-1]]`` and where the two samples around a
    reference time are more than ``max_spacing_s`` apart.

    Parameters
    ----------
    ref_time_s : array_like, shape (n,)
        Reference times, seconds.
    time_s : array_like, shape (m,)
        Strictly increasing times of ``values``, seconds.
    values : array_like, shape (m, k)
        Samples.
    max_spacing_s : float
        Largest spacing of neighbouring samples to interpolate between, seconds.

    Returns
    -------
    ndarray, shape (n, k)
    """
    ref, t, v, out = _resample_arrays(ref_time_s, time_s, values)
    if t.size == 0 or ref.size == 0:
        return out
    if t.size == 1:
        hit = ref == t[0]
        out[hit] = v[0]
        return out
    hi = np.clip(np.searchsorted(t, ref, side="right"), 1, t.size - 1)
    lo = hi - 1
    span = t[hi] - t[lo]
    inside = (ref >= t[0]) & (ref <= t[-1]) & (span <= max_spacing_s)
    w = np.where(inside, (ref - t[lo]) / np.where(span > 0, span, 1.0), 0.0)[:, None]
    blended = v[lo] * (1.0 - w) + v[hi] * w
    out[inside] = blended[inside]
    return out


def tidy_stream(time_s: ArrayLike, values: ArrayLike, *, repair_limit: float = 0.01) -> tuple[FloatArray, FloatArray]:
    """Sort a secondary stream by time and drop repeated timestamps (the first is kept).

    Parameters
    ----------
    time_s : array_like, shape (m,)
        Times, seconds.
    values : array_like, shape (m, k)
        Samples.
    repair_limit : float
        Largest fraction of out-of-order rows that is repaired.

    Raises
    ------
    ValueError
        Non-finite times, or more rows out of order than ``repair_limit`` allows.
    """
    t = np.asarray(time_s, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(t.shape[0], -1)
    if not np.isfinite(t).all():
        raise ValueError("a time value is missing or not a finite number")
    if t.size > 1:
        late = int(np.count_nonzero(t[1:] <= np.maximum.accumulate(t)[:-1]))
        if late and late >= repair_limit * t.size:
            raise ValueError(f"time goes backwards in {late} of {t.size} rows")
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    keep = np.concatenate(([True], np.diff(t) > 0))
    return t[keep], v[keep]


def merge_acc_gyro(
    acc_time_s: ArrayLike,
    acc_g: ArrayLike,
    gyr_time_s: ArrayLike,
    gyr_dps: ArrayLike,
    *,
    rule: MergeRule = "auto",
    acc_period_s: float | None = None,
    gyr_period_s: float | None = None,
) -> MergedStreams:
    """Move the gyroscope onto the accelerometer's times (see the module notes for the rule).

    Parameters
    ----------
    acc_time_s, acc_g : array_like, shapes (n,), (n, 3)
        Accelerometer times (s, increasing) and values (g).
    gyr_time_s, gyr_dps : array_like, shapes (m,), (m, 3)
        Gyroscope times (s, increasing) and values (deg/s).
    rule : {"auto", "nearest", "linear"}
        Alignment mode.
    acc_period_s, gyr_period_s : float, optional
        Nominal sample periods, seconds; default the median intervals.

    Returns
    -------
    MergedStreams

    Raises
    ------
    ValueError
        Empty streams, or streams that do not overlap in time.
    """
    ta = np.asarray(acc_time_s, dtype=np.float64).reshape(-1)
    a = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    tg = np.asarray(gyr_time_s, dtype=np.float64).reshape(-1)
    g = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
    if ta.size == 0 or tg.size == 0:
        raise ValueError("both the accelerometer and the gyroscope need samples to be merged")
    pa = median_period_s(ta) if acc_period_s is None else float(acc_period_s)
    pg = median_period_s(tg) if gyr_period_s is None else float(gyr_period_s)
    if not np.isfinite(pa):
        pa = pg
    if not np.isfinite(pg):
        pg = pa
    if not (np.isfinite(pa) and pa > 0 and np.isfinite(pg) and pg > 0):
        raise ValueError("cannot tell the sample rates: each stream needs at least two samples")
    chosen = rule
    if rule == "auto":
        chosen = "nearest" if abs(pa - pg) <= SAME_RATE_TOLERANCE * max(pa, pg) else "linear"
    if chosen not in ("nearest", "linear"):
        raise ValueError(f"rule must be auto, nearest or linear, got {rule!r}")
    if chosen == "nearest":
        keep = (ta > tg[0] - 0.5 * pa) & (ta < tg[-1] + 0.5 * pa)
    else:
        keep = (ta >= tg[0]) & (ta <= tg[-1])
    if not keep.any():
        raise ValueError(
            f"the gyroscope ({tg[0]:.3f}-{tg[-1]:.3f} s) does not overlap the accelerometer "
            f"({ta[0]:.3f}-{ta[-1]:.3f} s) in time"
        )
    first, last = int(np.argmax(keep)), int(keep.size - np.argmax(keep[::-1]))
    ta, a = ta[first:last], a[first:last]
    if chosen == "nearest":
        gy = align_nearest(ta, tg, g, 0.5 * pa)
    else:
        gy = interpolate_linear(ta, tg, g, MAX_LINEAR_SPACING * pg)
    return MergedStreams(ta, a, gy, chosen, int(keep.size - (last - first)))

"""Checks at the boundary of :mod:`hipflex.dsp`: the right type, finite values, plausible units.

The file loaders check what they read, but the core is also called directly
(from Python, from the live service, from other people's importers), and a
wrong unit there is silent: m/s^2 passed as ``acc_g`` is a sensor that reads
9.8 g at rest, and its reps come out wrong rather than failing.  These checks
turn such input into a :class:`ValueError` or :class:`TypeError` that says
what was expected.
"""

from __future__ import annotations

import math

import numpy as np

from hipflex.dsp._jit import njit_borrowed
from hipflex.dsp.types import ImuSamples
from hipflex.dsp.units import STANDARD_GRAVITY_MPS2

__all__ = ["check_gravity_g", "check_samples"]

# How far from 1 g the still accelerometer may read and still be "in g":
# a unit's scale or offset error stays within tens of percent (Eurobench
# subject 03's reads 1.31 g at rest), while a wrong unit is off by 9.8x
# (m/s^2), 1000x (mg) or 1/9.8x (g given as m/s^2 converted twice).
_GRAVITY_MIN_G = 0.5
_GRAVITY_MAX_G = 2.0
_MPS2_PER_G = STANDARD_GRAVITY_MPS2
# Values scanned for infinity between two tests for an early exit (see _any_inf).
_INF_BLOCK = 4096


@njit_borrowed
def _any_inf(values: np.ndarray) -> bool:
    """Whether any value is +-infinity (NaN is not).  Twin: ``tests/naive.py:any_inf``.

    One pass with an early exit and no temporary: every chunk of every
    analysis is scanned, and numpy's ``isinf(...).any()`` needs a boolean
    array of the input's size (or a Python loop over blocks of it).  The
    exit is tested once per block of ``_INF_BLOCK`` values, so the compiler
    vectorises the scan (a test per value kept it from doing so); the scan
    then runs at the speed memory delivers the values (1.17 M rows of acc
    and gyro: 4.3 -> 3.9 ms on a shared 2-core machine).
    """
    n = values.shape[0]
    i = 0
    while i < n:
        e = min(i + _INF_BLOCK, n)
        hits = 0
        for j in range(i, e):
            hits += abs(values[j]) == math.inf
        if hits:
            return True
        i = e
    return False


def check_samples(samples: object, what: str = "samples", values: bool = True) -> ImuSamples:
    """Return ``samples`` if it is an :class:`ImuSamples` with finite-or-NaN values; raise otherwise.

    Parameters
    ----------
    samples : object
        What the caller passed.
    what : str
        The argument's name, for the message.
    values : bool
        Also scan the values (False: the type alone, for a caller that hands
        the samples on to :func:`~hipflex.dsp.step`, which scans them).

    Raises
    ------
    TypeError
        ``samples`` is not an :class:`ImuSamples` (for example a bare array).
    ValueError
        An acceleration or angular rate is infinite (NaN marks a lost value;
        infinity is no measurement).
    """
    if not isinstance(samples, ImuSamples):
        raise TypeError(
            f"{what} must be hipflex.dsp.ImuSamples(time_s, acc_g, gyr_dps=None) with time in s, acceleration "
            f"in g and angular rate in deg/s; got {type(samples).__name__}"
        )
    if not values:
        return samples
    for name, arr in (("acc_g", samples.acc_g), ("gyr_dps", samples.gyr_dps)):
        if arr is None:
            continue
        # One flat pass (a per-row reduction costs ten times as much); the row
        # is only looked for when there is one.
        if not _any_inf(np.ascontiguousarray(arr, dtype=np.float64).ravel()):
            continue
        bad = np.flatnonzero(np.isinf(arr).any(axis=1))
        if bad.size:
            raise ValueError(
                f"{what}.{name} is infinite at row {int(bad[0])}; mark a lost value with NaN, not infinity"
            )
    return samples


def check_gravity_g(gravity_g: float, motion: float = 0.0) -> None:
    """Raise if the accelerometer's reading at rest says it is not in g.

    Parameters
    ----------
    gravity_g : float
        Magnitude of the mean accelerometer reading over the calibration
        window, in the units given (should be about 1).
    motion : float
        The window's largest deviation as a multiple of the stillness
        thresholds (at most 1 when still).  The mean of a window through
        motion (the quietest of a recording that never rests, or garbage) need
        not be gravity.  So another unit is only named when the window,
        converted to g, would be still (a still sensor in m/s^2 deviates 9.8
        times as much in these units as in g: real noise of 0.005 g alone
        makes it "move"), and an unknown unit only when the window is still.

    Raises
    ------
    ValueError
        The reading is outside 0.5-2 g, with the unit it looks like.
    """
    if _GRAVITY_MIN_G <= gravity_g <= _GRAVITY_MAX_G or math.isnan(gravity_g):
        return
    if 0.5 * _MPS2_PER_G <= gravity_g <= 2.0 * _MPS2_PER_G and motion <= _MPS2_PER_G:
        hint = "which looks like m/s^2: divide by 9.80665"
    elif 500.0 <= gravity_g <= 2000.0 and motion <= 1000.0:
        hint = "which looks like mg: divide by 1000"
    elif 0.5 / _MPS2_PER_G <= gravity_g <= 2.0 / _MPS2_PER_G and motion <= 1.0:
        hint = "which looks like g divided by 9.81 once too often"
    elif motion <= 1.0:
        hint = "which is no unit of acceleration hipflex knows"
    else:
        return
    raise ValueError(f"acc_g must be in g (about 1 at rest); the accelerometer reads {gravity_g:.3g} at rest, {hint}")

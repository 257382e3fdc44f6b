"""Per-sample device timestamps for Polar PMD frames, with loss detection.

A PMD frame carries one timestamp, that of its **last** sample.  The Polar SDK
(``PmdTimeStampUtils``) spreads the interval since the previous frame of the same
(measurement, frame type) evenly over the new frame's samples, and falls back to
the nominal rate for the first frame; ``../shared/reference/ble.md`` section 1.8.
Spreading absorbs the difference between the nominal and the real sample rate,
which matters on the Verity Sense, whose rate wanders outside SDK mode.

Frames carry no sequence counter, so a lost notification shows up only as a
frame interval much longer than N / rate.  Spreading the new frame over such an
interval would stretch its samples across the hole; instead the frame is timed
back from its own timestamp at the nominal rate and the hole is reported as a
:class:`PmdGap`.

The state is an explicit frozen value: callers keep it, pass it in and get the
next one back, and reset it when a stream stops or the link drops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.polar.frames import PmdDecodeError, PmdFrame

__all__ = [
    "DEFAULT_GAP_RATIO",
    "PmdGap",
    "PmdSampleTimes",
    "PmdTimestampError",
    "PmdTimingState",
    "assign_sample_times",
    "sample_times_ns",
]

#: A frame interval longer than this many nominal frame durations is a gap.  One lost
#: frame makes the ratio about 2; Verity rate wander stays well under 1.5.  The one home of
#: the rule: the live clock (:mod:`hipflex.sensor.live.clock`) and the capture decoder use it too.
DEFAULT_GAP_RATIO = 1.5


class PmdTimestampError(PmdDecodeError):
    """Frame timestamps that cannot be turned into sample times (clock reset, bad rate)."""


@dataclass(frozen=True)
class PmdGap:
    """Samples missing between two frames of one stream.

    Attributes
    ----------
    measurement, frame_type : int
        Stream the gap belongs to.
    before_ns : int
        Device time of the last sample before the gap (previous frame's timestamp).
    after_ns : int
        Device time of the first sample after the gap.
    lost_samples : int
        Estimated number of samples missing, from the nominal rate.
    """

    measurement: int
    frame_type: int
    before_ns: int
    after_ns: int
    lost_samples: int

    @property
    def duration_s(self) -> float:
        """Time between the samples either side of the gap, seconds."""
        return (self.after_ns - self.before_ns) * 1e-9


@dataclass(frozen=True, eq=False)
class PmdSampleTimes:
    """Device timestamps of one frame's samples.

    Attributes
    ----------
    time_ns : ndarray of int64, shape (n,)
        Device time of each sample, ns since 2000-01-01; the last equals the frame timestamp.
    step_ns : float
        Spacing used between samples, ns.
    gap : PmdGap or None
        Set when samples were lost just before this frame.
    """

    time_ns: NDArray[np.int64]
    step_ns: float
    gap: PmdGap | None = None


@dataclass(frozen=True)
class PmdTimingState:
    """Previous frame timestamp per (measurement, frame type).

    Attributes
    ----------
    previous_ns : tuple of (measurement, frame_type, timestamp_ns)
        One entry per stream seen since the last reset.
    """

    previous_ns: tuple[tuple[int, int, int], ...] = ()

    def previous(self, measurement: int, frame_type: int) -> int | None:
        """Timestamp of the stream's previous frame, or ``None`` before its first frame."""
        for m, f, ts in self.previous_ns:
            if m == measurement and f == frame_type:
                return ts
        return None

    def with_previous(self, measurement: int, frame_type: int, timestamp_ns: int) -> PmdTimingState:
        """A copy that records ``timestamp_ns`` as the stream's previous frame."""
        rest = tuple(e for e in self.previous_ns if (e[0], e[1]) != (measurement, frame_type))
        return replace(self, previous_ns=(*rest, (measurement, frame_type, timestamp_ns)))

    def reset(self, measurement: int | None = None) -> PmdTimingState:
        """Forget previous timestamps: of one measurement (on its STOP) or of all (on disconnect)."""
        if measurement is None:
            return PmdTimingState()
        return replace(self, previous_ns=tuple(e for e in self.previous_ns if e[0] != measurement))


def _spread(previous_ns: int, interval_ns: int, n: int) -> NDArray[np.int64]:
    """previous + interval*(i+1)/n, rounded half to even, in exact integer arithmetic."""
    q, r = divmod(interval_ns, n)
    k = np.arange(1, n + 1, dtype=np.int64)
    # interval*k = q*k*n + r*k; only r*k (< n*n) needs the exact rounding.
    whole, rem = np.divmod(r * k, n)
    frac = whole + ((2 * rem > n) | ((2 * rem == n) & (whole % 2 == 1)))
    return previous_ns + q * k + frac


def _back_from(timestamp_ns: int, step_ns: float, n: int) -> NDArray[np.int64]:
    """timestamp - step*(n-1-i), the last sample exactly at ``timestamp_ns``."""
    back = np.rint(step_ns * np.arange(n - 1, -1, -1, dtype=np.float64)).astype(np.int64)
    return timestamp_ns - back


def sample_times_ns(
    previous_ns: int | None, timestamp_ns: int, n_samples: int, sample_rate_hz: float
) -> PmdSampleTimes:
    """Sample timestamps of one frame by the SDK rule (no loss detection).

    Parameters
    ----------
    previous_ns : int or None
        Timestamp of the stream's previous frame, ``None`` for the first frame.
    timestamp_ns : int
        This frame's timestamp (its last sample), ns since 2000-01-01.
    n_samples : int
        Samples in the frame.
    sample_rate_hz : float
        Nominal rate, used only for the first frame.

    Raises
    ------
    PmdTimestampError
        Non-positive step (timestamp not after the previous one, e.g. the H10 clock
        resetting to 2019), a non-positive rate, or a first sample before the epoch.
    """
    if n_samples < 1:
        raise PmdTimestampError(f"a frame needs at least one sample, got {n_samples}")
    if not 0 <= timestamp_ns < 2**63:
        raise PmdTimestampError(f"timestamp {timestamp_ns} ns is outside the supported range")
    if previous_ns is not None:
        interval = timestamp_ns - previous_ns
        if interval <= 0:
            raise PmdTimestampError(
                f"non-positive sample step: frame timestamp {timestamp_ns} ns is not after the previous "
                f"{previous_ns} ns (device clock reset?); reset the timing state to re-anchor"
            )
        return PmdSampleTimes(_spread(previous_ns, interval, n_samples), interval / n_samples)
    if not (math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
        raise PmdTimestampError(f"sample rate must be positive to time a first frame, got {sample_rate_hz!r}")
    step = 1e9 / sample_rate_hz
    times = _back_from(timestamp_ns, step, n_samples)
    if times[0] < 0:
        raise PmdTimestampError(
            f"first sample would be {int(times[0])} ns, before the PMD epoch "
            f"(timestamp {timestamp_ns} ns, {n_samples} samples at {sample_rate_hz} Hz)"
        )
    return PmdSampleTimes(times, step)


def assign_sample_times(
    state: PmdTimingState,
    frame: PmdFrame,
    sample_rate_hz: float,
    *,
    gap_ratio: float = DEFAULT_GAP_RATIO,
) -> tuple[PmdTimingState, PmdSampleTimes]:
    """Time a frame's samples and advance the per-stream state.

    Parameters
    ----------
    state : PmdTimingState
        State returned by the previous call (``PmdTimingState()`` to start).
    frame : PmdFrame
        Decoded frame.
    sample_rate_hz : float
        Nominal sample rate of the stream, Hz.
    gap_ratio : float
        A frame interval longer than ``gap_ratio * n / sample_rate_hz`` is reported as
        lost samples instead of being spread over the frame.

    Returns
    -------
    state : PmdTimingState
        State with this frame recorded.
    times : PmdSampleTimes
        Sample timestamps, with ``gap`` set when samples were lost before the frame.

    Raises
    ------
    PmdTimestampError
        See :func:`sample_times_ns`.  The state is not advanced; after a device clock
        reset call ``state.reset(frame.measurement)`` and retry.
    """
    if not gap_ratio > 1.0:
        raise ValueError(f"gap_ratio must be greater than 1, got {gap_ratio!r}")
    m, f, ts, n = int(frame.measurement), frame.frame_type, frame.timestamp_ns, frame.n_samples
    previous = state.previous(m, f)
    times = sample_times_ns(previous, ts, n, sample_rate_hz)
    if previous is not None and math.isfinite(sample_rate_hz) and sample_rate_hz > 0:
        nominal_ns = n * 1e9 / sample_rate_hz
        if ts - previous > gap_ratio * nominal_ns:
            own = sample_times_ns(None, ts, n, sample_rate_hz)
            after = int(own.time_ns[0])
            lost = max(0, round((after - previous) * sample_rate_hz * 1e-9) - 1)
            times = PmdSampleTimes(own.time_ns, own.step_ns, PmdGap(m, f, previous, after, lost))
    return state.with_previous(m, f, ts), times

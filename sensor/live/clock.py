"""Device time -> host time with drift estimation, and gap detection from device time.

Two independent tools, both fed one observation per notification:

:class:`ClockSync` maps a sensor's clock onto the host clock.  A notification's last
sample is taken at device time ``d`` and arrives at host time ``h = true(d) + latency``,
where the latency is never negative and usually small, but grows in bursts (connection
events, OS scheduling, retransmissions).  So the points ``(d, h - d)`` scatter *above*
a line whose slope is the clock's rate error (about 20 ppm between devices, 12 ms over
10 minutes) and whose height is the smallest link latency.  The estimator tracks that
lower envelope over a sliding window:

1. the window (``window_s`` of device time) is cut into bins of ``bin_s``; each bin
   keeps only its lowest ``h - d`` (the least-delayed arrival), so bursts, late and
   reordered notifications and lost ones barely matter;
2. a Theil-Sen line (median of pairwise slopes, then median intercept) through the
   bin minima gives rate and offset, robust to a few bins whose every arrival was late.

The mapped time is "sample time + smallest link latency": the constant part of the
one-way latency cannot be observed from one side, and is the same for every sample,
so intervals and cross-sensor alignment are unaffected.

:class:`GapTracker` finds holes in one stream from the samples' device times, never
from arrival times (BLE delivers in bursts).  It accepts frames out of order and
twice: a frame after a hole is held until ``reorder_horizon_s`` of later device time
has been seen, so a late frame fills the hole instead of causing a false gap;
duplicates and frames older than everything released are counted and dropped.

MetaWear streams have no device time: their samples are timed by counting at the
configured rate (:mod:`hipflex.sensor.metawear.timing`), and :class:`ClockSync` then
sees a zero rate error.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Final, overload

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.polar.timing import DEFAULT_GAP_RATIO

__all__ = ["ClockEstimate", "ClockSync", "DeviceGap", "GapTracker"]

# Theil-Sen is O(bins^2); more bins than this add nothing but time.
_MAX_FIT_BINS: Final = 120


@dataclass(frozen=True)
class ClockEstimate:
    """A fitted device -> host mapping: ``host = d + offset_s + skew * (d - ref_device_s)``.

    Attributes
    ----------
    offset_s : float
        Host minus device time at ``ref_device_s``, seconds (includes the smallest latency).
    skew : float
        Host seconds per device second minus one (-20e-6 for a device 20 ppm fast).
    ref_device_s : float
        Device time the offset refers to, seconds.
    bins : int
        Bin minima the fit used.
    span_s : float
        Device time the fitted bins cover, seconds.
    """

    offset_s: float
    skew: float
    ref_device_s: float
    bins: int
    span_s: float

    @property
    def skew_ppm(self) -> float:
        """Rate error in parts per million (positive: the device clock runs slow)."""
        return self.skew * 1e6

    @overload
    def to_host(self, device_s: float) -> float: ...

    @overload
    def to_host(self, device_s: NDArray[np.float64]) -> NDArray[np.float64]: ...

    def to_host(self, device_s: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
        """Host time of device time ``device_s`` (seconds)."""
        return device_s + self.offset_s + self.skew * (device_s - self.ref_device_s)


class ClockSync:
    """Online estimate of the device -> host clock mapping (see the module notes).

    Parameters
    ----------
    window_s : float
        Device time the fit looks back over, seconds.  Longer averages more latency
        jitter away; shorter follows a drifting rate (temperature) faster.
    bin_s : float
        Bin width, seconds; a few notifications per bin.
    min_span_s : float
        Until the bins span this much device time only the offset is estimated
        (skew 0), seconds: a rate from a few seconds of jittery arrivals is noise.
    max_skew : float
        Fitted rates beyond +/- this (5e-4 = 500 ppm, far beyond any crystal) are
        clamped; they can only come from a clock step inside the window.
    jump_s : float
        An observation this far from the current mapping (either way) is a clock
        step (an H10 that lost its time, or a re-anchored stream): the estimator
        restarts from it, seconds.  Larger than any link stall.
    """

    def __init__(
        self,
        *,
        window_s: float = 120.0,
        bin_s: float = 2.0,
        min_span_s: float = 20.0,
        max_skew: float = 5e-4,
        jump_s: float = 30.0,
    ) -> None:
        if not (window_s > 0 and bin_s > 0 and window_s >= 2 * bin_s):
            raise ValueError(f"need window_s >= 2 * bin_s > 0, got window_s={window_s}, bin_s={bin_s}")
        if not (min_span_s >= 0 and max_skew > 0 and jump_s > 0):
            raise ValueError("min_span_s must be >= 0, max_skew and jump_s > 0")
        self.window_s = float(window_s)
        self.bin_s = float(bin_s)
        self.min_span_s = float(min_span_s)
        self.max_skew = float(max_skew)
        self.jump_s = float(jump_s)
        self.observations = 0  #: observations accepted since construction
        self.resets = 0  #: clock steps detected
        self._bins: dict[int, tuple[float, float]] = {}  # bin index -> (lowest h - d, its d)
        self._newest_bin: int | None = None
        self._estimate: ClockEstimate | None = None
        self._dirty = False

    def reset(self) -> None:
        """Forget every observation."""
        self._bins.clear()
        self._newest_bin = None
        self._estimate = None
        self._dirty = False

    def observe(self, device_s: float, host_s: float) -> None:
        """Add one notification: device time of a sample and the host time it arrived.

        Parameters
        ----------
        device_s : float
            Device time of the notification's last sample, seconds (any origin, but one
            origin for the life of the estimator).
        host_s : float
            Host arrival time, seconds.
        """
        if not (math.isfinite(device_s) and math.isfinite(host_s)):
            raise ValueError(f"times must be finite, got device {device_s!r}, host {host_s!r}")
        current = self.estimate
        if current is not None and abs(host_s - current.to_host(device_s)) > self.jump_s:
            self.resets += 1
            self.reset()
        delay = host_s - device_s
        b = math.floor(device_s / self.bin_s)
        oldest_kept = (self._newest_bin if self._newest_bin is not None else b) - int(self.window_s / self.bin_s)
        if b < oldest_kept:
            return  # older than the window (a very late notification): it cannot improve the fit
        self.observations += 1
        best = self._bins.get(b)
        if best is None or delay < best[0]:
            self._bins[b] = (delay, device_s)
            self._dirty = True
        if self._newest_bin is None or b > self._newest_bin:
            self._newest_bin = b
            cutoff = b - int(self.window_s / self.bin_s)
            for old in [k for k in self._bins if k < cutoff]:
                del self._bins[old]
            self._dirty = True

    @property
    def estimate(self) -> ClockEstimate | None:
        """The current mapping, ``None`` before the first observation."""
        if self._dirty:
            self._estimate = self._fit()
            self._dirty = False
        return self._estimate

    @property
    def skew_ppm(self) -> float:
        """Current rate estimate, ppm (0 until enough time is covered)."""
        est = self.estimate
        return 0.0 if est is None else est.skew_ppm

    @overload
    def to_host(self, device_s: float) -> float: ...

    @overload
    def to_host(self, device_s: NDArray[np.float64]) -> NDArray[np.float64]: ...

    def to_host(self, device_s: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
        """Host time of device time ``device_s`` with the current mapping (seconds).

        Raises
        ------
        RuntimeError
            Before the first observation.
        """
        est = self.estimate
        if est is None:
            raise RuntimeError("ClockSync has no observation yet")
        return est.to_host(device_s)

    def _fit(self) -> ClockEstimate | None:
        if not self._bins:
            return None
        keys = sorted(self._bins)[-_MAX_FIT_BINS:]
        delay = np.array([self._bins[k][0] for k in keys])
        dev = np.array([self._bins[k][1] for k in keys])
        span = float(dev[-1] - dev[0])
        ref = float(dev[-1])
        if len(keys) < 3 or span < self.min_span_s:
            return ClockEstimate(float(delay.min()), 0.0, ref, len(keys), span)
        i, j = np.triu_indices(len(keys), k=1)
        dd = dev[j] - dev[i]
        ok = dd > 0.5 * self.bin_s  # pairs from neighbouring bins only add noise
        slopes = (delay[j][ok] - delay[i][ok]) / dd[ok]
        skew = float(np.clip(np.median(slopes), -self.max_skew, self.max_skew)) if slopes.size else 0.0
        offset = float(np.median(delay - skew * (dev - ref)))
        return ClockEstimate(offset, skew, ref, len(keys), span)


@dataclass(frozen=True)
class DeviceGap:
    """A hole in one stream, in device time.

    Attributes
    ----------
    start_s : float
        Device time of the last sample before the hole, seconds.
    end_s : float
        Device time of the first sample after it, seconds.
    lost_samples : int
        Samples missing at the nominal rate.
    """

    start_s: float
    end_s: float
    lost_samples: int

    @property
    def duration_s(self) -> float:
        """Length of the hole, seconds."""
        return self.end_s - self.start_s


class GapTracker:
    """Gap detection for one stream from device time, tolerant of reordering and duplicates.

    Parameters
    ----------
    sample_rate_hz : float
        Nominal rate of the stream, Hz.
    gap_ratio : float
        A jump longer than ``gap_ratio / sample_rate_hz`` between the last sample of
        one frame and the first of the next (in device time) is a gap.
    reorder_horizon_s : float
        A frame after a hole waits until frames reaching this much later device time
        have arrived (the late frame may still come), seconds.  0 releases at once
        (for an ordered link).

    Attributes
    ----------
    frames, duplicates, late : int
        Frames seen; repeats of a frame already seen; frames that came after their
        place was released (dropped: their hole was already reported).
    """

    def __init__(self, sample_rate_hz: float, *, gap_ratio: float = DEFAULT_GAP_RATIO, reorder_horizon_s: float = 0.0):
        if not (math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz!r}")
        if not gap_ratio > 1:
            raise ValueError(f"gap_ratio must be > 1, got {gap_ratio!r}")
        if not reorder_horizon_s >= 0:
            raise ValueError(f"reorder_horizon_s must be >= 0, got {reorder_horizon_s!r}")
        self.period_s = 1.0 / float(sample_rate_hz)
        self.gap_ratio = float(gap_ratio)
        self.horizon_s = float(reorder_horizon_s)
        self.frames = 0
        self.duplicates = 0
        self.late = 0
        self._pending: list[tuple[float, float]] = []  # heap of (first_s, last_s)
        self._watermark: float | None = None  # last sample of the newest released frame
        self._newest_s = -math.inf
        self._released_last: deque[float] = deque(maxlen=64)  # recent frames, to tell repeats from late ones

    @property
    def watermark_s(self) -> float | None:
        """Device time of the newest sample released in order (``None`` before the first)."""
        return self._watermark

    def observe(self, first_s: float, last_s: float) -> list[DeviceGap]:
        """Add one frame (device times of its first and last sample); returns gaps now certain."""
        if not (math.isfinite(first_s) and math.isfinite(last_s) and last_s >= first_s):
            raise ValueError(f"need finite first_s <= last_s, got {first_s!r}, {last_s!r}")
        self.frames += 1
        if last_s in self._released_last or any(p[1] == last_s for p in self._pending):
            self.duplicates += 1
            return []
        if self._watermark is not None and last_s <= self._watermark:
            self.late += 1
            return []
        heapq.heappush(self._pending, (first_s, last_s))
        self._newest_s = max(self._newest_s, last_s)
        return self._release(final=False)

    def flush(self) -> list[DeviceGap]:
        """Release every held frame (end of stream); returns the remaining gaps."""
        return self._release(final=True)

    def reset(self) -> None:
        """Start over (the stream restarted on a new clock); counters are kept."""
        self._pending.clear()
        self._watermark = None
        self._newest_s = -math.inf
        self._released_last.clear()

    def _release(self, *, final: bool) -> list[DeviceGap]:
        gaps: list[DeviceGap] = []
        limit = self.gap_ratio * self.period_s
        while self._pending:
            first, last = self._pending[0]
            wm = self._watermark
            contiguous = wm is not None and first - wm <= limit
            if not (contiguous or final or self._newest_s - last >= self.horizon_s):
                break
            heapq.heappop(self._pending)
            if wm is not None and last <= wm:
                self.late += 1  # overtaken by a later frame released past the horizon
                continue
            if wm is not None and first - wm > limit:
                lost = max(0, round((first - wm) / self.period_s) - 1)
                gaps.append(DeviceGap(wm, first, lost))
            self._watermark = last if wm is None else max(wm, last)
            self._released_last.append(last)
        return gaps

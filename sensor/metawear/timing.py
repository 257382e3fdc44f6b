"""Sample times for MetaWear streams, which carry no device timestamp or counter.

The MetaWear SDK stamps each notification with host time on arrival, so every
BLE burst shows up as jitter and lost packets cannot be located (pymetawear #63).
hipflex instead counts samples: sample k sits at ``t0 + k / ODR``, where ``t0`` is
anchored on the host clock at the first notification
(``../shared/reference/ble.md`` section 2.4).

The host clock is then used only to keep that count honest.  For each
notification, ``lag`` = arrival time - nominal time of its last sample, i.e.
(expected - received samples) / ODR plus the link latency's excess over the
anchor's:

- ``lag <= loss_threshold_s``: latency jitter, or a board clock a little off
  its nominal rate.  The anchor is slewed towards ``lag`` by at most
  ``slew_limit`` of the notification's nominal duration, spread over its
  samples, so sample spacing never deviates from 1/ODR by more than
  ``slew_limit`` (2 %).  Downward corrections settle the anchor on the
  lowest-latency arrivals; upward ones follow a slow board clock.
- ``lag > loss_threshold_s``: notifications were lost.  ``round(lag * ODR)``
  samples are skipped, so the hole appears in the time column (where the DSP
  finds gaps) and is reported as a :class:`MetaWearGap`.

On reconnect call :meth:`MetaWearClock.reanchor`: the next notification anchors
afresh and the outage is reported as a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

__all__ = ["MetaWearClock", "MetaWearGap", "MetaWearTiming"]


@dataclass(frozen=True)
class MetaWearGap:
    """Samples estimated lost between two notifications, host seconds.

    Attributes
    ----------
    before_s : float
        Time of the last sample before the gap.
    after_s : float
        Time of the first sample after the gap.
    lost_samples : int
        Estimated samples missing.
    reconnect : bool
        True when the gap spans a re-anchor (link drop and reconnect).
    """

    before_s: float
    after_s: float
    lost_samples: int
    reconnect: bool = False

    @property
    def duration_s(self) -> float:
        """Time between the samples either side of the gap, seconds."""
        return self.after_s - self.before_s


@dataclass(frozen=True, eq=False)
class MetaWearTiming:
    """Times of one notification's samples.

    Attributes
    ----------
    time_s : ndarray of float64, shape (n,)
        Sample times on the host clock, seconds.
    gap : MetaWearGap or None
        Set when samples were lost before this notification.
    """

    time_s: NDArray[np.float64]
    gap: MetaWearGap | None = None


@dataclass(frozen=True)
class MetaWearClock:
    """Explicit state of the sample timer for one stream.

    Parameters
    ----------
    odr_hz : float
        Configured output data rate, Hz.
    loss_threshold_s : float
        Lag beyond which notifications count as lost, seconds.  Larger than the
        longest normal BLE burst delay; smaller than the shortest loss worth seeing.
    slew_limit : float
        Largest relative change of sample spacing while the anchor is corrected
        (0.02 = 2 %); also the largest board clock error that is tracked without
        false gaps, well above a Bosch oscillator's.

    Attributes
    ----------
    anchor_s : float or None
        Host time of sample index 0; ``None`` until the first notification after a
        (re)anchor.
    next_index : int
        Index of the next sample to be received.
    received_samples : int
        Samples received since construction.
    lost_samples : int
        Samples estimated lost since construction (gaps and reconnects).
    last_time_s : float or None
        Time of the last sample handed out; survives :meth:`reanchor`.
    """

    odr_hz: float
    loss_threshold_s: float = 0.25
    slew_limit: float = 0.02
    anchor_s: float | None = None
    next_index: int = 0
    received_samples: int = 0
    lost_samples: int = 0
    last_time_s: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.odr_hz) and self.odr_hz > 0):
            raise ValueError(f"odr_hz must be positive, got {self.odr_hz!r}")
        if not self.loss_threshold_s > 0:
            raise ValueError(f"loss_threshold_s must be positive, got {self.loss_threshold_s!r}")
        if not 0 <= self.slew_limit < 1:
            raise ValueError(f"slew_limit must be in [0, 1), got {self.slew_limit!r}")

    @property
    def period_s(self) -> float:
        """Nominal sample period, seconds."""
        return 1.0 / self.odr_hz

    def reanchor(self) -> MetaWearClock:
        """Forget the anchor (call on reconnect); counters and the last sample time stay."""
        return replace(self, anchor_s=None, next_index=0)

    def advance(self, host_time_s: float, n_samples: int) -> tuple[MetaWearClock, MetaWearTiming]:
        """Time the samples of a notification that arrived at ``host_time_s``.

        Parameters
        ----------
        host_time_s : float
            Host clock (monotonic) at arrival, seconds.
        n_samples : int
            Samples in the notification (3 when packed).

        Returns
        -------
        state : MetaWearClock
            The next state.
        timing : MetaWearTiming
            Sample times and any gap detected before them.
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        if not math.isfinite(host_time_s):
            raise ValueError(f"host_time_s must be finite, got {host_time_s!r}")
        period = self.period_s
        gap = None
        lost = 0
        correction = 0.0  # anchor change, spread linearly over this notification's samples
        if self.anchor_s is None:
            anchor = host_time_s - (n_samples - 1) * period
            index = 0
            if self.last_time_s is not None:
                # Never place new samples at or before ones already handed out.
                anchor = max(anchor, self.last_time_s + period)
                lost = max(0, round((anchor - self.last_time_s) * self.odr_hz) - 1)
                gap = MetaWearGap(self.last_time_s, anchor, lost, reconnect=True)
        else:
            anchor, index = self.anchor_s, self.next_index
            lag = host_time_s - (anchor + (index + n_samples - 1) * period)
            if lag > self.loss_threshold_s:
                lost = round(lag * self.odr_hz)
                index += lost
                before = self.last_time_s if self.last_time_s is not None else anchor - period
                gap = MetaWearGap(before, anchor + index * period, lost)
            else:
                step = self.slew_limit * n_samples * period
                correction = min(max(lag, -step), step)
        ramp = correction * np.arange(1, n_samples + 1, dtype=np.float64) / n_samples
        times = anchor + (index + np.arange(n_samples, dtype=np.float64)) * period + ramp
        anchor += correction
        state = replace(
            self,
            anchor_s=anchor,
            next_index=index + n_samples,
            received_samples=self.received_samples + n_samples,
            lost_samples=self.lost_samples + lost,
            last_time_s=float(times[-1]),
        )
        return state, MetaWearTiming(times, gap)

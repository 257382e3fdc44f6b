"""Emulated device clocks: PMD device time as a function of the emulator's uptime.

Polar devices stamp frames in nanoseconds since 2000-01-01T00:00:00Z on their own
oscillator.  The clock here models what matters to the host: an offset from the host's
wall clock, a rate error (drift, typically ~20 ppm between devices) and the H10 quirk of
restarting from 2019-01-01 after it lost track of time (``../shared/reference/ble.md`` 1.5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Final

from hipflex.sensor.polar.frames import PMD_EPOCH_UNIX_NS

__all__ = ["H10_RESET_DEVICE_NS", "DeviceClock"]

#: 2019-01-01T00:00:00Z in PMD device time: where an H10 that forgot the time restarts.
H10_RESET_DEVICE_NS: Final = (1_546_300_800 - 946_684_800) * 1_000_000_000


@dataclass(frozen=True)
class DeviceClock:
    """Device time = ``start_ns`` + uptime x (1 + ``drift_ppm`` x 1e-6).

    Attributes
    ----------
    start_ns : int
        Device time at emulator uptime 0, ns since 2000-01-01 (PMD epoch).
    drift_ppm : float
        How much faster than true time the device oscillator runs, parts per million.
        Sampling runs on the same oscillator, so samples come faster by the same amount.
    """

    start_ns: int
    drift_ppm: float = 0.0

    @classmethod
    def from_host(cls, offset_s: float = 0.0, drift_ppm: float = 0.0, *, now_unix_ns: int | None = None) -> DeviceClock:
        """A clock set to the host's wall clock plus ``offset_s`` at uptime 0."""
        now = time.time_ns() if now_unix_ns is None else now_unix_ns
        return cls(now - PMD_EPOCH_UNIX_NS + round(offset_s * 1e9), drift_ppm)

    @classmethod
    def h10_reset(cls, drift_ppm: float = 0.0) -> DeviceClock:
        """An H10 that forgot the time: 2019-01-01 at uptime 0."""
        return cls(H10_RESET_DEVICE_NS, drift_ppm)

    @property
    def rate(self) -> float:
        """Device seconds per true second."""
        return 1.0 + self.drift_ppm * 1e-6

    def ns_at(self, uptime_s: float) -> int:
        """Device time at emulator uptime ``uptime_s``."""
        return self.start_ns + round(uptime_s * 1e9 * self.rate)

    def reset_to(self, uptime_s: float, device_ns: int) -> DeviceClock:
        """The same oscillator, re-set so that it reads ``device_ns`` at ``uptime_s``."""
        return replace(self, start_ns=device_ns - round(uptime_s * 1e9 * self.rate))

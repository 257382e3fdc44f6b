"""Fault injection for emulated peripherals: loss, duplicates, bursts, jitter, forced drops.

``LocalLink`` (and the fake backend) deliver every value instantly and in order, so the
failure modes real links show (``../shared/reference/ble.md`` sections 4.3 and 6) are
injected by the emulated device itself.  Times are emulator uptime in emulated seconds,
so a plan is reproducible whatever the ``time_scale`` and host speed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FaultPlan"]


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and when.

    Attributes
    ----------
    drop_fraction : float
        Fraction of data notifications silently lost (0..1), seeded.
    duplicate_fraction : float
        Fraction of data notifications sent twice.
    disconnect_at_s : tuple of float
        Uptimes at which the peripheral drops the link (each once).
    device_stop_at_s : tuple of float
        Uptimes at which the device stops its streams on its own (Polar: an
        ONLINE_MEASUREMENT_STOPPED indication).
    keep_streaming_on_disconnect : bool
        Streams survive a link drop, so a restart after reconnect gets ALREADY_IN_STATE
        (Polar status 6), as an H10 does when the host never sent STOP.
    jitter_s : float
        Extra delay of each data notification, uniform in [0, jitter_s]; order is kept.
    burst_frames : int
        Data notifications are held and released this many at a time (connection-event bursts).
    frame_mtu : int or None
        Size frames for this ATT MTU instead of the negotiated one: a device that ignores
        the link's MTU, whose notifications the link then truncates.
    seed : int
        Seed of the random choices.
    """

    drop_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    disconnect_at_s: tuple[float, ...] = ()
    device_stop_at_s: tuple[float, ...] = ()
    keep_streaming_on_disconnect: bool = False
    jitter_s: float = 0.0
    burst_frames: int = 1
    frame_mtu: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_fraction", "duplicate_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.jitter_s < 0:
            raise ValueError(f"jitter_s must be >= 0, got {self.jitter_s}")
        if self.burst_frames < 1:
            raise ValueError(f"burst_frames must be >= 1, got {self.burst_frames}")
        if self.frame_mtu is not None and self.frame_mtu < 23:
            raise ValueError(f"frame_mtu must be >= 23, got {self.frame_mtu}")
        object.__setattr__(self, "disconnect_at_s", tuple(sorted(float(t) for t in self.disconnect_at_s)))
        object.__setattr__(self, "device_stop_at_s", tuple(sorted(float(t) for t in self.device_stop_at_s)))

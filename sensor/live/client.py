"""The live sensor client interface: what a BLE IMU looks like to the rest of hipflex.

A :class:`SensorClient` connects to one sensor, starts its streams and yields, from
:meth:`SensorClient.samples`, decoded :class:`SampleChunk` values interleaved with typed
status events (:class:`Connected`, :class:`Disconnected`, :class:`Reconnecting`,
:class:`StreamGap`, :class:`Battery`).  Implementations: :class:`~hipflex.sensor.live.polar_client.PolarClient`
(H10, Verity Sense) and :class:`~hipflex.sensor.live.metawear_client.MetaWearClient`.

Time bases
----------
- **Session time** (``SampleChunk.samples.time_s``, ``StreamGap.start_s``): seconds since the
  capture started on the host clock, with sample spacing from the device clock (Polar)
  or from the configured rate (MetaWear) -- exactly what
  :func:`~hipflex.sensor.capture.replay.decode_capture` returns for the capture the client
  writes, so a replayed session analyses byte for byte like the live one.
- **Host time** (``received_s``, ``t_s`` of events, ``SampleChunk.host_time_s``): the
  client's clock (:func:`time.monotonic` by default).  ``host_time_s`` maps each sample
  onto it through :class:`~hipflex.sensor.live.clock.ClockSync`, which tracks the device's
  clock drift, for aligning several sensors or measuring latency.

The transport seam is :class:`BleBackends`: production leaves it empty (bleak picks
the OS backend); tests inject the fake or bumble backends.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples

__all__ = [
    "Battery",
    "BleBackends",
    "ClientItem",
    "Connected",
    "Disconnected",
    "ReconnectPolicy",
    "Reconnecting",
    "SampleChunk",
    "SensorClient",
    "StatusEvent",
    "StreamGap",
]


@dataclass(frozen=True, eq=False)
class SampleChunk:
    """Newly decoded samples.

    Attributes
    ----------
    samples : ImuSamples
        Session-time samples (s, g, deg/s); gyro rows are NaN where the gyroscope had a hole.
    received_s : float
        Host time at which the newest notification in the chunk arrived, seconds.
    host_time_s : ndarray of float64, shape (n,)
        Each sample's estimated host time (drift-corrected), seconds.
    """

    samples: ImuSamples
    received_s: float
    host_time_s: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class Connected:
    """The link is up and the streams run (after the first connect and after each reconnect).

    Attributes
    ----------
    t_s : float
        Host time, seconds.
    name, address : str
        The sensor.
    mtu : int
        Negotiated ATT MTU, bytes.
    reconnect : bool
        True after a reconnect.
    """

    t_s: float
    name: str
    address: str
    mtu: int
    reconnect: bool = False


@dataclass(frozen=True)
class Disconnected:
    """The link dropped (or was closed).

    Attributes
    ----------
    t_s : float
        Host time, seconds.
    reason : str
        ``"link lost"``, ``"closed"`` or a message.
    will_reconnect : bool
        True when the client is trying to get the stream back.
    """

    t_s: float
    reason: str
    will_reconnect: bool


@dataclass(frozen=True)
class Reconnecting:
    """A reconnect attempt is about to start.

    Attributes
    ----------
    t_s : float
        Host time, seconds.
    attempt : int
        1 for the first attempt after a drop.
    delay_s : float
        Backoff waited before this attempt, seconds.
    last_error : str
        Why the previous attempt failed (empty for the first).
    """

    t_s: float
    attempt: int
    delay_s: float
    last_error: str = ""


@dataclass(frozen=True)
class StreamGap:
    """Samples missing from a stream, found from sample (device) times, never arrival times.

    Attributes
    ----------
    start_s : float
        Session time of the last sample before the hole, seconds.
    end_s : float
        Session time of the first sample after it, seconds.
    reason : str
        ``"loss"`` (notifications lost in flight), ``"reconnect"`` (link drop or stream
        restart) or ``"clock_reset"`` (the device clock jumped).
    stream : str
        ``"acc"`` or ``"gyro"``.
    lost_samples : int
        Estimated samples missing, from the nominal rate.
    """

    start_s: float
    end_s: float
    reason: str
    stream: str = "acc"
    lost_samples: int = 0

    @property
    def duration_s(self) -> float:
        """Length of the hole, seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Battery:
    """A battery reading.

    Attributes
    ----------
    t_s : float
        Host time, seconds.
    pct : int
        Charge, percent.
    """

    t_s: float
    pct: int


StatusEvent: TypeAlias = Connected | Disconnected | Reconnecting | StreamGap | Battery
ClientItem: TypeAlias = SampleChunk | StatusEvent


@dataclass(frozen=True)
class ReconnectPolicy:
    """Backoff between reconnect attempts after a mid-stream drop.

    Attributes
    ----------
    initial_s : float
        Wait before the first attempt, seconds.
    factor : float
        Each later wait is this many times the previous.
    max_s : float
        Longest wait, seconds.
    max_attempts : int or None
        Give up after this many failed attempts (``None``: keep trying until stopped).
    connect_attempts : int
        Connection attempts bleak-retry-connector makes inside one reconnect attempt.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 8.0
    max_attempts: int | None = None
    connect_attempts: int = 2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s >= 0):
            raise ValueError(f"initial_s must be >= 0, got {self.initial_s!r}")
        if not self.factor >= 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")
        if not self.max_s >= self.initial_s:
            raise ValueError(f"max_s must be >= initial_s, got {self.max_s!r}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {self.max_attempts!r}")
        if self.connect_attempts < 1:
            raise ValueError(f"connect_attempts must be >= 1, got {self.connect_attempts!r}")

    def delay_s(self, attempt: int) -> float:
        """Wait before attempt number ``attempt`` (1-based), seconds: 0.5, 1, 2, 4, 8, 8, ..."""
        return min(self.initial_s * self.factor ** max(attempt - 1, 0), self.max_s)


@dataclass(frozen=True)
class BleBackends:
    """Which bleak backends to use: the seam for fakes and emulators.

    Attributes
    ----------
    client : type or None
        ``backend=`` for :class:`bleak.BleakClient` (``None``: the OS backend).
    scanner : type or None
        ``backend=`` for :class:`bleak.BleakScanner`.
    client_kwargs : mapping
        Extra keyword arguments for the client backend (e.g. ``{"request_mtu": 247}``).
    clock : callable or None
        Host clock to timestamp notifications with; emulators that run faster than
        real time supply their own (default :func:`time.monotonic`).
    """

    client: type[Any] | None = None
    scanner: type[Any] | None = None
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "client_kwargs", MappingProxyType(dict(self.client_kwargs)))

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakClient`` / ``establish_connection`` (``backend=`` included)."""
        out = dict(self.client_kwargs)
        if self.client is not None:
            out["backend"] = self.client
        return out

    def scanner_options(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakScanner`` (``backend=`` when one is injected)."""
        return {} if self.scanner is None else {"backend": self.scanner}


@runtime_checkable
class SensorClient(Protocol):
    """A live BLE IMU.

    Use as ``async with client:`` (connects, and on exit stops and disconnects), then
    ``await client.start()`` and iterate :meth:`samples` until it ends (after
    :meth:`stop`) or raises a :class:`~hipflex.sensor.errors.SensorError`.
    """

    @property
    def has_gyro(self) -> bool:
        """Whether chunks carry angular rate."""
        ...

    @property
    def name(self) -> str:
        """Advertised name of the sensor."""
        ...

    async def connect(self) -> None:
        """Find the sensor, connect, subscribe and open the capture log."""
        ...

    async def start(self) -> None:
        """Start the streams; samples and events flow into :meth:`samples`."""
        ...

    async def stop(self) -> None:
        """Stop the streams; :meth:`samples` ends after the last decoded chunk."""
        ...

    async def disconnect(self) -> None:
        """Drop the link and close the capture log."""
        ...

    def samples(self) -> AsyncIterator[ClientItem]:
        """Decoded chunks and status events, in order."""
        ...

    async def __aenter__(self) -> SensorClient: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

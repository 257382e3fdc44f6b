"""Sample sources for live sessions: the simulator, replay of a recording, and (later) a device.

A source is opened once (:meth:`SampleSource.open`, which may fail with
:class:`SourceError` before a session is created) and then streamed
(:meth:`SampleSource.stream`): an async iterator of :class:`ImuSamples`
chunks in strictly increasing time, interleaved with :class:`SourceStatus`
items (battery level, reconnecting).  Loading and simulating run in a worker
thread; streaming only sleeps and slices.

Replay reads any format registered in :mod:`hipflex.sensor.formats` (plain
CSV, and hipflex capture logs, Polar and MetaBase files once their importers
are registered) and plays it in its own time base at ``speed`` times real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, cast, runtime_checkable

import numpy as np

from hipflex.dsp.types import ImuSamples

if TYPE_CHECKING:
    from hipflex.sensor.simulate import Drill

__all__ = [
    "ReplaySource",
    "SampleSource",
    "SimulatorSource",
    "SourceError",
    "SourceItem",
    "SourceStatus",
    "paced_chunks",
]

#: Wall-clock interval between chunks of a paced source, seconds (a BLE notification rhythm).
TICK_S = 0.04


class SourceError(ValueError):
    """A source cannot be opened (bad file, path not allowed); the message is for the user."""


@dataclass(frozen=True)
class SourceStatus:
    """A change of the source's link state, or a battery reading."""

    state: Literal["running", "reconnecting"] = "running"
    battery_pct: int | None = None


SourceItem: TypeAlias = ImuSamples | SourceStatus


@runtime_checkable
class SampleSource(Protocol):
    """Where a live session's samples come from."""

    kind: str

    @property
    def has_gyro(self) -> bool:
        """Whether chunks carry angular rate (known after :meth:`open`)."""
        ...

    async def open(self) -> None:
        """Prepare (load, simulate, connect); raise :class:`SourceError` when impossible."""
        ...

    def stream(self) -> AsyncIterator[SourceItem]:
        """Chunks and status items until the source ends or the consumer stops iterating."""
        ...


async def paced_chunks(samples: ImuSamples, speed: float, tick_s: float = TICK_S) -> AsyncIterator[ImuSamples]:
    """Release rows as their time comes, at ``speed`` times real time.

    Every ``tick_s`` of wall time the rows up to ``t0 + elapsed * speed`` are
    yielded as one chunk (views into ``samples``).
    """
    n = len(samples)
    if n == 0:
        return
    loop = asyncio.get_running_loop()
    t = samples.time_s
    start = loop.time()
    i = 0
    while i < n:
        horizon = t[0] + (loop.time() - start) * speed
        j = int(np.searchsorted(t, horizon, side="right"))
        if j > i:
            yield samples.slice(i, j)
            i = j
        if i < n:
            due = (t[i] - t[0]) / speed - (loop.time() - start)
            await asyncio.sleep(max(tick_s, due))


class _PreparedSource:
    """Shared part of the sources that hold all their samples after :meth:`open`."""

    kind = "prepared"

    def __init__(self, speed: float) -> None:
        if not (np.isfinite(speed) and speed > 0):
            raise SourceError(f"speed must be a positive number, got {speed!r}")
        self.speed = float(speed)
        self.samples: ImuSamples | None = None

    @property
    def has_gyro(self) -> bool:
        if self.samples is None:
            raise RuntimeError("source is not open")
        return self.samples.has_gyro

    async def stream(self) -> AsyncIterator[SourceItem]:
        if self.samples is None:
            raise RuntimeError("source is not open")
        yield SourceStatus("running")
        async for chunk in paced_chunks(self.samples, self.speed):
            yield chunk


class SimulatorSource(_PreparedSource):
    """A simulated session of one drill (:func:`hipflex.sensor.simulate.simulate_drill`).

    Parameters
    ----------
    drill : str
        One of the simulator's drills.
    fs_hz : float
        Sample rate, Hz.
    has_gyro : bool
        Whether the simulated sensor has a gyro.
    seed : int
        Seed: the same seed gives the same samples.
    n_sets : int
        Number of sets.
    speed : float
        Playback speed (1 = real time).
    """

    kind = "simulator"

    def __init__(
        self, drill: str, fs_hz: float, has_gyro: bool, seed: int, n_sets: int = 3, speed: float = 1.0
    ) -> None:
        super().__init__(speed)
        self.drill, self.fs_hz, self.gyro, self.seed, self.n_sets = drill, fs_hz, has_gyro, seed, n_sets

    async def open(self) -> None:
        from hipflex.sensor.simulate import DRILLS, simulate_drill

        if self.drill not in DRILLS:
            raise SourceError(f"simulator: unknown drill {self.drill!r}; drills: {', '.join(DRILLS)}")
        drill = cast("Drill", self.drill)

        def make() -> ImuSamples:
            sim = simulate_drill(
                drill,
                fs_hz=self.fs_hz, has_gyro=self.gyro, seed=self.seed, n_sets=self.n_sets,
            )  # fmt: skip
            return sim.samples

        try:
            self.samples = await asyncio.to_thread(make)
        except ValueError as exc:
            raise SourceError(f"simulator: {exc}") from None


class ReplaySource(_PreparedSource):
    """A recording on disk played back as a live stream.

    Parameters
    ----------
    path : Path
        The recording.
    fmt : str
        Format name, or ``"auto"``.
    speed : float
        Playback speed (1 = real time).
    allowed_dirs : tuple of Path or None
        Folders the path must lie in; ``None`` allows any path.
    """

    kind = "replay"

    def __init__(
        self, path: Path, fmt: str = "auto", speed: float = 1.0, allowed_dirs: tuple[Path, ...] | None = None
    ) -> None:
        super().__init__(speed)
        try:
            self.path = Path(path).expanduser()
        except RuntimeError:  # "~name" of a user that does not exist here
            raise SourceError(f"{path}: cannot expand '~' (no such user's home folder)") from None
        self.fmt = fmt
        self.allowed_dirs = allowed_dirs

    def _check_allowed(self) -> Path:
        if self.allowed_dirs is None:
            return self.path
        base = self.allowed_dirs[0]
        resolved = (self.path if self.path.is_absolute() else base / self.path).resolve()
        for root in self.allowed_dirs:
            if resolved.is_relative_to(Path(root).resolve()):
                return resolved
        raise SourceError(f"{self.path}: replay may only read files inside the capture folder")

    async def open(self) -> None:
        from hipflex.sensor.formats import InputError, load_samples

        def load() -> ImuSamples:
            return load_samples(self._check_allowed(), self.fmt)

        try:
            self.samples = await asyncio.to_thread(load)
        except InputError as exc:
            raise SourceError(" ".join(str(exc).split())) from None
        except OSError as exc:  # e.g. a name too long for the file system
            raise SourceError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        except ValueError as exc:  # unknown format name
            raise SourceError(f"{self.path}: {exc}") from None

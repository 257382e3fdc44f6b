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
import re
import stat
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, cast, runtime_checkable

import numpy as np

from hipflex.dsp.types import ImuSamples
from hipflex.service.errors import ServiceLayerError

if TYPE_CHECKING:
    from hipflex.sensor.sim.simulate import Drill
    from hipflex.service.analysis_pool import AnalysisPool, DisconnectCheck

__all__ = [
    "ReplaySource",
    "SampleSource",
    "SimulatorSource",
    "SourceError",
    "SourceItem",
    "SourceStatus",
    "paced_chunks",
    "without_content",
]

#: Wall-clock interval between chunks of a paced source, seconds (a BLE notification rhythm).
TICK_S = 0.04


class SourceError(ServiceLayerError, ValueError):
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
    """A simulated session of one drill (:func:`hipflex.sensor.sim.simulate.simulate_drill`).

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
        from hipflex.sensor.sim.simulate import DRILLS, simulate_drill

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
        The recording; a relative path is read from the first of ``allowed_dirs``.
    fmt : str
        Format name, or ``"auto"``.
    speed : float
        Playback speed (1 = real time).
    allowed_dirs : tuple of Path or None
        Folders the path must lie in (after resolving symbolic links); ``None``
        allows any path (library use only: the server always passes its folders).
        With folders, error messages name the file relative to its folder and
        never quote the file's content, so a client learns nothing about files
        it may not read.
    pool : AnalysisPool, optional
        Where the file is parsed (a server passes its bounded pool); by default a worker thread.
    is_disconnected : async callable, optional
        The opening request's: polled while the file loads on ``pool``; once its
        client hung up the loader stops at its next chunk and :meth:`open` raises
        :class:`~hipflex.service.analysis_pool.Cancelled`.
    """

    kind = "replay"

    def __init__(
        self,
        path: Path,
        fmt: str = "auto",
        speed: float = 1.0,
        allowed_dirs: tuple[Path, ...] | None = None,
        pool: AnalysisPool | None = None,
        is_disconnected: DisconnectCheck | None = None,
    ) -> None:
        super().__init__(speed)
        self.shown = str(path)
        try:
            self.path = Path(path).expanduser()
        except RuntimeError:  # "~name" of a user that does not exist here
            raise SourceError(f"{path}: cannot expand '~' (no such user's home folder)") from None
        self.fmt = fmt
        self.allowed_dirs = allowed_dirs
        self.pool = pool
        self.is_disconnected = is_disconnected

    def _check_allowed(self) -> Path:
        """The path to read; refuses paths outside the folders before touching the file."""
        if self.allowed_dirs is None:
            return self.path
        base = Path(self.allowed_dirs[0])
        # resolve() follows symbolic links, so a link inside a folder to a file outside is refused too;
        # nothing about the file (not even whether it exists) is looked at before this check.
        resolved = (self.path if self.path.is_absolute() else base / self.path).resolve()
        for root in self.allowed_dirs:
            real_root = Path(root).resolve()
            if resolved.is_relative_to(real_root):
                self.shown = str(resolved.relative_to(real_root))
                return resolved
        raise SourceError(
            f"{self.shown}: replay reads only files in the capture folder (or the configured replay folders); "
            "upload other recordings to /api/v1/analyze"
        )

    def _problem(self, problem: str) -> str:
        text = " ".join(problem.split())
        if self.allowed_dirs is None:
            return f"{self.shown}: {text}"
        return f"{self.shown}: {without_content(text)}"

    async def open(self) -> None:
        from hipflex.sensor.format_spec import InputError, LoadCancelled, LoadOptions
        from hipflex.sensor.formats import load_samples
        from hipflex.service.analysis_pool import Cancelled

        def load(cancel: threading.Event) -> ImuSamples:
            path = self._check_allowed()
            _require_regular_file(path, self.shown)
            # The loader checks ``cancel`` between chunks: a client that hangs up stops the parsing.
            return load_samples(path, self.fmt, LoadOptions(cancel=cancel))

        def load_in_budget(cancel: threading.Event) -> ImuSamples:
            assert self.pool is not None
            with self.pool.budget.hold(_size(self._check_allowed()), cancel):
                return load(cancel)

        try:
            if self.pool is not None:
                self.samples = await self.pool.run(load_in_budget, is_disconnected=self.is_disconnected)
            else:
                self.samples = await asyncio.to_thread(load, threading.Event())
        except SourceError:
            raise
        except LoadCancelled:
            raise Cancelled(f"{self.shown}: loading cancelled") from None
        except InputError as exc:
            raise SourceError(self._problem(exc.problem)) from None
        except OSError as exc:  # e.g. a name too long for the file system
            raise SourceError(f"{self.shown}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        except ValueError as exc:  # unknown format name
            raise SourceError(self._problem(str(exc))) from None


#: A quoted fragment of an error message (a column name or a value from the file).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
#: "unknown column(s) a,b,c" lists header names from the file.
_UNKNOWN_LIST = re.compile(r"(unknown column\(s\))[^;()]*")
#: "[unit]" quotes a unit from the file's header.
_BRACKETED = re.compile(r"\[(?!,)[^\]]*\]")


def without_content(problem: str) -> str:
    """An error message without what it quotes from the file.

    Readers quote header names and bad values to help a person fix their file;
    a server must not echo a file's content to a client, so the list after
    ``found:`` and after ``unknown column(s)`` is dropped, and every quoted or
    bracketed fragment except the plain format's own column names becomes ``…``.
    """
    from hipflex.sensor.files.csv_io import PLAIN_ACC, PLAIN_GYRO, PLAIN_TIME

    known = {PLAIN_TIME, *PLAIN_ACC, *PLAIN_GYRO}
    head = re.split(r";?\s*found:", problem, maxsplit=1)[0]
    head = _UNKNOWN_LIST.sub(r"\1 ", head)
    head = _BRACKETED.sub("[…]", head)
    return _QUOTED.sub(lambda m: m.group(0) if m.group(0)[1:-1] in known else "'…'", head)


def _size(path: Path) -> int:
    """The file's size in bytes (0 when it cannot be seen; loading then says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _require_regular_file(path: Path, shown: str) -> None:
    """Refuse anything but a regular file before opening it.

    Opening a FIFO blocks until a writer appears (a worker thread lost for
    good), and a device file may never end; ``stat`` never blocks.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError(f"{shown}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{shown}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(mode):
        raise SourceError(f"{shown}: not a regular file")

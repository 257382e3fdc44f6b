"""Shared helpers of the performance benchmarks (throughput, live, cold start).

Not a benchmark itself.  It provides

* :func:`machine_lines` -- the machine and library versions every table is printed with;
* :func:`simulate_sessions` / :func:`concatenate` -- long, realistic 200 Hz recordings from the
  simulator (:mod:`hipflex.sensor.sim.simulate`): sessions of mixed drills (ballistic, hold, strength,
  march, stride) with rests, one sensor strapped once, several sessions back to back;
* :func:`best_of` -- best wall time of several runs after a warm-up;
* :func:`rss_kib` -- resident memory from ``/proc/self/status``;
* :func:`print_table` -- a plain aligned table.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.sim.simulate import (
    DRILLS,
    Mounting,
    Segment,
    SensorModel,
    SessionPlan,
    TruthRep,
    plan_session,
    simulate,
)

__all__ = [
    "Session",
    "best_of",
    "child_env",
    "concatenate",
    "machine_lines",
    "mixed_plan",
    "print_table",
    "rss_kib",
    "simulate_sessions",
]


# ----------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_lines() -> list[str]:
    """Human-readable description of the machine and the library versions.

    Returns
    -------
    list of str
        CPU model (``/proc/cpuinfo``), logical cores and the cores this process may use,
        Python, numpy, numba, scipy, vqf and hipflex versions.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ""
    try:
        with open("/proc/loadavg", encoding="utf-8") as fh:
            load = " ".join(fh.read().split()[:3])
    except OSError:
        pass
    return [
        f"machine: {_cpu_model()}, {os.cpu_count()} logical cores ({usable} usable), "
        f"load average at start {load or 'n/a'}",
        f"python {platform.python_version()} ({sys.implementation.name}), numpy {_version('numpy')}, "
        f"numba {_version('numba')}, scipy {_version('scipy')}, vqf {_version('vqf')}, "
        f"hipflex {_version('hipflex')}",
    ]


# ----------------------------------------------------------------------------- recordings


@dataclass(frozen=True, eq=False)
class Session:
    """One simulated recording, without the dense 1 kHz truth (cheap to pass between processes).

    Attributes
    ----------
    samples : ImuSamples
        What the device reports (acc in g, gyro in deg/s).
    truth_reps : tuple of TruthRep
        Every true rep; times in the samples' time base.
    rep_drills : tuple of str
        The drill of each true rep.
    """

    samples: ImuSamples
    truth_reps: tuple[TruthRep, ...]
    rep_drills: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        """Time span of the samples, seconds."""
        t = self.samples.time_s
        return float(t[-1] - t[0])


def mixed_plan(rng: np.random.Generator, duration_s: float) -> SessionPlan:
    """A session of sets of every drill in turn, with 12-25 s rests, about ``duration_s`` long.

    The sets are drawn by :func:`hipflex.sensor.sim.simulate.plan_session` (its rep counts,
    cadences and set lengths); the session starts with 3 s of quiet standing (the
    calibration) and ends with 4 s of standing.
    """
    segs: list[Segment] = [Segment("stand", 3.0)]
    total = 7.0
    k = int(rng.integers(len(DRILLS)))
    while total < duration_s:
        drill = DRILLS[k % len(DRILLS)]
        k += 1
        if len(segs) > 1:
            rest = float(rng.uniform(12.0, 25.0))
            segs.append(Segment("rest", rest))
            total += rest
        one = plan_session(drill, rng, n_sets=1)
        sets = [s for s in one.segments if s.kind == "set"]
        segs.extend(sets)
        total += sum(s.duration_s for s in sets)
    segs.append(Segment("stand", 4.0))
    return SessionPlan(tuple(segs))


def _simulate_one(args: tuple[int, float, float, bool, float, float]) -> Session:
    seed, duration_s, fs_hz, has_gyro, jitter_s, loss = args
    rng = np.random.default_rng(seed)
    plan = mixed_plan(rng, duration_s)
    # One strap for every session of a run: the mounting comes from a fixed seed.
    mounting = Mounting.random(np.random.default_rng(12345))
    sensor = SensorModel(fs_hz=fs_hz, has_gyro=has_gyro, jitter_s=jitter_s, loss_fraction=loss)
    sim = simulate(plan, mounting, sensor, seed)
    sets = [seg for seg in plan.segments if seg.kind == "set"]
    drills = tuple(str(sets[r.set_index].drill) for r in sim.truth.reps)
    return Session(sim.samples, sim.truth.reps, drills)


def simulate_sessions(
    n: int,
    duration_s: float,
    *,
    fs_hz: float = 200.0,
    has_gyro: bool = True,
    seed: int = 1,
    jitter_s: float = 0.0,
    loss_fraction: float = 0.0,
    workers: int | None = None,
) -> list[Session]:
    """Simulate ``n`` mixed-drill sessions of about ``duration_s`` each, in a process pool.

    Parameters
    ----------
    n : int
        Number of sessions (seeds ``seed, seed + 1, ...``).
    duration_s : float
        Planned length of each session, seconds.
    fs_hz : float
        Sample rate, Hz.
    has_gyro : bool
        Accelerometer + gyro (True) or accelerometer only.
    seed : int
        First seed.
    jitter_s, loss_fraction : float
        Timestamp jitter (s, standard deviation) and fraction of rows lost in bursts.
    workers : int, optional
        Processes; default all usable cores.  The simulation always runs in worker
        processes (also for ``n == 1``) so that its large temporary arrays do not stay in
        this process's heap and distort its RSS; ``workers=1`` runs it here instead.

    Returns
    -------
    list of Session
        In seed order.
    """
    jobs = [(seed + i, duration_s, fs_hz, has_gyro, jitter_s, loss_fraction) for i in range(n)]
    if workers == 1:
        return [_simulate_one(j) for j in jobs]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with cf.ProcessPoolExecutor(max_workers=min(workers or cores, n)) as pool:
        return list(pool.map(_simulate_one, jobs))


def concatenate(sessions: Sequence[Session], gap_s: float | None = None) -> Session:
    """Sessions back to back as one recording (each shifted to start one period after the last).

    Parameters
    ----------
    sessions : sequence of Session
        All with or all without gyro.
    gap_s : float, optional
        Time from the last row of one session to the first row of the next; default the
        median sample period (a seamless stream).

    Returns
    -------
    Session
        Truth reps shifted with their session.
    """
    ts: list[np.ndarray] = []
    accs: list[np.ndarray] = []
    gyrs: list[np.ndarray] = []
    reps: list[TruthRep] = []
    drills: list[str] = []
    end = 0.0
    for k, s in enumerate(sessions):
        t = s.samples.time_s
        step = float(np.median(np.diff(t))) if gap_s is None else gap_s
        shift = (end + step - t[0]) if k else -t[0]
        ts.append(t + shift)
        accs.append(s.samples.acc_g)
        if s.samples.gyr_dps is not None:
            gyrs.append(s.samples.gyr_dps)
        for r in s.truth_reps:
            reps.append(
                TruthRep(
                    set_index=r.set_index,
                    low_s=r.low_s + shift,
                    peak_s=r.peak_s + shift,
                    trough_s=r.trough_s + shift,
                    low_deg=r.low_deg,
                    peak_deg=r.peak_deg,
                    trough_deg=r.trough_deg,
                    peak_velocity_dps=r.peak_velocity_dps,
                )
            )
        drills.extend(s.rep_drills)
        end = float(ts[-1][-1])
    gyr = np.concatenate(gyrs) if len(gyrs) == len(sessions) else None
    return Session(ImuSamples(np.concatenate(ts), np.concatenate(accs), gyr), tuple(reps), tuple(drills))


# ----------------------------------------------------------------------------- measuring


def best_of(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls, seconds."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def rss_kib(field: str = "VmRSS") -> int:
    """A memory field of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``), KiB.

    Falls back to the peak RSS from :mod:`resource` where ``/proc`` is absent.
    """
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "", left: int = 1) -> None:
    """Print ``rows`` under ``headers``: the first ``left`` columns left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()

    if title:
        print(title)
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))


def child_env(pycache: str | os.PathLike[str] | None) -> dict[str, str]:
    """The environment of a timed ``hipflex`` child: bytecode cached in ``pycache`` (None: as inherited).

    An installed package runs from its ``.pyc`` files (pip compiles them at install).  A
    development shell with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's) makes every child
    compile hipflex's ~60 modules from source instead: ~0.07 s of CPU per process that no user
    pays.  With a folder, the children write and read their bytecode there
    (``PYTHONPYCACHEPREFIX``: nothing is written next to the sources); the untimed warm-up run
    fills it.
    """
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.fspath(pycache)
    return env

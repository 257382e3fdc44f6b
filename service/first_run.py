"""Say so when a command compiles the analysis: "preparing the analysis (first run only)", with progress.

The numba kernels of :mod:`hipflex.dsp` are compiled on their first use after an
install (or after an upgrade changes their source) and kept in numba's on-disk
cache; every later run loads them in well under a second.  The first run
otherwise looks like a hang, so ``analyze``, ``demo``, ``serve`` and ``record``
wrap the code that compiles in :func:`preparing`.

The notice appears when numba starts compiling one of hipflex's kernels
(numba's ``numba:compile`` event fires on a cache miss only), so a warm cache never
shows it.  A marker file written after a successful run (quiet or not) spares
later runs even the listening; it is named after what numba's own cache is keyed by: the
versions of hipflex, numba and Python and the modification time and size of
every source file of :mod:`hipflex.dsp` (numba invalidates a kernel's cache
when its file's stamp changes).  The marker lives where numba keeps the cache:
``$NUMBA_CACHE_DIR`` when set, else the package's ``__pycache__`` folder when
writable, else the user's cache folder.  Numba's compile events
(``numba:compile``) drive the progress: kernels compiled out of the kernels
defined.

A recording is analysed with a gyro or without one, and each mode compiles kernels
of its own (:data:`hipflex.dsp._precompile.ONLY`): given the mode (``gyro``), the
first run compiles that mode's kernels and writes that mode's marker; the first run
on a recording of the other mode then compiles the rest, with the notice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

__all__ = ["FIRST_RUN_ESTIMATE_S", "QUIET_ENV", "SERIAL_ENV", "is_prepared", "marker_path", "preparing"]

_log = logging.getLogger(__name__)

#: Set (non-empty) to silence the notice: the test suite does, so that a test's
#: stderr does not depend on whether an earlier test compiled the kernels.
QUIET_ENV = "HIPFLEX_NO_FIRST_RUN_NOTICE"

#: Set (non-empty) to compile in this process only, without the helper process
#: (benchmarks/cold_start.py compares the two).
SERIAL_ENV = "HIPFLEX_FIRST_RUN_SERIAL"

#: What the first ``hipflex analyze`` took to compile on a 2-core machine: 11 s quiet,
#: 16-17 s at load average 4, 20 s in one process (benchmarks/README.md, "The first
#: run (issue 17, session 10)"); shown as the expected wait.
FIRST_RUN_ESTIMATE_S = 20


def _dsp_folder() -> Path:
    spec = importlib.util.find_spec("hipflex.dsp")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - broken install
        raise ImportError("hipflex.dsp not found")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_root(dsp: Path) -> Path:
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    pycache = dsp / "__pycache__"
    if os.access(pycache if pycache.exists() else dsp, os.W_OK):
        return pycache
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hipflex"


def marker_path(what: str) -> Path:
    """The file that says the kernels ``what`` needs (``"analyze"``, ``"live"``) are compiled and cached."""
    from hipflex import __version__

    dsp = _dsp_folder()
    h = hashlib.sha1(f"{__version__} {platform.python_version()} {_numba_version()}".encode())
    for src in sorted(dsp.glob("*.py")):
        st = src.stat()
        h.update(f"{src.name} {st.st_mtime} {st.st_size}".encode())
    return _cache_root(dsp) / f"hipflex-prepared-{what}-{h.hexdigest()[:16]}"


def _numba_version() -> str:
    # numba's own attribute, not importlib.metadata's search of the installed
    # distributions (~3 ms of every command); numba is imported by then anyway.
    import numba

    return str(numba.__version__)


def _mode_key(what: str, gyro: bool | None) -> str:
    """The marker's name for ``what`` in one mode (``gyro``), or in both (None)."""
    return what if gyro is None else f"{what}-{'gyro' if gyro else 'acc'}"


def is_prepared(what: str, gyro: bool | None = None) -> bool:
    """Whether a previous run compiled and cached what ``what`` needs (see the module text).

    ``gyro``: for recordings with a gyro (True) or without one (False); None, both.
    A run that prepared both modes prepared each, and runs that prepared each, both.
    """
    try:
        if marker_path(what).exists():
            return True
        if gyro is None:
            return all(marker_path(_mode_key(what, mode)).exists() for mode in (True, False))
        return marker_path(_mode_key(what, gyro)).exists()
    except OSError:
        return False


def _kernels_defined(gyro: bool | None = None) -> int:
    """Kernels of the loaded :mod:`hipflex.dsp` modules that are compiled on their own (not inlined).

    ``gyro``: those of one mode only (the other mode's kernels, ``_precompile.ONLY``, left out).
    """
    from numba.core.registry import CPUDispatcher

    from hipflex.dsp._precompile import ONLY

    n = 0
    for name, mod in list(sys.modules.items()):
        if not name.startswith("hipflex.dsp.") or mod is None:
            continue
        for attr, obj in list(vars(mod).items()):
            if (
                isinstance(obj, CPUDispatcher)
                and obj.__module__ == name
                and obj.targetoptions.get("inline", "never") == "never"
                and (gyro is None or ONLY.get(f"{name.removeprefix('hipflex.dsp.')}.{attr}", gyro) == gyro)
            ):
                n += 1
    return n


class _Progress:
    """Counts hipflex kernels compiled (numba's compile events) and redraws one stderr line."""

    def __init__(self, stream: TextIO, prefix: str, live: bool):
        self.stream = stream
        self.prefix = prefix
        self.live = live
        self.done: set[str] = set()
        self.total = 0
        self.started = time.perf_counter()
        self.lock = threading.RLock()

    def compiled(self, name: str) -> None:
        with self.lock:
            self.done.add(name)
            self.draw()

    def draw(self) -> None:
        if not self.live:
            return
        total = max(self.total, len(self.done))
        count = f"{len(self.done)}/{total} kernels" if total else f"{len(self.done)} kernels"
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{self.prefix}: {count}, {elapsed:.0f} s")
        self.stream.flush()


@contextmanager
def preparing(
    what: str,
    prog: str,
    *,
    ready: Callable[[], bool],
    stream: TextIO | None = None,
    gyro: bool | None = None,
) -> Iterator[None]:
    """Announce and follow the compiling of the analysis kernels in the body, when the cache is cold.

    Parameters
    ----------
    what : str
        Which set of kernels the body compiles (``"analyze"``, ``"live"``): one marker each.
    prog : str
        Prefix of the message (``"hipflex"``, ``"hipflex record"``).
    ready : callable
        Called after the body: whether the kernels now exist (were compiled or loaded), so
        that a body that analysed nothing (a bad input file) leaves the marker unwritten.
    stream : text stream or None
        Where the message goes (default ``sys.stderr``).  On a terminal one line shows the
        kernels compiled so far and the seconds; otherwise one line before and one after.
    gyro : bool or None
        The body analyses recordings with a gyro (True) or without one (False) only: only
        that mode's kernels are compiled ahead, and the marker is that mode's.  None: both.

    Notes
    -----
    The notice appears when numba starts compiling a hipflex kernel in the body, so a
    cache that is warm although the marker is missing (warmed by a quiet run, say) shows
    nothing.  Nothing is announced when the environment variable
    ``HIPFLEX_NO_FIRST_RUN_NOTICE`` is set; the marker is written all the same.  With the
    marker present, a warm cache costs one ``stat`` per dsp source file.
    """
    out = stream if stream is not None else sys.stderr
    if is_prepared(what, gyro):
        yield
        return
    # Announce on the first kernel numba actually compiles, not because the marker is
    # missing: a cache warmed by a run that wrote no marker (a quiet one, an older
    # hipflex) loads without a compile, and the notice would be false.
    quiet = bool(os.environ.get(QUIET_ENV))
    live = bool(getattr(out, "isatty", lambda: False)())
    prefix = f"{prog}: preparing the analysis (first run only, about {FIRST_RUN_ESTIMATE_S} s)"
    progress = _Progress(out, prefix, live)
    announced = threading.Event()
    helper = _Helper(progress, gyro)

    def announce() -> None:
        with progress.lock:
            if announced.is_set():
                return
            announced.set()
            helper.start()
            progress.started = time.perf_counter()
            if quiet:
                return
            if live:
                progress.draw()
            else:
                out.write(prefix + " ...\n")
                out.flush()

    from numba.core import event

    class _Listener(event.Listener):
        def on_start(self, ev: Any) -> None:
            if _module_of(ev).startswith("hipflex."):
                announce()

        def on_end(self, ev: Any) -> None:
            module = _module_of(ev)
            if not announced.is_set() or quiet:
                return
            if module.startswith("hipflex.dsp.") and progress.total == 0:
                progress.total = _kernels_defined(gyro)
            if module.startswith("hipflex."):
                func = ev.data["dispatcher"].py_func
                progress.compiled(f"{module}.{getattr(func, '__qualname__', '?')}")

    listener = _Listener()
    event.register("numba:compile", listener)
    ok = False
    try:
        _precompile(helper, gyro)
        yield
        ok = ready()
    finally:
        event.unregister("numba:compile", listener)
        helper.stop()
        if announced.is_set() and not quiet:
            elapsed = time.perf_counter() - progress.started
            tail = f"ready after {elapsed:.0f} s ({len(progress.done)} kernels compiled)" if ok else "stopped"
            out.write(f"\r{prefix}: {tail}\x1b[K\n" if live else f"{prog}: analysis {tail}\n")
            out.flush()
    if ok:
        # Also when nothing was compiled or the notice is silenced: the kernels are in
        # numba's cache now, and the next run need not listen for compiles.
        try:
            path = marker_path(_mode_key(what, gyro))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("the numba kernels of hipflex.dsp are compiled and cached for these sources\n")
        except OSError:
            pass  # no writable cache folder: the next run listens again, nothing worse


def _precompile(helper: _Helper, gyro: bool | None = None) -> None:
    """Compile the analysis kernels now, on two cores when there are two (see :mod:`hipflex.dsp._precompile`).

    The first compile of the ``reps`` group starts the helper process (through the
    compile listener of :func:`preparing`) on the ``step``, ``rep_ends``, ``side``
    and ``frame`` groups.  This process compiles ``reps`` (the largest of the groups
    the main loop calls, so the helper's start-up is not on the way to the main
    loop), then, should the helper not have written ``step`` and ``rep_ends`` yet,
    the helper's last kernels (``frame``, then ``side``, from the end), then the
    ``entry`` group, whose compile loads the two groups it calls from numba's cache,
    and then shares the helper's remaining kernels (:func:`_share`) until it ends.
    Without a helper only the ``frame`` kernels come before ``entry``.  With a warm
    cache nothing compiles, no helper starts, and the groups load in well under a
    second.  ``gyro``: only that mode's kernels (``_precompile.groups``; None, both
    modes').  Never raises: what fails here compiles in the body, as it would without
    this step.
    """
    from hipflex.dsp._precompile import compile_group, compile_kernel, groups

    rows = groups(gyro)
    try:
        compile_group("reps")
        done: set[str] = set()
        # While the helper compiles the groups the main loop calls, this process takes
        # the helper's last kernels from the end: the frame group alone was done well
        # before step and rep_ends, and this core then sat idle for ~9 % of the first
        # run (benchmarks/README.md, "firstrun23").
        later = ("side", "frame") if helper.running() else ("frame",)
        for module, kernel, args in reversed([row for group in later for row in rows[group]]):
            if (helper.has("step") and helper.has("rep_ends")) or helper.ended.is_set():
                break
            name = f"hipflex.dsp.{module}.{kernel}"
            if name not in helper.progress.done:
                compile_kernel(module, kernel, args)
                done.add(name)
        helper.wait("step")
        helper.wait("rep_ends")
        compile_group("entry", gyro)
        _share(helper, ("side", "frame"), done, gyro)
    except Exception:
        _log.warning("compiling the analysis ahead failed; it compiles on first use", exc_info=True)


def _share(helper: _Helper, names: tuple[str, ...], done: set[str], gyro: bool | None = None) -> None:
    """Compile the helper's groups from their end until the helper is done (all of them without a helper).

    On a busy machine the helper may get little of the other core: this process then
    takes the kernels it has not reached instead of waiting, from the last one back,
    so that the two meet in the middle (a kernel the helper has cached meanwhile loads
    from the cache).  ``done``: kernels this process compiled already; ``gyro``: the
    groups of that mode.
    """
    from hipflex.dsp._precompile import compile_kernel, groups

    of_mode = groups(gyro)
    rows = [row for group in names for row in of_mode[group]]
    for module, kernel, args in reversed(rows):
        if helper.ended.is_set():
            break
        name = f"hipflex.dsp.{module}.{kernel}"
        if name not in helper.progress.done and name not in done:
            compile_kernel(module, kernel, args)
    # The helper's groups written is what the analysis needs, not the helper's exit:
    # its interpreter's teardown (numba's and LLVM's) came after its last group and
    # this process waited for it (~2 % of a first run's wall time; benchmarks/README.md,
    # "firstrun23").  preparing() ends a helper still exiting after the body.
    for group in helper.GROUPS:
        helper.wait(group)


class _Helper:
    """A second process that compiles kernel groups into numba's cache, reporting each kernel and group."""

    #: Longer than any compile seen; a helper still running then is left to finish on its own.
    TIMEOUT_S = 600.0
    #: The groups the helper compiles, in its order.
    GROUPS: tuple[str, ...] = ("step", "rep_ends", "side", "frame")
    #: The helper's arguments to the interpreter.
    COMMAND: tuple[str, ...] = ("-m", "hipflex.dsp._precompile", *GROUPS)

    def __init__(self, progress: _Progress, gyro: bool | None = None):
        self.progress = progress
        # The mode's groups only (hipflex.dsp._precompile's --mode).
        self.mode_args: tuple[str, ...] = () if gyro is None else (f"--mode={'gyro' if gyro else 'acc'}",)
        self.proc: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None
        self.groups: dict[str, threading.Event] = {}
        self.ended = threading.Event()

    def start(self) -> None:
        # A second process helps only with a core to spare: on a machine already busier
        # than it has cores it competes with this one (measured at load average 3 on
        # 2 cores: 18.7-21.0 s against 18.5 s in one process, for 1.5-2.5 s more CPU).
        if self.proc is not None or os.environ.get(SERIAL_ENV):
            return
        cores, busy = _usable_cores(), _load()
        if cores - busy < 1.0 - _SLACK:
            _log.info("compile helper not started: %.2f of %d cores busy", busy, cores)
            return
        import hipflex

        env = dict(os.environ)
        # The helper must import this very hipflex (a checkout on PYTHONPATH, say).
        root = str(Path(hipflex.__file__).parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, *self.COMMAND, *self.mode_args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
        except OSError:
            _log.warning("could not start the compile helper; compiling in one process", exc_info=True)
            return
        self.reader = threading.Thread(target=self._read, name="hipflex-compile-helper", daemon=True)
        self.reader.start()

    def _group(self, name: str) -> threading.Event:
        return self.groups.setdefault(name, threading.Event())

    def _read(self) -> None:
        from hipflex.dsp._precompile import DONE

        assert self.proc is not None and self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                line = line.strip()
                if line.startswith(DONE):
                    self._group(line[len(DONE) :]).set()
                elif line:
                    self.progress.compiled(line)
        finally:
            self.ended.set()

    def running(self) -> bool:
        """Whether a helper process was started (it may have ended since)."""
        return self.proc is not None

    def has(self, group: str) -> bool:
        """Whether the helper has written ``group`` (False without a helper, or once it ended without it)."""
        return self.proc is not None and self._group(group).is_set()

    def wait(self, group: str | None) -> None:
        """Until the helper has compiled ``group`` (None: until it ended) or gave up."""
        if self.proc is None:
            return
        deadline = time.monotonic() + self.TIMEOUT_S
        while not self.ended.is_set() and (group is None or not self._group(group).is_set()):
            if time.monotonic() > deadline:
                _log.warning("compile helper still running after %.0f s; not waiting for it", self.TIMEOUT_S)
                return
            self.ended.wait(0.05)
        if group is None:
            self.proc.wait()

    def stop(self) -> None:
        """End a helper still running (the command stopped early) and close its pipe."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=1.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


#: How far the load average may exceed one spare core and still start the helper
#: (the load average lags, and a core 70 % idle still halves the compile).
_SLACK = 0.7


#: How long :func:`_load` watches the cores (a first run waits this long, once).
_LOAD_WINDOW_S = 0.1


def _load() -> float:
    """How many usable cores are busy, this process counted as one: the lower of the 1-minute load average and now.

    "Now" is measured over :data:`_LOAD_WINDOW_S` while this process sleeps
    (``/proc/stat``; where it is missing, the load average alone).  The load average
    lags by a minute and still counts what just ended, such as this command's own
    previous first run (two processes for 8 s), so alone it kept the helper off with a
    core idle: a first run in one process (14.6 s) instead of two (8.2 s), which costs
    more than a helper started on a busy machine (18.7-21.0 s against 18.5 s at load 3;
    benchmarks/README.md, "A first run in one process with a core idle").
    """
    try:
        average = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on Unix
        average = 0.0
    if _usable_cores() - average >= 1.0 - _SLACK:
        return average  # a core to spare either way: no need to wait and watch
    try:
        idle0, total0 = _cpu_times()
        time.sleep(_LOAD_WINDOW_S)
        idle1, total1 = _cpu_times()
    except (OSError, ValueError):
        return average
    if total1 <= total0:
        return average
    # This process slept through the window: the busy share is the other processes'.
    now = 1.0 + _usable_cores() * (1.0 - (idle1 - idle0) / (total1 - total0))
    return min(average, now)


def _cpu_times() -> tuple[int, int]:
    """Idle (idle + iowait) and total clock ticks so far of the cores this process may use (``/proc/stat``)."""
    try:
        usable = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except AttributeError:  # pragma: no cover - not on Linux
        usable = set()
    idle = total = 0
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            name, *fields = line.split()
            if name in usable:
                ticks = [int(v) for v in fields[:8]]
                idle += ticks[3] + ticks[4]
                total += sum(ticks)
    if not total:
        raise ValueError("no usable core in /proc/stat")
    return idle, total


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _module_of(ev: Any) -> str:
    """The module of the Python function a numba compile event is about ("" when unknown)."""
    func = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
    return getattr(func, "__module__", "") or ""

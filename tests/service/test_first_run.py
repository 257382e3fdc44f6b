"""The first-run notice: "preparing the analysis (first run only)" when numba's cache is cold, silence when warm."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numba
import pytest

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files.csv_io import write_csv
from hipflex.service import first_run
from hipflex.service.cli import main

NOTICE = "preparing the analysis (first run only"


@pytest.fixture
def cold_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for the marker, and the notice switched back on (tests/conftest.py silences it)."""
    folder = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(folder))
    monkeypatch.delenv(first_run.QUIET_ENV, raising=False)
    return folder


@pytest.fixture
def no_precompile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notice alone: the body's own compiles, without the analysis kernels compiled ahead."""
    monkeypatch.setattr(first_run, "_precompile", lambda helper, gyro=None: None)


def small_csv(path: Path) -> Path:
    """Ten seconds of a still thigh at 50 Hz with gyro: enough for the analysis to run its kernels."""
    import numpy as np

    n = 500
    t = np.arange(n) / 50.0
    acc = np.tile([1.0, 0.0, 0.0], (n, 1)) + 0.001 * np.random.default_rng(0).standard_normal((n, 3))
    gyr = 0.1 * np.random.default_rng(1).standard_normal((n, 3))
    write_csv(path, ImuSamples(t, acc, gyr), ["still thigh (tests/service/test_first_run.py)"])
    return path


def fresh_kernel() -> Callable[[float], float]:
    """A kernel numba has never compiled, counted as hipflex's (its module): calling it compiles."""

    def double(x: float) -> float:
        return 2.0 * x

    double.__module__ = "hipflex.dsp.probe"
    return numba.njit(double)


def test_notice_when_cold_then_silent(cold_cache: Path, no_precompile: None) -> None:
    out = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=out):
        fresh_kernel()(1.0)
    assert out.getvalue().startswith(f"hipflex: {NOTICE}, about {first_run.FIRST_RUN_ESTIMATE_S} s)")
    assert "hipflex: analysis ready after" in out.getvalue()
    assert "(1 kernels compiled)" in out.getvalue()
    assert first_run.marker_path("analyze").parent == cold_cache
    assert first_run.is_prepared("analyze")
    again = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=again):
        pass
    assert again.getvalue() == ""
    # The live path keeps its own marker.
    assert not first_run.is_prepared("live")


def test_silent_when_the_cache_is_warm_without_a_marker(cold_cache: Path, no_precompile: None) -> None:
    """A cache warmed by a run that wrote no marker: nothing compiles, so nothing is announced."""
    kernel = fresh_kernel()
    kernel(1.0)  # compiled before: the body below compiles nothing
    out = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=out):
        kernel(2.0)
    assert out.getvalue() == ""
    assert first_run.is_prepared("analyze")


def test_quiet_run_writes_the_marker(cold_cache: Path, no_precompile: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(first_run.QUIET_ENV, "1")
    out = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=out):
        fresh_kernel()(1.0)
    assert out.getvalue() == ""
    assert first_run.is_prepared("analyze")


def test_no_marker_when_nothing_was_prepared(cold_cache: Path, no_precompile: None) -> None:
    out = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: False, stream=out):
        fresh_kernel()(1.0)
    assert "hipflex: analysis stopped" in out.getvalue()
    assert not first_run.is_prepared("analyze")


def test_progress_on_a_terminal_redraws_one_line(cold_cache: Path, no_precompile: None) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=out):
        assert out.getvalue() == ""  # nothing compiled yet
        fresh_kernel()(1.0)
        first_run_progress = out.getvalue()
    assert first_run_progress.startswith(f"\rhipflex: {NOTICE}")
    # One kernel compiled of the kernels hipflex.dsp defines (those loaded in this process).
    assert re.search(r": 1/[0-9]+ kernels, 0 s$", first_run_progress)
    assert out.getvalue().endswith("\x1b[K\n")
    assert out.getvalue().count("\n") == 1


def _group_recorder(calls: list[str]) -> Callable[[str], None]:
    """A stand-in for ``compile_group`` that records each group; the ``reps`` group compiles for real."""

    def fake_group(name: str, gyro: bool | None = None) -> None:
        calls.append(name)
        if name == "reps":
            fresh_kernel()(1.0)  # a real compile: the cache is cold, the helper starts

    return fake_group


def _helper_waiting_for_its_last_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str], argv_file: Path | None = None
) -> list[str]:
    """A fake helper slow to write its groups: it writes them once this process took its last kernel (or after 10 s).

    ``calls`` records the groups this process compiles (:func:`_group_recorder`) and the kernels it
    takes (``module.kernel``); ``argv_file``, when given, gets the helper's arguments.  Returns the
    kernels of the helper's last two groups (gyro frame, then learning and timeline) from the end.
    """
    from hipflex.dsp import _precompile

    later = [f"{m}.{k}" for m, k, _ in reversed([*_precompile.GROUPS["side"], *_precompile.GROUPS["frame"]])]
    flag = tmp_path / "took-them-all"

    def fake_kernel(module: str, kernel: str, args: tuple[object, ...]) -> None:
        calls.append(f"{module}.{kernel}")
        if calls[-1] == later[-1]:
            flag.touch()

    monkeypatch.setattr(_precompile, "compile_group", _group_recorder(calls))
    monkeypatch.setattr(_precompile, "compile_kernel", fake_kernel)
    done = [_precompile.DONE + group for group in ("step", "rep_ends", "side", "frame")]
    record_argv = "" if argv_file is None else f"open({str(argv_file)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
    helper = (
        "import os, sys, time\n"
        f"{record_argv}"
        "t = time.monotonic()\n"
        f"while not os.path.exists({str(flag)!r}) and time.monotonic() - t < 10.0:\n"
        "    time.sleep(0.01)\n"
        f"print(*{done!r}, sep=chr(10))\n"
    )
    monkeypatch.setattr(first_run._Helper, "COMMAND", ("-c", helper))
    monkeypatch.setattr(first_run, "_usable_cores", lambda: 2)
    monkeypatch.setattr(first_run, "_load", lambda: 0.5)
    return later


def test_cold_cache_compiles_ahead_with_a_helper_process(cold_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel groups compile before the body: two here, two in a second process (or all here without one)."""
    from hipflex.dsp import _precompile

    calls = []

    fake_group = _group_recorder(calls)

    def fake_kernel(module: str, kernel: str, args: tuple[object, ...]) -> None:
        calls.append(kernel)

    monkeypatch.setattr(_precompile, "compile_group", fake_group)
    monkeypatch.setattr(_precompile, "compile_kernel", fake_kernel)
    helper_groups = ("step", "rep_ends", "side", "frame")
    helper_rows = [row for group in helper_groups for row in _precompile.GROUPS[group]]
    frame = [kernel for _, kernel, _ in reversed(_precompile.GROUPS["frame"])]
    later = [*frame, *(kernel for _, kernel, _ in reversed(_precompile.GROUPS["side"]))]
    said = [f"hipflex.dsp.{module}.{kernel}" for module, kernel, _ in helper_rows]
    done = [_precompile.DONE + group for group in helper_groups]
    helper = f"print(*{said!r}, sep='\\n'); print(*{done!r}, sep='\\n')"
    monkeypatch.setattr(first_run._Helper, "COMMAND", ("-c", helper))
    monkeypatch.setattr(first_run, "_usable_cores", lambda: 2)
    monkeypatch.setattr(first_run, "_load", lambda: 0.5)
    out = io.StringIO()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=out):
        calls.append("body")
    # The helper did its groups: nothing of theirs compiled here but the gyro-frame and
    # learning kernels this process took (from the end) while the helper's groups were not
    # ready yet.
    entry = calls.index("entry")
    assert calls[0] == "reps" and calls[1:entry] == later[: entry - 1] and calls[entry + 1 :] == ["body"]
    # No core to spare (the other one busy), or told so: no helper; the frame group
    # from its end (there is no helper to wait for), then the main loop (which compiles
    # the step and rep ends it calls), then the learning and timeline group from its end.
    for busy in ("load", "told"):
        if busy == "load":
            monkeypatch.setattr(first_run, "_load", lambda: 2.5)
        else:
            monkeypatch.setattr(first_run, "_load", lambda: 0.0)
            monkeypatch.setenv(first_run.SERIAL_ENV, "1")
        first_run.marker_path("analyze").unlink()
        calls.clear()
        again = io.StringIO()
        with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=again):
            calls.append("body")
        shared = [kernel for _, kernel, _ in reversed(_precompile.GROUPS["side"])]
        assert calls == ["reps", *frame, "entry", *shared, "body"]
        assert "kernels compiled)" in again.getvalue()


def test_while_the_helper_compiles_the_main_loops_callees_this_process_takes_its_last_kernels(
    cold_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helper slow to write ``step`` and ``rep_ends`` leaves this process no idle wait before ``entry``.

    It takes the helper's last kernels, the gyro-frame group's and then the learning and
    timeline group's, from the end (they load from the cache when the helper reaches them).
    The fake helper writes its groups once this process took the last of those kernels
    (or after 10 s).
    """
    calls: list[str] = []
    later = _helper_waiting_for_its_last_kernel(tmp_path, monkeypatch, calls)
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO()):
        calls.append("body")
    assert calls == ["reps", *later, "entry", "body"]


def test_the_body_runs_once_the_helper_wrote_its_groups_not_after_its_exit(
    cold_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper's teardown after its last group is not waited for; the helper is ended after the body."""
    from hipflex.dsp import _precompile

    pid_file = tmp_path / "helper.pid"

    def fake_group(name: str, gyro: bool | None = None) -> None:
        if name == "reps":
            fresh_kernel()(1.0)  # a real compile: the cache is cold, the helper starts

    monkeypatch.setattr(_precompile, "compile_group", fake_group)
    monkeypatch.setattr(_precompile, "compile_kernel", lambda module, kernel, args: None)
    done = [_precompile.DONE + group for group in ("step", "rep_ends", "side", "frame")]
    helper = (
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        f"print(*{done!r}, sep=chr(10))\n"
        "sys.stdout.flush()\n"
        "time.sleep(10.0)\n"  # a slow exit
    )
    monkeypatch.setattr(first_run._Helper, "COMMAND", ("-c", helper))
    monkeypatch.setattr(first_run, "_usable_cores", lambda: 2)
    monkeypatch.setattr(first_run, "_load", lambda: 0.5)
    alive = []
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO()):
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, 0)  # not yet reaped: the helper still runs
            alive.append(True)
        except ProcessLookupError:
            alive.append(False)
    assert alive == [True]
    with pytest.raises(ProcessLookupError):  # ended and reaped after the body
        os.kill(pid, 0)


@pytest.mark.parametrize("other_busy", [0.0, 0.5, 1.0, 2.0])
def test_the_helper_starts_on_the_cores_idle_now_not_the_load_average(
    other_busy: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load average still high from a run that just ended does not keep the helper off an idle core.

    The cores are watched while the command waits (``/proc/stat``'s clock ticks, faked
    here: ``other_busy`` of the 2 cores taken by other processes); the 1-minute load
    average says 3 throughout, as after this command's own first run with its helper.
    """
    monkeypatch.setattr(first_run._Helper, "COMMAND", ("-c", "pass"))
    monkeypatch.setattr(first_run, "_usable_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    monkeypatch.setattr(first_run, "_LOAD_WINDOW_S", 0.0, raising=False)
    ticks = iter([(0, 0), (int(100 * (2.0 - other_busy)), 200)])
    monkeypatch.setattr(first_run, "_cpu_times", lambda: next(ticks), raising=False)
    helper = first_run._Helper(first_run._Progress(io.StringIO(), "", False))
    helper.start()
    try:
        # A spare core is one at most 70 % busy (first_run._SLACK).
        assert (helper.proc is not None) == (other_busy <= 0.7)
    finally:
        helper.stop()


@pytest.mark.slow  # a real helper process
def test_the_helper_reports_each_group(cold_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``has`` follows the helper's group lines; without a helper it is never true."""
    monkeypatch.setattr(first_run._Helper, "COMMAND", ("-c", "print('=done step')"))
    monkeypatch.setattr(first_run, "_usable_cores", lambda: 2)
    monkeypatch.setattr(first_run, "_load", lambda: 0.0)
    helper = first_run._Helper(first_run._Progress(io.StringIO(), "", False))
    assert not helper.has("step")
    helper.start()
    helper.wait(None)
    assert helper.has("step") and not helper.has("side")
    helper.stop()


def test_analyze_prepares_once(cold_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``analyze`` goes through :func:`first_run.preparing`: after one run the marker says ready, the next is silent.

    In process, numba's cache is the one this process started with (NUMBA_CACHE_DIR
    is read at import), so whether the first run compiles depends on earlier tests;
    the notice itself is checked in fresh processes below.
    """
    path = small_csv(tmp_path / "still.csv")
    assert main(["analyze", "--json", str(path)]) == 0
    first = capsys.readouterr()
    # The file has a gyro (its header says so): the kernels of that mode are prepared.
    assert first_run.is_prepared("analyze", True) and not first_run.is_prepared("analyze", False)
    assert main(["analyze", "--json", str(path)]) == 0
    second = capsys.readouterr()
    assert second.err == ""
    assert second.out == first.out


@pytest.mark.slow
def test_live_warm_up_announces_a_cold_cache_once(tmp_path: Path) -> None:
    """What ``record``, ``serve`` and ``demo`` run before streaming, in fresh processes on an empty cache."""
    env = {k: v for k, v in os.environ.items() if k != first_run.QUIET_ENV}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    code = "from hipflex.service.live_analysis import warm_up; warm_up(announce='hipflex record').result()"
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert f"hipflex record: {NOTICE}" in first.stderr
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""


@pytest.mark.slow
def test_first_process_compiles_visibly_the_second_quietly(tmp_path: Path) -> None:
    """Real processes with an empty numba cache: numba compiles in the first one only."""
    path = small_csv(tmp_path / "still.csv")
    env = {k: v for k, v in os.environ.items() if k != first_run.QUIET_ENV}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    cmd = [sys.executable, "-m", "hipflex", "analyze", "--json", str(path)]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert f"hipflex: {NOTICE}" in first.stderr
    n_compiled = int(first.stderr.split("(")[-1].split()[0])
    assert n_compiled >= 10  # the analysis' kernels, compiled here, not in the second process
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert second.stdout == first.stdout


@pytest.mark.slow
def test_cache_warmed_quietly_then_no_notice(tmp_path: Path) -> None:
    """The cache warmed with the notice silenced: the next, unsilenced process shows no notice either."""
    path = small_csv(tmp_path / "still.csv")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env[first_run.QUIET_ENV] = "1"
    cmd = [sys.executable, "-m", "hipflex", "analyze", "--json", str(path)]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    del env[first_run.QUIET_ENV]
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert second.stdout == first.stdout


def small_csv_without_gyro(path: Path) -> Path:
    """:func:`small_csv` without its gyro columns."""
    import numpy as np

    n = 500
    t = np.arange(n) / 50.0
    acc = np.tile([1.0, 0.0, 0.0], (n, 1)) + 0.001 * np.random.default_rng(0).standard_normal((n, 3))
    write_csv(path, ImuSamples(t, acc, None), ["still thigh, no gyro (tests/service/test_first_run.py)"])
    return path


def test_a_mode_is_prepared_by_its_marker_or_by_a_run_of_both(cold_cache: Path, no_precompile: None) -> None:
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO(), gyro=True):
        pass
    assert first_run.is_prepared("analyze", True)
    assert not first_run.is_prepared("analyze", False)
    assert not first_run.is_prepared("analyze")  # both modes: not yet
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO(), gyro=False):
        pass
    assert first_run.is_prepared("analyze", False) and first_run.is_prepared("analyze")
    for path in cold_cache.glob("hipflex-prepared-analyze-*"):
        path.unlink()
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO()):
        pass
    assert first_run.is_prepared("analyze", True) and first_run.is_prepared("analyze", False)


def test_the_helper_and_this_process_compile_one_modes_kernels(
    cold_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the mode, the helper is told it (``--mode=``) and this process takes only that mode's kernels."""
    from hipflex.dsp import _precompile

    argv_file = tmp_path / "argv"
    calls: list[str] = []
    _helper_waiting_for_its_last_kernel(tmp_path, monkeypatch, calls, argv_file=argv_file)
    with first_run.preparing("analyze", "hipflex", ready=lambda: True, stream=io.StringIO(), gyro=False):
        calls.append("body")
    assert argv_file.read_text() == "--mode=acc"
    taken = [name for name in calls if "." in name]
    assert taken  # this process took the helper's last kernels (the learning group's)
    assert not [name for name in taken if _precompile.ONLY.get(name) is True]  # none of the gyro's
    assert "_kern_gyro_frame._fit_lever" not in taken
    assert first_run.is_prepared("analyze", False) and not first_run.is_prepared("analyze", True)


def test_analyze_reads_the_recordings_mode_from_their_headers(tmp_path: Path) -> None:
    from hipflex.sensor.formats import AUTO, LoadOptions
    from hipflex.service.commands.analyze_kernels import recordings_mode
    from hipflex.service.commands.batch_run import Entry

    gyro = str(small_csv(tmp_path / "gyro.csv"))
    acc = str(small_csv_without_gyro(tmp_path / "acc.csv"))
    bad = Entry(str(tmp_path / "none"), problem="no recordings")

    def mode(*paths: str, extra: tuple[Entry, ...] = ()) -> bool | None:
        return recordings_mode([*(Entry(p) for p in paths), *extra], AUTO, LoadOptions())

    assert mode(gyro) is True and mode(gyro, gyro, extra=(bad,)) is True
    assert mode(acc) is False
    assert mode(gyro, acc) is None  # both modes
    assert mode(*[acc] * 9) is None  # too many to read


@pytest.mark.slow
def test_the_other_modes_first_run_compiles_the_rest_with_the_notice(tmp_path: Path) -> None:
    """A recording with a gyro first, then one without: each first run compiles its own kernels, announced."""
    gyro = small_csv(tmp_path / "still.csv")
    acc = small_csv_without_gyro(tmp_path / "still-acc.csv")
    env = {k: v for k, v in os.environ.items() if k != first_run.QUIET_ENV}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "hipflex", "analyze", "--json", str(path)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
        return out

    first, second = run(gyro), run(acc)
    assert f"hipflex: {NOTICE}" in first.stderr and f"hipflex: {NOTICE}" in second.stderr
    n_first, n_second = (int(out.stderr.split("(")[-1].split()[0]) for out in (first, second))
    assert 0 < n_second < n_first  # the kernels both modes share came from the cache
    assert run(acc).stderr == "" and run(gyro).stderr == ""

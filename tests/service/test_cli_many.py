"""``hipflex analyze`` on many files and folders: every core, results in input order, same bytes as one at a time."""

from __future__ import annotations

import json
import multiprocessing
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from test_cli import cli, cli_process, json_lines, thigh_session

import hipflex.dsp
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.sensor.files.csv_io import write_csv
from hipflex.service.commands import batch_run
from hipflex.service.commands.batch_run import Entry, expand_paths, ordered_map

GOOD = [f"s{i}.csv" for i in range(5)]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five different good recordings (seeds, holds, one without gyro), a bad one, a folder of two."""
    d = tmp_path_factory.mktemp("many")
    for i, name in enumerate(GOOD):
        write_csv(d / name, thigh_session(seed=i, hold_s=0.2 + 0.2 * i, gyro=i != 3))
    (d / "empty.csv").write_text("")
    sub = d / "folder"
    (sub / "deeper").mkdir(parents=True)
    (sub / ".hidden").mkdir()
    write_csv(sub / "b.csv", thigh_session(seed=7))
    write_csv(sub / "a.csv", thigh_session(seed=8, gyro=False))
    write_csv(sub / "deeper" / "c.csv", thigh_session(seed=9))
    write_csv(sub / ".hidden" / "d.csv", thigh_session(seed=10))
    write_csv(sub / ".e.csv", thigh_session(seed=11))
    (sub / "notes.md").write_text("not a recording\n")
    (d / "nothing").mkdir()
    (d / "nothing" / "notes.md").write_text("not a recording\n")
    return d


def alone(many: Path, *names: str, flags: tuple[str, ...] = ("--json",)) -> tuple[str, str]:
    """stdout and stderr of analysing each file in its own ``hipflex analyze``, concatenated."""
    outs = [cli("analyze", "--jobs", "1", *flags, name, cwd=many) for name in names]
    return "".join(o.stdout for o in outs), "".join(o.stderr for o in outs)


# ------------------------------------------------------------------ many files


@pytest.mark.parametrize("flags", [("--json",), ()], ids=["json", "table"])
def test_many_files_give_the_bytes_of_one_at_a_time_in_input_order(many: Path, flags: tuple[str, ...]) -> None:
    order = ["s3.csv", "s0.csv", "empty.csv", "s4.csv", "missing.csv", "s1.csv", "s2.csv", "s0.csv"]
    out = cli("analyze", "--jobs", "2", *flags, *order, cwd=many)
    want_out, want_err = alone(many, *order, flags=flags)
    assert out.returncode == 2  # bad files are reported at the end, after the others were written
    assert out.stdout == want_out
    assert out.stderr == want_err
    assert out.stderr.splitlines() == ["hipflex: empty.csv: file is empty", "hipflex: missing.csv: no such file"]
    if flags:
        sources = [d["source"] for d in json_lines(out.stdout)]
        assert sources == ["s3.csv", "s0.csv", "s4.csv", "s1.csv", "s2.csv", "s0.csv"]


def test_jobs_1_and_jobs_2_write_the_same_bytes(many: Path) -> None:
    one = cli("analyze", "--json", "--jobs", "1", *GOOD, "folder", cwd=many)
    two = cli("analyze", "--json", "--jobs", "2", *GOOD, "folder", cwd=many)
    assert one.returncode == two.returncode == 0
    assert len(json_lines(one.stdout)) == len(GOOD) + 2
    assert one.stdout == two.stdout and one.stderr == two.stderr == ""


def test_jobs_must_be_positive(many: Path) -> None:
    out = cli("analyze", "--jobs", "0", "s0.csv", cwd=many)
    assert out.returncode == 2
    assert "--jobs must be at least 1" in out.stderr and out.stdout == ""


def test_analyses_overlap_with_two_jobs(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each analysis waits until another one has started too: only true with two running at once."""
    real = hipflex.dsp.analyze
    # Shared by the forked workers (created before they fork), and by threads where there is no fork.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    both_running = context.Barrier(2, timeout=60.0)  # a safety net against a hang, not a timing check

    def analyze(samples: ImuSamples, settings: Settings | None = None, source: str = "") -> Analysis:
        both_running.wait()
        return real(samples, settings, source)

    monkeypatch.setattr(hipflex.dsp, "analyze", analyze)
    out = cli("analyze", "--json", "--jobs", "2", "s0.csv", "s1.csv", "s2.csv", "s4.csv", cwd=many)
    assert out.stderr == ""
    assert out.returncode == 0
    assert [d["source"] for d in json_lines(out.stdout)] == ["s0.csv", "s1.csv", "s2.csv", "s4.csv"]


_FORK_PROBE = """
import sys
import hipflex.service.commands.analyze as analyze

real = analyze.ordered_map
WANTED = ("pyarrow.csv", "numpy.ma", "hipflex.sensor.files.csv_stream")
NOT_NEEDED = ("hipflex.sensor.files.import_metabase", "hipflex.sensor.files.import_polar_logger")

def ordered_map(*args, **kwargs):
    import gc

    sys.stderr.write(f"frozen objects: {gc.get_freeze_count()}\\n")
    if kwargs.get("processes"):
        sys.stderr.write("before the fork: " + " ".join(m for m in WANTED if m not in sys.modules) + "|\\n")
        import importlib
        from hipflex.dsp._precompile import GROUPS

        loaded = [
            f"{module}.{kernel}"
            for group in GROUPS.values()
            for module, kernel, _ in group
            if getattr(importlib.import_module("hipflex.dsp." + module), kernel).signatures
        ]
        sys.stderr.write("kernels loaded before the fork: " + " ".join(loaded) + "|\\n")
    return real(*args, **kwargs)

analyze.ordered_map = ordered_map
from hipflex.service.cli import main
status = main(sys.argv[1:])
sys.stderr.write("imported: " + " ".join(m for m in NOT_NEEDED if m in sys.modules) + "|\\n")
raise SystemExit(status)
"""


def test_what_the_first_file_imports_is_imported_before_the_workers_fork(many: Path) -> None:
    """The forked workers inherit the reader's imports instead of each importing them (~40 ms of CPU) again."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE, "analyze", "--json", "--jobs", "2", "s0.csv", "s1.csv"],
        cwd=many, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "before the fork: |" in out.stderr  # none missing
    assert len(json_lines(out.stdout)) == 2


def test_the_workers_inherit_the_kernels_python_calls_and_not_the_main_loops_callees(many: Path) -> None:
    """Loading the main loop's callees (their code comes with its cached code) was ~10 ms of serial start-up."""
    from hipflex.dsp._precompile import GROUPS, LOADED_AT_FIRST_CALL

    warm = cli("analyze", "--json", "--jobs", "1", "s0.csv", "s3.csv", cwd=many)  # numba's cache, both kinds
    assert warm.returncode == 0, warm.stderr
    out = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE, "analyze", "--json", "--jobs", "2", "s0.csv", "s3.csv"],
        cwd=many, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("kernels loaded before the fork:"))
    loaded = set(line.split(":", 1)[1].strip(" |").split())
    every = {f"{module}.{kernel}" for group in GROUPS.values() for module, kernel, _ in group}
    assert loaded == every - LOADED_AT_FIRST_CALL
    assert len(json_lines(out.stdout)) == 2


def test_a_kernel_loaded_at_its_first_call_in_a_forked_worker_gives_the_same_bytes(tmp_path: Path) -> None:
    """A gap just before a stream's end reaches a kernel no process loaded before the workers forked."""
    for seed in range(4):
        s = thigh_session(seed=seed, gyro=seed != 2)
        t = s.time_s
        keep = (t < t[-1] - 1.3) | (t >= t[-1] - 0.3)  # 1 s lost, the stream ends 0.3 s after it
        gyr = None if s.gyr_dps is None else s.gyr_dps[keep]
        write_csv(tmp_path / f"gap{seed}.csv", ImuSamples(t[keep], s.acc_g[keep], gyr))
    reached = subprocess.run(
        [sys.executable, "-c", _REACHES_FIRST_CALL_KERNEL, str(tmp_path / "gap0.csv")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert reached.returncode == 0, reached.stderr
    assert reached.stdout.split() == ["_kern_gap._pg_finish_gyro"]  # the file reaches the kernel left to its first call
    one = cli("analyze", "--json", "--jobs", "1", ".", cwd=tmp_path)
    two = cli("analyze", "--json", "--jobs", "2", ".", cwd=tmp_path)
    assert one.returncode == two.returncode == 0, two.stderr
    assert [d["quality"]["gaps"] for d in json_lines(one.stdout)] == [1, 1, 1, 1]
    assert two.stdout == one.stdout and two.stderr == one.stderr == ""


_REACHES_FIRST_CALL_KERNEL = """
import importlib, sys
from hipflex.dsp import analyze
from hipflex.dsp._precompile import LOADED_AT_FIRST_CALL, load_common
from hipflex.sensor.formats import load_samples

load_common()
analyze(load_samples(sys.argv[1], "auto"))
for name in sorted(LOADED_AT_FIRST_CALL):
    module, kernel = name.split(".")
    if getattr(importlib.import_module("hipflex.dsp." + module), kernel).signatures:
        print(name)
"""


def test_a_folder_of_plain_csv_files_does_not_import_the_other_formats_importers(many: Path) -> None:
    """Looking for a MetaBase or Polar session's companion files imported both (~3 ms of serial CPU) for any folder."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE, "analyze", "--json", "--jobs", "2", "."],
        cwd=many, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr  # empty.csv
    assert "imported: |" in out.stderr  # neither
    assert len(json_lines(out.stdout)) == len(GOOD)


def test_the_imports_objects_are_frozen_out_of_the_collectors_reach_before_any_file(many: Path) -> None:
    """The collector passed over the imports' ~90 k objects ~117 times while they were made (~45 ms of CPU)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE, "analyze", "--json", "--jobs", "1", "s0.csv"],
        cwd=many, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frozen = [int(line.split(":")[1]) for line in out.stderr.splitlines() if line.startswith("frozen objects:")]
    assert frozen and frozen[0] > 20_000, out.stderr  # numpy, numba, the dsp modules and pyarrow


# ------------------------------------------------------------------ folders


def test_a_folder_is_its_recordings_sorted_and_not_its_sub_folders(many: Path) -> None:
    out = cli("analyze", "--json", "folder", cwd=many)
    assert out.returncode == 0, out.stderr
    assert [d["source"] for d in json_lines(out.stdout)] == ["folder/a.csv", "folder/b.csv"]
    assert out.stdout == alone(many, "folder/a.csv", "folder/b.csv")[0]


def test_recursive_adds_sub_folders_but_not_hidden_ones(many: Path) -> None:
    out = cli("analyze", "--json", "--recursive", "folder/", "s0.csv", cwd=many)
    assert out.returncode == 0, out.stderr
    sources = [d["source"] for d in json_lines(out.stdout)]
    assert sources == ["folder/a.csv", "folder/b.csv", "folder/deeper/c.csv", "s0.csv"]


def test_a_folder_without_recordings_is_one_bad_input_line(many: Path) -> None:
    out = cli("analyze", "--json", "s0.csv", "nothing", "s1.csv", cwd=many)
    assert out.returncode == 2
    assert [d["source"] for d in json_lines(out.stdout)] == ["s0.csv", "s1.csv"]
    (line,) = out.stderr.splitlines()
    assert line.startswith("hipflex: nothing: is a directory with no recordings (.csv, .txt, .jsonl)")


def test_a_session_s_companion_files_are_not_analysed_again(tmp_path: Path) -> None:
    names = [
        "Leg _MetaWear_2024-03-01T10.15.00.000_C8_Accelerometer_100.000Hz_1.7.3.csv",
        "Leg_MetaWear_2024-03-01T10.15.00.000_C8_Gyroscope_100.000Hz_1.7.3.csv",
        "Polar_Sense_B5A8C12F_20240301_101500_ACC.txt",
        "Polar_Sense_B5A8C12F_20240301_101500_GYRO.txt",
        "Polar_Sense_B5A8C12F_20240301_101500_MAGN.txt",
        "Polar_Sense_0000_20240301_101500_GYRO.txt",  # no ACC file: the user sees why it fails
        "capture.jsonl",
        "README.TXT",
    ]
    for name in names:
        (tmp_path / name).write_text("x\n")
    got = [Path(e.path).name for e in expand_paths([str(tmp_path)])]
    assert got == sorted([names[0], names[2], names[5], names[6], names[7]])


def test_files_and_missing_paths_pass_through_unchanged(tmp_path: Path) -> None:
    assert expand_paths(["b.csv", "missing/x.csv", "a"]) == [Entry("b.csv"), Entry("missing/x.csv"), Entry("a")]


# ------------------------------------------------------------------ the pool


def test_ordered_map_keeps_input_order_whatever_finishes_first() -> None:
    release = threading.Event()

    def slow_first(i: int) -> int:
        if i == 0:
            release.wait(60.0)  # a safety net: item 0 finishes only after item 5 has been worked on
        if i == 5:
            release.set()
        return i * i

    assert list(ordered_map(slow_first, range(12), jobs=2, window=8)) == [i * i for i in range(12)]


def test_ordered_map_in_processes_runs_the_work_in_forked_workers_in_input_order() -> None:
    # A third of a short file's analysis is Python, which threads run one at a time.
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform: threads")
    parent = os.getpid()

    def slow_here(i: int) -> tuple[int, int]:
        # The calling process works too; slowed down, it leaves most items to the worker.
        if os.getpid() == parent:
            time.sleep(0.05)
        return i * i, os.getpid()

    got = list(ordered_map(slow_here, range(12), jobs=2, window=4, processes=True))
    assert [r for r, _ in got] == [i * i for i in range(12)]
    assert {pid for _, pid in got} - {parent}  # some in a forked worker
    # And the pool is free again for the next call.
    assert list(ordered_map(lambda i: -i, range(3), jobs=2, processes=True)) == [0, -1, -2]


def test_ordered_map_in_processes_lets_the_calling_process_work_too() -> None:
    # jobs - 1 workers and the caller: with the worker stalled, the caller takes the items
    # after the ones queued in the pool and finishes them itself, in input order.
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform: threads")
    parent = os.getpid()

    def stall_in_worker(i: int) -> tuple[int, int]:
        if os.getpid() != parent:
            time.sleep(0.5)
        return -i, os.getpid()

    got = list(ordered_map(stall_in_worker, range(8), jobs=2, window=8, processes=True))
    assert [r for r, _ in got] == [-i for i in range(8)]
    pids = [pid for _, pid in got]
    assert pids.count(parent) >= 4  # the two queued in the pool wait; the caller does the rest
    assert set(pids) - {parent}


def test_ordered_map_in_processes_feeds_a_worker_while_the_caller_works() -> None:
    # A worker gets its next item when it finishes one, not only between the caller's own items:
    # while the caller analyses one long recording, the worker goes through the short ones
    # (before, it held three and then sat idle behind the caller, and the items queued in it at
    # the end were what the caller waited for).
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform: threads")
    parent = os.getpid()
    slept: list[int] = []

    def long_here(i: int) -> tuple[int, int]:
        if os.getpid() == parent and not slept:
            slept.append(i)
            time.sleep(1.5)  # the caller's first item is long; the worker's are short
        return i, os.getpid()

    got = list(ordered_map(long_here, range(8), jobs=2, window=8, processes=True))
    assert [r for r, _ in got] == list(range(8))
    after = [pid != parent for i, pid in got if i > slept[0]]
    assert after and all(after)  # every later item ran in the worker while the caller was busy


def test_ordered_map_in_processes_takes_a_worker_result_that_is_in_before_it_is_awaited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker's future can be finished by the time its callback is added (a fast item): the
    # callback then runs at once in the thread adding it, which holds the lock of the items.
    import concurrent.futures

    class Instant:
        """A pool whose items are finished when submitted (in this process)."""

        def __init__(self, **_: object) -> None:
            pass

        def submit(self, fn: Callable[[int], int], item: int) -> Future[int]:
            done: Future[int] = Future()
            done.set_result(fn(item))
            return done

        def shutdown(self, **_: object) -> None:
            pass

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Instant)
    monkeypatch.setattr(batch_run, "_fork_context", lambda: None)
    got: list[int] = []
    runner = threading.Thread(
        target=lambda: got.extend(ordered_map(lambda i: i * 3, range(10), jobs=2, processes=True)), daemon=True
    )
    runner.start()
    runner.join(30.0)
    assert not runner.is_alive(), "ordered_map deadlocked"
    assert got == [i * 3 for i in range(10)]


def test_ordered_map_in_processes_raises_the_callers_own_failure_in_order() -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform: threads")
    parent = os.getpid()

    def fail_here(i: int) -> int:
        if os.getpid() == parent and i >= 4:
            raise RuntimeError(f"item {i}")
        if os.getpid() != parent:
            time.sleep(0.2)
        return i

    results = ordered_map(fail_here, range(8), jobs=2, window=8, processes=True)
    got = []
    with pytest.raises(RuntimeError, match="item"):
        for r in results:
            got.append(r)
    assert got == list(range(len(got)))


def test_ordered_map_takes_only_a_window_of_items_ahead() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(100):
            taken.append(i)
            yield i

    results = ordered_map(lambda i: i, items(), jobs=2, window=3)
    assert next(results) == 0
    assert len(taken) <= 4  # the window, and the one taken to refill it before handing out item 0
    assert list(results) == list(range(1, 100))
    assert len(taken) == 100


def test_ordered_map_stops_cleanly_when_the_consumer_stops() -> None:
    stopped = threading.Event()
    results = ordered_map(lambda i: i, range(100), jobs=2, window=4, on_stop=stopped.set)
    assert next(results) == 0
    results.close()
    assert stopped.is_set()


# ------------------------------------------------------------------ the progress bar (a real terminal)


def _on_a_terminal(many: Path, *args: str) -> tuple[int, str, str]:
    leader, follower = pty.openpty()
    try:
        out = cli_process("analyze", *args, cwd=many, stderr=follower, env={**os.environ, "TERM": "xterm"})
    finally:
        os.close(follower)
    chunks = []
    try:
        while data := os.read(leader, 65536):
            chunks.append(data)
    except OSError:  # EIO once the pty is drained
        pass
    os.close(leader)
    return out.returncode, out.stdout, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_progress_bar_on_a_terminal_from_four_files_without_asking(many: Path) -> None:
    code, stdout, terminal = _on_a_terminal(many, "--json", *GOOD[:3], "empty.csv")
    assert code == 2
    assert "analysing" in terminal and "empty.csv: file is empty" in terminal
    assert [d["source"] for d in json_lines(stdout)] == GOOD[:3]
    code, stdout, terminal = _on_a_terminal(many, "--json", *GOOD[:3])
    assert code == 0 and terminal == ""


# ------------------------------------------------------------------ real exports


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_folder_of_metabase_exports_gives_one_result_per_session(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "ebbelaar_barbell_wrist_metamotion" / "raw"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    accelerometer = sorted(f.name for f in folder.iterdir() if "_Accelerometer_" in f.name)
    out = cli("analyze", "--json", str(folder), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    docs = json_lines(out.stdout)
    assert [Path(d["source"]).name for d in docs] == accelerometer  # the gyroscope files merged, not analysed again
    assert all(d["sensor"]["gyro"] for d in docs)
    first = cli("analyze", "--json", "--jobs", "1", str(folder / accelerometer[0]), cwd=tmp_path)
    assert out.stdout.startswith(first.stdout)


# ------------------------------------------------------------------ the early parser

_EARLY_PROBE = """
import json, os, sys
from hipflex.service.commands import early_parse

real_start, real_stop = early_parse.start, early_parse.EarlyParse.stop
seen = {"started": False, "files": None}

def start(*args, **kwargs):
    early = real_start(*args, **kwargs)
    seen["started"] = early is not None
    return early

def stop(self):
    if self._parsed is None:  # let it read everything it can, so that the test does not race it
        os.waitid(os.P_PID, self._pid, os.WEXITED | os.WNOWAIT)
    out = real_stop(self)
    seen["files"] = sorted(out)
    return out

early_parse.start, early_parse.EarlyParse.stop = start, stop
from hipflex.service.cli import main
status = main(sys.argv[1:])
with open(os.environ["EARLY_PROBE_OUT"], "w") as fh:
    json.dump(seen, fh)
raise SystemExit(status)
"""


def _probe(many: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``hipflex ARGS`` in a fresh interpreter (where the early parser starts), and what the parser did."""
    report = tmp_path / "early.json"
    out = subprocess.run(
        [sys.executable, "-c", _EARLY_PROBE, *args], cwd=many, capture_output=True, text=True, timeout=300,
        env={**os.environ, "EARLY_PROBE_OUT": str(report)},
    )  # fmt: skip
    return out, json.loads(report.read_text())


@pytest.fixture(scope="module")
def no_time(many: Path) -> str:
    """A recording with a row without its time: the blocks send it to be read whole (which says what is wrong)."""
    lines = (many / "s1.csv").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("time_s")) + 50
    lines[at] = "," + lines[at].split(",", 1)[1]
    (many / "no_time.csv").write_text("\n".join(lines) + "\n")
    return "no_time.csv"


def test_files_read_by_the_early_parser_give_the_bytes_of_one_at_a_time(
    many: Path, tmp_path: Path, no_time: str
) -> None:
    """Two jobs in a fresh process: the files the forked parser read during the imports are analysed from its blocks."""
    order = ["s3.csv", "s0.csv", "empty.csv", no_time, "s4.csv", "missing.csv", "s1.csv", "s2.csv", "s0.csv"]
    out, early = _probe(many, tmp_path, "analyze", "--json", "--jobs", "2", *order)
    want_out, want_err = alone(many, *order)
    assert early["started"]
    # Every good file read in blocks came from the parser; not the empty, missing or timeless ones.
    assert early["files"] == ["s0.csv", "s1.csv", "s2.csv", "s3.csv", "s4.csv"]
    assert out.stdout == want_out
    assert out.stderr == want_err
    assert out.returncode == 2


def test_the_early_parser_reads_a_folder_as_the_command_expands_it(many: Path, tmp_path: Path) -> None:
    out, early = _probe(many, tmp_path, "analyze", "--json", "--jobs", "2", "folder")
    assert early["files"] == [os.path.join("folder", "a.csv"), os.path.join("folder", "b.csv")]
    assert out.returncode == 0
    assert out.stdout == cli("analyze", "--json", "--jobs", "1", "folder", cwd=many).stdout


@pytest.mark.parametrize(
    "args",
    [("--jobs", "1", "s0.csv", "s1.csv"), ("--jobs", "2", "s0.csv")],
    ids=["one_job", "one_file"],
)
def test_no_early_parser_for_one_job_or_one_file(many: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    """One job reads ahead on a thread of its own and analyses one file at a time; one file has nothing to overlap."""
    out, early = _probe(many, tmp_path, "analyze", "--json", *args)
    assert out.returncode == 0, out.stderr
    assert not early["started"] and early["files"] is None

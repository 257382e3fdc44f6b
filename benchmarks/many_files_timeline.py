"""Where the serial time of ``hipflex analyze DIR --json`` goes: a timeline of one run, in CPU time.

Run: ``python benchmarks/many_files_timeline.py DIR [--jobs 1,2] [--rounds 3] [--tree PATH ...]``
(DIR: a folder of recordings, e.g. ``many_files.py --keep DIR``'s).

Each round runs ``hipflex analyze DIR --json --jobs N`` for every ``--jobs`` value (and every
``--tree``, alternating, so that the trees share the machine's load) as a whole process through
this script in ``--child`` mode, which wraps the command's stages before calling
``hipflex.service.cli.main``: the process's CPU time (user + system, all threads, since the
interpreter started) and wall time at the start of the command, after ``_import_analysis``, at
the call of ``ordered_map`` (where ``--jobs 2`` forks), after the loop and at the end; each file's
thread CPU and wall interval, in whichever process ran it (forked workers inherit the wrapper);
the forked workers' CPU (``RUSAGE_CHILDREN`` once the pool is shut down); and the CPU of the
threads other than the main one (pyarrow's parser threads, hipflex's reader threads) from
``/proc/self/task``.

Wall times on a shared machine mostly measure the other work on it, so the summary also gives
an estimate of the wall time on idle cores from the CPU times alone:

- ``--jobs 1``: the process's CPU (``crit``).  pyarrow parses on threads of its own, but the
  main thread mostly waits for them (``blocked``: a file's wall time less its thread CPU and its
  time waiting for a core), so their CPU adds to the wall time; the main thread's CPU alone is
  the lower bound, had they overlapped completely;
- ``--jobs N``: the serial part (CPU before the pool) plus the larger of the loop's CPU in this
  process and in each worker, threads included, plus what follows the loop (``crit``); with the
  loop's CPU shared perfectly, ``even``.

The ratio ``est`` is ``--jobs 1``'s ``crit`` over ``--jobs N``'s, with a range from the main
thread's CPU over ``crit`` to the process's CPU over ``even``; on a loaded machine, where
every CPU time is inflated by a different amount in each round, ``least`` divides ``--jobs 1``'s
least ``crit`` over the rounds by ``--jobs N``'s least serial part plus its least loops' CPU (this
process's and the workers') shared evenly.  Printed per
round: the CPU by stage, the files' CPU per process and the first and last file's wall start in
each process relative to the fork.  ``--tree PATH`` runs a worktree's code (``PYTHONPATH`` set to
``PATH/.mypy_paths``); each child gets a bytecode cache of its own (``PYTHONPYCACHEPREFIX``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_CLK = os.sysconf("SC_CLK_TCK")


def _other_threads_cpu() -> float:
    """CPU seconds of this process's threads other than the calling (main) one, from /proc."""
    me = str(os.getpid())
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if tid == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _CLK


def _run_delay() -> float:
    """Seconds the calling thread has waited for a core while runnable (``/proc/thread-self/schedstat``)."""
    with open("/proc/thread-self/schedstat") as fh:
        return int(fh.read().split()[1]) / 1e9


def _child(log: str, argv: list[str]) -> None:
    """Run ``hipflex`` with ``argv``, writing the marks and file intervals to ``log`` (JSON lines)."""
    import resource

    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def put(**rec: Any) -> None:
        rec.setdefault("pid", os.getpid())
        os.write(fd, (json.dumps(rec) + "\n").encode())

    def mark(name: str) -> None:
        put(ev="mark", name=name, cpu=time.process_time(), thr=time.thread_time(), wall=time.perf_counter())

    mark("start")
    from hipflex.service import cli
    from hipflex.service.commands import analyze

    imp = analyze._import_analysis

    def import_analysis() -> None:
        mark("import.begin")
        imp()
        mark("import.end")

    analyze._import_analysis = import_analysis  # type: ignore[assignment]
    om = analyze.ordered_map

    def ordered_map(fn: Any, items: Any, jobs: int, **kw: Any) -> Any:
        mark("pool.begin")

        def timed(item: Any) -> Any:
            p0, q0, w0, c0 = time.process_time(), _run_delay(), time.perf_counter(), time.thread_time()
            out = fn(item)
            w1, c1, q1 = time.perf_counter(), time.thread_time(), _run_delay()
            put(ev="file", file=item.path, w0=w0, w1=w1, c0=c0, c1=c1, q=q1 - q0, p0=p0)
            return out

        def gen() -> Any:
            yield from om(timed, items, jobs, **kw)
            mark("pool.end")
            ch = resource.getrusage(resource.RUSAGE_CHILDREN)
            me = resource.getrusage(resource.RUSAGE_SELF)
            put(ev="children", cpu=ch.ru_utime + ch.ru_stime, minflt=ch.ru_minflt, self_minflt=me.ru_minflt)

        return gen()

    analyze.ordered_map = ordered_map  # type: ignore[assignment]
    try:  # the early parser (a process forked before the imports): its files and CPU, once stopped
        from hipflex.service.commands import early_parse
    except ImportError:  # a tree without it
        early_parse = None  # type: ignore[assignment]
    if early_parse is not None:
        stop = early_parse.EarlyParse.stop

        def stopped(self: Any) -> Any:
            first = getattr(self, "_parsed", None) is None
            out = stop(self)
            if first:
                put(ev="early", files=self.files, cpu=self.cpu_s)
                mark("early.stop")
            return out

        early_parse.EarlyParse.stop = stopped  # type: ignore[method-assign]
    status = cli.main(argv)
    mark("end")
    put(ev="threads", other=_other_threads_cpu())
    sys.stdout.flush()
    os._exit(status)


def _summary(log: Path) -> dict[str, Any]:
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    main_pid = recs[0]["pid"]
    marks = {r["name"]: r for r in recs if r["ev"] == "mark" and r["pid"] == main_pid}
    files = [r for r in recs if r["ev"] == "file"]
    early = next((r for r in recs if r["ev"] == "early"), {"files": 0, "cpu": 0.0})
    # The early parser is a child too (waited for when stopped): its CPU is not a worker's.
    children = next((r["cpu"] for r in recs if r["ev"] == "children"), 0.0) - early["cpu"]
    other = next(r["other"] for r in recs if r["ev"] == "threads")
    pb, pe, end = marks["pool.begin"], marks["pool.end"], marks["end"]
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for f in files:
        by_pid.setdefault(f["pid"], []).append(f)
    out: dict[str, Any] = {
        "start": marks["start"]["cpu"],
        "imports": marks["import.end"]["cpu"] - marks["import.begin"]["cpu"],
        "serial": pb["cpu"],
        "loop_main": pe["cpu"] - pb["cpu"],
        "loop_main_thread": pe["thr"] - pb["thr"],
        "tail": end["cpu"] - pe["cpu"],
        # this process's CPU from the call of ordered_map to the start of its first file (the
        # pool's imports, the fork): serial too
        "pool_start": min((f["p0"] for f in files if f["pid"] == main_pid), default=pb["cpu"]) - pb["cpu"],
        "workers": children,
        "early_files": early["files"],
        "early_cpu": early["cpu"],
        "other_threads": other,
        "total": end["cpu"] + children,
        "main_thread": end["thr"],
        "wall": end["wall"] - marks["start"]["wall"],
        "procs": {},
    }
    for pid, fs in by_pid.items():
        out["procs"]["main" if pid == main_pid else f"w{pid}"] = {
            "files": len(fs),
            "cpu": sum(f["c1"] - f["c0"] for f in fs),
            # wall - CPU - waiting for a core: the thread slept (waiting for pyarrow's or the reader's threads)
            "blocked": sum((f["w1"] - f["w0"]) - (f["c1"] - f["c0"]) - f["q"] for f in fs),
            "first": min(f["w0"] for f in fs) - pb["wall"],
            "last_end": max(f["w1"] for f in fs) - pb["wall"],
        }
    workers_n = max(1, len(by_pid) - 1)
    if len(by_pid) > 1:
        out["crit"] = out["serial"] + max(out["loop_main"], children / workers_n) + out["tail"]
        out["even"] = out["serial"] + (out["loop_main"] + children) / (workers_n + 1) + out["tail"]
    else:  # the other threads' work mostly runs while the main thread waits for it ("blocked")
        out["crit"] = out["even"] = out["total"]
    return out


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        _child(argv[1], argv[3:] if argv[2] == "--" else argv[2:])
    # Imported here: the child's start-up should be the command's, not this script's.
    import argparse
    import statistics
    import subprocess
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values (1,2)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", action="append", type=Path, help="a worktree to run (repeat; default: this one)")
    a = ap.parse_args(argv)
    jobs = a.jobs.split(",")
    trees = a.tree or [Path(__file__).resolve().parent.parent]
    ref: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="hipflex-timeline-") as tmp:
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for rnd in range(a.rounds + 1):  # round 0: warm-up (bytecode, page cache), not shown
            for tree in trees:
                for j in jobs:
                    env = dict(os.environ)
                    env["PYTHONPATH"] = str(tree / ".mypy_paths")
                    env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pyc", tree.name))
                    env.pop("PYTHONDONTWRITEBYTECODE", None)
                    log = Path(tmp, f"{tree.name}-{j}-{rnd}.log")
                    cmd = [sys.executable, __file__, "--child", str(log), "--",
                           "analyze", str(a.folder), "--json", "--jobs", j]  # fmt: skip
                    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr.decode()[-2000:])
                    if ref.setdefault("out", done.stdout) != done.stdout:
                        raise SystemExit(f"{tree} --jobs {j}: output differs from the first run's")
                    if rnd:
                        results.setdefault((tree.name, j), []).append(_summary(log))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; outputs identical")
        for rnd in range(a.rounds):
            print(f"round {rnd + 1}:")
            for tree in trees:
                base = results[(tree.name, "1")][rnd] if "1" in jobs else None
                for j in jobs:
                    s = results[(tree.name, j)][rnd]
                    ratio = ""
                    if base is not None and j != "1":
                        one, lo = base["total"], base["main_thread"]
                        ratio = f" est {one / s['crit']:.2f}x ({lo / s['crit']:.2f}x-{one / s['even']:.2f}x)"
                    procs = "; ".join(
                        f"{k} {v['files']} files {v['cpu']:.2f} s blocked {v['blocked']:.2f} s "
                        f"first {v['first']:.3f} last end {v['last_end']:.2f}"
                        for k, v in s["procs"].items()
                    )
                    print(
                        f"  {tree.name:>14} jobs={j}: wall {s['wall']:.2f} total cpu {s['total']:.2f} | serial "
                        f"{s['serial']:.3f} (interp {s['start']:.3f}, imports {s['imports']:.3f}) pool start "
                        f"{s['pool_start']:.3f} loop "
                        f"{s['loop_main']:.2f} (main thread {s['loop_main_thread']:.2f}) workers {s['workers']:.2f} "
                        f"tail {s['tail']:.3f} other threads {s['other_threads']:.2f} early parser "
                        f"{s['early_files']} files {s['early_cpu']:.3f} s | crit {s['crit']:.2f}{ratio}"
                    )
                    print(f"  {'':>14}   {procs}")
        print("medians over the rounds:")
        for tree in trees:
            for j in jobs:
                rs = results[(tree.name, j)]
                med = {key: statistics.median(r[key] for r in rs) for key in ("serial", "pool_start", "crit", "even")}
                imb = statistics.median(abs(r["loop_main"] - r["workers"]) for r in rs) if j != "1" else 0.0
                line = " ".join(f"{key} {v:.3f}" for key, v in med.items())
                if "1" in jobs and j != "1":
                    ests = [b["crit"] / r["crit"] for b, r in zip(results[(tree.name, "1")], rs, strict=True)]
                    line += f" imbalance {imb:.3f} est {statistics.median(ests):.2f}x"
                    # Other work on the machine only adds CPU: each part's least over the rounds.
                    least_one = min(b["crit"] for b in results[(tree.name, "1")])
                    least = min(r["serial"] for r in rs) + min(r["loop_main"] + r["workers"] for r in rs) / int(j)
                    line += f" | least: {least_one:.3f} / {least:.3f} = {least_one / least:.2f}x"
                print(f"  {tree.name:>14} jobs={j}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

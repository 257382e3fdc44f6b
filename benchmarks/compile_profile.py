"""Where a first run's compile goes: CPU seconds per kernel numba compiles, group by group.

Run: ``python benchmarks/compile_profile.py [--mode=gyro|--mode=acc] [GROUP ...]`` (default: every
group of :data:`hipflex.dsp._precompile.GROUPS`, in the order the command's process meets them;
``--mode``: only the kernels a first run on a recording of that mode compiles,
:func:`hipflex.dsp._precompile.groups`).

In one process with a fresh temporary ``NUMBA_CACHE_DIR`` (so nothing loads from a cache and the
repository's caches are untouched), each group is compiled as :mod:`hipflex.dsp._precompile`
does, and numba's compile events (``numba.core.event``, ``numba:compile``) are timed with
``time.thread_time``: ``self`` is a function's own compile, its callees' compiles subtracted,
``incl`` includes them.  numba's own helpers compiled on the way (``np.empty``, ``min``, ...) are
listed too: they are part of the cost.  CPU time, so a busy machine inflates it less than wall
time (by 10-20 % at load average 10-15 on 2 cores, measured).

The last line is machine-readable: ``compile_profile: <group> <s> ... total <s>``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    modes = {"--mode=gyro": True, "--mode=acc": False}
    gyro = next((modes[name] for name in names if name in modes), None)
    names = [name for name in names if name not in modes]
    with tempfile.TemporaryDirectory(prefix="hipflex-compile-") as tmp:
        os.environ["NUMBA_CACHE_DIR"] = tmp  # before numba is imported
        t0 = time.process_time()
        from numba.core import event

        from hipflex.dsp._precompile import GROUPS, compile_kernel, groups

        import_s = time.process_time() - t0
        stack: list[list[float]] = []
        rows: list[tuple[str, float, float]] = []

        class _Timer(event.Listener):
            def on_start(self, ev: Any) -> None:
                stack.append([time.thread_time(), 0.0])

            def on_end(self, ev: Any) -> None:
                start, nested = stack.pop()
                spent = time.thread_time() - start
                if stack:
                    stack[-1][1] += spent
                func = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
                module = (getattr(func, "__module__", "") or "?").replace("hipflex.dsp.", "")
                rows.append((f"{module}.{getattr(func, '__qualname__', '?')}", spent - nested, spent))

        event.register("numba:compile", _Timer())
        # The command's order (hipflex.service.first_run): the main loop's callees before it.
        first = ["reps", "step", "rep_ends", "entry", "frame", "side"]
        order = names or [*first, *(name for name in GROUPS if name not in first)]
        mode = {True: "gyro", False: "acc", None: "both"}[gyro]
        print(f"imports {import_s:.2f} s CPU; mode {mode}; groups in order: {' '.join(order)}")
        totals = []
        for name in order:
            g0, n0 = time.process_time(), len(rows)
            for module, kernel, args in groups(gyro)[name]:
                compile_kernel(module, kernel, args)
            spent = time.process_time() - g0
            totals.append(f"{name} {spent:.2f}")
            print(f"\n{name}: {spent:.2f} s CPU")
            for label, own, incl in rows[n0:]:
                print(f"  {label:60s} self {own:6.2f}  incl {incl:6.2f}")
        total = time.process_time() - t0
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"compile_profile: {' '.join(totals)} total {total:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

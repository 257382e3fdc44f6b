"""The analysis kernels by compile group, with the argument types the analysis calls them with.

A first run compiles the kernels (numba's on-disk cache keeps them for later
runs).  Compiling is single-threaded in numba, so the service splits the work
over two processes (:mod:`hipflex.service.first_run`): the command's own process
compiles the ``reps`` group (the largest of the three the main loop calls), and
its first compile starts a helper process, ``python -m hipflex.dsp._precompile
step rep_ends side frame``, which compiles those groups into the cache
(``rep_ends`` loads the rep metrics the command has cached by then); once the
helper has written ``step`` and ``rep_ends``, the command compiles the ``entry``
group (the main loop), whose compile loads the groups it calls from the cache
instead of compiling them again, and then takes the helper's last kernels until
the two meet.  The helper's start-up (an interpreter, numpy, numba) is then not
on the way to the main loop, and the two processes' shares of the work stay
close (about 7-8 s of CPU each for one mode on this project's 2-core machine).

Each signature is the one the analysis itself compiles (contiguous float64
arrays, an int64 state array), so nothing is compiled that the analysis does
not use; ``tests/dsp/test_precompile.py`` checks that after the groups the
analysis of a recording with gyro and one without compiles nothing more.

A recording is analysed with a gyro or without one, and the kernels of
:data:`ONLY` serve one of the two (the main loop is compiled once per mode,
``dsp/_kern_mode.py``): a first run on a recording whose mode is known compiles
:func:`groups` of that mode only (``--mode=gyro``, ``--mode=acc`` for the
helper), and the first run on a recording of the other mode compiles the rest.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from numba import types

__all__ = [
    "DONE",
    "GROUPS",
    "LOADED_AT_FIRST_CALL",
    "ONLY",
    "compile_group",
    "compile_kernel",
    "groups",
    "load_all",
    "load_common",
]

_F = types.float64
_I = types.int64
_A1 = types.float64[::1]  # contiguous float64 vector
_A2 = types.float64[:, ::1]  # C-contiguous float64 matrix
_KERN = (_A1, _A1, types.int64[::1], _A2)  # prm, fstate, ist, hist (dsp/_layout.py)
_OPEN_GAP = (*_KERN, _A2, _I, _F, _F, _F, _F, _I, types.boolean, types.boolean, _F)

#: Group name -> (module, kernel, argument types), in compile order.
GROUPS: dict[str, tuple[tuple[str, str, tuple[Any, ...]], ...]] = {
    # The per-sample step and what it calls (the accelerometer-only filter, the
    # post-gap window's end, either mode's axis watch): called by the main loop,
    # not inlined into it (the gyro tilt filter, compiled here, is inlined by
    # LLVM into the main loop and the lock scan).  Most are one mode's (ONLY).
    "step": (
        ("_kern_filters", "_tilt_step_called", (_A1, _A1, _F, _F, _F, _F, _F, _F, _F, types.boolean)),
        ("_kern_pendulum", "_pendulum_step", (_A1, _A1, _F, _F, _F, _F, _I)),
        ("_kern_gap_acc", "_apg_snap", (_A1,)),
        ("_kern_gap_acc", "_apg_finish", _KERN),
        ("_kern_gap", "_pg_finish_gyro", _KERN),
        ("_kern_pendulum", "_pendulum_reanchor", (_A1,)),
        ("_kern_axis", "_decide", (*_KERN, _I, _I, _F)),
        ("_kern_axis", "_held_row", (*_KERN, _I, _F, _I, _F, types.boolean)),
        ("_kern_axis", "_yaw_step", (*_KERN, _I)),
        ("_kern_axis_acc", "_acc_decide", (*_KERN, _I, _I, _F)),
        ("_kern_axis_acc", "_acc_hold", (*_KERN, _I, _F, _I, _F, _F, _F, _F, _I)),
        ("_kern_axis_acc", "_acc_watch", (*_KERN, _I, _F, _F, _F, _F, _I)),
    ),
    # The rep detector's calls from the main loop: catching up after a window, with
    # the rep metrics under it ...
    "reps": (
        # (a rise's peak on a gap's bridge: rare, called from the detector)
        ("_kern_gap", "_peak_drawn_in_gap", (types.int64[::1], _A2, _I, _F, _I, _I)),
        ("_kern_reps", "_catch_up", (*_KERN, _A2, _I, _I)),
    ),
    # ... and ending or carrying a rep over a gap (their compile loads the rep
    # metrics that ``reps`` cached), and the main loop's gap block that calls them.
    "rep_ends": (
        ("_kern_reps", "_interrupt", (*_KERN, _A2, _I, _F)),
        ("_kern_reps", "_carry", (*_KERN, _A2, _I)),
        ("_kern_run", "_open_gap_gyro", _OPEN_GAP),
        ("_kern_run", "_open_gap_acc", _OPEN_GAP),
    ),
    # Called from Python, independent of the main loop: the learning phase and
    # the timeline.
    "side": (
        ("quiet_window", "_scan_quiet", (_A1, _A2, _A2, types.boolean, _F, _F, _F, _F, _A1)),
        # The stillest-window search (quiet_window._scan_stillest, from Python): the bounds, then the
        # windows they leave.
        ("_kern_still", "_lower_bounds", (_A1, _A2, _A2, types.boolean, _F, _F, _F, _F, _I, types.int64[::1], _A1)),
        ("quiet_window", "_score_below", (_A1, _A2, _A2, types.boolean, _F, _F, _F, _A1, types.int64[::1], _A1)),
        ("learn", "_scan_lock_gyro", (_A1, _A2, _A2, _A1, _A1, _F, _A1)),
        ("learn", "_scan_lock_acc", (_A1, _A2, _A2, _A1, _A1, _F, _A1)),
        ("_kern_time", "_spread", (_A1,)),
        ("_kern_time", "_bootstrap_period", (_A1, _A1)),
        ("_kern_time", "_retime", (_A1, _A1, _A1)),
        ("_kern_time", "_median_head", (_A1, _I)),
        # The lever sums the set descriptions read (every chunk with a gyro) and the
        # rest-pose revision's angle blocks (the first 15 minutes).
        ("lever_sums", "_lever_block_sums", (_A2, _A2, types.int64[::1], _A2)),
        # ... and without a gyro, from the angle's rate (every accelerometer-only chunk).
        ("angle_rate_lever", "_rate_block_sums", (_A1, _A1, _F, _F, _A2, types.int64[::1], _A2)),
        ("rest_pose", "_block_stats", (_A1, _A1, _F, _I, _A2)),
        ("rest_pose", "_scan_dwells", (_A2, _A1, _A1, _A1, _I, _I, _F, _I, _I, _A1)),
        # The boundary check of every chunk's values.
        ("validate", "_any_inf", (_A1,)),
    ),
    # The gyro frame check at the end of the learning phase (also from Python).
    "frame": (
        ("_kern_gyro_frame", "_lowpass_rows", (_A1, _A2, _F, _A2)),
        ("_kern_gyro_frame", "_model_rows", (_A1, _A2, _A2, _A2, _A1, _F, _F, _I, _A2)),
        ("_kern_gyro_frame", "_fit_lever", (_A2, _A2, _I)),
    ),
    # The main loop (its compile loads the step and reps groups from the cache).
    # The end of a stream (_kern_run._finish) is Python calling the kernels above.
    "entry": (
        ("_kern_run", "_run_chunk_gyro", (*_KERN, _A1, _A2, _A2, _A1, _A2)),
        ("_kern_run", "_run_chunk_acc", (*_KERN, _A1, _A2, _A2, _A1, _A2)),
    ),
}

#: The kernels only one mode compiles, as ``module.kernel``: True, only with a gyro; False, only
#: without one.  Rows of :data:`GROUPS` and the kernels they alone call (for the progress count).
ONLY: dict[str, bool] = {
    "_kern_filters._tilt_step_called": True,
    "learn._scan_lock_gyro": True,
    "_kern_gap._pg_finish_gyro": True,
    "_kern_axis._decide": True,
    "_kern_axis._held_row": True,
    "_kern_axis._yaw_step": True,
    "_kern_run._open_gap_gyro": True,
    "lever_sums._lever_block_sums": True,
    "_kern_gyro_frame._lowpass_rows": True,
    "_kern_gyro_frame._model_rows": True,
    "_kern_gyro_frame._fit_lever": True,
    "_kern_run._run_chunk_gyro": True,
    "_kern_pendulum._pendulum_step": False,
    "_kern_gap_acc._apg_finish": False,
    "_kern_gap_acc._stride_rows": False,
    "_kern_gap_acc._restart": False,
    "_kern_gap_acc._rerun": False,
    "_kern_gap_acc._state_from_row": False,
    "_kern_axis_acc._refilter": False,
    "_kern_pendulum._pendulum_reanchor": False,
    "_kern_axis_acc._acc_decide": False,
    "_kern_axis_acc._acc_hold": False,
    "_kern_axis_acc._acc_watch": False,
    "_kern_reps._carry": False,
    "_kern_run._open_gap_acc": False,
    "angle_rate_lever._rate_block_sums": False,
    "learn._scan_lock_acc": False,
    "_kern_run._run_chunk_acc": False,
}


def groups(gyro: bool | None) -> dict[str, tuple[tuple[str, str, tuple[Any, ...]], ...]]:
    """:data:`GROUPS` without the kernels of the other mode (``gyro``: with a gyro; None: every kernel)."""
    if gyro is None:
        return GROUPS
    return {
        name: tuple(row for row in rows if ONLY.get(f"{row[0]}.{row[1]}", gyro) == gyro)
        for name, rows in GROUPS.items()
    }


#: The line the helper writes after each group (``DONE`` + group name).
DONE = "=done "


def compile_group(name: str, gyro: bool | None = None) -> None:
    """Compile (or load from numba's cache) every kernel of group ``name`` (a key of :data:`GROUPS`).

    ``gyro``: only the kernels of that mode (:func:`groups`); None, all of them.
    """
    for module, kernel, args in groups(gyro)[name]:
        compile_kernel(module, kernel, args)


def load_all(gyro: bool | None = None) -> None:
    """Compile (or load from numba's cache) every kernel of every group.

    ``gyro``: only the kernels of that mode (:func:`groups`); None, all of them.
    """
    for name in GROUPS:
        compile_group(name, gyro)


#: Kernels of :data:`GROUPS` (``module.kernel``) that :func:`load_common` leaves to their first
#: call.  Most are called only by other kernels: a caller's cached code holds its callees'
#: code, so a process that loads the main loop from numba's cache never calls (nor loads) these
#: dispatchers.  The others are called from Python only on rare paths (a gap at a stream's end,
#: a rise's peak on a gap's bridge, a long timeline's median).  None was called in the analysis
#: of 100 simulated sessions of 1-3 minutes (benchmarks/many_files.py); loading them took ~10 of
#: the ~30 ms that ``hipflex analyze DIR`` spent loading kernels before forking its workers,
#: serial time that no core shortens (benchmarks/README.md, manyfiles8).
LOADED_AT_FIRST_CALL: frozenset[str] = frozenset({
    "_kern_filters._tilt_step_called",
    "_kern_pendulum._pendulum_step",
    "_kern_pendulum._pendulum_reanchor",
    "_kern_gap_acc._apg_snap",
    "_kern_gap_acc._apg_finish",
    "_kern_gap._pg_finish_gyro",
    "_kern_gap._peak_drawn_in_gap",
    "_kern_axis._decide",
    "_kern_axis._held_row",
    "_kern_axis._yaw_step",
    "_kern_axis_acc._acc_decide",
    "_kern_axis_acc._acc_hold",
    "_kern_axis_acc._acc_watch",
    "_kern_reps._carry",
    "_kern_run._open_gap_gyro",
    "_kern_run._open_gap_acc",
    "_kern_time._median_head",
})  # fmt: skip


def load_common(gyro: bool | None = None) -> None:
    """Load (or compile) the kernels an analysis calls from Python, e.g. before forking workers.

    The forked workers inherit them instead of each loading them from numba's cache again;
    the kernels of :data:`LOADED_AT_FIRST_CALL` are loaded, in whichever process, only where
    a recording reaches them.  ``gyro``: only the kernels of that mode (:func:`groups`); None,
    both modes'.
    """
    for rows in groups(gyro).values():
        for module, kernel, args in rows:
            if f"{module}.{kernel}" not in LOADED_AT_FIRST_CALL:
                compile_kernel(module, kernel, args)


def compile_kernel(module: str, kernel: str, args: tuple[Any, ...]) -> None:
    """Compile (or load from numba's cache) one row of :data:`GROUPS`."""
    dispatcher = getattr(importlib.import_module(f"hipflex.dsp.{module}"), kernel)
    dispatcher.compile(args)


def _main(argv: list[str]) -> int:
    """``python -m hipflex.dsp._precompile [--mode=gyro|--mode=acc] GROUP...``: compile the groups.

    Writes one line per hipflex kernel numba compiles (``hipflex.dsp.module.name``,
    callees included) to stdout, for the calling process's progress line, and
    :data:`DONE` and the group's name after each group.
    """
    from numba.core import event

    class _Said(event.Listener):
        def on_start(self, ev: Any) -> None:
            pass

        def on_end(self, ev: Any) -> None:
            func = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
            module = getattr(func, "__module__", "") or ""
            if module.startswith("hipflex."):
                sys.stdout.write(f"{module}.{getattr(func, '__qualname__', '?')}\n")
                sys.stdout.flush()

    event.register("numba:compile", _Said())
    modes = {"--mode=gyro": True, "--mode=acc": False}
    gyro = next((modes[arg] for arg in argv if arg in modes), None)
    for name in (arg for arg in argv if arg not in modes):
        compile_group(name, gyro)
        sys.stdout.write(DONE + name + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

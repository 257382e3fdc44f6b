"""Which kernels a run of ``hipflex analyze`` needs compiled: the recordings' mode, and whether they are ready.

A first run compiles only the kernels of its recordings' mode (with a gyro or without one) when their
CSV headers tell it (:func:`recordings_mode`), and :func:`kernels_ready` tells ``preparing``
(:mod:`hipflex.service.first_run`) when they are compiled.  Split from
:mod:`hipflex.service.commands.analyze`; only the standard library is imported at module level
(see :mod:`hipflex.service.commands`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hipflex.sensor.format_spec import LoadOptions
    from hipflex.service.commands.batch_run import Entry

__all__ = ["MODE_PROBES", "kernels_ready", "recordings_mode"]

#: ``analyze`` reads the headers of at most this many recordings for their mode (more: both modes).
MODE_PROBES = 8


def recordings_mode(entries: list[Entry], fmt: str, options: LoadOptions) -> bool | None:
    """Whether every recording has a gyro (True) or none has (False), from their CSV headers.

    None when they differ, are more than :data:`MODE_PROBES`, or a file is not a CSV read
    in blocks (its columns are known only once it is loaded): the first run then compiles
    the kernels of both modes.  A file with a problem is skipped (it is not analysed).
    """
    from hipflex.sensor.formats import open_blocks

    if len(entries) > MODE_PROBES:
        return None
    modes = set()
    for entry in entries:
        if entry.problem is not None:
            continue
        try:
            blocks = open_blocks(entry.path, fmt, options)
        except Exception:
            # Only a guess of which kernels to compile first: the file's own analysis reads it
            # again and reports its problem in its one line, with its name.
            return None
        if blocks is None:
            return None
        modes.add(blocks.has_gyro)
        blocks.close()
    return modes.pop() if len(modes) == 1 else None


def kernels_ready(gyro: bool | None = None) -> bool:
    """Whether the kernels of the recordings' mode (``gyro``; None, both modes) are now compiled and cached.

    False when nothing was analysed (every file was bad input).  For both modes: after
    a first run on recordings of one kind only (acc-only, say), the other kind's kernels
    are compiled here, still under the notice, so that a later run on the other kind
    does not compile unannounced.  For one mode, the other's first run says so itself
    (its marker is missing, ``hipflex.service.first_run``).
    """
    from hipflex.dsp._kern_gyro_frame import _fit_lever
    from hipflex.dsp._kern_run import _run_chunk_acc, _run_chunk_gyro

    loops = (_run_chunk_gyro, _run_chunk_acc) if gyro is None else (_run_chunk_gyro if gyro else _run_chunk_acc,)
    compiled = [bool(getattr(loop, "signatures", ())) for loop in loops]
    if not any(compiled):
        return False
    if gyro is None and not (all(compiled) and bool(getattr(_fit_lever, "signatures", ()))):
        from hipflex.service.live_analysis import warm_up

        warm_up().result()  # a short simulated session with and without gyro
    return True

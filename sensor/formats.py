"""File formats: one registry from format name to loader.

``load_samples(path, fmt="auto", options)`` is the single entry point that turns a
recording on disk into :class:`~hipflex.dsp.types.ImuSamples`.  Each format is a
:class:`~hipflex.sensor.format_spec.FileFormat` (a name, a loader, a sniffer); the
built-in ones (:data:`BUILTIN_FORMATS`: plain CSV, the capture log, MetaBase, Polar Sensor
Logger) come from modules that each expose ``FORMATS``.  Adding
an importer means writing that module and adding it to the tuple (or calling
:func:`register_format` from a plugin or a test).  The registry imports the importers,
never the other way round: they build on :mod:`hipflex.sensor.format_spec`.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture import replay
from hipflex.sensor.files import csv_io, import_metabase, import_polar_logger
from hipflex.sensor.format_spec import FileFormat, InputError, LoadCancelled, LoadOptions, read_head

__all__ = [
    "AUTO",
    "BUILTIN_FORMATS",
    "FALLBACK_FORMAT",
    "format_names",
    "get_format",
    "load_samples",
    "register_format",
    "sniff_format",
]

#: The built-in formats, in sniffing order.
BUILTIN_FORMATS: tuple[FileFormat, ...] = (
    *csv_io.FORMATS,
    *replay.FORMATS,
    *import_metabase.FORMATS,
    *import_polar_logger.FORMATS,
)

#: Format name meaning "recognise the file from its contents".
AUTO = "auto"
#: Format used when no sniffer recognises a file; its errors name the expected columns.
FALLBACK_FORMAT = "csv"


@functools.cache
def _registry() -> dict[str, FileFormat]:
    """Format name -> format, built on first use from :data:`BUILTIN_FORMATS`."""
    return {fmt.name: fmt for fmt in BUILTIN_FORMATS}


def register_format(fmt: FileFormat, *, replace: bool = False) -> None:
    """Add a format to the registry (sniffed after the ones already there).

    Parameters
    ----------
    fmt : FileFormat
        The format to add.
    replace : bool
        Allow replacing a format of the same name.
    """
    table = _registry()
    if fmt.name == AUTO or (fmt.name in table and not replace):
        raise ValueError(f"format name {fmt.name!r} is already taken")
    table[fmt.name] = fmt


def format_names() -> list[str]:
    """Registered format names in sniffing order."""
    return list(_registry())


def get_format(name: str) -> FileFormat:
    """The format called ``name``; ``ValueError`` naming the known ones otherwise."""
    table = _registry()
    if name not in table:
        raise ValueError(f"unknown format {name!r}; known formats: {', '.join([AUTO, *table])}")
    return table[name]


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not a recording (give the files inside it)")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(path, f"cannot be opened ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(path, "file is empty")


def sniff_format(path: Path) -> FileFormat:
    """The first registered format whose sniffer accepts the file, else the fallback."""
    head = read_head(path)
    for fmt in _registry().values():
        try:
            if fmt.sniff(path, head):
                return fmt
        except Exception:  # a broken sniffer must not hide the other formats
            continue
    return get_format(FALLBACK_FORMAT)


def load_samples(path: str | Path, fmt: str = AUTO, options: LoadOptions | None = None) -> ImuSamples:
    """Read one recording.

    Parameters
    ----------
    path : str or Path
        The file.
    fmt : str
        A registered format name, or ``"auto"`` to recognise it from its
        contents (with a column mapping, ``auto`` means the generic CSV reader).
    options : LoadOptions, optional
        Column mapping and other loader options.

    Returns
    -------
    ImuSamples
        Time in the file's own time base, acceleration in g, angular rate in
        deg/s (or ``None``).

    Raises
    ------
    InputError
        Any problem with the file; the message names the file and the problem.
    ValueError
        An unknown format name, or a column mapping for a format without one.
    """
    path = Path(path)
    options = options or LoadOptions()
    if fmt == AUTO and options.columns is not None:
        fmt = FALLBACK_FORMAT
    chosen = None if fmt == AUTO else get_format(fmt)
    if chosen is not None and options.columns is not None and not chosen.column_mapping:
        raise ValueError(f"format {chosen.name!r} does not take a column mapping")
    _check_path(path)
    if chosen is None:
        chosen = sniff_format(path)
    if options.cancel is not None and options.cancel.is_set():
        raise LoadCancelled(f"{path}: loading cancelled")
    return chosen.load(path, options)

"""File formats: one registry from format name to loader.

``load_samples(path, fmt="auto", options)`` is the single entry point that turns a
recording on disk into :class:`~hipflex.dsp.types.ImuSamples`.  Each format is a
:class:`~hipflex.sensor.format_spec.FileFormat` (a name, a loader, a sniffer); the
built-in ones (plain CSV, the capture log, MetaBase, Polar Sensor Logger, in that sniffing
order) come from modules that each expose ``FORMATS``; each module is imported only when
sniffing or a lookup reaches it, so ``hipflex analyze`` on a plain CSV never imports the
others.  Adding an importer means writing that module and adding it to
:func:`_builtin_modules` (or calling :func:`register_format` from a plugin or a test).  The
registry imports the importers, never the other way round: they build on
:mod:`hipflex.sensor.format_spec`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.format_spec import FileFormat, InputError, LoadCancelled, LoadOptions, read_head

if TYPE_CHECKING:
    from hipflex.sensor.files.csv_stream import CsvBlocks

__all__ = [
    "AUTO",
    "FALLBACK_FORMAT",
    "format_names",
    "get_format",
    "load_samples",
    "open_blocks",
    "register_format",
    "sniff_format",
]


def _csv_io() -> ModuleType:
    from hipflex.sensor.files import csv_io

    return csv_io


def _replay() -> ModuleType:
    from hipflex.sensor.capture import replay

    return replay


def _metabase() -> ModuleType:
    from hipflex.sensor.files import import_metabase

    return import_metabase


def _polar_logger() -> ModuleType:
    from hipflex.sensor.files import import_polar_logger

    return import_polar_logger


def _builtin_modules() -> tuple[Callable[[], ModuleType], ...]:
    """The built-in importers in sniffing order, each imported when first called."""
    # Plain function-level imports (not importlib strings): the layer test sees them.
    return (_csv_io, _replay, _metabase, _polar_logger)


#: Format name meaning "recognise the file from its contents".
AUTO = "auto"
#: Format used when no sniffer recognises a file; its errors name the expected columns.
FALLBACK_FORMAT = "csv"


@functools.cache
def _registry() -> dict[str, FileFormat]:
    """Format name -> format, built on first use from every built-in module."""
    return {fmt.name: fmt for module in _builtin_modules() for fmt in module().FORMATS}


def _in_order() -> Iterator[FileFormat]:
    """Every format in sniffing order, importing a built-in module only when it is reached.

    Once the registry is built (a format registered, or all names asked for) it is the order.
    """
    if _registry.cache_info().currsize:
        yield from _registry().values()
        return
    for module in _builtin_modules():
        yield from module().FORMATS


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
    for fmt in _in_order():
        if fmt.name == name:
            return fmt
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
    for fmt in _in_order():
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


def open_blocks(path: str | Path, fmt: str = AUTO, options: LoadOptions | None = None) -> CsvBlocks | None:
    """A CSV recording as checked blocks of samples, to analyse it without holding all of it.

    Parameters
    ----------
    path, fmt, options
        As for :func:`load_samples`.

    Returns
    -------
    CsvBlocks or None
        Iterating yields :class:`~hipflex.dsp.types.ImuSamples` blocks that, joined, are what
        :func:`load_samples` returns, or raises
        :class:`~hipflex.sensor.files.csv_stream.MustReadWhole` (then use :func:`load_samples`,
        which also gives every error message).  ``None`` when the file is not one that is read
        in blocks (another format, a problem found before reading): use :func:`load_samples`.
    """
    path = Path(path)
    options = options or LoadOptions()
    if options.cancel is not None and options.cancel.is_set():
        return None
    if fmt == AUTO and options.columns is not None:
        fmt = FALLBACK_FORMAT
    try:
        chosen = None if fmt == AUTO else get_format(fmt)
        _check_path(path)
        if chosen is None:
            chosen = sniff_format(path)
    except (InputError, ValueError):
        return None
    if chosen not in _csv_io().FORMATS:
        return None
    from hipflex.sensor.files.csv_stream import open_csv_blocks

    return open_csv_blocks(path, options)

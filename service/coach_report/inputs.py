"""What a report is made of: a recording file or a stored session, analysed, with its angle trace and side.

A report input is a path when such a file exists, else the id of a session in the SQLite database
(``hipflex serve``'s ``--db``).  A stored session is analysed again from its raw sample log with the
session's own settings: the same analysis and angle the dashboard shows for it.

The side (left or right thigh) is, in this order: what the command line says (``--left``/``--right``),
a stored session's ``side``, or a file name holding the word ``left`` or ``right`` (delimited by
anything but a letter: ``ana_left.csv``, ``right-thigh.txt``, not ``bright.csv``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from hipflex.dsp.types import Analysis, ImuSamples
from hipflex.service.errors import ServiceLayerError

if TYPE_CHECKING:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.format_spec import LoadOptions

__all__ = ["ReportInput", "ReportInputError", "Side", "load_file", "load_input", "side_from_name"]

Side = Literal["left", "right"]

_SIDE_WORD = re.compile(r"(?<![a-z])(left|right)(?![a-z])", re.IGNORECASE)


class ReportInputError(ServiceLayerError, ValueError):
    """A report input cannot be used; the one-line message names the input and the problem."""


@dataclass(frozen=True)
class ReportInput:
    """One analysed recording of a report.

    Parameters
    ----------
    name : str
        The input as given (a path or a session id).
    title : str
        What the report calls it: a file's name, or a session's label and short id.
    kind : str
        ``file`` or ``session``.
    side : str or None
        ``left``, ``right`` or unknown.
    analysis : Analysis
    time_s : ndarray
        Row times of the angle trace, s.
    angle_deg : ndarray
        Flexion angle per row, deg (NaN where unknown).
    """

    name: str
    title: str
    kind: Literal["file", "session"]
    side: Side | None
    analysis: Analysis
    time_s: np.ndarray
    angle_deg: np.ndarray


def side_from_name(name: str) -> Side | None:
    """``left`` or ``right`` when the file name (not its folders) holds exactly one of the words, else None."""
    words = {m.lower() for m in _SIDE_WORD.findall(Path(name).name)}
    if words == {"left"}:
        return "left"
    if words == {"right"}:
        return "right"
    return None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def load_input(
    name: str, db_path: Path, fmt: str, options: LoadOptions, settings: Settings, side: Side | None = None
) -> ReportInput:
    """Load and analyse one input (see the module docs); ``side`` overrides what the input says.

    Raises
    ------
    ReportInputError
        The input is neither a readable, analysable recording nor a finished stored session.
    """
    path = Path(name)
    if path.is_dir():
        raise ReportInputError(f"{name}: is a folder; give recording files or stored session ids")
    if path.is_file():
        return load_file(name, fmt, options, settings, side)
    return _load_session(name, db_path, side)


def load_file(name: str, fmt: str, options: LoadOptions, settings: Settings, side: Side | None = None) -> ReportInput:
    """Load and analyse one recording file; the side is ``side``, else from its name (:func:`side_from_name`).

    Raises
    ------
    ReportInputError
        The file cannot be read or analysed.
    """
    from hipflex import __version__
    from hipflex.sensor.formats import load_samples

    path = Path(name)
    analysis, time_s, angle = _analyse(name, lambda: load_samples(path, fmt, options), settings, name)
    analysis = dataclasses.replace(analysis, version=__version__)
    return ReportInput(name, path.name, "file", side or side_from_name(name), analysis, time_s, angle)


def _analyse(
    name: str, load: Callable[[], ImuSamples], settings: Settings, source: str
) -> tuple[Analysis, np.ndarray, np.ndarray]:
    from hipflex.dsp.pipeline import analyze_with_angle
    from hipflex.sensor.format_spec import InputError

    try:
        samples = load()
        analysis, angle = analyze_with_angle(samples, settings, source=source)
    except InputError as exc:  # its message names the file already
        raise ReportInputError(_one_line(exc)) from None
    except ValueError as exc:  # the core rejects what it cannot analyse
        raise ReportInputError(f"{name}: {_one_line(exc)}") from None
    return analysis, np.asarray(samples.time_s, dtype=np.float64), angle


def _load_session(name: str, db_path: Path, side: Side | None) -> ReportInput:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.sensor.formats import load_samples
    from hipflex.service.store import Store

    if not db_path.is_file():
        raise ReportInputError(f"{name}: no such file, and no database at {db_path} to look it up as a session id")
    _check_database(name, db_path)
    store = Store(db_path)
    try:
        record = store.get_session(name)
    finally:
        store.close()
    if record is None:
        raise ReportInputError(f"{name}: no such file or stored session (database {db_path})")
    if record.status == "running":
        raise ReportInputError(f"{name}: the session is still running; make the report once it has stopped")
    raw_log = Path(record.raw_log)
    if not raw_log.is_file():
        raise ReportInputError(f"{name}: the session's raw sample log {raw_log} is gone")
    try:
        settings = Settings(**record.settings)
    except (TypeError, ValueError) as exc:
        raise ReportInputError(f"{name}: the session's stored settings are not usable: {_one_line(exc)}") from None
    analysis, time_s, angle = _analyse(name, lambda: load_samples(raw_log, "csv"), settings, raw_log.name)
    title = f"{record.label} ({record.id[:8]})" if record.label else f"session {record.id[:8]}"
    return ReportInput(name, title, "session", side or _side(record.side), analysis, time_s, angle)


def _check_database(name: str, db_path: Path) -> None:
    """Refuse a file that is not a hipflex database of this schema, reading only: a report never changes it
    (:class:`~hipflex.service.store.Store` would create its tables in any SQLite file, or migrate an old one)."""
    import sqlite3

    from hipflex.service.store import SCHEMA_VERSION

    try:
        db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            has_sessions = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ReportInputError(f"{name}: cannot read the database {db_path}: {_one_line(exc)}") from None
    if not has_sessions:
        raise ReportInputError(f"{name}: no such file, and {db_path} is not a hipflex database")
    if version != SCHEMA_VERSION:
        raise ReportInputError(
            f"{name}: the database {db_path} has schema version {version}, this hipflex reads {SCHEMA_VERSION} "
            "(open it once with this hipflex's 'serve' to bring it up to date)"
        )


def _side(text: str | None) -> Side | None:
    if text == "left":
        return "left"
    return "right" if text == "right" else None

"""Start-up of a server's data: the lock, the temporary folder, and a database check.

:func:`prepare_data` runs before a server opens its store: it takes the
:class:`~hipflex.service.datalock.DataLock` (one server per database),
empties the server's temporary folder (uploads a killed server left), and
checks the database with ``PRAGMA quick_check``.  A damaged file (garbage, a
bare or truncated header, damaged pages) is moved aside as
``<name>.corrupt-<UTC time>`` together with its ``-wal`` and ``-shm`` files,
and a fresh database is started, with a warning naming where the old one went.
A valid SQLite file that is not a hipflex database, or one from a newer
hipflex, is refused with :class:`DatabaseRefused` (one line): it is the
person's file, not ours to move.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hipflex.service.datalock import DataLock
from hipflex.service.errors import ServiceLayerError
from hipflex.service.settings import ServiceSettings
from hipflex.service.store import SCHEMA_VERSION

__all__ = ["DataCheck", "DatabaseRefused", "check_database", "prepare_data", "remove_tmp"]

log = logging.getLogger("hipflex.service")

#: Tables of a hipflex database (any other table in a version-0 file means a foreign database).
_OUR_TABLES = frozenset({"provenance", "devices", "sessions", "sets", "reps", "sqlite_sequence"})


class DatabaseRefused(ServiceLayerError, RuntimeError):
    """The database file is not one this server may use; the message is one line."""


@dataclass(frozen=True)
class DataCheck:
    """What :func:`check_database` found."""

    moved_to: Path | None  # where a damaged database was moved, if it was
    problem: str | None  # what was wrong with it


def _problem(path: Path) -> str | None:
    """None for a healthy database (or none at all), else what is wrong; raises DatabaseRefused."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        # Read-write (the lock makes us its only user): a read-only open of a database whose WAL a killed
        # server left behind could fail, and a healthy database must never be taken for a damaged one.
        db = sqlite3.connect(str(path), timeout=5.0)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in rows] != [("ok",)]:
            return f"quick_check: {'; '.join(str(r[0]) for r in rows[:3])}"
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()
    if version > SCHEMA_VERSION:
        raise DatabaseRefused(
            f"database {path} has schema version {version}, newer than this hipflex understands ({SCHEMA_VERSION})"
        )
    if version == 0 and tables - _OUR_TABLES:
        raise DatabaseRefused(f"{path} is not a hipflex database (it has other tables); choose another --db")
    return None


def check_database(path: Path) -> DataCheck:
    """Check ``path`` and move it aside when it is damaged (see the module docs).

    Raises
    ------
    DatabaseRefused
        A foreign database, or one from a newer hipflex.
    """
    path = Path(path)
    problem = _problem(path)
    if problem is None:
        return DataCheck(None, None)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(moved.with_name(moved.name + suffix))
    return DataCheck(moved, " ".join(problem.split()))


def remove_tmp(settings: ServiceSettings) -> None:
    """Remove the server's temporary folder (uploads in progress or left by a killed server)."""
    shutil.rmtree(settings.upload_tmp_dir, ignore_errors=True)


def prepare_data(settings: ServiceSettings, lock: DataLock) -> DataCheck:
    """Lock the database, empty the temporary folder, check the database.

    Raises
    ------
    DataFolderLocked
        Another server holds the lock (the message names its PID).
    DatabaseRefused
    """
    lock.acquire()
    try:
        remove_tmp(settings)
        check = check_database(settings.db_path)
    except BaseException:
        lock.release()
        raise
    if check.moved_to is not None:
        log.warning(
            "the database %s was damaged (%s); it was moved to %s and a new one started",
            settings.db_path, check.problem, check.moved_to,
        )  # fmt: skip
    return check

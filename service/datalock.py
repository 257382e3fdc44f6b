"""One server per database: an exclusive lock on ``<db>.lock`` for as long as a server runs.

Two servers on one database each "recovered" the other's running sessions
(issue 15).  The lock is an ``flock`` on a file beside the database: the
kernel releases it when its holder exits, even after ``kill -9``, so a stale
lock file never blocks a restart.  The holder writes its PID into the file,
so whoever is refused can be told which process holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from hipflex.service.errors import ServiceLayerError

__all__ = ["DataFolderLocked", "DataLock"]


class DataFolderLocked(ServiceLayerError, RuntimeError):
    """Another server uses this database; the message is one line naming its PID."""


class DataLock:
    """An exclusive, non-blocking lock of a database for this process.

    Parameters
    ----------
    path : Path
        The lock file (created with its folder).
    db_path : Path
        The database it protects (named in messages).
    """

    def __init__(self, path: Path, db_path: Path) -> None:
        self.path = Path(path)
        self.db_path = Path(db_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> DataLock:
        """Take the lock, or raise :class:`DataFolderLocked` at once (never waits)."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DataFolderLocked(
                f"another hipflex server (PID {holder}) is using {self.db_path}; stop it or use another --db"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (the file stays; a lock file without a holder blocks nobody)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> DataLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

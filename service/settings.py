"""Settings of the local API server (:class:`ServiceSettings`).

A frozen dataclass, built by the CLI from its options or by a test; nothing
here reads the environment at import time.  Only the standard library and the
analysis :class:`~hipflex.dsp.analysis_settings.Settings` are imported, so the CLI can
build settings without importing FastAPI.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hipflex.dsp.analysis_settings import Settings

__all__ = [
    "LOOPBACK_NAMES",
    "ServiceSettings",
    "default_data_dir",
    "is_loopback_host",
]

#: Host names that always mean this machine.
LOOPBACK_NAMES: frozenset[str] = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def default_data_dir() -> Path:
    """Per-user data folder: ``$XDG_DATA_HOME/hipflex`` (default ``~/.local/share/hipflex``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hipflex"


def is_loopback_host(host: str) -> bool:
    """True when ``host`` (a bind address or a Host header name) is this machine only.

    ``0.0.0.0`` and ``::`` (all interfaces) are not loopback.
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _data_path(name: str) -> Path:
    return default_data_dir() / name


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the API server needs to know.

    Attributes
    ----------
    host : str
        Bind address.  Loopback (the default ``127.0.0.1``) needs no token;
        any other address requires :attr:`token`.
    port : int
        TCP port (0 picks a free one).
    db_path : Path
        SQLite database (WAL mode); created with its folder on start-up.
    capture_dir : Path
        Folder for each session's raw sample log (``<session id>.csv``).
    token : str or None
        Bearer token required on every request and stream when set (header
        ``Authorization: Bearer <token>``, or ``?token=`` for WebSocket, SSE
        and the dashboard page, which then sets a cookie).  ``None`` is only
        allowed on a loopback host; see :meth:`with_token`.
    cors_origins : tuple of str
        Extra browser origins allowed to call the API (default none: the
        dashboard is served from the same origin).
    max_upload_bytes : int
        Largest upload accepted by ``POST /api/v1/analyze``, bytes.
    max_body_bytes : int
        Largest body of any other request, bytes.
    analysis : Settings
        Analysis settings of live sessions and uploads (a session may override
        ``min_rom_deg`` and ``set_gap_s``).
    replay_dirs : tuple of Path or None
        Folders a replay session may read from besides :attr:`capture_dir`
        (always allowed; relative replay paths are read from it).  Nothing
        outside these folders is ever read, whatever the bind.
    client_queue : int
        Messages buffered per stream client; a client that falls this far
        behind is dropped (angle messages are skipped from half full).
    angle_rate_hz : float
        Rate of the decimated angle trace sent to stream clients, Hz.
    max_sessions : int
        Most sessions running at once.
    ble_backend : str or None
        Emulated Bluetooth sensors instead of the OS's adapter, in the syntax of
        ``HIPFLEX_BLE_BACKEND`` (``fake:h10``, ``bumble:all,speed=10``; see
        :mod:`hipflex.sensor.emulate.world`).  ``None`` (the default) uses the real radio.
    analysis_workers : int
        Threads that parse and analyse uploads and replayed files (a pool of
        their own: the routes never wait behind them).
    analysis_waiting : int
        Uploads or replays admitted to wait for a thread; beyond, the server
        answers 503 (bounds the memory of many concurrent uploads).
    header_timeout_s : float
        A request's headers must arrive within this time, and its body must
        not stall longer, or the connection is closed, seconds.
    max_connections : int
        Connections open at once; a new one beyond is closed at once (keeps
        file descriptors for the sessions and the database).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    db_path: Path = field(default_factory=lambda: _data_path("hipflex.db"))
    capture_dir: Path = field(default_factory=lambda: _data_path("captures"))
    token: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    analysis: Settings = field(default_factory=Settings)
    replay_dirs: tuple[Path, ...] | None = None
    client_queue: int = 512
    angle_rate_hz: float = 25.0
    max_sessions: int = 64
    ble_backend: str | None = None
    analysis_workers: int = 2
    analysis_waiting: int = 4
    header_timeout_s: float = 10.0
    max_connections: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "db_path", Path(self.db_path))
        object.__setattr__(self, "capture_dir", Path(self.capture_dir))
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        if self.replay_dirs is not None:
            object.__setattr__(self, "replay_dirs", tuple(Path(p) for p in self.replay_dirs))
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.token is not None and len(self.token) < 8:
            raise ValueError("token must be at least 8 characters")
        for name in ("max_upload_bytes", "max_body_bytes", "client_queue", "max_sessions", "analysis_workers",
                     "max_connections"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if not 0 < self.header_timeout_s <= 3600:
            raise ValueError("header_timeout_s must be in (0, 3600]")
        if self.analysis_waiting < 0:
            raise ValueError("analysis_waiting must not be negative")
        if not 0 < self.angle_rate_hz <= 1000:
            raise ValueError("angle_rate_hz must be in (0, 1000]")

    @property
    def loopback(self) -> bool:
        """True when the server binds to this machine only."""
        return is_loopback_host(self.host)

    @property
    def lock_path(self) -> Path:
        """The lock file that keeps a second server off this database (``<db>.lock``)."""
        return self.db_path.with_name(self.db_path.name + ".lock")

    @property
    def upload_tmp_dir(self) -> Path:
        """The server's own temporary folder (``<db>.tmp``), emptied at start and at shutdown."""
        return self.db_path.with_name(self.db_path.name + ".tmp")

    @property
    def requires_token(self) -> bool:
        """True when requests must carry :attr:`token`."""
        return self.token is not None or not self.loopback

    def with_token(self) -> ServiceSettings:
        """A copy with a freshly generated token when one is required but missing."""
        if self.token is None and not self.loopback:
            return dataclasses.replace(self, token=secrets.token_urlsafe(24))
        return self

    def allowed_replay_dirs(self) -> tuple[Path, ...]:
        """Folders replay may read from: the capture folder first (relative paths), then :attr:`replay_dirs`.

        Whatever the bind: on loopback any local process (and, through a
        configured CORS origin, a web page) can call the API, so no bind may
        read arbitrary files.
        """
        return (self.capture_dir, *(self.replay_dirs or ()))

    def replace(self, **changes: object) -> ServiceSettings:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

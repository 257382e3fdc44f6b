"""The embedded SQLite store: sessions, sets, reps, devices and settings provenance.

One connection in WAL mode, shared by the event loop and the session worker
threads behind a lock (every call is a short statement or transaction).  The
schema version is SQLite's ``user_version``; :data:`MIGRATIONS` brings an
older file up to date on open.

Rep and set rows hold the contract fields exactly as the analysis JSON has
them (rounded as :meth:`hipflex.dsp.types.Rep.to_dict` rounds), so REST,
CSV and JSON exports agree.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hipflex.dsp.types import Analysis, Rep, RepSet

__all__ = [
    "MIGRATIONS",
    "REP_FIELDS",
    "SCHEMA_VERSION",
    "SET_FIELDS",
    "SessionRecord",
    "Store",
    "people_numbers",
    "utc_now",
]


def people_numbers(set_index: int, rep_index: int, number: int) -> dict[str, int]:
    """The 1-based numbers people read beside the 0-based positions (one numbering with the tables and exports)."""
    return {"set_number": set_index + 1, "rep_number": rep_index + 1, "rep_number_in_session": number + 1}


#: Contract fields of a rep, in order (the CSV export columns after set_index/number).
REP_FIELDS: tuple[str, ...] = (
    "index", "start_s", "peak_s", "end_s", "peak_flexion_deg", "rom_deg", "flexion_time_s",
    "peak_flexion_velocity_dps", "mean_flexion_velocity_dps", "hold_s", "confidence",
)  # fmt: skip
#: Contract fields of a set (without its reps).
SET_FIELDS: tuple[str, ...] = (
    "index", "start_s", "end_s", "rep_count", "cadence_rpm", "velocity_loss_pct", "hidden_peaks_s",
)  # fmt: skip
_SET_INSERT = (
    "INSERT OR REPLACE INTO sets (session_id, set_index, start_s, end_s, rep_count, cadence_rpm, "
    "velocity_loss_pct, hidden_peaks_json, closed, drill_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE provenance (
        id INTEGER PRIMARY KEY,
        settings_json TEXT NOT NULL,
        hipflex_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (settings_json, hipflex_version)
    );
    CREATE TABLE devices (
        address TEXT PRIMARY KEY,
        name TEXT,
        kind TEXT NOT NULL DEFAULT 'unknown',
        rssi_dbm INTEGER,
        battery_pct INTEGER,
        last_seen TEXT NOT NULL
    );
    CREATE TABLE sessions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        source TEXT NOT NULL,
        label TEXT,
        side TEXT,
        device_address TEXT,
        params_json TEXT NOT NULL,
        provenance_id INTEGER NOT NULL REFERENCES provenance (id),
        raw_log TEXT NOT NULL,
        has_gyro INTEGER,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        sample_count INTEGER NOT NULL DEFAULT 0,
        first_sample_s REAL,
        last_sample_s REAL,
        analysis_json TEXT,
        error TEXT
    );
    CREATE INDEX sessions_status ON sessions (status);
    CREATE TABLE sets (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        set_index INTEGER NOT NULL,
        start_s REAL, end_s REAL, rep_count INTEGER NOT NULL,
        cadence_rpm REAL, velocity_loss_pct REAL,
        closed INTEGER NOT NULL,
        PRIMARY KEY (session_id, set_index)
    );
    CREATE TABLE reps (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        set_index INTEGER NOT NULL,
        rep_index INTEGER NOT NULL,
        start_s REAL, peak_s REAL, end_s REAL,
        peak_flexion_deg REAL, rom_deg REAL, flexion_time_s REAL,
        peak_flexion_velocity_dps REAL, mean_flexion_velocity_dps REAL,
        hold_s REAL, confidence REAL,
        PRIMARY KEY (session_id, number)
    );
    """,
    # 2: swings hidden in lost packets, counted in rep_count (hipflex.dsp.sets.hidden_peaks).
    "ALTER TABLE sets ADD COLUMN hidden_peaks_json TEXT NOT NULL DEFAULT '[]'",
    # 3: what the set was (analysis schema 2: drill, pose, movement); null until the analysis names it.
    "ALTER TABLE sets ADD COLUMN drill_json TEXT",
)
SCHEMA_VERSION = len(MIGRATIONS)


def utc_now() -> str:
    """Current time as ISO 8601 UTC with milliseconds (``2024-05-02T10:00:00.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SessionRecord:
    """One row of the sessions table, with its settings provenance."""

    id: str
    status: str
    source: str
    label: str | None
    side: str | None
    device_address: str | None
    params: dict[str, Any]
    settings: dict[str, Any]
    hipflex_version: str
    raw_log: str
    has_gyro: bool | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    sample_count: int
    first_sample_s: float | None
    last_sample_s: float | None
    analysis: dict[str, Any] | None
    error: str | None
    rep_count: int
    set_count: int


def _rep_values(rep: dict[str, Any]) -> list[Any]:
    return [rep[f] for f in REP_FIELDS[1:]]


def _set_values(session_id: str, d: dict[str, Any], closed: bool) -> tuple[Any, ...]:
    """Row for :data:`_SET_INSERT` from a set's contract dict."""
    return (session_id, d["index"], d["start_s"], d["end_s"], d["rep_count"], d["cadence_rpm"],
            d["velocity_loss_pct"], json.dumps(d["hidden_peaks_s"]), int(closed),
            None if d.get("drill") is None else json.dumps(d["drill"]))  # fmt: skip


class Store:
    """The SQLite store.

    Parameters
    ----------
    path : Path
        Database file (its folder is created); ``":memory:"`` for tests.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # ------------------------------------------------------------------ plumbing

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database {self.path} has schema version {version}, newer than this hipflex "
                    f"understands ({SCHEMA_VERSION})"
                )
            for v in range(version, SCHEMA_VERSION):
                self._db.executescript(f"BEGIN; {MIGRATIONS[v]}; PRAGMA user_version = {v + 1}; COMMIT;")

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ sessions

    def _provenance_id(self, db: sqlite3.Connection, settings: dict[str, Any], version: str) -> int:
        text = json.dumps(settings, sort_keys=True)
        db.execute(
            "INSERT OR IGNORE INTO provenance (settings_json, hipflex_version, created_at) VALUES (?, ?, ?)",
            (text, version, utc_now()),
        )
        row = db.execute(
            "SELECT id FROM provenance WHERE settings_json = ? AND hipflex_version = ?", (text, version)
        ).fetchone()
        return int(row[0])

    def create_session(
        self,
        *,
        source: str,
        params: dict[str, Any],
        settings: dict[str, Any],
        version: str,
        raw_log_dir: Path,
        label: str | None = None,
        side: str | None = None,
        device_address: str | None = None,
        session_id: str | None = None,
    ) -> SessionRecord:
        """Insert a new ``running`` session; its raw log is ``raw_log_dir/<id>.csv``."""
        sid = session_id or uuid.uuid4().hex
        raw_log = str(Path(raw_log_dir).resolve() / f"{sid}.csv")
        now = utc_now()
        with self._tx() as db:
            pid = self._provenance_id(db, settings, version)
            db.execute(
                "INSERT INTO sessions (id, status, source, label, side, device_address, params_json, "
                "provenance_id, raw_log, created_at, started_at) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, source, label, side, device_address, json.dumps(params), pid, raw_log, now, now),
            )
        record = self.get_session(sid)
        assert record is not None
        return record

    _SESSION_SELECT = (
        "SELECT s.*, p.settings_json, p.hipflex_version, "
        "(SELECT COUNT(*) FROM reps r WHERE r.session_id = s.id) + "
        "(SELECT COALESCE(SUM(json_array_length(t.hidden_peaks_json)), 0) FROM sets t WHERE t.session_id = s.id) "
        "AS rep_count, "
        "(SELECT COUNT(*) FROM sets t WHERE t.session_id = s.id) AS set_count "
        "FROM sessions s JOIN provenance p ON p.id = s.provenance_id"
    )

    @staticmethod
    def _record(row: sqlite3.Row) -> SessionRecord:
        return SessionRecord(
            id=row["id"],
            status=row["status"],
            source=row["source"],
            label=row["label"],
            side=row["side"],
            device_address=row["device_address"],
            params=json.loads(row["params_json"]),
            settings=json.loads(row["settings_json"]),
            hipflex_version=row["hipflex_version"],
            raw_log=row["raw_log"],
            has_gyro=None if row["has_gyro"] is None else bool(row["has_gyro"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            sample_count=int(row["sample_count"]),
            first_sample_s=row["first_sample_s"],
            last_sample_s=row["last_sample_s"],
            analysis=None if row["analysis_json"] is None else json.loads(row["analysis_json"]),
            error=row["error"],
            rep_count=int(row["rep_count"]),
            set_count=int(row["set_count"]),
        )

    def get_session(self, session_id: str) -> SessionRecord | None:
        """One session, or ``None``."""
        rows = self._query(self._SESSION_SELECT + " WHERE s.id = ?", (session_id,))
        return self._record(rows[0]) if rows else None

    def list_sessions(
        self, limit: int = 50, offset: int = 0, status: str | None = None
    ) -> tuple[list[SessionRecord], int]:
        """A page of sessions, newest first, and the total count."""
        where, args = ("", []) if status is None else (" WHERE s.status = ?", [status])
        rows = self._query(self._SESSION_SELECT + where + " ORDER BY s.seq DESC LIMIT ? OFFSET ?",
                           [*args, limit, offset])  # fmt: skip
        total = self._query("SELECT COUNT(*) FROM sessions s" + where, args)[0][0]
        return [self._record(r) for r in rows], int(total)

    def session_ids_with_status(self, status: str) -> list[str]:
        """Ids of sessions in one status, oldest first."""
        return [r[0] for r in self._query("SELECT id FROM sessions WHERE status = ? ORDER BY seq", (status,))]

    def update_progress(
        self, session_id: str, sample_count: int, first_s: float | None, last_s: float | None, has_gyro: bool
    ) -> None:
        """Record how far a running session has got."""
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET sample_count = ?, first_sample_s = ?, last_sample_s = ?, has_gyro = ? "
                "WHERE id = ?",
                (sample_count, first_s, last_s, int(has_gyro), session_id),
            )

    # ------------------------------------------------------------------ live results

    def add_rep(self, session_id: str, number: int, set_index: int, rep: Rep) -> None:
        """Store one completed rep (idempotent on its number)."""
        d = rep.to_dict()
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO reps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, number, set_index, d["index"], *_rep_values(d)),
            )

    def clear_results(self, session_id: str) -> None:
        """Forget a running session's reps and sets (its analysis was revised and reports them again)."""
        with self._tx() as db:
            db.execute("DELETE FROM reps WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sets WHERE session_id = ?", (session_id,))

    def put_set(self, session_id: str, rep_set: RepSet, closed: bool) -> None:
        """Insert or update a set summary."""
        with self._tx() as db:
            db.execute(_SET_INSERT, _set_values(session_id, rep_set.to_dict(), closed))

    def finish_session(
        self,
        session_id: str,
        status: str,
        analysis: Analysis | None,
        sample_count: int,
        error: str | None = None,
        ended_at: str | None = None,
        sample_span_s: tuple[float, float] | None = None,
    ) -> None:
        """Close a session: replace its sets and reps with the final analysis and set its status.

        ``sample_span_s`` is the time of the first and last sample, when known.
        """
        first, last = sample_span_s if sample_span_s is not None else (None, None)
        doc = None if analysis is None else analysis.to_dict()
        with self._tx() as db:
            if analysis is not None:
                db.execute("DELETE FROM reps WHERE session_id = ?", (session_id,))
                db.execute("DELETE FROM sets WHERE session_id = ?", (session_id,))
                number = 0
                for s in analysis.sets:
                    sd = s.to_dict()
                    db.execute(_SET_INSERT, _set_values(session_id, sd, True))
                    for rd in sd["reps"]:
                        db.execute(
                            "INSERT INTO reps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (session_id, number, s.index, rd["index"], *_rep_values(rd)),
                        )
                        number += 1
            db.execute(
                "UPDATE sessions SET status = ?, ended_at = ?, analysis_json = ?, sample_count = ?, "
                "has_gyro = COALESCE(?, has_gyro), error = COALESCE(?, error), "
                "first_sample_s = COALESCE(?, first_sample_s), last_sample_s = COALESCE(?, last_sample_s) "
                "WHERE id = ?",
                (
                    status,
                    ended_at or utc_now(),
                    None if doc is None else json.dumps(doc, allow_nan=False),
                    sample_count,
                    None if analysis is None else int(analysis.has_gyro),
                    error,
                    first,
                    last,
                    session_id,
                ),
            )

    def sets(self, session_id: str) -> list[dict[str, Any]]:
        """Set summaries of a session (contract fields plus ``closed``), in order."""
        rows = self._query("SELECT * FROM sets WHERE session_id = ? ORDER BY set_index", (session_id,))
        return [
            {
                "index": r["set_index"],
                "start_s": r["start_s"],
                "end_s": r["end_s"],
                "rep_count": r["rep_count"],
                "cadence_rpm": r["cadence_rpm"],
                "velocity_loss_pct": r["velocity_loss_pct"],
                "hidden_peaks_s": json.loads(r["hidden_peaks_json"]),
                "drill": None if r["drill_json"] is None else json.loads(r["drill_json"]),
                "closed": bool(r["closed"]),
            }
            for r in rows
        ]

    def reps(self, session_id: str) -> list[dict[str, Any]]:
        """Reps of a session in order: ``set_index``, ``number`` and the contract fields."""
        rows = self._query("SELECT * FROM reps WHERE session_id = ? ORDER BY number", (session_id,))
        return [
            {"set_index": r["set_index"], "number": r["number"],
             **people_numbers(r["set_index"], r["rep_index"], r["number"]),
             "index": r["rep_index"], **{f: r[f] for f in REP_FIELDS[1:]}}
            for r in rows
        ]  # fmt: skip

    # ------------------------------------------------------------------ devices

    def upsert_device(
        self,
        address: str,
        name: str | None,
        kind: str,
        rssi_dbm: int | None = None,
        battery_pct: int | None = None,
    ) -> None:
        """Remember a device seen by a scan or a connection."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO devices (address, name, kind, rssi_dbm, battery_pct, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET "
                "name = COALESCE(excluded.name, name), kind = excluded.kind, "
                "rssi_dbm = COALESCE(excluded.rssi_dbm, rssi_dbm), "
                "battery_pct = COALESCE(excluded.battery_pct, battery_pct), last_seen = excluded.last_seen",
                (address, name, kind, rssi_dbm, battery_pct, utc_now()),
            )

    def devices(self) -> list[dict[str, Any]]:
        """Every remembered device, most recently seen first."""
        return [dict(r) for r in self._query("SELECT * FROM devices ORDER BY last_seen DESC")]

    def device(self, address: str) -> dict[str, Any] | None:
        """One remembered device, or ``None``."""
        rows = self._query("SELECT * FROM devices WHERE address = ?", (address,))
        return dict(rows[0]) if rows else None

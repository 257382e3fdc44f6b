"""Crash recovery, and the message history of sessions that are no longer running.

A session still marked ``running`` when the server starts was interrupted
(the server was killed).  :func:`recover_sessions` re-analyses its raw sample
log through the same pipeline, with the session's own settings, stores the
result and marks it ``recovered``.  The log holds every chunk that reached
the pipeline, so the recovered reps are those of all samples written before
the kill.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hipflex.dsp import analyze
from hipflex.dsp.analysis_settings import Settings
from hipflex.service.messages import status_message
from hipflex.service.rawlog import repair_log
from hipflex.service.store import SessionRecord, Store

__all__ = ["ended_session_messages", "recover_session", "recover_sessions"]

log = logging.getLogger("hipflex.service")


def _mtime_iso(path: Path) -> str | None:
    try:
        ts = path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def recover_session(store: Store, record: SessionRecord) -> None:
    """Re-analyse one interrupted session from its raw log and mark it ``recovered``."""
    from hipflex.sensor.format_spec import InputError
    from hipflex.sensor.formats import load_samples

    path = Path(record.raw_log)
    if not path.exists():
        store.finish_session(record.id, "recovered", None, 0, error="interrupted before any sample was logged")
        return
    try:
        repair_log(path)
        samples = load_samples(path, "csv")
        analysis = analyze(samples, Settings(**record.settings), source=path.name)  # as a live session names it
    except (InputError, ValueError) as exc:
        store.finish_session(
            record.id, "recovered", None, record.sample_count,
            error=f"interrupted; raw log not analysable: {' '.join(str(exc).split())}",
            ended_at=_mtime_iso(path),
        )  # fmt: skip
        return
    span = (float(samples.time_s[0]), float(samples.time_s[-1]))
    store.finish_session(record.id, "recovered", analysis, len(samples), ended_at=_mtime_iso(path), sample_span_s=span)


def recover_sessions(store: Store) -> list[str]:
    """Recover every session left ``running``; returns their ids."""
    done = []
    for sid in store.session_ids_with_status("running"):
        record = store.get_session(sid)
        if record is None:
            continue
        try:
            recover_session(store, record)
        except Exception:  # one bad session must not keep the server from starting
            log.exception("could not recover session %s", sid)
            store.finish_session(sid, "failed", None, record.sample_count, error="recovery failed")
        done.append(sid)
        log.info("recovered interrupted session %s", sid)
    return done


#: Keys of a stored rep row that place it in the session (not contract rep fields).
_POSITION_KEYS = ("set_index", "number", "set_number", "rep_number", "rep_number_in_session")


def ended_session_messages(store: Store, record: SessionRecord) -> list[dict[str, Any]]:
    """Stream messages replaying a finished session: its reps, its sets, a final status."""
    msgs: list[dict[str, Any]] = []
    reps = store.reps(record.id)
    by_set: dict[int, list[dict[str, Any]]] = {}
    for r in reps:
        by_set.setdefault(r["set_index"], []).append(r)
    for s in store.sets(record.id):
        set_reps = []
        for r in by_set.get(s["index"], []):
            rep = {k: v for k, v in r.items() if k not in _POSITION_KEYS}
            set_reps.append(rep)
            msgs.append({"type": "rep", **{k: r[k] for k in _POSITION_KEYS}, "rep": rep,
                         "received_at": None})  # fmt: skip
        body = {k: v for k, v in s.items() if k != "closed"}
        msgs.append({"type": "set", "set": {**body, "reps": set_reps}, "received_at": None})
    msgs.append(status_message("stopped", None, record.rep_count, session_status=record.status))
    for seq, m in enumerate(msgs, start=1):
        m["seq"] = seq
    return msgs

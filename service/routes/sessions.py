"""Sessions: start, stop, list, summary, sets, reps and exports."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from hipflex.service.deps import ManagerDep, StoreDep, session_or_404
from hipflex.service.live import LiveSession, SessionManager, SessionSpec
from hipflex.service.schemas import AnalysisOut, ErrorOut, RepRow, SessionCreate, SessionOut, SessionPage, SetRow
from hipflex.service.store import REP_FIELDS, SessionRecord

__all__ = ["CSV_COLUMNS", "router", "session_out"]

router = APIRouter(prefix="/sessions", tags=["sessions"])

#: Columns of ``export.csv``: one row per rep.  A table for people, so its numbers count from 1 and
#: say so, as in the dashboard, the CLI tables and ``analyze --out``: ``set_number``, ``rep_number``
#: (within its set) and ``rep_number_in_session``; the JSON documents keep their 0-based ``index``.
CSV_COLUMNS: tuple[str, ...] = ("set_number", "rep_number", "rep_number_in_session", *REP_FIELDS[1:])

SessionId = Annotated[str, Path(min_length=1, max_length=64, description="Session id.")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Unknown session."}}
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Invalid request, unreadable recording, or path not allowed."},
    429: {"model": ErrorOut, "description": "Too many sessions running."},
    503: {"model": ErrorOut, "description": "Device session without Bluetooth."},
}


def session_out(record: SessionRecord, live: LiveSession | None) -> SessionOut:
    """The summary of a session, with live progress while it runs."""
    analysis = record.analysis or {}
    return SessionOut.model_validate(
        {
            "id": record.id,
            "status": record.status,
            "live_state": live.live_state if live is not None else None,
            "source": record.source,
            "label": record.label,
            "side": record.side,
            "device_address": record.device_address,
            "params": record.params,
            "created_at": record.created_at,
            "started_at": record.started_at,
            "ended_at": record.ended_at,
            "rep_count": record.rep_count,
            "set_count": record.set_count,
            "sample_count": live.worker.rows if live is not None else record.sample_count,
            "first_sample_s": record.first_sample_s,
            "last_sample_s": live.worker.last_s if live is not None else record.last_sample_s,
            "sample_rate_hz": analysis.get("sample_rate_hz"),
            "quality": analysis.get("quality"),
            "settings": record.settings,
            "hipflex_version": record.hipflex_version,
            "raw_log": PurePath(record.raw_log).name,  # in the capture folder; no server paths in replies
            "error": record.error,
        }
    )


def _summary(store: StoreDep, manager: SessionManager, session_id: str) -> SessionOut:
    return session_out(session_or_404(store, session_id), manager.live(session_id))


@router.post("", status_code=201, summary="Start a live session", responses=_CREATE_ERRORS)
async def create_session(body: SessionCreate, manager: ManagerDep, request: Request) -> SessionOut:
    """Start streaming from the simulator, a recording, or a connected sensor.

    Follow it live on ``GET /api/v1/sessions/{id}/events`` (SSE) or the
    WebSocket ``/api/v1/sessions/{id}/ws``.
    """
    spec = SessionSpec(**body.model_dump())
    record = await manager.start(spec, request.is_disconnected)  # a hang-up stops loading a recording
    return session_out(record, manager.live(record.id))


@router.get("", summary="List sessions, newest first")
async def list_sessions(
    store: StoreDep,
    manager: ManagerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    status: Annotated[Literal["running", "stopped", "failed", "recovered"] | None, Query()] = None,
) -> SessionPage:
    """A page of sessions (``limit``, ``offset``), optionally of one ``status``."""
    records, total = await asyncio.to_thread(store.list_sessions, limit, offset, status)
    items = [session_out(r, manager.live(r.id)) for r in records]
    return SessionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{session_id}", summary="A session's summary", responses=_NOT_FOUND)
async def get_session(session_id: SessionId, store: StoreDep, manager: ManagerDep) -> SessionOut:
    """Status, source, device, times, rep count, quality and the settings used."""
    return await asyncio.to_thread(_summary, store, manager, session_id)


@router.post("/{session_id}/stop", summary="Stop a session", responses=_NOT_FOUND)
async def stop_session(session_id: SessionId, store: StoreDep, manager: ManagerDep) -> SessionOut:
    """Stop the source, analyse everything received, store the final result.

    Stopping a session that already ended returns it unchanged.
    """
    session_or_404(store, session_id)
    await manager.stop(session_id)
    return await asyncio.to_thread(_summary, store, manager, session_id)


@router.get("/{session_id}/sets", summary="A session's sets", responses=_NOT_FOUND)
async def get_sets(session_id: SessionId, store: StoreDep) -> list[SetRow]:
    """Set summaries in order; while running, the last one may still be open (``closed: false``)."""
    session_or_404(store, session_id)
    return [SetRow(**s) for s in await asyncio.to_thread(store.sets, session_id)]


@router.get("/{session_id}/reps", summary="A session's reps", responses=_NOT_FOUND)
async def get_reps(session_id: SessionId, store: StoreDep) -> list[RepRow]:
    """Every completed rep in order, with its set and its number in the session."""
    session_or_404(store, session_id)
    return [RepRow(**r) for r in await asyncio.to_thread(store.reps, session_id)]


def _analysis_doc(store: StoreDep, manager: SessionManager, session_id: str) -> dict[str, Any]:
    record = session_or_404(store, session_id)
    live = manager.live(session_id)
    if live is not None:
        return live.worker.snapshot().to_dict()
    if record.analysis is None:
        raise HTTPException(404, f"session {session_id!r} has no analysis ({record.error or 'no samples'})")
    return record.analysis


@router.get(
    "/{session_id}/export.json",
    summary="The session's analysis document",
    response_model=AnalysisOut,
    responses=_NOT_FOUND,
)
async def export_json(session_id: SessionId, store: StoreDep, manager: ManagerDep) -> Response:
    """The ``hipflex.analysis/2`` document: identical to ``hipflex analyze --json`` on the
    session's raw log (its ``source``).  Provisional while the session runs."""
    doc = await asyncio.to_thread(_analysis_doc, store, manager, session_id)
    return Response(json.dumps(doc, allow_nan=False), media_type="application/json")


def _reps_csv(store: StoreDep, session_id: str) -> str:
    session_or_404(store, session_id)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rep in store.reps(session_id):
        numbers = [rep["set_index"] + 1, rep["index"] + 1, rep["number"] + 1]
        writer.writerow([*numbers, *("" if rep[c] is None else rep[c] for c in CSV_COLUMNS[3:])])
    return buf.getvalue()


@router.get(
    "/{session_id}/export.csv",
    summary="The session's reps as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "Header then one row per rep: " + ",".join(CSV_COLUMNS)},
               **_NOT_FOUND},
)  # fmt: skip
async def export_csv(session_id: SessionId, store: StoreDep) -> Response:
    """One row per rep: its set's number, its number in the set and in the session (all from 1),
    then the contract fields, rounded as in the JSON (empty = not computable)."""
    text = await asyncio.to_thread(_reps_csv, store, session_id)
    headers = {"content-disposition": f'attachment; filename="hipflex-{session_id}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

"""Live streams of a session: WebSocket and Server-Sent Events.

Both carry the same JSON messages (``StreamMessage`` in the OpenAPI
components; see :mod:`hipflex.service.messages`).  A client first gets the
session's status and the reps and sets so far, then live messages.  Resume
after a drop with ``after_seq`` (or SSE's ``Last-Event-ID``).  A client that
falls behind by ``client_queue`` messages is dropped: the WebSocket closes
with code 1013, the SSE stream ends.  A finished session's stream replays its
reps and sets and ends.

The SSE stream writes what is buffered in one piece (at most ``SSE_BATCH``
messages) and asks the server whether the client is still there before every
write: a client that hung up is detached at once, and nothing is written to
its closed socket (asyncio would log ``socket.send() raised exception`` for
each such write).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from hipflex.service.deps import ManagerDep, StoreDep, session_or_404
from hipflex.service.hub import Subscriber
from hipflex.service.live import SessionManager
from hipflex.service.recovery import ended_session_messages
from hipflex.service.schemas import ErrorOut
from hipflex.service.store import Store

__all__ = ["KEEPALIVE_S", "SSE_BATCH", "router"]

router = APIRouter(prefix="/sessions", tags=["stream"])

#: Seconds between SSE keep-alive comments when nothing else is sent.
KEEPALIVE_S = 15.0
#: Most SSE events sent in one write.
SSE_BATCH = 64

AfterSeq = Annotated[int, Query(ge=0, le=2**53, description="Send only messages after this seq (resume).")]


def _ended(store: Store, session_id: str, after: int) -> list[tuple[int, str, str]]:
    record = store.get_session(session_id)
    if record is None:
        return []
    return [
        (m["seq"], m["type"], json.dumps(m, allow_nan=False, separators=(",", ":")))
        for m in ended_session_messages(store, record)
        if m["seq"] > after
    ]


def _subscribe(manager: SessionManager, session_id: str, after: int) -> Subscriber | None:
    live = manager.live(session_id)
    return None if live is None else live.hub.subscribe(after)


def _unsubscribe(manager: SessionManager, session_id: str, sub: Subscriber) -> None:
    live = manager.live(session_id)
    if live is not None:
        live.hub.unsubscribe(sub)
    sub.close()


_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: each event's `data` is one JSON StreamMessage, its `id` the seq.",
        "content": {
            "text/event-stream": {
                # One event of the stream (OpenAPI 3.1 has no itemSchema; tools
                # such as schemathesis read `schema` as the per-event schema, as
                # OpenAPI 3.2's itemSchema): its data is a JSON StreamMessage.
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/StreamMessage"},
                        },
                        "event": {"type": "string"},
                        "id": {"type": "string"},
                        "retry": {"type": "integer"},
                    },
                },
                "x-item-schema": {"$ref": "#/components/schemas/StreamMessage"},
            }
        },
    },
    404: {"model": ErrorOut, "description": "Unknown session."},
}


@router.get("/{session_id}/events", summary="Live stream (Server-Sent Events)", response_class=StreamingResponse,
            responses=_SSE_DOC)  # fmt: skip
async def events(
    request: Request,
    session_id: str,
    store: StoreDep,
    manager: ManagerDep,
    after_seq: AfterSeq = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Server-Sent Events with the session's live messages (``data:`` JSON, ``id:`` seq).

    The same messages are on the WebSocket ``/api/v1/sessions/{id}/ws``
    (query ``after_seq``; with a token, ``?token=``).
    """
    await asyncio.to_thread(session_or_404, store, session_id)
    after = after_seq
    if last_event_id is not None and last_event_id.strip().isdigit():
        after = max(after, int(last_event_id.strip()))
    sub = _subscribe(manager, session_id, after)
    backlog = [] if sub is not None else await asyncio.to_thread(_ended, store, session_id, after)

    def event(item: tuple[int, str, str]) -> str:
        return f"id: {item[0]}\ndata: {item[2]}\n\n"

    async def stream() -> AsyncIterator[str]:
        # Every write is preceded by a disconnect check: it also hands the event loop a turn,
        # so the server learns of a hang-up between two writes, not after a whole backlog.
        yield "retry: 2000\n\n"
        if sub is None:
            for i in range(0, len(backlog), SSE_BATCH):
                if await request.is_disconnected():
                    return
                yield "".join(event(item) for item in backlog[i : i + SSE_BATCH])
            return
        try:
            while True:
                try:
                    item = await sub.get(timeout_s=KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if await request.is_disconnected():
                    return
                if item is None:
                    if sub.dropped:
                        yield ": dropped (client too slow); reconnect to resume\n\n"
                    return
                batch = [event(item)]
                while len(sub) and len(batch) < SSE_BATCH:  # already buffered: get() returns at once
                    more = await sub.get()
                    assert more is not None
                    batch.append(event(more))
                yield "".join(batch)
        finally:
            _unsubscribe(manager, session_id, sub)

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.websocket("/{session_id}/ws", name="session_ws")
async def websocket_stream(
    websocket: WebSocket, session_id: str, store: StoreDep, manager: ManagerDep, after_seq: AfterSeq = 0
) -> None:
    """The live messages as WebSocket text frames (one JSON message each)."""
    await websocket.accept()
    record = await asyncio.to_thread(store.get_session, session_id)
    if record is None:
        await websocket.close(code=4404, reason=f"session {session_id!r} not found")
        return
    sub = _subscribe(manager, session_id, after_seq)
    if sub is None:
        for _, _, text in await asyncio.to_thread(_ended, store, session_id, after_seq):
            await websocket.send_text(text)
        await websocket.close(code=1000)
        return

    async def reader() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
        except (WebSocketDisconnect, RuntimeError):
            return

    async def writer() -> None:
        while (item := await sub.get()) is not None:
            await websocket.send_text(item[2])

    read_task = asyncio.create_task(reader())
    write_task = asyncio.create_task(writer())
    try:
        done, pending = await asyncio.wait({read_task, write_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if write_task in done and write_task.exception() is None:
            code, reason = (1013, "client too slow; reconnect with after_seq") if sub.dropped else (1000, "")
            try:
                await websocket.close(code=code, reason=reason)
            except RuntimeError:
                pass
    finally:
        _unsubscribe(manager, session_id, sub)

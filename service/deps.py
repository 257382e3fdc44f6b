"""Injected dependencies of the route handlers (``Annotated`` aliases).

The app keeps one :class:`AppContext` in ``app.state.hipflex``, built by the
lifespan of :func:`hipflex.service.app.create_app`; handlers receive its parts
through these dependencies, never through module globals.  They are ``async``
although they never wait: FastAPI runs a plain ``def`` dependency on a worker
thread, three thread hops per request that each waited for the GIL while uploads
were parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.requests import HTTPConnection

from hipflex.service.analysis_pool import AnalysisPool
from hipflex.service.devices import DeviceBackend
from hipflex.service.live import SessionManager
from hipflex.service.settings import ServiceSettings
from hipflex.service.store import SessionRecord, Store

__all__ = [
    "AppContext",
    "DevicesDep",
    "ManagerDep",
    "PoolDep",
    "SettingsDep",
    "StoreDep",
    "get_context",
    "get_devices",
    "get_manager",
    "get_pool",
    "get_settings",
    "get_store",
    "session_or_404",
]


@dataclass(frozen=True)
class AppContext:
    """Everything a running app shares between requests."""

    settings: ServiceSettings
    store: Store
    manager: SessionManager
    devices: DeviceBackend
    pool: AnalysisPool


async def get_context(conn: HTTPConnection) -> AppContext:
    """The app's context (503 while the app is starting or stopping)."""
    ctx = getattr(conn.app.state, "hipflex", None)
    if ctx is None:
        raise HTTPException(503, "the server is starting or shutting down")
    return ctx


async def get_settings(ctx: Annotated[AppContext, Depends(get_context)]) -> ServiceSettings:
    """Service settings."""
    return ctx.settings


async def get_store(ctx: Annotated[AppContext, Depends(get_context)]) -> Store:
    """The SQLite store."""
    return ctx.store


async def get_manager(ctx: Annotated[AppContext, Depends(get_context)]) -> SessionManager:
    """The live session manager."""
    return ctx.manager


async def get_devices(ctx: Annotated[AppContext, Depends(get_context)]) -> DeviceBackend:
    """The Bluetooth device backend."""
    return ctx.devices


async def get_pool(ctx: Annotated[AppContext, Depends(get_context)]) -> AnalysisPool:
    """The pool for CPU-heavy work on uploaded or replayed files."""
    return ctx.pool


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
ManagerDep = Annotated[SessionManager, Depends(get_manager)]
DevicesDep = Annotated[DeviceBackend, Depends(get_devices)]
PoolDep = Annotated[AnalysisPool, Depends(get_pool)]


def session_or_404(store: Store, session_id: str) -> SessionRecord:
    """The session, or an HTTP 404 naming it."""
    record = store.get_session(session_id)
    if record is None:
        raise HTTPException(404, f"session {session_id!r} not found")
    return record

"""API routes, one module per resource; :data:`ROUTERS` are mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from hipflex.service.routes import analyze, devices, health, sessions, stream, trace

__all__ = ["API_PREFIX", "ROUTERS"]

#: Prefix of every API path.
API_PREFIX = "/api/v1"

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    devices.router,
    sessions.router,
    trace.router,
    stream.router,
    analyze.router,
)

"""``GET /api/v1/health``."""

from __future__ import annotations

from fastapi import APIRouter

from hipflex import __version__
from hipflex.service.schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and version")
async def health() -> HealthOut:
    """``{"status": "ok", "version": ...}`` while the server runs."""
    return HealthOut(status="ok", version=__version__)

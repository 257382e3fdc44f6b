"""``GET /api/v1/health``."""

from __future__ import annotations

from fastapi import APIRouter

from hipflex import __version__
from hipflex.service.live_analysis import preparing
from hipflex.service.schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and version")
async def health() -> HealthOut:
    """``{"status": "ok", "version": ..., "analysis": ...}`` while the server runs; ``analysis`` is
    ``preparing`` while the server readies the analysis (numba compiles it on a fresh install, up to a
    minute; ``hipflex demo`` starts its first session after that), else ``ready``."""
    return HealthOut(status="ok", version=__version__, analysis="preparing" if preparing() else "ready")

"""``GET /api/v1/sessions/{id}/trace``: a stored session's flexion angle, downsampled for a chart."""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query

from hipflex.service.deps import ManagerDep, StoreDep, session_or_404
from hipflex.service.routes.sessions import SessionId
from hipflex.service.schemas import ErrorOut, TraceOut
from hipflex.service.store import SessionRecord

__all__ = ["downsample_minmax", "router"]

router = APIRouter(prefix="/sessions", tags=["sessions"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown session, or its raw log is gone."},
    409: {"model": ErrorOut, "description": "The session is still running: follow its stream instead."},
    422: {"model": ErrorOut, "description": "The raw log cannot be analysed."},
}


def downsample_minmax(time_s: np.ndarray, angle_deg: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` rows of an angle trace, keeping each bucket's lowest and highest row.

    A plain every-k-th-row decimation can step over a short peak; keeping both extremes of each
    bucket (in time order) keeps every rep's top and bottom on the chart.  NaN rows (before the
    angle is known, lost rows) are kept as NaN where a bucket holds nothing else, so the chart
    breaks there.

    Parameters
    ----------
    time_s : ndarray
        Row times, s.
    angle_deg : ndarray
        Flexion angle per row, deg (NaN where unknown).
    max_points : int
        Largest number of rows returned (at least 2).

    Returns
    -------
    time_s, angle_deg : ndarray
    """
    n = time_s.size
    if n <= max_points:
        return time_s, angle_deg
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        seg = angle_deg[lo:hi]
        finite = np.isfinite(seg)
        if not finite.any():
            keep.append(int(lo))
            continue
        masked_lo = np.where(finite, seg, np.inf)
        masked_hi = np.where(finite, seg, -np.inf)
        keep.extend(sorted({int(lo + np.argmin(masked_lo)), int(lo + np.argmax(masked_hi))}))
    idx = np.asarray(keep, dtype=np.int64)
    return time_s[idx], angle_deg[idx]


def _trace(record: SessionRecord, max_points: int) -> TraceOut:
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.dsp.pipeline import analyze_with_angle
    from hipflex.sensor.format_spec import InputError
    from hipflex.sensor.formats import load_samples

    path = Path(record.raw_log)
    if not path.is_file():
        raise HTTPException(404, f"session {record.id!r} has no raw log")
    try:
        samples = load_samples(path, "csv")
        # The session's own settings: the same angle the live analysis computed.
        _, angle = analyze_with_angle(samples, Settings(**record.settings), source=path.name)
    except (InputError, ValueError) as exc:
        raise HTTPException(422, f"raw log not analysable: {' '.join(str(exc).split())}") from exc
    t, deg = downsample_minmax(np.asarray(samples.time_s, dtype=np.float64), angle, max_points)
    return TraceOut(
        t=[round(v, 3) for v in t.tolist()],
        deg=[None if not math.isfinite(v) else round(v, 2) for v in deg.tolist()],
        source_rows=len(samples),
    )


@router.get("/{session_id}/trace", summary="A stored session's angle trace", responses=_ERRORS)
async def get_trace(
    session_id: SessionId,
    store: StoreDep,
    manager: ManagerDep,
    max_points: Annotated[int, Query(ge=100, le=20_000, description="Largest number of points returned.")] = 4000,
) -> TraceOut:
    """The thigh flexion angle over the whole session, recomputed from its raw log with the
    session's settings and downsampled to at most ``max_points`` points (each bucket keeps its
    lowest and highest angle, so every rep's peak stays on the chart).  ``deg`` is ``null``
    where the angle is unknown (lost rows).  Mark the reps with ``GET .../reps`` (``peak_s``,
    ``peak_flexion_deg``).  Only for sessions that ended (409 while running)."""
    record = await asyncio.to_thread(session_or_404, store, session_id)
    if manager.live(session_id) is not None or record.status == "running":
        raise HTTPException(409, f"session {session_id!r} is still running: follow its stream")
    return await asyncio.to_thread(_trace, record, max_points)

"""``POST /api/v1/analyze``: a recording in, the analysis document out (as ``hipflex analyze --json``).

The event loop only streams the body to the server's temporary folder
(:func:`~hipflex.service.uploads.receive_body`); the multipart parsing, the
file's parsing and the analysis all run on the bounded analysis pool.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from functools import partial
from pathlib import Path
from threading import Event
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from hipflex.service.analysis_pool import ByteBudget, Cancelled
from hipflex.service.deps import PoolDep, SettingsDep
from hipflex.service.live import session_settings
from hipflex.service.schemas import MAX_MIN_ROM_DEG, AnalysisOut, ErrorOut, FaceNormalAxis
from hipflex.service.uploads import FILE_FIELD, extract_file, multipart_boundary, receive_body

__all__ = ["router"]

router = APIRouter(tags=["analyze"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The upload is larger than the server's limit."},
    422: {"model": ErrorOut, "description": "The file cannot be analysed: one line naming it and the problem."},
    503: {"model": ErrorOut, "description": "As many analyses as the server runs at once are under way."},
}

#: The request body as the schema documents it (the route reads the body itself, as a stream).
_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    FILE_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": "application/octet-stream",
                        "description": "The recording (plain CSV or any registered format).",
                    }
                },
                "required": [FILE_FIELD],
            }
        }
    },
}

#: Multipart framing allowed beyond the file's own size limit, bytes.
FRAMING_BYTES = 64 * 1024


def _analyse(body: Path, boundary: bytes, fmt: str, settings: Any, budget: ByteBudget, cancel: Event) -> bytes:
    """Extract the file from the saved body, load it and analyse it; the JSON document (runs on the pool).

    ``cancel`` is checked between the stages and by the multipart and CSV
    parsers between their chunks (the client went away, the server stops).
    Parsing and analysing hold the file's size of the pool's memory ``budget``.
    """
    from hipflex.dsp import analyze
    from hipflex.sensor.format_spec import InputError, LoadCancelled, LoadOptions
    from hipflex.sensor.formats import load_samples

    upload = extract_file(body, boundary, body.parent, cancel)
    name, path = upload.name, upload.path
    body.unlink()  # the disk holds one copy of the file while it is analysed
    try:
        with budget.hold(path.stat().st_size, cancel):
            samples = load_samples(path, fmt, LoadOptions(cancel=cancel))
            if cancel.is_set():
                raise Cancelled(f"analysis of {name} cancelled")
            result = analyze(samples, settings, source=name)
            del samples
    except LoadCancelled:
        raise Cancelled(f"analysis of {name} cancelled") from None
    except InputError as exc:
        raise HTTPException(422, f"{name}: {' '.join(exc.problem.split())}") from None
    except ValueError as exc:  # the core rejects what it cannot analyse
        raise HTTPException(422, f"{name}: {' '.join(str(exc).split())}") from None
    return json.dumps(result.to_dict(), allow_nan=False).encode()


def _new_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="upload-", dir=root))


@router.post(
    "/analyze",
    summary="Analyse an uploaded recording",
    response_model=AnalysisOut,
    responses=_ERRORS,
    openapi_extra={"requestBody": _BODY},
)
async def analyze_upload(
    request: Request,
    settings: SettingsDep,
    pool: PoolDep,
    format: Annotated[str, Query(max_length=32, description="Format name, or 'auto'.")] = "auto",
    min_rom_deg: Annotated[float | None, Query(ge=1, lt=MAX_MIN_ROM_DEG, description="Smallest rep, degrees.")] = None,
    set_gap_s: Annotated[float | None, Query(gt=0, le=3600, description="Pause that splits sets, s.")] = None,
    face_normal_axis: Annotated[
        FaceNormalAxis | None, Query(description="Naming only: device axis normal to a flat-strapped sensor's face.")
    ] = None,
    sensor_placement: Annotated[
        Literal["front", "lateral"] | None, Query(description="Naming only, with face_normal_axis.")
    ] = None,
    sensor_leg: Annotated[
        Literal["right", "left"] | None, Query(description="Naming only, with a signed face_normal_axis.")
    ] = None,
) -> Response:
    """The same contract as ``hipflex analyze --json`` (``source`` is the uploaded file's name)."""
    from hipflex.sensor.formats import AUTO, format_names

    known = [AUTO, *format_names()]
    if format not in known:
        raise HTTPException(422, f"unknown format {format!r}; known formats: {', '.join(known)}")
    try:
        analysis_settings = session_settings(
            settings.analysis, min_rom_deg, set_gap_s,
            face_normal_axis=face_normal_axis, sensor_placement=sensor_placement, sensor_leg=sensor_leg,
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    boundary = multipart_boundary(request.headers.get("content-type"))
    # The server's own temporary folder (emptied at start and at shutdown): a killed server leaves
    # nothing in the system's; this request removes its folder however it ends.
    folder = await asyncio.to_thread(_new_folder, settings.upload_tmp_dir)
    try:
        body = folder / "body"
        await receive_body(request, body, settings.max_upload_bytes + FRAMING_BYTES)
        doc = await pool.run(
            partial(_analyse, body, boundary, format, analysis_settings, pool.budget),
            is_disconnected=request.is_disconnected,
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return Response(doc, media_type="application/json")

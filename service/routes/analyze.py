"""``POST /api/v1/analyze``: a recording in, the analysis document out (as ``hipflex analyze --json``)."""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path
from threading import Event
from typing import IO, Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile

from hipflex.service.analysis_pool import Cancelled
from hipflex.service.deps import PoolDep, SettingsDep
from hipflex.service.live import session_settings
from hipflex.service.schemas import AnalysisOut, ErrorOut

__all__ = ["router"]

router = APIRouter(tags=["analyze"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The upload is larger than the server's limit."},
    422: {"model": ErrorOut, "description": "The file cannot be analysed: one line naming it and the problem."},
    503: {"model": ErrorOut, "description": "As many analyses as the server runs at once are under way."},
}


def _upload_name(upload: UploadFile) -> str:
    name = Path((upload.filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"


def _analyse(src: IO[bytes], name: str, fmt: str, settings: Any, tmp_root: Path, cancel: Event) -> dict[str, Any]:
    """Copy the upload to a temporary file, load it and analyse it (runs on the analysis pool).

    The temporary folder lies in the server's own ``tmp_root`` (emptied at start and at
    shutdown), so a killed server leaves nothing behind in the system's temporary folder.
    ``cancel`` is checked between the stages (the client went away, the server stops).
    """
    from hipflex.dsp import analyze
    from hipflex.sensor.format_spec import InputError
    from hipflex.sensor.formats import load_samples

    def check() -> None:
        if cancel.is_set():
            raise Cancelled(f"analysis of {name} cancelled")

    suffix = Path(name).suffix[:16]
    check()
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=tmp_root) as tmp:
        path = Path(tmp) / f"upload{suffix}"
        with open(path, "wb") as dst:
            while chunk := src.read(1 << 20):
                check()
                dst.write(chunk)
        try:
            check()
            samples = load_samples(path, fmt)
            check()
            result = analyze(samples, settings, source=name)
        except InputError as exc:
            raise HTTPException(422, f"{name}: {' '.join(exc.problem.split())}") from None
        except ValueError as exc:  # the core rejects what it cannot analyse
            raise HTTPException(422, f"{name}: {' '.join(str(exc).split())}") from None
    return result.to_dict()


@router.post("/analyze", summary="Analyse an uploaded recording", response_model=AnalysisOut, responses=_ERRORS)
async def analyze_upload(
    request: Request,
    file: Annotated[UploadFile, File(description="The recording (plain CSV or any registered format).")],
    settings: SettingsDep,
    pool: PoolDep,
    format: Annotated[str, Query(max_length=32, description="Format name, or 'auto'.")] = "auto",
    min_rom_deg: Annotated[float | None, Query(ge=1, le=180, description="Smallest rep, degrees.")] = None,
    set_gap_s: Annotated[float | None, Query(gt=0, le=3600, description="Pause that splits sets, s.")] = None,
) -> Response:
    """The same contract as ``hipflex analyze --json`` (``source`` is the uploaded file's name)."""
    from hipflex.sensor.formats import AUTO, format_names

    known = [AUTO, *format_names()]
    if format not in known:
        raise HTTPException(422, f"unknown format {format!r}; known formats: {', '.join(known)}")
    try:
        analysis_settings = session_settings(settings.analysis, min_rom_deg, set_gap_s)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    name = _upload_name(file)
    doc = await pool.run(
        partial(_analyse, file.file, name, format, analysis_settings, settings.upload_tmp_dir),
        is_disconnected=request.is_disconnected,
    )
    return Response(json.dumps(doc, allow_nan=False), media_type="application/json")

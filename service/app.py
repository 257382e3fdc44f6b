"""The local API: :func:`create_app` builds the FastAPI application from :class:`ServiceSettings`.

Nothing is created at import time.  The app's lifespan opens the store,
recovers sessions a killed server left ``running``, and starts the session
manager; on shutdown it stops every session cleanly.  Routes live in
:mod:`hipflex.service.routes` under ``/api/v1``; the dashboard (static files
in ``service/static/``) is served at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from hipflex import __version__
from hipflex.sensor.emulate.world import ble_world, parse_world
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.formats import format_names
from hipflex.service.analysis_pool import AnalysisPool, Cancelled, PoolBusy, UploadGate
from hipflex.service.datafolder import prepare_data, remove_tmp
from hipflex.service.datalock import DataLock
from hipflex.service.deps import AppContext
from hipflex.service.devices import DeviceBackend, DeviceNotFound, DevicesUnavailable
from hipflex.service.live import SessionManager, TooManySessions
from hipflex.service.recovery import recover_sessions
from hipflex.service.routes import API_PREFIX, ROUTERS
from hipflex.service.schemas import ErrorOut, StreamMessage
from hipflex.service.security import (
    AuthMiddleware,
    BodyLimitMiddleware,
    OriginMiddleware,
    SecurityHeadersMiddleware,
    inline_script_hashes,
)
from hipflex.service.sensor_devices import SensorDeviceBackend
from hipflex.service.settings import ServiceSettings
from hipflex.service.sources import SourceError
from hipflex.service.store import Store

__all__ = ["STATIC_DIR", "create_app"]

log = logging.getLogger("hipflex.service")

#: Where the dashboard's files live.
STATIC_DIR = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
The hipflex local API: live hip-flexion sessions from Bluetooth sensors, the simulator or recordings,
their reps and sets, exports, and the analysis of uploaded files.

* Every path is under `/api/v1`. Errors are JSON `{"detail": "<one line>"}` (422 adds `errors`).
* Live stream of a session: Server-Sent Events at `GET /api/v1/sessions/{id}/events`, or the WebSocket
  `/api/v1/sessions/{id}/ws`; each message is one JSON `StreamMessage` (see the schemas): `angle`
  (about 25 Hz), `rep_peak`, `rep`, `set`, `status`. Resume with `after_seq`.
* When the server has a token (any bind other than localhost), send `Authorization: Bearer <token>`, or
  `?token=<token>` on streams and the dashboard page.
"""

_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hipflex</title></head>
<body><h1>hipflex</h1><p>The dashboard is not installed in this build.</p>
<p>API: <a href="/docs">/docs</a> (OpenAPI at <a href="/openapi.json">/openapi.json</a>),
sessions at <a href="/api/v1/sessions">/api/v1/sessions</a>.</p></body></html>
"""


#: Errors any API operation may answer with (documented on every operation).
_COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request (a body that is not JSON, a Host not allowed)."},
    401: {"model": ErrorOut, "description": "Token missing or wrong (servers bound beyond localhost)."},
    413: {"model": ErrorOut, "description": "Request body larger than the server accepts."},
}


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _validation_message(errors: list[Any]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Methods allowed on ``path``: as the OpenAPI schema documents them for API paths (a literal path such
    as ``/devices/scan`` wins over ``/devices/{address}``, as routing does), else as the routes answer.

    (Included routers are not plain routes with a ``path_regex`` any more, so reading those gave an
    empty ``Allow``.)
    """
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    if path in paths:
        return sorted(m.upper() for m in paths[path])
    for template, ops in paths.items():
        parts = re.split(r"(\{[^}/]+\})", template)
        if re.fullmatch("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts), path):
            return sorted(m.upper() for m in ops)
    methods: set[str] = set()
    for method in _METHODS:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        if any(isinstance(r, BaseRoute) and r.matches(scope)[0] == Match.FULL for r in app.router.routes):
            methods.add(method)
    return sorted(methods)


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return JSONResponse({"detail": _one_line(exc.detail)}, status_code=exc.status_code, headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]  # fmt: skip
        return _error(422, _validation_message(errors), errors=errors)

    async def expected(request: Request, exc: Exception) -> Response:
        status = {
            SourceError: 422,
            InputError: 422,
            DeviceNotFound: 404,
            TooManySessions: 429,
            DevicesUnavailable: 503,
            PoolBusy: 503,
            Cancelled: 503,
        }
        code = next((v for k, v in status.items() if isinstance(exc, k)), 422)
        detail = _one_line(exc) if not isinstance(exc, DeviceNotFound) else f"device {exc} not known"
        return _error(code, detail)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)

    async def database(request: Request, exc: Exception) -> Response:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        return _error(503, "the database cannot be read or written; restart the server to check it")

    for cls in (SourceError, InputError, DeviceNotFound, TooManySessions, DevicesUnavailable, PoolBusy, Cancelled):
        app.add_exception_handler(cls, expected)
    app.add_exception_handler(sqlite3.DatabaseError, database)
    app.add_exception_handler(Exception, unexpected)


def _use_error_model(schema: dict[str, Any]) -> None:
    """Document 422s as the ``ErrorOut`` the error handler really sends (FastAPI assumes its own)."""
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    comps = schema["components"]["schemas"]
    if "ErrorOut" not in comps:
        comps.update(TypeAdapter(ErrorOut).json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
        comps["ErrorOut"] = TypeAdapter(ErrorOut).json_schema(ref_template="#/components/schemas/{model}")
        comps["ErrorOut"].pop("$defs", None)
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            bad = op.get("responses", {}).get("422")
            if bad is not None:
                bad["content"] = {"application/json": {"schema": ref}}
                bad.setdefault("description", "Validation Error")
    comps.pop("HTTPValidationError", None)
    comps.pop("ValidationError", None)


def _install_openapi(app: FastAPI) -> None:
    """Add the stream message schemas to the components (the WebSocket is not an OpenAPI operation)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)  # fmt: skip
            ref = "#/components/schemas/{model}"
            msg = TypeAdapter(StreamMessage).json_schema(ref_template=ref)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps.update(msg.pop("$defs", {}))
            comps["StreamMessage"] = msg
            _use_error_model(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _build_routes(app: FastAPI) -> None:
    """Route one request for a path that no route has, before serving: it walks every route.

    FastAPI builds a route's validators when the first request reaches it, on the
    event loop (27 ms for ``/analyze``, 150 ms while uploads were parsed); the
    first burst of uploads paid it while every other request waited.
    """
    path = "/api/v1/.start-up/.no-such-route"
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [], "scheme": "http", "http_version": "1.1", "app": app}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    with contextlib.suppress(Exception):  # a 404 is the expected end; warming is only worth trying
        await app.router(scope, receive, send)


#: Where ``/docs`` finds Swagger UI's files (served by the app: the page must work offline).
DOCS_ASSETS = "/docs-assets"


def _install_docs(app: FastAPI) -> tuple[str, ...]:
    """``/docs``: Swagger UI from the ``swagger-ui-py`` package's files, not a CDN; returns the CSP
    hashes of the page's inline start-up script.

    ``swagger-ui-py`` ships Swagger UI 5 (the ``swagger-ui-bundle`` package ships 4.15, which cannot
    render the OpenAPI 3.1 that FastAPI writes).  Only its ``static`` folder is used: found without
    importing the package, which would import its web-framework adapters.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing (pip install swagger-ui-py): /docs needs it")
    assets = Path(next(iter(spec.submodule_search_locations))) / "static"

    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        oauth2_redirect_url=None,  # the API has no OAuth2: no redirect page (with its inline script)
    )
    body = bytes(page.body)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return HTMLResponse(body)

    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
    return inline_script_hashes(body.decode())


def _install_dashboard(app: FastAPI, static_dir: Path) -> None:
    """``/`` serves ``index.html`` (or a placeholder); ``/<file>`` and ``/static/...`` serve its assets."""

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        index = static_dir / "index.html"
        if index.is_file():
            return FileResponse(index, media_type="text/html")
        return HTMLResponse(_PLACEHOLDER)

    @app.get("/{name}", include_in_schema=False)
    async def dashboard_file(name: str) -> Response:
        path = static_dir / name
        if name.startswith(".") or not path.is_file():
            raise StarletteHTTPException(404, f"{name!r} not found")
        return FileResponse(path)

    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")


def create_app(
    settings: ServiceSettings,
    *,
    devices: DeviceBackend | None = None,
    static_dir: Path | None = None,
    data_lock: DataLock | None = None,
) -> FastAPI:
    """Build the API application.

    Parameters
    ----------
    settings : ServiceSettings
        A non-loopback ``host`` requires ``settings.token`` (see
        :meth:`ServiceSettings.with_token`).
    devices : DeviceBackend, optional
        Bluetooth backend.  By default a
        :class:`~hipflex.service.sensor_devices.SensorDeviceBackend` that connects and streams
        through the live sensor clients, writing each connected sensor's capture log into
        ``settings.capture_dir``; it uses the OS's Bluetooth, or the emulated sensors that
        ``settings.ble_backend`` names (``HIPFLEX_BLE_BACKEND``).  Tests pass a fake.
    static_dir : Path, optional
        Dashboard files (default ``service/static``).
    data_lock : DataLock, optional
        The database's lock, already taken with
        :func:`~hipflex.service.datafolder.prepare_data` (``hipflex serve`` does so to
        refuse in one line); by default the app's start-up takes it and prepares the data.

    Returns
    -------
    FastAPI

    Raises
    ------
    ValueError
        A non-loopback host without a token, or a malformed ``settings.ble_backend``.
    """
    if settings.requires_token and settings.token is None:
        raise ValueError(
            f"binding to {settings.host} needs a token (ServiceSettings.with_token() makes one); "
            "without one, bind to 127.0.0.1"
        )
    if devices is None and settings.ble_backend:
        parse_world(settings.ble_backend)  # fail now, not in the lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(settings.capture_dir.mkdir, parents=True, exist_ok=True)
        async with AsyncExitStack() as stack:
            lock = data_lock
            if lock is None:  # hipflex serve prepares before uvicorn starts, to refuse in one line
                lock = DataLock(settings.lock_path, settings.db_path)
                await asyncio.to_thread(prepare_data, settings, lock)
            stack.callback(lock.release)
            stack.callback(remove_tmp, settings)
            # Import every file reader now, on a thread: the first upload imported them on the loop (1.3 s).
            await asyncio.to_thread(format_names)
            backend = devices
            if backend is None:
                # The emulated world (if any) lives as long as the app: its radio runs on this loop.
                backends = await stack.enter_async_context(ble_world(settings.ble_backend))
                backend = SensorDeviceBackend(backends, capture_dir=settings.capture_dir)
            store = await asyncio.to_thread(Store, settings.db_path)
            recovered = await asyncio.to_thread(recover_sessions, store)
            if recovered:
                log.warning("recovered %d interrupted session(s): %s", len(recovered), ", ".join(recovered))
            pool = AnalysisPool(settings.analysis_workers, settings.analysis_waiting, settings.max_upload_bytes)
            manager = SessionManager(settings, store, backend, pool)
            app.state.hipflex = AppContext(settings, store, manager, backend, pool)
            await _build_routes(app)
            try:
                yield
            finally:
                pool.shutdown()
                await manager.shutdown()
                await backend.aclose()
                app.state.hipflex = None
                store.close()

    app = FastAPI(
        title="hipflex",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by _install_docs from the package's files, not from a CDN
        redoc_url=None,  # ReDoc exists only on a CDN; /docs covers the same
        openapi_tags=[
            {"name": "sessions", "description": "Live sessions, their reps and sets, exports."},
            {"name": "stream", "description": "Live messages of a session (SSE; WebSocket at .../ws)."},
            {"name": "devices", "description": "Bluetooth sensors."},
            {"name": "analyze", "description": "Analysis of uploaded recordings."},
            {"name": "health", "description": "Liveness."},
        ],
    )
    app.state.hipflex = None
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=_COMMON_ERRORS)
    _install_error_handlers(app)
    _install_openapi(app)
    docs_hashes = _install_docs(app)
    _install_dashboard(app, static_dir if static_dir is not None else STATIC_DIR)

    # Middleware: the last added is the outermost. CORS must answer preflights before auth.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes + 64 * 1024,  # multipart framing
        upload_paths=(f"{API_PREFIX}/analyze",),
    )
    app.add_middleware(
        UploadGate,
        limit=settings.analysis_workers + settings.analysis_waiting,
        paths=(f"{API_PREFIX}/analyze",),
    )
    app.add_middleware(OriginMiddleware, allowed_origins=settings.cors_origins)
    app.add_middleware(AuthMiddleware, token=settings.token, check_host=settings.loopback)
    # Outside auth: refusals carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware, docs_script_hashes=docs_hashes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    return app

"""ASGI middleware: token authentication, Host checking and request size limits.

* :class:`AuthMiddleware`: with a token, every HTTP request and WebSocket
  must carry it (``Authorization: Bearer``, or the ``hipflex_token_<port>``
  cookie that loading the dashboard with ``?token=`` sets, so the dashboard's
  own requests and streams are authenticated; ``?token=`` itself counts only
  on the dashboard page and the streams).  On a loopback bind the ``Host``
  header must name this machine, token or not, which defeats DNS rebinding
  from a web page.
* :class:`OriginMiddleware`: a browser names the page that sends a request
  in ``Origin``; every state-changing request (any method but GET, HEAD and
  OPTIONS) and every WebSocket handshake from another origin than the
  server's own or the configured CORS origins is refused with 403.  A plain
  HTML form or a script on any web page could otherwise stop sessions or
  read streams: CORS protects only what a page can *read*, not what it can
  *send*, and WebSockets are not covered by CORS at all.
* :class:`SecurityHeadersMiddleware`: ``Content-Security-Policy``,
  ``X-Frame-Options: DENY`` and ``X-Content-Type-Options: nosniff`` on every
  response (no framing, no scripts from elsewhere, no type sniffing).
* :class:`BodyLimitMiddleware`: a declared ``Content-Length`` over the limit
  is refused with 413 before the body is read; a body that grows past it
  while streaming is answered with 413 at once, and the app is told the
  client disconnected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hipflex.service.settings import is_loopback_host

__all__ = [
    "COOKIE_NAME",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "OriginMiddleware",
    "SecurityHeadersMiddleware",
    "cookie_name",
    "inline_script_hashes",
]

COOKIE_NAME = "hipflex_token"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(value: str) -> str:
    """The name part of a Host header (``[::1]:80`` -> ``::1``, ``localhost:80`` -> ``localhost``)."""
    v = value.strip()
    if v.startswith("["):
        end = v.find("]")
        return v[1:end] if end > 0 else v
    return v.split(":", 1)[0] if v.count(":") == 1 else v


async def _json_error(send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def cookie_name(scope: Scope) -> str:
    """``hipflex_token_<port>``: cookies ignore ports, so the name keeps two local servers' tokens apart
    (and tells other services on the host which cookie is not theirs)."""
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] else ""
    return f"{COOKIE_NAME}_{port}" if port else COOKIE_NAME


def _query_token_allowed(scope: Scope) -> bool:
    path = scope.get("path", "")
    if scope["type"] == "websocket":
        return True
    return scope.get("method") in ("GET", "HEAD") and (path == "/" or path.endswith("/events"))


class AuthMiddleware:
    """Token and Host checks for HTTP and WebSocket.

    Parameters
    ----------
    app : ASGI app
    token : str or None
        Required token; ``None`` disables token checks (loopback binds only).
    check_host : bool
        Refuse requests whose ``Host`` is not a loopback name.
    """

    def __init__(self, app: ASGIApp, token: str | None, check_host: bool) -> None:
        self.app = app
        self.token = token
        self.check_host = check_host

    def _presented(self, scope: Scope) -> tuple[str | None, bool]:
        """The token the client presented, and whether it came as ``?token=``.

        ``?token=`` counts only where a browser cannot send a header: the dashboard page
        and the streams (a token in a URL ends up in histories and logs).
        """
        auth = _header(scope, b"authorization")
        if auth and auth[:7].lower() == "bearer ":
            return auth[7:].strip(), False
        if _query_token_allowed(scope):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("token"):
                return query["token"][0], True
        cookie = _header(scope, b"cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:
                return None, False
            name = cookie_name(scope)
            if name in jar:
                return jar[name].value, False
        return None, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.check_host:
            host = _header(scope, b"host") or ""
            if not is_loopback_host(_host_name(host)):
                detail = f"Host {host!r} is not allowed: this server answers to localhost only"
                await self._refuse(kind, send, 400, detail)
                return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        presented, from_query = self._presented(scope)
        if presented is None or not secrets.compare_digest(presented.encode(), self.token.encode()):
            what = "missing" if presented is None else "wrong"
            await self._refuse(
                kind, send, 401,
                f"token {what}: send 'Authorization: Bearer <token>' (or ?token= on streams and the dashboard page)",
            )  # fmt: skip
            return
        if kind == "http" and from_query:
            cookie = f"{cookie_name(scope)}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), (b"set-cookie", cookie)]}
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(kind: str, send: Send, status: int, detail: str) -> None:
        if kind == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        headers = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await _json_error(send, status, detail, headers)


class BodyLimitMiddleware:
    """Bound request bodies.

    Parameters
    ----------
    app : ASGI app
    limit : int
        Largest body of an ordinary request, bytes.
    upload_limit : int
        Largest body on the paths in ``upload_paths``, bytes.
    upload_paths : iterable of str
        Paths that accept uploads.
    """

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int, upload_paths: Iterable[str]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = frozenset(upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in self.upload_paths else self.limit
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _json_error(send, 400, "Content-Length is not a number")
                return
            if size > limit:
                await _json_error(send, 413, f"request body too large: {size} bytes, the limit is {limit} bytes")
                return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now and tell the app the client went away; whatever it answers is dropped.
                    refused = True
                    await _json_error(send, 413, f"request body too large: the limit is {limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded_send)


#: Methods that never change state (CORS "safe" methods); every other one is checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class OriginMiddleware:
    """Refuse state-changing requests and WebSocket handshakes from foreign browser origins.

    A request without ``Origin`` is not from a browser page (browsers send it
    on every POST and every WebSocket handshake) and passes; the token and Host
    checks still apply.  ``Origin: null`` (sandboxed frames, files) is refused.

    Parameters
    ----------
    app : ASGI app
    allowed_origins : iterable of str
        Origins allowed besides the server's own (``*`` allows every origin).
    """

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    def _allowed(self, scope: Scope, origin: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if "*" in self.allowed or origin in self.allowed:
            return True
        parts = urlsplit(origin)
        host = (_header(scope, b"host") or "").strip().lower()
        own = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return parts.scheme == own and bool(parts.netloc) and parts.netloc == host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        checked = kind == "websocket" or (kind == "http" and scope["method"] not in SAFE_METHODS)
        origin = _header(scope, b"origin") if checked else None
        if origin is None or self._allowed(scope, origin):
            await self.app(scope, receive, send)
            return
        detail = f"cross-origin request from {origin[:100]!r} refused (see --cors-origin)"
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        await _json_error(send, 403, detail)


#: The dashboard's policy: its own files only; streams to this host only; never framed.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'{ws}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip
#: The API docs page: Swagger UI's files are served by the app itself (so ``/docs`` works offline), and
#: its one inline start-up script is allowed by its hash only ({scripts}), never any inline script.
#: Swagger UI sets style attributes as it renders, hence inline styles (not scripts) on this page.
_DOCS_CSP = ("default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
             "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'")  # fmt: skip
_DOCS_PATHS = frozenset({"/docs"})
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_HOST_CHARS = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,255}$")


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """CSP sources (``'sha256-...'``) for the inline ``<script>`` elements of a page the app serves."""
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )


class SecurityHeadersMiddleware:
    """Add ``Content-Security-Policy``, ``X-Frame-Options`` and ``X-Content-Type-Options`` to every response.

    Parameters
    ----------
    app : ASGI app
    docs_script_hashes : tuple of str
        CSP hash sources of the inline scripts of ``/docs`` (see :func:`inline_script_hashes`).
    """

    def __init__(self, app: ASGIApp, docs_script_hashes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_csp = _DOCS_CSP.format(scripts="".join(" " + h for h in docs_script_hashes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in _DOCS_PATHS:
            csp = self.docs_csp
        else:
            # Older browsers do not count ws://<own host> as 'self': name it (a Host with other characters
            # than a host name's gets no WebSocket source rather than an injected directive).
            host = (_header(scope, b"host") or "").strip()
            csp = _CSP.format(ws=f" ws://{host} wss://{host}" if _HOST_CHARS.match(host) else "")
        extra = [
            (b"content-security-policy", csp.encode("latin-1")),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                added = [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)

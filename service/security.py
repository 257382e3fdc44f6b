"""ASGI middleware: token authentication, Host checking and request size limits.

* :class:`AuthMiddleware`: with a token, every HTTP request and WebSocket
  must carry it (``Authorization: Bearer``, ``?token=``, or the
  ``hipflex_token`` cookie that a ``?token=`` page load sets, so the
  dashboard's own requests are authenticated).  Without a token (loopback
  only) the ``Host`` header must name this machine, which defeats DNS
  rebinding from a web page.
* :class:`BodyLimitMiddleware`: a declared ``Content-Length`` over the limit
  is refused with 413 before the body is read; a body that grows past it
  while streaming is answered with 413 at once, and the app is told the
  client disconnected.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hipflex.service.settings import is_loopback_host

__all__ = ["COOKIE_NAME", "AuthMiddleware", "BodyLimitMiddleware"]

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
        """The token the client presented, and whether it came as ``?token=``."""
        auth = _header(scope, b"authorization")
        if auth and auth[:7].lower() == "bearer ":
            return auth[7:].strip(), False
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
            if COOKIE_NAME in jar:
                return jar[COOKIE_NAME].value, False
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
                f"token {what}: send 'Authorization: Bearer <token>' (or ?token= for streams and the dashboard)",
            )  # fmt: skip
            return
        if kind == "http" and from_query:
            cookie = f"{COOKIE_NAME}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()

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

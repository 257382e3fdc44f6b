"""Safety: tokens beyond loopback, Host checks on loopback, CORS restricted."""

from __future__ import annotations

import socket

import pytest
from svc_kit import serve, ws_messages
from websockets.exceptions import InvalidStatus

from hipflex.service.app import create_app
from hipflex.service.settings import ServiceSettings, is_loopback_host

TOKEN = "s3cret-token-for-tests"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("app.localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.20", False),
     ("example.com", False), ("", False)],
)  # fmt: skip
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_non_loopback_needs_a_token(service_settings: ServiceSettings) -> None:
    open_lan = service_settings.replace(host="0.0.0.0")
    with pytest.raises(ValueError, match="needs a token"):
        create_app(open_lan)
    made = open_lan.with_token()
    assert made.requires_token and made.token is not None and len(made.token) >= 24
    assert made.with_token().token == made.token
    assert service_settings.with_token().token is None and not service_settings.requires_token
    with pytest.raises(ValueError, match="at least 8"):
        service_settings.replace(token="short")


@pytest.mark.slow
def test_every_request_and_stream_needs_the_token(service_settings: ServiceSettings) -> None:
    settings = service_settings.replace(host="0.0.0.0", token=TOKEN)
    with serve(settings) as c:
        for path in ("/api/v1/health", "/api/v1/sessions", "/", "/openapi.json", "/api/v1/sessions/x/events"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer" and "token missing" in r.json()["detail"]
        r = c.get("/api/v1/health", headers={"authorization": "Bearer wrong-token"})
        assert r.status_code == 401 and "token wrong" in r.json()["detail"]
        assert c.post("/api/v1/sessions", json={"source": "simulator"}).status_code == 401
        assert c.get("/api/v1/health", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        # Any Host is fine with a token (the server is meant to be reached by name or address).
        r = c.get("/api/v1/health", headers={"authorization": f"Bearer {TOKEN}", "host": "hipflex.lan:8765"})
        assert r.status_code == 200

        # ?token= on the dashboard page sets an HttpOnly cookie that authenticates the page's own requests.
        r = c.get("/", params={"token": TOKEN})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"hipflex_token_{c.base_url.port}=") and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert c.get("/api/v1/sessions").status_code == 200  # the client kept the cookie
        c.cookies.clear()
        assert c.get("/api/v1/sessions").status_code == 401

        # Streams take ?token=.
        assert c.get("/api/v1/sessions/x/events", params={"token": TOKEN}).status_code == 404
        ws = str(c.base_url).replace("http", "ws", 1) + "/api/v1/sessions/x/ws"
        with pytest.raises(InvalidStatus) as info:
            ws_messages(ws)
        assert info.value.response.status_code == 403
        msgs, code = ws_messages(f"{ws}?token={TOKEN}")
        assert msgs == [] and code == 4404


def test_loopback_without_token_refuses_foreign_host_names(service_settings: ServiceSettings) -> None:
    with serve(service_settings) as c:
        port = c.base_url.port
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/api/v1/health", headers={"host": f"localhost:{port}"}).status_code == 200
        assert c.get("/api/v1/health", headers={"host": f"[::1]:{port}"}).status_code == 200
        r = c.get("/api/v1/health", headers={"host": f"attacker.example:{port}"})  # DNS rebinding
        assert r.status_code == 400 and "not allowed" in r.json()["detail"]
        ws = str(c.base_url).replace("http", "ws", 1) + "/api/v1/sessions/x/ws"
        from websockets.sync.client import connect

        sock = socket.create_connection(("127.0.0.1", port))
        with pytest.raises(InvalidStatus) as info:  # the handshake carries Host: attacker.example
            with connect(f"ws://attacker.example:{port}/api/v1/sessions/x/ws", sock=sock):
                pass
        assert info.value.response.status_code == 403
        assert ws_messages(ws) == ([], 4404)  # with a loopback Host the handshake is accepted


@pytest.mark.slow
def test_cors_is_off_unless_origins_are_configured(service_settings: ServiceSettings) -> None:
    preflight = {"origin": "http://dash.example", "access-control-request-method": "POST"}
    with serve(service_settings) as c:
        r = c.get("/api/v1/health", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in c.options("/api/v1/sessions", headers=preflight).headers
    with serve(service_settings.replace(cors_origins=("http://dash.example",))) as c:
        r = c.options("/api/v1/sessions", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://dash.example"
        r = c.get("/api/v1/health", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers

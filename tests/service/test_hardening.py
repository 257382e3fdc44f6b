"""Attacks on a running server (issue 15): each test performs one against a real uvicorn server.

File reads through replay, hangs (FIFOs, wide headers, slow clients), races on
the session limit, cross-site requests, two servers on one data folder and a
damaged database.  Every test uses a handful of connections: they prove the
mechanism, not the capacity (``benchmarks/hostile_clients.py`` measures that).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from svc_kit import LiveServer, serve, wait_until

from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.cli import main

SECRET = "s3cr3t-c0ntent-line"


def _replay(live_server: LiveServer, path: str) -> tuple[int, str]:
    r = live_server.client.post("/api/v1/sessions", json={"source": "replay", "capture_path": path, "speed": 50},
                                timeout=20.0)  # fmt: skip
    return r.status_code, r.text


@pytest.mark.slow
def test_replay_reads_only_the_capture_folder(live_server: LiveServer, tmp_path: Path) -> None:
    capture = live_server.settings.capture_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text(f"root:*:0:0:{SECRET}\ndaemon:x:1:1\n")
    good_outside = outside / "good.csv"
    write_csv(good_outside, simulate_drill("march", fs_hz=50.0, has_gyro=False, seed=3, n_sets=1).samples)

    # An absolute path outside: refused without reading it, the same answer whether it exists or not.
    code, text = _replay(live_server, str(secret))
    assert code == 422 and SECRET not in text and "capture folder" in text
    code_missing, text_missing = _replay(live_server, str(outside / "missing.csv"))
    assert code_missing == 422 and text_missing == text.replace("secret.csv", "missing.csv")
    # A valid recording outside is refused too (it would be copied into the capture folder and exportable).
    assert _replay(live_server, str(good_outside))[0] == 422
    # Climbing out of the folder, or a symbolic link inside it pointing out, is refused.
    assert _replay(live_server, "../outside/good.csv")[0] == 422
    os.symlink(good_outside, capture / "link.csv")
    assert _replay(live_server, "link.csv")[0] == 422
    # A relative path is read from the capture folder (not the server's working directory).
    write_csv(capture / "rec.csv", simulate_drill("march", fs_hz=50.0, has_gyro=False, seed=3, n_sets=1).samples)
    code, text = _replay(live_server, "rec.csv")
    assert code == 201, text
    # Errors about files in the folder never quote their content nor show the server's absolute paths.
    (capture / "bad.csv").write_text(f"time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n0.01,{SECRET},0,1\n" * 3)
    (capture / "foreign.csv").write_text(f"{SECRET},b,c\n1,2,3\n")
    for name in ("bad.csv", "foreign.csv"):
        code, text = _replay(live_server, name)
        assert code == 422 and SECRET not in text and str(capture) not in text and name in text, text


def test_replay_of_a_fifo_is_refused_at_once(live_server: LiveServer) -> None:
    fifo = live_server.settings.capture_dir / "pipe.csv"
    os.mkfifo(fifo)
    try:
        code, text = _replay(live_server, str(fifo))
        assert code == 422 and "not a regular file" in text
    finally:
        # Without the fix the server's thread waits in open() for a writer: give it one so teardown ends.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)


def _upload(client: httpx.Client, name: str, content: bytes, timeout_s: float = 20.0) -> httpx.Response:
    return client.post("/api/v1/analyze", files={"file": (name, content, "text/csv")}, timeout=timeout_s)


@pytest.mark.slow
def test_a_wide_header_or_a_long_line_is_refused_in_linear_time(live_server: LiveServer) -> None:
    # 40,000 columns took the quadratic duplicate check 31 s; the refusal now needs one pass.
    wide = ",".join(f"c{i}" for i in range(40_000)).encode() + b"\n" + b"1\n"
    r = _upload(live_server.client, "wide.csv", wide, timeout_s=10.0)
    assert r.status_code == 422 and "header line is 268889 characters long" in r.json()["detail"]
    wide = ",".join(f"c{i}" for i in range(4_000)).encode() + b"\n" + b"1\n"
    r = _upload(live_server.client, "wide.csv", wide, timeout_s=10.0)
    assert r.status_code == 422 and "4000 columns; the most accepted is" in r.json()["detail"]
    long_line = b"time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n" + b"1" * 200_000 + b",0,0,1\n"
    r = _upload(live_server.client, "long.csv", long_line)
    assert r.status_code == 422 and "line 3 is 200006 characters long" in r.json()["detail"]
    # Repeated names are still found (in one pass).
    r = _upload(live_server.client, "dup.csv", b"time_s,acc_x_g,acc_y_g,acc_z_g,acc_x_g\n0,0,0,1,0\n")
    assert r.status_code == 422 and "'acc_x_g' appears more than once" in r.json()["detail"]


@pytest.mark.slow
def test_uploads_run_in_a_bounded_pool_of_their_own(service_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Analyses wait in their own pool (1 running + 1 waiting here); more get 503; routes never wait;
    a job whose client hangs up is told to stop; shutdown removes the server's temporary files."""
    import hipflex.service.routes.analyze as analyze_route

    started, release = threading.Event(), threading.Event()
    cancelled: list[bool] = []

    def blocking_analyse(*args: Any) -> dict[str, Any]:
        cancel = args[-1] if isinstance(args[-1], threading.Event) else threading.Event()
        started.set()
        while not (release.is_set() or cancel.is_set()):
            time.sleep(0.02)
        cancelled.append(cancel.is_set())
        raise HTTPException(422, "stopped by the test")

    monkeypatch.setattr(analyze_route, "_analyse", blocking_analyse)
    settings = service_settings.replace(analysis_workers=1, analysis_waiting=1)
    stale = settings.upload_tmp_dir / "upload-left-by-a-killed-server"
    stale.mkdir(parents=True)
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    app = create_app(settings)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as c:
        try:
            assert not stale.exists()  # emptied at start
            url = f"{c.base_url}/api/v1/analyze"
            # Two clients that will hang up: one running, one waiting.
            hanging = [_hanging_upload(url) for _ in range(2)]
            try:
                assert started.wait(10)
                deadline = time.monotonic() + 10
                while app.state.hipflex.pool.admitted < 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                r = _upload(c, "third.csv", b"x", timeout_s=5.0)
                assert r.status_code == 503 and "retry later" in r.json()["detail"]
                assert c.get("/api/v1/sessions", timeout=5.0).status_code == 200  # routes do not wait for them
                # While full, an upload is refused before its body is read (no parsing of bodies to refuse).
                port = c.base_url.port
                with socket.create_connection(("127.0.0.1", port)) as raw:
                    raw.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
                                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")  # fmt: skip
                    raw.settimeout(5.0)
                    assert raw.recv(4096).startswith(b"HTTP/1.1 503")
            finally:
                for sock in hanging:
                    sock.close()
            # Every admitted job has ended (a job frees its place only after it returns, a waiting one
            # that never started at once), so each job that ran has said whether it was told to stop.
            wait_until(lambda: app.state.hipflex.pool.admitted == 0, 10, "the hung-up jobs to end")
            assert cancelled and all(cancelled)  # every job that ran was told its client left
        finally:
            release.set()  # (a server without the pool would otherwise never stop)
    assert not settings.upload_tmp_dir.exists()


def _hanging_upload(url: str) -> socket.socket:
    """Send a complete multipart upload on a raw socket and keep the connection open without reading."""
    parsed = httpx.URL(url)
    body, ctype = _multipart(b"time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n")
    sock = socket.create_connection((parsed.host, parsed.port))
    head = (f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: 127.0.0.1:{parsed.port}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    sock.sendall(head.encode() + body)
    return sock


def _multipart(content: bytes) -> tuple[bytes, str]:
    boundary = "hipflexboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_the_session_limit_holds_under_concurrent_requests(service_settings: Any) -> None:
    settings = service_settings.replace(max_sessions=2)
    body = {"source": "simulator", "drill": "march", "n_sets": 1, "speed": 20}
    with serve(settings) as c:
        url = f"{c.base_url}/api/v1/sessions"
        barrier = threading.Barrier(8)

        def post(_: int) -> int:
            with httpx.Client(timeout=30.0) as own:
                barrier.wait()
                return own.post(url, json=body).status_code

        with ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(post, range(8)))
        assert sorted(codes) == [201, 201] + [429] * 6, codes
        for s in c.get("/api/v1/sessions").json()["items"]:
            c.post(f"/api/v1/sessions/{s['id']}/stop")


@pytest.mark.slow
def test_a_second_server_on_the_same_database_refuses_to_start(
    service_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(service_settings) as c:
        assert c.get("/api/v1/health").status_code == 200
        with pytest.raises(RuntimeError, match="failed to start"):
            with serve(service_settings):
                pass
        capsys.readouterr()
        code = main(["serve", "--port", "0", "--db", str(service_settings.db_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and f"PID {os.getpid()}" in err[0], err
        assert c.get("/api/v1/health").status_code == 200  # the first one carries on
    with serve(service_settings) as c:  # the lock went with the first server
        assert c.get("/api/v1/health").status_code == 200


def _damaged_copy(path: Path) -> None:
    """A real database with sessions, then 8 KiB of garbage in the middle of the file."""
    from hipflex.dsp.analysis_settings import Settings
    from hipflex.service.store import Store

    store = Store(path)
    for i in range(150):
        store.create_session(source="simulator", params={"i": i, "pad": "x" * 200}, settings=Settings().to_dict(),
                             version="0", raw_log_dir=path.parent)  # fmt: skip
    store.close()
    size = path.stat().st_size
    assert size > 32 * 1024
    with open(path, "r+b") as fh:
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(bytes(range(256)) * 32)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "bare_header", "truncated", "middle"])
def test_a_damaged_database_is_moved_aside_and_a_fresh_one_started(
    service_settings: Any, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = service_settings.db_path
    db.parent.mkdir(parents=True)
    if damage == "garbage":
        db.write_bytes(os.urandom(5000))
    elif damage == "bare_header":
        db.write_bytes(b"SQLite format 3\x00")
    else:
        _damaged_copy(db)
        if damage == "truncated":
            with open(db, "r+b") as fh:
                fh.truncate(1500)
    with caplog.at_level(logging.WARNING, logger="hipflex.service"), serve(service_settings) as c:
        r = c.get("/api/v1/sessions")
        assert r.status_code == 200 and r.json()["total"] == 0
        assert c.post("/api/v1/sessions", json={"source": "simulator", "n_sets": 1, "speed": 50}).status_code == 201
    moved = list(db.parent.glob("hipflex.db.corrupt-*"))
    assert len(moved) == 1 and moved[0].name.startswith("hipflex.db.corrupt-2")
    assert any(str(moved[0]) in rec.getMessage() for rec in caplog.records)


def test_a_foreign_database_is_refused_in_one_line(service_settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    db = service_settings.db_path
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    con.close()
    code = main(["serve", "--port", "0", "--db", str(db)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is not a hipflex database" in err[0], err
    with sqlite3.connect(db) as con:  # untouched
        assert con.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    con.close()


def _server_side_sockets(server: Any) -> list[socket.socket]:
    conns = server.server.server_state.connections
    return [p.transport.get_extra_info("socket") for p in conns if p.transport is not None]


@pytest.mark.slow
def test_responses_are_not_delayed_by_nagle(service_settings: Any) -> None:
    """Every accepted connection has TCP_NODELAY (else each keep-alive response waits for a delayed ACK)."""
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    with ServerThread(create_app(service_settings)) as server, httpx.Client(base_url=server.url) as c:
        assert c.get("/api/v1/health").status_code == 200
        socks = _server_side_sockets(server)
        assert socks and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in socks)


@pytest.mark.slow
def test_foreign_pages_cannot_change_state_or_open_streams(service_settings: Any) -> None:
    """What a page on another origin can send (a form POST, a fetch, a WebSocket) is refused with 403."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    settings = service_settings.replace(cors_origins=("http://dash.example",))
    with serve(settings) as c:
        own = str(c.base_url).rstrip("/")
        sid = c.post("/api/v1/sessions", json={"source": "simulator", "n_sets": 1, "speed": 1}).json()["id"]
        ws = f"{own.replace('http', 'ws', 1)}/api/v1/sessions/{sid}/ws"
        for origin in ("http://evil.example", "null", own.replace("127.0.0.1", "localhost")):
            # The form a page can submit without any script, and a fetch of the body-less stop.
            form = {"origin": origin, "content-type": "application/x-www-form-urlencoded"}
            r = c.post(f"/api/v1/sessions/{sid}/stop", headers=form, content=b"")
            assert r.status_code == 403 and "cross-origin" in r.json()["detail"], (origin, r.text)
            r = c.post("/api/v1/analyze", headers={"origin": origin}, files={"file": ("a.csv", b"x")})
            assert r.status_code == 403
            assert c.post("/api/v1/devices/scan", headers={"origin": origin}).status_code == 403
            with pytest.raises(InvalidStatus) as info:
                with connect(ws, origin=origin, open_timeout=10):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403
        assert c.get(f"/api/v1/sessions/{sid}").json()["status"] == "running"
        # Scanning is not a GET any more (a GET must not touch the radio or the store).
        r = c.get("/api/v1/devices/scan")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        # The server's own page and the configured origin may; so may clients that are not browsers.
        with connect(ws, origin=own, open_timeout=10) as conn:  # type: ignore[arg-type]
            assert conn.recv(timeout=10)
        r = c.post(f"/api/v1/sessions/{sid}/stop", headers={"origin": "http://dash.example"})
        assert r.status_code == 200 and r.json()["status"] == "stopped"
        assert c.post(f"/api/v1/sessions/{sid}/stop", headers={"origin": own}).status_code == 200


@pytest.mark.slow
def test_every_response_forbids_framing_sniffing_and_foreign_scripts(service_settings: Any) -> None:
    with serve(service_settings) as c:
        for path in ("/", "/app.js", "/api/v1/health", "/api/v1/sessions/nope", "/docs"):
            r = c.get(path)
            assert r.headers["x-frame-options"] == "DENY", path
            assert r.headers["x-content-type-options"] == "nosniff", path
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
        assert "script-src 'self';" in c.get("/").headers["content-security-policy"]  # no inline, no CDN


def _closed_by_server(sock: socket.socket, within_s: float, answered: list[bytes] | None = None) -> bool:
    """True when the server closes the connection within ``within_s`` (reads until EOF into ``answered``)."""
    sock.settimeout(within_s)
    got = answered if answered is not None else []
    try:
        while chunk := sock.recv(4096):
            got.append(chunk)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@pytest.mark.slow
def test_slow_clients_are_timed_out_and_connections_capped(service_settings: Any) -> None:
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    settings = service_settings.replace(header_timeout_s=1.0, max_connections=4)
    with ServerThread(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30.0) as c:
        port = server.port
        open_connections = server.server.server_state.connections
        # Three clients that send their headers a byte at a time, and one that stalls in its body.
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for s in slow:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHo")
        body = socket.create_connection(("127.0.0.1", port))
        body.sendall(b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"source\"")  # fmt: skip
        wait_until(lambda: len(open_connections) == 4, 10, "the server to hold the four connections")
        # The cap is reached: a fifth connection is closed at once, before any work.
        extra = socket.create_connection(("127.0.0.1", port))
        extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer: list[bytes] = []
        assert _closed_by_server(extra, 5.0, answer) and answer == []  # closed unanswered
        # Dribbling bytes does not keep a connection alive past the header timeout.
        for _ in range(3):
            for s in slow:
                s.sendall(b"s")
            time.sleep(0.2)
        assert all(_closed_by_server(s, 5.0) for s in slow)
        assert _closed_by_server(body, 5.0)
        for s in (*slow, body, extra):
            s.close()
        # Normal requests (and an idle-then-reused keep-alive connection) are served again.
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/api/v1/sessions").status_code == 200


def test_repeated_log_lines_are_rate_limited() -> None:
    from hipflex.service.guard import RateLimitFilter

    logger = logging.getLogger("hipflex.test.flood")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler, limit = Keep(), RateLimitFilter(interval_s=3600)
    logger.addHandler(handler)
    logger.addFilter(limit)
    try:
        for _ in range(1000):
            logger.error("socket.accept() out of system resource: %s", "Too many open files")
        logger.error("another message")
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(limit)
    assert [r.getMessage() for r in records] == [
        "socket.accept() out of system resource: Too many open files", "another message"]  # fmt: skip


def test_tokens_stay_out_of_urls_and_other_ports(service_settings: Any) -> None:
    token = "tok-for-hardening-tests"
    with serve(service_settings.replace(token=token)) as c:  # loopback with a token
        port = c.base_url.port
        bearer = {"authorization": f"Bearer {token}"}
        # ?token= only where a browser cannot send a header: the dashboard page and the streams.
        assert c.get("/api/v1/sessions", params={"token": token}).status_code == 401
        assert c.post("/api/v1/sessions", params={"token": token}, json={"source": "simulator"}).status_code == 401
        assert c.get("/api/v1/sessions/x/events", params={"token": token}).status_code == 404
        c.cookies.clear()
        # The cookie is named after the port: another local service (or hipflex server) never gets it.
        cookie = c.get("/", params={"token": token}).headers["set-cookie"]
        assert cookie.startswith(f"hipflex_token_{port}={token};")
        c.cookies.clear()
        # On a loopback bind the Host check holds with a token too (DNS rebinding).
        r = c.get("/api/v1/health", headers={**bearer, "host": f"attacker.example:{port}"})
        assert r.status_code == 400
        assert c.get("/api/v1/health", headers=bearer).status_code == 200


@pytest.mark.slow
def test_contract_nits(live_server: LiveServer) -> None:
    c = live_server.client
    # 405 names the methods that are allowed.
    assert c.post("/api/v1/health").headers["allow"] == "GET"
    assert c.put("/api/v1/sessions").headers["allow"] == "GET, POST"
    # A speed so small that the session would never advance is refused.
    r = c.post("/api/v1/sessions", json={"source": "simulator", "speed": 5e-324})
    assert r.status_code == 422 and "speed" in r.json()["detail"]
    # A boolean or a string is no integer (lax parsing took "seed": false as seed 0).
    for bad in ({"seed": False}, {"seed": "3"}, {"n_sets": True}, {"has_gyro": 0}):
        r = c.post("/api/v1/sessions", json={"source": "simulator", **bad})
        assert r.status_code == 422, (bad, r.text)
    # Settings keep their types (identify_lever is a boolean, not 1.0), and the schema says so.
    s = c.post("/api/v1/sessions", json={"source": "simulator", "n_sets": 1, "speed": 50}).json()
    assert s["settings"]["identify_lever"] is True
    assert s["raw_log"] == f"{s['id']}.csv"  # no server path in replies
    c.post(f"/api/v1/sessions/{s['id']}/stop")
    schema = c.get("/openapi.json").json()["components"]["schemas"]["SessionOut"]["properties"]["settings"]
    assert {"type": "boolean"} in schema["additionalProperties"]["anyOf"]


@pytest.mark.slow
def test_every_documented_session_example_is_accepted(live_server: LiveServer) -> None:
    # The schema's own examples must work as given (a replay of a file that is
    # not there was one of them, and every tool that sends examples got a 422).
    c = live_server.client
    examples = c.get("/openapi.json").json()["components"]["schemas"]["SessionCreate"]["examples"]
    assert examples
    for body in examples:
        r = c.post("/api/v1/sessions", json=body)
        assert r.status_code == 201, (body, r.text)
        c.post(f"/api/v1/sessions/{r.json()['id']}/stop")


def test_every_rep_threshold_the_schema_allows_is_accepted(live_server: LiveServer) -> None:
    # schemathesis: min_rom_deg=179 was schema-valid and got a 422 (the analysis needs it below the
    # pendulum's largest flexion). The schema now gives the real bound; values inside it work.
    c = live_server.client
    spec = c.get("/openapi.json").json()
    field = spec["components"]["schemas"]["SessionCreate"]["properties"]["min_rom_deg"]["anyOf"][0]
    query = next(p for p in spec["paths"]["/api/v1/analyze"]["post"]["parameters"] if p["name"] == "min_rom_deg")
    bound = field.get("exclusiveMaximum", field.get("maximum"))
    assert query["schema"]["anyOf"][0].get("exclusiveMaximum", query["schema"]["anyOf"][0].get("maximum")) == bound
    r = c.post("/api/v1/sessions", json={"source": "simulator", "n_sets": 1, "speed": 50, "min_rom_deg": bound - 0.5})
    assert r.status_code == 201, r.text
    c.post(f"/api/v1/sessions/{r.json()['id']}/stop")
    rec = "time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(f"{i / 50:.2f},0,0,1\n" for i in range(500))
    r = c.post("/api/v1/analyze", params={"min_rom_deg": bound - 0.5}, files={"file": ("a.csv", rec.encode())})
    assert r.status_code == 200, r.text
    assert c.post("/api/v1/sessions", json={"source": "simulator", "min_rom_deg": bound}).status_code == 422

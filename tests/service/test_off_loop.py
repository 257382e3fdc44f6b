"""Attacks on a running server (issue 15): parsing never holds the event loop, and a hang-up stops loading.

Each test performs the attack against a real uvicorn server (in a thread of
this process, so a parser can be slowed down or held by the test).  Timeouts
are generous: they tell a deadlock from progress, never measure speed
(``benchmarks/hostile_clients.py`` measures the latency under load).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hipflex.service.app import create_app
from hipflex.service.server import ServerThread


def _recording(rows: int) -> bytes:
    return ("time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(f"{i / 50:.2f},0,0,1\n" for i in range(rows))).encode()


def _wait(cond: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_multipart_upload_is_parsed_off_the_event_loop(
    service_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an upload's multipart body is being parsed (held here), the loop still answers requests.

    Starlette's ``request.form()`` ran the parser on the loop: fifty uploads of tens of MB
    made every route wait (p95 170 ms); a parser that stalls froze the whole API.
    """
    from python_multipart import MultipartParser

    real_write = MultipartParser.write
    parsing, release = threading.Event(), threading.Event()
    threads: list[str] = []

    def held_write(self: Any, data: bytes) -> int:
        threads.append(threading.current_thread().name)
        parsing.set()
        release.wait(30)
        return int(real_write(self, data))

    monkeypatch.setattr(MultipartParser, "write", held_write)
    with ServerThread(create_app(service_settings)) as server, httpx.Client(base_url=server.url) as c:
        result: list[httpx.Response] = []
        upload = threading.Thread(target=lambda: result.append(
            c.post("/api/v1/analyze", files={"file": ("rec.csv", _recording(500))}, timeout=60.0)))  # fmt: skip
        upload.start()
        try:
            assert parsing.wait(20), "the upload was never parsed"
            # The parser is inside a chunk: a request that needs the loop must still be answered.
            with httpx.Client(base_url=server.url, timeout=10.0) as other:
                assert other.get("/api/v1/health").status_code == 200
                assert other.get("/api/v1/sessions").status_code == 200
        finally:
            release.set()
            upload.join(60)
        assert result and result[0].status_code == 200, result and result[0].text
        assert result[0].json()["source"] == "rec.csv"
        assert threads and all(name.startswith("hipflex-analysis") for name in threads), threads
    assert not service_settings.upload_tmp_dir.exists()


def test_an_upload_cut_off_mid_body_leaves_no_file(service_settings: Any) -> None:
    with ServerThread(create_app(service_settings)) as server:
        port = httpx.URL(server.url).port
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
                        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n" + b"x" * 300_000)  # fmt: skip
            assert _wait(lambda: any(service_settings.upload_tmp_dir.glob("upload-*/body")), 20)
        # The hang-up ends the request, and the request removes its folder.
        assert _wait(lambda: not any(service_settings.upload_tmp_dir.glob("upload-*")), 20)


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["fast", "careful"])
def test_a_replay_load_stops_when_its_client_hangs_up(
    service_settings: Any, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A client asks to replay a long recording and hangs up: the parsing stops, no session starts.

    Before, the file was parsed to the end and a session started streaming for nobody;
    fifty such requests kept the pool busy for as long as their files took to parse.  Both
    readers are slowed: pyarrow's (blocks of a plain file) and the careful one (chunks of lines).
    """
    import hipflex.sensor.files.csv_fast as csv_fast
    import hipflex.sensor.files.csv_io as csv_io

    rows = 20_000
    parsed: list[int] = []
    if reader == "careful":
        chunk_lines = 500  # 40 chunks of a slowed parser: 10 s to parse it all
        real_loadtxt = csv_io._loadtxt

        def slow_loadtxt(lines: list[str], *args: Any) -> Any:
            parsed.append(len(lines))
            time.sleep(0.25)
            return real_loadtxt(lines, *args)

        monkeypatch.setattr(csv_io, "CHUNK_LINES", chunk_lines, raising=False)
        monkeypatch.setattr(csv_io, "_loadtxt", slow_loadtxt)
        monkeypatch.setattr(csv_io, "read_columns", lambda *a, **k: None)
    else:
        real_batches = csv_fast._batches

        def slow_batches(*args: Any) -> Any:
            for batch in real_batches(*args):
                parsed.append(batch.num_rows)
                time.sleep(1.0)
                yield batch

        monkeypatch.setattr(csv_fast, "_CHUNK", 16384)  # ~20 blocks for the 20,000 rows
        monkeypatch.setattr(csv_fast, "_batches", slow_batches)
    capture: Path = service_settings.capture_dir
    capture.mkdir(parents=True, exist_ok=True)
    (capture / "long.csv").write_bytes(_recording(rows))
    app = create_app(service_settings)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as c:
        body = json.dumps({"source": "replay", "capture_path": "long.csv", "speed": 1}).encode()
        port = httpx.URL(server.url).port
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            assert _wait(lambda: len(parsed) > 0, 20), "the recording was never parsed"
        # Hung up. The job frees its place in the pool once it stops (or, without the fix, finishes).
        pool = app.state.hipflex.pool
        assert _wait(lambda: pool.admitted == 0, 60)
        assert sum(parsed) < rows, "the whole file was parsed after its client left"
        assert c.get("/api/v1/sessions").json()["total"] == 0  # no session for a client that left


def test_parses_hold_a_byte_budget_so_big_files_do_not_overlap() -> None:
    """Two uploads at the size limit took the server past 1 GB: parsing takes ~6x the file."""
    from hipflex.service.analysis_pool import ByteBudget, Cancelled

    budget = ByteBudget(50)
    inside, overlap = [0], [0]
    lock = threading.Lock()

    def job(nbytes: int) -> None:
        with budget.hold(nbytes, threading.Event()):
            with lock:
                inside[0] += 1
                overlap[0] = max(overlap[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=job, args=(30,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlap[0] == 1 and budget.used_bytes == 0
    # Small files share it; a file larger than the budget runs alone instead of never.
    with budget.hold(20, threading.Event()), budget.hold(20, threading.Event()):
        assert budget.used_bytes == 40
    with budget.hold(10**9, threading.Event()):
        assert budget.used_bytes == 50
    # A job waiting for room stops when its client goes away.
    cancel = threading.Event()
    with budget.hold(50, threading.Event()):
        cancel.set()
        with pytest.raises(Cancelled):
            with budget.hold(1, cancel):
                pass


def test_a_file_name_with_a_nul_byte_is_no_server_error(live_server: Any) -> None:
    # The file keeps its suffix on disk; a NUL byte in it made open() raise and the API answer 500.
    body = (b'--bb\r\nContent-Disposition: form-data; name="file"; filename="a.c\x00sv"\r\n\r\n'
            + _recording(500) + b"\r\n--bb--\r\n")  # fmt: skip
    r = live_server.client.post("/api/v1/analyze", content=body,
                                headers={"content-type": "multipart/form-data; boundary=bb"})  # fmt: skip
    assert r.status_code == 200, r.text

"""REST contract details in process: validation, 404s, uploads, devices, OpenAPI, the dashboard route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_kit import ADDRESSES, LiveServer, NoBluetooth, serve, ws_messages

from hipflex.sensor.files.csv_io import write_csv
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.formats import load_samples
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.cli import main
from hipflex.service.settings import ServiceSettings


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "strength.csv"
    write_csv(path, simulate_drill("strength", fs_hz=52.0, has_gyro=False, seed=4, n_sets=1).samples)
    return path


@pytest.mark.slow
def test_health(client: httpx.Client) -> None:
    # "analysis": "ready": no warm-up runs in this test process (the dashboard says "preparing" otherwise).
    assert client.get("/api/v1/health").json() == {"status": "ok", "version": "0.1.0", "analysis": "ready"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"source": "tape"}, "source"),
        ({"source": "simulator", "fs_hz": -1}, "fs_hz"),
        ({"source": "simulator", "drill": "squat"}, "drill"),
        ({"source": "simulator", "speed": 0}, "speed"),
        ({"source": "simulator", "side": "middle"}, "side"),
        ({"source": "simulator", "colour": "red"}, "colour"),
        ({"source": "replay"}, "capture_path"),
        ({"source": "device"}, "device_address"),
        ({"source": "device", "device_address": "not-an-address"}, "device_address"),
    ],
)
def test_bad_session_bodies_are_422_with_a_clear_message(
    client: httpx.Client, body: dict[str, Any], where: str
) -> None:
    r = client.post("/api/v1/sessions", json=body)
    assert r.status_code == 422
    out = r.json()
    assert out["detail"].startswith("invalid request: ") and where in out["detail"]
    assert "\n" not in out["detail"] and out["errors"]


def test_non_json_body_is_422(client: httpx.Client) -> None:
    r = client.post("/api/v1/sessions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_replay_of_a_bad_file_is_422_naming_it(live_server: LiveServer) -> None:
    client, capture = live_server.client, live_server.settings.capture_dir
    r = client.post("/api/v1/sessions", json={"source": "replay", "capture_path": str(capture / "nope.csv")})
    assert r.status_code == 422 and r.json()["detail"] == "nope.csv: no such file"
    (capture / "bad.csv").write_text("time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n")
    r = client.post("/api/v1/sessions", json={"source": "replay", "capture_path": "bad.csv"})
    assert r.status_code == 422 and r.json()["detail"].startswith("bad.csv: too short")
    # "~name" of a user that does not exist (schemathesis found this one as a 500).
    r = client.post("/api/v1/sessions", json={"source": "replay", "capture_path": "~no-such-user-9/x.csv"})
    assert r.status_code == 422 and r.json()["detail"].startswith("~no-such-user-9/x.csv: cannot expand '~'")
    assert client.get("/api/v1/sessions").json()["total"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", "/sets", "/reps", "/export.json", "/export.csv", "/events"])
def test_unknown_session_is_404(client: httpx.Client, suffix: str) -> None:
    r = client.get(f"/api/v1/sessions/0123abcd{suffix}")
    assert r.status_code == 404 and r.json() == {"detail": "session '0123abcd' not found"}


@pytest.mark.slow
def test_unknown_session_stop_and_websocket(live_server: LiveServer) -> None:
    assert live_server.client.post("/api/v1/sessions/0123abcd/stop").status_code == 404
    msgs, code = ws_messages(f"{live_server.ws_url}/api/v1/sessions/0123abcd/ws")
    assert msgs == [] and code == 4404


@pytest.mark.slow
def test_paging_is_validated(client: httpx.Client) -> None:
    assert client.get("/api/v1/sessions", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/sessions", params={"status": "lost"}).status_code == 422
    assert client.get("/api/v1/sessions", params={"limit": 500}).json() == {
        "items": [], "total": 0, "limit": 500, "offset": 0,
    }  # fmt: skip


@pytest.mark.slow
def test_upload_gives_the_cli_document(
    client: httpx.Client, recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open(recording, "rb") as fh:
        r = client.post("/api/v1/analyze", files={"file": ("strength.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text
    capsys.readouterr()
    assert main(["analyze", "--json", str(recording)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert r.json() == {**cli, "source": "strength.csv"}
    assert r.json()["rep_count"] > 3
    with open(recording, "rb") as fh:
        r = client.post("/api/v1/analyze", params={"min_rom_deg": 60, "set_gap_s": 2},
                        files={"file": ("../x/strength.csv", fh)})  # fmt: skip
    doc = r.json()
    assert doc["source"] == "strength.csv" and doc["settings"]["min_rom_deg"] == 60.0
    assert doc["settings"]["set_gap_s"] == 2.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "content",
    [b"time_s,acc_x_g,acc_y_g,acc_z_g\n", b"time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,zero,1\n", b"", b"a,b\n1,2\n"],
)
def test_bad_uploads_are_422_with_the_input_error(client: httpx.Client, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_samples(path)
    r = client.post("/api/v1/analyze", files={"file": ("x.csv", content)})
    assert r.status_code == 422
    assert r.json() == {"detail": f"x.csv: {info.value.problem}"}
    assert "\n" not in r.json()["detail"]


@pytest.mark.slow
def test_unknown_upload_format_is_422(client: httpx.Client) -> None:
    r = client.post("/api/v1/analyze", params={"format": "nope"}, files={"file": ("x.csv", b"a")})
    assert r.status_code == 422 and r.json()["detail"].startswith("unknown format 'nope'; known formats: auto, csv")


@pytest.mark.slow
def test_upload_without_a_file_is_422(client: httpx.Client) -> None:
    assert client.post("/api/v1/analyze").status_code == 422


@pytest.mark.slow
def test_uploads_and_bodies_are_bounded(service_settings: ServiceSettings, recording: Path) -> None:
    settings = service_settings.replace(max_upload_bytes=100_000, max_body_bytes=2_000)
    big = b"time_s,acc_x_g,acc_y_g,acc_z_g\n" + b"0.0,0.0,0.0,1.0\n" * 20_000
    with serve(settings) as c:
        r = c.post("/api/v1/analyze", files={"file": ("big.csv", big)})
        assert r.status_code == 413 and "limit" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            yield b'{"source": "simulator", "label": "'
            for _ in range(100):
                yield b"x" * 100
            yield b'"}'

        r = c.post("/api/v1/sessions", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        with open(recording, "rb") as fh:
            assert c.post("/api/v1/analyze", files={"file": ("ok.csv", fh)}).status_code == 200


def test_devices_without_bluetooth_are_503(service_settings: ServiceSettings) -> None:
    with serve(service_settings, devices=NoBluetooth()) as c:
        r = c.post("/api/v1/devices/scan", params={"timeout_s": 1})
        assert r.status_code == 503 and r.json()["detail"].startswith("Bluetooth is not available")
        assert c.post(f"/api/v1/devices/{ADDRESSES[0]}/connect").status_code == 503
        assert c.get("/api/v1/devices").json() == {"items": []}


def test_default_backend_answers_503_without_an_adapter(service_settings: ServiceSettings) -> None:
    # The app's own backend on a machine without Bluetooth (emulated, so the test does not depend on this one).
    with serve(service_settings.replace(ble_backend="fake:no-adapter")) as c:
        r = c.post("/api/v1/devices/scan", params={"timeout_s": 0.2})
        assert r.status_code == 503 and "no Bluetooth adapter available" in r.json()["detail"]
        r = c.post(f"/api/v1/devices/{ADDRESSES[0]}/connect")
        assert r.status_code == 503 and "no Bluetooth adapter available" in r.json()["detail"]
        r = c.post("/api/v1/sessions", json={"source": "device", "device_address": ADDRESSES[0]})
        assert r.status_code == 422 and "not connected; connect it first" in r.json()["detail"]
        assert c.post("/api/v1/devices/scan", params={"timeout_s": 31}).status_code == 422


def test_device_paths_are_validated(client: httpx.Client) -> None:
    assert client.get("/api/v1/devices/nonsense").status_code == 422
    assert client.post("/api/v1/devices/AA:BB:CC:DD:EE:FF/disconnect").status_code == 404
    assert client.get("/api/v1/devices/AA:BB:CC:DD:EE:FF").status_code == 404


@pytest.mark.slow
def test_openapi_documents_every_route_and_the_stream_messages(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/health", "/api/v1/devices/scan", "/api/v1/devices", "/api/v1/devices/{address}",
                 "/api/v1/devices/{address}/connect", "/api/v1/devices/{address}/disconnect",
                 "/api/v1/sessions", "/api/v1/sessions/{session_id}", "/api/v1/sessions/{session_id}/stop",
                 "/api/v1/sessions/{session_id}/sets", "/api/v1/sessions/{session_id}/reps",
                 "/api/v1/sessions/{session_id}/export.csv", "/api/v1/sessions/{session_id}/export.json",
                 "/api/v1/sessions/{session_id}/events", "/api/v1/analyze"):  # fmt: skip
        assert path in paths, path
    comps = schema["components"]["schemas"]
    for name in ("StreamMessage", "AngleMessage", "RepMessage", "SetMessage", "StatusMessage", "RepPeakMessage",
                 "AnalysisOut", "SessionOut", "SessionCreate", "ErrorOut"):  # fmt: skip
        assert name in comps, name
    assert set(comps["StreamMessage"]["discriminator"]["mapping"]) == {"angle", "rep_peak", "rep", "set", "status"}
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), f"{method} {path}"


@pytest.mark.slow
def test_dashboard_is_served(client: httpx.Client, service_settings: ServiceSettings, tmp_path: Path) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    other = service_settings.replace(db_path=tmp_path / "other" / "hipflex.db")  # one server per database
    with serve(other, static_dir=tmp_path / "none") as c:
        r = c.get("/")
        assert r.status_code == 200 and "dashboard is not installed" in r.text
        assert c.get("/app.js").status_code == 404

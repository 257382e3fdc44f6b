"""The API's device seam with the live clients: scan, connect and a device session over the fake BLE tier.

An emulated H10 (ballistic drill, 200 Hz, 20 x real time, the client's clock running as
fast) is on a fake radio; the API scans it, connects it, streams it into a live session
and stops the session.  The session's analysis is stored and the capture log replays.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from svc_kit import FakeDevices, serve

from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.emulate.ble import FakeRadio
from hipflex.sensor.emulate.devices import PolarPmdPeripheral
from hipflex.sensor.emulate.devices.source import SampleFeed
from hipflex.sensor.live.client import BleBackends
from hipflex.sensor.sim.simulate import simulate_drill
from hipflex.service.sensor_devices import SensorDeviceBackend
from hipflex.service.settings import ServiceSettings

SPEED = 20.0


def emulated_h10() -> BleBackends:
    sim = simulate_drill("ballistic", fs_hz=200.0, has_gyro=False, seed=4, n_sets=2)
    radio = FakeRadio()
    radio.add(PolarPmdPeripheral(source=SampleFeed(sim.samples, loop=True), time_scale=SPEED))
    t0 = time.monotonic()
    return BleBackends(radio.client_backend, radio.scanner_backend, clock=lambda: t0 + (time.monotonic() - t0) * SPEED)


@pytest.mark.slow
def test_device_session_through_the_api(service_settings: ServiceSettings, tmp_path: Path) -> None:
    devices = SensorDeviceBackend(emulated_h10(), capture_dir=tmp_path / "ble")
    with serve(service_settings, devices=devices) as c:
        r = c.post("/api/v1/devices/scan", params={"timeout_s": 0.2})
        assert r.status_code == 200, r.text
        (item,) = r.json()["items"]
        address = item["address"]
        assert item["kind"] == "polar" and item["name"] == "Polar H10 0A1B2C3D"
        r = c.post(f"/api/v1/devices/{address}/connect")
        assert r.status_code == 200 and r.json()["connected"] is True and r.json()["battery_pct"] == 87
        r = c.post("/api/v1/sessions", json={"source": "device", "device_address": address})
        assert r.status_code == 201, r.text
        session = r.json()["id"]
        # A second session on the same sensor is refused while the first streams.
        r = c.post("/api/v1/sessions", json={"source": "device", "device_address": address})
        assert r.status_code == 422 and "connect it first" in r.json()["detail"]
        deadline = time.monotonic() + 30
        while c.get(f"/api/v1/sessions/{session}").json()["rep_count"] < 5:
            assert time.monotonic() < deadline, "no reps from the emulated sensor"
            time.sleep(0.05)
        assert c.post(f"/api/v1/sessions/{session}/stop").status_code == 200
        ended = c.get(f"/api/v1/sessions/{session}").json()
        assert ended["status"] == "stopped" and ended["rep_count"] >= 5
        assert c.get(f"/api/v1/devices/{address}").json()["connected"] is False
    (capture,) = (tmp_path / "ble").glob("*.jsonl")
    decoded = decode_capture(capture)
    assert len(decoded.samples) > 1000 and decoded.header.device.model == "H10"


@pytest.mark.slow
def test_unknown_sensor_is_404_and_no_adapter_is_503(service_settings: ServiceSettings) -> None:
    from hipflex.sensor.emulate.world import _NoAdapterScanner

    with serve(service_settings, devices=SensorDeviceBackend(emulated_h10(), find_timeout_s=0.2)) as c:
        assert c.post("/api/v1/devices/AA:BB:CC:DD:EE:FF/connect").status_code == 404
    with serve(service_settings, devices=SensorDeviceBackend(BleBackends(scanner=_NoAdapterScanner))) as c:
        r = c.post("/api/v1/devices/scan", params={"timeout_s": 0.2})
        assert r.status_code == 503 and "no Bluetooth adapter available" in r.json()["detail"]


@pytest.mark.slow
def test_the_default_backend_connects_and_streams_through_the_live_clients(service_settings: ServiceSettings) -> None:
    # No devices= injected: the app's own backend, over the emulated radio HIPFLEX_BLE_BACKEND names.
    settings = service_settings.replace(ble_backend="fake:h10,speed=20")
    with serve(settings) as c:
        r = c.post("/api/v1/devices/scan", params={"timeout_s": 0.2})
        assert r.status_code == 200, r.text
        (item,) = r.json()["items"]
        address = item["address"]
        assert item["name"] == "Polar H10 0A1B2C3D" and item["rssi_dbm"] is not None
        r = c.post(f"/api/v1/devices/{address}/connect")
        assert r.status_code == 200 and r.json()["connected"] is True, r.text
        r = c.post("/api/v1/sessions", json={"source": "device", "device_address": address})
        assert r.status_code == 201, r.text
        session = r.json()["id"]
        deadline = time.monotonic() + 30
        while c.get(f"/api/v1/sessions/{session}").json()["rep_count"] < 3:
            assert time.monotonic() < deadline, "no reps from the emulated sensor"
            time.sleep(0.05)
        assert c.post(f"/api/v1/sessions/{session}/stop").status_code == 200
        assert c.get(f"/api/v1/sessions/{session}").json()["status"] == "stopped"
    # The sensor's capture log went to the settings' capture folder, beside the session's raw log.
    (capture,) = settings.capture_dir.glob("*.jsonl")
    assert decode_capture(capture).header.device.model == "H10"
    assert (settings.capture_dir / f"{session}.csv").exists()


def test_a_malformed_ble_backend_is_refused_up_front(service_settings: ServiceSettings) -> None:
    from hipflex.service.app import create_app

    with pytest.raises(ValueError, match="unknown scenario 'h11'"):
        create_app(service_settings.replace(ble_backend="fake:h11"))
    create_app(service_settings.replace(ble_backend="fake:h11"), devices=FakeDevices())  # not used: no error

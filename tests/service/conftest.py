"""Fixtures of the service tests: settings in a temporary folder, and a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_kit import FakeDevices, LiveServer


@pytest.fixture
def service_settings(tmp_path: Path) -> Any:
    from hipflex.service.settings import ServiceSettings

    return ServiceSettings(db_path=tmp_path / "db" / "hipflex.db", capture_dir=tmp_path / "captures")


@pytest.fixture
def live_server(service_settings: Any) -> Iterator[LiveServer]:
    """``create_app`` served by uvicorn on a free loopback port in a background thread."""
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    devices = FakeDevices()
    server = ServerThread(create_app(service_settings, devices=devices)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            yield LiveServer(server.url, client, service_settings, devices)
    finally:
        server.stop()

"""Property-based API conformance (schemathesis) against the real server: no 500s, responses match the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from svc_kit import FakeDevices

from hipflex.service.app import create_app
from hipflex.service.server import ServerThread
from hipflex.service.settings import ServiceSettings

# The schema as the app generates it (building the app touches no disk; the lifespan does).
schema = schemathesis.openapi.from_dict(create_app(ServiceSettings(db_path=Path("unused.db"))).openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("schemathesis")
    settings = ServiceSettings(db_path=root / "hipflex.db", capture_dir=root / "captures", max_sessions=8)
    server = ServerThread(create_app(settings, devices=FakeDevices())).start()
    try:
        yield server.url
    finally:
        server.stop()


# These take schema-valid requests that can still fail on their content (a recording that does not
# exist or cannot be analysed, a device that is not connected): 422 there is the contract, not a bug.
CONTENT_CHECKED = {("POST", "/api/v1/sessions"), ("POST", "/api/v1/analyze")}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, base_url: str) -> None:
    excluded = [positive_data_acceptance] if (case.method.upper(), case.path) in CONTENT_CHECKED else []
    case.call_and_validate(base_url=base_url, excluded_checks=excluded)

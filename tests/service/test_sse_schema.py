"""The OpenAPI document describes each Server-Sent Event the live stream really sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema_rs import Draft202012Validator  # schemathesis brings it
from svc_kit import LiveServer

SIM = {"source": "simulator", "drill": "hold", "fs_hz": 50.0, "has_gyro": True, "seed": 2, "n_sets": 1, "speed": 50}


def _events(live_server: LiveServer, path: str) -> list[dict[str, Any]]:
    """Parse the stream into events as the SSE format defines them (fields of lines up to a blank one)."""
    events: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    with live_server.client.stream("GET", path, timeout=60.0) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if not line:
                if "data" in cur:
                    events.append(cur)
                cur = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                cur[name] = cur["data"] + "\n" + value if name == "data" and "data" in cur else value
    return events


@pytest.mark.slow
def test_every_event_of_the_live_stream_matches_the_documented_event_schema(live_server: LiveServer) -> None:
    api = live_server.client
    doc = api.get("/openapi.json").json()
    sid = api.post("/api/v1/sessions", json=SIM).json()["id"]
    media = doc["paths"]["/api/v1/sessions/{session_id}/events"]["get"]["responses"]["200"]["content"]
    per_event = media["text/event-stream"]["schema"]
    components = {"components": doc["components"]}
    event_check = Draft202012Validator({**per_event, **components})
    data_check = Draft202012Validator({**per_event["properties"]["data"]["contentSchema"], **components})
    events = _events(live_server, f"/api/v1/sessions/{sid}/events")
    assert len(events) > 10
    for event in events:
        event_check.validate(event)  # the event's fields (schemathesis reads `schema` per event)
        data_check.validate(json.loads(event["data"]))  # its data: one StreamMessage

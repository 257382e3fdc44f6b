"""The dashboard's form takes how the sensor is strapped (issue 19): face normal axis, placement, leg.

In headless Chromium against a real server: the three choices reach the session the form starts (its
request and the analysis settings stored with it), nothing is sent when left at "—", and an inconsistent
choice is refused by the server with the page saying why.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_kit import CHROMIUM, chromium, new_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]

MOUNTING = ("face_normal_axis", "sensor_placement", "sensor_leg")


def _start_from_form(page: Any, **choices: str) -> None:
    page.get_by_label("Drill", exact=True).select_option("strength")
    page.get_by_label("Speed (×)", exact=True).fill("20")
    for label, value in choices.items():
        page.get_by_label(label.replace("_", " "), exact=True).select_option(value)
    page.get_by_test_id("start-demo").click()


def _newest_session(live_server: Any) -> dict[str, Any]:
    page = live_server.client.get("/api/v1/sessions").json()
    assert page["total"] >= 1
    out: dict[str, Any] = page["items"][0]
    return out


def test_the_mounting_chosen_on_the_page_reaches_the_session(live_server: Any) -> None:
    problems: list[str] = []
    with chromium() as browser:
        page = new_page(browser, problems)
        page.goto(live_server.url + "/")
        # Left at "—": the request carries none of the three (the server's defaults apply).
        _start_from_form(page)
        page.get_by_test_id("session-id").wait_for()
        from playwright.sync_api import expect

        expect(page.get_by_test_id("session-id")).to_contain_text("session ")
        first = page.get_by_test_id("session-id").inner_text().removeprefix("session ").strip()
        plain = live_server.client.get(f"/api/v1/sessions/{first}").json()
        assert not any(k in plain["params"] for k in MOUNTING) or all(plain["params"][k] is None for k in MOUNTING)
        page.get_by_test_id("stop-session").click()
        expect(page.get_by_test_id("stop-session")).to_be_disabled()

        _start_from_form(page, Face_normal_axis="-z", Placement="lateral", Sensor_leg="right")
        expect(page.get_by_test_id("session-id")).not_to_contain_text(first)
        sid = page.get_by_test_id("session-id").inner_text().removeprefix("session ").strip()
        want = {"face_normal_axis": "-z", "sensor_placement": "lateral", "sensor_leg": "right"}
        session = live_server.client.get(f"/api/v1/sessions/{sid}").json()
        assert {k: session["params"][k] for k in MOUNTING} == want  # the request the page sent
        assert {k: session["settings"][k] for k in MOUNTING} == want  # the analysis settings it runs with
        page.get_by_test_id("stop-session").click()
        expect(page.get_by_test_id("stop-session")).to_be_disabled()
        live_server.wait_ended(sid)

        # A leg without the sense of the face normal says nothing: the server refuses, the page says why.
        _start_from_form(page, Face_normal_axis="z", Placement="—", Sensor_leg="left")
        expect(page.get_by_test_id("status")).to_contain_text("Could not start")
        expect(page.get_by_test_id("status")).to_contain_text("sensor_leg")
        assert live_server.client.get("/api/v1/sessions").json()["total"] == 2
    assert not [p for p in problems if "422" not in p], problems

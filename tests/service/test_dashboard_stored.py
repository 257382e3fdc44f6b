"""Stored sessions on the dashboard and its charts (issue 18.5), and the stored trace route it reads.

Browser tests run Debian's Chromium against a real server; the route tests call the API directly.
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import numpy as np
import pytest
from browser_kit import CHROMIUM, chromium, new_page, pixels, rep_count
from svc_kit import serve

browser = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}")

# Records every text drawn on a canvas, by canvas id, since the page loaded.
FILL_TEXT_SPY = """
window.__drawn = [];
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.__drawn.push([this.canvas.id, String(text)]);
  return fillText.call(this, text, ...rest);
};
"""


def _finished_session(client: httpx.Client, seed: int, **extra: Any) -> dict[str, Any]:
    """A short simulated session, run to its end at high speed; its final summary."""
    r = client.post("/api/v1/sessions", json={"source": "simulator", "drill": "ballistic", "fs_hz": 100,
                                              "seed": seed, "speed": 50, "n_sets": 1, **extra})  # fmt: skip
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    import time

    deadline = time.monotonic() + 90
    while (s := client.get(f"/api/v1/sessions/{sid}").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert s["status"] == "stopped" and s["rep_count"] >= 3, s
    out: dict[str, Any] = s
    return out


@pytest.mark.slow
@browser
def test_view_keeps_the_rep_count_and_shows_the_stored_trace(live_server: Any) -> None:
    """ "View" on a stored session: the history row keeps its rep count (it became 0), the counter shows it,
    and the angle chart shows the whole stored trace with the reps marked (it said "No live data")."""
    from playwright.sync_api import expect

    s = _finished_session(live_server.client, seed=31, label="stored")
    problems: list[str] = []
    with chromium() as b:
        page = new_page(b, problems)
        page.goto(live_server.url + "/")
        row = page.locator(f"[data-testid=history] tr[data-session-id='{s['id']}']")
        expect(row.locator("td").nth(5)).to_have_text(str(s["rep_count"]))
        assert pixels(page, "angle-canvas", "--accent")["n"] == 0  # nothing on screen yet
        row.get_by_role("button", name="View session stored").click()
        expect(page.get_by_test_id("session-id")).to_have_text(f"session {s['id']}")
        expect(page.get_by_test_id("rep-count")).to_have_text(str(s["rep_count"]))
        page.wait_for_timeout(300)  # a few frames: the row must stay right, not only at first
        expect(row.locator("td").nth(5)).to_have_text(str(s["rep_count"]), timeout=2000)
        label = rf"^Thigh flexion angle over the whole session \(\d+ s\), {s['rep_count']} reps marked$"
        expect(page.get_by_test_id("angle-canvas")).to_have_attribute("aria-label", re.compile(label))
        assert rep_count(page) == s["rep_count"]
        trace = pixels(page, "angle-canvas", "--accent")
        dots = pixels(page, "angle-canvas", "--accent2")
        assert trace["n"] > 1000, trace  # a whole session's trace across the chart
        assert dots["n"] > 20 * s["rep_count"], dots  # a filled dot (radius 4 px) per rep
    assert not problems, problems


@pytest.mark.slow
@browser
def test_peak_dots_stay_on_the_trace_after_attaching_mid_session(live_server: Any) -> None:
    """A page that attaches mid-session gets the earlier peaks but not their angles: no dot may be drawn
    where there is no trace (left of where the page's trace begins)."""
    from playwright.sync_api import expect

    r = live_server.client.post("/api/v1/sessions", json={"source": "simulator", "drill": "ballistic", "fs_hz": 100,
                                                          "seed": 41, "speed": 4, "n_sets": 2})  # fmt: skip
    sid = r.json()["id"]
    import time

    deadline = time.monotonic() + 90
    while len(live_server.client.get(f"/api/v1/sessions/{sid}/reps").json()) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    problems: list[str] = []
    with chromium() as b:
        page = new_page(b, problems)
        page.goto(live_server.url + "/")
        expect(page.get_by_test_id("session-id")).to_have_text(f"session {sid}")
        stray = []
        for _ in range(20):  # the first 2 s after attaching, while the trace fills the window
            trace = pixels(page, "angle-canvas", "--accent")
            dots = pixels(page, "angle-canvas", "--accent2")
            if dots["n"] and (trace["minX"] is None or dots["minX"] < trace["minX"] - 6):
                stray.append((trace, dots))
            page.wait_for_timeout(100)
        assert not stray, stray
        live_server.client.post(f"/api/v1/sessions/{sid}/stop")
    assert not problems, problems


@pytest.mark.slow
@browser
def test_speed_chart_axes_and_compare_defaults(live_server: Any) -> None:
    """The empty speed chart draws no made-up scale (it labelled 1, 1 and 0 °/s); with reps its labels are
    distinct round numbers; Compare starts with two different sessions."""
    from playwright.sync_api import expect

    older = _finished_session(live_server.client, seed=51, label="older", side="left")
    problems: list[str] = []
    with chromium() as b:
        page = new_page(b, problems)
        page.add_init_script(FILL_TEXT_SPY)
        page.goto(live_server.url + "/")
        expect(page.get_by_test_id("history").locator("tbody tr")).to_have_count(1)
        drawn = page.evaluate("window.__drawn.filter(([id]) => id === 'speed-canvas').map(([, t]) => t)")
        assert drawn and all("no reps yet" in t for t in drawn), drawn

        # A second session arrives after the page loaded (as the demo's do): A and B then differ.
        newer = _finished_session(live_server.client, seed=52, label="newer", side="left")
        page.get_by_test_id("history-refresh").click()
        expect(page.get_by_test_id("history").locator("tbody tr")).to_have_count(2)
        a, bsel = page.get_by_test_id("compare-a"), page.get_by_test_id("compare-b")
        assert (a.input_value(), bsel.input_value()) == (newer["id"], older["id"])
        # What the user picks stays picked, and the other select avoids it.
        bsel.select_option(newer["id"])
        page.get_by_test_id("history-refresh").click()
        page.wait_for_timeout(300)
        assert (a.input_value(), bsel.input_value()) == (older["id"], newer["id"])

        page.evaluate("window.__drawn.length = 0")
        page.locator(f"[data-testid=history] tr[data-session-id='{newer['id']}']").get_by_role("button").click()
        expect(page.get_by_test_id("rep-count")).to_have_text(str(newer["rep_count"]))
        page.wait_for_timeout(300)
        labels = page.evaluate("window.__drawn.filter(([id]) => id === 'speed-canvas').map(([, t]) => t)")
        last = labels[-6:]  # one drawing: three labels per panel
        vel = [float(t.split()[0]) for t in last[:3]]
        ms = [float(t.split()[0]) for t in last[3:]]
        assert [t.split()[1] for t in last] == ["°/s"] * 3 + ["ms"] * 3, last
        for ticks in (vel, ms):
            assert ticks[0] == 0 < ticks[1] < ticks[2] and math.isclose(ticks[2], 2 * ticks[1]), last
    assert not problems, problems


# ---- the stored trace route --------------------------------------------------------------------


def test_downsample_keeps_every_peak() -> None:
    from hipflex.service.routes.trace import downsample_minmax

    t = np.arange(20_000) / 100.0
    deg = 60 * np.maximum(0, np.sin(2 * np.pi * 0.37 * t)) ** 8  # narrow peaks a plain decimation steps over
    deg[500:700] = np.nan
    td, dd = downsample_minmax(t, deg, 1000)
    assert td.size <= 1000 and np.all(np.diff(td) > 0)
    assert np.nanmax(dd) == np.nanmax(deg)
    peaks_full = t[1:-1][(deg[1:-1] > deg[:-2]) & (deg[1:-1] >= deg[2:]) & (deg[1:-1] > 50)]
    for p in peaks_full:  # each rep's top survives within the bucket width
        near = dd[np.abs(td - p) < 0.5]
        assert np.nanmax(near) > 59, p
    assert np.isnan(dd[(td >= 5.0) & (td < 7.0)]).any()  # the gap stays a gap
    same_t, _ = downsample_minmax(t[:50], deg[:50], 1000)
    assert same_t.size == 50


@pytest.mark.slow
def test_trace_route(live_server: Any) -> None:
    c = live_server.client
    s = _finished_session(c, seed=61)
    r = c.get(f"/api/v1/sessions/{s['id']}/trace", params={"max_points": 500})
    assert r.status_code == 200, r.text
    tr = r.json()
    assert len(tr["t"]) == len(tr["deg"]) <= 500 and tr["source_rows"] == s["sample_count"]
    assert tr["t"][0] >= s["first_sample_s"] - 1e-3 and tr["t"][-1] <= s["last_sample_s"] + 1e-3
    reps = c.get(f"/api/v1/sessions/{s['id']}/reps").json()
    top = max(d for d in tr["deg"] if d is not None)
    assert top == pytest.approx(max(rep["peak_flexion_deg"] for rep in reps), abs=0.5)  # the same angle
    assert c.get("/api/v1/sessions/nope/trace").status_code == 404
    assert c.get(f"/api/v1/sessions/{s['id']}/trace", params={"max_points": 5}).status_code == 422
    running = c.post("/api/v1/sessions", json={"source": "simulator", "speed": 1}).json()
    r = c.get(f"/api/v1/sessions/{running['id']}/trace")
    assert r.status_code == 409 and "running" in r.json()["detail"]
    c.post(f"/api/v1/sessions/{running['id']}/stop")
    op = c.get("/openapi.json").json()["paths"]["/api/v1/sessions/{session_id}/trace"]["get"]
    assert {"200", "404", "409", "401"} <= set(op["responses"])
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TraceOut")


@pytest.mark.slow
def test_trace_route_needs_the_token_and_a_local_host(service_settings: Any) -> None:
    settings = service_settings.replace(token="trace-test-token")
    with serve(settings) as c:
        auth = {"authorization": "Bearer trace-test-token"}
        with httpx.Client(base_url=str(c.base_url), headers=auth, timeout=30) as authed:
            s = _finished_session(authed, seed=71)
        path = f"/api/v1/sessions/{s['id']}/trace"
        assert c.get(path).status_code == 401
        assert c.get(path, params={"token": "trace-test-token"}).status_code == 401  # not on a plain GET
        assert c.get(path, headers={**auth, "host": "evil.example"}).status_code == 400
        assert c.get(path, headers=auth).status_code == 200

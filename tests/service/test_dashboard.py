"""The dashboard page, driven end to end in headless Chromium.

The real app (``create_app``) runs under uvicorn on a loopback port in a thread; Playwright drives
Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser downloads are never used).  The
test starts a simulated demo session from the page, watches the rep counter climb, checks the set
summaries, the comparison table and the JSON export, and saves a screenshot to ``out/dashboard.png``
for a human to look at.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_kit import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "out" / "dashboard.png"
SPEED = 8.0  # simulator playback speed: a few reps within seconds, still a readable trace

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"headless dashboard test needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
)


@pytest.fixture
def page_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The dashboard's URL on the real app, served by uvicorn on a free loopback port in a thread.

    With a token (``request.param``), every request must carry it: the page finds it in its own
    ``?token=`` and must pass it on to the API, the stream and the exports.
    """
    import uvicorn

    from hipflex.service.app import create_app
    from hipflex.service.settings import ServiceSettings

    token = getattr(request, "param", None)
    settings = ServiceSettings(db_path=tmp_path / "hipflex.db", capture_dir=tmp_path / "captures", token=token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/" + (f"?token={token}" if token else "")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _count(page: Page) -> int:
    return int(page.get_by_test_id("rep-count").inner_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page_url", "transport"),
    [(None, "WebSocket"), ("dashboard-test-token", "WebSocket"), (None, "SSE")],
    ids=["websocket", "websocket-token", "sse-fallback"],
    indirect=["page_url"],
)
def test_dashboard_demo_session(page_url: str, transport: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
            # Any script error or failed request on the page fails the test.
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
            )
            if transport == "SSE":
                # A WebSocket that opens and closes without a message: the page must fall back to SSE.
                page.route_web_socket("**/ws*", lambda ws: ws.close())
            page.goto(page_url)
            expect(page).to_have_title("hipflex dashboard")
            expect(page.get_by_test_id("version")).to_contain_text("hipflex")
            assert _count(page) == 0

            # Start a fast simulated ballistic session from the form.
            page.get_by_label("Drill", exact=True).select_option("ballistic")
            page.get_by_label("Speed (×)", exact=True).fill(str(SPEED))
            page.get_by_label("Side", exact=True).select_option("left")
            page.get_by_label("Label", exact=True).fill("dashboard test")
            page.get_by_test_id("start-demo").click()
            expect(page.get_by_test_id("session-id")).to_contain_text("session ")
            session_id = page.get_by_test_id("session-id").inner_text().removeprefix("session ").strip()

            # The counter must actually climb, observed live, not just land on a number.
            seen = [_count(page)]
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while seen[-1] < 3:
                assert time.monotonic() < deadline, f"rep counter stuck; it showed {sorted(set(seen))}"
                page.wait_for_timeout(200)
                seen.append(_count(page))
            assert seen == sorted(seen), f"rep counter went backwards: {seen}"
            assert seen[0] < 3 <= seen[-1]
            expect(page.get_by_test_id("status")).to_contain_text(f"live via {transport}")

            # The angle trace was drawn: pixels of the trace colour (the page's --accent) on the canvas.
            drawn = page.evaluate(
                """() => {
                    const hex = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
                    const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
                    const c = document.querySelector('[data-testid=angle-canvas]');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 0; i < d.length; i += 4) {
                        if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++;
                    }
                    return n;
                }"""
            )
            assert drawn > 100, f"angle trace not drawn ({drawn} line pixels)"

            # Set summaries appear with the reps counted so far.
            set_rows = page.locator("[data-testid=set-table] tbody tr[data-set-index]")
            expect(set_rows.first).to_be_visible()
            assert int(set_rows.first.locator("td").nth(2).inner_text()) >= 1
            expect(page.get_by_test_id("last-rep")).to_contain_text("°/s")

            if transport == "WebSocket" and "token=" not in page_url:
                SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(SCREENSHOT.with_name("dashboard-live.png")), full_page=True)

            # Stop; the page then shows the stored result.
            page.get_by_test_id("stop-session").click()
            expect(page.get_by_test_id("status")).to_contain_text("stopped")
            expect(page.get_by_test_id("stop-session")).to_be_disabled()

            # Export JSON through the button: the downloaded document is the analysis contract, and the
            # page's final counter and set table agree with it.
            with page.expect_download() as info:
                page.get_by_test_id("export-json").click()
            doc = json.loads(Path(info.value.path()).read_text())
            assert doc["schema"] == "hipflex.analysis/2"
            final_count = doc["rep_count"]
            assert final_count >= 3
            assert final_count == sum(s["rep_count"] for s in doc["sets"])
            expect(page.get_by_test_id("rep-count")).to_have_text(str(final_count))
            expect(set_rows).to_have_count(len(doc["sets"]))
            # Each stored set says which drill it was, as the document names it.
            drills = [s["drill"]["name"].replace("_", " ") for s in doc["sets"]]
            expect(page.get_by_test_id("set-drill")).to_have_text(drills)
            shown = [int(r.locator("td").nth(2).inner_text()) for r in set_rows.all()]
            assert shown == [s["rep_count"] for s in doc["sets"]]
            assert page.get_by_test_id("export-csv").get_attribute("href")

            # History lists the session; comparing it with itself gives one row per rep plus the mean.
            history_row = page.locator(f"[data-testid=history] tr[data-session-id='{session_id}']")
            expect(history_row).to_contain_text("dashboard test")
            expect(history_row).to_contain_text(str(final_count))
            page.get_by_test_id("compare-a").select_option(session_id)
            page.get_by_test_id("compare-b").select_option(session_id)
            page.get_by_test_id("compare-run").click()
            expect(page.locator("[data-testid=compare-table] tbody tr")).to_have_count(final_count + 1)

            if transport == "WebSocket" and "token=" not in page_url:
                page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert not problems, problems

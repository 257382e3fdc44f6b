"""``/docs`` works offline (issue 18.6): Swagger UI's files come from the app (the swagger-ui-bundle
package), and the page's policy allows its one inline start-up script by hash only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_kit import CHROMIUM, chromium, new_page


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}")
def test_docs_render_with_the_network_blocked(live_server: Any) -> None:
    from playwright.sync_api import Route, expect

    csp = live_server.client.get("/docs").headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()[1:]
    assert "'unsafe-inline'" not in script_src and not [s for s in script_src if s.startswith("http")], csp
    assert [s for s in script_src if s.startswith("'sha256-")], csp
    assert "'unsafe-inline'" not in live_server.client.get("/").headers["content-security-policy"]

    blocked: list[str] = []

    def offline(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    problems: list[str] = []  # script errors and console errors (a CSP refusal is one)
    with chromium() as browser:
        page = new_page(browser, problems)
        page.route("**/*", offline)
        page.goto(live_server.url + "/docs")
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/sessions/{session_id}/trace")).to_be_visible(
            timeout=20_000
        )
        assert page.locator(".opblock").count() >= 15
        expect(page.locator(".information-container")).to_contain_text("hipflex")
    assert not blocked, blocked
    assert not problems, problems

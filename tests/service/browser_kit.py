"""Headless Debian Chromium for the dashboard tests: launch flags, a page that records its problems,
and readings of the page's canvases.

Playwright's own browser downloads are never used; the tests skip without ``/usr/bin/chromium``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a root, offline, display-less machine: without the background-networking ones Chromium
# keeps trying to reach Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 90_000

# Every text the status line shows, with the rep count on screen at that moment (installed before
# the page's own script runs, so the first texts are seen too).
STATUS_LOG_SCRIPT = """
window.__statusLog = [];
document.addEventListener('DOMContentLoaded', () => {
  const el = document.querySelector('[data-testid=status]');
  const count = () => document.querySelector('[data-testid=rep-count]')?.textContent;
  const note = () => window.__statusLog.push([el.textContent, Number(count())]);
  new MutationObserver(note).observe(el, { childList: true, characterData: true, subtree: true });
  note();
});
"""

# Pixels of a canvas in a page colour (a CSS custom property such as --accent), as [x, y] pairs
# reduced to: how many, and the smallest x.
PIXELS_SCRIPT = """([testId, colourVar]) => {
  const hex = getComputedStyle(document.documentElement).getPropertyValue(colourVar).trim();
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const c = document.querySelector(`[data-testid=${testId}]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0, minX = Infinity;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) {
      n++;
      minX = Math.min(minX, (i / 4) % c.width);
    }
  }
  return { n, minX: Number.isFinite(minX) ? minX : null, width: c.width };
}"""


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards."""
    from playwright.sync_api import expect, sync_playwright

    # expect()'s own default is 5 s, too short on a loaded 2-core machine; tests that time a
    # behaviour pass their own timeout.
    expect.set_options(timeout=20_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, problems: list[str], width: int = 1280, height: int = 900) -> Page:
    """A page whose script errors and console errors are appended to ``problems``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    return page


def pixels(page: Page, test_id: str, colour_var: str) -> dict[str, Any]:
    """How many pixels of ``test_id``'s canvas have the colour ``colour_var``, and the leftmost one's x."""
    out: dict[str, Any] = page.evaluate(PIXELS_SCRIPT, [test_id, colour_var])
    return out


def rep_count(page: Page) -> int:
    """The big rep counter."""
    return int(page.get_by_test_id("rep-count").inner_text())

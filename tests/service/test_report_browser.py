"""The ``hipflex report`` file in Debian's Chromium with the network blocked (issue 18.7): opened from disk
at 1280 and 390 px it shows every chart and table, sides next to each other on a laptop, one column
on a phone with no horizontal scroll, and asks for nothing from the network."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, chromium, new_page
from test_cli import cli, thigh_session

from hipflex.sensor.files.csv_io import write_csv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]

# Per picture: whether it is shown, decoded, and its size on the page.
IMAGES_SCRIPT = """() => [...document.querySelectorAll('img.chart')].map((img) => {
  const r = img.getBoundingClientRect();
  return { id: img.dataset.testid, shown: getComputedStyle(img).display !== 'none',
           ok: img.complete && img.naturalWidth > 0, left: r.left, right: r.right, top: r.top, width: r.width };
})"""


def _png_width(path: Path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width: int = struct.unpack(">I", data[16:20])[0]
    return width


def test_report_renders_offline_at_laptop_and_phone_width(tmp_path: Path) -> None:
    from playwright.sync_api import Route

    write_csv(tmp_path / "left thigh.csv", thigh_session(seed=1, hold_s=0.4))
    write_csv(tmp_path / "right thigh.csv", thigh_session(seed=2, hold_s=0.8))
    out = tmp_path / "report.html"
    res = cli("report", "left thigh.csv", "right thigh.csv", "-o", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    requested: list[str] = []

    def offline(route: Route) -> None:  # anything the page asks for beyond its own file is refused
        requested.append(route.request.url)
        route.abort()

    problems: list[str] = []
    with chromium() as browser:
        for width in (1280, 390):
            page = new_page(browser, problems, width=width, height=900)
            page.route("**/*", lambda route: route.continue_() if route.request.url == out.as_uri() else offline(route))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            shot = tmp_path / f"report-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            # A full-page screenshot is as wide as the page: no wider than the screen means no sideways scroll.
            assert _png_width(shot) == width
            scroll_w, client_w = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert scroll_w <= client_w == width
            images = page.evaluate(IMAGES_SCRIPT)
            shown = [i for i in images if i["shown"]]
            assert len(images) == 8 and len(shown) == 4, images  # trace and bars per side, each wide and narrow
            assert all(i["ok"] and i["width"] > 0.8 * min(width, 600) / (2 if width > 900 else 1) for i in shown)
            assert all(i["right"] <= width for i in shown), shown
            kind = "wide" if width > 600 else "narrow"
            assert {i["id"].rsplit("-", 1)[1] for i in shown} == {kind}
            left, right = (page.locator(f"section[data-side={s}]").bounding_box() for s in ("left", "right"))
            assert left is not None and right is not None
            if width == 1280:  # side by side
                assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 1
            else:  # one column, left first
                assert left["y"] + left["height"] <= right["y"] and left["width"] <= width
            assert page.get_by_test_id("asymmetry").is_visible()
            assert page.locator("tr[data-metric=mean_hold_s]").is_visible()
            page.close()
    assert not requested, requested
    assert not problems, problems

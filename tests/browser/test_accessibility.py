"""Accessibility in a real browser: axe-core (vendored) finds no violation (of any
impact) on the home, session, connection and byte-stream pages, in both languages and
both themes; the ladder is one tab stop, walked with the arrow keys, and each packet row
says its number, direction and fields to a screen reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import upload
from tests.conftest import load

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PAGES = ["/", "/s/{sid}", "/s/{sid}/f/1", "/s/{sid}/f/1/stream"]


def _violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # (the context bypasses the page's CSP for this)
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))"
    )
    found: list[dict[str, Any]] = json.loads(result)
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation(
    server: str, browser: Any, tmp_path: Path, scheme: str
) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    ctx = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = ctx.new_page()
    serious: dict[str, list[str]] = {}
    for path in PAGES:
        for lang in ("en", "zh"):
            url = f"{server}{path.format(sid=sid)}?lang={lang}"
            page.goto(url)
            for v in _violations(page):  # (none at any impact today; serious is the bar)
                where = [n["target"][0] for n in v["nodes"][:3]]
                serious[f"{url} {v['id']} ({v['impact']})"] = where
    page.screenshot(path=str(tmp_path / f"axe-{scheme}.png"))
    ctx.close()
    assert not serious, json.dumps(serious, indent=1)


def test_the_ladder_is_one_tab_stop_walked_with_arrows(server: str, browser: Any) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    page = browser.new_page()
    page.goto(f"{server}/s/{sid}/f/1")
    stops = page.evaluate(
        "Array.from(document.querySelectorAll('.ladder *')).filter(e => e.tabIndex >= 0).length"
    )
    assert stops == 1
    first = page.locator(".ladder .row.pkt").first
    first.focus()
    name = first.get_attribute("aria-label")
    assert name and name.startswith("#1 client → server: [S]")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "p2"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith(
        "#2 server → client"
    )
    for _ in range(3):  # into the row: its number, its detail link, then its fields
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.className").startswith("f f-flags")
    assert page.locator("#p2 .fw[data-key=flags] .tip").is_visible()  # the tooltip shows
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "p2"
    page.keyboard.press("End")
    last = page.evaluate("document.activeElement.id")
    assert last == page.locator(".ladder .row.pkt").last.get_attribute("id")
    # Tab leaves the ladder from the row last visited, and Shift+Tab comes back to it
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.ladder') === null")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == last
    zh = browser.new_page()
    zh.goto(f"{server}/s/{sid}/f/1?lang=zh")
    label = zh.locator(".ladder .row.pkt").first.get_attribute("aria-label")
    assert label and label.startswith("#1 客户端 → 服务端: [S]")
    page.close()
    zh.close()

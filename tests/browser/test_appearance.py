"""How the pages look where they are read: a dark theme (the system's, or the switch's), a
phone 400 px wide with nothing scrolling sideways, tooltips inside the viewport, and print
keeping the ladder's arrows, lifelines and labels while leaving the controls out. Each
check leaves a screenshot in the test's directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import upload
from tests.conftest import load

pytestmark = pytest.mark.browser


def _page(browser: Any, width: int = 1280, scheme: str = "light") -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    return ctx.new_page()


def _bg(page: Any) -> str:
    value: str = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return value


def test_dark_follows_the_system_and_the_switch(server: str, browser: Any, tmp_path: Path) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    page = _page(browser, scheme="dark")
    page.goto(f"{server}/s/{sid}/f/1")
    assert _bg(page) == "rgb(17, 20, 24)"
    page.screenshot(path=str(tmp_path / "dark.png"))
    page.locator("nav.theme").get_by_role("link", name="light").click()
    page.wait_for_load_state()
    assert _bg(page) == "rgb(255, 255, 255)"  # the switch wins over the system, and stays
    page.goto(f"{server}/s/{sid}/f/1?lang=zh")
    assert _bg(page) == "rgb(255, 255, 255)"
    page.goto(f"{server}/?theme=dark")
    light = _page(browser)  # another browser, light system: its own choice
    light.goto(f"{server}/s/{sid}")
    assert _bg(light) == "rgb(255, 255, 255)"
    page.goto(f"{server}/s/{sid}")
    assert _bg(page) == "rgb(17, 20, 24)"
    page.context.close()
    light.context.close()


@pytest.mark.parametrize("path", ["/", "/s/{sid}", "/s/{sid}/f/1", "/s/{sid}/f/1/stream"])
def test_a_phone_never_scrolls_sideways(
    server: str, browser: Any, tmp_path: Path, path: str
) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    for lang in ("en", "zh"):
        page = _page(browser, width=400)
        page.goto(f"{server}{path.format(sid=sid)}?lang={lang}")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        name = path.strip("/").replace("/", "-").replace("{sid}", "s") or "home"
        page.screenshot(path=str(tmp_path / f"phone-{name}-{lang}.png"), full_page=False)
        assert width <= 400, (path, lang, width)
        page.context.close()


def test_tooltips_stay_inside_the_viewport(server: str, browser: Any) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    for width in (400, 1280):
        page = _page(browser, width=width)
        page.goto(f"{server}/s/{sid}/f/1#p30")  # the row jumped to sits at the top
        row = page.locator("#p30")
        for field in row.locator(".fw:not(.minor) > button.f").all()[:4]:
            field.click()  # a tap opens it (and focuses it on desktop browsers)
            tip = field.locator("xpath=following-sibling::span[@role='tooltip']")
            box = tip.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
            assert box["y"] >= 0, (width, box)
            page.mouse.click(2, 890)  # a tap elsewhere closes it
        page.context.close()


def test_print_keeps_the_ladder(server: str, browser: Any, tmp_path: Path) -> None:
    sid = upload(server, load("impaired/loss.pcap"))
    page = _page(browser, width=800, scheme="dark")
    page.goto(f"{server}/s/{sid}/f/1")
    screen = page.locator("#p5 .arrow").bounding_box()
    page.emulate_media(media="print")
    assert _bg(page) == "rgb(255, 255, 255)"  # paper, whatever the theme
    arrow = page.locator("#p5 .arrow")
    printed = arrow.bounding_box()
    assert screen is not None and printed is not None
    assert abs(printed["width"] - screen["width"]) < 0.3 * screen["width"]
    assert arrow.evaluate("e => getComputedStyle(e).borderTopWidth") == "2px"  # a border prints
    head = arrow.evaluate("e => getComputedStyle(e, '::after').borderRightWidth")
    assert head == "12px"
    wire = page.locator("#p5 .wire")
    assert wire.evaluate("e => getComputedStyle(e).borderLeftStyle") == "solid"  # lifelines
    assert page.locator("#p5 .f-flags").is_visible()
    for hidden in (".ladder-tools", ".exports", "header nav", ".hint"):
        assert not page.locator(hidden).first.is_visible(), hidden
    server_end = page.locator(".ladder-head .end.server").bounding_box()
    assert server_end is not None and server_end["x"] + server_end["width"] <= 800
    page.screenshot(path=str(tmp_path / "print.png"))
    page.pdf(path=str(tmp_path / "print.pdf"))
    page.context.close()


def test_a_skip_link_comes_first(server: str, browser: Any) -> None:
    sid = upload(server, load("http-like.pcap"))
    page = _page(browser)
    page.goto(f"{server}/s/{sid}/f/1")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.context.close()

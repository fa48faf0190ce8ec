"""Paste seed 001 in a real Chromium, read a tooltip, reopen the permalink elsewhere."""

from __future__ import annotations

import re

import pytest

from tests.conftest import load

pytestmark = pytest.mark.browser


def test_paste_hover_and_permalink(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    ctx.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    page = ctx.new_page()
    page.goto(server + "/?lang=en")
    page.fill("#text", load("seed001_pktap_long_flags.txt").decode())
    page.click("#explain")
    page.wait_for_url(re.compile(r".*/s/[A-Za-z0-9_-]{24}$"))
    assert page.locator(".row.pkt").count() == 10

    wscale = page.locator("#p1 .fw[data-key=wscale]")
    tip = wscale.locator(".tip")
    assert not tip.is_visible()
    wscale.locator("button").hover()
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert "shift 6" in text and "×64" in text and "RFC 7323" in text

    # Keyboard: Tab to a field shows its tooltip too.
    win = page.locator("#p3 .fw[data-key=win]")
    win.locator("button").focus()
    assert win.locator(".tip").is_visible()
    assert "408,256 bytes" in win.locator(".tip").inner_text()
    page.keyboard.press("Escape")
    assert not win.locator(".tip").is_visible()

    permalink = page.input_value("#permalink")
    assert permalink == page.url
    ctx.close()
    assert outside == []

    fresh = browser.new_context(locale="zh-CN")
    other = fresh.new_page()
    other.goto(permalink)
    assert other.locator(".row.pkt").count() == 10
    ws = other.locator("#p1 .fw[data-key=wscale]")
    ws.locator("button").hover()
    assert "×64" in ws.locator(".tip").inner_text()
    assert "Delete" not in other.content()  # not the owner in this browser
    fresh.close()


def test_upload_error_shows_in_page(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(server + "/?lang=en")
    page.fill("#text", "this is not tcpdump output")
    page.click("#explain")
    alert = page.locator("#result [role=alert]")
    alert.wait_for(state="visible")
    assert "no tcpdump packet line" in alert.inner_text()
    ctx.close()

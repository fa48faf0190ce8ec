"""Follow the byte stream in a real Chromium: from the connection to its bytes, text and
hex views, a packet link back to the ladder, and a direction downloaded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import upload
from tests.conftest import load

pytestmark = pytest.mark.browser


def test_follow_the_stream(server: str, browser: Any, tmp_path: Path) -> None:
    sid = upload(server, load("impaired/loss-rx.pcap"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{server}/s/{sid}/f/1")
    page.get_by_role("link", name=re.compile("Follow the byte stream")).click()
    page.wait_for_url(re.compile(r".*/f/1/stream$"))
    first = page.locator(".conversation .block").first
    expect(first).to_contain_text("GET /bulk")
    expect(page.locator(".conversation .hole").first).to_contain_text("1,386 bytes captured")
    row = page.locator(".stream-sides tr.s2c")
    expect(row).to_contain_text("400,000")
    page.get_by_role("link", name="hex", exact=True).click()
    page.wait_for_url(re.compile(r".*view=hex.*"))
    expect(page.locator(".conversation pre.hex").first).to_contain_text("47 45 54 20 2f 62 75")
    with page.expect_download() as got:
        row.get_by_role("link", name="s2c.bin").click()
    path = tmp_path / "s2c.bin"
    got.value.save_as(path)
    data = path.read_bytes()
    assert len(data) == 17_174 and set(data) == {ord("x")}
    # a block's packet link opens the ladder window holding that packet
    page.locator(".conversation .s2c .block-head a").first.click()
    page.wait_for_url(re.compile(r".*/f/1.*#p\d+$"))
    expect(page.locator(".row.pkt:target")).to_be_visible()
    ctx.close()

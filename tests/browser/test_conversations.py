"""The conversations table in a real Chromium: sorting by a column, filtering, paging,
choosing a connection (the highlighted row follows it), and the browser's back button."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import upload
from tests.synthetic import many_connections

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def many(server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("many") / "many.pcap"
    many_connections(path, 250)
    return upload(server, path.read_bytes())


def _ids(page: Any) -> list[int]:
    return [
        int(x)
        for x in page.locator("#conversations table.flows tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.flow)"
        )
    ]


def test_sort_filter_page_and_choose(server: str, browser: Any, many: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{server}/s/{many}")
    assert _ids(page)[:3] == [1, 2, 3]
    # sort by bytes sent, largest first (one click: numbers sort descending first)
    page.locator("#conversations th a", has_text="bytes →").click()
    page.wait_for_url(re.compile(r".*\?sort=sent&desc=1$"))
    expect(page.locator("#conversations table.flows tbody tr").first).not_to_have_attribute(
        "data-flow", "1"
    )
    ids = _ids(page)
    sent = [
        int(x)
        for x in page.locator(
            "#conversations table.flows tbody tr td:nth-child(6)"
        ).all_inner_texts()
    ]
    assert sent == sorted(sent, reverse=True) and len(ids) == 100
    assert page.locator("#conversations").count() == 1  # swapped, not nested
    # filter: REJ connections to port 443
    page.locator("#conversations select[name=state]").select_option("REJ")
    page.locator("#conversations input[name=q]").fill(":443")
    page.locator("#conversations button[type=submit]").click()
    page.wait_for_url(re.compile(r".*state=REJ.*"))
    expect(page.locator("#conversations .pager")).to_contain_text("in all")
    states = page.locator("#conversations table.flows tbody tr td:nth-child(4)").all_inner_texts()
    servers = page.locator("#conversations table.flows tbody tr td:nth-child(3)").all_inner_texts()
    assert states and set(states) == {"REJ"} and all(":443" in s for s in servers)
    # choose a connection: its ladder comes in, its row is the highlighted one
    chosen = _ids(page)[2]
    page.locator(f"#conversations tr[data-flow='{chosen}'] a").first.click()
    page.wait_for_selector(f"#flow section.flow[data-flow='{chosen}']")
    assert page.locator("#conversations tr[aria-current]").evaluate_all(
        "rows => rows.map(r => r.dataset.flow)"
    ) == [str(chosen)]
    assert f"/f/{chosen}?" in page.url and "state=REJ" in page.url
    # paging keeps the filter and the chosen connection
    page.goto(f"{server}/s/{many}/f/{chosen}?sort=sent&desc=1")
    page.locator("#conversations .pager a[rel=next]").click()
    page.wait_for_url(re.compile(rf".*/f/{chosen}\?sort=sent&desc=1&cp=1$"))
    expect(page.locator("#conversations .pager")).to_contain_text("101–200")
    # back: the first page again
    page.go_back()
    expect(page.locator("#conversations .pager")).not_to_contain_text("101–200")
    assert not page.url.endswith("cp=1")
    ctx.close()


def test_the_findings_list_leads_to_a_packet(server: str, browser: Any, many: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{server}/s/{many}")
    page.locator(".capture-findings summary").click()
    row = page.locator(".capture-findings tr", has_text="tcp.retransmission")
    row.locator("a", has_text="first packet").click()
    page.wait_for_url(re.compile(r".*/f/\d+#p\d+$"))
    n = page.url.rsplit("#p", 1)[1]
    assert page.locator(f"#p{n} .finding[data-key='tcp.retransmission']").count() == 1
    # the list's own link filters the table
    page.goto(f"{server}/s/{many}")
    page.locator(".capture-findings summary").click()
    page.locator(".capture-findings a", has_text="Retransmission").first.click()
    page.wait_for_url(re.compile(r".*finding=tcp.retransmission.*"))
    expect(page.locator("#conversations .pager")).to_contain_text("of 63")
    ctx.close()


def test_zh_table_has_no_english_labels(server: str, browser: Any, many: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{server}/s/{many}?lang=zh")
    text = page.locator("#conversations").inner_text()
    for word in ("client", "server", "packets", "Filter", "previous", "next", "findings"):
        assert word not in text, word
    ctx.close()

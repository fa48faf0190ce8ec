"""Finding one's way in a big connection, in a real Chromium: a #pN link into a later
window, a finding badge that opens its first packet, previous/next within a finding, the
keys (j/k, n/N, g, ?), the display switches remembered, and time on the ladder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import upload

pytestmark = pytest.mark.browser

IMPAIRED = Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "impaired"


def _upload(server: str, name: str) -> str:
    return upload(server, (IMPAIRED / name).read_bytes())


@pytest.fixture(scope="module")
def lossy(server: str) -> str:
    return _upload(server, "lossy-at-client.pcap")


def _page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    return ctx.new_page()


def test_a_packet_link_opens_the_window_that_holds_it(
    server: str, browser: Any, lossy: str
) -> None:
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}#p1500")
    page.wait_for_url(re.compile(r".*/f/1\?from=1200#p1500$"))
    row = page.locator("#p1500")
    assert row.is_visible() and "current" in (row.get_attribute("class") or "")
    page.context.close()


def test_a_finding_badge_opens_its_first_packet_and_steps_on(
    server: str, browser: Any, lossy: str
) -> None:
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}")
    page.locator(".findings a.badge[data-code='tcp.fast_retransmission']").click()
    page.wait_for_url(re.compile(r".*#p\d+$"))
    first = int(page.url.rsplit("#p", 1)[1])
    row = page.locator(f"#p{first}")
    assert row.locator(".finding[data-key='tcp.fast_retransmission']").count() == 1
    # the next one (maybe in another window), then back to the first
    row.locator(".finding[data-key='tcp.fast_retransmission'] a.next").click()
    page.wait_for_url(re.compile(r".*#p\d+$"))
    second = int(page.url.rsplit("#p", 1)[1])
    assert second > first
    assert page.locator(f"#p{second} .finding[data-key='tcp.fast_retransmission']").count() == 1
    page.locator(f"#p{second} .finding[data-key='tcp.fast_retransmission'] a.prev").click()
    page.wait_for_url(re.compile(rf".*#p{first}$"))
    # before the first there is none: it says so and stays
    page.locator(f"#p{first} .finding[data-key='tcp.fast_retransmission'] a.prev").click()
    page.wait_for_url(re.compile(rf".*none=previous.*#p{first}$"))
    assert "no earlier packet" in page.locator(".ladder-tools .status").inner_text()
    page.context.close()


def test_keys_move_through_packets_and_findings(server: str, browser: Any, lossy: str) -> None:
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}/f/1#p3")
    page.wait_for_selector("#p3.current")  # the page's script has taken the link
    # (the URL reaches Playwright after the key's effect: wait for it, do not read it)
    page.keyboard.press("j")
    page.wait_for_url(re.compile(r".*#p4$"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r".*#p3$"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r".*#p2$"))
    page.keyboard.press("n")  # the next packet that warns of something
    warned = page.locator(".row.pkt.current")
    assert "warn" in (warned.get_attribute("class") or "")
    page.keyboard.press("?")
    assert page.locator("dialog.keys").is_visible()
    page.keyboard.press("Escape")
    page.once("dialog", lambda d: d.accept("1900"))
    page.keyboard.press("g")
    page.wait_for_url(re.compile(r".*from=1600#p1900$"))
    # j past the window's last packet opens the next window
    page.goto(f"{server}/s/{lossy}/f/1?from=400#p800")  # the window's last packet
    page.wait_for_selector("#p800.current")
    page.keyboard.press("j")
    page.wait_for_url(re.compile(r".*from=800$"))
    page.context.close()


def test_switches_are_remembered(server: str, browser: Any, lossy: str) -> None:
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}")
    seq = page.locator("#p1 .fw[data-key=seq] button")
    assert seq.inner_text() == "seq 0"
    assert not page.locator("#p1 .fw[data-key=ts_val]").is_visible()
    page.click(".ladder-tools button[data-toggle=absolute]")
    page.click(".ladder-tools button[data-toggle=all-fields]")
    assert re.fullmatch(r"seq \d{4,}", seq.inner_text())
    assert page.locator("#p1 .fw[data-key=ts_val]").is_visible()
    page.reload()
    assert re.fullmatch(r"seq \d{4,}", page.locator("#p1 .fw[data-key=seq] button").inner_text())
    page.click(".ladder-tools button[data-toggle=absolute]")
    assert page.locator("#p1 .fw[data-key=seq] button").inner_text() == "seq 0"
    page.context.close()


def test_time_on_the_ladder(server: str, browser: Any) -> None:
    """Keep-alives a second apart: an idle row says how long, and the row after it stands
    lower than back-to-back packets; with even spacing they close up."""
    sid = _upload(server, "keepalive.pcap")
    page = _page(browser)
    page.goto(f"{server}/s/{sid}")
    idle = page.locator(".row.idle").first
    assert re.search(r"1(\.\d+)? s idle", idle.inner_text())
    gap = page.evaluate(
        "() => { const a = document.getElementById('p7').getBoundingClientRect();"
        " const b = document.getElementById('p8').getBoundingClientRect();"
        " return b.top - a.bottom; }"
    )
    close = page.evaluate(
        "() => { const a = document.getElementById('p2').getBoundingClientRect();"
        " const b = document.getElementById('p3').getBoundingClientRect();"
        " return b.top - a.bottom; }"
    )
    assert gap > close + 40
    page.click(".ladder-tools button[data-toggle=even]")
    even = page.evaluate(
        "() => { const a = document.getElementById('p7').getBoundingClientRect();"
        " const b = document.getElementById('p8').getBoundingClientRect();"
        " return b.top - a.bottom; }"
    )
    assert even < gap
    page.click(".ladder-tools button[data-toggle=even]")  # leave it as found
    page.context.close()


def test_a_graph_mark_opens_its_packet(server: str, browser: Any, lossy: str) -> None:
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}")
    page.locator("details.graphs summary").click()
    page.wait_for_selector("details.graphs svg a.mark")
    mark = page.locator("details.graphs svg a.mark").nth(5)
    n = int((mark.get_attribute("href") or "").rsplit("/", 1)[1])
    mark.dispatch_event("click")
    page.wait_for_url(re.compile(rf".*#p{n}$"))
    assert page.locator(f"#p{n}").is_visible()
    assert page.locator(f"#p{n} .finding").count() >= 1
    page.context.close()


def test_graphs_lead_to_the_ladder(server: str, browser: Any, lossy: str) -> None:
    """A mark on a graph opens its packet; a range dragged across a graph opens that part
    of the ladder with its packets marked."""
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}")
    page.locator("details.graphs summary").click()
    page.wait_for_selector("svg.graph.window")
    assert page.locator("figure.graph-figure svg.graph").count() == 4
    mark = page.locator("svg.graph.tsg a.mark").first
    href = mark.get_attribute("href") or ""
    n = href.rsplit("/", 1)[1]
    mark.click()
    page.wait_for_url(re.compile(rf".*#p{n}$"))
    assert "current" in (page.locator(f"#p{n}").get_attribute("class") or "")
    # drag from a third to half of the throughput graph's width
    page.goto(f"{server}/s/{lossy}")
    page.locator("details.graphs summary").click()
    svg = page.locator("svg.graph.throughput")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2.5, y, steps=5)
    page.mouse.up()
    page.wait_for_url(re.compile(r".*span=\d+-\d+#p\d+$"))
    a, b = (int(x) for x in re.search(r"span=(\d+)-(\d+)", page.url).groups())  # type: ignore[union-attr]
    assert b > a
    marked = page.locator(".row.pkt.in-span").evaluate_all("rows => rows.map(r => +r.dataset.n)")
    assert marked and marked[0] == a and all(a <= k <= b for k in marked)
    page.context.close()


def test_windows_load_while_scrolling(server: str, browser: Any, lossy: str) -> None:
    """Scrolling to the end of the rows adds the next window in place (no new page); the
    earlier window comes in above without moving the rows being read."""
    page = _page(browser)
    page.goto(f"{server}/s/{lossy}/f/1")
    assert page.locator(".ladder .row.pkt").count() == 400
    page.locator(".ladder .row.load.later").scroll_into_view_if_needed()
    expect(page.locator(".ladder .row.pkt")).to_have_count(800)
    ids = page.locator(".ladder .row.pkt").evaluate_all("rows => rows.map(r => +r.dataset.n)")
    assert len(set(ids)) == 800 and ids == sorted(ids)
    assert page.url.endswith("/f/1")  # still the same page
    # no second phase label where the data phase goes on across the windows
    assert page.locator(".ladder .row.phase").count() <= 2
    # from a later window, the earlier one above: the first row read stays put
    page.goto(f"{server}/s/{lossy}/f/1?from=800")
    first = page.locator(".ladder .row.pkt").first
    n = first.get_attribute("data-n")
    first.scroll_into_view_if_needed()
    top = first.bounding_box()["y"]
    page.locator(".ladder .row.load.earlier button").click()
    page.locator(".ladder .row.pkt").nth(799).wait_for(state="attached")
    assert abs(page.locator(f"#p{n}").bounding_box()["y"] - top) < 3
    assert page.locator(".ladder").get_attribute("data-from") == "400"
    # k from the first row of the page goes to the row above it, now loaded
    page.locator(f"#p{n} a.num").focus()
    page.locator(f"#p{n}").evaluate("r => r.classList.add('current')")
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r".*#p\d+$"))
    above = int(page.url.rsplit("#p", 1)[1])
    assert above < int(n or 0) and "from=800" in page.url
    page.context.close()

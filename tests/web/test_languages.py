"""Two complete languages: the English pages show no Chinese, the Chinese pages no English
except protocol tokens (flags, option names, units, codes) and what the user wrote."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import load

EXAMPLE = Path(__file__).resolve().parents[2] / "app" / "web" / "example.txt"

# Elements whose text is data, not UI: code and tcpdump's own words (raw lines, details,
# annotations), the payload's first line, the page title (the user's title), what the page
# marks translate="no" (the user's text, Scapy's field names) or as another language (the
# language switch). Parser warnings quote the input and are still English (see the note on
# issue 14), so they are left out too.
_DATA_TAGS = {"code", "pre", "script", "style", "kbd", "samp", "textarea", "title"}
_DATA_CLASSES = {"note", "ann", "app", "details", "warnings"}
_VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base"}
_ATTRS = ("title", "aria-label", "placeholder", "data-label", "alt", "data-done")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.data: list[bool] = []
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        data = (
            tag in _DATA_TAGS
            or bool(_DATA_CLASSES & set((a.get("class") or "").split()))
            or a.get("translate") == "no"
            or ("lang" in a and tag != "html")
        )
        if not any(self.data) and not data:
            self.out += [v for k in _ATTRS if (v := a.get(k))]
        if tag not in _VOID:
            self.data.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.data:
            self.data.pop()

    def handle_data(self, text: str) -> None:
        if not any(self.data):
            self.out.append(text)


def visible(html: str) -> str:
    """The words a reader sees or hears (text, titles, labels), without what is data."""
    v = _Visible()
    v.feed(html)
    return " ".join(v.out)


CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_WORD = re.compile(r"(?<![\w.])[A-Za-z][A-Za-z'-]*[A-Za-z](?![\w.])")
# What a Chinese page may show in Latin letters: protocol tokens (flags, fields and options
# as tcpdump prints them), units, names of programs, formats and standards.
PROTOCOL = {
    *[
        "ack",
        "win",
        "seq",
        "ecr",
        "val",
        "length",
        "mss",
        "wscale",
        "sackOK",
        "nop",
        "eol",
        "cksum",
        "urg",
        "sack",
        "shift",
        "last",
        "first",
    ],
    *[
        "ms",
        "pcap",
        "pcapng",
        "gzip",
        "zstd",
        "snaplen",
        "iRTT",
        "tcpdump",
        "tcpladder",
        "Scapy",
        "Wireshark",
        "tshark",
    ],
    *[
        "Zeek",
        "conn_state",
        "Mermaid",
        "PlantUML",
        "macOS",
        "Linux",
        "Ethernet",
        "wiki",
        "Tab",
        "ECN-Echo",
    ],
    *["D-SACK", "SYN-ACK", "Fast", "Open", "cookie", "TSval"],
}


def foreign_words(text: str) -> set[str]:
    """Latin words on a Chinese page that are not protocol tokens."""
    text = re.sub(r"\b[a-z]+(\.[a-z_]+)+\b", " ", text)  # finding codes: tcp.retransmission
    text = re.sub(r"GPL-[\w.-]+", " ", text)  # the licence's SPDX identifier
    words = {w for w in _WORD.findall(text) if not re.fullmatch(r"x[0-9a-f]+", w)}
    return {w for w in words if w not in PROTOCOL and not re.fullmatch(r"[A-Z][A-Z0-9-]*", w)}


_CAPTURES = (
    "impaired/loss.pcap",
    "impaired/ecn.pcap",
    "impaired/zero-window.pcap",
    "impaired/half-close.pcap",
    "impaired/reorder.pcap",
    "impaired/duplicate.pcap",
    "impaired/port-reuse.pcap",
    "http-like.pcap",
    "refused.pcap",
)


def _pages(client: TestClient) -> list[str]:
    sids = []
    for name in _CAPTURES:
        r = client.post("/api/sessions", files={"file": (name.split("/")[-1], load(name))})
        sids.append(r.json()["id"])
    r = client.post("/api/sessions", data={"text": EXAMPLE.read_text()})
    sids.append(r.json()["id"])
    pages = ["/", "/?example=1"]
    for s in sids:
        pages += [f"/s/{s}", f"/s/{s}/f/1", f"/s/{s}/f/1/stream", f"/s/{s}/p/1", f"/s/{s}/p/2"]
    return pages


def test_each_page_speaks_one_language(client: TestClient) -> None:
    english_on_zh: dict[str, set[str]] = {}
    chinese_on_en: dict[str, str] = {}
    for page in _pages(client):
        en = visible(client.get(page, params={"lang": "en"}).text)
        if m := CJK.search(en):
            chinese_on_en[page] = en[max(0, m.start() - 40) : m.end() + 40]
        zh = visible(client.get(page, params={"lang": "zh"}).text)
        if words := foreign_words(zh):
            english_on_zh[page] = words
    assert not chinese_on_en
    assert not english_on_zh


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-Hans;q=0.5", "zh"),
        ("de, fr;q=0.9", "en"),
        ("", "en"),
        ("zh;q=abc, en;q=0.1", "en"),
    ],
)
def test_accept_language_picks_the_best_of_ours(header: str, lang: str) -> None:
    from app.web.templating import accepted_lang

    assert accepted_lang(header) == lang


def test_the_choice_is_remembered(client: TestClient) -> None:
    assert 'lang="zh-Hans"' in client.get("/", headers={"accept-language": "zh-CN"}).text
    r = client.get("/?lang=en", headers={"accept-language": "zh-CN"})
    assert 'lang="en"' in r.text and r.cookies.get("lang") == "en"
    assert 'lang="en"' in client.get("/", headers={"accept-language": "zh-CN"}).text


def test_a_default_title_is_shown_in_the_page_language(client: TestClient) -> None:
    pcap = {"content-type": "application/vnd.tcpdump.pcap"}
    sid = client.post("/api/sessions", content=load("http-like.pcap"), headers=pcap).json()["id"]
    zh = client.get(f"/s/{sid}?lang=zh").text
    assert '<h1 class="session-title" translate="no">上传的抓包</h1>' in zh

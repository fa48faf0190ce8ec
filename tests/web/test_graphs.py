"""The time-sequence graph: well-formed SVG of bounded size, every finding's segment marked
and linked to its packet, the ordinary ones merged per pixel column."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fastapi.testclient import TestClient

from app.web.graphs import MARKS

IMPAIRED = Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "impaired"
SVG = "{http://www.w3.org/2000/svg}"


def _upload(client: TestClient, name: str) -> str:
    path = IMPAIRED / name if (IMPAIRED / name).exists() else IMPAIRED.parent / name
    r = client.post("/api/sessions", files={"file": (name, path.read_bytes())})
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]
    return sid


def test_every_marked_segment_links_to_its_packet(client: TestClient) -> None:
    sid = _upload(client, "loss.pcap")
    r = client.get(f"/s/{sid}/f/1/tsg.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(r.text)
    marks = svg.findall(f".//{SVG}a[@class='mark']")
    flow = client.get(f"/api/sessions/{sid}/flows/1/packets?count=10000").json()["packets"]
    codes = {m[0].value for m in MARKS}

    def sent(d: str) -> int:
        return sum(p["len"] or 0 for p in flow if p["direction"] == d)

    sender = max(("c2s", "s2c"), key=sent)
    want = {
        p["n"] for p in flow if p["direction"] == sender and p["len"] and codes & set(p["findings"])
    }
    got = {int(a.get("href", "").rsplit("/", 1)[1]) for a in marks}
    assert want and got == want
    n = min(got)
    jump = client.get(f"/s/{sid}/at/{n}", follow_redirects=False)
    assert jump.status_code == 303 and jump.headers["location"].endswith(f"#p{n}")
    # ordinary segments: at most one stroke per pixel column
    plain = svg.findall(f".//{SVG}g[@stroke='#1d4ed8']/{SVG}a")
    assert 0 < len(plain) <= 960


def test_a_connection_without_data_says_so_in_both_languages(client: TestClient) -> None:
    sid = _upload(client, "refused.pcap")
    en = client.get(f"/s/{sid}/f/1/tsg.svg?lang=en").text
    zh = client.get(f"/s/{sid}/f/1/tsg.svg?lang=zh").text
    assert "No data segments" in en and "没有数据报文段" in zh
    ET.fromstring(en)


def test_the_graph_loads_into_the_page(client: TestClient) -> None:
    sid = _upload(client, "zero-window.pcap")
    page = client.get(f"/s/{sid}").text
    assert f'hx-get="/s/{sid}/f/1/graphs"' in page and f'href="/s/{sid}/f/1/tsg.svg"' in page
    fragment = client.get(f"/s/{sid}/f/1/graphs", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.startswith("<svg")
    assert client.get(f"/s/{sid}/f/9/tsg.svg").status_code == 404

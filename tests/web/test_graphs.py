"""The stream graphs: well-formed SVG of bounded size; the time-sequence graph with every
finding's segment marked and linked to its packet, the ordinary ones merged per pixel
column, and the receiver's SACK blocks; throughput, round-trip times and the window
computed from the packets; a time range that opens its part of the ladder."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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
    assert fragment.status_code == 200 and fragment.text.count("<svg") == 4
    assert client.get(f"/s/{sid}/f/9/tsg.svg").status_code == 404


def _svg(client: TestClient, sid: str, kind: str) -> ET.Element:
    r = client.get(f"/s/{sid}/f/1/graph/{kind}.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert len(r.content) < 400_000
    return ET.fromstring(r.text)


def _packets(client: TestClient, sid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = client.get(
        f"/api/sessions/{sid}/flows/1/packets?count=10000"
    ).json()["packets"]
    return out


def test_sack_blocks_are_drawn_where_the_receiver_sent_them(client: TestClient) -> None:
    sid = _upload(client, "lossy-at-client.pcap")
    svg = _svg(client, sid, "tsg")
    links = svg.findall(f".//{SVG}g[@class='sack']/{SVG}a")
    flow = _packets(client, sid)
    with_sack = {p["n"] for p in flow if p["options"]["sack"]}
    got = {int(a.get("href", "").rsplit("/", 1)[1]) for a in links}
    assert got and got <= with_sack
    # a block repeated by the next ACKs in the same pixel column is drawn once
    assert len(got) > len(with_sack) // 4


def test_throughput_adds_up_to_the_bytes_sent(client: TestClient) -> None:
    sid = _upload(client, "lossy-at-client.pcap")
    svg = _svg(client, sid, "throughput")
    paths = {p.get("class"): p for p in svg.iter(f"{SVG}path")}
    assert "rate s2c" in paths  # the download
    summary = client.get(f"/api/sessions/{sid}/flows/1").json()
    assert summary["sides"]["server"]["bytes"] > 2_000_000
    assert "Mb/s" in ET.tostring(svg, encoding="unicode")


def test_round_trips_show_each_leg(client: TestClient) -> None:
    """Captured next to the client: the leg to the server is the path's RTT (20 ms, the
    relay's delay), seen in timestamp echoes; the leg to the client is near zero."""
    sid = _upload(client, "lossy-at-client.pcap")
    svg = _svg(client, sid, "rtt")

    def values(cls: str) -> list[float]:
        g = svg.find(f".//{SVG}g[@class='{cls}']")
        assert g is not None, cls
        return [float((t.text or "").split(": ")[1].split()[0]) for t in g.iter(f"{SVG}title")]

    server = values("ts_rtt side-1")
    assert server and 19 < sorted(server)[len(server) // 2] < 22
    client_leg = values("ack_rtt side-0")
    assert sorted(client_leg)[len(client_leg) // 2] < 1


def test_window_and_bytes_in_flight(client: TestClient) -> None:
    sid = _upload(client, "zero-window.pcap")
    svg = _svg(client, sid, "window")
    assert svg.find(f".//{SVG}path[@class='in-flight']") is not None
    assert svg.find(f".//{SVG}path[@class='rwnd']") is not None
    zero = svg.findall(f".//{SVG}g[@class='zero']/{SVG}a")
    flow = _packets(client, sid)
    want = {p["n"] for p in flow if "tcp.zero_window" in p["findings"]}
    assert want and {int(a.get("href", "").rsplit("/", 1)[1]) for a in zero} == want


def test_a_time_range_opens_its_part_of_the_ladder(client: TestClient) -> None:
    sid = _upload(client, "lossy-at-client.pcap")
    flow = _packets(client, sid)
    t0 = flow[0]["time"]
    inside = [p["n"] for p in flow if 0.2 <= p["time"] - t0 <= 0.21]
    r = client.get(f"/s/{sid}/f/1/time?t=0.2&until=0.21", follow_redirects=False)
    assert r.status_code == 303
    loc = r.headers["location"]
    assert loc.endswith(f"span={inside[0]}-{inside[-1]}#p{inside[0]}"), loc
    page = client.get(loc.split("#")[0]).text
    assert f'id="p{inside[0]}"' in page
    assert client.get(f"/s/{sid}/f/1/graph/pie.svg").status_code == 404

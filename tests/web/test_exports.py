"""Exports of a connection over HTTP: the links on its page, the pictures, the texts and
the capture files, their windows and their errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from app.web.exports import MAX_PNG
from tests.conftest import load


def _session(client: TestClient, name: str, **fields: str) -> str:
    r = client.post("/api/sessions", files={"file": (name, load(name))}, data=fields)
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]
    return sid


def _links(page: str) -> list[str]:
    block = re.search(r'<p class="exports".*?</p>', page, re.S)
    assert block is not None
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', block.group(0))]


def test_every_export_of_a_short_connection(client: TestClient) -> None:
    sid = _session(client, "http-like.pcap")
    links = _links(client.get(f"/s/{sid}/f/1").text)
    base = f"/s/{sid}/f/1/"
    assert links == [
        base + x for x in ("ladder.svg", "ladder.png", "ladder.mmd", "ladder.puml")
    ] + [base + "packets.pcap"]
    svg = client.get(links[0])
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "style-src 'unsafe-inline'" in svg.headers["content-security-policy"]
    assert "script" not in svg.headers["content-security-policy"].replace("default-src", "")
    assert ET.fromstring(svg.content).tag.endswith("svg")
    assert client.get(links[1]).content[:8] == b"\x89PNG\r\n\x1a\n"
    mmd = client.get(links[2]).text
    assert mmd.startswith("sequenceDiagram") and mmd.count("->>") == 10
    assert "GET / HTTP/1.0" in mmd
    assert client.get(links[3]).text.count(" -> ") == 10
    pcap = client.get(links[4])
    assert pcap.content == load("http-like.pcap")  # its one connection: the whole file
    assert pcap.headers["content-disposition"] == (f'attachment; filename="tcpladder-{sid}-1.pcap"')
    # the same from the API, with a window and in Chinese
    api = f"/api/sessions/{sid}/flows/1/"
    two = client.get(api + "ladder.mmd?from=3&count=2&lang=zh").text
    assert two.count("->>") == 2 and "#35;4 " in two and "客户端" in two
    assert "packets 4–5 of 10" in client.get(api + "ladder.svg?from=3&count=2").text


def test_a_long_connection_exports_the_window_shown(client: TestClient) -> None:
    sid = _session(client, "impaired/loss.pcap")
    page = client.get(f"/s/{sid}/f/1?from=400").text
    assert "Export packets 401–523" in page
    links = _links(page)
    assert links[0] == f"/s/{sid}/f/1/ladder.svg?from=400&count=400"
    assert links[-1] == f"/s/{sid}/f/1/packets.pcap"  # and all of them
    assert client.get(links[0]).text.count('class="pkt ') == 123
    whole = client.get(f"/s/{sid}/f/1/ladder.png")
    assert whole.status_code == 413
    assert f"at most {MAX_PNG}" in whole.text and "?from=0&amp;count=400" in whole.text
    err = client.get(f"/api/sessions/{sid}/flows/1/ladder.png").json()
    assert err["error"]["code"] == "trace.too_large"
    assert client.get(f"/s/{sid}/f/1/ladder.png?count={MAX_PNG}").status_code == 200
    window = client.get(f"/s/{sid}/f/1/packets.pcap?from=400&count=400").content
    everything = client.get(f"/s/{sid}/f/1/packets.pcap").content
    assert window[:24] == everything[:24] and everything.endswith(window[24:])


def test_a_paste_becomes_a_capture(client: TestClient) -> None:
    sid = _session(client, "seed000_ipv6_vvv.txt")
    r = client.get(f"/s/{sid}/f/1/packets.pcap")
    assert r.status_code == 200 and r.content[:4] == b"\xd4\xc3\xb2\xa1"
    assert int.from_bytes(r.content[20:24], "little") == 101  # raw IP


def test_what_cannot_be_exported_says_why(client: TestClient) -> None:
    sid = _session(client, "http-like.pcap", keep_input="false")
    r = client.get(f"/s/{sid}/f/1/packets.pcap")
    assert r.status_code == 404 and "does not keep its capture" in r.text
    assert client.get(f"/s/{sid}/f/1/ladder.svg").status_code == 200  # needs no input
    assert client.get(f"/s/{sid}/f/1/ladder.gif").status_code == 404
    assert client.get(f"/s/{sid}/f/7/ladder.svg").status_code == 404
    assert client.get(f"/s/{sid}/f/1/ladder.svg?count=0").status_code in (400, 422)
    past = client.get(f"/api/sessions/{sid}/flows/1/ladder.mmd?from=10")
    assert past.status_code == 404 and "past its end" in past.json()["error"]["message"]
    sid2 = _session(client, "http-like.pcap")
    assert client.get(f"/s/{sid2}/f/1/packets.pcap?from=5715").status_code == 404
    assert client.get("/s/nosuchsession/f/1/packets.pcap").status_code == 404

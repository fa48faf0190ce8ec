"""Follow the byte stream over HTTP: the page, the raw downloads and the JSON."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from tests.conftest import load


def _session(client: TestClient, name: str, **fields: str) -> str:
    r = client.post("/api/sessions", files={"file": (name, load(name))}, data=fields)
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]
    return sid


def test_page_shows_the_conversation(client: TestClient) -> None:
    sid = _session(client, "http-like.pcap")
    assert f'href="/s/{sid}/f/1/stream"' in client.get(f"/s/{sid}/f/1").text
    page = client.get(f"/s/{sid}/f/1/stream").text
    request = page.index("GET / HTTP/1.0")
    assert request < page.index("hello world")  # the request first: by time
    assert 'class="block c2s"' in page and 'class="block s2c"' in page
    assert f'href="/s/{sid}/at/4"' in page  # the packet that carried the request
    hexed = client.get(f"/s/{sid}/f/1/stream?view=hex&show=s2c").text
    assert "48 54 54 50 2f 31 2e 30" in hexed and "GET /" not in hexed
    zh = client.get(f"/s/{sid}/f/1/stream?lang=zh").text
    assert "字节流" in zh and "客户端 → 服务端" in zh


def test_downloads_and_json_hold_the_bytes(client: TestClient) -> None:
    sid = _session(client, "http-like.pcap")
    r = client.get(f"/s/{sid}/f/1/stream/s2c.bin")
    assert r.content == b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n"
    assert r.headers["x-stream-holes"] == "none"
    assert "attachment" in r.headers["content-disposition"]
    body = client.get(f"/api/sessions/{sid}/flows/1/stream").json()
    assert body["directions"]["c2s"]["size"] == 18
    first = body["blocks"][0]
    assert first["direction"] == "c2s" and first["first_packet"] == 4
    assert base64.b64decode(first["data"]) == b"GET / HTTP/1.0\r\n\r\n"
    one = client.get(f"/api/sessions/{sid}/flows/1/stream?direction=s2c").json()
    assert [b["direction"] for b in one["blocks"]] == ["s2c"]
    assert client.get(f"/api/sessions/{sid}/flows/1/stream?direction=up").status_code == 400
    assert client.get(f"/s/{sid}/f/1/stream/up.bin").status_code == 404
    assert client.get(f"/s/{sid}/f/9/stream").status_code == 404


def test_holes_are_named(client: TestClient) -> None:
    sid = _session(client, "impaired/loss-rx.pcap")
    body = client.get(f"/api/sessions/{sid}/flows/1/stream").json()
    side = body["directions"]["s2c"]
    assert side["size"] == 400_000 and side["captured"] + side["hole_bytes"] == 400_000
    assert {b.get("missing") for b in body["blocks"]} == {None, "cut"}
    r = client.get(f"/s/{sid}/f/1/stream/s2c.bin")
    assert len(r.content) == side["captured"] and r.headers["x-stream-holes"].startswith("62+1386")
    assert "captured without their payload" in client.get(f"/s/{sid}/f/1/stream").text


def test_a_session_without_its_input_says_why(client: TestClient) -> None:
    sid = _session(client, "http-like.pcap", keep_input="0")
    r = client.get(f"/api/sessions/{sid}/flows/1/stream")
    assert r.status_code == 404 and "does not keep its input" in r.json()["error"]["message"]
    page = client.get(f"/s/{sid}/f/1/stream")
    assert page.status_code == 404 and "Keep the raw capture" in page.text


def test_pasted_text_with_and_without_hex(client: TestClient) -> None:
    for name, shown in (("http-like.XX-nn.txt", True), ("http-like.nn.txt", False)):
        r = client.post("/api/sessions", content=load(name), headers={"Content-Type": "text/plain"})
        sid = r.json()["id"]
        page = client.get(f"/s/{sid}/f/1/stream").text
        assert ("hello world" in page) is shown
        assert ("could not be read" in page) is not shown

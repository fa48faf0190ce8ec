"""Application data on the ladder's arrows, stored with the session and read back by
window; an anonymised capture has none (it keeps no payload)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import load


def test_the_arrows_say_what_the_payload_starts(client: TestClient) -> None:
    data = load("http-like.pcap")
    r = client.post("/api/sessions", files={"file": ("http.pcap", data)})
    sid = r.json()["id"]
    page = client.get(f"/s/{sid}").text
    assert '<span class="app" title="what the payload starts with' in page
    assert ">GET / HTTP/1.0</span>" in page and ">HTTP/1.0 200 OK</span>" in page
    zh = client.get(f"/s/{sid}?lang=zh").text
    assert ">GET / HTTP/1.0</span>" in zh and "应用层消息" in zh
    hidden = client.post(
        "/api/sessions", files={"file": ("http.pcap", data)}, data={"anonymise": "1"}
    ).json()["id"]
    assert 'class="app"' not in client.get(f"/s/{hidden}").text

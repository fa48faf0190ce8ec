"""Anonymised sessions: every address replaced by a consistent, prefix-preserving pseudonym
(MACs and names too) in everything stored and shown, and no payload bytes kept."""

from __future__ import annotations

import ipaddress
import json

from fastapi.testclient import TestClient

from app.decode.readers.anonymise import Pseudonyms
from tests.conftest import load

PASTE = """\
# trace from 192.168.7.10 talking to 192.168.7.20 (switch port 00:1b:21:3a:4f:5e)
10:00:00.000000 00:1b:21:3a:4f:5e > 52:54:00:12:34:56, ethertype IPv4 (0x0800), length 74: 192.168.7.10.40000 > 192.168.7.20.80: Flags [S], seq 100, win 64240, options [mss 1460], length 0
10:00:00.001000 52:54:00:12:34:56 > 00:1b:21:3a:4f:5e, ethertype IPv4 (0x0800), length 74: 192.168.7.20.80 > 192.168.7.10.40000: Flags [S.], seq 500, ack 101, win 65160, options [mss 1460], length 0
10:00:00.002000 00:1b:21:3a:4f:5e > 52:54:00:12:34:56, ethertype IPv4 (0x0800), length 66: 192.168.7.10.40000 > 192.168.7.20.80: Flags [.], ack 501, win 502, length 0
10:00:00.003000 00:1b:21:3a:4f:5e > 52:54:00:12:34:56, ethertype IPv4 (0x0800), length 84: 192.168.7.10.40000 > 192.168.7.20.80: Flags [P.], seq 101:119, ack 501, win 502, length 18: HTTP: GET / HTTP/1.1
\tGET /secret-path HTTP/1.1
10:00:01.000000 IP6 2001:db8::1.5000 > 2001:db8::2.443: Flags [S], seq 1, win 100, length 0
The server 192.168.7.20 answered; 10.9.8.7 never did.
"""
ORIGINAL = ("192.168.7.10", "192.168.7.20", "00:1b:21:3a:4f:5e", "52:54:00:12:34:56",
            "2001:db8::1", "2001:db8::2", "10.9.8.7", "secret-path")  # fmt: skip


def _shared(x: str, y: str) -> int:
    """Leading bits two IPv4 addresses have in common."""
    return 32 - (int(ipaddress.IPv4Address(x)) ^ int(ipaddress.IPv4Address(y))).bit_length()


def test_pseudonyms_keep_prefixes_and_nothing_else() -> None:
    p = Pseudonyms(b"k" * 32)
    a, b, c = (p.ip(x) for x in ("10.1.2.3", "10.1.2.99", "10.200.0.1"))
    assert _shared(a, b) == _shared("10.1.2.3", "10.1.2.99")
    assert _shared(a, c) == _shared("10.1.2.3", "10.200.0.1") == 8
    assert p.ip("10.1.2.3") == a != "10.1.2.3"
    assert Pseudonyms(b"x" * 32).ip("10.1.2.3") != a  # another key, another pseudonym
    assert p.host("db.example.com") == "host-1.invalid" == p.host("db.example.com")
    assert p.text("at 17:56:04.224218 from 10.1.2.3.80") == f"at 17:56:04.224218 from {a}.80"


def _session(client: TestClient, **fields: str) -> tuple[str, str]:
    r = client.post("/api/sessions", data={"anonymise": "1", **fields})
    assert r.status_code == 201, r.text
    return r.json()["id"], json.dumps(client.get(f"/api/sessions/{r.json()['id']}").json())


def test_an_anonymised_paste_keeps_no_address_and_no_payload(client: TestClient) -> None:
    sid, doc = _session(client, text=PASTE)
    for original in ORIGINAL:
        assert original not in doc, original
    pages = client.get(f"/s/{sid}").text + client.get(f"/s/{sid}/p/4").text
    for original in ORIGINAL:
        assert original not in pages, original
    status = client.get(f"/api/sessions/{sid}/status").json()
    assert "192.168.7.10" not in status["title"] and status["options"]["anonymise"] is True
    flows = json.loads(doc)["flows"]
    client_host = flows[0]["client"].rsplit(":", 1)[0]
    server_host = flows[0]["server"].rsplit(":", 1)[0]
    assert client_host in status["title"]  # the title uses the same pseudonyms
    assert _shared(client_host, server_host) >= 24  # still one /24
    assert f"The server {server_host} answered" in doc  # commentary: the same pseudonyms
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.input(sid) == b""


def test_an_anonymised_capture_keeps_no_address_and_no_frame(client: TestClient) -> None:
    data = load("http-like.pcap")
    plain = client.post("/api/sessions", files={"file": ("a.pcap", data)}).json()["id"]
    hosts = {
        f[side].rsplit(":", 1)[0]
        for f in client.get(f"/api/sessions/{plain}").json()["flows"]
        for side in ("client", "server")
    }
    r = client.post("/api/sessions", files={"file": ("a.pcap", data)}, data={"anonymise": "1"})
    sid = r.json()["id"]
    doc = json.dumps(client.get(f"/api/sessions/{sid}").json())
    assert hosts and not [h for h in hosts if h in doc]
    detail = client.get(f"/api/sessions/{sid}/packets/1").json()
    assert not [h for h in hosts if h in json.dumps(detail)]
    assert not detail.get("hex")

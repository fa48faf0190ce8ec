"""Payload recognition for the packet detail view (HTTP, TLS, Redis, memcache)."""

from __future__ import annotations

from app.decode.explain.detail import hexdump
from app.decode.readers.appdata import recognise


def test_recognises_common_payloads() -> None:
    http = recognise(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    assert http is not None and http["protocol"] == "HTTP"
    assert http["summary"] == "HTTP/1.1 200 OK"
    hello = bytes([22, 3, 1, 0, 200, 1, 0, 0, 196]) + b"\0" * 200
    tls = recognise(hello)
    assert tls is not None and tls["protocol"] == "TLS"
    assert tls["summary"] == "Handshake ClientHello (TLS 1.0, 200 bytes)"
    redis = recognise(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", (50000, 6379))
    assert redis is not None and (redis["protocol"], redis["summary"]) == ("Redis", "GET key")
    mc = recognise(b"get foo\r\n", (50000, 11211))
    assert mc is not None and (mc["protocol"], mc["summary"]) == ("memcache", "get foo")
    other = recognise(b"\x00\x01binary")
    assert other is not None and other["protocol"] is None and other["text"] == "..binary"
    assert recognise(b"") is None


def test_hexdump_rows() -> None:
    rows = hexdump(bytes(range(20)))
    assert rows[0][0] == "0000" and rows[1] == ("0010", "10 11 12 13", "....")

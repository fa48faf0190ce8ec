"""What a payload starts, on the arrow: found by the fast reader with a vectorised look at
first bytes, the same as Scapy's payload read by ``recognise``, never on random bytes,
and never kept when the session is anonymised."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode import analyse, read_path
from app.decode.readers import appdata
from app.decode.readers.anonymise import anonymise
from app.decode.readers.appdata import recognise, summaries
from app.decode.readers.ingest import read_input

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "peer" / "captures"
CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"


def _dns_query(name: str, ident: int = 0x1234) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    msg = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q
    return struct.pack("!H", len(msg)) + msg


PAYLOADS: list[tuple[bytes, tuple[int, int], str]] = [
    (b"GET /file.bin HTTP/1.1\r\nHost: x\r\n\r\n", (40000, 80), "GET /file.bin HTTP/1.1"),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", (80, 40000), "HTTP/1.1 404 Not Found"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", (40000, 6379), "SET k v"),
    (b"+OK\r\n", (6379, 40000), "+OK"),
    (b"get user:1\r\n", (40000, 11211), "get user:1"),
    (b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", (40000, 443), "Handshake ClientHello"),
    (b"\x17\x03\x03\x40\x00" + bytes(64), (443, 40000), "ApplicationData"),
    (_dns_query("example.com"), (40000, 53), "DNS query 0x1234 example.com."),
]


def _many(payloads: list[bytes], ports: list[tuple[int, int]]) -> dict[int, str]:
    buf = b"".join(payloads)
    starts = np.cumsum([0] + [len(p) for p in payloads[:-1]]).astype(np.int64)
    stops = starts + np.array([len(p) for p in payloads], np.int64)
    sport = np.array([a for a, _ in ports], np.int64)
    dport = np.array([b for _, b in ports], np.int64)
    return summaries(buf, starts, stops, sport, dport)


def test_each_protocol_in_one_line() -> None:
    got = _many([p for p, _, _ in PAYLOADS], [ports for _, ports, _ in PAYLOADS])
    for i, (_, _, want) in enumerate(PAYLOADS):
        assert want in got[i], (want, got.get(i))


def test_random_bytes_say_nothing() -> None:
    """A bulk transfer of random bytes: no message recognised where none starts (the four
    first bytes must match a known word exactly, so a false hit is one in millions)."""
    rng = random.Random(7)
    payloads = [rng.randbytes(1448) for _ in range(20_000)]
    got = _many(payloads, [(443, 40000)] * len(payloads))
    assert len(got) <= 3  # TLS-looking first bytes happen by chance; rarely
    assert all(
        v.startswith(("Handshake", "ChangeCipherSpec", "Alert", "Application"))
        for v in got.values()
    )


def test_a_payload_cut_by_the_snaplen_is_read_as_far_as_it_goes() -> None:
    payload = b"GET /a-very-long-path HTTP/1.1\r\n"
    got = _many([payload[:12]], [(40000, 80)])
    assert got == {0: "GET /a-very-"}


def _scapy_summaries(path: Path) -> dict[int, str]:
    """Frame number -> recognise() of the TCP payload Scapy reads, for every frame."""
    from scapy.layers.inet import TCP
    from scapy.packet import Padding
    from scapy.utils import PcapReader

    out: dict[int, str] = {}
    with PcapReader(str(path)) as reader:
        for k, pkt in enumerate(reader, 1):
            tcp = pkt.getlayer(TCP)
            if tcp is None:
                continue
            data = bytes(tcp.payload)
            pad = tcp.payload.getlayer(Padding)
            if pad is not None:
                data = data[: len(data) - len(bytes(pad))]
            found = recognise(data[:512], (int(tcp.sport), int(tcp.dport)))
            if found and found["summary"]:
                out[k] = found["summary"][:120]
    return out


def _fast_summaries(path: Path) -> dict[int, str]:
    t = read_path(str(path)).table
    frames = t.cols["frame"]
    return {int(frames[row]): text for row, text in t.apps.items()}


@pytest.mark.parametrize(
    "name",
    [
        "http-like.pcap",
        "ndpi__pcap__http_ipv6.pcap",
        "pcapplusplus__PcapExamples__four_ipv6_http_streams.pcap",
        "zeek__Traces__tcp-http-with-padding.pcap",
        "ndpi__pcap__tls_multiple_synack_different_seq.pcapng",
    ],
)
def test_the_fast_reader_agrees_with_scapy(name: str) -> None:
    path = CAPTURES / name if (CAPTURES / name).exists() else CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/corpus)")
    fast, slow = _fast_summaries(path), _scapy_summaries(path)
    assert fast and fast == {k: v for k, v in slow.items() if not v.startswith("DNS")}


def test_shown_on_the_packet_and_dropped_when_anonymised() -> None:
    data = (CAPTURES / "http-like.pcap").read_bytes()
    a = analyse(read_input(data))
    packets: list[Any] = a.table.table.packets()
    assert [p.app for p in packets if p.app] == ["GET / HTTP/1.0", "HTTP/1.0 200 OK"]
    trace = read_input(data)
    anonymise(trace)
    assert trace.table.apps == {}


def test_tls_headers_summarised_as_recognise_does() -> None:
    """TLS record headers are summarised from their first six bytes, one summary per
    distinct header: the same text recognise() gives each payload, edge cases included
    (a zero-length record, a header cut after five bytes, unknown handshake types)."""
    rng = random.Random(11)
    payloads, ports = [], []
    for _ in range(3000):
        ctype = rng.choice((20, 21, 22, 23))
        head = bytes([ctype, 3, rng.randint(0, 4)]) + rng.choice((0, 5, 300, 16384)).to_bytes(2)
        payloads.append(head + rng.randbytes(rng.choice((0, 1, 2, 40))))
        ports.append(rng.choice(((443, 40000), (40000, 53), (40000, 11211), (6379, 40000))))
    got = _many(payloads, ports)
    for i, data in enumerate(payloads):
        found = recognise(data, ports[i])
        want = found["summary"][:120] if found and found["summary"] else None
        assert got.get(i) == want, (data[:6], ports[i])


def test_text_messages_summarised_as_recognise_does() -> None:
    """HTTP messages are summarised once per distinct first bytes (their first line, cut
    at 120 characters): the same text recognise() gives each payload, with first lines
    shorter, as long as and longer than the cut, payloads cut short by the snaplen, and
    memcache and Redis words that share an HTTP method's first four bytes."""
    rng = random.Random(5)
    heads = [
        b"GET /" + b"a" * 114 + b"\r\n",  # a first line of exactly 120 characters
        b"GET /" + b"a" * 115 + b"\r\nHost: x\r\n\r\n",
        b"POST /form HTTP/1.1\r\n\r\nbody",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        b"DELETE /x HTTP/1.1\r\n\r\n",
        b"DELETED\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        b"OPTIONSX\r\n",
        b"+OK\r\n",
        b"-ERR no\r\n",
        b"get key\r\n",
        b"HTTP/1.0 404\r\n",
        b"GET " + bytes(range(256)) * 2,
    ]
    payloads, ports = [], []
    for _ in range(4000):
        data = rng.choice(heads) + rng.choice((b"", b"x" * 300, rng.randbytes(40)))
        payloads.append(data[: rng.choice((4, 7, 8, 60, 119, 120, 121, 600))])
        ports.append(rng.choice(((40000, 80), (80, 40000), (40000, 11211), (6379, 40000))))
    got = _many(payloads, ports)
    for i, data in enumerate(payloads):
        found = recognise(data[:512], ports[i])
        want = found["summary"][:120] if found and found["summary"] else None
        assert got.get(i) == want, (data[:20], ports[i])
    assert len(got) > 3000


def _partition(first: np.ndarray, group: np.ndarray) -> list[list[int]]:
    """Groups as sorted lists of rows, whatever their numbering."""
    rows: dict[int, list[int]] = {}
    for r, g in enumerate(group.tolist()):
        rows.setdefault(g, []).append(r)
    assert sorted(first.tolist()) == sorted(v[0] for v in rows.values())
    return sorted(rows.values())


@settings(max_examples=150, deadline=None)
@given(
    st.binary(min_size=1, max_size=400),
    st.lists(st.tuples(st.integers(0, 399), st.integers(0, 140)), min_size=1, max_size=30),
    st.booleans(),
)
def test_rows_grouped_by_their_first_bytes_by_words_as_by_bytes(
    data: bytes, picks: list[tuple[int, int]], collide: bool
) -> None:
    """``_distinct_starts`` (64-bit words, hashed) groups rows as ``_distinct_bytes`` (the
    bytes themselves) does, also when every hash is the same (then it checks and falls
    back), and near the buffer's end."""
    # few distinct byte values, so that equal keys at different offsets are common
    buf = np.frombuffer(bytes(b % 3 for b in data) * 2, np.uint8)
    s = np.array([a % len(buf) for a, _ in picks], np.int64)
    have = np.minimum(np.array([h for _, h in picks], np.int64), len(buf) - s)
    have = np.minimum(have, appdata._HTTP_KEY)
    want = _partition(*appdata._distinct_bytes(buf, s, have))
    mix = appdata._MIX
    try:
        if collide:
            appdata._MIX = np.zeros_like(mix)
        got = _partition(*appdata._distinct_starts(buf, s, have))
    finally:
        appdata._MIX = mix
    assert got == want

"""Follow the byte stream: reassembly against captures whose bytes we know.

Three kinds of truth: a capture written here with Scapy (every byte and every fault of it
chosen), the recorded impaired transfers (the application sent 400 KB or 2 MB of ``x``,
``scripts/impaired.py``), and tshark's ``follow,tcp,raw`` where it is right.  Where tshark
is wrong (its raw output puts the text "[N bytes missing in capture file]" and a NUL among
the bytes; it drops what follows a gap that is never filled) the tests say so.
"""

from __future__ import annotations

import binascii
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.decode import analyse, read_input, read_path
from app.decode.analysis.stream import CUT, NOT_CAPTURED, Stream, follow_flow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "captures"
IMPAIRED = FIXTURES / "impaired"
PEER = Path(__file__).parents[3] / "shared" / "corpus" / "peer" / "captures"
HAS_TSHARK = shutil.which("tshark") is not None

C, S = "10.1.0.1", "10.1.0.2"
ISN_C = 0xFFFF_FFF0  # the client's numbers wrap past 2^32 within the request
ISN_S = 7000


def _faulty(path: Path) -> None:
    """A connection with every fault reassembly has to get right (see the asserts)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    def up(seq: int, data: bytes = b"", flags: str = "PA") -> Any:
        t = TCP(sport=1234, dport=80, flags=flags, seq=seq, ack=ISN_S + 1)
        return Ether() / IP(src=C, dst=S) / t / data

    def down(seq: int, data: bytes = b"", flags: str = "PA", ack: int = 0) -> Any:
        t = TCP(sport=80, dport=1234, flags=flags, seq=seq, ack=ack or (ISN_C + 1 + 40) % 2**32)
        return Ether() / IP(src=S, dst=C) / t / data

    c0, s0 = ISN_C + 1, ISN_S + 1

    def w(k: int) -> int:
        return (c0 + k) % 2**32

    pkts = [
        Ether() / IP(src=C, dst=S) / TCP(sport=1234, dport=80, flags="S", seq=ISN_C),
        Ether() / IP(src=S, dst=C) / TCP(sport=80, dport=1234, flags="SA", seq=ISN_S, ack=c0),
        up(w(0), b"GET /a HTTP/1.1\r\n"),  # 17 bytes: 0..17, wraps 2^32 at byte 15
        up(w(27), b"0123456789\r\n\r\n"),  # ahead of 17..27: out of order
        up(w(17), b"Host: x\r\n\n"),  # 17..27 fills the gap
        up(w(17), b"Host: y\r\n\n"),  # sent again with one byte changed: a conflict
        down(s0, b"HTTP/1.1 200 OK\r\n"),  # 0..17
        down(s0 + 30, b"tail"),  # 17..30 never captured: a hole
        down(s0 + 34, b"", flags="FA"),
    ]
    with PcapWriter(str(path), linktype=1) as out:
        for i, p in enumerate(pkts):
            p.time = 1000 + i / 10
            out.write(p)


def _stream(path: Path, flow: int = 1) -> Stream:
    data = path.read_bytes()
    return follow_flow(analyse(read_input(data)).table, flow, data)


def test_faulty_connection(tmp_path: Path) -> None:
    path = tmp_path / "faulty.pcap"
    _faulty(path)
    st = _stream(path)
    c2s, s2c = st.sides
    assert c2s.data() == b"GET /a HTTP/1.1\r\nHost: x\r\n\n0123456789\r\n\r\n"
    assert c2s.size == c2s.captured == 41 and c2s.holes == 0
    assert c2s.retransmitted == 10 and c2s.conflicts == 1  # "x" then "y"
    assert st.numbers[c2s.conflict_at[0]] == 6
    assert s2c.data() == b"HTTP/1.1 200 OK\r\ntail"
    holes = [(p.start, p.size, p.hole) for p in s2c.pieces if p.hole]
    assert holes == [(17, 13, NOT_CAPTURED)]
    assert s2c.size == 34  # to the FIN
    # the conversation: by time, each direction in sequence order, neighbours joined
    kinds = [(p.direction, p.start, p.size, p.hole) for p in st.blocks]
    assert kinds == [
        (0, 0, 41, None),
        (1, 0, 17, None),
        (1, 17, 13, NOT_CAPTURED),
        (1, 30, 4, None),
    ]
    assert st.blocks[0].first == 2 and st.numbers[st.blocks[0].last] == 5


def test_snaplen_cut_is_a_hole_of_its_own_kind() -> None:
    """http-like cut to 60 bytes a frame (66 bytes of headers with TCP timestamps): the
    request and response were seen, none of their bytes captured."""
    st = _stream(FIXTURES / "formats" / "http-like.s60.pcap")
    c2s, s2c = st.sides
    assert [(p.hole, p.size) for p in c2s.pieces] == [(CUT, 18)]
    assert [(p.hole, p.size) for p in s2c.pieces] == [(CUT, 51)]
    assert st.captured == 0 and st.numbers[c2s.pieces[0].first] == 4


def test_text_paste_with_hex_dump_equals_the_capture() -> None:
    cap = _stream(FIXTURES / "http-like.pcap")
    paste = (FIXTURES / "http-like.XX-nn.txt").read_bytes()
    text = follow_flow(analyse(read_input(paste)).table, 1, b"")
    assert [s.data() for s in text.sides] == [s.data() for s in cap.sides]
    assert [s.data() for s in cap.sides] == [
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n",
    ]


def test_text_without_bytes_says_unknown() -> None:
    paste = (FIXTURES / "http-like.nn.txt").read_bytes()
    st = follow_flow(analyse(read_input(paste)).table, 1, b"")
    assert st.captured == 0 and st.unknown == 2
    assert [s.size for s in st.sides] == [18, 51]


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("loss", 400_000),
        ("loss-rx", 400_000),
        ("lossy-at-client", 2_000_000),
        ("lossy-at-server", 2_000_000),
    ],
)
def test_impaired_downloads_have_the_size_the_server_sent(name: str, size: int) -> None:
    """Ground truth: scripts/impaired.py sent exactly ``size`` bytes of ``x``; at snaplen
    128 most of each segment is a CUT hole, none is made up."""
    st = _stream(IMPAIRED / f"{name}.pcap")
    c2s, s2c = st.sides
    assert c2s.data() == b"GET /bulk\r\n"
    assert s2c.size == size
    assert set(s2c.data()) == {ord("x")}
    assert s2c.captured + s2c.hole_bytes == size and s2c.conflicts == 0


def test_reordering_is_not_retransmission() -> None:
    """reorder.pcap (captured at the receiver, nothing dropped on the path): no byte came
    twice, though tshark calls 5 of its segments retransmissions."""
    st = _stream(IMPAIRED / "reorder.pcap")
    assert st.sides[0].retransmitted == 0 and st.sides[0].size == 400_000


_MARK = re.compile(rb"^\[(\d+) bytes missing in capture file\]\x00?$")


def tshark_follow(path: Path, index: int) -> tuple[bytes, bytes, int]:
    """tshark's raw follow of stream ``index``: each direction's bytes with its gap
    markers taken out, and how many markers there were."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-q", "-z", f"follow,tcp,raw,{index}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got, marks = [b"", b""], 0
    for line in out.splitlines():
        if not line.strip() or line.startswith(("=", "Follow", "Filter", "Node")):
            continue
        chunk = binascii.unhexlify(line.strip())
        if _MARK.match(chunk):
            marks += 1
        else:
            got[line.startswith("\t")] += chunk
    return got[0], got[1], marks


ORACLE = [FIXTURES / "http-like.pcap", FIXTURES / "ipv6-any.pcap", *sorted(IMPAIRED.glob("*.pcap"))]


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
@pytest.mark.parametrize("path", ORACLE, ids=lambda p: p.name)
def test_bytes_agree_with_tshark_follow(path: Path) -> None:
    data = path.read_bytes()
    table = analyse(read_path(str(path))).table
    for flow in range(1, table.count + 1):
        st = follow_flow(table, flow, data)
        a, b, _ = tshark_follow(path, flow - 1)
        assert sorted([a, b]) == sorted(s.data() for s in st.sides), flow


PEER_CASES: dict[str, tuple[int, Callable[[Stream, bytes], bool]]] = {
    # tshark 4.0 stops at a segment that was never captured; the bytes after it are there
    "pcapplusplus__PcapExamples__unidirectional_tcp_stream_with_missing_packet.pcap": (
        1,
        lambda st, a: len(a) == 1420 and st.sides[0].captured == 8528 and st.sides[0].holes == 1,
    ),
    # overlapping copies with different bytes: the first copy kept, the differences counted
    "zeek__tcp__reassembly.pcap": (
        1,
        lambda st, a: st.sides[0].conflicts == 151 and len(a) == st.sides[0].captured == 28832,
    ),
    # data numbered at the ISN itself (before the stream): the byte the SYN took is dropped
    "suricata-verify__issue-3341-tcphdr-01__urgent11_cve_2019_12260.pcap": (
        2,
        lambda st, a: st.sides[0].data() == a and st.sides[0].clipped == 1,
    ),
}


@pytest.mark.skipif(not (HAS_TSHARK and PEER.is_dir()), reason="needs tshark and the corpus")
@pytest.mark.parametrize("name", sorted(PEER_CASES))
def test_peer_captures(name: str) -> None:
    flow, check = PEER_CASES[name]
    path = PEER / name
    st = _stream(path, flow)
    a, _, _ = tshark_follow(path, flow - 1)
    assert check(st, a)

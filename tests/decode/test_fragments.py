"""IP fragment reassembly (app/decode/readers/fragments.py): whole datagrams, the kernels'
bounds, and a capture of lone fragments that must not cost more than its bound."""

from __future__ import annotations

import io
import struct

from scapy.layers.inet import IP, TCP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Ether

from app.decode import analyse, read_input
from app.decode.readers import fragments as fr
from app.decode.readers.fragments import Fragment, Reassembler, parse


def _frags(pkt: IP, size: int) -> list[Fragment]:
    out = []
    for f in fragment(pkt, fragsize=size):  # type: ignore[no-untyped-call]
        got = parse(bytes(f), 0, 4)
        assert isinstance(got, Fragment)
        out.append(got)
    return out


def _segment() -> IP:
    return IP(src="192.0.2.1", dst="192.0.2.2", id=77) / TCP(sport=1, dport=2, seq=5) / (b"z" * 100)


def test_any_arrival_order_gives_the_datagram_back() -> None:
    pkt = _segment()
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        frags = _frags(pkt, 48)
        r = Reassembler()
        got = [r.add(frags[i], n + 1, 0.0) for n, i in enumerate(order)]
        assert got[:2] == [None, None]
        whole, frames = got[2]  # type: ignore[misc]
        assert frames == [1, 2, 3]
        assert bytes(IP(whole)[TCP]) == bytes(pkt[TCP])
        assert IP(whole).len == len(pkt) and IP(whole).flags == 0 and IP(whole).frag == 0


def test_overlapping_bytes_keep_the_first_copy() -> None:
    frags = _frags(_segment(), 48)
    forged = Fragment(4, frags[1].key, frags[1].offset, True, b"X" * len(frags[1].data), b"", -1)
    r = Reassembler()
    r.add(frags[0], 1, 0.0)
    r.add(frags[1], 2, 0.0)
    r.add(forged, 3, 0.0)
    whole, _ = r.add(frags[2], 4, 0.0)  # type: ignore[misc]
    assert b"X" not in whole


def test_a_datagram_waits_30_seconds_at_most() -> None:
    frags = _frags(_segment(), 48)
    r = Reassembler()
    r.add(frags[0], 1, 0.0)
    r.add(frags[1], 2, 10.0)
    assert r.add(frags[2], 3, 31.0) is None  # the first two were given up at 31 s
    left = r.finish()
    assert [p.frames for p in left] == [[1, 2], [3]]


def test_held_bytes_stay_under_the_bound() -> None:
    r = Reassembler(max_held=10_000)
    for i in range(500):
        pkt = IP(src="192.0.2.1", dst="192.0.2.2", id=i) / TCP() / (b"y" * 200)
        r.add(_frags(pkt, 64)[0], i + 1, 0.0)
        assert r.held <= 10_000
    assert len(r.pending) < 500 and r.incomplete > 0


def test_ipv6_fragment_after_an_extension_header() -> None:
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrFragment(id=5)
        / TCP(sport=1, dport=2, seq=9)
        / (b"q" * 100)
    )
    r = Reassembler()
    parts = fragment6(pkt, 96)  # type: ignore[no-untyped-call]
    assert len(parts) > 1
    got = None
    for n, f in enumerate(parts):
        frag = parse(bytes(f), 0, 6)
        assert isinstance(frag, Fragment)
        got = r.add(frag, n + 1, 0.0)
    assert got is not None
    whole = IPv6(got[0])
    assert bytes(whole[TCP]) == bytes(pkt[TCP])
    assert IPv6ExtHdrDestOpt in whole and IPv6ExtHdrFragment not in whole


def test_a_capture_of_lone_fragments_costs_its_bound() -> None:
    """20,000 first fragments whose datagrams never complete: all counted, the shown ones
    capped, each flagged ip.reassembly_incomplete and left out of the sequence analysis."""
    base = bytearray(
        bytes(
            Ether()
            / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", id=0)
            / TCP(sport=1, dport=2)
            / (b"x" * 40)
        )
    )
    out = io.BytesIO()
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(20_000):
        struct.pack_into("!H", base, 14 + 4, i)
        out.write(struct.pack("<IIII", 1_700_000_000 + i // 100, 0, len(base), len(base)))
        out.write(base)
    shown = fr.MAX_INCOMPLETE_SHOWN
    fr.MAX_INCOMPLETE_SHOWN = 1_000
    try:
        trace = read_input(out.getvalue())
    finally:
        fr.MAX_INCOMPLETE_SHOWN = shown
    assert trace.other_count == 20_000
    assert trace.packet_count <= 1_000 + fr.MAX_DATAGRAMS
    assert "20,000 IP datagrams were sent in fragments and never completed" in str(trace.warnings)
    flow = analyse(trace).flows[0]
    assert all(p.findings == ["ip.reassembly_incomplete"] for p in flow.packets)

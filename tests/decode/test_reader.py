"""The fast capture reader: containers, link types, truncation, errors, and equality with Scapy.

Fixtures: tests/fixtures/captures (recorded with tcpdump) and captures/formats (derived from
them with tcpdump, editcap, mergecap, gzip and zstd, or written with Scapy where loopback
cannot produce the link type); scripts/record-fixtures makes them all.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode import Limits, analyse, read_input
from app.decode.model.errors import EmptyInput, InputTooLarge, UnsupportedInput
from app.decode.model.trace import Trace
from app.decode.readers.capture import read_capture
from app.decode.readers.dissect import _Bytes
from benchmarks.fieldcompare import reader_differences
from tests.conftest import to_json

CAPTURES = Path(__file__).parents[1] / "fixtures" / "captures"
FORMATS = CAPTURES / "formats"
CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "tcpdump" / "pcap"
PLAIN = sorted(
    p
    for p in [*CAPTURES.glob("*.pcap"), *FORMATS.glob("*.pcap*")]
    if p.suffix in (".pcap", ".pcapng")
)
# Scapy has no dissector for these link types (PKTAP, Cisco HDLC, FabricPath, NFLOG), nor
# for Cisco HDLC framing in a PPP-typed file; they are checked by hand below.
SCAPY_HAS_NO = {"pktap.pcap", "chdlc.pcap", "fabricpath.pcap", "nflog.pcap"}
SCAPY_MISSES = {"ppp.pcap": ["frame 5: TCP only in the fast reading"]}


def fields(trace: Trace) -> list[tuple[object, ...]]:
    return [
        (p.src, p.dst, p.letters, p.seq, p.ack, p.length, p.win, p.options.items, p.truncated)
        for p in trace.packets
    ]


@pytest.mark.parametrize("path", PLAIN, ids=lambda p: p.name)
def test_fast_reader_equals_scapy(path: Path) -> None:
    diffs, counts = reader_differences(path.read_bytes())
    if path.name in SCAPY_HAS_NO:
        assert counts["scapy"] == 0 and counts["fast"] > 0
        return
    assert diffs == SCAPY_MISSES.get(path.name, [])
    assert counts["fast"] == counts["scapy"] + len(diffs) > 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/tcpdump is not next to the repo")
def test_fast_reader_equals_scapy_on_tcpdump_corpus() -> None:
    unreadable = []
    frames = via_scapy = 0
    for path in sorted(CORPUS.iterdir()):
        data = path.read_bytes()
        try:
            diffs, counts = reader_differences(data)
        except UnsupportedInput as exc:
            # link types neither reader knows (ARCNET, Juniper): Scapy finds no TCP either
            from app.decode.readers.scapy_fallback import read_capture_scapy

            assert "link type" in exc.message
            assert read_capture_scapy(data, max_packets=10**6) == []
            unreadable.append(path.name)
            continue
        assert diffs == [], path.name
        frames += counts["fast"]
        via_scapy += counts["via_scapy"]
    assert frames > 1500
    assert via_scapy < frames * 0.1  # the fast path does the bulk; tunnels go to Scapy
    assert len(unreadable) <= 3


def test_containers_give_the_same_packets() -> None:
    ref = fields(read_input((CAPTURES / "http-like.pcap").read_bytes()))
    for name in ("http-like.ns.pcap", "http-like.pcap.gz", "http-like.pcap.zst"):
        trace = read_input((FORMATS / name).read_bytes())
        assert fields(trace) == ref, name
    ns = read_input((FORMATS / "http-like.ns.pcap").read_bytes()).packets
    us = read_input((CAPTURES / "http-like.pcap").read_bytes()).packets
    assert [round(p.time or 0, 6) for p in ns] == [round(p.time or 0, 6) for p in us]
    assert read_input((FORMATS / "http-like.pcap.zst").read_bytes()).kind_detail == "zstd"


def test_pcapng_with_two_link_types_and_comments() -> None:
    data = (FORMATS / "two-interfaces.pcapng").read_bytes()
    trace = read_input(data)
    assert trace.kind == "pcapng"
    assert trace.link_type == "1 (Ethernet), 276 (Linux cooked v2 (SLL2))"
    assert trace.packet_count == 20  # 10 on Ethernet, 10 TCP on SLL2 (plus one UDP)
    assert trace.other_count == 1 and "UDP" in str(trace.other_packets[0]["text"])
    assert trace.comments == ["tcpladder fixture: two interfaces"]
    third = next(p for p in trace.packets if p.frame == 3)
    assert [c.text for c in third.comments] == ["third frame, commented"]
    doc = to_json(analyse(trace))
    assert doc["source"]["comments"] == ["tcpladder fixture: two interfaces"]
    assert len(doc["flows"]) == 2
    gz = read_input((FORMATS / "two-interfaces.pcapng.gz").read_bytes())
    assert fields(gz) == fields(trace)


def test_big_endian_pcap() -> None:
    pk = read_input((FORMATS / "bigendian.pcap").read_bytes()).packets
    assert [(p.letters, p.seq, p.length) for p in pk] == [("S", 1000, 0), (".", 1001, 10)]
    assert pk[0].options.mss == 1460 and pk[0].options.wscale == 7


def test_link_types_and_ip_variants() -> None:
    for name in ("null.pcap", "loop.pcap", "sll.pcap", "pktap.pcap"):
        (p,) = read_input((FORMATS / name).read_bytes()).packets
        assert (p.src, p.dst, p.letters, p.seq, p.options.mss) == (
            "192.0.2.1:40000",
            "192.0.2.2:80",
            "S",
            1000,
            1460,
        ), name
    raw = read_input((FORMATS / "raw.pcap").read_bytes()).packets
    assert [p.ip_version for p in raw] == [4, 6]
    trace = read_input((FORMATS / "ip-variants.pcap").read_bytes())
    got = [(p.frame, p.ip_version, p.letters, p.length, p.fragments) for p in trace.packets]
    # IPv4 with options; an IPv4 segment in two fragments, shown at the frame completing it;
    # IPv6 behind HBH and DSTOPT; an IPv6 segment in two fragments; a first fragment whose
    # datagram never completes: cut short, length unknown
    assert got == [
        (1, 4, "S", 0, []),
        (3, 4, ".", 40, [2, 3]),
        (4, 6, "S", 0, []),
        (6, 6, ".", 40, [5, 6]),
        (7, 4, ".", None, [7]),
    ]
    assert trace.packets[-1].truncated and trace.packets[-1].incomplete
    texts = {o["frame"]: o["text"] for o in trace.other_packets}
    assert texts[2] == "IPv4 fragment of TCP, bytes from 0; reassembled in frame 3"
    assert texts[8] == "IPv4 fragment of UDP, bytes from 0"
    (flow,) = [f for f in analyse(trace).flows if f.packets[-1].frame == 7]
    found = {p.frame: p.findings for p in flow.packets}
    assert found[3] == [] and found[7] == ["ip.reassembly_incomplete"]
    mixed = read_input((FORMATS / "link-types.pcapng").read_bytes())
    assert mixed.packet_count == 9
    assert "0 (NULL (BSD loopback))" in (mixed.link_type or "")


SYN4 = ("192.0.2.1:40000", "192.0.2.2:80", "S", 1000)
SYNACK6 = ("[2001:db8::1]:80", "[2001:db8::2]:40000", "S.", 5000)


@pytest.mark.parametrize(
    ("name", "link", "want", "other"),
    [
        ("chdlc.pcap", "104 (Cisco HDLC)", [SYN4, SYNACK6], [2]),
        # HDLC framing, none, a one-byte protocol, LCP, Cisco HDLC framing in a PPP file
        ("ppp.pcap", "9 (PPP)", [SYN4, SYNACK6, SYN4, SYN4], [4]),
        ("ppp-hdlc.pcap", "50 (PPP in HDLC framing)", [SYN4, SYNACK6], []),
        ("nflog.pcap", "239 (NFLOG (Linux netfilter log))", [SYN4, SYNACK6], [3]),
        ("fabricpath.pcap", "1 (Ethernet)", [SYN4, SYNACK6], []),
    ],
)
def test_link_types_scapy_does_not_read(
    name: str, link: str, want: list[tuple[object, ...]], other: list[int]
) -> None:
    """Each file (written by scripts/record-fixtures byte by byte) holds the same SYN and
    SYN-ACK behind another link header; tshark 4.0 reads them the same way."""
    trace = read_input((FORMATS / name).read_bytes())
    assert trace.link_type == link
    assert [(p.src, p.dst, p.letters, p.seq) for p in trace.packets] == want
    assert [p.options.mss for p in trace.packets][:1] == [1460]
    assert [o["frame"] for o in trace.other_packets] == other


def test_snaplen_truncated_frames_keep_their_real_length() -> None:
    full = read_input((CAPTURES / "http-like.pcap").read_bytes()).packets
    cut = read_input((FORMATS / "http-like.s60.pcap").read_bytes()).packets
    assert all(p.truncated for p in cut)
    assert [p.length for p in cut] == [p.length for p in full]
    assert [p.seq for p in cut] == [p.seq for p in full]


def test_file_cut_off_mid_record_keeps_what_is_there() -> None:
    data = (CAPTURES / "http-like.pcap").read_bytes()
    trace = read_input(data[:-7])
    assert trace.packet_count == 9
    (w,) = trace.warnings
    assert "ends inside record 10" in w.message and w.offset is not None
    assert w.offset < len(data)
    ng = (FORMATS / "two-interfaces.pcapng").read_bytes()
    cut = read_input(ng[:-10])
    assert cut.packet_count == 19 and "ends inside a block" in cut.warnings[0].message


def test_tiny_chunks_read_the_same() -> None:
    for path in (CAPTURES / "ipv6-any.pcap", FORMATS / "two-interfaces.pcapng"):
        data = path.read_bytes()
        whole = read_capture(io.BytesIO(data), max_packets=100)
        small = read_capture(io.BytesIO(data), max_packets=100, chunk_size=64)
        assert fields(small) == fields(whole)


def _pcap_header(link: int = 1) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link)


def test_errors_name_the_problem_and_the_byte() -> None:
    data = (CAPTURES / "http-like.pcap").read_bytes()
    with pytest.raises(EmptyInput):
        read_input(b"")
    with pytest.raises(UnsupportedInput) as exc:
        read_input(_pcap_header(147) + data[24:])
    assert "link type 147" in exc.value.message and exc.value.offset == 20
    huge = data[:24] + data[24:32] + struct.pack("<I", 0xFFFFFFFF) + data[36:]
    with pytest.raises(UnsupportedInput) as exc:
        read_input(huge)
    assert "4,294,967,295" in exc.value.message and exc.value.offset == 24
    # the same on the second record: the first packet is kept, with a warning
    first_len = struct.unpack("<I", data[32:36])[0]
    second = 24 + 16 + first_len
    bad = data[: second + 8] + struct.pack("<I", 1 << 31) + data[second + 12 :]
    trace = read_input(bad)
    assert trace.packet_count == 1 and trace.warnings[0].offset == second
    # a claim too big for a record that the bytes after it could still hold: caught as well
    # (the walk checks claims after it has placed a chunk's records)
    big = data[: second + 8] + struct.pack("<II", 300_000, 300_000) + data[second + 16 :]
    trace = read_input(big + bytes(400_000))
    assert trace.packet_count == 1 and trace.warnings[0].offset == second
    assert "claims 300,000 captured bytes" in trace.warnings[0].message
    with pytest.raises(UnsupportedInput) as exc:
        read_input(data[:10])
    assert "cut short" in exc.value.message
    with pytest.raises(UnsupportedInput):
        read_input(b"\x0a\x0d\x0d\x0a" + b"\xff" * 40)
    with pytest.raises(UnsupportedInput) as exc:
        read_input(b"\x1f\x8b\x08\x00" + b"\x00" * 30)
    assert "gzip data is corrupt" in exc.value.message


def test_cut_gzip_says_so() -> None:
    packed = (FORMATS / "http-like.pcap.gz").read_bytes()
    trace = read_input(packed[: len(packed) - 30])
    assert any("gzip stream is cut short" in w.message for w in trace.warnings)
    assert 0 < trace.packet_count < 10


def _bomb(kind: str, head: bytes, fill: bytes, size: int) -> bytes:
    """``head`` then ``fill`` repeated to ``size`` bytes, compressed without ever holding
    the expanded bytes."""
    block = fill * ((1 << 22) // len(fill))
    if kind == "gzip":
        z = zlib.compressobj(9, wbits=31)
        parts = [z.compress(head)] + [z.compress(block) for _ in range(size // len(block))]
        return b"".join(parts) + z.flush()
    w = zstandard.ZstdCompressor(level=3).compressobj()
    parts = [w.compress(head)] + [w.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + w.flush()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompression_bombs_stop_at_the_limit_in_bounded_memory(kind: str) -> None:
    """64 MiB of expanded text, or of zero-length pcap records, from a few KiB: refused at the
    expansion limit, naming it, while little more than the limit is held; zeros are refused
    as binary at once."""
    import tracemalloc

    pcap_head = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    limits = Limits(max_expanded=8 << 20)
    for head, fill in ((b"", b"x" * 64 + b"\n"), (pcap_head, bytes(16))):
        packed = _bomb(kind, head, fill, 1 << 26)
        tracemalloc.start()
        with pytest.raises(InputTooLarge) as exc:
            read_input(packed, limits)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert "TCPLADDER_MAX_EXPANDED" in exc.value.message or "packets" in exc.value.message
        assert peak < 24 << 20, peak  # the 8 MiB limit, and a few MiB of work
    with pytest.raises(UnsupportedInput, match="binary data"):
        read_input(_bomb(kind, b"", bytes(64), 1 << 26), limits)


def test_packet_limit() -> None:
    data = (CAPTURES / "http-like.pcap").read_bytes()
    with pytest.raises(InputTooLarge) as exc:
        read_input(data, Limits(max_packets=3))
    assert "more than 3 packets" in exc.value.message


def test_handshake_rtt_matches_wireshark_initial_rtt() -> None:
    # tshark -r http-like.pcap -T fields -e tcp.analysis.initial_rtt: 0.000028000
    doc = to_json(analyse(read_input((CAPTURES / "http-like.pcap").read_bytes())), summary=True)
    assert doc["flows"][0]["irtt_ms"] == 0.028
    refused = to_json(analyse(read_input((CAPTURES / "refused.pcap").read_bytes())))
    # tshark gives 0.023 ms here too: SYN to the RST/ACK that refused it
    assert refused["flows"][0]["irtt_ms"] == 0.023


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=40), st.lists(st.integers(-3, 45), min_size=1, max_size=20))
def test_wide_reads_are_struct_s_at_every_offset(data: bytes, at: list[int]) -> None:
    """The dissector's 2- and 4-byte reads (one gather from a view whose items start a byte
    apart) give struct's value wherever the value is inside the buffer; outside it they
    are clipped (a value callers mask out), never an error."""
    r = _Bytes(data)
    p = np.array(at, np.int64)
    for fmt, read in (
        (">H", r.u16),
        (">I", r.u32),
        ("<H", r.u16le),
        ("<I", r.u32le),
    ):
        got = read(p).tolist()
        size = struct.calcsize(fmt)
        for i, q in enumerate(at):
            if 0 <= q <= len(data) - size:
                assert got[i] == struct.unpack_from(fmt, data, q)[0]

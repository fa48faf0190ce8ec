"""The tcpdump text parser on small hand-written and recorded inputs."""

from __future__ import annotations

import pytest

from app.decode import read_input
from app.decode.model.errors import EmptyInput, NoPackets, UnsupportedInput
from app.decode.model.packet import ACK, AE, CWR, ECE, FIN, PSH, RST, SYN, URG
from app.decode.text.line import parse_flags, parse_options
from app.decode.text.parser import parse_text
from tests.conftest import load


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("S", SYN),
        ("S.", SYN | ACK),
        (".", ACK),
        ("P.", PSH | ACK),
        ("F.", FIN | ACK),
        ("R", RST),
        ("R.", RST | ACK),
        ("SEW", SYN | ECE | CWR),
        ("FPU.", FIN | PSH | URG | ACK),
        (".e", ACK | AE),
        ("none", 0),
        ("SYN", SYN),
        ("SYN.ACK", SYN | ACK),
        ("PUSH.ACK", PSH | ACK),
        ("ACK", ACK),
        ("FIN.ACK", FIN | ACK),
    ],
)
def test_flags(text: str, bits: int) -> None:
    assert parse_flags(text) == bits


def test_options() -> None:
    o = parse_options("mss 1460,sackOK,TS val 910488745 ecr 4129152319,nop,wscale 7")
    assert (o.mss, o.wscale, o.sack_perm, o.ts_val, o.ts_ecr, o.nop) == (
        1460,
        7,
        True,
        910488745,
        4129152319,
        1,
    )
    o = parse_options("nop,nop,sack 2 {1001:2001}{3001:4001}")
    assert o.sack == [(1001, 2001), (3001, 4001)]
    o = parse_options("nop,nop,TS val 1 ecr 2,unknown-76 0x0102")
    assert o.other == ["unknown-76 0x0102"]


def test_recorded_relative_text_matches_capture() -> None:
    """tcpdump -nn text of a real capture decodes to the same fields as the pcap."""
    cap = read_input(load("http-like.pcap"))
    for name in ("http-like.nn.txt", "http-like.S-nn-v.txt"):
        txt = read_input(load(name))
        assert len(txt.packets) == len(cap.packets) == 10
        for a, b in zip(txt.packets, cap.packets, strict=True):
            assert (a.src, a.dst, a.flags, a.length, a.win) == (
                b.src,
                b.dst,
                b.flags,
                b.length,
                b.win,
            )
            assert a.ack == b.ack
            if a.seq is not None:
                assert a.seq == b.seq
            for name in ("mss", "wscale", "sack_perm", "ts_val", "ts_ecr", "sack"):
                assert getattr(a.options, name) == getattr(b.options, name)


def test_relative_numbering_detected_without_command_line() -> None:
    t = read_input(load("http-like.nn.txt"))
    assert t.numbering == "relative"
    t = read_input(load("http-like.S-nn-v.txt"))
    assert t.numbering == "absolute"
    assert t.packets[0].ip["ttl"] == 64 and t.packets[0].cksum_expected is not None


def test_mid_connection_capture_uses_first_packet_as_base() -> None:
    text = (
        "10:00:00.000001 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [P.], seq 3000001000:3000001100, ack 2000005000, win 502, length 100\n"
        "10:00:00.000101 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [.], ack 100, win 509, length 0\n"
        "10:00:00.000201 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [P.], seq 100:200, ack 1, win 502, length 100\n"
    )
    t = parse_text(text)
    assert t.numbering == "relative"
    assert [p.seq for p in t.packets] == [3000001000, None, 3000001100]
    assert t.packets[1].ack == 3000001100
    assert t.packets[2].ack == 2000005000


def test_ipv4_verbose_two_line_form() -> None:
    text = (
        "12:00:00.000001 IP (tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 60)\n"
        "    127.0.0.1.40000 > 127.0.0.1.80: Flags [S], cksum 0xfe30 (correct), seq 1, win 65495, "
        "options [mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0\n"
    )
    t = parse_text(text)
    (p,) = t.packets
    assert p.ip["ttl"] == 64 and p.options.wscale == 7 and p.cksum == 0xFE30


def test_hex_dump_lines_attach_to_packet() -> None:
    text = (
        "12:00:00.000001 IP 127.0.0.1.40000 > 127.0.0.1.80: Flags [S], seq 1, win 65495, length 0\n"
        "\t0x0000:  4500 003c 0001 4000 4006 3cba 7f00 0001  E..<..@.@.<.....\n"
    )
    (p,) = parse_text(text).packets
    assert p.details == ["0x0000:  4500 003c 0001 4000 4006 3cba 7f00 0001  E..<..@.@.<....."]


def test_non_tcp_lines_are_listed_not_errors() -> None:
    text = (
        "12:00:00.000001 IP 10.0.0.1.53 > 10.0.0.2.4000: 1234 1/0/0 A 1.2.3.4 (45)\n"
        "12:00:00.000002 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n"
    )
    t = parse_text(text)
    assert len(t.packets) == 1 and len(t.other_packets) == 1


def test_cut_short_line_is_kept_and_warned() -> None:
    text = "12:00:00.000001 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 1, win 100,\n"
    t = parse_text(text)
    assert len(t.packets) == 1
    assert t.warnings[0].line == 1 and "cut short" in t.warnings[0].message


def test_unknown_service_name_is_kept_and_warned() -> None:
    text = "12:00:00.000001 IP host.example.frobnicate > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n"
    t = parse_text(text)
    p = t.packets[0]
    assert p.src_host == "host.example" and p.src_port_name == "frobnicate"
    assert p.src == "host.example:frobnicate"
    assert "frobnicate" in t.warnings[0].message


def test_no_packets_is_a_clear_error() -> None:
    with pytest.raises(NoPackets) as exc:
        read_input(b"just some prose\nand more\n")
    assert "Flags [S]" in (exc.value.hint or "")


def test_empty_and_binary_inputs() -> None:
    with pytest.raises(EmptyInput):
        read_input(b"  \n\n")
    with pytest.raises(UnsupportedInput) as exc:
        read_input(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert exc.value.offset == 8


def test_gzip_text_and_capture() -> None:
    import gzip

    assert len(read_input(gzip.compress(load("seed001_pktap_long_flags.txt"))).packets) == 10
    assert len(read_input(gzip.compress(load("http-like.pcap"))).packets) == 10


def test_refused_capture() -> None:
    from app.decode import analyse

    a = analyse(read_input(load("refused.pcap")))
    (f,) = a.flows
    assert (f.ended_by, f.closer) == ("refused", "server")
    assert a.flows[0].packets[1].findings == ["tcp.reset"]

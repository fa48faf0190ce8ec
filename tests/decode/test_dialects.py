"""Every tcpdump dialect of the recorded captures reads back to the capture's own fields.

The captures and their text come from ``scripts/record-fixtures`` (real tcpdump on loopback,
one capture printed with each set of options).  The text parser must recover, packet by
packet, what the capture reader decodes from the bytes: flags, absolute seq/ack (undoing
relative numbering), length, window, options; and the time stamps in every time format.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from app.decode import analyse, read_input
from app.decode.text.parser import hex_dump_bytes, parse_text
from benchmarks.fieldcompare import differences
from tests.conftest import CAPTURES, load

CAPTURE_NAMES = ("http-like", "refused", "ipv6-any", "encap")
DIALECT_FILES = sorted(
    p.name for p in CAPTURES.glob("*.txt") if p.name.split(".")[0] in CAPTURE_NAMES
)


def test_every_dialect_was_recorded() -> None:
    tags = {name.split(".")[1] for name in DIALECT_FILES}
    assert {"nn", "n", "names", "S-nn-v", "vvv-nn", "tt-nn", "ttt-nn", "tttt-nn", "t-nn"} <= tags
    assert {"nano-nn", "num-nn", "e-nn", "x-nn", "XX-nn", "A-nn"} <= tags


@pytest.mark.parametrize("name", DIALECT_FILES)
def test_text_equals_capture(name: str) -> None:
    capture = read_input(load(name.split(".")[0] + ".pcap"))
    text = read_input(load(name))
    assert len(text.packets) == len(capture.packets), [p.raw for p in text.packets]
    for tp, cp in zip(text.packets, capture.packets, strict=True):
        assert differences(tp, cp) == [], f"{name} packet {tp.n}: {tp.raw}"
        assert (tp.src_port, tp.dst_port) == (cp.src_port, cp.dst_port)
        if ".names." not in name:
            assert tp.src_host == cp.src_host


@pytest.mark.parametrize("tag", ["nn", "tt-nn", "tttt-nn", "nano-nn", "num-nn", "e-nn"])
def test_time_stamps(tag: str) -> None:
    """Absolute formats give the capture's time of day (the text was printed in UTC)."""
    capture = read_input(load("http-like.pcap"))
    text = read_input(load(f"http-like.{tag}.txt"))
    for tp, cp in zip(text.packets, capture.packets, strict=True):
        assert tp.time is not None and cp.time is not None
        if tag in ("tt-nn", "tttt-nn"):
            assert abs(tp.time - cp.time) < 1e-6
        else:  # time of day only
            assert abs(tp.time - cp.time % 86400) < 1e-6


@pytest.mark.parametrize("tag", ["ttt-nn", "ttttt-nn"])
def test_delta_time_stamps_become_a_clock(tag: str) -> None:
    capture = read_input(load("http-like.pcap"))
    text = read_input(load(f"http-like.{tag}.txt"))
    t0 = capture.packets[0].time or 0.0
    for tp, cp in zip(text.packets, capture.packets, strict=True):
        assert abs((tp.time or 0.0) - ((cp.time or 0.0) - t0)) < 1e-5
    assert text.warnings == []


def test_numbers_and_link_headers() -> None:
    t = read_input(load("http-like.num-nn.txt"))
    assert [p.frame for p in t.packets] == list(range(1, 11))
    e = read_input(load("ipv6-any.e-nn.txt"))
    assert e.packets[0].ip_version == 6
    assert "ifindex" in str(e.packets[0].ip.get("link"))


def test_host_and_service_names_without_n() -> None:
    t = read_input(load("http-like.names.txt"))
    first = t.packets[0]
    assert first.src_host == "localhost"
    assert first.dst_port == 8080 and first.dst_port_name == "http-alt"
    assert not [w for w in t.warnings if "service" in w.message]


def test_non_tcp_is_listed() -> None:
    t = read_input(load("ipv6-any.nn.txt"))
    assert len(t.other_packets) == 1 and "UDP" in str(t.other_packets[0]["text"])


@pytest.mark.parametrize("tag", ["x-nn", "XX-nn"])
def test_hex_dump_is_decoded(tag: str) -> None:
    t = read_input(load(f"http-like.{tag}.txt"))
    assert all(p.ip.get("hex_bytes") for p in t.packets)
    cap = read_input(load("http-like.pcap"))
    assert [p.cksum for p in t.packets] == [p.cksum for p in cap.packets]


def test_hex_dump_beats_relative_numbers() -> None:
    """With a hex dump, the absolute numbers come from the bytes, even mid-connection."""
    lines = load("http-like.x-nn.txt").decode().splitlines()
    # Drop the handshake: relative numbering alone could not be undone for packet 4.
    start = next(i for i, line in enumerate(lines) if "seq 1:19" in line)
    t = parse_text("\n".join(lines[start:]))
    cap = read_input(load("http-like.pcap"))
    assert t.packets[0].seq == cap.packets[3].seq


def test_hex_dump_bytes_ignores_ascii_column() -> None:
    data = hex_dump_bytes(
        [
            "0x0000:  4500 003c 1b68 4000 4006 2152 7f00 0001  E..<.h@.@.!R....",
            "0x0010:  7f00 0001 da70 0050 3758 897e 0000 0000  .....p.P7X.~....",
        ]
    )
    assert data[:4] == bytes.fromhex("4500003c") and len(data) == 32


def test_ascii_dump_lines_stay_with_their_packet() -> None:
    t = read_input(load("http-like.A-nn.txt"))
    assert len(t.packets) == 10 and not t.preamble and not t.trailing
    assert any("GET / HTTP/1.0" in d for p in t.packets for d in p.details)


def test_glued_prompt_and_fences(tmp_path: Path) -> None:
    body = load("http-like.tttt-nn.txt").decode().splitlines()
    paste = "\n".join(
        [
            "Here is what I saw:",
            "```",
            "$ sudo tcpdump -i lo -nn port 8080",
            body[0] + " " + body[1],
            *body[2:],
            "```",
            "Why is the last packet an ACK?",
        ]
    )
    t = read_input(paste.encode())
    assert len(t.packets) == 10
    assert t.header and t.header[0].text.startswith("$ sudo tcpdump")
    assert t.numbering == "relative"
    a = analyse(t)
    assert a.flows[0].ended_by == "three_way_close"
    assert read_input(gzip.compress(paste.encode())).packets[3].seq == t.packets[3].seq


def test_date_is_utc() -> None:
    t = read_input(load("http-like.tttt-nn.txt"))
    stamp = dt.datetime.fromtimestamp(t.packets[0].time or 0, tz=dt.UTC)
    assert (t.packets[0].time_text or "").startswith(stamp.strftime("%Y-%m-%d %H:%M:%S"))


# Hand-written in the shapes tcpdump 4.99 prints (print-ether.c, print-pktap.c, print-tcp.c).
EXOTIC = """\
12:00:00.000001 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 802.1Q (0x8100), length 78: vlan 10, p 0, ethertype IPv4 (0x0800), 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 100, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
12:00:00.000002 (en0, proc curl:4321:7f2d, svc BE, out) IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [S.], seq 300, ack 101, win 65160, options [mss 1460,sackOK,TS val 2 ecr 1,nop,wscale 7], length 0
12:00:00.000003 ARP, Request who-has 10.0.0.9 tell 10.0.0.1, length 28
12:00:00.000004  In 02:00:00:00:00:01 ethertype IPv4 (0x0800), length 68: 10.0.0.1.5000 > 10.0.0.2.80: Flags [.], ack 1, win 502, options [nop,nop,TS val 3 ecr 2], length 0
12:00:00.000005 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [P.], seq 1:6, ack 1, win 502, options [nop,nop,md5 shared secret not supplied with -M, can't check - 0102,unknown-76 0x0102,tcp-ao keyid 1 rnextkeyid 2 mac 0x0102,mptcp 4 capable v1 flags [H],exp-tfo cookie 0102], length 5
12:00:00.000006 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [.], ack 6, win 509, length 0 [bad hdr length 4 - too short, < 20]
12:00:00.000007 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [UW], seq 1, win 509, urg 3, length 0 [|tcp]
12:00:00.000008 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [none], seq 6, win 0, length 0
"""


def test_link_prefixes_options_and_truncation() -> None:
    t = parse_text(EXOTIC)
    assert [p.letters for p in t.packets] == ["S", "S.", ".", "P.", ".", "UW", "none"]
    assert "vlan 10" in str(t.packets[0].ip["link"])
    assert "proc curl" in str(t.packets[1].ip["link"])
    assert t.packets[1].time_text == "12:00:00.000002"
    assert t.packets[2].ip["link"] == "In 02:00:00:00:00:01"
    assert t.packets[2].ack == 301  # relative ack 1 resolved from the SYN-ACK
    assert [o.split()[0] for o in t.packets[3].options.other] == [
        "md5",
        "unknown-76",
        "tcp-ao",
        "mptcp",
        "exp-tfo",
    ]
    assert t.packets[5].urg == 3
    assert len(t.other_packets) == 1 and "ARP" in str(t.other_packets[0]["text"])
    cut = [w for w in t.warnings if "could not read the whole TCP header" in w.message]
    assert [w.line for w in cut] == [6, 7] and all(w.text for w in cut)

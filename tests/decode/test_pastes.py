"""What people paste: tcpdump's formats before 4.0, and the damage copying does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.decode import analyse, read_input
from app.decode.model.errors import NoPackets
from app.decode.model.packet import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from app.decode.text.parser import parse_text
from tests.conftest import to_json

PASTES = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "pastes"


def _doc(name: str) -> dict[str, Any]:
    return to_json(analyse(read_input((PASTES / name).read_bytes())))


def _fields(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (p["src"], p["dst"], p["flags"], p["seq"], p["ack"], p["len"], p["win"], p["options"])
        for f in doc["flows"]
        for p in f["packets"]
    ]


# The same exchange as old-4.0-ip.txt, printed by a tcpdump of today (-S: absolute).
OLD_AS_NEW = [
    ("alpha:1025", "beta:80", "S", 100, None, 0, 5840),
    ("beta:80", "alpha:1025", "S.", 500, 101, 0, 5792),
    ("alpha:1025", "beta:80", ".", 101, 501, 0, 46),
    ("alpha:1025", "beta:80", "P.", 101, 501, 100, 46),
    ("beta:80", "alpha:1025", ".", 501, 201, 0, 50),
    ("alpha:1025", "beta:80", "FP.", 201, 501, 7, 46),
    ("beta:80", "alpha:1025", "F.", 501, 209, 0, 50),
    ("alpha:1025", "beta:80", ".", 209, 502, 0, 46),
]


@pytest.mark.parametrize(
    ("name", "fmt", "timed"),
    [
        ("old-4.0-ip.txt", "tcpdump 3.8-3.9", True),
        ("old-3x-noip.txt", "tcpdump 3.7 or earlier", True),
        ("old-3x-notime.txt", "tcpdump 3.7 or earlier", False),
    ],
)
def test_old_formats_read_like_todays(name: str, fmt: str, timed: bool) -> None:
    doc = _doc(name)
    assert doc["source"]["format"] == fmt
    assert [f[:7] for f in _fields(doc)] == OLD_AS_NEW
    first = doc["flows"][0]["packets"][0]["options"]
    assert (first["mss"], first["wscale"], first["sack_perm"], first["ts_val"]) == (
        1460,
        2,
        True,
        99,
    )
    assert doc["flows"][0]["packets"][3]["options"]["ts_ecr"] == 200
    flow = doc["flows"][0]
    assert flow["handshake"] == "complete" and flow["ended_by"] == "three_way_close"
    assert (doc["flows"][0]["packets"][0]["time"] is not None) is timed
    assert not doc["source"]["warnings"]


def test_old_verbose_ecn_urgent_and_ip_trailers() -> None:
    trace = parse_text((PASTES / "old-v-ecn-urg.txt").read_text())
    p = trace.packets
    assert p[0].flags == SYN | ECE | CWR and p[1].flags == SYN | ECE | ACK
    assert p[0].ip == {"df": True, "tos": "0x10", "ttl": 64, "id": 4242, "len": 60}
    assert p[3].flags == PSH | ACK | URG and p[3].urg == 3 and p[3].length == 3
    assert p[5].flags == RST and p[5].seq == 3000000004  # a bare RST: printed absolute
    assert trace.numbering == "relative"
    assert [c.text for c in trace.header][-1].startswith("tcpdump: listening")


def test_old_format_flag_letters() -> None:
    line = "10:00:00.000001 IP a.1 > b.2: {} 1:2(1) ack 5 win 9"
    got = {
        letters: parse_text(line.format(letters)).packets[0].flags
        for letters in ("S", "F", "R", "P", "FP", "SWE", ".")
    }
    assert got == {
        "S": SYN | ACK,
        "F": FIN | ACK,
        "R": RST | ACK,
        "P": PSH | ACK,
        "FP": FIN | PSH | ACK,
        "SWE": SYN | CWR | ECE | ACK,
        ".": ACK,
    }


CLEAN = "numbered-prompt.txt"  # every damaged file but the old-format one has its 5 packets


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("mail-quoted.txt", "removed mail quoting ('> ') on 7 lines"),
        ("wrapped.txt", "joined 7 wrapped lines"),
        ("lost-arrow.txt", "restored the '>' between the addresses on 2 lines"),
        ("crlf-nbsp-quotes.txt", "replaced non-breaking spaces or typographic quotes on 5 lines"),
        ("numbered-prompt.txt", "removed line numbers or prompts in front of 5 packet lines"),
    ],
)
def test_paste_damage_is_repaired_and_reported(name: str, warning: str) -> None:
    doc = _doc(name)
    reference = _fields(_doc("mail-quoted.txt"))
    assert _fields(doc) == reference and len(reference) == 5
    messages = [w["message"] for w in doc["source"]["warnings"]]
    assert len(messages) == 1 and messages[0].startswith(warning)
    assert not doc["source"]["preamble"] or name == "mail-quoted.txt"


def test_html_leftovers_are_decoded() -> None:
    doc = _doc("html-entities.txt")
    assert _fields(doc) == _fields(_doc("old-4.0-ip.txt"))
    assert [w["message"] for w in doc["source"]["warnings"]] == [
        "decoded HTML leftovers (&lt; &gt; &amp; …) on 8 lines"
    ]


def test_mail_quoting_keeps_the_prose() -> None:
    doc = _doc("mail-quoted.txt")
    first = doc["flows"][0]["packets"][0]
    assert first["comments"][0]["text"] == "Here is what I captured:"
    assert doc["source"]["trailing"][-1]["text"] == "Why is the window so small?"


def test_truncated_lines_are_tcp_packets_marked_truncated() -> None:
    doc = _doc("truncated.txt")
    packets = doc["flows"][0]["packets"]
    assert len(packets) == 3 and [p["truncated"] for p in packets] == [True, True, False]
    assert packets[0]["flags"] == "none" and packets[0]["seq"] is None
    assert packets[1]["options"]["mss"] == 1460 and packets[1]["options"]["sack_perm"]
    assert len(doc["source"]["warnings"]) == 2


RELATIVE_WITH_RESET_AND_REUSE = """\
10:00:00.000001 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000000, win 64240, length 0
10:00:00.000101 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 2000000, ack 1000001, win 65160, length 0
10:00:00.000201 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0
10:00:00.000301 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:11, ack 1, win 502, length 10
10:00:00.000401 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 11, win 509, length 0
10:00:00.000501 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [R], seq 1000011, win 0, length 0
10:00:01.000001 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 5000000, win 64240, length 0
10:00:01.000101 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 7000000, ack 5000001, win 65160, length 0
10:00:01.000201 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0
10:00:01.000301 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:21, ack 1, win 502, length 20
10:00:01.000401 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 21, win 509, length 0
"""


def test_relative_numbering_with_a_bare_reset_and_a_reused_port_pair() -> None:
    """In relative mode tcpdump prints segments without ACK (a SYN, a bare RST) absolute;
    after the reset the port pair is reused and the new handshake sets the new base."""
    doc = to_json(analyse(read_input(RELATIVE_WITH_RESET_AND_REUSE.encode())))
    assert doc["source"]["numbering"] == "relative"
    first, second = doc["flows"]
    assert [p["seq"] for p in first["packets"]] == [
        1000000,
        2000000,
        1000001,
        1000001,
        2000001,
        1000011,
    ]
    assert [p["rel_seq"] for p in second["packets"]] == [0, 0, 1, 1, 1]
    assert second["packets"][3]["seq"] == 5000001
    found = {**first["findings"], **second["findings"]}
    assert found == {"tcp.reset": 1, "tcp.port_reuse": 1}


NAMES = """\
10:00:00.000001 IP client.example.42001 > server.example.frobnitz: Flags [S], seq 100, win 64240, length 0
10:00:00.000101 IP server.example.frobnitz > client.example.42001: Flags [S.], seq 900, ack 101, win 65160, length 0
10:00:00.000301 IP client.example.42001 > server.example.blargle: Flags [S], seq 5000, win 64240, length 0
10:00:00.000401 IP server.example.blargle > client.example.42001: Flags [S.], seq 7000, ack 5001, win 65160, length 0
"""


def test_unknown_service_names_are_ports_of_their_own() -> None:
    doc = to_json(analyse(read_input(NAMES.encode())))
    assert [f["server"] for f in doc["flows"]] == [
        "server.example:frobnitz",
        "server.example:blargle",
    ]
    assert all("tcp.port_reuse" not in f["findings"] for f in doc["flows"])
    assert len(doc["source"]["warnings"]) == 2  # once per name


def test_link_layer_lines_of_other_protocols_are_listed() -> None:
    text = (
        "10:00:00.000001 00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), "
        "length 42: Request who-has 10.0.0.1 tell 10.0.0.2, length 28\n"
        "10:00:00.000003 00:11:22:33:44:55 > 00:11:22:33:44:66, ethertype IPv4 (0x0800), "
        "length 74: 10.0.0.2.40000 > 10.0.0.1.80: Flags [S], seq 1, win 64240, length 0\n"
    )
    doc = to_json(analyse(read_input(text.encode())))
    assert [o["line"] for o in doc["source"]["other_packets"]] == [1]
    assert not doc["flows"][0]["packets"][0]["comments"]


def test_no_silent_loss_a_paste_of_unreadable_packets_names_the_first() -> None:
    text = (
        "my capture:\n"
        "10:00:00.1 IP 10.0.0.1:5000 -> 10.0.0.2:80 SYN seq=1\n"
        "10:00:00.2 IP 10.0.0.2:80 -> 10.0.0.1:5000 SYN-ACK\n"
    )
    with pytest.raises(NoPackets) as exc:
        read_input(text.encode())
    assert exc.value.line == 2 and "10.0.0.1:5000 -> 10.0.0.2:80" in exc.value.message


def test_every_packet_of_every_paste_is_read() -> None:
    """Each fixture holds a known number of packet lines; all of them are read."""
    expected = {
        "old-4.0-ip.txt": 8,
        "old-3x-noip.txt": 8,
        "old-3x-notime.txt": 8,
        "old-v-ecn-urg.txt": 6,
        "mail-quoted.txt": 5,
        "wrapped.txt": 5,
        "html-entities.txt": 8,
        "lost-arrow.txt": 5,
        "crlf-nbsp-quotes.txt": 5,
        "numbered-prompt.txt": 5,
        "truncated.txt": 3,
        "public-manpage-rlogin.txt": 9,
        "public-kb-pop3.txt": 3,
        "old-3.9-v-cksum.txt": 3,
        "old-quoted-wrapped.txt": 2,
    }
    assert sorted(expected) == sorted(p.name for p in PASTES.glob("*.txt"))
    for name, count in expected.items():
        assert read_input((PASTES / name).read_bytes()).packet_count == count, name


def test_old_format_with_link_headers() -> None:
    text = (
        "10:00:00.000001 8:0:20:1:2:3 0:0:c:4:5:6 ip 74: alpha.1025 > beta.http: "
        "S 100:100(0) win 5840 <mss 1460> (DF)\n"
        "10:00:00.000101 0:0:c:4:5:6 8:0:20:1:2:3 0800 74: beta.http > alpha.1025: "
        "S 500:500(0) ack 101 win 5792 <mss 1460> (DF)\n"
    )
    trace = parse_text(text)
    assert [p.flags for p in trace.packets] == [SYN, SYN | ACK]
    assert trace.packets[0].ip["link"] == "8:0:20:1:2:3 0:0:c:4:5:6 ip 74"
    assert not trace.warnings and not trace.preamble


def test_old_verbose_ip_header_and_checksum() -> None:
    trace = parse_text((PASTES / "old-3.9-v-cksum.txt").read_text())
    p = trace.packets
    assert [x.flags for x in p] == [SYN, SYN | ACK, ACK]
    assert p[0].cksum == 0x1C46 and p[0].cksum_expected is None
    assert p[0].options.wscale == 7 and p[2].options.ts_ecr == 2000
    assert p[0].ip["ttl"] == 64 and trace.text_format == "tcpdump 3.8-3.9"


def test_old_format_quoted_and_wrapped() -> None:
    trace = parse_text((PASTES / "old-quoted-wrapped.txt").read_text())
    assert [x.options.mss for x in trace.packets] == [1460, 1460]
    assert [w.message.split(" on ")[0].split(" 2 ")[0] for w in trace.warnings] == [
        "removed mail quoting ('> ')",
        "joined",
    ]


# tcpdump -t: no time stamps.  The ACK and its duplicate print the same.
UNTIMED = """\
IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, length 0
IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 65160, length 0
IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0
IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [P.], seq 1:101, ack 1, win 510, length 100
IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 101, win 502, length 0
IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 101, win 502, length 0

The line below is the duplicate ACK again, quoted:
IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 101, win 502, length 0
"""


def test_untimed_paste_keeps_repeated_lines_as_packets_and_quotes_as_prose() -> None:
    trace = parse_text(UNTIMED)
    assert trace.packet_count == 6
    last = trace.packets[-1]
    assert [c.line for c in last.comments] == [8, 9]  # the prose and the quote, attached


def test_a_long_untimed_paste_is_read_in_linear_time() -> None:
    """Every untimed line used to be compared with every earlier packet (a 20,000-line
    tcpdump -t paste took three minutes): now a run of packet lines is not searched, and a
    quote only among the last QUOTE_LOOKBACK packets with its ends and flags."""
    from app.decode.text import parser

    calls = 0
    real = parser._same_packet

    def counting(*args: Any) -> bool:
        nonlocal calls
        calls += 1
        return real(*args)

    line = "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 101, win 502, length 0\n"
    text = "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, length 0\n"
    # after prose, and like no packet before: each compared, then a packet of its own
    others = "".join("quoted:\n" + line.replace("win 502", f"win {600 + k}") for k in range(300))
    text += line * 3000 + others
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parser, "_same_packet", counting)
        trace = parse_text(text)
    assert trace.packet_count == 3301
    assert calls <= 300 * parser.QUOTE_LOOKBACK < 3000 * 300

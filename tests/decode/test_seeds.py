"""Each seed's tcpdump lines parse and draw correctly (fixtures: tests/fixtures/text)."""

from __future__ import annotations

import pytest

from app.decode.explain.fields import explain_packet
from tests.conftest import explain

SEEDS = {
    # fixture: (packets, client, server, ended_by, closer, phases)
    "seed000_ipv6_vvv.txt": (
        12,
        "[::1]:51596",
        "[::1]:8000",
        "four_way_close",
        "client",
        [("handshake", 1, 3), ("data", 4, 8), ("teardown", 9, 12)],
    ),
    "seed001_pktap_long_flags.txt": (
        10,
        "127.0.0.1:57729",
        "127.0.0.1:3000",
        "three_way_close",
        "client",
        [("handshake", 1, 3), ("data", 4, 7), ("teardown", 8, 10)],
    ),
    "seed002_markdown.txt": (
        10,
        "127.0.0.1:57729",
        "127.0.0.1:3000",
        "three_way_close",
        "client",
        [("handshake", 1, 3), ("data", 4, 7), ("teardown", 8, 10)],
    ),
    "seed003_quoted_relative.txt": (
        7,
        "localhost:39870",
        "localhost:9502",
        "open",
        None,
        [("handshake", 1, 3), ("data", 4, 7)],
    ),
    "seed004_glued_memcache.txt": (
        19,
        "10.8.34.13:46103",
        "10.8.34.27:11211",
        "three_way_close",
        "server",
        [("handshake", 1, 3), ("data", 4, 16), ("teardown", 17, 19)],
    ),
}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_flows_and_phases(name: str) -> None:
    count, client, server, ended_by, closer, phases = SEEDS[name]
    a = explain(name)
    assert len(a.trace.packets) == count
    assert len(a.flows) == 1
    f = a.flows[0]
    assert (f.client.endpoint, f.server.endpoint) == (client, server)
    assert f.roles_from == "syn"
    assert f.handshake == "complete"
    assert (f.ended_by, f.closer) == (ended_by, closer)
    got: list[tuple[str, int, int]] = []
    for p, info in zip(f.packets, f.info, strict=True):
        if got and got[-1][0] == info.phase:
            got[-1] = (info.phase, got[-1][1], p.n)
        else:
            got.append((info.phase, p.n, p.n))
    assert got == phases


def _field(name: str, n: int, key: str, lang: str = "en") -> str:
    a = explain(name)
    f = a.flows[0]
    i = n - 1
    fields = {x.key: x for x in explain_packet(f.packets[i], f, f.info[i])}
    text: str = getattr(fields[key], lang)
    return text


def test_wscale_tooltip_says_shift_64_and_never_scaled_in_syn() -> None:
    text = _field("seed001_pktap_long_flags.txt", 1, "wscale")
    assert "shift 6" in text and "2^6 = 64" in text and "×64" in text
    assert "never scaled" in text
    assert "×4" not in text and "256" not in text  # the tutorial's 64k*4 is wrong
    zh = _field("seed001_pktap_long_flags.txt", 1, "wscale", "zh")
    assert "×64" in zh and "永远不缩放" in zh


def test_win_tooltip_computes_scaled_window() -> None:
    assert "6,379 × 64 = 408,256 bytes" in _field("seed001_pktap_long_flags.txt", 3, "win")
    syn = _field("seed001_pktap_long_flags.txt", 1, "win")
    assert "65,535 bytes" in syn and "never scaled" in syn
    # seed 003 uses wscale 3: 4099 × 8
    assert "4,099 × 8 = 32,792 bytes" in _field("seed003_quoted_relative.txt", 3, "win")


def test_mss_tooltip_derives_mtu() -> None:
    v4 = _field("seed001_pktap_long_flags.txt", 1, "mss")
    assert "16,344" in v4 and "MTU 16,384" in v4 and "macOS loopback" in v4
    v6 = _field("seed000_ipv6_vvv.txt", 1, "mss")
    assert "MTU 16,384" in v6 and "IPv6" in v6


def test_ts_tooltips_name_echoed_packet_and_rtt() -> None:
    ecr = _field("seed000_ipv6_vvv.txt", 2, "ts_ecr")
    assert "packet #1" in ecr and "82 µs" in ecr
    ecr3 = _field("seed000_ipv6_vvv.txt", 3, "ts_ecr")
    assert "packet #2" in ecr3 and "17 µs" in ecr3
    syn_ecr = _field("seed000_ipv6_vvv.txt", 1, "ts_ecr")
    assert "without ACK" in syn_ecr
    val = _field("seed000_ipv6_vvv.txt", 1, "ts_val")
    assert "not wall time" in val


def test_sackok_tooltip() -> None:
    text = _field("seed001_pktap_long_flags.txt", 2, "sack_perm")
    assert "Both SYNs carried it, so SACK is in use" in text


def test_seq_ack_and_length_tooltips() -> None:
    seq = _field("seed003_quoted_relative.txt", 4, "seq")
    assert "relative 1" in seq and "bytes 1…7" in seq
    ack = _field("seed003_quoted_relative.txt", 3, "ack")
    assert "acknowledges the server's SYN" in ack
    assert "7 bytes of payload" in _field("seed003_quoted_relative.txt", 4, "len")
    flags = _field("seed003_quoted_relative.txt", 3, "flags")
    assert "third step of the three-way handshake" in flags and "not 'ACT'" in flags


def test_bare_ack_seq_is_inferred_and_said() -> None:
    a = explain("seed001_pktap_long_flags.txt")
    p3 = a.flows[0].packets[2]
    assert p3.seq == 860356045 and p3.seq_inferred
    assert "inferred" in _field("seed001_pktap_long_flags.txt", 3, "seq")


def test_commentary_becomes_labels_at_the_right_packets() -> None:
    a = explain("seed001_pktap_long_flags.txt")
    pk = a.flows[0].packets
    assert [c.text for c in pk[0].comments] == ["握手开始"]
    assert [c.text for c in pk[3].comments] == ["客户端发出请求"]
    assert [c.text for c in pk[7].comments] == ["关闭"]
    assert next(c.text for c in a.trace.trailing).startswith("小结")
    assert a.trace.header[0].text.startswith("% sudo tcpdump")


def test_quoted_packets_are_the_same_packets_with_prose_attached() -> None:
    a = explain("seed003_quoted_relative.txt")
    assert len(a.trace.packets) == 7
    pk = a.trace.packets
    assert pk[0].annotation == "（1）" and pk[2].annotation == "（3）"
    after0 = [c.text for c in pk[0].comments if c.position == "after"]
    assert any("发出 SYN" in t for t in after0)
    after3 = [c.text for c in pk[3].comments if c.position == "after"]
    assert any("7 个字节" in t for t in after3)


def test_corrupted_time_stamp_is_warned_with_line() -> None:
    a = explain("seed003_quoted_relative.txt")
    (w,) = a.trace.warnings
    assert w.line == 18 and "114:12:45.104687" in w.message


def test_time_going_backwards_is_warned_and_order_kept() -> None:
    a = explain("seed001_pktap_long_flags.txt")
    assert [w.line for w in a.trace.warnings] == [26]
    assert [p.letters for p in a.trace.packets[-3:]] == ["F.", "F.", "."]


def test_glued_lines_and_service_names() -> None:
    a = explain("seed004_glued_memcache.txt")
    p = a.trace.packets
    assert p[0].dst_port == 11211 and p[0].dst_port_name == "memcache"
    assert [x.line for x in p[:3]] == [6, 6, 6]
    # relative seq resolved against the handshake
    assert p[3].seq == 3049437196 + 15 and p[3].rel_seq == 15 and p[3].length == 12


def test_markdown_fences_and_noise_are_not_packets() -> None:
    a = explain("seed002_markdown.txt")
    assert len(a.trace.packets) == 10
    assert any("要点" in c.text for c in a.trace.trailing)

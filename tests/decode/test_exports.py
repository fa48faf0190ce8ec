"""Exports of a connection: pictures and texts of its ladder, its packets as a capture.

The capture files are proven with tshark: it reads a capture's exported connection back as
the very frames of that connection in the original (``tcp.stream``), and a paste's
synthesised packets back with the fields the parse gave, packet for packet.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.decode import analyse
from app.decode.analysis.flows import row_objects
from app.decode.analysis.result import Analysis
from app.decode.export.diagram import diagram, to_mermaid, to_plantuml, to_png, to_svg, wrap
from app.decode.export.pcap import Addresses, connection_pcap, options_bytes
from app.decode.model.options import options_from_bytes
from app.decode.readers.ingest import read_input
from tests.conftest import CAPTURES, TEXT, load

HAS_TSHARK = shutil.which("tshark") is not None
PEER = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "peer" / "captures"
PASTE = b"""\
10:00:00.000000 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
10:00:00.001000 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [S.], seq 2000, ack 1001, win 65160, options [mss 1460,sackOK,TS val 5 ecr 1,nop,wscale 7], length 0
10:00:00.002000 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [.], ack 1, win 502, options [nop,nop,TS val 2 ecr 5], length 0
# the client sends its request; "quotes" <b>and</b> a ; or # stay text
10:00:00.003000 IP 10.0.0.1.5000 > 10.0.0.2.80: Flags [P.], seq 1:101, ack 1, win 502, options [nop,nop,TS val 3 ecr 5], length 100: HTTP: GET / HTTP/1.1
10:00:01.504000 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [.], ack 101, win 509, options [nop,nop,sack 1 {1:50}], length 0
10:00:01.505000 IP 10.0.0.2.80 > 10.0.0.1.5000: Flags [R.], seq 1, ack 101, win 0, length 0
"""


def _analysis(data: bytes) -> Analysis:
    return analyse(read_input(data))


def _part(a: Analysis, flow_id: int = 1):  # type: ignore[no-untyped-def]
    t = a.table
    return t.positions(int(t.bounds[flow_id - 1]), int(t.bounds[flow_id]))


# ------------------------------------------------------------------------ diagrams


def test_steps_follow_the_page() -> None:
    flow = _analysis(PASTE).flow(1)
    assert flow is not None
    d = diagram(flow, "en")
    kinds = [s.kind for s in d.steps]
    assert kinds == [
        "phase", "arrow", "arrow", "arrow", "phase", "note", "arrow", "idle", "arrow",
        "phase", "arrow",
    ]  # fmt: skip
    arrows = [s for s in d.steps if s.kind == "arrow"]
    assert [s.direction for s in arrows] == ["c2s", "s2c", "c2s", "c2s", "s2c", "s2c"]
    assert arrows[0].text == "[S] seq 0 win 65535 mss 1460 wscale 7 sackOK length 0"
    assert arrows[3].text.startswith("[P.] seq 1:101 ack 1 win 502")
    assert "seq 1001:1101" in diagram(flow, "en", absolute=True).steps[6].text
    assert d.steps[7].text == "1.5 s idle"
    zh = diagram(flow, "zh")
    assert zh.steps[0].text == "三次握手" and zh.client.startswith("客户端")


def test_svg_is_a_self_contained_document() -> None:
    flow = _analysis(PASTE).flow(1)
    assert flow is not None
    svg = to_svg(diagram(flow, "en"))
    root = ET.fromstring(svg.encode())
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert not [e for e in root.iter() if e.tag in (f"{ns}script", f"{ns}image", f"{ns}use")]
    assert "href" not in svg and "url(" not in svg  # nothing fetched from anywhere
    assert root.find(f"{ns}style") is not None
    groups = [g for g in root.iter(f"{ns}g") if "pkt" in (g.get("class") or "")]
    assert [g.get("id") for g in groups] == [f"p{n}" for n in range(1, 7)]
    assert [g.get("class") for g in groups][:2] == ["pkt c2s", "pkt s2c"]
    text = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert '"quotes" <b>and</b> a ; or # stay text' in text  # the note, escaped as text
    # the client's arrows point right, the server's left (the head's tip is at the end)
    shafts = [g.find(f"{ns}line") for g in groups]
    assert all(s is not None for s in shafts)
    assert [float(s.get("x1", 0)) < float(s.get("x2", 0)) for s in shafts if s is not None] == [
        True, False, True, True, False, False,
    ]  # fmt: skip


def test_png_is_the_svg_drawn() -> None:
    flow = _analysis(PASTE).flow(1)
    assert flow is not None
    svg = to_svg(diagram(flow, "en"))
    png = to_png(svg, zoom=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 960 and abs(height - float(svg.split('height="')[1].split('"')[0])) <= 1


def test_mermaid_and_plantuml_carry_every_arrow() -> None:
    flow = _analysis(PASTE).flow(1)
    assert flow is not None
    d = diagram(flow, "en")
    mmd = to_mermaid(d).splitlines()
    assert mmd[0] == "sequenceDiagram"
    arrows = [line.strip() for line in mmd if "->>" in line]
    assert len(arrows) == 6
    assert arrows[0] == (
        "C->>S: #35;1 +0.000000 · [S] seq 0 win 65535 mss 1460 wscale 7 sackOK length 0"
    )
    assert arrows[4].startswith(
        "S->>C: #35;5 +1.504000 · [.] seq 1 ack 101 win 509 sack {1:50} length 0"
    )
    note = next(line for line in mmd if "quotes" in line)
    assert "#59;" in note and "#lt;b#gt;" in note and "<" not in note  # no markup, no breaks
    assert "Note over C,S: … 1.5 s idle …" in "\n".join(mmd)
    puml = to_plantuml(d).splitlines()
    assert puml[0] == "@startuml" and puml[-1] == "@enduml"
    assert [line for line in puml if line.startswith(("C -> S", "S -> C"))] == [
        a.replace("->>", " -> ").replace(": ", " : ", 1).replace("#35;", "#") for a in arrows
    ]
    assert "== Three-way handshake ==" in puml and "... 1.5 s idle ..." in puml


def test_wrap_counts_wide_characters_twice() -> None:
    assert wrap("a b c", 3) == ["a b", "c"]
    assert wrap("三次握手三次握手", 8) == ["三次握手", "三次握手"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert wrap("", 10) == [""]


# ------------------------------------------------------------------------ capture files


def test_names_get_addresses_of_their_own() -> None:
    address = Addresses()
    assert address("10.1.2.3", 4) == "10.1.2.3" and address("fe80::1", 6) == "fe80::1"
    assert address("localhost", 4) == "127.0.0.1" and address("localhost", 6) == "::1"
    assert address("www.example.com", 4) == "198.18.0.3"
    assert address("mail.example.com", 4) == "198.18.0.4"
    assert address("www.example.com", 4) == "198.18.0.3"  # the same name, the same address
    assert address("www.example.com", 6) == "2001:db8::5"


def test_option_bytes_round_trip() -> None:
    part = _part(_analysis(PASTE))
    for i in range(len(part)):
        o = part.options(i)
        raw = options_bytes(o)
        assert len(raw) % 4 == 0
        back, bad = options_from_bytes(raw)
        assert not bad
        assert (back.mss, back.wscale, back.sack_perm, back.ts_val, back.ts_ecr, back.sack) == (
            o.mss, o.wscale, o.sack_perm, o.ts_val, o.ts_ecr, o.sack,
        )  # fmt: skip


def _tshark(path: Path, fields: list[str], *extra: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", *extra]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


TEXT_FIELDS = [
    "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw",
    "tcp.ack_raw", "tcp.window_size_value", "tcp.len", "tcp.options.mss_val",
    "tcp.options.wscale.shift", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
    "tcp.checksum.status", "frame.time_epoch",
]  # fmt: skip


def _parsed_rows(a: Analysis) -> list[list[str]]:
    rows = []
    for f in range(1, a.flow_count + 1):
        part = _part(a, f)
        address = Addresses()  # a file per connection: its names get addresses afresh
        for i in range(len(part)):
            p = row_objects(part, i)[0]  # as the ladder shows it (a bare ACK's seq inferred)
            o = p.options
            src = address(p.src_host, p.ip_version)
            address(p.dst_host, p.ip_version)
            rows.append(
                [
                    src if p.ip_version == 4 else "",
                    src if p.ip_version == 6 else "",
                    str(p.src_port),
                    str(p.dst_port),
                    f"0x{p.flags & 0xFFF:04x}",
                    str(p.seq or 0),
                    str(p.ack) if p.flags & 0x10 and p.ack is not None else "",
                    str(p.win or 0),
                    str(p.length or 0),
                    "" if o.mss is None else str(o.mss),
                    "" if o.wscale is None else str(o.wscale),
                    "" if o.ts_val is None else str(o.ts_val),
                    "" if o.ts_ecr is None else str(o.ts_ecr),
                    "1",  # good (tshark: 1), as the checksums are computed
                    f"{p.time or 0:.6f}",
                ]
            )
    return rows


def _compare_text(data: bytes, tmp_path: Path) -> int:
    a = _analysis(data)
    out = tmp_path / "paste.pcap"
    got = []
    for f in range(1, a.flow_count + 1):  # one file per connection, read back in turn
        out.write_bytes(connection_pcap(_part(a, f), b""))
        got += _tshark(out, TEXT_FIELDS, "-o", "tcp.check_checksum:TRUE")
    want = _parsed_rows(a)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g[14] = f"{float(g[14]):.6f}"
        ack = g[6] if w[6] else ""  # tshark shows ack_raw whatever the ACK flag says
        assert [*g[:6], ack, *g[7:]] == w
    return len(want)


def test_a_pasted_bare_ack_is_exported_with_the_seq_the_analysis_inferred() -> None:
    """tcpdump prints no seq on a bare ACK; the exported packet carries the one the ladder
    shows (the client's next sequence number), not 0."""
    a = _analysis(PASTE)
    back = read_input(connection_pcap(_part(a, 1), b"")).table
    assert back.col("seq").tolist()[:3] == [1000, 2000, 1001]
    assert back.col("seq").tolist()[4] == 2001


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_paste_exports_read_back_by_tshark(tmp_path: Path) -> None:
    assert _compare_text(PASTE, tmp_path) == 6


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
@pytest.mark.parametrize(
    "name", [*sorted(p.name for p in TEXT.glob("seed*.txt")), "pastes/old-v-ecn-urg.txt"]
)
def test_fixture_pastes_read_back_by_tshark(name: str, tmp_path: Path) -> None:
    assert _compare_text(load(name), tmp_path) > 0


def _frames_of_stream(path: Path, stream: int) -> list[str]:
    fields = ["frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id"]
    fields += ["frame.comment", "tcp.seq_raw", "tcp.ack_raw", "tcp.payload"]
    rows = _tshark(path, fields, "-Y", f"tcp.stream == {stream}")
    return ["|".join(r) for r in rows]


def _capture_cases() -> list[Path]:
    cases = [CAPTURES / "http-like.pcap", CAPTURES / "impaired" / "loss.pcap"]
    for name in (
        "pcapplusplus__PcapExamples__many_interfaces-1.pcapng",
        "ndpi__pcap__bittorrent_tcp_miss.pcapng",
        "pcapplusplus__file_heuristics__pcapng-example.pcapng.zst",
        "zeek__contentline__telnet-long-line-no-eol.pcapng.gz",
    ):
        if (PEER / name).exists():
            cases.append(PEER / name)
    return cases


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
@pytest.mark.parametrize("path", _capture_cases(), ids=lambda p: p.name)
def test_capture_exports_are_the_original_frames(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    a = _analysis(data)
    plain = tmp_path / "plain"
    plain.write_bytes(_decompressed(data))
    streams = _tshark(plain, ["tcp.stream"], "-Y", "tcp")
    for f in range(1, min(a.flow_count, 3) + 1):
        out = tmp_path / f"flow{f}"
        out.write_bytes(connection_pcap(_part(a, f), data))
        got = _frames_of_stream(out, 0)
        first_frame = int(_part(a, f).cols["frame"][0])
        stream = int(_tshark(plain, ["tcp.stream"], "-Y", f"frame.number == {first_frame}")[0][0])
        assert got == _frames_of_stream(plain, stream), (path.name, f)
    assert streams


def _decompressed(data: bytes) -> bytes:
    import io

    from app.decode.readers.container import open_stream

    stream, _ = open_stream(io.BytesIO(data), max_input=1 << 30)
    return stream.read()

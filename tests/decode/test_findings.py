"""Findings, RTTs, Zeek state/history and the narrative, against Wireshark on real captures.

The captures in tests/fixtures/captures/impaired were recorded between network namespaces
through scripts/relay.py (loss, reordering, duplication) or on a clean path (zero window,
keep-alive, RST, half-close, port reuse), and crafted.pcap was written with Scapy; each
``.tshark.tsv`` is tshark 4.0's per-packet analysis of it (scripts/impaired.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.decode import analyse, read_input
from app.decode.readers.ingest import read_path
from benchmarks.compare_tshark import GATED
from benchmarks.tshark_agreement import agreement, irtt_equal
from tests.conftest import FIXTURES, to_json

IMPAIRED = Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "impaired"
CAPTURES = sorted(IMPAIRED.glob("*.pcap"))


def _doc(name: str) -> dict:  # type: ignore[type-arg]
    return to_json(analyse(read_path(str(IMPAIRED / name))))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_findings_agree_with_tshark(path: Path) -> None:
    a = agreement(analyse(read_path(str(path))), path.with_suffix(".tshark.tsv").read_text())
    for code, s in a.scores.items():
        if code == "tcp.ack_unseen":
            continue  # a documented difference (docs/analysis.md)
        assert s.f1 >= (0.95 if code in GATED else 0.9), (code, s)
    assert a.dup_num_equal == a.dup_num_total
    assert a.ack_rtt_equal == a.ack_rtt_total
    assert irtt_equal(a.irtt)


def test_the_recordings_exercise_every_gated_finding() -> None:
    total: dict[str, int] = {}
    for path in CAPTURES:
        a = agreement(analyse(read_path(str(path))), path.with_suffix(".tshark.tsv").read_text())
        for code, s in a.scores.items():
            total[code] = total.get(code, 0) + s.both
    for code in (*GATED, "tcp.lost_segment", "tcp.window_full"):
        assert total.get(code, 0) > 0, code
    for code in ("tcp.zero_window_probe", "tcp.keep_alive_ack", "tcp.port_reuse"):
        assert total.get(code, 0) > 0, code


def test_flow_contract_fields() -> None:
    flow = _doc("loss.pcap")["flows"][0]
    assert flow["state"] == "SF"
    assert flow["history"].startswith("ShAD")
    assert flow["irtt_ms"] > 5  # 3 ms each way through the relay
    rtt = flow["rtt_ms"]
    assert set(rtt) == {"min", "median", "max", "samples"}
    assert rtt["samples"] > 50 and rtt["min"] <= rtt["median"] <= rtt["max"]
    assert flow["findings"]["tcp.duplicate_ack"] > 0
    assert set(flow["narrative"]) == {"en", "zh"}
    assert "fast retransmission" in flow["narrative"]["en"]
    assert "快速重传" in flow["narrative"]["zh"]
    topics = [n["topic"] for n in flow["negotiation"]]
    assert topics[:4] == ["mss", "wscale", "sack", "timestamps"]
    pkts = flow["packets"]
    assert any(p["dup_ack"] for p in pkts)
    assert any(p["ack_rtt_ms"] for p in pkts)
    assert any(p["bytes_in_flight"] for p in pkts)


def test_endings_and_zeek_states() -> None:
    reset = _doc("reset.pcap")["flows"]
    assert (reset[0]["ended_by"], reset[0]["state"], reset[0]["closer"]) == (
        "reset",
        "RSTR",
        "server",
    )
    assert (reset[1]["ended_by"], reset[1]["state"]) == ("refused", "REJ")
    assert reset[1]["history"] == "Sr"
    half = _doc("half-close.pcap")["flows"][0]
    assert half["state"] == "SF" and "F" in half["history"] and "f" in half["history"]
    # the client closed first and the server went on sending data after that FIN
    pk = half["packets"]
    first_fin = next(p["n"] for p in pk if "F" in p["flags"])
    assert any(p["len"] > 0 and p["direction"] == "s2c" and p["n"] > first_fin for p in pk)
    ka = _doc("keepalive.pcap")["flows"][0]
    assert ka["findings"]["tcp.keep_alive"] == ka["findings"]["tcp.keep_alive_ack"]
    assert "keep-alive" in ka["narrative"]["en"]


def test_crafted_probe_unseen_ack_and_bad_option() -> None:
    flow = _doc("crafted.pcap")["flows"][0]
    by_n = {p["n"]: p["findings"] for p in flow["packets"]}
    assert "tcp.zero_window" in by_n[5]
    assert by_n[6] == ["tcp.zero_window_probe"]
    assert "tcp.window_update" in by_n[8]
    assert "tcp.ack_unseen" in by_n[10]
    assert "tcp.lost_segment" in by_n[11] and "tcp.bad_option" in by_n[11]


def test_port_reuse_starts_a_new_connection() -> None:
    flows = _doc("port-reuse.pcap")["flows"]
    assert len(flows) == 2
    assert flows[1]["packets"][0]["findings"][:1] == ["tcp.port_reuse"]


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="needs tcpdump to print the text")
@pytest.mark.parametrize(
    "name", ["loss-rx.pcap", "reorder.pcap", "keepalive.pcap", "duplicate.pcap"]
)
def test_pasted_text_gives_the_same_findings(name: str) -> None:
    """Text and capture of the same packets: the same findings on the same packets (-v:
    the IP ID tells a network copy and the order of sending, as in the capture)."""
    text = subprocess.run(
        ["tcpdump", "-nn", "-tt", "-v", "-r", str(IMPAIRED / name)],
        capture_output=True,
        check=True,
    ).stdout
    from_text = to_json(analyse(read_input(text)))
    from_pcap = _doc(name)
    a = [[p["findings"] for p in f["packets"]] for f in from_pcap["flows"]]
    b = [[p["findings"] for p in f["packets"]] for f in from_text["flows"]]
    assert a == b
    assert [f["state"] for f in from_pcap["flows"]] == [f["state"] for f in from_text["flows"]]
    assert [f["history"] for f in from_pcap["flows"]] == [f["history"] for f in from_text["flows"]]


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="needs tcpdump to print the text")
def test_linux_zero_window_probes_in_capture_and_text() -> None:
    """The sender's probes of the closed window (0 bytes at nextseq - 1; tshark calls them
    keep-alives) are zero-window probes, read from the capture and from its tcpdump text."""
    path = IMPAIRED / "zero-window.pcap"
    cap = analyse(read_path(str(path)))
    text = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True)
    pasted = analyse(read_input(text.stdout.encode()))
    for a in (cap, pasted):
        found = [(p.n, p.findings) for p in a.flows[0].packets if p.n in (13, 15)]
        assert found == [(13, ["tcp.zero_window_probe"]), (15, ["tcp.zero_window_probe"])]
        assert not any("tcp.keep_alive" in p.findings for p in a.flows[0].packets)


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="needs tcpdump to print the text")
def test_ecn_marks_echoes_and_answers() -> None:
    """ecn.pcap: both ends ask for ECN, the relay marks 3% of the data CE (scripts/relay.py
    --ce): 14 CE marks (tshark: ip.dsfield.ecn == 3 on 14 frames), echoed with ECE,
    answered with CWR; pasted -v text carries the TOS byte and gives the same."""
    from app.decode.explain.fields import explain_packet

    path = IMPAIRED / "ecn.pcap"
    cap = analyse(read_path(str(path)))
    flow = cap.flows[0]
    marked = [p.n for p in flow.packets if "ip.ecn_ce" in p.findings]
    assert len(marked) == 14
    ece = next((p, i) for p, i in zip(flow.packets, flow.info, strict=True) if p.letters == ".E")
    flags = {f.key: f for f in explain_packet(ece[0], flow, ece[1])}["flags"]
    assert "ECE here" in flags.en and "RFC 3168" in flags.rfc
    doc = to_json(cap, summary=True)["flows"][0]
    assert doc["ecn"] == "negotiated" and "CWR 3 times" in doc["narrative"]["en"]
    text = subprocess.run(
        ["tcpdump", "-nn", "-tt", "-v", "-r", str(path)], capture_output=True, check=True
    ).stdout
    pasted = analyse(read_input(text)).flows[0]
    assert [p.n for p in pasted.packets if "ip.ecn_ce" in p.findings] == marked


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="needs tcpdump to print the text")
def test_checksums_are_verified_not_assumed(tmp_path: Path) -> None:
    """Every TCP checksum corrupted, on both sides of a connection between two hosts: each
    is bad, with the right value, and corruption, not offload.  A loopback capture (both
    ends the capturing host, checksums left to offload) is offload.  Frames cut by the
    snaplen cannot be verified; pasted text is verified only where tcpdump printed it."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    c, s = IP(src="192.0.2.1", dst="192.0.2.2"), IP(src="192.0.2.2", dst="192.0.2.1")
    pkts = [
        Ether() / c / TCP(sport=40000, dport=80, flags="S", seq=1, chksum=0x1234),
        Ether() / s / TCP(sport=80, dport=40000, flags="SA", seq=9, ack=2, chksum=0x1234),
        Ether() / c / TCP(sport=40000, dport=80, flags="A", seq=2, ack=10, chksum=0x1234),
    ]
    path = tmp_path / "corrupt.pcap"
    wrpcap(str(path), pkts)
    packets = to_json(analyse(read_path(str(path))))["flows"][0]["packets"]
    for p, orig in zip(packets, pkts, strict=True):
        fixed = orig.copy()
        del fixed[TCP].chksum
        right = type(fixed)(bytes(fixed))[TCP].chksum
        assert p["checksum"] == {"value": 0x1234, "status": "bad", "expected": right}
        assert p["findings"] == ["tcp.bad_checksum"]
    loop = to_json(analyse(read_path(str(FIXTURES / "captures" / "http-like.pcap"))))
    assert all(
        p["findings"] == ["tcp.checksum_offload"] and p["checksum"]["status"] == "bad"
        for p in loop["flows"][0]["packets"]
    )
    cut = _doc("loss.pcap")["flows"][0]["packets"]
    short = [p for p in cut if p["truncated"]]
    assert short and all(p["checksum"]["status"] == "unverified" for p in short)
    assert {p["checksum"]["status"] for p in cut if not p["truncated"]} == {"good"}
    verbose = subprocess.run(
        ["tcpdump", "-nn", "-v", "-r", str(IMPAIRED / "reset.pcap")], capture_output=True
    ).stdout
    plain = subprocess.run(
        ["tcpdump", "-nn", "-r", str(IMPAIRED / "reset.pcap")], capture_output=True
    ).stdout
    said = to_json(analyse(read_input(verbose)))["flows"][0]["packets"]
    assert {p["checksum"]["status"] for p in said} == {"good"}
    silent = to_json(analyse(read_input(plain)))["flows"][0]["packets"]
    assert {p["checksum"]["status"] for p in silent} == {"unverified"}


def test_half_close_refused_and_abort_are_told_as_what_they_were() -> None:
    half = _doc("half-close.pcap")["flows"][0]
    phases = [r["phase"] for r in half["phases"]]
    assert phases == ["handshake", "data", "half_close", "teardown"]
    data_after = [
        p for p in half["packets"] if p["phase"] == "half_close" and p["direction"] == "s2c"
    ]
    assert sum(p["len"] for p in data_after) == 20_000
    assert "The client closed its sending direction first" in half["narrative"]["en"]
    assert "20.0 KB" in half["narrative"]["en"]
    reset, refused = _doc("reset.pcap")["flows"]
    assert "The server aborted the connection with RST" in reset["narrative"]["en"]
    story = refused["narrative"]["en"]
    assert "tried to open a connection" in story and "refused it" in story
    assert "handshake took" not in story


def test_a_clock_going_backwards_gives_no_negative_rtt(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    c, s = IP(src="192.0.2.1", dst="192.0.2.2"), IP(src="192.0.2.2", dst="192.0.2.1")
    pkts = [
        Ether() / c / TCP(sport=40000, dport=80, flags="S", seq=1),
        Ether() / s / TCP(sport=80, dport=40000, flags="SA", seq=9, ack=2),
        Ether() / c / TCP(sport=40000, dport=80, flags="A", seq=2, ack=10),
        Ether() / c / TCP(sport=40000, dport=80, flags="PA", seq=2, ack=10) / b"hello",
        Ether() / s / TCP(sport=80, dport=40000, flags="A", seq=10, ack=7),
    ]
    for p, t in zip(pkts, (10.0, 10.01, 10.02, 10.03, 10.025), strict=True):
        p.time = t  # the last one is stamped before the data it acknowledges
    path = tmp_path / "back.pcap"
    wrpcap(str(path), pkts)
    doc = to_json(analyse(read_path(str(path))))
    assert "clock goes backwards 1 time" in str(doc["source"]["warnings"])
    assert doc["flows"][0]["packets"][-1]["ack_rtt_ms"] is None


@pytest.mark.parametrize(("size", "split"), [(1, False), (5, False), (64, False), (5, True)])
def test_analysing_blocks_of_connections_changes_nothing(
    size: int, split: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sequence analysis and the TS echo matching run a block of whole connections at a
    time (memory bounded by the block); every rule stays within one connection, so any
    block size gives the same result, with positions left out of the rules (here: marked
    malformed) too; so does the second half of the blocks analysed by a forked child
    (``split``)."""
    from dataclasses import fields

    import numpy as np

    from app.decode.analysis import sequence
    from app.decode.analysis.flows import FlowTable
    from app.decode.model import parallel
    from benchmarks.gencap import generate

    handed: list[bool] = []
    file_of = parallel.Later.file

    def recorded(later: parallel.Later) -> object:
        got = file_of(later)
        handed.append(got is not None)
        return got

    busy = tmp_path / "busy.pcap"  # 60 interleaved connections with losses and RSTs
    generate(str(busy), 4000, 60, 0, 7)
    for path in [*CAPTURES, busy]:
        table = read_path(str(path)).table
        table.cols["malformed"][3::17] = 1
        whole = FlowTable.analyse(table)
        numbered = whole.numbering
        monkeypatch.setattr(sequence, "BLOCK", size)
        if split:
            monkeypatch.setattr(sequence, "MIN_SPLIT", 0)
            monkeypatch.setattr(parallel.Later, "file", recorded)
            monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
        parts = FlowTable.analyse(table)
        numbered_in_parts = parts.numbering  # its TS echoes are matched by blocks too
        monkeypatch.undo()
        for f in fields(numbered):
            a, b = getattr(numbered, f.name), getattr(numbered_in_parts, f.name)
            np.testing.assert_array_equal(a, b, err_msg=f"{path.name} {f.name}")
        assert whole.count == parts.count and whole.count > 0
        assert len(sequence.blocks(whole.bounds, size)) > (1 if whole.count > size else 0)
        np.testing.assert_array_equal(whole.findings, parts.findings)
        for f in fields(whole.seq):
            a, b = getattr(whole.seq, f.name), getattr(parts.seq, f.name)
            np.testing.assert_array_equal(a, b, err_msg=f"{path.name} {f.name}")
    if split and hasattr(os, "fork"):
        assert handed and all(handed)  # the children's blocks were used


@pytest.mark.parametrize("child", ["garbled", "short", "few", "fails"])
def test_a_child_s_blocks_that_cannot_be_used_are_analysed_here(
    child: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A child that writes something that is not its blocks, too few of them, or fails
    costs time, not results: this process analyses those blocks itself."""
    import pickle
    from dataclasses import fields
    from typing import IO

    import numpy as np

    from app.decode.analysis import sequence
    from app.decode.analysis.flows import FlowTable
    from benchmarks.gencap import generate

    busy = tmp_path / "busy.pcap"
    generate(str(busy), 2000, 30, 0, 5)
    table = read_path(str(busy)).table
    whole = FlowTable.analyse(table)

    def write(self: object, file: IO[bytes], runs: list[tuple[int, int]]) -> None:
        if child == "garbled":
            file.write(b"not a pickle")
        elif child == "short":
            pickle.dump([], file)
        elif child == "few":  # its first block, then nothing
            pickle.dump(self.analyse(runs[0]), file)  # type: ignore[attr-defined]
        else:
            raise RuntimeError("the child fails")

    monkeypatch.setattr(sequence, "BLOCK", 5)
    monkeypatch.setattr(sequence, "MIN_SPLIT", 0)
    monkeypatch.setenv("TCPLADDER_PROCESSES", "2")
    monkeypatch.setattr(sequence._Blocks, "write", write)
    parts = FlowTable.analyse(table)
    for f in fields(whole.seq):
        np.testing.assert_array_equal(getattr(whole.seq, f.name), getattr(parts.seq, f.name))
    np.testing.assert_array_equal(whole.findings, parts.findings)

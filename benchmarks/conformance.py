"""Conformance against tcpdump's own test suite.

For every test in the corpus's ``manifest.tsv``, parse the expected tcpdump output (``.out``)
with tcpladder's text parser and decode the same test's capture with tcpladder's capture
reader, then compare the TCP packets frame by frame (tcpdump ran with ``-#``, so each text
packet carries its frame number): flags, seq/ack (the text's relative numbers resolved back
to absolute with tcpdump's own rule), payload length, window and options.

    scripts/conformance --tcpdump-corpus ../shared/corpus/tcpdump [-k NAME] [-v]

Prints one line per test and a final ``N passed, N failed``.  A test fails with its reason;
failures where the capture itself cannot be decoded are marked ``undecodable``.  Exit status
is 1 when any decodable test fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from app.decode.model.errors import TraceError
from app.decode.model.packet import Packet
from app.decode.readers.capture import read_capture
from app.decode.text.parser import parse_text
from benchmarks.fieldcompare import differences


@dataclass
class Result:
    name: str
    ok: bool
    compared: int
    reason: str = ""
    undecodable: bool = False


_TCP_FLAGS = re.compile(r"[^\s>]+ > [^\s]+: Flags \[")
_RECORD = re.compile(r"^\s*(\d+)  ", re.M)


def text_records(text: str) -> dict[int, str]:
    """tcpdump -# output split into records by packet number."""
    starts = list(_RECORD.finditer(text))
    out: dict[int, str] = {}
    for k, m in enumerate(starts):
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        out.setdefault(int(m.group(1)), text[m.start() : end])
    return out


_TAKES_ARG = {"-T", "-c", "--skip", "-s", "-E", "-M", "-m", "-y", "-j", "-F"}


def has_filter(options: str) -> bool:
    """Does the tcpdump command carry a filter expression (so -# counts printed packets)?"""
    words = options.split()
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--":
            return i + 1 < len(words)
        if w in _TAKES_ARG:
            i += 2
            continue
        if not w.startswith("-"):
            return True
        i += 1
    return False


def same_time(tp: Packet, cp: Packet) -> bool:
    return tp.time is None or cp.time is None or abs(tp.time - cp.time) < 2e-6


def run_test(corpus: Path, row: dict[str, str], verbose: bool) -> Result:
    name = row["test"]
    pcap = corpus / row["pcap"]
    out = corpus / row["out"]
    try:
        cap = read_capture(io.BytesIO(pcap.read_bytes()), max_packets=10_000_000)
    except TraceError as exc:
        return Result(name, False, 0, f"capture: {exc.message}", undecodable=True)
    raw_text = out.read_text(encoding="utf-8", errors="replace")
    records = text_records(raw_text)
    try:
        text = parse_text(raw_text)
        text_packets = text.packets
    except TraceError as exc:
        text_packets = []
        if cap.packets:
            return Result(name, False, 0, f"text: {exc.message}")
    by_frame = {p.frame: p for p in cap.packets}
    filtered = has_filter(row["options"])
    by_time = {(round(p.time or 0, 6), p.src, p.dst): p for p in cap.packets}
    undecoded = {o.get("frame"): str(o.get("text")) for o in cap.other_packets}
    sampled = any(o in row["options"] for o in ("--print-sampling", "--skip", "-c"))
    seen: set[int] = set()
    problems: list[str] = []
    undecodable: list[str] = []
    compared = 0
    printed = {tp.frame for tp in text_packets}
    for tp in text_packets:
        if tp.frame is None:
            problems.append(f"line {tp.line}: text packet without a frame number")
            continue
        cp = by_frame.get(tp.frame)
        if filtered and (cp is None or not same_time(tp, cp)):
            # With a filter expression tcpdump numbers only the packets it printed: find
            # the frame by time stamp and addresses instead.
            cp = by_time.get((round(tp.time or 0, 6), tp.src, tp.dst))
            tp.frame = cp.frame if cp is not None else tp.frame
        if tp.frame is not None:
            seen.add(tp.frame)
        if cp is None:
            if tp.frame in undecoded:
                undecodable.append(
                    f"frame {tp.frame}: the capture reader (Scapy) decodes it as "
                    f"{undecoded[tp.frame]!r}, without TCP"
                )
            else:
                problems.append(f"frame {tp.frame}: TCP in the text, not in the capture decode")
            continue
        compared += 1
        for d in differences(tp, cp):
            problems.append(f"frame {tp.frame} (line {tp.line}): {d}")
    # Every record tcpdump printed with TCP flags must have been read as a packet.
    for num, record in records.items():
        if num not in printed and _TCP_FLAGS.search(record) and "[|tcp]" not in record:
            problems.append(f"record {num}: tcpdump printed TCP flags, the text parser read none")
    # Every TCP frame of the capture must be in the text, unless tcpdump skipped it
    # (sampling, -c, --skip, a filter) or printed it without a TCP header ("[version 6 != 4]").
    if not (sampled or filtered):
        for cp in cap.packets:
            if cp.frame not in seen and (cp.frame or 0) not in records:
                problems.append(f"frame {cp.frame}: TCP in the capture, tcpdump printed nothing")
    if not problems and undecodable:
        return Result(name, False, compared, undecodable[0], undecodable=True)
    if problems:
        reason = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        if verbose:
            reason = "\n      ".join(problems)
        return Result(name, False, compared, reason)
    return Result(name, True, compared)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="tcpladder text parser vs capture reader")
    ap.add_argument("--tcpdump-corpus", required=True, type=Path, help="dir with manifest.tsv")
    ap.add_argument("-k", dest="only", help="only tests whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every difference")
    args = ap.parse_args(argv)
    corpus: Path = args.tcpdump_corpus
    manifest = corpus / "manifest.tsv"
    if not manifest.is_file():
        print(f"error: {manifest} not found", file=sys.stderr)
        return 2
    with manifest.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    passed = failed = hard = 0
    for row in rows:
        if args.only and args.only not in row["test"]:
            continue
        res = run_test(corpus, row, args.verbose)
        if res.ok:
            passed += 1
            print(f"PASS {res.name} ({res.compared} TCP packets)")
        else:
            failed += 1
            tag = "undecodable" if res.undecodable else "FAIL"
            hard += not res.undecodable
            print(f"FAIL {res.name} [{tag}] {res.reason}")
    print(f"{passed} passed, {failed} failed")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())

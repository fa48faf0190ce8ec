"""``python -m benchmarks.compare_tshark PATH... [--min-f1 X] [--quiet]``: see scripts/compare-tshark.

Each PATH is a capture or a directory of captures.  For each capture: tcpladder's reading
and tshark's, packet by packet.  Besides the findings (``benchmarks.tshark_agreement``) it
counts the TCP packets tshark decodes that tcpladder misses or reads differently (ports,
seq, ack, flags, payload length, window), and the captures tcpladder refuses or cannot read.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from app.decode.analysis.result import analyse
from app.decode.model.errors import TraceError
from app.decode.readers.ingest import read_path
from benchmarks.tshark_agreement import (
    PACKET_FIELDS,
    TSHARK_FIELDS,
    Agreement,
    agreement,
    irtt_equal,
    report,
)

# the findings the issue holds to F1 >= 0.95 against tshark
GATED = (
    "tcp.retransmission*",
    "tcp.fast_retransmission",
    "tcp.duplicate_ack",
    "tcp.out_of_order",
    "tcp.zero_window",
    "tcp.window_update",
    "tcp.keep_alive",
    "tcp.ack_unseen",
    "tcp.port_reuse",
)
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".zst", ".dmp")


def tshark_tsv(path: Path) -> str:
    side = path.with_name(path.name.removesuffix(".pcap") + ".tshark.tsv")
    if side.exists():
        return side.read_text()
    cmd = ["tshark", "-n", "-o", "tcp.check_checksum:TRUE", "-r", str(path)]
    cmd += ["-T", "fields", "-E", "header=y"]
    cmd += ["-E", "separator=\t", "-E", "occurrence=l", "-Y", "tcp"]
    for f in (*TSHARK_FIELDS, *PACKET_FIELDS):
        cmd += ["-e", f]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                q
                for q in p.iterdir()
                if q.is_file() and q.name.endswith(CAPTURE_SUFFIXES) and ".tshark." not in q.name
            )
        else:
            out.append(p)
    return out


@dataclass
class Problems:
    refused: list[str] = field(default_factory=list)  # a TraceError: said why
    crashed: list[str] = field(default_factory=list)  # anything else: a bug
    empty: list[str] = field(default_factory=list)  # tshark has TCP, we have none, no word


def compare_one(path: Path, total: Agreement, problems: Problems, quiet: bool) -> None:
    try:
        tsv = tshark_tsv(path)
    except subprocess.CalledProcessError as exc:
        print(f"{path.name}: tshark failed: {exc.stderr.strip()[:200]}")
        return
    try:
        analysis = analyse(read_path(str(path)))
    except TraceError as exc:
        problems.refused.append(f"{path.name}: {exc}")
        analysis = None
    except Exception:  # the point is to report it
        problems.crashed.append(f"{path.name}: {traceback.format_exc(limit=-3)}")
        analysis = None
    a = agreement(analysis, tsv)
    if analysis is not None and a.packets and not a.ours_packets and not analysis.trace.warnings:
        problems.empty.append(path.name)
    if not quiet:
        print(report(path.name, a))
    total.add(a)


def run(paths: list[Path], *, quiet: bool = True) -> tuple[Agreement, Problems, int]:
    """Compare every capture in ``paths``: (the totals, the problems, how many captures)."""
    total = Agreement(scores={})
    problems = Problems()
    captures = expand(paths)
    for path in captures:
        compare_one(path, total, problems, quiet)
    return total, problems, len(captures)


def below_the_bar(
    total: Agreement, problems: Problems, min_f1: float = 0.95, max_missing: float = 0.001
) -> list[str]:
    bad = [c for c in GATED if c in total.scores and total.scores[c].f1 < min_f1]
    if not irtt_equal(total.irtt):
        bad.append("handshake RTT")
    if total.packets and total.missing > max_missing * total.packets:
        bad.append(f"missing packets {total.missing}/{total.packets}")
    if problems.crashed or problems.empty:
        bad.append("crashed or silently empty captures")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="compare-tshark")
    ap.add_argument("paths", nargs="+", type=Path, help="captures or directories of them")
    ap.add_argument("--min-f1", type=float, default=0.95)
    ap.add_argument("--max-missing", type=float, default=0.001, help="share of tshark's packets")
    ap.add_argument("--quiet", action="store_true", help="print only the totals")
    args = ap.parse_args(argv)
    total, problems, count = run(args.paths, quiet=args.quiet)
    print(report(f"all ({count} captures)", total))
    for what, items in (
        ("refused", problems.refused),
        ("crashed", problems.crashed),
        ("silently empty", problems.empty),
    ):
        print(f"  {what}: {len(items)}")
        for item in items:
            print("    " + item.strip().replace("\n", "\n    "))
    bad = below_the_bar(total, problems, args.min_f1, args.max_missing)
    if bad:
        print("below the bar: " + ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks.compare_tshark CAPTURE... [--min-f1 X]``: see scripts/compare-tshark."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from app.decode.analysis.result import analyse
from app.decode.readers.ingest import read_path
from benchmarks.tshark_agreement import TSHARK_FIELDS, Agreement, agreement, irtt_equal, report

# the findings the issue holds to F1 >= 0.95 against tshark
GATED = (
    "tcp.retransmission*",
    "tcp.fast_retransmission",
    "tcp.duplicate_ack",
    "tcp.out_of_order",
    "tcp.zero_window",
    "tcp.window_update",
    "tcp.keep_alive",
)


def tshark_tsv(path: Path) -> str:
    side = path.with_name(path.name.removesuffix(".pcap") + ".tshark.tsv")
    if side.exists():
        return side.read_text()
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "header=y", "-E", "separator=\t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="compare-tshark")
    ap.add_argument("captures", nargs="+", type=Path)
    ap.add_argument("--min-f1", type=float, default=0.95)
    args = ap.parse_args(argv)
    total = Agreement(scores={})
    for path in args.captures:
        a = agreement(analyse(read_path(path)), tshark_tsv(path))
        print(report(path.name, a))
        total.add(a)
    print(report("all", total))
    bad = [c for c in GATED if c in total.scores and total.scores[c].f1 < args.min_f1]
    if not irtt_equal(total.irtt):
        bad.append("handshake RTT")
    if bad:
        print("below the bar: " + ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ground truth for "retransmission or not", from one transfer captured at both ends at once.

``scripts/impaired.py`` records the ``lossy`` download at the sender (``-at-server``) and at
the receiver (``-at-client``) at the same time.  The sender's capture is the truth:

- at the sender, a data segment that starts below the highest byte already sent is a
  retransmission: the host sent those bytes twice.  Nothing there can be "out of order".
- at the receiver, a data segment that starts below the highest byte already received is
  matched to the transmission it came from (same seq, length, TS val and IP ID in the
  sender's capture).  If the receiver already had this very transmission, the network
  duplicated it; else if that transmission was a retransmission at the sender, so is
  this; otherwise it is the original, arriving late: reordered.

``score`` compares a labelling (tcpladder's findings, or tshark's fields) with that truth.

    python -m benchmarks.groundtruth SENDER.pcap RECEIVER.pcap
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.decode.analysis.result import Analysis, analyse
from app.decode.model.codes import FINDING_CODES
from app.decode.readers.ingest import read_path
from benchmarks.tshark_agreement import parse_tsv

RETRANSMISSION, REORDERED, DUPLICATE = "retransmission", "reordered", "duplicate"
M32 = 1 << 32


@dataclass
class Segment:
    frame: int
    seq: int
    length: int
    ts_val: int
    ipid: int


def _data(a: Analysis) -> tuple[list[Segment], int]:
    """The data segments of the busiest direction (the download), in capture order, and
    their flow direction."""
    c = a.trace.table.cols
    src, sport, length = c["src"], c["sport"], c["length"]
    keys, counts = np.unique(src * 70000 + sport, return_counts=True)
    busiest = keys[np.argmax(counts)] if len(keys) else -1
    rows = np.flatnonzero((src * 70000 + sport == busiest) & (length > 0))
    segs = [
        Segment(
            int(c["frame"][i]),
            int(c["seq"][i]),
            int(c["length"][i]),
            int(c["ts_val"][i]),
            int(c["ipid"][i]),
        )
        for i in rows.tolist()
    ]
    return segs, int(busiest)


def _behind(segs: list[Segment]) -> list[tuple[Segment, bool]]:
    """Each segment and whether it starts below the highest byte seen before it."""
    out = []
    top: int | None = None
    for s in segs:
        behind = top is not None and 0 < (top - s.seq) % M32 < M32 // 2
        out.append((s, behind))
        end = (s.seq + s.length) % M32
        if top is None or 0 < (end - top) % M32 < M32 // 2:
            top = end
    return out


def truth(sender: Analysis, receiver: Analysis) -> tuple[dict[int, str], dict[int, str]]:
    """(sender frame -> label, receiver frame -> label) for every data segment that starts
    below bytes already seen at that capture point."""
    at_sender, _ = _data(sender)
    at_receiver, _ = _data(receiver)
    sent = _behind(at_sender)
    first_of: dict[tuple[int, int, int, int], bool] = {}  # was that sending a retransmission
    for s, behind in sent:
        first_of.setdefault((s.seq, s.length, s.ts_val, s.ipid), behind)
    s_truth = {s.frame: RETRANSMISSION for s, behind in sent if behind}
    r_truth: dict[int, str] = {}
    seen: set[tuple[int, int, int, int]] = set()
    for s, behind in _behind(at_receiver):
        key = (s.seq, s.length, s.ts_val, s.ipid)
        if behind:
            if key in seen:  # the same transmission arrived before: the network copied it
                r_truth[s.frame] = DUPLICATE
            elif first_of.get(key, True):
                r_truth[s.frame] = RETRANSMISSION
            else:
                r_truth[s.frame] = REORDERED
        seen.add(key)
    return s_truth, r_truth


_RETRANS = ("tcp.retransmission", "tcp.fast_retransmission", "tcp.spurious_retransmission")


def ours(a: Analysis) -> dict[int, str]:
    """tcpladder's label for each frame: retransmission, reordered (out-of-order) or
    duplicate."""
    ft = a.table
    frames = ft.table.cols["frame"][ft.order].tolist()
    bits = ft.findings.tolist()
    out = {}
    masks = {
        RETRANSMISSION: sum(1 << FINDING_CODES.index(c) for c in _RETRANS),
        REORDERED: 1 << FINDING_CODES.index("tcp.out_of_order"),
    }
    if "tcp.duplicate_segment" in FINDING_CODES:
        masks[DUPLICATE] = 1 << FINDING_CODES.index("tcp.duplicate_segment")
    for f, b in zip(frames, bits, strict=True):
        for label, m in masks.items():
            if b & m:
                out[int(f)] = label
    return out


def theirs(tsv: str) -> dict[int, str]:
    """tshark's label for each frame (it has no "network duplicate")."""
    _, rows = parse_tsv(tsv)
    out = {}
    for r in rows:
        if r.get("tcp.analysis.out_of_order"):
            out[int(r["frame.number"])] = REORDERED
        elif r.get("tcp.analysis.retransmission") or r.get("tcp.analysis.fast_retransmission"):
            out[int(r["frame.number"])] = RETRANSMISSION
    return out


@dataclass
class Score:
    total: int = 0
    right: int = 0
    by_truth: dict[str, list[int]] = field(default_factory=dict)  # label -> [right, total]

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0


def score(want: dict[int, str], got: dict[int, str]) -> Score:
    s = Score()
    for frame, label in want.items():
        ok = got.get(frame) == label
        s.total += 1
        s.right += ok
        pair = s.by_truth.setdefault(label, [0, 0])
        pair[0] += ok
        pair[1] += 1
    return s


def report(name: str, s: Score) -> str:
    parts = ", ".join(f"{k} {r}/{t}" for k, (r, t) in sorted(s.by_truth.items()))
    return f"{name}: {s.right}/{s.total} = {s.accuracy:.3f} ({parts})"


def main(argv: list[str]) -> int:
    sender_path, receiver_path = (Path(p) for p in argv)
    sender, receiver = analyse(read_path(str(sender_path))), analyse(read_path(str(receiver_path)))
    s_truth, r_truth = truth(sender, receiver)
    for name, path, a, want in (
        ("sender", sender_path, sender, s_truth),
        ("receiver", receiver_path, receiver, r_truth),
    ):
        print(report(f"{name} tcpladder", score(want, ours(a))))
        tsv = path.with_suffix(".tshark.tsv")
        if tsv.exists():
            print(report(f"{name} tshark   ", score(want, theirs(tsv.read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

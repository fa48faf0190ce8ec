"""Agreement between tcpladder's findings and Wireshark's TCP analysis of the same capture.

The reference is tshark's per-packet fields (``tshark -T fields -e tcp.analysis.…``, the
columns ``scripts/impaired.py`` records next to each capture).  For each finding this counts
the packets both flag, only tcpladder flags, and only tshark flags, and gives precision,
recall and F1.  It also checks the duplicate-ACK numbers, the handshake RTT and the ACK RTT.

tshark marks a fast or spurious retransmission as a retransmission too; tcpladder gives one
code per kind, so "tcp.retransmission" is compared as the union of the three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.decode.analysis.result import Analysis
from app.decode.analysis.sequence import EVIDENCE
from app.decode.model.codes import FINDING_CODES

# what scripts/impaired.py records and scripts/compare-tshark asks tshark for
TSHARK_FIELDS = [
    "frame.number",
    "tcp.stream",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.window_full",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.reused_ports",
    "tcp.analysis.initial_rtt",
    "tcp.analysis.ack_rtt",
    "tcp.analysis.bytes_in_flight",
]
# the packet's own fields, compared frame by frame (tshark run with ``-E occurrence=l``: the
# innermost TCP header of a tunnelled frame)
PACKET_FIELDS = [
    "frame.protocols",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.len",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.checksum.status",  # with -o tcp.check_checksum:TRUE: 0 bad, 1 good, 2 unverified
]
# tcpladder column -> tshark field
_COLUMN_FIELDS = {
    "sport": "tcp.srcport",
    "dport": "tcp.dstport",
    "seq": "tcp.seq_raw",
    "ack": "tcp.ack_raw",
    "length": "tcp.len",
    "flags": "tcp.flags",
    "win": "tcp.window_size_value",
}
# tshark field -> tcpladder code(s)
FIELD_CODES: dict[str, tuple[str, ...]] = {
    "tcp.analysis.retransmission": (
        "tcp.retransmission",
        "tcp.fast_retransmission",
        "tcp.spurious_retransmission",
    ),
    "tcp.analysis.fast_retransmission": ("tcp.fast_retransmission",),
    "tcp.analysis.spurious_retransmission": ("tcp.spurious_retransmission",),
    "tcp.analysis.duplicate_ack": ("tcp.duplicate_ack",),
    "tcp.analysis.out_of_order": ("tcp.out_of_order",),
    "tcp.analysis.lost_segment": ("tcp.lost_segment",),
    "tcp.analysis.ack_lost_segment": ("tcp.ack_unseen",),
    "tcp.analysis.zero_window": ("tcp.zero_window",),
    "tcp.analysis.zero_window_probe": ("tcp.zero_window_probe",),
    "tcp.analysis.window_full": ("tcp.window_full",),
    "tcp.analysis.window_update": ("tcp.window_update",),
    "tcp.analysis.keep_alive": ("tcp.keep_alive",),
    "tcp.analysis.keep_alive_ack": ("tcp.keep_alive_ack",),
    "tcp.analysis.reused_ports": ("tcp.port_reuse",),
}


@dataclass
class Score:
    both: int = 0
    ours: int = 0  # only tcpladder
    theirs: int = 0  # only tshark
    examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.both / (self.both + self.ours) if self.both + self.ours else 1.0

    @property
    def recall(self) -> float:
        return self.both / (self.both + self.theirs) if self.both + self.theirs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def seen(self) -> int:
        return self.both + self.ours + self.theirs


@dataclass
class Agreement:
    scores: dict[str, Score]
    dup_num_equal: int = 0
    dup_num_total: int = 0
    irtt: list[tuple[float | None, float | None]] = field(default_factory=list)
    ack_rtt_equal: int = 0
    ack_rtt_total: int = 0
    packets: int = 0  # TCP packets tshark decodes
    ours_packets: int = 0  # TCP packets tcpladder decodes
    missing: int = 0  # tshark's, not ours
    extra: int = 0  # ours, not tshark's
    field_diffs: dict[str, int] = field(default_factory=dict)
    diff_examples: list[str] = field(default_factory=list)
    deliberate: dict[str, int] = field(default_factory=dict)  # reason -> differences

    def add(self, other: Agreement) -> None:
        for k, s in other.scores.items():
            mine = self.scores.setdefault(k, Score())
            mine.both += s.both
            mine.ours += s.ours
            mine.theirs += s.theirs
            mine.examples += s.examples[: max(0, 5 - len(mine.examples))]
        self.dup_num_equal += other.dup_num_equal
        self.dup_num_total += other.dup_num_total
        self.irtt += other.irtt
        self.ack_rtt_equal += other.ack_rtt_equal
        self.ack_rtt_total += other.ack_rtt_total
        self.packets += other.packets
        self.ours_packets += other.ours_packets
        self.missing += other.missing
        self.extra += other.extra
        for k2, v in other.field_diffs.items():
            self.field_diffs[k2] = self.field_diffs.get(k2, 0) + v
        self.diff_examples += other.diff_examples[: max(0, 8 - len(self.diff_examples))]
        for k2, v in other.deliberate.items():
            self.deliberate[k2] = self.deliberate.get(k2, 0) + v


def parse_tsv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    lines = text.splitlines()
    if not lines:
        return [], []
    head = lines[0].split("\t")
    rows = [dict(zip(head, line.split("\t"), strict=False)) for line in lines[1:] if line]
    return head, rows


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1.5e-6  # tshark prints 9 decimals; our times are float seconds


def _tshark_rows(tsv: str) -> tuple[list[str], list[dict[str, str]]]:
    """tshark's TCP rows; a TCP header quoted inside an ICMP error is not a TCP packet."""
    head, rows = parse_tsv(tsv)
    keep = [
        r
        for r in rows
        if r.get("tcp.stream", "") != ""
        and "icmp" not in r.get("frame.protocols", "").split(":tcp")[0]
    ]
    return head, keep


def _field_diffs(analysis: Analysis, rows: list[dict[str, str]], out: Agreement) -> None:
    cols = analysis.trace.table.cols
    by_frame = {int(f): i for i, f in enumerate(cols["frame"].tolist())}
    for r in rows:
        i = by_frame.get(int(r["frame.number"]))
        if i is None or "tcp.seq_raw" not in r:
            continue
        for col, fld in _COLUMN_FIELDS.items():
            theirs_s = r.get(fld, "")
            if theirs_s == "" or (col == "ack" and not int(cols["flags"][i]) & 0x10):
                continue
            theirs = int(theirs_s, 0)
            ours = int(cols[col][i])
            if col == "flags":
                ours, theirs = ours & 0xFF, theirs & 0xFF  # tshark 4.0 folds AE into "reserved"
            if ours != theirs and col == "length" and int(cols["malformed"][i]):
                _deliberate(out, MALFORMED_LENGTH, 1)
                continue
            if ours != theirs:
                out.field_diffs[col] = out.field_diffs.get(col, 0) + 1
                if len(out.diff_examples) < 8:
                    out.diff_examples.append(
                        f"frame {r['frame.number']}: {col} tcpladder {ours} tshark {theirs}"
                    )


_TSHARK_STATUS = {"0": 2, "1": 1, "2": 0}  # tshark's checksum status -> ours


def _checksum_diffs(analysis: Analysis, rows: list[dict[str, str]], out: Agreement) -> None:
    """TCP checksum verdicts against tshark's (validation on)."""
    cols = analysis.table.table.cols
    by_frame = {int(f): i for i, f in enumerate(cols["frame"].tolist())}
    for r in rows:
        i = by_frame.get(int(r["frame.number"]))
        theirs = _TSHARK_STATUS.get(r.get("tcp.checksum.status", ""))
        if i is None or theirs is None:
            continue
        ours = int(cols["cksum_status"][i])
        if ours == theirs:
            continue
        if int(cols["malformed"][i]):
            _deliberate(out, MALFORMED_CKSUM, 1)
            continue
        if ours == 1:  # the bytes as captured sum right: tshark read something else
            _deliberate(out, TSHARK_UNVERIFIED, 1)
            continue
        out.field_diffs["checksum"] = out.field_diffs.get("checksum", 0) + 1
        if len(out.diff_examples) < 8:
            out.diff_examples.append(f"frame {r['frame.number']}: checksum {ours} tshark {theirs}")


def agreement(analysis: Analysis | None, tsv: str) -> Agreement:
    """Compare one capture's analysis with tshark's fields for the same capture (None: the
    capture could not be read, so every tshark packet is missing)."""
    head, rows = _tshark_rows(tsv)
    out = Agreement(scores={})
    out.packets = len(rows)
    if analysis is None:
        out.missing = len(rows)
        return out
    ft = analysis.table
    frames = ft.table.cols["frame"][ft.order]
    at = {int(f): k for k, f in enumerate(frames.tolist())}
    theirs_frames = {int(r["frame.number"]) for r in rows}
    out.ours_packets = len(at)
    out.missing = len(theirs_frames - at.keys())
    extra = at.keys() - theirs_frames
    cols = ft.table.cols
    rows_of = {int(f): i for i, f in enumerate(cols["frame"].tolist())}
    late = {f for f in extra if int(cols["reassembly"][rows_of[f]]) == 2}
    if late:
        _deliberate(out, INCOMPLETE_DATAGRAM, len(late))
    out.extra = len(extra - late)
    _field_diffs(analysis, rows, out)
    _checksum_diffs(analysis, rows, out)
    bits = ft.findings
    zwp_bit = 1 << FINDING_CODES.index("tcp.zero_window_probe")
    linux_zwp = {
        int(r["frame.number"])
        for r in rows
        if r.get("tcp.analysis.keep_alive")
        and (k := at.get(int(r["frame.number"]))) is not None
        and int(bits[k]) & zwp_bit
    }
    if linux_zwp:
        _deliberate(out, LINUX_ZWP, len(linux_zwp))
    evidence = ft.seq.evidence
    by_evidence: dict[int, int] = {}
    for fld, codes in FIELD_CODES.items():
        if fld not in head:
            continue
        mask = 0
        for code in codes:
            mask |= 1 << FINDING_CODES.index(code)
        score = out.scores.setdefault(
            codes[0] if len(codes) == 1 else "tcp.retransmission*", Score()
        )
        for r in rows:
            if fld in ZWP_FIELDS and int(r["frame.number"]) in linux_zwp:
                continue
            k = at.get(int(r["frame.number"]))
            theirs = bool(r.get(fld))
            ours = k is not None and bool(int(bits[k]) & mask)
            if theirs != ours and fld in RETRANS_FIELDS and k is not None and evidence[k]:
                by_evidence.setdefault(int(r["frame.number"]), int(evidence[k]))
                continue
            if theirs and ours:
                score.both += 1
            elif ours:
                score.ours += 1
            elif theirs:
                score.theirs += 1
            if theirs != ours and len(score.examples) < 5:
                score.examples.append(
                    f"frame {r['frame.number']}: {'tcpladder' if ours else 'tshark'}"
                )
    for e in by_evidence.values():
        _deliberate(out, EVIDENCE_REASON.format(EVIDENCE[e]), 1)
    dup = ft.seq.dup_ack
    for r in rows:
        k = at.get(int(r["frame.number"]))
        if r.get("tcp.analysis.duplicate_ack_num") and k is not None:
            out.dup_num_total += 1
            out.dup_num_equal += int(r["tcp.analysis.duplicate_ack_num"]) == int(dup[k])
        if r.get("tcp.analysis.ack_rtt") and k is not None:
            ours_rtt = float(ft.seq.ack_rtt[k])
            if math.isnan(ours_rtt) and not _ack_moves_on(analysis, k):
                _deliberate(out, OLD_ACK, 1)
                continue
            theirs_rtt = float(r["tcp.analysis.ack_rtt"])
            close = not math.isnan(ours_rtt) and _close(ours_rtt, theirs_rtt)
            if not close and _far_future(analysis, k):
                _deliberate(out, FLOAT_STAMP_RTT, 1)
                continue
            out.ack_rtt_total += 1
            out.ack_rtt_equal += not math.isnan(ours_rtt) and _close(
                ours_rtt, float(r["tcp.analysis.ack_rtt"])
            )
    # the handshake RTT, per connection (tshark repeats it on every packet of the stream)
    first_irtt: dict[str, float] = {}
    stream_of_flow: dict[int, str] = {}
    for r in rows:
        k = at.get(int(r["frame.number"]))
        s = r.get("tcp.stream", "")
        if k is not None:
            stream_of_flow.setdefault(int(ft.fid[k]), s)
        if r.get("tcp.analysis.initial_rtt") and s not in first_irtt:
            first_irtt[s] = float(r["tcp.analysis.initial_rtt"])
    for f, s in sorted(stream_of_flow.items()):
        ours_i = float(ft.irtt[f])
        theirs_i = first_irtt.get(s)
        why = _irtt_reason(analysis, f) if np.isnan(ours_i) and theirs_i else None
        if not np.isnan(ours_i) and theirs_i is None and _cut_short(analysis, f):
            why = CUT_SHORT
        if why:
            _deliberate(out, why, 1)
            continue
        out.irtt.append((None if np.isnan(ours_i) else ours_i, theirs_i))
    return out


TSHARK_UNVERIFIED = (
    "a checksum tcpladder verified good over the bytes as captured, which tshark could not "
    "verify or found wrong because it read another segment (FabricPath: it takes the inner "
    "frame's last 4 bytes for an FCS)"
)
MALFORMED_CKSUM = "malformed TCP header: its checksum is not verified (tshark computes one)"
MALFORMED_LENGTH = "malformed TCP header: payload length unknown (tshark: the IP payload)"
INCOMPLETE_DATAGRAM = (
    "the first fragment of an IP datagram never completed is shown as a cut-short segment "
    "(ip.reassembly_incomplete); tshark lists it as an IP fragment"
)
SAME_STAMP = (
    "handshake SYN and ACK carry the same time stamp: tcpladder says the RTT was not "
    "measured; tshark times a later ACK instead"
)
FLOAT_STAMP = (
    "time stamps beyond year 2242: seconds as float64 keep no microseconds there, so the "
    "handshake RTT is not measured (a known limit)"
)


CUT_SHORT = (
    "frames cut short by the snaplen: tshark gives up on a header cut inside its options and "
    "does no analysis; tcpladder analyses the fields it has"
)


def _flow_rows(analysis: Analysis, f: int) -> npt.NDArray[np.int64]:
    """Flow ``f``'s table rows, capture order."""
    ft = analysis.table
    rows: npt.NDArray[np.int64] = ft.order[int(ft.bounds[f]) : int(ft.bounds[f + 1])]
    return rows


def _cut_short(analysis: Analysis, f: int) -> bool:
    return bool(analysis.table.table.cols["truncated"][_flow_rows(analysis, f)].any())


LINUX_ZWP = (
    "a zero-length segment at nextseq - 1 while the peer's window is zero is Linux's "
    "zero-window probe (tcp.zero_window_probe); tshark calls it a keep-alive"
)
RETRANS_FIELDS = (
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
)
EVIDENCE_REASON = (
    "retransmission, late original or network copy told by the packets' evidence ({}), "
    "where tshark goes by timing alone"
)
ZWP_FIELDS = ("tcp.analysis.keep_alive", "tcp.analysis.zero_window_probe")
OLD_ACK = (
    "an ACK that does not move its direction's ack on measures no RTT: tshark times a "
    "duplicate ACK against the retransmission it repeats (RFC 6298 §3, Karn)"
)
FLOAT_STAMP_RTT = (
    "time stamps beyond year 2242: seconds as float64 keep no microseconds there, so the "
    "ACK RTT is not measured (a known limit)"
)


def _ack_moves_on(analysis: Analysis, k: int) -> bool:
    """Position ``k``'s ack is beyond every earlier ack of its direction in its flow."""
    ft = analysis.table
    lo = int(ft.bounds[int(ft.fid[k])])
    rows = ft.order[lo : k + 1]
    c = ft.table.cols
    same = ft.dir[lo : k + 1] == ft.dir[k]
    acks = c["ack"][rows][same]
    has = (c["flags"][rows][same] & 0x10) > 0
    earlier = acks[:-1][has[:-1]]
    return all(0 < (int(acks[-1]) - int(a)) % 2**32 < 2**31 for a in earlier)


def _far_future(analysis: Analysis, k: int) -> bool:
    return float(analysis.table.table.cols["time"][analysis.table.order[k]]) > 2**33


def _deliberate(out: Agreement, why: str, count: int) -> None:
    out.deliberate[why] = out.deliberate.get(why, 0) + count


def _irtt_reason(analysis: Analysis, f: int) -> str | None:
    """Why tcpladder has no handshake RTT for flow ``f`` where tshark has one."""
    rows = _flow_rows(analysis, f)
    c = analysis.table.table.cols
    flags, t = c["flags"][rows], c["time"][rows]
    syn = np.flatnonzero((flags & 0x12) == 0x02)
    if not len(syn):
        return None
    after = np.flatnonzero(((flags & 0x12) == 0x10) & (np.arange(len(rows)) > syn[-1]))
    if not len(after) or t[after[0]] != t[syn[-1]]:
        return None
    return FLOAT_STAMP if t[syn[-1]] > 2**33 else SAME_STAMP


# every reason a difference from tshark is counted apart (docs/analysis.md says why)
DELIBERATE = (
    TSHARK_UNVERIFIED,
    MALFORMED_CKSUM,
    MALFORMED_LENGTH,
    INCOMPLETE_DATAGRAM,
    SAME_STAMP,
    FLOAT_STAMP,
    CUT_SHORT,
    LINUX_ZWP,
    OLD_ACK,
    FLOAT_STAMP_RTT,
    *(EVIDENCE_REASON.format(e) for e in EVIDENCE),
)


def irtt_equal(pairs: list[tuple[float | None, float | None]]) -> bool:
    return all(
        (a is None and b is None) or (a is not None and b is not None and _close(a, b))
        for a, b in pairs
    )


def report(name: str, a: Agreement) -> str:
    lines = [f"{name}: {a.packets} TCP packets (tshark), {a.ours_packets} (tcpladder)"]
    if a.missing or a.extra:
        lines.append(f"  tshark's not read by tcpladder: {a.missing}; tcpladder's only: {a.extra}")
    if a.field_diffs:
        diffs = ", ".join(f"{k} {v}" for k, v in sorted(a.field_diffs.items()))
        lines.append(f"  field mismatches: {diffs}  e.g. {'; '.join(a.diff_examples[:3])}")
    for code, s in sorted(a.scores.items()):
        if not s.seen:
            continue
        lines.append(
            f"  {code:30} both {s.both:5} only-tcpladder {s.ours:4} only-tshark {s.theirs:4}"
            f"  P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}"
            + (f"  e.g. {'; '.join(s.examples[:3])}" if s.examples else "")
        )
    for why, count in sorted(a.deliberate.items()):
        lines.append(f"  deliberate difference ({count}): {why}")
    if a.dup_num_total:
        lines.append(f"  duplicate ACK numbers equal: {a.dup_num_equal}/{a.dup_num_total}")
    if a.ack_rtt_total:
        lines.append(f"  ACK RTT equal: {a.ack_rtt_equal}/{a.ack_rtt_total}")
    if a.irtt:
        ok = sum(irtt_equal([p]) for p in a.irtt)
        lines.append(f"  handshake RTT equal: {ok}/{len(a.irtt)} connections")
    return "\n".join(lines)

"""Sequence analysis of every packet of every connection at once: the expert findings.

The rules are Wireshark's TCP sequence analysis (``tcp_analyze_sequence_number`` in
epan/dissectors/packet-tcp.c, the behaviour of tshark 4.0, which is the reference our
comparison script measures against), restated on columns.  Wireshark walks the packets one
by one keeping, per direction, the highest sequence number seen (``nextseq``), the last ack,
window and time, and a duplicate-ACK counter.  Every one of those is a running quantity over
the packets of one direction, so it becomes a group-wise running maximum, a forward fill or a
cumulative count here, and each rule becomes a mask over all rows.

Where this knowingly differs from Wireshark (documented in docs/analysis.md):
- When a repeated ``tcp.ack_unseen`` is reported again was measured against tshark 4.0, not
  read from its source (``_ack_unseen``); tshark's "fast retransmission" right after such a
  report (its duplicate-ACK counter holding -1, read unsigned) is a plain retransmission.
- A segment left out of the analysis (tcp.malformed, ip.reassembly_incomplete) is left out
  as Wireshark leaves it out: the rules never see it.
- With no time stamps (pasted text printed with ``-t``) a retransmission just after duplicate
  ACKs is still called fast; one that cannot be timed is never called out-of-order.
- Pasted text shows no seq on a bare ACK, so a keep-alive (seq one below nextseq) cannot be
  told from a duplicate ACK by its numbers: a repeated bare ACK after a second or more of
  silence is taken as a keep-alive.

Facts used (RFC 9293 §3.4: SYN and FIN take one sequence number each; sequence numbers
compare modulo 2**32, RFC 1982; RFC 5681 §2-3.2: duplicate ACKs and fast retransmit;
RFC 9293 §3.8.6.1: zero-window probing; RFC 1122 §4.2.3.6 and RFC 9293 §3.8.4: keep-alives).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from app.decode.analysis.stats import stats
from app.decode.model import parallel
from app.decode.model.codes import Finding
from app.decode.model.packet import ACK, FIN, RST, SYN

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

M32 = 1 << 32
HALF = 1 << 31
_SPAN = 1 << 37  # an unwrapped sequence number may stray this far from a direction's first
FAST_RETRANS_S = 0.020  # Wireshark: within 20 ms of the last duplicate ACK
NEAR = 0.1  # one side's ACKs back within a tenth of the other's: the capture is next to it
# What decided "retransmission, late original or copy" where Wireshark's timing rule did not.
EVIDENCE = (
    "timing",
    "at the sender",
    "TS val order",
    "IP ID order",
    "byte-for-byte copy",
    "the peer's D-SACK",
)
OOO_DEFAULT_S = 0.003  # Wireshark: 3 ms, or the handshake RTT once known
IDLE_PROBE_S = 1.0  # pasted text: a bare repeated ACK after this much silence is a keep-alive


def _s32(x: I64) -> I64:
    """``x`` as a signed 32-bit difference (serial number arithmetic)."""
    out: I64 = ((x + HALF) % M32) - HALF
    return out


def _gt(a: I64, b: I64 | int) -> B:
    out: B = _s32(a - b) > 0
    return out


@dataclass(slots=True)
class SeqAnalysis:
    """Per position (flow order, see FlowTable): the findings and the measured quantities."""

    bits: npt.NDArray[np.int32]  # the findings: bit ``Finding.bit`` of each code found
    # Counts, positions and 32-bit differences fit in int32: half the memory of int64.
    dup_ack: I32  # for a duplicate ACK, its number in the run (Wireshark's dupack_num); else 0
    ack_rtt: F64  # seconds from the segment this ACK first acknowledges; NaN
    acked: I32  # position of that segment; -1
    ack_rtt_clean: B  # the acked segment was sent once (Karn, RFC 6298 §3): a usable sample
    ts_rtt: F64  # seconds from the first peer packet carrying the echoed TS val; NaN
    in_flight: I32  # data segments: bytes sent and not yet acknowledged after it; -1
    near: I64  # per flow: the side (0 client, 1 server) the capture was taken next to; -1
    near_from: I64  # per flow: what told it: 0 nothing, 1 the ACK RTT legs, 2 TTLs
    legs: F64  # (flows, 2): median clean ACK RTT of each side's ACKs; NaN
    evidence: npt.NDArray[np.int8]  # per position: EVIDENCE index of what decided it; 0


class _Chains:
    """The rows of each (flow, direction) in capture order: "chains"."""

    def __init__(self, key2: I64) -> None:
        n = len(key2)
        self.n = n
        self.order = np.argsort(key2, kind="stable")
        k = key2[self.order]
        start = np.ones(n, bool)
        start[1:] = k[1:] != k[:-1]
        self.start = start  # in chain order
        self.idx = np.cumsum(start) - 1  # chain number, in chain order
        prev = np.empty(n, np.int64)
        if n:
            prev[0] = -1
            prev[1:] = self.order[:-1]
        prev[start] = -1
        self.prev = np.empty(n, np.int64)
        self.prev[self.order] = prev  # previous row of the same chain, by position
        first = np.where(start, np.arange(n), 0)
        self.first = np.maximum.accumulate(first) if n else first  # chain start, chain order

    def running_max(self, raw: I64, keep: B, t: F64 | None = None) -> tuple[I64, F64 | None]:
        """Per position: the highest ``raw`` (mod 2**32 order) of its chain so far, and the
        time of the row that last raised it; -1 / NaN before any kept row.

        Written for memory: each temporary is one 8-byte value a packet, so they are
        worked on in place and dropped as soon as they are used."""
        n = self.n
        o = self.order
        ki = np.flatnonzero(keep[o])
        out = np.full(n, -1, np.int64)
        when = np.full(n, np.nan)
        if not len(ki):
            return out, when
        v = raw[o][ki]
        gs = np.ones(len(ki), bool)
        g = self.idx[ki]
        gs[1:] = g[1:] != g[:-1]
        del g
        gnum = np.cumsum(gs)
        gnum -= 1
        rel = np.empty(len(ki), np.int64)  # the step from the chain's previous kept value
        rel[0] = 0
        np.subtract(v[1:], v[:-1], out=rel[1:])
        rel = _s32(rel)
        rel[gs] = 0
        np.cumsum(rel, out=rel)
        rel -= rel[gs][gnum]  # relative to the chain's first kept value
        base = v[gs][gnum]
        del v
        np.clip(rel, -_SPAN + 1, _SPAN - 1, out=rel)
        gnum *= 2 * _SPAN
        gnum += _SPAN  # an offset a chain, so one running max serves them all
        rel += gnum
        np.maximum.accumulate(rel, out=rel)
        rel -= gnum
        del gnum
        raised = np.ones(len(ki), bool)
        raised[1:] = (rel[1:] > rel[:-1]) | gs[1:]
        del gs
        base += rel
        base %= M32
        val = base
        del rel
        # forward fill within the chain to the rows not kept
        at = np.full(n, -1, np.int64)
        at[ki] = np.arange(len(ki))
        fill = np.where(at >= 0, np.arange(n), -1)
        np.maximum.accumulate(fill, out=fill)
        ok = (fill >= 0) & (fill >= self.first)
        src = at[np.maximum(fill, 0)]
        del at, fill
        src[~ok] = -1
        out[o] = np.where(ok, val[np.maximum(src, 0)], -1)
        del val
        if t is None:
            return out, None
        rt = np.where(raised, np.arange(len(ki)), -1)
        np.maximum.accumulate(rt, out=rt)
        tk = t[o][ki][np.maximum(rt, 0)]
        del rt
        when[o] = np.where(ok, tk[np.maximum(src, 0)], np.nan)
        return out, when


def _before(after: npt.NDArray[Any], prev: I64, missing: Any) -> npt.NDArray[Any]:
    """A per-row "after this row" quantity taken at ``prev`` (previous row of interest)."""
    got = after[np.maximum(prev, 0)]
    out: npt.NDArray[Any] = np.where(prev >= 0, got, missing)
    return out


def _last_reverse(fid: I64, d: npt.NDArray[np.int8], bounds: I64) -> I64:
    """Per position: the last earlier position of the same flow in the other direction."""
    n = len(fid)
    pos = np.arange(n, dtype=np.int64)
    out = np.full(n, -1, np.int64)
    for side in (0, 1):
        last = np.maximum.accumulate(np.where(d == 1 - side, pos, -1)) if n else pos
        sel = d == side
        lr = last[sel]
        out[sel] = np.where(lr >= bounds[fid[sel]], lr, -1)
    return out


def _last_where(fid: I64, d: npt.NDArray[np.int8], bounds: I64, mask: B, *, other: bool) -> I64:
    """Per position: the last earlier position of the same flow, in the other direction
    (or the same one), where ``mask`` holds; -1 if none."""
    n = len(fid)
    pos = np.arange(n, dtype=np.int64)
    out = np.full(n, -1, np.int64)
    for side in (0, 1):
        look = 1 - side if other else side
        hit = np.where((d == look) & mask, pos, -1)
        if not other:
            hit = np.r_[-1, hit[:-1]] if n else hit  # strictly earlier
        last = np.maximum.accumulate(hit) if n else pos
        sel = d == side
        lr = last[sel]
        out[sel] = np.where(lr >= bounds[fid[sel]], lr, -1)
    return out


def _first_beyond(has_ack: B, ack: I64, edge: int) -> int:
    """The first index with an ACK beyond ``edge``, or -1: looked for in windows that double,
    so an ACK found early (the usual case, even when the hole is never filled) costs little
    however long the connection goes on."""
    lo, size = 0, 64
    while lo < len(ack):
        hi = min(lo + size, len(ack))
        hit = np.flatnonzero(has_ack[lo:hi] & _gt(ack[lo:hi], edge))
        if len(hit):
            return lo + int(hit[0])
        lo, size = hi, size * 2
    return -1


def _legs(fid: I64, d: npt.NDArray[np.int8], rtt: F64, clean: B, count: int) -> F64:
    """Per flow and side, the median of the side's clean ACK RTT samples: the capture
    point to that side and back; NaN without samples."""
    med: F64 = stats(fid * 2 + d, np.where(clean, rtt, np.nan), 2 * count).median
    return med.reshape(count, 2)


def _near_side(legs: F64) -> I64:
    """Per flow, the side the capture was taken next to: the one whose own ACKs come back
    in under a tenth of the time the peer's take; -1 when either side has no sample or
    neither is that much nearer."""
    count = len(legs)
    near = np.full(count, -1, np.int64)
    both = ~np.isnan(legs).any(axis=1)
    near[both & (legs[:, 0] < NEAR * legs[:, 1])] = 0
    near[both & (legs[:, 1] < NEAR * legs[:, 0])] = 1
    return near


# Initial TTLs / hop limits of common stacks: Linux and macOS 64, Windows 128, network
# gear 255, some older systems 32 and 60.
INITIAL_TTLS = np.array([32, 60, 64, 128, 255])


def _near_by_ttl(fid: I64, d: npt.NDArray[np.int8], ttl: I64, count: int) -> I64:
    """Per flow, the side whose packets still carry an initial TTL (no router between it
    and the capture point) while the other side's have been decremented; -1 otherwise.
    Each side's most common TTL is taken."""
    out = np.full(count, -1, np.int64)
    ok = ttl >= 0
    if not ok.any():
        return out
    key = (fid[ok] * 2 + d[ok]) * 256 + ttl[ok]
    keys, n = np.unique(key, return_counts=True)
    side = keys // 256
    o = np.lexsort((-n, side))
    first = np.ones(len(o), bool)
    first[1:] = side[o][1:] != side[o][:-1]
    mode = np.full(2 * count, -1, np.int64)
    mode[side[o][first]] = (keys % 256)[o][first]
    m = mode.reshape(count, 2)
    initial = np.isin(m, INITIAL_TTLS)
    both = (m >= 0).all(axis=1)
    out[both & initial[:, 0] & ~initial[:, 1]] = 0
    out[both & initial[:, 1] & ~initial[:, 0]] = 1
    return out


def _copies(key2: I64, x: _In, seglen: I64, behind: B) -> B:
    """Rows that repeat an earlier row of their direction byte for byte, as far as the
    columns tell: seq, length, TS val, checksum and IP ID, where a TS val or an IP ID makes
    each sending unique (pasted text: with -v, which prints the IP ID)."""
    n = len(key2)
    out = np.zeros(n, bool)
    # without a TS val or a nonzero IP ID two sendings of the same bytes may be identical
    # (a stack that zeroes the IP ID under DF): nothing then tells a copy from a resend
    telling = (x.ipid > 0) | (x.ts_val >= 0)
    # pasted text prints no checksum on a segment cut by the snaplen: the IP ID alone then
    telling &= (x.cksum >= 0) | (x.ipid > 0)
    cand = np.flatnonzero((seglen > 0) & (x.seq >= 0) & telling)
    # a copy is behind by definition: only rows sharing a behind row's seq can be involved
    where = key2[cand] * M32 + x.seq[cand]
    cand = cand[np.isin(where, where[behind[cand]])]
    if len(cand) < 2:
        return out
    cols = (x.ipid[cand], x.cksum[cand], x.ts_val[cand], seglen[cand], x.seq[cand], key2[cand])
    o = np.lexsort((cand, *cols))
    same = np.ones(len(o) - 1, bool)
    for col in cols:
        s = col[o]
        same &= s[1:] == s[:-1]
    out[cand[o[1:][same]]] = True
    return out


def _first_match(keys: I64, rows: I64, want: I64) -> tuple[I64, I64]:
    """For each ``want`` key: the first row (lowest) with that key, and how many rows have it."""
    o = np.lexsort((rows, keys))
    ks, rs = keys[o], rows[o]
    lo = np.searchsorted(ks, want, "left")
    hi = np.searchsorted(ks, want, "right")
    found = hi > lo
    first = np.where(found, rs[np.minimum(lo, len(rs) - 1)] if len(rs) else -1, -1)
    return first.astype(np.int64), (hi - lo).astype(np.int64)


@dataclass(slots=True)
class _In:
    """The columns the sequence analysis reads, per position (flow order)."""

    fid: I64
    d: npt.NDArray[np.int8]
    bounds: I64
    flags: I64
    seq: I64
    ack: I64
    length: I64
    win: I64
    eff_win: I64
    t: F64
    ts_val: I64
    ts_ecr: I64
    irtt: F64
    reuse: B
    cksum: I64
    ipid: I64
    ttl: I64


class _Sequence:
    """Wireshark's per-direction state as columns (see the module's docstring); each rule
    is a method that adds its masks to ``codes``."""

    def __init__(self, x: _In) -> None:
        self.x = x
        n = self.n = len(x.fid)
        flags = x.flags
        self.syn, self.fin, self.rst = (flags & SYN) > 0, (flags & FIN) > 0, (flags & RST) > 0
        self.ackf = ((flags & ACK) > 0) & (x.ack >= 0)
        self.plain = ~(self.syn | self.fin | self.rst)
        self.seglen = np.maximum(x.length, 0)
        self.known = x.seq >= 0
        self.end = np.where(self.known, (x.seq + self.seglen + self.syn + self.fin) % M32, -1)
        self.key2 = x.fid * 2 + x.d
        self.ch = _Chains(self.key2)
        self.prev = self.ch.prev
        self.rev = _last_reverse(x.fid, x.d, x.bounds)
        self.has_prev, self.has_rev = self.prev >= 0, self.rev >= 0
        self.fwd_ack = _before(x.ack, self.prev, -1)
        self.rev_ack = _before(x.ack, self.rev, -1)
        self.codes: dict[str, B] = {}
        empty = np.zeros(n, bool)
        self.zwp = self.keep_alive = self.linux_zwp = empty
        self.ns_after: Any = None
        self.fwd_ns: Any = None
        self.fwd_ns_time: Any = None
        self.rev_dupnum: Any = None

    def done_with(self, *names: str) -> None:
        """Free per-position arrays no later rule reads (memory: each is 8 bytes a packet)."""
        for name in names:
            setattr(self, name, None)

    def next_seq(self) -> None:
        """nextseq per direction, with zero-window probes (which do not advance it) found
        against a nextseq without them."""
        x, prev, known = self.x, self.prev, self.known
        rev_win = _before(x.win, self.rev, -1)
        cand = known & (self.seglen == 1) & (rev_win == 0)
        if cand.any():
            ns1, _ = self.ch.running_max(self.end, known & ~cand)
            self.zwp = cand & (x.seq == _before(ns1, prev, -1))
        else:
            self.zwp = cand
        self.ns_after, ns_time = self.ch.running_max(self.end, known & ~self.zwp, x.t)
        assert ns_time is not None
        self.fwd_ns = _before(self.ns_after, prev, -1)
        self.fwd_ns_time = _before(ns_time, prev, np.nan)
        self.ns_known = self.fwd_ns >= 0

    def window_rules(self) -> None:
        """Zero window, lost segment, keep-alive, window update, window full, keep-alive ACK
        and duplicate ACK: Wireshark skips them all for a zero-window probe."""
        x, n, fwd_ns, seglen, plain = self.x, self.n, self.fwd_ns, self.seglen, self.plain
        # A pasted bare ACK has no printed seq (tcpdump shows none without data, SYN, FIN
        # or RST): take it as sitting at nextseq, except when it repeats the last ack after
        # at least a second of silence on the connection, or while the peer's window is
        # zero: then it is a probe, whose seq is nextseq - 1 (RFC 9293 §3.8.4, §3.8.6.1).
        prev_any = np.full(n, np.nan)
        if n > 1:
            prev_any[1:] = x.t[:-1]
            prev_any[np.asarray(x.bounds[:-1])[x.bounds[:-1] < n]] = np.nan
        idle = (x.t - prev_any) >= IDLE_PROBE_S
        peer_closed = self.has_rev & (_before(x.win, self.rev, -1) == 0)
        probe = ~self.known & (seglen == 0) & plain & self.has_prev
        probe &= (x.ack == self.fwd_ack) & (idle | peer_closed)
        seq_eff = np.where(self.known, x.seq, np.where(probe, (fwd_ns - 1) % M32, fwd_ns))
        free = ~self.zwp
        ns_known = self.ns_known
        self.codes["tcp.zero_window"] = (x.win == 0) & plain & free
        self.codes["tcp.lost_segment"] = ns_known & self.known & _gt(x.seq, fwd_ns)
        self.codes["tcp.lost_segment"] &= ~self.rst & free
        # 0-1 byte at nextseq - 1: a keep-alive, or, while the peer's window is zero, the
        # zero-window probe Linux sends (tcp_probe_timer; Wireshark calls it a keep-alive)
        shape = (seglen <= 1) & ns_known & (seq_eff == (fwd_ns - 1) % M32) & plain & free
        self.linux_zwp = shape & peer_closed
        self.keep_alive = shape & ~peer_closed
        fwd_win = _before(x.win, self.prev, -1)
        same_place = (seglen == 0) & self.has_prev & ns_known & (seq_eff == fwd_ns)
        same_place &= (x.ack == self.fwd_ack) & plain & free
        self.codes["tcp.window_update"] = same_place & (x.win > 0) & (x.win != fwd_win)
        rev_eff = _before(x.eff_win, self.rev, -1)
        rev_ack = self.rev_ack
        full = (seglen > 0) & self.known & (rev_eff >= 0) & (rev_ack >= 0)
        full &= (x.seq + seglen) % M32 == (rev_ack + rev_eff) % M32
        self.codes["tcp.window_full"] = full & plain & free
        rev_ka = _before(self.keep_alive, self.rev, False).astype(bool)
        repeat = same_place & (x.win > 0) & (x.win == fwd_win)
        self.codes["tcp.keep_alive"] = self.keep_alive
        self.codes["tcp.keep_alive_ack"] = repeat & rev_ka
        self.dup = repeat & ~rev_ka
        self.codes["tcp.duplicate_ack"] = self.dup
        self.codes["tcp.zero_window_probe"] = self.zwp | self.linux_zwp

    def duplicate_acks(self) -> None:
        """Each duplicate ACK's number in its run; the count restarts whenever a
        direction's ack number changes."""
        x, n, ch = self.x, self.n, self.ch
        o = ch.order
        reset_o = (x.ack != self.fwd_ack)[o] | ch.start
        csum = np.cumsum(self.dup[o].astype(np.int64))
        last_reset = np.maximum.accumulate(np.where(reset_o, np.arange(n), 0)) if n else csum
        dupnum = np.empty(n, np.int64)
        dupnum[o] = csum - csum[last_reset]
        self.dup_ack = np.where(self.dup, dupnum, 0)
        self.rev_dupnum = _before(dupnum, self.rev, 0)

    def _ack_unseen(self) -> B:
        """An ACK beyond the peer's highest *contiguous* sequence number (Wireshark's
        ``maxseqtobeacked``).  That edge follows the peer's nextseq while each of its
        segments starts where the edge stands; a segment beyond it (a hole) leaves it behind
        until one starts exactly there, or until an ACK beyond it moves it up to nextseq.
        Reported once after each packet of the peer, unless that packet was a duplicate
        ACK: Wireshark keeps "already reported" in the peer's duplicate-ACK counter."""
        x = self.x
        edge = _before(self.ns_after, self.rev, -1)  # the peer's edge, as each row sees it
        for rows, held in self._behind():
            edge[rows] = held
        cond = self.ackf & (edge > 0) & _gt(x.ack, edge)
        # Reported once, until the peer sends a packet that moves its ack on or has a
        # finding of its own (measured against tshark 4.0 over the peer corpus; its
        # source keeps this state in the peer's duplicate-ACK counter); a duplicate ACK
        # from the peer mutes it until then too.
        flagged = np.zeros(self.n, bool)
        for code, mask in self.codes.items():
            if code != "tcp.duplicate_ack":
                flagged |= mask
        f, d, bounds = x.fid, x.d, x.bounds
        epoch = _last_where(f, d, bounds, (x.ack != self.fwd_ack) | flagged, other=True)
        last_dup = _last_where(f, d, bounds, self.dup, other=True)
        rows = np.flatnonzero(cond & (epoch >= 0))
        out = np.zeros(self.n, bool)
        if len(rows):
            _, first = np.unique(epoch[rows], return_index=True)
            rows = rows[first]
            out[rows[last_dup[rows] < epoch[rows]]] = True
        return out

    def _behind(self) -> list[tuple[I64, int]]:
        """Episodes where a direction's edge is behind its nextseq: (the rows of the other
        direction that see it, the edge).  There are few (one per hole); each is ended by
        one search in each direction."""
        x, n, ch = self.x, self.n, self.ch
        o = ch.order
        fwd_o = self.fwd_ns[o]
        start_at = np.where(self.known, x.seq, self.fwd_ns)[o]
        free = ~self.zwp[o]
        drop = ~ch.start & (fwd_o >= 0) & (start_at != fwd_o) & (self.ns_after[o] != fwd_o)
        drops = np.flatnonzero(drop & free)
        if not len(drops):
            return []
        starts = np.flatnonzero(ch.start)
        ends = np.r_[starts[1:], n]
        chain_keys = self.key2[o][starts]
        keys = ch.idx * M32 + start_at
        cand = np.flatnonzero(free)
        srt = np.lexsort((cand, keys[cand]))
        skeys, spos = keys[cand][srt], cand[srt]
        ack_o = self.ackf[o]
        out: list[tuple[I64, int]] = []
        at: dict[int, int] = {}
        for k in drops.tolist():
            c = int(ch.idx[k])
            if k < at.get(c, 0):
                continue  # the edge is already behind: not a new episode
            held = int(fwd_o[k])
            # (a) the chain's next segment that starts at the edge
            lo, hi = np.searchsorted(skeys, [c * M32 + held, c * M32 + held + 1])
            later = spos[lo:hi]  # ascending: (key, position) sorted
            later = later[int(np.searchsorted(later, k, "right")) :]
            fill = int(later[0]) if len(later) else int(ends[c])
            at[c] = fill
            oc = int(np.searchsorted(chain_keys, self.key2[o[k]] ^ 1))
            if oc >= len(chain_keys) or chain_keys[oc] != self.key2[o[k]] ^ 1:
                continue  # the other direction sends nothing
            # (b) the other direction's first ACK beyond the edge, before (a)
            mine = o[starts[c] : ends[c]]
            theirs = o[starts[oc] : ends[oc]]
            a = int(np.searchsorted(theirs, o[k]))
            fill_pos = int(o[fill]) if fill < ends[c] else int(x.bounds[x.fid[o[k]] + 1])
            b = int(np.searchsorted(theirs, fill_pos))
            rows = theirs[a:b]
            hit = _first_beyond(ack_o[starts[oc] + a : starts[oc] + b], x.ack[rows], held)
            if hit >= 0:
                rows = rows[: hit + 1]
                at[c] = int(starts[c]) + int(np.searchsorted(mine, int(rows[-1])))
            out.append((rows, held))
        return out

    def retransmissions(self) -> None:
        """Retransmission, fast retransmission, spurious retransmission, out-of-order."""
        x, seglen, fwd_ns, rev_ack = self.x, self.seglen, self.fwd_ns, self.rev_ack
        carries = ((seglen > 0) | self.syn | self.fin) & self.known & ~self.keep_alive
        carries &= ~self.linux_zwp
        behind = self.ns_known & _gt(fwd_ns, x.seq)
        behind &= ~((seglen > 1) & (x.seq == (fwd_ns - 1) % M32))
        spurious = carries & (seglen > 0) & (rev_ack > 0)
        spurious &= ~_gt((x.seq + seglen) % M32, rev_ack)
        since_ack = x.t - _before(x.t, self.rev, np.nan)
        fast = carries & ~spurious & behind & (self.rev_dupnum >= 2) & (rev_ack == x.seq)
        fast &= ~(since_ack >= FAST_RETRANS_S)  # NaN (no times) counts as close
        n = self.n
        thres = np.where(np.isnan(x.irtt), OOO_DEFAULT_S, x.irtt)[x.fid] if n else np.zeros(0)
        ooo = carries & ~spurious & ~fast & behind & ((x.t - self.fwd_ns_time) < thres)
        ooo &= fwd_ns != self.end
        self.behind, self.carries = behind & carries, carries
        self.codes["tcp.retransmission"] = carries & ~spurious & ~fast & ~ooo & behind
        self.codes["tcp.fast_retransmission"] = fast
        self.codes["tcp.spurious_retransmission"] = spurious
        self.codes["tcp.out_of_order"] = ooo
        self.codes["tcp.port_reuse"] = x.reuse

    def with_evidence(self, ack_rtt: F64, clean: B) -> tuple[I64, npt.NDArray[np.int8]]:
        """Retransmission or not, from the packets' own evidence (Wireshark only times
        them): a byte-for-byte copy of an earlier segment is a network duplicate; next to
        the sender (its own ACKs back within a tenth of the peer's) a segment below the
        highest byte sent is always a retransmission; elsewhere one whose TS val is older
        than the newest seen was sent before it (a late original: out of order) and one
        whose TS val is newer was sent after everything seen (a retransmission).  Returns
        each flow's near side (-1 unknown)."""
        x, codes = self.x, self.codes
        count = len(x.bounds) - 1
        self.legs = _legs(x.fid, x.d, ack_rtt, clean, count)
        near = _near_side(self.legs)
        self.near_from = np.where(near >= 0, 1, 0)
        by_ttl = _near_by_ttl(x.fid, x.d, x.ttl, count)
        use = (near < 0) & (by_ttl >= 0)
        near = np.where(use, by_ttl, near)
        self.near_from[use] = 2
        behind = self.behind
        dup = behind & _copies(self.key2, x, self.seglen, behind)
        retrans = codes["tcp.retransmission"] | codes["tcp.fast_retransmission"]
        retrans |= codes["tcp.spurious_retransmission"]
        ooo = codes["tcp.out_of_order"]
        at_sender = behind & (near[x.fid] == x.d)
        ts_prev, _ = self.ch.running_max(x.ts_val, x.ts_val >= 0)
        ts_before = _before(ts_prev, self.prev, -1)
        has_ts = (x.ts_val >= 0) & (ts_before >= 0) & ~at_sender
        older = behind & has_ts & _gt(ts_before, x.ts_val)
        newer = behind & has_ts & _gt(x.ts_val, ts_before)
        # TS vals tie within a clock tick (or are absent): a per-connection IP ID counter
        # (Linux, Windows) still says which was sent first
        evidence = np.zeros(self.n, np.int8)
        evidence[(older | newer)] = EVIDENCE.index("TS val order")
        tie = behind & ~older & ~newer & ~at_sender
        if tie.any():
            id_older, id_newer = self._by_ip_id()
            evidence[tie & (id_older | id_newer)] = EVIDENCE.index("IP ID order")
            older |= tie & id_older
            newer |= tie & id_newer
        evidence[at_sender] = EVIDENCE.index("at the sender")
        evidence[dup] = EVIDENCE.index("byte-for-byte copy")
        to_ooo = older & ~dup
        to_retrans = ((ooo & at_sender) | (ooo & newer)) & ~dup
        for code in (
            "tcp.retransmission",
            "tcp.fast_retransmission",
            "tcp.spurious_retransmission",
        ):
            codes[code] = codes[code] & ~to_ooo & ~dup
        codes["tcp.retransmission"] |= to_retrans & ~retrans
        codes["tcp.out_of_order"] = (ooo & ~to_retrans & ~dup) | to_ooo
        codes["tcp.duplicate_segment"] = dup
        return near, evidence

    def _by_ip_id(self) -> tuple[B, B]:
        """(sent before, sent after) the highest IP ID seen before it in its direction, where
        the direction's IP IDs count up one by one (at least 80% of steps are 1-64)."""
        x, ch, n = self.x, self.ch, self.n
        o = ch.order
        ids = x.ipid[o]
        # data segments only, and not IP ID 0 (Linux's SYN-ACK and other lone packets)
        known = (ids > 0) & (self.seglen[o] > 0)
        ids = np.where(known, ids, 0)
        step = np.zeros(n, np.int64)
        # the step from the direction's previous data segment, wrapping at 2**16
        last = np.where(known, np.arange(n), -1)
        np.maximum.accumulate(last, out=last)
        prev = np.r_[-1, last[:-1]]
        prev = np.where(prev >= ch.first, prev, -1)
        step = np.where(
            known & (prev >= 0), ((ids - ids[np.maximum(prev, 0)] + 0x8000) & 0xFFFF) - 0x8000, 0
        )
        counting = (step >= 1) & (step <= 64)
        stepped = np.bincount(ch.idx, weights=(step != 0), minlength=ch.idx[-1] + 1 if n else 0)
        good = np.bincount(ch.idx, weights=counting, minlength=len(stepped)) >= 0.8 * stepped
        good &= stepped >= 8
        unwrapped = np.cumsum(step) + (1 << 30)  # the same offset within a chain is all it needs
        val = np.full(n, -1, np.int64)
        val[o] = np.where(known & good[ch.idx], unwrapped, -1)
        top, _ = ch.running_max(val, val >= 0)
        before = _before(top, self.prev, -1)
        ok = (val >= 0) & (before >= 0)
        older: B = ok & (val < before)
        newer: B = ok & (val > before)
        return older, newer

    def ack_rtt(self) -> tuple[F64, I64, B]:
        """An ACK that moves this direction's ack forward and equals the end of a segment
        the peer sent earlier measures from the first such segment (Karn: clean when that
        segment was sent once)."""
        x, n = self.x, self.n
        ack_max, _ = self.ch.running_max(x.ack, self.ackf)
        before_max = _before(ack_max, self.prev, -1)
        new_ack = self.ackf & self.has_rev & ((before_max < 0) | _gt(x.ack, before_max))
        seg = ((self.seglen > 0) | self.syn | self.fin) & self.known
        seg_rows = np.flatnonzero(seg)
        ack_rows = np.flatnonzero(new_ack)
        acked = np.full(n, -1, np.int64)
        clean = np.zeros(n, bool)
        if len(seg_rows) and len(ack_rows):
            skeys = self.key2[seg_rows] * M32 + self.end[seg_rows]
            akeys = (x.fid[ack_rows] * 2 + (1 - x.d[ack_rows])) * M32 + x.ack[ack_rows]
            first, count = _first_match(skeys, seg_rows, akeys)
            good = (first >= 0) & (first < ack_rows)
            acked[ack_rows[good]] = first[good]
            clean[ack_rows[good]] = count[good] == 1
        rtt = np.where(acked >= 0, x.t - x.t[np.maximum(acked, 0)], np.nan)
        backwards = rtt < 0  # the clock went back between them: no sample (see Analysis)
        rtt[backwards] = np.nan
        clean &= ~backwards
        return rtt, acked, clean

    def ts_rtt(self) -> F64:
        """A new echo measured from the peer's first packet with that TS val (RFC 7323 §4)."""
        x = self.x
        out = np.full(self.n, np.nan)
        has_ts = x.ts_val >= 0
        prev_ecr = _before(x.ts_ecr, self.prev, -1)
        echo = self.ackf & (x.ts_ecr > 0) & (x.ts_ecr != prev_ecr) & self.has_rev
        ts_rows, echo_rows = np.flatnonzero(has_ts), np.flatnonzero(echo)
        if len(ts_rows) and len(echo_rows):
            tkeys = self.key2[ts_rows] * M32 + x.ts_val[ts_rows]
            ekeys = (x.fid[echo_rows] * 2 + (1 - x.d[echo_rows])) * M32 + x.ts_ecr[echo_rows]
            first, _ = _first_match(tkeys, ts_rows, ekeys)
            good = (first >= 0) & (first < echo_rows)
            out[echo_rows[good]] = x.t[echo_rows[good]] - x.t[first[good]]
        out[out < 0] = np.nan  # the clock went back between them: no sample
        return out

    def in_flight(self) -> I64:
        """After a data segment: highest sequence sent minus the peer's last ack."""
        flight = _s32(self.ns_after - self.rev_ack)
        ok = (self.seglen > 0) & (self.rev_ack >= 0) & (self.ns_after >= 0) & (flight > 0)
        out: I64 = np.where(ok, flight, -1)
        return out


def analyse_sequence(**columns: npt.NDArray[Any]) -> SeqAnalysis:
    """Every finding of every packet; ``columns`` are ``_In``'s fields."""
    sq = _Sequence(_In(**columns))
    sq.next_seq()
    sq.window_rules()
    sq.duplicate_acks()
    sq.retransmissions()
    sq.codes["tcp.ack_unseen"] = sq._ack_unseen()
    in_flight = sq.in_flight()
    sq.done_with("ns_after", "fwd_ns", "fwd_ns_time", "rev_dupnum", "fwd_ack", "rev_ack")
    ack_rtt, acked, clean = sq.ack_rtt()
    near, evidence = sq.with_evidence(ack_rtt, clean)
    ts_rtt = sq.ts_rtt()
    bits = np.zeros(sq.n, np.int32)
    for code, mask in sq.codes.items():
        bits |= mask.astype(np.int32) << Finding(code).bit
    return SeqAnalysis(
        bits=bits,
        dup_ack=sq.dup_ack.astype(np.int32),
        ack_rtt=ack_rtt,
        acked=acked.astype(np.int32),
        ack_rtt_clean=clean,
        ts_rtt=ts_rtt,
        in_flight=in_flight.astype(np.int32),
        near=near,
        near_from=sq.near_from,
        legs=sq.legs,
        evidence=evidence,
    )


# Connections are analysed a block at a time, each block whole connections of about this
# many positions (a larger connection alone): every rule works within one connection, so
# the result is the same, and the temporaries (some forty per-position arrays) scale with
# the block, not with the capture.
BLOCK = 1 << 16
# below this many positions the blocks are analysed in one process (a fork and a hand-over
# cost more than half the work saves)
MIN_SPLIT = 1 << 17

# positions' and connections' fields of a SeqAnalysis, with the value "nothing here"
_PER_POSITION = {
    "dup_ack": 0,
    "ack_rtt": np.nan,
    "acked": -1,
    "ack_rtt_clean": False,
    "ts_rtt": np.nan,
    "in_flight": -1,
    "evidence": 0,
}
_PER_FLOW = ("near", "near_from", "legs")


def blocks(bounds: I64, size: int = BLOCK) -> list[tuple[int, int]]:
    """Connections ``lo:hi`` in runs of whole connections of at most ``size`` positions (or
    one connection larger than that)."""
    count = len(bounds) - 1
    out: list[tuple[int, int]] = []
    lo = 0
    while lo < count:
        hi = int(np.searchsorted(bounds, int(bounds[lo]) + size, side="right")) - 1
        hi = min(max(hi, lo + 1), count)
        out.append((lo, hi))
        lo = hi
    return out


def widen(sa: SeqAnalysis, keep: I64, n: int) -> SeqAnalysis:
    """A sequence analysis of positions ``keep`` spread back over all ``n`` positions."""

    def spread(v: npt.NDArray[Any], missing: Any) -> npt.NDArray[Any]:
        out = np.full(n, missing, dtype=v.dtype)
        out[keep] = v
        return out

    acked = np.where(sa.acked >= 0, keep[np.maximum(sa.acked, 0)], -1).astype(sa.acked.dtype)
    return SeqAnalysis(
        bits=spread(sa.bits, 0),
        near=sa.near,
        near_from=sa.near_from,
        legs=sa.legs,
        **{
            name: spread(acked if name == "acked" else getattr(sa, name), missing)
            for name, missing in _PER_POSITION.items()
        },
    )


def analyse_blocks(
    columns: Callable[[int, int], dict[str, npt.NDArray[Any]]],
    bounds: I64,
    irtt: F64,
    skip: B,
    size: int | None = None,
) -> SeqAnalysis:
    """``analyse_sequence`` over every connection, a block of connections at a time
    (``blocks``).  ``columns(lo, hi)`` gives ``_In``'s per-position fields for positions
    ``lo:hi`` (``fid`` as the connection's number); positions ``skip`` are left out of the
    rules, and get "nothing" in each result.

    Blocks are independent (whole connections each): with many of them, a forked child
    analyses the second half's while this process does the first's (``parallel.Later``),
    and hands them over pickled one by one; the results are those of one process, block
    by block."""
    n = int(bounds[-1])
    runs = blocks(bounds, size or BLOCK) or [(0, 0)]
    one = _Blocks(columns, bounds, irtt, skip)
    if len(runs) == 1:
        return one.analyse(runs[0])
    half = int(np.searchsorted([int(bounds[lo]) for lo, _ in runs], n // 2))
    later = parallel.Later(lambda f: one.write(f, runs[half:]), n, MIN_SPLIT) if half else None
    out: SeqAnalysis | None = None
    try:
        for run in runs[:half]:
            out = _place(out, one.analyse(run), (n, len(bounds) - 1), int(bounds[run[0]]), run)
        file = later.file() if later is not None else None
        for run in runs[half:]:
            sa = _told(file) if file is not None else None
            if sa is None:  # the child gave no more: the rest are analysed here
                file, sa = None, one.analyse(run)
            out = _place(out, sa, (n, len(bounds) - 1), int(bounds[run[0]]), run)
    finally:
        if later is not None:
            later.close()
    assert out is not None
    return out


def _told(file: IO[bytes]) -> SeqAnalysis | None:
    """The child's next block, or None when what it wrote ends or is something else."""
    got = parallel.load(file)
    return got if isinstance(got, SeqAnalysis) else None


class _Blocks:
    """One block of connections analysed (``analyse``), or several written pickled to a
    file (``write``, in the forked child)."""

    def __init__(
        self,
        columns: Callable[[int, int], dict[str, npt.NDArray[Any]]],
        bounds: I64,
        irtt: F64,
        skip: B,
    ) -> None:
        self.columns, self.bounds, self.irtt, self.skip = columns, bounds, irtt, skip

    def analyse(self, run: tuple[int, int]) -> SeqAnalysis:
        lo, hi = run
        bounds = self.bounds
        p0, p1 = int(bounds[lo]), int(bounds[hi])
        cols = self.columns(p0, p1)
        cols["fid"] = cols["fid"] - lo
        keep = np.flatnonzero(~self.skip[p0:p1])
        if len(keep) < p1 - p0:
            cols = {k: v[keep] for k, v in cols.items()}
            at = np.searchsorted(cols["fid"], np.arange(hi - lo + 1)).astype(np.int64)
            sa = analyse_sequence(**cols, bounds=at, irtt=self.irtt[lo:hi])
            return widen(sa, keep, p1 - p0)
        return analyse_sequence(**cols, bounds=bounds[lo : hi + 1] - p0, irtt=self.irtt[lo:hi])

    def write(self, file: IO[bytes], runs: list[tuple[int, int]]) -> None:  # pragma: no cover
        """Each block pickled as it is analysed, so that neither process holds more than
        one of the child's blocks at a time (the peak of a million packets' analysis)."""
        for run in runs:
            pickle.dump(self.analyse(run), file, protocol=pickle.HIGHEST_PROTOCOL)


def _place(
    out: SeqAnalysis | None,
    sa: SeqAnalysis,
    size: tuple[int, int],
    p0: int,
    flows: tuple[int, int],
) -> SeqAnalysis:
    """Block ``sa`` (positions from ``p0``, connections ``flows``) written into ``out``,
    made on the first block for ``size`` (positions, connections)."""
    n, count = size
    if out is None:
        out = SeqAnalysis(
            bits=np.zeros(n, np.int32),
            near=np.full(count, -1, sa.near.dtype),
            near_from=np.zeros(count, sa.near_from.dtype),
            legs=np.full((count, 2), np.nan),
            **{k: np.full(n, v, getattr(sa, k).dtype) for k, v in _PER_POSITION.items()},
        )
    p1 = p0 + len(sa.evidence)
    out.bits[p0:p1] = sa.bits
    for name in _PER_POSITION:
        getattr(out, name)[p0:p1] = getattr(sa, name)
    out.acked[p0:p1] = np.where(sa.acked >= 0, sa.acked + p0, -1)
    lo, hi = flows
    for name in _PER_FLOW:
        getattr(out, name)[lo:hi] = getattr(sa, name)
    return out

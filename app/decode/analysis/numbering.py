"""Relative sequence numbers and time stamp echoes for every packet, as columns.

Relative numbers count from each side's ISN when its SYN is in the capture, else from
tcpdump's base (print-tcp.c): the first ACK-bearing segment of the connection gives
base(sender) = seq and base(receiver) = ack - 1.  A TS ecr echoes the most recent TS val
received (RFC 7323 §3.2): the packet it echoes is the peer's latest earlier packet with that
value.

Both are worked out for all connections at once.  Connections whose numbers cannot be read
from the columns alone (pasted text: tcpdump prints no seq on a bare ACK, so it is inferred
from the stream; a connection from an endpoint to itself) go through the packet-by-packet
walk in ``walk``, which is the definition the columns are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.decode.analysis import sequence
from app.decode.model.packet import ACK, SEQ_MOD, Packet

if TYPE_CHECKING:
    from app.decode.analysis.flows import FlowTable

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@dataclass(slots=True)
class Numbering:
    """Per position (flow order): -1 / NaN where there is nothing to say."""

    seq: I64  # the seq shown: as printed, or inferred for a pasted bare ACK
    seq_inferred: B
    rel_seq: I64
    rel_ack: I64
    echo_row: I64  # table row of the packet whose TS val this ecr echoes
    echo_rtt: F64  # seconds since that packet
    ts_ticks: I64  # TS val minus the sender's first TS val in the connection
    ts_elapsed: F64  # seconds since the sender's first packet with a TS val

    @classmethod
    def empty(cls, n: int) -> Numbering:
        return cls(
            seq=np.full(n, -1, np.int64),
            seq_inferred=np.zeros(n, bool),
            rel_seq=np.full(n, -1, np.int64),
            rel_ack=np.full(n, -1, np.int64),
            echo_row=np.full(n, -1, np.int64),
            echo_rtt=np.full(n, np.nan),
            ts_ticks=np.full(n, -1, np.int64),
            ts_elapsed=np.full(n, np.nan),
        )


def number(ft: FlowTable) -> Numbering:
    c, o = ft.table.cols, ft.order
    out = Numbering.empty(len(o))
    seq = c["seq"][o].astype(np.int64)
    out.seq[:] = seq
    flags = c["flags"][o].astype(np.int64)
    ack = np.where(flags & ACK, c["ack"][o].astype(np.int64), -1)
    _relative(ft, seq, ack, flags, out)
    _echoes(ft, c["ts_val"][o].astype(np.int64), c["ts_ecr"][o].astype(np.int64), flags, out)
    # what the columns cannot tell: unknown seq (inferred by the walk), an ACK without its
    # number, a connection whose two ends are one endpoint
    odd = (seq < 0) | ((flags & ACK > 0) & (ack < 0))
    walk_flows = np.unique(ft.fid[odd])
    same = np.flatnonzero(ft.client_ep == ft.server_ep)
    for f in np.union1d(walk_flows, same).tolist():
        walk(ft, f, out)
    return out


def _relative(ft: FlowTable, seq: I64, ack: I64, flags: I64, out: Numbering) -> None:
    fid, d, pos = ft.fid, ft.dir.astype(np.int64), np.arange(len(ft.order))
    base = ft.isn.copy()  # (flows, 2)
    valid_from = np.where(base >= 0, 0, -1)
    p0 = ft.first(ack >= 0)
    has = p0 >= 0
    q = np.maximum(p0, 0)
    d0 = d[q]
    for side in (0, 1):
        need = has & (base[:, side] < 0)
        from_seq = need & (d0 == side) & (seq[q] >= 0)
        from_ack = need & (d0 != side)
        base[from_seq, side] = seq[q][from_seq]
        base[from_ack, side] = (ack[q][from_ack] - 1) % SEQ_MOD
        valid_from[from_seq | from_ack, side] = p0[from_seq | from_ack]
    vf_src = valid_from[fid, d]
    ok = (seq >= 0) & (vf_src >= 0) & (pos >= vf_src)
    out.rel_seq[ok] = (seq[ok] - base[fid, d][ok]) % SEQ_MOD
    vf_dst = valid_from[fid, 1 - d]
    ok = (ack >= 0) & (vf_dst >= 0) & (pos >= vf_dst)
    out.rel_ack[ok] = (ack[ok] - base[fid, 1 - d][ok]) % SEQ_MOD


def _echoes(ft: FlowTable, ts_val: I64, ts_ecr: I64, flags: I64, out: Numbering) -> None:
    fid, d = ft.fid, ft.dir.astype(np.int64)
    t = ft.table.cols["time"][ft.order]
    has_ts = ts_val >= 0
    # each side's first TS val and its time
    side_key = fid * 2 + d
    first = np.full(2 * ft.count, -1, np.int64)
    rows = np.flatnonzero(has_ts)
    if len(rows):
        keys = side_key[rows]
        head = np.ones(len(rows), bool)
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
        head[1:] = ks[1:] != ks[:-1]
        first[ks[head]] = rows[order][head]
        f0 = first[side_key[rows]]
        out.ts_ticks[rows] = (ts_val[rows] - ts_val[f0]) % SEQ_MOD
        out.ts_elapsed[rows] = t[rows] - t[f0]
    # the peer's latest earlier packet carrying the echoed value: a block of whole
    # connections at a time (no key is shared by two connections), so the sort's
    # temporaries scale with the block, not with the capture
    echo = np.flatnonzero((ts_ecr > 0) & (flags & ACK > 0))
    if not len(rows) or not len(echo):
        return
    for lo, hi in sequence.blocks(ft.bounds, sequence.BLOCK):
        p0, p1 = int(ft.bounds[lo]), int(ft.bounds[hi])
        r = rows[np.searchsorted(rows, p0) : np.searchsorted(rows, p1)]
        e = echo[np.searchsorted(echo, p0) : np.searchsorted(echo, p1)]
        if len(r) and len(e):
            _match(ft, (side_key, ts_val, ts_ecr, t), r, e, out)


def _match(
    ft: FlowTable,
    cols: tuple[I64, I64, I64, F64],
    rows: I64,
    echo: I64,
    out: Numbering,
) -> None:
    """``echo_row`` and ``echo_rtt`` of positions ``echo`` (ACKs echoing a TS value) from
    the packets ``rows`` (carrying one)."""
    side_key, ts_val, ts_ecr, t = cols
    val_key = side_key[rows] * SEQ_MOD + ts_val[rows]
    ask_key = (side_key[echo] ^ 1) * SEQ_MOD + ts_ecr[echo]  # the other side's
    keys = np.concatenate([val_key, ask_key])
    at = np.concatenate([rows, echo])
    kind = np.concatenate([np.ones(len(rows), np.int8), np.zeros(len(echo), np.int8)])
    # by key, then position; at one position a question comes before a value
    o = np.lexsort((kind, at, keys))
    keys, at, kind = keys[o], at[o], kind[o]
    idx = np.arange(len(keys))
    last_val = np.maximum.accumulate(np.where(kind == 1, idx, -1))
    q = np.flatnonzero(kind == 0)
    lv = last_val[q]
    hit = (lv >= 0) & (keys[np.maximum(lv, 0)] == keys[q])
    src = at[lv[hit]]
    dst = at[q[hit]]
    out.echo_row[dst] = ft.order[src]
    out.echo_rtt[dst] = t[dst] - t[src]


def walk(ft: FlowTable, f: int, out: Numbering) -> None:
    """One connection packet by packet (the definition the columns follow)."""
    lo, hi = int(ft.bounds[f]), int(ft.bounds[f + 1])
    packets = [ft.table.packet(int(r)) for r in ft.order[lo:hi]]
    ends = (ft.endpoint(int(ft.client_ep[f])), ft.endpoint(int(ft.server_ep[f])))
    isn = (int(ft.isn[f, 0]), int(ft.isn[f, 1]))
    base: dict[str, int | None] = {e: None for e in ends}
    for e, i in zip(ends, isn, strict=True):
        if i >= 0:
            base[e] = i
    next_seq: dict[str, int] = {}
    last_ack: dict[str, int] = {}
    for k, p in enumerate(packets, lo):
        _walk_one(p, base, next_seq, last_ack)
        out.seq[k] = -1 if p.seq is None else p.seq
        out.seq_inferred[k] = p.seq_inferred
        out.rel_seq[k] = -1 if p.rel_seq is None else p.rel_seq
        out.rel_ack[k] = -1 if p.rel_ack is None else p.rel_ack
    _walk_echoes(packets, ends, lo, out)


def _walk_one(
    p: Packet, base: dict[str, int | None], next_seq: dict[str, int], last_ack: dict[str, int]
) -> None:
    if p.seq is None and (p.ack is not None or p.flags & ACK):
        guess = next_seq.get(p.src, last_ack.get(p.dst))
        if guess is not None:
            p.seq = guess
            p.seq_inferred = True
    if p.flags & ACK and (base.get(p.src) is None or base.get(p.dst) is None):
        if base.get(p.src) is None and p.seq is not None and not p.seq_inferred:
            base[p.src] = p.seq
        if base.get(p.dst) is None and p.ack is not None:
            base[p.dst] = (p.ack - 1) % SEQ_MOD
    if p.seq is not None:
        b = base.get(p.src)
        if b is not None:
            p.rel_seq = (p.seq - b) % SEQ_MOD
        end = (p.seq + p.seg_len) % SEQ_MOD
        prev = next_seq.get(p.src)
        if prev is None or 0 < (end - prev) % SEQ_MOD < (1 << 31):
            next_seq[p.src] = end
    if p.ack is not None and p.flags & ACK:
        b = base.get(p.dst)
        if b is not None:
            p.rel_ack = (p.ack - b) % SEQ_MOD
        last_ack[p.src] = p.ack
    if not p.flags & ACK:
        p.rel_ack = None


def _walk_echoes(packets: list[Packet], ends: tuple[str, str], lo: int, out: Numbering) -> None:
    first_val: dict[str, tuple[int, float | None]] = {}
    seen_vals: dict[str, dict[int, Packet]] = {ends[0]: {}, ends[1]: {}}
    for k, p in enumerate(packets, lo):
        o = p.options
        if o.ts_val is not None:
            if p.src not in first_val:
                first_val[p.src] = (o.ts_val, p.time)
            v0, t0 = first_val[p.src]
            out.ts_ticks[k] = (o.ts_val - v0) % SEQ_MOD
            out.ts_elapsed[k] = np.nan if p.time is None or t0 is None else p.time - t0
        if o.ts_ecr and p.flags & ACK:
            q = seen_vals.get(p.dst, {}).get(o.ts_ecr)
            if q is not None:
                out.echo_row[k] = q.n - 1
                if p.time is not None and q.time is not None:
                    out.echo_rtt[k] = p.time - q.time
        if o.ts_val is not None:
            seen_vals.setdefault(p.src, {})[o.ts_val] = p

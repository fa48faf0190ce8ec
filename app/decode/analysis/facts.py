"""Per-connection facts built on the flow table: Zeek's ``conn_state`` and ``history``, RTT
statistics, finding counts, throughput, and what the SYNs negotiated beyond MSS, window scale,
SACK and timestamps (ECN, TCP Fast Open, Multipath TCP).

Zeek's definitions (base/protocols/conn/main.zeek, the ``conn_state`` and ``history`` fields
of conn.log): the originator is the side that sent the first SYN; history letters are upper
case for the originator and lower case for the responder, each recorded the first time it
happens; C, G, T and W are recorded again at the 10th, 100th, 1000th... time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.decode.analysis.flows import FlowTable
from app.decode.analysis.stats import Stats, stats
from app.decode.model.codes import FINDING_CODES, ConnState, EndedBy, RolesFrom
from app.decode.model.i18n import N_
from app.decode.model.options import Kind
from app.decode.model.packet import ACK, CWR, ECE, FIN, RST, SYN

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

STATES = ConnState.texts()
STATE_TEXT: dict[str, str] = {  # Zeek conn_state meanings, in English; gettext them
    "S0": N_("connection attempt seen, no reply"),
    "S1": N_("established, not terminated"),
    "SF": N_("normal establishment and termination"),
    "REJ": N_("connection attempt rejected"),
    "S2": N_(
        "established, the originator tried to close, no reply from the responder",
    ),
    "S3": N_(
        "established, the responder tried to close, no reply from the originator",
    ),
    "RSTO": N_(
        "established, the originator aborted (sent a RST)",
    ),
    "RSTR": N_("the responder sent a RST"),
    "RSTOS0": N_(
        "the originator sent a SYN then a RST; no SYN-ACK seen",
    ),
    "RSTRH": N_(
        "the responder sent a SYN-ACK then a RST; no SYN seen",
    ),
    "SH": N_(
        "the originator sent a SYN then a FIN; no SYN-ACK seen (half open)",
    ),
    "SHR": N_(
        "the responder sent a SYN-ACK then a FIN; no SYN seen",
    ),
    "OTH": N_("no SYN seen, just midstream traffic"),
}

_REPEATED = set("CGTW")


@dataclass(slots=True)
class Facts:
    state: I64  # ConnState
    history: list[str]
    ack_rtt: Stats  # seconds
    ts_rtt: Stats
    counts: I32  # (flows, len(FINDING_CODES))
    max_dup: I64
    throughput: F64  # (flows, 2) bits per second of payload, NaN when it cannot be timed
    data_segments: I64  # (flows, 2) segments carrying payload
    ecn: I64  # 0 not offered, 1 offered by the client, 2 negotiated (RFC 3168 §6.1.1)
    tfo: npt.NDArray[np.int8]  # (flows, 2): 0 none, 1 cookie request, 2 cookie, 3 data in SYN
    mptcp: B  # (flows, 2): the SYN carried MP_CAPABLE
    side_rtt: Stats  # (flows, 2) arrays: the capture point to each side and back, seconds
    path_rtt: Stats  # between the endpoints: handshake, else the two sides' legs added
    path_source: I64  # PATH_SOURCES index
    vantage: I64  # VANTAGES index
    cwr: I64  # packets outside the handshake with CWR: the sender answering ECE


PATH_SOURCES = ("none", "handshake", "ack", "ts")
VANTAGES = ("unknown", "client", "server", "between")
# One leg this much shorter than the other puts the capture point next to that endpoint.
NEAR = 0.1


_SYN_KINDS = (Kind.MPTCP, Kind.TFO, Kind.EXP2)


def _syn_options(ft: FlowTable) -> tuple[npt.NDArray[np.int8], B]:
    """TFO and MPTCP per side, read from the SYNs' option bytes (or the printed options)."""
    tfo = np.zeros((ft.count, 2), np.int8)
    mptcp = np.zeros((ft.count, 2), bool)
    table = ft.table
    c = table.cols
    blob = table.opt_bytes
    fs, ds = np.nonzero(ft.syn_pos >= 0)
    rows = ft.order[ft.syn_pos[fs, ds]]
    # only SYNs whose option bytes contain a kind of interest (or text rows) need a walk
    starts = c["opt_start"][rows].astype(np.int64)
    sizes = np.where(starts >= 0, np.maximum(c["opt_len"][rows].astype(np.int64), 0), 0)
    maybe = np.zeros(len(rows), bool)
    total = int(sizes.sum())
    if total:
        # every SYN's option bytes, one after another (int32 offsets: half the memory)
        small = np.int32 if len(blob) < 1 << 31 else np.int64
        ends = np.cumsum(sizes)
        at = np.repeat((starts - ends + sizes).astype(small), sizes)
        at += np.arange(total, dtype=small)
        hit = np.flatnonzero(np.isin(np.frombuffer(blob, np.uint8)[at], _SYN_KINDS))
        del at
        maybe[np.searchsorted(ends, hit, side="right")] = True
    if table.objects:
        maybe |= np.isin(rows, np.fromiter(table.objects, np.int64, len(table.objects)))
    for f, d, row in zip(fs[maybe].tolist(), ds[maybe].tolist(), rows[maybe].tolist(), strict=True):
        data_in_syn = int(c["length"][row]) > 0
        obj = table.objects.get(row) if table.objects else None
        if obj is not None:
            names = " ".join(obj.options.other).lower()
            if "mptcp" in names or "mp_capable" in names:
                mptcp[f, d] = True
            if "tfo" in names:
                tfo[f, d] = 2 if "cookie " in names and "cookiereq" not in names else 1
                if data_in_syn:
                    tfo[f, d] = 3
            continue
        start, length = int(c["opt_start"][row]), int(c["opt_len"][row])
        if start < 0 or length <= 0:
            continue
        opts = bytes(blob[start : start + length])
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == Kind.EOL:
                break
            if kind == Kind.NOP:
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            size = opts[i + 1]
            if kind == Kind.MPTCP:  # Multipath TCP (RFC 8684 §3.1: MP_CAPABLE in the SYN)
                mptcp[f, d] = True
            elif kind == Kind.TFO or (kind == Kind.EXP2 and opts[i + 2 : i + 4] == b"\xf9\x89"):
                # TCP Fast Open (RFC 7413 §4.1.1): empty = cookie request, else a cookie
                body = size - (2 if kind == Kind.TFO else 4)
                tfo[f, d] = 3 if data_in_syn and body > 0 else (2 if body > 0 else 1)
            i += size
    return tfo, mptcp


class _Rows:
    """Per-position columns (flow order) the facts are computed from."""

    def __init__(self, ft: FlowTable) -> None:
        c, o = ft.table.cols, ft.order
        self.flags = flags = c["flags"][o]
        self.length = np.maximum(c["length"][o].astype(np.int64), 0)
        self.win = c["win"][o]
        self.t = c["time"][o]
        self.bad_cksum = c["cksum_status"][o] == 2  # Zeek history "C"
        self.syn, self.ack = (flags & SYN) > 0, (flags & ACK) > 0
        self.fin, self.rst = (flags & FIN) > 0, (flags & RST) > 0
        self.code = _Masks(ft.findings)


class _Masks:
    """Each finding's mask, made from the ``findings`` bits when asked for (all of them at
    once would be a bool array per finding code)."""

    def __init__(self, bits: npt.NDArray[np.int32]) -> None:
        self.bits = bits
        self.index = {name: i for i, name in enumerate(FINDING_CODES)}

    def __getitem__(self, name: str) -> B:
        out: B = (self.bits >> self.index[name]) & 1 > 0
        return out


def connection_facts(ft: FlowTable) -> Facts:
    r = _Rows(ft)
    ack_rtt, ts_rtt, counts, max_dup = _rtts_and_counts(ft, r)
    throughput, data_segments = _throughput(ft, r)
    tfo, mptcp = _syn_options(ft)
    side_rtt = _side_rtt(ft)
    path_rtt, path_source = _path_rtt(ft, side_rtt)
    return Facts(
        side_rtt=side_rtt,
        path_rtt=path_rtt,
        path_source=path_source,
        vantage=_vantage(ft),
        cwr=np.bincount(ft.fid[((r.flags & CWR) > 0) & ~r.syn], minlength=ft.count).astype(
            np.int64
        ),
        state=_conn_state(ft, r),
        history=_history(ft, r),
        ack_rtt=ack_rtt,
        ts_rtt=ts_rtt,
        counts=counts,
        max_dup=max_dup,
        throughput=throughput,
        data_segments=data_segments,
        ecn=_ecn(ft, r),
        tfo=tfo,
        mptcp=mptcp,
    )


def _conn_state(ft: FlowTable, r: _Rows) -> I64:
    """Zeek's conn_state.  The flow table has the roles (from a pure SYN, sent by the client
    by definition) and the first RST's sender (the closer of a reset or refused one)."""
    count, d = ft.count, ft.dir
    syn, ack, fin = r.syn, r.ack, r.fin
    has_syn = ft.roles_from == RolesFrom.SYN
    has_synack = ft.first(syn & ack & (d == 1)) >= 0
    aborted = np.isin(ft.ended_by, (EndedBy.RESET, EndedBy.REFUSED))
    rst_by = np.where(aborted, ft.closer, -1)
    fin_o, fin_r = ft.any(fin & (d == 0)), ft.any(fin & (d == 1))
    st = np.full(count, ConnState.OTH, np.int64)
    est = has_syn & has_synack
    only_syn = has_syn & ~has_synack
    only_synack = ~has_syn & has_synack
    st[only_syn] = ConnState.S0
    st[only_syn & fin_o] = ConnState.SH
    st[only_syn & (rst_by == 0)] = ConnState.RSTOS0
    st[only_syn & (rst_by == 1)] = ConnState.REJ
    st[only_synack & fin_r] = ConnState.SHR
    st[only_synack & (rst_by == 1)] = ConnState.RSTRH
    st[est] = ConnState.S1
    st[est & fin_o & ~fin_r] = ConnState.S2
    st[est & fin_r & ~fin_o] = ConnState.S3
    st[est & fin_o & fin_r] = ConnState.SF
    st[est & (rst_by == 0)] = ConnState.RSTO
    st[est & (rst_by == 1)] = ConnState.RSTR
    return st


def _history(ft: FlowTable, r: _Rows) -> list[str]:
    """Zeek's history letters, in the order they first happened."""
    count, fid, d = ft.count, ft.fid, ft.dir
    syn, ack, fin, rst, length, win, code = r.syn, r.ack, r.fin, r.rst, r.length, r.win, r.code
    letters = [
        ("S", syn & ~ack & ~fin & ~rst),
        ("H", syn & ack & ~fin & ~rst),
        ("A", ack & ~syn & ~fin & ~rst & (length == 0)),
        ("D", length > 0),
        ("F", fin),
        ("R", rst),
        ("C", r.bad_cksum),
        ("G", code["tcp.lost_segment"] | code["tcp.ack_unseen"]),
        (
            "T",
            code["tcp.retransmission"]
            | code["tcp.fast_retransmission"]
            | code["tcp.spurious_retransmission"],
        ),
        ("W", (win == 0) & ~syn & ~rst),
        ("I", fin & rst),
        ("Q", syn & (fin | rst)),
    ]
    ev_f: list[I64] = []
    ev_p: list[I64] = []
    ev_c: list[npt.NDArray[np.str_]] = []
    for letter, mask in letters:
        for side, ch in ((0, letter), (1, letter.lower())):
            idxs = np.flatnonzero(mask & (d == side))
            if not len(idxs):
                continue
            g = fid[idxs]
            head = np.ones(len(idxs), bool)
            head[1:] = g[1:] != g[:-1]
            k = np.arange(len(idxs)) - np.maximum.accumulate(
                np.where(head, np.arange(len(idxs)), 0)
            )
            keep = k == 0
            if letter in _REPEATED:
                keep |= np.isin(k + 1, (10, 100, 1000, 10000, 100000))
            ev_f.append(g[keep])
            ev_p.append(idxs[keep])
            ev_c.append(np.full(int(keep.sum()), ch, dtype="<U1"))
    history = [""] * count
    flipped = (ft.roles_from > 0) & (d[ft.bounds[:-1]] == 1) if count else np.zeros(0, bool)
    if ev_f:
        ef, ep, ec = np.concatenate(ev_f), np.concatenate(ev_p), np.concatenate(ev_c)
        so = np.lexsort((ep, ef))
        ef, ec = ef[so], ec[so]
        cuts = np.searchsorted(ef, np.arange(count + 1))
        chars = ec.tolist()
        for f in range(count):
            a, b = int(cuts[f]), int(cuts[f + 1])
            history[f] = "".join(chars[a:b])
    for f in np.flatnonzero(flipped).tolist():
        history[f] = "^" + history[f]
    return history


def _rtts_and_counts(ft: FlowTable, r: _Rows) -> tuple[Stats, Stats, I32, I64]:
    n, count, fid, code = len(ft.order), ft.count, ft.fid, r.code
    sa = ft.seq
    ack_rtt = stats(fid, np.where(sa.ack_rtt_clean, sa.ack_rtt, np.nan), count)
    ts_rtt = stats(fid, sa.ts_rtt, count)
    counts = np.zeros((count, len(FINDING_CODES)), np.int32)
    for i, name in enumerate(FINDING_CODES):
        m = code[name]
        if m.any():
            counts[:, i] = np.bincount(fid[m], minlength=count)
    max_dup = np.zeros(count, np.int64)
    if n and sa.dup_ack.any():
        np.maximum.at(max_dup, fid, sa.dup_ack)
    return ack_rtt, ts_rtt, counts, max_dup


def _side_rtt(ft: FlowTable) -> Stats:
    """Per side, the round trip from the capture point to that side and back: the ACK RTT
    samples of the ACKs it sent (Karn-filtered), else the TS echo samples of the echoes it
    sent (RFC 7323 §4).  A capture next to the client sees its ACKs in microseconds and the
    server's after the whole path."""
    sa, count = ft.seq, ft.count
    key = ft.fid * 2 + ft.dir
    ack = stats(key, np.where(sa.ack_rtt_clean, sa.ack_rtt, np.nan), 2 * count)
    ts = stats(key, sa.ts_rtt, 2 * count)
    use_ts = (ack.samples == 0) & (ts.samples > 0)

    def pick(a: F64, b: F64) -> F64:
        out: F64 = np.where(use_ts, b, a).reshape(count, 2)
        return out

    return Stats(
        pick(ack.min, ts.min),
        pick(ack.median, ts.median),
        pick(ack.max, ts.max),
        np.where(use_ts, ts.samples, ack.samples).reshape(count, 2),
    )


def _path_rtt(ft: FlowTable, side: Stats) -> tuple[Stats, I64]:
    """The round trip between the endpoints: the handshake (SYN to the ACK of the SYN-ACK
    spans both legs wherever the capture was taken), else the two legs added."""
    count = ft.count
    source = np.zeros(count, np.int64)
    both = (side.samples > 0).all(axis=1)
    med = np.where(both, side.median.sum(axis=1), np.nan)
    low = np.where(both, side.min.sum(axis=1), np.nan)
    high = np.where(both, side.max.sum(axis=1), np.nan)
    samples = np.where(both, side.samples.min(axis=1), 0).astype(np.int64)
    source[both] = PATH_SOURCES.index("ack")
    hs = ~np.isnan(ft.irtt)
    for arr in (med, low, high):
        arr[hs] = ft.irtt[hs]
    samples[hs] = 1
    source[hs] = PATH_SOURCES.index("handshake")
    return Stats(low, med, high, samples), source


def _vantage(ft: FlowTable) -> I64:
    """Where the capture was taken: the sequence analysis decided it from the two sides'
    ACK RTT medians (it uses it to tell retransmissions); "between" when both were
    measured and neither is near."""
    sa = ft.seq
    both = ~np.isnan(sa.legs).any(axis=1)
    out = np.where(both, VANTAGES.index("between"), VANTAGES.index("unknown")).astype(np.int64)
    out[sa.near == 0] = VANTAGES.index("client")
    out[sa.near == 1] = VANTAGES.index("server")
    return out


def _throughput(ft: FlowTable, r: _Rows) -> tuple[F64, I64]:
    """Payload bits over the time from a side's first to its last data segment, and the
    data segments of each side."""
    count, fid, d, t, length = ft.count, ft.fid, ft.dir, r.t, r.length
    throughput = np.full((count, 2), np.nan)
    for side in (0, 1):
        m = (length > 0) & (d == side) & ~np.isnan(t)
        if not m.any():
            continue
        f = fid[m]
        t0 = np.full(count, np.inf)
        t1 = np.full(count, -np.inf)
        np.minimum.at(t0, f, t[m])
        np.maximum.at(t1, f, t[m])
        span = t1 - t0
        ok = span > 0
        throughput[ok, side] = ft.side_bytes[ok, side] * 8 / span[ok]

    has_data = length > 0
    data_segments = (
        np.bincount((fid * 2 + d)[has_data], minlength=2 * count).reshape(-1, 2).astype(np.int64)
    )
    return throughput, data_segments


def _ecn(ft: FlowTable, r: _Rows) -> I64:
    """RFC 3168 §6.1.1: a SYN with ECE+CWR offers ECN, a SYN-ACK with ECE alone accepts."""
    count, d, flags, syn, ack = ft.count, ft.dir, r.flags, r.syn, r.ack
    ecn = np.zeros(count, np.int64)
    offered = ft.any(syn & ~ack & (d == 0) & ((flags & (ECE | CWR)) == (ECE | CWR)))
    accepted = ft.any(syn & ack & (d == 1) & ((flags & (ECE | CWR)) == ECE))
    ecn[offered] = 1
    ecn[offered & accepted] = 2
    return ecn

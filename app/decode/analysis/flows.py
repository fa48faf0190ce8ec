"""Group packets into TCP connections and work out what each packet means in its connection.

``FlowTable`` does the work for all connections at once on the packet table's columns
(numpy: sorts, group-wise first/any, bincounts); a ``Flow`` with ``Packet`` objects is made
for one connection only when something shows it, and only then are the per-packet relative
numbers and time stamp echoes worked out (``_number``, ``_timestamps``).

Facts used here, with their sources:
- SYN and FIN each consume one sequence number (RFC 9293 §3.4).
- Window scale applies only when both SYNs carried the option; the window field of a SYN or
  SYN-ACK is never scaled; a shift above 14 is used as 14 (RFC 7323 §2.2-2.3).
- TSecr echoes the most recent TSval received and is valid only with ACK set (RFC 7323 §3.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from app.decode.analysis.numbering import Numbering, number
from app.decode.analysis.sequence import EVIDENCE, SeqAnalysis, analyse_blocks
from app.decode.model.codes import (
    FINDING_CODES,
    Direction,
    EndedBy,
    Finding,
    Handshake,
    Phase,
    RolesFrom,
    Scale,
    Scaling,
)
from app.decode.model.options import is_dsack
from app.decode.model.packet import (
    ACK,
    ENDPOINT_PORTS,
    FIN,
    RST,
    SEQ_MOD,
    SYN,
    Packet,
    format_endpoint,
)
from app.decode.model.services import SERVICES
from app.decode.model.table import Columns, PacketTable, RowTexts

MAX_WSCALE = 14  # RFC 7323 §2.3
_WELL_KNOWN = set(SERVICES.values())

_V = TypeVar("_V")


@dataclass(slots=True)
class Side:
    """What one endpoint announced in its SYN (or SYN-ACK)."""

    endpoint: str
    syn_n: int | None = None  # packet number of its SYN
    isn: int | None = None
    mss: int | None = None
    wscale: int | None = None
    sack_perm: bool = False
    timestamps: bool = False
    packets: int = 0
    bytes: int = 0


@dataclass(slots=True)
class PacketInfo:
    """Per-packet meaning that needs the whole connection to compute."""

    direction: str  # "c2s" or "s2c"
    phase: str  # "handshake", "data", "teardown", "half_close"
    eff_win: int | None = None
    scale: str = "unknown"  # "syn" (never scaled), "scaled", "none", "unknown"
    shift: int | None = None
    echo_of: int | None = None  # packet number whose TS val this ecr echoes
    echo_rtt: float | None = None  # seconds between that packet and this one
    ts_ticks: int | None = None  # TS val minus this side's first TS val in the flow
    ts_elapsed: float | None = None
    dup_ack: int | None = None  # number of this duplicate ACK in its run
    acks: int | None = None  # packet number of the segment this ACK first acknowledges
    ack_rtt: float | None = None  # seconds since that segment
    ts_rtt: float | None = None  # seconds since the peer's first packet with the echoed TSval
    in_flight: int | None = None  # bytes sent and not yet acknowledged after this segment


@dataclass(slots=True)
class Flow:
    """One connection as objects, or a window of it: ``packets`` are its packets from
    position ``offset`` on (all of them unless a window was asked for)."""

    id: int
    client: Side
    server: Side
    packets: list[Packet]
    info: list[PacketInfo] = field(default_factory=list)
    roles_from: str = "syn"  # "syn", "syn-ack", "heuristic"
    handshake: str = "none"  # "complete", "partial", "none"
    scaling: str = "unknown"  # "both", "none", "unknown"
    ended_by: str = "open"
    closer: str | None = None  # "client" / "server"
    start: float | None = None  # time of its first packet
    packet_count: int = 0  # in the whole connection
    offset: int = 0

    def side_of(self, p: Packet) -> tuple[Side, Side]:
        """(sender, receiver) sides of packet ``p``."""
        if p.src == self.client.endpoint:
            return self.client, self.server
        return self.server, self.client


# Per-position columns of the analysis, kept beside the packet table's own (see
# ``FlowTable.positions``): enough to make any window of any connection into objects.
POSITION_COLUMNS: dict[str, type[Any]] = {
    "row": np.int64,  # the packet table row (packet number - 1)
    "dir": np.int8,
    "phase": np.int8,
    "scale": np.int8,
    "shift": np.int8,
    "eff_win": np.int64,
    "findings": np.int32,
    "dup_ack": np.int64,
    "acked_row": np.int64,
    "ack_rtt": np.float64,
    "ts_rtt": np.float64,
    "in_flight": np.int64,
    "seq_shown": np.int64,
    "seq_inferred": np.bool_,
    "rel_seq": np.int64,
    "rel_ack": np.int64,
    "echo_row": np.int64,
    "echo_rtt": np.float64,
    "ts_ticks": np.int64,
    "ts_elapsed": np.float64,
}


def _num(v: int) -> int | None:
    return None if v < 0 else v


def _real(v: float) -> float | None:
    return None if v != v else v


def window_flow(part: PacketTable, meta: Flow) -> Flow:
    """``meta`` (a Flow without packets) filled with the packets of ``part``: a slice of
    the per-position columns (packet table and analysis), one row per packet shown."""
    pairs = [row_objects(part, i) for i in range(len(part))]
    meta.packets = [p for p, _ in pairs]
    meta.info = [info for _, info in pairs]
    return meta


def row_objects(part: PacketTable, i: int) -> tuple[Packet, PacketInfo]:
    """Row ``i`` of a slice of positions as the packet and what it means in its flow."""
    c = part.cols
    p = part.packet(i)
    bits = int(c["findings"][i])
    p.findings = [code for k, code in enumerate(FINDING_CODES) if bits >> k & 1]
    shown = int(c["seq_shown"][i])
    if p.seq is None and shown >= 0:
        p.seq = shown
    p.seq_inferred = bool(c["seq_inferred"][i])
    p.rel_seq = _num(int(c["rel_seq"][i]))
    p.rel_ack = _num(int(c["rel_ack"][i]))
    acked, echo = int(c["acked_row"][i]), int(c["echo_row"][i])
    info = PacketInfo(
        direction=Direction(int(c["dir"][i])).text,
        phase=PHASE_NAMES[int(c["phase"][i])],
        eff_win=_num(int(c["eff_win"][i])),
        scale=SCALE_NAMES[int(c["scale"][i])],
        shift=_num(int(c["shift"][i])),
        echo_of=None if echo < 0 else echo + 1,
        echo_rtt=_real(float(c["echo_rtt"][i])),
        ts_ticks=_num(int(c["ts_ticks"][i])),
        ts_elapsed=_real(float(c["ts_elapsed"][i])),
        dup_ack=int(c["dup_ack"][i]) or None,
        acks=None if acked < 0 else acked + 1,
        ack_rtt=_real(float(c["ack_rtt"][i])),
        ts_rtt=_real(float(c["ts_rtt"][i])),
        in_flight=_num(int(c["in_flight"][i])),
    )
    return p, info


I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

ROLES_FROM = RolesFrom.texts()
HANDSHAKE = Handshake.texts()
SCALING = Scaling.texts()
PHASE_NAMES = Phase.texts()
SCALE_NAMES = Scale.texts()
ENDED_BY = EndedBy.texts()
_WELL_KNOWN_PORTS = np.array(sorted(_WELL_KNOWN), dtype=np.int64)


def _serverish(port: I64) -> B:
    out: B = (port >= 0) & ((port < 1024) | np.isin(port, _WELL_KNOWN_PORTS))
    return out


FLOW_COLUMNS = (
    "first_pos",
    "count",
    "client_ep",
    "server_ep",
    "syn_row",
    "isn",
    "mss",
    "wscale",
    "sackok",
    "timestamps",
    "side_packets",
    "side_bytes",
    "roles_from",
    "handshake",
    "scaling",
    "ended_by",
    "closer",
    "start",
)


def endpoint_text(hosts: list[str], ep: int, port_names: dict[int, str] | None = None) -> str:
    """An endpoint code (host id * ENDPOINT_PORTS + port + 1) as ``host:port``."""
    host, port = divmod(int(ep), ENDPOINT_PORTS)
    return format_endpoint(hosts[host], None if port < 1 else port - 1, port_names)


def flow_meta(
    cols: Columns, i: int, hosts: list[str], flow_id: int, port_names: dict[int, str] | None = None
) -> Flow:
    """Connection ``i`` of ``cols`` (``FlowTable.flow_columns``) as a Flow without packets."""

    def side(d: int) -> Side:
        def val(name: str) -> int | None:
            return _num(int(cols[name][i, d]))

        syn_row = int(cols["syn_row"][i, d])
        return Side(
            endpoint=endpoint_text(
                hosts, int(cols["client_ep" if d == 0 else "server_ep"][i]), port_names
            ),
            syn_n=None if syn_row < 0 else syn_row + 1,
            isn=val("isn"),
            mss=val("mss"),
            wscale=val("wscale"),
            sack_perm=bool(cols["sackok"][i, d]),
            timestamps=bool(cols["timestamps"][i, d]),
            packets=int(cols["side_packets"][i, d]),
            bytes=int(cols["side_bytes"][i, d]),
        )

    closer, start = int(cols["closer"][i]), float(cols["start"][i])
    return Flow(
        id=flow_id,
        client=side(0),
        server=side(1),
        packets=[],
        roles_from=ROLES_FROM[int(cols["roles_from"][i])],
        handshake=HANDSHAKE[int(cols["handshake"][i])],
        scaling=SCALING[int(cols["scaling"][i])],
        ended_by=ENDED_BY[int(cols["ended_by"][i])],
        closer=None if closer < 0 else ("client", "server")[closer],
        start=None if start != start else start,
        packet_count=int(cols["count"][i]),
    )


class _Work:
    """Per-position columns in flow order, and the positions found on the way, while a
    FlowTable is worked out."""

    def __init__(self, ft: FlowTable) -> None:
        c, o = ft.table.cols, ft.order
        self.flags = c["flags"][o]
        f = self.flags
        self.syn, self.ackf = (f & SYN) > 0, (f & ACK) > 0
        self.fin, self.rst = (f & FIN) > 0, (f & RST) > 0
        self.seq = c["seq"][o].astype(np.int64)
        self.ack = c["ack"][o].astype(np.int64)
        self.length = c["length"][o].astype(np.int64)
        self.win = c["win"][o].astype(np.int64)
        self.t = c["time"][o]
        self.pos = np.arange(len(o), dtype=np.int64)
        no = np.zeros(0, np.int64)
        self.p_syn = self.p_synack = no
        self.has_syn = self.has_synack = self.both = np.zeros(0, bool)
        self.seen = np.zeros((0, 2), bool)

    def release(self) -> None:
        """Drop the per-position columns (the findings step needs none of them)."""
        for name in ("flags", "syn", "ackf", "fin", "rst", "seq", "ack", "length", "win", "t"):
            delattr(self, name)


class FlowTable:
    """All connections of a packet table, worked out with vectorised operations.

    Rows are grouped by flow in ``order`` (flow by flow, capture order within a flow);
    ``bounds[f]:bounds[f + 1]`` are flow ``f``'s positions in it.  Per-row arrays are in
    that order too ("positions"); ``order[pos]`` is the table row.  Flows are numbered by
    their first packet, from 0 (JSON ids are 1-based).
    """

    # per flow
    count: int
    bounds: I64
    client_ep: I64
    server_ep: I64
    roles_from: I64  # RolesFrom
    side_packets: I64  # (flows, 2): client, server
    side_bytes: I64
    syn_pos: I64  # (flows, 2): position of each side's first SYN, -1
    isn: I64
    mss: I64
    wscale: I64
    sackok: B
    timestamps: B
    scaling: I64  # Scaling
    handshake: I64  # Handshake
    ended_by: I64  # EndedBy
    closer: I64  # Direction of the side that ended it, -1
    irtt: F64
    start: F64
    end: F64
    # per position
    order: I64
    fid: I64
    dir: npt.NDArray[np.int8]  # Direction
    phase: npt.NDArray[np.int8]  # Phase
    scale: npt.NDArray[np.int8]  # Scale
    shift: npt.NDArray[np.int8]
    eff_win: I64
    findings: npt.NDArray[np.int32]  # bit i: list(Finding)[i]
    seq: SeqAnalysis

    def __init__(self, table: PacketTable) -> None:
        """Group ``table``'s rows into connections; ``analyse`` works out the rest."""
        self.table = table
        c = table.cols
        src_ep = c["src"].astype(np.int64) * ENDPOINT_PORTS + (c["sport"].astype(np.int64) + 1)
        dst_ep = c["dst"].astype(np.int64) * ENDPOINT_PORTS + (c["dport"].astype(np.int64) + 1)
        self.order, fid_row, self.count, split = _group(
            src_ep, dst_ep, c["flags"], c["seq"], c["ack"]
        )
        self.fid = fid_row[self.order]
        self._reuse = split[self.order]
        self.bounds = np.searchsorted(self.fid, np.arange(self.count + 1)).astype(np.int64)
        self._src_ep, self._dst_ep = src_ep[self.order], dst_ep[self.order]
        self._numbering: Numbering | None = None

    @classmethod
    def analyse(cls, table: PacketTable) -> FlowTable:
        """Every connection of ``table`` worked out: roles, SYN options, handshake, phases,
        windows, endings, handshake RTT and each packet's findings."""
        ft = cls(table)
        w = _Work(ft)
        ft._roles(w)
        ft._sides(w)
        ft._phases(w)
        ft._windows(w)
        ft._endings(w)
        ft._handshake_rtt(w)
        ft._findings(w)
        return ft

    def _roles(self, w: _Work) -> None:
        """The SYN's sender is the client; else the SYN-ACK's receiver; else the ports say."""
        c, first = self.table.cols, self.bounds[:-1]
        src_ep, dst_ep = self._src_ep, self._dst_ep
        w.p_syn = self.first(w.syn & ~w.ackf)
        w.p_synack = self.first(w.syn & w.ackf)
        fsp = c["sport"][self.order][first].astype(np.int64)
        fdp = c["dport"][self.order][first].astype(np.int64)
        fsrc, fdst = src_ep[first], dst_ep[first]
        sv_d, sv_s = _serverish(fdp), _serverish(fsp)
        by_number = np.where((fsp >= 0) & (fdp >= 0) & (fsp < fdp), fdst, fsrc)
        heur = np.where(sv_d & ~sv_s, fsrc, np.where(sv_s & ~sv_d, fdst, by_number))
        w.has_syn, w.has_synack = w.p_syn >= 0, w.p_synack >= 0
        self.client_ep = np.where(
            w.has_syn,
            src_ep[np.maximum(w.p_syn, 0)],
            np.where(w.has_synack, dst_ep[np.maximum(w.p_synack, 0)], heur),
        )
        self.server_ep = np.where(src_ep[first] == self.client_ep, dst_ep[first], src_ep[first])
        self.roles_from = np.where(
            w.has_syn,
            RolesFrom.SYN,
            np.where(w.has_synack, RolesFrom.SYN_ACK, RolesFrom.HEURISTIC),
        )
        self.dir = (src_ep != self.client_ep[self.fid]).astype(np.int8)
        del self._src_ep, self._dst_ep

    def _sides(self, w: _Work) -> None:
        """Each side's packets, bytes, and what its SYN offered."""
        c, d = self.table.cols, self.dir
        key2 = self.fid * 2 + d
        self.side_packets = np.bincount(key2, minlength=2 * self.count).reshape(-1, 2)
        self.side_bytes = (
            np.bincount(key2, weights=np.maximum(w.length, 0), minlength=2 * self.count)
            .astype(np.int64)
            .reshape(-1, 2)
        )
        self.syn_pos = np.stack([self.first(w.syn & (d == 0)), self.first(w.syn & (d == 1))], 1)
        sp = np.maximum(self.syn_pos, 0)
        w.seen = seen = self.syn_pos >= 0

        def at_syn(col: str) -> I64:
            return np.where(seen, c[col][self.order][sp].astype(np.int64), -1)

        self.isn = at_syn("seq")
        self.mss = at_syn("mss")
        self.wscale = at_syn("wscale")
        self.sackok = seen & c["sackok"][self.order][sp]
        self.timestamps = seen & (c["ts_val"][self.order][sp] >= 0)
        w.both = np.asarray(seen.all(axis=1))
        self.scaling = np.where(
            w.both,
            np.where((self.wscale >= 0).all(axis=1), Scaling.BOTH, Scaling.NONE),
            Scaling.UNKNOWN,
        )

    def _phases(self, w: _Work) -> None:
        """The client's first pure ACK after the first SYN-ACK completes the handshake; the
        first FIN or RST starts the teardown."""
        fid, d, pos = self.fid, self.dir, w.pos
        after = w.has_synack[fid] & (pos > w.p_synack[fid])
        p_done = self.first((d == 0) & w.ackf & ~w.syn & after)
        self.handshake = np.where(
            w.both & (p_done >= 0),
            Handshake.COMPLETE,
            np.where(w.seen.any(axis=1), Handshake.PARTIAL, Handshake.NONE),
        )
        p_tear = self.first(w.fin | w.rst)
        p_half, p_end = self._half_close(w, p_tear)
        half = (p_half[fid] >= 0) & (pos >= p_half[fid]) & ((p_end[fid] < 0) | (pos < p_end[fid]))
        tear = (p_tear[fid] >= 0) & (pos >= p_tear[fid]) & ~half
        hand = w.syn | ((p_done[fid] >= 0) & (pos <= p_done[fid]))
        self.phase = np.where(
            half,
            Phase.HALF_CLOSE,
            np.where(tear, Phase.TEARDOWN, np.where(hand, Phase.HANDSHAKE, Phase.DATA)),
        ).astype(np.int8)
        # what flowed after the half-close: the other side's bytes, and for how long
        other = half & (d != self.half_closer[fid]) & (w.length > 0)
        self.half_bytes = np.bincount(
            fid[other], weights=w.length[other], minlength=self.count
        ).astype(np.int64)
        last = np.full(self.count, -1, np.int64)
        np.maximum.at(last, fid[other], pos[other])
        got = (p_half >= 0) & (last >= 0)
        self.half_span = np.full(self.count, np.nan)
        self.half_span[got] = w.t[last[got]] - w.t[p_half[got]]

    def _half_close(self, w: _Work, p_tear: I64) -> tuple[I64, I64]:
        """Per flow: where a half-close starts (a FIN, the first teardown packet, after which
        the other side still sends data) and where the teardown proper starts (the other
        side's FIN, or an RST); -1 where there is none.  Sets ``half_closer``."""
        fid, d, pos = self.fid, self.dir, w.pos
        fin_first = (p_tear >= 0) & w.fin[np.maximum(p_tear, 0)]
        closer = np.where(fin_first, d[np.maximum(p_tear, 0)], -1)
        after = (p_tear[fid] >= 0) & (pos > p_tear[fid]) & fin_first[fid]
        p_end = self.first(after & ((w.fin & (d != closer[fid])) | w.rst))
        before_end = (p_end[fid] < 0) | (pos < p_end[fid])
        data = self.any(after & before_end & (d != closer[fid]) & (w.length > 0))
        self.half_closer = np.where(data, closer, -1)
        return np.where(data, p_tear, -1), np.where(data, p_end, -1)

    def _windows(self, w: _Work) -> None:
        """Effective window (RFC 7323 §2.2-2.3): never scaled in a SYN."""
        fid, win = self.fid, w.win
        shift = np.minimum(np.maximum(self.wscale[fid, self.dir], 0), MAX_WSCALE)
        scaling = self.scaling[fid]
        by_scaling = np.where(
            scaling == Scaling.BOTH,
            Scale.SCALED,
            np.where(scaling == Scaling.NONE, Scale.NONE, Scale.UNKNOWN),
        )
        self.scale = np.where(
            win < 0, Scale.UNKNOWN, np.where(w.syn, Scale.SYN, by_scaling)
        ).astype(np.int8)
        scale = self.scale
        self.shift = np.where(
            scale == Scale.SCALED, shift, np.where(scale == Scale.NONE, 0, -1)
        ).astype(np.int8)
        self.eff_win = np.where(
            scale == Scale.SYN,
            win,
            np.where(scale == Scale.SCALED, win << shift, np.where(scale == Scale.NONE, win, -1)),
        )

    def _endings(self, w: _Work) -> None:
        """How each connection ended (RFC 9293 §3.6) and which side ended it."""
        fid, d, pos = self.fid, self.dir, w.pos
        self.ended_by = np.full(self.count, EndedBy.OPEN, np.int64)
        self.closer = np.full(self.count, -1, np.int64)
        p_rst = self.first(w.rst)
        r = p_rst >= 0
        rd = d[np.maximum(p_rst, 0)]
        refused = r & ~w.has_synack & (rd == Direction.S2C) & w.seen[:, 0]
        self.ended_by[r] = np.where(refused[r], EndedBy.REFUSED, EndedBy.RESET)
        self.closer[r] = rd[r]
        p_fin = self.first(w.fin)
        fd = d[np.maximum(p_fin, 0)]
        p_fin2 = self.first(w.fin & (d != fd[fid]))
        has_fin = ~r & (p_fin >= 0)
        self.closer[has_fin] = fd[has_fin]
        self.ended_by[has_fin & (p_fin2 < 0)] = EndedBy.HALF_CLOSE
        pf = np.maximum(p_fin, 0)
        seg = np.maximum(w.length[pf], 0) + w.syn[pf] + 1
        fin_end = np.where(w.seq[pf] >= 0, (w.seq[pf] + seg) % SEQ_MOD, -1)
        both_fin = has_fin & (p_fin2 >= 0)
        between = (pos > p_fin[fid]) & (pos < p_fin2[fid]) & (d != fd[fid])
        acked = self.any(between & w.ackf & (w.ack == fin_end[fid]) & (fin_end[fid] >= 0))
        pf2 = np.maximum(p_fin2, 0)
        three = (fin_end >= 0) & w.ackf[pf2] & (w.ack[pf2] == fin_end)
        how = np.where(
            acked,
            EndedBy.FOUR_WAY_CLOSE,
            np.where(three, EndedBy.THREE_WAY_CLOSE, EndedBy.SIMULTANEOUS_CLOSE),
        )
        self.ended_by[both_fin] = how[both_fin]

    def _handshake_rtt(self, w: _Work) -> None:
        """As Wireshark's tcp.analysis.initial_rtt: from the latest SYN to the first segment
        with ACK and without SYN after it, normally the ACK that completes the handshake
        (SYN -> RST/ACK for a refused connection); NaN when not seen, and when the two
        carry the same time stamp or the clock went backwards (a capture whose clock did
        not tick between them measured nothing; tshark 4.0 shows no initial_rtt then)."""
        fid, pos, syn, ackf = self.fid, w.pos, w.syn, w.ackf
        p_ack1 = self.first(ackf & ~syn & w.has_syn[fid] & (pos > w.p_syn[fid]))
        got = p_ack1 >= 0
        syn_rows = np.flatnonzero(syn & ~ackf & got[fid] & (pos < p_ack1[fid]))
        p_mru = np.full(self.count, -1, np.int64)
        np.maximum.at(p_mru, fid[syn_rows], syn_rows)
        self.irtt = np.full(self.count, np.nan)
        self.irtt[got] = w.t[p_ack1[got]] - w.t[p_mru[got]]
        self.irtt[self.irtt <= 0] = np.nan
        first = self.bounds[:-1]
        empty = np.zeros(0)
        self.start = np.fmin.reduceat(w.t, first) if self.count else empty
        self.end = np.fmax.reduceat(w.t, first) if self.count else empty

    def _findings(self, w: _Work) -> None:
        """The sequence analysis, then what a packet shows by itself.  A malformed header
        (tcp.malformed) and the first fragment of a datagram never completed
        (ip.reassembly_incomplete) are left out of the sequence analysis, as a receiver
        drops them and Wireshark leaves them out."""
        c, o = self.table.cols, self.order
        malformed = c["malformed"][o] > 0
        incomplete = c["reassembly"][o] == 2

        def columns(lo: int, hi: int) -> dict[str, npt.NDArray[Any]]:
            rows = o[lo:hi]
            return {
                "fid": self.fid[lo:hi],
                "d": self.dir[lo:hi],
                "flags": w.flags[lo:hi],
                "seq": w.seq[lo:hi],
                "ack": w.ack[lo:hi],
                "length": w.length[lo:hi],
                "win": w.win[lo:hi],
                "eff_win": self.eff_win[lo:hi],
                "t": w.t[lo:hi],
                "reuse": self._reuse[lo:hi],
                **{k: c[k][rows].astype(np.int64, copy=False) for k in _ROW_INPUTS},
            }

        del w.pos  # not needed from here on
        sa = analyse_blocks(columns, self.bounds, self.irtt, malformed | incomplete)
        rst = w.rst
        w.release()  # what is left is made of the table's columns and the masks
        self._dsack(sa)
        bits = sa.bits
        same_host = c["src"][o] == c["dst"][o]
        status = c["cksum_status"][o]
        offload, corrupt = _bad_checksums(self.fid, self.dir, status, sa.near, same_host)
        tos = c["tos"][o] if "tos" in c else np.full(len(o), -1)
        masks = {
            Finding.CHECKSUM_OFFLOAD: offload,
            Finding.BAD_CHECKSUM: corrupt,
            Finding.IP_BAD_CHECKSUM: c["ipsum_status"][o] == 2,
            Finding.RESET: rst,
            Finding.BAD_OPTION: c["bad_opt"][o],
            Finding.MALFORMED: malformed,
            Finding.REASSEMBLY_INCOMPLETE: incomplete,
            Finding.ECN_CE: (tos >= 0) & ((tos & 3) == 3),
        }
        for code, mask in masks.items():
            bits |= mask.astype(np.int32) << code.bit
        self.findings = bits
        self.seq = sa
        del self._reuse

    def _dsack(self, sa: SeqAnalysis) -> None:
        """A retransmission the peer then reports with a D-SACK block (RFC 2883 §4: the
        first SACK block below the ack number, or inside the second) was received twice:
        it was needless, a spurious retransmission.  Only SACK-bearing packets of
        connections with a retransmission have their options read, a packet at a time."""
        bits = sa.bits
        resent_bits = (1 << Finding.RETRANSMISSION.bit) | (1 << Finding.FAST_RETRANSMISSION.bit)
        rows = np.flatnonzero(bits & resent_bits)
        if not len(rows):
            return
        c, o = self.table.cols, self.order

        def keys(at: I64) -> list[tuple[int, int, int, int]]:
            seq, length = c["seq"][o[at]].tolist(), np.maximum(c["length"][o[at]], 0).tolist()
            fid, d = self.fid[at].tolist(), self.dir[at].tolist()
            return [
                (f, e, s, (s + n) % SEQ_MOD) for f, e, s, n in zip(fid, d, seq, length, strict=True)
            ]

        index: dict[tuple[int, int, int, int], list[int]] = {}
        for k, key in zip(rows.tolist(), keys(rows), strict=True):
            index.setdefault(key, []).append(k)
        # a copy the network made, seen here, explains a D-SACK without a needless resend
        for key in keys(np.flatnonzero(bits & (1 << Finding.DUPLICATE_SEGMENT.bit))):
            index.pop(key, None)
        look = np.flatnonzero(c["sack"][o] & np.isin(self.fid, np.unique(self.fid[rows])))
        for k in look.tolist():
            blocks = self.table.options(int(o[k])).sack
            ack = int(c["ack"][o[k]])
            if not blocks or not is_dsack(blocks, ack if ack >= 0 else None):
                continue
            a, b = blocks[0]
            for r in index.get((int(self.fid[k]), 1 - int(self.dir[k]), a, b), []):
                if r < k:
                    bits[r] = (bits[r] & ~resent_bits) | (1 << Finding.SPURIOUS_RETRANSMISSION.bit)
                    sa.evidence[r] = EVIDENCE.index("the peer's D-SACK")

    # -- group-wise helpers over positions ------------------------------------------------

    def first(self, mask: B) -> I64:
        """Per flow, the first position where ``mask`` holds, or -1."""
        out = np.full(self.count, -1, np.int64)
        idx = np.flatnonzero(mask)
        if len(idx):
            f = self.fid[idx]
            keep = np.ones(len(idx), bool)
            keep[1:] = f[1:] != f[:-1]
            out[f[keep]] = idx[keep]
        return out

    def any(self, mask: B) -> B:
        out: B = np.bincount(self.fid[mask], minlength=self.count) > 0
        return out

    # -- one flow as objects -----------------------------------------------------------

    def endpoint(self, ep: int) -> str:
        return endpoint_text(self.table.hosts, ep, self.table.port_names)

    @property
    def numbering(self) -> Numbering:
        """Relative numbers and TS echoes of every packet (worked out when first needed:
        a summary does without them)."""
        if self._numbering is None:
            self._numbering = number(self)
        return self._numbering

    def positions(self, lo: int, hi: int) -> PacketTable:
        """Positions ``lo:hi`` (flow order) as a table of their own: the packet table's
        columns and the analysis's (``POSITION_COLUMNS``); option bytes rebased, kept
        objects and comments keyed by position in the slice."""
        t, rows = self.table, self.order[lo:hi]
        cols = {name: a[rows] for name, a in t.cols.items()}
        starts, sizes = cols["opt_start"].astype(np.int64), cols["opt_len"].astype(np.int64)
        have = (starts >= 0) & (sizes > 0)
        sizes = np.where(have, sizes, 0)
        new_start = np.zeros(len(rows), np.int64)
        np.cumsum(sizes[:-1], out=new_start[1:])
        total = int(sizes.sum())
        at = np.repeat(starts - new_start, sizes) + np.arange(total)  # one gather for all
        blob = np.frombuffer(t.opt_bytes, np.uint8)[at].tobytes() if total else b""
        cols["opt_start"] = np.where(have, new_start, cols["opt_start"]).astype(np.int64)
        sa, nb = self.seq, self.numbering
        acked = sa.acked[lo:hi]
        cols.update(
            row=rows.astype(np.int64),
            dir=self.dir[lo:hi],
            phase=self.phase[lo:hi],
            scale=self.scale[lo:hi],
            shift=self.shift[lo:hi],
            eff_win=self.eff_win[lo:hi],
            findings=self.findings[lo:hi],
            dup_ack=sa.dup_ack[lo:hi],
            acked_row=np.where(acked >= 0, self.order[np.maximum(acked, 0)], -1),
            ack_rtt=sa.ack_rtt[lo:hi],
            ts_rtt=sa.ts_rtt[lo:hi],
            in_flight=sa.in_flight[lo:hi],
            seq_shown=nb.seq[lo:hi],
            seq_inferred=nb.seq_inferred[lo:hi],
            rel_seq=nb.rel_seq[lo:hi],
            rel_ack=nb.rel_ack[lo:hi],
            echo_row=nb.echo_row[lo:hi],
            echo_rtt=nb.echo_rtt[lo:hi],
            ts_ticks=nb.ts_ticks[lo:hi],
            ts_elapsed=nb.ts_elapsed[lo:hi],
        )
        some = t.objects or t.comments or t.apps or t.remake
        at = rows.tolist() if some else []
        return PacketTable(
            t.kind,
            cols,
            t.hosts,
            opt_bytes=blob,
            objects=_by_position(t.objects, at),
            comments=_by_position(t.comments, at),
            apps=t.apps.take(rows) if isinstance(t.apps, RowTexts) else _by_position(t.apps, at),
            linktypes=t.linktypes,
            port_names=t.port_names,
            remake=None if t.remake is None else partial(_remade, t.remake, at),
        )

    def flow_columns(self, lo: int, hi: int) -> Columns:
        """Connections ``lo:hi`` as columns (``FLOW_COLUMNS``): what ``flow_meta`` needs to
        make one of them into a Flow without its packets."""
        syn_pos = self.syn_pos[lo:hi]
        return {
            "first_pos": self.bounds[lo:hi],
            "count": self.bounds[lo + 1 : hi + 1] - self.bounds[lo:hi],
            "client_ep": self.client_ep[lo:hi],
            "server_ep": self.server_ep[lo:hi],
            "syn_row": np.where(syn_pos >= 0, self.order[np.maximum(syn_pos, 0)], -1),
            "isn": self.isn[lo:hi],
            "mss": self.mss[lo:hi],
            "wscale": self.wscale[lo:hi],
            "sackok": self.sackok[lo:hi],
            "timestamps": self.timestamps[lo:hi],
            "side_packets": self.side_packets[lo:hi],
            "side_bytes": self.side_bytes[lo:hi],
            "roles_from": self.roles_from[lo:hi],
            "handshake": self.handshake[lo:hi],
            "scaling": self.scaling[lo:hi],
            "ended_by": self.ended_by[lo:hi],
            "closer": self.closer[lo:hi],
            "start": self.start[lo:hi],
        }

    def meta(self, f: int) -> Flow:
        """Connection ``f`` without its packets."""
        t = self.table
        return flow_meta(self.flow_columns(f, f + 1), 0, t.hosts, f + 1, t.port_names)

    def flow(self, f: int, start: int = 0, count: int | None = None) -> Flow:
        """Connection ``f`` as objects: all its packets, or ``count`` from ``start``."""
        lo, hi = int(self.bounds[f]), int(self.bounds[f + 1])
        a = min(lo + max(start, 0), hi)
        b = hi if count is None else min(a + count, hi)
        meta = self.meta(f)
        meta.offset = a - lo
        return window_flow(self.positions(a, b), meta)

    def phase_runs(self) -> tuple[I64, I64, I64, I64]:
        """(flow, phase, first position, last position) of each run of one phase."""
        n = len(self.phase)
        if not n:
            e = np.zeros(0, np.int64)
            return e, e, e, e
        start = np.ones(n, bool)
        start[1:] = (self.phase[1:] != self.phase[:-1]) | (self.fid[1:] != self.fid[:-1])
        firsts = np.flatnonzero(start).astype(np.int64)
        lasts = np.append(firsts[1:] - 1, n - 1).astype(np.int64)
        return self.fid[firsts], self.phase[firsts].astype(np.int64), firsts, lasts


def _bad_checksums(
    fid: I64, d: npt.NDArray[Any], status: npt.NDArray[Any], near: I64, same_host: B
) -> tuple[B, B]:
    """(offload, corruption) among the packets whose TCP checksum is wrong.  Offload fills
    in the checksum after the capture point, so it shows only on the capturing host's own
    packets: the side the capture was taken next to, or the one side with at least 90% of
    its verified packets wrong (both sides only when both are that host: loopback).
    Anything else is corruption."""
    bad = status == 2
    if not bad.any():
        return bad, bad
    count = len(near)
    key = fid * 2 + d
    checked = np.bincount(key[status > 0], minlength=2 * count)
    wrong = np.bincount(key[bad], minlength=2 * count)
    mostly = ((wrong >= 0.9 * checked) & (checked > 0)).reshape(count, 2)
    one_host = np.bincount(fid[same_host], minlength=count) > 0
    both = mostly.all(axis=1) & ~one_host
    own = (mostly[fid, d] & ~both[fid]) | (near[fid] == d)
    return bad & own, bad & ~own


# the sequence analysis's inputs read from the packet table, a block of positions at a time
_ROW_INPUTS = ("ts_val", "ts_ecr", "cksum", "ipid", "ttl")


def _group(
    src_ep: I64, dst_ep: I64, flags: I64, seq: npt.NDArray[Any], ack: npt.NDArray[Any]
) -> tuple[I64, I64, int, B]:
    """The rows in flow order, each row's flow (numbered by first row), the flow count, and
    which rows are SYNs on a reused port pair (``_reused_ports``).

    A conversation is an unordered endpoint pair; one stable sort does the grouping.
    """
    n = len(src_ep)
    if n == 0:
        e = np.zeros(0, np.int64)
        return e, e, 0, np.zeros(0, bool)
    lo, hi = np.minimum(src_ep, dst_ep), np.maximum(src_ep, dst_ep)
    # endpoints are below 2**51 (host id * 2**20 + port): mix the pair into one 64-bit key
    key = lo.astype(np.uint64)
    key *= np.uint64(0x9E3779B97F4A7C15)
    key ^= hi.astype(np.uint64)
    s = np.argsort(key, kind="stable")  # by conversation, capture order inside
    ks = key[s]
    del key
    conv_start = np.ones(n, bool)
    conv_start[1:] = ks[1:] != ks[:-1]
    del ks
    conv_s = np.cumsum(conv_start) - 1
    heads = np.flatnonzero(conv_start)
    ls = lo[s]
    same = bool((ls == ls[heads][conv_s]).all())
    del ls
    hs = hi[s]
    same = same and bool((hs == hs[heads][conv_s]).all())
    del hs
    if not same:
        # two endpoint pairs share a key (never seen): group exactly instead
        pair = np.stack([lo, hi], axis=1)
        _, inv = np.unique(pair, axis=0, return_inverse=True)
        s = np.argsort(inv.ravel(), kind="stable")
        cs = inv.ravel()[s]
        conv_start = np.ones(n, bool)
        conv_start[1:] = cs[1:] != cs[:-1]
        conv_s = np.cumsum(conv_start) - 1
    del lo, hi
    conv = np.empty(n, np.int64)
    conv[s] = conv_s
    split_s, reused_s = _reused_ports(
        conv_start, src_ep[s], flags[s], np.asarray(seq)[s], np.asarray(ack)[s]
    )
    split = np.zeros(n, bool)
    split[s] = reused_s
    new = conv_start | split_s
    del conv, conv_start
    flow_s = np.cumsum(new) - 1  # flows numbered in conversation order
    count = int(flow_s[-1]) + 1
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, n))
    first_row = s[starts]
    by_first = np.argsort(first_row, kind="stable")
    rank = np.empty(count, np.int64)
    rank[by_first] = np.arange(count)
    fid_row = np.empty(n, np.int64)
    fid_row[s] = rank[flow_s]
    # place each flow's rows (already in capture order) at its slot in first-row order
    slot = np.zeros(count, np.int64)
    slot[by_first] = np.concatenate([[0], np.cumsum(sizes[by_first])[:-1]])
    dest = slot[flow_s] + (np.arange(n) - starts[flow_s])
    order = np.empty(n, np.int64)
    order[dest] = s
    return order, fid_row, count, split


def _reused_ports(conv_start: B, src: I64, flags: I64, seq: I64, ack: I64) -> tuple[B, B]:
    """Rows (in conversation order) where a port pair is reused: (SYNs that start a new
    connection, those and SYN-ACKs with a new ISN).

    Wireshark's rule (``dissect_tcp`` in packet-tcp.c): once a direction's base sequence
    number is known (its SYN's seq, else its first segment's seq - 1, else the peer's
    first ACK - 1), a SYN from it with another seq is a new connection on the same ports
    (RFC 9293 §3.4.1: a new incarnation picks a new ISN), and a SYN-ACK with another seq
    is flagged.  A SYN with the same seq is a retransmission.  Each SYN after a
    conversation's first row is looked at once; a base, once found, is kept for its flow.

    Every candidate is first judged at once against its conversation's first rows, as if
    no SYN before it had started a new flow (``_judged_at_once``); that is exact for a
    conversation where none is judged reused, which is nearly all of them.  The few others
    are walked one SYN at a time (``_walk_reused``), since a split moves the flow start.
    """
    n = len(src)
    split = np.zeros(n, bool)
    reused = np.zeros(n, bool)
    syn = (flags & SYN) > 0
    cand = np.flatnonzero(syn & (seq >= 0) & ~conv_start)
    if not len(cand):
        return split, reused
    has_ack = ((flags & ACK) > 0) & (ack >= 0)
    conv_id = np.cumsum(conv_start) - 1
    heads = np.flatnonzero(conv_start)
    flagged = _judged_at_once(cand, conv_id, heads, src, syn, seq, ack, has_ack)
    walk = np.zeros(len(heads), bool)
    walk[conv_id[cand[flagged]]] = True
    cand = cand[walk[conv_id[cand]]]
    _walk_reused(cand, conv_id, heads, src, syn, seq, ack, has_ack, split, reused)
    return split, reused


def _judged_at_once(
    cand: I64, conv_id: I64, heads: I64, src: I64, syn: B, seq: I64, ack: I64, has_ack: B
) -> B:
    """For each candidate SYN, whether its seq differs from its endpoint's base (as
    ``_base_seq`` finds it from the conversation's first row up to the candidate)."""
    n = len(src)
    rows = np.arange(n)
    cv = conv_id[cand]
    a = src[heads]  # the endpoint that sent each conversation's first row
    from_a = src == a[conv_id]

    def first(mask: B) -> I64:
        return np.minimum.reduceat(np.where(mask, rows, n), heads)

    first_b, first_a_ack, first_b_ack = (
        first(~from_a),
        first(from_a & has_ack),
        first(~from_a & has_ack),
    )
    mine_a = src[cand] == a[cv]
    # the endpoint's first row before the candidate, and the peer's first ACK before it
    mine = np.where(mine_a, heads[cv], first_b[cv])
    theirs = np.where(mine_a, first_b_ack[cv], first_a_ack[cv])
    mine_ok, theirs_ok = mine < cand, theirs < cand
    use_mine = mine_ok & (~theirs_ok | (mine < theirs))
    r = np.where(use_mine, mine, np.where(theirs_ok, theirs, 0))
    base = np.where(
        use_mine,
        np.where(syn[r], seq[r], (seq[r] - 1) % SEQ_MOD),
        (ack[r] - 1) % SEQ_MOD,
    )
    known: B = np.where(use_mine, seq[r] >= 0, theirs_ok)
    differs: B = seq[cand] != base
    return known & differs


def _walk_reused(
    cand: I64,
    conv_id: I64,
    heads: I64,
    src: I64,
    syn: B,
    seq: I64,
    ack: I64,
    has_ack: B,
    split: B,
    reused: B,
) -> None:
    """Candidates one at a time, in order: a SYN (no ACK) with a new ISN starts a new
    flow, whose rows from there give its endpoints' bases."""
    flow_start: dict[int, int] = {}
    bases: dict[tuple[int, int], int | None] = {}
    for c in cand.tolist():
        cv = int(conv_id[c])
        fs = flow_start.get(cv, int(heads[cv]))
        e = int(src[c])
        key = (fs, e)
        base = bases.get(key)
        if base is None:
            base = _base_seq(fs, c, e, src, syn, seq, ack, has_ack)
            if base is not None:
                bases[key] = base
        if base is None or int(seq[c]) == base:
            continue
        reused[c] = True
        if not has_ack[c]:
            split[c] = True
            flow_start[cv] = c


def _base_seq(
    fs: int, c: int, e: int, src: I64, syn: B, seq: I64, ack: I64, has_ack: B
) -> int | None:
    """Endpoint ``e``'s base sequence number from rows ``fs:c`` of its flow, if known."""
    mine = src[fs:c] == e
    first_mine = int(np.argmax(mine)) if mine.any() else None
    theirs = ~mine & has_ack[fs:c]
    first_theirs = int(np.argmax(theirs)) if theirs.any() else None
    if first_mine is not None and (first_theirs is None or first_mine < first_theirs):
        r = fs + first_mine
        if seq[r] < 0:
            return None
        return int(seq[r]) if syn[r] else (int(seq[r]) - 1) % SEQ_MOD
    if first_theirs is not None:
        return (int(ack[fs + first_theirs]) - 1) % SEQ_MOD
    return None


def _remade(remake: Callable[[int], Packet], rows: list[int], pos: int) -> Packet:
    """A slice's packet at ``pos``, made again from its row (pasted text)."""
    return remake(rows[pos])


def _by_position(by_row: Mapping[int, _V], rows: list[int]) -> dict[int, _V]:
    """The entries of ``by_row`` for ``rows``, keyed by position in ``rows``: a walk of the
    smaller of the two (a capture's table holds an entry for each of hundreds of thousands
    of rows, and is cut into thousands of slices)."""
    if not by_row:
        return {}
    if len(by_row) <= len(rows):
        local = {r: i for i, r in enumerate(rows)}
        return {local[r]: v for r, v in by_row.items() if r in local}
    return {i: by_row[r] for i, r in enumerate(rows) if r in by_row}

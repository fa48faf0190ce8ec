"""Group packets into TCP connections and work out what each packet means in its connection.

Facts used here, with their sources:
- SYN and FIN each consume one sequence number (RFC 9293 §3.4).
- Window scale applies only when both SYNs carried the option; the window field of a SYN or
  SYN-ACK is never scaled; a shift above 14 is used as 14 (RFC 7323 §2.2-2.3).
- TSecr echoes the most recent TSval received and is valid only with ACK set (RFC 7323 §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import ACK, FIN, RST, SEQ_MOD, SYN, Packet
from .services import SERVICES

MAX_WSCALE = 14  # RFC 7323 §2.3
_WELL_KNOWN = set(SERVICES.values())


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
    first_ts_val: int | None = None
    first_ts_time: float | None = None


@dataclass(slots=True)
class PacketInfo:
    """Per-packet meaning that needs the whole connection to compute."""

    direction: str  # "c2s" or "s2c"
    phase: str  # "handshake", "data", "teardown"
    eff_win: int | None = None
    scale: str = "unknown"  # "syn" (never scaled), "scaled", "none", "unknown"
    shift: int | None = None
    echo_of: int | None = None  # packet number whose TS val this ecr echoes
    echo_rtt: float | None = None  # seconds between that packet and this one
    ts_ticks: int | None = None  # TS val minus this side's first TS val in the flow
    ts_elapsed: float | None = None


@dataclass(slots=True)
class Flow:
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
    close_packets: list[int] = field(default_factory=list)

    @property
    def start(self) -> float | None:
        times = [p.time for p in self.packets if p.time is not None]
        return min(times) if times else None

    @property
    def duration(self) -> float | None:
        times = [p.time for p in self.packets if p.time is not None]
        return (max(times) - min(times)) if times else None

    def side_of(self, p: Packet) -> tuple[Side, Side]:
        """(sender, receiver) sides of packet ``p``."""
        if p.src == self.client.endpoint:
            return self.client, self.server
        return self.server, self.client


def _conv(p: Packet) -> tuple[str, str]:
    return (p.src, p.dst) if p.src <= p.dst else (p.dst, p.src)


def assemble(packets: list[Packet]) -> list[Flow]:
    """Split packets into connections by address pair; a new SYN with a new ISN starts a new one."""
    groups: dict[tuple[str, str], list[list[Packet]]] = {}
    order: list[list[Packet]] = []
    for p in packets:
        key = _conv(p)
        lists = groups.setdefault(key, [])
        if lists and p.flags & SYN and not p.flags & ACK and p.seq is not None:
            cur = lists[-1]
            isns = {q.seq for q in cur if q.flags & SYN and not q.flags & ACK and q.src == p.src}
            if isns and p.seq not in isns:
                lists.append([])
                order.append(lists[-1])
        elif not lists:
            lists.append([])
            order.append(lists[-1])
        lists[-1].append(p)
    flows = [_analyse(i, group) for i, group in enumerate(order, 1)]
    return flows


def _roles(pkts: list[Packet]) -> tuple[str, str, str]:
    for p in pkts:
        if p.flags & SYN and not p.flags & ACK:
            return p.src, p.dst, "syn"
    for p in pkts:
        if p.flags & SYN and p.flags & ACK:
            return p.dst, p.src, "syn-ack"
    first = pkts[0]

    def serverish(port: int | None) -> bool:
        return port is not None and (port < 1024 or port in _WELL_KNOWN)

    if serverish(first.dst_port) and not serverish(first.src_port):
        return first.src, first.dst, "heuristic"
    if serverish(first.src_port) and not serverish(first.dst_port):
        return first.dst, first.src, "heuristic"
    if (
        first.src_port is not None
        and first.dst_port is not None
        and first.src_port < first.dst_port
    ):
        return first.dst, first.src, "heuristic"
    return first.src, first.dst, "heuristic"


def _analyse(flow_id: int, pkts: list[Packet]) -> Flow:
    c_ep, s_ep, roles_from = _roles(pkts)
    flow = Flow(flow_id, Side(c_ep), Side(s_ep), pkts, roles_from=roles_from)
    _learn_syn_options(flow)
    _number(flow)
    _windows_and_phases(flow)
    _timestamps(flow)
    _close(flow)
    return flow


def _learn_syn_options(flow: Flow) -> None:
    for p in flow.packets:
        sender, _ = flow.side_of(p)
        sender.packets += 1
        sender.bytes += p.length or 0
        if p.flags & SYN and sender.syn_n is None:
            sender.syn_n = p.n
            sender.isn = p.seq
            o = p.options
            sender.mss = o.mss
            sender.wscale = o.wscale
            sender.sack_perm = o.sack_perm
            sender.timestamps = o.ts_val is not None
    c, s = flow.client, flow.server
    if c.syn_n is not None and s.syn_n is not None:
        flow.scaling = "both" if c.wscale is not None and s.wscale is not None else "none"


def _number(flow: Flow) -> None:
    """Absolute seq for bare ACKs tcpdump did not print, and relative seq/ack for all.

    Relative numbers count from each side's ISN when its SYN is in the capture, else from
    tcpdump's base: the first ACK-bearing segment seen gives base(sender) = seq and
    base(receiver) = ack - 1.
    """
    base: dict[str, int | None] = {flow.client.endpoint: None, flow.server.endpoint: None}
    for side in (flow.client, flow.server):
        if side.isn is not None:
            base[side.endpoint] = side.isn
    next_seq: dict[str, int] = {}
    last_ack: dict[str, int] = {}
    for p in flow.packets:
        if (p.seq is None and p.ack is not None) or (p.seq is None and p.flags & ACK):
            guess = next_seq.get(p.src, last_ack.get(p.dst))
            if guess is not None:
                p.seq = guess
                p.seq_inferred = True
        if p.flags & ACK and (base[p.src] is None or base[p.dst] is None):
            if base[p.src] is None and p.seq is not None and not p.seq_inferred:
                base[p.src] = p.seq
            if base[p.dst] is None and p.ack is not None:
                base[p.dst] = (p.ack - 1) % SEQ_MOD
        if p.seq is not None:
            b = base[p.src]
            if b is not None:
                p.rel_seq = (p.seq - b) % SEQ_MOD
            end = (p.seq + p.seg_len) % SEQ_MOD
            prev = next_seq.get(p.src)
            if prev is None or 0 < (end - prev) % SEQ_MOD < (1 << 31):
                next_seq[p.src] = end
        if p.ack is not None and p.flags & ACK:
            b = base[p.dst]
            if b is not None:
                p.rel_ack = (p.ack - b) % SEQ_MOD
            last_ack[p.src] = p.ack
        if not p.flags & ACK:
            p.rel_ack = None


def _windows_and_phases(flow: Flow) -> None:
    c, s = flow.client, flow.server
    synack_seen = False
    handshake_done_at: int | None = None
    for i, p in enumerate(flow.packets):
        if p.flags & SYN and p.flags & ACK:
            synack_seen = True
        elif (
            synack_seen
            and handshake_done_at is None
            and p.src == c.endpoint
            and p.flags & ACK
            and not p.flags & SYN
        ):
            handshake_done_at = i
    if c.syn_n is not None and s.syn_n is not None and handshake_done_at is not None:
        flow.handshake = "complete"
    elif c.syn_n is not None or s.syn_n is not None:
        flow.handshake = "partial"
    teardown_from: int | None = None
    for i, p in enumerate(flow.packets):
        if p.flags & (FIN | RST):
            teardown_from = i
            break
    for i, p in enumerate(flow.packets):
        sender, _ = flow.side_of(p)
        direction = "c2s" if sender is c else "s2c"
        if teardown_from is not None and i >= teardown_from:
            phase = "teardown"
        elif p.flags & SYN or (handshake_done_at is not None and i <= handshake_done_at):
            phase = "handshake"
        else:
            phase = "data"
        info = PacketInfo(direction=direction, phase=phase)
        if p.win is not None:
            if p.flags & SYN:
                info.scale, info.eff_win = "syn", p.win
            elif flow.scaling == "both":
                shift = min(sender.wscale or 0, MAX_WSCALE)
                info.scale, info.shift, info.eff_win = "scaled", shift, p.win << shift
            elif flow.scaling == "none":
                info.scale, info.shift, info.eff_win = "none", 0, p.win
        flow.info.append(info)


def _timestamps(flow: Flow) -> None:
    first_val: dict[str, tuple[int, float | None]] = {}
    seen_vals: dict[str, dict[int, Packet]] = {flow.client.endpoint: {}, flow.server.endpoint: {}}
    for p, info in zip(flow.packets, flow.info, strict=True):
        o = p.options
        if o.ts_val is not None:
            if p.src not in first_val:
                first_val[p.src] = (o.ts_val, p.time)
                sender, _ = flow.side_of(p)
                sender.first_ts_val, sender.first_ts_time = o.ts_val, p.time
            v0, t0 = first_val[p.src]
            info.ts_ticks = (o.ts_val - v0) % SEQ_MOD
            if p.time is not None and t0 is not None:
                info.ts_elapsed = p.time - t0
        if o.ts_ecr and p.flags & ACK:
            q = seen_vals.get(p.dst, {}).get(o.ts_ecr)
            if q is not None:
                info.echo_of = q.n
                if p.time is not None and q.time is not None:
                    info.echo_rtt = p.time - q.time
        if o.ts_val is not None:
            # TSecr echoes the most recent TSval received (RFC 7323 §3.2).
            seen_vals.setdefault(p.src, {})[o.ts_val] = p


def _close(flow: Flow) -> None:
    """How the connection ended (RFC 9293 §3.6): FIN/ACK exchanges, RST, or not at all."""
    c, s = flow.client, flow.server
    pk = flow.packets
    rst = next((p for p in pk if p.flags & RST), None)
    if rst is not None:
        synack = any(p.flags & SYN and p.flags & ACK for p in pk)
        if not synack and rst.src == s.endpoint and c.syn_n is not None:
            flow.ended_by, flow.closer = "refused", "server"
        else:
            flow.ended_by = "reset"
            flow.closer = "client" if rst.src == c.endpoint else "server"
        flow.close_packets = [rst.n]
        return
    fins = [p for p in pk if p.flags & FIN]
    if not fins:
        flow.ended_by = "open"
        return
    first = fins[0]
    flow.closer = "client" if first.src == c.endpoint else "server"
    other = next((p for p in fins if p.src != first.src), None)
    if other is None:
        flow.ended_by = "half_close"
        flow.close_packets = [first.n]
        return
    fin_end = None if first.seq is None else (first.seq + first.seg_len) % SEQ_MOD
    # Did the second side ACK the first FIN before (or in) its own FIN?
    acked_before = any(
        p.src == other.src
        and p.n < other.n
        and p.n > first.n
        and p.flags & ACK
        and fin_end is not None
        and p.ack == fin_end
        for p in pk
    )
    other_acks_first = fin_end is not None and other.flags & ACK and other.ack == fin_end
    if acked_before:
        flow.ended_by = "four_way_close"
    elif other_acks_first:
        flow.ended_by = "three_way_close"
    else:
        flow.ended_by = "simultaneous_close"
    flow.close_packets = [p.n for p in pk if p.n >= first.n]

"""What each printed field of a packet means, computed for that packet, in English and Chinese.

Every explanation names the RFC section it rests on.  The texts were written against
RFC 9293 (TCP), RFC 7323 (window scale, timestamps), RFC 2018 (SACK), RFC 6691 (MSS),
RFC 3168 (ECN); where tutorials commonly get a fact wrong, the text says the right one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from app.decode.analysis.flows import Flow, PacketInfo, Side
from app.decode.model.i18n import EMPTY, N_, Text, tr
from app.decode.model.options import is_dsack
from app.decode.model.packet import ACK, AE, CWR, ECE, FIN, PSH, RST, SEQ_MOD, SYN, URG, Packet


@dataclass(slots=True)
class Field:
    key: str  # "flags", "seq", "ack", "win", "len", "mss", "wscale", "ts_val", "ts_ecr", ...
    label: str  # as printed on the diagram, e.g. "wscale 6"
    text: Text  # what it means, in both languages
    rfc: str
    # seq and ack: ``label`` counts from the ISN (relative, as tcpdump and Wireshark show
    # by default); ``absolute`` is the number on the wire, when it differs
    absolute: str | None = None
    # a label in words rather than protocol tokens ("in flight 1,200"), in both languages;
    # the JSON keeps ``label``
    words: Text | None = None

    def __post_init__(self) -> None:
        self.text = Text(self.text.en, self.text.zh.replace("。 ", "。"))

    @property
    def en(self) -> str:
        return self.text.en

    @property
    def zh(self) -> str:
        return self.text.zh

    def label_in(self, lang: str) -> str:
        return self.words.get(lang) if self.words else self.label

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "en": self.en, "zh": self.zh, "rfc": self.rfc}


def n(value: int) -> str:
    return f"{value:,}"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    if round(ms * 1000) < 1000:  # (0.9999996 ms is "1.000 ms", not "1000 µs")
        return f"{ms * 1000:.0f} µs"
    return f"{ms:.3f} ms" if ms < 100 else f"{ms:.1f} ms"


@cache
def roles() -> tuple[Text, Text]:
    """The words for the client and the server (made once: every explanation names them)."""
    return tr("client"), tr("server")


def _role(flow: Flow, side: Side) -> Text:
    return roles()[side is not flow.client]


_FLAG_TEXT: dict[int, tuple[str, str, str]] = {
    # bit: (name, meaning, rfc)
    SYN: (
        "SYN",
        N_(
            "synchronize: opens a connection and carries the sender's initial sequence number "
            "(ISN); it consumes one sequence number",
        ),
        "RFC 9293 §3.5",
    ),
    ACK: (
        "ACK",
        N_(
            "acknowledgement ('.' in tcpdump; the bit is ACK, not 'ACT'): the ack field is valid",
        ),
        "RFC 9293 §3.1",
    ),
    FIN: (
        "FIN",
        N_(
            "finish: the sender has no more data to send but can still receive; it consumes one "
            "sequence number and must be acknowledged",
        ),
        "RFC 9293 §3.6",
    ),
    RST: (
        "RST",
        N_(
            "reset: aborts the connection at once. Unlike FIN it is not an orderly close: data in "
            "flight or not yet read by the application is discarded, and no ACK answers it",
        ),
        "RFC 9293 §3.5.2",
    ),
    PSH: (
        "PSH",
        N_(
            "push: asks the receiver to hand the data to the application without waiting for more",
        ),
        "RFC 9293 §3.9.1",
    ),
    URG: (
        "URG",
        N_(
            "urgent: the urgent pointer field is valid (rarely used today)",
        ),
        "RFC 9293 §3.8.5",
    ),
    ECE: (
        "ECE",
        N_(
            "ECN-Echo: in a SYN it offers ECN; later it tells the peer a packet arrived marked CE "
            "(congestion experienced)",
        ),
        "RFC 3168 §6.1",
    ),
    CWR: (
        "CWR",
        N_(
            "congestion window reduced: the sender has reacted to an ECN-Echo",
        ),
        "RFC 3168 §6.1",
    ),
    AE: (
        "AE",
        N_("accurate ECN bit (tcpdump letter 'e')"),
        "RFC 9768",
    ),
}


def _flags_lead(p: Packet, who: Text, info: PacketInfo) -> Text:
    letters = p.letters
    if p.flags & SYN and p.flags & ACK:
        return tr(
            "[{letters}] = SYN + ACK: second step of the three-way handshake. The {who} "
            "acknowledges the peer's SYN and sends its own ISN.",
            letters=letters,
            who=who,
        )
    if p.flags & SYN:
        return tr(
            "[{letters}] = SYN: first step of the three-way handshake, sent by the {who}.",
            letters=letters,
            who=who,
        )
    if p.flags & RST:
        return tr(
            "[{letters}]: the {who} resets the connection.",
            letters=letters,
            who=who,
        )
    if p.flags & FIN:
        return tr(
            "[{letters}]: the {who} closes its sending direction.",
            letters=letters,
            who=who,
        )
    if info.phase == "handshake":
        return tr(
            "[{letters}]: third step of the three-way handshake; the connection is now established.",
            letters=letters,
        )
    if not p.length:
        return tr(
            "[{letters}]: a pure acknowledgement from the {who}, no data.",
            letters=letters,
            who=who,
        )
    return tr(
        "[{letters}]: the {who} sends data.",
        letters=letters,
        who=who,
    )


def _flags_field(p: Packet, flow: Flow, info: PacketInfo) -> Field:
    sender, _ = flow.side_of(p)
    who = _role(flow, sender)
    names = [(bit, text) for bit, text in _FLAG_TEXT.items() if p.flags & bit]
    names.sort(key=lambda t: [SYN, FIN, RST, PSH, ACK, URG, ECE, CWR, AE].index(t[0]))
    parts = [tr("{name} = {meaning}", name=t[0], meaning=tr(t[1])) for _, t in names]
    rfcs = sorted({t[2] for _, t in names}) or ["RFC 9293 §3.1"]
    if not names:
        parts = [tr("no flag set")]
    ecn = _ecn_context(p, who)
    if ecn.en:
        rfcs.append("RFC 3168 §6.1")
    text = tr(
        "{lead} {parts}.",
        lead=_flags_lead(p, who, info) + ecn,
        parts=tr("; ").join(parts),
    )
    return Field("flags", f"[{p.letters}]", text, ", ".join(rfcs))


def _ecn_context(p: Packet, who: Text) -> Text:
    """What ECE and CWR mean outside the handshake (RFC 3168 §6.1.2-6.1.3)."""
    out = EMPTY
    if p.flags & SYN:
        return out
    if p.flags & ECE:
        out += tr(
            " ECE here: packets the {who} received were marked CE (a router was congested); "
            "the {who} echoes it on every ACK until the peer answers with CWR.",
            who=who,
        )
    if p.flags & CWR:
        out += tr(
            " CWR here: the {who} has reduced its congestion window in answer to ECE, "
            "as it would after a loss.",
            who=who,
        )
    return out


def _ecn_field(p: Packet) -> Field | None:
    """The IP header's ECN field, when the packet is ECN-capable or marked."""
    tos = p.ip_value("tos")
    if tos is None or not tos & 3:
        return None
    code = tos & 3
    if code == 3:
        return Field(
            "ecn",
            "CE",
            tr(
                "IP ECN = CE (11): congestion experienced. A router on the path was congested and "
                "marked this packet instead of dropping it; the receiver will echo it with ECE.",
            ),
            "RFC 3168 §5",
        )
    name = "ECT(0)" if code == 2 else "ECT(1)"
    return Field(
        "ecn",
        name,
        tr(
            "IP ECN = {name}: the sender is ECN-capable, so a congested router may mark this "
            "packet CE instead of dropping it.",
            name=name,
        ),
        "RFC 3168 §5",
    )


def _seq_field(p: Packet, flow: Flow) -> Field | None:
    if p.seq is None and p.rel_seq is None:
        return None
    sender, _ = flow.side_of(p)
    who = _role(flow, sender)
    length = p.length or 0
    parts: list[Text] = []
    rel = p.rel_seq
    absolute = None
    if p.seq is not None:
        absolute = f"seq {p.seq}:{(p.seq + length) % SEQ_MOD}" if length else f"seq {p.seq}"
        parts.append(tr("absolute sequence number {seq}", seq=n(p.seq)))
    label = absolute or ""
    if rel is not None:  # shown relative, as tcpdump and Wireshark do by default
        label = f"seq {rel}:{rel + length}" if length else f"seq {rel}"
    if rel is not None:
        if p.flags & SYN:
            parts.append(
                tr(
                    "the ISN: relative numbering of this direction starts here",
                )
            )
        else:
            base = Text.same("ISN") if sender.isn is not None else tr("the first packet seen")
            parts.append(
                tr(
                    "relative {rel} (counted from {base})",
                    rel=n(rel),
                    base=base,
                )
            )
    if length:
        first = rel if rel is not None else p.seq
        assert first is not None
        parts.append(
            tr(
                "this segment carries bytes {first}…{last} of the {who}'s stream; "
                "the next new byte will be {next}",
                first=n(first),
                last=n(first + length - 1),
                next=n(first + length),
                who=who,
            )
        )
    if p.flags & FIN:
        parts.append(tr("the FIN takes one sequence number after the data"))
    if p.seq_inferred:
        parts.append(
            tr(
                "tcpdump does not print seq on a bare ACK; tcpladder inferred it from the stream",
            )
        )
    absolute = None if absolute == label else absolute
    return Field("seq", label, _sentence(parts), "RFC 9293 §3.4", absolute)


def _sentence(parts: list[Text]) -> Text:
    """Clauses joined into one sentence."""
    return tr("{clauses}.", clauses=tr("; ").join(parts))


def _ack_field(p: Packet, flow: Flow) -> Field | None:
    if not p.flags & ACK or (p.ack is None and p.rel_ack is None):
        return None
    _, receiver = flow.side_of(p)
    peer = _role(flow, receiver)
    shown = p.ack if p.ack is not None else p.rel_ack
    parts = [tr("the next byte expected from the {peer}", peer=peer)]
    rel = p.rel_ack
    if rel is not None:
        if p.ack is not None:
            parts.append(tr("relative {rel}", rel=n(rel)))
        if rel == 1:
            parts.append(
                tr(
                    "it acknowledges the {peer}'s SYN (ISN + 1), no data yet",
                    peer=peer,
                )
            )
        elif rel > 1:
            parts.append(
                tr(
                    "everything up to byte {last} has arrived (the SYN counts as one; "
                    "a FIN also counts as one)",
                    last=n(rel - 1),
                )
            )
    label, absolute = f"ack {rel if rel is not None else shown}", f"ack {shown}"
    return Field(
        "ack",
        label,
        _sentence(parts),
        "RFC 9293 §3.4",
        None if absolute == label else absolute,
    )


def _win_text(p: Packet, who: Text, info: PacketInfo) -> Text:
    lead = tr(
        "receive window the {who} advertises (raw 16-bit field {win})",
        who=who,
        win=n(p.win or 0),
    )
    win = n(p.win or 0)
    if info.scale == "syn":
        return tr(
            "{lead}: {win} bytes. The window in a SYN or SYN-ACK is never scaled.",
            lead=lead,
            win=win,
        )
    if info.scale == "scaled" and info.shift is not None and info.eff_win is not None:
        return tr(
            "{lead}: {win} × {factor} = {eff} bytes, using the {who}'s window scale {shift} "
            "from its SYN (both SYNs carried wscale).",
            lead=lead,
            win=win,
            factor=1 << info.shift,
            eff=n(info.eff_win),
            who=who,
            shift=info.shift,
        )
    if info.scale == "none":
        return tr(
            "{lead}: {win} bytes. Window scaling is off because not both SYNs carried wscale.",
            lead=lead,
            win=win,
        )
    return tr(
        "{lead}. Scale unknown: the handshake was not captured, so the real window is "
        "{win} × 2^shift for a shift between 0 and 14 that this capture cannot show.",
        lead=lead,
        win=win,
    )


def _win_field(p: Packet, flow: Flow, info: PacketInfo) -> Field | None:
    if p.win is None:
        return None
    sender, _ = flow.side_of(p)
    text = _win_text(p, _role(flow, sender), info)
    if p.win == 0 and not p.flags & (SYN | RST):
        text += tr(
            " A zero window: the sender must stop and probe until the window reopens.",
        )
    return Field("win", f"win {p.win}", text, "RFC 9293 §3.8.6, RFC 7323 §2.2-2.3")


def _len_field(p: Packet) -> Field | None:
    if p.length is None:
        return None
    if p.length == 0:
        text = tr("length 0: no payload (TCP headers only).")
        if p.flags & (SYN | FIN):
            text += tr(
                " The SYN/FIN flag still consumes one sequence number.",
            )
    else:
        text = tr(
            "{length} bytes of payload (application data), not counting IP and TCP "
            "headers; the same as last − first in seq.",
            length=n(p.length),
        )
    return Field("len", f"length {p.length}", text, "RFC 9293 §3.4")


def _ip_fields(p: Packet) -> list[Field]:
    """What the IP layer did to this segment: fragments, or a header that does not add up."""
    out: list[Field] = []
    frames = ", ".join(str(f) for f in p.fragments)
    v4 = p.ip_version == 4
    rfc = "RFC 791 §3.2" if v4 else "RFC 8200 §4.5"
    wait = "30 s" if v4 else "60 s"
    if p.incomplete:
        out.append(
            Field(
                "ip_fragments",
                "first IP fragment only",
                tr(
                    "Only the first IP fragment of this segment was captured: the rest of its "
                    "datagram never came (a receiver waits {wait}), so its payload length is "
                    "unknown and a receiver would have discarded it. It is left out of the "
                    "sequence analysis.",
                    wait=wait,
                ),
                rfc,
                words=tr("first IP fragment only"),
            )
        )
    elif p.fragments:
        out.append(
            Field(
                "ip_fragments",
                f"IP fragments: frames {frames}",
                tr(
                    "This segment did not travel in one IP packet: it came in {count} "
                    "IP fragments (frames {frames}), put back together here, at the frame that "
                    "completed it, as the receiving host reassembles them. The fragments are "
                    "listed among the packets that are not TCP.",
                    count=len(p.fragments),
                    frames=frames,
                ),
                rfc,
                words=tr("IP fragments: frames {frames}", frames=frames),
            )
        )
    if p.malformed:
        out.append(
            Field(
                "malformed",
                "malformed header",
                tr(
                    "This TCP header does not add up: {what}. A receiver drops such a "
                    "segment, so its payload length is unknown and it is left out of the sequence "
                    "analysis.",
                    what=tr(p.malformed),
                ),
                "RFC 9293 §3.1",
                words=tr("malformed header"),
            )
        )
    return out


def _mss_field(p: Packet, flow: Flow) -> Field | None:
    mss = p.options.mss
    if mss is None:
        return None
    sender, _ = flow.side_of(p)
    who = _role(flow, sender)
    overhead = 60 if p.ip_version == 6 else 40
    hdr = (
        tr("40-byte IPv6 + 20-byte TCP") if p.ip_version == 6 else tr("20-byte IPv4 + 20-byte TCP")
    )
    mtu = mss + overhead
    text = tr(
        "maximum segment size: the {who} accepts at most {mss} bytes of payload per "
        "segment. It is the interface MTU minus the fixed {headers} headers, so MTU {mtu}",
        who=who,
        mss=n(mss),
        headers=hdr,
        mtu=n(mtu),
    )
    known = {
        16384: N_("macOS loopback"),
        65536: N_("Linux loopback"),
        1500: N_("Ethernet"),
    }
    if mtu in known:
        text += tr(" ({link})", link=tr(known[mtu]))
    default = 1220 if p.ip_version == 6 else 536
    text += tr(
        ". It only appears in SYNs and limits what the peer sends, not what this side sends; "
        "without it the peer would assume {default}.",
        default=default,
    )
    return Field("mss", f"mss {mss}", text, "RFC 9293 §3.7.1, RFC 6691 §2")


def _wscale_field(p: Packet, flow: Flow) -> Field | None:
    ws = p.options.wscale
    if ws is None:
        return None
    sender, _ = flow.side_of(p)
    shift = min(ws, 14)
    factor = n(1 << shift)
    text = tr(
        "window scale, shift {ws}: the peer multiplies the {who}'s later window values by "
        "2^{shift} = {factor} (a shift count, not a multiplier: {ws} means ×{factor}). "
        "The window in SYN/SYN-ACK itself is never scaled.",
        ws=ws,
        who=_role(flow, sender),
        shift=shift,
        factor=factor,
    )
    if ws > 14:
        text += tr(" A shift above 14 is used as 14.")
    if flow.scaling == "both":
        text += tr(
            " Both SYNs carried wscale, so scaling is in effect.",
        )
    elif flow.scaling == "none":
        text += tr(
            " The peer's SYN had no wscale, so neither side scales.",
        )
    else:
        text += tr(
            " Scaling applies only if the peer's SYN carries wscale too; it is not in this capture.",
        )
    return Field("wscale", f"wscale {ws}", text, "RFC 7323 §2.2-2.3")


def _sackok_field(p: Packet, flow: Flow) -> Field | None:
    if not p.options.sack_perm:
        return None
    sender, receiver = flow.side_of(p)
    text = tr(
        "SACK permitted: the {who} can receive selective acknowledgements, which report "
        "blocks of data received above the cumulative ACK so that only the missing bytes are resent.",
        who=_role(flow, sender),
    )
    if sender.sack_perm and receiver.syn_n is not None:
        if receiver.sack_perm:
            text += tr(
                " Both SYNs carried it, so SACK is in use.",
            )
        else:
            text += tr(
                " The peer's SYN did not, so SACK is not used.",
            )
    else:
        text += tr(" It is used only if both SYNs carry it.")
    return Field("sack_perm", "sackOK", text, "RFC 2018 §2")


def _sack_field(p: Packet, flow: Flow) -> Field | None:
    blocks = p.options.sack
    if not blocks:
        return None
    absolute = "sack " + "".join(f"{{{a}:{b}}}" for a, b in blocks)
    dsack = is_dsack(blocks, p.ack)
    if p.ack is not None and p.rel_ack is not None and p.ack != p.rel_ack:
        # the blocks are in the acknowledged direction's numbers: relative like the ack
        base = (p.ack - p.rel_ack) % SEQ_MOD
        blocks = [((a - base) % SEQ_MOD, (b - base) % SEQ_MOD) for a, b in blocks]
    rel_blocks = ", ".join(f"{a}–{b - 1}" for a, b in blocks)
    label = "sack " + "".join(f"{{{a}:{b}}}" for a, b in blocks)
    if dsack:
        a, b = blocks[0]
        text = tr(
            "D-SACK: the first block (bytes {first}–{last}) reports data this side received "
            "twice: it lies below the ack number or inside the next block. It tells the "
            "sender its retransmission was not needed (or the network duplicated a "
            "segment).",
            first=a,
            last=b - 1,
        )
        if len(blocks) > 1:
            rest = ", ".join(f"{x}–{y - 1}" for x, y in blocks[1:])
            text += tr(
                " The other blocks ({rest}) are ordinary SACK: received beyond a gap.",
                rest=rest,
            )
        return Field("sack", label, text, "RFC 2883 §4", None if label == absolute else absolute)
    text = tr(
        "SACK blocks: bytes {blocks} arrived although earlier bytes are missing "
        "(right edge exclusive).",
        blocks=rel_blocks,
    )
    return Field("sack", label, text, "RFC 2018 §3", None if label == absolute else absolute)


def _is_dsack(p: Packet) -> bool:
    """RFC 2883 §4: the first block is a D-SACK when it lies below the cumulative ack, or
    inside the second block."""
    blocks = p.options.sack
    a, b = blocks[0]
    if p.ack is not None and 0 < (p.ack - a) % (1 << 32) < (1 << 31):
        return True
    if len(blocks) > 1:
        c, d = blocks[1]
        return (a - c) % (1 << 32) < (1 << 31) and (d - b) % (1 << 32) < (1 << 31)
    return False


def _ts_val_field(p: Packet, who: Text, info: PacketInfo) -> Field:
    val = p.options.ts_val or 0
    text = tr(
        "timestamp value: the {who}'s TCP timestamp clock read {val}. It is not "
        "wall time (Linux uses milliseconds from a random per-connection offset), so it is "
        "only compared with the same side's other values.",
        who=who,
        val=n(val),
    )
    if info.ts_ticks is not None and info.ts_ticks and info.ts_elapsed:
        rate = info.ts_ticks / info.ts_elapsed
        text += tr(
            " {ticks} ticks since this side's first value {elapsed} earlier: "
            "about {rate} ticks per second.",
            ticks=n(info.ts_ticks),
            elapsed=_ms(info.ts_elapsed),
            rate=f"{rate:,.0f}",
        )
    return Field("ts_val", f"TS val {val}", text, "RFC 7323 §3.2")


def _ts_ecr_text(p: Packet, ecr: int, info: PacketInfo) -> Text:
    if not p.flags & ACK:
        return tr(
            "timestamp echo reply {ecr}: without ACK the echo is not valid, so {ecr} here is "
            "normal (nothing to echo yet).",
            ecr=ecr,
        )
    if info.echo_of is None:
        return tr(
            "timestamp echo reply: echoes TS val {ecr}, the most recent value received "
            "from the peer; the packet that carried it is not in this capture.",
            ecr=n(ecr),
        )
    text = tr(
        "timestamp echo reply: echoes TS val {ecr} sent in packet #{packet}",
        ecr=n(ecr),
        packet=info.echo_of,
    )
    if info.echo_rtt is None:
        return text + tr(".")
    return text + tr(
        ", {rtt} earlier: an RTT sample as seen at the capture point "
        "(it includes any delay before the ACK was sent).",
        rtt=_ms(info.echo_rtt),
    )


def _ts_fields(p: Packet, flow: Flow, info: PacketInfo) -> list[Field]:
    o = p.options
    if o.ts_val is None:
        return []
    sender, _ = flow.side_of(p)
    out = [_ts_val_field(p, _role(flow, sender), info)]
    ecr = o.ts_ecr
    if ecr is not None:
        text = _ts_ecr_text(p, ecr, info)
        out.append(Field("ts_ecr", f"ecr {ecr}", text, "RFC 7323 §3.2, §4"))
    return out


def _other_option_fields(p: Packet) -> list[Field]:
    out: list[Field] = []
    o = p.options
    if o.nop:
        out.append(
            Field(
                "nop",
                "nop",
                tr(
                    "no-operation: one byte of padding that aligns the next option to 32 bits.",
                ),
                "RFC 9293 §3.1",
            )
        )
    if o.eol:
        out.append(
            Field(
                "eol",
                "eol",
                tr(
                    "end of option list: nothing after it is an option.",
                ),
                "RFC 9293 §3.1",
            )
        )
    for item in o.other:
        out.append(
            Field(
                "option",
                item,
                tr(
                    "option '{option}' as printed by tcpdump; tcpladder shows it without "
                    "further analysis.",
                    option=item,
                ),
                "RFC 9293 §3.1",
            )
        )
    return out


def _cksum_field(p: Packet) -> Field | None:
    if p.cksum is None:
        return None
    verdict = p.cksum_verdict()
    value = f"0x{p.cksum:04x}"
    label = f"cksum {value}"
    words = None
    if verdict == 2:
        right = (
            Text.same(f"0x{p.cksum_expected:04x}")
            if p.cksum_expected is not None
            else tr("another value")
        )
        text = tr(
            "checksum {value} is wrong: tcpdump computed {right}. On packets the capturing "
            "host sent this is checksum offload (the network card fills it in after the capture "
            "point); elsewhere the segment was corrupted and the receiver drops it.",
            value=value,
            right=right,
        )
        if p.cksum_status is not None:
            text = tr(
                "checksum {value} is wrong: the segment's bytes give {right}. On packets the "
                "capturing host sent this is checksum offload (the network card fills it in after "
                "the capture point); elsewhere the segment was corrupted and the receiver drops it.",
                value=value,
                right=right,
            )
        label = f"cksum {value} (wrong)"
        words = tr("cksum {value} (wrong)", value=value)
    elif verdict == 1:
        text = (
            tr(
                "checksum {value}, verified correct by tcpdump.",
                value=value,
            )
            if p.cksum_status is None
            else tr(
                "checksum {value}, verified correct over the pseudo-header and every byte.",
                value=value,
            )
        )
    elif p.frame is not None:
        text = tr(
            "checksum {value}, not verified: the capture does not hold every byte of the "
            "segment (snaplen), so it cannot be recomputed.",
            value=value,
        )
    else:
        text = tr("checksum {value}, not verified.", value=value)
    return Field("cksum", label, text, "RFC 9293 §3.1, RFC 1071", words=words)


def _measured_fields(info: PacketInfo) -> list[Field]:
    """What tcpladder measured at this packet: the RTT its ACK gives, the bytes in flight."""
    out = []
    if info.ack_rtt is not None and info.acks is not None:
        rtt = _ms(info.ack_rtt)
        out.append(
            Field(
                "ack_rtt",
                f"ACK RTT {rtt}",
                tr(
                    "this ACK is the first to cover packet #{packet}, sent {rtt} earlier: an RTT "
                    "sample as seen at the capture point (Wireshark's ack_rtt).",
                    packet=info.acks,
                    rtt=rtt,
                ),
                "RFC 6298 §2",
                words=tr("ACK RTT {rtt}", rtt=rtt),
            )
        )
    if info.in_flight is not None:
        flight = n(info.in_flight)
        out.append(
            Field(
                "in_flight",
                f"in flight {flight}",
                tr(
                    "{bytes} bytes sent by this side and not yet acknowledged after this "
                    "segment (highest sequence sent minus the peer's last ACK).",
                    bytes=flight,
                ),
                "RFC 9293 §3.8.6, RFC 5681 §2",
                words=tr("in flight {bytes}", bytes=flight),
            )
        )
    return out


def explain_packet(p: Packet, flow: Flow, info: PacketInfo) -> list[Field]:
    """All explained fields of one packet, in tcpdump's printing order."""
    fields: list[Field | None] = [
        _flags_field(p, flow, info),
        _cksum_field(p),
        _seq_field(p, flow),
        _ack_field(p, flow),
        _win_field(p, flow, info),
    ]
    if p.urg is not None:
        fields.append(
            Field(
                "urg",
                f"urg {p.urg}",
                tr(
                    "urgent pointer: urgent data ends {urg} bytes after seq.",
                    urg=p.urg,
                ),
                "RFC 9293 §3.8.5",
            )
        )
    fields += [_mss_field(p, flow), _wscale_field(p, flow), _sackok_field(p, flow)]
    fields += _ts_fields(p, flow, info)
    fields.append(_sack_field(p, flow))
    fields += _other_option_fields(p)
    fields.append(_len_field(p))
    fields += _ip_fields(p)
    fields.append(_ecn_field(p))
    fields += _measured_fields(info)
    return [f for f in fields if f is not None]


# Fields shown on every ladder row and exported arrow: what a reader follows a connection
# by. The rest (checksum, timestamps, IP header values, measurements) are shown on demand.
MAIN_FIELDS = frozenset(
    {"flags", "seq", "ack", "win", "len", "urg", "mss", "wscale", "sack_perm", "sack", "ecn"}
    | {"malformed", "ip_fragments", "option"}
)

PHASES: dict[str, Text] = {
    "handshake": tr("Three-way handshake"),
    "data": tr("Data transfer"),
    "teardown": tr("Connection teardown"),
    "half_close": tr(
        "Half-close: one side has stopped sending, the other still sends",
    ),
}

ENDINGS: dict[str, Text] = {
    "four_way_close": tr("four-way close: FIN, ACK, FIN, ACK"),
    "three_way_close": tr(
        "three-packet close: the second FIN carried the ACK of the first",
    ),
    "simultaneous_close": tr("simultaneous close: both FINs crossed"),
    "half_close": tr(
        "half-closed: one side sent FIN, the other had not closed when the capture ended",
    ),
    "reset": tr("reset (RST): aborted, not an orderly close"),
    "refused": tr("refused: the SYN was answered by RST"),
    "open": tr("still open when the capture ended"),
}


def describe_ending(ended_by: str, closer: str | None) -> dict[str, str]:
    text = ENDINGS[ended_by]
    if closer and ended_by != "open":
        who = roles()[closer != "client"]
        if ended_by == "refused":
            text = tr("{ending} (by the {who})", ending=text, who=who)
        else:
            text = tr("{ending} (started by the {who})", ending=text, who=who)
    return {"en": text.en, "zh": text.zh}


__all__ = ["ENDINGS", "MAIN_FIELDS", "PHASES", "Field", "describe_ending", "explain_packet"]

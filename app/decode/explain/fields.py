"""What each printed field of a packet means, computed for that packet, in English and Chinese.

Every explanation names the RFC section it rests on.  The texts were written against
RFC 9293 (TCP), RFC 7323 (window scale, timestamps), RFC 2018 (SACK), RFC 6691 (MSS),
RFC 3168 (ECN); where tutorials commonly get a fact wrong, the text says the right one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.decode.analysis.flows import Flow, PacketInfo, Side
from app.decode.model.options import is_dsack
from app.decode.model.packet import ACK, AE, CWR, ECE, FIN, PSH, RST, SEQ_MOD, SYN, URG, Packet


@dataclass(slots=True)
class Field:
    key: str  # "flags", "seq", "ack", "win", "len", "mss", "wscale", "ts_val", "ts_ecr", ...
    label: str  # as printed on the diagram, e.g. "wscale 6"
    en: str
    zh: str
    rfc: str
    # seq and ack: ``label`` counts from the ISN (relative, as tcpdump and Wireshark show
    # by default); ``absolute`` is the number on the wire, when it differs
    absolute: str | None = None

    def __post_init__(self) -> None:
        self.zh = self.zh.replace("。 ", "。")

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "en": self.en, "zh": self.zh, "rfc": self.rfc}


def n(value: int) -> str:
    return f"{value:,}"


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    if round(ms * 1000) < 1000:  # (0.9999996 ms is "1.000 ms", not "1000 µs")
        return f"{ms * 1000:.0f} µs"
    return f"{ms:.3f} ms" if ms < 100 else f"{ms:.1f} ms"


def _role(flow: Flow, side: Side) -> tuple[str, str]:
    return ("client", "客户端") if side is flow.client else ("server", "服务端")


_FLAG_TEXT: dict[int, tuple[str, str, str, str]] = {
    # bit: (name, en, zh, rfc)
    SYN: (
        "SYN",
        "synchronize: opens a connection and carries the sender's initial sequence number "
        "(ISN); it consumes one sequence number",
        "同步（SYN）：发起连接，携带发送方的初始序列号（ISN），本身占用一个序列号",
        "RFC 9293 §3.5",
    ),
    ACK: (
        "ACK",
        "acknowledgement ('.' in tcpdump; the bit is ACK, not 'ACT'): the ack field is valid",
        "确认（tcpdump 中写作“.”，名称是 ACK，不是“ACT”）：ack 字段有效",
        "RFC 9293 §3.1",
    ),
    FIN: (
        "FIN",
        "finish: the sender has no more data to send but can still receive; it consumes one "
        "sequence number and must be acknowledged",
        "结束（FIN）：发送方不再发送数据，但仍可接收；占用一个序列号，需要对方确认",
        "RFC 9293 §3.6",
    ),
    RST: (
        "RST",
        "reset: aborts the connection at once. Unlike FIN it is not an orderly close: data in "
        "flight or not yet read by the application is discarded, and no ACK answers it",
        "复位（RST）：立即中止连接。它与 FIN 不同，并非有序关闭：在途或尚未被应用读取的数据会被丢弃，对方也不会回 ACK",
        "RFC 9293 §3.5.2",
    ),
    PSH: (
        "PSH",
        "push: asks the receiver to hand the data to the application without waiting for more",
        "推送（PSH）：请求接收方尽快把数据交给应用程序，不必等待更多数据",
        "RFC 9293 §3.9.1",
    ),
    URG: (
        "URG",
        "urgent: the urgent pointer field is valid (rarely used today)",
        "紧急（URG）：紧急指针字段有效（现在很少使用）",
        "RFC 9293 §3.8.5",
    ),
    ECE: (
        "ECE",
        "ECN-Echo: in a SYN it offers ECN; later it tells the peer a packet arrived marked CE "
        "(congestion experienced)",
        "ECN 回显（ECE）：在 SYN 中表示支持 ECN；之后表示收到了带 CE（拥塞）标记的包",
        "RFC 3168 §6.1",
    ),
    CWR: (
        "CWR",
        "congestion window reduced: the sender has reacted to an ECN-Echo",
        "拥塞窗口已减小（CWR）：发送方已对 ECN-Echo 做出反应",
        "RFC 3168 §6.1",
    ),
    AE: (
        "AE",
        "accurate ECN bit (tcpdump letter 'e')",
        "精确 ECN 标志位（tcpdump 字母“e”）",
        "RFC 9768",
    ),
}


def _flags_field(p: Packet, flow: Flow, info: PacketInfo) -> Field:
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    names = [(bit, text) for bit, text in _FLAG_TEXT.items() if p.flags & bit]
    names.sort(key=lambda t: [SYN, FIN, RST, PSH, ACK, URG, ECE, CWR, AE].index(t[0]))
    parts_en = [f"{t[0]} = {t[1]}" for _, t in names]
    parts_zh = [t[2] for _, t in names]
    rfcs = sorted({t[3] for _, t in names}) or ["RFC 9293 §3.1"]
    if p.flags & SYN and p.flags & ACK:
        lead_en = (
            f"[{p.letters}] = SYN + ACK: second step of the three-way handshake. The {who_en} "
            "acknowledges the peer's SYN and sends its own ISN."
        )
        lead_zh = f"[{p.letters}] = SYN + ACK：三次握手的第二步。{who_zh}确认对方的 SYN，并发送自己的初始序列号。"
    elif p.flags & SYN:
        lead_en = (
            f"[{p.letters}] = SYN: first step of the three-way handshake, sent by the {who_en}."
        )
        lead_zh = f"[{p.letters}] = SYN：三次握手的第一步，由{who_zh}发出。"
    elif p.flags & RST:
        lead_en = f"[{p.letters}]: the {who_en} resets the connection."
        lead_zh = f"[{p.letters}]：{who_zh}复位（强制中断）连接。"
    elif p.flags & FIN:
        lead_en = f"[{p.letters}]: the {who_en} closes its sending direction."
        lead_zh = f"[{p.letters}]：{who_zh}关闭自己的发送方向。"
    elif info.phase == "handshake":
        lead_en = f"[{p.letters}]: third step of the three-way handshake; the connection is now established."
        lead_zh = f"[{p.letters}]：三次握手的第三步，连接就此建立。"
    elif not p.length:
        lead_en = f"[{p.letters}]: a pure acknowledgement from the {who_en}, no data."
        lead_zh = f"[{p.letters}]：{who_zh}发出的纯确认包，不带数据。"
    else:
        lead_en = f"[{p.letters}]: the {who_en} sends data."
        lead_zh = f"[{p.letters}]：{who_zh}发送数据。"
    if not names:
        parts_en, parts_zh = ["no flag set"], ["没有设置任何标志"]
    ecn_en, ecn_zh = _ecn_context(p, who_en, who_zh)
    lead_en, lead_zh = lead_en + ecn_en, lead_zh + ecn_zh
    if ecn_en:
        rfcs.append("RFC 3168 §6.1")
    return Field(
        "flags",
        f"[{p.letters}]",
        lead_en + " " + "; ".join(parts_en) + ".",
        lead_zh + "；".join(parts_zh) + "。",
        ", ".join(rfcs),
    )


def _ecn_context(p: Packet, who_en: str, who_zh: str) -> tuple[str, str]:
    """What ECE and CWR mean outside the handshake (RFC 3168 §6.1.2-6.1.3)."""
    if p.flags & SYN:
        return "", ""
    en, zh = "", ""
    if p.flags & ECE:
        en += (
            f" ECE here: packets the {who_en} received were marked CE (a router was "
            f"congested); the {who_en} echoes it on every ACK until the peer answers with CWR."
        )
        zh += f"这里的 ECE：{who_zh}收到的包被标记了 CE（路由器发生拥塞）；{who_zh}会在每个 ACK 中回显，直到对方用 CWR 回应。"
    if p.flags & CWR:
        en += (
            f" CWR here: the {who_en} has reduced its congestion window in answer to ECE, "
            "as it would after a loss."
        )
        zh += f"这里的 CWR：{who_zh}已像遇到丢包一样减小了拥塞窗口，以回应 ECE。"
    return en, zh


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
            "IP ECN = CE (11): congestion experienced. A router on the path was congested and "
            "marked this packet instead of dropping it; the receiver will echo it with ECE.",
            "IP ECN = CE（11）：经历拥塞。路径上的路由器发生了拥塞，标记了这个包而没有丢弃它；接收方将用 ECE 回显。",
            "RFC 3168 §5",
        )
    name = "ECT(0)" if code == 2 else "ECT(1)"
    return Field(
        "ecn",
        name,
        f"IP ECN = {name}: the sender is ECN-capable, so a congested router may mark this "
        "packet CE instead of dropping it.",
        f"IP ECN = {name}：发送方支持 ECN，拥塞的路由器可以把这个包标记为 CE，而不是丢弃它。",
        "RFC 3168 §5",
    )


def _seq_field(p: Packet, flow: Flow) -> Field | None:
    if p.seq is None and p.rel_seq is None:
        return None
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    length = p.length or 0
    en: list[str] = []
    zh: list[str] = []
    rel = p.rel_seq
    absolute = None
    if p.seq is not None:
        absolute = f"seq {p.seq}:{(p.seq + length) % SEQ_MOD}" if length else f"seq {p.seq}"
        en.append(f"absolute sequence number {n(p.seq)}")
        zh.append(f"绝对序列号 {n(p.seq)}")
    label = absolute or ""
    if rel is not None:  # shown relative, as tcpdump and Wireshark do by default
        label = f"seq {rel}:{rel + length}" if length else f"seq {rel}"
    if rel is not None:
        if p.flags & SYN:
            en.append("the ISN: relative numbering of this direction starts here")
            zh.append("即初始序列号（ISN），该方向的相对序号从这里开始计算")
        else:
            base = "ISN" if sender.isn is not None else "the first packet seen"
            base_zh = "ISN" if sender.isn is not None else "抓到的第一个包"
            en.append(f"relative {n(rel)} (counted from {base})")
            zh.append(f"相对序号 {n(rel)}（相对于{base_zh}）")
    if length:
        first = rel if rel is not None else p.seq
        assert first is not None
        en.append(
            f"this segment carries bytes {n(first)}…{n(first + length - 1)} of the {who_en}'s stream; "
            f"the next new byte will be {n(first + length)}"
        )
        zh.append(
            f"本报文段携带{who_zh}数据流的第 {n(first)}…{n(first + length - 1)} 字节，下一个新字节为 {n(first + length)}"
        )
    if p.flags & FIN:
        en.append("the FIN takes one sequence number after the data")
        zh.append("FIN 在数据之后占用一个序列号")
    if p.seq_inferred:
        en.append("tcpdump does not print seq on a bare ACK; tcpladder inferred it from the stream")
        zh.append("tcpdump 在纯 ACK 上不打印 seq，此值由 tcpladder 根据数据流推断")
    en_text, zh_text = "; ".join(en) + ".", "；".join(zh) + "。"
    absolute = None if absolute == label else absolute
    return Field("seq", label, en_text, zh_text, "RFC 9293 §3.4", absolute)


def _ack_field(p: Packet, flow: Flow) -> Field | None:
    if not p.flags & ACK or (p.ack is None and p.rel_ack is None):
        return None
    _, receiver = flow.side_of(p)
    peer_en, peer_zh = _role(flow, receiver)
    shown = p.ack if p.ack is not None else p.rel_ack
    en = [f"the next byte expected from the {peer_en}"]
    zh = [f"期望从{peer_zh}收到的下一个字节"]
    rel = p.rel_ack
    if rel is not None:
        if p.ack is not None:
            en.append(f"relative {n(rel)}")
            zh.append(f"相对值 {n(rel)}")
        if rel == 1:
            en.append(f"it acknowledges the {peer_en}'s SYN (ISN + 1), no data yet")
            zh.append(f"即确认了{peer_zh}的 SYN（ISN + 1），尚无数据")
        elif rel > 1:
            en.append(
                f"everything up to byte {n(rel - 1)} has arrived (the SYN counts as one; "
                "a FIN also counts as one)"
            )
            zh.append(f"表示到第 {n(rel - 1)} 字节为止都已收到（SYN 计为一个序号，FIN 也计为一个）")
    label, absolute = f"ack {rel if rel is not None else shown}", f"ack {shown}"
    en_text, zh_text = "; ".join(en) + ".", "；".join(zh) + "。"
    return Field(
        "ack", label, en_text, zh_text, "RFC 9293 §3.4", None if absolute == label else absolute
    )


def _win_field(p: Packet, flow: Flow, info: PacketInfo) -> Field | None:
    if p.win is None:
        return None
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    lead_en = f"receive window the {who_en} advertises (raw 16-bit field {n(p.win)})"
    lead_zh = f"{who_zh}通告的接收窗口（原始 16 位字段值 {n(p.win)}）"
    if info.scale == "syn":
        en = f"{lead_en}: {n(p.win)} bytes. The window in a SYN or SYN-ACK is never scaled."
        zh = f"{lead_zh}：{n(p.win)} 字节。SYN 和 SYN-ACK 中的窗口永远不做缩放。"
    elif info.scale == "scaled" and info.shift is not None and info.eff_win is not None:
        factor = 1 << info.shift
        en = (
            f"{lead_en}: {n(p.win)} × {factor} = {n(info.eff_win)} bytes, using the {who_en}'s "
            f"window scale {info.shift} from its SYN (both SYNs carried wscale)."
        )
        zh = (
            f"{lead_zh}：{n(p.win)} × {factor} = {n(info.eff_win)} 字节，"
            f"使用{who_zh}在 SYN 中声明的窗口缩放因子 {info.shift}（双方 SYN 都带有 wscale）。"
        )
    elif info.scale == "none":
        en = (
            f"{lead_en}: {n(p.win)} bytes. Window scaling is off because not both SYNs "
            "carried wscale."
        )
        zh = f"{lead_zh}：{n(p.win)} 字节。由于并非双方 SYN 都带 wscale，窗口缩放未启用。"
    else:
        en = (
            f"{lead_en}. Scale unknown: the handshake was not captured, so the real window "
            f"is {n(p.win)} × 2^shift for a shift between 0 and 14 that this capture cannot show."
        )
        zh = (
            f"{lead_zh}。缩放因子未知：没有抓到握手包，实际窗口为 {n(p.win)} × 2^shift，"
            "shift 在 0 到 14 之间，无法从本次抓包得知。"
        )
    if p.win == 0 and not p.flags & (SYN | RST):
        en += " A zero window: the sender must stop and probe until the window reopens."
        zh += " 零窗口：对方必须暂停发送，并定期探测，直到窗口重新打开。"
    return Field("win", f"win {p.win}", en, zh, "RFC 9293 §3.8.6, RFC 7323 §2.2-2.3")


def _len_field(p: Packet) -> Field | None:
    if p.length is None:
        return None
    if p.length == 0:
        en = "length 0: no payload (TCP headers only)."
        zh = "length 0：没有载荷，只有 TCP 头部。"
        if p.flags & (SYN | FIN):
            en += " The SYN/FIN flag still consumes one sequence number."
            zh += " SYN/FIN 标志本身仍占用一个序列号。"
    else:
        en = (
            f"{n(p.length)} bytes of payload (application data), not counting IP and TCP "
            "headers; the same as last − first in seq."
        )
        zh = (
            f"载荷（应用数据）{n(p.length)} 字节，不含 IP 和 TCP 头部；等于 seq 中的 last − first。"
        )
    return Field("len", f"length {p.length}", en, zh, "RFC 9293 §3.4")


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
                "Only the first IP fragment of this segment was captured: the rest of its "
                f"datagram never came (a receiver waits {wait}), so its payload length is "
                "unknown and a receiver would have discarded it. It is left out of the "
                "sequence analysis.",
                f"只抓到了该报文段的第一个 IP 分片：数据报的其余部分始终没有到达（接收方最多等待 {wait}），"
                "因此载荷长度未知，接收方也会丢弃它。它不参与序列号分析。",
                rfc,
            )
        )
    elif p.fragments:
        out.append(
            Field(
                "ip_fragments",
                f"IP fragments: frames {frames}",
                f"This segment did not travel in one IP packet: it came in {len(p.fragments)} "
                f"IP fragments (frames {frames}), put back together here, at the frame that "
                "completed it, as the receiving host reassembles them. The fragments are "
                "listed among the packets that are not TCP.",
                f"该报文段没有装在一个 IP 包里：它分成 {len(p.fragments)} 个 IP 分片（第 {frames} 帧）到达，"
                "在此处（补齐它的那一帧）按接收主机的方式重组。各分片列在非 TCP 报文中。",
                rfc,
            )
        )
    if p.malformed:
        out.append(
            Field(
                "malformed",
                "malformed header",
                f"This TCP header does not add up: {p.malformed}. A receiver drops such a "
                "segment, so its payload length is unknown and it is left out of the sequence "
                "analysis.",
                f"该 TCP 首部自相矛盾：{_MALFORMED_ZH.get(p.malformed, p.malformed)}。"
                "接收方会丢弃这样的报文段，因此其载荷长度未知，也不参与序列号分析。",
                "RFC 9293 §3.1",
            )
        )
    return out


_MALFORMED_ZH = {
    "the header length (data offset) is below the 20-byte minimum": "首部长度（数据偏移）小于最小的 20 字节",
    "the header is longer than the IP packet's payload": "首部长度超过了 IP 包的载荷",
}


def _mss_field(p: Packet, flow: Flow) -> Field | None:
    mss = p.options.mss
    if mss is None:
        return None
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    overhead = 60 if p.ip_version == 6 else 40
    hdr = "40-byte IPv6 + 20-byte TCP" if p.ip_version == 6 else "20-byte IPv4 + 20-byte TCP"
    mtu = mss + overhead
    en = (
        f"maximum segment size: the {who_en} accepts at most {n(mss)} bytes of payload per "
        f"segment. It is the interface MTU minus the fixed {hdr} headers, so MTU {n(mtu)}"
    )
    zh = f"最大报文段长度：{who_zh}每个报文段最多接收 {n(mss)} 字节载荷。它等于接口 MTU 减去固定的 IP 与 TCP 头部（{overhead} 字节），即 MTU {n(mtu)}"
    known = {16384: "macOS loopback", 65536: "Linux loopback", 1500: "Ethernet"}
    if mtu in known:
        en += f" ({known[mtu]})"
        zh += f"（{ {'macOS loopback': 'macOS 回环接口', 'Linux loopback': 'Linux 回环接口', 'Ethernet': '以太网'}[known[mtu]] }）"
    default = 1220 if p.ip_version == 6 else 536
    en += (
        f". It only appears in SYNs and limits what the peer sends, not what this side sends; "
        f"without it the peer would assume {default}."
    )
    zh += f"。它只出现在 SYN 中，限制的是对方发来的报文段大小；若不带此选项，对方默认取 {default}。"
    return Field("mss", f"mss {mss}", en, zh, "RFC 9293 §3.7.1, RFC 6691 §2")


def _wscale_field(p: Packet, flow: Flow) -> Field | None:
    ws = p.options.wscale
    if ws is None:
        return None
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    shift = min(ws, 14)
    factor = 1 << shift
    en = (
        f"window scale, shift {ws}: the peer multiplies the {who_en}'s later window values by "
        f"2^{shift} = {n(factor)} (a shift count, not a multiplier: {ws} means ×{n(factor)}). "
        "The window in SYN/SYN-ACK itself is never scaled."
    )
    zh = (
        f"窗口缩放，移位 {ws}：对方会把{who_zh}之后通告的窗口值乘以 2^{shift} = {n(factor)}"
        f"（这是移位位数而不是倍数：{ws} 表示 ×{n(factor)}）。SYN/SYN-ACK 中的窗口本身永远不缩放。"
    )
    if ws > 14:
        en += " A shift above 14 is used as 14."
        zh += " 大于 14 的移位按 14 处理。"
    if flow.scaling == "both":
        en += " Both SYNs carried wscale, so scaling is in effect."
        zh += " 双方 SYN 都带 wscale，所以缩放已生效。"
    elif flow.scaling == "none":
        en += " The peer's SYN had no wscale, so neither side scales."
        zh += " 对方的 SYN 没有 wscale，所以双方都不缩放。"
    else:
        en += (
            " Scaling applies only if the peer's SYN carries wscale too; it is not in this capture."
        )
        zh += " 只有对方 SYN 也带 wscale 时缩放才生效；本次抓包中没有对方的 SYN。"
    return Field("wscale", f"wscale {ws}", en, zh, "RFC 7323 §2.2-2.3")


def _sackok_field(p: Packet, flow: Flow) -> Field | None:
    if not p.options.sack_perm:
        return None
    sender, receiver = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    en = (
        f"SACK permitted: the {who_en} can receive selective acknowledgements, which report "
        "blocks of data received above the cumulative ACK so that only the missing bytes are resent."
    )
    zh = f"允许 SACK：{who_zh}可以接收选择性确认，即报告累计确认号之后已收到的数据块，从而只重传缺失的字节。"
    if sender.sack_perm and receiver.syn_n is not None:
        if receiver.sack_perm:
            en += " Both SYNs carried it, so SACK is in use."
            zh += " 双方 SYN 都带有它，所以 SACK 已启用。"
        else:
            en += " The peer's SYN did not, so SACK is not used."
            zh += " 对方的 SYN 没有带它，所以不使用 SACK。"
    else:
        en += " It is used only if both SYNs carry it."
        zh += " 只有双方 SYN 都带有它时才会启用。"
    return Field("sack_perm", "sackOK", en, zh, "RFC 2018 §2")


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
        en = (
            f"D-SACK: the first block (bytes {a}–{b - 1}) reports data this side received "
            "twice: it lies below the ack number or inside the next block. It tells the "
            "sender its retransmission was not needed (or the network duplicated a "
            "segment)."
        )
        zh = (
            f"D-SACK：第一个块（第 {a}–{b - 1} 字节）报告本方重复收到的数据：它位于确认号之下，或包含在下一个块中。"
            "它告诉发送方那次重传是不必要的（或网络复制了一个报文段）。"
        )
        if len(blocks) > 1:
            rest = ", ".join(f"{x}–{y - 1}" for x, y in blocks[1:])
            en += f" The other blocks ({rest}) are ordinary SACK: received beyond a gap."
            zh += f"其余的块（{rest}）是普通 SACK：空洞之后已收到的数据。"
        return Field("sack", label, en, zh, "RFC 2883 §4", None if label == absolute else absolute)
    en = (
        f"SACK blocks: bytes {rel_blocks} arrived although earlier bytes are missing "
        "(right edge exclusive)."
    )
    zh = f"SACK 块：第 {rel_blocks} 字节已收到，但之前的字节仍缺失（右边界不含）。"
    return Field("sack", label, en, zh, "RFC 2018 §3", None if label == absolute else absolute)


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


def _ts_fields(p: Packet, flow: Flow, info: PacketInfo) -> list[Field]:
    o = p.options
    if o.ts_val is None:
        return []
    sender, _ = flow.side_of(p)
    who_en, who_zh = _role(flow, sender)
    en = (
        f"timestamp value: the {who_en}'s TCP timestamp clock read {n(o.ts_val)}. It is not "
        "wall time (Linux uses milliseconds from a random per-connection offset), so it is "
        "only compared with the same side's other values."
    )
    zh = f"时间戳值：{who_zh}的 TCP 时间戳时钟读数 {n(o.ts_val)}。它不是墙上时间（Linux 以毫秒计、起点是每个连接随机的偏移），只能与同一方的其他值比较。"
    if info.ts_ticks is not None and info.ts_ticks and info.ts_elapsed:
        rate = info.ts_ticks / info.ts_elapsed
        en += (
            f" {n(info.ts_ticks)} ticks since this side's first value {_ms(info.ts_elapsed)} "
            f"earlier: about {rate:,.0f} ticks per second."
        )
        zh += f" 距本方第一个时间戳 {_ms(info.ts_elapsed)}，增加了 {n(info.ts_ticks)}，约每秒 {rate:,.0f} 次。"
    out = [Field("ts_val", f"TS val {o.ts_val}", en, zh, "RFC 7323 §3.2")]
    ecr = o.ts_ecr
    if ecr is not None:
        if not p.flags & ACK:
            en2 = f"timestamp echo reply {ecr}: without ACK the echo is not valid, so {ecr} here is normal (nothing to echo yet)."
            zh2 = f"时间戳回显 {ecr}：没有 ACK 标志时回显无效，所以这里是 {ecr} 很正常（还没有可回显的值）。"
        elif info.echo_of is not None:
            en2 = f"timestamp echo reply: echoes TS val {n(ecr)} sent in packet #{info.echo_of}"
            zh2 = f"时间戳回显：回显第 #{info.echo_of} 个包发出的 TS val {n(ecr)}"
            if info.echo_rtt is not None:
                en2 += (
                    f", {_ms(info.echo_rtt)} earlier: an RTT sample as seen at the capture point "
                    "(it includes any delay before the ACK was sent)."
                )
                zh2 += f"，相隔 {_ms(info.echo_rtt)}：这是在抓包点看到的一个 RTT 样本（包含对方延迟发送 ACK 的时间）。"
            else:
                en2 += "."
                zh2 += "。"
        else:
            en2 = (
                f"timestamp echo reply: echoes TS val {n(ecr)}, the most recent value received "
                "from the peer; the packet that carried it is not in this capture."
            )
            zh2 = f"时间戳回显：回显对方最近发来的 TS val {n(ecr)}；携带该值的包不在本次抓包中。"
        out.append(Field("ts_ecr", f"ecr {ecr}", en2, zh2, "RFC 7323 §3.2, §4"))
    return out


def _other_option_fields(p: Packet) -> list[Field]:
    out: list[Field] = []
    o = p.options
    if o.nop:
        out.append(
            Field(
                "nop",
                "nop",
                "no-operation: one byte of padding that aligns the next option to 32 bits.",
                "空操作：1 字节填充，使下一个选项按 32 位对齐。",
                "RFC 9293 §3.1",
            )
        )
    if o.eol:
        out.append(
            Field(
                "eol",
                "eol",
                "end of option list: nothing after it is an option.",
                "选项列表结束：其后不再有选项。",
                "RFC 9293 §3.1",
            )
        )
    for item in o.other:
        out.append(
            Field(
                "option",
                item,
                f"option '{item}' as printed by tcpdump; tcpladder shows it without further analysis.",
                f"tcpdump 打印的选项“{item}”；tcpladder 原样显示，未作进一步分析。",
                "RFC 9293 §3.1",
            )
        )
    return out


def _cksum_field(p: Packet) -> Field | None:
    if p.cksum is None:
        return None
    verdict = p.cksum_verdict()
    value = f"0x{p.cksum:04x}"
    if verdict == 2:
        right = f"0x{p.cksum_expected:04x}" if p.cksum_expected is not None else "another value"
        by_en = "tcpdump computed" if p.cksum_status is None else "the segment's bytes give"
        by_zh = "tcpdump 计算的是" if p.cksum_status is None else "按报文段的字节计算应为"
        en = (
            f"checksum {value} is wrong: {by_en} {right}. On packets the capturing host sent "
            "this is checksum offload (the network card fills it in after the capture point); "
            "elsewhere the segment was corrupted and the receiver drops it."
        )
        zh = (
            f"校验和 {value} 错误：{by_zh} {right}。如果是抓包主机自己发出的包，这是校验和卸载（网卡在抓包点之后才填写）；"
            "否则说明报文段已损坏，接收方会丢弃它。"
        )
        label = f"cksum {value} (wrong)"
    elif verdict == 1:
        by_en = "by tcpdump" if p.cksum_status is None else "over the pseudo-header and every byte"
        by_zh = "由 tcpdump 验证" if p.cksum_status is None else "按伪首部和全部字节验证"
        en = f"checksum {value}, verified correct {by_en}."
        zh = f"校验和 {value}，已{by_zh}，正确。"
        label = f"cksum {value}"
    else:
        en = (
            f"checksum {value}, not verified: the capture does not hold every byte of the "
            "segment (snaplen), so it cannot be recomputed."
            if p.frame is not None
            else f"checksum {value}, not verified."
        )
        zh = (
            f"校验和 {value}，未验证：抓包没有保存报文段的全部字节（snaplen），无法重新计算。"
            if p.frame is not None
            else f"校验和 {value}，未验证。"
        )
        label = f"cksum {value}"
    return Field("cksum", label, en, zh, "RFC 9293 §3.1, RFC 1071")


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
                f"urgent pointer: urgent data ends {p.urg} bytes after seq.",
                f"紧急指针：紧急数据在 seq 之后 {p.urg} 字节处结束。",
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
    if info.ack_rtt is not None and info.acks is not None:
        fields.append(
            Field(
                "ack_rtt",
                f"ACK RTT {_ms(info.ack_rtt)}",
                f"this ACK is the first to cover packet #{info.acks}, sent {_ms(info.ack_rtt)} "
                "earlier: an RTT sample as seen at the capture point (Wireshark's ack_rtt).",
                f"该 ACK 首次确认了第 #{info.acks} 个包，相隔 {_ms(info.ack_rtt)}："
                "这是在抓包点看到的一个往返时间样本（即 Wireshark 的 ack_rtt）。",
                "RFC 6298 §2",
            )
        )
    if info.in_flight is not None:
        fields.append(
            Field(
                "in_flight",
                f"in flight {n(info.in_flight)}",
                f"{n(info.in_flight)} bytes sent by this side and not yet acknowledged after this "
                "segment (highest sequence sent minus the peer's last ACK).",
                f"本段发出后，本方已发送但尚未被确认的数据为 {n(info.in_flight)} 字节"
                "（已发送的最高序号减去对方最近的确认号）。",
                "RFC 9293 §3.8.6, RFC 5681 §2",
            )
        )
    return [f for f in fields if f is not None]


# Fields shown on every ladder row and exported arrow: what a reader follows a connection
# by. The rest (checksum, timestamps, IP header values, measurements) are shown on demand.
MAIN_FIELDS = frozenset(
    {"flags", "seq", "ack", "win", "len", "urg", "mss", "wscale", "sack_perm", "sack", "ecn"}
    | {"malformed", "ip_fragments", "option"}
)

PHASES: dict[str, tuple[str, str]] = {
    "handshake": ("Three-way handshake", "三次握手"),
    "data": ("Data transfer", "数据传输"),
    "teardown": ("Connection teardown", "连接关闭（挥手）"),
    "half_close": (
        "Half-close: one side has stopped sending, the other still sends",
        "半关闭：一方已停止发送，另一方仍在发送",
    ),
}

ENDINGS: dict[str, tuple[str, str]] = {
    "four_way_close": (
        "four-way close: FIN, ACK, FIN, ACK",
        "四次挥手：FIN、ACK、FIN、ACK",
    ),
    "three_way_close": (
        "three-packet close: the second FIN carried the ACK of the first",
        "三次挥手：第二个 FIN 同时确认了第一个 FIN",
    ),
    "simultaneous_close": (
        "simultaneous close: both FINs crossed",
        "同时关闭：双方的 FIN 交叉发送",
    ),
    "half_close": (
        "half-closed: one side sent FIN, the other had not closed when the capture ended",
        "半关闭：一方已发送 FIN，另一方在抓包结束时尚未关闭",
    ),
    "reset": (
        "reset (RST): aborted, not an orderly close",
        "复位（RST）：连接被中止，而非有序关闭",
    ),
    "refused": ("refused: the SYN was answered by RST", "被拒绝：SYN 收到了 RST"),
    "open": ("still open when the capture ended", "抓包结束时连接仍处于打开状态"),
}


def describe_ending(ended_by: str, closer: str | None) -> dict[str, str]:
    en, zh = ENDINGS[ended_by]
    if closer and ended_by != "open":
        who_zh = "客户端" if closer == "client" else "服务端"
        verb_en = "started by the" if ended_by != "refused" else "by the"
        en = f"{en} ({verb_en} {closer})"
        zh = f"{zh}（由{who_zh}发起）"
    return {"en": en, "zh": zh}


__all__ = ["ENDINGS", "MAIN_FIELDS", "PHASES", "Field", "describe_ending", "explain_packet"]

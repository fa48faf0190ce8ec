"""A connection told in plain words, in English and Chinese, from its computed facts.

Every sentence states something the analysis measured; where the capture cannot show a
thing (no handshake, no time stamps) the text says so instead of guessing.  RTTs are "as
seen at the capture point": a capture next to the client measures the path, one next to
the server mostly measures the peer's delayed ACKs.
"""

from __future__ import annotations

from dataclasses import dataclass


def _n(v: int) -> str:
    return f"{v:,}"


def size(b: int, unit: str = "bytes") -> str:
    if b < 10_000:
        return f"{b:,} {unit}"
    if b < 10_000_000:
        return f"{b / 1000:,.1f} KB"
    return f"{b / 1_000_000:,.1f} MB"


def _size_zh(b: int) -> str:
    return size(b, "字节")


def ms(seconds: float) -> str:
    v = seconds * 1000
    if round(v * 1000) < 1000:  # (0.9999996 ms is "1.00 ms", not "1000 µs")
        return f"{v * 1000:.0f} µs"
    if v < 100:
        return f"{v:.2f} ms"
    if v < 10_000:
        return f"{v:,.0f} ms"
    return f"{seconds:,.1f} s"


@dataclass(slots=True)
class Story:
    client: str
    server: str
    roles_from: str  # "syn", "syn-ack", "heuristic"
    handshake: str
    irtt: float | None
    bytes: tuple[int, int]  # client, server
    segments: tuple[int, int]  # data segments
    retrans: int
    fast: int
    spurious: int
    max_dup: int
    ooo: int
    lost: int
    zero_window: int
    keep_alive: int
    rtt_median: float | None
    rtt_samples: int
    ending_en: str
    ending_zh: str
    duration: float | None
    ended_by: str = "open"
    closer: int = -1  # 0 client, 1 server: who sent the first FIN or the RST
    half_closer: int = -1  # who closed its sending side while the other still sent data
    half_bytes: int = 0  # what the other side sent after that
    half_span: float | None = None  # from that FIN to the other side's last data
    path_rtt: float | None = None  # between the endpoints
    path_source: str = "none"  # "handshake", "ack", "ts"
    legs: tuple[float | None, float | None] = (None, None)  # capture point to each side
    vantage: str = "unknown"  # "client", "server", "between"
    copies: int = 0  # segments the network delivered twice
    ce: int = 0  # packets marked CE on the way (ECN)
    cwr: int = 0  # CWR answers from a sender


_ROLE, _ROLE_ZH = ("client", "server"), ("客户端", "服务端")


def _opening(s: Story, en: list[str], zh: list[str]) -> None:
    """Who opened the connection (or tried to), as far as the capture shows."""
    if s.roles_from == "syn" and s.ended_by == "refused":
        after = f" {ms(s.irtt)} later" if s.irtt is not None else ""
        after_zh = f"，相隔 {ms(s.irtt)}" if s.irtt is not None else ""
        en.append(
            f"The client {s.client} tried to open a connection to the server {s.server}, "
            f"which refused it: an RST answered the SYN{after}, so no connection was ever "
            "established (nothing was listening on that port, or a firewall rejected it)."
        )
        zh.append(
            f"客户端 {s.client} 试图连接服务端 {s.server}，但被拒绝：SYN 得到的回应是 RST{after_zh}，"
            "连接从未建立（该端口没有程序在监听，或被防火墙拒绝）。"
        )
    elif s.roles_from == "syn":
        hs = f"; the handshake took {ms(s.irtt)}" if s.irtt is not None else ""
        hz = f"，握手耗时 {ms(s.irtt)}" if s.irtt is not None else ""
        en.append(f"The client {s.client} opened a connection to the server {s.server}{hs}.")
        zh.append(f"客户端 {s.client} 向服务端 {s.server} 发起连接{hz}。")
    elif s.roles_from == "syn-ack":
        en.append(
            f"Only the server's SYN-ACK was captured, so {s.client} is the client and "
            f"{s.server} the server."
        )
        zh.append(f"只抓到了服务端的 SYN-ACK，由此判断 {s.client} 是客户端，{s.server} 是服务端。")
    else:
        en.append(
            f"The handshake was not captured: by a heuristic (port numbers), {s.client} is "
            f"taken as the client and {s.server} as the server."
        )
        zh.append(
            f"没有抓到握手：按端口号推测（启发式判断），{s.client} 为客户端，{s.server} 为服务端。"
        )


_PATH_FROM = {
    "handshake": ("from the handshake", "由握手测得"),
    "ack": ("the two legs' ACK round trips added", "由两侧 ACK 往返时间相加得到"),
    "ts": ("the two legs' timestamp echoes added", "由两侧时间戳回显相加得到"),
}


def _round_trips(s: Story, en: list[str], zh: list[str]) -> None:
    """The round trip between the endpoints, and each leg from the capture point: a
    capture next to one end sees that end's own ACKs within microseconds, which is the host's
    ACK delay, not the path."""
    c, v = s.legs
    if s.path_rtt is not None and s.path_source == "handshake":
        en.append(
            "The handshake spans both legs (SYN out, SYN-ACK back, ACK out), so its time is "
            "the round trip between the two endpoints wherever the capture was taken."
        )
        zh.append(
            "握手跨越了两段路径（SYN 发出、SYN-ACK 返回、ACK 发出），所以无论在哪里抓包，握手耗时都等于两端之间的往返时间。"
        )
    elif s.path_rtt is not None:
        how, how_zh = _PATH_FROM[s.path_source]
        en.append(f"The round trip between the two endpoints was {ms(s.path_rtt)} ({how}).")
        zh.append(f"两端之间的往返时间为 {ms(s.path_rtt)}（{how_zh}）。")
    if s.vantage in ("client", "server") and c is not None and v is not None:
        near = 0 if s.vantage == "client" else 1
        legs = (c, v)
        en.append(
            f"The capture was taken next to the {_ROLE[near]}: its own ACKs left within "
            f"{ms(legs[near])} of what they acknowledge (its ACK delay), while the "
            f"{_ROLE[1 - near]}'s came back after {ms(legs[1 - near])} (medians)."
        )
        zh.append(
            f"抓包点紧挨着{_ROLE_ZH[near]}：它自己的 ACK 在被确认的报文到达后 {ms(legs[near])} 内就发出（这是它的确认延迟），"
            f"而{_ROLE_ZH[1 - near]}的 ACK 要 {ms(legs[1 - near])} 才回来（中位数）。"
        )
    elif c is not None or v is not None:
        parts = [f"the {_ROLE[d]} {ms(x)}" for d, x in enumerate((c, v)) if x is not None]
        parts_zh = [f"{_ROLE_ZH[d]} {ms(x)}" for d, x in enumerate((c, v)) if x is not None]
        en.append("Round trips from the capture point (medians): " + " and ".join(parts) + ".")
        zh.append("从抓包点看到的往返时间（中位数）：" + "，".join(parts_zh) + "。")
    elif s.path_rtt is None and s.rtt_median is not None:
        en.append(
            f"Median ACK round trip {ms(s.rtt_median)} over {_n(s.rtt_samples)} "
            f"sample{'s' * (s.rtt_samples != 1)}, as seen at the capture point."
        )
        zh.append(
            f"在抓包点看到的 ACK 往返时间中位数为 {ms(s.rtt_median)}（{_n(s.rtt_samples)} 个样本）。"
        )


def _closing(s: Story, en: list[str], zh: list[str]) -> None:
    """A half-close with what flowed after it; an abort and what it throws away."""
    if s.half_closer in (0, 1):
        who, other = _ROLE[s.half_closer], _ROLE[1 - s.half_closer]
        wz, oz = _ROLE_ZH[s.half_closer], _ROLE_ZH[1 - s.half_closer]
        over = f" over {ms(s.half_span)}" if s.half_span is not None else ""
        over_zh = f"，历时 {ms(s.half_span)}" if s.half_span is not None else ""
        en.append(
            f"The {who} closed its sending direction first (FIN: half-close); the {other} "
            f"went on sending {size(s.half_bytes)}{over} before it closed too: data after a "
            "FIN is still data, in the other direction."
        )
        zh.append(
            f"{wz}先关闭了自己的发送方向（FIN，半关闭）；{oz}随后又发送了 {_size_zh(s.half_bytes)}{over_zh}，"
            "之后才关闭：FIN 之后另一方向上的数据仍然是正常数据。"
        )
    if s.ended_by == "reset" and s.closer in (0, 1):
        en.append(
            f"The {_ROLE[s.closer]} aborted the connection with RST: data still in flight or "
            "not yet read by the application is thrown away, unlike an orderly FIN close."
        )
        zh.append(
            f"{_ROLE_ZH[s.closer]}用 RST 中止了连接：与有序的 FIN 关闭不同，仍在途中或尚未被应用读取的数据都会被丢弃。"
        )


def _events(s: Story, en: list[str], zh: list[str]) -> None:
    """What went wrong or was noteworthy on the way: resends, reordering, copies, ECN
    marks, losses before the capture point, zero windows, keep-alives."""
    all_re = s.retrans + s.fast + s.spurious
    if all_re:
        part = f"{_n(all_re)} segment{'s were' if all_re != 1 else ' was'} sent again"
        pz = f"有 {_n(all_re)} 个报文段被重传"
        extra_en, extra_zh = [], []
        if s.fast:
            dup = f", after up to {s.max_dup} duplicate ACKs" if s.max_dup else ""
            dupz = f"，此前最多出现 {s.max_dup} 个重复确认" if s.max_dup else ""
            extra_en.append(f"{_n(s.fast)} as fast retransmission{'s' * (s.fast != 1)}{dup}")
            extra_zh.append(f"其中 {_n(s.fast)} 个是快速重传{dupz}")
        if s.spurious:
            extra_en.append(f"{_n(s.spurious)} needlessly (already acknowledged)")
            extra_zh.append(f"{_n(s.spurious)} 个是不必要的（数据早已被确认）")
        en.append(part + (" (" + "; ".join(extra_en) + ")" if extra_en else "") + ".")
        zh.append(pz + ("（" + "；".join(extra_zh) + "）" if extra_zh else "") + "。")
    elif s.max_dup:
        en.append(f"Up to {s.max_dup} duplicate ACKs in a row, but no retransmission was captured.")
        zh.append(f"最多连续出现 {s.max_dup} 个重复确认，但没有抓到重传。")
    if s.ooo:
        en.append(
            f"{_n(s.ooo)} segment{'s' * (s.ooo != 1)} arrived out of order: sent once, "
            "overtaken on the way (older TS val or IP ID than data already seen)."
            if s.vantage != "unknown"
            else f"{_n(s.ooo)} segment{'s' * (s.ooo != 1)} arrived out of order."
        )
        zh.append(
            f"有 {_n(s.ooo)} 个报文段乱序到达：只发送了一次，途中被后发的报文超越（TS val 或 IP ID 比已收到的数据更旧）。"
            if s.vantage != "unknown"
            else f"有 {_n(s.ooo)} 个报文段乱序到达。"
        )
    if s.copies:
        en.append(
            f"The network delivered {_n(s.copies)} segment{'s' * (s.copies != 1)} twice "
            "(byte-for-byte copies: same IP ID and TS val); they are not retransmissions."
        )
        zh.append(
            f"网络把 {_n(s.copies)} 个报文段投递了两次（逐字节相同：IP ID 和 TS val 都一样）；它们不是重传。"
        )
    if s.ce:
        answer = (
            f"; the sender answered with CWR {_n(s.cwr)} time{'s' * (s.cwr != 1)}, having "
            "slowed down as it would after a loss"
            if s.cwr
            else ""
        )
        answer_zh = (
            f"；发送方像遇到丢包一样放慢了速度，并 {_n(s.cwr)} 次用 CWR 回应" if s.cwr else ""
        )
        en.append(
            f"Routers marked {_n(s.ce)} packet{'s' * (s.ce != 1)} CE (congestion experienced) "
            f"instead of dropping {'them' if s.ce != 1 else 'it'}; the receiver echoed the "
            f"marks with ECE{answer}."
        )
        zh.append(
            f"路由器把 {_n(s.ce)} 个包标记为 CE（经历拥塞），而不是丢弃；接收方用 ECE 回显了这些标记{answer_zh}。"
        )
    if s.lost:
        en.append(
            f"{_n(s.lost)} time{'s' * (s.lost != 1)} the sequence jumped ahead: segments "
            "before it were lost before the capture point or not captured."
        )
        zh.append(f"序列号有 {_n(s.lost)} 次向前跳跃：之前的报文段在抓包点之前丢失或没有被抓到。")
    if s.zero_window:
        en.append(
            f"A receiver advertised a zero window {_n(s.zero_window)} "
            f"time{'s' * (s.zero_window != 1)}: its buffer was full and the sender had to wait."
        )
        zh.append(f"接收方 {_n(s.zero_window)} 次通告零窗口：缓冲区已满，发送方只能等待。")
    if s.keep_alive:
        en.append(
            f"{_n(s.keep_alive)} keep-alive probe{'s' * (s.keep_alive != 1)} checked an idle connection."
        )
        zh.append(f"有 {_n(s.keep_alive)} 个保活探测检查了空闲的连接。")


def narrate(s: Story) -> tuple[str, str]:
    en: list[str] = []
    zh: list[str] = []
    _opening(s, en, zh)
    (cb, sb), (cs, ss) = s.bytes, s.segments
    if cb or sb:
        en.append(
            f"The client sent {size(cb)} in {_n(cs)} segment{'s' * (cs != 1)}; "
            f"the server answered with {size(sb)} in {_n(ss)} segment{'s' * (ss != 1)}."
        )
        zh.append(
            f"客户端发送了 {_size_zh(cb)}（{_n(cs)} 个报文段），"
            f"服务端回应了 {_size_zh(sb)}（{_n(ss)} 个报文段）。"
        )
    else:
        en.append("No application data was exchanged.")
        zh.append("双方没有交换任何应用数据。")
    _events(s, en, zh)
    _round_trips(s, en, zh)
    _closing(s, en, zh)
    en.append(f"It ended: {s.ending_en}.")
    zh.append(f"结束方式：{s.ending_zh}。")
    if s.duration is not None:
        en.append(f"It lasted {ms(s.duration)} in the capture.")
        zh.append(f"在抓包中持续了 {ms(s.duration)}。")
    else:
        en.append("The input has no time stamps, so durations and RTTs are unknown.")
        zh.append("输入中没有时间戳，因此无法得知持续时间和往返时间。")
    return " ".join(en), "".join(zh)


TFO_NAMES = ("none", "cookie_request", "cookie", "data")
_TFO_EN = (
    "",
    "asked for a Fast Open cookie",
    "sent a Fast Open cookie",
    "sent data in its SYN with a Fast Open cookie",
)
_TFO_ZH = (
    "",
    "请求 Fast Open cookie",
    "携带了 Fast Open cookie",
    "凭 Fast Open cookie 在 SYN 中携带了数据",
)


def _note(topic: str, en: str, zh: str, rfc: str) -> dict[str, str]:
    return {"topic": topic, "en": en, "zh": zh, "rfc": rfc}


_NAMES, _ZH_NAMES = ("client", "server"), ("客户端", "服务端")


def negotiation(
    *,
    syn: tuple[bool, bool],
    mss: tuple[int, int],
    wscale: tuple[int, int],
    scaling: str,
    sack: tuple[bool, bool],
    ts: tuple[bool, bool],
    ecn: int,
    tfo: tuple[int, int],
    mptcp: tuple[bool, bool],
) -> list[dict[str, str]]:
    """What the two SYNs agreed on, and what follows from it (-1 = option absent)."""
    if not syn[0] and not syn[1]:
        return [
            _note(
                "options",
                "Neither SYN was captured, so the negotiated options (MSS, window scale, SACK, "
                "timestamps) are unknown; windows cannot be scaled with certainty.",
                "两个 SYN 都没有抓到，协商的选项（MSS、窗口缩放、SACK、时间戳）未知，窗口的缩放也无法确定。",
                "RFC 9293 §3.7.1, RFC 7323 §2.2",
            )
        ]
    return [
        *_mss_note(syn, mss),
        *_wscale_note(scaling, wscale),
        *_sack_ts_notes(syn, sack, ts),
        *_ecn_note(ecn),
        *_tfo_notes(tfo),
        *_mptcp_note(mptcp),
    ]


def _mss_note(syn: tuple[bool, bool], mss: tuple[int, int]) -> list[dict[str, str]]:
    """Each side's MSS, or the default its peer must assume."""
    out: list[dict[str, str]] = []
    names, zh_names = ("client", "server"), ("客户端", "服务端")
    parts_en, parts_zh = [], []
    for side in (0, 1):
        peer = 1 - side
        if not syn[side]:
            continue
        if mss[side] >= 0:
            parts_en.append(
                f"the {names[side]} accepts segments of at most {mss[side]:,} bytes, so the "
                f"{names[peer]} sends no more than that per segment"
            )
            parts_zh.append(
                f"{zh_names[side]}每个报文段最多接收 {mss[side]:,} 字节，所以{zh_names[peer]}每段不会超过这个值"
            )
        else:
            parts_en.append(
                f"the {names[side]}'s SYN has no MSS, so the {names[peer]} must assume the "
                "default: 536 bytes over IPv4, 1,220 over IPv6"
            )
            parts_zh.append(
                f"{zh_names[side]}的 SYN 没有 MSS，{zh_names[peer]}只能按默认值：IPv4 为 536 字节，IPv6 为 1,220 字节"
            )
    out.append(
        _note(
            "mss",
            "MSS: " + "; ".join(parts_en) + ".",
            "MSS：" + "；".join(parts_zh) + "。",
            "RFC 9293 §3.7.1, RFC 6691 §2",
        )
    )
    return out


def _wscale_note(scaling: str, wscale: tuple[int, int]) -> list[dict[str, str]]:
    """Window scaling on, off (and why), or unknown."""
    out: list[dict[str, str]] = []
    names, zh_names = ("client", "server"), ("客户端", "服务端")
    if scaling == "both":
        fc, fs = 1 << min(wscale[0], 14), 1 << min(wscale[1], 14)
        out.append(
            _note(
                "wscale",
                f"Window scaling is on: the client's window field is multiplied by {fc:,} "
                f"(shift {wscale[0]}) and the server's by {fs:,} (shift {wscale[1]}), except in "
                "the SYNs themselves, which are never scaled.",
                f"窗口缩放已启用：客户端的窗口字段乘以 {fc:,}（移位 {wscale[0]}），服务端的乘以 {fs:,}（移位 {wscale[1]}）；"
                "SYN 本身的窗口永远不缩放。",
                "RFC 7323 §2.2-2.3",
            )
        )
    elif scaling == "none":
        who = [names[s] for s in (0, 1) if wscale[s] < 0]
        who_zh = [zh_names[s] for s in (0, 1) if wscale[s] < 0]
        out.append(
            _note(
                "wscale",
                f"Window scaling is off because the {' and the '.join(who)} did not offer it: "
                "both windows are taken as printed, at most 65,535 bytes.",
                f"由于{'和'.join(who_zh)}没有提供窗口缩放选项，缩放未启用：窗口按原值计算，最大 65,535 字节。",
                "RFC 7323 §2.2",
            )
        )
    else:
        out.append(
            _note(
                "wscale",
                "Only one SYN was captured, so whether window scaling is in use is unknown.",
                "只抓到了一个 SYN，无法确定窗口缩放是否启用。",
                "RFC 7323 §2.2",
            )
        )
    return out


def _sack_ts_notes(
    syn: tuple[bool, bool], sack: tuple[bool, bool], ts: tuple[bool, bool]
) -> list[dict[str, str]]:
    """SACK and timestamps, when both SYNs were seen."""
    out: list[dict[str, str]] = []
    if syn[0] and syn[1]:
        if sack[0] and sack[1]:
            out.append(
                _note(
                    "sack",
                    "SACK is in use: a receiver can report the blocks it holds beyond a gap, so "
                    "only the missing bytes are resent.",
                    "SACK 已启用：接收方可以报告空洞之后已收到的数据块，发送方只需重传缺失的字节。",
                    "RFC 2018 §2",
                )
            )
        elif sack[0] or sack[1]:
            out.append(
                _note(
                    "sack",
                    "SACK is not used: only one side offered it; a loss is recovered from the "
                    "cumulative ACK alone.",
                    "SACK 未启用：只有一方提供了该选项，丢包只能依靠累计确认恢复。",
                    "RFC 2018 §2",
                )
            )
        if ts[0] and ts[1]:
            out.append(
                _note(
                    "timestamps",
                    "Timestamps are in use: every segment carries TS val/ecr, which gives RTT "
                    "samples and protects against wrapped sequence numbers (PAWS).",
                    "时间戳已启用：每个报文段都带 TS val/ecr，可用于测量往返时间，并防止序列号回绕（PAWS）。",
                    "RFC 7323 §3-5",
                )
            )
        elif ts[0] or ts[1]:
            out.append(
                _note(
                    "timestamps",
                    "Timestamps are not used: only one side offered them.",
                    "时间戳未启用：只有一方提供了该选项。",
                    "RFC 7323 §3",
                )
            )
    return out


def _ecn_note(ecn: int) -> list[dict[str, str]]:
    """ECN negotiated or only offered (RFC 3168 §6.1.1)."""
    out: list[dict[str, str]] = []
    if ecn == 2:
        out.append(
            _note(
                "ecn",
                "ECN was negotiated (SYN with ECE+CWR, SYN-ACK with ECE): routers may mark "
                "congestion instead of dropping packets, and the receiver echoes the mark with ECE.",
                "已协商 ECN（SYN 带 ECE+CWR，SYN-ACK 带 ECE）：路由器可以标记拥塞而不是丢包，接收方用 ECE 回显该标记。",
                "RFC 3168 §6.1.1",
            )
        )
    elif ecn == 1:
        out.append(
            _note(
                "ecn",
                "The client offered ECN (ECE+CWR in its SYN) but the server did not accept it.",
                "客户端提出了 ECN（SYN 中带 ECE+CWR），但服务端没有接受。",
                "RFC 3168 §6.1.1",
            )
        )
    return out


def _tfo_notes(tfo: tuple[int, int]) -> list[dict[str, str]]:
    """TCP Fast Open on either side."""
    out: list[dict[str, str]] = []
    names, zh_names = ("client", "server"), ("客户端", "服务端")
    for side in (0, 1):
        if tfo[side]:
            out.append(
                _note(
                    "tfo",
                    f"TCP Fast Open: the {names[side]} {_TFO_EN[tfo[side]]}"
                    + (
                        "; data in a SYN saves one round trip on a repeat connection."
                        if tfo[side] == 3
                        else "."
                    ),
                    f"TCP Fast Open：{zh_names[side]}{_TFO_ZH[tfo[side]]}"
                    + (
                        "；在 SYN 中携带数据，可在再次连接时节省一个往返。"
                        if tfo[side] == 3
                        else "。"
                    ),
                    "RFC 7413 §4",
                )
            )
    return out


def _mptcp_note(mptcp: tuple[bool, bool]) -> list[dict[str, str]]:
    """Multipath TCP offered or negotiated."""
    if not (mptcp[0] or mptcp[1]):
        return []
    both = mptcp[0] and mptcp[1]
    return [
        _note(
            "mptcp",
            "Multipath TCP was negotiated (MP_CAPABLE in both SYNs): this connection can be one "
            "subflow of a connection that uses several paths."
            if both
            else "Multipath TCP was offered by one side only, so this is plain TCP.",
            "已协商多路径 TCP（双方 SYN 都带 MP_CAPABLE）：该连接可能是使用多条路径的连接中的一个子流。"
            if both
            else "只有一方提供了多路径 TCP，所以这是普通 TCP。",
            "RFC 8684 §3.1",
        )
    ]

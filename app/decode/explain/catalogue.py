"""Findings: stable dotted codes, each with a title, an explanation in English and Chinese,
and the RFC section it rests on.  Codes are part of the JSON contract: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    title_en: str
    title_zh: str
    en: str
    zh: str
    rfc: str


_ENTRIES = (
    Entry(
        "tcp.retransmission",
        "Retransmission",
        "重传",
        "This segment carries sequence numbers that were already sent: the sender did not see "
        "them acknowledged in time and sent them again.",
        "该报文段携带的序列号之前已发送过：发送方没有及时收到确认，于是再次发送。",
        "RFC 9293 §3.8.1, RFC 6298",
    ),
    Entry(
        "tcp.fast_retransmission",
        "Fast retransmission",
        "快速重传",
        "A retransmission sent right after duplicate ACKs reported a hole, before the "
        "retransmission timer expired.",
        "在重复确认报告了数据空洞之后、重传定时器到期之前立即进行的重传。",
        "RFC 5681 §3.2",
    ),
    Entry(
        "tcp.spurious_retransmission",
        "Spurious retransmission",
        "虚假重传",
        "A retransmission that was not needed: the receiver had already acknowledged the "
        "data, or later reported receiving it twice with a D-SACK block. (A D-SACK cannot "
        "tell a needless retransmission from the network duplicating the segment: where the "
        "capture shows the copy, it is not counted.)",
        "一次不必要的重传：接收方此前已经确认过这些数据，或随后用 D-SACK 块报告收到了两次。"
        "（D-SACK 无法区分不必要的重传与网络复制了报文段：如果抓包中能看到那个副本，则不计入。）",
        "RFC 3522, RFC 5682, RFC 2883 §4",
    ),
    Entry(
        "tcp.duplicate_ack",
        "Duplicate ACK",
        "重复确认",
        "An ACK that repeats the previous acknowledgement number with no data and no window "
        "change: the receiver got a segment beyond a hole.",
        "重复上一个确认号、不带数据、窗口也未变化的 ACK：接收方收到了空洞之后的报文段。",
        "RFC 5681 §2",
    ),
    Entry(
        "tcp.out_of_order",
        "Out-of-order segment",
        "乱序报文段",
        "A segment whose sequence number is lower than data already seen in that direction, "
        "arriving soon after it: the network reordered packets.",
        "序列号低于该方向已出现的数据，且紧随其后到达：网络对数据包进行了重新排序。",
        "RFC 9293 §3.10.7.4",
    ),
    Entry(
        "tcp.lost_segment",
        "Previous segment not captured",
        "前一个报文段未被抓到",
        "The sequence number jumps ahead of what was seen: a segment before this one was lost "
        "or not captured.",
        "序列号跳过了已看到的数据：此前的某个报文段丢失或没有被抓到。",
        "RFC 9293 §3.4",
    ),
    Entry(
        "tcp.ack_unseen",
        "ACKed segment not captured",
        "确认了未抓到的报文段",
        "This ACK covers data the capture never showed: the capture missed packets.",
        "该 ACK 确认的数据在抓包中从未出现：抓包遗漏了数据包。",
        "RFC 9293 §3.4",
    ),
    Entry(
        "tcp.zero_window",
        "Zero window",
        "零窗口",
        "The receiver advertises a window of 0: its buffer is full and the sender must stop.",
        "接收方通告窗口为 0：其缓冲区已满，发送方必须暂停发送。",
        "RFC 9293 §3.8.6.1",
    ),
    Entry(
        "tcp.zero_window_probe",
        "Zero-window probe",
        "零窗口探测",
        "The peer advertised a zero window, so the sender may not send; it probes to learn "
        "when the window reopens, each probe answered by an ACK that carries the window. Two "
        "forms: one byte at the next sequence number, or (Linux) no data at the next "
        "sequence number minus one, which looks like a keep-alive but is sent because the "
        "window is zero.",
        "对方通告了零窗口，发送方不能再发数据；它发送探测报文以得知窗口何时重新打开，每个探测都会得到一个携带窗口值的 "
        "ACK。有两种形式：在下一个序列号处带 1 字节数据；或（Linux）不带数据、序列号为下一个序列号减一，"
        "外形像保活报文，但发送它是因为窗口为零。",
        "RFC 9293 §3.8.6.1",
    ),
    Entry(
        "tcp.window_full",
        "Window full",
        "窗口已满",
        "The sender has filled the receiver's advertised window and must wait for an ACK.",
        "发送方已填满接收方通告的窗口，必须等待确认。",
        "RFC 9293 §3.8.6",
    ),
    Entry(
        "tcp.window_update",
        "Window update",
        "窗口更新",
        "A segment with no data that only changes the advertised window.",
        "不带数据、只改变通告窗口的报文段。",
        "RFC 9293 §3.8.6",
    ),
    Entry(
        "tcp.keep_alive",
        "Keep-alive",
        "保活探测",
        "A segment with sequence number one below the next expected, sent after idle time to "
        "check that the peer is still there.",
        "序列号比期望值小 1 的报文段，在空闲一段时间后发送，用于确认对方仍然存在。",
        "RFC 9293 §3.8.4, RFC 1122 §4.2.3.6",
    ),
    Entry(
        "tcp.keep_alive_ack",
        "Keep-alive ACK",
        "保活确认",
        "The peer's answer to a keep-alive: an ACK of the current sequence number.",
        "对保活探测的应答：确认当前序列号的 ACK。",
        "RFC 9293 §3.8.4",
    ),
    Entry(
        "tcp.reset",
        "Connection reset",
        "连接复位",
        "RST aborts the connection at once. It is not the same as FIN: there is no orderly "
        "close, data in flight or unread is discarded, and RST is never acknowledged.",
        "RST 立即中止连接。它与 FIN 不同：没有有序关闭，在途或未读取的数据会被丢弃，RST 也不会被确认。",
        "RFC 9293 §3.5.2",
    ),
    Entry(
        "tcp.port_reuse",
        "Port reuse",
        "端口复用",
        "A new SYN on the same addresses and ports as an earlier connection: a new connection.",
        "在与先前连接相同的地址和端口上出现新的 SYN：这是一个新连接。",
        "RFC 9293 §3.4.1",
    ),
    Entry(
        "tcp.checksum_offload",
        "Checksum offload",
        "校验和卸载",
        "The checksum is wrong on a packet the capturing host sent itself (the capture was "
        "taken next to it, or nearly all its packets are so): the network card fills in the "
        "checksum after the capture point (offload). It is not corruption.",
        "校验和错误，而该包是抓包主机自己发出的（抓包点紧挨着它，或它的包几乎全都如此）：网卡在抓包点之后才填写校验和（卸载），"
        "并非数据损坏。",
        "RFC 9293 §3.1",
    ),
    Entry(
        "tcp.bad_option",
        "Malformed option",
        "选项格式错误",
        "An option whose length or content does not match its definition.",
        "长度或内容与定义不符的 TCP 选项。",
        "RFC 9293 §3.1",
    ),
    Entry(
        "tcp.malformed",
        "Malformed TCP header",
        "TCP 首部格式错误",
        "The header does not add up: its data offset is below the 20-byte minimum, or it is "
        "longer than the IP packet carries. A receiver drops such a segment, so it is shown "
        "but left out of the sequence analysis.",
        "首部自相矛盾：数据偏移小于最小的 20 字节，或首部长度超过 IP 包所承载的字节数。接收方会丢弃这样的报文段，"
        "因此它会被显示，但不参与序列号分析。",
        "RFC 9293 §3.1",
    ),
    Entry(
        "ip.reassembly_incomplete",
        "Incomplete IP datagram",
        "IP 数据报不完整",
        "The segment was sent in IP fragments and the capture does not hold them all (or they "
        "arrived too late: a receiver waits 30 s for IPv4, 60 s for IPv6). Only the first "
        "fragment is shown, so the segment is cut short; a receiver would have discarded it, "
        "so it is left out of the sequence analysis.",
        "该报文段以 IP 分片发送，而抓包中缺少部分分片（或分片到达太晚：接收方对 IPv4 等待 30 秒，IPv6 等待 60 秒）。"
        "这里只显示第一个分片，报文段因此不完整；接收方会丢弃它，所以它不参与序列号分析。",
        "RFC 791 §3.2, RFC 8200 §4.5",
    ),
    Entry(
        "tcp.duplicate_segment",
        "Network duplicate",
        "网络重复报文",
        "A byte-for-byte copy of a segment already seen (same sequence number, length, TS val, "
        "IP ID and checksum): the network delivered it twice. The sender sent it once, so it "
        "is not a retransmission; the receiver discards the copy and may report it with a "
        "D-SACK block.",
        "与已收到的报文段逐字节相同（序列号、长度、TS val、IP ID 和校验和都相同）：网络把它投递了两次。"
        "发送方只发送了一次，所以这不是重传；接收方会丢弃这个副本，并可能用 D-SACK 块报告它。",
        "RFC 9293 §3.10.7.4, RFC 2883 §4",
    ),
    Entry(
        "ip.ecn_ce",
        "Congestion experienced (ECN CE)",
        "经历拥塞（ECN CE）",
        "A router on the path set the IP header's ECN field to CE (11): it was congested and "
        "marked this packet instead of dropping it. The receiver echoes the mark with ECE on "
        "its ACKs until the sender answers with CWR, having reduced its sending rate as for "
        "a loss.",
        "路径上的路由器把 IP 首部的 ECN 字段设为 CE（11）：它发生了拥塞，于是标记这个包而不是丢弃它。"
        "接收方在 ACK 中用 ECE 回显该标记，直到发送方像遇到丢包一样降低发送速率，并用 CWR 回应。",
        "RFC 3168 §5, §6.1",
    ),
    Entry(
        "tcp.bad_checksum",
        "Bad TCP checksum",
        "TCP 校验和错误",
        "The TCP checksum does not match the segment (computed over the pseudo-header and "
        "every byte): the segment was corrupted on the way or in the capture. The receiver "
        "drops it, so the sender will have to retransmit. (On packets the capturing host "
        "sent, a wrong checksum is offload instead: tcp.checksum_offload.)",
        "TCP 校验和与报文段不符（对伪首部和全部字节计算）：报文段在传输途中或抓包时损坏。接收方会丢弃它，"
        "发送方只能重传。（如果是抓包主机自己发出的包，校验和错误是卸载所致：见 tcp.checksum_offload。）",
        "RFC 9293 §3.1, RFC 1071",
    ),
    Entry(
        "ip.bad_checksum",
        "Bad IPv4 header checksum",
        "IPv4 首部校验和错误",
        "The IPv4 header checksum does not match the header: it was corrupted on the way, "
        "and a router or the receiver drops the packet.",
        "IPv4 首部校验和与首部不符：首部在传输中损坏，路由器或接收方会丢弃该包。",
        "RFC 791 §3.1, RFC 1071",
    ),
    Entry(
        "ip.malformed",
        "Malformed IP header",
        "IP 首部格式错误",
        "The IP header contradicts itself (a version field that is not the link's, a header "
        "length below 20 bytes). Nothing after it can be trusted: the frame is listed among "
        "the packets that are not TCP, with what is wrong.",
        "IP 首部自相矛盾（版本字段与链路层所标示的不符，或首部长度小于 20 字节）。其后的内容都不可信：该帧列在非 TCP "
        "报文中，并说明错误所在。",
        "RFC 791 §3.1, RFC 8200 §3",
    ),
)

CATALOGUE: dict[str, Entry] = {e.code: e for e in _ENTRIES}
# Codes that describe frames listed as not TCP (``other_packets``), not a packet's finding.
FRAME_CODES = frozenset({"ip.malformed"})

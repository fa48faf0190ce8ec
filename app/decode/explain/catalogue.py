"""Findings: stable dotted codes, each with a title, an explanation in English and Chinese,
and the RFC section it rests on.  Codes are part of the JSON contract: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.decode.model.i18n import N_, gettext


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    title: str  # English; the Chinese comes from the gettext catalogue
    text: str
    rfc: str

    def title_in(self, lang: str) -> str:
        return gettext(lang, self.title)

    def text_in(self, lang: str) -> str:
        return gettext(lang, self.text)

    @property
    def title_en(self) -> str:
        return self.title

    @property
    def title_zh(self) -> str:
        return self.title_in("zh")

    @property
    def en(self) -> str:
        return self.text

    @property
    def zh(self) -> str:
        return self.text_in("zh")


_ENTRIES = (
    Entry(
        "tcp.retransmission",
        N_("Retransmission"),
        N_(
            "This segment carries sequence numbers that were already sent: the sender did not see "
            "them acknowledged in time and sent them again.",
        ),
        "RFC 9293 §3.8.1, RFC 6298",
    ),
    Entry(
        "tcp.fast_retransmission",
        N_("Fast retransmission"),
        N_(
            "A retransmission sent right after duplicate ACKs reported a hole, before the "
            "retransmission timer expired.",
        ),
        "RFC 5681 §3.2",
    ),
    Entry(
        "tcp.spurious_retransmission",
        N_("Spurious retransmission"),
        N_(
            "A retransmission that was not needed: the receiver had already acknowledged the "
            "data, or later reported receiving it twice with a D-SACK block. (A D-SACK cannot "
            "tell a needless retransmission from the network duplicating the segment: where the "
            "capture shows the copy, it is not counted.)",
        ),
        "RFC 3522, RFC 5682, RFC 2883 §4",
    ),
    Entry(
        "tcp.duplicate_ack",
        N_("Duplicate ACK"),
        N_(
            "An ACK that repeats the previous acknowledgement number with no data and no window "
            "change: the receiver got a segment beyond a hole.",
        ),
        "RFC 5681 §2",
    ),
    Entry(
        "tcp.out_of_order",
        N_("Out-of-order segment"),
        N_(
            "A segment whose sequence number is lower than data already seen in that direction, "
            "arriving soon after it: the network reordered packets.",
        ),
        "RFC 9293 §3.10.7.4",
    ),
    Entry(
        "tcp.lost_segment",
        N_("Previous segment not captured"),
        N_(
            "The sequence number jumps ahead of what was seen: a segment before this one was lost "
            "or not captured.",
        ),
        "RFC 9293 §3.4",
    ),
    Entry(
        "tcp.ack_unseen",
        N_("ACKed segment not captured"),
        N_(
            "This ACK covers data the capture never showed: the capture missed packets.",
        ),
        "RFC 9293 §3.4",
    ),
    Entry(
        "tcp.zero_window",
        N_("Zero window"),
        N_(
            "The receiver advertises a window of 0: its buffer is full and the sender must stop.",
        ),
        "RFC 9293 §3.8.6.1",
    ),
    Entry(
        "tcp.zero_window_probe",
        N_("Zero-window probe"),
        N_(
            "The peer advertised a zero window, so the sender may not send; it probes to learn "
            "when the window reopens, each probe answered by an ACK that carries the window. Two "
            "forms: one byte at the next sequence number, or (Linux) no data at the next "
            "sequence number minus one, which looks like a keep-alive but is sent because the "
            "window is zero.",
        ),
        "RFC 9293 §3.8.6.1",
    ),
    Entry(
        "tcp.window_full",
        N_("Window full"),
        N_(
            "The sender has filled the receiver's advertised window and must wait for an ACK.",
        ),
        "RFC 9293 §3.8.6",
    ),
    Entry(
        "tcp.window_update",
        N_("Window update"),
        N_(
            "A segment with no data that only changes the advertised window.",
        ),
        "RFC 9293 §3.8.6",
    ),
    Entry(
        "tcp.keep_alive",
        N_("Keep-alive"),
        N_(
            "A segment with sequence number one below the next expected, sent after idle time to "
            "check that the peer is still there.",
        ),
        "RFC 9293 §3.8.4, RFC 1122 §4.2.3.6",
    ),
    Entry(
        "tcp.keep_alive_ack",
        N_("Keep-alive ACK"),
        N_(
            "The peer's answer to a keep-alive: an ACK of the current sequence number.",
        ),
        "RFC 9293 §3.8.4",
    ),
    Entry(
        "tcp.reset",
        N_("Connection reset"),
        N_(
            "RST aborts the connection at once. It is not the same as FIN: there is no orderly "
            "close, data in flight or unread is discarded, and RST is never acknowledged.",
        ),
        "RFC 9293 §3.5.2",
    ),
    Entry(
        "tcp.port_reuse",
        N_("Port reuse"),
        N_(
            "A new SYN on the same addresses and ports as an earlier connection: a new connection.",
        ),
        "RFC 9293 §3.4.1",
    ),
    Entry(
        "tcp.checksum_offload",
        N_("Checksum offload"),
        N_(
            "The checksum is wrong on a packet the capturing host sent itself (the capture was "
            "taken next to it, or nearly all its packets are so): the network card fills in the "
            "checksum after the capture point (offload). It is not corruption.",
        ),
        "RFC 9293 §3.1",
    ),
    Entry(
        "tcp.bad_option",
        N_("Malformed option"),
        N_(
            "An option whose length or content does not match its definition.",
        ),
        "RFC 9293 §3.1",
    ),
    Entry(
        "tcp.malformed",
        N_("Malformed TCP header"),
        N_(
            "The header does not add up: its data offset is below the 20-byte minimum, or it is "
            "longer than the IP packet carries. A receiver drops such a segment, so it is shown "
            "but left out of the sequence analysis.",
        ),
        "RFC 9293 §3.1",
    ),
    Entry(
        "ip.reassembly_incomplete",
        N_("Incomplete IP datagram"),
        N_(
            "The segment was sent in IP fragments and the capture does not hold them all (or they "
            "arrived too late: a receiver waits 30 s for IPv4, 60 s for IPv6). Only the first "
            "fragment is shown, so the segment is cut short; a receiver would have discarded it, "
            "so it is left out of the sequence analysis.",
        ),
        "RFC 791 §3.2, RFC 8200 §4.5",
    ),
    Entry(
        "tcp.duplicate_segment",
        N_("Network duplicate"),
        N_(
            "A byte-for-byte copy of a segment already seen (same sequence number, length, TS val, "
            "IP ID and checksum): the network delivered it twice. The sender sent it once, so it "
            "is not a retransmission; the receiver discards the copy and may report it with a "
            "D-SACK block.",
        ),
        "RFC 9293 §3.10.7.4, RFC 2883 §4",
    ),
    Entry(
        "ip.ecn_ce",
        N_("Congestion experienced (ECN CE)"),
        N_(
            "A router on the path set the IP header's ECN field to CE (11): it was congested and "
            "marked this packet instead of dropping it. The receiver echoes the mark with ECE on "
            "its ACKs until the sender answers with CWR, having reduced its sending rate as for "
            "a loss.",
        ),
        "RFC 3168 §5, §6.1",
    ),
    Entry(
        "tcp.bad_checksum",
        N_("Bad TCP checksum"),
        N_(
            "The TCP checksum does not match the segment (computed over the pseudo-header and "
            "every byte): the segment was corrupted on the way or in the capture. The receiver "
            "drops it, so the sender will have to retransmit. (On packets the capturing host "
            "sent, a wrong checksum is offload instead: tcp.checksum_offload.)",
        ),
        "RFC 9293 §3.1, RFC 1071",
    ),
    Entry(
        "ip.bad_checksum",
        N_("Bad IPv4 header checksum"),
        N_(
            "The IPv4 header checksum does not match the header: it was corrupted on the way, "
            "and a router or the receiver drops the packet.",
        ),
        "RFC 791 §3.1, RFC 1071",
    ),
    Entry(
        "ip.malformed",
        N_("Malformed IP header"),
        N_(
            "The IP header contradicts itself (a version field that is not the link's, a header "
            "length below 20 bytes). Nothing after it can be trusted: the frame is listed among "
            "the packets that are not TCP, with what is wrong.",
        ),
        "RFC 791 §3.1, RFC 8200 §3",
    ),
)

CATALOGUE: dict[str, Entry] = {e.code: e for e in _ENTRIES}
# Codes that describe frames listed as not TCP (``other_packets``), not a packet's finding.
FRAME_CODES = frozenset({"ip.malformed"})

"""Everything read from one input, before analysis: the packet table and what came with it."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.decode.model.packet import Comment, Notice, Packet
from app.decode.model.table import PacketTable


@dataclass(slots=True)
class Trace:
    """Everything read from one input, before analysis."""

    kind: str  # "text", "pcap", "pcapng"
    table: PacketTable
    warnings: list[Notice] = field(default_factory=list)
    header: list[Comment] = field(default_factory=list)  # tcpdump command and status lines
    preamble: list[Comment] = field(default_factory=list)  # user's prose before the packets
    trailing: list[Comment] = field(default_factory=list)  # commentary after the last packet
    other_packets: list[dict[str, object]] = field(default_factory=list)  # non-TCP, listed
    options: list[str] = field(default_factory=list)  # tcpdump flags seen in a pasted command
    numbering: str = "absolute"  # "absolute" or "relative" as printed (text input only)
    # text: which tcpdump printed it ("tcpdump 4.0 or later", "tcpdump 3.8-3.9",
    # "tcpdump 3.7 or earlier"); None for captures
    text_format: str | None = None
    link_type: str | None = None
    comments: list[str] = field(default_factory=list)  # capture file comments (pcapng)
    kind_detail: str | None = None  # "gzip" or "zstd" when the input was compressed
    other_count: int = 0  # non-TCP packets, including those not listed in other_packets

    @property
    def packets(self) -> list[Packet]:
        return self.table.packets()

    @property
    def packet_count(self) -> int:
        return len(self.table)

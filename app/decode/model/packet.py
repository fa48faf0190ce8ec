"""The packet model shared by the text parser and the capture reader.

Constants follow RFC 9293 §3.1 (header format) and RFC 3168 §6.1 / RFC 9768 (ECN bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from app.decode.model.options import Options

# TCP control bits, RFC 9293 §3.1 (AE: RFC 9768, accurate ECN).
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80
AE = 0x100

# tcpdump prints flag letters in this order (print-tcp.c, tcp_flag_values).
FLAG_LETTERS: tuple[tuple[int, str], ...] = (
    (FIN, "F"),
    (SYN, "S"),
    (RST, "R"),
    (PSH, "P"),
    (ACK, "."),
    (URG, "U"),
    (ECE, "E"),
    (CWR, "W"),
    (AE, "e"),
)
FLAG_NAMES: dict[int, str] = {
    FIN: "FIN",
    SYN: "SYN",
    RST: "RST",
    PSH: "PSH",
    ACK: "ACK",
    URG: "URG",
    ECE: "ECE",
    CWR: "CWR",
    AE: "AE",
}

SEQ_MOD = 1 << 32


def flags_to_letters(flags: int) -> str:
    """tcpdump's rendering of a flag set: ``S.`` for SYN+ACK, ``none`` for nothing."""
    text = "".join(letter for bit, letter in FLAG_LETTERS if flags & bit)
    return text or "none"


def flag_names(flags: int) -> list[str]:
    return [FLAG_NAMES[bit] for bit, _ in FLAG_LETTERS if flags & bit]


# The widest value each IP header field can hold (RFC 791 §3.1, RFC 8200 §3): what pasted
# text claims beyond it is not a header value.
_IP_FIELD_MAX = {"tos": 0xFF, "ttl": 0xFF, "hlim": 0xFF, "id": 0xFFFF}


@dataclass(slots=True)
class Comment:
    """A line of the user's own text kept beside a packet (or at the end)."""

    line: int
    text: str
    position: str = "before"  # "before" or "after" the packet it belongs to


@dataclass(slots=True)
class Notice:
    """Something about the input the user should know: a line kept as commentary, a
    capture cut short.  (Not named Warning: that is a built-in.)"""

    line: int | None
    message: str
    offset: int | None = None
    text: str | None = None  # the input line it is about, as written

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "message": self.message}
        if self.offset is not None:
            out["offset"] = self.offset
        if self.text is not None:
            out["text"] = self.text[:300]
        return out


def _named(port: int | None, name: str | None) -> dict[int, str] | None:
    return {port: name} if port is not None and name is not None else None


# An endpoint as one integer: host id * ENDPOINT_PORTS + port + 1 (0: port unknown).  Room
# for the named ports below.
ENDPOINT_PORTS = 1 << 20

# Ports from here up stand for service names tcpdump printed that tcpladder does not know
# (``PacketTable.port_names``): each name its own port, shown by its name.
NAMED_PORTS = 65536


def format_endpoint(host: str, port: int | None, port_names: dict[int, str] | None = None) -> str:
    """``host:port``; IPv6 addresses in brackets as in RFC 3986; an unknown service by name."""
    shown = f"[{host}]" if ":" in host else host
    if port is None:
        return f"{shown}:?"
    if port >= NAMED_PORTS and port_names:
        return f"{shown}:{port_names.get(port, port)}"
    return f"{shown}:{port}"


@dataclass(slots=True)
class Packet:
    """One TCP segment, whichever way it reached us."""

    n: int
    src_host: str
    src_port: int | None
    dst_host: str
    dst_port: int | None
    flags: int
    ip_version: int = 4
    time: float | None = None
    time_text: str | None = None
    seq: int | None = None
    ack: int | None = None
    seq_inferred: bool = False
    length: int | None = None
    win: int | None = None
    urg: int | None = None
    options: Options = field(default_factory=Options)
    cksum: int | None = None
    cksum_expected: int | None = None  # set when tcpdump printed "(incorrect -> 0x...)"
    cksum_status: int | None = None  # 0 unverified, 1 good, 2 bad; None: from cksum_expected
    ip: dict[str, object] = field(default_factory=dict)
    src_port_name: str | None = None
    dst_port_name: str | None = None
    line: int | None = None
    raw: str | None = None
    # Frame number in the capture (1-based, all packets counted) or tcpdump's ``-#`` number.
    frame: int | None = None
    # Captured fewer bytes than were on the wire (caplen < len), or tcpdump printed [|tcp].
    truncated: bool = False
    malformed: str | None = None  # what is wrong with the TCP header (table.MALFORMED_TCP)
    fragments: list[int] = field(default_factory=list)  # frames of the IP fragments it was in
    incomplete: bool = False  # its IP datagram was never completed: only the first fragment
    annotation: str | None = None
    # The bytes of a pasted hex dump and the link type they start with (1 or 101).
    frame_bytes: bytes | None = None
    frame_link: int | None = None
    details: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    app: str | None = None  # what the payload starts: "GET /x HTTP/1.1" (readers.appdata)
    # Filled by flow analysis.
    rel_seq: int | None = None
    rel_ack: int | None = None
    findings: list[str] = field(default_factory=list)

    def ip_value(self, key: str) -> int | None:
        """An IP header value kept in ``ip``: an int from a capture, "0x.." or digits from
        pasted text (and from sessions stored so); None when absent or unreadable."""
        v = self.ip.get(key)
        if isinstance(v, str):
            try:
                v = int(v, 0)
            except ValueError:
                return None
        if not isinstance(v, int) or not 0 <= v <= _IP_FIELD_MAX.get(key, v):
            return None  # a pasted "tos 0x65536" cannot be a header byte: not a value
        return v

    def cksum_verdict(self) -> int:
        """0 unverified, 1 good, 2 bad (model.codes.CHECKSUM_STATUS): what a reader found,
        else, for pasted text, tcpdump's verdict where it printed the checksum (-v)."""
        if self.cksum_status is not None:
            return int(self.cksum_status)
        if self.cksum is None:
            return 0
        return 2 if self.cksum_expected is not None else 1

    @property
    def src(self) -> str:
        return format_endpoint(
            self.src_host, self.src_port, _named(self.src_port, self.src_port_name)
        )

    @property
    def dst(self) -> str:
        return format_endpoint(
            self.dst_host, self.dst_port, _named(self.dst_port, self.dst_port_name)
        )

    @property
    def letters(self) -> str:
        return flags_to_letters(self.flags)

    @property
    def seg_len(self) -> int:
        """Sequence space consumed: payload plus one for SYN and one for FIN (RFC 9293 §3.4)."""
        return (self.length or 0) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)


def packet_record(p: Packet) -> dict[str, Any]:
    """A kept packet object as plain JSON data (``packet_from_record`` undoes it): what a
    stored session keeps of the rows that came from text or through Scapy."""
    out: dict[str, Any] = {}
    for f in fields(Packet):
        v = getattr(p, f.name)
        if f.name == "options":
            v = {k.name: getattr(v, k.name) for k in fields(Options)}
        elif f.name == "comments":
            v = [[c.line, c.text, c.position] for c in v]
        elif f.name == "frame_bytes" and v is not None:
            v = v.hex()
        out[f.name] = v
    return out


def packet_from_record(d: dict[str, Any]) -> Packet:
    kw = dict(d)
    o = dict(kw.pop("options"))
    o["sack"] = [(int(a), int(b)) for a, b in o["sack"]]
    kw["options"] = Options(**o)
    kw["comments"] = [Comment(line, text, pos) for line, text, pos in kw["comments"]]
    if kw.get("frame_bytes") is not None:
        kw["frame_bytes"] = bytes.fromhex(kw["frame_bytes"])
    return Packet(**kw)

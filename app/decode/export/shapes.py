"""The JSON document's shapes, declared once.

These TypedDicts are what ``export.document`` writes (the CLI's ``--json``, the API's
session document), the response models of the API's JSON endpoints (OpenAPI), and the
source of the field reference in docs/json.md (``scripts/json-docs`` writes it; a test
checks it is current and validates every fixture's document against these shapes).
Each field's meaning is the string in its ``Annotated``.  Fields are only ever added.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

_STRICT = ConfigDict(extra="forbid")

Int = int | None
Float = float | None


@with_config(_STRICT)
class Text(TypedDict):
    en: Annotated[str, "English"]
    zh: Annotated[str, "Simplified Chinese"]


@with_config(_STRICT)
class _NoticeBase(TypedDict):
    line: Annotated[Int, "input line it is about (text), or null"]
    message: Annotated[str, "what is wrong and what was done about it"]


@with_config(_STRICT)
class Notice(_NoticeBase, total=False):
    offset: Annotated[int, "byte offset in the (decompressed) input"]
    text: Annotated[str, "the line as written, up to 300 characters"]


@with_config(_STRICT)
class LineText(TypedDict):
    line: Annotated[int, "input line number"]
    text: Annotated[str, "the line as written"]


@with_config(_STRICT)
class OtherPacket(TypedDict, total=False):
    n: Annotated[int, "capture frame number"]
    frame: Annotated[int, "capture frame number"]
    line: Annotated[int, "text input line number"]
    text: Annotated[str, "tcpdump's or Scapy's one-line description"]


@with_config(_STRICT)
class Source(TypedDict):
    kind: Annotated[Literal["text", "pcap", "pcapng"], "what the input was"]
    packet_count: Annotated[int, "TCP packets read"]
    link_type: Annotated[str | None, "capture link type(s), e.g. '1 (Ethernet)'"]
    numbering: Annotated[
        Literal["absolute", "relative"], "text: how seq/ack were printed (captures: absolute)"
    ]
    format: Annotated[
        str | None,
        "text: which tcpdump's output it is ('tcpdump 4.0 or later', 'tcpdump 3.8-3.9', "
        "'tcpdump 3.7 or earlier'); null for captures",
    ]
    tcpdump_options: Annotated[list[str], "single-letter options of a pasted tcpdump command"]
    warnings: Annotated[list[Notice], "what the user should know about the input"]
    header: Annotated[list[LineText], "tcpdump's command and status lines"]
    preamble: Annotated[list[LineText], "prose before the first packet"]
    trailing: Annotated[list[LineText], "prose after the last packet"]
    other_packets: Annotated[list[OtherPacket], "non-TCP packets, the first 1,000"]
    other_count: Annotated[int, "non-TCP packets in all, listed or not"]
    compression: Annotated[Literal["gzip", "zstd"] | None, "compression of the input"]
    comments: Annotated[list[str], "pcapng section and interface comments"]


@with_config(_STRICT)
class Stats(TypedDict):
    min: Float
    median: Float
    max: Float
    samples: Annotated[int, "0 when there are none (and the rest null)"]


@with_config(_STRICT)
class Side(TypedDict):
    endpoint: Annotated[str, "host:port; IPv6 as [addr]:port; names kept as printed"]
    syn_seen: Annotated[bool, "its SYN (or SYN-ACK) is in the input"]
    isn: Annotated[Int, "initial sequence number, from its SYN"]
    mss: Annotated[Int, "MSS its SYN offered"]
    wscale: Annotated[Int, "window scale shift its SYN offered"]
    sack_perm: Annotated[bool, "its SYN offered SACK"]
    timestamps: Annotated[bool, "its SYN carried timestamps"]
    packets: Annotated[int, "packets it sent"]
    bytes: Annotated[int, "payload bytes it sent"]
    data_segments: Annotated[int, "segments with payload it sent"]
    rtt_ms: Annotated[
        Stats,
        "the capture point to this side and back: the ACK RTT of its ACKs (Karn-filtered), "
        "else its TS echoes",
    ]
    throughput_bps: Annotated[
        Float, "payload bits/s from its first to its last data segment; null if untimed"
    ]
    tfo: Annotated[Literal["none", "cookie_request", "cookie", "data"], "TCP Fast Open in its SYN"]
    mptcp: Annotated[bool, "its SYN carried MP_CAPABLE"]


@with_config(_STRICT)
class PathRtt(Stats):
    source: Annotated[
        Literal["handshake", "ack", "ts"] | None,
        "the handshake (SYN to the ACK of the SYN-ACK, both legs wherever the capture was "
        "taken), else the two sides' ACK RTT (or TS echo) legs added",
    ]


@with_config(_STRICT)
class Sides(TypedDict):
    client: Side
    server: Side


@with_config(_STRICT)
class PhaseRun(TypedDict):
    phase: Annotated[
        Literal["handshake", "data", "teardown", "half_close"], "phase of these packets"
    ]
    first: Annotated[int, "packet number (n) of the run's first packet"]
    last: Annotated[int, "packet number (n) of its last"]
    en: str
    zh: str


@with_config(_STRICT)
class NegotiationNote(TypedDict):
    topic: Annotated[
        Literal["options", "mss", "wscale", "sack", "timestamps", "ecn", "tfo", "mptcp"],
        "what the SYNs agreed on",
    ]
    en: str
    zh: str
    rfc: Annotated[str, "RFC section it rests on"]


@with_config(_STRICT)
class Options(TypedDict):
    mss: Int
    wscale: Int
    sack_perm: bool
    ts_val: Int
    ts_ecr: Int
    sack: Annotated[list[list[int]], "SACK blocks [left, right), absolute"]


@with_config(_STRICT)
class Comment(TypedDict):
    line: Annotated[int, "input line (0 for a pcapng packet comment)"]
    text: str
    position: Literal["before", "after"]


@with_config(_STRICT)
class Checksum(TypedDict):
    value: Annotated[Int, "the checksum field"]
    status: Annotated[
        Literal["good", "bad", "unverified"],
        "computed over the pseudo-header and every byte where all were captured (pasted "
        "text: tcpdump's verdict with -v); unverified when bytes are missing",
    ]
    expected: Annotated[Int, "the right value, when bad"]


@with_config(_STRICT)
class Packet(TypedDict):
    n: Annotated[int, "packet number in the input, from 1"]
    time: Annotated[
        Float, "captures: Unix seconds; text: seconds since midnight (or Unix with a date)"
    ]
    src: str
    dst: str
    flags: Annotated[str, "tcpdump letters in tcpdump's order: F S R P . U E W e; 'none'"]
    seq: Annotated[Int, "absolute; null when unknown"]
    ack: Annotated[Int, "absolute; null without ACK or when unknown"]
    rel_seq: Annotated[Int, "from the sender's ISN (or tcpdump's base without a SYN)"]
    rel_ack: Annotated[Int, "from the receiver's ISN (likewise)"]
    len: Annotated[Int, "payload bytes"]
    win: Annotated[Int, "the raw 16-bit window field"]
    options: Options
    findings: Annotated[list[str], "finding codes (app/decode/model/codes.py)"]
    seq_inferred: Annotated[bool, "tcpdump printed no seq (bare ACK); inferred"]
    eff_win: Annotated[Int, "window in bytes after scaling; null when unknown"]
    direction: Literal["c2s", "s2c"]
    phase: Literal["handshake", "data", "teardown", "half_close"]
    ts_echo_of: Annotated[Int, "packet whose TS val this ecr echoes"]
    dup_ack: Annotated[Int, "a duplicate ACK's number in its run"]
    acks: Annotated[Int, "packet this ACK is the first to cover"]
    ack_rtt_ms: Annotated[Float, "time since that packet (Wireshark's ack_rtt)"]
    ts_rtt_ms: Annotated[Float, "TS echo RTT sample"]
    bytes_in_flight: Annotated[Int, "after a data segment: highest seq sent minus peer's ack"]
    line: Annotated[Int, "text input: line number"]
    frame: Annotated[Int, "capture frame number, or tcpdump's -# number"]
    truncated: Annotated[bool, "captured shorter than on the wire, or tcpdump's [|tcp]"]
    checksum: Annotated[Checksum, "the TCP checksum and whether it is right"]
    ecn: Annotated[
        Literal["Not-ECT", "ECT(1)", "ECT(0)", "CE"] | None,
        "the IP header's ECN field (RFC 3168 §5); null when unknown",
    ]
    annotation: Annotated[str | None, "a note written after the packet"]
    comments: list[Comment]
    app: Annotated[
        str | None,
        "captures: the application message the payload starts (HTTP request or status line, "
        "Redis or memcached command, TLS record, DNS query), one line; null otherwise",
    ]


@with_config(_STRICT)
class FlowSummary(TypedDict):
    id: Annotated[int, "connection number, from 1, in order of first packet"]
    client: str
    server: str
    roles_from: Annotated[
        Literal["syn", "syn-ack", "heuristic"], "how the client was told from the server"
    ]
    packet_count: int
    bytes: Annotated[int, "payload bytes, both directions"]
    start: Annotated[Float, "time of the first packet"]
    duration: Annotated[Float, "seconds; null without time stamps"]
    handshake: Literal["complete", "partial", "none"]
    irtt_ms: Annotated[Float, "handshake RTT as Wireshark's initial_rtt"]
    window_scaling: Literal["both", "none", "unknown"]
    state: Annotated[str, "Zeek conn_state"]
    history: Annotated[str, "Zeek history letters (upper case: the client)"]
    rtt_ms: Annotated[Stats, "ACK RTT samples, Karn-filtered, at the capture point"]
    path_rtt_ms: Annotated[PathRtt, "the round trip between the endpoints"]
    vantage: Annotated[
        Literal["client", "server", "between", "unknown"],
        "where the capture was taken: next to the side whose leg is under a tenth of the other's",
    ]
    vantage_from: Annotated[
        Literal["ack_rtt", "ttl"] | None,
        "what told it: the two sides' ACK RTT legs, else TTLs (one side's still initial, the "
        "other's decremented)",
    ]
    ts_rtt_ms: Annotated[Stats, "TS echo RTT samples (RFC 7323 §4)"]
    ecn: Literal["none", "offered", "negotiated"]
    findings: Annotated[dict[str, int], "finding code: packets with it (nonzero only)"]
    ended_by: Literal[
        "open",
        "four_way_close",
        "three_way_close",
        "simultaneous_close",
        "half_close",
        "reset",
        "refused",
    ]
    closer: Annotated[Literal["client", "server"] | None, "who sent the first FIN or RST"]
    ending: Text
    sides: Sides
    narrative: Annotated[Text, "the connection told in words"]
    phases: list[PhaseRun]


@with_config(_STRICT)
class Flow(FlowSummary, total=False):
    negotiation: Annotated[list[NegotiationNote], "what the SYNs agreed (not in --summary)"]
    packets: Annotated[list[Packet], "every packet, capture order (not in --summary)"]


@with_config(_STRICT)
class Document(TypedDict):
    source: Source
    flows: list[Flow]


@with_config(_STRICT)
class FlowWithNegotiation(FlowSummary):
    negotiation: list[NegotiationNote]


PacketWindow = TypedDict(
    "PacketWindow",
    {
        "flow": Annotated[int, "the flow's id"],
        "from": Annotated[int, "position in the flow of the first packet, from 0"],
        "count": Annotated[int, "packets in this window"],
        "total": Annotated[int, "packets in the flow"],
        "packets": list[Packet],
    },
)
with_config(_STRICT)(PacketWindow)


@with_config(_STRICT)
class Payload(TypedDict):
    bytes: Annotated[int, "TCP payload bytes"]
    protocol: Annotated[str | None, "HTTP, TLS, Redis, ... when recognised"]
    summary: Annotated[str | None, "one line: the request line, the first TLS record, ..."]
    text: Annotated[str | None, "a readable preview (non-printable bytes as dots)"]


@with_config(_STRICT)
class DetailLayer(TypedDict):
    name: Annotated[str, "Scapy's layer name"]
    fields: Annotated[dict[str, str], "field name to value, as Scapy shows it"]


@with_config(_STRICT)
class PacketDetail(TypedDict):
    """One packet dissected in full (``/api/sessions/{id}/packets/{n}``)."""

    frame: Annotated[int | None, "frame number in the capture"]
    size: Annotated[int, "bytes in the frame"]
    layers: list[DetailLayer]
    hex: Annotated[list[str], "hex dump rows: offset, hex bytes, printable text"]
    payload: Payload | None
    note: Annotated[str | None, "why the detail is partial, when it is"]


SHAPES = (
    Document,
    Source,
    Notice,
    LineText,
    OtherPacket,
    Flow,
    Text,
    Stats,
    PathRtt,
    Sides,
    Side,
    PhaseRun,
    NegotiationNote,
    Packet,
    Checksum,
    Options,
    Comment,
    PacketWindow,
)

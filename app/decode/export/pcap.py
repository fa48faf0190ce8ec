"""A connection (or a window of it) as a capture file Wireshark opens.

- **From a capture**: the original records, byte for byte. A pcap keeps its file header and
  each packet's 16-byte record header (time stamp, captured and original length); a pcapng
  keeps its section headers, interface descriptions (their time stamp resolution and
  offset above all), name resolution and secrets blocks, and each chosen packet's block
  whole, comments included. Statistics blocks are left out, as they count packets that are
  not there. One forward pass over the stored input, one block in memory at a time.
- **From pasted text**: packets made with Scapy from the parsed fields (addresses, ports,
  flags, sequence and acknowledgement numbers, window, urgent pointer, the options in the
  order printed, IPv4 ID, TTL and TOS where printed, the time stamps) as raw IP packets
  (link type 101), carrying the payload the paste dumped in hex (``-X``, ``-XX``) and zero
  bytes for the rest of its length where it dumped less or none; the checksums are
  computed. Times of day without a date are written as seconds after 1970-01-01 00:00 UTC.

tshark reads every exported file back with the fields the parse gave (``tests/decode``).
"""

from __future__ import annotations

import io
import ipaddress
import struct
from collections.abc import Iterator
from typing import Any

from app.decode.analysis.flows import row_objects
from app.decode.model.errors import Unreadable
from app.decode.model.options import BY_LABEL, Kind, Options
from app.decode.model.packet import Packet
from app.decode.model.table import PacketTable
from app.decode.readers.container import open_stream
from app.decode.readers.payloads import SKIP, read_exactly, scapy_dissect, tcp_payload

SHB, IDB, OPB, SPB, NRB, EPB, DSB = 0x0A0D0D0A, 1, 2, 3, 4, 6, 0x0000000A
KEPT_BLOCKS = frozenset({SHB, IDB, NRB, DSB})
DATA_AT = {EPB: 28, OPB: 28, SPB: 12}  # where a packet block's bytes start
MAX_BLOCK = 1 << 26
LINKTYPE_RAW = 101
OLD_LABELS = {"timestamp": "TS"}  # tcpdump 3.x printed "timestamp VAL ECR"


def connection_pcap(part: PacketTable, source: bytes) -> bytes:
    """The packets of ``part`` (rows of one session) as a capture file."""
    if part.kind == "text":
        return text_pcap(part)
    return b"".join(capture_records(part, source))


def capture_records(part: PacketTable, source: bytes) -> Iterator[bytes]:
    """The original file's header blocks and the records of ``part``'s rows."""
    wanted = sorted(int(o) for o in part.cols["offset"].tolist() if o >= 0)
    end = (wanted[-1] if wanted else 0) + MAX_BLOCK
    stream, _ = open_stream(io.BytesIO(source), max_input=end + SKIP)
    head = stream.read(4)
    if head == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng_blocks(stream, head, set(wanted))
    else:
        yield from _pcap_records(stream, head, wanted)


def _pcap_records(stream: Any, magic: bytes, wanted: list[int]) -> Iterator[bytes]:
    head = magic + read_exactly(stream, 20)
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    yield head
    at = 24
    for data_at in wanted:
        if data_at - 16 < at:
            continue  # a record already written (or before the first): never twice
        read_exactly(stream, data_at - 16 - at)
        record = read_exactly(stream, 16)
        if len(record) < 16:
            raise Unreadable(f"the stored capture ends before the record at byte {data_at - 16:,}")
        (caplen,) = struct.unpack_from(order + "I", record, 8)
        data = read_exactly(stream, caplen)
        yield record + data
        at = data_at + len(data)


def _pcapng_blocks(stream: Any, first: bytes, wanted: set[int]) -> Iterator[bytes]:
    at, order, pending = 0, "<", len(wanted)
    head = first + read_exactly(stream, 4)
    while len(head) == 8 and pending:
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            bom = read_exactly(stream, 4)
            order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            (length,) = struct.unpack(order + "I", head[4:])
            body = bom + (read_exactly(stream, length - 12) if 12 <= length <= MAX_BLOCK else b"")
        else:
            (length,) = struct.unpack(order + "I", head[4:])
            body = read_exactly(stream, length - 8) if 12 <= length <= MAX_BLOCK else b""
        if len(body) != length - 8:
            raise Unreadable(f"the stored capture has a broken block at byte {at:,}")
        (btype,) = struct.unpack(order + "I", head[:4])
        data_at = at + DATA_AT[btype] if btype in DATA_AT else -1
        if btype in KEPT_BLOCKS or data_at in wanted:
            pending -= data_at in wanted
            yield head + body
        at += length
        head = read_exactly(stream, 8)


# ------------------------------------------------------------------------ pasted text


def options_bytes(o: Options) -> bytes:
    """The TCP option bytes of options read from text, in the order printed, padded with
    end-of-list bytes to a multiple of four. Options printed only as a name (``md5``,
    ``mptcp …``) and SACK blocks beyond the first option are left out."""
    out = bytearray()
    sack_done = False
    for item in o.items:
        head = item.split(" ", 1)[0]
        spec = BY_LABEL.get(OLD_LABELS.get(head, head))
        if spec is None:
            continue
        kind = spec.kind
        if kind in (Kind.EOL, Kind.NOP):
            out.append(int(kind))
        elif kind == Kind.MSS and o.mss is not None:
            out += struct.pack("!BBH", 2, 4, o.mss & 0xFFFF)
        elif kind == Kind.WSCALE and o.wscale is not None:
            out += struct.pack("!BBB", 3, 3, o.wscale & 0xFF)
        elif kind == Kind.SACK_PERM:
            out += b"\x04\x02"
        elif kind == Kind.TIMESTAMP and o.ts_val is not None and o.ts_ecr is not None:
            out += struct.pack("!BBII", 8, 10, o.ts_val & 0xFFFFFFFF, o.ts_ecr & 0xFFFFFFFF)
        elif kind == Kind.SACK and o.sack and not sack_done:
            blocks = o.sack[:4]
            out += struct.pack("!BB", 5, 2 + 8 * len(blocks))
            for a, b in blocks:
                out += struct.pack("!II", a & 0xFFFFFFFF, b & 0xFFFFFFFF)
            sack_done = True
    out += b"\x00" * (-len(out) % 4)
    return bytes(out[:40])


def _payload(p: Packet) -> bytes:
    """The payload the paste dumped, zero-filled to the length it printed."""
    got = b""
    if p.frame_bytes is not None:
        try:
            got = tcp_payload(scapy_dissect(p.frame_bytes, p.frame_link or 1)) or b""
        except Exception:  # a dump Scapy cannot dissect: zeros, as without one
            got = b""
    size = max(p.length or 0, len(got))
    return got + bytes(size - len(got))


class Addresses:
    """An address for each host a paste names: its own when it is one, else (a name
    tcpdump printed without ``-n``) one of 198.18.0.0/15 (RFC 2544's benchmarking range)
    or 2001:db8::/32 (RFC 3849's documentation prefix), in order of appearance; loopback
    for ``localhost``. No name is looked up."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, int], str] = {}

    def __call__(self, host: str, version: int) -> str:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        key = (host, version)
        if key not in self.made:
            if host == "localhost":
                self.made[key] = "::1" if version == 6 else "127.0.0.1"
            else:
                i = len(self.made) + 1
                base = ipaddress.ip_address("2001:db8::" if version == 6 else "198.18.0.0")
                self.made[key] = str(base + i)
        return self.made[key]


def synthesised(p: Packet, address: Addresses | None = None) -> Any:
    """A Scapy IP/TCP packet made from the fields of one packet read from text."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    address = address or Addresses()
    src, dst = address(p.src_host, p.ip_version), address(p.dst_host, p.ip_version)
    ip: Any
    if p.ip_version == 6:
        ip = IPv6(src=src, dst=dst)
        if (ttl := p.ip_value("ttl")) is not None:
            ip.hlim = ttl
    else:
        ip = IP(src=src, dst=dst)
        for key, attr in (("id", "id"), ("ttl", "ttl"), ("tos", "tos")):
            if (v := p.ip_value(key)) is not None:
                setattr(ip, attr, v)
    opts = options_bytes(p.options)
    tcp = TCP(
        sport=p.src_port or 0,
        dport=p.dst_port or 0,
        flags=p.flags & 0xFFF,
        seq=(p.seq or 0) & 0xFFFFFFFF,
        ack=(p.ack or 0) & 0xFFFFFFFF,
        window=(p.win or 0) & 0xFFFF,
        urgptr=(p.urg or 0) & 0xFFFF,
        dataofs=5 + len(opts) // 4,
    )
    return ip / tcp / _tail(opts, _payload(p))


def _tail(opts: bytes, payload: bytes) -> Any:
    """The options and the payload as raw bytes after the fixed TCP header (Scapy would
    re-encode options given as a list; given as bytes they stay exactly as made)."""
    from scapy.packet import Raw

    return Raw(opts + payload)


def text_pcap(part: PacketTable) -> bytes:
    """Packets read from text as a pcap of raw IP packets (link type 101); ``part`` is
    positions of an analysis (``FlowTable.positions``, or a stored session's)."""
    from scapy.utils import PcapWriter

    out = io.BytesIO()
    writer = PcapWriter(out, linktype=LINKTYPE_RAW, sync=True)
    address = Addresses()
    for i in range(len(part)):
        # as the ladder shows it: a bare ACK's seq, which tcpdump does not print, inferred
        p = row_objects(part, i)[0]
        pkt = synthesised(p, address)
        pkt.time = p.time if p.time is not None else 0.0
        writer.write(pkt)
    data = out.getvalue()
    writer.close()
    return data


__all__ = [
    "Addresses",
    "capture_records",
    "connection_pcap",
    "options_bytes",
    "synthesised",
    "text_pcap",
]

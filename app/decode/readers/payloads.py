"""The TCP payload bytes of chosen packets, found again in the stored input.

The packet table keeps header fields, not payloads: a capture's payload stays in the input,
where each row's frame starts at its ``offset``. To read a connection's bytes (Follow TCP
Stream), its frames are read back in one forward pass over the input (compression undone,
bounded), and the vectorised dissector finds each payload in them, as it did on the first
read. Frames the fast path left to Scapy are dissected by Scapy here too; a segment
reassembled from IP fragments has no single frame, so its bytes are reported unknown.
Pasted text has payload bytes only where tcpdump printed a hex dump (``-X``, ``-XX``).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from app.decode.model.table import HostBook, PacketTable
from app.decode.readers.container import Chunk, Interface, open_stream
from app.decode.readers.dissect import dissect
from app.decode.readers.scapy_fallback import _IP_AFTER, _load_contribs

SKIP = 1 << 20  # bytes read at a time while passing over frames of other connections


def scapy_dissect(raw: bytes, linktype: int) -> Any:
    """Scapy's dissection of one frame of link type ``linktype``."""
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw

    _load_contribs()
    if linktype in _IP_AFTER:
        ip = raw[_IP_AFTER[linktype] :]
        return IP(ip) if ip[:1] and ip[0] >> 4 == 4 else IPv6(ip)
    cls = conf.l2types.num2layer.get(linktype)
    if cls is None:
        # PKTAP and friends: find the IP header by its version nibble after the link header
        return Raw(raw)
    return cls(raw)


def tcp_payload(pkt: Any) -> bytes | None:
    """The TCP payload of a Scapy packet without the link layer's padding; None if it
    has no TCP layer."""
    from scapy.layers.inet import TCP
    from scapy.packet import Padding

    tcp = pkt.getlayer(TCP)
    if tcp is None:
        return None
    payload = tcp.payload
    data = bytes(payload)
    pad = payload.getlayer(Padding)
    if pad is not None:
        data = data[: len(data) - len(bytes(pad))]
    return data


def _by_scapy(raw: bytes, linktype: int) -> bytes | None:
    try:
        return tcp_payload(scapy_dissect(raw, linktype))
    except Exception:  # bytes Scapy cannot dissect: their payload is unknown
        return None


def read_exactly(stream: Any, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        piece: bytes = stream.read(min(n - got, SKIP))
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def frames(source: bytes, offsets: list[int], sizes: list[int]) -> list[bytes]:
    """The bytes at ``offsets`` (ascending) of the input ``source`` once decompressed, in
    one forward pass; memory: the frames asked for and one read."""
    end = max((o + s for o, s in zip(offsets, sizes, strict=True)), default=0)
    stream, _ = open_stream(io.BytesIO(source), max_input=end + SKIP)
    at, out = 0, []
    for off, size in zip(offsets, sizes, strict=True):
        if off < at:  # not ascending: no such input from our reader, but never loop back
            out.append(b"")
            continue
        read_exactly(stream, off - at)
        data = read_exactly(stream, size)
        out.append(data)
        at = off + len(data)
    return out


def capture_payloads(part: PacketTable, source: bytes) -> list[bytes | None]:
    """The captured payload of every row of ``part`` (rows of a capture, in capture order);
    shorter than the row's ``length`` where the snaplen cut it, None where unknown."""
    n = len(part)
    if n == 0:
        return []
    cols = part.cols
    offsets = cols["offset"].tolist()
    raw = frames(source, offsets, cols["caplen"].tolist())
    links = part.linktypes or [1]
    starts = np.cumsum([0] + [len(f) for f in raw])
    caplen = np.diff(starts).astype(np.int64)
    # a truncated frame's IP length is trusted, as on the first read
    wirelen = caplen + np.where(cols["truncated"], 65535, 0)
    chunk = Chunk(
        buf=b"".join(raw),
        base=0,
        first_frame=1,
        data=starts[:-1].astype(np.int64),
        caplen=caplen,
        wirelen=wirelen.astype(np.int64),
        time=np.zeros(n),
        iface=cols["iface"].astype(np.int64),
    )
    d = dissect(chunk, [Interface(link) for link in links], HostBook(), 0)
    out: list[bytes | None] = [None] * n
    buf = chunk.buf
    for i, a, b in zip(d.rows.tolist(), d.data_at.tolist(), d.data_end.tolist(), strict=True):
        out[i] = buf[a:b]
    fast = set(d.rows.tolist())
    fragments = cols["reassembly"].tolist()
    for i in range(n):
        if i not in fast and not fragments[i] and raw[i]:
            out[i] = _by_scapy(raw[i], links[int(cols["iface"][i])])
    return out


def text_payloads(part: PacketTable) -> list[bytes | None]:
    """The payload of every row of pasted text that came with a hex dump; None elsewhere."""
    out: list[bytes | None] = [None] * len(part)
    for i, p in part.objects.items():
        if p.frame_bytes is not None:
            out[i] = _by_scapy(p.frame_bytes, p.frame_link or 1)
    return out


def payloads(part: PacketTable, source: bytes) -> list[bytes | None]:
    """Each row's captured TCP payload (see ``capture_payloads``, ``text_payloads``)."""
    return text_payloads(part) if part.kind == "text" else capture_payloads(part, source)

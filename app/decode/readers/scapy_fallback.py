"""Scapy's side of capture decoding: the reference, the fallback, and hex dumps.

``read_capture_scapy`` reads a whole file with Scapy's PcapReader (the reference the fast
reader is tested against); ``scapy_frame`` dissects one frame the fast path left alone
(tunnels, exotic link types); ``decode_hex`` reads the bytes of a pasted tcpdump hex dump.
"""

from __future__ import annotations

import io
import logging
import struct
from typing import Any

from app.decode.model.errors import InputTooLarge, UnsupportedInput
from app.decode.model.options import BY_SCAPY, Kind, Options
from app.decode.model.packet import Packet
from app.decode.model.table import MALFORMED_TCP
from app.decode.readers.container import PCAP_MAGICS, container_kind

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
logging.getLogger("scapy.loading").setLevel(logging.ERROR)


def _options(raw: list[tuple[str, object]]) -> Options:
    """Scapy's decoded option list, read through the option table's Scapy names."""
    o = Options()
    for name, value in raw:
        spec = BY_SCAPY.get(name)
        kind = spec.kind if spec is not None else None
        if kind in (Kind.EOL, Kind.NOP, Kind.SACK_PERM):
            o.add(Kind(kind))
        elif kind in (Kind.MSS, Kind.WSCALE) and isinstance(value, int):
            o.add(Kind(kind), (value,))
        elif kind in (Kind.TIMESTAMP, Kind.SACK) and isinstance(value, tuple):
            if kind == Kind.TIMESTAMP and len(value) != 2:
                o.add_other(f"{name} {value!r}")
                continue
            o.add(Kind(kind), tuple(int(v) for v in value))
        else:
            o.add_other(f"{name} {value!r}" if value not in (None, b"") else str(name))
    return o


# Link types Scapy leaves as Raw that are a fixed header in front of IP (tcpdump's
# print-*.c): LINKTYPE_IPV4 228, LINKTYPE_IPV6 229, LINKTYPE_IPOIB 242 (print-ipoib.c:
# 20-byte destination and source hardware addresses, then RFC 4391 §6's 4-byte header,
# ethertype and reserved, 44 bytes in all).
_IP_AFTER: dict[int, int] = {228: 0, 229: 0, 242: 44}
_contribs_loaded = False


def _load_contribs() -> None:
    """Tunnels Scapy only dissects with its contrib layers: Geneve, MPLS."""
    global _contribs_loaded
    if not _contribs_loaded:
        from scapy.main import load_contrib

        load_contrib("geneve")
        load_contrib("mpls")
        import scapy.layers.vxlan  # noqa: F401  (binds UDP 4789)
        from scapy.contrib.mpls import MPLS
        from scapy.layers.ppp import PPP
        from scapy.packet import bind_layers

        bind_layers(PPP, MPLS, proto=0x0281)  # MPLS unicast over PPP, RFC 3032 §5
        _contribs_loaded = True


def _fix_linktype(data: bytes) -> bytes:
    """pcap's link-type field keeps FCS information in its upper bits (pcap-linktype(7),
    "LINKTYPE_ ... with the FCS length"); Scapy wants the bare type."""
    if container_kind(data) != "pcap" or len(data) < 24:
        return data
    order = PCAP_MAGICS[data[:4]][0]
    (link,) = struct.unpack(order + "I", data[20:24])
    if link & 0xFFFF0000:
        return data[:20] + struct.pack(order + "I", link & 0xFFFF) + data[24:]
    return data


def _to_packet(pkt: Any, frame: int, wirelen: int | None) -> Packet | None:
    """The TCP segment in a dissected Scapy packet (the innermost IP carrying TCP)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6, Jumbo

    tcp = pkt.getlayer(TCP)
    ip = tcp.underlayer if tcp is not None else None
    # The IP header carrying the TCP segment (the inner one in a tunnel), past any
    # IPv6 extension headers.
    while ip is not None and not isinstance(ip, (IP, IPv6)):
        ip = ip.underlayer
    if ip is None or tcp is None:
        return None
    hdr = tcp.dataofs * 4 if tcp.dataofs else 20
    if isinstance(ip, IP):
        # tcpdump trusts the IP total length unless the packet on the wire was
        # shorter ("[total length 62 > length 50]") or it is 0 (TSO, BIG TCP).
        on_wire = len(bytes(ip))
        if wirelen is not None and wirelen > len(pkt):
            on_wire += wirelen - len(pkt)
        on_wire = min(on_wire, _pppoe_room(pkt, ip))
        total = min(ip.len, on_wire) if ip.len else on_wire
        length = total - ip.ihl * 4 - hdr
    else:
        offset = len(bytes(ip)) - len(bytes(tcp))
        plen = getattr(ip, "tl_payload_len", None) or ip.plen or 0
        if Jumbo in ip:
            plen = int(ip[Jumbo].jumboplen)  # RFC 2675 jumbogram (BIG TCP)
        length = plen - (offset - 40) - hdr
    malformed = None
    if tcp.dataofs is not None and tcp.dataofs < 5:
        malformed = MALFORMED_TCP[1]
    elif length < 0:
        malformed = MALFORMED_TCP[2]
    flags = int(tcp.flags)
    status, expected = _verify(ip, tcp, hdr, length, malformed, wirelen, pkt)
    return Packet(
        n=frame,
        src_host=str(ip.src),
        src_port=int(tcp.sport),
        dst_host=str(ip.dst),
        dst_port=int(tcp.dport),
        flags=flags,
        ip_version=6 if isinstance(ip, IPv6) else 4,
        time=float(pkt.time),
        seq=int(tcp.seq),
        ack=int(tcp.ack) if flags & 0x10 else None,
        length=None if malformed else length,
        win=int(tcp.window),
        urg=int(tcp.urgptr) if flags & 0x20 else None,
        options=Options() if malformed else _options(list(tcp.options)),
        malformed=malformed,
        cksum_status=status,
        cksum_expected=expected,
        ip={"id": int(ip.id), "tos": int(ip.tos), "ttl": int(ip.ttl)}
        if isinstance(ip, IP)
        else {"tos": int(ip.tc), "ttl": int(ip.hlim)},
        cksum=int(tcp.chksum),
        frame=frame,
        truncated=bool(wirelen and wirelen > len(pkt)),
    )


def _verify(
    ip: Any, tcp: Any, hdr: int, length: int, malformed: str | None, wirelen: int | None, pkt: Any
) -> tuple[int, int | None]:
    """(status, the right checksum when it is wrong) of the TCP checksum, when the whole
    segment was captured (checksum.py's statuses)."""
    import socket

    from scapy.layers.inet import IP
    from scapy.utils import checksum

    if malformed or length < 0:
        return 0, None
    seg = bytes(tcp)[: hdr + length]
    if len(seg) < hdr + length:
        return 0, None
    # the pseudo-header by hand: a TSO or BIG TCP packet's IP length field may be 0
    if isinstance(ip, IP):
        src, dst = socket.inet_aton(ip.src), socket.inet_aton(ip.dst)
        # (the length as two words: a BIG TCP segment's may pass 65,535)
        pseudo = src + dst + struct.pack("!HHH", 6, len(seg) >> 16, len(seg) & 0xFFFF)
    else:
        src = socket.inet_pton(socket.AF_INET6, ip.src)
        dst = socket.inet_pton(socket.AF_INET6, ip.dst)
        pseudo = src + dst + struct.pack("!I3xB", len(seg), 6)
    zeroed = seg[:16] + b"\0\0" + seg[18:]
    want = int(checksum(pseudo + zeroed))
    if want == int(tcp.chksum) or (want == 0 and int(tcp.chksum) == 0xFFFF):
        return 1, None
    return 2, want


def _pppoe_room(pkt: Any, ip: Any) -> int:
    """The bytes a PPPoE session frame's own length (RFC 2516 §4) leaves for the IP packet:
    what follows is Ethernet padding, not payload, as Wireshark reads it.  Scapy does not
    apply that length, and tcpdump calls the packet "truncated-ip"."""
    from scapy.layers.ppp import PPPoE

    pppoe = pkt.getlayer(PPPoE)
    if pppoe is None or pppoe.payload is None:
        return 1 << 30
    before_ip = len(bytes(pppoe.payload)) - len(bytes(ip))
    return max(int(pppoe.len) - before_ip, 0)


def _jumbo(pkt: Any, wirelen: int | None) -> Any:
    """An IPv6 jumbogram (RFC 2675, Linux BIG TCP) has payload length 0, so Scapy stops at
    its header; dissect the rest again with the payload length the capture holds."""
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6

    v6 = pkt.getlayer(IPv6)
    if v6 is None or v6.plen != 0 or TCP in pkt:
        return pkt
    raw = bytes(v6)
    n = min(len(raw) - 40, 0xFFFF)
    fixed = IPv6(raw[:4] + struct.pack("!H", n) + raw[6:])
    # tcpdump takes the payload length from what was on the wire.
    missing = (wirelen - len(pkt)) if wirelen and wirelen > len(pkt) else 0
    object.__setattr__(fixed, "tl_payload_len", len(raw) - 40 + missing)
    under = v6.underlayer
    if under is None:
        fixed.time = pkt.time
        return fixed
    under.remove_payload()
    under.add_payload(fixed)
    return pkt


def decode_hex(data: bytes) -> Packet | None:
    """Decode the bytes of a tcpdump hex dump (-x/-X start at the IP header, -xx/-XX at the
    link header; Ethernet is assumed then).  None when no TCP segment comes out."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    _load_contribs()
    candidates: list[Any] = []
    version = data[0] >> 4 if data else 0
    if version == 4 and len(data) >= 20 and data[0] & 0x0F >= 5:
        candidates.append(IP)
    elif version == 6 and len(data) >= 40:
        candidates.append(IPv6)
    candidates.append(Ether)
    for layer in candidates:
        try:
            pkt = layer(data)
        except Exception:
            continue
        pkt.time = 0.0
        p = _to_packet(pkt, 0, None)
        if p is not None:
            p.ip["link"] = 1 if layer is Ether else 101  # LINKTYPE_ETHERNET or LINKTYPE_RAW
            return p
    return None


def scapy_frame(raw: bytes, linktype: int, frame: int, time: float, wirelen: int) -> Packet | str:
    """One frame through Scapy: its TCP segment, or Scapy's one-line summary of it."""
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw

    _load_contribs()
    cls = conf.l2types.num2layer.get(linktype)
    try:
        pkt = cls(raw) if cls is not None else Raw(raw)
        if isinstance(pkt, Raw) and linktype in _IP_AFTER:
            ip = raw[_IP_AFTER[linktype] :]
            if ip[:1] and ip[0] >> 4 in (4, 6):
                pkt = IP(ip) if ip[0] >> 4 == 4 else IPv6(ip)
    except Exception as exc:  # a malformed frame makes Scapy raise almost anything
        return f"frame Scapy cannot dissect: {exc}"
    pkt.time = time
    pkt.wirelen = wirelen
    bad_ip = _malformed_ip(pkt)
    if bad_ip:
        return bad_ip
    pkt = _jumbo(pkt, wirelen)
    p = _to_packet(pkt, frame, wirelen)
    if p is not None:
        return p
    if cls is None and linktype not in _IP_AFTER:
        return f"link type {linktype}: not decoded"
    summary: str = pkt.summary()
    return summary


def _malformed_ip(pkt: Any) -> str | None:
    """An IP header whose version field is not its own (ip.malformed): tshark reads no
    further, and neither does tcpladder."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    for layer, want in ((IP, 4), (IPv6, 6)):
        got = pkt.getlayer(layer)
        if got is not None and got.version != want:
            return f"malformed IPv{want} header (ip.malformed): the version field is {got.version}"
    return None


def scapy_knows(linktype: int) -> bool:
    from scapy.config import conf

    _load_contribs()
    return linktype in conf.l2types.num2layer or linktype in _IP_AFTER


def read_capture_scapy(data: bytes, *, max_packets: int) -> list[Packet]:
    """Every TCP frame of a capture through Scapy's own reader: the reference decoder."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw
    from scapy.utils import PcapReader

    _load_contribs()
    data = _fix_linktype(data)

    kind = container_kind(data) or "pcap"
    packets: list[Packet] = []
    try:
        reader = PcapReader(io.BytesIO(data))  # type: ignore[arg-type]
    except Exception as exc:  # Scapy raises plain Scapy_Exception / struct errors
        raise UnsupportedInput(f"not a readable {kind} file: {exc}", offset=0) from exc
    link = getattr(reader, "linktype", None)
    count = 0
    frags = _ScapyFragments()
    try:
        while True:
            try:
                pkt = reader.read_packet()
            except EOFError:
                break
            except (struct.error, ValueError):
                break  # cut short: keep what was read
            if pkt is None:
                break
            count += 1
            if count > max_packets:
                raise InputTooLarge(
                    f"the capture has more than {max_packets:,} packets, the configured limit "
                    "(TCPLADDER_MAX_PACKETS)"
                )
            wirelen = getattr(pkt, "wirelen", None)
            if isinstance(pkt, Raw) and link in _IP_AFTER:
                raw = bytes(pkt)[_IP_AFTER[link] :]
                if raw[:1] and raw[0] >> 4 in (4, 6):
                    t = pkt.time
                    pkt = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
                    pkt.time = t
            if _malformed_ip(pkt):
                continue
            if frags.take(pkt, count):
                continue
            pkt = _jumbo(pkt, wirelen)
            p = _to_packet(pkt, count, wirelen)
            if p is not None:
                packets.append(p)
    finally:
        reader.close()
    return packets + frags.whole + frags.incomplete()


class _ScapyFragments:
    """The reference's reassembly: Scapy's own ``defrag`` and ``defragment6``, tried each
    time a TCP datagram's fragment arrives."""

    def __init__(self) -> None:
        self.pending: dict[tuple[object, ...], list[tuple[int, Any]]] = {}
        self.whole: list[Packet] = []

    def take(self, pkt: Any, count: int) -> bool:
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6ExtHdrFragment

        f6 = pkt.getlayer(IPv6ExtHdrFragment)
        ip = pkt.getlayer(IP)
        if f6 is not None and (f6.offset or f6.m):
            key: tuple[object, ...] = (6, f6.underlayer.src, f6.underlayer.dst, f6.id, f6.nh)
        elif ip is not None and (ip.flags.MF or ip.frag):
            key = (4, ip.src, ip.dst, ip.id, ip.proto)
        else:
            return False
        if key[-1] != 6:
            return True  # not TCP
        got = self.pending.setdefault(key, [])
        got.append((count, pkt))
        whole = self._whole(key[0], [p for _, p in got])
        if whole is not None:
            p = _to_packet(whole, count, None)
            if p is not None:
                p.fragments = [n for n, _ in got]
                self.whole.append(p)
            del self.pending[key]
        return True

    @staticmethod
    def _whole(version: object, pkts: list[Any]) -> Any:
        from scapy.layers.inet import IP, defrag
        from scapy.layers.inet6 import IPv6ExtHdrFragment, defragment6

        spans = []
        for p in pkts:
            if version == 4:
                spans.append((p[IP].frag * 8, len(p[IP].payload), not p[IP].flags.MF))
            else:
                f = p[IPv6ExtHdrFragment]
                spans.append((f.offset * 8, len(f.payload), not f.m))
        ends = [a + n for a, n, last in spans if last]
        if not ends:
            return None
        covered = 0
        for a, n, _ in sorted(spans):
            if a > covered:
                return None
            covered = max(covered, a + n)
        if covered < ends[0]:
            return None
        if version == 4:
            _, done, _ = defrag(pkts)  # type: ignore[no-untyped-call]
            return done[0] if done else None
        return defragment6(pkts)  # type: ignore[no-untyped-call]

    def incomplete(self) -> list[Packet]:
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6ExtHdrFragment

        out = []
        for got in self.pending.values():
            for n, pkt in got:
                f6 = pkt.getlayer(IPv6ExtHdrFragment)
                first = f6.offset == 0 if f6 is not None else pkt[IP].frag == 0
                p = _to_packet(pkt, n, None) if first else None
                if p is not None:
                    p.truncated, p.incomplete, p.length = True, True, None
                    p.cksum_status, p.cksum_expected = 0, None
                    p.fragments = [k for k, _ in got]
                    out.append(p)
        return out

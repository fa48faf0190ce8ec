"""Vectorised dissection of a chunk of frames into TCP columns.

Every header is read for all frames of a chunk at once with numpy gathers: link header,
IPv4 (options, fragments) or IPv6 (extension headers), then TCP and its options.  A frame
this fast path cannot vouch for (a tunnel, an unusual link type, a header that does not add
up) is marked for Scapy, which stays the reference: ``tests/decode/test_fastpath.py``
decodes every capture both ways and requires the same fields.

Header layouts, as data (offsets in bytes from the start of each header):
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.model.options import BY_KIND, KNOWN, Kind, Spec
from app.decode.model.table import Columns, HostBook, empty_columns
from app.decode.readers.appdata import Found, found
from app.decode.readers.checksum import BAD, Sums, verdict
from app.decode.readers.container import Chunk, Interface

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

# Ethernet II (IEEE 802.3 §3.2.6): dst 0-5, src 6-11, type 12-13; 802.1Q/802.1ad tags add 4.
ETH_TYPE, ETH_LEN, VLAN_LEN = 12, 14, 4
ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
# Ethertypes that never carry TCP: ARP, RARP, EAPOL, LLDP, slow protocols, PTP, loopback,
# Wake-on-LAN, 802.1X preauth, MACsec... anything else goes to Scapy.
NOT_TCP_ETHERTYPES = (0x0806, 0x8035, 0x888E, 0x88CC, 0x8809, 0x88F7, 0x9000, 0x0842, 0x88C7)
# BSD loopback (LINKTYPE_NULL, LINKTYPE_LOOP): a 4-byte address family.
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)  # Linux, NetBSD/OpenBSD, FreeBSD, macOS
# Linux cooked: SLL protocol at 14, header 16; SLL2 protocol at 0, header 20.
SLL_PROTO, SLL_LEN, SLL2_PROTO, SLL2_LEN = 14, 16, 0, 20
# IPv4 (RFC 791 §3.1)
IP4_LEN, IP4_TOTAL, IP4_FRAG, IP4_PROTO, IP4_SRC, IP4_DST = 0, 2, 6, 9, 12, 16
IP4_OFFSET_MASK = 0x1FFF
IP4_TOS, IP4_ID, IP4_TTL, IP4_SUM = 1, 4, 8, 10
IP6_HLIM = 7
# IPv6 (RFC 8200 §3): payload length 4, next header 6, src 8, dst 24; header 40 bytes.
IP6_PLEN, IP6_NEXT, IP6_SRC, IP6_DST, IP6_LEN = 4, 6, 8, 24, 40
IP6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options (RFC 8200 §4)
IP6_FRAGMENT = 44
# Protocols that end here: ICMP, IGMP, UDP, ESP, ICMPv6, no next header, OSPF, PIM, VRRP, SCTP.
LEAF_PROTOCOLS = (1, 2, 17, 50, 58, 59, 89, 103, 112, 132)
PROTO_TCP, PROTO_UDP = 6, 17
PROTOCOL_NAMES = {1: "ICMP", 2: "IGMP", 17: "UDP", 50: "ESP", 58: "ICMPv6", 59: "no next header"}
PROTOCOL_NAMES |= {89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP"}
# UDP ports where Scapy finds a tunnel (VXLAN, Geneve, L2TP, GTP, MPLS-in-UDP...).
UDP_TUNNEL_PORTS = (1701, 2152, 3386, 4789, 4790, 6081, 6635, 8472, 48879)
# TCP (RFC 9293 §3.1)
TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK, TCP_OFF, TCP_WIN, TCP_SUM, TCP_URG = (
    0,
    2,
    4,
    8,
    12,
    14,
    16,
    18,
)
TCP_LEN = 20
TCP_FLAGS_MASK = 0x1FF  # the nine flag bits, AE (RFC 9768) included
ACK_BIT, URG_BIT = 0x10, 0x20

# Link types this module reads itself.
ETHERNET, NULL, LOOP, RAW, SLL, SLL2, IPV4, IPV6, PKTAP, PKTAP_DLT = (
    1,
    0,
    108,
    101,
    113,
    276,
    228,
    229,
    258,
    149,
)
PPP, PPP_HDLC, C_HDLC, NFLOG = 9, 50, 104, 239
RAW_DLTS = (12, 14, RAW)
PKTAP_LEN, PKTAP_TYPE, PKTAP_DLT_AT = 0, 4, 8
FAST_LINKTYPES = (
    ETHERNET,
    NULL,
    LOOP,
    SLL,
    SLL2,
    IPV4,
    IPV6,
    PKTAP,
    PKTAP_DLT,
    PPP,
    PPP_HDLC,
    C_HDLC,
    NFLOG,
    *RAW_DLTS,
)
# Cisco HDLC (tcpdump print-chdlc.c): address 0x0f (unicast) or 0x8f (broadcast), control 0,
# then an ethertype; header 4 bytes.  SLARP (0x8035) and CDP (0x2000) are not TCP.
CHDLC_ADDRESSES, CHDLC_LEN = (0x0F, 0x8F), 4
CHDLC_NOT_TCP = (0x8035, 0x2000)
# PPP (RFC 1661 §2): an optional HDLC address/control pair 0xff 0x03 (RFC 1662 §3.1), then
# the protocol, one byte when odd (protocol-field compression, RFC 1661 §6.5) else two.
PPP_ADDRESS_CONTROL = 0xFF03
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
PPP_CONTROL_FROM = 0x8000  # 0x8000-0xffff: NCPs and LCP, never TCP (RFC 1661 §2)
# Cisco FabricPath: an outer MAC pair, ethertype 0x8903, a 2-byte FTag/TTL, then the whole
# inner Ethernet frame (Wireshark's packet-cfp.c).
ETHERTYPE_FABRICPATH, FABRICPATH_SKIP = 0x8903, 2 + ETH_LEN
# NFLOG (LINKTYPE_NFLOG, https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): family u8,
# version u8, resource id u16, then TLVs whose length (header included) and type are in the
# capturing host's byte order, each padded to 4 bytes; type 9 (NFULA_PAYLOAD) is the packet.
NFLOG_LEN, NFULA_PAYLOAD, NFLOG_MAX_TLVS = 4, 9, 32
AF_INET6_LINUX = 10

# Row status after each stage: FRAG is an IP fragment, for ``fragments.Reassembler``.
IP, OTHER, SCAPY, FRAG = 0, 1, 2, 3
IP4_MORE_FRAGMENTS = 0x2000
# An IP header that cannot be (ip.malformed): listed as not TCP, with the reason, as tshark
# marks it malformed and reads no further.
MALFORMED_IP = {
    1: "the version field is not 4",
    2: "the header length is below the 20-byte minimum",
    3: "the version field is not 6",
}

_AR16 = np.arange(16)


class _Bytes:
    """Big- and little-endian reads at many positions of one buffer.

    Positions past the end are clipped (the value read is then meaningless; callers mask
    such rows out by comparing positions with each frame's captured length).  A 2- or
    4-byte read is one gather from a view of the buffer whose items are that wide but
    start a byte apart (``_wide``: strides of one byte), half the cost of gathering each
    byte and joining them.
    """

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.a = np.frombuffer(buf, dtype=np.uint8)
        self._views: dict[str, npt.NDArray[Any]] = {}

    def _at(self, p: I64, width: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        q = np.clip(p, 0, max(len(self.a) - len(width), 0))
        out: npt.NDArray[np.uint8] = self.a[q[:, None] + width]
        return out

    def _wide(self, p: I64, dtype: str) -> I64:
        """The ``dtype`` (2 or 4 bytes wide) value at each of ``p``."""
        width = np.dtype(dtype).itemsize
        n = len(self.a) - width + 1
        if n <= 0:  # a buffer shorter than one value: what there is, padded with zeros
            padded = np.zeros(width, np.uint8)
            padded[: len(self.a)] = self.a
            return np.full(len(p), int(padded.view(dtype)[0]), np.int64)
        view = self._views.get(dtype)
        if view is None:
            view = self._views[dtype] = np.ndarray(
                shape=(n,), dtype=dtype, buffer=self.buf, strides=(1,)
            )
        return view[np.clip(p, 0, n - 1)].astype(np.int64)

    def u8(self, p: I64) -> I64:
        return self.a[np.clip(p, 0, max(len(self.a) - 1, 0))].astype(np.int64)

    def u16(self, p: I64) -> I64:
        return self._wide(p, ">u2")

    def u32(self, p: I64) -> I64:
        return self._wide(p, ">u4")

    def u16le(self, p: I64) -> I64:
        return self._wide(p, "<u2")

    def u32le(self, p: I64) -> I64:
        return self._wide(p, "<u4")

    def b16(self, p: I64) -> npt.NDArray[np.void]:
        return np.ascontiguousarray(self._at(p, _AR16)).view("V16")[:, 0]


@dataclass(slots=True)
class Dissected:
    cols: Columns  # TCP rows only, in frame order
    rows: I64  # chunk index of each TCP row
    opt_bytes: bytes
    scapy: I64  # chunk indexes left to Scapy
    other: I64  # chunk indexes that are not TCP
    other_what: list[str]  # a short description of each, for the first few
    frags: I64  # chunk indexes that are IP fragments
    frag_l3: I64  # where their IP header starts in the chunk's buffer
    frag_ipv: I64
    apps: Found  # what TCP rows' payloads start
    # each TCP row's captured payload: buf[data_at:data_end] (readers.payloads)
    data_at: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    data_end: I64 = field(default_factory=lambda: np.zeros(0, np.int64))


def _link(r: _Bytes, start: I64, lim: I64, link: I64) -> tuple[I64, I64, I64, I64]:
    """(l3 position, IP version, status, ethertype or address family) for each frame."""
    n = len(start)
    l3 = start.copy()
    ipv = np.zeros(n, np.int64)
    status = np.full(n, SCAPY, np.int64)
    tag = np.full(n, -1, np.int64)
    for lt in np.unique(link):
        m = link == lt
        s = start[m]
        if lt == ETHERNET:
            et = r.u16(s + ETH_TYPE)
            pos = s + ETH_LEN
            fp = et == ETHERTYPE_FABRICPATH
            pos = np.where(fp, pos + FABRICPATH_SKIP, pos)
            et = np.where(fp, r.u16(pos - 2), et)
            for _ in range(3):
                tagged = np.isin(et, VLAN_TPIDS)
                if not tagged.any():
                    break
                pos = np.where(tagged, pos + VLAN_LEN, pos)
                et = np.where(tagged, r.u16(pos - 2), et)
            ok = pos <= lim[m]
            v = np.where(et == ETHERTYPE_IPV4, 4, np.where(et == ETHERTYPE_IPV6, 6, 0))
            st = np.where(v > 0, IP, np.where(np.isin(et, NOT_TCP_ETHERTYPES), OTHER, SCAPY))
            st = np.where(ok, st, SCAPY)
            l3[m], ipv[m], status[m] = pos, v, st
            tag[m] = et
        elif lt in (NULL, LOOP):
            fam = r.u32(s) if lt == LOOP else r.u32le(s)
            if lt == NULL:
                fam = np.where(fam > 0xFFFF, r.u32(s), fam)  # written in the other order
            v = np.where(fam == AF_INET, 4, np.where(np.isin(fam, AF_INET6), 6, 0))
            l3[m], ipv[m] = s + 4, v
            status[m] = np.where((v > 0) & (s + 4 <= lim[m]), IP, OTHER)
            tag[m] = fam
        elif lt in (SLL, SLL2):
            proto = r.u16(s + (SLL_PROTO if lt == SLL else SLL2_PROTO))
            size = SLL_LEN if lt == SLL else SLL2_LEN
            v = np.where(proto == ETHERTYPE_IPV4, 4, np.where(proto == ETHERTYPE_IPV6, 6, 0))
            st = np.where(v > 0, IP, np.where(np.isin(proto, NOT_TCP_ETHERTYPES), OTHER, SCAPY))
            l3[m], ipv[m] = s + size, v
            status[m] = np.where(s + size <= lim[m], st, SCAPY)
            tag[m] = proto
        elif lt in (*RAW_DLTS, IPV4, IPV6):
            v = r.u8(s) >> 4
            if lt == IPV4:
                v = np.where(v == 4, v, 0)
            elif lt == IPV6:
                v = np.where(v == 6, v, 0)
            v = np.where(np.isin(v, (4, 6)), v, 0)
            l3[m], ipv[m] = s, v
            status[m] = np.where(v > 0, IP, SCAPY)
        elif lt in (PKTAP, PKTAP_DLT):
            # Apple's PKTAP header (print-pktap.c): its length, the record type (1: a
            # packet) and the inner DLT, little-endian u32s at 0, 4 and 8.
            hlen = r.u32le(s + PKTAP_LEN)
            inner = r.u32le(s + PKTAP_DLT_AT)
            good = (hlen >= 12) & (s + hlen <= lim[m]) & (r.u32le(s + PKTAP_TYPE) == 1)
            good &= np.isin(inner, (ETHERNET, NULL, *RAW_DLTS))
            sub = np.flatnonzero(good)
            if len(sub):
                idx = np.flatnonzero(m)[sub]
                l3s, ipvs, sts, tags = _link(r, s[sub] + hlen[sub], lim[idx], inner[sub])
                l3[idx], ipv[idx], status[idx], tag[idx] = l3s, ipvs, sts, tags
        elif lt in (PPP, PPP_HDLC, C_HDLC):
            l3[m], ipv[m], status[m], tag[m] = _ppp_or_chdlc(r, s, lim[m], int(lt))
        elif lt == NFLOG:
            l3[m], ipv[m], status[m], tag[m] = _nflog(r, s, lim[m])
        # any other link type: Scapy
    return l3, ipv, status, tag


def _by_ethertype(et: I64, pos: I64, lim: I64, not_tcp: tuple[int, ...]) -> tuple[I64, I64]:
    """(IP version, status) of frames whose next header is named by an ethertype."""
    v = np.where(et == ETHERTYPE_IPV4, 4, np.where(et == ETHERTYPE_IPV6, 6, 0))
    st = np.where(v > 0, IP, np.where(np.isin(et, not_tcp), OTHER, SCAPY))
    return v, np.where(pos <= lim, st, OTHER)


def _ppp_or_chdlc(r: _Bytes, s: I64, lim: I64, lt: int) -> tuple[I64, I64, I64, I64]:
    """Cisco HDLC, and PPP with or without HDLC framing; a PPP-typed capture whose frames
    start with a Cisco HDLC address is read as Cisco HDLC, as tcpdump and Wireshark do."""
    chdlc = np.isin(r.u8(s), CHDLC_ADDRESSES) & (r.u8(s + 1) == 0)
    if lt == C_HDLC:
        chdlc = np.ones(len(s), bool)
    et = r.u16(s + 2)
    v, st = _by_ethertype(et, s + CHDLC_LEN, lim, (*NOT_TCP_ETHERTYPES, *CHDLC_NOT_TCP))
    # PPP: skip 0xff 0x03, then a one- or two-byte protocol
    pos = np.where(r.u16(s) == PPP_ADDRESS_CONTROL, s + 2, s)
    short = (r.u8(pos) & 1) == 1
    proto = np.where(short, r.u8(pos), r.u16(pos))
    ppos = pos + np.where(short, 1, 2)
    pv = np.where(proto == PPP_IPV4, 4, np.where(proto == PPP_IPV6, 6, 0))
    pst = np.where(pv > 0, IP, np.where(proto >= PPP_CONTROL_FROM, OTHER, SCAPY))
    pst = np.where(ppos <= lim, pst, OTHER)
    l3 = np.where(chdlc, s + CHDLC_LEN, ppos)
    ipv = np.where(chdlc, v, pv)
    status = np.where(chdlc, st, pst)
    if lt == C_HDLC:  # Scapy has no Cisco HDLC either: what is not IP is listed
        status = np.where(status == SCAPY, OTHER, status)
    return l3, ipv, status, np.where(chdlc, et, proto)


def _nflog(r: _Bytes, s: I64, lim: I64) -> tuple[I64, I64, I64, I64]:
    """NFLOG: walk each frame's TLVs to its payload (all frames a step at a time)."""
    fam = r.u8(s)
    first = s + NFLOG_LEN
    # the TLVs' byte order is the writer's: little-endian unless that gives a length
    # that cannot be
    le_len = r.u16le(first)
    little = (le_len >= 4) & (first + le_len <= lim)
    pos = first.copy()
    start = np.full(len(s), -1, np.int64)
    live = np.flatnonzero(pos + 4 <= lim)
    for _ in range(NFLOG_MAX_TLVS):
        if not len(live):
            break
        p, le = pos[live], little[live]
        size = np.where(le, r.u16le(p), r.u16(p))
        kind = np.where(le, r.u16le(p + 2), r.u16(p + 2))
        sane = (size >= 4) & (p + size <= lim[live])
        hit = sane & (kind == NFULA_PAYLOAD)
        start[live[hit]] = p[hit] + 4
        pos[live] = p + ((size + 3) & ~3)
        live = live[sane & ~hit & (pos[live] + 4 <= lim[live])]
    found = start >= 0
    v = np.where(fam == AF_INET, 4, np.where(fam == AF_INET6_LINUX, 6, 0))
    v = np.where(found & ((r.u8(start) >> 4) == v), v, 0)
    status = np.where(v > 0, IP, OTHER)
    return np.where(found, start, s), v, status, np.where(found, fam, -1)


@dataclass(slots=True)
class _Frames:
    """Per frame of a chunk, what the headers read so far say."""

    r: _Bytes
    lim: I64  # end of the captured bytes
    l3: I64  # IP header position
    ipv: I64
    status: I64  # IP, OTHER or SCAPY
    tag: I64  # ethertype or address family
    t: I64  # TCP header position
    plen: I64  # IP total length (v4) / payload length (v6)
    ihl: I64
    proto: I64
    bad_ip: I64  # MALFORMED_IP's key; 0


def dissect(
    chunk: Chunk, interfaces: list[Interface], book: HostBook, keep_other: int
) -> Dissected:
    r = _Bytes(chunk.buf)
    n = len(chunk)
    lim = chunk.data + chunk.caplen
    link = np.array([i.linktype for i in interfaces], dtype=np.int64)[chunk.iface]
    l3, ipv, status, tag = _link(r, chunk.data, lim, link)
    zeros = np.zeros(n, np.int64)
    fr = _Frames(
        r, lim, l3, ipv, status, tag, zeros.copy(), zeros.copy(), zeros, zeros - 1, zeros.copy()
    )
    _ipv4(fr)
    _ipv6(fr)
    _what_ip_carries(fr)
    good, cols, opt_bytes, apps, (data_at, data_end) = _tcp(fr, chunk, book)
    scapy = np.flatnonzero(fr.status == SCAPY)
    other = np.flatnonzero(fr.status == OTHER)
    other_what = [_describe(r, int(i), fr) for i in other[:keep_other].tolist()]
    frags = np.flatnonzero(fr.status == FRAG)
    return Dissected(
        cols,
        good,
        opt_bytes,
        scapy,
        other,
        other_what,
        frags,
        l3[frags],
        ipv[frags],
        apps,
        data_at,
        data_end,
    )


def _ipv4(fr: _Frames) -> None:
    """IPv4 (RFC 791 §3.1): header length, total length, protocol; later fragments are
    not TCP."""
    r = fr.r
    v4 = np.flatnonzero((fr.status == IP) & (fr.ipv == 4))
    if not len(v4):
        return
    p = fr.l3[v4]
    vihl = r.u8(p)
    h = (vihl & 0x0F) * 4
    frag = r.u16(p + IP4_FRAG)
    seen = p < fr.lim[v4]
    bad = np.where(seen & ((vihl >> 4) != 4), 1, np.where(seen & (h < 20), 2, 0))
    ok = (bad == 0) & (p + h <= fr.lim[v4])
    fr.ihl[v4], fr.plen[v4], fr.t[v4] = h, r.u16(p + IP4_TOTAL), p + h
    fr.proto[v4] = r.u8(p + IP4_PROTO)
    st = np.where(ok, np.where(frag & (IP4_OFFSET_MASK | IP4_MORE_FRAGMENTS), FRAG, IP), SCAPY)
    fr.status[v4] = np.where(bad > 0, OTHER, st)
    fr.bad_ip[v4] = bad


def _ipv6(fr: _Frames) -> None:
    """IPv6 (RFC 8200) and its extension headers; a fragment after the first is not TCP."""
    r = fr.r
    v6 = np.flatnonzero((fr.status == IP) & (fr.ipv == 6))
    if not len(v6):
        return
    p, lim = fr.l3[v6], fr.lim[v6]
    bad = np.where((p < lim) & ((r.u8(p) >> 4) != 6), 3, 0)
    ok = (bad == 0) & (p + IP6_LEN <= lim)
    nh = r.u8(p + IP6_NEXT)
    pl = r.u16(p + IP6_PLEN)
    pos = p + IP6_LEN
    frag_later = np.zeros(len(v6), bool)
    fragmented = np.zeros(len(v6), bool)  # not an atomic fragment (RFC 6946): offset or M
    for _ in range(8):
        ext = np.isin(nh, IP6_EXT) & ok
        frg = (nh == IP6_FRAGMENT) & ok
        if not (ext.any() or frg.any()):
            break
        ok &= pos + 8 <= lim
        size = np.where(ext, (r.u8(pos + 1) + 1) * 8, np.where(frg, 8, 0))
        frag_later |= frg & ((r.u16(pos + 2) >> 3) != 0)
        fragmented |= frg & (r.u16(pos + 2) != 0)
        nh = np.where(ext | frg, r.u8(pos), nh)
        pos = pos + size
    ok &= pos <= lim
    ok &= pl > 0  # 0: a jumbogram (RFC 2675), read by Scapy with its length fixed up
    fr.plen[v6], fr.t[v6], fr.proto[v6] = pl, pos, np.where(frag_later, -2, nh)
    fr.status[v6] = np.where(bad > 0, OTHER, np.where(ok, np.where(fragmented, FRAG, IP), SCAPY))
    fr.bad_ip[v6] = bad


def _what_ip_carries(fr: _Frames) -> None:
    """UDP to a tunnel port and unknown protocols go to Scapy; leaf protocols are listed."""
    status, proto = fr.status, fr.proto
    ipr = status == IP
    tcp_cand = ipr & (proto == PROTO_TCP)
    udp = ipr & (proto == PROTO_UDP)
    if udp.any():
        ports = np.flatnonzero(udp)
        sp, dp = fr.r.u16(fr.t[ports]), fr.r.u16(fr.t[ports] + 2)
        tunnel = np.isin(sp, UDP_TUNNEL_PORTS) | np.isin(dp, UDP_TUNNEL_PORTS)
        status[ports[tunnel]] = SCAPY
    leaf = ipr & ~tcp_cand & np.isin(proto, LEAF_PROTOCOLS)
    status[ipr & ~tcp_cand & ~leaf & (status == IP)] = SCAPY
    status[leaf & (status == IP)] = OTHER


def _tcp(
    fr: _Frames, chunk: Chunk, book: HostBook
) -> tuple[I64, Columns, bytes, Found, tuple[I64, I64]]:
    """The TCP header (RFC 9293 §3.1) of every frame still standing: its columns, and
    where its captured payload lies in the chunk's buffer."""
    r, lim, l3 = fr.r, fr.lim, fr.l3
    cand = np.flatnonzero((fr.status == IP) & (fr.proto == PROTO_TCP))
    tt = fr.t[cand]
    fixed = tt + TCP_LEN <= lim[cand]  # else cut short by the snaplen: Scapy's
    off_flags = r.u16(tt + TCP_OFF)
    hdr = (off_flags >> 12) * 4
    wire_extra = np.maximum(chunk.wirelen[cand] - chunk.caplen[cand], 0)
    is4 = fr.ipv[cand] == 4
    on_wire = lim[cand] - l3[cand] + wire_extra
    plen = fr.plen[cand]
    total = np.where(plen > 0, np.minimum(plen, on_wire), on_wire)
    room = np.where(is4, total - fr.ihl[cand], plen - (tt - l3[cand] - IP6_LEN))
    # a header that does not add up (table.MALFORMED_TCP): kept, flagged, its payload
    # length unknown (-1)
    bad = np.where(hdr < TCP_LEN, 1, np.where(room < hdr, 2, 0))
    bad = np.where(fixed, bad, 0)
    ok = fixed & ((bad > 0) | (tt + hdr <= lim[cand]))
    hdr = np.where(bad > 0, TCP_LEN, hdr)
    length = np.where(bad > 0, -1, room - hdr)
    fr.status[cand[~ok]] = SCAPY
    good = cand[ok]
    tt, hdr, length, is4, bad = tt[ok], hdr[ok], length[ok], is4[ok], bad[ok]
    flags = off_flags[ok] & TCP_FLAGS_MASK
    cols = empty_columns(len(good))
    cols["frame"][:] = chunk.first_frame + good
    cols["time"][:] = chunk.time[good]
    cols["ipv"][:] = np.where(is4, 4, 6)
    cols["sport"][:] = r.u16(tt + TCP_SPORT)
    cols["dport"][:] = r.u16(tt + TCP_DPORT)
    cols["flags"][:] = flags
    cols["seq"][:] = r.u32(tt + TCP_SEQ)
    cols["ack"][:] = np.where(flags & ACK_BIT, r.u32(tt + TCP_ACK), -1)
    cols["length"][:] = length
    cols["win"][:] = r.u16(tt + TCP_WIN)
    cols["cksum"][:] = r.u16(tt + TCP_SUM)
    cols["urg"][:] = np.where(flags & URG_BIT, r.u16(tt + TCP_URG), -1)
    cols["truncated"][:] = chunk.wirelen[good] > chunk.caplen[good]
    cols["malformed"][:] = bad
    ip = l3[good]
    cols["ipid"][:] = np.where(is4, r.u16(ip + IP4_ID), -1)
    cols["tos"][:] = np.where(is4, r.u8(ip + IP4_TOS), (r.u16(ip) >> 4) & 0xFF)
    cols["ttl"][:] = np.where(is4, r.u8(ip + IP4_TTL), r.u8(ip + IP6_HLIM))
    cols["offset"][:] = chunk.base + chunk.data[good]
    cols["caplen"][:] = chunk.caplen[good]
    cols["iface"][:] = chunk.iface[good]
    _addresses(r, cols, l3[good], is4, book)
    _checksums(r, cols, ip, tt, hdr + length, lim[good], fr.ihl[good])
    data = tt + hdr  # the payload: what of it was captured
    end = np.minimum(data + np.maximum(length, 0), lim[good])
    apps = found(chunk.buf, data, end, cols["sport"], cols["dport"])
    return good, cols, _options(r, cols, tt + TCP_LEN, tt + hdr), apps, (data, end)


def _checksums(
    r: _Bytes, cols: Columns, ip: I64, tt: I64, tcp_len: I64, lim: I64, ihl: I64
) -> None:
    """The TCP checksum over the pseudo-header and segment (RFC 9293 §3.1, RFC 8200 §8.1)
    and the IPv4 header checksum (RFC 791 §3.1), where every byte was captured; the rest
    stay unverified."""
    is4 = cols["ipv"] == 4
    whole = (cols["malformed"] == 0) & (tcp_len >= TCP_LEN) & (tt + tcp_len <= lim)
    rows = np.flatnonzero(whole)
    head = np.flatnonzero(is4 & (ip + np.maximum(ihl, 20) <= lim))
    if not len(rows) and not len(head):
        return
    sums = Sums(r.a)
    if len(rows):
        p, v4 = ip[rows], is4[rows]
        # the pseudo-header's addresses: 8 bytes from offset 12 (IPv4), 32 from 8 (IPv6)
        at = np.where(v4, p + IP4_SRC, p + IP6_SRC)
        total = sums.range(at, np.where(v4, 8, 32)) + PROTO_TCP + tcp_len[rows]
        total += sums.range(tt[rows], tcp_len[rows])
        status, expected = verdict(total, cols["cksum"][rows].astype(np.int64))
        cols["cksum_status"][rows] = status
        cols["cksum_expected"][rows] = np.where(status == BAD, expected, -1)
    if len(head):
        total = sums.range(ip[head], ihl[head])
        field = r.u16(ip[head] + IP4_SUM)
        status, _ = verdict(total, field)
        cols["ipsum_status"][head] = status


def _addresses(r: _Bytes, cols: Columns, l3: I64, is4: B, book: HostBook) -> None:
    import socket

    src = np.zeros(len(l3), np.int32)
    dst = np.zeros(len(l3), np.int32)
    i4 = np.flatnonzero(is4)
    if len(i4):
        ids = book.v4_ids(np.concatenate([r.u32(l3[i4] + IP4_SRC), r.u32(l3[i4] + IP4_DST)]))
        src[i4], dst[i4] = ids[: len(i4)], ids[len(i4) :]
    i6 = np.flatnonzero(~is4)
    if len(i6):
        both6 = np.concatenate([r.b16(l3[i6] + IP6_SRC), r.b16(l3[i6] + IP6_DST)])
        uniq6, inv6 = np.unique(both6, return_inverse=True)
        ids6 = np.array(
            [book.id(t, t) for t in (socket.inet_ntop(socket.AF_INET6, bytes(v)) for v in uniq6)],
            dtype=np.int32,
        )[inv6.ravel()]
        src[i6], dst[i6] = ids6[: len(i6)], ids6[len(i6) :]
    cols["src"][:] = src
    cols["dst"][:] = dst


_KNOWN_SPECS = tuple(BY_KIND[k] for k in KNOWN)


def _accepts(spec: Spec, value_len: I64) -> B:
    """``Spec.accepts`` for many value lengths at once."""
    if spec.value_len is not None:
        out: B = value_len == spec.value_len
    else:
        out = value_len % spec.value_unit == 0
    return out


def _options(r: _Bytes, cols: Columns, begin: I64, end: I64) -> bytes:
    """Walk the option lists of all rows together (RFC 9293 §3.2: kind, length, value)."""
    sizes = end - begin
    cols["opt_len"][:] = sizes
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    cols["opt_start"][:] = offsets
    total = int(sizes.sum())
    if total == 0:
        return b""
    gather = np.arange(total) - np.repeat(offsets - begin, sizes)
    blob = r.a[gather].tobytes()
    q = begin.copy()
    live = np.flatnonzero(q < end)
    for _ in range(40):
        if not len(live):
            break
        qi = q[live]
        kind = r.u8(qi)
        done = kind == Kind.EOL
        nop = kind == Kind.NOP
        size = np.where(qi + 1 < end[live], r.u8(qi + 1), 0)
        rest = ~(done | nop)
        bad = rest & ((size < 2) | (qi + size > end[live]))
        size = np.where(size < 2, 2, size)
        val = qi + 2
        wrong = np.zeros(len(live), bool)
        for spec in _KNOWN_SPECS:
            this = rest & ~bad & (kind == spec.kind)
            fits = _accepts(spec, size - 2)
            wrong |= this & ~fits
            hit = this & fits
            rows = live[hit]
            if not len(rows):
                continue
            if spec.kind == Kind.MSS:
                cols["mss"][rows] = r.u16(val[hit])
            elif spec.kind == Kind.WSCALE:
                cols["wscale"][rows] = r.u8(val[hit])
            elif spec.kind == Kind.TIMESTAMP:
                cols["ts_val"][rows] = r.u32(val[hit])
                cols["ts_ecr"][rows] = r.u32(val[hit] + 4)
            elif spec.kind == Kind.SACK_PERM:
                cols["sackok"][rows] = True
            elif spec.kind == Kind.SACK:
                cols["sack"][rows] = True
        cols["bad_opt"][live[bad | wrong]] = True
        q[live] = np.where(nop, qi + 1, qi + size)
        stop = done | bad
        live = live[~stop & (q[live] < end[live])]
    return blob


def _describe(r: _Bytes, i: int, fr: _Frames) -> str:
    """A short description of frame ``i``, a non-TCP one, from the bytes it has."""
    import socket

    l3, ipv, proto, tag = fr.l3, fr.ipv, fr.proto, fr.tag
    p = int(l3[i])
    a = r.a
    if fr.bad_ip[i]:
        what = "IPv4" if fr.bad_ip[i] < 3 else "IPv6"
        return f"malformed {what} header (ip.malformed): {MALFORMED_IP[int(fr.bad_ip[i])]}"
    need = {4: IP4_DST + 4, 6: IP6_DST + 16}.get(int(ipv[i]), 0)
    if need and p + need > int(fr.lim[i]):
        return f"IPv{int(ipv[i])}, header cut short ({int(fr.lim[i]) - p} bytes captured)"
    if ipv[i] == 4:
        src = socket.inet_ntoa(a[p + IP4_SRC : p + IP4_SRC + 4].tobytes())
        dst = socket.inet_ntoa(a[p + IP4_DST : p + IP4_DST + 4].tobytes())
        frag = int(a[p + IP4_FRAG]) << 8 | int(a[p + IP4_FRAG + 1])
        what = "IPv4 fragment" if frag & IP4_OFFSET_MASK else "IPv4"
        return f"{what} {src} > {dst} {_proto_name(int(proto[i]))}"
    if ipv[i] == 6:
        src = socket.inet_ntop(socket.AF_INET6, a[p + IP6_SRC : p + IP6_SRC + 16].tobytes())
        dst = socket.inet_ntop(socket.AF_INET6, a[p + IP6_DST : p + IP6_DST + 16].tobytes())
        what = "IPv6 fragment" if proto[i] == -2 else "IPv6"
        return f"{what} {src} > {dst} {_proto_name(int(proto[i]))}"
    return f"ethertype or family 0x{int(tag[i]):04x}, not IP" if tag[i] >= 0 else "not IP"


def _proto_name(p: int) -> str:
    if p == -2:
        return "(not the first fragment)"
    return PROTOCOL_NAMES.get(p, f"protocol {p}")


__all__ = ["FAST_LINKTYPES", "Dissected", "dissect"]

"""Pseudonyms for every address in a trace, and no payload bytes: what a session stores and
shows when its owner asked to anonymise it.

IP addresses get prefix-preserving pseudonyms (the scheme of Crypto-PAn, Xu et al. 2002,
with keyed BLAKE2b as its pseudo-random function): bit ``i`` of an address is flipped by a
function of the key and the bits before it, so two addresses that share their first ``k``
bits still share exactly ``k`` in their pseudonyms, and subnets stay subnets. The key is
random for each trace and never kept, so pseudonyms cannot be reversed or linked across
sessions. MAC addresses get pseudonyms that keep only the group bit; host names get
``host-N.invalid`` (RFC 6761 §6.4). Every text kept beside the packets (pasted lines,
commentary, warnings, capture comments, non-TCP packets) is rewritten with the same map,
and addresses met only in text get pseudonyms too. Payload bytes are dropped: whole frames
kept for the detail view, and the decode, hex and ASCII dump lines printed under a pasted
packet.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from app.decode.model.packet import Comment, Notice, Packet
from app.decode.model.trace import Trace

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w])"
_IPV6 = r"(?<![\w:.])(?=[0-9a-fA-F:]*:[0-9a-fA-F:]*:)[0-9a-fA-F:]{2,39}(?:%\w+)?(?![\w:])"
_MAC = r"(?<![\w:])(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}(?![\w:])"
_TOKENS = re.compile(f"({_MAC})|({_IPV4})|({_IPV6})")


class Pseudonyms:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)
        self._bits: dict[tuple[int, int], int] = {}  # (prefix length, prefix) -> flip bit
        self.map: dict[str, str] = {}
        self._names = 0

    def _flip(self, bits: int, length: int, prefix: int) -> int:
        got = self._bits.get((length, prefix))
        if got is None:
            digest = hashlib.blake2b(
                prefix.to_bytes(16, "big") + bytes([length, bits]), key=self.key, digest_size=1
            ).digest()
            got = self._bits[(length, prefix)] = digest[0] & 1
        return got

    def _address(self, value: int, bits: int) -> int:
        out = 0
        for i in range(bits):
            prefix = value >> (bits - i)  # the first i bits
            bit = (value >> (bits - 1 - i)) & 1
            out = (out << 1) | (bit ^ self._flip(bits, i, prefix))
        return out

    def ip(self, text: str) -> str:
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return text
        if addr.version == 4:
            return str(ipaddress.IPv4Address(self._address(int(addr), 32)))
        return str(ipaddress.IPv6Address(self._address(int(addr), 128)))

    def mac(self, text: str) -> str:
        raw = bytes.fromhex(text.replace(":", ""))
        digest = hashlib.blake2b(raw, key=self.key, digest_size=6).digest()
        first = (digest[0] & 0xFC) | (raw[0] & 0x01) | 0x02  # group bit kept; local
        return ":".join(f"{b:02x}" for b in bytes([first]) + digest[1:])

    def host(self, text: str) -> str:
        got = self.map.get(text)
        if got is None:
            pseudonym = self.ip(text)
            if pseudonym == text:  # a name, not an address
                self._names += 1
                pseudonym = f"host-{self._names}.invalid"
            got = self.map[text] = pseudonym
        return got

    def text(self, line: str) -> str:
        """``line`` with every address and known host name replaced."""
        names = [h for h in self.map if self.map[h].endswith(".invalid")]
        for name in sorted(names, key=len, reverse=True):
            line = line.replace(name, self.map[name])

        def swap(m: re.Match[str]) -> str:
            if m.group(1):
                return self.mac(m.group(1))
            return self.host(m.group(0)) if _valid(m.group(0)) else m.group(0)

        return _TOKENS.sub(swap, line)


def _valid(token: str) -> bool:
    try:
        ipaddress.ip_address(token.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _packet(p: Packet, names: Pseudonyms, rewrite: Callable[[str], str]) -> None:
    """One packet the reader made, in place: hosts renamed, addresses in its text rewritten,
    its payload dropped."""
    p.src_host, p.dst_host = names.host(p.src_host), names.host(p.dst_host)
    p.raw = rewrite(p.raw) if p.raw else p.raw
    p.annotation = rewrite(p.annotation) if p.annotation else p.annotation
    # decode, hex and ASCII dump lines under a pasted packet are its payload: dropped
    # (tcpdump's "[|tcp]"-style truncation marks stay)
    p.details = [d for d in p.details if d.startswith("[")]
    p.comments = [Comment(c.line, rewrite(c.text), c.position) for c in p.comments]
    p.frame_bytes = None  # payload and headers as captured: not kept


@dataclass(slots=True)
class _Remade:
    """A pasted row's packet, made again from its line (``PacketTable.remake``), then
    anonymised as the kept ones were."""

    remake: Callable[[int], Packet]
    names: Pseudonyms

    def __call__(self, row: int) -> Packet:
        p = self.remake(row)
        _packet(p, self.names, self.names.text)
        return p


def anonymise(trace: Trace, key: bytes | None = None) -> Callable[[str], str]:
    """Rewrite ``trace`` in place; the rewrite of any other text (the session's title)."""
    names = Pseudonyms(key)
    table = trace.table
    table.hosts[:] = [names.host(h) for h in table.hosts]
    rewrite = names.text
    for p in table.objects.values():
        _packet(p, names, rewrite)
    if table.remake is not None:
        table.remake = _Remade(table.remake, names)
    table.comments = {row: [rewrite(t) for t in texts] for row, texts in table.comments.items()}
    table.apps = {}  # read from the payload, which anonymising drops
    for part in (trace.header, trace.preamble, trace.trailing):
        part[:] = [Comment(c.line, rewrite(c.text), c.position) for c in part]
    trace.warnings[:] = [
        Notice(w.line, rewrite(w.message), w.offset, rewrite(w.text) if w.text else w.text)
        for w in trace.warnings
    ]
    trace.other_packets[:] = [
        {k: rewrite(v) if isinstance(v, str) else v for k, v in o.items()}
        for o in trace.other_packets
    ]
    trace.comments[:] = [rewrite(c) for c in trace.comments]
    return rewrite

"""IP fragment reassembly, in bounded memory.

A datagram cut into fragments (IPv4, RFC 791 §3.2 "Fragmentation and reassembly"; IPv6,
RFC 8200 §4.5) is put back together the way a receiving kernel does: fragments are keyed by
(source, destination, identification, protocol), placed at their offsets, and the datagram is
whole when the last fragment (More Fragments clear) has arrived and no byte before it is
missing.  The reassembled datagram is then dissected as if it had arrived in the frame that
completed it, which is where Wireshark shows it too.

Bounds, as the kernels set them: a datagram waits at most 30 s (IPv4, Linux's
``ipfrag_time``) or 60 s (IPv6, RFC 8200 §4.5 and ``ip6frag_time``) of capture time, and at
most ``MAX_HELD`` bytes of fragments (Linux's ``ipfrag_high_thresh``, 4 MiB) are held at
once; past that the oldest datagrams are given up.  A datagram given up, or still waiting at
the end of the capture, is incomplete: its first fragment, if captured, is shown as a
truncated segment flagged ``ip.reassembly_incomplete``.

Overlapping fragments are a known attack on reassembly (RFC 5722 makes them fatal for
IPv6): the first bytes to arrive are kept, as Wireshark keeps them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAX_HELD = 4 << 20
MAX_DATAGRAMS = 4096
# Incomplete datagrams whose first fragment is kept to be shown; past this many they are
# only counted, so a capture of a million lone fragments costs no more than this.
MAX_INCOMPLETE_SHOWN = 10_000
TIMEOUT = {4: 30.0, 6: 60.0}
MAX_DATAGRAM = 65535 + 40  # an IPv6 payload of 65,535 bytes after its fixed header
IP6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options: before the fragment header
IP6_FRAGMENT = 44


@dataclass(slots=True)
class Fragment:
    """One fragment as read from its frame."""

    version: int
    key: tuple[object, ...]
    offset: int  # bytes
    more: bool
    data: bytes
    head: bytes  # the header to rebuild the datagram with (offset 0 only)
    next_at: int  # IPv6: where the next-header byte to patch sits in ``head``; -1


@dataclass(slots=True)
class Pending:
    version: int
    first_time: float
    parts: dict[int, bytes] = field(default_factory=dict)
    frames: list[int] = field(default_factory=list)
    head: bytes | None = None
    next_at: int = -1
    first_frame: int | None = None  # the frame carrying offset 0
    total: int | None = None
    held: int = 0
    first: object | None = None  # the first fragment's frame, for when it stays incomplete


def parse(raw: bytes, l3: int, version: int) -> Fragment | str:
    """The fragment in frame bytes ``raw`` whose IP header starts at ``l3``; a reason
    string when the header does not hold together."""
    ip = raw[l3:]
    if version == 4:
        if len(ip) < 20:
            return "IPv4 fragment cut short"
        ihl = (ip[0] & 0x0F) * 4
        total, ident, frag = struct.unpack_from("!HHH", ip, 2)
        if ihl < 20 or total < ihl or len(ip) < ihl:
            return "IPv4 fragment with a malformed header"
        key = (4, ip[12:16], ip[16:20], ident, ip[9])
        head = bytearray(ip[:ihl])
        return Fragment(
            4, key, (frag & 0x1FFF) * 8, bool(frag & 0x2000), bytes(ip[ihl:total]), bytes(head), -1
        )
    if len(ip) < 40:
        return "IPv6 fragment cut short"
    plen = struct.unpack_from("!H", ip, 4)[0]
    nh, pos, next_at = ip[6], 40, 6
    for _ in range(8):
        if nh != IP6_FRAGMENT and nh not in IP6_EXT:
            return "IPv6 packet without a fragment header"
        if pos + 8 > len(ip):
            return "IPv6 fragment cut short"
        if nh == IP6_FRAGMENT:
            frag_nh = ip[pos]
            off_m = struct.unpack_from("!H", ip, pos + 2)[0]
            ident = struct.unpack_from("!I", ip, pos + 4)[0]
            key = (6, ip[8:24], ip[24:40], ident, frag_nh)
            head = bytearray(ip[:pos])
            head[next_at] = frag_nh
            data = bytes(ip[pos + 8 : 40 + plen])
            return Fragment(6, key, off_m & 0xFFF8, bool(off_m & 1), data, bytes(head), next_at)
        next_at = pos
        nh, pos = ip[pos], pos + (ip[pos + 1] + 1) * 8
    return "IPv6 extension headers do not end"


class Reassembler:
    """Fragments in, whole datagrams out (see the module's docstring for the bounds)."""

    def __init__(self, max_held: int = MAX_HELD, max_datagrams: int = MAX_DATAGRAMS) -> None:
        self.pending: dict[tuple[object, ...], Pending] = {}
        self.max_held, self.max_datagrams = max_held, max_datagrams
        self.held = 0
        self.given_up: list[Pending] = []
        self.incomplete = 0  # datagrams given up or left waiting, shown or not

    def add(self, frag: Fragment, frame: int, time: float) -> tuple[bytes, list[int]] | None:
        """Place one fragment; the datagram (header and payload) and its frames when it is
        now whole."""
        self._expire(time)
        p = self.pending.get(frag.key)
        if p is None:
            if len(self.pending) >= self.max_datagrams:
                self._give_up(next(iter(self.pending)))
            p = self.pending[frag.key] = Pending(frag.version, time)
        p.frames.append(frame)
        end = frag.offset + len(frag.data)
        if end > MAX_DATAGRAM or (p.total is not None and end > p.total):
            return None  # beyond the datagram's end: ignored, as a kernel drops it
        if frag.offset not in p.parts:  # the first copy of a fragment is kept
            p.parts[frag.offset] = frag.data
            p.held += len(frag.data)
            self.held += len(frag.data)
        if frag.offset == 0:
            p.head, p.next_at, p.first_frame = frag.head, frag.next_at, frame
        if not frag.more:
            p.total = end
        while self.held > self.max_held and self.pending:
            self._give_up(next(iter(self.pending)))
        if frag.key not in self.pending:
            return None
        whole = self._whole(p)
        if whole is None:
            return None
        del self.pending[frag.key]
        self.held -= p.held
        return whole, p.frames

    def finish(self) -> list[Pending]:
        """Every datagram not completed: given up on, or still waiting at the end."""
        out = self.given_up + list(self.pending.values())[:MAX_INCOMPLETE_SHOWN]
        self.incomplete += len(self.pending)
        self.pending.clear()
        self.given_up = []
        self.held = 0
        return out

    def _expire(self, now: float) -> None:
        while self.pending:
            key = next(iter(self.pending))  # in arrival order: the oldest first
            if now - self.pending[key].first_time <= TIMEOUT[self.pending[key].version]:
                break
            self._give_up(key)

    def _give_up(self, key: tuple[object, ...]) -> None:
        p = self.pending.pop(key)
        self.held -= p.held
        p.parts = {}  # its bytes are not needed any more
        self.incomplete += 1
        if len(self.given_up) < MAX_INCOMPLETE_SHOWN:
            self.given_up.append(p)

    @staticmethod
    def _whole(p: Pending) -> bytes | None:
        if p.total is None or p.head is None:
            return None
        covered = 0
        for off in sorted(p.parts):
            if off > covered:
                return None  # a hole
            covered = max(covered, off + len(p.parts[off]))
        if covered < p.total:
            return None
        body = bytearray(p.total)
        for off, data in reversed(p.parts.items()):  # the first copy of a byte wins
            body[off : off + len(data)] = data
        head = bytearray(p.head)
        if p.version == 4:
            struct.pack_into("!H", head, 2, len(head) + p.total)
            struct.pack_into("!H", head, 6, 0)  # flags and offset: one whole datagram
        else:
            struct.pack_into("!H", head, 4, len(head) - 40 + p.total)
        return bytes(head) + bytes(body)

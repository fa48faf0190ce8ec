"""A connection's two byte streams, reassembled (Wireshark's Follow TCP Stream).

Each direction's bytes are placed by sequence number (RFC 9293 §3.4: the first data byte
is ISN + 1, a SYN taking one number; numbers wrap modulo 2^32 and are unwrapped here one
segment from the last). A byte carried twice is kept once, from the first packet that
carried it, and counted as retransmitted; where a later copy differs (a retransmission
that does not match, or an overlap attack), the difference is counted and its packet
named, as RFC 9293 leaves it to the receiver which copy to keep. What the capture lacks is
a hole, with its reason: never captured, or cut short by the snaplen (or otherwise
unreadable) though the segment was seen. A FIN, or the peer's acknowledgment of bytes
never seen, marks where a stream went on past its last captured byte.

The two streams are then interleaved by the time each piece first arrived, keeping each
stream in sequence order: the conversation as the application saw it.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.decode.analysis.flows import FlowTable
from app.decode.model.codes import Direction
from app.decode.model.table import PacketTable
from app.decode.readers.payloads import payloads

SYN, FIN, RST = 0x02, 0x01, 0x04
# The peer's ACK is believed to show bytes this capture missed after the last one seen
# (Wireshark: "ACKed segment that wasn't captured") only this far; further is a bogus ACK.
MAX_UNSEEN = 1 << 20
WRAP = 1 << 32
HALF = 1 << 31

# why bytes are missing from a stream
NOT_CAPTURED = "not captured"  # no segment carrying them is in the capture
CUT = "cut"  # their segment was captured without them (snaplen) or cannot be read


@dataclass(slots=True)
class Piece:
    """Bytes ``start:start+size`` of one direction's stream, or a hole there."""

    direction: int  # Direction.C2S / S2C
    start: int  # offset in that stream; 0 is the byte after the SYN (or the first seen)
    size: int
    data: bytes = b""  # empty for a hole
    time: float = float("nan")  # when the first packet carrying them was captured
    first: int = -1  # that packet's number (0-based position in the connection)
    last: int = -1  # the last packet merged into this piece
    hole: str | None = None  # NOT_CAPTURED, CUT; None for data

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(slots=True)
class Side:
    """What one direction's stream holds."""

    size: int = 0  # its extent: first to last byte known, holes included
    captured: int = 0  # bytes present
    holes: int = 0
    hole_bytes: int = 0
    retransmitted: int = 0  # bytes (of sequence space) carried again after their first copy
    conflicts: int = 0  # of those, bytes whose later copy differed
    conflict_at: list[int] = field(default_factory=list)  # positions of such packets
    clipped: int = 0  # bytes numbered before the stream's first (at or before the SYN)
    pieces: list[Piece] = field(default_factory=list)  # in sequence order, holes included

    def data(self) -> bytes:
        """The captured bytes in sequence order, holes left out."""
        return b"".join(p.data for p in self.pieces)


@dataclass(slots=True)
class Stream:
    sides: tuple[Side, Side]
    blocks: list[Piece]  # the conversation: pieces of both directions by time, joined
    unknown: int = 0  # data segments whose bytes could not be read at all
    numbers: list[int] = field(default_factory=list)  # packet number of each position

    @property
    def captured(self) -> int:
        return self.sides[0].captured + self.sides[1].captured


def _unwrap(seq: list[int], base: int) -> list[int]:
    """Sequence numbers as offsets from ``base``, each unwrapped from the one before."""
    out, prev = [], 0
    for s in seq:
        d = (s - base - prev) % WRAP
        prev += d - WRAP if d >= HALF else d
        out.append(prev)
    return out


class _Spans:
    """Disjoint sorted spans [a, b) of sequence space, added one at a time."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, a: int, b: int) -> int:
        """Add [a, b); how many of its bytes were already covered."""
        i = bisect.bisect_left(self.ends, a)  # the first span that ends at or after a
        j = i
        covered, lo, hi = 0, a, b
        while j < len(self.starts) and self.starts[j] <= b:
            covered += max(0, min(b, self.ends[j]) - max(a, self.starts[j]))
            lo, hi = min(lo, self.starts[j]), max(hi, self.ends[j])
            j += 1
        self.starts[i:j] = [lo]
        self.ends[i:j] = [hi]
        return covered

    def spans(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))


class _Builder:
    """One direction's pieces, kept sorted and disjoint, added a segment at a time."""

    def __init__(self, direction: int) -> None:
        self.direction = direction
        self.starts: list[int] = []
        self.pieces: list[Piece] = []
        self.seen = _Spans()  # segments' full extents, captured or not
        self.short: list[tuple[int, float, int]] = []  # (start, time, position) of segments
        # captured without all their bytes
        self.side = Side()

    def add(self, start: int, size: int, data: bytes | None, time: float, at: int) -> None:
        self.side.retransmitted += self.seen.add(start, start + size)
        if data is None or len(data) < size:
            self.short.append((start + len(data or b""), time, at))
        if not data:
            return
        data = data[:size]
        a, b = start, start + len(data)
        i = bisect.bisect_right(self.starts, a) - 1
        if i < 0 or self.pieces[i].end <= a:
            i += 1
        cur, new = a, []
        while i < len(self.pieces) and self.pieces[i].start < b:
            p = self.pieces[i]
            if p.start > cur:
                new.append((cur, p.start))
            lo, hi = max(a, p.start), min(b, p.end)
            self._again(data[lo - a : hi - a], p.data[lo - p.start : hi - p.start], at)
            cur = max(cur, p.end)
            i += 1
        if cur < b:
            new.append((cur, b))
        for lo, hi in new:
            k = bisect.bisect_left(self.starts, lo)
            self.starts.insert(k, lo)
            self.pieces.insert(
                k, Piece(self.direction, lo, hi - lo, data[lo - a : hi - a], time, at, at)
            )

    def _again(self, now: bytes, then: bytes, at: int) -> None:
        if now != then:
            a = np.frombuffer(now, np.uint8)
            b = np.frombuffer(then, np.uint8)
            self.side.conflicts += int(np.count_nonzero(a != b))
            seen = self.side.conflict_at
            if not seen or seen[-1] != at:  # segments come in capture order
                seen.append(at)

    def _cut_by(self, offset: int, time: float, at: int) -> tuple[float, int]:
        """When, and in which packet, the segment whose bytes stop short at ``offset`` came."""
        k = bisect.bisect_right(self.short, (offset, math.inf, -1)) - 1
        if k >= 0:
            return self.short[k][1], self.short[k][2]
        return time, at

    def finish(self, origin: int, end: int) -> Side:
        """The side's pieces from ``origin`` to ``end`` with the holes between them."""
        seen = self.seen.spans()
        self.short.sort()
        out: list[Piece] = []
        cur = origin
        for p in self.pieces:
            if p.start > cur:
                out += self._holes(cur, p.start, seen, p.time, p.first)
            out.append(p)
            cur = p.end
        if end > cur:
            last = self.pieces[-1] if self.pieces else None
            when = last.time if last else float("nan")
            out += self._holes(cur, end, seen, when, last.first if last else -1)
        side = self.side
        side.pieces = out
        side.size = max(end, cur) - origin
        side.captured = sum(p.size for p in out if p.hole is None)
        side.holes = sum(1 for p in out if p.hole)
        side.hole_bytes = side.size - side.captured
        return side

    def _holes(
        self, a: int, b: int, seen: list[tuple[int, int]], time: float, at: int
    ) -> list[Piece]:
        """The gap ``a:b`` split where the capture saw its segments (CUT: dated by the
        segment that lacked them) or not (dated by the piece after the gap)."""
        out, cur = [], a
        k = bisect.bisect_right(seen, (a, a)) - 1
        for lo, hi in seen[max(k, 0) :]:
            lo, hi = max(lo, a), min(hi, b)
            if lo >= b:
                break
            if lo >= hi:
                continue
            if lo > cur:
                out.append(Piece(self.direction, cur, lo - cur, time=time, first=at, last=at))
                out[-1].hole = NOT_CAPTURED
            when, by = self._cut_by(lo, time, at)
            out.append(Piece(self.direction, lo, hi - lo, time=when, first=by, last=by, hole=CUT))
            cur = hi
        if cur < b:
            out.append(Piece(self.direction, cur, b - cur, time=time, first=at, last=at))
            out[-1].hole = NOT_CAPTURED
        return out


Cols = dict[str, npt.NDArray[Any]]


def _side(cols: Cols, payloads: list[bytes | None], d: int) -> tuple[Side, int]:
    """Direction ``d``'s stream, and how many of its data segments had no readable bytes."""
    dirs, flags = cols["dir"], cols["flags"]
    mine = np.flatnonzero(dirs == d)
    syn = mine[(flags[mine] & SYN) != 0]
    length, seqs = cols["length"], cols["seq"]
    data = mine[(length[mine] > 0) & (seqs[mine] >= 0)]
    fins = mine[((flags[mine] & FIN) != 0) & (seqs[mine] >= 0)]
    if len(syn):
        base = (int(seqs[syn[0]]) + 1) % WRAP
    elif len(data):
        base = int(seqs[data[0]]) + (1 if int(flags[data[0]]) & SYN else 0)
    else:
        return Side(), 0
    build = _Builder(d)
    order = [int(i) for i in data]
    starts = _unwrap([int(seqs[i]) + (1 if int(flags[i]) & SYN else 0) for i in order], base)
    # with a SYN the stream starts after it: bytes numbered before are not stream data
    # (a receiver trims them, RFC 9293 §3.10.7.4); without one, at the lowest byte seen
    origin = 0 if len(syn) else min([0, *starts])
    unknown = 0
    times = cols["time"]
    for i, start in zip(order, starts, strict=True):
        got, size = payloads[i], int(length[i])
        unknown += got is None
        if start < origin:
            build.side.clipped += min(size, origin - start)
            got = None if got is None else got[origin - start :]
            size, start = size - (origin - start), origin
            if size <= 0:
                continue
        build.add(start, size, got, float(times[i]), i)
    end = max([origin, *(s + int(length[i]) for i, s in zip(order, starts, strict=True))])
    last = starts[-1] if starts else 0
    if len(fins):
        fin_at = _unwrap([int(seqs[fins[-1]])], (base + last) % WRAP)[0] + last
        end = max(end, fin_at + int(length[fins[-1]]))
    else:
        acked = _acked(cols, 1 - d, base, last) - 1  # the ACK may count a FIN too
        if end < acked <= end + MAX_UNSEEN:
            end = acked
    return build.finish(origin, end), unknown


def _acked(cols: Cols, d: int, base: int, near: int) -> int:
    """The highest byte offset the peer (direction ``d``) acknowledged; 0 if none."""
    rst = (cols["flags"] & RST) != 0  # a reset's ACK field is often left stale
    acks = cols["ack"][(cols["dir"] == d) & (cols["ack"] >= 0) & ~rst]
    if not len(acks):
        return 0
    rel = _unwrap([int(a) for a in acks], (base + near) % WRAP)
    return max(rel) + near


def follow(part: PacketTable, source: bytes) -> Stream:
    """The streams of one connection's positions ``part`` (``FlowTable.positions`` or a
    stored session's), their payloads read from ``source`` (the input as received)."""
    got = reassemble(part.cols, payloads(part, source))
    got.numbers = (part.cols["row"] + 1).tolist()
    return got


def follow_flow(table: FlowTable, flow_id: int, source: bytes) -> Stream:
    """Connection ``flow_id`` (from 1) of an analysis read from ``source``."""
    lo, hi = int(table.bounds[flow_id - 1]), int(table.bounds[flow_id])
    return follow(table.positions(lo, hi), source)


def reassemble(cols: Cols, payloads: list[bytes | None]) -> Stream:
    """A connection's streams from its columns (flow order: ``dir``, ``flags``, ``seq``,
    ``ack``, ``length``, ``time``; malformed segments already given length -1) and each
    packet's captured payload (``readers.payloads``)."""
    c2s, u1 = _side(cols, payloads, int(Direction.C2S))
    s2c, u2 = _side(cols, payloads, int(Direction.S2C))
    return Stream((c2s, s2c), _conversation(c2s.pieces, s2c.pieces), u1 + u2)


def _conversation(a: list[Piece], b: list[Piece]) -> list[Piece]:
    """Both directions' pieces by the time they arrived, each kept in sequence order, and
    neighbouring data pieces of one direction joined into one block."""
    runs: list[list[Piece]] = []
    i = j = 0
    while i < len(a) or j < len(b):
        take_a = j >= len(b) or (i < len(a) and _key(a[i]) <= _key(b[j]))
        p = a[i] if take_a else b[j]
        i, j = (i + 1, j) if take_a else (i, j + 1)
        prev = runs[-1][-1] if runs else None
        joins = prev is not None and prev.hole is None and p.hole is None
        if joins and prev is not None and prev.direction == p.direction and prev.end == p.start:
            runs[-1].append(p)
        else:
            runs.append([p])
    out = []
    for run in runs:
        p = run[0]
        if len(run) > 1:
            size = run[-1].end - p.start
            data = b"".join(q.data for q in run)
            last = max(q.last for q in run)
            p = Piece(p.direction, p.start, size, data, p.time, p.first, last)
        out.append(p)
    return out


def _key(p: Piece) -> tuple[float, int]:
    return (p.time if p.time == p.time else float("inf"), p.first)

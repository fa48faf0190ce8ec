"""Capture containers, read as a stream of chunks: pcap, pcapng, and either gzip'd or zstd'd.

Nothing here dissects a packet.  The reader walks record headers in bounded chunks of the
(decompressed) stream and hands each chunk on with numpy arrays of where every packet's bytes
start, how many were captured, how long it was on the wire, when, and on which interface.
Memory stays at one chunk plus those arrays, whatever the file's size.

Formats:
- pcap: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ (magic 0xA1B2C3D4 for
  microseconds, 0xA1B23C4D for nanoseconds, either byte order; the link type's upper bits
  carry the FCS length, §4).
- pcapng: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/ (Section Header §4.1,
  Interface Description §4.2 with if_tsresol/if_tsoffset, Enhanced Packet §4.3, Simple
  Packet §4.4, the obsolete Packet Block, opt_comment §3.5).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from app.decode.model.errors import EmptyInput, InputTooLarge, UnsupportedInput
from app.decode.model.packet import Notice

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    # magic as stored: (struct byte order, fraction units per second)
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# libpcap refuses records bigger than this unless the file's snaplen is bigger
# (MAXIMUM_SNAPLEN in pcap-int.h).
MAXIMUM_SNAPLEN = 262_144
MAX_RECORD = 16 * 1024 * 1024
CHUNK = 8 * 1024 * 1024
# Records a chunk holds at most: a file of tiny records would otherwise put half a million
# in one chunk, and each costs about 150 bytes of temporaries while its header is read.
MAX_CHUNK_RECORDS = 1 << 16

# pcapng block types
_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_OPB = 0x00000002  # obsolete Packet Block
_SPB = 0x00000003
_EPB = 0x00000006
_OPT_COMMENT = 1
_IF_NAME = 2
_IF_TSRESOL = 9
_IF_TSOFFSET = 14

LINKTYPE_NAMES: dict[int, str] = {
    0: "NULL (BSD loopback)",
    1: "Ethernet",
    9: "PPP",
    50: "PPP in HDLC framing",
    101: "raw IP",
    104: "Cisco HDLC",
    108: "LOOP (OpenBSD loopback)",
    113: "Linux cooked (SLL)",
    149: "PKTAP (macOS)",
    228: "raw IPv4",
    229: "raw IPv6",
    239: "NFLOG (Linux netfilter log)",
    258: "PKTAP (macOS)",
    276: "Linux cooked v2 (SLL2)",
}


def container_kind(head: bytes) -> str | None:
    """'pcap', 'pcapng', 'gzip', 'zstd' from the first bytes, else None."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    return None


def linktype_name(link: int) -> str:
    return f"{link} ({LINKTYPE_NAMES[link]})" if link in LINKTYPE_NAMES else str(link)


@dataclass(slots=True)
class Interface:
    linktype: int
    snaplen: int = 0
    units: int = 1_000_000  # time stamp units per second
    offset: int = 0  # seconds added to every time stamp (if_tsoffset)
    name: str | None = None


@dataclass(slots=True)
class Chunk:
    """Packets whose bytes all lie in ``buf``; offsets are into ``buf``."""

    buf: bytes
    base: int  # offset of buf[0] in the decompressed stream
    first_frame: int  # frame number (1-based) of the chunk's first packet
    data: I64  # where each packet's bytes start in buf
    caplen: I64
    wirelen: I64
    time: F64
    iface: I64  # index into CaptureFile.interfaces
    comments: dict[int, list[str]] = field(default_factory=dict)  # frame -> opt_comment

    def __len__(self) -> int:
        return len(self.data)


class _Counting:
    """A read()-able stream that counts the bytes read from it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.raw.read(n)
        self.count += len(data)
        return data


class Decompressed:
    """A read()-able view of a gzip or zstd stream that refuses to grow past ``limit``.

    Memory stays bounded whatever the compression ratio: compressed input is read 64 KiB
    at a time and never more than 1 MiB is decompressed at once (zlib's ``max_length``,
    zstd's stream reader), so a "bomb" is stopped at ``limit`` having held about a MiB.
    """

    IN = 1 << 16
    OUT = 1 << 20

    def __init__(self, raw: BinaryIO, kind: str, limit: int) -> None:
        self.raw = _Counting(raw)
        self.kind = kind
        self.limit = limit
        self.produced = 0
        self._pending = b""
        self._in = b""
        self._eof = False
        self._truncated = False
        if kind == "gzip":
            self._z = zlib.decompressobj(wbits=47)
        else:
            import zstandard

            reader: Any = self.raw  # any read()-able object will do
            self._zstd = zstandard.ZstdDecompressor().stream_reader(
                reader, read_size=self.IN, read_across_frames=True
            )

    @property
    def consumed(self) -> int:
        return self.raw.count

    def _gzip(self) -> bytes:
        while True:
            if not self._in and not self._eof:
                self._in = self.raw.read(self.IN)
                if not self._in:
                    self._eof = True
                    self._truncated = not self._z.eof and self.consumed > 0
            if not self._in:
                return b""
            out = self._z.decompress(self._in, self.OUT)
            self._in = self._z.unconsumed_tail
            if self._z.eof and self._z.unused_data:
                # Concatenated gzip members (RFC 1952 §2.2) are one stream.
                self._in = self._z.unused_data + self._in
                self._z = zlib.decompressobj(wbits=47)
            if out:
                return out

    def _more(self) -> bytes:
        before = self.consumed
        try:
            out = self._gzip() if self.kind == "gzip" else self._zstd.read(self.OUT)
        except Exception as exc:  # zlib.error, zstandard.ZstdError
            raise UnsupportedInput(
                f"{self.kind} data is corrupt near compressed byte {before:,}: {exc}",
                offset=before,
            ) from exc
        if out:
            self.produced += len(out)
            if self.produced > self.limit:
                raise InputTooLarge(
                    f"the {self.kind} data expands to more than {self.limit:,} bytes (reached "
                    f"after {self.consumed:,} compressed bytes), the configured limit "
                    "(TCPLADDER_MAX_EXPANDED)",
                    offset=self.consumed,
                )
        return bytes(out)

    def read(self, n: int = -1) -> bytes:
        parts = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        while n < 0 or have < n:
            out = self._more()
            if not out:
                break
            parts.append(out)
            have += len(out)
        data = b"".join(parts)
        if n >= 0 and len(data) > n:
            self._pending = data[n:]
            data = data[:n]
        return data

    @property
    def truncated(self) -> bool:
        return self._truncated


@dataclass(frozen=True, slots=True)
class Part:
    """Where a pcap stream's records start when it is a part of a file (its 24-byte header,
    then the file from byte ``base``, after ``count`` records), and whether the stream
    ends before the file does (``bounded``: the end is no truncation, and a record that
    runs past it is left unread, ``CaptureFile.stopped_at``)."""

    base: int = 24
    count: int = 0
    bounded: bool = False


class CaptureFile:
    """Walks one capture stream; iterate ``chunks()`` once."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_packets: int,
        chunk_size: int = CHUNK,
        part: Part | None = None,
    ) -> None:
        self.stream = stream
        self.max_packets = max_packets
        self.chunk_size = chunk_size
        self.part = part or Part()
        self.warnings: list[Notice] = []
        self.interfaces: list[Interface] = []
        self.comments: list[str] = []  # section and interface comments
        self.count = self.part.count
        self.stopped_at = -1  # a part's end: the byte after its last whole record
        self._head = stream.read(4)
        kind = container_kind(self._head)
        if kind not in ("pcap", "pcapng"):
            raise UnsupportedInput(
                f"not a pcap or pcapng file: it starts with {self._head.hex(' ') or 'nothing'}",
                offset=0,
            )
        self.kind = kind

    # -- shared -------------------------------------------------------------------------

    def _fill(self, rest: bytes, need: int) -> tuple[bytes, bool]:
        """``rest`` plus at least ``need`` more bytes when the stream has them."""
        parts = [rest]
        have = len(rest)
        eof = False
        while have < need:
            data = self.stream.read(max(self.chunk_size, need - have))
            if not data:
                eof = True
                break
            parts.append(data)
            have += len(data)
        return b"".join(parts), eof

    def _count(self, n: int, where: int) -> None:
        self.count += n
        if self.count > self.max_packets:
            raise InputTooLarge(
                f"the capture has more than {self.max_packets:,} packets (at byte {where:,}), "
                "the configured limit (TCPLADDER_MAX_PACKETS)",
                offset=where,
            )

    def chunks(self) -> Iterator[Chunk]:
        if self.kind == "pcap":
            yield from self._pcap()
        else:
            yield from self._pcapng()

    # -- pcap ---------------------------------------------------------------------------

    def _pcap(self) -> Iterator[Chunk]:
        head, _ = self._fill(self._head, 24)
        if len(head) < 24:
            raise UnsupportedInput(
                f"the pcap file header is cut short: {len(head)} of its 24 bytes", offset=0
            )
        order, units = PCAP_MAGICS[head[:4]]
        major, minor, _zone, _sigfigs, snaplen, link = struct.unpack(order + "HHiIII", head[4:24])
        if major != 2:
            raise UnsupportedInput(f"pcap version {major}.{minor} is not 2.4 (bytes 4-7)", offset=4)
        linktype = link & 0x0000FFFF  # upper bits: FCS length and flags
        self.interfaces.append(Interface(linktype, snaplen, units))
        biggest = max(MAXIMUM_SNAPLEN, min(snaplen, MAX_RECORD))
        cap_at = struct.Struct(order + "I").unpack_from
        buf = head[24:]
        base = self.part.base
        frame = self.part.count + 1
        dt = np.dtype(order + "u4")
        eof = False
        need = self.chunk_size
        while True:
            if not eof:
                buf, eof = self._fill(buf, need)
            end = len(buf)
            starts, off = _walk(buf, cap_at)
            hs = np.asarray(starts, dtype=np.int64)
            a = np.frombuffer(buf, dtype=np.uint8)
            fields = a[hs[:, None] + np.arange(16)].view(dt).reshape(-1, 4).astype(np.int64)
            # The first record that claims more than a record may hold: one the walk went
            # past (the file is corrupt from there on), or the one that stopped it.
            too_big = np.flatnonzero(fields[:, 2] > biggest)
            if len(too_big):
                k = int(too_big[0])
                off, hs, fields = starts[k], hs[:k], fields[:k]
            elif off + 16 <= end and cap_at(buf, off + 8)[0] > biggest:
                k = len(starts)
            else:
                k = -1
            problem: str | None = None
            if k >= 0:
                problem = (
                    f"record {frame + k} at byte {base + off:,} claims "
                    f"{cap_at(buf, off + 8)[0]:,} captured bytes, more than the largest a "
                    f"pcap record may hold here ({biggest:,}); the file is corrupt from there on"
                )
            if len(hs):
                self._count(len(hs), base + int(hs[-1]))
                sec, frac, cap_a, wire_a = fields.T
                time = sec + frac * (1e-6 if units == 1_000_000 else 1e-9)
                yield Chunk(
                    buf=buf,
                    base=base,
                    first_frame=frame,
                    data=hs + 16,
                    caplen=cap_a.copy(),
                    wirelen=wire_a.copy(),
                    time=time,
                    iface=np.zeros(len(hs), dtype=np.int64),
                )
                frame += len(hs)
            if problem is not None:
                self._stop(problem, base + off, frame)
                return
            capped = len(hs) >= MAX_CHUNK_RECORDS
            if eof and not capped:
                self.stopped_at = base + off
                if off < end and not self.part.bounded:
                    self._cut_short(buf[off:], base + off, frame, order)
                return
            buf = buf[off:]
            base += off
            # A record bigger than a chunk: read on until it is whole.
            need = self.chunk_size if off else 2 * len(buf) + 16

    def _cut_short(self, rest: bytes, where: int, frame: int, order: str) -> None:
        if len(rest) >= 16:
            cap = struct.unpack_from(order + "I", rest, 8)[0]
            msg = (
                f"the file ends inside record {frame} (byte {where:,}): its header says "
                f"{cap:,} captured bytes but only {len(rest) - 16:,} follow; "
                f"{frame - 1:,} complete records were read"
            )
        else:
            msg = (
                f"the file ends {len(rest)} bytes into record {frame}'s 16-byte header "
                f"(byte {where:,}); {frame - 1:,} complete records were read"
            )
        self._stop(msg, where, frame)

    def _stop(self, msg: str, where: int, frame: int) -> None:
        if frame == 1:
            raise UnsupportedInput(msg, offset=where)
        self.warnings.append(Notice(None, msg, offset=where))

    # -- pcapng -------------------------------------------------------------------------

    def _options(self, buf: bytes, off: int, end: int, order: str) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        while off + 4 <= end:
            code, length = struct.unpack_from(order + "HH", buf, off)
            if code == 0:
                break
            out.append((code, buf[off + 4 : off + 4 + length]))
            off += 4 + ((length + 3) & ~3)
        return out

    def _idb(self, buf: bytes, off: int, blen: int, order: str) -> None:
        link, _res, snaplen = struct.unpack_from(order + "HHI", buf, off + 8)
        iface = Interface(link, snaplen)
        for code, value in self._options(buf, off + 16, off + blen - 4, order):
            if code == _IF_TSRESOL and value:
                r = value[0]
                units = 2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F)
                if units >= 1 << 64:
                    # a 64-bit time stamp cannot count in such units; tshark shows such
                    # files too, so read on with the default (microseconds) and say so
                    self.warnings.append(
                        Notice(
                            None,
                            f"interface {len(self.interfaces)}: if_tsresol 0x{r:02x} asks for "
                            "units finer than a 64-bit time stamp can count; times read as "
                            "microseconds",
                            offset=off,
                        )
                    )
                    units = 1_000_000
                iface.units = units
            elif code == _IF_TSOFFSET and len(value) == 8:
                iface.offset = struct.unpack(order + "q", value)[0]
            elif code == _IF_NAME:
                iface.name = value.decode("utf-8", "replace")
            elif code == _OPT_COMMENT:
                self.comments.append(
                    f"interface {len(self.interfaces)}: " + value.decode("utf-8", "replace")
                )
        self.interfaces.append(iface)

    def _pcapng(self) -> Iterator[Chunk]:
        buf, eof = self._fill(self._head, self.chunk_size)
        w = _Walk()
        while True:
            batch, off, problem = self._blocks(buf, w)
            if batch.starts:
                self._count(len(batch.starts), w.base + batch.starts[-1])
                yield self._chunk_of(buf, w, batch)
                w.frame += len(batch.starts)
            if problem is not None:
                self._stop(problem, w.base + off, w.frame)
                return
            if eof and len(batch.starts) < MAX_CHUNK_RECORDS:
                if off < len(buf):
                    self._stop(
                        f"the file ends inside a block at byte {w.base + off:,} "
                        f"({len(buf) - off:,} bytes of it are there); "
                        f"{w.frame - 1:,} packets were read",
                        w.base + off,
                        w.frame,
                    )
                return
            buf, w.base = buf[off:], w.base + off
            buf, eof = self._fill(buf, self.chunk_size if off else 2 * len(buf) + 12)

    def _chunk_of(self, buf: bytes, w: _Walk, batch: _Batch) -> Chunk:
        iface = np.asarray(batch.ifs, dtype=np.int64)
        # time stamps are unsigned 64-bit (§4.3), their units up to 2**64 - 1, the offset a
        # signed 64-bit number of seconds: whole seconds and the fraction are worked out in
        # unsigned integers, the sum in floating point, so no value overflows
        units = np.array([f.units for f in self.interfaces], dtype=np.uint64)[iface]
        shift = np.array([float(f.offset) for f in self.interfaces])[iface]
        missing = np.array([s < 0 for s in batch.stamps], dtype=bool)
        ts = np.array([max(s, 0) for s in batch.stamps], dtype=np.uint64)
        time = (ts // units).astype(np.float64) + shift
        time += (ts % units).astype(np.float64) / units.astype(np.float64)
        time[missing] = np.nan
        return Chunk(
            buf=buf,
            base=w.base,
            first_frame=w.frame,
            data=np.asarray(batch.starts, dtype=np.int64),
            caplen=np.asarray(batch.caps, dtype=np.int64),
            wirelen=np.asarray(batch.wires, dtype=np.int64),
            time=time,
            iface=iface,
            comments=batch.comments,
        )

    def _blocks(self, buf: bytes, w: _Walk) -> tuple[_Batch, int, str | None]:
        """The whole blocks in ``buf``: (their packets, where the walk stopped, a problem)."""
        batch = _Batch()
        end, off = len(buf), 0
        while off + 12 <= end and len(batch.starts) < MAX_CHUNK_RECORDS:
            problem = self._block_order(buf, off, w)
            if problem is not None:
                return batch, off, problem
            btype, blen = struct.unpack_from(w.order + "II", buf, off)
            where = f"block at byte {w.base + off:,} (type 0x{btype:08x})"
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                return (
                    batch,
                    off,
                    f"{where} claims a length of {blen:,} bytes, which is not a valid pcapng block length",
                )
            if off + blen > end:
                break
            if struct.unpack_from(w.order + "I", buf, off + blen - 4)[0] != blen:
                return (
                    batch,
                    off,
                    f"{where}: its trailing length does not repeat the leading one ({blen:,})",
                )
            problem = self._block(buf, off, btype, blen, w, batch)
            if problem is not None:
                return batch, off, problem
            off += blen
        return batch, off, None

    def _block_order(self, buf: bytes, off: int, w: _Walk) -> str | None:
        """A section header sets the byte order of what follows."""
        if buf[off : off + 4] != PCAPNG_SHB:
            return None
        magic = buf[off + 8 : off + 12]
        if magic == b"\x4d\x3c\x2b\x1a":
            w.order = "<"
        elif magic == b"\x1a\x2b\x3c\x4d":
            w.order = ">"
        else:
            return (
                f"section header at byte {w.base + off:,} has byte-order magic "
                f"{magic.hex(' ')}, not 1a 2b 3c 4d"
            )
        return None

    def _block(
        self, buf: bytes, off: int, btype: int, blen: int, w: _Walk, batch: _Batch
    ) -> str | None:
        """One block: a packet goes into ``batch``; interfaces and sections are noted."""
        order = w.order
        if btype in (_EPB, _OPB):
            return self._packet_block(buf, off, btype, blen, w, batch)
        if btype == _SPB:
            if w.section < 0 or len(self.interfaces) <= w.section:
                return (
                    f"simple packet block at byte {w.base + off:,} comes before any "
                    "Interface Description Block"
                )
            wire = struct.unpack_from(order + "I", buf, off + 8)[0]
            snap = self.interfaces[w.section].snaplen or wire
            batch.add(off + 12, min(wire, snap, blen - 16), wire, -1, w.section)
        elif btype == _IDB:
            self._idb(buf, off, blen, order)
        elif btype == _SHB:
            w.section = len(self.interfaces)
            for code, value in self._options(buf, off + 24, off + blen - 4, order):
                if code == _OPT_COMMENT:
                    self.comments.append(value.decode("utf-8", "replace"))
        return None

    def _packet_block(
        self, buf: bytes, off: int, btype: int, blen: int, w: _Walk, batch: _Batch
    ) -> str | None:
        """An Enhanced Packet Block (§4.3) or the obsolete Packet Block."""
        order = w.order
        if btype == _EPB:
            i, hi, lo, cap, wire = struct.unpack_from(order + "IIIII", buf, off + 8)
        else:
            i, _drops, hi, lo, cap, wire = struct.unpack_from(order + "HHIIII", buf, off + 8)
        if w.section < 0 or w.section + i >= len(self.interfaces):
            return (
                f"packet block at byte {w.base + off:,} names interface {i}, "
                "which no Interface Description Block declared"
            )
        if 28 + cap > blen - 4:
            return (
                f"packet block at byte {w.base + off:,} claims {cap:,} captured "
                f"bytes in a {blen:,}-byte block"
            )
        batch.add(off + 28, cap, wire, (hi << 32) | lo, w.section + i)
        opt_at = off + 28 + ((cap + 3) & ~3)
        if opt_at + 4 <= off + blen - 4:
            for code, value in self._options(buf, opt_at, off + blen - 4, order):
                if code == _OPT_COMMENT:
                    frame = w.frame + len(batch.starts) - 1
                    batch.comments.setdefault(frame, []).append(value.decode("utf-8", "replace"))
        return None


@dataclass(slots=True)
class _Walk:
    """Where a pcapng walk is: stream offset of the buffer, next frame, byte order, and the
    first interface of the current section."""

    base: int = 0
    frame: int = 1
    order: str = "<"
    section: int = -1


@dataclass(slots=True)
class _Batch:
    """The packets found in one buffer."""

    starts: list[int] = field(default_factory=list)
    caps: list[int] = field(default_factory=list)
    wires: list[int] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)
    ifs: list[int] = field(default_factory=list)
    comments: dict[int, list[str]] = field(default_factory=dict)

    def add(self, start: int, cap: int, wire: int, stamp: int, iface: int) -> None:
        self.starts.append(start)
        self.caps.append(cap)
        self.wires.append(wire)
        self.stamps.append(stamp)
        self.ifs.append(iface)


class Peeked:
    """A stream whose first bytes were looked at; read() still returns them."""

    def __init__(self, raw: Any, size: int = 4) -> None:
        self.raw = raw
        self.head: bytes = raw.read(size)
        self._pending: bytes = self.head

    def read(self, n: int = -1) -> bytes:
        first, self._pending = self._pending, b""
        if n >= 0 and n <= len(first):
            self._pending = first[n:]
            return first[:n]
        data: bytes = self.raw.read(-1 if n < 0 else n - len(first))
        return first + data


def open_stream(raw: BinaryIO, *, max_input: int) -> tuple[Peeked, str | None]:
    """Undo gzip/zstd compression (streaming, bounded): the stream and the compression used."""
    stream = Peeked(raw)
    kind = container_kind(stream.head)
    if kind in ("gzip", "zstd"):
        inner = Peeked(Decompressed(stream, kind, max_input))  # type: ignore[arg-type]
        if not inner.head:
            raise EmptyInput(f"the {kind} data holds nothing")
        return inner, kind
    return stream, None


def _walk(buf: bytes, cap_at: Callable[[bytes, int], tuple[int, ...]]) -> tuple[list[int], int]:
    """Where the whole records at the start of ``buf`` begin (at most MAX_CHUNK_RECORDS of
    them), and where the first one that is not whole begins.  Each record's place depends
    on the one before (its caplen), so this is the one sequential loop of reading a pcap
    file: kept to a call, two additions and a comparison a record; what a record claims is
    checked afterwards, on all of them at once."""
    starts: list[int] = []
    add = starts.append
    end = len(buf)
    off = 0
    try:
        for _ in repeat(None, MAX_CHUNK_RECORDS):
            nxt = off + 16 + cap_at(buf, off + 8)[0]
            if nxt > end:
                break
            add(off)
            off = nxt
    except struct.error:  # not even a caplen left in ``buf``
        pass
    return starts, off

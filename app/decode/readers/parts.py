"""A pcap file read as two parts at once: the second by a forked child.

Reading is the largest stage of a big capture that one process does alone (its record walk
is sequential), and a pcap file on disk can be read from anywhere once a record boundary is
known.  So ``read_in_parts`` finds a record that starts near the middle of the file
(``record_near``: a chain of plausible record headers), forks a child that reads from
there to the end (``parallel.Later``), reads the first part here, and takes the child's
rows after its own (``capture.Reading.merge``), renumbered: frames after this part's
records, rows after these rows, hosts into this part's book.

Nothing here trusts the guess: the first part is read up to the boundary as a file that
ends there (``container.Part``), and only if its last record ends exactly on it, nothing in
either part depends on the other (no warning, IP fragment, comment; Scapy's budget and
the packet limit hold: ``Reading.can_merge``) and the child succeeded, are the child's rows
taken.  Otherwise this process reads on from where its part stopped, as one process would
have: the result is the same bytes either way (tests/decode/test_parts.py,
scripts/compare-outputs with the split forced on every capture).
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import IO, Any, BinaryIO

import numpy as np
import numpy.typing as npt

from app.decode.model import parallel
from app.decode.model.trace import Trace
from app.decode.readers.capture import KEEP_OTHER, Parcel, Reading
from app.decode.readers.container import MAX_RECORD, MAXIMUM_SNAPLEN, PCAP_MAGICS, CaptureFile, Part

# below this many bytes a fork and a hand-over cost more than they save
MIN_BYTES = 16 << 20
# how far past the middle a record boundary is looked for, and how many records in a row
# must look right from it
WINDOW = 4 << 20
CHAIN = 32
MAX_STEPS = 1 << 16
# a record's time may stray this far from the first record's and still look right
YEAR = 366 * 86400


class _Joined:
    """``head`` then ``stream``: a part of a pcap file read as a file of its own."""

    def __init__(self, head: bytes, stream: _Positioned) -> None:
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        first, self.head = self.head, b""
        if n >= 0 and len(first) >= n:
            self.head = first[n:]
            return first[:n]
        return first + self.stream.read(-1 if n < 0 else n - len(first))


class _Positioned:
    """Bytes ``lo:hi`` of a file by pread(2), so two processes sharing the descriptor
    never move each other's position."""

    def __init__(self, fd: int, lo: int, hi: int) -> None:
        self.fd, self.at, self.hi = fd, lo, hi

    def read(self, n: int = -1) -> bytes:
        want = self.hi - self.at if n < 0 else min(n, self.hi - self.at)
        data = os.pread(self.fd, want, self.at) if want > 0 else b""
        self.at += len(data)
        return data


def _every_u32(a: npt.NDArray[np.uint8], dt: np.dtype[Any]) -> npt.NDArray[np.int64]:
    """The 32-bit word that starts at every byte of ``a`` (but its last three)."""
    n = len(a) - 3
    out = np.empty(max(n, 0), np.int64)
    for k in range(4):
        m = len(range(k, n, 4))
        out[k::4] = np.frombuffer(a[k : k + 4 * m].tobytes(), dt)
    return out


def record_near(fd: int, head: bytes, at: int, size: int) -> int | None:
    """The first byte at or after ``at`` where ``CHAIN`` records in a row (or those up to
    the end of the file) have headers that look right: a captured length that a record may
    hold and that its wire length covers, a fraction of a second below one, a time within a
    year of the first record's.  None if no such place is in the ``WINDOW`` after ``at``."""
    order, units = PCAP_MAGICS[head[:4]]
    snaplen = struct.unpack(order + "I", head[16:20])[0]
    biggest = max(MAXIMUM_SNAPLEN, min(snaplen, MAX_RECORD))
    first = os.pread(fd, 4, 24)
    buf = os.pread(fd, WINDOW, at)
    if len(first) < 4 or len(buf) < 16:
        return None
    start = struct.unpack(order + "I", first)[0]
    words = _every_u32(np.frombuffer(buf, np.uint8), np.dtype(order + "u4"))
    n = len(buf) - 15  # the headers wholly inside the window
    sec, frac, cap, wire = (words[k : k + n] for k in (0, 4, 8, 12))
    ok = (cap <= biggest) & (cap <= wire) & (frac < units) & (np.abs(sec - start) <= YEAR)
    nxt = np.arange(n) + 16 + cap
    steps = 0  # a window crafted to look right almost everywhere costs this much at most
    for i in np.flatnonzero(ok).tolist():
        j, hops = i, 0
        while hops < CHAIN and j < n and ok[j]:
            j, hops = int(nxt[j]), hops + 1
        if hops == CHAIN or at + j == size:
            return at + i
        steps += hops + 1
        if steps > MAX_STEPS:
            break
    return None


def read_in_parts(
    fh: BinaryIO, size: int, *, max_packets: int, keep_other: int = KEEP_OTHER
) -> Trace | None:
    """The Trace of the plain pcap file ``fh`` (``size`` bytes), read as two parts at
    once; None when it is not worth it or no boundary was found (read it as a stream)."""
    if not parallel.worth(size, MIN_BYTES):
        return None
    try:
        fd = fh.fileno()
        head = os.pread(fd, 24, 0)
    except (OSError, ValueError):  # a pipe, or no file at all
        return None
    if head[:4] not in PCAP_MAGICS:
        return None
    split = record_near(fd, head, size // 2, size)
    if split is None:
        return None
    later = parallel.Later(
        lambda out: _second(fd, head, split, max_packets, keep_other, out), size, MIN_BYTES
    )
    try:
        reading = Reading(keep_other)
        first = CaptureFile(
            _Positioned(fd, 0, split),  # type: ignore[arg-type]
            max_packets=max_packets,
            part=Part(bounded=True),
        )
        reading.consume(first)
        stopped = first.stopped_at
        if stopped == split:
            got = later.unpickled()
            parcel = got if isinstance(got, Parcel) else None
            if parcel is not None and reading.can_merge(parcel, max_packets):
                reading.merge(parcel)
                return reading.trace()
        later.close()
        if stopped >= 0:  # read on from there, as one process would have
            rest = _Joined(head, _Positioned(fd, stopped, size))
            reading.consume(
                CaptureFile(
                    rest,  # type: ignore[arg-type]
                    max_packets=max_packets,
                    part=Part(base=stopped, count=first.count),
                )
            )
        return reading.trace()
    finally:
        later.close()


def _second(  # pragma: no cover - runs in the forked child
    fd: int, head: bytes, split: int, max_packets: int, keep_other: int, out: IO[bytes]
) -> None:
    """The child's part: from ``split`` to the end, numbered from 1, pickled to ``out``."""
    stream = _Joined(head, _Positioned(fd, split, os.fstat(fd).st_size))
    reading = Reading(keep_other)
    cf = CaptureFile(stream, max_packets=max_packets, part=Part(base=split))  # type: ignore[arg-type]
    reading.consume(cf)
    pickle.dump(reading.parcel(), out, protocol=pickle.HIGHEST_PROTOCOL)


__all__ = ["Parcel", "read_in_parts", "record_near"]

"""The input as received, kept as pieces of one zstd stream in the ``chunks`` table (kind
``i``): an upload is compressed and written a piece at a time as it is read from its spool
file, and the worker reads it back the same way, so neither side holds it whole.

Sessions stored before this keep their input in ``sessions.input`` (one zstd frame, or
zlib before that); ``InputReader`` is only for the pieces.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import IO

import zstandard

READ = 1 << 20  # bytes of the upload read at a time
PIECE = 1 << 20  # compressed bytes in one stored piece (at most)


class Digest:
    """What was read: its size and SHA-256 (logged with a decoder failure)."""

    def __init__(self) -> None:
        self.size = 0
        self.sha = hashlib.sha256()

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def input_pieces(source: IO[bytes], digest: Digest) -> Iterator[bytes]:
    """``source`` read to its end and compressed, in pieces of at most ``PIECE`` bytes."""
    sink = io.BytesIO()
    writer = zstandard.ZstdCompressor(level=1).stream_writer(sink, closefd=False)
    while block := source.read(READ):
        digest.size += len(block)
        digest.sha.update(block)
        writer.write(block)
        if sink.tell() >= PIECE:
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    writer.close()  # type: ignore[no-untyped-call]
    if sink.tell():
        yield sink.getvalue()


class _Pieces(io.RawIOBase):
    """The stored pieces end to end, fetched one at a time (``fetch(k)``: piece k or None)."""

    def __init__(self, fetch: Callable[[int], bytes | None]) -> None:
        self._fetch = fetch
        self._k = 0
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            got = self._fetch(self._k)
            if got is None:
                return 0
            self._k += 1
            self._buf = memoryview(got)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class InputReader(io.RawIOBase):
    """The input decompressed from its pieces as a stream, counting what it gave out
    (``done``) so the job can report how far reading has got."""

    def __init__(self, fetch: Callable[[int], bytes | None], on_read: Callable[[int], None]):
        self._inner = zstandard.ZstdDecompressor().stream_reader(io.BufferedReader(_Pieces(fetch)))
        self._on_read = on_read
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n: int = self._inner.readinto(b)
        self.done += n
        self._on_read(self.done)
        return n

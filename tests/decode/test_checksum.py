"""The vectorised ones' complement sums (``readers.checksum``) against RFC 1071's definition,
one range at a time, for every alignment and length remainder, summed both ways (gathers for
short ranges, reduceat for long ones)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decode.readers import checksum
from app.decode.readers.checksum import Sums, fold


def _plain(data: bytes) -> int:
    """RFC 1071 §4.1: 16-bit big-endian words summed, a last odd byte padded with zero."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _folded(x: np.ndarray) -> list[int]:
    # congruent mod 0xFFFF, as the sums promise: compare the residues (0xFFFF and 0 are the
    # two forms of ones' complement zero)
    return [int(v) % 0xFFFF for v in fold(x.astype(np.int64))]


@settings(max_examples=200, deadline=None)
@given(
    buf=st.binary(min_size=1, max_size=300),
    picks=st.lists(st.tuples(st.integers(0, 299), st.integers(0, 300)), min_size=1, max_size=20),
)
def test_every_range_sums_as_rfc_1071_says(buf: bytes, picks: list[tuple[int, int]]) -> None:
    ranges = [(s % len(buf), n) for s, n in picks]
    ranges = [(s, min(n, len(buf) - s)) for s, n in ranges]
    start = np.array([s for s, _ in ranges], np.int64)
    length = np.array([n for _, n in ranges], np.int64)
    want = _folded(np.array([_plain(buf[s : s + n]) for s, n in ranges], np.int64))
    sums = Sums(np.frombuffer(buf, np.uint8))
    kept = checksum.GATHER_WORDS
    try:  # each range summed by gathers, then by reduceat
        for checksum.GATHER_WORDS in (1 << 20, 0):
            assert _folded(sums.range(start, length)) == want
    finally:
        checksum.GATHER_WORDS = kept


def test_large_ranges_do_not_overflow() -> None:
    # 65,535 bytes of 0xFF at each alignment: the largest IP datagram, every word 0xFFFF
    buf = b"\xff" * (65_535 + 8)
    start = np.arange(4, dtype=np.int64)
    length = np.full(4, 65_535, np.int64)
    got = Sums(np.frombuffer(buf, np.uint8)).range(start, length)
    assert _folded(got) == [_plain(buf[s : s + 65_535]) % 0xFFFF for s in range(4)]

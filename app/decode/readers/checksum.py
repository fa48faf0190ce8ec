"""Internet checksums of many packets at once (RFC 1071), for the vectorised reader.

The TCP checksum covers a pseudo-header (source and destination address, protocol 6, TCP
length: RFC 9293 §3.1; IPv6: RFC 8200 §8.1) and the whole segment; the IPv4 header checksum
covers the header (RFC 791 §3.1).  Both are the ones' complement of the ones' complement sum
of 16-bit words, so a packet whose checksum field is right sums to 0xFFFF.

One pass of prefix sums over a chunk's buffer gives every range's sum: 16-bit big-endian
words starting at even offsets and at odd offsets, each as a running uint32 total (a range
of at most 32,768 words sums below 2**31, so differences of the wrapped totals are exact).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

GOOD, BAD, UNVERIFIED = 1, 2, 0  # the status column's values (model.codes.CHECKSUM_STATUS)


class Sums:
    """Ones' complement sums of byte ranges of one buffer."""

    def __init__(self, a: npt.NDArray[np.uint8]) -> None:
        self.a = a
        n = len(a)
        # big-endian words at even and at odd offsets, as views: the running totals are
        # the only arrays made (4 bytes a buffer byte in all)
        even = a[: n - n % 2].view(">u2")
        odd = a[1 : 1 + (n - 1) // 2 * 2].view(">u2") if n > 1 else a[:0].view(">u2")
        self.c_even = np.zeros(len(even) + 1, np.uint32)
        np.cumsum(even, out=self.c_even[1:], dtype=np.uint32)
        self.c_odd = np.zeros(len(odd) + 1, np.uint32)
        np.cumsum(odd, out=self.c_odd[1:], dtype=np.uint32)

    def range(self, start: I64, length: I64) -> I64:
        """The 32-bit sum of the big-endian words of bytes ``start:start+length`` (a last
        odd byte padded with zero), for many ranges; ranges must lie in the buffer."""
        words = length // 2
        k = start // 2
        odd = (start & 1) == 1
        ce, co = self.c_even, self.c_odd
        hi_e = np.minimum(k + words, len(ce) - 1)
        hi_o = np.minimum(k + words, len(co) - 1)
        lo_o = np.minimum(k, len(co) - 1)
        s_even = (ce[hi_e] - ce[np.minimum(k, len(ce) - 1)]).astype(np.int64)
        s_odd = (co[hi_o] - co[lo_o]).astype(np.int64)
        total = np.where(odd, s_odd, s_even)
        last = np.clip(start + length - 1, 0, len(self.a) - 1)
        tail = np.where((length & 1) == 1, self.a[last].astype(np.int64) << 8, 0)
        out: I64 = total + tail
        return out


def fold(x: I64) -> I64:
    """A sum folded to 16 bits with end-around carry."""
    x = (x & 0xFFFF) + (x >> 16)
    x = (x & 0xFFFF) + (x >> 16)
    out: I64 = (x & 0xFFFF) + (x >> 16)
    return out


def verdict(total: I64, field: I64) -> tuple[I64, I64]:
    """(status, expected field) from the sum over everything, checksum field included."""
    ok = fold(total) == 0xFFFF
    without = fold(total + (0xFFFF - field))
    expected: I64 = 0xFFFF - without
    status: I64 = np.where(ok, GOOD, BAD)
    return status, expected

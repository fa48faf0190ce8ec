"""Memory: pausing the cyclic garbage collector, and giving freed heap back to the system.

Pausing the collector while many small objects are made:

Reading 200,000 pasted lines made about a million objects (packets, options, lists) when
each line was kept as a packet, none of them in a reference cycle; the collector walked the
growing heap again and again, which cost 40% of the parse.  A paste's plain lines are rows
of numbers now (text/rows.py), but the line strings kept to show them, and the packets
of the lines that are not plain, are still many small objects.  Reference counting frees
everything as usual while the collector sleeps.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def paused_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim(3)).

    Reading a capture allocates each chunk's columns (tens of KB each) on the heap; once
    they are concatenated into the table, glibc keeps the freed space (130 MB for a
    million packets) unless asked.  Elsewhere than glibc this does nothing.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018  (glibc only)
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC or None


_LIBC: Any = None

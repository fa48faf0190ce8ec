"""Pausing Python's cyclic garbage collector while many small objects are made.

Reading 200,000 pasted lines makes about a million objects (packets, options, lists), none
of them in a reference cycle; the collector would still walk the growing heap again and
again, which cost 40% of the parse.  Reference counting frees everything as usual while
the collector sleeps.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

"""Rendered session pages kept in memory, bounded by bytes.

A stored session never changes, so its page for one language, connection and window is
the same bytes for every reader but its owner (whose page carries the delete form and a
CSRF token, and is never cached). Rendering a page of 1,000 listed connections takes tens
of milliseconds of CPU under the GIL; fifty readers of one shared permalink would queue
behind each other for seconds. The cache turns the repeat into a lookup. Every request
still asks the store for the session first, so a page deleted by another process is
never served; a delete in this process drops the session's pages at once. Readers who
miss together wait for one render of the page rather than each making their own.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Hashable


class Page:
    """A rendered body and its gzip (made once, when the page is kept)."""

    __slots__ = ("body", "gzipped")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=6, mtime=0)

    def __len__(self) -> int:
        return len(self.body) + len(self.gzipped)


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (``gzip;q=0`` does not)."""
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


class PageCache:
    """A least-recently-used map from a page key (session id first) to its page."""

    def __init__(self, max_bytes: int, max_page: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_page = max_page if max_page is not None else max_bytes // 8
        self._pages: OrderedDict[tuple[Hashable, ...], Page] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        # one render of a page at a time: fifty readers arriving together wait for the
        # first one's render instead of each making their own (striped, never cleaned up)
        self._stripes = [threading.Lock() for _ in range(64)]

    def rendering(self, key: tuple[Hashable, ...]) -> threading.Lock:
        """The lock to hold while rendering the page at ``key``."""
        return self._stripes[hash(key) % len(self._stripes)]

    def peek(self, key: tuple[Hashable, ...]) -> Page | None:
        with self._lock:
            return self._pages.get(key)

    def get(self, key: tuple[Hashable, ...]) -> Page | None:
        with self._lock:
            body = self._pages.get(key)
            if body is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: tuple[Hashable, ...], body: bytes) -> None:
        if len(body) > self.max_page:
            return
        page = Page(body)
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._pages[key] = page
            self._size += len(page)
            while self._size > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._size -= len(dropped)

    def drop(self, sid: str) -> None:
        """Forget every page of session ``sid``."""
        with self._lock:
            for key in [k for k in self._pages if k[0] == sid]:
                self._size -= len(self._pages.pop(key))

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._pages)

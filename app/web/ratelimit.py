"""A per-client limit on creating sessions (the ``limits`` library's moving window).

``TCPLADDER_RATE_LIMIT`` takes the library's notation (``30/minute``, ``5/second;100/hour``);
``0`` turns it off, as the load tests and benchmarks need.  Past the limit a client gets a
429 in the one error shape, with ``Retry-After``.  The window is kept in this process's
memory: with several server processes each counts its own clients.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from app.decode.model.errors import TraceError


class TooManyRequests(TraceError):
    status = 429
    code = "trace.rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, hint="Wait a little, then submit again.")
        self.retry_after = retry_after


class CreateLimit:
    def __init__(self, setting: str) -> None:
        text = setting.strip()
        self.items: list[RateLimitItem] = [] if text in ("", "0") else list(parse_many(text))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.setting = text

    def check(self, request: Request) -> None:
        """Count one session creation for this client, or refuse it with a 429."""
        if not self.items:
            return
        client = request.client.host if request.client else "unknown"
        for item in self.items:
            if not self.limiter.hit(item, "create", client):
                reset, _left = self.limiter.get_window_stats(item, "create", client)
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"too many new sessions from this address: the limit is {item} "
                    f"(TCPLADDER_RATE_LIMIT={self.setting}); try again in {wait} s",
                    retry_after=wait,
                )

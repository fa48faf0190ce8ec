"""Serving: uvicorn, with what a public form needs against slow and many clients.

uvicorn (h11) closes idle keep-alive connections, answers 503 past ``limit_concurrency``
and caps a request's header size, but a client that opens a connection and sends its
headers a byte a minute would hold it forever: ``GuardedH11Protocol`` closes a connection
whose request headers are not complete ``header_timeout`` seconds after it opened (or after
its previous response).  A slow body is cut by the upload reader's own timeout
(``upload.read_submission``).  Errors the event loop logs over and over (accept failing
with "Too many open files" under a flood) are logged once a minute, with a count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        # uvicorn makes a new cycle when a request's headers are complete
        self._armed_cycle = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _expire(self) -> None:
        if self.cycle is self._armed_cycle and not self.transport.is_closing():
            self.transport.close()  # headers still incomplete: the client is too slow

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._armed_cycle:
            self._deadline.cancel()  # a request is under way: its headers are complete

    def on_response_complete(self) -> None:
        self._deadline.cancel()
        if not self.transport.is_closing():
            self._arm()  # for the next request on this keep-alive connection
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)


class OncePerMinute(logging.Filter):
    """Let a repeated log message through once a minute, saying how often it came."""

    def __init__(self, period: float = 60.0) -> None:
        super().__init__()
        self.period = period
        self.seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.levelno}:{record.getMessage()[:200]}"
        now = time.monotonic()
        last, count = self.seen.get(key, (0.0, 0))
        if now - last < self.period:
            self.seen[key] = (last, count + 1)
            return False
        if count:
            record.msg = f"{record.msg} (and {count} more times in the last minute)"
        self.seen[key] = (now, 0)
        if len(self.seen) > 1000:
            self.seen.clear()
        return True


def serve(host: str, port: int, log_level: str) -> None:
    """Run the app; ``TCPLADDER_HEADER_TIMEOUT`` (seconds, default 10) and
    ``TCPLADDER_MAX_CONNECTIONS`` (default 256: past it a 503) tune the guards."""
    import os

    import uvicorn

    from app.web.app import create_app

    GuardedH11Protocol.header_timeout = float(os.environ.get("TCPLADDER_HEADER_TIMEOUT", 10))
    max_connections = int(os.environ.get("TCPLADDER_MAX_CONNECTIONS", 256))

    once = OncePerMinute()
    for name in ("asyncio", "uvicorn.error"):
        logging.getLogger(name).addFilter(once)
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "http": GuardedH11Protocol,
        "timeout_keep_alive": 5,
        "limit_concurrency": max_connections,
        "backlog": 1024,
        "h11_max_incomplete_event_size": 64 * 1024,
    }
    app = create_app()
    settings = app.state.settings
    where = settings.database_url and _redacted(settings.database_url)
    print(
        f"tcpladder: serving http://{host}:{port}/ ; sessions in "
        f"{where or settings.data_dir / 'tcpladder.sqlite3'} ; analysis: "
        + (
            "procrastinate queue (tcpladder worker)"
            if settings.queue == "procrastinate"
            else f"{settings.workers} worker process(es)"
        ),
        flush=True,
    )
    uvicorn.run(app, **config)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

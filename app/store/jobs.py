"""One analysis job while it runs: its progress written for readers to poll, and a
heartbeat that says its worker is alive.

A worker's heartbeat is written every ``BEAT`` seconds by a thread of its own, so a long
numpy step does not make a live job look dead; progress is written at most every
``EVERY`` seconds. A job whose heartbeat is older than ``sessions.LEASE`` is taken for
dead and can be claimed again (``Store.process``), up to ``sessions.MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sessions import Store

log = logging.getLogger("tcpladder.jobs")
BEAT = 5.0
EVERY = 0.5


class Job:
    def __init__(self, store: Store, sid: str) -> None:
        self.store = store
        self.sid = sid
        self.progress: dict[str, Any] = {"stage": "queued", "done": 0, "total": 0}
        self._written = 0.0
        self._stop = threading.Event()
        self._every = min(BEAT, store.lease / 3)
        self._beat = threading.Thread(target=self._beating, daemon=True, name=f"beat-{sid}")

    def __enter__(self) -> Job:
        self._beat.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._beat.join()

    def _beating(self) -> None:
        while not self._stop.wait(self._every):
            self._write(force=True)

    def _write(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < EVERY:
            return
        self._written = now
        try:
            self.store.heartbeat(self.sid, dict(self.progress))
        except Exception as exc:  # the database busy or away: the next beat tries again
            log.debug("heartbeat of %s not written: %s", self.sid, exc)

    def stage(self, name: str, done: int, total: int) -> None:
        self.progress = {"stage": name, "done": done, "total": total}
        self._write(force=True)

    def advance(self, done: int) -> None:
        self.progress["done"] = done
        self._write()

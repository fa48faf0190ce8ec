"""Analysis in worker processes, so the server's own process only serves.

Decoding and analysing an upload is seconds of CPU; in the server's threads it would hold
the GIL and every page read would wait behind it (measured: 50 readers' p99 went from
milliseconds to seconds during 20 uploads). ``Analysts`` hands ``Store.create`` to a pool
of processes, each with its own ``Store`` on the same database (SQLite in WAL mode takes a
writer at a time from any process; PostgreSQL any number). What crosses the process
boundary is the input's bytes one way and the new session's record (or the ``TraceError``
that explains why there is none) the other.

Workers are started with ``spawn``: never forked from a server that runs threads. A worker
that dies (killed, out of memory) breaks the pool; the upload it was working on gets a
503 ``server.busy`` answer and the next upload starts a new pool. A server that dies takes
its workers with it: each watches its parent and ends when it is gone (an upload being
stored then is rolled back by the database, never left half-written).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from app.decode import Limits
from app.decode.model.errors import TraceError

from .sessions import SessionRecord, Store

log = logging.getLogger("tcpladder.pool")

_worker_store: Store | None = None


class WorkerLost(TraceError):
    """The process analysing this input ended before it answered (killed, or out of
    memory): the input may be fine; the server could not finish it now."""

    status = 503
    code = "server.busy"


def _start_worker(url: str, limits: Limits) -> None:
    global _worker_store
    _worker_store = Store(url, limits=limits)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker when the server is gone (kill -9 included). A worker holds both ends
    of its task queue's pipe, so it would never see end-of-file: it would wait forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _ready() -> bool:
    return _worker_store is not None


def _create_in_worker(data: bytes, title: str, owner_token: str) -> SessionRecord:
    assert _worker_store is not None
    return _worker_store.create(data, title=title, owner_token=owner_token)


class Analysts:
    """``create`` runs in one of ``workers`` processes (``0``: in the calling thread)."""

    def __init__(self, store: Store, workers: int) -> None:
        self.store = store
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.store.url, self.store.limits),
                )
            return self._pool

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, data: bytes, *, title: str, owner_token: str) -> Future[SessionRecord]:
        pool = self._executor()
        try:
            return pool.submit(_create_in_worker, data, title, owner_token)
        except BrokenProcessPool:
            self._forget(pool)
            return self._executor().submit(_create_in_worker, data, title, owner_token)

    async def create(self, data: bytes, *, title: str, owner_token: str) -> SessionRecord:
        """Decode, analyse and store ``data`` without blocking the event loop."""
        if self.workers == 0:
            return await asyncio.to_thread(
                self.store.create, data, title=title, owner_token=owner_token
            )
        pool = self._executor()
        future = self.submit(data, title=title, owner_token=owner_token)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            log.error("an analysis worker ended before answering; starting a new pool")
            self._forget(pool)
            raise WorkerLost(
                "the process analysing this input ended before it finished",
                hint="try again; if it happens again, the input may need more memory "
                "than the server allows",
            ) from exc

    def warm(self) -> None:
        """Start the workers now (each imports the decoder, about a second) rather than
        on the first upload."""
        if self.workers:
            pool = self._executor()
            for _ in range(self.workers):
                pool.submit(_ready)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

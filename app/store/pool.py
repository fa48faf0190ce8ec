"""Analysis in worker processes, so the server's own process only serves.

Decoding and analysing an upload is seconds of CPU; in the server's threads it would hold
the GIL and every page read would wait behind it (measured: 50 readers' p99 went from
milliseconds to seconds during 20 uploads). ``Analysts`` stores an upload as a session in
status ``processing`` and hands its id to a pool of processes, each with its own ``Store``
on the same database, which claims the job, analyses and stores it (``Store.process``).
What crosses the process boundary is the session's id one way and its status the other.

The request waits a short grace period: a small input is answered ready (201), a big one
at once as processing (202) while the job runs on. Workers are started with ``spawn``:
never forked from a server that runs threads. A worker that dies (killed, out of memory)
breaks the pool; its job is released and tried again in a new pool, and after
``MAX_ATTEMPTS`` the session fails with the reason. A server that dies takes its workers
with it (each watches its parent); the jobs they held are taken again by the sweep of any
server on the database once their lease has run out (``Store.waiting``). The sweep also
deletes expired sessions.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import IO, Any

from app.decode import Limits

from .records import MAX_ATTEMPTS, SessionRecord
from .sessions import Store

log = logging.getLogger("tcpladder.pool")
WARM_WAIT = 30.0  # seconds the server waits for its workers to start before it serves

_worker_store: Store | None = None


def _start_worker(url: str, limits: Limits, lease: float) -> None:
    global _worker_store
    _worker_store = Store(url, limits=limits, upgrade=False, lease=lease)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker when the server is gone (kill -9 included). A worker holds both ends
    of its task queue's pipe, so it would never see end-of-file: it would wait forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _ready() -> bool:
    return _worker_store is not None


def _process_in_worker(sid: str) -> str:
    assert _worker_store is not None
    return _worker_store.process(sid)


async def sweep_forever(sweep: Callable[[], Awaitable[None]], every: float) -> None:
    """``sweep`` every ``every`` seconds until cancelled; a failed sweep (the database
    away) is logged and tried again next time."""
    while True:
        try:
            await sweep()
        except Exception as exc:
            log.warning("sweep failed: %s", exc)
        await asyncio.sleep(every)


class Analysts:
    """Jobs run in one of ``workers`` processes (``0``: a thread of the calling process,
    one at a time)."""

    def __init__(self, store: Store, workers: int, *, grace: float = 2.0) -> None:
        self.store = store
        self.workers = workers
        self.grace = grace
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._one = asyncio.Semaphore(1)

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.store.url, self.store.limits, self.store.lease),
                )
            return self._pool

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, source: IO[bytes] | bytes, **kw: Any) -> SessionRecord:
        """Store the input as a session, start its analysis and wait up to the grace
        period: the session as it is then (``ready``, ``failed`` or ``processing``)."""
        rec = await asyncio.to_thread(self.store.submit, source, **kw)
        task = self.start(rec.id)
        await asyncio.wait({task}, timeout=self.grace)
        return await asyncio.to_thread(self.store.get, rec.id)

    def start(self, sid: str) -> asyncio.Task[None]:
        """Run the job for ``sid`` (unless this process already runs it)."""
        task = self._running.get(sid)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run(sid))
            self._running[sid] = task
            task.add_done_callback(lambda _t: self._running.pop(sid, None))
        return task

    async def _run(self, sid: str) -> None:
        for _ in range(MAX_ATTEMPTS + 1):
            try:
                await self._once(sid)
                return
            except BrokenProcessPool:
                log.error("the worker analysing session %s ended before answering", sid)
                await asyncio.to_thread(self.store.release, sid)
            except Exception as exc:  # the database away: the sweep takes the job again
                log.warning("job %s left for the sweep: %s", sid, exc)
                return

    async def _once(self, sid: str) -> None:
        if self.workers == 0:
            async with self._one:
                await asyncio.to_thread(self.store.process, sid)
            return
        pool = self._executor()
        try:
            future = pool.submit(_process_in_worker, sid)
        except BrokenProcessPool:
            self._forget(pool)
            raise
        try:
            await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._forget(pool)
            raise

    async def sweep(self) -> None:
        """Take up jobs nobody holds (a server or worker died) and delete expired
        sessions."""
        for sid in await asyncio.to_thread(self.store.waiting):
            self.start(sid)
        await asyncio.to_thread(self.store.purge_expired)

    async def sweep_forever(self, every: float) -> None:
        await sweep_forever(self.sweep, every)

    async def open(self) -> None:
        """Nothing to open: the pool starts with ``warm`` or the first job."""

    async def aclose(self) -> None:
        """Nothing beyond ``close``."""

    async def warm(self, timeout: float = WARM_WAIT) -> None:
        """Start the workers now and wait until each has imported the decoder (about half
        a second), at most ``timeout`` seconds: the server answers once it can analyse, and
        the first upload does not wait for a worker to start (measured: a 250k-packet
        upload sent as the server came up took 2.18 s, later ones 1.75 s)."""
        if not self.workers:
            return
        pool = self._executor()
        started = [asyncio.wrap_future(pool.submit(_ready)) for _ in range(self.workers)]
        done, _pending = await asyncio.wait(started, timeout=timeout)
        for task in done:
            if task.exception() is not None:  # a broken pool is made again by the first job
                log.warning("a worker did not start: %s", task.exception())

    def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

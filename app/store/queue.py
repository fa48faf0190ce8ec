"""Analysis jobs through a PostgreSQL task queue (procrastinate), for several web
replicas and ``tcpladder worker`` processes on any machine sharing one database.

Why procrastinate: it keeps its jobs in the PostgreSQL we already run (no broker to add),
wakes workers with LISTEN/NOTIFY, has worker heartbeats and a documented way to find the
jobs of dead workers, and is maintained (MIT). A job carries only a session id; the input
and the result live in the sessions tables as with the embedded workers, and
``Store.process`` claims the session, so a job delivered twice analyses once.

Recovery, in three layers: procrastinate's stalled-job query finds jobs whose worker
stopped sending heartbeats and retries them; a session still ``processing`` with no
heartbeat of ours for four leases (its job never deferred, the database away at that
moment) is deferred again; and ``Store.process`` fails a session whose workers died
``MAX_ATTEMPTS`` times, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import IO, Any

import procrastinate
from procrastinate.schema import SchemaManager
from sqlalchemy import text
from sqlalchemy.engine import make_url

from .pool import sweep_forever
from .records import SessionRecord
from .sessions import Store

log = logging.getLogger("tcpladder.queue")
QUEUE = "tcpladder-analysis"
TASK = "tcpladder.analyse"
_worker_store: Store | None = None


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _analyse(session_id: str) -> None:
    assert _worker_store is not None, "tcpladder worker sets the store up"
    status = _worker_store.process(session_id)
    log.info("session %s: %s", session_id, status)


def make_app(url: str) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=4)
    )
    app.task(name=TASK, queue=QUEUE, pass_context=False)(_analyse)
    return app


def ensure_schema(store: Store) -> None:
    """procrastinate's tables, made once per database (under an advisory lock, so replicas
    starting together do not race)."""
    with store.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(7315529)"))
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            cursor = conn.connection.cursor()  # no parameters: the script's % stay as they are
            cursor.execute(SchemaManager.get_schema())
            cursor.close()
            log.info("procrastinate schema applied")


class QueuedAnalysts:
    """``Analysts`` for ``TCPLADDER_QUEUE=procrastinate``: jobs are deferred to the queue
    and ``tcpladder worker`` processes run them; this server analyses nothing itself."""

    def __init__(self, store: Store, *, grace: float = 2.0) -> None:
        self.store = store
        self.grace = grace
        self.workers = 0
        self.app = make_app(store.url)
        self._opened = False

    async def open(self) -> None:
        await asyncio.to_thread(ensure_schema, self.store)
        await self.app.open_async()
        self._opened = True

    async def submit(self, source: IO[bytes] | bytes, **kw: Any) -> SessionRecord:
        rec = await asyncio.to_thread(self.store.submit, source, **kw)
        await self._defer(rec.id)
        deadline = time.monotonic() + self.grace
        while True:
            now = await asyncio.to_thread(self.store.get, rec.id)
            if now.status != "processing" or time.monotonic() >= deadline:
                return now
            await asyncio.sleep(0.05)

    async def _defer(self, sid: str) -> None:
        task = self.app.tasks[TASK]
        with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):  # one waits
            await task.configure(queueing_lock=sid).defer_async(session_id=sid)

    async def sweep(self) -> None:
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.store.lease
        ):
            log.warning("retrying job %s of a worker that stopped", job.id)
            await manager.retry_job(job)
        for sid in await asyncio.to_thread(self.store.waiting, older_than=4 * self.store.lease):
            await self._defer(sid)
        await asyncio.to_thread(self.store.purge_expired)

    async def sweep_forever(self, every: float) -> None:
        await sweep_forever(self.sweep, every)

    async def warm(self) -> None:
        """Nothing to start: the workers are ``tcpladder worker`` processes."""

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        if self._opened:
            await self.app.close_async()


def run_worker(store: Store, *, name: str | None = None) -> None:
    """A worker: take analysis jobs until stopped (SIGINT, SIGTERM). One job at a time:
    the work is CPU-bound, so more run as more processes, not threads."""
    global _worker_store
    _worker_store = store
    ensure_schema(store)
    app = make_app(store.url)
    beat = max(0.5, store.lease / 3)
    with app.open():
        app.run_worker(
            queues=[QUEUE],
            concurrency=1,
            name=name,
            update_heartbeat_interval=beat,
            stalled_worker_timeout=store.lease,
        )

"""Uploads analysed in worker processes: the same session as in-process, errors that
explain themselves across the process boundary, a killed worker's job taken again, a job
whose workers keep dying failed with the reason, orphaned jobs taken up by the sweep."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app.decode.model.errors import TraceError
from app.store import Store, default_url
from app.store.pool import Analysts, _ready
from app.store.records import LEASE, MAX_ATTEMPTS
from app.store.schema import sessions
from tests.conftest import load

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: other tests (Playwright's sync API) may
    leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


@pytest.fixture
def analysts(tmp_path: Path) -> Iterator[Analysts]:
    store = Store(default_url(tmp_path / "data"))
    out = Analysts(store, workers=1, grace=30)
    yield out
    out.close()
    store.close()


def test_a_worker_stores_the_same_session_the_server_reads(analysts: Analysts) -> None:
    rec = _run(analysts.submit(load("seed000_ipv6_vvv.txt"), title="t", owner_token="o"))
    assert rec.status == "ready" and rec.progress is None
    store = analysts.store
    assert store.get(rec.id) == rec
    local = store.create(load("seed000_ipv6_vvv.txt"), title="t", owner_token="o")
    assert store.flows(rec.id) == store.flows(local.id)
    assert store.window(rec.id, 1, 0, 100) == store.window(local.id, 1, 0, 100)
    assert store.source(rec.id) == store.source(local.id)


def test_warm_returns_once_the_workers_have_started(analysts: Analysts) -> None:
    _run(analysts.warm())
    pool = analysts._pool
    assert pool is not None and len(pool._processes) == analysts.workers
    assert pool.submit(_ready).result(timeout=30) is True  # its store is made


def test_a_pool_of_no_workers_has_nothing_to_warm(tmp_path: Path) -> None:
    store = Store(default_url(tmp_path))
    analysts = Analysts(store, workers=0)
    _run(analysts.warm())
    assert analysts._pool is None
    store.close()


def test_a_trace_error_crosses_the_process_boundary_whole(analysts: Analysts) -> None:
    got = _run(analysts.submit(b"hello\nnot tcpdump\n", title="", owner_token="o"))
    assert got.status == "failed"
    with pytest.raises(TraceError) as local:
        analysts.store.create(b"hello\nnot tcpdump\n", title="", owner_token="o")
    failure = got.failure()
    assert failure.as_dict() == local.value.as_dict() and failure.status == local.value.status
    assert failure.code == local.value.code


def test_a_killed_worker_s_job_is_taken_again(analysts: Analysts) -> None:
    async def run() -> None:
        busy = analysts._executor().submit(time.sleep, 30)  # keeps the one worker
        waiting = asyncio.ensure_future(
            analysts.submit(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
        )
        await asyncio.sleep(0.5)
        pool = analysts._pool
        assert pool is not None
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        rec = await waiting
        assert busy.exception() is not None
        assert rec.status == "ready" and rec.packet_count > 0

    _run(run())


def test_a_job_whose_worker_keeps_dying_fails_with_the_reason(tmp_path: Path) -> None:
    from sqlalchemy import update

    store = Store(default_url(tmp_path))
    rec = store.submit(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
    with store.engine.begin() as conn:  # as after MAX_ATTEMPTS workers died holding it
        conn.execute(
            update(sessions)
            .where(sessions.c.id == rec.id)
            .values(attempts=MAX_ATTEMPTS, heartbeat_at=time.time() - LEASE - 1)
        )
    assert store.process(rec.id) == "failed"
    failure = store.get(rec.id).failure()
    assert failure.code == "trace.worker_lost" and f"{MAX_ATTEMPTS} times" in failure.message
    store.close()


def test_a_live_job_is_not_taken_twice_and_an_orphan_is_swept_up(tmp_path: Path) -> None:
    from sqlalchemy import update

    store = Store(default_url(tmp_path))
    rec = store.submit(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
    store.heartbeat(rec.id)  # a live worker holds it
    assert store.process(rec.id) == "processing" and store.waiting(older_than=0) == []
    with store.engine.begin() as conn:  # its server died: no heartbeat since, long ago
        conn.execute(
            update(sessions)
            .where(sessions.c.id == rec.id)
            .values(heartbeat_at=time.time() - LEASE - 1, created_at=time.time() - 3600)
        )
    assert store.waiting() == [rec.id] and store.jobs() == {"depth": 1, "orphaned": 1}
    analysts = Analysts(store, workers=0)

    async def sweep() -> None:
        await analysts.sweep()
        await asyncio.gather(*analysts._running.values())

    _run(sweep())
    assert store.get(rec.id).status == "ready" and store.jobs()["depth"] == 0
    store.close()

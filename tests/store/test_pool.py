"""Uploads analysed in worker processes: the same session as in-process, errors that
explain themselves across the process boundary, and a lost worker is a 503, not a hang."""

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
from app.store.pool import Analysts, WorkerLost
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
    out = Analysts(store, workers=1)
    yield out
    out.close()
    store.close()


def test_a_worker_stores_the_same_session_the_server_reads(analysts: Analysts) -> None:
    rec = _run(analysts.create(load("seed000_ipv6_vvv.txt"), title="t", owner_token="o"))
    store = analysts.store
    assert store.get(rec.id) == rec
    local = store.create(load("seed000_ipv6_vvv.txt"), title="t", owner_token="o")
    assert store.flows(rec.id) == store.flows(local.id)
    assert store.window(rec.id, 1, 0, 100) == store.window(local.id, 1, 0, 100)
    assert store.source(rec.id) == store.source(local.id)


def test_a_trace_error_crosses_the_process_boundary_whole(analysts: Analysts) -> None:
    with pytest.raises(TraceError) as got:
        _run(analysts.create(b"hello\nnot tcpdump\n", title="", owner_token="o"))
    with pytest.raises(TraceError) as local:
        analysts.store.create(b"hello\nnot tcpdump\n", title="", owner_token="o")
    assert type(got.value) is type(local.value)
    assert got.value.as_dict() == local.value.as_dict() and got.value.status == local.value.status


def test_a_killed_worker_is_a_503_and_the_next_upload_works(analysts: Analysts) -> None:
    async def run() -> None:
        busy = analysts._executor().submit(time.sleep, 30)  # keeps the one worker
        waiting = asyncio.ensure_future(
            analysts.create(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
        )
        await asyncio.sleep(0.2)
        pool = analysts._pool
        assert pool is not None
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerLost) as lost:
            await waiting
        assert lost.value.status == 503 and lost.value.code == "server.busy"
        assert busy.exception() is not None
        again = await analysts.create(load("seed000_ipv6_vvv.txt"), title="", owner_token="o")
        assert analysts.store.get(again.id).packet_count == again.packet_count

    _run(run())

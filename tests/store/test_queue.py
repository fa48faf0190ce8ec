"""Scale-out on PostgreSQL (a throwaway cluster): two web replicas that analyse nothing
themselves, ``tcpladder worker`` processes taking jobs from the procrastinate queue, and a
worker killed mid-job whose job is taken again and finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load
from tests.postgres import Cluster
from tests.server import ROOT, big_capture, free_port, post_raw, serve

ENV = {
    "TCPLADDER_QUEUE": "procrastinate",
    "TCPLADDER_GRACE": "0",
    "TCPLADDER_LEASE": "2",
    "TCPLADDER_SWEEP": "1",
    "TCPLADDER_MAX_INPUT": str(64 << 20),
}


def _worker(url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=url, **ENV)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--log-level", "warning"], env=env, cwd=ROOT
    )


def _json(url: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
    if data is not None:
        return post_raw(url, data)
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _ready(port: int, sid: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = _json(f"http://127.0.0.1:{port}/api/sessions/{sid}/status")
        if body["status"] != "processing":
            return body
        time.sleep(0.1)
    raise AssertionError(f"session {sid} still processing after {timeout} s")


@pytest.fixture
def replicas(postgres: Cluster, tmp_path: Path) -> Iterator[tuple[int, int]]:
    env = dict(ENV, DATABASE_URL=postgres.url)
    a, b = free_port(), free_port()
    servers = [serve(a, data=tmp_path / "a", env=env, workers=0)]
    servers.append(serve(b, data=tmp_path / "b", env=env, workers=0))
    try:
        yield a, b
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=20)


def test_replicas_share_jobs_through_the_queue(
    postgres: Cluster, replicas: tuple[int, int]
) -> None:
    a, b = replicas
    status, made = _json(f"http://127.0.0.1:{a}/api/sessions", load("http-like.pcap"))
    assert status == 202 and made["status"] == "processing"  # no worker yet: it waits
    time.sleep(0.5)
    _, still = _json(f"http://127.0.0.1:{b}/api/sessions/{made['id']}/status")
    assert still["status"] == "processing"
    worker = _worker(postgres.url)
    try:
        assert _ready(b, made["id"])["status"] == "ready"  # made through a, read through b
        _, doc = _json(f"http://127.0.0.1:{b}/api/sessions/{made['id']}")
        assert doc["flows"][0]["ended_by"] == "three_way_close"
        code, bad = _json(f"http://127.0.0.1:{b}/api/sessions", b"not tcpdump at all\n")
        if code == 400:  # the worker was quicker than the answer: the error, nothing kept
            assert bad["error"]["code"] == "trace.no_packets"
        else:
            failed = _ready(a, bad["id"])
            assert failed["status"] == "failed" and failed["error"]["code"] == "trace.no_packets"
        _, health = _json(f"http://127.0.0.1:{a}/healthz")
        assert health["queue"]["kind"] == "procrastinate" and health["database"] == "postgresql"
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_finished(
    postgres: Cluster, replicas: tuple[int, int], tmp_path: Path
) -> None:
    a, _ = replicas
    big = big_capture(tmp_path / "big.pcap", 80000)
    worker = _worker(postgres.url)
    try:
        _, made = _json(f"http://127.0.0.1:{a}/api/sessions", big.read_bytes())
        sid = made["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the worker holds it
            _, now = _json(f"http://127.0.0.1:{a}/api/sessions/{sid}/status")
            if now.get("progress", {}).get("stage") not in (None, "queued"):
                break
            time.sleep(0.02)
        assert now["status"] == "processing", now
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        worker = _worker(postgres.url)
        done = _ready(a, sid, timeout=120)
        assert done["status"] == "ready" and done["packet_count"] == 80000
    finally:
        worker.kill()
        worker.wait(timeout=20)

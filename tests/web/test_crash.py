"""kill -9 of a real server while uploads are being analysed, on SQLite and on PostgreSQL:
the store it leaves behind opens (SQLite's integrity check passes) and holds only whole
sessions (ready ones read to the end); the analysis workers do not outlive the server; a
new server serves what was stored before and finishes every acknowledged upload that was
still processing."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from app.store import Store, default_url
from app.store.schema import sessions
from tests.conftest import load
from tests.server import big_capture, free_port, serve


def _serve(data: Path, port: int, url: str | None) -> subprocess.Popen[bytes]:
    env = {
        **({"DATABASE_URL": url} if url else {}),
        "TCPLADDER_MAX_INPUT": str(64 << 20),
        "TCPLADDER_GRACE": "0",  # acknowledged at once, as processing
        "TCPLADDER_LEASE": "2",
        "TCPLADDER_SWEEP": "1",
    }
    return serve(port, data=data, env=env)


def _post(port: int, data: bytes, acknowledged: list[str]) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sessions",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            acknowledged.append(json.loads(r.read())["id"])
    except (OSError, urllib.error.URLError):
        pass


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_during_uploads_leaves_a_whole_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("postgres").database("crash") if backend == "postgres" else None
    data = tmp_path / "data"
    big = big_capture(tmp_path / "big.pcap", 60000)
    port = free_port()
    server = _serve(data, port, url)
    try:
        before = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/sessions",
            data=load("seed000_ipv6_vvv.txt"),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(before, timeout=60) as r:
            kept = json.loads(r.read())["id"]
        acknowledged: list[str] = []
        uploads = [
            threading.Thread(target=_post, args=(port, big.read_bytes(), acknowledged))
            for _ in range(4)
        ]
        for t in uploads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the worker is analysing, more jobs wait for it
        workers = _children(server.pid)
        assert workers, "no analysis worker was started"
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        for t in uploads:
            t.join(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "a worker outlived the server"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    if url is None:
        with sqlite3.connect(data / "tcpladder.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store(url or default_url(data))
    try:
        with store.engine.connect() as conn:
            ids = [str(row[0]) for row in conn.execute(select(sessions.c.id))]
        assert kept in ids and set(acknowledged) <= set(ids) and len(acknowledged) == 4
        for sid in ids:  # every session stored is whole: its document reads to the end
            rec = store.get(sid)
            if rec.status == "processing":
                continue
            doc = json.loads("".join(store.stream_json(sid)))
            assert doc["source"]["packet_count"] == rec.packet_count
            assert len(doc["flows"]) == rec.flow_count
    finally:
        store.close()

    port = free_port()
    again = _serve(data, port, url)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/s/{kept}", timeout=30) as r:
            assert r.status == 200
        # the uploads that were processing when the server died: taken up and finished
        deadline = time.monotonic() + 60
        pending = set(acknowledged)
        while pending and time.monotonic() < deadline:
            for sid in list(pending):
                url = f"http://127.0.0.1:{port}/api/sessions/{sid}/status"
                with urllib.request.urlopen(url, timeout=30) as r:
                    status = json.loads(r.read())["status"]
                assert status != "failed"
                if status == "ready":
                    pending.discard(sid)
            time.sleep(0.2)
        assert not pending, f"{len(pending)} acknowledged upload(s) never finished"
    finally:
        again.terminate()
        again.wait(timeout=10)

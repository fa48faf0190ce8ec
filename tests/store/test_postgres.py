"""The store on a real PostgreSQL server (a throwaway cluster, tests/postgres.py): the same
sessions as on SQLite, uploads through a worker process, and a restart of the database
under load is a 503 with Retry-After while it is down, never a 500, and nothing after."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.store import Store, default_url
from app.store.schema import sessions
from app.web.app import create_app
from app.web.settings import Settings
from tests.conftest import load
from tests.postgres import Cluster
from tests.server import big_capture


def _doc(store: Store, sid: str) -> dict[str, object]:
    out: dict[str, object] = json.loads("".join(store.stream_json(sid)))
    return out


def test_the_same_sessions_as_on_sqlite(postgres: Cluster, tmp_path: Path) -> None:
    pg, lite = Store(postgres.url), Store(default_url(tmp_path / "lite"))
    try:
        for name in ("seed000_ipv6_vvv.txt", "http-like.pcap"):
            a = pg.create(load(name), title=name, owner_token="o")
            b = lite.create(load(name), title=name, owner_token="o")
            assert (a.packet_count, a.flow_count) == (b.packet_count, b.flow_count)
            assert _doc(pg, a.id) == _doc(lite, b.id)
            assert pg.window(a.id, 1, 0, 50) == lite.window(b.id, 1, 0, 50)
            assert pg.detail(a.id, 1) == lite.detail(b.id, 1)
            pg.delete(a.id, "o")
    finally:
        pg.close()
        lite.close()


def test_any_title_and_note_is_stored_on_both(postgres: Cluster, tmp_path: Path) -> None:
    """NUL (which PostgreSQL refuses in text), other controls and a lone surrogate (a JSON
    body can carry one) are stored as the same readable text on both databases."""
    for store in (Store(postgres.url), Store(default_url(tmp_path / "lite"))):
        try:
            rec = store.create(load("seed000_ipv6_vvv.txt"), title="a\x00b\x1bc", owner_token="o")
            assert store.get(rec.id).title == "a b c"
            store.set_note(rec.id, "o", title="t\ud800", note="one\x00\r\ntwo\tthree")
            got = store.get(rec.id)
            assert (got.title, got.note) == ("t?", "one\ntwo\tthree")
        finally:
            store.close()


def test_uploads_through_a_worker_into_postgres(postgres: Cluster, settings: Settings) -> None:
    app = create_app(replace(settings, database_url=postgres.url, workers=1))
    with TestClient(app) as client:
        r = client.post("/api/sessions", files={"file": ("a.pcap", load("http-like.pcap"))})
        assert r.status_code == 201, r.text
        assert client.get(f"/api/sessions/{r.json()['id']}/flows/1").status_code == 200
    app.state.store.close()


def test_a_restart_of_postgres_under_load(postgres: Cluster, settings: Settings) -> None:
    app = create_app(replace(settings, database_url=postgres.url, workers=0))
    with TestClient(app) as client:
        sid = client.post("/api/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode()})
        sid = sid.json()["id"]
        statuses: list[int] = []
        stop = threading.Event()

        def read() -> None:
            with TestClient(app) as reader:
                while not stop.is_set():
                    statuses.append(reader.get(f"/api/sessions/{sid}/flows/1").status_code)
                    statuses.append(reader.get(f"/s/{sid}").status_code)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        time.sleep(0.5)
        postgres.stop()
        try:
            down = client.get(f"/api/sessions/{sid}?summary=true")
            assert down.status_code == 503 and down.headers["retry-after"] == "5"
            assert down.json()["error"]["code"] == "server.store_unavailable"
            page = client.get(f"/s/{sid}/p/1")
            assert page.status_code == 503 and "cannot be reached" in page.text
            up = client.post("/api/sessions", data={"text": load("seed000_ipv6_vvv.txt").decode()})
            assert (
                up.status_code == 503 and up.json()["error"]["code"] == "server.store_unavailable"
            )
            time.sleep(0.5)
        finally:
            postgres.start()
        time.sleep(0.5)
        stop.set()
        for t in readers:
            t.join()
        assert set(statuses) <= {200, 503} and 503 in statuses, sorted(set(statuses))
        assert statuses[-6:] == [200] * 6  # back as soon as the database is
        after = client.get(f"/api/sessions/{sid}?summary=true")
        assert after.status_code == 200
    app.state.store.close()


def test_a_restart_of_postgres_during_an_analysis(
    postgres: Cluster, settings: Settings, tmp_path: Path
) -> None:
    """The database goes away while a worker analyses a big capture: the job is not failed
    for it (the input was fine) and not left processing: it is taken again and finishes."""
    big = big_capture(tmp_path / "big.pcap", 300_000).read_bytes()
    quick = replace(settings, database_url=postgres.url, workers=1, lease=2.0, sweep_every=0.5)
    app = create_app(replace(quick, grace=0.0, max_input=len(big) + 1))
    with TestClient(app) as client:
        r = client.post("/api/sessions", files={"file": ("big.pcap", big)})
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        for _ in range(200):  # until the worker is inside the job
            progress = client.get(f"/api/sessions/{sid}/status").json().get("progress", {})
            if progress.get("stage") in ("reading", "analysing"):
                break
            time.sleep(0.05)
        postgres.stop()
        time.sleep(3)
        postgres.start()
        states = []
        for _ in range(600):
            got = client.get(f"/api/sessions/{sid}/status")
            if got.status_code == 200:
                states.append(got.json()["status"])
                if states[-1] != "processing":
                    break
            time.sleep(0.1)
        assert states[-1] == "ready", (states[-1], got.json())
        assert client.get(f"/api/sessions/{sid}/flows/1").status_code == 200
        with app.state.store.engine.connect() as conn:
            attempts = conn.execute(
                select(sessions.c.attempts).where(sessions.c.id == sid)
            ).scalar()
        assert attempts == 2  # the one the restart cut short, and the one that finished
    app.state.store.close()

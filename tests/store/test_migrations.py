"""Schema migrations (Alembic): a new database is made by them and matches the code's
schema exactly; a database made before migrations existed is stamped, upgraded, and its
sessions still open; on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from app.store import Store, default_url
from app.store.records import hash_token
from app.store.schema import HEAD, metadata, normalise_url, revision
from tests.conftest import load
from tests.postgres import Cluster

# the schema as the code made it (metadata.create_all) before there were migrations
BEFORE = [
    """CREATE TABLE sessions (id VARCHAR(40) NOT NULL, created_at FLOAT NOT NULL,
    owner_hash VARCHAR(64) NOT NULL, title TEXT NOT NULL, kind VARCHAR(16) NOT NULL,
    packet_count INTEGER NOT NULL, flow_count INTEGER NOT NULL, input BLOB NOT NULL,
    result BLOB NOT NULL, schema_version INTEGER NOT NULL, PRIMARY KEY (id))""",
    """CREATE TABLE chunks (session_id VARCHAR(40) NOT NULL, kind VARCHAR(1) NOT NULL,
    chunk INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (session_id, kind, chunk))""",
]


def _no_drift(url: str) -> None:
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        assert revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], diff


def test_a_new_database_is_made_by_the_migrations(tmp_path: Path) -> None:
    Store(default_url(tmp_path)).close()
    _no_drift(default_url(tmp_path))


def test_a_database_from_before_migrations_is_upgraded_and_its_sessions_open(
    tmp_path: Path,
) -> None:
    import zlib

    url = default_url(tmp_path)
    engine = create_engine(url)
    data = load("seed001_pktap_long_flags.txt")
    with engine.begin() as conn:
        for statement in BEFORE:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO sessions VALUES ('old-session-id-0123456789', :t, :o, 'old', "
                "'text', 10, 1, :i, :r, 1)"
            ),
            {
                "t": time.time(),
                "o": hash_token("o"),
                "i": zlib.compress(data),
                "r": zlib.compress(b'{"source": {}, "flows": []}'),
            },
        )
    engine.dispose()
    store = Store(url)
    old = store.get("old-session-id-0123456789")
    assert old.status == "ready" and old.expires_at is None and old.note == ""
    fresh = store.create(data, title="new", owner_token="o")
    assert "".join(store.stream_json(old.id)) == "".join(store.stream_json(fresh.id))
    store.close()
    _no_drift(url)


def test_postgres_is_made_by_the_same_migrations(postgres: Cluster) -> None:
    Store(postgres.url).close()
    _no_drift(postgres.url)

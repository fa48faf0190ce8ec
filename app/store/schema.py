"""The database schema, and the migrations that bring any database up to it.

``metadata`` is the schema the code reads and writes; ``migrations/`` holds how each
revision got there (Alembic). A database made before migrations existed (tables present,
no ``alembic_version``) is stamped as the first revision, then upgraded: old sessions still
open. Several processes may start on one database at once (web replicas, workers): the
upgrade runs under a lock (PostgreSQL: an advisory lock; SQLite: a lock file beside the
database), and the ones that come later find it done.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"

metadata = MetaData()
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("owner_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("packet_count", Integer, nullable=False),
    Column("flow_count", Integer, nullable=False),
    # the input as received, zstd; empty when it is kept as 'i' chunks or not kept at all
    Column("input", LargeBinary, nullable=False),
    # schema_version 1: the whole analysis as one zlib'd JSON document; 2: empty (chunks)
    Column("result", LargeBinary, nullable=False),
    Column("schema_version", Integer, nullable=False),
    # revision 0002: the analysis as a job, expiry, the owner's note, upload options
    Column("status", String(16), nullable=False, server_default="ready"),
    Column("error", Text),  # failed: the error as JSON (code, message, hint, status)
    Column("progress", Text),  # processing: {"stage", "done", "total"} as JSON
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("heartbeat_at", Float),  # a worker holding the job writes it every few seconds
    Column("expires_at", Float),  # None: never
    Column("note", Text, nullable=False, server_default=""),
    Column("options", Text, nullable=False, server_default="{}"),
    Index("sessions_status", "status"),
    Index("sessions_expires_at", "expires_at"),
)
chunk_table = Table(
    "chunks",
    metadata,
    Column("session_id", String(40), primary_key=True),
    # m meta, s source, f connections, p positions, r row map, i the input (zstd pieces)
    Column("kind", String(1), primary_key=True),
    Column("chunk", Integer, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7315528)"))  # 'tcpl' in a number
            yield conn
        return
    database = engine.url.database
    lock_path = f"{database}.migrate-lock" if database and database != ":memory:" else None
    if lock_path is None:
        with engine.begin() as conn:
            yield conn
        return
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with engine.begin() as conn:
            yield conn


def revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the database to ``HEAD`` (creating it when empty)."""
    from alembic import command
    from alembic.config import Config

    with engine.connect() as conn:
        if revision(conn) == HEAD:
            return  # the common start: nothing to lock or load
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine) as conn:
        cfg.attributes["connection"] = conn
        if revision(conn) is None and inspect(conn).has_table("sessions"):
            command.stamp(cfg, "0001")  # made before migrations: that is revision 0001
        command.upgrade(cfg, "head")

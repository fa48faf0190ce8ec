"""Sessions and permalinks, stored with SQLAlchemy Core.

SQLite under ./data/ by default; any SQLAlchemy URL via DATABASE_URL (PostgreSQL:
``postgresql://user@host/db``, driven by psycopg 3).  A session keeps the original input
(compressed) and the analysis JSON; the page re-derives explanations from the input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from threading import Lock
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from app.decode import Analysis, Limits, analyse, read_input, to_json
from app.decode.explain.detail import Detail, packet_detail
from app.decode.model.errors import Forbidden, NotFound

SCHEMA_VERSION = 1
ID_BYTES = 18  # 144 random bits, base64url: 24 characters

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
    Column("input", LargeBinary, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("schema_version", Integer, nullable=False),
)


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def default_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'tcpladder.sqlite3'}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(slots=True)
class SessionRecord:
    id: str
    created_at: float
    owner_hash: str
    title: str
    kind: str
    packet_count: int
    flow_count: int
    result: dict[str, Any]

    def owned_by(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.owner_hash, hash_token(token or ""))


# Record fields stored in columns of the same name ("result" is stored compressed).
_RECORD_COLUMNS = tuple(f.name for f in dataclass_fields(SessionRecord) if f.name != "result")


def _missing(sid: str) -> NotFound:
    return NotFound(f"no session {sid!r}: it never existed or its owner deleted it")


class Store:
    def __init__(self, url: str, *, limits: Limits | None = None, cache_size: int = 8) -> None:
        self.url = normalise_url(url)
        self.limits = limits or Limits()
        self.engine: Engine = create_engine(self.url, future=True)
        metadata.create_all(self.engine)
        self._cache: OrderedDict[str, Analysis] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def close(self) -> None:
        self.engine.dispose()

    def create(self, data: bytes, *, title: str, owner_token: str) -> SessionRecord:
        """Decode, analyse and store; raises TraceError for input that cannot be explained."""
        analysis = analyse(read_input(data, self.limits))
        result = to_json(analysis)
        sid = secrets.token_urlsafe(ID_BYTES)
        rec = SessionRecord(
            id=sid,
            created_at=time.time(),
            owner_hash=hash_token(owner_token),
            title=title[:200],
            kind=analysis.trace.kind,
            packet_count=analysis.trace.packet_count,
            flow_count=analysis.flow_count,
            result=result,
        )
        values = {name: getattr(rec, name) for name in _RECORD_COLUMNS}
        values.update(
            input=zlib.compress(data, 6),
            result=zlib.compress(json.dumps(result).encode(), 6),
            schema_version=SCHEMA_VERSION,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(**values))
        self._remember(sid, analysis)
        return rec

    def get(self, sid: str) -> SessionRecord:
        with self.engine.connect() as conn:
            cols = [sessions.c[name] for name in (*_RECORD_COLUMNS, "result")]
            row = conn.execute(select(*cols).where(sessions.c.id == sid)).mappings().first()
        if row is None:
            raise _missing(sid)
        fields = {name: row[name] for name in _RECORD_COLUMNS}
        return SessionRecord(**fields, result=json.loads(zlib.decompress(row["result"])))

    def input(self, sid: str) -> bytes:
        with self.engine.connect() as conn:
            blob = conn.execute(select(sessions.c.input).where(sessions.c.id == sid)).scalar()
        if blob is None:
            raise _missing(sid)
        return zlib.decompress(blob)

    def analysis(self, sid: str) -> Analysis:
        with self._lock:
            hit = self._cache.get(sid)
            if hit is not None:
                self._cache.move_to_end(sid)
                return hit
        analysis = analyse(read_input(self.input(sid), self.limits))
        self._remember(sid, analysis)
        return analysis

    def detail(self, sid: str, n: int) -> Detail:
        """Packet ``n`` of a session dissected in full by Scapy."""
        return packet_detail(self.analysis(sid), n, self.input(sid))

    def delete(self, sid: str, owner_token: str | None) -> None:
        rec = self.get(sid)
        if not rec.owned_by(owner_token):
            raise Forbidden(
                "only the browser or API client that created this session can delete it"
            )
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == sid))
        with self._lock:
            self._cache.pop(sid, None)

    def _remember(self, sid: str, analysis: Analysis) -> None:
        with self._lock:
            self._cache[sid] = analysis
            self._cache.move_to_end(sid)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

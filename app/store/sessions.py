"""Sessions and permalinks, stored with SQLAlchemy Core.

SQLite under ./data/ by default (WAL mode); any SQLAlchemy URL via DATABASE_URL (PostgreSQL:
``postgresql://user@host/db``, driven by psycopg 3).  A session keeps the original input
(compressed, for the packet detail view) and its analysis as column chunks
(``app.store.columns``): a page reads the connection list and one window of one connection,
never the whole analysis.  Sessions stored before the chunks existed (one JSON document,
schema_version 1) are analysed again from their input the first time they are opened, and
stored as chunks from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from app.decode import Analysis, Limits, analyse
from app.decode.analysis.flows import Flow, flow_meta, window_flow
from app.decode.explain.detail import Detail, packet_detail
from app.decode.export import shapes
from app.decode.export.document import (
    PacketBlocks,
    narrative_json,
    negotiation_json,
    packets_json,
    story_lists,
)
from app.decode.model.errors import Forbidden, InputTooLarge, NotFound, TraceError, Unreadable
from app.decode.model.memory import paused_gc
from app.decode.model.table import PacketTable
from app.decode.readers.anonymise import anonymise
from app.decode.readers.ingest import read_stream

from .columns import FORMAT, chunks, decompress_input, unpack, unpack_positions
from .inputs import Digest, InputReader, input_pieces
from .schema import chunk_table, migrate, normalise_url, sessions

if TYPE_CHECKING:
    from .jobs import Job

log = logging.getLogger("tcpladder.store")
ID_BYTES = 18  # 144 random bits, base64url: 24 characters
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, with the reason
LEASE = 30.0  # seconds without a heartbeat after which a job's worker is taken for dead


def default_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'tcpladder.sqlite3'}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(slots=True)
class Options:
    """Chosen at upload: ``keep_input`` false keeps only the analysis (no packet bytes for
    the detail view); ``anonymise`` replaces every address with a pseudonym and drops
    payload bytes, in everything stored and shown."""

    keep_input: bool = True
    anonymise: bool = False


@dataclass(slots=True)
class SessionRecord:
    id: str
    created_at: float
    owner_hash: str
    title: str
    kind: str
    packet_count: int
    flow_count: int
    status: str = "ready"  # processing, ready, failed
    expires_at: float | None = None
    note: str = ""
    progress: dict[str, Any] | None = None  # processing: stage, done, total
    error: dict[str, Any] | None = None  # failed: the error, as the API shows errors
    options: Options = field(default_factory=Options)

    def owned_by(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.owner_hash, hash_token(token or ""))

    def failure(self) -> TraceError:
        """The stored error of a failed analysis, as the error it was."""
        return TraceError.from_dict(self.error or {"code": "trace.unreadable", "status": 422})


_PLAIN = ("id", "created_at", "owner_hash", "title", "kind", "packet_count", "flow_count")
_RECORD_COLUMNS = (*_PLAIN, "status", "expires_at", "note", "progress", "error", "options")


def _record(row: Any) -> SessionRecord:
    options = json.loads(row["options"] or "{}")
    rec = SessionRecord(
        **{name: row[name] for name in (*_PLAIN, "status", "expires_at", "note")},
        progress=json.loads(row["progress"]) if row["progress"] else None,
        error=json.loads(row["error"]) if row["error"] else None,
        options=Options(**{k: bool(v) for k, v in options.items() if k in Options.__slots__}),
    )
    if rec.status == "processing" and rec.options.anonymise:
        rec.title = "anonymised upload"  # the title is rewritten with the trace's pseudonyms
    return rec


class NotReady(TraceError):
    """The session's analysis is still running: its parts are not there yet."""

    status = 409
    code = "session.processing"
    retry_after = 1


@dataclass(slots=True)
class Meta:
    """What every read of a stored analysis needs: hosts, link types, chunk sizes."""

    hosts: list[str]
    linktypes: list[int]
    table_kind: str
    packet_chunk: int
    flow_chunk: int
    row_chunk: int
    packet_count: int
    flow_count: int
    port_names: dict[int, str]


def _unreadable(exc: Exception, digest: str, size: int) -> Unreadable:
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1] if frames else None  # the innermost frame: where it broke
    place = (
        f"{Path(where.filename).name}:{where.lineno} ({where.name})" if where is not None else "?"
    )
    log.error(
        "decoder failure on input sha256=%s (%d bytes) at %s: %s: %s",
        digest,
        size,
        place,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return Unreadable(
        f"tcpladder could not read this input: {type(exc).__name__} at {place}. This is a "
        f"bug in tcpladder, logged as input {digest[:16]}",
        hint="The rest of the site works; a smaller or different capture may be read.",
    )


# what the database driver raises when the server is down, restarting or unreachable
UNAVAILABLE = (OperationalError, InterfaceError)


class StoreUnavailable(TraceError):
    """The database cannot be reached (restarting, down): nothing is lost, try again."""

    status = 503
    code = "server.store_unavailable"
    retry_after = 5

    def __init__(self, cause: BaseException | str | None = None) -> None:
        # (a str when unpickled from a worker: the message; already logged there)
        super().__init__(
            "the session database cannot be reached right now",
            hint="nothing was stored or lost; try again in a few seconds",
        )
        if isinstance(cause, BaseException):
            log.warning("database unavailable: %s", (str(cause).splitlines() or [""])[0])


def _gave_up(attempts: int) -> dict[str, Any]:
    return {
        "code": "trace.worker_lost",
        "message": f"the process analysing this input stopped {attempts} times before it "
        "finished (killed, or out of memory)",
        "hint": "The input may need more memory than this server allows; try a smaller "
        "capture, e.g. filtered with tcpdump -r in.pcap -w out.pcap 'port 443'.",
        "status": 422,  # not a passing state: this input is not analysed, ever
    }


def _missing(sid: str) -> NotFound:
    return NotFound(f"no session {sid!r}: it never existed or its owner deleted it")


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


class Store:
    def __init__(
        self,
        url: str,
        *,
        limits: Limits | None = None,
        upgrade: bool = True,
        lease: float = LEASE,
    ) -> None:
        self.url = normalise_url(url)
        self.limits = limits or Limits()
        self.lease = lease  # seconds without a heartbeat before a job is taken for orphaned
        # pre-ping: a connection the database closed (PostgreSQL restarted) is replaced
        # before use instead of failing the request that draws it from the pool
        self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            _sqlite_pragmas(self.engine)
        if upgrade:
            migrate(self.engine)
        self._meta: dict[str, Meta] = {}

    def ping(self) -> str:
        """The database's dialect name, once a trivial query went through (``/healthz``)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return str(self.engine.dialect.name)

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -------------------------------------------------------------------------

    def submit(
        self,
        source: IO[bytes] | bytes,
        *,
        title: str,
        owner_token: str,
        expires_at: float | None = None,
        options: Options | None = None,
    ) -> SessionRecord:
        """Store an input for analysis (``process``): the session exists at once, with
        status ``processing``; the input is compressed and written a piece at a time."""
        if isinstance(source, bytes | bytearray):
            source = io.BytesIO(source)
        options = options or Options()
        if options.anonymise:
            options = Options(keep_input=False, anonymise=True)  # the raw input has addresses
        rec = SessionRecord(
            id=secrets.token_urlsafe(ID_BYTES),
            created_at=time.time(),
            owner_hash=hash_token(owner_token),
            title=storable(title, 200),
            kind="pending",
            packet_count=0,
            flow_count=0,
            status="processing",
            expires_at=expires_at,
            options=options,
        )
        digest = Digest()
        with self.engine.begin() as conn:
            for k, piece in enumerate(input_pieces(source, digest)):
                conn.execute(
                    insert(chunk_table).values(session_id=rec.id, kind="i", chunk=k, data=piece)
                )
            conn.execute(
                insert(sessions).values(
                    **{name: getattr(rec, name) for name in _PLAIN},
                    status=rec.status,
                    expires_at=expires_at,
                    progress=_compact({"stage": "queued", "done": 0, "total": digest.size}),
                    options=_compact(asdict(rec.options)),
                    input=b"",
                    result=b"",
                    schema_version=FORMAT,
                    heartbeat_at=None,
                )
            )
        log.info("session %s: %d bytes stored, sha256=%s", rec.id, digest.size, digest.hexdigest())
        return rec

    def create(self, data: bytes, *, title: str, owner_token: str, **kw: Any) -> SessionRecord:
        """Store, analyse and return the ready session; input that cannot be explained
        raises its TraceError and leaves nothing stored."""
        rec = self.submit(data, title=title, owner_token=owner_token, **kw)
        self.process(rec.id)
        done = self.get(rec.id)
        if done.status == "failed":
            self.discard(rec.id)
            raise done.failure()
        return done

    def process(self, sid: str) -> str:
        """Analyse session ``sid`` if it is waiting and no live worker holds it (its status
        afterwards). Decoding and analysis errors fail the session with the error, which
        the API and pages show; the stored input of a failed session is dropped."""
        from .jobs import Job

        if not self._claim(sid):
            return self.get(sid).status
        with Job(self, sid) as job:
            try:
                rec = self.get(sid)
                analysis = self._analyse(rec, job)
                self._finish(rec, analysis, job)
            except TraceError as exc:
                self.fail(sid, exc)
            except UNAVAILABLE:
                raise  # nothing written; the lease runs out and the job is taken again
            except Exception as exc:  # the decoder's bug, the client's input: still a 4xx
                self.fail(sid, _unreadable(exc, *self._digest(sid)))
        return self.get(sid).status

    def _digest(self, sid: str) -> tuple[str, int]:
        digest = Digest()
        reader = InputReader(lambda k: self._piece(sid, k), lambda _n: None)
        while block := reader.read(1 << 20):
            digest.size += len(block)
            digest.sha.update(block)
        return digest.hexdigest(), digest.size

    def _claim(self, sid: str) -> bool:
        """Take the job: it is processing and nobody's heartbeat is fresh. Past
        ``MAX_ATTEMPTS`` the session is failed with the reason instead."""
        now = time.time()
        fresh = sessions.c.heartbeat_at.is_not(None) & (sessions.c.heartbeat_at > now - self.lease)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(sessions.c.attempts).where(
                    sessions.c.id == sid, sessions.c.status == "processing", ~fresh
                )
            ).first()
            if row is None:
                return False
            if row[0] >= MAX_ATTEMPTS:
                conn.execute(
                    update(sessions)
                    .where(sessions.c.id == sid)
                    .values(status="failed", error=_compact(_gave_up(row[0])), progress=None)
                )
                return False
            done = conn.execute(
                update(sessions)
                .where(sessions.c.id == sid, sessions.c.status == "processing", ~fresh)
                .values(attempts=sessions.c.attempts + 1, heartbeat_at=now)
            )
            return bool(done.rowcount)

    def _analyse(self, rec: SessionRecord, job: Job) -> Analysis:
        sid = rec.id
        job.stage("reading", 0, int((rec.progress or {}).get("total") or 0))
        reader = InputReader(lambda k: self._piece(sid, k), lambda n: job.advance(n))
        with paused_gc():
            trace = read_stream(io.BufferedReader(reader, 1 << 20), self.limits)
            if rec.options.anonymise:
                with self.engine.connect() as conn:  # as given (the record hides it)
                    given = conn.execute(
                        select(sessions.c.title).where(sessions.c.id == sid)
                    ).scalar()
                title = storable(anonymise(trace)(str(given or "")), 200)
                with self.engine.begin() as conn:
                    conn.execute(update(sessions).where(sessions.c.id == sid).values(title=title))
            job.stage("analysing", 0, trace.packet_count)
            analysis = analyse(trace)
        self._check_flows(analysis)
        return analysis

    def _piece(self, sid: str, k: int) -> bytes | None:
        c = chunk_table.c
        with self.engine.connect() as conn:
            got = conn.execute(
                select(c.data).where(c.session_id == sid, c.kind == "i", c.chunk == k)
            ).scalar()
        return None if got is None else bytes(got)

    def _finish(self, rec: SessionRecord, analysis: Analysis, job: Job) -> None:
        """The analysis's chunks and the ready session, in one transaction."""
        job.stage("storing", 0, analysis.trace.packet_count)
        sid = rec.id
        with self.engine.begin() as conn:
            self._write_chunks(conn, sid, analysis)
            if not rec.options.keep_input:  # (submit turns it off for anonymise)
                conn.execute(
                    delete(chunk_table).where(
                        chunk_table.c.session_id == sid, chunk_table.c.kind == "i"
                    )
                )
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid)
                .values(
                    status="ready",
                    kind=analysis.trace.kind,
                    packet_count=analysis.trace.packet_count,
                    flow_count=analysis.flow_count,
                    progress=None,
                    heartbeat_at=None,
                )
            )

    def fail(self, sid: str, exc: TraceError) -> None:
        """The session failed with ``exc``: kept (it says why) without its input."""
        error = {**exc.as_dict(), "status": exc.status}
        with self.engine.begin() as conn:
            conn.execute(delete(chunk_table).where(chunk_table.c.session_id == sid))
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid)
                .values(status="failed", error=_compact(error), progress=None, heartbeat_at=None)
            )

    def release(self, sid: str) -> None:
        """The worker holding ``sid`` is known dead: the job may be taken again now."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid, sessions.c.status == "processing")
                .values(heartbeat_at=None)
            )

    def heartbeat(self, sid: str, progress: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": time.time()}
        if progress is not None:
            values["progress"] = _compact(progress)
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid, sessions.c.status == "processing")
                .values(**values)
            )

    def waiting(self, *, older_than: float | None = None) -> list[str]:
        """Jobs nobody holds: processing, no fresh heartbeat, submitted more than
        ``older_than`` seconds ago (a newer one is still on its way to a worker)."""
        now = time.time()
        c = sessions.c
        older_than = self.lease if older_than is None else older_than
        q = select(c.id).where(
            c.status == "processing",
            c.created_at < now - older_than,
            c.heartbeat_at.is_(None) | (c.heartbeat_at < now - self.lease),
        )
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(q)]

    def jobs(self) -> dict[str, int]:
        """How many sessions are processing, and how many of them nobody holds."""
        c = sessions.c
        now = time.time()
        stale = c.heartbeat_at.is_(None) | (c.heartbeat_at < now - self.lease)
        q = select(func.count(), func.count().filter(stale)).where(c.status == "processing")
        with self.engine.connect() as conn:
            depth, orphaned = conn.execute(q).one()
        return {"depth": int(depth), "orphaned": int(orphaned)}

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every session past its expiry (input, analysis, everything)."""
        now = time.time() if now is None else now
        c = sessions.c
        with self.engine.connect() as conn:
            gone = [
                str(r[0])
                for r in conn.execute(
                    select(c.id).where(c.expires_at.is_not(None), c.expires_at <= now)
                )
            ]
        for sid in gone:
            self._remove(sid)
        if gone:
            log.info("deleted %d expired session(s)", len(gone))
        return len(gone)

    def set_note(self, sid: str, owner_token: str | None, *, title: str, note: str) -> None:
        """The owner's title and note for the session."""
        self._owned(sid, owner_token, "change")
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid)
                .values(
                    title=storable(title, 200).strip() or "untitled",
                    note=storable(note, 10_000, lines=True),
                )
            )

    def _check_flows(self, analysis: Analysis) -> None:
        limit = self.limits.max_flows
        if analysis.flow_count > limit:
            raise InputTooLarge(
                f"{analysis.flow_count:,} TCP connections; this server explains at most "
                f"{limit:,} in one input (TCPLADDER_MAX_FLOWS)",
                hint="Filter the capture to the connections you care about, e.g. "
                "tcpdump -r in.pcap -w out.pcap 'port 443'.",
            )

    def _write_chunks(self, conn: Any, sid: str, analysis: Analysis) -> None:
        """The analysis's chunks, in batches; past ``max_stored`` bytes the transaction is
        rolled back (by the exception) and the input refused."""
        batch: list[dict[str, Any]] = []
        stored = 0
        for kind, k, blob in chunks(analysis):
            stored += len(blob)
            if stored > self.limits.max_stored:
                raise InputTooLarge(
                    f"the analysis of this input takes more than {self.limits.max_stored:,} "
                    "bytes to store; that is the limit of one session (TCPLADDER_MAX_STORED)",
                    hint="Filter the capture to the connections you care about.",
                )
            batch.append({"session_id": sid, "kind": kind, "chunk": k, "data": blob})
            if len(batch) >= 64:
                conn.execute(insert(chunk_table), batch)
                batch = []
        if batch:
            conn.execute(insert(chunk_table), batch)

    def _migrate(self, sid: str) -> None:
        """A session stored as one JSON document (schema_version 1): analyse its input again
        and store the chunks; the old document is dropped."""
        analysis = analyse(read_stream(io.BytesIO(self.input(sid)), self.limits))
        with self.engine.begin() as conn:
            self._write_chunks(conn, sid, analysis)
            conn.execute(
                update(sessions)
                .where(sessions.c.id == sid)
                .values(result=b"", schema_version=FORMAT)
            )

    def _owned(self, sid: str, owner_token: str | None, what: str) -> SessionRecord:
        rec = self.get(sid)
        if not rec.owned_by(owner_token):
            raise Forbidden(
                f"only the browser or API client that created this session can {what} it"
            )
        return rec

    def delete(self, sid: str, owner_token: str | None) -> None:
        self._owned(sid, owner_token, "delete")
        self._remove(sid)

    def discard(self, sid: str) -> None:
        """Remove a session nobody was given (its upload was answered with an error)."""
        self._remove(sid)

    def _remove(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(chunk_table).where(chunk_table.c.session_id == sid))
            conn.execute(delete(sessions).where(sessions.c.id == sid))
        self._meta.pop(sid, None)

    # -- reading -------------------------------------------------------------------------

    def get(self, sid: str) -> SessionRecord:
        """The session's record, in any status (an expired one is deleted: missing)."""
        cols = [sessions.c[name] for name in (*_RECORD_COLUMNS, "schema_version")]
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(sessions.c.id == sid)).mappings().first()
        if row is None:
            raise _missing(sid)
        if row["expires_at"] is not None and row["expires_at"] <= time.time():
            self._remove(sid)
            raise _missing(sid)
        if row["schema_version"] < FORMAT and row["status"] == "ready":
            self._migrate(sid)
        return _record(row)

    def ready(self, sid: str) -> SessionRecord:
        """The session's record once its analysis is there; ``NotReady`` while it runs,
        and the stored error if it failed."""
        rec = self.get(sid)
        if rec.status == "processing":
            raise NotReady(
                f"session {sid} is still being analysed",
                hint="GET /api/sessions/{id} reports its progress; try again in a moment",
            )
        if rec.status == "failed":
            raise rec.failure()
        return rec

    def input(self, sid: str) -> bytes:
        """The input as received (empty when the owner chose not to keep it)."""
        with self.engine.connect() as conn:
            blob = conn.execute(select(sessions.c.input).where(sessions.c.id == sid)).scalar()
        if blob is None:
            raise _missing(sid)
        if blob:
            return decompress_input(blob)
        reader = InputReader(lambda k: self._piece(sid, k), lambda _n: None)
        return reader.readall()

    def _chunk(self, sid: str, kind: str, k: int) -> bytes:
        return self._chunks(sid, kind, [k])[k]

    def _chunks(self, sid: str, kind: str, ks: list[int]) -> dict[int, bytes]:
        c = chunk_table.c
        q = select(c.chunk, c.data).where(
            c.session_id == sid, c.kind == kind, c.chunk.in_(sorted(set(ks)))
        )
        with self.engine.connect() as conn:
            got = {int(k): bytes(d) for k, d in conn.execute(q)}
        missing = set(ks) - set(got)
        if missing:
            raise _missing(sid)
        return got

    def meta(self, sid: str) -> Meta:
        m = self._meta.get(sid)
        if m is None:
            self.ready(sid)  # exists, analysed, migrated
            _, extra = unpack(self._chunk(sid, "m", 0))
            values: dict[str, Any] = {k: extra.get(k) for k in Meta.__slots__}
            values["port_names"] = {int(p): n for p, n in (extra.get("port_names") or {}).items()}
            m = Meta(**values)
            if len(self._meta) > 256:
                self._meta.clear()
            self._meta[sid] = m
        return m

    def source(self, sid: str) -> dict[str, Any]:
        self.meta(sid)
        _, extra = unpack(self._chunk(sid, "s", 0))
        out: dict[str, Any] = extra["source"]
        return out

    def _flow_chunk(self, sid: str, k: int) -> tuple[dict[str, Any], list[str]]:
        """A chunk of connections: their columns and their summary JSON texts."""
        m = self.meta(sid)
        return self._summaries(unpack(self._chunk(sid, "f", k)), m.hosts, m.port_names)

    @staticmethod
    def _summaries(
        got: tuple[dict[str, Any], dict[str, Any]],
        hosts: list[str],
        names: dict[int, str],
        narrative: bool = True,
    ) -> tuple[dict[str, Any], list[str]]:
        """Summary JSON texts: stored halves around the narrative, which is told on read
        (or ``null`` when ``narrative`` is false: a list of connections does not show it)."""
        cols, extra = got
        if not narrative:
            return cols, [
                h + "null" + t for h, t in zip(extra["heads"], extra["tails"], strict=True)
            ]
        lists = story_lists(cols)
        texts = [
            head + narrative_json(lists, i, hosts, names) + tail
            for i, (head, tail) in enumerate(zip(extra["heads"], extra["tails"], strict=True))
        ]
        return cols, texts

    def flows(
        self, sid: str, start: int = 0, count: int = 1000, *, narrative: bool = True
    ) -> list[dict[str, Any]]:
        """Connection summaries ``start:start+count`` (0-based), as in the JSON (with
        ``"narrative": null`` when ``narrative`` is false, which is much cheaper)."""
        m = self.meta(sid)
        stop = min(start + count, m.flow_count)
        if start >= stop:
            return []
        ks = list(range(start // m.flow_chunk, (stop - 1) // m.flow_chunk + 1))
        got = self._chunks(sid, "f", ks)
        out: list[dict[str, Any]] = []
        for k in ks:
            _, texts = self._summaries(unpack(got[k]), m.hosts, m.port_names, narrative)
            first = k * m.flow_chunk
            a, b = max(start - first, 0), min(stop - first, len(texts))
            out.extend(json.loads(t) for t in texts[a:b])
        return out

    def flow_summary(self, sid: str, flow_id: int) -> dict[str, Any]:
        """One connection's summary with its negotiation (1-based id)."""
        m = self.meta(sid)
        self._check_flow(sid, m, flow_id)
        k, i = divmod(flow_id - 1, m.flow_chunk)
        cols, summaries = self._flow_chunk(sid, k)
        out: dict[str, Any] = json.loads(summaries[i])
        out["negotiation"] = json.loads(negotiation_json(cols, i))
        return out

    def _check_flow(self, sid: str, m: Meta, flow_id: int) -> None:
        if not 1 <= flow_id <= m.flow_count:
            raise NotFound(f"session {sid} has no connection #{flow_id} (it has {m.flow_count})")

    def _positions(
        self, sid: str, m: Meta, lo: int, hi: int, cache: dict[int, PacketTable] | None = None
    ) -> PacketTable:
        """Positions ``lo:hi`` read from their chunks (decoded chunks kept in ``cache``)."""
        size = m.packet_chunk
        ks = list(range(lo // size, (hi - 1) // size + 1)) if hi > lo else []
        cache = {} if cache is None else cache
        want = [k for k in ks if k not in cache]
        if want:
            for k in list(cache):
                if k < ks[0]:
                    del cache[k]  # streaming goes forward: earlier chunks are done
            got = self._chunks(sid, "p", want)
            for k in want:
                cache[k] = unpack_positions(
                    got[k], m.table_kind, m.hosts, m.linktypes, m.port_names
                )
        parts = [cache[k] for k in ks]
        if not parts:
            return PacketTable(m.table_kind, {}, m.hosts, port_names=m.port_names)
        return _slice(parts, lo - ks[0] * size, hi - ks[0] * size)

    def window(self, sid: str, flow_id: int, start: int = 0, count: int = 400) -> Flow:
        """Packets ``start:start+count`` of a connection as objects, with its sides."""
        m = self.meta(sid)
        self._check_flow(sid, m, flow_id)
        k, i = divmod(flow_id - 1, m.flow_chunk)
        cols, _ = self._flow_chunk(sid, k)
        meta = flow_meta(cols, i, m.hosts, flow_id, m.port_names)
        first = int(cols["first_pos"][i])
        a = min(max(start, 0), meta.packet_count)
        b = min(a + max(count, 0), meta.packet_count)
        meta.offset = a
        if a == b:
            return meta
        return window_flow(self._positions(sid, m, first + a, first + b), meta)

    def packets(self, sid: str, flow_id: int, start: int, count: int) -> list[shapes.Packet]:
        return packets_json(self.window(sid, flow_id, start, count))

    def stream_json(self, sid: str, *, summary: bool = False) -> Iterator[str]:
        """The document ``tcpladder explain --json`` writes, in pieces of about 256 KB: the
        chunks are read once each, in order."""
        buf: list[str] = []
        size = 0
        for piece in self._json_pieces(sid, summary=summary):
            buf.append(piece)
            size += len(piece)
            if size >= 1 << 18:
                yield "".join(buf)
                buf, size = [], 0
        yield "".join(buf)

    def _json_pieces(self, sid: str, *, summary: bool) -> Iterator[str]:
        m = self.meta(sid)
        yield '{"source":' + _compact(self.source(sid)) + ',"flows":['
        cache: dict[int, PacketTable] = {}
        blocks = PacketBlocks(
            lambda a, b: self._positions(sid, m, a, b, cache), m.packet_count, m.packet_chunk
        )
        for k in range((m.flow_count + m.flow_chunk - 1) // m.flow_chunk):
            cols, summaries = self._flow_chunk(sid, k)
            for i, piece in enumerate(summaries):
                fid = k * m.flow_chunk + i + 1
                sep = "," if fid > 1 else ""
                if summary:
                    yield sep + piece
                    continue
                yield (
                    sep
                    + piece[:-1]
                    + ',"negotiation":'
                    + negotiation_json(cols, i)
                    + ',"packets":['
                )
                first, count = int(cols["first_pos"][i]), int(cols["count"][i])
                yield from blocks.flow(first, first + count)
                yield "]}"
        yield "]}"

    def detail(self, sid: str, n: int) -> Detail:
        """Packet ``n`` of a session dissected in full by Scapy."""
        m = self.meta(sid)
        if not 1 <= n <= m.packet_count:
            raise NotFound(f"there is no packet {n}; the input has {m.packet_count:,} TCP packets")
        k, i = divmod(n - 1, m.row_chunk)
        cols, _ = unpack(self._chunk(sid, "r", k))
        pos = int(cols["pos"][i])
        part = self._positions(sid, m, pos, pos + 1)
        source = self.input(sid) if m.table_kind != "text" else b""
        return packet_detail(part, 0, source)


def _slice(parts: list[PacketTable], a: int, b: int) -> PacketTable:
    """Rows ``a:b`` of the tables ``parts`` laid end to end."""
    import numpy as np

    first = parts[0]
    if len(parts) == 1:
        cols = {k: v[a:b] for k, v in first.cols.items()}
        blob = first.opt_bytes
        objects, comments = first.objects, first.comments
    else:
        offsets, blob_parts, size, rows = [], [], 0, 0
        objects, comments = {}, {}
        for p in parts:
            offsets.append(size)
            blob_parts.append(p.opt_bytes)
            objects.update({rows + i: o for i, o in p.objects.items()})
            comments.update({rows + i: c for i, c in p.comments.items()})
            size += len(p.opt_bytes)
            rows += len(p)
        blob = b"".join(blob_parts)
        cols = {}
        for k in first.cols:
            cols[k] = np.concatenate([p.cols[k] for p in parts])
        shift = np.concatenate(
            [np.full(len(p), off, np.int64) for p, off in zip(parts, offsets, strict=True)]
        )
        has = cols["opt_start"] >= 0
        cols["opt_start"] = np.where(has, cols["opt_start"] + shift, -1)
        cols = {k: v[a:b] for k, v in cols.items()}
    return PacketTable(
        first.kind,
        cols,
        first.hosts,
        opt_bytes=blob,
        objects={i - a: o for i, o in objects.items() if a <= i < b},
        comments={i - a: c for i, c in comments.items() if a <= i < b},
        linktypes=first.linktypes,
        port_names=first.port_names,
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")


def storable(text: str, limit: int, *, lines: bool = False) -> str:
    """User text as every database can hold it: at most ``limit`` characters, no control
    characters (PostgreSQL refuses NUL in text; tabs and newlines only where ``lines``), no
    lone surrogates (a JSON body may carry "\\ud800"; UTF-8 cannot)."""
    text = text[:limit].encode("utf-8", "replace").decode("utf-8")
    return (_CONTROL if lines else _CONTROL_LINE).sub(" " if not lines else "", text)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

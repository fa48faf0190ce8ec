"""Sessions and permalinks, stored with SQLAlchemy Core.

SQLite under ./data/ by default (WAL mode); any SQLAlchemy URL via DATABASE_URL (PostgreSQL:
``postgresql://user@host/db``, driven by psycopg 3).  A session keeps the original input
(compressed, for the packet detail view) and its analysis as column chunks
(``app.store.columns``): a page reads the connection list and one window of one connection,
never the whole analysis.  Sessions stored before the chunks existed (one JSON document,
schema_version 1) are analysed again from their input the first time they are opened, and
stored as chunks from then on.

The store is three modules: this one writes and reads sessions; ``jobs`` is how a stored
input becomes an analysis (``Store`` inherits its ``Jobs``); ``records`` holds the nouns
both share (``SessionRecord``, ``Options``, the store's errors).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy import create_engine, delete, event, insert, select, text, update
from sqlalchemy.engine import Engine

from app.decode import Analysis, Limits, analyse
from app.decode.analysis.conversations import Conversations, columns_from_summaries
from app.decode.analysis.flows import Flow, flow_meta, window_flow
from app.decode.analysis.stream import Stream, follow
from app.decode.explain.detail import Detail, packet_detail
from app.decode.export import shapes
from app.decode.export.document import (
    EndpointTexts,
    PacketBlocks,
    narratives_json,
    negotiation_json,
    negotiations_json,
    packets_json,
    story_lists,
)
from app.decode.export.pcap import capture_records, text_pcap
from app.decode.model.codes import FINDING_CODES
from app.decode.model.errors import Forbidden, InputTooLarge, NotFound
from app.decode.model.table import PacketTable
from app.decode.readers.ingest import read_stream

from .columns import (
    FORMAT,
    chunks,
    decompress_input,
    summary_halves,
    unpack,
    unpack_positions,
)
from .inputs import Digest, InputReader, input_pieces
from .jobs import Jobs
from .records import (
    ID_BYTES,
    LEASE,
    PLAIN_COLUMNS,
    RECORD_COLUMNS,
    Meta,
    NotReady,
    Options,
    SessionRecord,
    compact_json,
    hash_token,
    missing,
    record_of,
    storable,
)
from .schema import chunk_table, migrate, normalise_url, sessions

log = logging.getLogger("tcpladder.store")


def default_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'tcpladder.sqlite3'}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record_of: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


TABLES_BYTES = 64 << 20  # conversations tables kept in memory, all sessions together


class Store(Jobs):
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
        self._tables: dict[str, Conversations] = {}  # most recent last
        self._tables_lock = threading.Lock()

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
                    **{name: getattr(rec, name) for name in PLAIN_COLUMNS},
                    status=rec.status,
                    expires_at=expires_at,
                    progress=compact_json({"stage": "queued", "done": 0, "total": digest.size}),
                    options=compact_json(asdict(rec.options)),
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

    def _write_chunks(self, conn: Any, sid: str, analysis: Analysis) -> None:
        """The analysis's chunks, in batches; past ``max_stored`` bytes the transaction is
        rolled back (by the exception) and the input refused."""
        # closed at once on the way out, so a second process making chunks is stopped
        with contextlib.closing(chunks(analysis)) as made:
            self._insert_chunks(conn, sid, made)

    def _insert_chunks(self, conn: Any, sid: str, made: Iterator[tuple[str, int, bytes]]) -> None:
        batch: list[dict[str, Any]] = []
        stored = 0
        for kind, k, blob in made:
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
        with self._tables_lock:
            self._tables.pop(sid, None)

    # -- reading -------------------------------------------------------------------------

    def get(self, sid: str) -> SessionRecord:
        """The session's record, in any status (an expired one is deleted: missing)."""
        cols = [sessions.c[name] for name in (*RECORD_COLUMNS, "schema_version")]
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(sessions.c.id == sid)).mappings().first()
        if row is None:
            raise missing(sid)
        if row["expires_at"] is not None and row["expires_at"] <= time.time():
            self._remove(sid)
            raise missing(sid)
        if row["schema_version"] < FORMAT and row["status"] == "ready":
            self._migrate(sid)
        return record_of(row)

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
            raise missing(sid)
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
        if set(ks) - set(got):
            raise missing(sid)
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

    def _flow_chunk(self, sid: str, k: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A chunk of connections: its columns and its header's JSON object."""
        self.meta(sid)
        return unpack(self._chunk(sid, "f", k))

    def _summaries(
        self,
        m: Meta,
        k: int,
        got: tuple[dict[str, Any], dict[str, Any]],
        span: tuple[int, int] | None = None,
        *,
        narrative: bool = True,
    ) -> list[str]:
        """The summary JSON texts of connections ``span`` (all) of flow chunk ``k``, made
        from its columns, the narrative told as well (or ``null`` when ``narrative`` is
        false: a list of connections does not show it)."""
        cols, extra = got
        a, b = span or (0, len(cols["client_ep"]))
        endpoints = EndpointTexts(m.hosts, m.port_names)
        heads, tails = summary_halves(cols, extra, k * m.flow_chunk, endpoints, a, b)
        if not narrative:
            return [h + "null" + t for h, t in zip(heads, tails, strict=True)]
        told = narratives_json(story_lists(cols), a, b, m.hosts, m.port_names)
        return [h + n + t for h, n, t in zip(heads, told, tails, strict=True)]

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
            first = k * m.flow_chunk
            a = max(start - first, 0)
            b = min(stop - first, m.flow_chunk)
            texts = self._summaries(m, k, unpack(got[k]), (a, b), narrative=narrative)
            out.extend(json.loads(t) for t in texts)
        return out

    def conversations(self, sid: str) -> Conversations:
        """The session's conversations table (kept for the next request: sorting and
        paging through it reads nothing again; at most ``TABLES_BYTES`` of them)."""
        with self._tables_lock:
            table = self._tables.pop(sid, None)
        if table is None:
            m = self.meta(sid)
            c = chunk_table.c
            q = select(c.data).where(c.session_id == sid, c.kind == "c", c.chunk == 0)
            with self.engine.connect() as conn:
                blob = conn.execute(q).scalar()
            if blob is not None:
                cols, extra = unpack(bytes(blob))
                totals = extra["totals"]
            else:  # stored before the table existed
                cols, totals = columns_from_summaries(
                    self.flows(sid, 0, m.flow_count, narrative=False), m.hosts
                )
            table = Conversations(cols, m.hosts, m.port_names, totals)
        with self._tables_lock:
            self._tables[sid] = table
            while sum(t.nbytes for t in self._tables.values()) > TABLES_BYTES:
                if len(self._tables) == 1:
                    break
                del self._tables[next(iter(self._tables))]
        return table

    def flow_summary(self, sid: str, flow_id: int) -> dict[str, Any]:
        """One connection's summary with its negotiation (1-based id)."""
        m = self.meta(sid)
        self._check_flow(sid, m, flow_id)
        k, i = divmod(flow_id - 1, m.flow_chunk)
        got = self._flow_chunk(sid, k)
        out: dict[str, Any] = json.loads(self._summaries(m, k, got, (i, i + 1))[0])
        cols = got[0]
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

    def _extent(self, sid: str, m: Meta, flow_id: int) -> tuple[int, int]:
        """Where connection ``flow_id``'s packets lie: (first position, packet count)."""
        self._check_flow(sid, m, flow_id)
        k, i = divmod(flow_id - 1, m.flow_chunk)
        cols, _ = unpack(self._chunk(sid, "f", k))
        return int(cols["first_pos"][i]), int(cols["count"][i])

    def locate(self, sid: str, n: int) -> tuple[int, int]:
        """Packet ``n`` (1-based, capture order): its connection's id and its position in
        that connection (0-based), for a link that opens the window holding it."""
        m = self.meta(sid)
        if not 1 <= n <= m.packet_count:
            raise NotFound(f"there is no packet {n}; the input has {m.packet_count:,} TCP packets")
        k, i = divmod(n - 1, m.row_chunk)
        pos = int(unpack(self._chunk(sid, "r", k))[0]["pos"][i])
        lo, hi = 0, (m.flow_count - 1) // m.flow_chunk  # the flow chunk holding pos
        while lo < hi:
            mid = (lo + hi + 1) // 2
            first = int(unpack(self._chunk(sid, "f", mid))[0]["first_pos"][0])
            lo, hi = (mid, hi) if first <= pos else (lo, mid - 1)
        starts = unpack(self._chunk(sid, "f", lo))[0]["first_pos"]
        i = int(np.searchsorted(starts, pos, side="right")) - 1
        return lo * m.flow_chunk + i + 1, pos - int(starts[i])

    def find(
        self, sid: str, flow_id: int, codes: list[str], at: int, *, forward: bool = True
    ) -> int | None:
        """The position in connection ``flow_id`` of the first packet with any of the
        findings ``codes`` after position ``at`` (before it, going back), or None. Reads the
        connection's chunks one at a time from ``at`` on, only as far as it has to."""
        bit = 0
        for code in codes:
            if code not in FINDING_CODES:
                raise NotFound(f"there is no finding {code!r}")
            bit |= 1 << FINDING_CODES.index(code)
        m = self.meta(sid)
        first, count = self._extent(sid, m, flow_id)
        size = m.packet_chunk
        lo, hi = (at + 1, count) if forward else (0, min(at, count))
        if lo >= hi:
            return None
        chunks = range((first + lo) // size, (first + hi - 1) // size + 1)
        for c in chunks if forward else reversed(chunks):
            a, b = max(first + lo, c * size), min(first + hi, (c + 1) * size)
            bits = self._positions(sid, m, a, b).cols["findings"]
            hits = np.flatnonzero(bits & bit)
            if len(hits):
                return a - first + int(hits[0] if forward else hits[-1])
        return None

    def flow_columns(
        self, sid: str, flow_id: int, names: tuple[str, ...], *, sacks: bool = False
    ) -> dict[str, Any]:
        """Columns ``names`` of every packet of one connection (flow order), read chunk by
        chunk: a graph of a connection of any size without a Python object per packet.
        With ``sacks``, also its SACK blocks (RFC 2018 §3): ``sack_at`` (the packet's
        index in the connection), ``sack_left`` and ``sack_right`` (sequence numbers)."""
        m = self.meta(sid)
        first, count = self._extent(sid, m, flow_id)
        size, parts, a = m.packet_chunk, [], first
        blocks: list[tuple[int, int, int]] = []
        while a < first + count:  # one chunk at a time
            b = min(first + count, (a // size + 1) * size)
            part = self._positions(sid, m, a, b)
            parts.append({name: part.cols[name] for name in names})
            if sacks:
                for i in np.flatnonzero(part.cols["sack"]).tolist():
                    blocks += [(a - first + i, lo, hi) for lo, hi in part.options(i).sack]
            a = b
        out: dict[str, Any] = {name: np.zeros(0) for name in names}
        if parts:
            out = {name: np.concatenate([p[name] for p in parts]) for name in names}
        if sacks:
            got = np.array(blocks, np.int64).reshape(-1, 3)
            out.update(sack_at=got[:, 0], sack_left=got[:, 1], sack_right=got[:, 2])
        return out

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
        yield '{"source":' + compact_json(self.source(sid)) + ',"flows":['
        cache: dict[int, PacketTable] = {}
        blocks = PacketBlocks(
            lambda a, b: self._positions(sid, m, a, b, cache), m.packet_count, m.packet_chunk
        )
        for k in range((m.flow_count + m.flow_chunk - 1) // m.flow_chunk):
            got = self._flow_chunk(sid, k)
            cols = got[0]
            nego = None if summary else negotiations_json(cols)
            for i, piece in enumerate(self._summaries(m, k, got)):
                fid = k * m.flow_chunk + i + 1
                sep = "," if fid > 1 else ""
                if nego is None:
                    yield sep + piece
                    continue
                yield sep + piece[:-1] + ',"negotiation":' + nego[i] + ',"packets":['

                first, count = int(cols["first_pos"][i]), int(cols["count"][i])
                yield from blocks.flow(first, first + count)
                yield "]}"
        yield "]}"

    def stream(self, sid: str, flow_id: int) -> Stream:
        """Connection ``flow_id``'s byte streams, reassembled from the stored input."""
        m = self.meta(sid)
        first, count = self._extent(sid, m, flow_id)
        part = self._positions(sid, m, first, first + count)
        source = self.input(sid) if m.table_kind != "text" else b""
        if m.table_kind != "text" and not source:
            raise NotFound(
                f"session {sid} does not keep its input, so its bytes cannot be followed",
                hint="upload the capture again with 'Keep the raw capture' ticked",
            )
        return follow(part, source)

    def pcap(
        self, sid: str, flow_id: int, start: int = 0, count: int | None = None
    ) -> Iterator[bytes]:
        """Packets ``start:start+count`` of connection ``flow_id`` as a capture file: the
        original records of a capture, packets made from the fields of pasted text
        (``export.pcap``)."""
        m = self.meta(sid)
        first, total = self._extent(sid, m, flow_id)
        if not 0 <= start < total:
            raise NotFound(
                f"connection #{flow_id} has {total:,} packets: from={start} is past its end"
            )
        b = total if count is None else min(start + max(count, 0), total)
        part = self._positions(sid, m, first + start, first + b)
        if m.table_kind == "text":
            return iter([text_pcap(part)])
        source = self.input(sid)
        if not source:
            raise NotFound(
                f"session {sid} does not keep its capture, so its packets cannot be exported",
                hint="upload the capture again with 'Keep the raw capture' ticked",
            )
        return capture_records(part, source)

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

    first = parts[0]
    if len(parts) == 1:
        cols = {k: v[a:b] for k, v in first.cols.items()}
        blob = first.opt_bytes
        objects, comments, apps = first.objects, first.comments, first.apps
    else:
        offsets, blob_parts, size, rows = [], [], 0, 0
        objects, comments, apps = {}, {}, {}
        for p in parts:
            offsets.append(size)
            blob_parts.append(p.opt_bytes)
            objects.update({rows + i: o for i, o in p.objects.items()})
            comments.update({rows + i: c for i, c in p.comments.items()})
            apps.update({rows + i: x for i, x in p.apps.items()})
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
        apps={i - a: x for i, x in apps.items() if a <= i < b},
        linktypes=first.linktypes,
        port_names=first.port_names,
    )

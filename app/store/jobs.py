"""A session's analysis as a job: claimed, run with progress and a heartbeat, finished,
failed, or given up on.

``Jobs`` is the store's job lifecycle (``Store`` inherits it): ``process`` claims a
session that is ``processing`` and nobody holds, analyses its stored input and writes the
result, or the error, in one transaction. ``Job`` is one running job: its progress written
for readers to poll, and a heartbeat that says its worker is alive, written every ``BEAT``
seconds by a thread of its own, so a long numpy step does not make a live job look dead;
progress is written at most every ``EVERY`` seconds. A job whose heartbeat is older than
the lease is taken for dead and can be claimed again, up to ``MAX_ATTEMPTS``; the database
going away mid-job leaves it to be taken again too, since nothing was written.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from app.decode import Analysis, Limits, analyse
from app.decode.model.errors import InputTooLarge, TraceError
from app.decode.model.memory import paused_gc
from app.decode.readers.anonymise import anonymise
from app.decode.readers.ingest import read_stream

from .inputs import Digest, InputReader
from .records import (
    MAX_ATTEMPTS,
    UNAVAILABLE,
    SessionRecord,
    compact_json,
    gave_up,
    storable,
    unreadable,
)
from .schema import chunk_table, sessions

log = logging.getLogger("tcpladder.jobs")
BEAT = 5.0
EVERY = 0.5


class Job:
    def __init__(self, store: Jobs, sid: str) -> None:
        self.store = store
        self.sid = sid
        self.progress: dict[str, Any] = {"stage": "queued", "done": 0, "total": 0}
        self._written = 0.0
        self._stop = threading.Event()
        self._every = min(BEAT, store.lease / 3)
        self._beat = threading.Thread(target=self._beating, daemon=True, name=f"beat-{sid}")

    def __enter__(self) -> Job:
        self._beat.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._beat.join()

    def _beating(self) -> None:
        while not self._stop.wait(self._every):
            self._write(force=True)

    def _write(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < EVERY:
            return
        self._written = now
        try:
            self.store.heartbeat(self.sid, dict(self.progress))
        except Exception as exc:  # the database busy or away: the next beat tries again
            log.debug("heartbeat of %s not written: %s", self.sid, exc)

    def stage(self, name: str, done: int, total: int) -> None:
        self.progress = {"stage": name, "done": done, "total": total}
        self._write(force=True)

    def advance(self, done: int) -> None:
        self.progress["done"] = done
        self._write()


class Jobs:
    """The job lifecycle over the store's tables (``Store`` inherits it)."""

    engine: Engine
    limits: Limits
    lease: float

    if TYPE_CHECKING:  # provided by Store

        def get(self, sid: str) -> SessionRecord: ...
        def _write_chunks(self, conn: Any, sid: str, analysis: Analysis) -> None: ...

    def process(self, sid: str) -> str:
        """Analyse session ``sid`` if it is waiting and no live worker holds it (its status
        afterwards). Decoding and analysis errors fail the session with the error, which
        the API and pages show; the stored input of a failed session is dropped."""
        if not self._claim(sid):
            return self.get(sid).status
        with Job(self, sid) as job:
            try:
                rec = self.get(sid)
                # the collector paused from reading to storing: the chunks' texts are
                # hundreds of thousands of strings in no cycle, and a full collection walks
                # them all (measured: 0.2 s of a 250k-packet upload's 1.5 s)
                with paused_gc():
                    analysis = self._analyse(rec, job)
                    self._finish(rec, analysis, job)
            except TraceError as exc:
                self.fail(sid, exc)
            except UNAVAILABLE:
                raise  # nothing written; the lease runs out and the job is taken again
            except Exception as exc:  # the decoder's bug, the client's input: still a 4xx
                self.fail(sid, unreadable(exc, *self._digest(sid)))
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
                    .values(status="failed", error=compact_json(gave_up(row[0])), progress=None)
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
        trace = read_stream(io.BufferedReader(reader, 1 << 20), self.limits, spool=True)
        if rec.options.anonymise:
            with self.engine.connect() as conn:  # as given (the record hides it)
                given = conn.execute(select(sessions.c.title).where(sessions.c.id == sid)).scalar()
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
                .values(
                    status="failed", error=compact_json(error), progress=None, heartbeat_at=None
                )
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
            values["progress"] = compact_json(progress)
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

    def _check_flows(self, analysis: Analysis) -> None:
        limit = self.limits.max_flows
        if analysis.flow_count > limit:
            raise InputTooLarge(
                f"{analysis.flow_count:,} TCP connections; this server explains at most "
                f"{limit:,} in one input (TCPLADDER_MAX_FLOWS)",
                hint="Filter the capture to the connections you care about, e.g. "
                "tcpdump -r in.pcap -w out.pcap 'port 443'.",
            )

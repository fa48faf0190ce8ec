"""What the store keeps about a session, and the errors it answers with: the nouns shared by
the session store (``sessions``) and the job lifecycle (``jobs``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from app.decode.model.errors import NotFound, TraceError, Unreadable

log = logging.getLogger("tcpladder.store")
ID_BYTES = 18  # 144 random bits, base64url: 24 characters
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, with the reason
LEASE = 30.0  # seconds without a heartbeat after which a job's worker is taken for dead


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


PLAIN_COLUMNS = ("id", "created_at", "owner_hash", "title", "kind", "packet_count", "flow_count")
RECORD_COLUMNS = (*PLAIN_COLUMNS, "status", "expires_at", "note", "progress", "error", "options")


def record_of(row: Any) -> SessionRecord:
    options = json.loads(row["options"] or "{}")
    rec = SessionRecord(
        **{name: row[name] for name in (*PLAIN_COLUMNS, "status", "expires_at", "note")},
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


def unreadable(exc: Exception, digest: str, size: int) -> Unreadable:
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


def gave_up(attempts: int) -> dict[str, Any]:
    return {
        "code": "trace.worker_lost",
        "message": f"the process analysing this input stopped {attempts} times before it "
        "finished (killed, or out of memory)",
        "hint": "The input may need more memory than this server allows; try a smaller "
        "capture, e.g. filtered with tcpdump -r in.pcap -w out.pcap 'port 443'.",
        "status": 422,  # not a passing state: this input is not analysed, ever
    }


def missing(sid: str) -> NotFound:
    return NotFound(f"no session {sid!r}: it never existed or its owner deleted it")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")


def storable(text: str, limit: int, *, lines: bool = False) -> str:
    """User text as every database can hold it: at most ``limit`` characters, no control
    characters (PostgreSQL refuses NUL in text; tabs and newlines only where ``lines``), no
    lone surrogates (a JSON body may carry "\\ud800"; UTF-8 cannot)."""
    text = text[:limit].encode("utf-8", "replace").decode("utf-8")
    return (_CONTROL if lines else _CONTROL_LINE).sub(" " if not lines else "", text)


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

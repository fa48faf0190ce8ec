"""Settings from the environment, with sane defaults."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A source checkout has templates/ and static/ next to app/; an installed wheel has them
# under its prefix (pyproject's data-files), and keeps its data in the working directory.
CHECKOUT = (ROOT / "templates").is_dir() and (ROOT / "app").is_dir()
SHARE = ROOT if CHECKOUT else Path(sys.prefix) / "share" / "tcpladder"
DATA = ROOT / "data" if CHECKOUT else Path.cwd() / "data"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None  # None: SQLite under data_dir
    data_dir: Path = DATA
    max_input: int = 32 * 1024 * 1024  # bytes of upload or paste, as sent
    max_expanded: int = 256 * 1024 * 1024  # bytes after gzip/zstd decompression
    max_packets: int = 1_000_000
    max_lines: int = 2_000_000  # lines of pasted text
    max_line_length: int = 1 << 16  # characters of one line read
    max_comment_lines: int = 20_000  # lines of commentary kept
    max_flows: int = 200_000  # TCP connections one input may hold
    max_stored: int = 256 * 1024 * 1024  # bytes one session's stored analysis may take
    templates_dir: Path = SHARE / "templates"
    static_dir: Path = SHARE / "static"
    # where the site is reached, for absolute permalinks; None: links are paths, and the
    # page makes the permalink from the address the browser shows (never from Host)
    base_url: str | None = None
    allowed_hosts: tuple[str, ...] = ("*",)  # Host values accepted (TrustedHostMiddleware)
    rate_limit: str = "30/minute"  # new sessions a client may create; "0": no limit
    body_timeout: float = 120.0  # seconds for an upload to arrive
    page_cache: int = 64 * 1024 * 1024  # bytes of rendered session pages kept; 0: none
    # how long an upload waits for its analysis before the answer is 202 "processing"
    grace: float = 2.0
    sweep_every: float = 30.0  # seconds between sweeps (orphaned jobs, expired sessions)
    lease: float = 30.0  # seconds without a worker's heartbeat before a job is orphaned
    default_expiry: int = 30 * 86400  # seconds a session lives unless the upload says
    max_expiry: int = 0  # the longest expiry an upload may ask for; 0: "never" allowed
    # where jobs go: "local" (this server's worker processes) or "procrastinate" (a
    # PostgreSQL queue that `tcpladder worker` processes on any machine take jobs from)
    queue: str = "local"
    # processes that decode and analyse uploads; 0: threads of the server's own process
    workers: int = field(default_factory=lambda: min(4, max(1, (os.cpu_count() or 2) - 1)))

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("TCPLADDER_DATA_DIR", str(DATA))),
            max_input=int(env.get("TCPLADDER_MAX_INPUT", 32 * 1024 * 1024)),
            max_expanded=int(env.get("TCPLADDER_MAX_EXPANDED", 256 * 1024 * 1024)),
            max_packets=int(env.get("TCPLADDER_MAX_PACKETS", 1_000_000)),
            max_lines=int(env.get("TCPLADDER_MAX_LINES", 2_000_000)),
            max_line_length=int(env.get("TCPLADDER_MAX_LINE_LENGTH", 1 << 16)),
            max_comment_lines=int(env.get("TCPLADDER_MAX_COMMENT_LINES", 20_000)),
            max_flows=int(env.get("TCPLADDER_MAX_FLOWS", 200_000)),
            max_stored=int(env.get("TCPLADDER_MAX_STORED", 256 * 1024 * 1024)),
            base_url=(env.get("TCPLADDER_BASE_URL") or "").rstrip("/") or None,
            rate_limit=env.get("TCPLADDER_RATE_LIMIT", "30/minute"),
            body_timeout=float(env.get("TCPLADDER_BODY_TIMEOUT", 120)),
            page_cache=int(env.get("TCPLADDER_PAGE_CACHE", 64 * 1024 * 1024)),
            grace=float(env.get("TCPLADDER_GRACE", 2.0)),
            sweep_every=float(env.get("TCPLADDER_SWEEP", 30.0)),
            lease=float(env.get("TCPLADDER_LEASE", 30.0)),
            default_expiry=int(env.get("TCPLADDER_DEFAULT_EXPIRY", 30 * 86400)),
            max_expiry=int(env.get("TCPLADDER_MAX_EXPIRY", 0)),
            queue=env.get("TCPLADDER_QUEUE", "local"),
            workers=int(env.get("TCPLADDER_WORKERS", min(4, max(1, (os.cpu_count() or 2) - 1)))),
            allowed_hosts=tuple(
                h.strip() for h in env.get("TCPLADDER_ALLOWED_HOSTS", "*").split(",") if h.strip()
            ),
        )

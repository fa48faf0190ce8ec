"""Sessions and permalinks (SQLAlchemy Core; SQLite by default, PostgreSQL via DATABASE_URL)."""

from .sessions import UNAVAILABLE, SessionRecord, Store, StoreUnavailable, default_url, new_token

__all__ = [
    "UNAVAILABLE",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "default_url",
    "new_token",
]

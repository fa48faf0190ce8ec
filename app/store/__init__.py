"""Sessions and permalinks (SQLAlchemy Core; SQLite by default, PostgreSQL via DATABASE_URL)."""

from .records import UNAVAILABLE, Options, SessionRecord, StoreUnavailable, new_token
from .sessions import Store, default_url

__all__ = [
    "UNAVAILABLE",
    "Options",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "default_url",
    "new_token",
]

"""Sessions and permalinks (SQLAlchemy Core; SQLite by default, PostgreSQL via DATABASE_URL)."""

from .sessions import SessionRecord, Store, default_url, new_token

__all__ = ["SessionRecord", "Store", "default_url", "new_token"]

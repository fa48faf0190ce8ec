"""Alembic's environment: the connection ``app.store.schema.migrate`` hands over, or the
database ``DATABASE_URL`` names when an operator runs ``alembic`` by hand."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from app.store.schema import metadata, normalise_url

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        _run(conn)

"""Analysis as a job: status, progress, failure, attempts and lease; expiry; the owner's
note; the options chosen at upload. Sessions stored before are ready, never expire.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="ready"))
        batch.add_column(sa.Column("error", sa.Text, nullable=True))
        batch.add_column(sa.Column("progress", sa.Text, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("heartbeat_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("expires_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("note", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("options", sa.Text, nullable=False, server_default="{}"))
    op.create_index("sessions_status", "sessions", ["status"])
    op.create_index("sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("sessions_expires_at", "sessions")
    op.drop_index("sessions_status", "sessions")
    with op.batch_alter_table("sessions") as batch:
        for name in (
            "options", "note", "expires_at", "heartbeat_at", "attempts", "progress", "error",
            "status",
        ):  # fmt: skip
            batch.drop_column(name)

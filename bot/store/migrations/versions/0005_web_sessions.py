"""web_sessions: the web chat's sessions issued by the server (token hashes); tickets.origin

Revision ID: 0005_web_sessions
Revises: 0006
Create Date: 2027-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_web_sessions"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_seen_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_last_seen_at", "web_sessions", ["last_seen_at"])
    # Plain ALTER TABLE, not a batch copy: recreating "tickets" on SQLite would cascade-delete its events.
    op.add_column("tickets", sa.Column("origin", sa.String(64), nullable=True))
    op.create_index("ix_tickets_origin", "tickets", ["origin"])


def downgrade() -> None:
    op.drop_index("ix_tickets_origin", table_name="tickets")
    op.execute(sa.text("ALTER TABLE tickets DROP COLUMN origin"))
    op.drop_index("ix_web_sessions_last_seen_at", table_name="web_sessions")
    op.drop_table("web_sessions")

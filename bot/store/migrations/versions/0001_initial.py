"""users, messages, processed_updates, privacy_events

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_user_key", sa.String(128), nullable=False),
        sa.Column("rasa_sender_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(64), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_seen_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("channel", "channel_user_key", name="uq_users_channel_channel_user_key"),
        sa.UniqueConstraint("rasa_sender_id", name="uq_users_rasa_sender_id"),
    )
    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("purged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_messages_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_messages_direction"),
    )
    op.create_index("ix_messages_user_id_created_at", "messages", ["user_id", "created_at"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_processed_updates"),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])
    op.create_table(
        "privacy_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_events"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_privacy_events_user_id_users", ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            "kind IN ('notice_shown', 'privacy_viewed', 'erase_requested', 'erased')",
            name="ck_privacy_events_kind",
        ),
    )
    op.create_index("ix_privacy_events_user_id", "privacy_events", ["user_id"])


def downgrade() -> None:
    op.drop_table("privacy_events")
    op.drop_table("processed_updates")
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_messages_user_id_created_at", table_name="messages")
    op.drop_table("messages")
    op.drop_table("users")

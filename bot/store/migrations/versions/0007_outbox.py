"""outbox (work for Telegram, sent by a worker) and telegram_inbox (webhook updates kept until handled)

Revision ID: 0007_outbox
Revises: 0005_web_sessions
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_outbox"
down_revision: str | None = "0005_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("answers", sa.BigInteger(), nullable=True),
        sa.Column("parts_done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", Timestamp, nullable=False),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'claimed', 'sent', 'failed')", name="ck_outbox_state"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_outbox_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_state_key_id", "outbox", ["state", "key", "id"])
    op.create_index("ix_outbox_answers", "outbox", ["answers"])
    op.create_table(
        "telegram_inbox",
        sa.Column("update_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_telegram_inbox"),
    )


def downgrade() -> None:
    op.drop_table("telegram_inbox")
    op.drop_index("ix_outbox_answers", table_name="outbox")
    op.drop_index("ix_outbox_state_key_id", table_name="outbox")
    op.drop_table("outbox")

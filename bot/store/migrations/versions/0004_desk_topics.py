"""desk_topics: the Telegram topic and card of each ticket move off the ticket row; tickets.comune → town

Revision ID: 0004
Revises: 0003
Create Date: 2027-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "desk_topics",
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("desk", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("linked_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_desk_topics_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", "desk", name="pk_desk_topics"),
    )
    op.create_index("ix_desk_topics_desk_chat_id_thread_id", "desk_topics", ["desk", "chat_id", "thread_id"])
    op.execute(
        sa.text(
            "INSERT INTO desk_topics (ticket_id, desk, chat_id, thread_id, card_message_id, linked_at) "
            "SELECT id, 'telegram', group_chat_id, thread_id, card_message_id, created_at FROM tickets "
            "WHERE group_chat_id IS NOT NULL AND thread_id IS NOT NULL"
        )
    )
    # Plain ALTER TABLE (SQLite 3.35+ and PostgreSQL), not a batch copy: recreating "tickets" on SQLite
    # would cascade-delete its events and relayed messages. None of these columns is indexed.
    for column in ("group_chat_id", "thread_id", "card_message_id"):
        op.execute(sa.text(f"ALTER TABLE tickets DROP COLUMN {column}"))
    op.execute(sa.text("ALTER TABLE tickets RENAME COLUMN comune TO town"))


def downgrade() -> None:
    op.execute(sa.text("ALTER TABLE tickets RENAME COLUMN town TO comune"))
    for column in ("group_chat_id", "thread_id", "card_message_id"):
        op.add_column("tickets", sa.Column(column, sa.BigInteger(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE tickets SET "
            "group_chat_id = (SELECT chat_id FROM desk_topics d WHERE d.ticket_id = tickets.id "
            "AND d.desk = 'telegram'), "
            "thread_id = (SELECT thread_id FROM desk_topics d WHERE d.ticket_id = tickets.id "
            "AND d.desk = 'telegram'), "
            "card_message_id = (SELECT card_message_id FROM desk_topics d WHERE d.ticket_id = tickets.id "
            "AND d.desk = 'telegram')"
        )
    )
    op.drop_index("ix_desk_topics_desk_chat_id_thread_id", table_name="desk_topics")
    op.drop_table("desk_topics")

"""handoff: tickets, ticket_events, relayed_messages, operators, operator_groups, invite_codes;
users.handoff_pending, messages.pushed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
OPEN = sa.text("state IN ('waiting', 'assigned')")


def upgrade() -> None:
    op.add_column("users", sa.Column("handoff_pending", sa.JSON(), nullable=True))
    op.add_column("messages", sa.Column("pushed", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table(
        "operators",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint(
            "partner_id", "telegram_user_id", name="uq_operators_partner_id_telegram_user_id"
        ),
    )
    op.create_index("ix_operators_telegram_user_id", "operators", ["telegram_user_id"])

    op.create_table(
        "operator_groups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(128), nullable=True),
        sa.Column("linked_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_groups"),
        sa.UniqueConstraint("partner_id", name="uq_operator_groups_partner_id"),
        sa.UniqueConstraint("chat_id", name="uq_operator_groups_chat_id"),
    )

    op.create_table(
        "invite_codes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("used_at", Timestamp, nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invite_codes"),
        sa.UniqueConstraint("code_hash", name="uq_invite_codes_code_hash"),
        sa.CheckConstraint("kind IN ('operator', 'group')", name="ck_invite_codes_kind"),
    )

    op.create_table(
        "tickets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("territory", sa.String(64), nullable=True),
        sa.Column("comune", sa.String(64), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("announced_at", Timestamp, nullable=False),
        sa.Column("reannounced", sa.Integer(), nullable=False),
        sa.Column("assigned_to", BigId, nullable=True),
        sa.Column("assigned_at", Timestamp, nullable=True),
        sa.Column("last_activity_at", Timestamp, nullable=False),
        sa.Column("closed_at", Timestamp, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_reason", sa.String(32), nullable=True),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", Timestamp, nullable=True),
        sa.Column("purged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_tickets_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to"], ["operators.id"], name="fk_tickets_assigned_to_operators", ondelete="SET NULL"
        ),
        sa.CheckConstraint("state IN ('waiting', 'assigned', 'closed', 'expired')", name="ck_tickets_state"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_tickets_rating"),
    )
    op.create_index("ix_tickets_partner_id_state", "tickets", ["partner_id", "state"])
    op.create_index("ix_tickets_state", "tickets", ["state"])
    # At most one open ticket per person, enforced by the database (also under concurrent requests).
    op.create_index(
        "uq_tickets_open_user", "tickets", ["user_id"], unique=True, sqlite_where=OPEN, postgresql_where=OPEN
    )

    op.create_table(
        "ticket_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("operator_id", BigId, nullable=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_events_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_ticket_events_operator_id_operators",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])

    op.create_table(
        "relayed_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("person_message_id", sa.BigInteger(), nullable=True),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("topic_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relayed_messages"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_relayed_messages_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "direction IN ('to_operators', 'to_person')", name="ck_relayed_messages_direction"
        ),
    )
    op.create_index("ix_relayed_messages_ticket_id", "relayed_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("relayed_messages")
    op.drop_table("ticket_events")
    op.drop_index("uq_tickets_open_user", table_name="tickets")
    op.drop_index("ix_tickets_state", table_name="tickets")
    op.drop_index("ix_tickets_partner_id_state", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("invite_codes")
    op.drop_table("operator_groups")
    op.drop_index("ix_operators_telegram_user_id", table_name="operators")
    op.drop_table("operators")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("pushed")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("handoff_pending")

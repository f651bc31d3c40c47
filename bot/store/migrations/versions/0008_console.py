"""the partners' console: staff accounts, their one-time invites, sessions, audit log and ticket notes;
operators without a Telegram account (a console account acts on tickets through its own operators row)

Revision ID: 0008_console
Revises: 0007_outbox
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_console"
down_revision: str | None = "0007_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = "role IN ('operator', 'manager', 'alliance')"


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_table(
        "console_accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column(
            "operator_id",
            BigId,
            sa.ForeignKey(
                "operators.id", name="fk_console_accounts_operator_id_operators", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint(ROLES, name="ck_console_accounts_role"),
        sa.PrimaryKeyConstraint("id", name="pk_console_accounts"),
        sa.UniqueConstraint("login", name="uq_console_accounts_login"),
    )
    op.create_table(
        "console_invites",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            BigId,
            sa.ForeignKey(
                "console_accounts.id",
                name="fk_console_invites_account_id_console_accounts",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("used_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_invites"),
    )
    op.create_index("ix_console_invites_account_id", "console_invites", ["account_id"])
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            BigId,
            sa.ForeignKey(
                "console_accounts.id",
                name="fk_console_sessions_account_id_console_accounts",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_seen_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_account_id", "console_sessions", ["account_id"])
    op.create_table(
        "console_audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("account_id", BigId, nullable=True),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("ticket_id", BigId, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_audit"),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_index("ix_console_audit_account_id", "console_audit", ["account_id"])
    op.create_table(
        "ticket_notes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            BigId,
            sa.ForeignKey("tickets.id", name="fk_ticket_notes_ticket_id_tickets", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_notes"),
    )
    op.create_index("ix_ticket_notes_ticket_id", "ticket_notes", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_notes_ticket_id", table_name="ticket_notes")
    op.drop_table("ticket_notes")
    op.drop_index("ix_console_audit_account_id", table_name="console_audit")
    op.drop_index("ix_console_audit_at", table_name="console_audit")
    op.drop_table("console_audit")
    op.drop_index("ix_console_sessions_account_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index("ix_console_invites_account_id", table_name="console_invites")
    op.drop_table("console_invites")
    op.drop_table("console_accounts")
    op.execute("DELETE FROM operators WHERE telegram_user_id IS NULL")
    with op.batch_alter_table("operators") as batch:
        batch.alter_column("telegram_user_id", existing_type=sa.BigInteger(), nullable=False)

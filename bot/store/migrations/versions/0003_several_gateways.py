"""several gateways: messages.taken_by and messages.answered_at, callback_payloads

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("taken_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("answered_at", Timestamp, nullable=True))
    # Messages stored before this revision were answered (or will never be): none is answered again.
    op.execute(sa.text("UPDATE messages SET answered_at = created_at WHERE direction = 'in'"))

    op.create_table(
        "callback_payloads",
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("seen_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_callback_payloads"),
    )
    op.create_index("ix_callback_payloads_seen_at", "callback_payloads", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_payloads_seen_at", table_name="callback_payloads")
    op.drop_table("callback_payloads")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("taken_by")

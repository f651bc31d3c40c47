"""the console's review queue: managers' labels on misunderstood, clarified and badly rated messages

Revision ID: 0009_review
Revises: 0008_console
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_review"
down_revision: str | None = "0008_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_labels",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id", BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("account_id", BigId, nullable=True),
        sa.Column("labelled_by", sa.String(64), nullable=True),
        sa.Column("labelled_at", Timestamp, nullable=False),
        sa.Column("exported_at", Timestamp, nullable=True),
    )
    op.create_index("ix_review_labels_user_id", "review_labels", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_review_labels_user_id", table_name="review_labels")
    op.drop_table("review_labels")

"""rasa_sender_ids (every Rasa id a person was given) and erasures (tombstones of erased people)

Revision ID: 0006
Revises: 0004
Create Date: 2027-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rasa_sender_ids",
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_rasa_sender_ids_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sender_id", name="pk_rasa_sender_ids"),
    )
    op.create_index("ix_rasa_sender_ids_user_id", "rasa_sender_ids", ["user_id"])
    op.create_table(
        "erasures",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("erased_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_erasures"),
    )
    op.create_index("ix_erasures_erased_at", "erasures", ["erased_at"])


def downgrade() -> None:
    op.drop_index("ix_erasures_erased_at", table_name="erasures")
    op.drop_table("erasures")
    op.drop_index("ix_rasa_sender_ids_user_id", table_name="rasa_sender_ids")
    op.drop_table("rasa_sender_ids")

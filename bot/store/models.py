"""The gateway's tables, as SQLAlchemy 2 typed models.

Schema changes go through Alembic (``bot/store/migrations``); these models are the source the migrations
are written from. Later issues add tickets and operators next to these tables.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic can alter tables (also SQLite's batch mode).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIRECTIONS = ("in", "out")
PRIVACY_KINDS = ("notice_shown", "privacy_viewed", "erase_requested", "erased")

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps always in UTC: aware in Python, ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class User(Base):
    """A person on one channel. ``rasa_sender_id`` is random and opaque: Rasa never sees the channel id."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "channel_user_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_key: Mapped[str] = mapped_column(String(128))
    rasa_sender_id: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One message in either direction. After the retention period ``text``/``payload``/``buttons`` are
    nulled and ``purged`` is set; ``meta`` (what the reply was about, no personal text) is kept."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index("ix_messages_user_id_created_at", "user_id", "created_at"),
        Index("ix_messages_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged: Mapped[bool] = mapped_column(Boolean, default=False)


class ProcessedUpdate(Base):
    """A Telegram update id already taken in: the same id is never answered twice."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PrivacyEvent(Base):
    """Privacy notice shown, /privacy read, erase asked and done. The "erased" record has no user."""

    __tablename__ = "privacy_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('notice_shown', 'privacy_viewed', 'erase_requested', 'erased')", name="kind"
        ),
        Index("ix_privacy_events_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""The gateway's tables, as SQLAlchemy 2 typed models.

Schema changes go through Alembic (``bot/store/migrations``); these models are the source the migrations
are written from. The handoff to partner operators adds tickets (with their events and the mapping of
relayed messages), operators, operators' groups and invite codes (migration 0002). Running several
gateways side by side adds who took each inbound message in and when it was answered, and the long button
payloads (migration 0003). The operators' desks keep where each ticket sits (its Telegram topic and card)
in their own table, off the ticket row (migration 0004). Erasure keeps every Rasa id a person was given
and a tombstone of each erased person (migration 0006). The web chat's sessions, issued by the server,
and where an open ticket came from (migration 0005_web_sessions, which follows 0006).
Work for Telegram goes through an outbox, and webhook updates are kept until handled
(migration 0007_outbox, which follows 0005_web_sessions). The partners' console's tables are in
:mod:`bot.store.console_models` (migration 0008_console).
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
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.handoff.model import OPEN_STATES as OPEN_TICKET_STATES
from bot.handoff.model import InviteKind, TicketState

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
# The values the CHECK constraints allow (their SQL is written from these tuples).
TICKET_STATES = tuple(s.value for s in TicketState)
OPEN_STATES = tuple(s.value for s in OPEN_TICKET_STATES)
INVITE_KINDS = tuple(k.value for k in InviteKind)
RELAY_DIRECTIONS = ("to_operators", "to_person")

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
    # A request for a person waiting for the town (the ticket is created once the town is known):
    # {"topic": ..., "tries": n, "at": ISO time}. Null otherwise.
    handoff_pending: Mapped[dict[str, Any] | None]


class Message(Base):
    """One message in either direction. After the retention period ``text``/``payload``/``buttons`` are
    nulled and ``purged`` is set; ``meta`` (what the reply was about, no personal text) is kept."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"direction IN {DIRECTIONS}", name="direction"),
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
    # Sent to the person outside an answer (an operator's message, a ticket closed...): the web chat
    # fetches these with GET /api/chat/updates.
    pushed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Inbound only: the gateway that took the message in, and when its answer was stored (or when a
    # gateway claimed it to answer it after a crash). Null ``answered_at``: not answered yet.
    taken_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None]


class CallbackPayload(Base):
    """A button payload too long for Telegram's 64-byte ``callback_data``, under the short key the button
    carries (``p:`` + 10 hex characters of its SHA-256). Shared by every gateway; ``seen_at`` is the last
    time a gateway rendered it, and the retention job deletes the rows not rendered for a long time."""

    __tablename__ = "callback_payloads"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ProcessedUpdate(Base):
    """A Telegram update id already taken in: the same id is never answered twice."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PrivacyEvent(Base):
    """Privacy notice shown, /privacy read, erase asked and done. The "erased" record has no user."""

    __tablename__ = "privacy_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {PRIVACY_KINDS}", name="kind"),
        Index("ix_privacy_events_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Operator(Base):
    """A partner's operator on Telegram, registered with a one-time invite code."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("partner_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # None: a console account
    first_name: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorGroup(Base):
    """The operators' forum supergroup of a partner (one per partner), linked with a one-time code."""

    __tablename__ = "operator_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str | None] = mapped_column(String(128))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class InviteCode(Base):
    """A one-time code, stored as its SHA-256 only: ``operator`` registers an operator, ``group`` links
    a group. Used once (``used_at``), refused after ``expires_at``."""

    __tablename__ = "invite_codes"
    __table_args__ = (CheckConstraint(f"kind IN {INVITE_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))


class Ticket(Base):
    """A chat handed to a partner's operators. States: waiting → assigned → closed, plus expired (closed
    by the system after a long silence); assigned → waiting when an operator releases it. At most one
    open ticket per person (a partial unique index)."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(f"state IN {TICKET_STATES}", name="state"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_tickets_partner_id_state", "partner_id", "state"),
        Index("ix_tickets_state", "state"),
        Index("ix_tickets_origin", "origin"),
        Index(
            "uq_tickets_open_user",
            "user_id",
            unique=True,
            sqlite_where=text(f"state IN {OPEN_STATES}"),
            postgresql_where=text(f"state IN {OPEN_STATES}"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    town: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
    reannounced: Mapped[int] = mapped_column(Integer, default=0)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None]
    purged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the request came from, while the ticket is open: a hash of the web client's address (the
    # per-address cap on open tickets), cleared when the ticket closes; null on Telegram.
    origin: Mapped[str | None] = mapped_column(String(64))


class TicketEvent(Base):
    """One step of a ticket's life: what happened, from which state to which, when and by whom
    (``actor``: "person", "operator:<id>", "system"). Refused attempts are events too."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(String(255))


class RelayedMessage(Base):
    """A message copied between the person's chat and the ticket's forum topic, with both message ids, so
    the copies can be found (and deleted when the person erases her data)."""

    __tablename__ = "relayed_messages"
    __table_args__ = (
        CheckConstraint(f"direction IN {RELAY_DIRECTIONS}", name="direction"),
        Index("ix_relayed_messages_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(16))
    person_message_id: Mapped[int | None] = mapped_column(BigInteger)
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    topic_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskTopic(Base):
    """Where a ticket sits on an operators' desk (``desk``: "telegram"): the forum topic (group chat and
    thread) and the card's message. One row per ticket and desk; the desk's own table, not the ticket's."""

    __tablename__ = "desk_topics"
    __table_args__ = (Index("ix_desk_topics_desk_chat_id_thread_id", "desk", "chat_id", "thread_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    desk: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class RasaSenderId(Base):
    """A Rasa id the person was given besides ``users.rasa_sender_id``: one made while the database was
    away (the gateway had no row to read hers from) and written back with the spool. Erasing her erases
    the conversation of each one in Rasa."""

    __tablename__ = "rasa_sender_ids"

    sender_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """A tombstone: someone erased her data at ``erased_at``. ``key_hash`` is a SHA-256 (see
    :func:`bot.store.erase.tombstone_key`) of her channel and key, or of one of her Rasa ids, never the
    ids in clear. A message kept in a gateway's spool from before that time is not written back."""

    __tablename__ = "erasures"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(index=True)


class WebSession(Base):
    """A web chat session issued by the server: only the SHA-256 hash of the cookie's token, when it was
    issued and last used (see bot/channels/web/sessions.py). Nothing about the person."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_last_seen_at", "last_seen_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


OUTBOX_STATES = ("pending", "claimed", "sent", "failed")


class OutboxRow(Base):
    """Work for Telegram, sent by the outbox worker (:mod:`bot.core.outbox`): a reply to a person, a relay
    into an operators' topic, a topic with its card, a notice. ``key`` orders the items: one at a time per
    key, oldest first. ``parts_done`` counts the Telegram messages of the item already accepted, so a retry
    sends only the rest. The body is emptied once sent; a person's items go with her row (cascade)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"state IN {OUTBOX_STATES}", name="state"),
        Index("ix_outbox_state_key_id", "state", "key", "id"),
        Index("ix_outbox_answers", "answers"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(8), default="pending")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # the inbound message this item answers: marked answered when Telegram accepted the item
    answers: Mapped[int | None] = mapped_column(BigInteger)
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class TelegramInbox(Base):
    """A webhook update, stored before Telegram is told 200 and deleted once its handlers have run; what
    is left after a kill is processed again at start-up."""

    __tablename__ = "telegram_inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

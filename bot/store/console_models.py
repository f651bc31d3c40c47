"""The tables of the partners' console (migration 0008_console): staff accounts, their one-time invites,
their sessions, the audit log, and internal notes on tickets. Registered on the same metadata as
:mod:`bot.store.models` (imported by :mod:`bot.store`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigId, utcnow

ROLES = ("operator", "manager", "alliance")


class ConsoleAccount(Base):
    """A member of a partner's staff. ``password_hash`` (argon2) is null until the invite is used. An
    operator or a manager acts on tickets through ``operator_id`` (an operators row with no Telegram
    account), so a claim on the web is the same claim as in a Telegram topic."""

    __tablename__ = "console_accounts"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    login: Mapped[str] = mapped_column(String(64), unique=True)  # what she signs in with
    name: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleInvite(Base):
    """A one-time link to set an account's password: only the SHA-256 of its token."""

    __tablename__ = "console_invites"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser: the SHA-256 of its cookie's token. Deleted on sign-out or revocation."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleAudit(Base):
    """Every sign-in (and failed one), every action and every refusal in the console. No foreign keys:
    the log outlives accounts and tickets."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"), Index("ix_console_audit_account_id", "account_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[int | None] = mapped_column(BigId)
    partner_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(BigId)
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))


class TicketNote(Base):
    """An internal note on a ticket, for the partner's staff only (erased with the ticket)."""

    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


REVIEW_LABELS_OTHER = ("new_need", "out_of_scope")


class ReviewLabel(Base):
    """A manager's label on a message of the review queue (the person's message, by id): the right topic
    intent, ``new_need`` or ``out_of_scope``; who and when; when ``concilia review export`` wrote it out.
    Deleted with the person (erasure) and, while not exported, when the message's text is purged."""

    __tablename__ = "review_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(BigId)
    labelled_by: Mapped[str | None] = mapped_column(String(64))
    labelled_at: Mapped[datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[datetime | None] = mapped_column(default=None)

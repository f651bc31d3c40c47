"""What the store takes and gives about people and messages: plain frozen dataclasses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store.models import utcnow


def new_sender_id() -> str:
    """A random opaque id for Rasa: it says nothing about the person or the channel."""
    return "c-" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class ConversationAge:
    """How old the person's current Rasa conversation is, seen from the message just stored: the inbound
    messages stored before it since her current Rasa id was given (an upper bound on the turns Rasa had:
    commands and messages to an operator count too), when the last of them came, and when this one did
    (a new conversation starts with it)."""

    turns: int
    last_at: datetime | None
    at: datetime


@dataclass(frozen=True)
class UserRef:
    id: int
    rasa_sender_id: str
    message_id: int | None = field(default=None, compare=False)  # the first message just stored
    # the person's inbound messages since ``count_since`` (this one included), when save() was asked
    recent_inbound: int | None = field(default=None, compare=False)
    # the age of her Rasa conversation, when save() was asked with ``count_since``
    conversation: ConversationAge | None = field(default=None, compare=False)
    # she has an open ticket or a request for a person waiting for her town (``count_since`` asked)
    in_handoff: bool | None = field(default=None, compare=False)


@dataclass(frozen=True)
class NewMessage:
    """A message to store. It carries who sent it (channel and key) and the Rasa id to give the person if
    their row does not exist yet, so a message kept in the spool can be written later on its own."""

    channel: str
    user_key: str
    direction: str  # "in" | "out"
    rasa_sender_id: str
    text: str | None = None
    payload: str | None = None
    buttons: list[dict[str, str]] | None = None
    meta: dict[str, Any] | None = None
    first_name: str | None = None
    update_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    pushed: bool = False  # sent outside an answer (see Message.pushed)
    taken_by: str | None = None  # inbound: the gateway that took it in
    answered_at: datetime | None = None  # inbound: already answered (e.g. answered from the spool)
    answers: int | None = None  # outbound: the id of the inbound message this reply answers

    @property
    def is_mark(self) -> bool:
        """An outbound record with nothing to show: it only marks ``answers`` answered (a turn without
        replies, kept in the spool while the database was away)."""
        return self.direction == "out" and self.answers is not None and not (self.text or self.buttons)


@dataclass(frozen=True)
class PendingMessage:
    """An inbound message stored but not answered: a gateway stopped between storing and answering it."""

    id: int
    user_id: int
    channel: str
    user_key: str
    rasa_sender_id: str
    first_name: str | None
    text: str | None
    payload: str | None
    created_at: datetime
    taken_by: str | None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    direction: str
    text: str | None
    payload: str | None
    buttons: list[dict[str, str]] | None
    meta: dict[str, Any] | None
    created_at: datetime
    purged: bool

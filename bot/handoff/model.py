"""What the handoff is made of, as plain data: ticket states, the views the store hands out and the
service hands to the channels, the pending request, the card, an operator's action and its outcome.

No I/O and no imports of the store or of ``telegram``: the store builds these, the service decides with
them, the channels render them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge import Partner

# A request for a person waiting for the town is forgotten after this (by the flow when she writes, by
# the retention purge otherwise).
PENDING_TTL = timedelta(minutes=30)


class TicketState(StrEnum):
    """A ticket's life: ``waiting → assigned → closed``, ``assigned → waiting`` (released),
    ``waiting → closed``, and ``expired`` (closed by the system after a long silence)."""

    WAITING = "waiting"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    EXPIRED = "expired"


OPEN_STATES: tuple[TicketState, ...] = (TicketState.WAITING, TicketState.ASSIGNED)


class Action(StrEnum):
    """What an operator can do to a ticket (a button or a command of a desk)."""

    CLAIM = "claim"
    RELEASE = "release"
    CLOSE = "close"
    BACK = "back"  # close, and hand the person back to the assistant


class InviteKind(StrEnum):
    OPERATOR = "operator"  # registers an operator
    GROUP = "group"  # links an operators' group to a partner


class Delivery(Enum):
    OK = "ok"
    BLOCKED = "blocked"  # the person blocked the bot
    FAILED = "failed"


@dataclass(frozen=True)
class TicketView:
    id: int
    user_id: int
    partner_id: str
    topic: str | None
    territory: str | None
    town: str | None  # the town's name ("comune" in the assistant's meta)
    question: str | None
    state: TicketState
    created_at: datetime
    announced_at: datetime
    reannounced: int
    assigned_to: int | None
    assigned_name: str | None
    assigned_at: datetime | None
    last_activity_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    rating: int | None
    # the person: how to reach her (never shown to operators) and her first name (shown)
    channel: str
    user_key: str
    first_name: str | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class OperatorView:
    id: int
    partner_id: str
    telegram_user_id: int | None  # None: an operator of the web console
    first_name: str | None
    active: bool


@dataclass(frozen=True)
class GroupView:
    partner_id: str
    chat_id: int
    title: str | None


@dataclass(frozen=True)
class EventView:
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str
    operator_id: int | None
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class RelayView:
    direction: str
    person_message_id: int | None
    group_chat_id: int | None
    topic_message_id: int | None


@dataclass(frozen=True)
class Transition:
    """The result of a conditional state change: ``done`` tells whether this call made it, ``ticket`` is
    the ticket as it is now (None when it does not exist)."""

    done: bool
    ticket: TicketView | None


@dataclass(frozen=True)
class TopicPlace:
    """Where a ticket sits on an operators' desk: its topic (chat, thread) and the card's message."""

    ticket_id: int
    chat_id: int
    thread_id: int
    card_message_id: int | None


@dataclass(frozen=True)
class ErasedTicket:
    """A ticket erased with its person: what the desks need to clean up and tell their operators."""

    ticket: TicketView
    place: TopicPlace | None
    topic_message_ids: tuple[int, ...]


@dataclass(frozen=True)
class PendingRequest:
    """A request for a person waiting for her town (kept in ``users.handoff_pending`` as JSON)."""

    topic: str | None
    question: str | None
    tries: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "question": self.question,
            "tries": self.tries,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PendingRequest | None:
        """The stored request, or None when there is none or it cannot be read."""
        if not data:
            return None
        try:
            at = datetime.fromisoformat(str(data.get("at")))
        except ValueError:
            return None
        topic, question = data.get("topic"), data.get("question")
        return cls(
            topic=topic if isinstance(topic, str) else None,
            question=question if isinstance(question, str) else None,
            tries=int(data.get("tries") or 0),
            at=at,
        )


@dataclass(frozen=True)
class Person:
    user_id: int
    channel: str
    user_key: str
    first_name: str | None
    address: str | None = None  # web: the client's address, for the cap on open tickets per address


@dataclass(frozen=True)
class Actor:
    """Who acts on a desk: an operator (by her Telegram account) in an operators' group (``chat_id``),
    or in a private chat (``chat_id`` None, for the queue only)."""

    telegram_user_id: int
    first_name: str | None
    chat_id: int | None


@dataclass(frozen=True)
class Card:
    """What the operators see about a ticket: first name and ticket number, never an id or a phone."""

    ticket_id: int
    name: str
    partner: str
    topic: str | None
    place: str | None
    question: str | None
    last_messages: tuple[tuple[str, str], ...]  # (who, text)
    state: TicketState
    assigned: str | None
    office: str | None  # "ufficio chiuso..." when the person was told to wait for the opening
    channel: str
    close_reason: str | None = None  # why it ended ("unclaimed": nobody took it in time)

    @property
    def title(self) -> str:
        parts = [f"n. {self.ticket_id}", self.name]
        if self.topic:
            parts.append(self.topic)
        return " · ".join(parts)[:128]


@dataclass(frozen=True)
class OperatorContent:
    """An operator's message in a ticket's topic, as the channel saw it."""

    message_id: int
    text: str | None  # the text, or a media's caption
    kind: str | None = None  # None for text; "photo", "document", ...


@dataclass(frozen=True)
class QueuedTicket:
    """One open ticket in a partner's queue (``/coda``)."""

    ticket_id: int
    name: str
    about: str | None  # its topic and place, e.g. "Scuole chiuse e centri estivi, Magenta (Magentino)"
    assigned: str | None  # who took it; None while it waits
    seconds: float  # how long it has been waiting, or taken


@dataclass(frozen=True)
class PartnerQueue:
    partner: str
    tickets: tuple[QueuedTicket, ...]


@dataclass(frozen=True)
class Outcome:
    """The answer to an operator's action: ``text`` is shown to them (as an alert when ``alert``); a
    queue asked for comes as data in ``queues`` (each desk renders it)."""

    ok: bool
    text: str
    ticket: TicketView | None = None
    alert: bool = False
    queues: tuple[PartnerQueue, ...] = ()


@dataclass(frozen=True)
class Timeouts:
    unclaimed_after: float = 600.0  # seconds of office hours
    silent_after: float = 86_400.0  # seconds
    waiting_expires_after: float = 57_600.0  # seconds of office hours a ticket may wait, then it expires
    queue_cap: int = 30  # waiting tickets per partner; past it the person gets the partner's contacts
    invite_ttl: timedelta = timedelta(hours=72)


def display_name(ticket: TicketView) -> str:
    if ticket.first_name:
        return ticket.first_name
    return "Persona dal sito" if ticket.channel == "web" else "Persona"


class TooManyOpen(Exception):
    """The address the request comes from already has as many open tickets as allowed."""


def origin_of(address: str) -> str:
    """What a ticket keeps of the address it came from, while it is open: a hash, never the address."""
    return hashlib.sha256(f"concilia-origin:{address}".encode()).hexdigest()


def partner_contacts(partner: Partner) -> str | None:
    """A partner's contacts in one line, for the person ("tel. …, e-mail, web"), None if it has none."""
    c = partner.contacts
    found = ", ".join(x for x in (c.phone and f"tel. {c.phone}", c.email, c.web) if x)
    return found or None

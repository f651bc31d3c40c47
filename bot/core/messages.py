"""Channel-neutral messages exchanged between the channels and the conversation router.

Channels turn a platform event into an :class:`Inbound`, the router answers with a :class:`Turn`,
and the channel renders it. Nothing here knows about Telegram or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.contract import META_FIELDS  # the reply meta's fields, in one place for both sides

MAX_TEXT_CHARS = 4096  # the longest message taken in (Telegram's own limit)


def empty_meta() -> dict[str, Any]:
    """The assistant's ``meta`` payload with every field present and unknown."""
    return {name: None for name in META_FIELDS}


def normalise_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Every field of META_FIELDS present (null when unknown); extra fields are kept."""
    out = empty_meta()
    if meta:
        out.update(meta)
    return out


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Inbound:
    channel: str  # "telegram" | "web"
    user_key: str  # channel-specific id of the person (Telegram chat id, web opaque id), as text
    text: str | None = None
    payload: str | None = None  # the payload of a pressed button
    location: tuple[float, float] | None = None  # (latitude, longitude)
    unsupported: str | None = None  # "sticker", "photo", "voice", ... : content we cannot read
    command: str | None = None  # "start", "help", "menu", "privacy", "cancella", without the slash
    first_name: str | None = None
    update_id: int | None = None  # Telegram update id, for exactly-once processing
    message_id: int | None = None  # the platform's id of the message, to copy it to the operators
    # web: the client's address (or its IPv6 /64) as the flood limits count it; never stored as such
    address: str | None = None


@dataclass
class Turn:
    replies: list[Reply] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=empty_meta)
    queued: bool = False  # the replies wait in the outbox, whose worker sends them: not the channel

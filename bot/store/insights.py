"""What the needs dashboard is computed from, read in one query each: the meta of the assistant's answers
(what each one was about: never a text) with who got it and when, the people's questions (their texts, for
:mod:`bot.insights.asked` to read the age and the period from, in memory), and the tickets' times and
ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.messages import Store
from bot.store.models import Message, Ticket


@dataclass(frozen=True)
class AnswerMeta:
    user_id: int
    at: datetime
    meta: dict[str, Any]
    id: int = 0  # the message's: the order of the conversation
    age: int | None = None  # the child's age and the period asked by then (bot.insights.asked)
    period: str | None = None


@dataclass(frozen=True)
class Question:
    id: int
    user_id: int
    at: datetime
    text: str | None
    payload: str | None


@dataclass(frozen=True)
class TicketTimes:
    id: int
    user_id: int
    partner_id: str
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    state: str
    rating: int | None
    first_reply_at: datetime | None = None  # the first message an operator wrote to the person


class InsightsStore:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    async def answers(self, since: datetime) -> list[AnswerMeta]:
        """The assistant's answers since ``since`` that carry the reply meta (an ``intent`` key)."""
        query = (
            select(Message.id, Message.user_id, Message.created_at, Message.meta)
            .where(Message.direction == "out", Message.created_at >= since, Message.meta.is_not(None))
            .order_by(Message.id)
        )
        rows = await self.db.read(lambda s: s.execute(query).all())
        return [AnswerMeta(u, at, m, id=i) for i, u, at, m in rows if isinstance(m, dict) and "intent" in m]

    async def questions(self, since: datetime) -> list[Question]:
        """What people wrote since ``since`` (texts the retention job purged are not there)."""
        query = (
            select(Message.id, Message.user_id, Message.created_at, Message.text, Message.payload)
            .where(Message.direction == "in", Message.created_at >= since, Message.purged.is_(False))
            .order_by(Message.id)
        )
        rows = await self.db.read(lambda s: s.execute(query).all())
        return [Question(*r) for r in rows]

    async def tickets(self, since: datetime) -> list[TicketTimes]:
        """The tickets opened since ``since``, with when an operator first wrote to the person (from
        Telegram or the console: the messages pushed to her with ``{"from": "operator"}`` in their meta)."""
        query = select(
            Ticket.id,
            Ticket.user_id,
            Ticket.partner_id,
            Ticket.created_at,
            Ticket.assigned_at,
            Ticket.closed_at,
            Ticket.state,
            Ticket.rating,
        ).where(Ticket.created_at >= since)
        pushed = (
            select(Message.created_at, Message.meta)
            .where(Message.pushed.is_(True), Message.created_at >= since, Message.meta.is_not(None))
            .order_by(Message.id)
        )

        def run(session: Session) -> list[TicketTimes]:
            first: dict[int, datetime] = {}
            for at, meta in session.execute(pushed).all():
                if (
                    isinstance(meta, dict)
                    and meta.get("from") == "operator"
                    and isinstance(meta.get("ticket"), int)
                ):
                    first.setdefault(meta["ticket"], at)
            return [TicketTimes(*r, first_reply_at=first.get(r[0])) for r in session.execute(query).all()]

        return await self.db.read(run)

"""What the console's review queue reads and writes: the person's messages with the meta of the answer
each one got (in one query, the window the dashboard reads), the low ratings of tickets, and the managers'
labels (:class:`~bot.store.console_models.ReviewLabel`), their export and its marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.console_models import ReviewLabel
from bot.store.messages import Store
from bot.store.models import Message, Ticket


@dataclass(frozen=True)
class Turn:
    """A message of the person (``text``) and the meta of the first answer she got to it."""

    message_id: int
    user_id: int
    at: datetime
    text: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class LabelView:
    id: int
    message_id: int
    label: str
    labelled_by: str | None
    labelled_at: datetime
    exported_at: datetime | None


@dataclass(frozen=True)
class ToExport:
    review_id: int
    label: str
    labelled_at: datetime
    text: str


def _turns(session: Session, since: datetime) -> list[Turn]:
    query = (
        select(Message.id, Message.user_id, Message.direction, Message.text, Message.meta, Message.created_at)
        .where(Message.created_at >= since, Message.purged.is_(False))
        .order_by(Message.id)
    )
    waiting: dict[int, tuple[int, datetime, str]] = {}  # user -> her last message not answered yet
    found = []
    for mid, user_id, direction, text, meta, at in session.execute(query).all():
        if direction == "in":
            if text and not text.startswith("/"):
                waiting[user_id] = (mid, at, text)
            else:
                waiting.pop(user_id, None)  # a button or a command: nothing to review
            continue
        if isinstance(meta, dict) and "intent" in meta and user_id in waiting:
            mid_in, at_in, text_in = waiting.pop(user_id)
            found.append(Turn(mid_in, user_id, at_in, text_in, meta))
    return found


class ReviewStore:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    async def turns(self, since: datetime) -> list[Turn]:
        return await self.db.read(lambda s: _turns(s, since))

    async def low_ratings(self, since: datetime, worst: int) -> list[tuple[int, datetime]]:
        """(person, when the ticket was opened) of the tickets rated ``worst`` or less."""
        query = select(Ticket.user_id, Ticket.created_at).where(
            Ticket.created_at >= since, Ticket.rating.is_not(None), Ticket.rating <= worst
        )
        return [(u, at) for u, at in await self.db.read(lambda s: s.execute(query).all())]

    async def labels(self) -> dict[int, LabelView]:
        """Every label, by the message it is on."""
        rows = await self.db.read(lambda s: list(s.scalars(select(ReviewLabel))))
        return {
            r.message_id: LabelView(r.id, r.message_id, r.label, r.labelled_by, r.labelled_at, r.exported_at)
            for r in rows
        }

    async def set_label(
        self, message_id: int, user_id: int, label: str, account_id: int, by: str | None, now: datetime
    ) -> bool:
        """Label the message (again, while not exported); False when it was already exported."""

        def run(session: Session) -> bool:
            row = session.scalar(select(ReviewLabel).where(ReviewLabel.message_id == message_id))
            if row is None:
                session.add(
                    ReviewLabel(
                        message_id=message_id,
                        user_id=user_id,
                        label=label,
                        account_id=account_id,
                        labelled_by=by,
                        labelled_at=now,
                    )
                )
                return True
            if row.exported_at is not None:
                return False
            row.label, row.account_id, row.labelled_by, row.labelled_at = label, account_id, by, now
            return True

        return await self.db.write(run)

    async def to_export(self, labels: tuple[str, ...]) -> list[ToExport]:
        """The labels in ``labels`` not exported yet whose message still has its text, oldest first."""
        query = (
            select(ReviewLabel.id, ReviewLabel.label, ReviewLabel.labelled_at, Message.text)
            .join(Message, Message.id == ReviewLabel.message_id)
            .where(
                ReviewLabel.exported_at.is_(None),
                ReviewLabel.label.in_(labels),
                Message.purged.is_(False),
                Message.text.is_not(None),
            )
            .order_by(ReviewLabel.id)
        )
        rows = await self.db.read(lambda s: s.execute(query).all())
        return [ToExport(i, label, at, text) for i, label, at, text in rows if text]

    async def mark_exported(self, review_ids: list[int], now: datetime) -> None:
        if not review_ids:
            return
        query = update(ReviewLabel).where(ReviewLabel.id.in_(review_ids)).values(exported_at=now)
        await self.db.write(lambda s: s.execute(query))

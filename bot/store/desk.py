"""The operators' desks' own table: where each ticket sits (its Telegram topic and card), and the copies
made in its topic. Implements :class:`bot.handoff.ports.DeskPlaces` for one desk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff.model import TopicPlace
from bot.store.db import rowcount
from bot.store.messages import Store
from bot.store.models import DeskTopic
from bot.store.tickets import add_event, new_relay


class DeskPlacesStore:
    def __init__(self, store: Store, desk: str = "telegram") -> None:
        self.db = store.db
        self.desk = desk

    async def place(self, ticket_id: int) -> TopicPlace | None:
        def run(session: Session) -> TopicPlace | None:
            row = session.get(DeskTopic, (ticket_id, self.desk))
            return (
                None
                if row is None
                else TopicPlace(ticket_id, row.chat_id, row.thread_id, row.card_message_id)
            )

        return await self.db.read(run)

    async def ticket_at(self, chat_id: int, thread_id: int) -> int | None:
        query = (
            select(DeskTopic.ticket_id)
            .where(
                DeskTopic.desk == self.desk, DeskTopic.chat_id == chat_id, DeskTopic.thread_id == thread_id
            )
            .order_by(DeskTopic.ticket_id.desc())
        )
        return await self.db.read(lambda s: s.scalars(query).first())

    async def link(
        self,
        ticket_id: int,
        chat_id: int,
        thread_id: int,
        now: datetime,
        *,
        replacing: int | None = None,
        card_message_id: int | None = None,
    ) -> bool:
        """Link the ticket to its topic if it still has the topic ``replacing`` (None: no topic yet), with
        its event. False when another gateway linked a topic first: the caller's topic is one too many."""
        values = {
            "chat_id": chat_id,
            "thread_id": thread_id,
            "card_message_id": card_message_id,
            "linked_at": now,
        }

        def run(session: Session) -> bool:
            if replacing is None:
                try:
                    with session.begin_nested():
                        session.add(DeskTopic(ticket_id=ticket_id, desk=self.desk, **values))
                except IntegrityError:  # another gateway's topic is there already
                    return False
            else:
                result = session.execute(
                    update(DeskTopic)
                    .where(
                        DeskTopic.ticket_id == ticket_id,
                        DeskTopic.desk == self.desk,
                        DeskTopic.thread_id == replacing,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if rowcount(result) != 1:
                    return False
            add_event(session, ticket_id, "topic", "system", now, detail=f"thread {thread_id}")
            return True

        return await self.db.write(run)

    async def set_card(self, ticket_id: int, card_message_id: int) -> None:
        query = (
            update(DeskTopic)
            .where(DeskTopic.ticket_id == ticket_id, DeskTopic.desk == self.desk)
            .values(card_message_id=card_message_id)
        )
        await self.db.write(lambda s: s.execute(query))

    async def add_relay(
        self,
        ticket_id: int,
        direction: str,
        *,
        person_message_id: int | None,
        chat_id: int | None,
        topic_message_id: int | None,
        now: datetime,
    ) -> None:
        relay = new_relay(ticket_id, direction, person_message_id, chat_id, topic_message_id, now)
        await self.db.write(lambda s: s.add(relay))

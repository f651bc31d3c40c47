"""The operators' desk on Telegram: a forum supergroup per partner, a topic per ticket.

The decisions are :class:`bot.handoff.service.HandoffService`'s; this module only speaks Telegram. It is an
:class:`~bot.handoff.ports.OperatorsDesk` (told by the service about every ticket), with the Telegram
:class:`~bot.handoff.ports.PersonSender` (:mod:`bot.channels.telegram.person_sender`); where each ticket
sits (topic, card, copies) it keeps in its own table, through the service's
:class:`~bot.handoff.ports.DeskPlaces` port.

* **Topics.** Each ticket gets its own forum topic (never the General one) with a card (see
  :mod:`bot.channels.telegram.cards`). Everything that touches a ticket's topic is an item of the outbox
  (:mod:`bot.core.outbox`), written to the database before anything is sent and sent by its worker one
  item at a time per ticket, so a burst of messages creates the topic once and a kill loses none of it.
  A topic deleted by the operators
  ("message thread not found") is created again, with a fresh card, on the next message.
* **Relaying.** The person's messages are copied into the topic (``copyMessage``: text, photos, documents,
  no "forwarded from" header, so no Telegram id or phone shows); a web person's text is sent, split at
  Telegram's limit (each part accepted is recorded: a retry sends the rest). An operator's message
  in the topic is copied to the person.
* **Sending** goes through :class:`~bot.channels.telegram.send.TelegramSend` (one retry policy); a
  refusal (``BadRequest``, ``Forbidden``) ends the item, a network failure leaves it for a later try. On
  shutdown the outbox is drained first.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from telegram.error import BadRequest, Forbidden, TelegramError

from bot.channels.telegram.cards import card_buttons, render_card
from bot.channels.telegram.person_sender import TelegramPersonSender
from bot.channels.telegram.render import split_text
from bot.channels.telegram.send import TelegramSend
from bot.core import outbox as outbox_kinds
from bot.core.messages import Inbound
from bot.core.outbox import (
    Handler,
    MemoryOutbox,
    NewItem,
    OutboxItem,
    OutboxWorker,
    Progress,
    Undeliverable,
)
from bot.handoff import texts as txt
from bot.handoff.model import Card, ErasedTicket, TicketView, display_name
from bot.handoff.service import HandoffService

log = logging.getLogger(__name__)

NOTICE = "ℹ️ "  # noqa: RUF001

# sends something into a topic: (chat id, thread id) -> the ids of the messages sent
TopicSend = Callable[[int, int], Awaitable[list[int]]]


def _thread_gone(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "thread not found" in text or "topic_deleted" in text or "topic_id_invalid" in text


def _topic_closed(exc: BadRequest) -> bool:
    return "topic_closed" in exc.message.lower()


def _ignorable_edit(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "not modified" in text or "to edit not found" in text


class TelegramDesk:
    def __init__(
        self,
        service: HandoffService,
        send: TelegramSend,
        *,
        encode: Callable[[str], str] = lambda payload: payload,
        drain_timeout: float = 15.0,
        outbox: OutboxWorker | None = None,
    ) -> None:
        self.service = service
        self.places = service.desk_places
        self.telegram = send
        self.encode = encode
        self.drain_timeout = drain_timeout
        self.outbox = outbox if outbox is not None else OutboxWorker(MemoryOutbox(), service.clock)
        for kind, handler in (
            (outbox_kinds.ANNOUNCE, self._on_announce),
            (outbox_kinds.RELAY, self._on_relay),
            (outbox_kinds.NOTICE, self._on_notice),
            (outbox_kinds.ERASE, self._on_erase),
            (outbox_kinds.CARD, self._on_card),
            (outbox_kinds.GROUP, self._on_group),
        ):
            self.outbox.handle(kind, partial(self._refusals, handler))
        service.attach_desk(self)
        service.attach_sender("telegram", TelegramPersonSender(send, encode))

    @property
    def bot(self) -> Any:  # PTB's ExtBot
        return self.telegram.bot

    async def stop(self) -> None:
        """Deliver what is queued before the application stops."""
        await self.outbox.drain(self.drain_timeout)

    # ------------------------------------------------------------------ the desk (called by the service)

    async def announce(self, ticket: TicketView, card: Card) -> None:
        await self._queue(ticket, outbox_kinds.ANNOUNCE, {})

    async def person_wrote(self, ticket: TicketView, msg: Inbound) -> None:
        await self._queue(ticket, outbox_kinds.RELAY, {"message_id": msg.message_id, "text": msg.text})

    async def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None:
        await self._queue(ticket, outbox_kinds.NOTICE, {"text": text, "card": card is not None, "end": False})

    async def ended(self, ticket: TicketView, text: str, card: Card) -> None:
        await self._queue(ticket, outbox_kinds.NOTICE, {"text": text, "card": True, "end": True})

    async def erased(self, tickets: list[ErasedTicket]) -> None:
        for erased in tickets:
            place = erased.place
            body = {
                "open": erased.ticket.is_open,
                "place": None if place is None else [place.chat_id, place.thread_id, place.card_message_id],
                "ids": list(erased.topic_message_ids),
            }
            await self._queue(erased.ticket, outbox_kinds.ERASE, body, personal=False)

    async def reannounced(self, partner_id: str, tickets: list[tuple[TicketView, Card]], text: str) -> None:
        for ticket, _card in tickets:  # the cards quietly (edits notify nobody)
            await self._queue(ticket, outbox_kinds.CARD, {}, personal=False)
        body = {"partner_id": partner_id, "text": NOTICE + text}  # ticket numbers only, no name
        await self._put(NewItem(outbox_kinds.GROUP, f"partner:{partner_id}", body))

    async def _queue(
        self, ticket: TicketView, kind: str, body: dict[str, Any], *, personal: bool = True
    ) -> None:
        """Queue the work in the outbox (a person's items are erased with her; an erasure is not hers)."""
        user_id = ticket.user_id if personal else None
        body = {"ticket_id": ticket.id, **body}
        await self._put(NewItem(kind, outbox_kinds.ticket_key(ticket.id), body, user_id=user_id))

    async def _put(self, item: NewItem) -> None:
        try:
            await self.outbox.queue.put(item)
        except Exception:
            log.exception("the operators' %s (%s) cannot be queued", item.kind, item.key)
            return
        self.outbox.poke()

    @staticmethod
    async def _refusals(handler: Handler, item: OutboxItem, progress: Progress) -> None:
        try:
            await handler(item, progress)
        except (BadRequest, Forbidden) as exc:  # Telegram said no for good: retrying would not help
            raise Undeliverable(str(exc)) from exc

    async def _on_announce(self, item: OutboxItem, progress: Progress) -> None:
        ticket = await self.service.ticket(item.body["ticket_id"])
        if ticket is None or not ticket.is_open:
            return
        await self._thread_of(ticket)

    async def _on_relay(self, item: OutboxItem, progress: Progress) -> None:
        ticket = await self.service.ticket(item.body["ticket_id"])
        if ticket is None:
            return
        person_message_id: int | None = item.body.get("message_id")
        done = item.parts_done

        async def relayed(chat_id: int, topic_message_id: int) -> None:
            nonlocal done
            await self.places.add_relay(
                ticket.id,
                "to_operators",
                person_message_id=person_message_id,
                chat_id=chat_id,
                topic_message_id=topic_message_id,
                now=self.service.clock(),
            )
            done += 1
            await progress(done)

        send: TopicSend
        if ticket.channel == "telegram" and person_message_id is not None:
            message_id = person_message_id

            async def send(chat_id: int, thread: int) -> list[int]:
                if done:
                    return []
                copied = await self.telegram.call(
                    lambda: self.bot.copy_message(
                        chat_id=chat_id,
                        from_chat_id=int(ticket.user_key),
                        message_id=message_id,
                        message_thread_id=thread,
                    )
                )
                await relayed(chat_id, int(copied.message_id))
                return [int(copied.message_id)]

        else:
            text = f"{display_name(ticket)}: {item.body.get('text') or '[contenuto che non posso mostrare]'}"
            parts = split_text(text)  # a 4,096-character message and its prefix: two parts, none lost

            async def send(chat_id: int, thread: int) -> list[int]:
                ids = []
                for part in parts[done:]:
                    ids.append(await self.telegram.html(chat_id, part, thread_id=thread))
                    await relayed(chat_id, ids[-1])
                return ids

        await self._to_topic(ticket, send)

    async def _on_notice(self, item: OutboxItem, progress: Progress) -> None:
        body = item.body
        ticket = await self.service.ticket(body["ticket_id"])
        if ticket is None:
            return
        card = await self.service.card(ticket) if body.get("card") else None
        await self._notice(ticket, body["text"], card, bool(body.get("end")))

    async def _on_erase(self, item: OutboxItem, progress: Progress) -> None:
        body = item.body
        place = body.get("place")
        if place is not None:
            chat_id, thread, card_message_id = place
            await self._erase(
                body["ticket_id"], bool(body["open"]), chat_id, thread, card_message_id, body["ids"]
            )

    async def _text_to(self, text: str, chat_id: int, thread: int) -> list[int]:
        return await self.telegram.text(chat_id, text, thread_id=thread)

    async def _notice(self, ticket: TicketView, text: str, card: Card | None, end: bool) -> None:
        if card is not None:
            await self._refresh_card(ticket, card)
        placed = await self._to_topic(ticket, partial(self._text_to, NOTICE + text), create=not end)
        place = await self.places.place(ticket.id)
        if end and placed is not None and place is not None:
            with contextlib.suppress(TelegramError):
                await self.telegram.call(lambda: self.bot.close_forum_topic(place.chat_id, place.thread_id))

    async def _on_card(self, item: OutboxItem, progress: Progress) -> None:
        ticket = await self.service.ticket(item.body["ticket_id"])
        if ticket is not None:
            await self._refresh_card(ticket, await self.service.card(ticket))

    async def _on_group(self, item: OutboxItem, progress: Progress) -> None:
        """One message in the partner's group, outside the tickets' topics (its General topic)."""
        group = await self.service.group_of(item.body["partner_id"])
        if group is not None:
            await self.telegram.text(group.chat_id, item.body["text"])

    async def _erase(
        self, ticket_id: int, was_open: bool, chat_id: int, thread: int, card: int | None, ids: list[int]
    ) -> None:
        ids = list(ids) + ([card] if card is not None else [])
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            try:
                await self.telegram.call(partial(self.bot.delete_messages, chat_id, chunk))
            except TelegramError as exc:
                log.warning("ticket %d: copies not deleted: %s", ticket_id, exc)
        try:  # the title had her first name: it keeps only the ticket's number
            await self.telegram.call(
                lambda: self.bot.edit_forum_topic(chat_id, thread, name=txt.erased_title(ticket_id))
            )
        except TelegramError as exc:
            log.warning("ticket %d: topic not renamed: %s", ticket_id, exc)
        if not was_open:  # its topic was closed with the ticket: open it to say so
            with contextlib.suppress(TelegramError):
                await self.telegram.call(lambda: self.bot.reopen_forum_topic(chat_id, thread))
        try:
            await self.telegram.text(chat_id, NOTICE + txt.erased_notice(ticket_id), thread_id=thread)
            await self.telegram.call(lambda: self.bot.close_forum_topic(chat_id, thread))
        except TelegramError as exc:
            log.info("ticket %d: erased, topic not told (%s)", ticket_id, exc)

    # ------------------------------------------------------------------ topics

    async def _thread_of(self, ticket: TicketView, *, create: bool = True) -> tuple[int, int] | None:
        """(group chat id, thread id) of the ticket's topic, created if it has none yet."""
        group = await self.service.group_of(ticket.partner_id)
        if group is None:
            log.warning("ticket %d: partner %s has no operators' group", ticket.id, ticket.partner_id)
            return None
        place = await self.places.place(ticket.id)
        if place is not None and place.chat_id == group.chat_id:
            return group.chat_id, place.thread_id
        if not create:
            return None
        old = place.thread_id if place is not None else None
        thread = await self._make_topic(ticket, group.chat_id, old_thread=old)
        return None if thread is None else (group.chat_id, thread)

    async def _drop_extra_topic(self, ticket_id: int, chat_id: int, thread: int) -> int | None:
        """Another gateway linked a topic to the ticket while this one created its own: ours is deleted,
        theirs is used."""
        log.info("ticket %d: another gateway created its topic first; deleting ours", ticket_id)
        try:
            await self.telegram.call(lambda: self.bot.delete_forum_topic(chat_id, thread))
        except TelegramError as exc:
            log.warning("ticket %d: extra topic %d not deleted: %s", ticket_id, thread, exc)
        current = await self.places.place(ticket_id)
        if current is None or current.chat_id != chat_id:
            return None
        return current.thread_id

    async def _make_topic(self, ticket: TicketView, chat_id: int, *, old_thread: int | None) -> int | None:
        """A new topic for the ticket, replacing ``old_thread`` (None: its first topic)."""
        recreated = old_thread is not None
        late = (self.service.clock() - ticket.created_at).total_seconds() > 30
        card = await self.service.card(ticket, with_handoff_messages=recreated or late)
        try:
            topic = await self.telegram.call(lambda: self.bot.create_forum_topic(chat_id, card.title))
        except TelegramError as exc:
            log.error("ticket %d: cannot create a topic in the operators' group: %s", ticket.id, exc)
            return None
        thread = int(topic.message_thread_id)
        # at once: operators may write. Conditional: with several gateways, one topic per ticket
        if not await self.places.link(ticket.id, chat_id, thread, self.service.clock(), replacing=old_thread):
            return await self._drop_extra_topic(ticket.id, chat_id, thread)
        try:
            card_id = await self.telegram.html(
                chat_id, render_card(card), thread_id=thread, markup=card_buttons(card)
            )
            await self.places.set_card(ticket.id, card_id)
        except TelegramError as exc:
            log.error("ticket %d: card not posted: %s", ticket.id, exc)
        if recreated:
            log.info("ticket %d: topic deleted by the operators, created again", ticket.id)
            with contextlib.suppress(TelegramError):
                await self.telegram.text(chat_id, NOTICE + txt.recreated_notice(ticket.id), thread_id=thread)
        return thread

    async def _to_topic(
        self, ticket: TicketView, send: TopicSend, *, create: bool = True
    ) -> tuple[int, list[int]] | None:
        """Send into the ticket's topic (made, or made again, when needed); (chat id, message ids)."""
        where = await self._thread_of(ticket, create=create)
        if where is None:
            return None
        chat_id, thread = where
        try:
            return chat_id, await send(chat_id, thread)
        except BadRequest as exc:
            if _topic_closed(exc):
                with contextlib.suppress(BadRequest):
                    await self.telegram.call(lambda: self.bot.reopen_forum_topic(chat_id, thread))
                return chat_id, await send(chat_id, thread)
            if not _thread_gone(exc):
                raise
            if not create:
                return None
        fresh = await self.service.ticket(ticket.id) or ticket
        new_thread = await self._make_topic(fresh, chat_id, old_thread=thread)
        if new_thread is None:
            return None
        return chat_id, await send(chat_id, new_thread)

    async def _refresh_card(self, ticket: TicketView, card: Card) -> None:
        place = await self.places.place(ticket.id)
        if place is None or place.card_message_id is None:
            return
        try:
            await self.telegram.call(
                lambda: self.bot.edit_message_text(
                    render_card(card),
                    chat_id=place.chat_id,
                    message_id=place.card_message_id,
                    parse_mode="HTML",
                    reply_markup=card_buttons(card),
                )
            )
        except BadRequest as exc:
            if not _ignorable_edit(exc):
                log.warning("ticket %d: card not updated: %s", ticket.id, exc)
        except TelegramError as exc:
            log.warning("ticket %d: card not updated: %s", ticket.id, exc)

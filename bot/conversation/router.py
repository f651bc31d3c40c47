"""The conversation router: every inbound message of every channel goes through
:meth:`ConversationRouter.handle`.

Order of work for one message:

1. Store it (with its Telegram update id, in the same transaction): an update id already taken in is a
   duplicate and gets an empty turn, also after a restart. If the database is unreachable the message
   goes to a bounded spool (in memory, copied to a local file), written as soon as the database answers
   again, and the person is answered all the same.
2. Rate limit per person, shared by every gateway: the person's inbound messages stored in the last
   window are counted in the database (the in-memory limiter is the fallback while the database is
   away); too long content; /privacy, /cancella and the erase confirmation buttons; the
   rating buttons of a handoff.
3. The chat's mode (see :mod:`bot.handoff`): while the person has an open ticket (mode *waiting* or
   *operator*) what she writes goes to the ticket, not to Rasa, and the bot stays silent; while a request
   for a person waits for her town, her answer is that town.
4. Otherwise (mode *bot*): unreadable content, the gateway's own commands (/start, /help, /menu); a shared
   location becomes the nearest town; everything else goes to Rasa under the person's opaque Rasa id. When
   Rasa is down or slow the person is told so in plain words; nothing is retried behind their back.
5. When the assistant's meta says the person asked for a human (``handoff`` and not ``fallback``), the
   handoff starts and its message replaces the assistant's.
6. The replies are stored with their meta, and the inbound message marked answered, in one transaction
   that only succeeds if no other gateway answered the message meanwhile (see
   :mod:`bot.conversation.recovery`: a message left unanswered by a gateway that died is answered by
   :meth:`ConversationRouter.answer_pending`);
   on Telegram they are queued in the outbox in that transaction, and sent by its worker
   (``Turn.queued``); they are returned as a :class:`Turn` whose meta is the last one Rasa sent (every
   field present, null when unknown).

The router only dispatches: storing is the :class:`~bot.conversation.journal.Journal`'s, erasing the
:class:`~bot.conversation.privacy.Privacy`'s, tickets the handoff service's. It never raises: an unexpected
error is logged and answered with the "unavailable" message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.assistant.answers import AssistantUnavailable
from bot.conversation import texts
from bot.conversation.conversations import ConversationPolicy, Conversations
from bot.conversation.journal import (
    Journal,
    Outcome,
    Sender,
    Stored,
    TakenIn,
    clean,
    inbound_again,
    said,
)
from bot.conversation.privacy import Assistant, Privacy
from bot.core import commands
from bot.core.messages import MAX_TEXT_CHARS, Inbound, Reply, Turn, normalise_meta
from bot.core.ratelimit import RateLimiter
from bot.handoff import texts as handoff_texts
from bot.handoff.model import Person
from bot.store import PendingMessage, Store, StoreUnavailable
from bot.store.models import utcnow
from bot.store.records import ConversationAge
from bot.store.spool import Spool

if TYPE_CHECKING:
    from bot.handoff.service import HandoffService

log = logging.getLogger(__name__)

# (latitude, longitude) -> canonical town name, or None when the place is outside the territories.
# It may raise when the knowledge base cannot be used.
TownLocator = Callable[[float, float], "str | None"]

__all__ = ["Assistant", "ConversationRouter", "TownLocator"]


class ConversationRouter:
    def __init__(
        self,
        store: Store,
        assistant: Assistant,
        *,
        limiter: RateLimiter | None = None,
        retention_days: int = 180,
        locate_town: TownLocator | None = None,
        spool: Spool | None = None,
        db_retry_after: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
        handoff: HandoffService | None = None,
        gateway_name: str | None = None,
        outbox_channels: frozenset[str] = frozenset(),
        conversation_policy: ConversationPolicy | None = None,
    ) -> None:
        self.store = store
        self.handoff = handoff
        self.assistant = assistant
        self.retention_days = retention_days
        self.locate_town = locate_town
        self._clock = clock
        self.journal = Journal(
            store,
            limiter=limiter if limiter is not None else RateLimiter(20),
            spool=spool if spool is not None else Spool(),
            db_retry_after=db_retry_after,
            clock=clock,
            gateway_name=gateway_name,
            outbox_channels=outbox_channels,
        )
        self.privacy = Privacy(store, assistant, self.journal, handoff, clock)
        policy = conversation_policy or ConversationPolicy()
        self.conversations = Conversations(store, assistant, self.journal, policy, clock)

    @property
    def spool(self) -> Spool:
        return self.journal.spool

    @property
    def limiter(self) -> RateLimiter:
        return self.journal.limiter

    # --- entry point --------------------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> Turn:
        msg = replace(
            msg,
            user_key=clean(msg.user_key, 128) or "",
            text=clean(msg.text),
            payload=clean(msg.payload),
            first_name=clean(msg.first_name, 64),
        )
        if msg.update_id is not None and self.journal.seen_update(msg.update_id):
            return Turn()
        taken: TakenIn | None = await self.journal.take_in(msg)
        if taken is None:
            return Turn()
        if msg.update_id is not None:
            self.journal.remember_update(msg.update_id)
        person = taken.person
        try:
            outcome = await self._answer(
                msg, person, recent=taken.recent_inbound, age=taken.conversation, in_handoff=taken.in_handoff
            )
        except Exception:
            log.exception("unexpected error while answering a %s message", msg.channel)
            outcome = said(Reply(texts.UNAVAILABLE))
        if not outcome.store_replies:
            return Turn(replies=outcome.replies, meta=normalise_meta(outcome.meta))
        stored = await self.journal.store_replies(msg, person, outcome, taken.message_id)
        if stored is Stored.ELSEWHERE:
            log.info("a %s message was answered by another gateway meanwhile", msg.channel)
            return Turn()
        meta = normalise_meta(outcome.meta)
        return Turn(replies=outcome.replies, meta=meta, queued=stored is Stored.QUEUED)

    async def answer_pending(self, pending: PendingMessage, *, pushed: bool) -> Turn | None:
        """Answer a message a gateway stored but never answered (it was killed meanwhile), if no other
        gateway takes it first: None when it was already answered. The replies are stored (``pushed``
        for a channel that fetches them, the web chat) and returned for the channel to send; the first one
        says why the answer comes late."""
        try:
            if not await self.store.claim(pending.id, self._clock()):
                return None
        except StoreUnavailable as exc:
            log.warning("cannot claim an unanswered message: %s", exc)
            self.journal.db_failed()
            return None
        msg = inbound_again(pending)
        person = self.journal.remember(
            (msg.channel, msg.user_key), Sender(pending.user_id, pending.rasa_sender_id)
        )
        if msg.location is not None:
            outcome = said(Reply(texts.RECOVERED_LOCATION))
        else:
            try:
                outcome = await self._answer(msg, person, counted=True)
            except Exception:
                log.exception("unexpected error while answering an unanswered %s message", msg.channel)
                outcome = said(Reply(texts.UNAVAILABLE))
            if not outcome.replies:
                return Turn(meta=normalise_meta(outcome.meta))
            first = outcome.replies[0]
            outcome.replies[0] = replace(first, text=texts.recovered(pending.text) + first.text)
        stored = Stored.STORED
        if outcome.store_replies:
            stored = await self.journal.store_replies(msg, person, outcome, None, pushed=pushed)
        meta = normalise_meta(outcome.meta)
        return Turn(replies=outcome.replies, meta=meta, queued=stored is Stored.QUEUED)

    async def flush_spool(self) -> int:
        """Write the messages kept while the database was away (called before each message and by a
        periodic task of the gateway). Messages of a person who erased her data meanwhile are not
        written, and the Rasa conversations they were answered in are erased."""
        written = await self.journal.flush_spool()
        await self.privacy.erase_conversations(self.spool.erased_senders)
        return written

    # --- deciding -----------------------------------------------------------------------------------

    async def _answer(
        self,
        msg: Inbound,
        person: Sender,
        *,
        counted: bool = False,
        recent: int | None = None,
        age: ConversationAge | None = None,
        in_handoff: bool | None = None,
    ) -> Outcome:
        if not counted and not await self.journal.allowed(msg, person, recent):
            return said(Reply(texts.RATE_LIMITED)) if self.journal.say_slow_down(msg) else said()
        if len(msg.text or "") > MAX_TEXT_CHARS or len(msg.payload or "") > MAX_TEXT_CHARS:
            return said(Reply(texts.TOO_LONG))
        if msg.payload in ("/privacy", "/cancella"):  # the assistant's button for the gateway's command
            msg = replace(msg, command=msg.payload[1:], payload=None)
        if msg.command in commands.PRIVACY_NAMES:
            return await self._command(msg, person)
        if msg.payload in (texts.ERASE_YES, texts.ERASE_NO):
            return await self.privacy.erase_answer(msg, person)
        if self.handoff is not None and person.user_id is not None:
            if msg.payload and msg.payload.startswith(handoff_texts.RATE_PREFIX):
                return said(*await self.handoff.rate(person.user_id, msg.payload))
            # the store said, when it took the message in, whether she is in a handoff at all: if not, the
            # handoff's tables are not read again (two reads fewer on nearly every message)
            handled = await self._handoff_mode(msg, person) if in_handoff is not False else None
            if handled is not None:
                return handled
        if msg.unsupported:
            return said(Reply(texts.UNSUPPORTED))
        if msg.command:
            return await self._command(msg, person)
        if msg.location is not None:
            return await self._location(await self.conversations.current(msg, person, age), *msg.location)
        # Typed text never reaches Rasa as "/intent{...}": only button payloads may trigger intents.
        to_rasa = msg.payload or (msg.text or "").strip().lstrip("/").strip()
        if not to_rasa:
            return said(Reply(texts.EMPTY))
        person = await self.conversations.current(msg, person, age)
        outcome = await self._ask_rasa(person, to_rasa)
        meta = outcome.meta or {}
        if self.handoff is not None and meta.get("handoff") and not meta.get("fallback"):
            return await self._start_handoff(msg, person, outcome)
        return outcome

    # --- handoff ------------------------------------------------------------------------------------

    def _handoff_person(self, msg: Inbound, person: Sender) -> Person:
        assert person.user_id is not None
        return Person(person.user_id, msg.channel, msg.user_key, msg.first_name, msg.address)

    async def _handoff_mode(self, msg: Inbound, person: Sender) -> Outcome | None:
        """The answer when the chat is in handoff (a ticket is open, or the town is being asked), else
        None. If the handoff tables cannot be read the chat stays with the assistant."""
        assert self.handoff is not None and person.user_id is not None
        try:
            ticket = await self.handoff.open_ticket(person.user_id)
            if ticket is not None:
                return said(*await self.handoff.person_message(ticket, msg))
            if msg.command:
                return None
            pending = await self.handoff.pending_request(person.user_id)
            if pending is None:
                return None
            if msg.payload and msg.payload != commands.REQUEST_HUMAN:
                await self.handoff.drop_pending(person.user_id)  # she chose something else
                return None
            town = None
            if msg.location is not None and self.locate_town is not None:
                town = await asyncio.to_thread(self.locate_town, *msg.location)
            text = msg.text if msg.location is None else None
            replies = await self.handoff.answer_town(self._handoff_person(msg, person), pending, text, town)
            return said(*replies)
        except Exception:
            log.exception("handoff state unavailable; the chat stays with the assistant")
            return None

    async def _start_handoff(self, msg: Inbound, person: Sender, asked: Outcome) -> Outcome:
        """The person asked for a human: the handoff's message replaces the assistant's."""
        assert self.handoff is not None
        meta = asked.meta or {}
        if person.user_id is None:
            replies = [Reply(handoff_texts.HANDOFF_UNAVAILABLE)]
        else:
            try:
                replies = await self.handoff.request(self._handoff_person(msg, person), meta)
            except Exception:
                log.exception("cannot start a handoff")
                replies = [Reply(handoff_texts.HANDOFF_UNAVAILABLE)]
        return Outcome(replies=replies, reply_metas=[meta] * len(replies), meta=meta)

    # --- the assistant, locations, commands ---------------------------------------------------------

    async def _ask_rasa(self, person: Sender, text: str) -> Outcome:
        try:
            answer = await self.assistant.send(person.sender_id, text)
        except AssistantUnavailable as exc:
            log.warning("Rasa unavailable: %s", exc)
            return said(Reply(texts.UNAVAILABLE))
        if not answer.items:
            # Every turn of the assistant ends with a reply; an empty answer means its action server
            # failed (Rasa logs it and says nothing). The person is told to retry, not to rephrase.
            log.warning("Rasa answered nothing: is the action server down?")
            return said(Reply(texts.UNAVAILABLE), meta=answer.meta)
        return Outcome(
            replies=answer.replies, reply_metas=[item.meta for item in answer.items], meta=answer.meta
        )

    async def _location(self, person: Sender, lat: float, lon: float) -> Outcome:
        if self.locate_town is None:
            return said(Reply(texts.LOCATION_UNUSABLE))
        try:
            town = await asyncio.to_thread(self.locate_town, lat, lon)
        except Exception:
            log.exception("cannot find the town of a location")
            return said(Reply(texts.LOCATION_UNUSABLE))
        if town is None:
            return said(Reply(texts.LOCATION_FAR))
        return await self._ask_rasa(person, "/inform" + json.dumps({"town": town}, ensure_ascii=False))

    async def _command(self, msg: Inbound, person: Sender) -> Outcome:
        command = (msg.command or "").lower()
        if command == commands.START.name:
            await self.privacy.record(person, "notice_shown")
            welcome = texts.welcome(msg.first_name, self.retention_days)
            return said(Reply(welcome, texts.MENU_BUTTONS))
        if command in commands.SHOW_MENU:
            return said(Reply(texts.MENU, texts.MENU_BUTTONS))
        if command == commands.PRIVACY.name:
            await self.privacy.record(person, "privacy_viewed")
            return said(Reply(texts.privacy(self.retention_days)))
        if command == commands.ERASE.name:
            if person.user_id is None or not await self.privacy.record(person, "erase_requested"):
                return said(Reply(texts.ERASE_FAILED))
            return said(Reply(texts.ERASE_CONFIRM, texts.ERASE_BUTTONS))
        return said(Reply(texts.UNKNOWN_COMMAND, texts.MENU_BUTTONS))

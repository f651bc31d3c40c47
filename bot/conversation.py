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
   that only succeeds if no other gateway answered the message meanwhile (see :mod:`bot.recovery`: a
   message left unanswered by a gateway that died is answered by :meth:`ConversationRouter.answer_pending`);
   they are returned as a :class:`Turn` whose meta is the last one Rasa sent (every field present, null
   when unknown).

The router never raises: an unexpected error is logged and answered with the "unavailable" message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import handoff_texts, texts
from bot.assistant import AssistantAnswer, AssistantUnavailable
from bot.handoff import HandoffService, Person
from bot.messages import Inbound, Reply, Turn, normalise_meta
from bot.ratelimit import RateLimiter
from bot.store import NewMessage, PendingMessage, Store, StoreUnavailable, new_sender_id
from bot.store.models import utcnow
from bot.store.spool import Spool

log = logging.getLogger(__name__)

ERASE_CONFIRM_WINDOW = timedelta(minutes=15)
_CACHE_SIZE = 10_000


class Assistant(Protocol):
    async def send(self, sender_id: str, text: str) -> AssistantAnswer: ...

    async def erase(self, sender_id: str) -> None: ...


# (latitude, longitude) -> canonical town name, or None when the place is outside the territories.
# It may raise when the knowledge base cannot be used.
TownLocator = Callable[[float, float], "str | None"]


@dataclass(frozen=True)
class _Person:
    user_id: int | None  # None while the database has not taken the person in yet
    sender_id: str


@dataclass
class _Outcome:
    replies: list[Reply]
    reply_metas: list[dict[str, Any] | None]
    meta: dict[str, Any] | None = None
    store_replies: bool = True


@dataclass(frozen=True)
class _TakenIn:
    person: _Person
    message_id: int | None  # None when the message is in the spool or could not be stored
    recent_inbound: int | None = None  # the person's inbound messages in the flood window, this one included


def _said(*replies: Reply, meta: dict[str, Any] | None = None) -> _Outcome:
    return _Outcome(list(replies), [None] * len(replies), meta)


def _clean(value: str | None, limit: int | None = None) -> str | None:
    """Text the databases accept: no NUL characters, no lone surrogates."""
    if value is None:
        return None
    value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return value[:limit] if limit is not None else value


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
    ) -> None:
        self.store = store
        self.handoff = handoff
        self.assistant = assistant
        self.limiter = limiter if limiter is not None else RateLimiter(20)
        self.retention_days = retention_days
        self.locate_town = locate_town
        self.spool = spool if spool is not None else Spool()
        self.db_retry_after = db_retry_after
        self._clock = clock
        self.gateway_name = gateway_name  # recorded on every inbound message (see bot.recovery)
        self._db_down_until = 0.0
        self._people: OrderedDict[tuple[str, str], _Person] = OrderedDict()
        self._recent_updates: OrderedDict[int, None] = OrderedDict()

    # --- entry point --------------------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> Turn:
        msg = replace(
            msg,
            user_key=_clean(msg.user_key, 128) or "",
            text=_clean(msg.text),
            payload=_clean(msg.payload),
            first_name=_clean(msg.first_name, 64),
        )
        if msg.update_id is not None and self._seen_update(msg.update_id):
            return Turn()
        taken = await self._take_in(msg)
        if taken is None:
            return Turn()
        if msg.update_id is not None:
            self._remember_update(msg.update_id)
        person = taken.person
        try:
            outcome = await self._answer(msg, person, recent=taken.recent_inbound)
        except Exception:
            log.exception("unexpected error while answering a %s message", msg.channel)
            outcome = _said(Reply(texts.UNAVAILABLE))
        if not outcome.store_replies:
            return Turn(replies=outcome.replies, meta=normalise_meta(outcome.meta))
        if not await self._store_replies(msg, person, outcome, taken.message_id):
            log.info("a %s message was answered by another gateway meanwhile", msg.channel)
            return Turn()
        return Turn(replies=outcome.replies, meta=normalise_meta(outcome.meta))

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
            self._db_failed()
            return None
        msg = _inbound_again(pending)
        person = self._cache((msg.channel, msg.user_key), _Person(pending.user_id, pending.rasa_sender_id))
        if msg.location is not None:
            outcome = _said(Reply(texts.RECOVERED_LOCATION))
        else:
            try:
                outcome = await self._answer(msg, person, counted=True)
            except Exception:
                log.exception("unexpected error while answering an unanswered %s message", msg.channel)
                outcome = _said(Reply(texts.UNAVAILABLE))
            if not outcome.replies:
                return Turn(meta=normalise_meta(outcome.meta))
            first = outcome.replies[0]
            outcome.replies[0] = replace(first, text=texts.recovered(pending.text) + first.text)
        if outcome.store_replies:
            await self._store_replies(msg, person, outcome, None, pushed=pushed)
        return Turn(replies=outcome.replies, meta=normalise_meta(outcome.meta))

    async def flush_spool(self) -> int:
        """Write the messages kept while the database was away (called before each message and by a
        periodic task of the gateway)."""
        if not len(self.spool) or not self._db_may_answer():
            return 0
        written = await self.spool.flush(self.store)
        if len(self.spool):
            self._db_failed()
        return written

    # --- storing ------------------------------------------------------------------------------------

    async def _take_in(self, msg: Inbound) -> _TakenIn | None:
        """Store the inbound message; None means a duplicate update."""
        key = (msg.channel, msg.user_key)
        cached = self._people.get(key)
        record = NewMessage(
            channel=msg.channel,
            user_key=msg.user_key,
            direction="in",
            rasa_sender_id=cached.sender_id if cached else new_sender_id(),
            text=_stored_text(msg),
            payload=msg.payload[: texts.MAX_TEXT_CHARS] if msg.payload else None,
            first_name=msg.first_name,
            update_id=msg.update_id,
            created_at=self._clock(),
            taken_by=self.gateway_name,
        )
        await self.flush_spool()
        if not len(self.spool) and self._db_may_answer():
            try:
                since = record.created_at - timedelta(seconds=self.limiter.window)
                ref = await self.store.save([record], count_since=since)
            except StoreUnavailable as exc:
                log.warning("database unreachable, keeping the message in memory: %s", exc)
                self._db_failed()
            except Exception:
                log.exception("the database refused an inbound message; answering without storing it")
                return _TakenIn(self._cache(key, cached or _Person(None, record.rasa_sender_id)), None)
            else:
                if ref is None:
                    return None
                person = self._cache(key, _Person(ref.id, ref.rasa_sender_id))
                return _TakenIn(person, ref.message_id, ref.recent_inbound)
        # Answered now, while the database is away: written as answered, so no gateway answers it again.
        self.spool.add(replace(record, answered_at=record.created_at))
        return _TakenIn(self._cache(key, cached or _Person(None, record.rasa_sender_id)), None)

    async def _store_replies(
        self,
        msg: Inbound,
        person: _Person,
        outcome: _Outcome,
        answers: int | None,
        *,
        pushed: bool = False,
    ) -> bool:
        """Store the replies and mark the inbound message ``answers`` answered. False (nothing stored, the
        replies must not be sent) when another gateway answered that message first."""
        now = self._clock()
        records = [
            NewMessage(
                channel=msg.channel,
                user_key=msg.user_key,
                direction="out",
                rasa_sender_id=person.sender_id,
                text=reply.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons] or None,
                meta=normalise_meta(meta) if meta is not None else None,
                created_at=now,
                pushed=pushed,
                answers=answers,
            )
            for reply, meta in zip(outcome.replies, outcome.reply_metas, strict=True)
        ]
        if not len(self.spool) and self._db_may_answer():
            try:
                if answers is not None:
                    return await self.store.finish_turn(answers, records, now)
                if records:
                    await self.store.save(records)
                return True
            except StoreUnavailable as exc:
                log.warning("database unreachable, keeping the replies in memory: %s", exc)
                self._db_failed()
            except Exception:
                log.exception("the database refused the replies; they are not stored")
                return True
        for record in records:
            self.spool.add(record)
        if answers is not None and not records:
            self.spool.add(_answered_marker(msg, person, answers, now))
        return True

    def _db_may_answer(self) -> bool:
        return time.monotonic() >= self._db_down_until

    def _db_failed(self) -> None:
        self._db_down_until = time.monotonic() + self.db_retry_after

    def _cache(self, key: tuple[str, str], person: _Person) -> _Person:
        self._people[key] = person
        self._people.move_to_end(key)
        while len(self._people) > _CACHE_SIZE:
            self._people.popitem(last=False)
        return person

    def _seen_update(self, update_id: int) -> bool:
        return update_id in self._recent_updates or self.spool.holds_update(update_id)

    def _remember_update(self, update_id: int) -> None:
        self._recent_updates[update_id] = None
        while len(self._recent_updates) > _CACHE_SIZE:
            self._recent_updates.popitem(last=False)

    # --- deciding -----------------------------------------------------------------------------------

    async def _allowed(self, msg: Inbound, person: _Person, recent: int | None = None) -> bool:
        """The per-person rate limit. The database counts the person's inbound messages of the last
        window, this one included, whichever gateway took them in (``recent``: counted when the message
        was stored, in the same transaction); while it is away (or the person has no row yet) the
        in-memory limiter of this gateway decides."""
        key = (msg.channel, msg.user_key)
        if recent is not None:
            return recent <= self.limiter.limit
        if person.user_id is None or not self._db_may_answer():
            return self.limiter.allow(key)
        since = self._clock() - timedelta(seconds=self.limiter.window)
        try:
            count = await self.store.count_inbound(person.user_id, since)
        except StoreUnavailable as exc:
            log.warning("database unreachable, rate limit in memory: %s", exc)
            self._db_failed()
            return self.limiter.allow(key)
        except Exception:
            log.exception("rate limit: cannot count the messages, using the in-memory limiter")
            return self.limiter.allow(key)
        return count <= self.limiter.limit

    async def _answer(
        self, msg: Inbound, person: _Person, *, counted: bool = False, recent: int | None = None
    ) -> _Outcome:
        if not counted and not await self._allowed(msg, person, recent):
            return _said(Reply(texts.RATE_LIMITED))
        if len(msg.text or "") > texts.MAX_TEXT_CHARS or len(msg.payload or "") > texts.MAX_TEXT_CHARS:
            return _said(Reply(texts.TOO_LONG))
        if msg.payload in ("/privacy", "/cancella"):  # the assistant's button for the gateway's command
            msg = replace(msg, command=msg.payload[1:], payload=None)
        if msg.command in ("privacy", "cancella"):
            return await self._command(msg, person)
        if msg.payload in (texts.ERASE_YES, texts.ERASE_NO):
            return await self._erase_answer(msg, person)
        if self.handoff is not None and person.user_id is not None:
            if msg.payload and msg.payload.startswith(handoff_texts.RATE_PREFIX):
                return _said(*await self.handoff.rate(person.user_id, msg.payload))
            handled = await self._handoff_mode(msg, person)
            if handled is not None:
                return handled
        if msg.unsupported:
            return _said(Reply(texts.UNSUPPORTED))
        if msg.command:
            return await self._command(msg, person)
        if msg.location is not None:
            return await self._location(person, *msg.location)
        # Typed text never reaches Rasa as "/intent{...}": only button payloads may trigger intents.
        to_rasa = msg.payload or (msg.text or "").strip().lstrip("/").strip()
        if not to_rasa:
            return _said(Reply(texts.EMPTY))
        outcome = await self._ask_rasa(person, to_rasa)
        meta = outcome.meta or {}
        if self.handoff is not None and meta.get("handoff") and not meta.get("fallback"):
            return await self._start_handoff(msg, person, outcome)
        return outcome

    # --- handoff ------------------------------------------------------------------------------------

    def _handoff_person(self, msg: Inbound, person: _Person) -> Person:
        assert person.user_id is not None
        return Person(person.user_id, msg.channel, msg.user_key, msg.first_name)

    async def _handoff_mode(self, msg: Inbound, person: _Person) -> _Outcome | None:
        """The answer when the chat is in handoff (a ticket is open, or the town is being asked), else
        None. If the handoff tables cannot be read the chat stays with the assistant."""
        assert self.handoff is not None and person.user_id is not None
        try:
            ticket = await self.handoff.open_ticket(person.user_id)
            if ticket is not None:
                return _said(*await self.handoff.person_message(ticket, msg))
            if msg.command:
                return None
            pending = await self.handoff.pending_request(person.user_id)
            if pending is None:
                return None
            if msg.payload and msg.payload != "/request_human":
                await self.handoff.drop_pending(person.user_id)  # she chose something else
                return None
            town = None
            if msg.location is not None and self.locate_town is not None:
                town = await asyncio.to_thread(self.locate_town, *msg.location)
            text = msg.text if msg.location is None else None
            replies = await self.handoff.answer_town(self._handoff_person(msg, person), pending, text, town)
            return _said(*replies)
        except Exception:
            log.exception("handoff state unavailable; the chat stays with the assistant")
            return None

    async def _start_handoff(self, msg: Inbound, person: _Person, asked: _Outcome) -> _Outcome:
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
        return _Outcome(replies=replies, reply_metas=[meta] * len(replies), meta=meta)

    async def _ask_rasa(self, person: _Person, text: str) -> _Outcome:
        try:
            answer = await self.assistant.send(person.sender_id, text)
        except AssistantUnavailable as exc:
            log.warning("Rasa unavailable: %s", exc)
            return _said(Reply(texts.UNAVAILABLE))
        if not answer.items:
            # Every turn of the assistant ends with a reply; an empty answer means its action server
            # failed (Rasa logs it and says nothing). The person is told to retry, not to rephrase.
            log.warning("Rasa answered nothing: is the action server down?")
            return _said(Reply(texts.UNAVAILABLE), meta=answer.meta)
        return _Outcome(
            replies=answer.replies,
            reply_metas=[item.meta for item in answer.items],
            meta=answer.meta,
        )

    async def _location(self, person: _Person, lat: float, lon: float) -> _Outcome:
        if self.locate_town is None:
            return _said(Reply(texts.LOCATION_UNUSABLE))
        try:
            town = await asyncio.to_thread(self.locate_town, lat, lon)
        except Exception:
            log.exception("cannot find the town of a location")
            return _said(Reply(texts.LOCATION_UNUSABLE))
        if town is None:
            return _said(Reply(texts.LOCATION_FAR))
        return await self._ask_rasa(person, "/inform" + json.dumps({"town": town}, ensure_ascii=False))

    async def _command(self, msg: Inbound, person: _Person) -> _Outcome:
        command = (msg.command or "").lower()
        if command == "start":
            await self._privacy_event(person, "notice_shown")
            welcome = texts.welcome(msg.first_name, self.retention_days)
            return _said(Reply(welcome, texts.MENU_BUTTONS))
        if command in ("help", "menu", "aiuto"):
            return _said(Reply(texts.MENU, texts.MENU_BUTTONS))
        if command == "privacy":
            await self._privacy_event(person, "privacy_viewed")
            return _said(Reply(texts.privacy(self.retention_days)))
        if command == "cancella":
            if person.user_id is None or not await self._privacy_event(person, "erase_requested"):
                return _said(Reply(texts.ERASE_FAILED))
            return _said(Reply(texts.ERASE_CONFIRM, texts.ERASE_BUTTONS))
        return _said(Reply(texts.UNKNOWN_COMMAND, texts.MENU_BUTTONS))

    async def _privacy_event(self, person: _Person, kind: str) -> bool:
        if person.user_id is None:
            return False
        try:
            await self.store.record_privacy_event(person.user_id, kind, self._clock())
        except Exception as exc:
            log.warning("privacy event %s not recorded: %s", kind, exc)
            return False
        return True

    async def _erase_answer(self, msg: Inbound, person: _Person) -> _Outcome:
        if msg.payload == texts.ERASE_NO:
            return _said(Reply(texts.ERASE_KEPT))
        if person.user_id is None:
            return _said(Reply(texts.ERASE_FAILED))
        try:
            asked = await self.store.erase_requested_since(
                person.user_id, self._clock() - ERASE_CONFIRM_WINDOW
            )
        except Exception as exc:
            log.warning("cannot check the erase request: %s", exc)
            return _said(Reply(texts.ERASE_FAILED))
        if not asked:
            return _said(Reply(texts.ERASE_EXPIRED))
        try:
            await self.assistant.erase(person.sender_id)
        except AssistantUnavailable as exc:
            log.warning("Rasa tracker not erased, so nothing is erased: %s", exc)
            return _said(Reply(texts.ERASE_FAILED))
        if self.handoff is not None:
            try:
                await self.handoff.forget(person.user_id)
            except Exception:
                log.exception("tickets not erased one by one (the database still deletes them)")
        try:
            await self.store.erase_user(person.user_id)
        except Exception as exc:
            log.warning("user rows not erased: %s", exc)
            return _said(Reply(texts.ERASE_FAILED))
        key = (msg.channel, msg.user_key)
        self._people.pop(key, None)
        self.spool.forget(msg.channel, msg.user_key)
        log.info("erased a %s user on request", msg.channel)
        # Not stored: storing the confirmation would bring the person's row back.
        outcome = _said(Reply(texts.ERASED))
        outcome.store_replies = False
        return outcome


def _answered_marker(msg: Inbound, person: _Person, answers: int, at: datetime) -> NewMessage:
    """A turn without replies (the person wrote to her operator) whose mark could not be written: a
    record with no text carries the mark through the spool (see ``NewMessage.is_mark``)."""
    return NewMessage(
        channel=msg.channel,
        user_key=msg.user_key,
        direction="out",
        rasa_sender_id=person.sender_id,
        created_at=at,
        answers=answers,
    )


_UNSUPPORTED = re.compile(r"\[([a-z_]{1,32})\]")


def _inbound_again(pending: PendingMessage) -> Inbound:
    """The inbound message as the channel gave it, rebuilt from what was stored (see
    :func:`_stored_text`). A location's coordinates are not kept: it comes back as a location at (0, 0),
    which :meth:`ConversationRouter.answer_pending` answers by asking for it again."""
    text = pending.text
    fields: dict[str, Any] = {}
    if pending.payload:
        fields["payload"] = pending.payload
    elif text == "[posizione]":
        fields["location"] = (0.0, 0.0)
    elif text and (found := _UNSUPPORTED.fullmatch(text)):
        fields["unsupported"] = found.group(1)
    elif text and text.startswith("/") and text[1:].lower() in _COMMANDS:
        fields["command"] = text[1:].lower()
    else:
        fields["text"] = text
    return Inbound(
        channel=pending.channel, user_key=pending.user_key, first_name=pending.first_name, **fields
    )


_COMMANDS = ("start", "menu", "help", "aiuto", "privacy", "cancella")


def _stored_text(msg: Inbound) -> str | None:
    if msg.command:
        return "/" + msg.command
    if msg.location is not None:
        return "[posizione]"  # the coordinates are not kept: the town Rasa is told is enough
    if msg.unsupported:
        return f"[{msg.unsupported[:32]}]"
    return msg.text[: texts.MAX_TEXT_CHARS] if msg.text is not None else None

"""Handoff to partner operators: the service layer (no ``telegram`` here).

A person who asks for a human (the assistant's meta says ``handoff`` and not ``fallback``) gets a *ticket*:

* **Routing.** The partner covering the chat's topic and territory (``kb.partner_for``), else the alliance's
  default partner. When the territory is unknown the person is asked for her town first (kept in
  ``users.handoff_pending``), resolved with the knowledge base (``kb.find_place``). A partner whose
  operators have no group yet hands over to the default partner's group; with no group at all the person
  gets the partner's contacts instead of a ticket.
* **State machine.** ``waiting → assigned → closed``, ``assigned → waiting`` (released), ``waiting → closed``,
  and ``expired`` (closed by the system after a long silence). Every transition is a conditional update
  with its event (when, who, from and to) in one transaction (:mod:`bot.store.tickets`): two operators
  pressing "Prendo io" together get exactly one winner.
* **Office hours.** Partner's hours and holidays from the knowledge base, Rome time, on the injected clock:
  the person is told whether operators are around now and, if not, when they will answer.
* **Timeouts.** :meth:`HandoffService.check_timeouts` (a periodic job of the gateway): a ticket nobody
  claims for ``unclaimed_after`` seconds *of office hours* is announced again, and the person is told
  honestly (once); an assigned ticket silent for ``silent_after`` seconds expires, with a message to both.
  Timers are timestamps in the database, so a restart re-arms them by itself.
* **Who may act.** Only a registered, active operator of the ticket's partner, in that partner's group.
  Everyone else is refused, and the attempt is logged (and recorded as a ticket event).

The operators' side is an :class:`OperatorsDesk` (Telegram forum topics, in ``bot/channels``), and people
are reached through a :class:`PersonSender` per channel; a web person has no sender: what is pushed to her
is stored, and the web chat fetches it (``GET /api/chat/updates``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from bot import handoff_texts as txt
from bot.messages import Inbound, Reply
from bot.office_hours import availability, open_seconds_between
from bot.store import NewMessage, Store, new_sender_id
from bot.store.models import utcnow
from bot.store.tickets import ErasedTicket, GroupView, OperatorView, TicketStore, TicketView

if TYPE_CHECKING:
    from knowledge import KnowledgeBase, Partner

log = logging.getLogger(__name__)

PENDING_TTL = timedelta(minutes=30)  # a request waiting for the town is forgotten after this
TOWN_TRIES = 2  # unknown towns before the request goes to the default partner
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_CODE_FAILURES = 5  # wrong codes per Telegram user per hour
CARD_TEXT_CHARS = 300


# --- invite codes ---------------------------------------------------------------------------------------


def new_code() -> str:
    """A one-time code such as ``K7QX-M2PA`` (40 bits of randomness)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """What the database keeps of a code: its SHA-256."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


# --- what the service needs from the channels -----------------------------------------------------------


class Delivery(Enum):
    OK = "ok"
    BLOCKED = "blocked"  # the person blocked the bot
    FAILED = "failed"


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
    state: str  # waiting | assigned | closed | expired
    assigned: str | None
    office: str | None  # "ufficio chiuso..." when the person was told to wait for the opening
    channel: str

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


class OperatorsDesk(Protocol):
    """The operators' side: one topic per ticket in the partner's group."""

    def announce(self, ticket: TicketView, card: Card) -> None: ...

    def person_wrote(self, ticket: TicketView, msg: Inbound) -> None: ...

    def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None: ...

    def ended(self, ticket: TicketView, text: str, card: Card) -> None: ...

    def erased(self, tickets: list[ErasedTicket]) -> None: ...


class PersonSender(Protocol):
    """How to reach a person on one channel outside an answer."""

    async def send(self, user_key: str, replies: list[Reply]) -> Delivery: ...

    async def copy(
        self, user_key: str, from_chat_id: int, message_id: int
    ) -> tuple[Delivery, int | None]: ...


@dataclass(frozen=True)
class Person:
    user_id: int
    channel: str
    user_key: str
    first_name: str | None


@dataclass(frozen=True)
class Outcome:
    """The answer to an operator's action: ``text`` is shown to them (as an alert when ``alert``)."""

    ok: bool
    text: str
    ticket: TicketView | None = None
    alert: bool = False


@dataclass(frozen=True)
class Timeouts:
    unclaimed_after: float = 600.0  # seconds of office hours
    silent_after: float = 86_400.0  # seconds
    invite_ttl: timedelta = timedelta(hours=72)


@dataclass
class _Failures:
    window: float = 3600.0
    hits: dict[int, deque[float]] = field(default_factory=dict)

    def blocked(self, key: int) -> bool:
        now = time.monotonic()
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return len(hits) >= MAX_CODE_FAILURES

    def add(self, key: int) -> None:
        self.hits.setdefault(key, deque()).append(time.monotonic())


def display_name(ticket: TicketView) -> str:
    if ticket.first_name:
        return ticket.first_name
    return "Persona dal sito" if ticket.channel == "web" else "Persona"


class HandoffService:
    def __init__(
        self,
        store: Store,
        knowledge: Callable[[], KnowledgeBase],
        *,
        tickets: TicketStore | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.store = store
        self.tickets = tickets or TicketStore(store)
        self._kb = knowledge
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self.desk: OperatorsDesk | None = None
        self._senders: dict[str, PersonSender] = {}
        self._code_failures = _Failures()

    # --- wiring -------------------------------------------------------------------------------------

    def attach_desk(self, desk: OperatorsDesk) -> None:
        self.desk = desk

    def attach_sender(self, channel: str, sender: PersonSender) -> None:
        self._senders[channel] = sender

    # --- knowledge base -----------------------------------------------------------------------------

    def partner(self, partner_id: str) -> Partner | None:
        try:
            return self._kb().partners.get(partner_id)
        except Exception:
            log.exception("knowledge base unavailable")
            return None

    def partner_name(self, partner_id: str) -> str:
        partner = self.partner(partner_id)
        return partner.name if partner else partner_id

    # --- the person's side --------------------------------------------------------------------------

    async def open_ticket(self, user_id: int) -> TicketView | None:
        return await self.tickets.open_ticket_of(user_id)

    async def request(self, person: Person, meta: dict[str, Any]) -> list[Reply]:
        """The person asked for a human: open a ticket, or first ask for her town."""
        if await self.tickets.open_ticket_of(person.user_id) is not None:
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        kb = self._kb()
        topic = meta.get("topic") if meta.get("topic") in kb.topics else None
        territory = meta.get("territory") if meta.get("territory") in kb.territories else None
        comune = meta.get("comune") if isinstance(meta.get("comune"), str) else None
        question = await self._question(person.user_id)
        if territory is None:
            pending = {"topic": topic, "question": question, "tries": 0, "at": self.clock().isoformat()}
            await self.tickets.set_pending(person.user_id, pending)
            return [Reply(txt.ASK_TOWN)]
        return await self._open(person, topic, territory, comune, question)

    async def pending_request(self, user_id: int) -> dict[str, Any] | None:
        """The request waiting for the town, if any (and not too old)."""
        pending = await self.tickets.pending(user_id)
        if not pending:
            return None
        try:
            at = datetime.fromisoformat(str(pending.get("at")))
        except ValueError:
            at = None
        if at is None or self.clock() - at > PENDING_TTL:
            await self.tickets.set_pending(user_id, None)
            return None
        return pending

    async def drop_pending(self, user_id: int) -> None:
        await self.tickets.set_pending(user_id, None)

    async def answer_town(
        self, person: Person, pending: dict[str, Any], text: str | None = None, town: str | None = None
    ) -> list[Reply]:
        """The person's answer to "which town?": a town name (or a shared location's town)."""
        kb = self._kb()
        territory: str | None = None
        comune: str | None = None
        precise = False
        if town is not None and town in kb.towns:
            comune, territory = town, kb.towns[town].territory
        elif text is not None:
            words = text.strip().lower().strip(".!")
            if words in txt.CANCEL_WORDS:
                await self.tickets.set_pending(person.user_id, None)
                return [Reply(txt.HANDOFF_CANCELLED)]
            place = await asyncio.to_thread(kb.find_place, text)
            if place is not None and place.town is not None:
                comune, territory = place.town.name, place.town.territory
            elif place is not None and place.territory is not None:
                territory = place.territory
            elif place is not None and place.territories:
                precise = True
        topic = pending.get("topic")
        question = pending.get("question")
        if territory is not None:
            await self.tickets.set_pending(person.user_id, None)
            return await self._open(person, topic, territory, comune, question)
        tries = int(pending.get("tries") or 0) + 1
        if tries >= TOWN_TRIES:
            await self.tickets.set_pending(person.user_id, None)
            return await self._open(person, topic, None, None, question)
        await self.tickets.set_pending(person.user_id, {**pending, "tries": tries})
        return [Reply(txt.ASK_TOWN_PRECISE if precise else txt.ASK_TOWN_AGAIN)]

    async def _open(
        self,
        person: Person,
        topic: str | None,
        territory: str | None,
        comune: str | None,
        question: str | None,
    ) -> list[Reply]:
        kb = self._kb()
        partner = (kb.partner_for(topic, territory) if territory else None) or kb.default_partner
        partner, group = await self._reachable(partner)
        if group is None or self.desk is None:
            log.warning("no operators' group for partner %s: the person gets the contacts", partner.id)
            return [Reply(txt.no_operators(partner.name, _contacts(partner)))]
        now = self.clock()
        ticket, created = await self.tickets.create(
            person.user_id,
            partner.id,
            topic=topic,
            territory=territory,
            comune=comune,
            question=question,
            now=now,
        )
        if not created:
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        log.info("ticket %d opened for partner %s", ticket.id, partner.id)
        position = await self.tickets.position(ticket.id)
        status = availability(partner, now)
        self.desk.announce(ticket, await self.card(ticket))
        text = txt.handed_over(
            partner.name, status.open_now, status.next_open, partner.away_message, position, now
        )
        return [Reply(text, (txt.LEAVE_BUTTON,))]

    async def _reachable(self, partner: Partner) -> tuple[Partner, GroupView | None]:
        group = await self.tickets.group_of(partner.id)
        if group is not None:
            return partner, group
        default = self._kb().default_partner
        if default.id != partner.id:
            group = await self.tickets.group_of(default.id)
            if group is not None:
                log.warning("partner %s has no operators' group: ticket goes to %s", partner.id, default.id)
                return default, group
        return partner, None

    async def person_message(self, ticket: TicketView, msg: Inbound) -> list[Reply]:
        """Something the person wrote while her ticket is open: it goes to the operators, not to Rasa."""
        text = (msg.text or "").strip().lower()
        if msg.payload == txt.LEAVE or text in txt.LEAVE_WORDS:
            return await self.leave(ticket)
        if msg.payload == "/request_human":
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        if msg.command in ("start", "menu", "help", "aiuto"):
            return [Reply(txt.in_handoff(self.partner_name(ticket.partner_id), ticket.assigned_name))]
        if msg.payload and not msg.text:
            # an old button of the assistant: its title is all the operators could understand
            return [Reply(txt.in_handoff(self.partner_name(ticket.partner_id), ticket.assigned_name))]
        await self.tickets.touch(ticket.id, self.clock())
        if self.desk is not None:
            self.desk.person_wrote(ticket, msg)
        return []

    async def leave(self, ticket: TicketView) -> list[Reply]:
        """The person goes back to the assistant: her ticket is closed."""
        result = await self.tickets.close(ticket.id, self.clock(), actor="person", reason="left")
        if not result.done or result.ticket is None:
            return [Reply(txt.LEFT)]
        ended = result.ticket
        if self.desk is not None:
            self.desk.ended(ended, txt.left_notice(display_name(ended)), await self.card(ended))
        replies = [Reply(txt.LEFT)]
        if ticket.state == "assigned":
            replies.append(Reply(txt.RATE_QUESTION, txt.rate_buttons(ticket.id)))
        return replies

    async def rate(self, user_id: int, payload: str) -> list[Reply]:
        """A tap on one of the rating buttons (``concilia:rate:<ticket>:<1-5>``)."""
        try:
            ticket_id, score = (int(p) for p in payload[len(txt.RATE_PREFIX) :].split(":"))
        except ValueError:
            return [Reply(txt.RATE_UNKNOWN)]
        if not 1 <= score <= 5:
            return [Reply(txt.RATE_UNKNOWN)]
        if await self.tickets.rate(ticket_id, user_id, score, self.clock()):
            return [Reply(txt.RATED)]
        ticket = await self.tickets.get(ticket_id)
        if ticket is not None and ticket.user_id == user_id and ticket.rating is not None:
            return [Reply(txt.ALREADY_RATED)]
        return [Reply(txt.RATE_UNKNOWN)]

    async def forget(self, user_id: int) -> None:
        """The person erased her data: tickets, events and relayed messages go; the topics are told."""
        erased = await self.tickets.erase_person(user_id)
        if erased and self.desk is not None:
            self.desk.erased(erased)
        if erased:
            log.info("erased %d ticket(s) on the person's request", len(erased))

    # --- the operators' side ------------------------------------------------------------------------

    async def register_operator(self, code: str, telegram_user_id: int, first_name: str | None) -> Outcome:
        if not normalise_code(code):
            return Outcome(False, txt.CODE_MISSING)
        if self._code_failures.blocked(telegram_user_id):
            log.warning("operator registration refused: too many wrong codes")
            return Outcome(False, txt.TOO_MANY_TRIES)
        now = self.clock()
        partner_id = await self.tickets.redeem_invite(
            "operator", code_hash(code), f"telegram:{telegram_user_id}", now
        )
        if partner_id is None:
            self._code_failures.add(telegram_user_id)
            log.warning("operator registration refused: invalid or expired code")
            return Outcome(False, txt.INVALID_CODE)
        op = await self.tickets.add_operator(partner_id, telegram_user_id, first_name, now)
        log.info("operator %d registered for partner %s", op.id, partner_id)
        return Outcome(True, txt.operator_registered(self.partner_name(partner_id)))

    async def link_group(
        self, code: str, chat_id: int, title: str | None, is_forum: bool, telegram_user_id: int
    ) -> Outcome:
        if not normalise_code(code):
            return Outcome(False, txt.CODE_MISSING.replace("/operatore", "/collega"))
        if not is_forum:
            return Outcome(False, txt.GROUP_NOT_FORUM)
        if self._code_failures.blocked(telegram_user_id):
            return Outcome(False, txt.TOO_MANY_TRIES)
        now = self.clock()
        partner_id = await self.tickets.redeem_invite("group", code_hash(code), f"chat:{chat_id}", now)
        if partner_id is None:
            self._code_failures.add(telegram_user_id)
            log.warning("group link refused: invalid or expired code")
            return Outcome(False, txt.INVALID_CODE)
        await self.tickets.link_group(partner_id, chat_id, title, now)
        log.info("group linked to partner %s", partner_id)
        return Outcome(True, txt.group_linked(self.partner_name(partner_id)))

    async def create_invite(
        self, kind: str, partner_id: str, ttl: timedelta | None = None
    ) -> tuple[str, datetime]:
        """A new one-time code (returned once, stored hashed) and when it expires."""
        if kind not in ("operator", "group"):
            raise ValueError(f"unknown invite kind {kind!r}")
        if self.partner(partner_id) is None:
            raise LookupError(partner_id)
        now = self.clock()
        expires = now + (ttl or self.timeouts.invite_ttl)
        code = new_code()
        await self.tickets.add_invite(kind, partner_id, code_hash(code), expires, now)
        return code, expires

    async def authorize(
        self, chat_id: int, telegram_user_id: int, first_name: str | None, ticket: TicketView | None
    ) -> tuple[OperatorView | None, str | None]:
        """The operator acting in ``chat_id`` (on ``ticket``), or a refusal to show them. Refusals are
        logged, and recorded on the ticket."""
        group = await self.tickets.group_by_chat(chat_id)
        if group is None:
            return None, txt.NOT_LINKED
        op = await self.tickets.operator(telegram_user_id, group.partner_id)
        refused = op is None or (ticket is not None and ticket.partner_id != group.partner_id)
        if refused:
            log.warning(
                "refused: a Telegram user who is not an operator of %s tried to act on ticket %s",
                group.partner_id,
                ticket.id if ticket else "-",
            )
            if ticket is not None:
                await self.tickets.add_event(
                    ticket.id,
                    "refused",
                    f"telegram:{telegram_user_id}",
                    self.clock(),
                    detail="not an operator",
                )
            return None, txt.not_operator(self.partner_name(group.partner_id))
        assert op is not None
        if first_name and first_name != op.first_name:
            await self.tickets.rename_operator(op.id, first_name)
            op = OperatorView(op.id, op.partner_id, op.telegram_user_id, first_name, op.active)
        return op, None

    async def act(
        self, action: str, ticket_id: int, chat_id: int, telegram_user_id: int, first_name: str | None
    ) -> Outcome:
        """An operator's button or command on a ticket: claim, release, close, back (to the assistant)."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return Outcome(False, txt.TICKET_ENDED, alert=True)
        op, refusal = await self.authorize(chat_id, telegram_user_id, first_name, ticket)
        if op is None:
            return Outcome(False, refusal or txt.NOT_LINKED, ticket, alert=True)
        if action == "claim":
            return await self._claim(ticket, op)
        if action == "release":
            return await self._release(ticket, op)
        if action in ("close", "back"):
            return await self._close(ticket, op, hand_back=action == "back")
        raise ValueError(f"unknown action {action!r}")

    async def _claim(self, ticket: TicketView, op: OperatorView) -> Outcome:
        if ticket.state == "assigned" and ticket.assigned_to == op.id:
            return Outcome(True, txt.ALREADY_YOURS, ticket)
        result = await self.tickets.claim(ticket.id, op.id, self.clock())
        now_ticket = result.ticket or ticket
        if not result.done:
            if now_ticket.is_open:
                return Outcome(False, txt.claim_lost(now_ticket.assigned_name), now_ticket, alert=True)
            return Outcome(False, txt.TICKET_ENDED, now_ticket, alert=True)
        name = op.first_name or "Un operatore"
        log.info("ticket %d claimed by operator %d", ticket.id, op.id)
        partner = self.partner_name(ticket.partner_id)
        await self._tell(now_ticket, [Reply(txt.joined(name, partner))])
        if self.desk is not None:
            self.desk.notice(now_ticket, txt.claimed_notice(name), await self.card(now_ticket))
        return Outcome(True, txt.claimed_notice(name), now_ticket)

    async def _release(self, ticket: TicketView, op: OperatorView) -> Outcome:
        result = await self.tickets.release(ticket.id, op.id, self.clock())
        if not result.done or result.ticket is None:
            return Outcome(False, txt.NOT_YOURS, result.ticket, alert=True)
        name = op.first_name or "Un operatore"
        await self._tell(result.ticket, [Reply(txt.released(self.partner_name(ticket.partner_id)))])
        if self.desk is not None:
            self.desk.notice(result.ticket, txt.released_notice(name), await self.card(result.ticket))
        return Outcome(True, txt.released_notice(name), result.ticket)

    async def _close(self, ticket: TicketView, op: OperatorView, hand_back: bool) -> Outcome:
        result = await self.tickets.close(
            ticket.id,
            self.clock(),
            actor=f"operator:{op.id}",
            reason="handed_back" if hand_back else "closed",
            operator_id=op.id,
        )
        if not result.done or result.ticket is None:
            return Outcome(False, txt.TICKET_ENDED, result.ticket, alert=True)
        ended = result.ticket
        log.info("ticket %d closed by operator %d", ticket.id, op.id)
        replies = [Reply(txt.closed_by_operator(op.first_name, hand_back))]
        if ticket.state == "assigned":
            replies.append(Reply(txt.RATE_QUESTION, txt.rate_buttons(ticket.id)))
        await self._tell(ended, replies)
        notice = txt.closed_notice(op.first_name, hand_back)
        if self.desk is not None:
            self.desk.ended(ended, notice, await self.card(ended))
        return Outcome(True, notice, ended)

    async def operator_message(
        self,
        chat_id: int,
        thread_id: int,
        telegram_user_id: int,
        first_name: str | None,
        content: OperatorContent,
    ) -> str | None:
        """An operator wrote in a topic: deliver it to the person. Returns a notice for the topic when the
        message did not reach her (refused, ticket closed, blocked), else None. Writing in a waiting
        ticket claims it."""
        ticket = await self.tickets.by_topic(chat_id, thread_id)
        if ticket is None:
            return None  # a topic that is not a ticket's: the operators' own business
        op, refusal = await self.authorize(chat_id, telegram_user_id, first_name, ticket)
        if op is None:
            return refusal
        if not ticket.is_open:
            return txt.TICKET_ENDED
        if ticket.state == "waiting":
            claimed = await self._claim(ticket, op)
            if not claimed.ok:
                return claimed.text
            ticket = claimed.ticket or ticket
        elif ticket.assigned_to != op.id:
            return txt.taken_by_other(ticket.assigned_name)
        now = self.clock()
        sender = self._senders.get(ticket.channel)
        shown = content.text or (txt.PHOTO_FOR_WEB if content.kind else "")
        person_message_id: int | None = None
        if sender is not None:
            delivery, person_message_id = await sender.copy(ticket.user_key, chat_id, content.message_id)
        else:
            delivery = Delivery.OK  # web: the stored message is the delivery
        await self._store_pushed(ticket, [Reply(shown or "[messaggio]")], source="operator")
        await self.tickets.add_relay(
            ticket.id,
            "to_person",
            person_message_id=person_message_id,
            group_chat_id=chat_id,
            topic_message_id=content.message_id,
            now=now,
        )
        await self.tickets.touch(ticket.id, now)
        return self._delivery_notice(ticket, delivery)

    def _delivery_notice(self, ticket: TicketView, delivery: Delivery) -> str | None:
        if delivery is Delivery.BLOCKED:
            log.info("ticket %d: the person blocked the bot", ticket.id)
            return txt.blocked_notice(display_name(ticket))
        if delivery is Delivery.FAILED:
            return txt.not_delivered_notice(display_name(ticket))
        return None

    async def queue(self, telegram_user_id: int, chat_id: int | None) -> Outcome:
        """``/coda``: the open tickets of the group's partner (in a group) or of every partner the
        operator works for (``chat_id`` None: a private chat). Refused to anyone else."""
        mine = {
            o.partner_id
            for o in await self.tickets.operators()
            if o.telegram_user_id == telegram_user_id and o.active
        }
        if chat_id is not None:
            group = await self.tickets.group_by_chat(chat_id)
            if group is None:
                return Outcome(False, txt.NOT_LINKED)
            if group.partner_id not in mine:
                log.warning(
                    "refused: /coda from a Telegram user who is not an operator of %s", group.partner_id
                )
                return Outcome(False, txt.not_operator(self.partner_name(group.partner_id)))
            partners = [group.partner_id]
        else:
            partners = sorted(mine)
            if not partners:
                return Outcome(False, "")
        now = self.clock()
        blocks = []
        for partner_id in partners:
            queue = await self.tickets.queue(partner_id)
            name = self.partner_name(partner_id)
            if not queue:
                blocks.append(txt.queue_empty(name))
                continue
            lines = [f"Richieste aperte per {name}:"]
            for t in queue:
                what = ", ".join(x for x in (self._topic_name(t.topic), self._place(t)) if x) or "senza tema"
                if t.state == "waiting":
                    state, since = "in attesa", txt.duration((now - t.announced_at).total_seconds())
                else:
                    since = txt.duration((now - (t.assigned_at or t.created_at)).total_seconds())
                    state = f"presa da {t.assigned_name or 'un operatore'}"
                lines.append(txt.queue_line(t.id, display_name(t), what, state, since))
            blocks.append("\n".join(lines))
        return Outcome(True, "\n\n".join(blocks))

    # --- cards --------------------------------------------------------------------------------------

    def _topic_name(self, topic: str | None) -> str | None:
        if not topic:
            return None
        try:
            found = self._kb().topics.get(topic)
        except Exception:
            return topic
        return found.name if found else topic

    def _place(self, ticket: TicketView) -> str | None:
        territory = None
        if ticket.territory:
            try:
                found = self._kb().territories.get(ticket.territory)
                territory = found.name if found else ticket.territory
            except Exception:
                territory = ticket.territory
        if ticket.comune and territory:
            return f"{ticket.comune} ({territory})"
        return ticket.comune or territory

    async def card(self, ticket: TicketView, *, with_handoff_messages: bool = False) -> Card:
        """The ticket's card. Its last messages are those before the request; with
        ``with_handoff_messages`` (a topic made again) also those written since."""
        name = display_name(ticket)
        recent = await self.store.recent_messages(ticket.user_id, 8)
        lines: list[tuple[str, str]] = []
        for m in recent:
            if not m.text or (m.created_at > ticket.created_at and not with_handoff_messages):
                continue
            source = (m.meta or {}).get("from")
            who = name if m.direction == "in" else "Operatore" if source == "operator" else "Assistente"
            text = m.text if len(m.text) <= CARD_TEXT_CHARS else m.text[: CARD_TEXT_CHARS - 1] + "…"
            lines.append((who, text))
        office = None
        partner = self.partner(ticket.partner_id)
        if partner is not None and ticket.is_open:
            status = availability(partner, self.clock())
            if not status.open_now and status.next_open is not None:
                opens = txt.when(status.next_open, self.clock())
                office = f"Ufficio chiuso: la persona sa che rispondete da {opens}."
        return Card(
            ticket_id=ticket.id,
            name=name,
            partner=self.partner_name(ticket.partner_id),
            topic=self._topic_name(ticket.topic),
            place=self._place(ticket),
            question=ticket.question,
            last_messages=tuple(lines[-6:]),
            state=ticket.state,
            assigned=ticket.assigned_name,
            office=office,
            channel=ticket.channel,
        )

    async def _question(self, user_id: int) -> str | None:
        """What the person asked: her last message in words before the request for a person."""
        recent = await self.store.recent_messages(user_id, 12)
        inbound = [m for m in recent if m.direction == "in"]
        if not inbound:
            return None

        def words(text: str | None) -> bool:
            return bool(text) and not (text or "").startswith(("/", "["))

        trigger, before = inbound[-1], inbound[:-1]
        for m in reversed(before):
            if words(m.text):
                return (m.text or "")[:1000]
        return (trigger.text or "")[:1000] if words(trigger.text) else None

    # --- reaching the person ------------------------------------------------------------------------

    async def _store_pushed(self, ticket: TicketView, replies: list[Reply], source: str) -> None:
        records = [
            NewMessage(
                channel=ticket.channel,
                user_key=ticket.user_key,
                direction="out",
                rasa_sender_id=new_sender_id(),  # used only if her row were gone
                text=r.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in r.buttons] or None,
                meta={"ticket": ticket.id, "from": source},
                created_at=self.clock(),
                pushed=True,
            )
            for r in replies
        ]
        try:
            await self.store.save(records)
        except Exception:
            log.exception("ticket %d: a message for the person was not stored", ticket.id)

    async def _tell(self, ticket: TicketView, replies: list[Reply]) -> Delivery:
        """A system message to the person (stored; sent right away on Telegram)."""
        await self._store_pushed(ticket, replies, source="system")
        sender = self._senders.get(ticket.channel)
        if sender is None:
            return Delivery.OK
        try:
            delivery = await sender.send(ticket.user_key, replies)
        except Exception:
            log.exception("ticket %d: cannot reach the person", ticket.id)
            delivery = Delivery.FAILED
        notice = self._delivery_notice(ticket, delivery)
        if notice and self.desk is not None:
            self.desk.notice(ticket, notice)
        return delivery

    # --- timeouts -----------------------------------------------------------------------------------

    async def check_timeouts(self) -> None:
        """Re-announce tickets nobody claimed, expire assigned tickets that went silent."""
        now = self.clock()
        for ticket in await self.tickets.open_tickets():
            try:
                if ticket.state == "waiting":
                    await self._check_unclaimed(ticket, now)
                elif ticket.state == "assigned":
                    await self._check_silent(ticket, now)
            except Exception:
                log.exception("timeout check failed for ticket %d", ticket.id)

    async def _check_unclaimed(self, ticket: TicketView, now: datetime) -> None:
        partner = self.partner(ticket.partner_id)
        if partner is None:
            return
        waited = open_seconds_between(partner, ticket.announced_at, now)
        if waited < self.timeouts.unclaimed_after:
            return
        result = await self.tickets.reannounce(ticket.id, ticket.reannounced, now)
        if not result.done or result.ticket is None:
            return
        log.info("ticket %d unclaimed for %.0f s of office hours: announced again", ticket.id, waited)
        if self.desk is not None:
            text = txt.reannounce(ticket.id, txt.duration(self.timeouts.unclaimed_after))
            self.desk.notice(result.ticket, text, await self.card(result.ticket))
        if ticket.reannounced == 0:  # the person is told once, honestly
            position = await self.tickets.position(ticket.id)
            await self._tell(result.ticket, [Reply(txt.still_in_queue(partner.name, position))])

    async def _check_silent(self, ticket: TicketView, now: datetime) -> None:
        if (now - ticket.last_activity_at).total_seconds() < self.timeouts.silent_after:
            return
        result = await self.tickets.close(
            ticket.id, now, actor="system", reason="silence", state="expired", from_state="assigned"
        )
        if not result.done or result.ticket is None:
            return
        log.info("ticket %d expired after a long silence", ticket.id)
        after = txt.duration(self.timeouts.silent_after)
        replies = [
            Reply(txt.closed_for_silence(after)),
            Reply(txt.RATE_QUESTION, txt.rate_buttons(ticket.id)),
        ]
        await self._tell(result.ticket, replies)
        if self.desk is not None:
            self.desk.ended(result.ticket, txt.expired_notice(after), await self.card(result.ticket))


def _contacts(partner: Partner) -> str | None:
    c = partner.contacts
    found = ", ".join(x for x in (c.phone and f"tel. {c.phone}", c.email, c.web) if x)
    return found or None


async def run_timeouts(service: HandoffService, every: float) -> None:
    """The gateway's timer job: check the open tickets every ``every`` seconds, until cancelled. A restart
    loses nothing: the timers are timestamps in the database."""
    while True:
        try:
            await service.check_timeouts()
        except Exception:
            log.exception("handoff timeouts: check failed, will retry")
        await asyncio.sleep(every)

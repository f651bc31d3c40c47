"""The person's side of the handoff: asking for a human (first her town, when it is unknown), routing to
the partner covering her topic and territory, writing while the ticket is open, leaving, rating, erasing.

Routing: the partner covering the chat's topic and territory (``kb.partner_for``), else the alliance's
default partner. A partner whose operators have no group yet (and no account on the web console) hands
over to the default partner; with no operators anywhere the person gets the partner's contacts instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bot.core.commands import REQUEST_HUMAN, SHOW_MENU, START
from bot.core.messages import Inbound, Reply
from bot.handoff import texts as txt
from bot.handoff.cards import WithCards
from bot.handoff.model import (
    PENDING_TTL,
    PendingRequest,
    Person,
    TicketState,
    TicketView,
    TooManyOpen,
    display_name,
    origin_of,
    partner_contacts,
)
from bot.handoff.office_hours import availability

if TYPE_CHECKING:
    from knowledge import Partner

log = logging.getLogger(__name__)

TOWN_TRIES = 2  # unknown towns before the request goes to the default partner
_IN_HANDOFF_COMMANDS = SHOW_MENU | {START.name}


class PersonFlow(WithCards):
    tickets_per_address = 3  # open tickets at once from one web client address (HANDOFF_TICKETS_PER_ADDRESS)

    async def open_ticket(self, user_id: int) -> TicketView | None:
        return await self.tickets.open_ticket_of(user_id)

    async def request(self, person: Person, meta: dict[str, Any]) -> list[Reply]:
        """The person asked for a human: open a ticket, or first ask for her town."""
        if await self.tickets.open_ticket_of(person.user_id) is not None:
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        kb = self._kb()
        topic = meta.get("topic") if meta.get("topic") in kb.topics else None
        territory = meta.get("territory") if meta.get("territory") in kb.territories else None
        town = meta.get("comune") if isinstance(meta.get("comune"), str) else None  # the meta's word
        question = await self._question(person.user_id)
        if territory is None:
            pending = PendingRequest(topic=topic, question=question, tries=0, at=self.clock())
            await self.tickets.set_pending(person.user_id, pending)
            return [Reply(txt.ASK_TOWN)]
        return await self._open(person, topic, territory, town, question)

    async def pending_request(self, user_id: int) -> PendingRequest | None:
        """The request waiting for the town, if any (and not too old)."""
        pending = await self.tickets.pending(user_id)
        if pending is None:
            return None
        if self.clock() - pending.at > PENDING_TTL:
            await self.tickets.set_pending(user_id, None)
            return None
        return pending

    async def drop_pending(self, user_id: int) -> None:
        await self.tickets.set_pending(user_id, None)

    async def answer_town(
        self, person: Person, pending: PendingRequest, text: str | None = None, town: str | None = None
    ) -> list[Reply]:
        """The person's answer to "which town?": a town name (or a shared location's town)."""
        kb = self._kb()
        territory: str | None = None
        found_town: str | None = None
        precise = False
        if town is not None and town in kb.towns:
            found_town, territory = town, kb.towns[town].territory
        elif text is not None:
            words = text.strip().lower().strip(".!")
            if words in txt.CANCEL_WORDS:
                await self.tickets.set_pending(person.user_id, None)
                return [Reply(txt.HANDOFF_CANCELLED)]
            place = await asyncio.to_thread(kb.find_place, text)
            if place is not None and place.town is not None:
                found_town, territory = place.town.name, place.town.territory
            elif place is not None and place.territory is not None:
                territory = place.territory
            elif place is not None and place.territories:
                precise = True
        if territory is not None:
            await self.tickets.set_pending(person.user_id, None)
            return await self._open(person, pending.topic, territory, found_town, pending.question)
        tries = pending.tries + 1
        if tries >= TOWN_TRIES:
            await self.tickets.set_pending(person.user_id, None)
            return await self._open(person, pending.topic, None, None, pending.question)
        await self.tickets.set_pending(
            person.user_id, PendingRequest(pending.topic, pending.question, tries, pending.at)
        )
        return [Reply(txt.ASK_TOWN_PRECISE if precise else txt.ASK_TOWN_AGAIN)]

    async def _open(
        self,
        person: Person,
        topic: str | None,
        territory: str | None,
        town: str | None,
        question: str | None,
    ) -> list[Reply]:
        kb = self._kb()
        partner = (kb.partner_for(topic, territory) if territory else None) or kb.default_partner
        partner, reachable = await self._reachable(partner)
        if not reachable:
            log.warning("no operators' group for partner %s: the person gets the contacts", partner.id)
            return [Reply(txt.no_operators(partner.name, partner_contacts(partner)))]
        if await self.tickets.waiting_count(partner.id) >= self.timeouts.queue_cap:
            log.warning("partner %s: %d tickets waiting, no more", partner.id, self.timeouts.queue_cap)
            return [Reply(txt.queue_full(partner.name, partner_contacts(partner)))]
        now = self.clock()
        origin = origin_of(person.address) if person.address else None
        try:
            ticket, created = await self.tickets.create(
                person.user_id,
                partner.id,
                topic=topic,
                territory=territory,
                town=town,
                question=question,
                now=now,
                origin=origin,
                origin_cap=self.tickets_per_address,
            )
        except TooManyOpen:
            log.warning("open tickets cap reached for one address: no ticket for partner %s", partner.id)
            return [
                Reply(txt.too_many_open(partner.name, partner_contacts(partner), self.tickets_per_address))
            ]
        if not created:
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        log.info("ticket %d opened for partner %s", ticket.id, partner.id)
        position = await self.tickets.position(ticket.id)
        status = availability(partner, now)
        await self._announce(ticket, await self.card(ticket))
        text = txt.handed_over(
            partner.name, status.open_now, status.next_open, partner.away_message, position, now
        )
        return [Reply(text, (txt.LEAVE_BUTTON,))]

    async def _reachable(self, partner: Partner) -> tuple[Partner, bool]:
        """Who takes the ticket: the partner, else the alliance's default partner, whichever has operators
        to see it (a linked Telegram group with a desk attached, or an active account of the web
        console); False when neither has."""
        default = self._kb().default_partner
        for candidate in (partner, default) if default.id != partner.id else (partner,):
            group = await self.operators.group_of(candidate.id) if self.desks else None
            if group is not None or await self.operators.has_web_operators(candidate.id):
                if candidate.id != partner.id:
                    log.warning("partner %s has no operators: ticket goes to %s", partner.id, candidate.id)
                return candidate, True
        return partner, False

    async def person_message(self, ticket: TicketView, msg: Inbound) -> list[Reply]:
        """Something the person wrote while her ticket is open: it goes to the operators, not to Rasa."""
        text = (msg.text or "").strip().lower()
        if msg.payload == txt.LEAVE or text in txt.LEAVE_WORDS:
            return await self.leave(ticket)
        if msg.payload == REQUEST_HUMAN:
            return [Reply(txt.ALREADY_WAITING, (txt.LEAVE_BUTTON,))]
        if msg.command in _IN_HANDOFF_COMMANDS:
            return [Reply(txt.in_handoff(self.partner_name(ticket.partner_id), ticket.assigned_name))]
        if msg.payload and not msg.text:
            # an old button of the assistant: its title is all the operators could understand
            return [Reply(txt.in_handoff(self.partner_name(ticket.partner_id), ticket.assigned_name))]
        await self.tickets.touch(ticket.id, self.clock())
        for desk in self.desks:
            await desk.person_wrote(ticket, msg)
        return []

    async def leave(self, ticket: TicketView) -> list[Reply]:
        """The person goes back to the assistant: her ticket is closed."""
        result = await self.tickets.close(ticket.id, self.clock(), actor="person", reason="left")
        if not result.done or result.ticket is None:
            return [Reply(txt.LEFT)]
        ended = result.ticket
        await self._ended(ended, txt.left_notice(display_name(ended)), await self.card(ended))
        replies = [Reply(txt.LEFT)]
        if ticket.state == TicketState.ASSIGNED:
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
        if erased:
            for desk in self.desks:
                await desk.erased(erased)
            log.info("erased %d ticket(s) on the person's request", len(erased))

"""The handoff's timers. A ticket nobody claims for ``unclaimed_after`` seconds *of office hours* is
announced again (one message per partner for all the tickets of a check), and the person is told honestly
(once); one nobody claimed for ``waiting_expires_after`` seconds *of office hours* since it was opened
expires (the person is told, with the
partner's contacts; the topic is closed, its card says so); an assigned ticket silent for ``silent_after``
seconds expires, with a message to both. Timers are timestamps in the database, so a restart re-arms them
by itself."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from bot.core.jobs import run_every
from bot.core.messages import Reply
from bot.handoff import texts as txt
from bot.handoff.cards import WithCards
from bot.handoff.model import Card, TicketState, TicketView, partner_contacts
from bot.handoff.office_hours import open_seconds_between

log = logging.getLogger(__name__)


class TimeoutChecks(WithCards):
    async def check_timeouts(self) -> None:
        """Expire tickets nobody claimed for too long, re-announce the others nobody claimed (one message
        per partner for all of them), expire assigned tickets that went silent."""
        now = self.clock()
        again: dict[str, list[tuple[TicketView, Card]]] = {}
        for ticket in await self.tickets.open_tickets():
            try:
                if ticket.state == TicketState.WAITING:
                    if self._waited_too_long(ticket, now):
                        await self._expire_unclaimed(ticket, now)
                        continue
                    announced = await self._check_unclaimed(ticket, now)
                    if announced is not None:
                        again.setdefault(ticket.partner_id, []).append(announced)
                elif ticket.state == TicketState.ASSIGNED:
                    await self._check_silent(ticket, now)
            except Exception:
                log.exception("timeout check failed for ticket %d", ticket.id)
        waited = txt.duration(self.timeouts.unclaimed_after)
        for partner_id, tickets in again.items():
            text = txt.reannounce([t.id for t, _ in tickets], waited)
            for desk in self.desks:
                await desk.reannounced(partner_id, tickets, text)

    def _waited_too_long(self, ticket: TicketView, now: datetime) -> bool:
        partner = self.partner(ticket.partner_id)
        if partner is None:
            return False
        waited = open_seconds_between(partner, ticket.created_at, now)
        return waited >= self.timeouts.waiting_expires_after

    async def _check_unclaimed(self, ticket: TicketView, now: datetime) -> tuple[TicketView, Card] | None:
        """Count the ticket announced again if nobody claimed it for long enough: (ticket, card), for the
        desks to announce with the others."""
        partner = self.partner(ticket.partner_id)
        if partner is None:
            return None
        waited = open_seconds_between(partner, ticket.announced_at, now)
        if waited < self.timeouts.unclaimed_after:
            return None
        result = await self.tickets.reannounce(ticket.id, ticket.reannounced, now)
        if not result.done or result.ticket is None:
            return None
        log.info("ticket %d unclaimed for %.0f s of office hours: announced again", ticket.id, waited)
        if ticket.reannounced == 0:  # the person is told once, honestly
            position = await self.tickets.position(ticket.id)
            await self._tell(result.ticket, [Reply(txt.still_in_queue(partner.name, position))])
        return result.ticket, await self.card(result.ticket)

    async def _expire(
        self, ticket: TicketView, now: datetime, reason: str, from_state: TicketState
    ) -> TicketView | None:
        """The ticket closed by the system (expired) if it is still in ``from_state``."""
        result = await self.tickets.close(
            ticket.id, now, actor="system", reason=reason, state=TicketState.EXPIRED, from_state=from_state
        )
        return result.ticket if result.done else None

    async def _expire_unclaimed(self, ticket: TicketView, now: datetime) -> None:
        ended = await self._expire(ticket, now, txt.UNCLAIMED_REASON, TicketState.WAITING)
        if ended is None:
            return
        log.info("ticket %d expired: nobody claimed it", ticket.id)
        after = txt.duration(self.timeouts.waiting_expires_after)
        partner = self.partner(ticket.partner_id)
        contacts = partner_contacts(partner) if partner is not None else None
        name = partner.name if partner is not None else self.partner_name(ticket.partner_id)
        await self._tell(ended, [Reply(txt.unclaimed_expired(name, contacts, after))])
        if self.desks:
            await self._ended(ended, txt.unclaimed_expired_notice(after), await self.card(ended))

    async def _check_silent(self, ticket: TicketView, now: datetime) -> None:
        if (now - ticket.last_activity_at).total_seconds() < self.timeouts.silent_after:
            return
        ended = await self._expire(ticket, now, "silence", TicketState.ASSIGNED)
        if ended is None:
            return
        log.info("ticket %d expired after a long silence", ticket.id)
        after = txt.duration(self.timeouts.silent_after)
        replies = [
            Reply(txt.closed_for_silence(after)),
            Reply(txt.RATE_QUESTION, txt.rate_buttons(ticket.id)),
        ]
        await self._tell(ended, replies)
        if self.desks:
            await self._ended(ended, txt.expired_notice(after), await self.card(ended))


class ChecksTimeouts(Protocol):
    async def check_timeouts(self) -> None: ...


async def run_timeouts(service: ChecksTimeouts, every: float) -> None:
    """The gateway's timer job: check the open tickets every ``every`` seconds, until cancelled. A restart
    loses nothing: the timers are timestamps in the database."""
    await run_every(every, service.check_timeouts, "handoff timeouts check")

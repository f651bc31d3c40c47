"""The handoff's timers. A ticket nobody claims for ``unclaimed_after`` seconds *of office hours* is
announced again, and the person is told honestly (once); an assigned ticket silent for ``silent_after``
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
from bot.handoff.model import TicketState, TicketView
from bot.handoff.office_hours import open_seconds_between

log = logging.getLogger(__name__)


class TimeoutChecks(WithCards):
    async def check_timeouts(self) -> None:
        """Re-announce tickets nobody claimed, expire assigned tickets that went silent."""
        now = self.clock()
        for ticket in await self.tickets.open_tickets():
            try:
                if ticket.state == TicketState.WAITING:
                    await self._check_unclaimed(ticket, now)
                elif ticket.state == TicketState.ASSIGNED:
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
        if self.desks:
            text = txt.reannounce(ticket.id, txt.duration(self.timeouts.unclaimed_after))
            self._notice(result.ticket, text, await self.card(result.ticket))
        if ticket.reannounced == 0:  # the person is told once, honestly
            position = await self.tickets.position(ticket.id)
            await self._tell(result.ticket, [Reply(txt.still_in_queue(partner.name, position))])

    async def _check_silent(self, ticket: TicketView, now: datetime) -> None:
        if (now - ticket.last_activity_at).total_seconds() < self.timeouts.silent_after:
            return
        result = await self.tickets.close(
            ticket.id,
            now,
            actor="system",
            reason="silence",
            state=TicketState.EXPIRED,
            from_state=TicketState.ASSIGNED,
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
        if self.desks:
            self._ended(result.ticket, txt.expired_notice(after), await self.card(result.ticket))


class ChecksTimeouts(Protocol):
    async def check_timeouts(self) -> None: ...


async def run_timeouts(service: ChecksTimeouts, every: float) -> None:
    """The gateway's timer job: check the open tickets every ``every`` seconds, until cancelled. A restart
    loses nothing: the timers are timestamps in the database."""
    await run_every(every, service.check_timeouts, "handoff timeouts check")

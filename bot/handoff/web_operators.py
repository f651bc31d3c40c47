"""The operators' actions from the partners' web console (:mod:`bot.console`): the same claims, releases,
closes and replies as from a Telegram topic, on the same tickets, so each side sees what the other did
(the Telegram desk is told through the usual notices and cards). An account acts through its operators
row (no Telegram account); it may act only on tickets of that row's partner, and every other attempt is
refused, logged and recorded as a ticket event."""

from __future__ import annotations

import logging

from bot.core.messages import Reply
from bot.handoff import texts as txt
from bot.handoff.model import OperatorView, Outcome, TicketState, TicketView
from bot.handoff.operator_actions import OperatorActions

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 4000
WEB_REPLY_NOTICE = "{name} ha risposto dalla console web:\n{text}"


class WebOperatorActions(OperatorActions):
    async def authorise_web(
        self, operator_id: int | None, ticket: TicketView
    ) -> tuple[OperatorView | None, str | None]:
        op = await self.operators.by_id(operator_id) if operator_id is not None else None
        if op is None or not op.active or op.partner_id != ticket.partner_id:
            log.warning(
                "refused: a console account not of %s tried to act on ticket %d", ticket.partner_id, ticket.id
            )
            await self.tickets.add_event(
                ticket.id, "refused", f"console:{operator_id or '-'}", self.clock(), detail="not an operator"
            )
            return None, txt.not_operator(self.partner_name(ticket.partner_id))
        return op, None

    async def _web_ticket(
        self, ticket_id: int, operator_id: int | None
    ) -> tuple[TicketView, OperatorView] | Outcome:
        """The ticket and the operator who may act on it, or the refusal to show her."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return Outcome(False, txt.TICKET_ENDED)
        op, refusal = await self.authorise_web(operator_id, ticket)
        if op is None:
            return Outcome(False, refusal or txt.NOT_LINKED, ticket)
        return ticket, op

    async def web_act(self, action: str, ticket_id: int, operator_id: int | None) -> Outcome:
        """Claim, release, close or hand back (:class:`~bot.handoff.model.Action`) from the console."""
        found = await self._web_ticket(ticket_id, operator_id)
        if isinstance(found, Outcome):
            return found
        ticket, op = found
        return await self._do(action, ticket, op)

    async def web_reply(self, ticket_id: int, operator_id: int | None, text: str) -> Outcome:
        """The operator's reply from the console: stored for the person (and sent once on her channel);
        the ticket's Telegram topic gets a copy as a notice. Writing in a waiting ticket claims it."""
        text = text.strip()
        if not text:
            return Outcome(False, "Scrivi qualcosa prima di mandare.")
        if len(text) > MAX_REPLY_CHARS:
            return Outcome(False, f"Il messaggio è troppo lungo: al massimo {MAX_REPLY_CHARS} caratteri.")
        found = await self._web_ticket(ticket_id, operator_id)
        if isinstance(found, Outcome):
            return found
        ticket, op = found
        if not ticket.is_open:
            return Outcome(False, txt.TICKET_ENDED, ticket)
        if ticket.state == TicketState.WAITING:
            claimed = await self._claim(ticket, op)
            if not claimed.ok:
                return claimed
            ticket = claimed.ticket or ticket
        elif ticket.assigned_to != op.id:
            return Outcome(False, txt.taken_by_other(ticket.assigned_name), ticket)
        await self._store_pushed(ticket, [Reply(text)], source="operator")
        sender = self._senders.get(ticket.channel)
        notice = None
        if sender is not None:
            try:
                notice = self._delivery_notice(ticket, await sender.send(ticket.user_key, [Reply(text)]))
            except Exception:
                log.exception("ticket %d: a console reply did not reach the person", ticket.id)
                notice = txt.not_delivered_notice(ticket.first_name or "la persona")
        await self._notice(ticket, WEB_REPLY_NOTICE.format(name=op.first_name or "Un operatore", text=text))
        await self.tickets.touch(ticket.id, self.clock())
        if notice:
            await self._notice(ticket, notice)
            return Outcome(False, notice, ticket)
        return Outcome(True, "Messaggio inviato.", ticket)

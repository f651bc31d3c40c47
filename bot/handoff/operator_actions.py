"""The operators' side of the handoff: registering with a code, linking a group, claiming, releasing,
closing, handing back, writing to the person, the queue. Every action on a ticket goes through
:meth:`HandoffCore.authorise`: only a registered, active operator of the ticket's partner, in that
partner's group; everyone else is refused, logged, and recorded as a ticket event."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core.messages import Reply
from bot.handoff import texts as txt
from bot.handoff.cards import WithCards
from bot.handoff.invites import CodeFailures, code_hash, new_code, normalise_code
from bot.handoff.model import (
    Action,
    Delivery,
    InviteKind,
    OperatorContent,
    OperatorView,
    Outcome,
    PartnerQueue,
    QueuedTicket,
    TicketState,
    TicketView,
    display_name,
)

log = logging.getLogger(__name__)


class OperatorActions(WithCards):
    _code_failures: CodeFailures

    async def register_operator(self, code: str, telegram_user_id: int, first_name: str | None) -> Outcome:
        if not normalise_code(code):
            return Outcome(False, txt.CODE_MISSING)
        if self._code_failures.blocked(telegram_user_id):
            log.warning("operator registration refused: too many wrong codes")
            return Outcome(False, txt.TOO_MANY_TRIES)
        now = self.clock()
        partner_id = await self.operators.redeem_invite(
            InviteKind.OPERATOR, code_hash(code), f"telegram:{telegram_user_id}", now
        )
        if partner_id is None:
            self._code_failures.add(telegram_user_id)
            log.warning("operator registration refused: invalid or expired code")
            return Outcome(False, txt.INVALID_CODE)
        op = await self.operators.add_operator(partner_id, telegram_user_id, first_name, now)
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
        partner_id = await self.operators.redeem_invite(
            InviteKind.GROUP, code_hash(code), f"chat:{chat_id}", now
        )
        if partner_id is None:
            self._code_failures.add(telegram_user_id)
            log.warning("group link refused: invalid or expired code")
            return Outcome(False, txt.INVALID_CODE)
        await self.operators.link_group(partner_id, chat_id, title, now)
        log.info("group linked to partner %s", partner_id)
        return Outcome(True, txt.group_linked(self.partner_name(partner_id)))

    async def create_invite(
        self, kind: str, partner_id: str, ttl: timedelta | None = None
    ) -> tuple[str, datetime]:
        """A new one-time code (returned once, stored hashed) and when it expires."""
        if kind not in tuple(InviteKind):
            raise ValueError(f"unknown invite kind {kind!r}")
        if self.partner(partner_id) is None:
            raise LookupError(partner_id)
        now = self.clock()
        expires = now + (ttl or self.timeouts.invite_ttl)
        code = new_code()
        await self.operators.add_invite(kind, partner_id, code_hash(code), expires, now)
        return code, expires

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
        return await self._do(action, ticket, op)

    async def _do(self, action: str, ticket: TicketView, op: OperatorView) -> Outcome:
        """An authorised operator's action on a ticket (from any desk)."""
        if action == Action.CLAIM:
            return await self._claim(ticket, op)
        if action == Action.RELEASE:
            return await self._release(ticket, op)
        if action in (Action.CLOSE, Action.BACK):
            return await self._close(ticket, op, hand_back=action == Action.BACK)
        raise ValueError(f"unknown action {action!r}")

    async def _claim(self, ticket: TicketView, op: OperatorView) -> Outcome:
        if ticket.state == TicketState.ASSIGNED and ticket.assigned_to == op.id:
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
        await self._notice(now_ticket, txt.claimed_notice(name), await self.card(now_ticket))
        return Outcome(True, txt.claimed_notice(name), now_ticket)

    async def _release(self, ticket: TicketView, op: OperatorView) -> Outcome:
        result = await self.tickets.release(ticket.id, op.id, self.clock())
        if not result.done or result.ticket is None:
            return Outcome(False, txt.NOT_YOURS, result.ticket, alert=True)
        name = op.first_name or "Un operatore"
        await self._tell(result.ticket, [Reply(txt.released(self.partner_name(ticket.partner_id)))])
        await self._notice(result.ticket, txt.released_notice(name), await self.card(result.ticket))
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
        if ticket.state == TicketState.ASSIGNED:
            replies.append(Reply(txt.RATE_QUESTION, txt.rate_buttons(ticket.id)))
        await self._tell(ended, replies)
        notice = txt.closed_notice(op.first_name, hand_back)
        await self._ended(ended, notice, await self.card(ended))
        return Outcome(True, notice, ended)

    async def operator_message(
        self,
        ticket_id: int,
        chat_id: int,
        telegram_user_id: int,
        first_name: str | None,
        content: OperatorContent,
    ) -> str | None:
        """An operator wrote in a ticket's topic: deliver it to the person. Returns a notice for the topic
        when the message did not reach her (refused, ticket closed, blocked), else None. Writing in a
        waiting ticket claims it."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return None
        op, refusal = await self.authorize(chat_id, telegram_user_id, first_name, ticket)
        if op is None:
            return refusal
        if not ticket.is_open:
            return txt.TICKET_ENDED
        if ticket.state == TicketState.WAITING:
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

    async def queue(self, telegram_user_id: int, chat_id: int | None) -> Outcome:
        """``/coda``: the open tickets of the group's partner (in a group) or of every partner the
        operator works for (``chat_id`` None: a private chat). Refused to anyone else."""
        if chat_id is not None:
            op, refusal = await self.authorize(chat_id, telegram_user_id, None, None)
            if op is None:
                return Outcome(False, refusal or txt.NOT_LINKED)
            partners = [op.partner_id]
        else:
            partners = sorted(
                {
                    o.partner_id
                    for o in await self.operators.operators()
                    if o.telegram_user_id == telegram_user_id and o.active
                }
            )
            if not partners:
                return Outcome(False, "")
        now = self.clock()
        queues = []
        for partner_id in partners:
            entries = []
            for t in await self.tickets.queue(partner_id):
                about = ", ".join(x for x in (self._topic_name(t.topic), self._place(t)) if x) or None
                if t.state == TicketState.WAITING:
                    assigned, since = None, t.announced_at
                else:
                    assigned, since = t.assigned_name or "un operatore", t.assigned_at or t.created_at
                entries.append(
                    QueuedTicket(t.id, display_name(t), about, assigned, (now - since).total_seconds())
                )
            queues.append(PartnerQueue(self.partner_name(partner_id), tuple(entries)))
        return Outcome(True, "", queues=tuple(queues))

"""The ticket's card as data (first name, ticket number, topic, place, question, last messages, state,
office hours), and what the person asked: built here, rendered by each desk."""

from __future__ import annotations

from bot.handoff import texts as txt
from bot.handoff.core import HandoffCore
from bot.handoff.model import Card, TicketView, display_name
from bot.handoff.office_hours import availability

CARD_TEXT_CHARS = 300


class WithCards(HandoffCore):
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
        if ticket.town and territory:
            return f"{ticket.town} ({territory})"
        return ticket.town or territory

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
            close_reason=ticket.close_reason,
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

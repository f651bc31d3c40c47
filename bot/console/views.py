"""What the console's pages show, built from the handoff service (no ``aiohttp`` here): the queue of the
account's partner (all partners for the alliance), a ticket's facts, transcript and notes with personal
data masked, which actions the account may take, and the actions themselves, through the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.console.pages import QueueRow, TicketPage
from bot.handoff.model import Action, TicketState, TicketView, display_name
from bot.handoff.office_hours import ROME
from bot.handoff.service import HandoffService
from bot.insights.masking import ITALIAN_LABELS, mask
from bot.store.console import AccountView, ConsoleStore
from bot.store.ticket_rows import queue_version
from knowledge.records import Service
from knowledge.service_text import describe_long
from knowledge.welfare_text import TOPIC as WELFARE_TOPIC
from knowledge.welfare_text import WelfareRule, welfare_rules

TRANSCRIPT_MESSAGES = 200
PREPARED_MAX = 6
MAX_NOTE_CHARS = 2000
STATES = {"waiting": "in attesa", "assigned": "presa in carico", "closed": "chiusa", "expired": "scaduta"}
ACTION_LABELS = {
    Action.CLAIM: "Prendo io",
    Action.RELEASE: "Rilascia",
    Action.CLOSE: "Chiudi",
    Action.BACK: "Ridai all'assistente",
}


@dataclass(frozen=True)
class Done:
    """What a form of the ticket's page did: shown to her as ``text``; the text unmasked (``revealed``),
    or a reply prepared for the reply box (``draft``)."""

    ok: bool
    text: str
    revealed: bool = False
    draft: str | None = None


def _since(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "meno di un minuto"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} giorni"


def _local(moment: datetime) -> str:
    return moment.astimezone(ROME).strftime("%d/%m %H:%M")


class TicketViews:
    def __init__(self, handoff: HandoffService, console: ConsoleStore) -> None:
        self.handoff = handoff
        self.console = console

    def partner_name(self, partner_id: str) -> str:
        return self.handoff.partner_name(partner_id)

    @staticmethod
    def may_see(account: AccountView, ticket: TicketView) -> bool:
        return account.role == "alliance" or account.partner_id == ticket.partner_id

    async def ticket(self, ticket_id: int) -> TicketView | None:
        return await self.handoff.ticket(ticket_id)

    async def queue_version(self, account: AccountView) -> str:
        """Changes when the account's queue (its partner's, all for the alliance) changes."""
        partner = None if account.role == "alliance" else account.partner_id
        return await self.handoff.store.db.read(lambda s: queue_version(s, partner))

    async def queue(self, account: AccountView) -> list[QueueRow]:
        tickets = self.handoff.tickets
        found = await (
            tickets.open_tickets() if account.role == "alliance" else tickets.queue(account.partner_id)
        )
        now = self.handoff.clock()
        rows = []
        for t in found:
            about = ", ".join(x for x in (self.handoff._topic_name(t.topic), self.handoff._place(t)) if x)
            since = t.announced_at if t.state == TicketState.WAITING else (t.assigned_at or t.created_at)
            rows.append(
                QueueRow(
                    t.id,
                    self.partner_name(t.partner_id),
                    display_name(t),
                    about or None,
                    STATES.get(t.state, t.state),
                    t.assigned_name if t.assigned_to else None,
                    _since((now - since).total_seconds()),
                )
            )
        return rows

    def _actions(self, account: AccountView, ticket: TicketView) -> list[Action]:
        if account.role == "alliance" or account.operator_id is None or not ticket.is_open:
            return []
        if ticket.state == TicketState.WAITING:
            return [Action.CLAIM, Action.CLOSE]
        if ticket.assigned_to == account.operator_id:
            return [Action.RELEASE, Action.CLOSE, Action.BACK]
        return []

    def _may_write(self, account: AccountView, ticket: TicketView) -> bool:
        return (
            account.role != "alliance"
            and account.operator_id is not None
            and (ticket.state == TicketState.WAITING or ticket.assigned_to == account.operator_id)
            and ticket.is_open
        )

    @staticmethod
    def _may_reveal(account: AccountView, ticket: TicketView) -> bool:
        return account.operator_id is not None and ticket.assigned_to == account.operator_id

    def _prepared(self, ticket: TicketView) -> list[Service]:
        """The services of the ticket's topic in its town (or territory): replies ready to insert."""
        if not ticket.topic or not (ticket.town or ticket.territory):
            return []
        try:
            kb = self.handoff.knowledge()
            found = kb.find_services(topic=ticket.topic, territory=ticket.territory, town=ticket.town)
        except Exception:
            return []
        return found[:PREPARED_MAX]

    def _rules(self, ticket: TicketView) -> list[WelfareRule]:
        """The company-welfare rules of the knowledge base, for a ticket about company welfare."""
        if ticket.topic != WELFARE_TOPIC:
            return []
        try:
            return welfare_rules(self.handoff.knowledge())
        except Exception:
            return []

    async def act(
        self, account: AccountView, ticket: TicketView, what: str, form: Mapping[str, object]
    ) -> Done:
        """A form of the ticket's page."""
        if what == "mostra":
            if not self._may_reveal(account, ticket):
                return Done(False, "Puoi vedere il testo completo solo delle richieste che segui tu.")
            return Done(True, "Testo completo mostrato: la visione è registrata.", revealed=True)
        if account.role == "alliance":
            return Done(False, "Con il ruolo alleanza puoi guardare le richieste, non gestirle.")
        text = str(form.get("text", "") or "")
        if what == "azione":
            action = str(form.get("action", ""))
            if action not in tuple(Action):
                return Done(False, "Azione sconosciuta.")
            outcome = await self.handoff.web_act(action, ticket.id, account.operator_id)
            return Done(outcome.ok, outcome.text)
        if what == "risposta":
            outcome = await self.handoff.web_reply(ticket.id, account.operator_id, text)
            return Done(outcome.ok, outcome.text)
        if not self._may_write(account, ticket):
            return Done(False, "Puoi scrivere solo nelle richieste in attesa o che segui tu.")
        if what == "prepara" and form.get("rule"):
            rule = next((r for r in self._rules(ticket) if r.id == form.get("rule")), None)
            if rule is None:
                return Done(False, "Questa regola non è tra quelle proposte per la richiesta.")
            return Done(True, "Regola inserita nella risposta: controllala e premi Invia.", draft=rule.text)
        if what == "prepara":
            service = next((x for x in self._prepared(ticket) if x.id == form.get("service")), None)
            if service is None:
                return Done(False, "Questo servizio non è tra quelli proposti per la richiesta.")
            draft = describe_long(self.handoff.knowledge(), service)
            return Done(True, "Scheda inserita nella risposta: controllala e premi Invia.", draft=draft)
        text = text.strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            return Done(False, f"La nota deve avere da 1 a {MAX_NOTE_CHARS} caratteri.")
        await self.console.add_note(ticket.id, account.name or account.login, text, self.handoff.clock())
        return Done(True, "Nota aggiunta.")

    async def page(
        self, account: AccountView, ticket_id: int, *, revealed: bool, draft: str | None = None
    ) -> TicketPage:
        ticket = await self.handoff.ticket(ticket_id)
        assert ticket is not None
        show = (lambda s: s) if revealed else (lambda s: mask(s, ITALIAN_LABELS))
        name = display_name(ticket)
        messages = (await self.handoff.store.messages_of(ticket.user_id))[-TRANSCRIPT_MESSAGES:]
        transcript = []
        for m in messages:
            source = (m.meta or {}).get("from")
            who = name if m.direction == "in" else "Operatore" if source == "operator" else "Assistente"
            text = "[cancellato per il periodo di conservazione]" if m.purged else (m.text or m.payload or "")
            transcript.append((who, _local(m.created_at), show(text)))
        facts = [
            ("Stato", STATES.get(ticket.state, ticket.state)),
            ("Ente", self.partner_name(ticket.partner_id)),
            ("Argomento", self.handoff._topic_name(ticket.topic) or "—"),
            ("Luogo", self.handoff._place(ticket) or "—"),
            ("Canale", "chat web" if ticket.channel == "web" else "Telegram"),
            ("Aperta il", _local(ticket.created_at)),
            ("Chi la segue", ticket.assigned_name or "nessuno"),
            ("Domanda", show(ticket.question or "—")),
        ]
        notes = [(n.author or "?", _local(n.at), show(n.text)) for n in await self.console.notes(ticket_id)]
        actions = [(a.value, ACTION_LABELS[a]) for a in self._actions(account, ticket)]
        return TicketPage(
            ticket.id,
            f"Richiesta n. {ticket.id} · {name}",
            facts,
            transcript,
            notes,
            actions,
            can_reply=self._may_write(account, ticket),
            can_reveal=self._may_reveal(account, ticket),
            revealed=revealed,
            prepared=[("service", x.id, x.title) for x in self._prepared(ticket)]
            + [("rule", r.id, r.title) for r in self._rules(ticket)]
            if self._may_write(account, ticket)
            else [],
            draft=draft or "",
        )

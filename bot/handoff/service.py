"""The handoff service: the one owner of tickets. Channels reach it through its ports
(:mod:`bot.handoff.ports`) and render the data it returns.

It is put together from its parts, each in its own module: the shared core (:mod:`bot.handoff.core`:
stores, knowledge base, desks and senders, the authorisation check), the cards, the person's flow, the
operators' actions (from Telegram, and from the web console in :mod:`bot.handoff.web_operators`) and the
timers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.handoff.invites import CodeFailures
from bot.handoff.model import Timeouts
from bot.handoff.person import PersonFlow
from bot.handoff.timeouts import TimeoutChecks
from bot.handoff.web_operators import WebOperatorActions
from bot.store import Store
from bot.store.models import utcnow
from bot.store.tickets import TicketStore

if TYPE_CHECKING:
    from knowledge import KnowledgeBase


class HandoffService(PersonFlow, WebOperatorActions, TimeoutChecks):
    def __init__(
        self,
        store: Store,
        knowledge: Callable[[], KnowledgeBase],
        *,
        tickets: TicketStore | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeouts: Timeouts | None = None,
        tickets_per_address: int = 3,
    ) -> None:
        super().__init__(store, knowledge, tickets=tickets, clock=clock, timeouts=timeouts)
        self.tickets_per_address = tickets_per_address
        self._code_failures = CodeFailures()

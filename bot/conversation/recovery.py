"""Answering the messages a gateway stored but never answered.

A gateway stores every inbound message before answering it (see :mod:`bot.conversation.journal`), and
Telegram's update is confirmed as soon as the next batch is asked for: a gateway killed (SIGKILL, OOM,
power cut) between storing a message and storing its answer leaves the message stored, confirmed, and
unanswered. Such a message has no ``answered_at``: the normal path sets it in the transaction that stores
the replies.

:class:`Recovery` finds them and answers them through :meth:`ConversationRouter.answer_pending`, once at
start-up and then periodically (:func:`run_recovery`):

* at start-up, the messages this gateway (same ``GATEWAY_NAME``) took in before it started: its earlier
  run is certainly gone;
* always, the messages of any gateway older than ``grace`` (longer than any answer takes): their gateway
  died, and with several gateways behind a load balancer a living one answers them without waiting for
  the dead one to come back;
* never those older than ``window``: a late answer to a stale question helps nobody.

Several gateways may sweep at once: each message is claimed with a conditional update, so exactly one of
them answers it; and a slow gateway that finishes after its message was claimed stores and sends nothing.
On Telegram the answer is sent to the chat; on the web chat it is stored as *pushed*, and the page fetches
it (``GET /api/chat/updates``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.conversation.router import ConversationRouter
from bot.core.jobs import run_every
from bot.core.messages import Turn
from bot.store import Store, StoreUnavailable
from bot.store.models import utcnow

log = logging.getLogger(__name__)

# Sends a turn to one person of a channel (user key, turn); False when it could not be delivered.
Deliver = Callable[[str, Turn], Awaitable[bool]]


class Recovery:
    def __init__(
        self,
        store: Store,
        router: ConversationRouter,
        *,
        gateway: str | None,
        window: timedelta = timedelta(minutes=10),
        grace: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.router = router
        self.gateway = gateway
        self.window = window
        self.grace = grace
        self._clock = clock
        self.started_at = clock()
        self._senders: dict[str, Deliver] = {}

    def attach_sender(self, channel: str, deliver: Deliver) -> None:
        """How to reach people of ``channel``; a channel without one gets its answers stored as pushed."""
        self._senders[channel] = deliver

    async def sweep(self) -> int:
        """Answer the unanswered messages found now; returns how many this gateway answered."""
        now = self._clock()
        pending = await self.store.unanswered(
            now - self.window, now - self.grace, self.gateway, self.started_at
        )
        answered = 0
        for message in pending:
            deliver = self._senders.get(message.channel)
            turn = await self.router.answer_pending(message, pushed=deliver is None)
            if turn is None:
                continue  # another gateway took it
            answered += 1
            if deliver is not None and turn.replies and not turn.queued:  # queued: the outbox sends it
                try:
                    if not await deliver(message.user_key, turn):
                        log.warning("a late answer to a %s message was not delivered", message.channel)
                except Exception:
                    log.exception("cannot deliver the answer to an unanswered %s message", message.channel)
        if answered:
            log.info("answered %d message(s) left unanswered by a gateway that stopped", answered)
        return answered


async def run_recovery(recovery: Recovery, every: float) -> None:
    """Sweep now and then every ``every`` seconds, until cancelled. Never stops the gateway."""
    await run_every(every, recovery.sweep, "recovery sweep", expected=(StoreUnavailable,))

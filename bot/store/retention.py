"""Retention: every purge of personal data in one place, and the gateway's job that runs it.

:func:`purge` (one transaction) nulls the text, payload and buttons of messages older than the retention
period (their ``meta`` stays, for statistics: it holds no text written by the person) and deletes the review
queue's labels on them not exported yet, nulls the question of
ended tickets as old and of tickets never claimed as old, drops the mapping of their relayed messages and the
console's notes on the ended ones, forgets a request for a person still waiting for the town once she has
been silent past ``pending_before``, forgets invite codes (and console invites) that expired that long ago,
deletes the long button payloads no gateway rendered for the whole period, the tombstones of erasures as old
(see :mod:`bot.store.erase`), and forgets Telegram update ids older than seven days (Telegram never
redelivers an update that old), with the outbox's items sent as long ago
(their bodies were emptied when sent) and webhook updates never handled.

People who wrote nothing for the whole period are erased, as on /cancella (:func:`inactive_people` lists
them; the caller's ``forget`` erases each one: Rasa's trackers, tickets and topics, every row).

:func:`run_retention` is a task of the gateway: it purges every ``interval`` seconds (hourly by default, and
once at start-up). A failing run is logged and retried at the next tick; the job never stops the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from bot.core.jobs import run_every
from bot.handoff.model import PENDING_TTL, TicketState
from bot.store.console_models import ConsoleInvite, ReviewLabel, TicketNote
from bot.store.db import StoreUnavailable, rowcount
from bot.store.models import (
    OPEN_STATES,
    CallbackPayload,
    Erasure,
    InviteCode,
    Message,
    ProcessedUpdate,
    RelayedMessage,
    Ticket,
    User,
    utcnow,
)
from bot.store.outbox import purge_outbox

log = logging.getLogger(__name__)

UPDATE_IDS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class PurgeResult:
    messages: int
    updates: int
    tickets: int = 0  # tickets whose question was purged
    callbacks: int = 0  # long button payloads not rendered for the whole period
    pending: int = 0  # requests for a person that waited for the town in vain
    people: int = 0  # people erased for inactivity (counted by purge_once)


def purge(
    session: Session, messages_before: datetime, updates_before: datetime, pending_before: datetime
) -> PurgeResult:
    """Every purge, in the caller's transaction."""
    bulk = {"synchronize_session": False}
    # ended, or never claimed by anybody: the question (her words) goes after the period
    unclaimed = Ticket.state == TicketState.WAITING.value
    old = (Ticket.created_at < messages_before) & (Ticket.state.not_in(OPEN_STATES) | unclaimed)
    ended = select(Ticket.id).where(Ticket.created_at < messages_before, Ticket.state.not_in(OPEN_STATES))
    session.execute(
        delete(RelayedMessage).where(RelayedMessage.ticket_id.in_(ended)).execution_options(**bulk)
    )
    session.execute(delete(TicketNote).where(TicketNote.ticket_id.in_(ended)).execution_options(**bulk))
    session.execute(
        delete(InviteCode).where(InviteCode.expires_at < messages_before).execution_options(**bulk)
    )
    session.execute(
        delete(ConsoleInvite).where(ConsoleInvite.expires_at < messages_before).execution_options(**bulk)
    )
    session.execute(delete(Erasure).where(Erasure.erased_at < messages_before).execution_options(**bulk))
    tickets = session.execute(
        update(Ticket)
        .where(old, Ticket.purged.is_(False))
        .values(question=None, purged=True)
        .execution_options(**bulk)
    )
    pending = session.execute(
        update(User)
        .where(User.handoff_pending.is_not(None), User.last_seen_at < pending_before)
        .values(handoff_pending=None)
        .execution_options(**bulk)
    )
    # the review queue's labels not exported yet on the messages about to lose their text
    losing = select(Message.id).where(Message.created_at < messages_before, Message.purged.is_(False))
    session.execute(
        delete(ReviewLabel)
        .where(ReviewLabel.exported_at.is_(None), ReviewLabel.message_id.in_(losing))
        .execution_options(**bulk)
    )
    messages = session.execute(
        update(Message)
        .where(Message.created_at < messages_before, Message.purged.is_(False))
        .values(text=None, payload=None, buttons=None, purged=True)
        .execution_options(**bulk)
    )
    updates = session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < updates_before).execution_options(**bulk)
    )
    buttons = session.execute(
        delete(CallbackPayload).where(CallbackPayload.seen_at < messages_before).execution_options(**bulk)
    )
    purge_outbox(session, updates_before)  # sent items (already emptied), webhook updates never handled
    return PurgeResult(
        rowcount(messages), rowcount(updates), rowcount(tickets), rowcount(buttons), rowcount(pending)
    )


@dataclass(frozen=True)
class Erasable:
    """A person to erase: on her request, or because she wrote nothing for the whole retention period."""

    user_id: int
    channel: str
    user_key: str


def inactive_people(session: Session, before: datetime, limit: int = 200) -> list[Erasable]:
    """People last seen before ``before`` with no ticket an operator still has in hand."""
    in_hand = exists().where(Ticket.user_id == User.id, Ticket.state == TicketState.ASSIGNED.value)
    query = (
        select(User.id, User.channel, User.channel_user_key)
        .where(User.last_seen_at < before, ~in_hand)
        .order_by(User.last_seen_at)
        .limit(limit)
    )
    return [Erasable(*row) for row in session.execute(query).all()]


# Erases one person as /cancella does; False when it could not (retried at the next run).
Forget = Callable[[Erasable], Awaitable[bool]]


class Purges(Protocol):
    async def purge(
        self, messages_before: datetime, updates_before: datetime, pending_before: datetime
    ) -> PurgeResult: ...

    async def inactive_people(self, before: datetime) -> list[Erasable]: ...


async def purge_once(
    store: Purges, retention_days: int, now: datetime | None = None, forget: Forget | None = None
) -> PurgeResult:
    now = now or utcnow()
    before = now - timedelta(days=retention_days)
    result = await store.purge(before, now - UPDATE_IDS_KEPT, now - PENDING_TTL)
    people = 0
    if forget is not None:
        for person in await store.inactive_people(before):
            if await forget(person):
                people += 1
        result = replace(result, people=people)
    if result.messages or result.updates or people:
        log.info(
            "retention: purged %d messages, forgot %d update ids, erased %d inactive people",
            result.messages,
            result.updates,
            people,
        )
    return result


async def run_retention(
    store: Purges,
    retention_days: int,
    interval: float = 3600.0,
    clock: Callable[[], datetime] = utcnow,
    forget: Forget | None = None,
) -> None:
    """Purge now and then every ``interval`` seconds, until cancelled."""

    async def step() -> None:
        await purge_once(store, retention_days, clock(), forget)

    await run_every(interval, step, "retention purge", expected=(StoreUnavailable,))

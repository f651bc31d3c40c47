"""Retention: every purge of personal data in one place, and the gateway's job that runs it.

:func:`purge` (one transaction) nulls the text, payload and buttons of messages older than the retention
period (their ``meta`` stays, for statistics: it holds no text written by the person), nulls the question of
ended tickets as old and drops the mapping of their relayed messages, forgets invite codes that expired that
long ago, deletes the long button payloads no gateway rendered for the whole period, and forgets Telegram
update ids older than seven days (Telegram never redelivers an update that old).

:func:`run_retention` is a task of the gateway: it purges every ``interval`` seconds (hourly by default, and
once at start-up). A failing run is logged and retried at the next tick; the job never stops the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.core.jobs import run_every
from bot.store.db import StoreUnavailable, rowcount
from bot.store.models import (
    OPEN_STATES,
    CallbackPayload,
    InviteCode,
    Message,
    ProcessedUpdate,
    RelayedMessage,
    Ticket,
    utcnow,
)

log = logging.getLogger(__name__)

UPDATE_IDS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class PurgeResult:
    messages: int
    updates: int
    tickets: int = 0  # tickets whose question was purged
    callbacks: int = 0  # long button payloads not rendered for the whole period


def purge(session: Session, messages_before: datetime, updates_before: datetime) -> PurgeResult:
    """Every purge, in the caller's transaction."""
    bulk = {"synchronize_session": False}
    ended = select(Ticket.id).where(Ticket.created_at < messages_before, Ticket.state.not_in(OPEN_STATES))
    session.execute(
        delete(RelayedMessage).where(RelayedMessage.ticket_id.in_(ended)).execution_options(**bulk)
    )
    session.execute(
        delete(InviteCode).where(InviteCode.expires_at < messages_before).execution_options(**bulk)
    )
    tickets = session.execute(
        update(Ticket)
        .where(
            Ticket.created_at < messages_before, Ticket.state.not_in(OPEN_STATES), Ticket.purged.is_(False)
        )
        .values(question=None, purged=True)
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
    return PurgeResult(rowcount(messages), rowcount(updates), rowcount(tickets), rowcount(buttons))


class Purges(Protocol):
    async def purge(self, messages_before: datetime, updates_before: datetime) -> PurgeResult: ...


async def purge_once(store: Purges, retention_days: int, now: datetime | None = None) -> PurgeResult:
    now = now or utcnow()
    result = await store.purge(now - timedelta(days=retention_days), now - UPDATE_IDS_KEPT)
    if result.messages or result.updates:
        log.info("retention: purged %d messages, forgot %d update ids", result.messages, result.updates)
    return result


async def run_retention(
    store: Purges,
    retention_days: int,
    interval: float = 3600.0,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Purge now and then every ``interval`` seconds, until cancelled."""

    async def step() -> None:
        await purge_once(store, retention_days, clock())

    await run_every(interval, step, "retention purge", expected=(StoreUnavailable,))

"""The retention job: a task of the gateway that purges old transcripts.

Every ``interval`` seconds (hourly by default, and once at start-up) it nulls the text, payload and buttons
of messages older than ``RETENTION_DAYS`` (their ``meta`` stays, for statistics: it holds no text written by
the person) and forgets Telegram update ids older than seven days (Telegram never redelivers an update
that old). A failing run is logged and retried at the next tick; the job never stops the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.store import PurgeResult, Store, StoreUnavailable
from bot.store.models import utcnow

log = logging.getLogger(__name__)

UPDATE_IDS_KEPT = timedelta(days=7)


async def purge_once(store: Store, retention_days: int, now: datetime | None = None) -> PurgeResult:
    now = now or utcnow()
    result = await store.purge(now - timedelta(days=retention_days), now - UPDATE_IDS_KEPT)
    if result.messages or result.updates:
        log.info("retention: purged %d messages, forgot %d update ids", result.messages, result.updates)
    return result


async def run_retention(
    store: Store,
    retention_days: int,
    interval: float = 3600.0,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Purge now and then every ``interval`` seconds, until cancelled."""
    while True:
        try:
            await purge_once(store, retention_days, clock())
        except StoreUnavailable as exc:
            log.warning("retention: database unreachable, will retry: %s", exc)
        except Exception:
            log.exception("retention: purge failed, will retry")
        await asyncio.sleep(interval)

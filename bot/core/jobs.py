"""The gateway's periodic jobs (retention, handoff timers, recovery, the spool, the knowledge watcher) all
run the same way: a step now, then every ``interval`` seconds until cancelled; a failing step is logged and
tried again at the next tick, and never stops the gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(
    interval: float,
    step: Callable[[], Awaitable[object]],
    what: str,
    *,
    expected: tuple[type[Exception], ...] = (),
) -> None:
    """Run ``step`` now and every ``interval`` seconds. ``expected`` failures (the database away, say)
    are logged as a warning; anything else with its traceback."""
    while True:
        try:
            await step()
        except expected as exc:
            log.warning("%s: will retry: %s", what, exc)
        except Exception:
            log.exception("%s failed, will retry", what)
        await asyncio.sleep(interval)

"""Jobs run one at a time per key (a ticket), in the order they were submitted; different keys at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)


class SerialJobs:
    """Jobs run one at a time per key, in the order they were submitted; different keys concurrently.
    A failing job is logged and the next one runs."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Callable[[], Awaitable[Any]]]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}

    def submit(self, key: Hashable, job: Callable[[], Awaitable[Any]]) -> None:
        self._queues.setdefault(key, deque()).append(job)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"topic-{key}")

    async def _work(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("operators' job for %s failed", key)
        finally:
            self._workers.pop(key, None)
            self._queues.pop(key, None)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def drain(self, timeout: float) -> None:
        """Wait for the queued jobs (at most ``timeout`` seconds), then cancel what is left."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._workers:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(list(self._workers.values()), timeout=left)
        for task in list(self._workers.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

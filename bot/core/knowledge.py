"""The knowledge base for the gateway's request paths, never parsed on the event loop.

:class:`KnowledgeCache` keeps the current :class:`~knowledge.KnowledgeBase`; request paths read it with
:meth:`KnowledgeCache.current` (no I/O). :func:`watch_knowledge`, a task of the gateway, asks the holder in a
worker thread every few seconds: when the YAML files changed, the holder re-parses and re-validates them
there (about half a second), and the cache takes the new version; a version with errors is refused by the
holder and the last valid one stays.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.core.jobs import run_every

if TYPE_CHECKING:
    from knowledge import KnowledgeBase, KnowledgeHolder

log = logging.getLogger(__name__)


class KnowledgeCache:
    def __init__(self, holder: KnowledgeHolder) -> None:
        self.holder = holder
        self._kb: KnowledgeBase | None = None

    def current(self) -> KnowledgeBase:
        """The knowledge base in use. Before the first load has finished (the gateway loads it in the
        background at start) it is loaded here, once."""
        kb = self._kb
        if kb is None:
            kb = self._kb = self.holder.get()
        return kb

    async def refresh(self) -> None:
        """Check the files in a worker thread and take the version the holder has then."""
        self._kb = await asyncio.to_thread(self.holder.get)


async def watch_knowledge(cache: KnowledgeCache, every: float = 2.0) -> None:
    """Load the knowledge base now and then look for changes every ``every`` seconds, until cancelled."""
    failing = False

    async def step() -> None:
        nonlocal failing
        try:
            await cache.refresh()
            failing = False
        except Exception:
            if not failing:  # said once, not every few seconds
                log.exception("knowledge base not loaded: handoffs and locations fail until it is fixed")
            failing = True

    await run_every(every, step, "knowledge base check")

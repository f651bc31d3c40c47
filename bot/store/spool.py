"""A bounded in-memory queue of messages that could not be stored while the database was unreachable.

The router adds to it when a write fails with :class:`StoreUnavailable` and flushes it, oldest first, as soon
as the database answers again (before the next message, and from a periodic task of the gateway). When it is
full the oldest message is dropped and counted: memory stays bounded whatever the outage lasts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from bot.store.repository import NewMessage, Store, StoreUnavailable

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self._items: deque[NewMessage] = deque()
        self._lock = asyncio.Lock()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, record: NewMessage) -> None:
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.error("spool full: %d unstored messages dropped so far", self.dropped)
        self._items.append(record)

    def forget(self, channel: str, user_key: str) -> None:
        """Drop what is waiting for one person (they asked to be erased)."""
        self._items = deque(i for i in self._items if (i.channel, i.user_key) != (channel, user_key))

    def holds_update(self, update_id: int) -> bool:
        return any(item.update_id == update_id for item in self._items)

    async def flush(self, store: Store) -> int:
        """Write what the spool holds; stop at the first sign the database is still away. Returns how many
        messages were written. A record the database refuses for another reason is logged and dropped, so
        one bad message cannot block the others."""
        if not self._items:
            return 0
        written = 0
        async with self._lock:
            while self._items:
                record = self._items[0]
                try:
                    await store.save([record])
                except StoreUnavailable:
                    break
                except Exception:
                    log.exception("dropping a spooled message the database refuses")
                else:
                    written += 1
                self._items.popleft()
        if written:
            log.info("wrote %d spooled messages, %d still waiting", written, len(self._items))
        return written

"""The web chat's sessions: the hashes of the tokens the server issued, with when each was issued and last
used. Implements :class:`bot.channels.web.sessions.SessionStore` (the states are its strings)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from bot.store.messages import Store
from bot.store.models import WebSession

# An expired row is kept this long after it expired, so its cookie gets "expired" (and the person is told)
# rather than "unknown"; then it goes.
KEEP_EXPIRED = timedelta(days=1)
PURGE_EVERY = timedelta(minutes=5)


class WebSessionStore:
    def __init__(self, store: Store) -> None:
        self.db = store.db
        self._next_purge: datetime | None = None

    async def create(self, token_hash: str, now: datetime, idle: timedelta) -> None:
        purge = self._next_purge is None or now >= self._next_purge
        if purge:
            self._next_purge = now + PURGE_EVERY

        def run(session: Session) -> None:
            if purge:
                session.execute(delete(WebSession).where(WebSession.last_seen_at < now - idle - KEEP_EXPIRED))
            session.add(WebSession(token_hash=token_hash, created_at=now, last_seen_at=now))

        await self.db.write(run)

    async def check(self, token_hash: str, now: datetime, idle: timedelta) -> str:
        """The session is "live" (its use recorded, at most once a minute), "expired" or "unknown"."""
        touch_after = min(timedelta(minutes=1), idle / 10)

        def run(session: Session) -> str:
            row = session.get(WebSession, token_hash)
            if row is None:
                return "unknown"
            if row.last_seen_at < now - idle:
                return "expired"
            if row.last_seen_at < now - touch_after:
                session.execute(
                    update(WebSession).where(WebSession.token_hash == token_hash).values(last_seen_at=now)
                )
            return "live"

        return await self.db.write(run)

    async def drop(self, token_hash: str) -> None:
        query = delete(WebSession).where(WebSession.token_hash == token_hash)
        await self.db.write(lambda s: s.execute(query))

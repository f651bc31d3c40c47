"""Web chat sessions, issued by the server.

A browser without a session gets a random token (256 bits) in the ``concilia_session`` cookie:
``HttpOnly``, ``SameSite=Strict``, ``Path=/``, and ``Secure`` when the page is served over HTTPS (directly,
or by a trusted proxy that says so in ``X-Forwarded-Proto``). The token never travels in a URL. The
server keeps only its SHA-256 hash, with when it was issued and last used; the person's key in the store
(``user_key``) is another hash of the token, so whoever reads the database can neither rebuild a cookie
nor tell which session row belongs to which person.

A session idle for longer than ``WEB_SESSION_IDLE_MINUTES`` is over: its next message starts a new one
(with a new token), its next poll is refused. A token the server never issued (made up, or of a session
purged long ago) is never taken over: it gets a new session like a browser without one. While the database
is unreachable a token already issued is believed, so the chat keeps answering (the journal spools).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

log = logging.getLogger(__name__)

COOKIE = "concilia_session"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class SessionState(str, Enum):
    LIVE = "live"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class SessionStore(Protocol):
    """Where the hashes of the tokens are kept (``bot.store.web_sessions``)."""

    async def create(self, token_hash: str, now: datetime, idle: timedelta) -> None: ...

    async def check(self, token_hash: str, now: datetime, idle: timedelta) -> str: ...

    async def drop(self, token_hash: str) -> None: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def user_key_of(token: str) -> str:
    """The person's key in the store for a session: a hash of the token other than the one kept for the
    session, so the sessions table cannot be linked to the person (nor the person to her cookie)."""
    return "s-" + hashlib.sha256(f"concilia-person:{token}".encode("ascii")).hexdigest()[:40]


@dataclass(frozen=True)
class Session:
    user_key: str
    token: str | None = None  # a new token, to set in the cookie
    renewed: bool = False  # it replaces a session that expired


class TooManySessions(Exception):
    """The address (``reason`` "address") or everyone together ("everyone") opened too many sessions."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sessions:
    def __init__(self, store: SessionStore | None, idle: timedelta, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.idle = idle
        self.clock = clock

    async def state(self, token: str | None) -> SessionState:
        """What the cookie's token is worth (a LIVE session's last use is recorded)."""
        if token is None or not _TOKEN.fullmatch(token):
            return SessionState.UNKNOWN
        if self.store is None:
            return SessionState.LIVE
        try:
            return SessionState(await self.store.check(token_hash(token), self.clock(), self.idle))
        except Exception as exc:  # the database is away: the chat goes on with the cookie it has
            log.warning("cannot check a web session, taking it as live: %s", exc)
            return SessionState.LIVE

    async def current(self, token: str | None, may_open: Callable[[], str | None]) -> Session:
        """The session of a message: the live one, else a new one if ``may_open()`` (the flood limits)
        returns None, else :class:`TooManySessions` with its refusal."""
        state = await self.state(token)
        if state is SessionState.LIVE:
            assert token is not None
            return Session(user_key_of(token))
        refused = may_open()
        if refused is not None:
            raise TooManySessions(refused)
        if state is SessionState.EXPIRED:
            await self.forget(token)
        fresh = secrets.token_urlsafe(32)
        hashed = token_hash(fresh)
        if self.store is not None:
            try:
                await self.store.create(hashed, self.clock(), self.idle)
            except Exception as exc:
                log.warning("cannot store a new web session: %s", exc)
        return Session(user_key_of(fresh), fresh, renewed=state is SessionState.EXPIRED)

    async def forget(self, token: str | None) -> None:
        """The session is over (the person pressed "Nuova conversazione", or it expired)."""
        if self.store is None or token is None or not _TOKEN.fullmatch(token):
            return
        try:
            await self.store.drop(token_hash(token))
        except Exception as exc:
            log.warning("cannot drop a web session: %s", exc)

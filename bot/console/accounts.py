"""Staff accounts of the partners' console, without any transport: invites, passwords, sign-in with its
limits, sessions and their revocation. Every sign-in (and every refusal) goes to the audit log.

* An invite is a one-time token (``secrets.token_urlsafe``), kept as its SHA-256, valid ``invite_ttl``.
* Passwords are hashed with argon2 (``argon2-cffi``), in a worker thread: hashing takes tens of
  milliseconds of CPU on purpose.
* Failed sign-ins are counted per login and per address; past the limit the attempt is refused before
  the password is even checked, until the window has moved on.
* A session is a token in a cookie, kept as its SHA-256; its CSRF token is derived from it (a keyed
  hash), so a form is accepted only from a page that session was shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.core.ratelimit import Failures
from bot.store.console import AccountView, ConsoleStore
from bot.store.console_models import ROLES

MIN_PASSWORD = 10
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode("ascii"), b"concilia-console-csrf", hashlib.sha256).hexdigest()


class SignInRefused(Exception):
    """``reason``: "wrong" (login or password) or "slow" (too many failures: wait)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadPassword(ValueError):
    pass


@dataclass(frozen=True)
class Limits:
    failures_per_login: int = 5
    failures_per_address: int = 20
    window_seconds: float = 900.0


class ConsoleAccounts:
    def __init__(
        self,
        store: ConsoleStore,
        *,
        clock: Callable[[], datetime],
        session_idle: timedelta = timedelta(hours=8),
        invite_ttl: timedelta = timedelta(days=3),
        limits: Limits | None = None,
        hasher: PasswordHasher | None = None,
        failure_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.session_idle = session_idle
        self.invite_ttl = invite_ttl
        limits = limits or Limits()
        # failure_clock: seconds, for the failures' window (time.monotonic; a test moves its own)
        self._by_login = Failures(limits.failures_per_login, limits.window_seconds, failure_clock)
        self._by_address = Failures(limits.failures_per_address, limits.window_seconds, failure_clock)
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    # --- invites ------------------------------------------------------------------------------------

    async def invite(
        self, partner_id: str, role: str, login: str, name: str | None, ttl: timedelta | None = None
    ) -> tuple[str, datetime]:
        """A one-time token for the set-password page, and when it expires. ``LoginTaken`` (from the store)
        when the login belongs to an account that already has a password, or to another partner."""
        if role not in ROLES:
            raise ValueError(f"ruolo sconosciuto: {role}")
        if not LOGIN.fullmatch(login):
            raise ValueError("il nome utente va scritto con 2-64 lettere minuscole, cifre, . _ -")
        now = self.clock()
        expires = now + (ttl or self.invite_ttl)
        token = secrets.token_urlsafe(32)
        account = await self.store.create_account(
            partner_id, role, login, name, token_hash(token), expires, now
        )
        await self.store.audit("invite", "ok", now, account=account, detail=f"role {role}")
        return token, expires

    async def invite_for(self, token: str) -> AccountView | None:
        if not TOKEN.fullmatch(token):
            return None
        return await self.store.invite(token_hash(token), self.clock())

    async def set_password(self, token: str, password: str, address: str | None) -> AccountView | None:
        """Set the password with the invite (used up); None when the invite is unknown, used or expired."""
        if len(password) < MIN_PASSWORD:
            raise BadPassword(f"La password deve avere almeno {MIN_PASSWORD} caratteri.")
        if not TOKEN.fullmatch(token):
            return None
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        now = self.clock()
        account = await self.store.use_invite(token_hash(token), hashed, now)
        if account is None:
            await self.store.audit("set_password", "refused", now, address=address, detail="invite not valid")
        else:
            await self.store.audit("set_password", "ok", now, account=account, address=address)
        return account

    # --- signing in and out -------------------------------------------------------------------------

    async def sign_in(self, login: str, password: str, address: str) -> tuple[str, AccountView]:
        """A new session token for the account; :class:`SignInRefused` otherwise (logged either way)."""
        login = login.strip().lower()
        now = self.clock()
        if self._by_login.blocked(login) or self._by_address.blocked(address):
            await self.store.audit("sign_in", "slowed", now, address=address, detail=f"login {login[:64]}")
            raise SignInRefused("slow")
        found = await self.store.by_login(login) if LOGIN.fullmatch(login) else None
        account, hashed = found if found is not None else (None, None)
        ok = await asyncio.to_thread(self._verify, hashed, password)
        if account is None or not ok or not account.active:
            self._by_login.add(login)
            self._by_address.add(address)
            await self.store.audit(
                "sign_in",
                "refused",
                now,
                account_id=account.id if account else None,
                address=address,
                detail=f"login {login[:64]}",
            )
            raise SignInRefused("wrong")
        if hashed is not None and self._hasher.check_needs_rehash(hashed):
            await self.store.set_password_hash(
                account.id, await asyncio.to_thread(self._hasher.hash, password)
            )
        token = secrets.token_urlsafe(32)
        await self.store.open_session(token_hash(token), account.id, now)
        await self.store.audit("sign_in", "ok", now, account=account, address=address)
        return token, account

    def _verify(self, hashed: str | None, password: str) -> bool:
        if hashed is None:  # the same work as for a real account: the time does not tell a login exists
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            hashed, password = self._dummy, password + "\x00"
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session(self, token: str | None) -> AccountView | None:
        if token is None or not TOKEN.fullmatch(token):
            return None
        return await self.store.session_account(token_hash(token), self.clock(), self.session_idle)

    async def sign_out(self, token: str, account: AccountView, address: str | None) -> None:
        await self.store.close_session(token_hash(token))
        await self.store.audit("sign_out", "ok", self.clock(), account=account, address=address)

    async def revoke(self, login: str, *, deactivate: bool = False) -> int | None:
        """End every session of the account (and with ``deactivate`` the account itself); None when there
        is no such login. Returns how many sessions ended."""
        found = await self.store.by_login(login.strip().lower())
        if found is None:
            return None
        account = found[0]
        ended = await self.store.close_sessions(account.id)
        if deactivate:
            await self.store.deactivate(account.id)
        action = "deactivate" if deactivate else "revoke"
        await self.store.audit(action, "ok", self.clock(), account=account, detail=f"{ended} sessions")
        return ended

"""The partners' console in the database: staff accounts (each operator or manager with an operators row
of her partner, with no Telegram account), one-time invites, sessions, the audit log and ticket notes.
Tokens are kept as their SHA-256 only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.store.console_models import ConsoleAccount, ConsoleAudit, ConsoleInvite, ConsoleSession, TicketNote
from bot.store.db import rowcount
from bot.store.messages import Store
from bot.store.models import Operator


@dataclass(frozen=True)
class AccountView:
    id: int
    partner_id: str
    role: str
    login: str
    name: str | None
    operator_id: int | None
    active: bool
    has_password: bool


@dataclass(frozen=True)
class AuditView:
    at: datetime
    account_id: int | None
    partner_id: str | None
    action: str
    outcome: str
    ticket_id: int | None
    address: str | None
    detail: str | None


@dataclass(frozen=True)
class NoteView:
    author: str | None
    text: str
    at: datetime


def _account(a: ConsoleAccount) -> AccountView:
    return AccountView(
        a.id, a.partner_id, a.role, a.login, a.name, a.operator_id, a.active, a.password_hash is not None
    )


class LoginTaken(Exception):
    pass


class ConsoleStore:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    # --- accounts and invites -----------------------------------------------------------------------

    async def create_account(
        self,
        partner_id: str,
        role: str,
        login: str,
        name: str | None,
        token_hash: str,
        expires: datetime,
        now: datetime,
    ) -> AccountView:
        """A new account with its invite; an operator or manager gets her operators row. Inviting a login
        again that has no password yet only adds a new invite."""

        def run(session: Session) -> AccountView:
            account = session.scalars(select(ConsoleAccount).where(ConsoleAccount.login == login)).first()
            if account is not None and (
                account.password_hash is not None or account.partner_id != partner_id
            ):
                raise LoginTaken(login)
            if account is None:
                operator_id = None
                if role != "alliance":
                    op = Operator(
                        partner_id=partner_id,
                        telegram_user_id=None,
                        first_name=name,
                        active=True,
                        created_at=now,
                    )
                    session.add(op)
                    session.flush()
                    operator_id = op.id
                account = ConsoleAccount(
                    partner_id=partner_id,
                    role=role,
                    login=login,
                    name=name,
                    operator_id=operator_id,
                    active=True,
                    created_at=now,
                )
                session.add(account)
                session.flush()
            session.add(
                ConsoleInvite(
                    token_hash=token_hash, account_id=account.id, created_at=now, expires_at=expires
                )
            )
            return _account(account)

        return await self.db.write(run)

    async def invite(self, token_hash: str, now: datetime) -> AccountView | None:
        """The account a live invite (unused, not expired) is for."""

        def run(session: Session) -> AccountView | None:
            row = session.get(ConsoleInvite, token_hash)
            if row is None or row.used_at is not None or row.expires_at <= now:
                return None
            account = session.get(ConsoleAccount, row.account_id)
            return _account(account) if account is not None and account.active else None

        return await self.db.read(run)

    async def use_invite(self, token_hash: str, password_hash: str, now: datetime) -> AccountView | None:
        """Set the password with a live invite, which is used up (at most once, even when two forms race);
        every session of the account ends."""

        def run(session: Session) -> AccountView | None:
            used = session.execute(
                update(ConsoleInvite)
                .where(
                    ConsoleInvite.token_hash == token_hash,
                    ConsoleInvite.used_at.is_(None),
                    ConsoleInvite.expires_at > now,
                )
                .values(used_at=now)
            )
            if rowcount(used) != 1:
                return None
            invite = session.get(ConsoleInvite, token_hash)
            account = session.get(ConsoleAccount, invite.account_id) if invite else None
            if account is None or not account.active:
                return None
            account.password_hash = password_hash
            session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
            return _account(account)

        return await self.db.write(run)

    async def account(self, account_id: int) -> AccountView | None:
        row = await self.db.read(lambda s: s.get(ConsoleAccount, account_id))
        return _account(row) if row is not None else None

    async def by_login(self, login: str) -> tuple[AccountView, str | None] | None:
        """The account and its password hash."""

        def run(session: Session) -> tuple[AccountView, str | None] | None:
            row = session.scalars(select(ConsoleAccount).where(ConsoleAccount.login == login)).first()
            return None if row is None else (_account(row), row.password_hash)

        return await self.db.read(run)

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        query = (
            update(ConsoleAccount).where(ConsoleAccount.id == account_id).values(password_hash=password_hash)
        )
        await self.db.write(lambda s: s.execute(query))

    async def accounts(self) -> list[AccountView]:
        rows = await self.db.read(
            lambda s: list(s.scalars(select(ConsoleAccount).order_by(ConsoleAccount.id)))
        )
        return [_account(a) for a in rows]

    async def deactivate(self, account_id: int) -> bool:
        """The account can no longer sign in, its sessions end and its operators row is deactivated."""

        def run(session: Session) -> bool:
            account = session.get(ConsoleAccount, account_id)
            if account is None:
                return False
            account.active = False
            if account.operator_id is not None:
                session.execute(
                    update(Operator).where(Operator.id == account.operator_id).values(active=False)
                )
            session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account_id))
            return True

        return await self.db.write(run)

    # --- sessions -----------------------------------------------------------------------------------

    async def open_session(self, token_hash: str, account_id: int, now: datetime) -> None:
        row = ConsoleSession(token_hash=token_hash, account_id=account_id, created_at=now, last_seen_at=now)
        await self.db.write(lambda s: s.add(row))

    async def session_account(self, token_hash: str, now: datetime, idle: timedelta) -> AccountView | None:
        """The active account of a live session (its use recorded); an idle one is deleted."""

        def run(session: Session) -> AccountView | None:
            row = session.get(ConsoleSession, token_hash)
            if row is None:
                return None
            if row.last_seen_at < now - idle:
                session.delete(row)
                return None
            account = session.get(ConsoleAccount, row.account_id)
            if account is None or not account.active:
                return None
            row.last_seen_at = now
            return _account(account)

        return await self.db.write(run)

    async def close_session(self, token_hash: str) -> None:
        query = delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        await self.db.write(lambda s: s.execute(query))

    async def close_sessions(self, account_id: int) -> int:
        query = delete(ConsoleSession).where(ConsoleSession.account_id == account_id)
        return await self.db.write(lambda s: rowcount(s.execute(query)))

    # --- audit --------------------------------------------------------------------------------------

    async def audit(
        self,
        action: str,
        outcome: str,
        now: datetime,
        *,
        account: AccountView | None = None,
        account_id: int | None = None,
        ticket_id: int | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        row = ConsoleAudit(
            at=now,
            account_id=account.id if account else account_id,
            partner_id=account.partner_id if account else None,
            action=action,
            outcome=outcome,
            ticket_id=ticket_id,
            address=address,
            detail=(detail or "")[:255] or None,
        )
        await self.db.write(lambda s: s.add(row))

    async def audit_log(self, limit: int = 200) -> list[AuditView]:
        query = select(ConsoleAudit).order_by(ConsoleAudit.id.desc()).limit(limit)
        rows = await self.db.read(lambda s: list(s.scalars(query)))
        return [
            AuditView(r.at, r.account_id, r.partner_id, r.action, r.outcome, r.ticket_id, r.address, r.detail)
            for r in rows
        ]

    # --- notes --------------------------------------------------------------------------------------

    async def add_note(self, ticket_id: int, author: str | None, text: str, now: datetime) -> None:
        row = TicketNote(ticket_id=ticket_id, author=author, text=text, at=now)
        await self.db.write(lambda s: s.add(row))

    async def notes(self, ticket_id: int) -> list[NoteView]:
        query = select(TicketNote).where(TicketNote.ticket_id == ticket_id).order_by(TicketNote.id)
        rows = await self.db.read(lambda s: list(s.scalars(query)))
        return [NoteView(n.author, n.text, n.at) for n in rows]

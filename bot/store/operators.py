"""Operators of the partners, their Telegram groups and the one-time invite codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.handoff.model import GroupView, OperatorView
from bot.store.db import rowcount
from bot.store.messages import Store
from bot.store.models import InviteCode, Operator, OperatorGroup


def _operator(o: Operator) -> OperatorView:
    return OperatorView(o.id, o.partner_id, o.telegram_user_id, o.first_name, o.active)


def _group(g: OperatorGroup | None) -> GroupView | None:
    return None if g is None else GroupView(g.partner_id, g.chat_id, g.title)


class OperatorStore:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    # --- operators ----------------------------------------------------------------------------------

    async def add_operator(
        self, partner_id: str, telegram_user_id: int, first_name: str | None, now: datetime
    ) -> OperatorView:
        """Register (or reactivate) an operator of a partner."""

        def run(session: Session) -> OperatorView:
            op = session.scalars(
                select(Operator).where(
                    Operator.partner_id == partner_id, Operator.telegram_user_id == telegram_user_id
                )
            ).first()
            if op is None:
                op = Operator(
                    partner_id=partner_id,
                    telegram_user_id=telegram_user_id,
                    first_name=first_name,
                    active=True,
                    created_at=now,
                )
                session.add(op)
            else:
                op.active = True
                op.first_name = first_name or op.first_name
            session.flush()
            return _operator(op)

        return await self.db.write(run)

    async def operator(self, telegram_user_id: int, partner_id: str) -> OperatorView | None:
        """The active operator registration of this Telegram user for this partner."""
        query = select(Operator).where(
            Operator.partner_id == partner_id,
            Operator.telegram_user_id == telegram_user_id,
            Operator.active.is_(True),
        )

        def run(session: Session) -> OperatorView | None:
            op = session.scalars(query).first()
            return None if op is None else _operator(op)

        return await self.db.read(run)

    async def has_web_operators(self, partner_id: str) -> bool:
        """Whether the partner has an active operator without Telegram (an account of the web console)."""
        query = select(Operator.id).where(
            Operator.partner_id == partner_id, Operator.telegram_user_id.is_(None), Operator.active.is_(True)
        )
        return await self.db.read(lambda s: s.scalars(query.limit(1)).first() is not None)

    async def by_id(self, operator_id: int) -> OperatorView | None:
        row = await self.db.read(lambda s: s.get(Operator, operator_id))
        return None if row is None else _operator(row)

    async def rename_operator(self, operator_id: int, first_name: str) -> None:
        await self.db.write(
            lambda s: s.execute(
                update(Operator).where(Operator.id == operator_id).values(first_name=first_name)
            )
        )

    async def operators(self) -> list[OperatorView]:
        query = select(Operator).order_by(Operator.partner_id, Operator.id)
        return await self.db.read(lambda s: [_operator(o) for o in s.scalars(query).all()])

    async def deactivate_operator(self, operator_id: int) -> bool:
        query = (
            update(Operator).where(Operator.id == operator_id, Operator.active.is_(True)).values(active=False)
        )
        return await self.db.write(lambda s: rowcount(s.execute(query)) == 1)

    # --- groups -------------------------------------------------------------------------------------

    async def link_group(self, partner_id: str, chat_id: int, title: str | None, now: datetime) -> None:
        """Make ``chat_id`` the partner's operators' group (replacing a previous link of either)."""

        def run(session: Session) -> None:
            session.execute(
                delete(OperatorGroup).where(
                    (OperatorGroup.partner_id == partner_id) | (OperatorGroup.chat_id == chat_id)
                )
            )
            session.flush()
            session.add(OperatorGroup(partner_id=partner_id, chat_id=chat_id, title=title, linked_at=now))

        await self.db.write(run)

    async def group_of(self, partner_id: str) -> GroupView | None:
        query = select(OperatorGroup).where(OperatorGroup.partner_id == partner_id)
        return await self.db.read(lambda s: _group(s.scalars(query).first()))

    async def group_by_chat(self, chat_id: int) -> GroupView | None:
        query = select(OperatorGroup).where(OperatorGroup.chat_id == chat_id)
        return await self.db.read(lambda s: _group(s.scalars(query).first()))

    async def groups(self) -> list[GroupView]:
        query = select(OperatorGroup).order_by(OperatorGroup.partner_id)
        return await self.db.read(
            lambda s: [GroupView(g.partner_id, g.chat_id, g.title) for g in s.scalars(query)]
        )

    # --- invite codes -------------------------------------------------------------------------------

    async def add_invite(
        self, kind: str, partner_id: str, code_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        invite = InviteCode(
            code_hash=code_hash, kind=kind, partner_id=partner_id, created_at=now, expires_at=expires_at
        )
        await self.db.write(lambda s: s.add(invite))

    async def redeem_invite(self, kind: str, code_hash: str, used_by: str, now: datetime) -> str | None:
        """Use a code once: the partner it was made for, or None (unknown, used, expired, other kind)."""

        def run(session: Session) -> str | None:
            result = session.execute(
                update(InviteCode)
                .where(
                    InviteCode.code_hash == code_hash,
                    InviteCode.kind == kind,
                    InviteCode.used_at.is_(None),
                    InviteCode.expires_at > now,
                )
                .values(used_at=now, used_by=used_by)
            )
            if rowcount(result) != 1:
                session.rollback()
                return None
            partner = session.scalar(select(InviteCode.partner_id).where(InviteCode.code_hash == code_hash))
            session.commit()
            return partner

        return await self.db.read(run)

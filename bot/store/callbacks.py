"""Long button payloads (table ``callback_payloads``), shared by every gateway: see
:mod:`bot.channels.telegram.callbacks` for why they exist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.models import CallbackPayload


def save(entries: dict[str, str], at: datetime, session: Session) -> None:
    """Store payloads under their keys. Idempotent: a key already stored keeps its payload and only has
    ``seen_at`` moved on (several gateways may store the same button at once)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"key": k, "payload": v, "created_at": at, "seen_at": at} for k, v in entries.items()]
    stmt = insert(CallbackPayload).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CallbackPayload.key], set_={"seen_at": stmt.excluded.seen_at}
    )
    session.execute(stmt)


def payload(key: str, session: Session) -> str | None:
    return session.scalar(select(CallbackPayload.payload).where(CallbackPayload.key == key))

"""The gateway's database: models, engine, migrations and queries."""

from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.store.repository import (
    NewMessage,
    PendingMessage,
    PurgeResult,
    Store,
    StoredMessage,
    StoreUnavailable,
    UserRef,
    new_sender_id,
)

__all__ = [
    "NewMessage",
    "PendingMessage",
    "PurgeResult",
    "Store",
    "StoreUnavailable",
    "StoredMessage",
    "UserRef",
    "make_engine",
    "new_sender_id",
    "upgrade",
]

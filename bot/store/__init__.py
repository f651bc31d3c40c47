"""The gateway's database: engine and thread helper (``db``), models, migrations, one module per aggregate
(``messages``: people and messages; ``tickets``; ``operators``: operators, groups, invite codes; ``desk``: the
operators' desks' places; ``callbacks``: long button payloads), ``erase``, ``retention`` and the ``spool``."""

from bot.store import console_models  # noqa: F401  (the console's tables, on the same metadata)
from bot.store.db import Database, StoreUnavailable, make_engine
from bot.store.messages import Store
from bot.store.migrate import upgrade
from bot.store.records import NewMessage, PendingMessage, StoredMessage, UserRef, new_sender_id
from bot.store.retention import PurgeResult

__all__ = [
    "Database",
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

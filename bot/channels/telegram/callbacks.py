"""Button payloads that fit in Telegram's 64-byte ``callback_data``, whatever their length.

Telegram accepts at most 64 bytes of ``callback_data`` per inline button. A payload that fits is sent as
it is. A longer one (for example ``/ask_service{"comune": "San Vittore Olona", ...}``) travels as a short
key (``"p:"`` + 10 hex characters of its SHA-256), and the mapping from key to payload is kept:

* in the database (table ``callback_payloads``), shared by every gateway and kept across restarts, so a
  button rendered by one gateway works when the press reaches another one, or the same after a restart;
* in a small in-process LRU cache in front of it, so the usual press costs no query.

Rendering never waits for the database and never fails because of it: :meth:`CallbackStore.encode` is
synchronous (``render_reply`` calls it), it puts the key in the cache and, when the database has not seen
it recently, in a list of keys to write. The channel awaits :meth:`CallbackStore.save_pending` before it
sends the message (and the gateway's periodic task calls it too); while the database is away the keys wait
in memory and are written later, and the gateway that rendered the button resolves it from its cache
meanwhile. Writing is idempotent (insert, or on conflict only move ``seen_at`` on), so gateways rendering
the same button at once agree. The retention job deletes the rows not rendered for the retention period.

:meth:`CallbackStore.resolve` answers ``None`` for a key nobody knows (purged, or written by a gateway
that died during a database outage): the channel then kindly asks the person to write the question again.
Payloads that fit are never stored, so their buttons keep working forever. Without a store (tests, tools)
the mapping lives in the cache only.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64
KEY_PREFIX = "p:"
_KEY_HEX_CHARS = 10
REFRESH_AFTER = timedelta(days=1)  # a button rendered again after this long moves its row's seen_at on


class PayloadStore(Protocol):
    """Where the payloads are kept (the gateway's :class:`bot.store.Store`)."""

    async def save_callback_payloads(self, entries: dict[str, str], at: datetime) -> None: ...

    async def callback_payload(self, key: str) -> str | None: ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CallbackStore:
    """Short button keys to full payloads: a bounded cache in front of the database."""

    def __init__(
        self,
        store: PayloadStore | None = None,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.store = store
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._saved: dict[str, datetime] = {}  # key -> when this gateway last wrote it
        self._pending: OrderedDict[str, str] = OrderedDict()  # rendered, not written yet

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def pending(self) -> int:
        """How many keys wait to be written to the database."""
        return len(self._pending)

    @staticmethod
    def key_for(payload: str) -> str:
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        return KEY_PREFIX + digest[:_KEY_HEX_CHARS]

    @staticmethod
    def fits(payload: str) -> bool:
        """True when the payload can travel as it is (and cannot be mistaken for a key)."""
        return 0 < len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(KEY_PREFIX)

    def encode(self, payload: str) -> str:
        """The ``callback_data`` to put in a button for ``payload`` (always ≤ 64 bytes). No I/O."""
        if self.fits(payload):
            return payload
        key = self.key_for(payload)
        self._remember(key, payload)
        if self.store is not None:
            saved = self._saved.get(key)
            if saved is None or self._clock() - saved >= REFRESH_AFTER:
                self._pending[key] = payload
                self._pending.move_to_end(key)
                while len(self._pending) > self._max_entries:
                    self._pending.popitem(last=False)
        return key

    async def save_pending(self) -> bool:
        """Write the keys rendered since the last call. Never raises: False when the database refused
        them (they stay pending, for the next call)."""
        if self.store is None or not self._pending:
            return True
        batch = dict(self._pending)
        now = self._clock()
        try:
            await self.store.save_callback_payloads(batch, now)
        except Exception as exc:  # the database is unreachable (StoreUnavailable) or refused them
            log.warning("button payloads kept in memory, not stored: %s", exc)
            return False
        for key, payload in batch.items():
            if self._pending.get(key) == payload:
                del self._pending[key]
            if key in self._entries:
                self._saved[key] = now
        return True

    async def resolve(self, data: str) -> str | None:
        """The payload behind a button's ``callback_data``; ``None`` when the key is unknown (expired)."""
        if not data.startswith(KEY_PREFIX):
            return data
        payload = self._entries.get(data)
        if payload is not None:
            self._entries.move_to_end(data)
            return payload
        if self.store is None:
            return None
        try:
            payload = await self.store.callback_payload(data)
        except Exception as exc:
            log.warning("cannot read a button payload from the database: %s", exc)
            return None
        if payload is not None:
            self._remember(data, payload)
        return payload

    def _remember(self, key: str, payload: str) -> None:
        self._entries[key] = payload
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            old, _ = self._entries.popitem(last=False)
            self._saved.pop(old, None)

"""Button payloads that fit in Telegram's 64-byte ``callback_data``, whatever their length.

Telegram accepts at most 64 bytes of ``callback_data`` per inline button. A payload that fits is sent as
it is. A longer one (for example ``/ask_service{"comune": "San Vittore Olona", ...}``) is kept here, in
memory, under a short key (``"p:"`` + 10 hex characters of its SHA-256), and the key travels in the button.

The mapping is bounded (least recently used entries go first) and lives in memory only: after a restart
of the gateway, or once an entry has been pushed out, an old button that carried a key can no longer be
resolved. :meth:`CallbackStore.resolve` then answers ``None`` and the channel kindly asks the person to
write the question again. Payloads that fit are never stored, so their buttons keep working forever.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

MAX_CALLBACK_BYTES = 64
KEY_PREFIX = "p:"
_KEY_HEX_CHARS = 10


class CallbackStore:
    """A small LRU mapping from short button keys to full payloads."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key_for(payload: str) -> str:
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        return KEY_PREFIX + digest[:_KEY_HEX_CHARS]

    @staticmethod
    def fits(payload: str) -> bool:
        """True when the payload can travel as it is (and cannot be mistaken for a key)."""
        return 0 < len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(KEY_PREFIX)

    def encode(self, payload: str) -> str:
        """The ``callback_data`` to put in a button for ``payload`` (always ≤ 64 bytes)."""
        if self.fits(payload):
            return payload
        key = self.key_for(payload)
        self._entries[key] = payload
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return key

    def resolve(self, data: str) -> str | None:
        """The payload behind a button's ``callback_data``; ``None`` when the key is unknown (expired)."""
        if not data.startswith(KEY_PREFIX):
            return data
        payload = self._entries.get(data)
        if payload is not None:
            self._entries.move_to_end(data)
        return payload

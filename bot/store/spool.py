"""A bounded queue of messages that could not be stored while the database was unreachable.

The router adds to it when a write fails with :class:`StoreUnavailable` and flushes it, oldest first, as soon
as the database answers again (before the next message, and from a periodic task of the gateway). When it is
full the oldest message is dropped and counted: memory stays bounded whatever the outage lasts.

With a ``path`` the queue also survives a restart of the gateway, even a SIGKILL: every message added is
appended to that JSON Lines file and synced to disk before the person is answered; the file is rewritten
when messages leave the queue (written, dropped, or erased on request) and emptied once the queue is. A new
gateway loads what an earlier run left there and writes it as soon as the database answers. The file holds
people's messages: it is created readable by the gateway's user only (0600), in a folder only it can list.
One file per gateway and database (see ``Settings.spool_path``): two processes must not share one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.store.db import PersonErased, StoreUnavailable
from bot.store.messages import Store
from bot.store.records import NewMessage

log = logging.getLogger(__name__)

_DATES = ("created_at", "answered_at")
_FIELDS = {f.name for f in fields(NewMessage)}


def to_line(record: NewMessage) -> str:
    data: dict[str, Any] = asdict(record)
    for name in _DATES:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def from_line(line: str) -> NewMessage:
    data = {k: v for k, v in json.loads(line).items() if k in _FIELDS}
    for name in _DATES:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return NewMessage(**data)


class Spool:
    def __init__(self, capacity: int = 5000, path: Path | None = None) -> None:
        self.capacity = capacity
        self.path = path
        self._items: deque[NewMessage] = deque()
        self._lock = asyncio.Lock()
        self.dropped = 0
        # Rasa ids of messages not written back because their person erased her data meanwhile: their
        # conversations in Rasa are erased too (see ConversationRouter.flush_spool)
        self.erased_senders: set[str] = set()
        if path is not None:
            self._load(path)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, record: NewMessage) -> None:
        dropped = False
        if len(self._items) >= self.capacity:
            self._items.popleft()
            dropped = True
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.error("spool full: %d unstored messages dropped so far", self.dropped)
        self._items.append(record)
        if dropped:
            self._rewrite()
        else:
            self._append(record)

    def forget(self, channel: str, user_key: str) -> None:
        """Drop what is waiting for one person (they asked to be erased), from memory and from the file."""
        kept = deque(i for i in self._items if (i.channel, i.user_key) != (channel, user_key))
        if len(kept) != len(self._items):
            self._items = kept
            self._rewrite()

    def holds_update(self, update_id: int) -> bool:
        return any(item.update_id == update_id for item in self._items)

    async def flush(self, store: Store) -> int:
        """Write what the spool holds; stop at the first sign the database is still away. Returns how many
        messages were written. A record of a person who erased her data since is dropped (its Rasa id kept in
        ``erased_senders``); one the database refuses for another reason is logged and dropped, so one bad
        message cannot block the others."""
        if not self._items:
            return 0
        written = left = 0
        async with self._lock:
            while self._items:
                record = self._items[0]
                try:
                    await store.save([record])
                except StoreUnavailable:
                    break
                except PersonErased as erased:
                    self.erased_senders.update(erased.sender_ids)
                except Exception:
                    log.exception("dropping a spooled message the database refuses")
                else:
                    written += 1
                self._items.popleft()
                left += 1
            if left:
                self._rewrite()
        if written:
            log.info("wrote %d spooled messages, %d still waiting", written, len(self._items))
        return written

    # --- the file -----------------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            lines = path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read the spool file %s: %s", path, exc)
            return
        bad = 0
        for line in lines:
            if not line.strip():
                continue
            try:
                self._items.append(from_line(line))
            except (ValueError, TypeError):
                bad += 1  # a line cut short by a crash in the middle of a write
        while len(self._items) > self.capacity:
            self._items.popleft()
            self.dropped += 1
        if bad:
            log.warning("spool file %s: %d unreadable line(s) skipped", path, bad)
        if self._items:
            log.info("spool file %s: %d message(s) from an earlier run to write", path, len(self._items))

    def _open(self, path: Path, flags: int) -> int:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, flags | os.O_WRONLY | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    def _append(self, record: NewMessage) -> None:
        if self.path is None:
            return
        try:
            fd = self._open(self.path, os.O_APPEND)
            try:
                os.write(fd, (to_line(record) + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("spool file %s not written (the message stays in memory): %s", self.path, exc)

    def _rewrite(self) -> None:
        """The file holds exactly what the queue holds (written aside, then renamed over it)."""
        if self.path is None:
            return
        try:
            if not self._items:
                if self.path.exists():
                    os.close(self._open(self.path, os.O_TRUNC))
                return
            temp = self.path.with_name(self.path.name + ".tmp")
            fd = self._open(temp, os.O_TRUNC)
            try:
                os.write(fd, "".join(to_line(r) + "\n" for r in self._items).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
        except OSError as exc:
            log.error("spool file %s not rewritten: %s", self.path, exc)

"""Rasa's SQL tracker store, with erasure.

Rasa 3.6's ``SQLTrackerStore`` only ever appends: ``save`` writes the events the stored conversation does not
have yet. So ``PUT /conversations/<id>/tracker/events`` with an empty list, which is how the gateway erases a
person's conversation in Rasa on ``/cancella`` (``bot/assistant.py``, ``RasaClient.erase``), leaves every
stored event in place, and the whole conversation would come back with the next ``GET .../tracker``. (With
the default in-memory tracker store the same call does replace the tracker.)

:class:`ErasableSQLTrackerStore` deletes every stored event of a conversation (all its sessions) when it is
saved with no events (on SQLite with ``secure_delete``, so the words are in no byte of the file);
everything else is Rasa's own store. Rasa never saves an existing conversation
with no events on its own: a new conversation starts with ``action_listen``. Use it in the endpoints file::

    tracker_store:
      type: rasa_addons.tracker_store.ErasableSQLTrackerStore
      dialect: postgresql
      ...  # the same keys as Rasa's "SQL" type

Its engine hides bound parameters (``hide_parameters``): a failed statement's error, which Rasa logs, never
quotes what a person wrote or her conversation id.

It is the default store (endpoints.yml: a SQLite file in ``$CONCILIA_VAR``), so Rasa's memory does not grow
with the conversations and a restart of Rasa loses none of them. On SQLite the file is in WAL mode with
``synchronous=NORMAL`` (a commit is one write, not two fsyncs; a killed Rasa loses nothing), and after an
erase the WAL is copied into the file and emptied, so the erased words are in no byte of either.

``retention_days`` (optional key): conversations with no event for that many days are deleted, when the
store starts and then every hour. The gateway erases people silent for ``RETENTION_DAYS`` and the old
conversations it replaces (bot/conversation/conversations.py) itself; this purge is the backstop for
conversations it could not erase (Rasa was down at that moment, the gateway's database was restored...).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, event, func, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)


class ErasableSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` where saving a conversation with no events deletes it."""

    PURGE_EVERY = 3600.0  # seconds

    def __init__(self, *args: Any, retention_days: float | None = None, **kwargs: Any) -> None:
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            # a fresh checkout has no var/ yet (`rasa run` or `rasa shell` from the project root)
            Path(kwargs["db"]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        super().__init__(*args, **kwargs)
        # Rasa builds the engine itself, with no way to pass create_engine() options: SQLAlchemy reads
        # this attribute whenever it logs a statement or wraps an error
        self.engine.hide_parameters = True
        if self.engine.dialect.name == "sqlite":
            self._pooled_sqlite()
        self.retention_days = float(retention_days) if retention_days else None
        if self.retention_days:
            self.purge(time.time() - self.retention_days * 86400)
            threading.Thread(target=self._purge_every_hour, name="tracker-purge", daemon=True).start()

    def _pooled_sqlite(self) -> None:
        """Rasa's SQLite engine opens a new connection for every session (SQLAlchemy 1.4's NullPool for a
        file), three or more a turn: connections kept in a pool instead (a quarter less CPU per turn in
        the store), each in WAL mode with one write per commit (:func:`_fast_sqlite`)."""
        url = self.engine.url
        self.engine.dispose()
        self.engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=2,
            max_overflow=4,
            connect_args={"check_same_thread": False},  # the purge thread takes one too, never at once
            hide_parameters=True,
        )
        self.sessionmaker = sessionmaker(bind=self.engine)
        _fast_sqlite(self.engine)

    def _purge_every_hour(self) -> None:
        assert self.retention_days is not None
        while True:
            time.sleep(self.PURGE_EVERY)
            try:
                self.purge(time.time() - self.retention_days * 86400)
            except Exception:  # logged, tried again in an hour; Rasa goes on
                log.exception("the tracker store's retention purge failed")

    def purge(self, before: float) -> int:
        """Delete every conversation whose last event is older than ``before`` (a Unix time); the number of
        conversations deleted."""
        with self.session_scope() as session:
            old = (
                session.query(self.SQLEvent.sender_id)
                .group_by(self.SQLEvent.sender_id)
                .having(func.max(self.SQLEvent.timestamp) < before)
            )
            senders = [row[0] for row in old.all()]
            for i in range(0, len(senders), 500):
                self._delete(session, senders[i : i + 500])
            session.commit()
        if senders:
            self._checkpoint()
            log.info("retention: %d conversations older than the retention period deleted", len(senders))
        return len(senders)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.events:
            await super().save(tracker)
            return
        with self.session_scope() as session:
            deleted = self._delete(session, [tracker.sender_id])
            session.commit()
        if deleted:
            self._checkpoint()
            log.info("conversation erased from the tracker store (%d events)", deleted)

    def _delete(self, session: Any, senders: list[str]) -> int:
        if self.engine.dialect.name == "sqlite":
            # the deleted events are overwritten with zeros, not left in the file's free pages
            session.execute(text("PRAGMA secure_delete=ON"))
        return int(
            session.query(self.SQLEvent)
            .filter(self.SQLEvent.sender_id.in_(senders))
            .delete(synchronize_session=False)
        )

    def _checkpoint(self) -> None:
        """SQLite in WAL mode: the WAL copied into the file and emptied (nothing deleted stays in it)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _fast_sqlite(engine: Any) -> None:
    """The file in WAL mode (it stays so), and every connection from now on with one write per commit
    instead of two fsyncs and a busy timeout (the purge thread and the server share the file)."""

    def tune(dbapi_connection: Any, _record: Any = None) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    event.listen(engine, "connect", tune)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))

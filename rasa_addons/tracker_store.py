"""Rasa's SQL tracker store, with erasure and a cache of the trackers in use.

Rasa 3.6's ``SQLTrackerStore`` only ever appends: ``save`` writes the events the stored conversation does not
have yet. So ``PUT /conversations/<id>/tracker/events`` with an empty list, which is how the gateway erases a
person's conversation in Rasa on ``/cancella`` (``bot/assistant.py``, ``RasaClient.erase``), leaves every
stored event in place, and the whole conversation would come back with the next ``GET .../tracker``. (With
the default in-memory tracker store the same call does replace the tracker.)

:class:`ErasableSQLTrackerStore` deletes every stored event of a conversation (all its sessions) when it is
saved with no events (on SQLite with ``secure_delete``, so the words are in no byte of the file);
the rows and queries are Rasa's own store's. Rasa never saves an existing conversation
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

In front of the database, a bounded cache of the trackers used last (rasa_addons/tracker_cache.py): a turn
of a cached conversation reads nothing from the database and writes only its new events (every save is
written through: a restart of Rasa loses nothing). ``cache_size`` (optional key, default the environment's
``RASA_TRACKER_CACHE``, else 200 conversations; 0: no cache) must be 0 when several Rasa servers share the
database and any of them can get any conversation (deploy/endpoints.scaleout.yml).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import create_engine, event, func, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from rasa_addons.tracker_cache import DEFAULT_SIZE, TrackerCache

log = logging.getLogger(__name__)


class ErasableSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` where saving a conversation with no events deletes it, trackers in use cached."""

    PURGE_EVERY = 3600.0  # seconds

    def __init__(
        self,
        *args: Any,
        retention_days: float | None = None,
        cache_size: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            # a fresh checkout has no var/ yet (`rasa run` or `rasa shell` from the project root)
            Path(kwargs["db"]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        super().__init__(*args, **kwargs)
        # Rasa builds the engine itself, with no way to pass create_engine() options: SQLAlchemy reads
        # this attribute whenever it logs a statement or wraps an error
        self.engine.hide_parameters = True
        if self.engine.dialect.name == "sqlite":
            self._pooled_sqlite()
        if cache_size is None:
            cache_size = os.environ.get("RASA_TRACKER_CACHE") or DEFAULT_SIZE
        self.cache = TrackerCache(int(cache_size))
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
        self.cache.evict(senders)
        if senders:
            self._checkpoint()
            log.info("retention: %d conversations older than the retention period deleted", len(senders))
        return len(senders)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session of the conversation: the cached tracker, or the one rebuilt from the database
        (then cached)."""
        tracker = self.cache.get(sender_id)
        if tracker is None:
            tracker = await super().retrieve(sender_id)
            if tracker is not None:
                self.cache.put(tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if not tracker.events:
            self._erase(tracker.sender_id)
            return
        saved = self.cache.saved_events(tracker)
        with self.session_scope() as session:
            if saved is None:  # not the cached tracker: Rasa's own count of what the database has
                self.cache.evict([tracker.sender_id])
                stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False)
                start = stored.count()
            else:
                start = saved
            new = list(itertools.islice(tracker.events, start, None))
            self._add(session, tracker.sender_id, new)
            session.commit()
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new, tracker.sender_id)
        if saved is not None and not any(isinstance(e, SessionStarted) for e in new):
            self.cache.put(tracker)
        elif saved is not None:
            # a new session: from now on Rasa serves only its events, as from the database
            self.cache.evict([tracker.sender_id])
        elif start == 0 and _as_retrieved(tracker):
            self.cache.put(tracker)  # a new conversation: the database holds just this tracker

    def _add(self, session: Any, sender_id: str, events: list[Event]) -> None:
        """Rasa's own rows for ``events`` (``SQLTrackerStore.save``), in one INSERT of several rows: the ORM's
        unit of work per event cost as much as the database (py-spy on Rasa under load)."""
        rows = []
        for new in events:
            data = new.as_dict()
            rows.append(
                {
                    "sender_id": sender_id,
                    "type_name": new.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
        if rows:
            session.execute(self.SQLEvent.__table__.insert(), rows)

    def _erase(self, sender_id: str) -> None:
        self.cache.evict([sender_id])
        with self.session_scope() as session:
            deleted = self._delete(session, [sender_id])
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


def _as_retrieved(tracker: DialogueStateTracker) -> bool:
    """Whether Rasa's ``retrieve`` of this tracker's rows gives back all of them: one session at most, and
    no event before its start older than it (the query keeps the events from the session start's time)."""
    starts = [i for i, e in enumerate(tracker.events) if isinstance(e, SessionStarted)]
    if not starts:
        return True
    start = tracker.events[starts[0]].timestamp
    return len(starts) == 1 and all(e.timestamp >= start for e in itertools.islice(tracker.events, starts[0]))


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

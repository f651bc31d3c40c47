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
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

log = logging.getLogger(__name__)


class ErasableSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` where saving a conversation with no events deletes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa builds the engine itself, with no way to pass create_engine() options: SQLAlchemy reads
        # this attribute whenever it logs a statement or wraps an error
        self.engine.hide_parameters = True

    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.events:
            await super().save(tracker)
            return
        with self.session_scope() as session:
            if self.engine.dialect.name == "sqlite":
                # the deleted events are overwritten with zeros, not left in the file's free pages
                session.execute(text("PRAGMA secure_delete=ON"))
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == tracker.sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        if deleted:
            log.info("conversation erased from the tracker store (%d events)", deleted)

"""A bounded, in-process cache of trackers in front of the SQL tracker store (rasa_addons/tracker_store.py).

Rasa 3.6's SQL store rebuilds the whole tracker at every turn: two queries, ``json.loads`` of every stored
event of the session and the replay of them all, then a count of the stored events to know which ones to
write. The cache keeps the tracker objects of the conversations used last (an LRU of ``size``), each with
how many of its events are in the database. A turn then reads nothing: ``retrieve`` hands back the same
object, Rasa's processor appends the turn's events to it, and ``save`` writes only those.

It is right only while each conversation is served by one Rasa process, so that no other process writes its
events: the default set-up (one Rasa; with several behind one gateway, each conversation always goes to the
same one, bot/assistant/rasa.py). Behind a load balancer with no stickiness (deploy/endpoints.scaleout.yml)
it must be off (``cache_size: 0``).

A tracker changed and not saved (a turn that failed half-way, ``/predict`` running the session start) has
more events than the database: the cache drops it rather than serve it. The store drops a conversation
from the cache when it erases it or the retention purge deletes it, and when a save starts a new session
(from then on Rasa serves only the new session's events, as it does from the database).

The purge runs on its own thread: every method takes the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from rasa.shared.core.trackers import DialogueStateTracker

# conversations. A tracker of 10 messages took 185 KB, 1.7 KB an event (bench/load/tracker_size.py); the
# gateway starts a new conversation every 30 messages, so by that rate a full cache stays near 110 MB. It is
# still far more than the conversations active at once here (bench/RESULTS.md, issue 13).
DEFAULT_SIZE = 200


class TrackerCache:
    """The trackers of the ``size`` conversations used last, each with how many of its events are saved."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"the tracker cache's size cannot be negative: {size}")
        self.size = size
        self._items: OrderedDict[str, tuple[DialogueStateTracker, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's tracker if it is here and has no event the database lacks."""
        with self._lock:
            item = self._items.get(sender_id)
            if item is not None and len(item[0].events) != item[1]:
                del self._items[sender_id]  # changed and not saved: the database knows better
                item = None
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(sender_id)
            self.hits += 1
            return item[0]

    def saved_events(self, tracker: DialogueStateTracker) -> int | None:
        """How many of this tracker's events are in the database, when this very object is the one held."""
        with self._lock:
            item = self._items.get(tracker.sender_id)
            if item is None or item[0] is not tracker or len(tracker.events) < item[1]:
                return None
            return item[1]

    def put(self, tracker: DialogueStateTracker) -> None:
        """Hold ``tracker``, every event of it saved; the conversation used longest ago goes if full."""
        if self.size == 0 or tracker.events.maxlen is not None:  # a capped history cannot be counted
            return
        with self._lock:
            self._items[tracker.sender_id] = (tracker, len(tracker.events))
            self._items.move_to_end(tracker.sender_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def evict(self, sender_ids: Iterable[str]) -> None:
        with self._lock:
            for sender_id in sender_ids:
                self._items.pop(sender_id, None)

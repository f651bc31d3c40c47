"""Which Rasa conversation a person's message goes to: the same cost on her hundredth message as on her first.

Rasa keeps every event of a conversation, and on every turn loads, locks and serialises its tracker and
sends it to the action server, so a message cost 2.6 times as much after 60 messages as after 6 (bench/load,
bench/RESULTS.md). A person on Telegram keeps writing for months. So before a message goes to Rasa,
:meth:`Conversations.current` gives her a new opaque Rasa id when her conversation is old:

* her Rasa session has expired (silent for longer than ``session_expiration_time`` in nlu/domain.yml, 12
  hours): Rasa would start a new session with no slots (``carry_over_slots_to_new_session: false``), so the
  new conversation starts empty, as Rasa's own new session would;
* or it has had ``max_turns`` messages (``RASA_CONVERSATION_TURNS``, 30): the new conversation starts with
  every slot of the old one that has a value (town, territory, age, topic, what was shown, a question
  pending...). No slot steers Rasa's policy (they are ``influence_conversation: false`` and the rules map
  one intent to one action), so she notices nothing.

The new id is recorded first (erasure covers it even if the gateway stops right after), the slots are set
on it in Rasa, then it becomes her current id and the old conversation is erased in Rasa (what it held is
in the new one or was forgotten by the expiry). When Rasa or the database fails on the way she stays in
her old conversation: the message is answered all the same, and the change is tried at her next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.assistant.answers import AssistantUnavailable
from bot.conversation.journal import Journal, Sender
from bot.core.messages import Inbound
from bot.store import Store, new_sender_id
from bot.store.records import ConversationAge

log = logging.getLogger(__name__)

# Rasa's own slots: set by Rasa itself at a session start, not carried over
RASA_SLOTS = frozenset({"session_started_metadata", "requested_slot"})


class TrackerApi(Protocol):
    async def slots(self, sender_id: str) -> dict[str, Any]: ...

    async def set_slots(self, sender_id: str, slots: dict[str, Any]) -> None: ...

    async def erase(self, sender_id: str) -> None: ...


@dataclass(frozen=True)
class ConversationPolicy:
    max_turns: int = 30
    session_expiration: timedelta = timedelta(minutes=720)  # nlu/domain.yml's session_expiration_time

    def expired(self, age: ConversationAge, now: datetime) -> bool:
        return age.last_at is not None and now - age.last_at > self.session_expiration

    def full(self, age: ConversationAge) -> bool:
        return age.turns >= self.max_turns


class Conversations:
    def __init__(
        self,
        store: Store,
        assistant: TrackerApi,
        journal: Journal,
        policy: ConversationPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.assistant = assistant
        self.journal = journal
        self.policy = policy
        self.clock = clock

    async def current(self, msg: Inbound, person: Sender, age: ConversationAge | None) -> Sender:
        """The person with the Rasa id her message goes to: a new one when her conversation is old."""
        if age is None or person.user_id is None:
            return person
        now = self.clock()
        expired = self.policy.expired(age, now)
        if not expired and not self.policy.full(age):
            return person
        try:
            return await self._new_conversation(msg, person, person.user_id, expired, age.at)
        except AssistantUnavailable as exc:
            log.warning("a new Rasa conversation could not be started, the old one goes on: %s", exc)
        except Exception:
            log.exception("a new Rasa conversation could not be started, the old one goes on")
        return person

    async def _new_conversation(
        self, msg: Inbound, person: Sender, user_id: int, expired: bool, started: datetime
    ) -> Sender:
        old = person.sender_id
        carried: dict[str, Any] = {}
        if not expired:
            slots = await self.assistant.slots(old)
            carried = {k: v for k, v in slots.items() if k not in RASA_SLOTS}
        new = new_sender_id()
        if not await self.store.record_sender_id(user_id, new, started):
            return person  # erased meanwhile
        if carried:
            await self.assistant.set_slots(new, carried)
        current = await self.store.switch_sender_id(user_id, old, new)
        if current is None:
            return person
        if current != new and carried:  # another gateway started one first: hers goes on
            await self.assistant.erase(new)
        person = self.journal.remember((msg.channel, msg.user_key), Sender(user_id, current))
        if current == new:
            reason = "expired" if expired else "full"
            log.info("new Rasa conversation (%s, %d slots carried over)", reason, len(carried))
            try:
                await self.assistant.erase(old)
            except AssistantUnavailable as exc:  # Rasa's retention purge drops it later
                log.warning("the old Rasa conversation was not erased: %s", exc)
        return person

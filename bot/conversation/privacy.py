"""The person's privacy: the events (notice shown, /privacy read, erase asked and done) and erasing her
data on her confirmation. Erasure covers everything: Rasa's tracker of every id she had first (if one
cannot be erased, nothing is), then her tickets (the operators' topics are told), then every row of hers,
then what this gateway keeps in memory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.assistant.answers import AssistantAnswer, AssistantUnavailable
from bot.conversation import texts
from bot.conversation.journal import Journal, Outcome, Sender, said
from bot.core.messages import Inbound, Reply
from bot.store import Store
from bot.store.retention import Erasable

if TYPE_CHECKING:
    from bot.handoff.service import HandoffService

log = logging.getLogger(__name__)

ERASE_CONFIRM_WINDOW = timedelta(minutes=15)


class Assistant(Protocol):
    async def send(self, sender_id: str, text: str) -> AssistantAnswer: ...

    async def erase(self, sender_id: str) -> None: ...

    async def slots(self, sender_id: str) -> dict[str, Any]: ...

    async def set_slots(self, sender_id: str, slots: dict[str, Any]) -> None: ...


class Privacy:
    def __init__(
        self,
        store: Store,
        assistant: Assistant,
        journal: Journal,
        handoff: HandoffService | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.assistant = assistant
        self.journal = journal
        self.handoff = handoff
        self.clock = clock

    async def record(self, person: Sender, kind: str) -> bool:
        if person.user_id is None:
            return False
        try:
            await self.store.record_privacy_event(person.user_id, kind, self.clock())
        except Exception as exc:
            log.warning("privacy event %s not recorded: %s", kind, exc)
            return False
        return True

    async def forget(self, person: Erasable, held_sender_id: str | None = None) -> bool:
        """Erase the person: the one path of /cancella and of the retention of inactive people. True when
        done; False (logged) when nothing was erased because Rasa or the database could not do its part.
        ``held_sender_id``: the Rasa id this gateway holds for her, erased in Rasa too."""
        try:
            senders = await self.store.sender_ids(person.user_id)
        except Exception as exc:
            log.warning("cannot read the person's Rasa ids, so nothing is erased: %s", exc)
            return False
        try:
            # every Rasa id she had: her row's, those made during an outage, the one this gateway holds
            for sender_id in dict.fromkeys([*senders, *([held_sender_id] if held_sender_id else [])]):
                await self.assistant.erase(sender_id)
        except AssistantUnavailable as exc:
            log.warning("Rasa tracker not erased, so nothing is erased: %s", exc)
            return False
        if self.handoff is not None:
            try:
                await self.handoff.forget(person.user_id)
            except Exception:
                log.exception("tickets not erased one by one (the database still deletes them)")
        try:
            await self.store.erase_user(person.user_id)
        except Exception as exc:
            log.warning("user rows not erased: %s", exc)
            return False
        self.journal.forget(person.channel, person.user_key)
        return True

    async def erase_conversations(self, sender_ids: set[str]) -> None:
        """Erase in Rasa the conversations of these ids (taken out of the set once done); those Rasa
        cannot erase now stay for the next call."""
        for sender_id in list(sender_ids):
            try:
                await self.assistant.erase(sender_id)
            except AssistantUnavailable as exc:
                log.warning("an erased person's conversation is not erased in Rasa yet: %s", exc)
                return
            sender_ids.discard(sender_id)

    async def erase_answer(self, msg: Inbound, person: Sender) -> Outcome:
        """The person's answer to "erase everything?"."""
        if msg.payload == texts.ERASE_NO:
            return said(Reply(texts.ERASE_KEPT))
        if person.user_id is None:
            return said(Reply(texts.ERASE_FAILED))
        try:
            asked = await self.store.erase_requested_since(
                person.user_id, self.clock() - ERASE_CONFIRM_WINDOW
            )
        except Exception as exc:
            log.warning("cannot check the erase request: %s", exc)
            return said(Reply(texts.ERASE_FAILED))
        if not asked:
            return said(Reply(texts.ERASE_EXPIRED))
        if not await self.forget(Erasable(person.user_id, msg.channel, msg.user_key), person.sender_id):
            return said(Reply(texts.ERASE_FAILED))
        log.info("erased a %s user on request", msg.channel)
        # Not stored: storing the confirmation would bring the person's row back.
        outcome = said(Reply(texts.ERASED))
        outcome.store_replies = False
        return outcome

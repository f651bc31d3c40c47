"""The assistant's answers: Rasa's REST replies parsed into channel-neutral replies and their meta."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.messages import Button, Reply
from knowledge.contract import META_KEY, read_meta


class AssistantUnavailable(Exception):
    """Rasa did not answer in time, or answered with something we cannot use."""


@dataclass(frozen=True)
class AssistantReply:
    reply: Reply
    meta: dict[str, Any] | None = None


@dataclass
class AssistantAnswer:
    items: list[AssistantReply] = field(default_factory=list)
    orphan_meta: dict[str, Any] | None = None  # a meta with no text after it

    @property
    def replies(self) -> list[Reply]:
        return [item.reply for item in self.items]

    @property
    def meta(self) -> dict[str, Any] | None:
        """The meta of the turn: the last one Rasa sent."""
        for item in reversed(self.items):
            if item.meta is not None:
                return item.meta
        return self.orphan_meta


def parse_rest_answer(data: Any) -> AssistantAnswer:
    """Turn the REST channel's JSON list into replies, each with the meta that followed it."""
    if not isinstance(data, list):
        raise AssistantUnavailable(f"unexpected answer from Rasa: {type(data).__name__}")
    items: list[AssistantReply] = []
    pending_meta: dict[str, Any] | None = None  # a meta that came before any text
    for raw in data:
        if not isinstance(raw, dict):
            continue
        meta = _meta_of(raw)
        text = raw.get("text")
        if isinstance(text, str) and text.strip():
            buttons = tuple(_buttons(raw.get("buttons")))
            items.append(AssistantReply(Reply(text, buttons), meta or pending_meta))
            pending_meta = None
        elif meta is not None:
            if items:
                items[-1] = AssistantReply(items[-1].reply, meta)
            else:
                pending_meta = meta
        elif raw.get("buttons") and items and not items[-1].reply.buttons:
            # buttons sent on their own right after a text belong to it
            last = items[-1]
            items[-1] = AssistantReply(Reply(last.reply.text, tuple(_buttons(raw["buttons"]))), last.meta)
    return AssistantAnswer(items, orphan_meta=pending_meta)


def _meta_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    custom = raw.get("custom")
    if isinstance(custom, dict) and isinstance(custom.get(META_KEY), dict):
        return read_meta(custom[META_KEY])
    return None


def _buttons(raw: Any) -> list[Button]:
    out: list[Button] = []
    if not isinstance(raw, list):
        return out
    for b in raw:
        if isinstance(b, dict) and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str):
            out.append(Button(title=b["title"], payload=b["payload"]))
    return out

"""The review queue's selection, without SQL or ``aiohttp``: which of the person's messages a manager
should look at, and why.

* ``non capito``: the answer was a fallback (``meta.fallback``, or the intent ``nlu_fallback``);
* ``chiarimento``: the assistant asked her which topic she meant (``meta.clarify``);
* ``voto basso``: the assistant answered with confidence (``meta.confidence`` at least
  :data:`CONFIDENT`, not a fallback nor a clarification) and she then rated a ticket opened within
  :data:`RATED_WITHIN` of the answer :data:`BAD_RATING` or less (the only rating the person gives is a
  ticket's, after a handoff).

The scope is the dashboard's (:func:`bot.insights.aggregates.in_scope`): a manager sees the messages
whose answer was about her partner's territories and topics; the alliance (scope None) sees all. The
topic intents a message can be labelled with are those of ``nlu/domain.yml`` listed under ``# topics``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.insights.aggregates import Scope, in_scope
from bot.store.review import Turn

CONFIDENT = 0.8
BAD_RATING = 2
RATED_WITHIN = timedelta(hours=24)
NEW_NEED = "new_need"
OUT_OF_SCOPE = "out_of_scope"
REASONS = {"fallback": "non capito", "clarify": "chiarimento", "rated": "voto basso"}
# nlu/domain.yml of the checkout, or of the working folder (the gateway's image copies it to /app/nlu)
DOMAINS = (Path(__file__).resolve().parents[2], Path.cwd())


@dataclass(frozen=True)
class Item:
    turn: Turn
    reason: str  # a key of REASONS


def domain_file() -> Path:
    for base in DOMAINS:
        if (base / "nlu" / "domain.yml").is_file():
            return base / "nlu" / "domain.yml"
    raise FileNotFoundError("nlu/domain.yml: the review queue's labels are its topic intents")


def topic_intents(domain: Path | None = None) -> tuple[str, ...]:
    """The intents listed under the ``# topics`` comment of the domain's ``intents:``, in order."""
    domain = domain or domain_file()
    found: list[str] = []
    inside = listing = False
    for line in domain.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if line.startswith("intents:"):
            listing = True
            continue
        if listing and line and not line.startswith(" "):
            break
        if listing and stripped.startswith("#"):
            inside = stripped == "# topics"
            continue
        if listing and inside and stripped.startswith("- "):
            found.append(stripped[2:].strip())
    return tuple(found)


def choices(domain: Path | None = None) -> tuple[str, ...]:
    """What a message can be labelled with: a topic intent, a new need, out of scope."""
    return (*topic_intents(domain), NEW_NEED, OUT_OF_SCOPE)


def _reason(turn: Turn, rated_badly: bool) -> str | None:
    meta = turn.meta
    if meta.get("fallback") or meta.get("intent") == "nlu_fallback":
        return "fallback"
    if meta.get("clarify"):
        return "clarify"
    confidence = meta.get("confidence")
    if rated_badly and isinstance(confidence, int | float) and confidence >= CONFIDENT:
        return "rated"
    return None


def select(
    turns: Iterable[Turn], low_ratings: Iterable[tuple[int, datetime]], scope: Scope | None
) -> list[Item]:
    """The turns to review in scope, newest first."""
    rated: dict[int, list[datetime]] = defaultdict(list)
    for user_id, at in low_ratings:
        rated[user_id].append(at)
    for times in rated.values():
        times.sort()

    def rated_after(turn: Turn) -> bool:
        times: Sequence[datetime] = rated.get(turn.user_id, [])
        i = bisect_left(times, turn.at)
        return i < len(times) and times[i] - turn.at <= RATED_WITHIN

    found = []
    for turn in turns:
        if not in_scope(turn.meta, scope):
            continue
        reason = _reason(turn, rated_after(turn))
        if reason is not None:
            found.append(Item(turn, reason))
    found.sort(key=lambda i: i.turn.message_id, reverse=True)
    return found

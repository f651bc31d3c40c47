"""Simulated Telegram users, for the fault drills and the load benchmark (bench/load/run.py).

Many people write to the bot through the fake Telegram server's control API (``POST /_test/user_message``),
each following a short, realistic Italian conversation (summer camps in a town, a follow-up "e quanto
costa?", nurseries, caregivers, welfare, greetings, out-of-scope questions), each well below the gateway's
flood limit of 20 messages a minute. The sending is open loop: message k leaves at ``start + k / rate``
whatever happened to the earlier ones, as at the evening the enrolments open.

Afterwards :func:`collect` matches replies to updates. Every message of these conversations is answered
with exactly one Telegram message (checked by ``test_every_turn_is_one_message`` in the fault drills), and
the gateway answers the updates of one chat one at a time, in order; so, chat by chat, the i-th
``sendMessage`` answers the i-th update. A chat with fewer replies than updates lost some, one with more
got duplicates. Latency is from just before the update is queued at the fake server to the moment the
fake server receives the reply (one clock: everything runs on this machine).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.conversation import texts

# Each person follows one of these, from the top, and starts again at the end.
CONVERSATIONS: tuple[tuple[str, ...], ...] = (
    ("ciao", "centri estivi a Magenta", "e quanto costa?", "grazie"),
    ("ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni", "e quanto costa?", "grazie mille"),
    ("il nido è aperto il sabato?", "Abbiategrasso", "arrivederci"),
    ("nido il sabato a Legnano", "e quanto costa?", "grazie"),
    ("welfare aziendale", "la mia azienda ha il welfare?", "grazie"),
    ("aiuti per chi assiste un genitore anziano a Legnano", "grazie"),
    ("buongiorno", "che tempo fa domani?", "rinnovo carta d'identità"),
    ("cre a cuggiono", "e quanto costa?", "ciao"),
    ("/start", "nido serale a Magenta", "grazie"),
)


class Stoppable(Protocol):
    def is_set(self) -> bool: ...


GATEWAY_COMMANDS = ("/start", "/menu", "/help", "/privacy", "/cancella")


def goes_to_rasa(text: str) -> bool:
    return text.split()[0].lower() not in GATEWAY_COMMANDS


@dataclass
class Sent:
    user_id: int
    text: str
    t: float  # time.time() just before the update was queued
    update_id: int | None = None
    error: str | None = None

    @property
    def to_rasa(self) -> bool:
        return goes_to_rasa(self.text)


class Population:
    """People with their place in their conversation. ``pick`` hands out the next person round robin."""

    def __init__(self, first_user_id: int, size: int) -> None:
        self.users = list(range(first_user_id, first_user_id + size))
        self._step: dict[int, int] = {}
        self._turn = itertools.cycle(self.users)

    def grow(self, size: int) -> None:
        if size > len(self.users):
            start = self.users[-1] + 1
            self.users.extend(range(start, start + size - len(self.users)))
            self._turn = itertools.cycle(self.users)

    def next_text(self, user_id: int) -> str:
        script = CONVERSATIONS[user_id % len(CONVERSATIONS)]
        step = self._step.get(user_id, 0)
        self._step[user_id] = step + 1
        return script[step % len(script)]

    def pick(self) -> int:
        return next(self._turn)


async def drive(
    base: str,
    population: Population,
    rate: float,
    duration: float,
    *,
    min_gap: float = 3.5,
    client: httpx.AsyncClient | None = None,
    stop: Stoppable | None = None,
    sent: list[Sent] | None = None,
) -> list[Sent]:
    """Send ``rate`` messages a second for ``duration`` seconds (open loop), round robin over enough people
    that each writes at most once every ``min_gap`` seconds, until ``stop`` is set. Returns what was sent,
    in order (also appended to ``sent`` as it goes, when given)."""
    population.grow(math.ceil(rate * min_gap) + 1)
    own = client is None
    client = client or httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64))
    total = max(1, int(rate * duration))
    sent = [] if sent is None else sent
    tasks: list[asyncio.Task[None]] = []
    last: dict[int, float] = {}

    async def one(item: Sent) -> None:
        try:
            r = await client.post(
                f"{base}/_test/user_message",
                json={"user_id": item.user_id, "first_name": "Giulia", "text": item.text},
            )
            r.raise_for_status()
            item.update_id = r.json()["update_id"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            item.error = f"{type(exc).__name__}: {exc}"

    start = time.monotonic()
    try:
        for k in range(total):
            if stop is not None and stop.is_set():
                break
            due = start + k / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            user = population.pick()
            # never faster than min_gap for one person (only matters when the sender fell behind)
            wait = last.get(user, -1e9) + min_gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            last[user] = time.monotonic()
            item = Sent(user, population.next_text(user), time.time())
            sent.append(item)
            tasks.append(asyncio.create_task(one(item)))
        await asyncio.gather(*tasks)
    finally:
        if own:
            await client.aclose()
    return sent


def sent_calls(base: str, method: str = "sendMessage", include_failed: bool = False) -> list[dict[str, Any]]:
    params = {"method": method}
    if include_failed:
        params["all"] = "1"
    r = httpx.get(f"{base}/_test/sent", params=params, timeout=30)
    r.raise_for_status()
    return r.json()


@dataclass
class Pair:
    sent: Sent
    reply: dict[str, Any] | None  # the sendMessage call, None when lost

    @property
    def latency(self) -> float | None:
        return None if self.reply is None else self.reply["time"] - self.sent.t

    @property
    def text(self) -> str:
        return "" if self.reply is None else str(self.reply["params"].get("text", ""))


@dataclass
class Outcome:
    pairs: list[Pair]
    send_errors: int
    lost: int
    duplicated: int
    extra: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # chat -> replies beyond its updates
    waited: float = 0.0

    @property
    def answered(self) -> list[Pair]:
        return [p for p in self.pairs if p.reply is not None]

    def latencies(self) -> list[float]:
        return [p.latency for p in self.pairs if p.latency is not None]

    def told_unavailable(self) -> list[Pair]:
        return [p for p in self.pairs if p.text == texts.UNAVAILABLE]

    def rate_limited(self) -> list[Pair]:
        return [p for p in self.pairs if p.text == texts.RATE_LIMITED]

    def summary(self, duration: float | None = None) -> dict[str, Any]:
        lat = sorted(self.latencies())
        out: dict[str, Any] = {
            "sent": len(self.pairs),
            "answered": len(lat),
            "send_errors": self.send_errors,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unavailable_replies": len(self.told_unavailable()),
            "rate_limited_replies": len(self.rate_limited()),
        }
        out.update(percentiles(lat))
        if duration:
            out["offered_rate"] = round(len(self.pairs) / duration, 1)
            done = [p.reply["time"] for p in self.pairs if p.reply is not None]
            if done:
                span = max(done) - min(p.sent.t for p in self.pairs)
                out["throughput"] = round(len(done) / max(span, duration), 1)
        return out


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    v = sorted(values)
    if not v:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}

    def q(p: float) -> float:
        return round(v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))] * 1000, 1)

    return {
        "p50_ms": q(0.50),
        "p95_ms": q(0.95),
        "p99_ms": q(0.99),
        "max_ms": round(v[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(v) * 1000, 1),
    }


def collect(base: str, sent: list[Sent], timeout: float = 30, grace: float = 1.0) -> Outcome:
    """Wait (at most ``timeout`` s) until every chat has as many replies as updates, then match them."""
    by_chat: dict[int, list[Sent]] = defaultdict(list)
    for s in sent:
        if s.error is None:
            by_chat[s.user_id].append(s)
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        replies = _replies_by_chat(base, by_chat)
        missing = sum(max(0, len(items) - len(replies.get(c, []))) for c, items in by_chat.items())
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    waited = time.monotonic() - t0
    time.sleep(grace)  # a duplicate would come right after
    replies = _replies_by_chat(base, by_chat)
    pairs: list[Pair] = []
    lost = duplicated = 0
    extra: dict[int, list[dict[str, Any]]] = {}
    for chat, items in by_chat.items():
        got = replies.get(chat, [])
        for i, s in enumerate(items):
            pairs.append(Pair(s, got[i] if i < len(got) else None))
        lost += max(0, len(items) - len(got))
        if len(got) > len(items):
            duplicated += len(got) - len(items)
            extra[chat] = got[len(items) :]
    pairs += [Pair(s, None) for s in sent if s.error is not None]
    pairs.sort(key=lambda p: p.sent.t)
    return Outcome(pairs, sum(1 for s in sent if s.error), lost, duplicated, extra, waited)


def _replies_by_chat(base: str, chats: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    wanted = set(chats)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for call in sent_calls(base):
        chat = call["params"].get("chat_id")
        if chat in wanted:
            out[chat].append(call)
    return out

"""The gateway's own overhead per message: the conversation router (storing the message, the shared flood
limit, storing the replies and marking the message answered) with an assistant that answers at once, so
nothing but the gateway's work is timed. No Rasa, no Telegram, no network.

    .venv/bin/python bench/gateway/run.py                       # SQLite file (the default database)
    .venv/bin/python bench/gateway/run.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints, for sequential messages and for ``--concurrency`` people writing at once: the median, p95 and p99
time of ``ConversationRouter.handle`` and the process's CPU time per message. The issue's target for the
gateway's overhead is under 5 ms at the median. Writes bench/out/gateway.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import OUT
from bot.assistant.answers import AssistantAnswer, AssistantReply
from bot.conversation.router import ConversationRouter
from bot.core.messages import Button, Inbound, Reply
from bot.core.ratelimit import RateLimiter
from bot.store import Store, make_engine, upgrade

META = {"intent": "ask_holiday_camp", "confidence": 0.97, "topic": "summer_camp", "territory": "magentino"}
ANSWER_TEXT = (
    "A Corbetta per luglio ci sono due centri estivi per bambini di 7 anni:\n"
    "• Estate insieme — Cooperativa Esempio (dati di esempio), 29 giugno - 31 luglio, lun-ven 8-17, 60 € a "
    "settimana. Iscrizioni entro il 15 maggio.\n"
    "• Campus Ticino — Associazione Esempio (dati di esempio), 6 - 31 luglio, lun-ven 8.30-16.30, 55 € a "
    "settimana."
)


class InstantAssistant:
    """Answers every message at once with a realistic reply (two buttons and the meta)."""

    async def send(self, sender_id: str, text: str) -> AssistantAnswer:
        reply = Reply(ANSWER_TEXT, (Button("Dettagli", "/show_service"), Button("Altro", "/show_more")))
        return AssistantAnswer([AssistantReply(reply, dict(META))])

    async def erase(self, sender_id: str) -> None:
        return None

    async def slots(self, sender_id: str) -> dict[str, Any]:
        return {"comune": "Corbetta", "territory": "magentino"}

    async def set_slots(self, sender_id: str, slots: dict[str, Any]) -> None:
        return None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _phase(router: ConversationRouter, people: int, messages: int, first_id: int) -> dict[str, Any]:
    """``messages`` messages from ``people`` people, ``people`` at a time; times and CPU per message."""
    times: list[float] = []
    update_ids = iter(range(first_id, first_id + messages))

    async def person(key: int, count: int) -> None:
        for _ in range(count):
            msg = Inbound(
                channel="telegram",
                user_key=str(key),
                text="ci sono centri estivi a Corbetta per luglio?",
                first_name="Giulia",
                update_id=next(update_ids),
            )
            t = time.perf_counter()
            turn = await router.handle(msg)
            times.append((time.perf_counter() - t) * 1000)
            assert turn.replies, "the router answered nothing"

    cpu0, wall0 = time.process_time(), time.perf_counter()
    per_person = messages // people
    await asyncio.gather(*(person(first_id + k, per_person) for k in range(people)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(times)
    return {
        "people_at_once": people,
        "messages": n,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(_pct(times, 0.95), 2),
        "p99_ms": round(_pct(times, 0.99), 2),
        "cpu_ms_per_message": round(cpu * 1000 / n, 2),
        "messages_per_second": round(n / wall, 1),
    }


async def _run(url: str, messages: int, concurrency: int) -> dict[str, Any]:
    engine = make_engine(url)
    await asyncio.to_thread(upgrade, engine)
    store = Store(engine)
    router = ConversationRouter(store, InstantAssistant(), limiter=RateLimiter(1_000_000))
    try:
        await _phase(router, 10, 200, 10_000_000)  # warm-up: imports, statement caches, connections
        sequential = await _phase(router, 1, messages, 20_000_000)
        concurrent = await _phase(router, concurrency, messages, 30_000_000)
    finally:
        store.close()
    return {"sequential": sequential, "concurrent": concurrent}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if url.startswith("postgresql"):
            url = _fresh_schema(url)
        result = asyncio.run(_run(url, args.messages, args.concurrency))
    shown = url.split("@")[-1] if "@" in url else url.split("///")[0] + "/// (temporary file)"
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report = {"date": date, "database": shown, **result}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gateway.json").write_text(json.dumps(report, indent=2))
    print(f"database: {shown}")
    print("phase        msgs  p50 ms  p95 ms  p99 ms  CPU ms/msg  msg/s")
    for name in ("sequential", "concurrent"):
        r = result[name]
        print(
            f"{name:<11} {r['messages']:>5} {r['p50_ms']:>7} {r['p95_ms']:>7} {r['p99_ms']:>7}"
            f" {r['cpu_ms_per_message']:>11} {r['messages_per_second']:>6}"
        )
    return 0


def _fresh_schema(url: str) -> str:
    """A new schema on the given PostgreSQL database, so the run starts empty (left for inspection)."""
    from sqlalchemy import text

    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


if __name__ == "__main__":
    raise SystemExit(main())

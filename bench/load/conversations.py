"""Cost per message against the length of a conversation, side by side with the stock `rasa init` bot.

Closed loop, as people write: ``--people`` (10) write at once, each sends her next message when the last
one is answered; every ``L`` messages she starts a new conversation (a new id), for L in ``--lengths``
(6: what people do; 60: the long ones). Each phase first brings every person, untimed, to her own point of
a conversation (person p of N has sent p·L/N messages: as in a steady population, every point is
represented), then lasts ``--seconds`` (20), its first 2 s not counted, and
the phases of one length run one after the other, so the machine's noise touches them alike; the report
gives each one's msg/s as a ratio to the stock bot's in the same length, and L=60 against L=6.

What is measured, all started by this script on free loopback ports, in one run:

* ``stock``: the bot `rasa init --no-prompt` makes (its own pipeline and policies, trained once into
  bench/out/stock-bot, reused after), REST channel, Rasa's default in-memory tracker store;
* ``rasa``: Concilia's Rasa with its action server, REST channel, conversations in the SQLite tracker store
  (endpoints.yml's default set-up); ``rasa-memory``: the same model with the in-memory store (before);
* ``chain``: the whole chain through the web chat API (gateway, its SQLite database, Rasa, actions), the
  gateway giving a new Rasa conversation every RASA_CONVERSATION_TURNS (30) messages (now);
  ``chain-before``: another gateway on the in-memory Rasa with no new conversations
  (``RASA_CONVERSATION_TURNS=100000``), as before;
* ``chain-2rasa`` (only when asked for with ``--only``): a third gateway in front of two Rasa servers on the
  same SQLite tracker store, each conversation always on the same one (RASA_URL with two addresses).

The web chat's limits are raised for the run (one machine plays many people): per address, overall, and
the per-person flood limit. Rasa's resident memory is read at the end of each phase. Usage::

    .venv/bin/python bench/load/conversations.py [--seconds 20] [--lengths 6,60] [--only stock,rasa,chain]

It prints a table and writes bench/out/conversations.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import OUT
from bench.load.machine import cpu_seconds, machine
from harness.stack import (
    RASA_BIN,
    WEB_API_KEY,
    Proc,
    free_port,
    start,
    start_gateway,
    start_rasa_stack,
    wait_until,
)
from harness.traffic import CONVERSATIONS, goes_to_rasa, percentiles

STOCK_DIR = OUT / "stock-bot"
WARMUP_S = 2.0
LIMITS_OFF = {
    "WEB_MESSAGES_PER_ADDRESS_PER_MINUTE": "1000000",
    "WEB_SESSIONS_PER_ADDRESS_PER_HOUR": "1000000",
    "WEB_MESSAGES_PER_MINUTE": "10000000",
    "WEB_SESSIONS_PER_HOUR": "10000000",
    "RATE_LIMIT_PER_MINUTE": "10000",
}


@dataclass
class Target:
    name: str
    kind: str  # "rest" (Rasa's REST channel) or "web" (the gateway's web chat API)
    url: str
    rasa: list[Proc]  # the Rasa processes behind it (memory, CPU)
    actions: list[Proc] = field(default_factory=list)  # their action servers (CPU)


def stock_model() -> Path:
    """The `rasa init` bot's model, trained once (a few minutes) and reused."""
    models = sorted((STOCK_DIR / "models").glob("*.tar.gz")) if STOCK_DIR.exists() else []
    if models:
        return models[-1]
    shutil.rmtree(STOCK_DIR, ignore_errors=True)
    print("==> training the stock `rasa init` bot (once, into bench/out/stock-bot)", flush=True)
    STOCK_DIR.mkdir(parents=True)  # `rasa init` wants the folder to exist
    subprocess.run(
        [str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(STOCK_DIR)],
        check=True,
        cwd=OUT,
        timeout=1800,
    )
    return sorted((STOCK_DIR / "models").glob("*.tar.gz"))[-1]


def start_stock(logdir: Path) -> tuple[Proc, str]:
    port = free_port()
    model = stock_model()
    cmd = [str(RASA_BIN), "run", "-i", "127.0.0.1", "-p", str(port), "--model", str(model)]
    # its own endpoints (nothing: the in-memory tracker store), not the project's endpoints.yml
    cmd += [
        "--credentials",
        str(STOCK_DIR / "credentials.yml"),
        "--endpoints",
        str(STOCK_DIR / "endpoints.yml"),
    ]
    proc = start("stock-rasa", cmd, {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, logdir)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return httpx.get(f"{url}/webhooks/rest/", timeout=2).status_code == 200

    wait_until(ready, 300, "the stock rasa init bot", [proc])
    return proc, url


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def closed_loop(
    target: Target, people: int, length: int, seconds: float, tag: str, on_start: Callable[[], None]
) -> dict[str, Any]:
    """``people`` write at once, each her next message when the last is answered, a new conversation
    every ``length`` messages. First, untimed, person ``p`` sends ``p * length // people`` messages, so
    that when the timing starts the people stand at every point of their conversations, as in a steady
    population (otherwise a short phase would never reach the long conversations' later messages)."""
    errors: dict[str, int] = {}
    progress = [0] * people

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=people + 5)) as client:

        async def one(p: int, texts: list[str]) -> bool:
            n = progress[p]
            progress[p] += 1
            sender = f"{tag}-{p}-{n // length}"
            text = texts[n % len(texts)]
            try:
                if target.kind == "rest":
                    r = await client.post(
                        f"{target.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
                    )
                    r.raise_for_status()
                    said = [item for item in r.json() if "text" in item]
                else:
                    r = await client.post(
                        f"{target.url}/api/chat",
                        json={"user": sender, "text": text},
                        headers={"Authorization": f"Bearer {WEB_API_KEY}"},
                    )
                    r.raise_for_status()
                    said = r.json()["replies"]
                if not said:
                    raise ValueError("no answer")
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return False
            return True

        def texts_of(p: int) -> list[str]:
            conv = CONVERSATIONS[p % len(CONVERSATIONS)]
            return [t for t in conv if target.kind == "web" or goes_to_rasa(t)]

        async def prefill(p: int) -> None:
            for _ in range(p * length // people):
                await one(p, texts_of(p))

        await asyncio.gather(*(prefill(p) for p in range(people)))
        out = await timed_loop(people, seconds, lambda p: one(p, texts_of(p)), on_start)
    out["errors"] = errors
    return out


async def timed_loop(
    people: int, seconds: float, one: Callable[[int], Awaitable[bool]], on_start: Callable[[], None]
) -> dict[str, Any]:
    """``people`` at once for ``seconds``, each calling ``one(p)`` (True: answered) again as soon as it
    returns; the latencies of the answered calls after the first WARMUP_S, and their rate."""
    latencies: list[float] = []
    on_start()
    t_start = time.monotonic()
    t_end = t_start + seconds

    async def person(p: int) -> None:
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            if await one(p) and t0 >= t_start + WARMUP_S:
                latencies.append(time.monotonic() - t0)

    await asyncio.gather(*(person(p) for p in range(people)))
    measured = max(0.001, seconds - WARMUP_S)
    out: dict[str, Any] = {"answered": len(latencies), "msg_s": round(len(latencies) / measured, 1)}
    out.update(percentiles(latencies))
    return out


def cpu_of(procs: list[Proc]) -> float | None:
    times = [cpu_seconds(p.pid) for p in procs]
    return None if None in times else sum(t for t in times if t is not None)


def run_phase(
    target: Target, people: int, length: int, seconds: float, gateway: Proc | None
) -> dict[str, Any]:
    wait_quiet(target.rasa + target.actions)
    groups = {"rasa": target.rasa, "actions": target.actions, "gateway": [gateway] if gateway else []}
    started: dict[str, float | None] = {}

    def on_start() -> None:  # the CPU of the timed part only
        started.update({name: cpu_of(procs) for name, procs in groups.items() if procs})

    tag = f"{target.name}-{length}-{time.monotonic_ns() % 10**8}"
    s = asyncio.run(closed_loop(target, people, length, seconds, tag, on_start))
    n = max(1, s["answered"])
    # the answered messages are those after the warm-up; the CPU is of the whole timed part
    scale = seconds / max(0.001, seconds - WARMUP_S)
    for name, procs in groups.items():
        cpu0, cpu1 = started.get(name), cpu_of(procs) if procs else None
        if cpu0 is not None and cpu1 is not None:
            s[f"{name}_cpu_ms_per_msg"] = round((cpu1 - cpu0) / n * 1000 * scale, 1)
    s["rasa_rss_mb"] = rss_mb(target.rasa[0].pid)
    cpu = "  ".join(f"{name} {s[key]}" for name in groups if (key := f"{name}_cpu_ms_per_msg") in s)
    print(
        f"    {target.name:>12} L={length:<3} {s['msg_s']:>6} msg/s  p50 {s['p50_ms']} ms"
        f"  p99 {s['p99_ms']} ms  CPU ms/msg: {cpu}"
        f"  RSS {s['rasa_rss_mb']} MB  errors {s['errors']}",
        flush=True,
    )
    return s


def wait_quiet(procs: list[Proc], limit: float = 30.0) -> None:
    """Until the processes use under 10 % of a core (what the last phase left finishes first)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        before = [cpu_seconds(p.pid) or 0.0 for p in procs]
        time.sleep(1.0)
        after = [cpu_seconds(p.pid) or 0.0 for p in procs]
        if all(b - a < 0.1 for a, b in zip(before, after, strict=True)):
            return


def cpu_cell(s: dict[str, Any]) -> str:
    return " / ".join(str(s.get(f"{name}_cpu_ms_per_msg", "-")) for name in ("rasa", "actions", "gateway"))


def report(results: dict[str, dict[int, dict[str, Any]]], lengths: list[int]) -> str:
    rows = [
        "| what | L | msg/s | p50 ms | p99 ms | × stock | long / short msg/s | long / short p50 "
        "| CPU ms/msg: Rasa / actions / gateway |"
    ]
    rows.append("|---|---|---|---|---|---|---|---|---|")
    for name, by_len in results.items():
        for length in lengths:
            s = by_len.get(length)
            if not s:
                continue
            stock = results.get("stock", {}).get(length)
            ratio = f"{s['msg_s'] / stock['msg_s']:.2f}" if stock and stock["msg_s"] else ""
            short, long_ = by_len.get(min(lengths)), by_len.get(max(lengths))
            vs = vs_p50 = ""
            if length == max(lengths) and short and long_ and short["msg_s"] and short["p50_ms"]:
                vs = f"{long_['msg_s'] / short['msg_s']:.2f}"
                vs_p50 = f"{long_['p50_ms'] / short['p50_ms']:.2f}"
            rows.append(
                f"| {name} | {length} | {s['msg_s']} | {s['p50_ms']} | {s['p99_ms']} | {ratio} | {vs} "
                f"| {vs_p50} | {cpu_cell(s)} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--lengths", default="6,60")
    ap.add_argument(
        "--turns", type=int, help="RASA_CONVERSATION_TURNS of the chain's gateway (default: its own)"
    )
    ap.add_argument("--only", default="stock,rasa,rasa-memory,chain,chain-before")
    args = ap.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    only = args.only.split(",")
    logdir = OUT / "conversations-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    (logdir / "memory").mkdir(parents=True)
    (logdir / "second").mkdir(parents=True)
    procs: list[Any] = []
    targets: list[tuple[Target, Proc | None]] = []
    out: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/load/conversations.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "people": args.people,
        "seconds": args.seconds,
    }
    try:
        print("==> starting", ", ".join(only), flush=True)
        if "stock" in only:
            stock, url = start_stock(logdir)
            procs.append(stock)
            targets.append((Target("stock", "rest", url, [stock]), None))
        sql = start_rasa_stack(logdir, tracker_db=logdir / "rasa-conversations.db")
        procs.append(sql)
        if "rasa" in only:
            targets.append((Target("rasa", "rest", sql.rasa_url, [sql.rasa], [sql.actions]), None))
        if "chain" in only:
            turns = {"RASA_CONVERSATION_TURNS": str(args.turns)} if args.turns else {}
            gw = start_gateway(
                sql.rasa_url, sql.token, logdir, logdir / "gateway.db", {**LIMITS_OFF, **turns}
            )
            procs.append(gw)
            targets.append((Target("chain", "web", gw.web_url, [sql.rasa], [sql.actions]), gw.process))
        if "rasa-memory" in only or "chain-before" in only:
            mem = start_rasa_stack(logdir / "memory")
            procs.append(mem)
            if "rasa-memory" in only:
                targets.append((Target("rasa-memory", "rest", mem.rasa_url, [mem.rasa], [mem.actions]), None))
            if "chain-before" in only:
                env = {**LIMITS_OFF, "RASA_CONVERSATION_TURNS": "100000"}
                gwb = start_gateway(
                    mem.rasa_url, mem.token, logdir / "memory", logdir / "gateway-before.db", env
                )
                procs.append(gwb)
                targets.append(
                    (Target("chain-before", "web", gwb.web_url, [mem.rasa], [mem.actions]), gwb.process)
                )
        if "chain-2rasa" in only:  # a second Rasa server on the same tracker store, sticky by sender id
            second = start_rasa_stack(
                logdir / "second", tracker_db=logdir / "rasa-conversations.db", token=sql.token
            )
            procs.append(second)
            env = {**LIMITS_OFF}
            urls = f"{sql.rasa_url},{second.rasa_url}"
            gw2 = start_gateway(urls, sql.token, logdir / "second", logdir / "gateway-2rasa.db", env)
            procs.append(gw2)
            both = Target(
                "chain-2rasa", "web", gw2.web_url, [sql.rasa, second.rasa], [sql.actions, second.actions]
            )
            targets.append((both, gw2.process))
        results: dict[str, dict[int, dict[str, Any]]] = {t.name: {} for t, _ in targets}
        for length in lengths:
            print(
                f"==> conversations of {length}, {args.people} people, closed loop, {args.seconds:g} s each",
                flush=True,
            )
            for target, gateway in targets:
                results[target.name][length] = run_phase(target, args.people, length, args.seconds, gateway)
        out["results"] = results
    finally:
        for p in reversed(procs):
            p.stop()
    table = report(out["results"], lengths)
    out["table"] = table
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "conversations.json").write_text(json.dumps(out, indent=2), "utf-8")
    (OUT / "conversations.md").write_text(f"{out['command']}\n\n{out['date']}\n\n{table}\n", "utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

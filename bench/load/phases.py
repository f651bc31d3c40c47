"""The phases of the load benchmark: traffic through the fake Telegram server at one rate, the time
breakdown of its messages, and straight to Rasa or the web API at rising rates."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections import Counter, defaultdict
from typing import Any

import httpx

from bench.load.machine import CLK_TCK, cpu_seconds, machine_jiffies
from bench.load.processes import Stack
from bot.conversation import texts as bot_texts
from harness.stack import WEB_API_KEY
from harness.traffic import CONVERSATIONS, Outcome, Population, collect, drive, goes_to_rasa, percentiles

P99_LIMIT_MS = 1000.0



def reset(stack: Stack) -> None:
    httpx.post(f"{stack.gw.telegram}/_test/reset", timeout=10).raise_for_status()
    if stack.proxy_url:
        httpx.post(f"{stack.proxy_url}/_proxy/reset", timeout=10).raise_for_status()


def quiesce(stack: Stack, limit: float = 180.0) -> float:
    """Wait until the gateway has sent nothing for 2 s (a backlog from an overloaded step drains first)."""
    t0 = time.monotonic()
    last, still_since = -1, time.monotonic()
    while time.monotonic() - t0 < limit:
        n = len(httpx.get(f"{stack.gw.telegram}/_test/sent", params={"all": "1"}, timeout=30).json())
        if n != last:
            last, still_since = n, time.monotonic()
        elif time.monotonic() - still_since >= 2.0:
            break
        time.sleep(0.5)
    return round(time.monotonic() - t0, 1)


def wait_idle(stack: Stack, limit: float = 120.0) -> float:
    """Wait until Rasa and the action server use under 10 % of a core (abandoned requests finish first)."""
    t0 = time.monotonic()
    pids = [stack.rasa.rasa.pid, stack.rasa.actions.pid]
    while time.monotonic() - t0 < limit:
        before = [cpu_seconds(p) or 0.0 for p in pids]
        time.sleep(1.0)
        after = [cpu_seconds(p) or 0.0 for p in pids]
        if all(b - a < 0.1 for a, b in zip(before, after, strict=True)):
            break
    return round(time.monotonic() - t0, 1)


def passes(s: dict[str, Any]) -> bool:
    return (
        bool(s["answered"])
        and s["p99_ms"] is not None
        and s["p99_ms"] < P99_LIMIT_MS
        and not (
            s["send_errors"]
            or s["lost"]
            or s["duplicated"]
            or s["unavailable_replies"]
            or s["rate_limited_replies"]
        )
    )


class UserIds:
    """A fresh range of Telegram user ids for each phase (so no one nears the per-person limit)."""

    def __init__(self) -> None:
        self.next = 5_000_000

    def take(self) -> int:
        self.next += 100_000
        return self.next


def gateway_phase(stack: Stack, ids: UserIds, name: str, rate: float, duration: float) -> dict[str, Any]:
    wait_idle(stack)
    reset(stack)
    procs = stack.procs()
    cpu0 = {k: cpu_seconds(p.pid) for k, p in procs.items()}
    m0 = machine_jiffies()
    t0 = time.time()
    sent = asyncio.run(drive(stack.gw.telegram, Population(ids.take(), 1), rate, duration))
    outcome = collect(stack.gw.telegram, sent, timeout=30 + 1.5 * duration)
    m1 = machine_jiffies()
    cpu1 = {k: cpu_seconds(p.pid) for k, p in procs.items()}
    summary = outcome.summary(duration)
    answered = max(1, summary["answered"])
    summary["cpu_ms_per_message"] = {
        k: round((cpu1[k] - cpu0[k]) / answered * 1000, 2)
        for k in procs
        if cpu0[k] is not None and cpu1[k] is not None
    }
    total, idle = m1[0] - m0[0], m1[1] - m0[1]
    ours = sum((cpu1[k] or 0) - (cpu0[k] or 0) for k in procs) * CLK_TCK
    summary["machine_cpu_busy"] = round(1 - idle / total, 2) if total else None
    summary["machine_cpu_busy_by_others"] = (
        round(max(0.0, (total - idle - ours) / total), 2) if total else None
    )
    summary["rate"] = rate
    summary["duration_s"] = duration
    summary["drain_s"] = round(outcome.waited, 1)
    summary["passed"] = passes(summary)
    if stack.proxy_url:
        summary["breakdown"] = breakdown(stack, outcome, t0)
    summary["telegram_calls"] = telegram_call_stats(stack)
    print(f"    {name}: {line(summary)}", flush=True)
    return summary


def telegram_call_stats(stack: Stack) -> dict[str, Any]:
    calls = httpx.get(f"{stack.gw.telegram}/_test/sent", params={"all": "1"}, timeout=30).json()
    by_method = Counter(c["method"] for c in calls)
    failed = Counter(c["method"] for c in calls if not c["ok"])
    out: dict[str, Any] = {"calls": dict(by_method), "failed": dict(failed)}
    times = sorted(c["time"] for c in calls if c["method"] in ("sendMessage", "sendChatAction"))
    if len(times) > 10:
        # the busiest second: how many Bot API calls with a chat_id the gateway made in any one second
        best, j = 0, 0
        for i in range(len(times)):
            while times[i] - times[j] >= 1.0:
                j += 1
            best = max(best, i - j + 1)
        out["max_chat_calls_in_one_second"] = best
    return out


def breakdown(stack: Stack, outcome: Outcome, since: float) -> dict[str, Any]:
    """Split each message's latency using the proxy's records and the gateway's users table."""
    assert stack.proxy_url is not None
    records = httpx.get(f"{stack.proxy_url}/_proxy/records", timeout=60).json()
    with sqlite3.connect(stack.gw.db_path) as db:
        chat_of = {
            sender: int(key)
            for key, sender in db.execute(
                "SELECT channel_user_key, rasa_sender_id FROM users WHERE channel = 'telegram'"
            )
        }
    rasa_calls: dict[int, list[dict[str, Any]]] = defaultdict(list)
    action_calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    action_names: Counter[str] = Counter()
    action_bytes: list[int] = []
    for r in records:
        if r["start"] < since - 1:
            continue
        if r["route"] == "rasa" and r["path"] == "/webhooks/rest/webhook" and r["sender"] in chat_of:
            rasa_calls[chat_of[r["sender"]]].append(r)
        elif r["route"] == "actions" and r["sender"]:
            action_calls[r["sender"]].append(r)
            action_names[r["action"] or "?"] += 1
            action_bytes.append(r["req_bytes"])
    parts: dict[str, list[float]] = defaultdict(list)
    matched = skipped = 0
    by_chat: dict[int, list[Any]] = defaultdict(list)
    for p in outcome.pairs:
        if p.sent.error is None and p.sent.to_rasa:
            by_chat[p.sent.user_id].append(p)
    for chat, pairs in by_chat.items():
        # the chat's Rasa calls in order; each message takes the first unused call that started after it
        calls = sorted(rasa_calls.get(chat, []), key=lambda r: r["start"])
        i = 0
        for p in pairs:
            while i < len(calls) and calls[i]["start"] < p.sent.t:
                i += 1
            if p.reply is None or i >= len(calls) or calls[i]["end"] > p.reply["time"]:
                skipped += 1
                continue
            call = calls[i]
            i += 1
            matched += 1
            acts = [
                a
                for a in action_calls.get(call["sender"], [])
                if a["start"] >= call["start"] and a["end"] <= call["end"]
            ]
            action_time = sum(a["end"] - a["start"] for a in acts)
            parts["end_to_end"].append(p.reply["time"] - p.sent.t)
            parts["gateway_in"].append(call["start"] - p.sent.t)
            parts["rasa_total"].append(call["end"] - call["start"])
            parts["actions"].append(action_time)
            parts["rasa_without_actions"].append(call["end"] - call["start"] - action_time)
            parts["gateway_out"].append(p.reply["time"] - call["end"])
            parts["gateway_total"].append(p.reply["time"] - p.sent.t - (call["end"] - call["start"]))
            parts["action_calls_per_message"].append(len(acts))
    out: dict[str, Any] = {"messages_matched": matched, "messages_not_matched": skipped}
    for key, values in parts.items():
        if key == "action_calls_per_message":
            out[key] = round(sum(values) / len(values), 2) if values else None
        else:
            out[key] = percentiles(values)
    out["actions_called"] = dict(action_names.most_common())
    if action_bytes:
        out["action_request_kb_mean"] = round(sum(action_bytes) / len(action_bytes) / 1024, 1)
    return out


def line(s: dict[str, Any]) -> str:
    return (
        f"offered {s.get('offered_rate')}/s, throughput {s.get('throughput')}/s, p50 {s['p50_ms']} ms, "
        f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, lost {s['lost']}, dup {s['duplicated']}, "
        f"errors {s['send_errors'] + s['unavailable_replies'] + s['rate_limited_replies']} "
        f"-> {'PASS' if s.get('passed') else 'FAIL'}"
    )


FAILURE_TEXTS = {bot_texts.UNAVAILABLE, bot_texts.RATE_LIMITED}


async def direct_load(kind: str, url: str, rate: float, duration: float, prefix: str) -> dict[str, Any]:
    """Open loop straight to Rasa's REST channel (``kind="rasa"``) or to the gateway's web chat API
    (``kind="web"``: router, store, Rasa client, without Telegram), same conversations, many senders."""
    senders = max(1, math.ceil(rate * 3.5))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    total = max(1, int(rate * duration))
    steps: Counter[int] = Counter()

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:

        async def one(k: int) -> None:
            sender = k % senders
            conv = [t for t in CONVERSATIONS[sender % len(CONVERSATIONS)] if kind == "web" or goes_to_rasa(t)]
            text = conv[steps[sender] % len(conv)]
            steps[sender] += 1
            t = time.perf_counter()
            try:
                if kind == "rasa":
                    r = await client.post(
                        f"{url}/webhooks/rest/webhook", json={"sender": f"{prefix}-{sender}", "message": text}
                    )
                    r.raise_for_status()
                    said = [item["text"] for item in r.json() if "text" in item]
                else:
                    r = await client.post(
                        f"{url}/api/chat",
                        json={"user": f"{prefix}-{sender}", "text": text},
                        headers={"Authorization": f"Bearer {WEB_API_KEY}"},  # names its many people
                    )
                    r.raise_for_status()
                    said = [reply["text"] for reply in r.json()["replies"]]
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                errors[type(exc).__name__] += 1
                return
            if not said or said[0] in FAILURE_TEXTS:
                errors["no answer" if not said else said[0][:40]] += 1
                return
            latencies.append(time.perf_counter() - t)

        start = time.monotonic()
        tasks = []
        for k in range(total):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(k)))
        await asyncio.gather(*tasks)
        span = time.monotonic() - start
    out: dict[str, Any] = {
        "rate": rate,
        "sent": total,
        "answered": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "throughput": round(len(latencies) / max(span, duration), 1),
    }
    out.update(percentiles(latencies))
    out["passed"] = bool(latencies) and not errors and out["p99_ms"] < P99_LIMIT_MS
    return out


def direct_steps(
    stack: Stack, kind: str, rates: list[float], seconds: float
) -> tuple[list[dict[str, Any]], Any]:
    """Rising rates until one fails; each step with the CPU time per message of each process."""
    url = stack.rasa_direct_url if kind == "rasa" else stack.gw.web_url
    out: list[dict[str, Any]] = []
    ceiling = None
    procs = stack.procs()
    for rate in rates:
        wait_idle(stack)
        cpu0 = {k: cpu_seconds(p.pid) for k, p in procs.items()}
        prefix = f"{kind}{int(rate)}-{time.monotonic_ns() % 10**6}"
        s = asyncio.run(direct_load(kind, url, rate, seconds, prefix))
        cpu1 = {k: cpu_seconds(p.pid) for k, p in procs.items()}
        s["cpu_ms_per_message"] = {
            k: round((cpu1[k] - cpu0[k]) / max(1, s["answered"]) * 1000, 2)
            for k in procs
            if cpu0[k] is not None and cpu1[k] is not None and cpu1[k] - cpu0[k] > 0.05
        }
        out.append(s)
        print(
            f"    {kind} {rate:g}/s: throughput {s['throughput']}/s, p50 {s['p50_ms']} ms, "
            f"p99 {s['p99_ms']} ms, errors {s['errors']} -> {'PASS' if s['passed'] else 'FAIL'}",
            flush=True,
        )
        if not s["passed"]:
            break
        ceiling = rate
    return out, ceiling

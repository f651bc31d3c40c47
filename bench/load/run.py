"""Load benchmark: simulated Telegram users, through the fake Telegram Bot API server, against the real
stack (action server, Rasa server with models/concilia.tar.gz, gateway), all started by this script on free
loopback ports, and stopped at the end.

One command, from the project root, once the environments exist and the model is trained (`make test` or
`make run` did both):

    .venv/bin/python bench/load/run.py              # about 8 minutes
    .venv/bin/python bench/load/run.py --quick      # about 3 minutes (shorter phases)
    .venv/bin/python bench/load/run.py --train      # also times a full `rasa train` (about 2-3 more minutes)

It prints a table and writes bench/out/load.json and bench/out/load.md (process logs and profiles in
bench/out/load-logs/).

Phases, every loop bounded in count and time:

1. start-up: action server and Rasa together, then the fake Telegram server and the gateway; the time until
   each is ready is the "start to ready" figure (what `make run` waits for, without set-up and training);
2. warm-up (10 s at 5 msg/s, not counted);
3. steady: ``--rate`` messages a second (default 30) for ``--duration`` seconds (default 60), from many
   people (each writes at most once every 3.5 s, under the gateway's 20 a minute), following realistic
   Italian conversations (tests/e2e/traffic.py);
4. step search: up from the steady rate while a step passes (p99 under 1 s, no error, nothing lost or
   duplicated, nobody told "non è disponibile"), or down from it when the steady phase failed; the highest
   passing rate is the ceiling;
5. Rasa alone: the same messages straight to Rasa's REST channel at rising rates, to tell the ceiling of
   Rasa and the actions from that of the whole chain;
6. profile (when py-spy is installed: ``.venv/bin/pip install py-spy``): 20 s at a sustainable rate with
   py-spy sampling the gateway, Rasa and the action server; the heaviest frames go in the report.

Where the time goes, per message: a timing proxy (bench/load/timing_proxy.py) sits between the gateway and
Rasa and between Rasa and the action server, so each Rasa call and each action call is timed without
changing either side. With the gateway's database (which maps Rasa's opaque sender ids to chats) every
message splits into: gateway in (update queued -> Rasa call starts: long poll, PTB, storing the message),
Rasa (the call as a whole), of which actions (the action server calls), and gateway out (Rasa answered ->
the reply reaches Telegram: storing the reply, the "typing" action, PTB's rate limiter, sendMessage).
``--no-proxy`` wires the processes directly (no breakdown). CPU seconds of each process come from
/proc/<pid>/stat, peak memory from VmHWM in /proc/<pid>/status.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot import texts as bot_texts  # noqa: E402
from tests.e2e.stack import (  # noqa: E402
    MODEL,
    RASA_BIN,
    RASA_LAUNCHER,
    Gateway,
    Proc,
    RasaStack,
    free_port,
    peak_rss_mb,
    start,
    start_gateway,
    start_rasa_stack,
    wait_until,
)
from tests.e2e.traffic import CONVERSATIONS, Outcome, Population, collect, drive, goes_to_rasa, percentiles  # noqa: E402

OUT = ROOT / "bench" / "out"
P99_LIMIT_MS = 1000.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------- the machine


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_jiffies() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts), idle


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# ----------------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    rasa: RasaStack
    gw: Gateway
    proxy: Proc | None
    proxy_url: str | None  # any port of the proxy answers /_proxy/...
    rasa_direct_url: str

    def procs(self) -> dict[str, Proc]:
        out = {
            "gateway": self.gw.process,
            "rasa": self.rasa.rasa,
            "actions": self.rasa.actions,
            "fake_telegram": self.gw.procs[0],
        }
        if self.proxy is not None:
            out["timing_proxy"] = self.proxy
        return out

    def stop(self) -> None:
        self.gw.stop()
        self.rasa.stop()
        if self.proxy is not None:
            self.proxy.stop()


def start_stack(
    logdir: Path, use_proxy: bool, launcher: Path | None = RASA_LAUNCHER
) -> tuple[Stack, dict[str, Any]]:
    action_port, rasa_port = free_port(), free_port()
    proxy = proxy_url = None
    action_endpoint = None
    rasa_url_for_gateway = f"http://127.0.0.1:{rasa_port}"
    if use_proxy:
        p_rasa, p_actions = free_port(), free_port()
        proxy = start(
            "timing-proxy",
            [
                sys.executable,
                str(ROOT / "bench" / "load" / "timing_proxy.py"),
                "--route",
                f"rasa={p_rasa}:http://127.0.0.1:{rasa_port}",
                "--route",
                f"actions={p_actions}:http://127.0.0.1:{action_port}",
            ],
            {**os.environ, "PYTHONPATH": str(ROOT)},
            logdir,
        )
        proxy_url = f"http://127.0.0.1:{p_rasa}"
        wait_until(
            lambda: httpx.get(f"{proxy_url}/_proxy/records", timeout=2).status_code == 200,
            30,
            "the timing proxy",
            [proxy],
        )
        action_endpoint = f"http://127.0.0.1:{p_actions}/webhook"
        rasa_url_for_gateway = proxy_url
    t0 = time.monotonic()
    try:
        rasa = start_rasa_stack(
            logdir,
            action_endpoint=action_endpoint,
            action_port=action_port,
            rasa_port=rasa_port,
            launcher=launcher,
        )
    except BaseException:
        if proxy is not None:
            proxy.stop()
        raise
    t1 = time.monotonic()
    try:
        gw = start_gateway(rasa_url_for_gateway, rasa.token, logdir, logdir / "gateway.db")
    except BaseException:
        rasa.stop()
        if proxy is not None:
            proxy.stop()
        raise
    t2 = time.monotonic()
    startup = {
        "action_server_ready_s": rasa.ready_seconds.get("actions"),
        "rasa_model_loaded_s": rasa.ready_seconds.get("rasa"),
        "gateway_ready_after_rasa_s": round(t2 - t1, 1),
        "start_to_ready_s": round(t2 - t0, 1),
        "note": "action server and Rasa start together; the gateway starts once Rasa has loaded the model, "
        "as scripts/run.sh does. Set-up and training are not included.",
    }
    return Stack(rasa, gw, proxy, proxy_url, rasa.rasa_url), startup


# ----------------------------------------------------------------------------------------- phases


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


async def _direct(kind: str, url: str, rate: float, duration: float, prefix: str) -> dict[str, Any]:
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
                        f"{url}/api/chat", json={"user": f"{prefix}-{sender}", "text": text}
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
        s = asyncio.run(_direct(kind, url, rate, seconds, f"{kind}{int(rate)}-{time.monotonic_ns() % 10**6}"))
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


# ----------------------------------------------------------------------------------------- profile


def profile(stack: Stack, ids: UserIds, rate: float, seconds: int, logdir: Path) -> dict[str, Any] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return None
    targets = {
        "gateway": stack.gw.process.pid,
        "rasa": stack.rasa.rasa.pid,
        "actions": stack.rasa.actions.pid,
    }
    spies = {}
    for name, pid in targets.items():
        out = logdir / f"profile-{name}.folded"
        spies[name] = (
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--nonblocking",
                    "-r",
                    "100",
                    "-d",
                    str(seconds),
                    "-f",
                    "raw",
                    "-o",
                    str(out),
                    "-p",
                    str(pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            ),
            out,
        )
    time.sleep(1.0)
    reset(stack)
    sent = asyncio.run(drive(stack.gw.telegram, Population(ids.take(), 1), rate, seconds - 2))
    collect(stack.gw.telegram, sent, timeout=30)
    result: dict[str, Any] = {"rate": rate, "seconds": seconds, "sampling_hz": 100}
    for name, (proc, out) in spies.items():
        try:
            proc.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if out.exists():
            result[name] = summarise_profile(out)
        else:
            err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
            result[name] = {"error": err}
    return result


CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "rasa": [
        ("HTTP server (sanic)", "sanic/"),
        ("message processing (rasa/core/processor.py)", "rasa/core/processor.py"),
        ("NLU pipeline (rasa/nlu)", "rasa/nlu/"),
        ("DIET / TensorFlow", "tensorflow/"),
        ("policies (rasa/core/policies)", "rasa/core/policies/"),
        ("custom action calls (rasa/core/actions)", "rasa/core/actions/"),
        ("tracker and events (rasa/shared/core/trackers, events)", "rasa/shared/core/trackers.py"),
        ("tracker store / lock store", "rasa/core/tracker_store.py"),
        ("domain (rasa/shared/core/domain.py)", "rasa/shared/core/domain.py"),
        ("JSON (json/ujson)", "json/"),
        ("aiohttp client", "aiohttp/"),
        ("Rasa's graph runner (dask)", "dask/"),
        ("events (rasa/shared/core/events.py)", "rasa/shared/core/events.py"),
        ("jsonschema, all of it (py-spy cuts deep stacks, so not always under its caller)", "jsonschema/"),
        (
            "  action answer validated with jsonschema (RemoteAction._validate_action_result)",
            "_validate_action_result",
        ),
        ("    of which the schema re-checked against the meta-schema (check_schema)", "check_schema"),
    ],
    "gateway": [
        ("python-telegram-bot", "telegram/"),
        ("router (bot/conversation.py)", "bot/conversation.py"),
        ("store (bot/store)", "bot/store/"),
        ("SQLAlchemy", "sqlalchemy/"),
        ("sqlite3", "sqlite3"),
        ("Rasa client (bot/assistant.py)", "bot/assistant.py"),
        ("httpx / httpcore", "httpx/"),
        ("rendering (telegram_render)", "telegram_render.py"),
        ("rate limiter (aiolimiter)", "aiolimiter/"),
        ("Bot API: getUpdates", "get_updates ("),
        ("Bot API: sendMessage", "send_message ("),
        ("Bot API: sendChatAction (typing)", "send_chat_action ("),
        ("store: saving messages (Store._save)", "Store._save"),
        ("store: tickets (bot/store/tickets.py)", "bot/store/tickets.py"),
    ],
    "actions": [
        ("rasa_sdk", "rasa_sdk/"),
        ("our actions (actions/)", "(actions/"),
        ("knowledge base (knowledge/)", "knowledge/"),
        ("sanic", "sanic/"),
        ("JSON", "json/"),
    ],
}


# leaf frames of a thread that waits (uvloop and selectors in C, an idle thread pool): not work
IDLE_LEAVES = (
    "serve (sanic/server/runners.py",
    "select (selectors.py",
    "EpollSelector.select",
    "_worker (concurrent",
    "wait (threading.py",
    "_wait_for_tstate_lock",
    "get (queue.py",
)


def summarise_profile(path: Path) -> dict[str, Any]:
    """Folded stacks -> share of busy samples per category, and the heaviest frames (inclusive and self)."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = idle = 0
    stacks: list[tuple[list[str], int]] = []
    for raw in path.read_text(errors="replace").splitlines():
        head, _, count = raw.strip().rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [f for f in head.split(";") if f]
        if not frames or frames[-1].startswith(IDLE_LEAVES):
            idle += n
            continue
        stacks.append((frames, n))
        total += n
        for f in set(frames):
            inclusive[f] += n
        self_time[frames[-1]] += n
    name = path.stem.removeprefix("profile-")
    cats = {}
    for label, needle in CATEGORIES.get(name, []):
        hit = sum(n for frames, n in stacks if any(needle in f for f in frames))
        cats[label] = round(100 * hit / total, 1) if total else 0.0
    skip = (
        "<module>",
        "run_forever",
        "_run_once",
        "run (asyncio",
        "_run (asyncio",
        "run_until_complete",
        "main (",
        "serve (",
        "_bootstrap",
        "_run_module",
        "run (threading",
        "_worker (concurrent",
        "Handle._run",
        "run (sanic/app.py",
        "serve_single",
        "serve_application",
        "run (rasa/",
        "run_actions (",
        "main_from_args",
        "Thread.run",
    )
    top_incl = [
        (f, round(100 * n / total, 1)) for f, n in inclusive.most_common(120) if not any(s in f for s in skip)
    ][:25]
    top_self = [(f, round(100 * n / total, 1)) for f, n in self_time.most_common(15)]
    return {
        "busy_samples": total,
        "idle_samples": idle,
        "categories_pct_of_busy": cats,
        "top_inclusive_pct": top_incl,
        "top_self_pct": top_self,
    }


# ----------------------------------------------------------------------------------------- training


def time_training(logdir: Path) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="concilia-train-"))
    cmd = [
        str(RASA_BIN),
        "train",
        "--quiet",
        "--config",
        "config.yml",
        "--domain",
        "nlu/domain.yml",
        "--data",
        "nlu/data",
        "--out",
        str(out),
        "--fixed-model-name",
        "bench",
        "--num-threads",
        "2",
        "--force",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    t = time.monotonic()
    with (logdir / "train.log").open("w") as fh:
        rc = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=1800
        ).returncode
    seconds = round(time.monotonic() - t, 1)
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "exit_code": rc, "command": " ".join(cmd[1:]).replace(str(out), "<tmp>")}


# ----------------------------------------------------------------------------------------- report


def write_reports(report: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (OUT / "load.md").write_text(markdown(report))


def _fmt(v: Any) -> str:
    return "–" if v is None else str(v)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Load benchmark",
        "",
        f"Run {r['date']} with `{r['command']}` on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"load average at start {' '.join(m['loadavg_at_start'])}. Timing proxy: "
        f"{'yes' if r['proxy'] else 'no'}; Rasa started with `{r.get('rasa_launcher')}`. "
        "Other work on the machine took the share of CPU shown as 'others' below: "
        "the numbers are pessimistic when it is high.",
        "",
        "## Start-up",
        "",
        "| action server ready | Rasa model loaded | gateway ready after Rasa | start to ready |",
        "|---|---|---|---|",
        "| {action_server_ready_s} s | {rasa_model_loaded_s} s | {gateway_ready_after_rasa_s} s | "
        "{start_to_ready_s} s |".format(**r["startup"]),
        "",
        "## Through the gateway (fake Telegram -> gateway -> Rasa -> actions)",
        "",
        "| phase | offered msg/s | throughput | p50 ms | p95 ms | p99 ms | lost | dup | errors "
        "| CPU busy (others) | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["gateway_phases"]:
        errors = s["send_errors"] + s["unavailable_replies"] + s["rate_limited_replies"]
        lines.append(
            f"| {name} | {_fmt(s.get('offered_rate'))} | {_fmt(s.get('throughput'))} | {_fmt(s['p50_ms'])} "
            f"| {_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | {s['lost']} | {s['duplicated']} | {errors} "
            f"| {_fmt(s.get('machine_cpu_busy'))} ({_fmt(s.get('machine_cpu_busy_by_others'))}) "
            f"| {'pass' if s['passed'] else 'FAIL'} |"
        )
    lines += [
        "",
        f"Highest rate sustained through the gateway (p99 < 1 s, no error): "
        f"**{_fmt(r.get('ceiling_gateway'))} msg/s**.",
        "",
    ]
    chosen = [("steady phase", r["steady"])]
    best = next((ph for name, ph in reversed(r["gateway_phases"]) if ph.get("passed")), None)
    if best is not None and best is not r["steady"]:
        chosen.append((f"highest sustained rate, {best['rate']:g} msg/s", best))
    for title, phase in chosen:
        b = phase.get("breakdown")
        if b:
            lines += [
                f"## Where the time goes ({title}, per message)",
                "",
                "| part | p50 ms | p95 ms | mean ms |",
                "|---|---|---|---|",
            ]
            for key, label in (
                ("end_to_end", "end to end"),
                ("gateway_in", "gateway in (update queued -> Rasa call starts)"),
                ("rasa_total", "Rasa call (with actions)"),
                ("rasa_without_actions", "Rasa without actions"),
                ("actions", "action server calls"),
                ("gateway_out", "gateway out (Rasa answered -> reply at Telegram)"),
                ("gateway_total", "gateway and Telegram round trips (in + out)"),
            ):
                v = b.get(key) or {}
                p50, p95, mean = (_fmt(v.get(k)) for k in ("p50_ms", "p95_ms", "mean_ms"))
                lines.append(f"| {label} | {p50} | {p95} | {mean} |")
            lines += [
                "",
                f"{b['messages_matched']} messages matched to their Rasa call "
                f"({b['messages_not_matched']} not matched); "
                f"{b.get('action_calls_per_message')} action calls per message, "
                f"request body {b.get('action_request_kb_mean')} KB on average "
                "(the whole tracker; the domain too unless enable_selective_domain is set).",
                "",
            ]
        tc = phase.get("telegram_calls", {})
        lines += [
            f"CPU per message ({title}, ms of CPU time): "
            + ", ".join(f"{k} {v}" for k, v in phase.get("cpu_ms_per_message", {}).items())
            + f". Bot API calls: {tc.get('calls')}; busiest second: {tc.get('max_chat_calls_in_one_second')} "
            "calls with a chat_id.",
            "",
        ]
    for key, title, ceiling in (
        ("rasa_direct", "Rasa alone (REST channel, same messages, same machine)", "ceiling_rasa"),
        (
            "web_direct",
            "Gateway without Telegram (web chat API -> router, store -> Rasa -> actions)",
            "ceiling_web",
        ),
    ):
        if not r.get(key):
            continue
        lines += [
            f"## {title}",
            "",
            "| offered msg/s | throughput | p50 ms | p95 ms | p99 ms | errors | CPU ms per message "
            "| result |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in r[key]:
            cpu = ", ".join(f"{k} {v}" for k, v in s.get("cpu_ms_per_message", {}).items())
            lines.append(
                f"| {s['rate']} | {s['throughput']} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} "
                f"| {_fmt(s['p99_ms'])} | {s['errors']} | {cpu} | {'pass' if s['passed'] else 'FAIL'} |"
            )
        lines += ["", f"Highest rate sustained: **{_fmt(r.get(ceiling))} msg/s**.", ""]
    lines += ["## Peak memory (VmHWM)", "", "| process | MB |", "|---|---|"]
    for k, v in r["peak_rss_mb"].items():
        lines.append(f"| {k} | {_fmt(v)} |")
    lines += ["", "## Training", ""]
    t = r.get("training")
    lines.append(
        f"`rasa train` (full, forced): {t['seconds']} s (exit {t['exit_code']})."
        if t
        else "Not measured in this run (use `--train`)."
    )
    prof = r.get("profile")
    if prof:
        lines += [
            "",
            f"## Profile (py-spy, {prof['sampling_hz']} Hz, {prof['seconds']} s at {prof['rate']} msg/s)",
            "",
        ]
        for name in ("rasa", "gateway", "actions"):
            p = prof.get(name) or {}
            if "categories_pct_of_busy" not in p:
                lines.append(f"{name}: no profile ({p.get('error', 'py-spy failed')})")
                continue
            lines += [
                f"**{name}** ({p['busy_samples']} busy samples, {p['idle_samples']} idle ones left out): "
                "share of the busy samples that pass through each part (categories overlap):",
                "",
            ]
            lines += [f"- {label}: {pct} %" for label, pct in p["categories_pct_of_busy"].items()]
            lines += ["", "Heaviest frames (inclusive):", ""]
            lines += [f"- {pct} % `{frame}`" for frame, pct in p["top_inclusive_pct"][:12]]
            lines.append("")
    lines += [
        "",
        "Targets (issue 5): 30 msg/s with p99 < 500 ms, ceiling ≥ 60 msg/s, gateway overhead < 5 ms at "
        "the median, no lost or duplicated reply, gateway < 150 MB, training < 3 min, ready within 60 s.",
        "",
    ]
    return "\n".join(lines)


def print_table(r: dict[str, Any]) -> None:
    print()
    print(
        f"{'phase':<14}{'rate':>6}{'thru':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'lost':>6}{'dup':>5}{'err':>5}  result"
    )
    for name, s in r["gateway_phases"]:
        err = s["send_errors"] + s["unavailable_replies"] + s["rate_limited_replies"]
        print(
            f"{name:<14}{s.get('offered_rate') or 0:>6}{s.get('throughput') or 0:>7}{_fmt(s['p50_ms']):>8}"
            f"{_fmt(s['p95_ms']):>8}{_fmt(s['p99_ms']):>8}{s['lost']:>6}{s['duplicated']:>5}{err:>5}  "
            f"{'pass' if s['passed'] else 'FAIL'}"
        )
    for key, label in (("rasa_direct", "rasa alone"), ("web_direct", "web API")):
        for s in r.get(key) or []:
            print(
                f"{label:<14}{s['rate']:>6}{s['throughput']:>7}{_fmt(s['p50_ms']):>8}"
                f"{_fmt(s['p95_ms']):>8}{_fmt(s['p99_ms']):>8}{'':>6}{'':>5}{s['errors']:>5}  "
                f"{'pass' if s['passed'] else 'FAIL'}"
            )
    print(
        f"\nceiling through the gateway: {r.get('ceiling_gateway')} msg/s; "
        f"Rasa alone: {r.get('ceiling_rasa')} msg/s; web chat API: {r.get('ceiling_web')} msg/s"
    )
    print(f"start-up: {r['startup']}")
    print(f"peak RSS MB: {r['peak_rss_mb']}")
    b = r["steady"].get("breakdown")
    if b:
        print(
            "steady breakdown p50 ms: "
            + ", ".join(
                f"{k} {b[k]['p50_ms']}"
                for k in ("end_to_end", "gateway_in", "rasa_total", "actions", "gateway_out", "gateway_total")
                if isinstance(b.get(k), dict)
            )
        )
    print(f"training: {r.get('training')}")
    print(f"\nwritten: {OUT / 'load.json'}, {OUT / 'load.md'}")


# ----------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=30.0, help="steady rate, messages a second (default 30)")
    ap.add_argument("--duration", type=float, default=60.0, help="steady phase, seconds (default 60)")
    ap.add_argument("--steps-up", default="40,50,60,80,100", help="rates tried above the steady rate")
    ap.add_argument("--steps-down", default="20,15,10,7,5,3", help="rates tried when the steady rate fails")
    ap.add_argument("--step-seconds", type=float, default=20.0)
    ap.add_argument(
        "--direct-steps",
        default="5,10,20,30,40,50,60,80,100",
        help="rates for Rasa alone and for the web chat API",
    )
    ap.add_argument("--quick", action="store_true", help="20 s steady, 10 s steps")
    ap.add_argument("--no-proxy", action="store_true", help="no timing proxy (no per-part breakdown)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--no-rasa-alone", action="store_true")
    ap.add_argument("--no-web", action="store_true", help="skip the web chat API phase")
    ap.add_argument(
        "--rasa-plain",
        action="store_true",
        help="start the plain `rasa` command instead of scripts/rasa_server.py (as before its fix)",
    )
    ap.add_argument("--train", action="store_true", help="also time a full `rasa train` (into a temp dir)")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 20.0)
        args.step_seconds = min(args.step_seconds, 10.0)
    if not MODEL.exists() or not RASA_BIN.exists():
        print(
            "The Rasa environment or the trained model is missing: run `make test` (or `make run`) first.",
            file=sys.stderr,
        )
        return 2

    logdir = OUT / "load-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/load/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "proxy": not args.no_proxy,
        "criteria": {"p99_ms_below": P99_LIMIT_MS, "errors": 0, "lost": 0, "duplicated": 0},
    }
    print(f"==> starting the stack (logs in {logdir})", flush=True)
    launcher = None if args.rasa_plain else RASA_LAUNCHER
    report["rasa_launcher"] = str(launcher.relative_to(ROOT)) if launcher else "rasa"
    stack, report["startup"] = start_stack(logdir, use_proxy=not args.no_proxy, launcher=launcher)
    print(f"    {report['startup']}", flush=True)
    ids = UserIds()
    phases: list[tuple[str, dict[str, Any]]] = []
    try:
        print("==> warm-up: 10 s at 5 msg/s", flush=True)
        gateway_phase(stack, ids, "warm-up", 5, 10)
        quiesce(stack)

        print(f"==> steady: {args.duration:.0f} s at {args.rate:g} msg/s", flush=True)
        steady = gateway_phase(stack, ids, "steady", args.rate, args.duration)
        phases.append((f"steady {args.rate:g}", steady))
        report["steady"] = steady
        report["after_steady_drain_s"] = quiesce(stack)

        ceiling = args.rate if steady["passed"] else None
        up = steady["passed"]
        steps = [float(x) for x in (args.steps_up if up else args.steps_down).split(",") if x]
        steps = [s for s in steps if (s > args.rate if up else s < args.rate)]
        print(
            f"==> step search {'up' if up else 'down'}: {steps} msg/s, {args.step_seconds:g} s each",
            flush=True,
        )
        for rate in steps:
            s = gateway_phase(stack, ids, f"step {rate:g}", rate, args.step_seconds)
            phases.append((f"step {rate:g}", s))
            quiesce(stack)
            if up and not s["passed"]:
                break
            if up:
                ceiling = rate
            elif s["passed"]:
                ceiling = rate
                break
        report["ceiling_gateway"] = ceiling
        report["gateway_phases"] = phases

        rates = [float(x) for x in args.direct_steps.split(",") if x]
        if not args.no_rasa_alone:
            print("==> Rasa alone (REST channel, bypassing the gateway and the proxy)", flush=True)
            report["rasa_direct"], report["ceiling_rasa"] = direct_steps(
                stack, "rasa", rates, args.step_seconds
            )
        if not args.no_web:
            print("==> web chat API (gateway without Telegram -> Rasa -> actions)", flush=True)
            report["web_direct"], report["ceiling_web"] = direct_steps(stack, "web", rates, args.step_seconds)

        if not args.no_profile:
            rate = max(ceiling or 0, 10.0)  # enough samples; the share of each part hardly depends on it
            print(f"==> profile: 20 s at {rate:g} msg/s with py-spy", flush=True)
            quiesce(stack)
            report["profile"] = profile(stack, ids, rate, 20, logdir)
            if report["profile"] is None:
                print("    py-spy not found: `.venv/bin/pip install py-spy` to profile", flush=True)

        report["peak_rss_mb"] = {k: peak_rss_mb(p.pid) for k, p in stack.procs().items()}
        report["all_processes_alive"] = {k: p.alive for k, p in stack.procs().items()}
    finally:
        stack.stop()
    report["gateway_phases"] = phases
    report.setdefault("steady", {})
    report["training"] = None
    if args.train:
        print("==> timing `rasa train` (forced, into a temporary folder)", flush=True)
        report["training"] = time_training(logdir)
    write_reports(report)
    print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

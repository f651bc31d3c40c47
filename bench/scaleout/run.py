"""Scale-out benchmark: Concilia as in production (docs/deploy.md), on this machine's loopback: two gateways
and two Rasa servers behind a load balancer, sharing PostgreSQL and Redis, with simulated Telegram users.

One command, from the project root, once the environments exist and the model is trained (`make run` or
`make test` did both), with PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379:

    .venv/bin/python bench/scaleout/run.py                                  # about 4 minutes
    .venv/bin/python bench/scaleout/run.py --rates 10 --seconds 15 --failover-seconds 0     # about 1

It prints a markdown summary and writes it to bench/out/scaleout.md (numbers in bench/out/scaleout.json,
process logs in bench/out/scaleout-logs/).

What runs (every port a free loopback port):

* PostgreSQL: two databases made afresh for the run (``--gateway-db``, ``--rasa-db``; dropped first if
  they exist): the gateways' (``DATABASE_URL``) and Rasa's tracker store;
* Redis: Rasa's lock store, in database ``--redis-db`` (only checked and read here, never flushed);
* one action server and two Rasa servers (scripts/rasa_server.py, with deploy/endpoints.scaleout.yml: Redis
  lock store, SQL tracker store with erasure);
* bench/scaleout/balancer.py: round robin over the two Rasa servers (plain HTTP, as on a private network)
  and over the two gateways' webhook listeners (HTTPS with a certificate made for the run, because the
  gateway accepts only an https:// webhook URL, as Telegram does; the fake Telegram server trusts it
  through ``SSL_CERT_FILE``);
* the fake Telegram Bot API server (harness/fake_telegram), which POSTs each update to the webhook with the
  secret header; two gateways (``concilia run``, ``TELEGRAM_MODE=webhook``), the second started once the
  first has upgraded the schema.

Then:

1. continuity: one person asks for summer camps in Corbetta, opens a service's details and asks "e quanto
   costa?"; each step goes to the other gateway and the other Rasa server (round robin, nobody else
   writing), and the answer must be that service's cost; both Rasa servers must return the same tracker;
2. warm-up (10 s at 5 msg/s, not counted);
3. load: each rate of ``--rates`` for ``--seconds`` (people following the conversations of
   harness/traffic.py, as bench/load/run.py does; an odd number of them, so that with round robin each
   person's next message goes to the other gateway, the hardest case for shared state): throughput,
   latency from update to reply, lost and duplicated replies, how many updates each gateway and how many
   calls each Rasa server got (balancer counters), how often a person's next message went to another
   gateway or Rasa server, and whether "e quanto costa?" was answered with prices; CPU per message of each
   process, PostgreSQL and Redis;
4. peak memory (VmHWM) of every process;
5. failover (``--failover-seconds``, 0 to skip): a third of the way into a phase at ``--failover-rate``,
   gateway-b and rasa-b are stopped (SIGTERM); the balancer sends everything to the others;
6. Redis locks left behind, rows in Rasa's tracker store and in the gateways' database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import httpx
import psycopg

from bench import ROOT
from bench.load.machine import CLK_TCK, cpu_seconds, machine, machine_jiffies
from bench.load.phases import UserIds, passes, quiesce
from bot.assistant.rasa import rasa_auth_headers
from harness.stack import (
    BOT_TOKEN,
    CONCILIA,
    MODEL,
    RASA_BIN,
    RASA_LAUNCHER,
    Gateway,
    Proc,
    RasaStack,
    actions_cmd,
    free_port,
    peak_rss_mb,
    rasa_cmd,
    rasa_env,
    start,
    start_fake_telegram,
    wait_until,
)
from harness.telegram_user import TelegramUser, text_of
from harness.traffic import Population, collect, drive
from knowledge import load as load_knowledge

OUT = ROOT / "bench" / "out"
ENDPOINTS = ROOT / "deploy" / "endpoints.scaleout.yml"
BALANCER = ROOT / "bench" / "scaleout" / "balancer.py"
REST_PATH = "/webhooks/rest/webhook"
WEBHOOK_PATH = "/telegram"
MIN_GAP = 3.5  # seconds between two messages of one person (drive()'s default, under the flood limit)


# ----------------------------------------------------------------------------------------- services


def fresh_database(admin_url: str, name: str) -> None:
    """Drop (closing its connections) and create database ``name``."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"database name {name!r}: letters, digits and _ only")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def redis_command(host: str, port: int, db: int, command: str) -> str:
    """One inline Redis command in database ``db``; returns the reply line (``+PONG``, ``:0``, ...)."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"SELECT {db}\r\n{command}\r\n".encode())
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    lines = data.decode().split("\r\n")
    if lines[0] != "+OK":
        raise RuntimeError(f"Redis answered {lines[0]!r} to SELECT {db}")
    return lines[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the balancer's HTTPS side), valid two days."""
    cert, key = folder / "balancer-cert.pem", folder / "balancer-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


# ----------------------------------------------------------------------------------------- the stack


@dataclass
class ScaleStack:
    """Everything started by :func:`start_stack`, for the phases and for stopping."""

    procs: dict[str, Proc]
    rasa_urls: dict[str, str]  # name -> direct URL of each Rasa server
    gateways: dict[str, Gateway]
    telegram: str  # the fake Telegram server
    admin: str  # the balancer's admin API
    rasa_token: str
    gateway_db_url: str
    ready_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gw(self) -> Gateway:
        """The first gateway: bench/load's helpers find the fake Telegram server through ``stack.gw``."""
        return next(iter(self.gateways.values()))

    def upstream_names(self) -> dict[str, str]:
        """Upstream URL (as the balancer reports it) -> process name."""
        out = {url: name for name, url in self.rasa_urls.items()}
        for name, gw in self.gateways.items():
            out[gw.env["WEBHOOK_UPSTREAM"]] = name
        return out

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def start_stack(args: argparse.Namespace, logdir: Path) -> ScaleStack:
    admin_url = args.postgres
    pg = urlsplit(admin_url)
    fresh_database(admin_url, args.gateway_db)
    fresh_database(admin_url, args.rasa_db)
    pong = redis_command(args.redis_host, args.redis_port, args.redis_db, "PING")
    if pong != "+PONG":
        raise RuntimeError(f"Redis answered {pong!r} to PING")
    cert, key = self_signed_certificate(logdir)

    token = secrets.token_hex(16)
    ports = {name: free_port() for name in ("actions", "rasa-a", "rasa-b", "lb-rasa", "lb-telegram", "admin")}
    env_rasa = {
        **rasa_env(token),
        "ACTION_SERVER_URL": f"http://127.0.0.1:{ports['actions']}/webhook",
        "REDIS_HOST": args.redis_host,
        "REDIS_PORT": str(args.redis_port),
        "REDIS_PASSWORD": "",
        "REDIS_DB": str(args.redis_db),
        "RASA_DB_HOST": pg.hostname or "127.0.0.1",
        "RASA_DB_PORT": str(pg.port or 5432),
        "RASA_DB_NAME": args.rasa_db,
        "RASA_DB_USER": pg.username or "postgres",
        "RASA_DB_PASSWORD": pg.password or "",
    }
    launcher = None if args.plain_rasa else RASA_LAUNCHER
    procs: dict[str, Proc] = {}
    stack = ScaleStack(procs, {}, {}, "", f"http://127.0.0.1:{ports['admin']}", token, "")
    t0 = time.monotonic()
    try:
        procs["actions"] = start("actions", actions_cmd(ports["actions"]), env_rasa, logdir)
        for name in ("rasa-a", "rasa-b"):
            cmd = rasa_cmd(ports[name], ENDPOINTS, launcher)
            procs[name] = start(name, cmd, env_rasa, logdir)
            stack.rasa_urls[name] = f"http://127.0.0.1:{ports[name]}"
        webhook_ports = {"gateway-a": free_port(), "gateway-b": free_port()}
        upstreams = ",".join(f"http://127.0.0.1:{p}" for p in webhook_ports.values())
        procs["balancer"] = start(
            "balancer",
            [sys.executable, str(BALANCER), "--admin-port", str(ports["admin"])]
            + ["--route", f"rasa={ports['lb-rasa']}:" + ",".join(stack.rasa_urls.values())]
            + ["--route", f"telegram={ports['lb-telegram']}:{upstreams}"]
            + ["--tls", f"telegram={cert}:{key}"],
            {**os.environ, "PYTHONPATH": str(ROOT)},
            logdir,
        )
        with mock.patch.dict(os.environ, {"SSL_CERT_FILE": str(cert)}):
            procs["fake-telegram"], stack.telegram = start_fake_telegram(logdir)
        wait_rasa(stack, env_rasa, t0)

        db_url = f"postgresql+psycopg://{pg.netloc}/{args.gateway_db}"
        stack.gateway_db_url = db_url
        common = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_BASE": f"{stack.telegram}/bot",
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": f"https://127.0.0.1:{ports['lb-telegram']}{WEBHOOK_PATH}",
            "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "DATABASE_URL": db_url,
            "RASA_URL": f"http://127.0.0.1:{ports['lb-rasa']}",
            "RASA_TOKEN": token,
            "WEB_HOST": "127.0.0.1",
        }
        for name, port in webhook_ports.items():  # one after the other: the first upgrades the schema
            web_port = free_port()
            env = {
                **common,
                "TELEGRAM_WEBHOOK_PORT": str(port),
                "WEB_PORT": str(web_port),
                "GATEWAY_NAME": name,  # unique per gateway (the default, the host name, is not here)
                "SPOOL_DIR": str(logdir / f"spool-{name}"),
                "WEBHOOK_UPSTREAM": f"http://127.0.0.1:{port}",  # read by nobody but this script
            }
            procs[name] = start(name, [str(CONCILIA), "run"], env, logdir)
            gw = Gateway(f"http://127.0.0.1:{web_port}", stack.telegram, Path(), [procs[name]], env, logdir)
            wait_until(gw.healthy, 90, name, [procs[name]])
            stack.gateways[name] = gw
            stack.ready_seconds[name] = round(time.monotonic() - t0, 1)
        state = httpx.get(f"{stack.telegram}/_test/state", timeout=5).json()
        if not (state.get("webhook") or {}).get("has_secret"):
            raise RuntimeError(f"the gateways did not set the webhook: {state.get('webhook')}")
    except BaseException:
        stack.stop()
        raise
    return stack


def wait_rasa(stack: ScaleStack, env: dict[str, str], t0: float) -> None:
    """Wait until the action server answers and both Rasa servers have loaded the model (they load side
    by side, so each one's time is when it was found ready, checked in the order they usually get there)."""
    port = int(env["ACTION_SERVER_URL"].rsplit(":", 1)[1].split("/")[0])
    checks = {"actions": RasaStack("", "", port).actions_ready}
    for name, url in stack.rasa_urls.items():
        checks[name] = RasaStack(url, stack.rasa_token, 0).rasa_ready
    for name, check in checks.items():
        wait_until(check, 300, name, list(stack.procs.values()))
        stack.ready_seconds[name] = round(time.monotonic() - t0, 1)


# ----------------------------------------------------------------------------------------- balancer


def reset(stack: ScaleStack) -> None:
    httpx.post(f"{stack.telegram}/_test/reset", timeout=10).raise_for_status()
    httpx.post(f"{stack.admin}/reset", timeout=10).raise_for_status()


def balancer_log(stack: ScaleStack, since: float = 0.0) -> list[dict[str, Any]]:
    r = httpx.get(f"{stack.admin}/log", params={"since": since}, timeout=60)
    r.raise_for_status()
    return r.json()


def rasa_sender_of(stack: ScaleStack) -> dict[str, int]:
    """Rasa's conversation id -> Telegram chat, from the gateways' database (the ids are opaque)."""
    url = stack.gateway_db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT rasa_sender_id, channel_user_key FROM users WHERE channel = 'telegram'"
        ).fetchall()
    return {sender: int(chat) for sender, chat in rows}


def routing(stack: ScaleStack, since: float) -> dict[str, Any]:
    """Per process: requests it got; per person: how often the next message went to another process."""
    names = stack.upstream_names()
    chat_of = rasa_sender_of(stack)
    handled: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    path_of: dict[str, str] = {"telegram": WEBHOOK_PATH, "rasa": REST_PATH}
    sequence: dict[tuple[str, int], list[str]] = defaultdict(list)  # (route, chat) -> processes in order
    for rec in sorted(balancer_log(stack, since), key=lambda r: r["start"]):
        if rec.get("path") != path_of.get(rec["route"]):
            continue
        name = names.get(rec.get("upstream") or "", "none")
        handled[name] += 1
        if rec.get("status") != 200:
            failed[name] += 1
        key = rec.get("key")
        chat = int(key) if rec["route"] == "telegram" and key and key.lstrip("-").isdigit() else None
        if rec["route"] == "rasa":
            chat = chat_of.get(key or "")
        if chat is not None:
            sequence[(rec["route"], chat)].append(name)
    switched = {}
    for route in ("telegram", "rasa"):
        pairs = [
            (a != b)
            for (r, _), seq in sequence.items()
            if r == route
            for a, b in zip(seq, seq[1:], strict=False)
        ]
        switched[route] = {
            "pairs": len(pairs),
            "other_process_pct": round(100 * sum(pairs) / len(pairs), 1) if pairs else None,
        }
    return {
        "handled": dict(sorted(handled.items())),
        "not_200": dict(failed),
        "next_message_switched": switched,
    }


def service_cpu(command: str) -> dict[int, float]:
    """CPU seconds of every process named ``command`` (PostgreSQL's backends, Redis), by pid."""
    out: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == command:
                    out[int(proc.name)] = cpu_seconds(int(proc.name)) or 0.0
            except OSError:
                continue
    return out


def _services_cpu() -> dict[str, dict[int, float]]:
    return {"postgresql (all)": service_cpu("postgres"), "redis (all)": service_cpu("redis-server")}


# ----------------------------------------------------------------------------------------- phases


def continuity(stack: ScaleStack, user_id: int) -> dict[str, Any]:
    """One person, three steps, nobody else writing: each step lands on the other gateway and Rasa server,
    and the follow-up is answered about the service just opened."""
    kb = load_knowledge()
    reset(stack)
    since = time.time()
    user = TelegramUser(stack.telegram, user_id)
    asked = "ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni"
    answer = user.say(asked)
    camps = [s for s in kb.services if s.kind == "summer_camp" and s.title in text_of(answer)]
    details = user.press(answer[-1], "Dettagli")
    opened = next((s for s in camps if text_of(details).startswith(s.title)), None)
    cost = user.say("e quanto costa?")
    time.sleep(0.3)
    names = stack.upstream_names()
    sender = next((s for s, chat in rasa_sender_of(stack).items() if chat == user_id), None)
    steps: dict[str, list[str]] = {"telegram": [], "rasa": []}
    for rec in sorted(balancer_log(stack, since), key=lambda r: r["start"]):
        if rec["route"] == "telegram" and rec.get("key") == str(user_id):
            steps["telegram"].append(names.get(rec.get("upstream") or "", "none"))
        elif rec["route"] == "rasa" and rec.get("key") == sender and rec["path"] == REST_PATH:
            steps["rasa"].append(names.get(rec.get("upstream") or "", "none"))
    trackers = {}
    for name, url in stack.rasa_urls.items():
        headers = rasa_auth_headers(stack.rasa_token)
        r = httpx.get(f"{url}/conversations/{sender}/tracker", headers=headers, timeout=30)
        events = r.json().get("events", [])
        trackers[name] = {
            "events": len(events),
            "said": [e.get("text") for e in events if e.get("event") == "user"],
        }
    same_tracker = len({json.dumps(t, sort_keys=True) for t in trackers.values()}) == 1
    cost_ok = opened is not None and opened.cost in text_of(cost)
    return {
        "said": [asked, "(button) Dettagli", "e quanto costa?"],
        "gateways": steps["telegram"],
        "rasa_servers": steps["rasa"],
        "service_opened": opened.title if opened else None,
        "cost_answer": text_of(cost)[:300],
        "cost_answer_has_that_cost": cost_ok,
        "trackers": trackers,
        "same_tracker_on_both": same_tracker,
        "passed": cost_ok
        and same_tracker
        and len(set(steps["telegram"])) == 2
        and len(set(steps["rasa"])) == 2,
    }


def load_phase(stack: ScaleStack, ids: UserIds, rate: float, seconds: float) -> dict[str, Any]:
    reset(stack)
    cpu0 = {k: cpu_seconds(p.pid) for k, p in stack.procs.items()}
    services0 = _services_cpu()
    m0 = machine_jiffies()
    since = time.time()
    # as many people as drive() needs, made odd: with round robin over two gateways, each person's next
    # message then goes to the other gateway (with an even number it would always go to the same one)
    people = math.ceil(rate * MIN_GAP) + 1
    population = Population(ids.take(), people + (people % 2 == 0))
    sent = asyncio.run(drive(stack.telegram, population, rate, seconds, min_gap=MIN_GAP))
    outcome = collect(stack.telegram, sent, timeout=30 + 1.5 * seconds)
    m1 = machine_jiffies()
    cpu1 = {k: cpu_seconds(p.pid) for k, p in stack.procs.items()}
    services1 = _services_cpu()
    s = outcome.summary(seconds)
    answered = max(1, s["answered"])
    s["rate"], s["duration_s"], s["drain_s"] = rate, seconds, round(outcome.waited, 1)
    s["cpu_ms_per_message"] = {
        k: round((cpu1[k] - cpu0[k]) / answered * 1000, 1)
        for k in stack.procs
        if cpu0[k] is not None and cpu1[k] is not None
    }
    for name, after in services1.items():
        used = sum(t - services0[name].get(pid, 0.0) for pid, t in after.items())
        s["cpu_ms_per_message"][name] = round(used / answered * 1000, 1)
    total, idle = m1[0] - m0[0], m1[1] - m0[1]
    ours = sum(s["cpu_ms_per_message"].values()) / 1000 * answered * CLK_TCK
    s["machine_cpu_busy"] = round(1 - idle / total, 2) if total else None
    s["machine_cpu_busy_by_others"] = round(max(0.0, (total - idle - ours) / total), 2) if total else None
    s["passed"] = passes(s)
    s["routing"] = routing(stack, since)
    followups = [p for p in outcome.pairs if p.sent.text == "e quanto costa?" and p.reply is not None]
    s["cost_followups"] = {
        "answered": len(followups),
        "with_a_price": sum(1 for p in followups if "€" in p.text or "gratuit" in p.text.lower()),
    }
    print(
        f"    {rate:g} msg/s: {s['answered']}/{s['sent']} answered, throughput {s.get('throughput')}, "
        f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, lost {s['lost']}, "
        f"dup {s['duplicated']}; {s['routing']['handled']}",
        flush=True,
    )
    return s


def failover_phase(stack: ScaleStack, ids: UserIds, rate: float, seconds: float) -> dict[str, Any]:
    """A gateway and a Rasa server stopped (SIGTERM) a third of the way into a load phase: the balancer
    sends everything to the others; what was in hand on the stopped ones is finished or told to retry."""
    victims = ["gateway-b", "rasa-b"]
    timer = threading.Timer(seconds / 3, lambda: [stack.procs[v].stop() for v in victims])
    timer.start()
    try:
        s = load_phase(stack, ids, rate, seconds)
    finally:
        timer.join()
    s["stopped"] = victims
    s["stopped_after_s"] = round(seconds / 3, 1)
    return s


def leftovers(stack: ScaleStack, args: argparse.Namespace) -> dict[str, Any]:
    locks = redis_command(args.redis_host, args.redis_port, args.redis_db, "DBSIZE")
    pg = urlsplit(args.postgres)
    rasa_db = pg._replace(path=f"/{args.rasa_db}").geturl()
    with psycopg.connect(rasa_db) as conn:
        row = conn.execute("SELECT count(DISTINCT sender_id), count(*) FROM events").fetchone()
    with psycopg.connect(stack.gateway_db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        users = conn.execute("SELECT count(*) FROM users").fetchone()
    return {
        "redis_keys_left_in_lock_db": int(locks.lstrip(":")),
        "rasa_tracker_store_conversations": row[0] if row else None,
        "rasa_tracker_store_events": row[1] if row else None,
        "gateway_users": users[0] if users else None,
    }


# ----------------------------------------------------------------------------------------- report


def _f(v: Any) -> str:
    return "–" if v is None else str(v)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    c = r["continuity"]
    lines = [
        "# Scale-out benchmark",
        "",
        f"Run {r['date']} with `{r['command']}` on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"load average at start {' '.join(m['loadavg_at_start'])}. Everything on one machine: two gateways "
        "(webhook mode) and two Rasa servers behind bench/scaleout/balancer.py (round robin), one action "
        "server, PostgreSQL (gateways' database and Rasa's tracker store), Redis (Rasa's lock store), the "
        f"fake Telegram server. Rasa started with `{r['rasa_launcher']}`.",
        "",
        "Ready (seconds from the start, Rasa servers loading the model side by side): "
        + ", ".join(f"{k} {v}" for k, v in r["ready_seconds"].items())
        + ".",
        "",
        "## Continuity: one person, consecutive messages on different processes",
        "",
        "| step | said | gateway | Rasa server |",
        "|---|---|---|---|",
    ]
    for i, said in enumerate(c["said"]):
        gw = c["gateways"][i] if i < len(c["gateways"]) else "–"
        rasa = c["rasa_servers"][i] if i < len(c["rasa_servers"]) else "–"
        lines.append(f"| {i + 1} | {said} | {gw} | {rasa} |")
    lines += [
        "",
        f'Service opened: {_f(c["service_opened"])}; the answer to "e quanto costa?" gives its cost: '
        f"**{'yes' if c['cost_answer_has_that_cost'] else 'NO'}**. Tracker read from each Rasa server: "
        + "; ".join(f"{k} {v['events']} events" for k, v in c["trackers"].items())
        + f" (identical: **{'yes' if c['same_tracker_on_both'] else 'NO'}**). "
        f"Result: **{'pass' if c['passed'] else 'FAIL'}**.",
        "",
        "## Load (fake Telegram -> balancer -> 2 gateways -> balancer -> 2 Rasa servers -> actions)",
        "",
        "| offered msg/s | throughput | p50 ms | p95 ms | p99 ms | lost | dup | errors "
        "| CPU busy (others) | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["load"]:
        errors = s["send_errors"] + s["unavailable_replies"] + s["rate_limited_replies"]
        lines.append(
            f"| {_f(s.get('offered_rate'))} | {_f(s.get('throughput'))} | {_f(s['p50_ms'])} "
            f"| {_f(s['p95_ms'])} | {_f(s['p99_ms'])} | {s['lost']} | {s['duplicated']} | {errors} "
            f"| {_f(s['machine_cpu_busy'])} ({_f(s['machine_cpu_busy_by_others'])}) "
            f"| {'pass' if s['passed'] else 'FAIL'} |"
        )
    lines += [
        "",
        "Pass: p99 under 1 s, nothing lost or duplicated, nobody told to retry (bench/load's criterion).",
        "",
        "| offered msg/s | updates per gateway | REST calls per Rasa server | next message on another "
        'gateway / Rasa server | "e quanto costa?" answered with a price |',
        "|---|---|---|---|---|",
    ]
    for s in r["load"]:
        h, sw, f = s["routing"]["handled"], s["routing"]["next_message_switched"], s["cost_followups"]
        gws = ", ".join(f"{k} {v}" for k, v in h.items() if k.startswith("gateway"))
        rasas = ", ".join(f"{k} {v}" for k, v in h.items() if k.startswith("rasa"))
        lines.append(
            f"| {_f(s.get('offered_rate'))} | {gws} | {rasas} "
            f"| {_f(sw['telegram']['other_process_pct'])} % / {_f(sw['rasa']['other_process_pct'])} % "
            f"| {f['with_a_price']} of {f['answered']} |"
        )
    lines += ["", "CPU per answered message (ms of CPU time):", ""]
    for s in r["load"]:
        cpu = ", ".join(f"{k} {v}" for k, v in s["cpu_ms_per_message"].items())
        lines.append(f"- {s['rate']:g} msg/s: {cpu}")
    fo = r.get("failover")
    if fo:
        h = fo["routing"]["handled"]
        lines += [
            "",
            f"## Failover: {', '.join(fo['stopped'])} stopped (SIGTERM) {fo['stopped_after_s']} s into "
            f"{fo['duration_s']:g} s at {fo['rate']:g} msg/s",
            "",
            f"{fo['answered']} of {fo['sent']} messages answered ({fo['unavailable_replies']} of them with "
            f'"non è disponibile, riprova"), {fo["lost"]} lost, {fo["duplicated"]} duplicated; '
            f"p50 {_f(fo['p50_ms'])} ms, p99 {_f(fo['p99_ms'])} ms. Handled: "
            + ", ".join(f"{k} {v}" for k, v in h.items())
            + f"; answers other than 200 through the balancer: {fo['routing']['not_200'] or 'none'}.",
        ]
    lines += ["", "## Peak memory (VmHWM, before the failover phase)", "", "| process | MB |", "|---|---|"]
    lines += [f"| {k} | {_f(v)} |" for k, v in r["peak_rss_mb"].items()]
    lo = r["after"]
    lines += [
        "",
        f"After the run: {lo['redis_keys_left_in_lock_db']} keys left in Redis's lock database (no lock left "
        f"behind); Rasa's tracker store holds {lo['rasa_tracker_store_conversations']} conversations "
        f"({lo['rasa_tracker_store_events']} events); the gateways' database {lo['gateway_users']} users. "
        f"All processes alive after the load phases: {'yes' if all(r['alive'].values()) else r['alive']}.",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="10,20", help="offered rates, messages a second (default 10,20)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each load phase (default 30)")
    ap.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="admin connection"
    )
    ap.add_argument("--gateway-db", default="concilia_scale", help="made afresh for the run")
    ap.add_argument("--rasa-db", default="concilia_scale_rasa", help="made afresh for the run")
    ap.add_argument("--redis-host", default="127.0.0.1")
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--redis-db", type=int, default=5, help="Redis database for Rasa's locks")
    ap.add_argument("--failover-seconds", type=float, default=30.0, help="0: no failover phase")
    ap.add_argument("--failover-rate", type=float, default=8.0)
    ap.add_argument(
        "--plain-rasa", action="store_true", help="Rasa's own validation (scripts/rasa_server.py --plain)"
    )
    args = ap.parse_args(argv)
    if not MODEL.exists() or not RASA_BIN.exists():
        print("The Rasa environment or the trained model is missing: run `make run` first.", file=sys.stderr)
        return 2

    logdir = OUT / "scaleout-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/scaleout/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "rasa_launcher": "rasa" if args.plain_rasa else str(RASA_LAUNCHER.relative_to(ROOT)),
    }
    print(f"==> starting two gateways, two Rasa servers and the rest (logs in {logdir})", flush=True)
    stack = start_stack(args, logdir)
    report["ready_seconds"] = stack.ready_seconds
    print(f"    ready after (s): {stack.ready_seconds}", flush=True)
    ids = UserIds()
    try:
        print("==> continuity: one person across processes", flush=True)
        report["continuity"] = continuity(stack, ids.take())
        c = report["continuity"]
        print(f"    gateways {c['gateways']}, Rasa {c['rasa_servers']}, passed: {c['passed']}", flush=True)
        print("==> warm-up: 10 s at 5 msg/s", flush=True)
        load_phase(stack, ids, 5, 10)
        quiesce(stack)  # it reads stack.gw.telegram only
        report["load"] = []
        for rate in (float(x) for x in args.rates.split(",") if x):
            print(f"==> load: {args.seconds:g} s at {rate:g} msg/s", flush=True)
            report["load"].append(load_phase(stack, ids, rate, args.seconds))
            quiesce(stack)
        report["peak_rss_mb"] = {k: peak_rss_mb(p.pid) for k, p in stack.procs.items()}
        report["alive"] = {k: p.alive for k, p in stack.procs.items()}
        report["failover"] = None
        if args.failover_seconds > 0:
            rate = args.failover_rate
            print(
                f"==> failover: {args.failover_seconds:g} s at {rate:g} msg/s, gateway-b and rasa-b stopped "
                f"after {args.failover_seconds / 3:.0f} s",
                flush=True,
            )
            report["failover"] = failover_phase(stack, ids, rate, args.failover_seconds)
            report["alive_after_failover"] = {k: p.alive for k, p in stack.procs.items()}
        report["after"] = leftovers(stack, args)
    finally:
        stack.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scaleout.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    text = markdown(report)
    (OUT / "scaleout.md").write_text(text)
    print()
    print(text)
    print(f"written: {OUT / 'scaleout.md'}, {OUT / 'scaleout.json'}")
    return 0 if report["continuity"]["passed"] and all(s["passed"] for s in report["load"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())

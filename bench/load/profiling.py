"""Where the processes spend their time under load: py-spy sampling the gateway, Rasa and the action
server, and the heaviest frames of each."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.load.phases import UserIds, reset
from bench.load.processes import Stack
from harness.traffic import Population, collect, drive


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

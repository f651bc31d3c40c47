"""Rasa's memory against the number of conversations it has held, with the SQLite tracker store (the default
set-up, endpoints.yml) and with Rasa's in-memory store, side by side in one run.

``--conversations`` (a list of checkpoints, default 500,2000) conversations of ``--messages`` (4) messages
each go straight to each Rasa server's REST channel, 10 at a time; Rasa's resident memory (VmRSS) is read
at each checkpoint. ``--stores sqlite`` leaves out the in-memory store (half the time). Usage::

    .venv/bin/python bench/load/memory.py [--conversations 500,2000] [--messages 4] [--stores sqlite,memory]

It prints one line per checkpoint and writes bench/out/memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import time
from typing import Any

import httpx

from bench import OUT
from bench.load.conversations import rss_mb
from bench.load.machine import machine
from harness.stack import RasaStack, start_rasa_stack
from harness.traffic import CONVERSATIONS, goes_to_rasa

PARALLEL = 10


async def converse(url: str, first: int, count: int, messages: int, tag: str) -> int:
    """``count`` conversations of ``messages`` messages, ``PARALLEL`` at a time; the failed calls."""
    failed = 0
    queue = iter(range(first, first + count))

    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            nonlocal failed
            for c in queue:
                texts = [t for t in CONVERSATIONS[c % len(CONVERSATIONS)] if goes_to_rasa(t)]
                for n in range(messages):
                    body = {"sender": f"{tag}-{c}", "message": texts[n % len(texts)]}
                    try:
                        r = await client.post(f"{url}/webhooks/rest/webhook", json=body)
                        r.raise_for_status()
                    except httpx.HTTPError:
                        failed += 1

        await asyncio.gather(*(worker() for _ in range(PARALLEL)))
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", default="500,2000")
    ap.add_argument("--messages", type=int, default=4)
    ap.add_argument("--stores", default="sqlite,memory")
    args = ap.parse_args(argv)
    checkpoints = [int(x) for x in args.conversations.split(",")]
    logdir = OUT / "memory-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    (logdir / "memory").mkdir(parents=True)
    out: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/load/memory.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "messages": args.messages,
        "results": {},
    }
    stacks: dict[str, RasaStack] = {}
    try:
        stores = args.stores.split(",")
        if "sqlite" in stores:
            stacks["sqlite"] = start_rasa_stack(logdir, tracker_db=logdir / "rasa-conversations.db")
        if "memory" in stores:
            stacks["memory"] = start_rasa_stack(logdir / "memory")
        for name, stack in stacks.items():
            rows = [{"conversations": 0, "rss_mb": rss_mb(stack.rasa.pid)}]
            done, t0 = 0, time.monotonic()
            for target in checkpoints:
                failed = asyncio.run(converse(stack.rasa_url, done, target - done, args.messages, name))
                done = target
                rows.append({"conversations": done, "rss_mb": rss_mb(stack.rasa.pid), "failed": failed})
                print(
                    f"    {name:>6}: {done} conversations of {args.messages}: Rasa {rows[-1]['rss_mb']} MB "
                    f"({failed} failed, {time.monotonic() - t0:.0f} s)",
                    flush=True,
                )
            out["results"][name] = rows
    finally:
        for stack in stacks.values():
            stack.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(out, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

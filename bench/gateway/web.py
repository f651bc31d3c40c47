"""The gateway's CPU per message on the web chat path, with a Rasa that answers at once.

The real gateway process (``concilia run``, SQLite file, the fake Telegram server for its polling) in front
of bench/gateway/fake_rasa.py, a Rasa that always gives the same realistic answer at once, in its own
process. ``--people`` (10) write at once through ``POST /api/chat``, closed loop (each sends her next
message when the last is answered), a new person every ``--length`` (6) messages, as
bench/load/conversations.py does; the web chat's limits are raised as there. Two ways to name the person:

* ``named``: a server-side client with the API key and a ``user`` field (what bench/load sends);
* ``browser``: the session cookie, as the chat page does (a new person = a new cookie jar).

Each round lasts ``--seconds`` (10), its first 2 s not counted, and prints the gateway process's CPU time
per answered message (user + system, from /proc): on a shared machine much steadier than msg/s, which is
printed too. ``--against DIR`` also starts the gateway of another checkout (before a change, say) and
runs the rounds on the two in turn, so that before and after see the same noise. ``--py-spy FILE`` samples
this checkout's gateway during the last round (folded stacks, 200 Hz) and prints its heaviest frames.
``--rasa-delay 0.15`` makes the fake Rasa answer in 150 ms, so that the 10 people write about 60 messages
a second, the chain's pace (flat out, the gateway answers some 200 a second and spends less per message:
the work of several messages shares each wake-up of the event loop and of the database thread)::

    .venv/bin/python bench/gateway/web.py [--rounds 3] [--seconds 10] [--mode named,browser] [--against DIR]
        [--rasa-delay 0.15]

Writes bench/out/gateway-web.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import OUT, ROOT
from bench.load.conversations import LIMITS_OFF, timed_loop
from bench.load.machine import CLK_TCK, cpu_seconds, machine
from bench.load.profiling import summarise_profile
from harness.stack import WEB_API_KEY, Gateway, Proc, free_port, start, start_gateway, wait_until
from harness.traffic import CONVERSATIONS


def start_fake_rasa(logdir: Path, delay: float = 0.0) -> tuple[Proc, str]:
    port = free_port()
    script = ROOT / "bench" / "gateway" / "fake_rasa.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(script), "--port", str(port), "--delay", str(delay)]
    proc = start("fake-rasa", cmd, env, logdir)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, 30, "the fake Rasa", [proc])
    return proc, url


async def closed_loop(
    url: str, mode: str, people: int, length: int, seconds: float, tag: str, on_start: Any
) -> dict[str, Any]:
    errors: dict[str, int] = {}
    sent = [0] * people
    limits = httpx.Limits(max_connections=people + 5)
    shared = httpx.AsyncClient(timeout=30, limits=limits)
    jars: dict[int, httpx.AsyncClient] = {}  # browser mode: one client (one cookie jar) per person

    def client_of(p: int) -> httpx.AsyncClient:
        if mode == "named":
            return shared
        if p not in jars:
            jars[p] = httpx.AsyncClient(timeout=30)
        elif sent[p] % length == 0:  # a new person: a browser without the cookie
            jars[p].cookies.clear()
        return jars[p]

    async def one(p: int) -> bool:
        n = sent[p]
        conv = CONVERSATIONS[p % len(CONVERSATIONS)]
        body: dict[str, str] = {"text": conv[n % len(conv)]}
        headers = {}
        if mode == "named":
            body["user"] = f"{tag}-{p}-{n // length}"
            headers["Authorization"] = f"Bearer {WEB_API_KEY}"
        client = client_of(p)
        sent[p] += 1
        try:
            r = await client.post(f"{url}/api/chat", json=body, headers=headers)
            r.raise_for_status()
            if not r.json()["replies"]:
                raise ValueError("no answer")
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return False
        return True

    try:
        out = await timed_loop(people, seconds, one, on_start)
    finally:
        await shared.aclose()
        for jar in jars.values():
            await jar.aclose()
    out["errors"] = errors
    return out


def main_thread_cpu(pid: int) -> float:
    """The CPU seconds of the process's main thread (the event loop); the rest are its other threads
    (the database thread, nearly all of it)."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def one_round(gateway: Proc, url: str, mode: str, args: argparse.Namespace, label: str) -> dict[str, Any]:
    started: dict[str, float] = {}

    def on_start() -> None:
        started["cpu"] = cpu_seconds(gateway.pid) or 0.0
        started["loop"] = main_thread_cpu(gateway.pid)

    tag = f"{mode}-{time.monotonic_ns() % 10**9}"
    s = asyncio.run(closed_loop(url, mode, args.people, args.length, args.seconds, tag, on_start))
    used = (cpu_seconds(gateway.pid) or 0.0) - started["cpu"]
    loop = main_thread_cpu(gateway.pid) - started["loop"]
    # the CPU is of the whole round; the answered messages are those after the warm-up
    timed = max(1.0, s["msg_s"] * args.seconds)
    s["gateway_cpu_ms_per_msg"] = round(used / timed * 1000, 2)
    s["event_loop_cpu_ms_per_msg"] = round(loop / timed * 1000, 2)
    print(
        f"    {label:>8} {mode:>7}: gateway CPU {s['gateway_cpu_ms_per_msg']} ms/msg"
        f" (event loop {s['event_loop_cpu_ms_per_msg']}, other threads"
        f" {round(s['gateway_cpu_ms_per_msg'] - s['event_loop_cpu_ms_per_msg'], 2)}),"
        f" {s['msg_s']} msg/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, errors {s['errors']}",
        flush=True,
    )
    return s


def spy_on(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("    (py-spy is not installed: no profile)")
        return None
    cmd = [spy, "record", "--nonblocking", "-r", "200", "-d", str(int(seconds)), "-f", "raw"]
    return subprocess.Popen([*cmd, "-o", str(out), "-p", str(pid)], stdout=subprocess.DEVNULL)


def compare(gateways: dict[str, Gateway], modes: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Rounds of each mode on each gateway in turn (the order swapped every round, so the machine's
    noise touches them alike); the median CPU per message of each."""
    out: dict[str, Any] = {}
    labels = list(gateways)
    for mode in modes:
        rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
        for k in range(args.rounds):
            for label in labels if k % 2 == 0 else labels[::-1]:
                gw = gateways[label]
                last = args.py_spy and mode == modes[-1] and k == args.rounds - 1 and label == labels[0]
                spy = spy_on(gw.process.pid, args.seconds, args.py_spy) if last else None
                rounds[label].append(one_round(gw.process, gw.web_url, mode, args, label))
                if spy is not None:
                    spy.wait(60)
        out[mode] = {}
        for label in labels:
            cpu = round(statistics.median(r["gateway_cpu_ms_per_msg"] for r in rounds[label]), 2)
            rate = round(statistics.median(r["msg_s"] for r in rounds[label]), 1)
            loop = round(statistics.median(r["event_loop_cpu_ms_per_msg"] for r in rounds[label]), 2)
            out[mode][label] = {
                "rounds": rounds[label],
                "gateway_cpu_ms_per_msg_median": cpu,
                "event_loop_cpu_ms_per_msg_median": loop,
                "msg_s_median": rate,
            }
            print(
                f"==> {mode}, {label}: gateway CPU ms/msg, median of {args.rounds} rounds: {cpu}"
                f" (event loop {loop}; {rate} msg/s)"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--length", type=int, default=6)
    ap.add_argument("--mode", default="named,browser")
    ap.add_argument(
        "--rasa-delay", type=float, default=0.0, help="seconds the fake Rasa waits before each answer"
    )
    ap.add_argument("--against", type=Path, help="another checkout: its gateway too, in alternate rounds")
    ap.add_argument("--py-spy", type=Path, help="folded stacks of the gateway in the last round")
    args = ap.parse_args(argv)
    modes = args.mode.split(",")
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/gateway/web.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
    }
    checkouts = {"this": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp)
        rasa, rasa_url = start_fake_rasa(logdir, args.rasa_delay)
        gateways: dict[str, Gateway] = {}
        try:
            for label, root in checkouts.items():
                (logdir / label).mkdir()
                env = {**LIMITS_OFF, "PYTHONPATH": str(root)}
                db = logdir / label / "gateway.db"
                gateways[label] = gw = start_gateway(rasa_url, "fake-rasa-token", logdir / label, db, env)
                asyncio.run(
                    closed_loop(gw.web_url, modes[0], args.people, args.length, 3.0, "warm", lambda: 0)
                )
            report["checkouts"] = {label: str(root) for label, root in checkouts.items()}
            report["results"] = compare(gateways, modes, args)
        finally:
            for gw in gateways.values():
                gw.stop()
            rasa.stop()
    if args.py_spy and args.py_spy.exists():
        prof = summarise_profile(args.py_spy)
        report["profile"] = prof
        print(f"py-spy: {prof['busy_samples']} busy samples; heaviest frames (inclusive %):")
        for frame, pct in prof["top_inclusive_pct"][:20]:
            print(f"    {pct:>5}  {frame}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gateway-web.json").write_text(json.dumps(report, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A/B of the fix of Rasa's biggest cost (scripts/rasa_server.py, how Rasa is started now): Rasa and
the action server alone, started plain and with the fix, alternately (A B A B, so that a change in the rest
of the machine's load shows), each at the same open-loop rates of the benchmark's conversations straight to
the REST channel, measuring latency and Rasa's CPU time per message.

    .venv/bin/python bench/load/rasa_validation_ab.py            # about 5 minutes
    .venv/bin/python bench/load/rasa_validation_ab.py --rates 10,20,30 --seconds 15 --rounds 2
    git show <commit>:scripts/rasa_server.py > /tmp/before.py
    .venv/bin/python bench/load/rasa_validation_ab.py --before /tmp/before.py  # that one against this

Writes bench/out/rasa-validation-ab.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import OUT
from bench.load.machine import cpu_seconds, machine
from bench.load.phases import direct_load
from harness.stack import RASA_LAUNCHER, start_rasa_stack


def idle(pids: list[int], limit: float = 60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        before = [cpu_seconds(p) or 0.0 for p in pids]
        time.sleep(1)
        if all((cpu_seconds(p) or 0.0) - b < 0.1 for p, b in zip(pids, before, strict=True)):
            return


def one_round(
    variant: str, launcher: Path | None, rates: list[float], seconds: float, logdir: Path
) -> list[dict[str, Any]]:
    stack = start_rasa_stack(logdir, launcher=launcher)
    out = []
    try:
        pids = [stack.rasa.pid, stack.actions.pid]
        asyncio.run(direct_load("rasa", stack.rasa_url, 5, 5, "warm"))  # warm-up, not counted
        for rate in rates:
            idle(pids)
            cpu0 = [cpu_seconds(p) or 0.0 for p in pids]
            s = asyncio.run(
                direct_load("rasa", stack.rasa_url, rate, seconds, f"ab{int(rate)}-{time.monotonic_ns()}")
            )
            cpu1 = [cpu_seconds(p) or 0.0 for p in pids]
            n = max(1, s["answered"])
            s["rasa_cpu_ms_per_message"] = round((cpu1[0] - cpu0[0]) / n * 1000, 1)
            s["actions_cpu_ms_per_message"] = round((cpu1[1] - cpu0[1]) / n * 1000, 1)
            s["variant"] = variant
            s["loadavg"] = Path("/proc/loadavg").read_text().split()[0]
            out.append(s)
            print(
                f"  {variant:18} {rate:>5g}/s: throughput {s['throughput']}/s, p50 {s['p50_ms']} ms, "
                f"p99 {s['p99_ms']} ms, Rasa CPU {s['rasa_cpu_ms_per_message']} ms/msg, "
                f"actions CPU {s['actions_cpu_ms_per_message']} ms/msg, errors {s['errors']}",
                flush=True,
            )
    finally:
        stack.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="10,20,30")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before", type=Path, help="another launcher (an older scripts/rasa_server.py) as the A")
    args = ap.parse_args()
    variants: list[tuple[str, Path | None]] = [("plain rasa", None), ("cached validation", RASA_LAUNCHER)]
    if args.before:
        variants = [("before", args.before.resolve()), ("this launcher", RASA_LAUNCHER)]
    rates = [float(x) for x in args.rates.split(",")]
    logdir = OUT / "ab-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    results: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for variant, launcher in variants:
            results += one_round(variant, launcher, rates, args.seconds, logdir)
    report = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": ".venv/bin/python bench/load/rasa_validation_ab.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "results": results,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rasa-validation-ab.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Rasa started by two launchers, A B A B",
        "",
        f"Run {report['date']} with `{report['command']}`, {report['machine']['cores']} cores; Rasa and the "
        "action server alone, open loop to the REST channel.",
        "",
        "| variant | offered msg/s | throughput | p50 ms | p99 ms | Rasa CPU ms/msg | actions CPU ms/msg "
        "| errors | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results:
        lines.append(
            f"| {s['variant']} | {s['rate']:g} | {s['throughput']} | {s['p50_ms']} | {s['p99_ms']} "
            f"| {s['rasa_cpu_ms_per_message']} | {s['actions_cpu_ms_per_message']} | {s['errors']} "
            f"| {s['loadavg']} |"
        )
    (OUT / "rasa-validation-ab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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
   Italian conversations (harness/traffic.py);
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
import datetime as dt
import shutil
import sys
from typing import Any

from bench import OUT, ROOT
from bench.load.machine import machine
from bench.load.phases import (
    P99_LIMIT_MS,
    UserIds,
    direct_steps,
    gateway_phase,
    quiesce,
)
from bench.load.processes import start_stack
from bench.load.profiling import profile
from bench.load.report import print_table, write_reports
from bench.load.training import time_training
from harness.stack import (
    MODEL,
    RASA_BIN,
    RASA_LAUNCHER,
    peak_rss_mb,
)


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
        help="Rasa's own validation (scripts/rasa_server.py --plain), as before the fix",
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

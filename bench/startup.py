"""How long a warm ``make run`` takes to be ready: from the command to "Concilia is running." on its output.

Warm: the environments are installed and the model is trained (``make setup`` and ``make train`` done), so
``make run`` checks its stamps and starts the action server, Rasa and the gateway (scripts/supervise.py).
Each run gets a fresh ``CONCILIA_VAR`` folder and free loopback ports, no Telegram token and no
``DATABASE_URL`` (the SQLite defaults); when it is ready it gets Ctrl-C (SIGINT to its process group), as
a person would stop it. It refuses to run when ``make -n run`` shows that something would be installed or
trained (not a warm start). ``--root`` runs ``make run`` in another checkout (default: this one). Usage::

    .venv/bin/python bench/startup.py [--runs 2] [--root /path/to/checkout]

It prints, for each run, the seconds at which each line of progress appeared and the total, and writes
bench/out/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
READY = "Concilia is running."
TIMEOUT = 400.0  # seconds: Rasa alone may take up to 4 minutes to load on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(root: Path, var: Path) -> dict[str, object]:
    unset = ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "RASA_TOKEN", "RASA_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        CONCILIA_VAR=str(var),
        ACTION_PORT=str(free_port()),
        RASA_PORT=str(free_port()),
        WEB_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches make and what it started
    )
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = []
    ready: float | None = None
    try:
        for line in proc.stdout:
            at = round(time.monotonic() - t0, 1)
            if line.strip():
                lines.append((at, line.rstrip()))
                print(f"  {at:6.1f} s  {line.rstrip()}", flush=True)
            if READY in line:
                ready = at
                break
            if at > TIMEOUT:
                break
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"ready_seconds": ready, "lines": lines}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    root = args.root.resolve()
    plan = subprocess.run(["make", "-n", "run"], cwd=root, capture_output=True, text=True).stdout.split()
    if plan != ["scripts/run.sh"]:
        print(f"`make -n run` in {root} would install or train first: not a warm start", file=sys.stderr)
        return 2
    runs = []
    for i in range(args.runs):
        print(f"==> make run, run {i + 1} of {args.runs}", flush=True)
        with tempfile.TemporaryDirectory(prefix="concilia-startup-") as var:
            runs.append(one_run(root, Path(var)))
        print(f"ready after {runs[-1]['ready_seconds']} s", flush=True)
    load = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"root": str(root), "runs": runs, "loadavg": load}
    (OUT / "startup.json").write_text(json.dumps(result, indent=1), "utf-8")
    ready = [r["ready_seconds"] for r in runs]
    print(f"make run, warm, to ready: {', '.join(f'{s} s' for s in ready)} (load average {load[0]:.1f})")
    return 0 if all(s is not None for s in ready) else 1


if __name__ == "__main__":
    sys.exit(main())

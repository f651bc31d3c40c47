"""`make run`'s supervisor (started by scripts/run.sh): the action server, the Rasa server and the gateway,
each restarted with backoff when it stops; Ctrl-C (or SIGTERM) stops all three.

A part that stops — a crash, the OOM killer, ``kill -9`` — is reported on the terminal and in
``<var>/log/supervisor.log``, and started again after 1 s, then 2, 4, ... up to 60 s while it keeps
stopping; a part that ran for a minute starts from 1 s again. Nothing else is stopped: while Rasa is away the
gateway tells people that the assistant is not available and to retry shortly, and answers normally again
as soon as Rasa is back (the supervisor says when).

Each part runs in its own session, so Ctrl-C on the terminal reaches only the supervisor, which stops the
gateway first (it finishes the updates in hand), then Rasa, then the action server.

No secret is on any command line: Rasa's comes from ``RASA_TOKEN`` in the environment (scripts/run.sh
reads it from ``var/rasa_token``, mode 600) and scripts/rasa_server.py hands it to Rasa inside its process.
Run with the gateway's Python from the project root; the settings are environment variables::

    ACTION_PORT (5055)  RASA_PORT (5005)  WEB_HOST, WEB_PORT (127.0.0.1, 8080)  CONCILIA_VAR (var)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.assistant.rasa import rasa_auth_headers  # noqa: E402  (needs ROOT on the path)

FIRST_BACKOFF, MAX_BACKOFF, STABLE_AFTER = 1.0, 60.0, 60.0
STOP_GRACE = 30.0  # seconds a part gets to stop after SIGTERM before SIGKILL
POLL = 0.5


def http_ok(url: str, headers: dict[str, str] | None = None, contains: str = "") -> bool:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status == 200 and contains in response.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return False


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass
class Part:
    name: str
    title: str
    cmd: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = FIRST_BACKOFF
    next_start: float = 0.0
    up: bool = False  # announced as ready since its last start

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started, self.up = time.monotonic(), False

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.running:
            assert self.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)  # the part and whatever it started

    def stop(self) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(10)


@dataclass
class Supervisor:
    parts: list[Part]
    log: Path
    stopping: bool = False
    events: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(f"==> {text}", flush=True)
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    def start(self, part: Part) -> None:
        part.start()
        assert part.popen is not None
        self.say(f"{part.title} started (pid {part.popen.pid}, log: {shown(part.log)})")

    def wait_ready(self, part: Part, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            if part.ready():
                part.up = True
                return True
            if not part.running:
                return False
            time.sleep(POLL)
        return False

    def watch_once(self) -> None:
        now = time.monotonic()
        for part in self.parts:
            if part.running:
                if not part.up and part.ready():
                    part.up = True
                    if part.restarts:
                        self.say(f"{part.title} is back (restart {part.restarts})")
                if now - part.started >= STABLE_AFTER:
                    part.backoff = FIRST_BACKOFF
                continue
            if part.next_start == 0.0:  # it has just stopped
                assert part.popen is not None
                code = part.popen.returncode
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                part.next_start = now + part.backoff
                self.say(
                    f"{part.title} stopped ({how}): starting it again in {part.backoff:g} s; "
                    f"the other parts keep running (see {shown(part.log)})"
                )
                part.backoff = min(part.backoff * 2, MAX_BACKOFF)
            elif now >= part.next_start:
                part.restarts += 1
                part.next_start = 0.0
                self.start(part)

    def stop_all(self) -> None:
        self.stopping = True
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C does not cut the stopping short
            signal.signal(sig, signal.SIG_IGN)
        self.say("Stopping Concilia...")
        for part in reversed(self.parts):  # the gateway first: it finishes the updates in hand
            part.stop()
        self.say("Stopped.")


def endpoints_file(var: Path, action_port: int, retention_days: str) -> Path:
    """endpoints.yml for this run, in ``var``: the action server's port, Rasa's conversations in
    ``var/rasa-conversations.db``, kept as long as the gateway keeps messages (RETENTION_DAYS)."""
    if not retention_days.strip().isdigit():
        raise SystemExit(f"RETENTION_DAYS is not a number of days: {retention_days!r}")
    text = (ROOT / "endpoints.yml").read_text("utf-8")
    text = text.replace("127.0.0.1:5055", f"127.0.0.1:{action_port}")
    text = text.replace("db: var/rasa-conversations.db", f'db: "{var.resolve() / "rasa-conversations.db"}"')
    text = text.replace("retention_days: 180", f"retention_days: {int(retention_days)}")
    path = var / "endpoints.yml"
    path.write_text(text, "utf-8")
    return path


def build(var: Path) -> Supervisor:
    action_port = int(os.environ.get("ACTION_PORT", "5055"))
    rasa_port = int(os.environ.get("RASA_PORT", "5005"))
    web = f"http://{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8080')}"
    token = os.environ["RASA_TOKEN"]
    logs = var / "log"
    endpoints = endpoints_file(var, action_port, os.environ.get("RETENTION_DAYS", "180"))
    rasa_python = str(ROOT / ".venv-rasa" / "bin" / "python")
    base = {k: v for k, v in os.environ.items() if k != "RASA_TOKEN"}
    rasa_env = {**base, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    parts = [
        Part(
            "actions",
            "The action server",
            [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "run", "actions", "--actions", "actions"]
            + ["--port", str(action_port)],
            rasa_env,
            lambda: http_ok(f"http://127.0.0.1:{action_port}/health"),
            logs / "actions.log",
        ),
        Part(
            "rasa",
            "Rasa",
            [rasa_python, "scripts/rasa_server.py", "run", "--enable-api", "-i", "127.0.0.1"]
            + ["-p", str(rasa_port), "--model", "models/concilia.tar.gz", "--endpoints", str(endpoints)]
            + ["--credentials", "credentials.yml"],
            {**rasa_env, "RASA_TOKEN": token},
            lambda: http_ok(f"http://127.0.0.1:{rasa_port}/status", rasa_auth_headers(token), "model_file"),
            logs / "rasa.log",
        ),
        Part(
            "gateway",
            "The gateway",
            [str(ROOT / ".venv" / "bin" / "concilia"), "run"],
            dict(os.environ),
            lambda: http_ok(f"{web}/healthz"),
            logs / "gateway.log",
        ),
    ]
    return Supervisor(parts, logs / "supervisor.log")


def main() -> int:
    var = ROOT / os.environ.get("CONCILIA_VAR", "var")
    (var / "log").mkdir(mode=0o700, parents=True, exist_ok=True)
    sup = build(var)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C too, explicitly: Python leaves SIGINT alone when the process starts with it ignored (a
    # background job of a shell without job control), and then Ctrl-C would stop nothing.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sup.start(sup.part("actions"))
        sup.start(sup.part("rasa"))
        print("==> Loading the model (up to 4 minutes)", flush=True)
        if not sup.wait_ready(sup.part("rasa"), 240):
            sup.say(f"Rasa is not ready yet: starting the gateway anyway (see {shown(sup.part('rasa').log)})")
        sup.start(sup.part("gateway"))
        web = f"http://{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8080')}/"
        if sup.wait_ready(sup.part("gateway"), 60):
            print(f"\nConcilia is running.\n  Web chat:  {web}", flush=True)
            if os.environ.get("TELEGRAM_BOT_TOKEN"):
                print("  Telegram:  the bot answers on Telegram too.", flush=True)
        print("A part that stops is started again. Press Ctrl-C to stop.", flush=True)
        while True:
            sup.watch_once()
            time.sleep(POLL)
    except KeyboardInterrupt:
        print()
    finally:
        sup.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

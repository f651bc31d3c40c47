"""Starting and stopping the real processes of Concilia on loopback, for the end-to-end tests
(tests/e2e/conftest.py), the fault drills and the load benchmark (bench/load/run.py).

The action server and the Rasa server (Python 3.10 environment, trained model in models/), the fake Telegram
Bot API server (harness/fake_telegram) and the gateway (``concilia run``) each run as a subprocess on a free
port, with their output in ``<logdir>/<name>.log``. Nothing here is a pytest fixture: the fixtures in
conftest.py and the benchmark call these functions.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.assistant.rasa import rasa_auth_headers

ROOT = Path(__file__).resolve().parents[1]
# the web chat's key for server-side clients (a load run names its many people with it; never a real key)
WEB_API_KEY = "harness-web-api-key-not-a-secret-0123"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "concilia.tar.gz"
# How `make run` starts Rasa (scripts/run.sh): ``rasa`` with the action answers' validator built once
RASA_LAUNCHER = ROOT / "scripts" / "rasa_server.py"
BOT_TOKEN = "123456:TEST-e2e-token-not-real"
CONCILIA = Path(sys.executable).with_name("concilia")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text("utf-8", errors="replace").splitlines()[-n:]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(lines)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash, the OOM killer)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)


def wait_until(check: Callable[[], bool], timeout: float, what: str, procs: list[Proc]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited while waiting for {what}:\n{p.tail()}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}:\n" + "\n".join(p.tail() for p in procs))


def start(name: str, cmd: list[str], env: dict[str, str], logdir: Path, append: bool = False) -> Proc:
    log = logdir / f"{name}.log"
    with log.open("a" if append else "w") as fh:
        popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    return Proc(name, popen, log)


def rasa_env(token: str | None = None) -> dict[str, str]:
    """The Rasa environment's variables; ``token``: the secret of Rasa's HTTP API, which
    scripts/rasa_server.py reads from ``RASA_TOKEN`` (never from its command line)."""
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if token is not None:
        env["RASA_TOKEN"] = token
    return env


@dataclass
class RasaStack:
    """The action server and the Rasa server. ``procs`` is ``[actions, rasa]``."""

    rasa_url: str
    token: str
    action_port: int
    procs: list[Proc] = field(default_factory=list)
    logdir: Path | None = None
    rasa_port: int = 0
    endpoints: Path | None = None
    launcher: Path | None = RASA_LAUNCHER
    ready_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def actions(self) -> Proc:
        return self.procs[0]

    @property
    def rasa(self) -> Proc:
        return self.procs[1]

    def rasa_ready(self) -> bool:
        r = httpx.get(f"{self.rasa_url}/status", headers=rasa_auth_headers(self.token), timeout=2)
        return "model_file" in r.text

    def actions_ready(self) -> bool:
        return httpx.get(f"http://127.0.0.1:{self.action_port}/health", timeout=2).status_code == 200

    def start_actions(self, timeout: float = 120) -> None:
        assert self.logdir is not None
        self.procs[0] = start("actions", actions_cmd(self.action_port), rasa_env(), self.logdir, append=True)
        wait_until(self.actions_ready, timeout, "the action server", [self.procs[0]])

    def start_rasa(self, timeout: float = 240) -> None:
        assert self.logdir is not None and self.endpoints is not None
        cmd = rasa_cmd(self.rasa_port, self.endpoints, self.launcher)
        self.procs[1] = start("rasa", cmd, rasa_env(self.token), self.logdir, append=True)
        wait_until(self.rasa_ready, timeout, "Rasa to load the model", [self.procs[1]])

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def actions_cmd(port: int) -> list[str]:
    return [str(RASA_BIN), "run", "actions", "--actions", "actions", "--port", str(port)]


def rasa_cmd(port: int, endpoints: Path, launcher: Path | None = RASA_LAUNCHER) -> list[str]:
    """Rasa started as `make run` does: ``launcher`` (scripts/rasa_server.py) takes the ``rasa`` command's
    arguments and sets the API's secret from ``RASA_TOKEN`` inside the process. ``launcher=None``: the same
    launcher with ``--plain``, Rasa without the cached validator (the benchmarks' "before")."""
    head = [str(launcher)] if launcher else [str(RASA_LAUNCHER), "--plain"]
    return [
        str(RASA_BIN.with_name("python")),
        *head,
        "run",
        "--enable-api",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--model",
        str(MODEL),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(ROOT / "credentials.yml"),
    ]


def start_rasa_stack(
    logdir: Path,
    action_endpoint: str | None = None,
    timeout: float = 240,
    action_port: int | None = None,
    rasa_port: int | None = None,
    launcher: Path | None = RASA_LAUNCHER,
    tracker_db: Path | None = None,
    token: str | None = None,
) -> RasaStack:
    """Start the action server and the Rasa server, both at once, and wait until both are ready
    (``ready_seconds`` says when each was, from the start).

    ``action_endpoint`` is the URL Rasa calls for custom actions (default: the action server itself; the
    load benchmark puts a timing proxy in between). With ``tracker_db`` Rasa keeps its conversations in
    that SQLite file through ``rasa_addons.tracker_store.ErasableSQLTrackerStore`` (default: in memory);
    ``token``: the API's secret (default: a new one), the same for servers behind one gateway."""
    if not MODEL.exists() or not RASA_BIN.exists():
        raise RuntimeError("the Rasa environment or the trained model is missing: run `make test`")
    action_port, rasa_port = action_port or free_port(), rasa_port or free_port()
    # never starts with "-", which the rasa command would take for an option
    token = token or secrets.token_hex(16)
    endpoints = logdir / "endpoints.yml"
    url = action_endpoint or f"http://127.0.0.1:{action_port}/webhook"
    # as endpoints.yml: the domain is not sent with every action call
    config = f'action_endpoint:\n  url: "{url}"\n  enable_selective_domain: true\n'
    if tracker_db is not None:
        config += (
            "tracker_store:\n  type: rasa_addons.tracker_store.ErasableSQLTrackerStore\n"
            f'  dialect: sqlite\n  db: "{tracker_db}"\n'
        )
    endpoints.write_text(config)
    t0 = time.monotonic()
    actions = start("actions", actions_cmd(action_port), rasa_env(), logdir)
    rasa = start("rasa", rasa_cmd(rasa_port, endpoints, launcher), rasa_env(token), logdir)
    stack = RasaStack(
        f"http://127.0.0.1:{rasa_port}",
        token,
        action_port,
        [actions, rasa],
        logdir,
        rasa_port,
        endpoints,
        launcher,
    )
    checks = {"actions": stack.actions_ready, "rasa": stack.rasa_ready}

    def all_ready() -> bool:
        for name, check in checks.items():
            if name not in stack.ready_seconds:
                try:
                    if check():
                        stack.ready_seconds[name] = round(time.monotonic() - t0, 1)
                except httpx.HTTPError:
                    pass
        return len(stack.ready_seconds) == len(checks)

    try:
        wait_until(all_ready, timeout, "the action server and Rasa (model loaded)", stack.procs)
    except BaseException:
        stack.stop()
        raise
    return stack


def start_fake_telegram(logdir: Path, name: str = "fake-telegram") -> tuple[Proc, str]:
    """The fake Telegram Bot API server; returns the process and its base URL (control API under /_test)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = start(name, [sys.executable, "-m", "harness.fake_telegram", "--port", str(port)], env, logdir)
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{base}/_test/state", timeout=2).status_code == 200, 30, "fake Telegram", [proc]
    )
    return proc, base


@dataclass
class Gateway:
    web_url: str
    telegram: str  # base URL of the fake Telegram server (control API under /_test)
    db_path: Path
    procs: list[Proc]  # [fake telegram, gateway]
    env: dict[str, str]
    logdir: Path

    @property
    def process(self) -> Proc:
        return self.procs[-1]

    def healthy(self) -> bool:
        return httpx.get(f"{self.web_url}/healthz", timeout=2).status_code == 200

    def _start_again(self) -> None:
        gw = self.procs[-1]
        self.procs[-1] = start("gateway", list(gw.popen.args), self.env, self.logdir, append=True)  # type: ignore[arg-type]
        wait_until(self.healthy, 60, "the gateway", self.procs)

    def restart(self) -> None:
        """SIGTERM (the gateway finishes the updates in hand), then start again."""
        self.procs[-1].stop()
        self._start_again()

    def kill_and_start(self) -> None:
        """SIGKILL, then start again: what a crash or the OOM killer does."""
        self.procs[-1].kill()
        self._start_again()

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def start_gateway(
    rasa_url: str,
    rasa_token: str,
    logdir: Path,
    db_path: Path,
    extra_env: dict[str, str] | None = None,
) -> Gateway:
    """The fake Telegram server and the gateway (long polling against it), with a SQLite file at
    ``db_path`` unless ``extra_env`` sets another ``DATABASE_URL``."""
    fake, tg_base = start_fake_telegram(logdir)
    web_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    gw_env = {
        **env,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE": f"{tg_base}/bot",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "RASA_URL": rasa_url,
        "RASA_TOKEN": rasa_token,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
        "WEB_API_KEY": WEB_API_KEY,
        **(extra_env or {}),
    }
    try:
        gw = start("gateway", [str(CONCILIA), "run"], gw_env, logdir)
    except BaseException:
        fake.stop()
        raise
    g = Gateway(f"http://127.0.0.1:{web_port}", tg_base, db_path, [fake, gw], gw_env, logdir)
    try:
        wait_until(g.healthy, 60, "the gateway", g.procs)
    except BaseException:
        g.stop()
        raise
    return g


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a process and its children, in MB; None when it is gone."""
    total = 0
    pids = [pid, *_children(pid)]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            if p == pid:
                return None
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in text:
                out.append(int(child))
                out.extend(_children(int(child)))
    except OSError:
        pass
    return out

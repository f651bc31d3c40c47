"""End-to-end fixtures: real processes talking over loopback.

The action server and the Rasa server (Python 3.10 environment, trained model in models/), the fake
Telegram Bot API server (tests/fake_telegram) and the gateway (`concilia run`) are started once per
session on free ports; the tests drive them over HTTP as a parent (and later an operator) would.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "concilia.tar.gz"
BOT_TOKEN = "123456:TEST-e2e-token-not-real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, procs: list[Proc]) -> None:
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


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

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


def start(name: str, cmd: list[str], env: dict[str, str], logdir: Path) -> Proc:
    log = logdir / f"{name}.log"
    fh = log.open("w")
    popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    return Proc(name, popen, log)


@dataclass
class RasaStack:
    rasa_url: str
    token: str
    action_port: int
    procs: list[Proc] = field(default_factory=list)


@pytest.fixture(scope="session")
def logdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def rasa_stack(logdir: Path) -> Iterator[RasaStack]:
    if not MODEL.exists() or not RASA_BIN.exists():
        pytest.fail("the Rasa environment or the trained model is missing: run `make test`")
    action_port, rasa_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    endpoints = logdir / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    actions = start("actions", [str(RASA_BIN), "run", "actions", "--actions", "actions", "--port", str(action_port)],
                    env, logdir)
    rasa = start("rasa", [str(RASA_BIN), "run", "--enable-api", "--auth-token", token, "-i", "127.0.0.1",
                          "-p", str(rasa_port), "--model", str(MODEL), "--endpoints", str(endpoints),
                          "--credentials", str(ROOT / "credentials.yml")], env, logdir)
    stack = RasaStack(f"http://127.0.0.1:{rasa_port}", token, action_port, [actions, rasa])
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{action_port}/health", timeout=2).status_code == 200,
                   120, "the action server", stack.procs)
        wait_until(lambda: "model_file" in httpx.get(f"{stack.rasa_url}/status", params={"token": token},
                                                     timeout=2).text, 240, "Rasa to load the model", stack.procs)
        yield stack
    finally:
        for p in reversed(stack.procs):
            p.stop()


@dataclass
class Gateway:
    web_url: str
    telegram: str  # base URL of the fake Telegram server (control API under /_test)
    db_path: Path
    procs: list[Proc]
    env: dict[str, str]
    logdir: Path

    def restart(self) -> None:
        gw = self.procs[-1]
        gw.stop()
        self.procs[-1] = start("gateway", gw.popen.args, self.env, self.logdir)
        wait_until(lambda: httpx.get(f"{self.web_url}/healthz", timeout=2).status_code == 200, 60,
                   "the gateway", self.procs)


@pytest.fixture(scope="session")
def gateway(rasa_stack: RasaStack, logdir: Path, tmp_path_factory) -> Iterator[Gateway]:
    tg_port, web_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fake = start("fake-telegram", [sys.executable, "-m", "tests.fake_telegram", "--port", str(tg_port)], env, logdir)
    db = tmp_path_factory.mktemp("e2e-db") / "gateway.db"
    gw_env = {
        **env,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE": f"http://127.0.0.1:{tg_port}/bot",
        "DATABASE_URL": f"sqlite:///{db}",
        "RASA_URL": rasa_stack.rasa_url,
        "RASA_TOKEN": rasa_stack.token,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
    }
    concilia = str(Path(sys.executable).with_name("concilia"))
    gw = start("gateway", [concilia, "run"], gw_env, logdir)
    g = Gateway(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{tg_port}", db, [fake, gw], gw_env, logdir)
    try:
        wait_until(lambda: httpx.get(f"{g.web_url}/healthz", timeout=2).status_code == 200, 60, "the gateway",
                   g.procs)
        yield g
    finally:
        for p in reversed(g.procs):
            p.stop()

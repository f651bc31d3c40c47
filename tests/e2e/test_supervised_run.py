"""`make run` as a person at the terminal uses it (scripts/run.sh and its supervisor, scripts/supervise.py),
with real processes: no secret is on any process's command line; when Rasa, the action server or the
gateway is killed, the others keep running, the dead one is reported and started again, and people are
answered again without anyone touching anything; Ctrl-C still stops everything.

Its own ports, folder (``CONCILIA_VAR``) and database; the fake Telegram server stands in for Telegram.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.conversation import texts
from harness.stack import BOT_TOKEN, ROOT, Proc, _children, free_port, start_fake_telegram, wait_until
from harness.telegram_user import TelegramUser, text_of

pytestmark = pytest.mark.e2e

QUESTION = "ciao, ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni"
_people = iter(range(7001, 8000))


def someone_new(run: Run) -> TelegramUser:
    """A person writing for the first time: the same question gets the same answer whenever Rasa is up."""
    return TelegramUser(run.telegram, next(_people))


@dataclass
class Run:
    popen: subprocess.Popen[bytes]
    out: Path
    var: Path
    web: str
    telegram: str

    @property
    def secrets(self) -> tuple[str, ...]:
        return ((self.var / "rasa_token").read_text().strip(), BOT_TOKEN)

    def until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait for ``check``; fails with the terminal's last lines if it does not hold or the run stops."""
        wait_until(check, timeout, what, [Proc("make run", self.popen, self.out)])

    def said(self, text: str, times: int = 1) -> bool:
        return self.output().count(text) >= times

    def output(self) -> str:
        return self.out.read_text("utf-8", errors="replace")

    def pids(self) -> dict[int, str]:
        """Every process of the run (the supervisor and what it started), with its command line."""
        found = {}
        for pid in [self.popen.pid, *_children(self.popen.pid)]:
            with contextlib.suppress(OSError):
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return found

    def pid_of(self, needle: str) -> int:
        matching = [pid for pid, cmd in self.pids().items() if needle in cmd and pid != self.popen.pid]
        assert len(matching) >= 1, (needle, self.pids())
        return min(matching)  # the part itself, not a process it started

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.web}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    here = tmp_path_factory.mktemp("supervised")
    fake, telegram = start_fake_telegram(here)
    web_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "RASA_TOKEN"},  # made by run.sh, as for a newcomer
        "ACTION_PORT": str(free_port()),
        "RASA_PORT": str(free_port()),
        "WEB_PORT": str(web_port),
        "CONCILIA_VAR": str(here / "var"),
        "DATABASE_URL": f"sqlite:///{here / 'var' / 'concilia.db'}",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE": f"{telegram}/bot",
    }
    out = here / "terminal.txt"
    with out.open("wb") as fh:
        popen = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as at a terminal: Ctrl-C reaches only it
        )
    r = Run(popen, out, here / "var", f"http://127.0.0.1:{web_port}", telegram)
    try:
        r.until(lambda: r.said("Concilia is running."), 300, "make run to start")
        yield r
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGINT)
            try:
                popen.wait(90)
            except subprocess.TimeoutExpired:
                for pid in r.pids():
                    os.kill(pid, signal.SIGKILL)
        fake.stop()


def ask(run: Run, user: TelegramUser | None = None) -> str:
    return text_of((user or someone_new(run)).say(QUESTION, timeout=60))


@pytest.fixture(scope="module")
def usual_answer(run: Run) -> str:
    answer = ask(run)
    assert "Corbetta" in answer and answer != texts.UNAVAILABLE, answer
    return answer


def test_no_secret_on_any_command_line(run: Run) -> None:
    cmdlines = run.pids()
    assert any("scripts/rasa_server.py" in c for c in cmdlines.values()), cmdlines
    assert any("concilia run" in c for c in cmdlines.values()), cmdlines
    assert any("run actions" in c for c in cmdlines.values()), cmdlines
    for pid, cmd in cmdlines.items():
        for secret in run.secrets:
            assert secret not in cmd, (pid, cmd)
        assert "--auth-token" not in cmd and "--jwt-secret" not in cmd, (pid, cmd)
    assert oct((run.var / "rasa_token").stat().st_mode & 0o777) == "0o600"


def _kill_and_see_it_back(run: Run, needle: str, title: str, usual_answer: str) -> None:
    others = {pid for pid, cmd in run.pids().items() if needle not in cmd}
    victim = run.pid_of(needle)
    backs = run.output().count(f"{title} is back")
    os.kill(victim, signal.SIGKILL)

    run.until(lambda: run.said(f"{title} stopped (killed by signal 9)"), 30, f"{title} reported stopped")
    if needle == "scripts/rasa_server.py":  # while Rasa loads its model again, people are told plainly
        assert ask(run) == texts.UNAVAILABLE
    run.until(lambda: run.said(f"{title} is back", backs + 1), 300, f"{title} back")
    assert ask(run) == usual_answer
    assert others <= set(run.pids()), "another part stopped"  # nothing else was restarted
    assert victim not in run.pids()
    log = (run.var / "log" / "supervisor.log").read_text("utf-8")
    assert f"{title} stopped (killed by signal 9)" in log and f"{title} is back" in log


def test_a_killed_rasa_is_started_again_and_people_are_answered_again(run: Run, usual_answer: str) -> None:
    _kill_and_see_it_back(run, "scripts/rasa_server.py", "Rasa", usual_answer)


def test_a_killed_action_server_is_started_again(run: Run, usual_answer: str) -> None:
    _kill_and_see_it_back(run, "run actions", "The action server", usual_answer)


def test_a_killed_gateway_is_started_again(run: Run, usual_answer: str) -> None:
    _kill_and_see_it_back(run, "concilia run", "The gateway", usual_answer)


def test_ctrl_c_stops_everything(run: Run) -> None:
    pids = set(run.pids())
    os.killpg(run.popen.pid, signal.SIGINT)  # what the terminal does on Ctrl-C

    assert run.popen.wait(90) == 0
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"]
    assert not alive, alive
    assert "Stopped." in run.output() and not run.healthy()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_the_gateway_keeps_its_files_to_its_user(gateway) -> None:
    """The session's gateway, started by the harness with this test process's umask: it sets 077 itself."""
    inherited = os.umask(0)
    os.umask(inherited)
    if inherited & 0o044:
        pytest.skip(f"this test process keeps its files private already (umask {inherited:03o})")
    db = gateway.db_path
    assert db.exists() and db.with_name(db.name + "-wal").exists()
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))

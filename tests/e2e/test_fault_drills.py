"""Fault drills, under load: while simulated people write a few messages a second (harness/traffic.py),
one part of the system fails and comes back.

* the Rasa server is killed (SIGKILL) and started again;
* the action server is killed and started again;
* the gateway is stopped (SIGTERM) and started again, and killed (SIGKILL) and started again;
* the database is unreachable for a while: another connection holds SQLite's write lock, so every write of
  the gateway waits for its busy timeout and fails (renaming the file or its folder does not work: the
  gateway keeps its connections open, and open files survive a rename);
* the fake Telegram server answers 429 (flood control) and then 502 (bad gateway) to sendMessage.

For each: every message gets exactly one answer (no duplicate, none lost), or, where the person was told
to retry ("non è disponibile"), its update is stored; every update ends up stored; no process died; and a
message sent after the recovery gets a normal answer, with no manual step.

A message in flight when the gateway is killed (stored, its update already confirmed to Telegram, not yet
answered) is answered by the restarted gateway (bot/recovery.py), exactly once.

These drills start their own action server, Rasa server, fake Telegram server and gateway (module scope):
the session's processes, used by the other end-to-end tests, are never touched.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.channels.telegram.people import TEXT_SOMETHING_WRONG
from bot.conversation import texts
from harness.stack import Gateway, RasaStack, start_gateway, start_rasa_stack
from harness.traffic import CONVERSATIONS, Outcome, Population, Sent, collect, drive, sent_calls

RATE = 3.0  # messages a second, from 12 people each writing every 4 s
FAILURE_TEXTS = {texts.UNAVAILABLE, texts.RATE_LIMITED, TEXT_SOMETHING_WRONG}


@dataclass
class Drill:
    rasa: RasaStack
    gw: Gateway

    def all_alive(self) -> dict[str, bool]:
        return {p.name: p.alive for p in [*self.rasa.procs, *self.gw.procs]}

    def ensure_up(self) -> None:
        """Start again whatever an earlier failed drill left down, so one failure does not cascade."""
        if not self.rasa.actions.alive:
            self.rasa.start_actions()
        if not self.rasa.rasa.alive:
            self.rasa.start_rasa()
        if not self.gw.process.alive:
            self.gw.kill_and_start()


@pytest.fixture(scope="module")
def drill(tmp_path_factory) -> Iterator[Drill]:
    logdir = tmp_path_factory.mktemp("drill-logs")
    rasa = start_rasa_stack(logdir)
    try:
        gw = start_gateway(rasa.rasa_url, rasa.token, logdir, logdir / "gateway.db")
    except BaseException:
        rasa.stop()
        raise
    try:
        yield Drill(rasa, gw)
    finally:
        gw.stop()
        rasa.stop()


class Load:
    """Simulated people writing in a background thread until the block ends (at most ``limit`` s)."""

    def __init__(self, telegram: str, first_user: int, rate: float = RATE, limit: float = 150) -> None:
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._args = (telegram, Population(first_user, 1), rate, limit)
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def _run(self) -> None:
        telegram, population, rate, limit = self._args
        asyncio.run(drive(telegram, population, rate, limit, stop=self._stop, sent=self.sent))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def stored_update_ids(db: Path) -> set[int]:
    with sqlite3.connect(db, timeout=30) as conn:
        return {row[0] for row in conn.execute("SELECT update_id FROM processed_updates")}


def wait_stored(db: Path, update_ids: set[int], timeout: float = 40) -> set[int]:
    """The update ids not stored after ``timeout`` s (the spool is written within about 15 s)."""
    deadline = time.monotonic() + timeout
    missing = set(update_ids)
    while missing and time.monotonic() < deadline:
        missing -= stored_update_ids(db)
        if missing:
            time.sleep(1)
    return missing


def probe(drill: Drill, user_id: int) -> str:
    """After the recovery, a new person asks something that needs Rasa and the action server."""
    r = httpx.post(
        f"{drill.gw.telegram}/_test/user_message",
        timeout=10,
        json={"user_id": user_id, "first_name": "Sonda", "text": "nido il sabato a Legnano"},
    )
    r.raise_for_status()
    r = httpx.get(
        f"{drill.gw.telegram}/_test/wait_sent",
        timeout=40,
        params={"chat_id": user_id, "method": "sendMessage", "count": 1, "timeout": 30},
    )
    assert r.status_code == 200, f"no answer after the recovery: {r.text}"
    return r.json()[0]["params"]["text"]


def run_drill(
    drill: Drill,
    first_user: int,
    fault: Callable[[], None],
    recover: Callable[[], None],
    *,
    before: float = 2.0,
    hold: float = 0.0,
    after: float = 3.0,
    drain: float = 30.0,
) -> tuple[Outcome, float]:
    """Load; ``fault()``; ``hold`` s; ``recover()`` (returns once the part is back); more load; then the
    outcome, and when the recovery ended (time.time())."""
    drill.ensure_up()
    httpx.post(f"{drill.gw.telegram}/_test/reset", timeout=10).raise_for_status()
    with Load(drill.gw.telegram, first_user) as load:
        time.sleep(before)
        fault()
        time.sleep(hold)
        recover()
        recovered = time.time()
        time.sleep(after)
    outcome = collect(drill.gw.telegram, load.sent, timeout=drain)
    return outcome, recovered


def check(
    drill: Drill, outcome: Outcome, recovered: float, *, told_to_retry_ok: bool, unanswered_ok: int = 0
) -> None:
    sent = [p.sent for p in outcome.pairs]
    assert sent and outcome.send_errors == 0
    assert outcome.duplicated == 0, f"duplicate replies: {outcome.extra}"
    assert outcome.lost <= unanswered_ok, [p.sent.text for p in outcome.pairs if p.reply is None]
    unavailable = outcome.told_unavailable()
    if not told_to_retry_ok:
        assert not unavailable, f"{len(unavailable)} people told the assistant is unavailable"
    # every update is stored, those answered "non è disponibile" first of all
    missing = wait_stored(drill.gw.db_path, {s.update_id for s in sent if s.update_id is not None})
    assert not missing, f"{len(missing)} updates not stored"
    # after the recovery (and a moment for the first answers in flight), only normal answers
    late = [p for p in outcome.pairs if p.sent.t > recovered + 1.5]
    assert late, "no message was sent after the recovery"
    wrong = [(p.sent.text, p.text) for p in late if p.text in FAILURE_TEXTS]
    assert not wrong, f"answers after the recovery that are not normal: {wrong}"
    assert all(drill.all_alive().values()), drill.all_alive()


def report(name: str, outcome: Outcome, capsys) -> None:
    s = outcome.summary()
    with capsys.disabled():
        print(
            f"\n[{name}] {s['sent']} messages, {s['answered']} answered, {s['unavailable_replies']} told "
            f"'non è disponibile', lost {s['lost']}, duplicated {s['duplicated']}, p50 {s['p50_ms']} ms, "
            f"max {s['max_ms']} ms"
        )


# ---------------------------------------------------------------------------------------------- drills


def test_control_every_turn_is_one_message(drill: Drill, capsys) -> None:
    """No fault: the correlation the drills rely on (one Telegram message per update, in order) holds."""
    httpx.post(f"{drill.gw.telegram}/_test/reset", timeout=10).raise_for_status()
    with Load(drill.gw.telegram, 9_100_000) as load:
        time.sleep(6)
    outcome = collect(drill.gw.telegram, load.sent, timeout=60)
    report("control", outcome, capsys)
    assert outcome.lost == 0 and outcome.duplicated == 0
    assert not [p.text for p in outcome.pairs if p.text in FAILURE_TEXTS]
    for chat in {p.sent.user_id for p in outcome.pairs}:
        calls = httpx.get(f"{drill.gw.telegram}/_test/sent", params={"chat_id": chat, "all": "1"}).json()
        messages = [c for c in calls if c["method"] == "sendMessage"]
        assert len(messages) == sum(1 for p in outcome.pairs if p.sent.user_id == chat), messages
    texts_sent = {p.sent.text for p in outcome.pairs}
    assert len(texts_sent) >= len(CONVERSATIONS)  # the whole mix was exercised


def test_rasa_killed_and_restarted(drill: Drill, capsys) -> None:
    outcome, recovered = run_drill(drill, 9_200_000, drill.rasa.rasa.kill, drill.rasa.start_rasa)
    report("rasa killed", outcome, capsys)
    assert outcome.told_unavailable(), "nobody wrote while Rasa was down"
    check(drill, outcome, recovered, told_to_retry_ok=True)
    assert "Legnano" in probe(drill, 9_250_000)


def test_action_server_killed_and_restarted(drill: Drill, capsys) -> None:
    killed: list[float] = []

    def kill() -> None:
        killed.append(time.time())
        drill.rasa.actions.kill()

    outcome, recovered = run_drill(drill, 9_300_000, kill, drill.rasa.start_actions, hold=5)
    report("action server killed", outcome, capsys)
    check(drill, outcome, recovered, told_to_retry_ok=True)
    assert "Legnano" in probe(drill, 9_350_000)
    # While the action server is down, Rasa logs the failed action and answers nothing (no text, no meta):
    # the person must hear that the assistant is not available and to retry, not to rephrase.
    during = [
        p.text for p in outcome.pairs if p.sent.to_rasa and killed[0] + 0.5 < p.sent.t < recovered - 0.5
    ]
    assert during, "nobody wrote while the action server was down"
    assert all(t == texts.UNAVAILABLE for t in during), during


def test_gateway_stopped_and_restarted(drill: Drill, capsys) -> None:
    outcome, recovered = run_drill(drill, 9_400_000, drill.gw.restart, lambda: None)
    report("gateway restarted", outcome, capsys)
    # the updates that queued up during the restart reach Rasa all at once: on a busy machine a few can
    # pass the gateway's Rasa timeout and be told to retry, which is allowed (they are stored)
    check(drill, outcome, recovered, told_to_retry_ok=True)


def test_gateway_killed_and_restarted(drill: Drill, capsys) -> None:
    """SIGKILL while a message is being answered (stored, Rasa thinking), then start again. Rasa is
    paused (SIGSTOP) around the kill, so the message is surely in flight, like every message of the load
    that arrives meanwhile; it resumes before the gateway starts again."""
    in_flight: list[int] = []

    def kill_while_answering() -> None:
        user = 9_590_000
        rasa = drill.rasa.rasa.popen
        rasa.send_signal(signal.SIGSTOP)
        try:
            r = httpx.post(
                f"{drill.gw.telegram}/_test/user_message",
                timeout=10,
                json={"user_id": user, "first_name": "Giulia", "text": "centri estivi a Legnano"},
            )
            update_id = r.json()["update_id"]
            deadline = time.monotonic() + 3
            while update_id not in stored_update_ids(drill.gw.db_path) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not sent_calls_to(drill, user):  # not answered yet: it is in flight
                in_flight.append(update_id)
            drill.gw.process.kill()
        finally:
            rasa.send_signal(signal.SIGCONT)
        drill.gw.kill_and_start()  # (already dead: started again)

    outcome, recovered = run_drill(drill, 9_500_000, kill_while_answering, lambda: None, drain=15)
    report("gateway killed", outcome, capsys)
    # the load's own messages in flight at the kill, if any, are answered after the restart like the one
    # sent on purpose: none lost, none answered twice
    check(drill, outcome, recovered, told_to_retry_ok=True)
    # (on a very fast machine the message may be answered before the kill: then only the load counts)
    assert not wait_stored(drill.gw.db_path, set(in_flight)), "the message in flight was not stored"
    r = httpx.get(
        f"{drill.gw.telegram}/_test/wait_sent",
        timeout=40,
        params={"chat_id": 9_590_000, "method": "sendMessage", "count": 1, "timeout": 30},
    )
    assert r.status_code == 200, f"the message in flight was never answered: {r.text}"
    answers = sent_calls_to(drill, 9_590_000)
    assert len(answers) == 1, [a["params"]["text"] for a in answers]
    if in_flight:
        assert answers[0]["params"]["text"].startswith("Scusa, mi sono interrotta"), answers


def sent_calls_to(drill: Drill, chat_id: int) -> list[dict]:
    r = httpx.get(
        f"{drill.gw.telegram}/_test/sent", params={"chat_id": chat_id, "method": "sendMessage"}, timeout=10
    )
    return r.json()


def test_database_unreachable_for_a_while(drill: Drill, capsys) -> None:
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        conn = sqlite3.connect(drill.gw.db_path, timeout=10, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    def unlock() -> None:
        holder[0].rollback()
        holder[0].close()

    outcome, recovered = run_drill(drill, 9_600_000, lock, unlock, hold=8, after=5)
    report("database locked", outcome, capsys)
    check(drill, outcome, recovered, told_to_retry_ok=False)
    gateway_log = drill.gw.process.log.read_text(errors="replace")
    assert "database unreachable" in gateway_log  # the outage really happened


def test_telegram_answers_429_then_502(drill: Drill, capsys) -> None:
    def fail() -> None:
        for body in (
            {"method": "sendMessage", "status": 429, "times": 4, "retry_after": 1},
            {"method": "sendMessage", "status": 502, "times": 3},
        ):
            httpx.post(f"{drill.gw.telegram}/_test/fail", json=body, timeout=10).raise_for_status()

    outcome, recovered = run_drill(drill, 9_700_000, fail, lambda: time.sleep(4))
    report("telegram 429 and 502", outcome, capsys)
    failed = [c for c in sent_calls(drill.gw.telegram, include_failed=True) if not c["ok"]]
    assert sorted(c["status"] for c in failed) == [429] * 4 + [502] * 3  # the failures really happened
    check(drill, outcome, recovered, told_to_retry_ok=False)

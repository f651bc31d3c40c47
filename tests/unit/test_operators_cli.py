"""`concilia operators ...`: the administrator's commands, on a real SQLite file, and the clock settings
the handoff reads (CONCILIA_FAKE_NOW, for tests only)."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from bot import cli
from bot.handoff.invites import code_hash
from bot.settings import DatabaseSettings, Settings


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "concilia.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("CONCILIA_FAKE_NOW", raising=False)
    return path


def test_invite_prints_a_one_time_code_stored_only_as_a_hash(db, capsys):
    assert cli.main(["operators", "invite", "--partner", "asp-abbiatense"]) == 0
    out = capsys.readouterr().out
    code = re.search(r"/operatore ([A-Z0-9]{4}-[A-Z0-9]{4})", out).group(1)
    assert "Azienda servizi alla persona dell'Abbiatense" in out and "Vale una volta sola" in out

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, partner_id, code_hash, used_at FROM invite_codes").fetchall()
    assert rows == [("operator", "asp-abbiatense", code_hash(code), None)]


def test_group_code_list_and_remove(db, capsys):
    assert cli.main(["operators", "group-code", "--partner", "coop-nidi-ovest", "--code-only"]) == 0
    code = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO operators (partner_id, telegram_user_id, first_name, active, created_at) "
            "VALUES ('coop-nidi-ovest', 555, 'Paola', 1, '2026-11-26 10:00:00')"
        )
        conn.execute(
            "INSERT INTO operator_groups (partner_id, chat_id, title, linked_at) "
            "VALUES ('coop-nidi-ovest', -100123, 'Operatori nidi', '2026-11-26 10:00:00')"
        )

    assert cli.main(["operators", "list"]) == 0
    listing = capsys.readouterr().out
    assert (
        "coop-nidi-ovest — Cooperativa sociale Nidi aperti (esempio): gruppo «Operatori nidi» (-100123)"
        in listing
    )
    assert "operatore n. 1: Paola (Telegram 555), attivo" in listing

    assert cli.main(["operators", "remove", "--operator", "1"]) == 0
    assert cli.main(["operators", "remove", "--operator", "1"]) == 1
    cli.main(["operators", "list"])
    assert "Paola (Telegram 555), disattivato" in capsys.readouterr().out


def test_an_unknown_partner_is_named_with_the_known_ones(db, capsys):
    assert cli.main(["operators", "invite", "--partner", "nessuno"]) == 2
    err = capsys.readouterr().err
    assert "Ente sconosciuto: nessuno" in err and "azienda-consortile-magentino" in err


def test_the_fake_clock_runs_from_concilia_fake_now(monkeypatch):
    settings = Settings(
        _env_file=None, rasa_token="abcdefgh1234", concilia_fake_now="2027-06-15T10:00:00+02:00"
    )
    clock = settings.clock()
    first = clock()
    time.sleep(0.05)
    origin = datetime(2027, 6, 15, 8, 0, tzinfo=timezone.utc)
    assert origin <= first < origin.replace(second=5)
    assert (clock() - first).total_seconds() >= 0.04
    real = Settings(_env_file=None, rasa_token="abcdefgh1234").clock()()
    assert abs((real - datetime.now(timezone.utc)).total_seconds()) < 5
    with pytest.raises(ValidationError, match="CONCILIA_FAKE_NOW"):
        Settings(_env_file=None, rasa_token="abcdefgh1234", concilia_fake_now="2027-06-15T10:00:00")
    assert (
        DatabaseSettings(_env_file=None, concilia_fake_now="2027-06-15T10:00:00+02:00").clock()().year == 2027
    )


def test_handoff_timeouts_are_settings(monkeypatch):
    monkeypatch.setenv("HANDOFF_UNCLAIMED_SECONDS", "2.5")
    monkeypatch.setenv("HANDOFF_SILENT_SECONDS", "60")
    settings = Settings(_env_file=None, rasa_token="abcdefgh1234")
    assert (settings.handoff_unclaimed_seconds, settings.handoff_silent_seconds) == (2.5, 60.0)
    assert (
        Settings(_env_file=None, rasa_token="abcdefgh1234", handoff_check_every=30).handoff_check_every == 30
    )
    with pytest.raises(ValidationError):
        Settings(_env_file=None, rasa_token="abcdefgh1234", handoff_unclaimed_seconds=0)

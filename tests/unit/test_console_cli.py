"""`concilia console ...`: invites printed as one-time links (the token stored only as its hash), the
list of accounts, revocation, and the refusals an administrator can meet; on a real SQLite file."""

from __future__ import annotations

import hashlib
import re
import sqlite3

import pytest

from bot import cli


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "concilia.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("CONSOLE_URL", "https://concilia.example.it/")
    monkeypatch.delenv("CONCILIA_FAKE_NOW", raising=False)
    return path


def test_invite_prints_a_link_whose_token_is_stored_only_hashed(db, capsys):
    args = ["console", "invite", "--partner", "asp-abbiatense", "--role", "operator", "--login", "sara"]
    assert cli.main([*args, "--name", "Sara"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"https://concilia\.example\.it/console/invito\?t=([A-Za-z0-9_-]{43})\n", out).group(1)
    assert "Vale una volta sola" in out and "Azienda servizi alla persona dell'Abbiatense" in out

    with sqlite3.connect(db) as conn:
        invites = conn.execute("SELECT token_hash, used_at FROM console_invites").fetchall()
        account = conn.execute(
            "SELECT partner_id, role, login, password_hash FROM console_accounts"
        ).fetchall()
        operator = conn.execute("SELECT partner_id, telegram_user_id, first_name FROM operators").fetchall()
    assert invites == [(hashlib.sha256(token.encode()).hexdigest(), None)]
    assert account == [("asp-abbiatense", "operator", "sara", None)]
    assert operator == [("asp-abbiatense", None, "Sara")]

    assert cli.main(["console", "list"]) == 0
    assert (
        "sara: operator di asp-abbiatense (Sara), attivo, invito non ancora usato" in capsys.readouterr().out
    )


def test_revoke_and_the_refusals(db, capsys):
    assert cli.main(["console", "invite", "--partner", "nessuno", "--role", "manager", "--login", "x1"]) == 2
    assert "Ente sconosciuto: nessuno" in capsys.readouterr().err
    assert (
        cli.main(["console", "invite", "--partner", "asp-abbiatense", "--role", "manager", "--login", "A B"])
        == 2
    )
    assert "nome utente" in capsys.readouterr().err
    assert cli.main(["console", "revoke", "--login", "nessuno"]) == 1
    assert "Nessun account" in capsys.readouterr().err

    base = [
        "console",
        "invite",
        "--partner",
        "asp-abbiatense",
        "--role",
        "manager",
        "--login",
        "mara",
        "--link-only",
    ]
    assert cli.main(base) == 0
    capsys.readouterr()
    assert cli.main(["console", "revoke", "--login", "mara", "--deactivate"]) == 0
    assert "Sessioni chiuse: 0 e account disattivato." in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT active FROM console_accounts").fetchall() == [(0,)]
        assert conn.execute("SELECT active FROM operators").fetchall() == [(0,)]

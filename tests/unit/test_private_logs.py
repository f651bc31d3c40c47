"""What the gateway logs and stores on disk gives nobody a person's data: phone numbers, e-mail addresses,
codici fiscali and IBANs are masked in every log line (arguments and exception text too), the database
never puts bound values in its errors, and the SQLite files are readable by their owner only.

The samples look real but are not anybody's: 333 000 xxxx and 02 0000 xxxx are not assigned, the codice
fiscale is the textbook "Mario Rossi", the IBAN is the one printed in banking manuals, the address is at
example.org."""

from __future__ import annotations

import io
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.logs import configure_logging
from bot.store import make_engine

PHONE = "333 000 1234"
LANDLINE = "+39 02 0000 1234"
EMAIL = "giulia.bianchi@example.org"
TAX_CODE = "RSSMRA85T10A562S"
IBAN = "IT60 X054 2811 1010 0000 0123 456"
SECRET = "r4sa-t0ken-for-tests-0123456789"


class Logged:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.log = logging.getLogger("bot.conversation.router")

    @property
    def err(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def logged() -> Iterator[Logged]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", [SECRET])  # what `concilia run` does at start, on stderr
    logged = Logged()
    root.handlers[0].setStream(logged.stream)  # type: ignore[attr-defined]
    try:
        yield logged
    finally:
        root.handlers[:], root.level = saved


def test_personal_data_is_masked_in_messages_and_their_arguments(logged) -> None:
    logged.log.info("message from %s: %r", "web:w-42", f"chiamami al {PHONE} o scrivi a {EMAIL}")
    logged.log.warning(f"codice fiscale {TAX_CODE.lower()}, IBAN {IBAN}, fisso {LANDLINE}")

    err = logged.err
    for data in (PHONE, EMAIL, TAX_CODE, TAX_CODE.lower(), IBAN, LANDLINE, "0000 1234"):
        assert data not in err
    assert "chiamami al <phone> o scrivi a <email>" in err
    assert "codice fiscale <tax-code>, IBAN <iban>, fisso <phone>" in err
    assert "message from web:w-42" in err


def test_personal_data_is_masked_in_exception_text(logged) -> None:
    try:
        raise ValueError(f"could not store {{'text': 'sono {EMAIL}, tel. {PHONE}', 'token': '{SECRET}'}}")
    except ValueError:
        logged.log.exception("turn failed")

    err = logged.err
    assert "turn failed" in err and "ValueError: could not store" in err
    assert EMAIL not in err and PHONE not in err and SECRET not in err
    assert "sono <email>, tel. <phone>" in err and "'token': '***'" in err


def test_ids_dates_and_times_are_left_as_they_are(logged) -> None:
    line = "update 987654321 from chat -1001234567890: ticket #42 on 14/09/2026 at 18:30, 35 €"
    logged.log.info(line)

    assert line in logged.err


def test_database_errors_do_not_quote_the_bound_values(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'concilia.db'}")
    try:
        with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table VALUES (:t)"), {"t": f"il mio numero è {PHONE}"})
    finally:
        engine.dispose()
    assert "no_such_table" in str(failed.value)
    assert PHONE not in str(failed.value) and "parameters hidden" in str(failed.value)


def test_database_folder_and_files_are_the_owners_only(tmp_path: Path) -> None:
    db = tmp_path / "var" / "concilia.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    engine.dispose()
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700

    for suffix in ("", "-wal"):  # an older run left them readable by everyone
        db.with_name(db.name + suffix).touch()
        db.with_name(db.name + suffix).chmod(0o644)
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('ciao')"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    engine.dispose()
    assert modes["concilia.db"] == 0o600 and modes["concilia.db-wal"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes

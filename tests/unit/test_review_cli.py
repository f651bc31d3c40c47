"""`concilia review export` on a real SQLite file: the labels written as Rasa data under nlu/data with the
counts printed, nothing written twice, an existing file never overwritten. Rasa reads the file in
tests/integration/test_review_export_rasa.py."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import yaml

from bot import cli
from bot.handoff.office_hours import ROME
from bot.store import NewMessage, Store, make_engine, new_sender_id, upgrade
from bot.store.review import ReviewStore

LABELLED = [
    ("bimbi la sera, chiamatemi al 347 123 4567", "ask_nursery"),
    ("chi mi aiuta con la nonna?", "ask_caregiver"),
    ("mi prestate una bici?", "out_of_scope"),
    ("corsi di nuoto per mamme", "new_need"),
]


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "concilia.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("CONCILIA_FAKE_NOW", raising=False)
    asyncio.run(_labelled(f"sqlite:///{path}"))
    return path


async def _labelled(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    now = datetime.now(ROME)
    try:
        for n, (text, label) in enumerate(LABELLED):
            record = NewMessage(
                channel="web",
                user_key=f"k{n}",
                direction="in",
                rasa_sender_id=new_sender_id(),
                text=text,
                created_at=now,
            )
            ref = await store.save([record])
            assert ref is not None and ref.message_id is not None
            await ReviewStore(store).set_label(ref.message_id, ref.id, label, 1, "Mara", now)
    finally:
        store.close()


def test_review_export_writes_rasa_data_once_and_reports_it(db, tmp_path, capsys):
    assert cli.main(["review", "export"]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "nlu" / "data" / f"review_{datetime.now(ROME).date().isoformat()}.yml"
    assert f"Scritti 3 esempi in nlu/data/{written.name}" in out
    assert "ask_caregiver: 1" in out and "ask_nursery: 1" in out and "out_of_scope: 1" in out
    assert "new_need" not in out
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert [b["intent"] for b in data["nlu"]] == ["ask_nursery", "ask_caregiver", "out_of_scope"]
    assert data["nlu"][0]["examples"][0]["text"] == "bimbi la sera, chiamatemi al <telefono>"

    assert cli.main(["review", "export"]) == 0
    assert "Nessun messaggio etichettato da esportare." in capsys.readouterr().out
    assert sorted(p.name for p in written.parent.iterdir()) == [written.name]


def test_review_export_refuses_an_existing_file(db, tmp_path, capsys):
    earlier = tmp_path / "earlier.yml"
    earlier.write_text("version: '3.1'\n", encoding="utf-8")
    assert cli.main(["review", "export", "--out", str(earlier)]) == 2
    assert "esiste già" in capsys.readouterr().err
    assert earlier.read_text(encoding="utf-8") == "version: '3.1'\n"
    assert cli.main(["review", "export", "--out", str(tmp_path / "new.yml")]) == 0  # still to export

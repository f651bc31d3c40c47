"""The console's review queue on a real (in-memory) database: which messages come into it and why, the
manager's scope (403 for an operator and for another partner's manager), CSRF, labels stored and audited,
masking in the page and in the export, the export written once, and erasure (/cancella, retention)."""

from __future__ import annotations

import re

import pytest
import yaml
from aiohttp import web

from bot.console.dashboard import DashboardWeb
from bot.console.review import ReviewWeb
from bot.insights import review
from bot.insights.rasa_export import export
from bot.store.insights import InsightsStore
from bot.store.retention import purge_once
from bot.store.review import ReviewStore
from tests.unit.test_console import Console, audit, csrf, sign_in
from tests.unit.test_console_dashboard import answered, signed
from tests.unit.test_handoff import ABBIATENSE, GROUP, MAGENTINO, write

CAMPS = {"intent": "ask_summer_camp", "confidence": 0.95, "topic": "school_closure", "territory": "magentino"}
NOT_UNDERSTOOD = {**CAMPS, "intent": "nlu_fallback", "fallback": True, "confidence": 0.3}
CLARIFIED = {**CAMPS, "intent": "ask_nursery", "clarify": ["school_closure", "evening_nursery"]}
PHONE_MAIL = "mi chiamate al 347 123 4567 o scrivete a giulia.rossi@example.it? abito in via Roma 3"


@pytest.fixture
async def h():
    c = Console()
    c.clients = []
    dashboard = DashboardWeb(c.web, c.service, InsightsStore(c.store))
    c.review = ReviewWeb(dashboard, ReviewStore(c.store))
    dashboard.waiting = c.review.waiting
    mount = c.web.mount

    def every(app: web.Application) -> None:  # the console's, the dashboard's and the queue's, as in app.py
        mount(app)
        dashboard.mount(app)
        c.review.mount(app)

    c.web.mount = every  # type: ignore[method-assign]
    await c.service.operators.link_group(MAGENTINO, GROUP, "Operatori Magentino", c.clock())
    yield c
    for made in c.clients:
        await made.close()
    c.store.close()


async def turn(h, key: str, text: str, meta: dict) -> int:
    """She writes ``text``, the assistant answers with ``meta``; the id of her message."""
    await answered(h, key, meta, text=text)
    return max(m.id for m in await h.store.messages_of(await user_id(h, key)) if m.direction == "in")


async def user_id(h, key: str) -> int:
    return (await h.store.find_user("web", key)).id


def ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'action="/console/revisione/(\d+)"', html)]


async def label(client, message_id: int, value: str, *, token: str | None = None):
    page = await (await client.get("/console/revisione")).text()
    form = {"label": value} | ({"csrf": token if token is not None else csrf(page)} if token != "" else {})
    return await client.post(f"/console/revisione/{message_id}", data=form)


async def test_the_queue_holds_the_misunderstood_clarified_and_confident_but_badly_rated_messages(h):
    misunderstood = await turn(h, "p1", PHONE_MAIL, NOT_UNDERSTOOD)
    clarified = await turn(h, "p2", "bimbi la sera", CLARIFIED)
    await turn(h, "p3", "centri estivi a Magenta", CAMPS)  # answered well, and never rated: not here
    rated = await turn(h, "p4", "campi estivi ad agosto a Magenta", CAMPS)
    person = await write(h, "p4", "posso parlare con una persona?", channel="web")
    await h.service.request(person, {**CAMPS, "handoff": True})
    ticket = await h.service.open_ticket(person.user_id)
    await h.service.tickets.close(ticket.id, h.clock(), actor="system", reason="closed")
    await h.service.tickets.rate(ticket.id, ticket.user_id, 1, h.clock())
    await turn(h, "p5", "non so", {**NOT_UNDERSTOOD, "territory": "abbiatense"})  # another partner's

    manager = await signed(h, "mara", MAGENTINO, "manager")
    answer = await manager.get("/console/revisione")
    html = await answer.text()
    assert answer.status == 200 and ids(html) == [rated, clarified, misunderstood]
    assert "non capito" in html and "chiarimento" in html and "voto basso" in html
    assert "347" not in html and "giulia.rossi" not in html and "via Roma 3" not in html
    assert "[telefono]" in html and "[e-mail]" in html and "[indirizzo]" in html
    assert "non so" not in html and "Da etichettare: 3." in html
    assert "3 messaggi aspettano" in await (await manager.get("/console/cruscotto")).text()
    assert ("review", "ok") in await audit(h)


async def test_a_manager_labels_a_message_stored_and_audited_and_the_dashboard_counts_one_less(h):
    first = await turn(h, "p1", "bimbi la sera", CLARIFIED)
    await turn(h, "p2", "il mio capo non paga", NOT_UNDERSTOOD)
    manager = await signed(h, "mara", MAGENTINO, "manager")

    bad = await label(manager, first, "ask_anything")
    assert bad.status == 400 and "dall&#x27;elenco" in await bad.text()
    saved = await label(manager, first, "ask_nursery")
    assert saved.status == 200 and "Etichetta salvata" in await saved.text()
    [stored] = (await h.review.store.labels()).values()
    assert (stored.message_id, stored.label, stored.labelled_by) == (first, "ask_nursery", "Mara")
    assert stored.labelled_at == h.clock()
    assert ("review_label", "ok") in await audit(h)
    entry = next(a for a in await h.console.audit_log() if a.action == "review_label")
    assert entry.detail == f"message {first}: ask_nursery" and entry.partner_id == MAGENTINO
    assert "Un messaggio aspetta" in await (await manager.get("/console/cruscotto")).text()
    assert (await label(manager, first, "new_need")).status == 200  # changed again, before an export
    assert [x.label for x in (await h.review.store.labels()).values()] == ["new_need"]


async def test_an_operator_and_another_partners_manager_get_403_and_the_alliance_only_reads(h):
    mine = await turn(h, "p1", "bimbi la sera", CLARIFIED)
    operator = await signed(h, "lucia", MAGENTINO, "operator")
    assert (await operator.get("/console/revisione")).status == 403
    assert (await operator.post(f"/console/revisione/{mine}", data={"label": "ask_nursery"})).status == 403

    other = await signed(h, "sara", ABBIATENSE, "manager")
    page = await (await other.get("/console/revisione")).text()
    assert "bimbi la sera" not in page and ids(page) == []
    refused = await label(other, mine, "ask_nursery")
    assert refused.status == 403 and "non è nella tua coda" in await refused.text()

    alliance = await signed(h, "elena", "alleanza-capofila", "alliance")
    everything = await (await alliance.get("/console/revisione")).text()
    assert "bimbi la sera" in everything and ids(everything) == []  # seen, no form
    assert (await label(alliance, mine, "ask_nursery")).status == 403
    assert await h.review.store.labels() == {}
    refusals = [a for a in await h.console.audit_log() if a.outcome == "refused"]
    assert {a.action for a in refusals} == {"review", "review_label"}
    assert len([a for a in refusals if a.action == "review_label"]) == 3


async def test_a_label_without_its_csrf_token_or_with_a_wrong_one_is_refused(h):
    mine = await turn(h, "p1", "bimbi la sera", CLARIFIED)
    manager = await signed(h, "mara", MAGENTINO, "manager")
    assert (await label(manager, mine, "ask_nursery", token="")).status == 403
    assert (await label(manager, mine, "ask_nursery", token="x" * 64)).status == 403
    assert await h.review.store.labels() == {}
    assert ("csrf", "refused") in await audit(h)


async def test_the_export_writes_masked_rasa_data_once_without_new_needs_or_the_persons_ids(h, tmp_path):
    masked = await turn(h, "p1", PHONE_MAIL + " [ciao](town)", NOT_UNDERSTOOD)
    nursery = await turn(h, "p2", "bimbi la sera\nanche il sabato", CLARIFIED)
    new = await turn(h, "p3", "corsi di nuoto per mamme", NOT_UNDERSTOOD)
    manager = await signed(h, "mara", MAGENTINO, "manager")
    for message_id, value in ((masked, "out_of_scope"), (nursery, "ask_nursery"), (new, "new_need")):
        assert (await label(manager, message_id, value)).status == 200

    out = tmp_path / "nlu" / "data" / "review_2026-12-01.yml"
    done = await export(h.review.store, out, h.clock())
    assert done.path == out and done.counts == {"ask_nursery": 1, "out_of_scope": 1}
    text = out.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    by_intent = {b["intent"]: b["examples"] for b in data["nlu"]}
    assert set(by_intent) == {"out_of_scope", "ask_nursery"}
    [[oos], [nurse]] = by_intent["out_of_scope"], by_intent["ask_nursery"]
    assert nurse["text"] == "bimbi la sera anche il sabato"
    assert "<telefono>" in oos["text"] and "<email>" in oos["text"] and "<indirizzo>" in oos["text"]
    assert "[" not in oos["text"] and "347" not in text and "giulia" not in text and "nuoto" not in text
    labels = await h.review.store.labels()
    assert {e["metadata"]["review"] for e in (oos, nurse)} == {labels[masked].id, labels[nursery].id}
    assert oos["metadata"]["date"] == "2026-12-01" and set(oos["metadata"]) == {"review", "date"}
    people = [await h.store.find_user("web", k) for k in ("p1", "p2")]
    assert "p1" not in text and "p2" not in text and "rasa" not in text
    assert not {p.id for p in people} & {e["metadata"]["review"] for e in (oos, nurse)} - {
        labels[masked].id,
        labels[nursery].id,
    }
    assert all(p.rasa_sender_id not in text for p in people)

    again = await export(h.review.store, tmp_path / "again.yml", h.clock())
    assert again.path is None and not (tmp_path / "again.yml").exists()  # nothing written twice
    page = await (await manager.get("/console/revisione")).text()
    assert masked not in ids(page) and new in ids(page)  # exported: no longer to be labelled
    assert (await label(manager, masked, "ask_nursery")).status == 409
    assert (await label(manager, new, "ask_caregiver")).status == 200
    with pytest.raises(FileExistsError):
        await export(h.review.store, out, h.clock())  # never over an earlier export
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == data


async def test_erasure_and_retention_take_her_messages_out_of_the_queue_and_the_unexported_labels(h):
    erased = await turn(h, "p1", "bimbi la sera", CLARIFIED)
    exported = await turn(h, "p2", "il mio capo non paga", NOT_UNDERSTOOD)
    kept = await turn(h, "p3", "e il sabato?", CLARIFIED)
    manager = await signed(h, "mara", MAGENTINO, "manager")
    for message_id, value in ((erased, "ask_nursery"), (exported, "out_of_scope"), (kept, "ask_nursery")):
        assert (await label(manager, message_id, value)).status == 200
    await h.review.store.mark_exported([(await h.review.store.labels())[exported].id], h.clock())

    gone = await user_id(h, "p1")
    await h.service.forget(gone)  # /cancella: the handoff's part, then the store's (bot.conversation.privacy)
    await h.store.erase_user(gone)
    assert erased not in await h.review.store.labels()
    assert erased not in ids(await (await manager.get("/console/revisione")).text())

    h.clock.advance(days=2)
    await purge_once(h.store, 1, now=h.clock())  # their text goes after the retention period
    assert set(await h.review.store.labels()) == {exported}  # the unexported label went with the text
    assert (await sign_in(manager, "mara")).status == 303  # two days later: a new session
    assert ids(await (await manager.get("/console/revisione")).text()) == []
    assert "0 messaggi aspettano" in await (await manager.get("/console/cruscotto")).text()


def test_the_labels_are_the_domains_topic_intents_a_new_need_and_out_of_scope():
    intents = review.topic_intents()
    assert "ask_summer_camp" in intents and "ask_caregiver" in intents
    assert not {"ask_cost", "greet", "out_of_scope", "inform"} & set(intents)
    assert review.choices()[-2:] == ("new_need", "out_of_scope")


def test_the_domain_is_found_in_the_working_folder_of_an_installed_gateway(tmp_path, monkeypatch):
    installed, app = tmp_path / "site-packages", tmp_path / "app"
    (app / "nlu").mkdir(parents=True)
    (app / "nlu" / "domain.yml").write_text(
        "version: '3.1'\nintents:\n  # topics\n  - ask_nursery\n  # small talk\n  - greet\nslots: {}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(review, "DOMAINS", (installed, app))
    assert review.choices() == ("ask_nursery", "new_need", "out_of_scope")
    monkeypatch.setattr(review, "DOMAINS", (installed,))
    with pytest.raises(FileNotFoundError, match="nlu/domain.yml"):
        review.choices()

"""Replies prepared from the knowledge base in the console: on a company-welfare ticket the operator
inserts one of the welfare rules of knowledge/data/welfare.yml into the reply box in one click (as she
does a service's card), checks it and sends it; tickets about other topics are not offered the rules."""

from __future__ import annotations

from html import escape

from knowledge.welfare_text import welfare_rules
from tests.unit.test_console import KB, csrf, h, staff  # noqa: F401
from tests.unit.test_handoff import open_ticket

WELFARE_PARTNER = "welfare-imprese-ovest"
WELFARE = {"topic": "company_welfare", "territory": "magentino", "comune": "Magenta", "handoff": True}


def test_every_rule_of_the_welfare_file_is_a_card_with_its_reference():
    rules = {r.id: r for r in welfare_rules(KB)}
    welfare = KB.welfare
    expected = [t["id"] for t in welfare["thresholds"]] + [b["id"] for b in welfare["benefits"]]
    assert list(rules) == [*expected, "premio-di-risultato", "accordo-territoriale"]
    fringe = rules["fringe-benefit"]
    assert fringe.text.startswith("Fringe benefit esenti\nNel 2025, 2026 e 2027")
    assert "Riferimento: art. 51 c.3 TUIR" in fringe.text and welfare["verify_note"] in fringe.text
    assert "Da verificare" in rules["istruzione-figli-da-verificare"].text  # verify: true in the file
    assert "Da verificare" not in fringe.text
    steps = welfare["territorial_agreement"]["steps"]
    assert f"1. {steps[0]}" in rules["accordo-territoriale"].text


async def test_a_welfare_rule_goes_into_the_reply_box_in_one_click(h):  # noqa: F811
    assert KB.partner_for("company_welfare", "magentino").id == WELFARE_PARTNER
    client = await staff(h, "carla", partner=WELFARE_PARTNER, name="Carla")
    _, _, ticket = await open_ticket(h, key="60", meta=WELFARE)
    assert ticket is not None and ticket.partner_id == WELFARE_PARTNER
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    rule = next(r for r in welfare_rules(KB) if r.id == "istruzione-figli")
    assert f"Inserisci: {escape(rule.title)}" in html and 'name="rule" value="istruzione-figli"' in html

    form = {"rule": rule.id, "csrf": csrf(html)}
    prepared = await (await client.post(f"/console/ticket/{ticket.id}/prepara", data=form)).text()
    assert f"required>{escape(rule.text)}</textarea>" in prepared and "Regola inserita" in prepared
    assert h.sender.texts().count(rule.text) == 0  # nothing sent until she presses Invia

    unknown = {"rule": "nessuna", "csrf": csrf(html)}
    other = await client.post(f"/console/ticket/{ticket.id}/prepara", data=unknown)
    assert "non è tra quelle proposte" in await other.text()
    sent = await client.post(
        f"/console/ticket/{ticket.id}/risposta", data={"text": rule.text, "csrf": csrf(html)}
    )
    assert "Messaggio inviato." in await sent.text() and h.sender.texts().count(rule.text) == 1


async def test_a_ticket_about_another_topic_is_offered_service_cards_not_welfare_rules(h):  # noqa: F811
    _, _, ticket = await open_ticket(h)  # summer camps in Magenta
    client = await staff(h, "lucia")
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    assert 'name="service"' in html and 'name="rule"' not in html
    form = {"rule": "fringe-benefit", "csrf": csrf(html)}
    refused = await (await client.post(f"/console/ticket/{ticket.id}/prepara", data=form)).text()
    assert "non è tra quelle proposte" in refused

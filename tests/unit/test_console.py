"""The partners' console through its real pages (aiohttp's test client, an in-memory database, the real
knowledge base and handoff service): invites used once and expiring, sign-in with its limits, the
session cookie, CSRF, isolation between partners, the inbox's actions through the handoff service,
masking and the logged reveal, revocation, and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from bot.console.accounts import ConsoleAccounts, Limits
from bot.console.views import TicketViews
from bot.console.web import ConsoleWeb
from bot.handoff import texts as txt
from bot.handoff.model import Timeouts
from bot.handoff.service import HandoffService
from bot.store.console import ConsoleStore
from tests.fakes.handoff import Clock, RecordingDesk, RecordingSender
from tests.fakes.stores import memory_store
from tests.unit.test_handoff import ABBIATENSE, GROUP, KB, MAGENTINO, TUESDAY_10, open_ticket

PASSWORD = "una-password-lunga"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # the same argon2, cheaper for tests


class Console:
    def __init__(self) -> None:
        self.store = memory_store()
        self.clock = Clock(TUESDAY_10)
        self.desk, self.sender = RecordingDesk(), RecordingSender()
        self.service = HandoffService(
            self.store, lambda: KB, clock=self.clock, timeouts=Timeouts(600, 86_400)
        )
        self.service.attach_desk(self.desk)
        self.service.attach_sender("telegram", self.sender)
        self.console = ConsoleStore(self.store)
        self.accounts = ConsoleAccounts(
            self.console, clock=self.clock, limits=Limits(3, 6, 900.0), hasher=FAST
        )
        self.web = ConsoleWeb(self.accounts, TicketViews(self.service, self.console), clock=self.clock)

    async def client(self) -> TestClient:
        app = web.Application()
        self.web.mount(app)
        c = TestClient(TestServer(app))
        await c.start_server()
        self.clients.append(c)
        return c

    clients: list[TestClient]


@pytest.fixture
async def h():
    c = Console()
    c.clients = []
    await c.service.operators.link_group(MAGENTINO, GROUP, "Operatori Magentino", c.clock())
    yield c
    for client in c.clients:
        await client.close()
    c.store.close()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def invited(
    h, login: str, partner: str = MAGENTINO, role: str = "operator", name: str = "Lucia"
) -> str:
    token, _ = await h.accounts.invite(partner, role, login, name)
    return token


async def set_password(client: TestClient, token: str, password: str = PASSWORD, again: str | None = None):
    page = await client.get(f"/console/invito?t={token}")
    if page.status != 200:
        return page
    form = {"csrf": csrf(await page.text()), "token": token, "password": password, "again": again or password}
    return await client.post("/console/invito", data=form)


async def sign_in(client: TestClient, login: str, password: str = PASSWORD):
    page = await client.get("/console/login")
    form = {"csrf": csrf(await page.text()), "login": login, "password": password}
    return await client.post("/console/login", data=form, allow_redirects=False)


async def staff(h, login: str, partner: str = MAGENTINO, role: str = "operator", name: str = "Lucia"):
    client = await h.client()
    assert (await set_password(client, await invited(h, login, partner, role, name))).status == 200
    signed = await sign_in(client, login)
    assert signed.status == 303, await signed.text()
    return client


async def audit(h) -> list[tuple[str, str]]:
    return [(a.action, a.outcome) for a in reversed(await h.console.audit_log())]


# --- invites, passwords, sign-in ------------------------------------------------------------------


async def test_an_invite_sets_the_password_once_and_the_account_signs_in(h):
    client = await h.client()
    token = await invited(h, "lucia")
    assert token not in str([r for r in await h.console.accounts()])

    answer = await set_password(client, token)
    assert answer.status == 200 and "Password salvata" in await answer.text()
    again = await client.get(f"/console/invito?t={token}")
    assert again.status == 410 and "già stato usato o è scaduto" in await again.text()

    signed = await sign_in(client, "lucia")
    assert signed.status == 303 and signed.headers["Location"] == "/console/"
    cookie = next(v for k, v in signed.headers.items() if k == "Set-Cookie" and "concilia_console=" in v)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    queue = await client.get("/console/")
    assert queue.status == 200 and "Coda delle richieste" in await queue.text()
    assert ("set_password", "ok") in await audit(h) and ("sign_in", "ok") in await audit(h)


async def test_an_invite_expires_and_a_short_or_mismatched_password_is_refused(h):
    client = await h.client()
    token = await invited(h, "marta")
    short = await set_password(client, token, "corta")
    assert short.status == 400 and "almeno 10 caratteri" in await short.text()
    mismatch = await set_password(client, token, PASSWORD, PASSWORD + "x")
    assert mismatch.status == 400 and "non sono uguali" in await mismatch.text()

    h.clock.advance(hours=73)
    assert (await client.get(f"/console/invito?t={token}")).status == 410
    assert (await sign_in(client, "marta")).status == 401


async def test_wrong_passwords_slow_down_the_login_then_the_address(h):
    client = await h.client()
    await set_password(client, await invited(h, "lucia"))
    for _ in range(3):
        wrong = await sign_in(client, "lucia", "sbagliata-sbagliata")
        assert wrong.status == 401 and "sbagliati" in await wrong.text()
    blocked = await sign_in(client, "lucia")  # the right password, but too late
    assert blocked.status == 429 and "Troppi tentativi" in await blocked.text()
    assert ("sign_in", "slowed") in await audit(h)

    for n in range(3):  # other (unknown) logins from the same address fill its own limit
        assert (await sign_in(client, f"nessuno{n}", "x" * 12)).status == 401
    await set_password(client, await invited(h, "anna"))
    assert (await sign_in(client, "anna")).status == 429


async def test_a_form_without_its_csrf_token_is_refused(h):
    client = await h.client()
    await set_password(client, await invited(h, "lucia"))
    await client.get("/console/login")
    refused = await client.post("/console/login", data={"login": "lucia", "password": PASSWORD})
    assert refused.status == 403 and "non è valido" in await refused.text()

    client = await staff(h, "paola")
    _, _, ticket = await open_ticket(h)
    claim = await client.post(
        f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": "x" * 64}
    )
    assert claim.status == 403
    assert (await h.service.ticket(ticket.id)).state == "waiting"
    assert ("csrf", "refused") in await audit(h)


async def test_revoking_ends_the_sessions_and_signing_out_too(h):
    client = await staff(h, "lucia")
    assert await h.accounts.revoke("lucia") == 1
    after = await client.get("/console/", allow_redirects=False)
    assert after.status == 303 and after.headers["Location"] == "/console/login"

    assert (await sign_in(client, "lucia")).status == 303
    page = await client.get("/console/")
    out = await client.post("/console/logout", data={"csrf": csrf(await page.text())}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    assert ("revoke", "ok") in await audit(h) and ("sign_out", "ok") in await audit(h)


# --- the inbox ------------------------------------------------------------------------------------


async def test_another_partners_staff_get_403_and_it_is_logged(h):
    _, _, ticket = await open_ticket(h)
    client = await staff(h, "sara", partner=ABBIATENSE, name="Sara")
    assert f"n. {ticket.id}" not in await (await client.get("/console/")).text()

    page = await client.get(f"/console/ticket/{ticket.id}")
    assert page.status == 403 and "non è del tuo ente" in await page.text()
    queue = await client.get("/console/")
    claim = await client.post(
        f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": csrf(await queue.text())}
    )
    assert claim.status == 403
    assert (await h.service.ticket(ticket.id)).state == "waiting"
    assert [x for x in await audit(h) if x[1] == "refused"] == [("view", "refused"), ("azione", "refused")]


async def test_a_claim_and_a_reply_on_the_web_reach_the_topic_and_the_person_once(h):
    person, _, ticket = await open_ticket(h)
    client = await staff(h, "lucia", name="Lucia")
    queue = await (await client.get("/console/")).text()
    assert f"n. {ticket.id}" in queue and "Giulia" in queue and "in attesa" in queue

    page = await client.get(f"/console/ticket/{ticket.id}")
    html = await page.text()
    assert "centri estivi a Magenta a luglio?" in html and "Prendo io" in html
    claimed = await client.post(
        f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": csrf(html)}
    )
    assert claimed.status == 200 and txt.claimed_notice("Lucia") in await claimed.text()
    now = await h.service.ticket(ticket.id)
    assert (now.state, now.assigned_name) == ("assigned", "Lucia")
    assert txt.claimed_notice("Lucia") in h.desk.of("notice")  # the Telegram topic is told
    assert txt.joined("Lucia", KB.partners[MAGENTINO].name) in h.sender.texts()

    reply = "Ciao Giulia, a Magenta c'è il centro estivo comunale."
    sent = await client.post(
        f"/console/ticket/{ticket.id}/risposta", data={"text": reply, "csrf": csrf(html)}
    )
    assert sent.status == 200 and "Messaggio inviato." in await sent.text()
    assert h.sender.texts().count(reply) == 1
    assert any(reply in n and "console web" in n for n in h.desk.of("notice"))
    assert escape(reply) in await (await client.get(f"/console/ticket/{ticket.id}")).text()

    note = await client.post(
        f"/console/ticket/{ticket.id}/nota", data={"text": "Richiamare lunedì", "csrf": csrf(html)}
    )
    assert "Richiamare lunedì" in await note.text()
    closed = await client.post(
        f"/console/ticket/{ticket.id}/azione", data={"action": "back", "csrf": csrf(html)}
    )
    assert closed.status == 200
    assert (await h.service.ticket(ticket.id)).state == "closed"
    assert ("azione:claim", "ok") in await audit(h) and ("risposta", "ok") in await audit(h)


async def test_a_claim_in_the_telegram_topic_shows_on_the_web(h):
    _, _, ticket = await open_ticket(h)
    marco = await h.service.operators.add_operator(MAGENTINO, 501, "Marco", h.clock())
    assert (await h.service.act("claim", ticket.id, GROUP, marco.telegram_user_id, "Marco")).ok
    client = await staff(h, "lucia")
    queue = await (await client.get("/console/")).text()
    assert "presa in carico" in queue and "Marco" in queue
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    assert "Prendo io" not in html and "Rispondi alla persona" not in html
    sent = await client.post(
        f"/console/ticket/{ticket.id}/risposta", data={"text": "ciao", "csrf": csrf(html)}
    )
    assert escape(txt.taken_by_other("Marco")) in await sent.text()
    assert "ciao" not in h.sender.texts()


async def test_personal_data_is_masked_and_the_operator_who_has_the_ticket_may_reveal_it(h):
    from tests.unit.test_handoff import write

    person, _, ticket = await open_ticket(h)
    await write(
        h,
        "42",
        "chiamami al 333 123 4567 o scrivi a giulia.rossi@example.it, CF RSSGLI80A41F205X, via Roma 3",
    )
    client = await staff(h, "lucia")
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    assert (
        "[telefono]" in html and "[e-mail]" in html and "[codice fiscale]" in html and "[indirizzo]" in html
    )
    assert "4567" not in html and "example.it" not in html and "RSSGLI80A41F205X" not in html
    assert "Mostra il testo completo" not in html  # not hers yet

    not_yet = await client.post(f"/console/ticket/{ticket.id}/mostra", data={"csrf": csrf(html)})
    assert "example.it" not in await not_yet.text()
    await client.post(f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": csrf(html)})
    shown = await (await client.post(f"/console/ticket/{ticket.id}/mostra", data={"csrf": csrf(html)})).text()
    assert "giulia.rossi@example.it" in shown and "333 123 4567" in shown
    assert ("mostra", "refused") in await audit(h) and ("mostra", "ok") in await audit(h)


async def test_the_alliance_sees_every_partner_and_acts_on_none(h):
    _, _, ticket = await open_ticket(h)
    client = await staff(h, "capofila", partner="alleanza-capofila", role="alliance", name="Elena")
    assert f"n. {ticket.id}" in await (await client.get("/console/")).text()
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    assert "Prendo io" not in html
    refused = await client.post(
        f"/console/ticket/{ticket.id}/azione", data={"action": "claim", "csrf": csrf(html)}
    )
    assert "non gestirle" in await refused.text()
    assert (await h.service.ticket(ticket.id)).state == "waiting"


async def test_an_unknown_session_goes_to_the_login(h):
    client = await h.client()
    client.session.cookie_jar.update_cookies({"concilia_console": "A" * 43})
    answer = await client.get("/console/ticket/1", allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/console/login"
    assert timedelta(hours=8) == h.accounts.session_idle


async def test_notes_go_with_the_ticket_when_she_erases_and_after_the_retention_period(h):
    from bot.store.retention import purge_once

    person, _, ticket = await open_ticket(h)
    await h.console.add_note(ticket.id, "Lucia", "Giulia, via Roma 3, richiamare", h.clock())
    h.clock.advance(days=2)
    await purge_once(h.store, 1, now=h.clock())
    assert len(await h.console.notes(ticket.id)) == 1  # still open: kept
    await h.service.tickets.close(ticket.id, h.clock(), actor="system", reason="closed")
    await purge_once(h.store, 1, now=h.clock())
    assert await h.console.notes(ticket.id) == []

    _, _, second = await open_ticket(h, key="43")
    await h.console.add_note(second.id, "Lucia", "richiamare", h.clock())
    await h.service.forget(second.user_id)  # /cancella
    assert await h.console.notes(second.id) == []


async def test_a_partner_with_console_operators_only_gets_tickets(h):
    abbiate = {
        "topic": "school_closure",
        "territory": "abbiatense",
        "comune": "Abbiategrasso",
        "handoff": True,
    }
    assert KB.partner_for("school_closure", "abbiatense").id == ABBIATENSE
    _, [reply], ticket = await open_ticket(h, key="50", meta=abbiate)
    assert ticket is None and "Ti metto in contatto" not in reply.text  # nobody there: the contacts

    await invited(h, "sara", partner=ABBIATENSE, name="Sara")
    _, [reply], ticket = await open_ticket(h, key="51", meta=abbiate)
    assert reply.text.startswith(f"Ti metto in contatto con un operatore di {KB.partners[ABBIATENSE].name}.")
    assert ticket.partner_id == ABBIATENSE

    await h.accounts.revoke("sara", deactivate=True)
    _, _, ticket = await open_ticket(h, key="52", meta=abbiate)
    assert ticket is None


async def test_a_service_card_from_the_knowledge_base_goes_into_the_reply_box(h):
    from knowledge.service_text import describe_long

    _, _, ticket = await open_ticket(h)
    services = KB.find_services(topic="school_closure", territory="magentino", town="Magenta")
    assert services, "the knowledge base has summer camps in Magenta"
    client = await staff(h, "lucia")
    html = await (await client.get(f"/console/ticket/{ticket.id}")).text()
    assert f"Inserisci: {escape(services[0].title)}" in html

    form = {"service": services[0].id, "csrf": csrf(html)}
    prepared = await (await client.post(f"/console/ticket/{ticket.id}/prepara", data=form)).text()
    card = describe_long(KB, services[0])
    assert f"required>{escape(card)}</textarea>" in prepared and "Scheda inserita" in prepared
    assert h.sender.texts().count(card) == 0  # nothing sent until she presses Invia

    other = await client.post(
        f"/console/ticket/{ticket.id}/prepara", data={"service": "nessuno", "csrf": csrf(html)}
    )
    assert "non è tra quelli proposti" in await other.text()
    sent = await client.post(f"/console/ticket/{ticket.id}/risposta", data={"text": card, "csrf": csrf(html)})
    assert "Messaggio inviato." in await sent.text() and h.sender.texts().count(card) == 1


async def test_behind_a_trusted_https_proxy_the_cookies_are_secure(h):
    from ipaddress import ip_network

    h.web.trusted_proxies = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    client = await h.client()
    await set_password(client, await invited(h, "lucia"))
    https = {"X-Forwarded-Proto": "https"}
    page = await client.get("/console/login", headers=https)
    assert "Secure" in page.headers["Set-Cookie"]
    token = csrf(await page.text())
    form = {"csrf": token, "login": "lucia", "password": PASSWORD}
    # the browser sends a Secure cookie back over HTTPS only; the test client speaks plain HTTP
    sent = {**https, "Cookie": f"concilia_console_form={token}"}
    signed = await client.post("/console/login", data=form, headers=sent, allow_redirects=False)
    cookie = next(v for k, v in signed.headers.items() if k == "Set-Cookie" and "concilia_console=" in v)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    plain = await client.get("/console/login")
    assert "Secure" not in plain.headers["Set-Cookie"]

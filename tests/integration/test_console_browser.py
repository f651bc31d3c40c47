"""The partners' console in a real headless browser (Debian's chromium driven by Playwright), on the same
server as the web chat: a person asks for someone in the chat; an operator invited by the command sets her
password, signs in, claims the ticket and replies; the person sees the reply in her chat. Another
partner's operator gets 403 on that ticket. A manager sees the dashboard and labels the review queue."""

from __future__ import annotations

from pathlib import Path

from tests.integration.console_browser import (  # noqa: F401
    ABBIATENSE,
    KB,
    MAGENTINO,
    SCREENSHOTS,
    accessible,
    browser_fixture,
    signed_in,
    site_fixture,
)
from tests.integration.test_web_browser import pytestmark  # noqa: F401


async def ask_for_a_person(browser, url: str):
    """The person's chat page, after she asked for someone and was told an operator will answer."""
    from playwright.async_api import expect

    person = await (await browser.new_context(locale="it-IT")).new_page()
    await person.goto(url)
    await person.get_by_label("La tua domanda").fill("posso parlare con una persona?")
    await person.get_by_role("button", name="Invia").click()
    await expect(person.get_by_role("log")).to_contain_text("Ti metto in contatto con un operatore")
    return person


async def test_an_operator_claims_a_web_chat_ticket_and_the_person_sees_her_reply(site, browser):
    from playwright.async_api import expect

    lucia = await signed_in(browser, site, MAGENTINO, "operator", "lucia", "Lucia", check=True)
    person = await ask_for_a_person(browser, site.url)
    chat = person.get_by_role("log")

    # no reload: the queue's script brings the new ticket in (it asks for the version every 2.5 s)
    await expect(lucia.get_by_role("status")).to_have_text("Una richiesta aperta.", timeout=20_000)
    await lucia.get_by_role("link", name="n. 1").click()
    await expect(lucia.get_by_role("heading", level=1)).to_contain_text("Richiesta n. 1")
    await accessible(lucia)
    if SCREENSHOTS:
        await lucia.screenshot(path=str(Path(SCREENSHOTS) / "console-richiesta.png"), full_page=True)
    await lucia.get_by_role("button", name="Prendo io").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Lucia ha preso la richiesta.")
    reply = "Ciao, sono Lucia del Consorzio: dimmi pure."
    await lucia.get_by_label("Messaggio").fill(reply)
    await lucia.get_by_role("button", name="Invia").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Messaggio inviato.")

    await expect(chat).to_contain_text("Lucia", timeout=10_000)  # "Lucia di ... ti risponde"
    await expect(chat).to_contain_text(reply, timeout=10_000)
    assert (await site.handoff.ticket(1)).assigned_name == "Lucia"

    sara = await signed_in(browser, site, ABBIATENSE, "operator", "sara", "Sara", check=True)
    answer = await sara.goto(f"{site.url}console/ticket/1")
    assert answer.status == 403
    await expect(sara.get_by_role("heading", level=1)).to_have_text("Accesso negato")
    await accessible(sara)


async def dashboard(browser, site):
    """Mara, a manager of the Magentino's partner, on the needs dashboard."""
    from playwright.async_api import expect

    page = await signed_in(browser, site, MAGENTINO, "manager", "mara", "Mara")
    await page.get_by_role("link", name="Cruscotto").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cruscotto dei bisogni")
    return page


async def test_a_manager_sees_the_dashboards_figures_after_scripted_conversations(site, browser):
    from playwright.async_api import expect

    meta = {"intent": "ask_service", "topic": "school_closure", "territory": "magentino", "service_ids": []}
    for n in range(7):  # seven people asked; the knowledge base had no service to offer them
        await site.exchange(f"p{n}", "centri estivi ad agosto?", meta)
    page = await dashboard(browser, site)
    unmet = page.get_by_role(
        "table", name="Domanda non soddisfatta: temi e territori senza un servizio da proporre"
    )
    row = unmet.get_by_role("row").nth(1)
    await expect(row).to_contain_text(KB.topics["school_closure"].name)
    await expect(row).to_contain_text(KB.territories["magentino"].name)
    await expect(row.get_by_role("cell").nth(2)).to_have_text("7")
    by_when = page.get_by_role("table", name="Domanda non soddisfatta per età e periodo")
    cells = by_when.get_by_role("row").nth(1).get_by_role("cell")
    await expect(cells).to_have_text(
        [KB.topics["school_closure"].name, "Magentino", "età non detta", "agosto", "7", "7"]
    )
    await accessible(page)
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / "console-cruscotto.png"), full_page=True)


async def test_a_manager_labels_a_misunderstood_message_in_the_review_queue(site, browser):
    from playwright.async_api import expect

    meta = {"intent": "nlu_fallback", "fallback": True, "topic": None, "territory": "magentino"}
    await site.exchange("p1", "bimbi la sera, chiamatemi al 347 123 4567", meta, "Non ho capito.")
    page = await dashboard(browser, site)
    await expect(page.locator("#in-revisione")).to_contain_text("Un messaggio aspetta")
    await page.get_by_role("link", name="coda di revisione").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Coda di revisione")
    row = page.get_by_role("table").get_by_role("row").nth(1)
    await expect(row).to_contain_text("bimbi la sera, chiamatemi al [telefono]")
    await expect(row).to_contain_text("non capito")
    await accessible(page)
    await row.get_by_label("Etichetta").select_option("ask_nursery")
    await row.get_by_role("button", name="Salva").click()
    await expect(page.locator("p.notice")).to_have_text("Etichetta salvata.")
    await expect(page.locator("#waiting")).to_contain_text("Da etichettare: 0.")
    await accessible(page)
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / "console-revisione.png"), full_page=True)

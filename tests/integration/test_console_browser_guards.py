"""The console's guards in a real headless browser (Debian's chromium, Playwright): wrong passwords one
after the other slow the sign-in down (past the limit even the right password is refused until the
window has moved on), and a form posted without its CSRF token is refused with 403 and changes nothing."""

from __future__ import annotations

from bot.console.accounts import Limits
from tests.integration.console_browser import (  # noqa: F401
    MAGENTINO,
    PASSWORD,
    accessible,
    browser_fixture,
    new_page,
    set_password,
    sign_in,
    signed_in,
    site_fixture,
)
from tests.integration.test_console_browser import ask_for_a_person
from tests.integration.test_web_browser import pytestmark  # noqa: F401

LIMITS = Limits()  # what the site's accounts use


async def posted(page, login: str, password: str) -> int:
    """The status of the sign-in form's answer, posted by the browser."""
    async with page.expect_response(
        lambda r: r.url.endswith("/console/login") and r.request.method == "POST"
    ) as answer:
        await sign_in(page, login, password)
    return (await answer.value).status


async def test_wrong_passwords_slow_the_sign_in_down_until_the_window_has_passed(site, browser):
    from playwright.async_api import expect

    page = await new_page(browser)
    await set_password(page, site, MAGENTINO, "operator", "lucia", "Lucia", check=False)
    for _ in range(LIMITS.failures_per_login):
        assert await posted(page, "lucia", "non-e-la-password") == 401
        await expect(page.get_by_role("alert")).to_contain_text("Nome utente o password sbagliati.")

    # the right password, right after: refused without being checked, and no session
    assert await posted(page, "lucia", PASSWORD) == 429
    await expect(page.get_by_role("alert")).to_contain_text("Troppi tentativi sbagliati")
    await accessible(page)
    await page.goto(f"{site.url}console/")
    await expect(page.get_by_role("heading", level=1)).not_to_have_text("Coda delle richieste")
    assert await posted(page, "lucia", PASSWORD) == 429  # still within the window

    audit = await site.accounts.store.audit_log()
    outcomes = [a.outcome for a in reversed(audit) if a.action == "sign_in"]
    assert outcomes == ["refused"] * LIMITS.failures_per_login + ["slowed", "slowed"]

    site.seconds[0] += LIMITS.window_seconds + 1  # the window has moved on
    assert await posted(page, "lucia", PASSWORD) == 303  # signed in: sent on to the queue
    await expect(page.get_by_role("heading", level=1)).to_have_text("Coda delle richieste")


POST = """async ([path, fields]) => {
    const answer = await fetch(path, {method: "POST", body: new URLSearchParams(fields), redirect: "manual"});
    return answer.status;
}"""


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site, browser):
    from playwright.async_api import expect

    lucia = await signed_in(browser, site, MAGENTINO, "operator", "lucia", "Lucia")
    await ask_for_a_person(browser, site.url)
    await lucia.goto(f"{site.url}console/ticket/1")
    await expect(lucia.get_by_role("heading", level=1)).to_contain_text("Richiesta n. 1")

    # from the console's own page, with its session cookie: only the token is missing (or wrong)
    note = "/console/ticket/1/nota"
    assert await lucia.evaluate(POST, [note, {"text": "nota senza token"}]) == 403
    assert await lucia.evaluate(POST, [note, {"text": "nota con un token falso", "csrf": "x" * 64}]) == 403
    claim = "/console/ticket/1/azione"
    assert await lucia.evaluate(POST, [claim, {"action": "claim"}]) == 403
    assert await lucia.evaluate(POST, ["/console/logout", {}]) == 403

    assert await site.accounts.store.notes(1) == []
    assert (await site.handoff.ticket(1)).assigned_to is None
    await lucia.reload()  # still signed in: the logout was refused too
    await expect(lucia.get_by_role("heading", level=1)).to_contain_text("Richiesta n. 1")
    await expect(lucia.locator("#note + p + ul")).to_have_text("Nessuna nota.")
    refused = [a.detail for a in await site.accounts.store.audit_log() if a.action == "csrf"]
    assert sorted(refused) == ["logout", "ticket 1 azione", "ticket 1 nota", "ticket 1 nota"]

    # the same note through the page's own form (its token in it) is taken
    await lucia.get_by_label("Nuova nota").fill("nota con il suo token")
    await lucia.get_by_role("button", name="Aggiungi la nota").click()
    await expect(lucia.get_by_role("status")).to_contain_text("Nota aggiunta.")
    assert [n.text for n in await site.accounts.store.notes(1)] == ["nota con il suo token"]

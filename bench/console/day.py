"""A day of traffic, and what a partner's manager sees of it on the needs dashboard.

    .venv/bin/python bench/console/day.py                     # 400 people, yesterday
    .venv/bin/python bench/console/day.py --people 150 --screenshot /tmp/giornata.png

Plays a scripted day (bench/console/day_script.py: seeded) through the gateway's web server, as a
partner's site does (``POST /api/chat`` with the API key, one person after the other in the day's
order, the gateway's clock set to each message's time): people of the four territories ask about the
six topics (the services offered are the knowledge base's), some are misunderstood, some asked to
clarify, some referred to another office, some ask for a person. Each of those tickets goes to its
partner's operator, who replies from the console (the handoff service's ``web_reply``, as the console's
reply form does) and closes it; some people then rate the help. Tickets asked for after 17:30 stay
waiting. A scripted assistant stands in for Rasa.

Then the Magentino's manager is invited by ``concilia console invite`` (a subprocess, on the same
database), sets her password on the invite's page and signs in, in real headless Chromium; the script
saves the dashboard as a full-page screenshot (default docs/img/console-giornata.png) and prints what
the page shows: every table's rows and how many rows are hidden for counting fewer than 5 people.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta, timezone
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import ROOT  # noqa: E402
from bench.console.day_script import Day, Event  # noqa: E402
from bench.console.site import API_KEY, CHROMIUM, CHROMIUM_ARGS, PASSWORD, Site, new_page, start_site  # noqa: E402
from bot.channels.web.api import NAMED_PREFIX  # noqa: E402
from bot.handoff.office_hours import ROME  # noqa: E402
from bot.handoff.texts import RATE_PREFIX  # noqa: E402
from bot.store.models import utcnow  # noqa: E402
from knowledge import load  # noqa: E402

MAGENTINO = "azienda-consortile-magentino"
FIGURES = """() => [...document.querySelectorAll("main h2")].map(h => {
  const section = [];
  let n = h.nextElementSibling;
  while (n && n.tagName !== "H2") { section.push(n); n = n.nextElementSibling; }
  const table = section.find(e => e.tagName === "TABLE");
  const rows = table ? [...table.querySelectorAll("tr")].map(
    r => [...r.children].map(c => c.textContent.trim()).join(" | ")) : [];
  const notes = section.filter(e => e.tagName === "P").map(e => e.textContent.trim()).join(" ");
  return {title: h.textContent.trim(), rows, notes};
})"""


class Player:
    def __init__(self, site: Site, http: aiohttp.ClientSession) -> None:
        self.site, self.http = site, http
        self.operators: dict[str, int] = {}
        self.tickets: dict[str, int] = {}
        self.done: Counter[str] = Counter()

    async def post(self, person: str, body: dict[str, str]) -> dict:
        async with self.http.post(
            f"{self.site.url}api/chat",
            json={"user": person, **body},
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as answer:
            assert answer.status == 200, (answer.status, await answer.text())
            return await answer.json()

    async def play(self, e: Event) -> None:
        self.site.clock.now = e.at.astimezone(timezone.utc)
        if e.kind == "say":
            assert e.text is not None and e.meta is not None
            self.site.assistant.said[e.text] = (e.answer, e.meta)  # this person's meaning, for this turn
            await self.post(e.person, {"text": e.text})
            if e.partner is not None:
                await self._opened(e.person)
        elif e.kind == "rate":
            if e.person in self.tickets:
                await self.post(e.person, {"payload": f"{RATE_PREFIX}{self.tickets[e.person]}:{e.score}"})
        else:
            assert e.partner is not None
            ticket = self.tickets.get(e.person)
            if ticket is None:
                return
            op = self.operators[e.partner]
            if e.kind == "reply":
                text = "Buongiorno, ho letto la sua richiesta: le spiego come fare."
                outcome = await self.site.handoff.web_reply(ticket, op, text)
            else:
                outcome = await self.site.handoff.web_act("close", ticket, op)
            assert outcome.ok, outcome
        self.done[e.kind] += 1

    async def _opened(self, person: str) -> None:
        user = await self.site.store.find_user("web", NAMED_PREFIX + person)
        ticket = await self.site.handoff.open_ticket(user.id) if user is not None else None
        if ticket is not None:
            self.tickets[person] = ticket.id
            self.done["ticket"] += 1


async def invite_by_command(database: Path, url: str) -> str:
    """The manager's one-time link, printed by ``concilia console invite`` (run where no .env is)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "CONSOLE_URL": url.rstrip("/")}
    command = [str(ROOT / ".venv" / "bin" / "concilia"), "console", "invite", "--partner", MAGENTINO]
    command += ["--role", "manager", "--login", "mara", "--name", "Mara", "--link-only"]
    made = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=database.parent, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await made.communicate()
    assert made.returncode == 0, made.returncode
    return out.decode().strip()


async def dashboard(browser, link: str, shot: Path) -> list[dict]:
    from playwright.async_api import expect

    page = await new_page(browser)
    await page.goto(link)
    await page.get_by_label("Nuova password").fill(PASSWORD)
    await page.get_by_label("Ripeti la password").fill(PASSWORD)
    await page.get_by_role("button", name="Salva la password").click()
    await expect(page.get_by_role("status")).to_contain_text("Password salvata")
    await page.get_by_label("Nome utente").fill("mara")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Entra").click()
    await page.get_by_role("link", name="Cruscotto").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cruscotto dei bisogni")
    shot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shot), full_page=True)
    waiting = await page.locator("#in-revisione").text_content()
    return [
        {"title": "Coda di revisione", "rows": [], "notes": (waiting or "").strip()}
    ] + await page.evaluate(FIGURES)


async def run(people: int, day: date, seed: int, shot: Path) -> None:
    from playwright.async_api import async_playwright

    kb = load()
    day_plan = Day(kb, day, people, seed)
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "concilia.db"
        site = await start_site(database)
        async with aiohttp.ClientSession() as http:
            player = Player(site, http)
            site.clock.now = utcnow() - timedelta(days=2)
            for n, partner in enumerate(sorted(kb.partners)):
                player.operators[partner] = await site.operator_id(
                    partner, f"operatrice{n}", f"Operatrice {n}"
                )
            started = time.perf_counter()
            for event in day_plan.events:
                await player.play(event)
            played = time.perf_counter() - started
        site.clock.now = None  # the manager looks at it today, at the real time
        asked = len({e.person for e in day_plan.events})
        said = sum(1 for e in day_plan.events if e.kind == "say")
        print(
            f"{day.isoformat()} (Rome): {asked} people, {said} messages to the assistant, "
            f"{player.done['ticket']} tickets, {player.done['reply']} operator replies, "
            f"{player.done['close']} closed, {player.done['rate']} ratings; played in {played:.1f} s"
        )
        link = await invite_by_command(database, site.url)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            figures = await dashboard(browser, link, shot)
            await browser.close()
        await site.close()
    print(f"screenshot: {shot}\n\nWhat the Magentino's manager sees:")
    for f in figures:
        print(f"\n## {f['title']}")
        for row in f["rows"][:16]:
            print(f"  {row}")
        if len(f["rows"]) > 16:
            print(f"  ... {len(f['rows']) - 16} more rows")
        if f["notes"]:
            print(f"  [{f['notes']}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="default: yesterday (Rome)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "img" / "console-giornata.png")
    args = parser.parse_args()
    day = args.day or (utcnow().astimezone(ROME).date() - timedelta(days=1))
    asyncio.run(run(args.people, day, args.seed, args.screenshot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

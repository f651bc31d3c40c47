"""The needs dashboard of the console on a real (in-memory) database with scripted conversations: the
figures a manager and the alliance see, rows of fewer than five people hidden, the CSV export, and the
refusal of other roles."""

from __future__ import annotations

import csv
import io
import re

import pytest
from aiohttp import web

from bot.console.dashboard import DashboardWeb
from bot.core.messages import normalise_meta
from bot.insights.aggregates import MIN_PEOPLE
from bot.store import NewMessage, new_sender_id
from bot.store.insights import InsightsStore
from tests.unit.test_console import Console, audit, set_password, sign_in
from tests.unit.test_handoff import ABBIATENSE, GROUP, KB, MAGENTINO, write

CAMPS = {"intent": "ask_service", "topic": "school_closure", "territory": "magentino", "service_ids": ["x"]}
NONE_IN_AUGUST = {**CAMPS, "service_ids": []}


@pytest.fixture
async def h():
    c = Console()
    c.clients = []
    dashboard = DashboardWeb(c.web, c.service, InsightsStore(c.store))
    mount = c.web.mount

    def both(app: web.Application) -> None:  # the console's routes and the dashboard's, as in bot/app.py
        mount(app)
        dashboard.mount(app)

    c.web.mount = both  # type: ignore[method-assign]
    await c.service.operators.link_group(MAGENTINO, GROUP, "Operatori Magentino", c.clock())
    yield c
    for made in c.clients:
        await made.close()
    c.store.close()


async def answered(h, key: str, meta: dict, times: int = 1, text: str = "una domanda") -> None:
    """``times`` questions of one person in the web chat, each with its answer."""
    for _ in range(times):
        await write(h, key, text, channel="web")
        await h.store.save(
            [
                NewMessage(
                    channel="web",
                    user_key=key,
                    direction="out",
                    rasa_sender_id=new_sender_id(),
                    text="una risposta",
                    meta=normalise_meta(meta),
                    created_at=h.clock(),
                )
            ]
        )


async def signed(h, login: str, partner: str, role: str):
    client = await h.client()
    token, _ = await h.accounts.invite(partner, role, login, login.title())
    await set_password(client, token)
    assert (await sign_in(client, login)).status == 303
    return client


async def test_a_manager_sees_her_territory_with_small_cells_hidden_and_exports_csv(h):
    assert "magentino" in KB.partners[MAGENTINO].territories
    for n in range(6):
        await answered(h, f"m{n}", NONE_IN_AUGUST, times=2)
    for n in range(MIN_PEOPLE - 1):  # four people: not enough to be shown
        await answered(h, f"f{n}", {**CAMPS, "fallback": True, "intent": "nlu_fallback"})
    for n in range(6):
        await answered(h, f"a{n}", {**NONE_IN_AUGUST, "territory": "abbiatense"})

    manager = await signed(h, "mara", MAGENTINO, "manager")
    html = await (await manager.get("/console/cruscotto")).text()
    assert "Cruscotto dei bisogni" in html and "Domanda non soddisfatta" in html
    topic, place = KB.topics["school_closure"].name, KB.territories["magentino"].name
    assert f"<td>{topic}</td><td>{place}</td><td>6</td><td>12</td>" in html  # 6 people, 12 answers
    assert KB.territories["abbiatense"].name not in html  # another partner's territory
    assert "non capito" not in html and "Righe nascoste (meno di 5 persone): 1." in html
    # the chart above the table, with the same figure said to a screen reader
    assert '<title id="domanda_non_soddisfatta-chart-t">' in html
    assert f"{topic} · {place}: 6 persone</title>" in html

    exported = await manager.get("/console/cruscotto/domanda_non_soddisfatta.csv")
    assert exported.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert rows == [["tema", "territorio", "persone", "risposte"], [topic, place, "6", "12"]]
    assert ("dashboard", "ok") in await audit(h) and ("csv:domanda_non_soddisfatta", "ok") in await audit(h)

    alliance = await signed(h, "elena", "alleanza-capofila", "alliance")
    everything = await (await alliance.get("/console/cruscotto")).text()
    assert KB.territories["abbiatense"].name in everything


async def test_handoff_figures_need_five_people_and_operators_get_403(h):
    from tests.unit.test_handoff import open_ticket

    await h.accounts.invite(MAGENTINO, "operator", "lucia", "Lucia")
    lucia = (await h.console.by_login("lucia"))[0].operator_id
    for n in range(5):
        _, _, ticket = await open_ticket(h, key=f"t{n}")
        h.clock.advance(minutes=10)
        assert (await h.service.web_act("claim", ticket.id, lucia)).ok
        h.clock.advance(minutes=5)
        assert (await h.service.web_reply(ticket.id, lucia, "Ciao, sono Lucia.")).ok
        h.clock.advance(minutes=15)
        assert (await h.service.web_act("close", ticket.id, lucia)).ok
        await h.service.tickets.rate(ticket.id, ticket.user_id, 4, h.clock())
    await h.accounts.invite(ABBIATENSE, "operator", "sara", "Sara")  # Abbiatense takes tickets on the web
    _, _, lone = await open_ticket(h, key="lone", meta={**CAMPS, "territory": "abbiatense", "handoff": True})

    manager = await signed(h, "mara", MAGENTINO, "manager")
    rows = list(csv.reader(io.StringIO(await (await manager.get("/console/cruscotto/passaggi.csv")).text())))
    assert rows[1][0] == KB.partners[MAGENTINO].name and rows[1][1:] == ["5", "10", "15", "30", "4.0", "5"]
    alliance = await signed(h, "elena", "alleanza-capofila", "alliance")
    rows = list(csv.reader(io.StringIO(await (await alliance.get("/console/cruscotto/passaggi.csv")).text())))
    assert [r[0] for r in rows[1:]] == [KB.partners[MAGENTINO].name]  # the lone ticket's partner: hidden
    assert lone.partner_id == ABBIATENSE

    operator = await signed(h, "lucia", MAGENTINO, "operator")
    refused = await operator.get("/console/cruscotto")
    assert refused.status == 403 and ("dashboard", "refused") in await audit(h)
    assert (await operator.get("/console/cruscotto/passaggi.csv")).status == 403
    assert (await manager.get("/console/cruscotto/nessuna.csv")).status == 404


async def test_concilia_run_serves_the_console_on_the_web_server(capsys):
    import asyncio

    import httpx

    from tests.fakes.fake_rasa import FakeRasa
    from tests.unit.test_web_app import serving, settings_for

    async with FakeRasa() as rasa:
        url, stop, task = await serving(settings_for(rasa), capsys)
        async with httpx.AsyncClient(base_url=url) as http:
            login = await http.get("console/login")
            dashboard = await http.get("console/cruscotto")
            css = await http.get("console/static/console.css")
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    assert login.status_code == 200 and 'name="csrf"' in login.text
    assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=Strict" in login.headers["set-cookie"]
    assert "default-src 'none'" in login.headers["content-security-policy"]
    assert dashboard.status_code == 303 and dashboard.headers["location"] == "/console/login"
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_demand_not_met_by_age_and_period_from_what_people_wrote(h):
    for n in range(6):  # shown other camps (July's), but nothing in August for 13 years in the Magentino
        await answered(h, f"t{n}", CAMPS, text="centri estivi ad agosto per mio figlio di 13 anni")
    for n in range(7):  # Arluno's camp, at the end of August for 3-11 years: met
        await answered(h, f"e{n}", CAMPS, text="centri estivi ad agosto, ha 8 anni")
    for n in range(MIN_PEOPLE - 1):  # too few to be shown
        await answered(h, f"n{n}", NONE_IN_AUGUST, text="e a Natale? ha 2 anni")

    manager = await signed(h, "mara", MAGENTINO, "manager")
    exported = await manager.get("/console/cruscotto/non_soddisfatta_eta_periodo.csv")
    rows = list(csv.reader(io.StringIO(await exported.text())))
    topic, place = KB.topics["school_closure"].name, KB.territories["magentino"].name
    assert rows == [
        ["tema", "territorio", "età", "periodo", "persone", "risposte"],
        [topic, place, "11-14 anni", "agosto", "6", "6"],
    ]
    coarse = await manager.get("/console/cruscotto/domanda_non_soddisfatta.csv")
    # by topic and territory only, the four asking about Christmas count too: 6 + 4 people
    assert list(csv.reader(io.StringIO(await coarse.text())))[1:] == [[topic, place, "10", "10"]]
    html = await (await manager.get("/console/cruscotto")).text()
    assert "Domanda non soddisfatta per età e periodo" in html
    assert "<td>11-14 anni</td><td>agosto</td><td>6</td>" in html


def test_a_long_chart_label_is_wrapped_and_cut_past_two_lines_with_its_whole_text_kept():
    from bot.console.charts import LINE_CHARS, bar_chart

    two = "2026-W49 · Scuole chiuse e centri estivi · Magentino"
    three = "2026-W49 · Servizi salvatempo e orari della città · Magentino · Abbiategrasso · Corbetta"
    svg = bar_chart("c", "Domande", [(two, 58), (three, 12), ("2026-W49 · non capito", 7)])
    labels = re.findall(r'<text text-anchor="end" aria-hidden="true">(.*?)</text>', svg)
    lines = [re.findall(r"<tspan [^>]*>([^<]*)</tspan>", x) for x in labels]
    assert lines[0] == ["2026-W49 · Scuole chiuse e centri", "estivi · Magentino"]
    assert lines[1][1].endswith("…") and lines[2] == ["2026-W49 · non capito"]
    assert all(len(line) <= LINE_CHARS for label in lines for line in label)
    assert "<title>" not in labels[0] and f"<title>{three}</title>" in labels[1]  # the cut one's tooltip
    spoken = re.search(r'<title id="c-t">(.*?)</title>', svg).group(1)
    assert f"{two}: 58 persone" in spoken and f"{three}: 12 persone" in spoken

"""The router's chat modes with the handoff: the assistant's meta starts it, then (mode waiting or operator)
what the person writes goes to the ticket and not to Rasa; on close she is back with the assistant and can
rate the help. Through the real router, a fake Rasa over HTTP, the real knowledge base and database; the web
chat's updates endpoint through aiohttp's test client."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import TOO_MANY_SESSIONS, WebChannel, WebConfig
from bot.channels.web.limits import Limits
from bot.channels.web.sessions import COOKIE, user_key_of
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.core.ratelimit import RateLimiter
from bot.handoff import texts as txt
from bot.handoff.model import OperatorContent
from bot.handoff.office_hours import ROME
from bot.handoff.service import HandoffService
from bot.store.web_sessions import WebSessionStore
from knowledge import load
from tests.fakes import fake_rasa
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.handoff import Clock, RecordingDesk, RecordingSender, rasa_script
from tests.fakes.stores import memory_store

KB = load()
MAGENTINO = "azienda-consortile-magentino"
GROUP = -1001500


@pytest.fixture
async def env():
    async with FakeRasa(script=rasa_script) as rasa:
        store = memory_store()
        clock = Clock(datetime(2026, 12, 1, 10, 0, tzinfo=ROME))
        service = HandoffService(store, lambda: KB, clock=clock)
        desk, sender = RecordingDesk(), RecordingSender()
        service.attach_desk(desk)
        service.attach_sender("telegram", sender)
        await service.operators.link_group(MAGENTINO, GROUP, "Operatori", clock())
        await service.operators.link_group("alleanza-capofila", -1001100, "Alleanza", clock())
        await service.operators.add_operator(MAGENTINO, 501, "Marco", clock())
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        router = ConversationRouter(
            store,
            client,
            limiter=RateLimiter(1000),
            clock=clock,
            handoff=service,
            locate_town=lambda lat, lon: "Corbetta",
        )
        yield SimpleNamespace(
            rasa=rasa, store=store, service=service, desk=desk, sender=sender, router=router
        )
        await client.aclose()
        store.close()


def tg(text: str | None = None, **kw: Any) -> Inbound:
    return Inbound(channel="telegram", user_key="42", text=text, first_name="Giulia", **kw)


async def ticket_of(env, channel: str = "telegram", key: str = "42"):
    user = await env.store.find_user(channel, key)
    return await env.service.open_ticket(user.id)


async def test_asking_for_a_person_opens_a_ticket_and_replaces_the_assistants_text(env):
    await env.router.handle(tg("centri estivi a Corbetta"))
    turn = await env.router.handle(tg("posso parlare con una persona?"))

    [reply] = turn.replies
    assert reply.text.startswith("Ti metto in contatto con un operatore di Azienda consortile del Magentino")
    assert reply.buttons == (txt.LEAVE_BUTTON,)
    assert turn.meta["handoff"] is True and turn.meta["intent"] == "request_human"
    ticket = await ticket_of(env)
    assert ticket.state == "waiting" and ticket.question == "centri estivi a Corbetta"
    user = await env.store.find_user("telegram", "42")
    stored = await env.store.messages_of(user.id)
    assert stored[-1].text == reply.text and stored[-1].meta["handoff"] is True


async def test_an_offer_after_misunderstandings_is_only_an_offer_until_accepted(env):
    turn = await env.router.handle(tg("blorf"))
    assert turn.replies[0].text.startswith("Non ho capito") and turn.meta["fallback"] is True
    assert await ticket_of(env) is None

    accepted = await env.router.handle(tg(payload="/request_human"))
    assert accepted.replies[0].text.startswith("Ti metto in contatto")
    assert (await ticket_of(env)).state == "waiting"


async def test_while_the_ticket_is_open_the_bot_is_silent_and_rasa_is_not_asked(env):
    await env.router.handle(tg("posso parlare con una persona?"))
    asked = len(env.rasa.calls)

    quiet = await env.router.handle(tg("mia figlia ha 7 anni", message_id=11))
    photo = await env.router.handle(tg(unsupported="photo", message_id=12))
    menu = await env.router.handle(tg(command="menu"))

    assert quiet.replies == [] and photo.replies == []
    assert "/assistente" in menu.replies[0].text
    assert len(env.rasa.calls) == asked
    assert [(m.text, m.unsupported, m.message_id) for m in env.desk.of("person_wrote")] == [
        ("mia figlia ha 7 anni", None, 11),
        (None, "photo", 12),
    ]


async def test_after_close_she_is_back_with_the_assistant_and_rates_the_help(env):
    await env.router.handle(tg("posso parlare con una persona?"))
    ticket = await ticket_of(env)
    await env.service.act("claim", ticket.id, GROUP, 501, "Marco")
    await env.service.act("close", ticket.id, GROUP, 501, "Marco")
    rating = env.sender.sent[-1][1][-1]
    assert rating.text == txt.RATE_QUESTION

    thanks = await env.router.handle(tg(payload=rating.buttons[4].payload))
    back = await env.router.handle(tg("centri estivi a Corbetta"))

    assert [r.text for r in thanks.replies] == [txt.RATED]
    assert (await env.service.tickets.get(ticket.id)).rating == 5
    assert back.replies[0].text == fake_rasa.CAMP_TEXT  # the assistant answers again


async def test_the_town_is_asked_when_the_territory_is_unknown(env):
    asked = await env.router.handle(tg("operatore"))
    assert [r.text for r in asked.replies] == [txt.ASK_TOWN]
    calls = len(env.rasa.calls)

    opened = await env.router.handle(tg(location=(45.47, 8.92)))  # shared location: Corbetta

    assert len(env.rasa.calls) == calls  # the answer went to the handoff, not to Rasa
    assert opened.replies[0].text.startswith("Ti metto in contatto con un operatore di Azienda consortile")
    assert (await ticket_of(env)).town == "Corbetta"


async def test_a_menu_button_while_the_town_is_asked_goes_back_to_the_assistant(env):
    await env.router.handle(tg("operatore"))
    turn = await env.router.handle(tg(payload='/choose_topic{"topic": "school_closure"}'))
    assert turn.replies[0].text == fake_rasa.CAMP_TEXT
    assert await ticket_of(env) is None


async def test_cancella_during_a_handoff_erases_the_tickets_and_tells_the_topic(env):
    await env.router.handle(tg("posso parlare con una persona?"))
    ticket = await ticket_of(env)

    confirm = await env.router.handle(tg(command="cancella"))
    erased = await env.router.handle(tg(payload=texts.ERASE_YES))

    assert confirm.replies[0].text == texts.ERASE_CONFIRM
    assert erased.replies[0].text == texts.ERASED
    assert env.desk.of("erased") == [[ticket.id]]
    assert await env.service.tickets.get(ticket.id) is None


def web_channel(env, **config: Any) -> WebChannel:
    return WebChannel(
        env.router,
        updates=env.store.pushed_since,
        config=WebConfig(**config),
        sessions=WebSessionStore(env.store),
        clock=env.service.clock,
    )


def session_key(http: TestClient) -> str:
    """The store's key of the person behind the client's session cookie."""
    cookie = next(c for c in http.session.cookie_jar if c.key == COOKIE)
    return user_key_of(cookie.value)


async def test_a_web_person_gets_the_operators_messages_from_the_updates_endpoint(env):
    async with TestClient(TestServer(web_channel(env).make_app())) as http:
        start = await http.post("/api/chat", json={"payload": "/request_human"})
        assert (await start.json())["replies"][0]["text"].startswith("Ti metto in contatto")
        nothing = await (await http.get("/api/chat/updates")).json()
        quiet = await (await http.post("/api/chat", json={"text": "sono ancora qui"})).json()

        key = session_key(http)
        ticket = await ticket_of(env, "web", key)
        await env.service.desk_places.link(ticket.id, GROUP, 70, env.service.clock(), card_message_id=71)
        await env.service.operator_message(
            ticket.id, GROUP, 501, "Marco", OperatorContent(72, "Ciao, sono Marco.")
        )
        await env.service.operator_message(ticket.id, GROUP, 501, "Marco", OperatorContent(73, None, "photo"))
        first = await (await http.get("/api/chat/updates", params={"after": 0})).json()
        again = await (await http.get("/api/chat/updates", params={"after": first["last"]})).json()
        bad = await http.get("/api/chat/updates", params={"after": "-1"})
        wrong_method = await http.post("/api/chat/updates", json={})
        refused = await wrong_method.json()

    assert nothing == {"replies": [], "last": 0}
    assert quiet["replies"] == []
    texts_ = [r["text"] for r in first["replies"]]
    assert texts_ == [
        txt.joined("Marco", KB.partners[MAGENTINO].name),
        "Ciao, sono Marco.",
        txt.PHOTO_FOR_WEB,
    ]
    assert again == {"replies": [], "last": first["last"]}
    assert bad.status == 422
    assert wrong_method.status == 405 and refused["error"] == "Metodo non ammesso: usa GET."
    assert [m.text for m in env.desk.of("person_wrote")] == ["sono ancora qui"]
    assert json.dumps(first)  # plain JSON


async def test_someone_else_with_her_old_id_or_key_gets_nothing_of_hers(env):
    server = TestServer(web_channel(env).make_app())
    async with TestClient(server) as her, TestClient(server) as other:
        await her.post("/api/chat", json={"user": "web-giulia", "payload": "/request_human"})
        ticket = await ticket_of(env, "web", session_key(her))
        await env.service.operator_message(
            ticket.id, GROUP, 501, "Marco", OperatorContent(72, "Ciao Giulia.")
        )
        mine = await (await her.get("/api/chat/updates")).json()
        tries = [
            await other.get("/api/chat/updates", params={"user": "web-giulia", "after": 0}),
            await other.get("/api/chat/updates", params={"user": session_key(her)}),
            await other.get("/api/chat/updates", headers={"X-Concilia-User": "web-giulia"}),
        ]
        answers = [(t.status, await t.json()) for t in tries]
        wrote = await other.post("/api/chat", json={"user": "web-giulia", "text": "sono Giulia, cancella"})

    assert [r["text"] for r in mine["replies"]][-1] == "Ciao Giulia."
    assert [status for status, _ in answers] == [401, 401, 401]
    assert all("Ciao Giulia" not in json.dumps(body) for _, body in answers)
    assert wrote.status == 200 and session_key(other) != session_key(her)
    assert [m.text for m in env.desk.of("person_wrote")] == []  # nothing reached her ticket


async def test_forty_made_up_ids_from_one_address_open_three_tickets(env):
    server = TestServer(web_channel(env).make_app())
    async with TestClient(server) as first:
        clients = [first, *[TestClient(server) for _ in range(39)]]
        for client in clients[1:]:
            await client.start_server()

        async def ask(k: int) -> tuple[int, Any]:
            res = await clients[k].post("/api/chat", json={"user": f"web-{k}", "payload": "/request_human"})
            return res.status, await res.json()

        answers = await asyncio.gather(*(ask(k) for k in range(40)))
        tickets = await env.service.tickets.open_tickets()
        cards = env.desk.of("announce")
        for client in clients[1:]:
            await client.close()

    partner = KB.partners[MAGENTINO]
    opened = [
        b for s, b in answers if s == 200 and b["replies"][0]["text"].startswith("Ti metto in contatto")
    ]
    refused = [b["replies"][0]["text"] for s, b in answers if s == 200 and b not in opened]
    limited = [b["error"] for s, b in answers if s == 429]
    assert len(tickets) == 3 and len(cards) == 3 and len(opened) == 3
    assert len(refused) == 27
    assert all(t.startswith("Da questa connessione ci sono già 3 richieste aperte") for t in refused)
    assert all(partner.name in t for t in refused)
    assert len(limited) == 10 and set(limited) == {TOO_MANY_SESSIONS}  # 30 new sessions an hour per address
    assert all(s < 500 for s, _ in answers)


async def test_a_closed_ticket_frees_its_place_and_telegram_has_no_cap(env):
    async with TestClient(TestServer(web_channel(env, limits=Limits()).make_app())) as http:
        env.service.tickets_per_address = 1
        await http.post("/api/chat", json={"payload": "/request_human"})
        http.session.cookie_jar.clear()
        refused = await (await http.post("/api/chat", json={"payload": "/request_human"})).json()
        first = (await env.service.tickets.open_tickets())[0]
        await env.service.leave(first)
        http.session.cookie_jar.clear()
        again = await (await http.post("/api/chat", json={"payload": "/request_human"})).json()
    for key in ("42", "43"):
        await env.router.handle(Inbound(channel="telegram", user_key=key, payload="/request_human"))

    assert refused["replies"][0]["text"].startswith("Da questa connessione c'è già una richiesta aperta")
    assert again["replies"][0]["text"].startswith("Ti metto in contatto")
    assert len(await env.service.tickets.open_tickets()) == 3  # one web, two on Telegram


async def test_the_handoff_is_read_only_for_a_person_the_store_says_is_in_one(env, monkeypatch):
    """The message's save tells whether she has an open ticket or a town is asked; only then are the
    handoff's tables read again. Her flows do not change: asked for her town, then a ticket, then back."""
    reads: list[str] = []
    for name in ("open_ticket", "pending_request"):
        real = getattr(env.service, name)

        async def counted(user_id, _real=real, _name=name):
            reads.append(_name)
            return await _real(user_id)

        monkeypatch.setattr(env.service, name, counted)

    await env.router.handle(tg("centri estivi a Corbetta"))
    assert reads == []  # in no handoff: nothing read but the save

    asked = await env.router.handle(tg("operatore"))  # asks for her town: a pending request
    assert [r.text for r in asked.replies] == [txt.ASK_TOWN]
    reads.clear()
    opened = await env.router.handle(tg("Corbetta"))
    assert opened.replies[0].text.startswith("Ti metto in contatto con un operatore")
    assert reads == ["open_ticket", "pending_request"]

    reads.clear()
    quiet = await env.router.handle(tg("mia figlia ha 7 anni", message_id=21))  # to the ticket
    assert quiet.replies == [] and reads == ["open_ticket"]

    ticket = await ticket_of(env)
    await env.service.act("close", ticket.id, GROUP, 501, "Marco")
    reads.clear()
    back = await env.router.handle(tg("centri estivi a Corbetta"))
    assert back.replies[0].text == fake_rasa.CAMP_TEXT and reads == []

"""The operators' side on Telegram, for real over HTTP: PTB (long polling, the real handlers) against the
fake Telegram Bot API server with a forum supergroup, the real router and handoff service, the real
knowledge base and database, a fake Rasa. What operators and the person would see: topics, cards,
copies, buttons, refusals; bursts, a deleted topic, a blocked person, flood control."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from bot.assistant.rasa import RasaClient
from bot.channels.telegram.build import build_telegram
from bot.conversation.router import ConversationRouter
from bot.core.ratelimit import RateLimiter
from bot.handoff import texts as txt
from bot.handoff.model import Person, Timeouts
from bot.handoff.office_hours import ROME
from bot.handoff.service import HandoffService
from bot.store import NewMessage, Store, new_sender_id
from harness.fake_telegram import FakeTelegramServer
from knowledge import load
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.handoff import Clock, rasa_script
from tests.fakes.stores import memory_store
from tests.support import eventually

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

KB = load()
TOKEN = "123456:FAKE-token"
MAGENTINO = "azienda-consortile-magentino"
ABBIATENSE = "asp-abbiatense"
GROUP, ABBIATENSE_GROUP = -1001500, -1001400
GIULIA, MARCO, ANNA, SARA, ADMIN = 42, 501, 502, 401, 9
PARTNER = KB.partners[MAGENTINO].name


@contextlib.asynccontextmanager
async def handoff_env(store: Store) -> AsyncIterator[SimpleNamespace]:
    """The whole stack on ``store``: two partners' forum groups linked, three operators registered."""
    async with FakeTelegramServer() as fake, FakeRasa(script=rasa_script) as rasa:
        clock = Clock(datetime(2026, 12, 1, 10, 0, tzinfo=ROME))
        service = HandoffService(store, lambda: KB, clock=clock)
        client = RasaClient(rasa.url, rasa.token, timeout=2.0)
        router = ConversationRouter(store, client, limiter=RateLimiter(1000), clock=clock, handoff=service)
        settings = SimpleNamespace(
            telegram_bot_token=SecretStr(TOKEN), telegram_mode="polling", telegram_api_base=fake.api_base
        )
        channel = build_telegram(settings, router, handoff=service, polling_timeout=1, retry_backoff=0.05)
        fake.add_chat(GROUP, "supergroup", "Operatori Magentino", is_forum=True)
        fake.add_chat(ABBIATENSE_GROUP, "supergroup", "Operatori Abbiatense", is_forum=True)
        await channel.start()
        env = SimpleNamespace(
            fake=fake, store=store, service=service, channel=channel, rasa=rasa, router=router, client=client
        )
        try:
            await link(env, GROUP, MAGENTINO)
            await link(env, ABBIATENSE_GROUP, ABBIATENSE)
            for user, name, partner in (
                (MARCO, "Marco", MAGENTINO),
                (ANNA, "Anna", MAGENTINO),
                (SARA, "Sara", ABBIATENSE),
            ):
                await register(env, user, name, partner)
            yield env
        finally:
            await channel.stop()
            await client.aclose()


@pytest.fixture
async def tg() -> AsyncIterator[SimpleNamespace]:
    store = memory_store()
    try:
        async with handoff_env(store) as env:
            yield env
    finally:
        store.close()


async def link(env, chat_id: int, partner: str) -> None:
    code, _ = await env.service.create_invite("group", partner)
    before = len(env.fake.sent(chat_id=chat_id, method="sendMessage"))
    env.fake.user_message(user_id=ADMIN, first_name="Admin", chat_id=chat_id, text=f"/collega {code}")
    [*_, reply] = await env.fake.wait_sent(chat_id=chat_id, count=before + 1)
    assert reply["params"]["text"].startswith("Fatto: questo gruppo riceve le richieste")


async def register(env, user: int, name: str, partner: str) -> None:
    code, _ = await env.service.create_invite("operator", partner)
    env.fake.user_message(user_id=user, first_name=name, text=f"/operatore {code}")
    [reply] = await env.fake.wait_sent(chat_id=user)
    assert reply["params"]["text"] == txt.operator_registered(KB.partners[partner].name)


def person_says(env, text: str | None = None, **kw: Any) -> dict[str, Any]:
    return env.fake.user_message(user_id=GIULIA, first_name="Giulia", text=text, **kw)


async def sent_to(env, chat_id: int, method: str = "sendMessage", count: int = 1, timeout: float = 10):
    return await env.fake.wait_sent(chat_id=chat_id, method=method, count=count, timeout=timeout)


async def open_ticket(env) -> tuple[int, int]:
    """The person asks for someone; returns (ticket number, topic thread id) once the card is up."""
    person_says(env, "centri estivi a Corbetta")
    await sent_to(env, GIULIA)
    person_says(env, "posso parlare con una persona?")
    await sent_to(env, GIULIA, count=2)
    [topic] = await sent_to(env, GROUP, "createForumTopic")
    thread = topic["result"]["message_thread_id"]
    cards = [
        c
        for c in await sent_to(env, GROUP, count=2)  # the link's reply, then the card
        if c["params"].get("message_thread_id") == thread
    ]
    number = int(re.search(r"Richiesta n\. (\d+)", cards[0]["params"]["text"]).group(1))
    return number, thread


def press(env, user: int, name: str, data: str) -> dict[str, Any]:
    return env.fake.user_message(user_id=user, first_name=name, chat_id=GROUP, callback_data=data)


def in_topic(env, user: int, name: str, thread: int, text: str | None = None, **kw: Any) -> dict[str, Any]:
    return env.fake.user_message(
        user_id=user, first_name=name, chat_id=GROUP, message_thread_id=thread, text=text, **kw
    )


async def answers(env, count: int = 1) -> list[dict[str, Any]]:
    return await env.fake.wait_sent(method="answerCallbackQuery", count=count, timeout=10)


async def test_the_whole_story_in_a_topic_of_the_partners_group(tg):
    env = tg
    number, thread = await open_ticket(env)

    [handed] = env.fake.sent(chat_id=GIULIA)[-1:]
    assert handed["params"]["text"].startswith(f"Ti metto in contatto con un operatore di {PARTNER}.")
    card = next(c for c in env.fake.sent(chat_id=GROUP) if c["params"].get("message_thread_id") == thread)
    text = card["params"]["text"]
    assert f"Richiesta n. {number}" in text and "Giulia" in text
    assert "Scuole chiuse e centri estivi" in text and "Ha chiesto: «centri estivi a Corbetta»" in text
    assert str(GIULIA) not in text
    assert [b["text"] for row in card["params"]["reply_markup"]["inline_keyboard"] for b in row] == [
        txt.CLAIM,
        txt.CLOSE,
    ]
    topics = env.fake.state()["chats"][str(GROUP)]["topics"]
    assert list(topics) == [str(thread)] and topics[str(thread)]["name"].startswith(f"n. {number} · Giulia")

    press(env, MARCO, "Marco", f"h:claim:{number}")
    joined = await sent_to(env, GIULIA, count=3)
    assert joined[-1]["params"]["text"] == txt.joined("Marco", PARTNER)

    in_topic(env, MARCO, "Marco", thread, "Ciao Giulia, sono Marco. Come posso aiutarti?")
    [copy] = await sent_to(env, GIULIA, "copyMessage")
    assert copy["params"]["from_chat_id"] == GROUP and "message_thread_id" not in copy["params"]
    in_topic(env, MARCO, "Marco", thread, kind="document", caption="il modulo di iscrizione")
    await sent_to(env, GIULIA, "copyMessage", count=2)
    person_says(env, "grazie, lo compilo")
    person_says(env, kind="photo", caption="eccolo")
    copies = await sent_to(env, GROUP, "copyMessage", count=2)
    assert [(c["params"]["from_chat_id"], c["params"]["message_thread_id"]) for c in copies] == [
        (GIULIA, thread),
        (GIULIA, thread),
    ]
    in_giulia = env.fake.api.messages(GIULIA)
    assert [m.get("text") or m.get("caption") for m in in_giulia if "document" in m] == [
        "il modulo di iscrizione"
    ]
    assert not any("forward_origin" in m for m in in_giulia)  # copies, not forwards

    press(env, MARCO, "Marco", f"h:close:{number}")
    closing = await sent_to(env, GIULIA, count=5)
    assert closing[-2]["params"]["text"] == txt.closed_by_operator("Marco", False)
    rating = closing[-1]
    assert [b["text"] for row in rating["params"]["reply_markup"]["inline_keyboard"] for b in row] == list(
        "12345"
    )
    env.fake.user_message(user_id=GIULIA, callback_data=f"concilia:rate:{number}:5")
    thanks = await sent_to(env, GIULIA, count=6)
    assert thanks[-1]["params"]["text"] == txt.RATED
    assert (await env.service.tickets.get(number)).rating == 5
    person_says(env, "centri estivi a Corbetta")
    again = await sent_to(env, GIULIA, count=7)
    assert "Corbetta" in again[-1]["params"]["text"]  # back with the assistant

    ticket_calls = [
        c
        for c in env.fake.sent(chat_id=GROUP)
        if c["method"] in ("sendMessage", "copyMessage")
        and "collega" not in str(c["params"].get("text", ""))
        and not c["params"].get("text", "").startswith("Fatto: questo gruppo")
    ]
    assert ticket_calls and all(
        c["params"].get("message_thread_id") == thread for c in ticket_calls
    )  # never General
    await eventually(lambda: env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]["closed"] is True)


async def test_two_operators_pressing_at_once_one_wins_the_other_is_told_who(tg):
    env = tg
    number, _ = await open_ticket(env)
    press(env, MARCO, "Marco", f"h:claim:{number}")
    press(env, ANNA, "Anna", f"h:claim:{number}")

    replies = await answers(env, 2)

    texts = sorted(r["params"].get("text", "") for r in replies)
    assert texts == sorted(["Marco ha preso la richiesta.", "L'ha già presa Marco."])
    lost = next(r for r in replies if r["params"].get("text") == "L'ha già presa Marco.")
    assert lost["params"].get("show_alert") is True
    assert (await env.service.tickets.get(number)).assigned_name == "Marco"


async def test_another_partners_operator_and_strangers_are_refused(tg):
    env = tg
    number, thread = await open_ticket(env)

    press(env, SARA, "Sara", f"h:claim:{number}")
    [refusal] = await answers(env)
    in_topic(env, 7777, "Curioso", thread, "fammi vedere")
    notices = await sent_to(env, GROUP, count=3)

    assert refusal["params"]["text"] == txt.not_operator(PARTNER) and refusal["params"]["show_alert"]
    assert notices[-1]["params"]["text"].endswith(txt.not_operator(PARTNER))
    assert env.fake.sent(chat_id=GIULIA, method="copyMessage") == []
    assert (await env.service.tickets.get(number)).state == "waiting"
    kinds = [e.kind for e in await env.service.tickets.events(number)]
    assert kinds.count("refused") == 2


async def test_a_burst_of_messages_creates_one_topic_and_keeps_the_order(tg):
    env = tg
    person_says(env, "posso parlare con una persona?")
    for i in range(6):
        person_says(env, f"messaggio {i}")
    copies = await sent_to(env, GROUP, "copyMessage", count=6)

    assert len(env.fake.sent(chat_id=GROUP, method="createForumTopic")) == 1
    ids = [c["params"]["message_id"] for c in copies]
    assert ids == sorted(ids)
    texts = [m.get("text") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id")]
    assert [t for t in texts if t and t.startswith("messaggio")] == [f"messaggio {i}" for i in range(6)]


async def test_a_deleted_topic_is_made_again_on_the_next_message(tg):
    env = tg
    number, thread = await open_ticket(env)
    env.fake.api.delete_topic(GROUP, thread)

    person_says(env, "ci siete?")
    topics = await sent_to(env, GROUP, "createForumTopic", count=2)
    new_thread = topics[-1]["result"]["message_thread_id"]
    [copy] = await sent_to(env, GROUP, "copyMessage")

    assert new_thread != thread and copy["params"]["message_thread_id"] == new_thread
    texts = [
        m.get("text", "") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == new_thread
    ]
    assert any(t.startswith(f"Richiesta n. {number}") for t in texts)  # a fresh card
    assert any(txt.recreated_notice(number) in t for t in texts)
    assert (await env.service.desk_places.place(number)).thread_id == new_thread


async def test_when_the_person_has_blocked_the_bot_the_topic_is_told(tg):
    env = tg
    number, thread = await open_ticket(env)
    press(env, MARCO, "Marco", f"h:claim:{number}")
    await sent_to(env, GIULIA, count=3)
    env.fake.api.block(GIULIA)

    in_topic(env, MARCO, "Marco", thread, "Ci sei ancora?")
    await eventually(
        lambda: any(txt.blocked_notice("Giulia") in m.get("text", "") for m in env.fake.api.messages(GROUP)),
        what="the topic told that the person blocked the bot",
    )


async def test_flood_control_of_the_group_loses_nothing(tg):
    env = tg
    number, thread = await open_ticket(env)
    env.fake.api.group_messages_per_minute = 5
    env.fake.api.group_window_seconds = 1.0
    for i in range(12):
        person_says(env, f"parte {i}")

    copies = await sent_to(env, GROUP, "copyMessage", count=12, timeout=60)

    assert [c["params"]["message_thread_id"] for c in copies] == [thread] * 12
    texts = [m.get("text") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == thread]
    assert [t for t in texts if t and t.startswith("parte")] == [f"parte {i}" for i in range(12)]
    refused = [c for c in env.fake.sent(chat_id=GROUP, include_failed=True) if c["status"] == 429]
    assert refused  # Telegram did push back, and everything arrived all the same


async def test_commands_in_the_topic_and_the_queue(tg):
    env = tg
    number, thread = await open_ticket(env)

    env.fake.user_message(user_id=MARCO, first_name="Marco", chat_id=GROUP, text="/coda")
    in_topic(env, ANNA, "Anna", thread, "/prendo")
    await sent_to(env, GIULIA, count=3)
    env.fake.user_message(user_id=MARCO, first_name="Marco", text="/coda")
    private = (await sent_to(env, MARCO, count=2))[-1]

    group_texts = [c["params"]["text"] for c in env.fake.sent(chat_id=GROUP, method="sendMessage")]
    assert any(t.startswith(f"Richieste aperte per {PARTNER}") and "in attesa" in t for t in group_texts)
    assert "presa da Anna" in private["params"]["text"]
    assert (await env.service.tickets.get(number)).assigned_name == "Anna"


async def test_cancella_deletes_the_copies_in_the_topic_and_tells_the_operators(tg):
    env = tg
    number, thread = await open_ticket(env)
    person_says(env, "il mio numero è 333 0000000")
    [copy] = await sent_to(env, GROUP, "copyMessage")
    copied_id = copy["result"]["message_id"]

    person_says(env, "/cancella")
    await sent_to(env, GIULIA, count=3)
    env.fake.user_message(user_id=GIULIA, callback_data="concilia:erase:yes")
    await sent_to(env, GIULIA, count=4)

    def topic_texts() -> list[str]:
        return [
            m.get("text", "") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == thread
        ]

    await eventually(
        lambda: any(txt.erased_notice(number) in t for t in topic_texts()),
        what="the topic told that the chat was erased",
    )
    texts = topic_texts()
    left = {m["message_id"] for m in env.fake.api.messages(GROUP)}
    assert copied_id not in left  # her copied message is gone from the topic
    assert not any(t.startswith(f"Richiesta n. {number}") for t in texts)  # and so is the card
    assert await env.service.tickets.get(number) is None
    topic = env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]
    assert topic["closed"] is True
    assert topic["name"] == f"n. {number}"  # her first name is no longer in the title


async def test_coda_with_many_tickets_is_split_across_messages_and_lists_them_all(tg):
    env = tg
    numbers = []
    for i in range(60):
        ref = await env.store.save(
            [NewMessage("web", f"web-{i}", "in", new_sender_id(), text="una persona", first_name=None)]
        )
        ticket, _ = await env.service.tickets.create(
            ref.id,
            MAGENTINO,
            topic="school_closure",
            territory="magentino",
            town="Corbetta",
            question=None,
            now=env.service.clock(),
        )
        numbers.append(ticket.id)

    env.fake.user_message(user_id=MARCO, first_name="Marco", text="/coda")
    await eventually(
        lambda: f"n. {numbers[-1]} " in " ".join(m.get("text", "") for m in env.fake.api.messages(MARCO)),
        what="the whole queue",
    )

    parts = [m["text"] for m in env.fake.api.messages(MARCO) if "n. " in m.get("text", "")]
    assert len(parts) >= 2 and all(len(p) <= 4096 for p in parts)  # more than one message fits
    listed = " ".join(parts)
    assert all(f"n. {n} " in listed for n in numbers)


async def web_tickets(env, count: int) -> list[int]:
    """``count`` web people each with a waiting ticket (topic and card made); their numbers."""
    numbers = []
    for i in range(count):
        ref = await env.store.save(
            [NewMessage("web", f"web-{i}", "in", new_sender_id(), text="una persona", first_name=None)]
        )
        person = Person(ref.id, "web", f"web-{i}", None)
        await env.service.request(person, {"topic": "school_closure", "territory": "magentino"})
        numbers.append((await env.service.open_ticket(ref.id)).id)
    for number in numbers:

        async def carded(n: int = number) -> bool:
            place = await env.service.desk_places.place(n)
            return place is not None and place.card_message_id is not None

        await eventually(carded, what=f"ticket {number}'s card in its topic")
    return numbers


async def test_tickets_announced_again_together_are_one_message_in_the_group(tg):
    env = tg
    numbers = await web_tickets(env, 3)
    before = len(env.fake.sent(chat_id=GROUP, method="sendMessage"))
    env.service.clock.advance(minutes=11)

    await env.service.check_timeouts()

    [batch] = (await sent_to(env, GROUP, count=before + 1))[before:]
    assert "message_thread_id" not in batch["params"]  # one message in General, not one per topic
    assert batch["params"]["text"].endswith(txt.reannounce(numbers, "10 minuti"))
    assert all(f"n. {n}" in batch["params"]["text"] for n in numbers)


async def test_a_ticket_nobody_claims_expires_its_topic_closed_and_its_card_says_so(tg):
    env = tg
    [number] = await web_tickets(env, 1)
    thread = (await env.service.desk_places.place(number)).thread_id
    env.service.timeouts = Timeouts(600, 86_400, waiting_expires_after=3600)
    env.service.clock.advance(hours=1, minutes=1)

    await env.service.check_timeouts()

    await eventually(
        lambda: env.fake.state()["chats"][str(GROUP)]["topics"][str(thread)]["closed"] is True,
        what="the topic closed",
    )
    card = next(
        m for m in env.fake.api.messages(GROUP) if m.get("text", "").startswith(f"Richiesta n. {number}")
    )
    assert f"Stato: {txt.UNCLAIMED_STATE}" in card["text"]
    topic_texts = [
        m.get("text", "") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == thread
    ]
    assert any(txt.unclaimed_expired_notice("1 ora") in t for t in topic_texts)
    assert (await env.service.tickets.get(number)).state == "expired"

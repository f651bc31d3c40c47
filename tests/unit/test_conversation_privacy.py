"""/start, /help, /privacy and /cancella, answered by the router itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.handoff.model import PendingRequest
from bot.store import NewMessage, new_sender_id
from bot.store.models import Message, PrivacyEvent, User
from bot.store.retention import purge_once
from bot.store.tickets import TicketStore

MENU_TITLES = [
    "Centri estivi e scuole chiuse",
    "Nido serale e del sabato",
    "Caregiver",
    "Welfare aziendale",
    "Parla con una persona",
]


@pytest.fixture
async def router(store, rasa):
    client = RasaClient(rasa.url, rasa.token, timeout=2.0)
    yield ConversationRouter(store, client, retention_days=90)
    await client.aclose()


_update = iter(range(1000, 10**6))
OLD = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)


def tg(user="42", **kw):
    return Inbound(channel="telegram", user_key=user, update_id=next(_update), **kw)


def rows(store, model):
    with store._sessions() as session:
        return session.scalars(select(model)).all()


async def test_start_welcomes_in_two_lines_with_privacy_notice_and_menu(router, store, rasa):
    turn = await router.handle(tg(command="start", first_name="Anna"))

    (reply,) = turn.replies
    welcome, notice = reply.text.split("\n\n")
    assert len(welcome.splitlines()) == 2
    assert welcome.startswith("Ciao Anna!")
    assert "90 giorni" in notice and "/privacy" in notice and "/cancella" in notice
    assert [b.title for b in reply.buttons] == MENU_TITLES
    assert all(b.payload.startswith("/") for b in reply.buttons)
    assert rasa.calls == []
    assert [e.kind for e in rows(store, PrivacyEvent)] == ["notice_shown"]


async def test_menu_buttons_are_rasa_intents(router, rasa):
    turn = await router.handle(tg(command="menu"))
    topic = turn.replies[0].buttons[0].payload

    answer = await router.handle(tg(payload=topic))

    assert rasa.calls[-1][1] == '/choose_topic{"topic": "school_closure"}'
    assert answer.meta["topic"] == "school_closure"
    assert turn.replies[0].buttons[-1].payload == "/request_human"


async def test_help_shows_the_menu(router):
    turn = await router.handle(tg(command="help"))

    assert turn.replies[0].text == texts.MENU
    assert [b.title for b in turn.replies[0].buttons] == MENU_TITLES


async def test_privacy_says_what_how_long_who_and_how_to_erase(router, store):
    turn = await router.handle(tg(command="privacy"))

    text = turn.replies[0].text
    assert "messaggi" in text and "90 giorni" in text and "Chi li vede" in text and "/cancella" in text
    assert "Se non mi scrivi per 90 giorni, cancello tutto" in text  # the retention of inactive people
    assert "tolgo le copie dei tuoi messaggi e il tuo nome" in text  # the operators' topic
    assert [e.kind for e in rows(store, PrivacyEvent)] == ["privacy_viewed"]


async def test_cancella_asks_then_erases_everything_here_and_in_rasa(router, store, rasa):
    await router.handle(tg(command="start"))
    await router.handle(tg(text="centri estivi a Corbetta"))
    old_sender = rasa.calls[-1][0]

    ask = await router.handle(tg(command="cancella"))
    assert ask.replies[0].text == texts.ERASE_CONFIRM
    assert [b.title for b in ask.replies[0].buttons] == ["Sì", "No"]

    done = await router.handle(tg(payload=ask.replies[0].buttons[0].payload))

    assert done.replies[0].text == texts.ERASED
    assert rasa.erased == [old_sender]
    assert rasa.trackers[old_sender] == []
    assert rows(store, User) == []
    assert rows(store, Message) == []
    assert [(e.kind, e.user_id) for e in rows(store, PrivacyEvent)] == [("erased", None)]

    await router.handle(tg(text="ciao"))
    assert rasa.calls[-1][0] != old_sender  # a new, unrelated id for Rasa


async def test_cancella_no_keeps_everything(router, store, rasa):
    await router.handle(tg(text="ciao"))
    ask = await router.handle(tg(command="cancella"))

    kept = await router.handle(tg(payload=ask.replies[0].buttons[1].payload))

    assert kept.replies[0].text == texts.ERASE_KEPT
    assert rasa.erased == []
    assert len(rows(store, User)) == 1
    assert len(rows(store, Message)) == 6


async def test_yes_without_a_recent_request_erases_nothing(store, rasa):
    now = [datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)]
    client = RasaClient(rasa.url, rasa.token)
    router = ConversationRouter(store, client, clock=lambda: now[0])
    await router.handle(tg(command="cancella"))
    now[0] += timedelta(minutes=16)

    late = await router.handle(tg(payload=texts.ERASE_YES))

    assert late.replies[0].text == texts.ERASE_EXPIRED
    assert rasa.erased == [] and len(rows(store, User)) == 1
    await client.aclose()


async def test_yes_while_rasa_is_down_erases_nothing_and_says_so(router, store, rasa):
    await router.handle(tg(text="ciao"))
    await router.handle(tg(command="cancella"))
    await rasa.stop()

    failed = await router.handle(tg(payload=texts.ERASE_YES))

    assert failed.replies[0].text == texts.ERASE_FAILED
    assert len(rows(store, User)) == 1 and rows(store, Message)


async def test_erase_touches_nobody_else(router, store, rasa):
    await router.handle(tg(user="1", text="ciao"))
    await router.handle(tg(user="2", text="ciao"))
    await router.handle(tg(user="1", command="cancella"))

    await router.handle(tg(user="1", payload=texts.ERASE_YES))

    assert [u.channel_user_key for u in rows(store, User)] == ["2"]
    assert len(rows(store, Message)) == 2


async def test_retention_erases_people_silent_for_the_whole_period_as_cancella_does(store, rasa):
    now = [datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)]
    client = RasaClient(rasa.url, rasa.token)
    router = ConversationRouter(store, client, clock=lambda: now[0], retention_days=90)
    await router.handle(tg(user="41", text="centri estivi a Corbetta"))
    silent = rasa.calls[-1][0]
    now[0] += timedelta(days=80)
    await router.handle(tg(user="42", text="centri estivi a Corbetta"))

    now[0] += timedelta(days=11)
    result = await purge_once(store, 90, now[0], forget=router.privacy.forget)

    assert result.people == 1
    assert rasa.erased == [silent] and rasa.trackers[silent] == []
    assert [u.channel_user_key for u in rows(store, User)] == ["42"]  # the one who wrote 11 days ago
    assert [e.kind for e in rows(store, PrivacyEvent)] == ["erased"]
    await client.aclose()


async def test_retention_forgets_a_request_waiting_for_the_town(store):
    ref = await store.save(
        [NewMessage("telegram", "42", "in", new_sender_id(), text="operatore", created_at=OLD)]
    )
    pending = PendingRequest(topic=None, question="una domanda", tries=0, at=OLD)
    await TicketStore(store).set_pending(ref.id, pending)

    result = await purge_once(store, 90, OLD + timedelta(minutes=31))

    assert result.pending == 1
    assert [u.handoff_pending for u in rows(store, User)] == [None]


async def test_no_url_to_rasa_carries_the_secret(router, store, rasa):
    await router.handle(tg(text="ciao"))
    await router.handle(tg(command="cancella"))
    await router.handle(tg(payload=texts.ERASE_YES))
    assert len(rasa.erased) == 1
    # the fake, as Rasa, erased only for a Bearer JWT signed with the secret
    assert all(rasa.token not in url and "token=" not in url for url in rasa.api_urls), rasa.api_urls

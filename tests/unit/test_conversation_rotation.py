"""A person's Rasa conversation starts again under a new opaque id when it is old (bot/conversation/
conversations.py): after ``max_turns`` messages with its slots carried over, after Rasa's session expiry
with none; every id is recorded, and /cancella erases them all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.assistant.answers import AssistantUnavailable
from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.conversations import ConversationPolicy
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.core.ratelimit import RateLimiter
from bot.store.models import RasaSenderId, User


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=5)  # every reading a little later, as between messages
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def client(rasa):
    c = RasaClient(rasa.url, rasa.token, timeout=2.0)
    yield c
    await c.aclose()


@pytest.fixture
def router(store, client, clock):
    policy = ConversationPolicy(max_turns=3, session_expiration=timedelta(minutes=720))
    return ConversationRouter(
        store, client, clock=clock, conversation_policy=policy, limiter=RateLimiter(1000)
    )


_update = iter(range(50_000, 10**6))


def tg(user="77", **kw):
    return Inbound(channel="telegram", user_key=user, update_id=next(_update), **kw)


def senders(rasa):
    """The Rasa ids the messages went to, in order, without repeats."""
    return list(dict.fromkeys(sender for sender, _ in rasa.calls))


def stored_ids(store):
    with store._sessions() as session:
        current = session.scalars(select(User.rasa_sender_id)).all()
        recorded = set(session.scalars(select(RasaSenderId.sender_id)).all())
    return current, recorded


async def test_after_max_turns_a_new_conversation_with_the_slots_carried_over(router, store, rasa):
    for _ in range(3):
        await router.handle(tg(text="centri estivi a Corbetta"))
    [first] = senders(rasa)
    rasa.slots[first] = {"comune": "Corbetta", "territory": "magentino", "age": 7.0, "pending": None}

    turn = await router.handle(tg(text="centri estivi a Corbetta"))

    assert turn.replies[0].text.startswith("A Corbetta a luglio")  # answered as always
    first_again, second = senders(rasa)
    assert first_again == first and second != first
    assert rasa.slots[second] == {"comune": "Corbetta", "territory": "magentino", "age": 7.0}
    assert rasa.erased == [first]  # the old conversation is gone from Rasa
    current, recorded = stored_ids(store)
    assert current == [second]
    assert recorded == {first, second}

    for _ in range(3):  # the new conversation counts from its start
        await router.handle(tg(text="ciao"))
    assert len(senders(rasa)) == 3


async def test_no_new_conversation_before_max_turns(router, rasa, store):
    for _ in range(3):
        await router.handle(tg(text="ciao"))
    assert len(senders(rasa)) == 1
    assert rasa.erased == []
    assert stored_ids(store)[1] == set()


async def test_after_the_session_expiry_a_new_empty_conversation(router, store, rasa, clock):
    await router.handle(tg(text="centri estivi a Corbetta"))
    [first] = senders(rasa)
    rasa.slots[first] = {"comune": "Corbetta"}
    clock.now += timedelta(minutes=721)

    await router.handle(tg(text="ciao"))

    second = senders(rasa)[1]
    assert second != first
    assert second not in rasa.slots  # nothing carried over: Rasa's own expiry keeps no slot either
    assert not [u for u in rasa.api_urls if u.startswith(f"/conversations/{first}/tracker?")]
    assert rasa.erased == [first]
    assert stored_ids(store)[0] == [second]


async def test_a_silence_shorter_than_the_expiry_keeps_the_conversation(router, rasa, clock):
    await router.handle(tg(text="ciao"))
    clock.now += timedelta(minutes=700)
    await router.handle(tg(text="ciao"))
    assert len(senders(rasa)) == 1


async def test_rasa_failing_on_the_way_keeps_the_old_conversation_and_tries_again(
    router, client, store, rasa, monkeypatch
):
    for _ in range(3):
        await router.handle(tg(text="ciao"))

    async def down(sender_id):
        raise AssistantUnavailable("GET tracker: ReadTimeout")

    real = client.slots
    monkeypatch.setattr(client, "slots", down)
    turn = await router.handle(tg(text="centri estivi a Corbetta"))

    assert turn.replies[0].text.startswith("A Corbetta a luglio")
    assert len(senders(rasa)) == 1 and rasa.erased == []
    assert stored_ids(store)[1] == set()

    monkeypatch.setattr(client, "slots", real)
    await router.handle(tg(text="ciao"))
    assert len(senders(rasa)) == 2


async def test_cancella_erases_every_conversation_she_had(router, store, rasa):
    for _ in range(10):  # three new conversations on the way
        await router.handle(tg(text="ciao"))
    await router.handle(tg(text="ciao", user="other"))
    had = [s for s in senders(rasa) if s != senders(rasa)[-1]]
    other = senders(rasa)[-1]
    assert len(had) == 4
    rasa.erased.clear()

    ask = await router.handle(tg(command="cancella"))
    done = await router.handle(tg(payload=ask.replies[0].buttons[0].payload))

    assert done.replies[0].text == texts.ERASED
    assert set(rasa.erased) == set(had)
    assert other not in rasa.erased
    current, recorded = stored_ids(store)
    assert current == [other]
    assert recorded == set()


async def test_the_policy_defaults_match_rasas_domain():
    import yaml

    from bot.settings import Settings

    with open("nlu/domain.yml", encoding="utf-8") as f:
        domain = yaml.safe_load(f)
    minutes = domain["session_config"]["session_expiration_time"]
    assert Settings.model_fields["rasa_session_expiration_minutes"].default == minutes
    assert ConversationPolicy().session_expiration == timedelta(minutes=minutes)
    assert Settings.model_fields["rasa_conversation_turns"].default == ConversationPolicy().max_turns


async def test_the_age_counts_the_inbound_messages_of_the_current_conversation_only(store):
    from bot.store.conversations import conversation_age
    from bot.store.records import NewMessage

    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    async def inbound(minutes: int):
        at = t0 + timedelta(minutes=minutes)
        ref = await store.save([NewMessage("telegram", "55", "in", "first-id", "ciao", created_at=at)])
        await store.save([NewMessage("telegram", "55", "out", "first-id", "risposta", created_at=at)])
        return ref

    await inbound(0)
    await inbound(1)
    ref = await inbound(2)
    with store._sessions() as session:
        age = conversation_age(session, ref.id, ref.message_id)
    assert (age.turns, age.last_at, age.at) == (2, t0 + timedelta(minutes=1), t0 + timedelta(minutes=2))

    switched = t0 + timedelta(minutes=2, seconds=30)
    assert await store.record_sender_id(ref.id, "second-id", switched)
    assert await store.switch_sender_id(ref.id, "first-id", "second-id") == "second-id"
    ref = await inbound(3)
    with store._sessions() as session:
        age = conversation_age(session, ref.id, ref.message_id)
        assert (age.turns, age.last_at, age.at) == (0, None, t0 + timedelta(minutes=3))
        assert conversation_age(session, ref.id, ref.message_id + 100) is None
        assert conversation_age(session, ref.id + 100, ref.message_id) is None

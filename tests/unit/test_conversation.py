"""The router's main path: store, ask Rasa under an opaque id, store the replies with their meta."""

from __future__ import annotations

import pytest

from bot.assistant.answers import AssistantAnswer
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import META_FIELDS, Button, Inbound
from bot.core.ratelimit import RateLimiter
from tests.fakes import fake_rasa


@pytest.fixture
def router(store, client):
    return ConversationRouter(store, client, limiter=RateLimiter(1000))


def web(text=None, user="u-1", **kw):
    return Inbound(channel="web", user_key=user, text=text, **kw)


async def test_question_gets_rasa_answer_with_buttons_and_full_meta(router, rasa):
    turn = await router.handle(web("ci sono centri estivi a Corbetta?"))

    assert [r.text for r in turn.replies] == [fake_rasa.CAMP_TEXT]
    assert turn.replies[0].buttons == (Button(**fake_rasa.CAMP_BUTTON),)
    assert turn.meta == fake_rasa.CAMP_META
    assert set(META_FIELDS) <= set(turn.meta)


async def test_rasa_sees_an_opaque_sender_id_not_the_channel_id(router, rasa, store):
    await router.handle(Inbound(channel="telegram", user_key="123456789", text="ciao", update_id=1))
    await router.handle(Inbound(channel="telegram", user_key="123456789", text="ancora", update_id=2))

    senders = {sender for sender, _ in rasa.calls}
    assert len(senders) == 1
    sender = senders.pop()
    assert "123456789" not in sender and sender.startswith("c-") and len(sender) > 20
    user = await store.find_user("telegram", "123456789")
    assert user is not None and user.rasa_sender_id == sender


async def test_inbound_and_replies_are_stored_with_meta(router, store):
    await router.handle(web("centri estivi a Corbetta"))

    user = await store.find_user("web", "u-1")
    rows = await store.messages_of(user.id)
    assert [(m.direction, m.text) for m in rows] == [
        ("in", "centri estivi a Corbetta"),
        ("out", fake_rasa.CAMP_TEXT),
    ]
    assert rows[1].meta == fake_rasa.CAMP_META
    assert rows[1].buttons == [fake_rasa.CAMP_BUTTON]


async def test_button_payload_goes_to_rasa_as_it_is(router, rasa, store):
    payload = fake_rasa.CAMP_BUTTON["payload"]
    turn = await router.handle(web(payload=payload))

    assert rasa.calls[-1][1] == payload
    assert turn.replies[0].text == fake_rasa.DETAIL_TEXT
    assert turn.meta["intent"] == "show_service"
    user = await store.find_user("web", "u-1")
    assert (await store.messages_of(user.id))[0].payload == payload


async def test_meta_in_the_same_item_as_the_text(router):
    turn = await router.handle(
        Inbound(channel="web", user_key="u-1", location=None, payload='/inform{"town": "Magenta"}')
    )

    assert turn.replies[0].text == "Va bene, guardo i servizi di Magenta."
    assert turn.meta["comune"] == "Magenta"
    assert turn.meta["service_ids"] is None  # every field present, null when unknown


async def test_turn_meta_is_the_last_reply_meta(store, rasa, client):
    first = {"intent": "greet", "confidence": 0.9}
    last = {"intent": "ask_cost", "topic": "school_closure"}

    rasa.script = lambda sender, message: [
        {"recipient_id": sender, "text": "Ciao!"},
        {"recipient_id": sender, "custom": {"meta": first}},
        {"recipient_id": sender, "text": "Costa 85 € a settimana."},
        {"recipient_id": sender, "custom": {"meta": last}},
    ]
    router = ConversationRouter(store, client)
    turn = await router.handle(web("quanto costa?"))

    assert [r.text for r in turn.replies] == ["Ciao!", "Costa 85 € a settimana."]
    assert turn.meta["intent"] == "ask_cost" and turn.meta["confidence"] is None
    rows = await store.messages_of((await store.find_user("web", "u-1")).id)
    assert [m.meta["intent"] for m in rows if m.direction == "out"] == ["greet", "ask_cost"]


async def test_rasa_with_nothing_to_say_means_the_assistant_is_unavailable(store, rasa, client):
    # every action ends its turn with a reply: nothing at all means the action server failed
    rasa.script = lambda sender, message: []
    turn = await ConversationRouter(store, client).handle(web("..."))

    assert [r.text for r in turn.replies] == [texts.UNAVAILABLE]


async def test_stickers_and_photos_get_the_text_only_answer(router, rasa):
    turn = await router.handle(Inbound(channel="telegram", user_key="9", unsupported="sticker", update_id=5))

    assert [r.text for r in turn.replies] == [texts.UNSUPPORTED]
    assert "solo messaggi di testo" in turn.replies[0].text
    assert rasa.calls == []


async def test_text_over_4096_characters_is_refused_and_stored_truncated(router, rasa, store):
    turn = await router.handle(web("a" * 5000))

    assert [r.text for r in turn.replies] == [texts.TOO_LONG]
    assert rasa.calls == []
    rows = await store.messages_of((await store.find_user("web", "u-1")).id)
    assert len(rows[0].text) == 4096


async def test_hostile_text_is_stored_without_nul_characters(router, store):
    await router.handle(web("ciao\x00mondo \ud800 ‮ok"))

    rows = await store.messages_of((await store.find_user("web", "u-1")).id)
    assert rows[0].text == "ciaomondo ? \u202eok"


async def test_unknown_command_answers_with_the_menu(router, rasa):
    turn = await router.handle(Inbound(channel="telegram", user_key="9", command="boh", update_id=9))

    assert turn.replies[0].text == texts.UNKNOWN_COMMAND
    assert [b.title for b in turn.replies[0].buttons][0] == "Centri estivi e scuole chiuse"
    assert rasa.calls == []


async def test_the_router_never_raises(store):
    class Broken:
        async def send(self, sender_id: str, text: str) -> AssistantAnswer:
            raise RuntimeError("bug")

        async def erase(self, sender_id: str) -> None:
            raise RuntimeError("bug")

    turn = await ConversationRouter(store, Broken()).handle(web("ciao"))

    assert [r.text for r in turn.replies] == [texts.UNAVAILABLE]

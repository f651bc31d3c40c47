"""A button of the assistant whose payload is a gateway command (/cancella, /privacy) works like the
typed command: the router answers it and Rasa never sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.assistant.rasa import RasaClient
from bot.conversation import texts
from bot.conversation.router import ConversationRouter
from bot.core.messages import Inbound
from bot.store.models import PrivacyEvent, User

_update = iter(range(50_000, 10**6))


@pytest.fixture
async def router(store, rasa):
    client = RasaClient(rasa.url, rasa.token, timeout=2.0)
    yield ConversationRouter(store, client, retention_days=90)
    await client.aclose()


def tg(user: str = "77", **kw) -> Inbound:
    return Inbound(channel="telegram", user_key=user, update_id=next(_update), **kw)


def rows(store, model):
    with store._sessions() as session:
        return session.scalars(select(model)).all()


async def test_a_cancella_button_asks_for_confirmation_then_erases(router, store, rasa):
    await router.handle(tg(text="cancellate quello che ho scritto"))
    calls = len(rasa.calls)

    ask = await router.handle(tg(payload="/cancella"))

    assert ask.replies[0].text == texts.ERASE_CONFIRM
    assert ask.replies[0].buttons == texts.ERASE_BUTTONS
    assert len(rasa.calls) == calls  # the button never reached Rasa
    done = await router.handle(tg(payload=texts.ERASE_YES))
    assert done.replies[0].text == texts.ERASED
    assert rows(store, User) == []


async def test_a_privacy_button_shows_the_privacy_notice(router, store, rasa):
    turn = await router.handle(tg(payload="/privacy"))

    assert turn.replies[0].text == texts.privacy(90)
    assert rasa.calls == []
    assert [e.kind for e in rows(store, PrivacyEvent)] == ["privacy_viewed"]


async def test_other_payloads_still_go_to_rasa(router, rasa):
    await router.handle(tg(payload="/request_humanx"))
    assert rasa.calls and rasa.calls[-1][1] == "/request_humanx"

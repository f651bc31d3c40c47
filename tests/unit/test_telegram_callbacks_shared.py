"""Long button payloads kept in the database: a button rendered by one gateway works on another one and
after a restart, and rendering never fails because the database is away."""

from __future__ import annotations

from bot.channels.telegram.callbacks import KEY_PREFIX, CallbackStore
from bot.channels.telegram.people import TEXT_BUTTON_EXPIRED
from bot.core.messages import Button, Reply, Turn
from bot.store import Store, make_engine, upgrade
from tests.fakes.stores import memory_store
from tests.unit.test_telegram_channel import (
    FakeRouter,
    buttons_of,
    callback_update,
    make_channel,
    message_update,
    process,
)

LONG = '/ask_service{"comune": "San Vittore Olona", "topic": "nidi", "fascia": "serale e sabato"}'


def offer(msg) -> Turn:
    if msg.text:
        return Turn(replies=[Reply("Vuoi i dettagli?", (Button("Sì", LONG),))])
    return Turn(replies=[Reply("Ecco i dettagli.")])


async def test_a_long_button_rendered_by_one_gateway_works_on_another_and_after_a_restart() -> None:
    store = memory_store()
    router_a, router_b = FakeRouter(offer), FakeRouter(offer)
    gateway_a, request_a = make_channel(router_a, callbacks=CallbackStore(store))
    gateway_b, request_b = make_channel(router_b, callbacks=CallbackStore(store))

    await process(gateway_a, message_update(text="nidi serali"))
    [[button]] = buttons_of(request_a.sent_messages()[0])
    assert button["callback_data"].startswith(KEY_PREFIX)
    await process(gateway_b, callback_update(button["callback_data"]))

    assert [m.payload for m in router_b.seen] == [LONG]
    assert [m["text"] for m in request_b.sent_messages()] == ["Ecco i dettagli."]
    # a gateway started later (a restart) resolves it too
    later, _ = make_channel(FakeRouter(offer), callbacks=CallbackStore(store))
    assert await later.callbacks.resolve(button["callback_data"]) == LONG
    store.close()


async def test_rendering_works_while_the_database_is_away_and_the_key_is_written_later(tmp_path) -> None:
    db = tmp_path / "not-yet" / "concilia.db"
    store = Store(make_engine(f"sqlite:///{db}", create_dirs=False))
    callbacks = CallbackStore(store)
    router = FakeRouter(offer)
    gateway, request = make_channel(router, callbacks=callbacks)

    await process(gateway, message_update(text="nidi serali"))
    [[button]] = buttons_of(request.sent_messages()[0])
    key = button["callback_data"]
    assert key.startswith(KEY_PREFIX) and callbacks.pending == 1
    await process(gateway, callback_update(key))  # the gateway that rendered it still knows it
    assert [m.payload for m in router.seen[1:]] == [LONG]

    db.parent.mkdir()
    upgrade(store.engine)
    assert await callbacks.save_pending() is True and callbacks.pending == 0
    assert await CallbackStore(store).resolve(key) == LONG
    store.close()


async def test_an_unknown_key_still_asks_kindly_to_repeat() -> None:
    store = memory_store()
    router = FakeRouter(offer)
    gateway, request = make_channel(router, callbacks=CallbackStore(store))

    await process(gateway, callback_update(KEY_PREFIX + "0123456789"))

    assert router.seen == []
    assert [m["text"] for m in request.sent_messages()] == [TEXT_BUTTON_EXPIRED]
    store.close()


async def test_a_button_rendered_again_is_not_written_again_every_time() -> None:
    store = memory_store()
    callbacks = CallbackStore(store)
    key = callbacks.encode(LONG)
    await callbacks.save_pending()

    assert callbacks.encode(LONG) == key and callbacks.pending == 0
    store.close()

"""The outbox table on SQLite and PostgreSQL: one claim per item among gateways, one item at a time per
key and in order, a claim a killed run left taken over at its restart (and by another gateway only after
the lease), an accepted item never sent again, and the answered mark written only with the accepted reply."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.core.messages import Reply
from bot.core.outbox import REPLY, NewItem, chat_key, replies_body
from bot.store import NewMessage, Store, new_sender_id
from bot.store.models import Message
from bot.store.outbox import InboxStore, OutboxStore

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def outbox(store: Store, gateway: str = "gw-a", started_at: datetime = NOW) -> OutboxStore:
    return OutboxStore(store.db, gateway=gateway, started_at=started_at, clock=lambda: started_at)


async def test_two_gateways_claiming_at_once_take_each_item_once(db):
    store, make = db
    other = Store(make())
    try:
        a, b = outbox(store, "gw-a"), outbox(other, "gw-b")
        ids = [await a.put(NewItem("relay", f"ticket:{n}", {"n": n})) for n in range(40)]
        got_a, got_b = await asyncio.gather(a.claim(NOW, 40), b.claim(NOW, 40))
        taken_a, taken_b = {i.id for i in got_a}, {i.id for i in got_b}
        assert not taken_a & taken_b
        assert taken_a | taken_b == set(ids)
        assert await a.claim(NOW, 40) == [] and await b.claim(NOW, 40) == []  # leased
    finally:
        other.close()


async def test_items_of_one_key_go_one_at_a_time_in_order(db):
    store, _ = db
    box = outbox(store)
    first = await box.put(NewItem("relay", "ticket:1", {"n": 1}))
    second = await box.put(NewItem("relay", "ticket:1", {"n": 2}))
    other = await box.put(NewItem("relay", "ticket:2", {"n": 3}))
    assert [i.id for i in await box.claim(NOW, 10)] == [first, other]
    assert await box.claim(NOW, 10) == []  # the second waits for the first
    await box.done(first, NOW)
    [item] = await box.claim(NOW, 10)
    assert (item.id, item.body) == (second, {"n": 2})


async def test_a_claim_left_by_a_killed_run_is_taken_again_at_its_restart_not_before_the_lease_by_others(db):
    store, _ = db
    killed = outbox(store, "gw-a", started_at=NOW - timedelta(minutes=5))
    item_id = await killed.put(NewItem("relay", "ticket:1", {"n": 1}))
    [claimed] = await killed.claim(NOW - timedelta(minutes=1), 10)
    await killed.progress(item_id, 1, NOW - timedelta(minutes=1))  # one part accepted, then the kill

    assert await outbox(store, "gw-b").claim(NOW - timedelta(seconds=30), 10) == []  # lease still on
    [again] = await outbox(store, "gw-a", started_at=NOW).claim(NOW, 10)  # the same gateway, restarted
    assert (again.id, again.parts_done, again.attempts) == (item_id, 1, 2)


async def test_a_lease_run_out_lets_another_gateway_send_the_item(db):
    store, _ = db
    a = outbox(store, "gw-a")
    item_id = await a.put(NewItem("relay", "ticket:1", {"n": 1}))
    await a.claim(NOW, 10)
    [taken] = await outbox(store, "gw-b").claim(NOW + timedelta(minutes=3), 10)
    assert taken.id == item_id


async def test_a_failed_send_waits_its_turn_and_a_refused_one_is_never_retried(db):
    store, _ = db
    box = outbox(store)
    retried = await box.put(NewItem("relay", "ticket:1", {}))
    refused = await box.put(NewItem("relay", "ticket:2", {}))
    await box.claim(NOW, 10)
    await box.retry(retried, NOW + timedelta(seconds=4))
    await box.failed(refused, NOW)
    assert await box.claim(NOW + timedelta(seconds=3), 10) == []
    assert [i.id for i in await box.claim(NOW + timedelta(seconds=4), 10)] == [retried]


async def inbound(store: Store, text: str = "ciao") -> int:
    ref = await store.save(
        [
            NewMessage(
                channel="telegram",
                user_key="42",
                direction="in",
                rasa_sender_id=new_sender_id(),
                text=text,
                created_at=NOW,
                taken_by="gw-a",
            )
        ]
    )
    assert ref is not None and ref.message_id is not None
    return ref.message_id


async def answered_at(store: Store, message_id: int) -> datetime | None:
    return await store.db.read(lambda s: s.get(Message, message_id).answered_at)


async def user_of(store: Store) -> int:
    ref = await store.find_user("telegram", "42")
    assert ref is not None
    return ref.id


async def test_a_reply_counts_as_answered_only_once_telegram_accepted_it(db):
    store, _ = db
    message_id = await inbound(store)
    reply = NewMessage(
        channel="telegram",
        user_key="42",
        direction="out",
        rasa_sender_id="x",
        text="Ecco i centri estivi.",
        created_at=NOW,
        answers=message_id,
    )
    item = NewItem(REPLY, chat_key("telegram", "42"), replies_body("42", [Reply("Ecco i centri estivi.")]))
    assert await store.queue_turn(message_id, [reply], item, NOW)

    assert await answered_at(store, message_id) is None  # queued, not accepted yet
    assert not await store.queue_turn(message_id, [reply], item, NOW)  # one answer per message
    assert not await store.claim(message_id, NOW)  # recovery leaves it to the outbox
    assert await store.unanswered(NOW - timedelta(hours=1), NOW + timedelta(hours=1)) == []

    box = outbox(store)
    [claimed] = await box.claim(NOW, 10)
    assert claimed.body["replies"][0]["text"] == "Ecco i centri estivi."
    await box.done(claimed.id, NOW + timedelta(seconds=1))
    assert await answered_at(store, message_id) == NOW + timedelta(seconds=1)
    assert await box.claim(NOW + timedelta(hours=1), 10) == []  # accepted: never sent again


async def test_the_person_s_queued_items_go_with_her_erasure(db):
    store, _ = db
    message_id = await inbound(store)
    body = replies_body("42", [Reply("Una risposta")])
    item = NewItem(REPLY, chat_key("telegram", "42"), body, user_id=await user_of(store))
    await store.queue_turn(message_id, [], item, NOW)
    await store.erase_user(await user_of(store))
    assert await outbox(store).claim(NOW, 10) == []


async def test_the_webhook_inbox_keeps_an_update_once_until_handled(db):
    store, _ = db
    inbox = InboxStore(store.db)
    update = {"update_id": 7, "message": {"message_id": 1, "text": "ciao"}}
    assert await inbox.keep(7, update, NOW)
    assert not await inbox.keep(7, update, NOW)  # Telegram sent it again
    assert await inbox.left() == [update]
    await inbox.handled(7)
    assert await inbox.left() == []

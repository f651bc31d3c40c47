"""Fair per-chat processing through PTB's real dispatcher: a flood from one chat holds no concurrency slot
while it waits for its chat, so another chat is answered at once; a forum group is one conversation per
topic."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.channels.telegram.updates import conversation_key
from bot.core.messages import Inbound, Reply, Turn
from tests.support import eventually
from tests.unit.test_telegram_channel import FakeRouter, make_channel, message_update

OTHER_CHAT = {"id": 777, "type": "private", "first_name": "Paolo"}
OTHER_USER = {"id": 777, "is_bot": False, "first_name": "Paolo"}


async def test_200_updates_from_one_chat_do_not_keep_another_chat_waiting() -> None:
    async def answer(msg: Inbound) -> Turn:
        if msg.user_key == "4242":
            await asyncio.sleep(0.015)  # 200 of these take 3 s, one after the other
        return Turn(replies=[Reply(f"ok {msg.text}")])

    router = FakeRouter(answer)
    # Telegram's pace is not what is tested here: the rate limiter lets the answers through at once
    channel, request = make_channel(router, telegram_messages_per_second=1000.0)
    app = channel.application

    def answered(chat_id: int) -> list[dict]:
        return [m for m in request.sent_messages() if int(m["chat_id"]) == chat_id]

    async with app:
        await app.start()
        try:
            for i in range(200):
                await app.update_queue.put(Update.de_json(message_update(text=f"flood {i}"), app.bot))
            other = message_update(text="ciao", chat=OTHER_CHAT, **{"from": OTHER_USER})
            await app.update_queue.put(Update.de_json(other, app.bot))

            await eventually(lambda: answered(777), timeout=1.0, what="the other chat's answer")
            assert len(answered(4242)) < 200  # the flood was still being worked through
            texts = await eventually(
                lambda: [m["text"] for m in answered(4242)] if len(answered(4242)) == 200 else None,
                timeout=30,
            )
            assert texts == [f"ok flood {i}" for i in range(200)]  # the flooding chat: in order, all of them
        finally:
            await app.stop()


def test_a_forum_group_is_one_conversation_per_topic() -> None:
    group = {"id": -100500, "type": "supergroup", "title": "Operatori", "is_forum": True}

    def in_topic(thread: int | None) -> Update:
        content = {"chat": group, "text": "x"}
        if thread is not None:
            content |= {"message_thread_id": thread, "is_topic_message": True}
        return Update.de_json(message_update(**content), None)

    assert conversation_key(in_topic(11)) == (-100500, 11)
    assert conversation_key(in_topic(12)) == (-100500, 12)
    assert conversation_key(in_topic(None)) == -100500  # the General topic
    assert conversation_key(Update.de_json(message_update(text="x"), None)) == 4242  # a private chat

"""The one Telegram send path, for real over HTTP against the fake Bot API server (strict about the 4,096
characters): every message is split at Telegram's limit, relays into a ticket's topic included."""

from __future__ import annotations

from bot.channels.telegram.render import MAX_MESSAGE_LENGTH, utf16_length
from bot.core.messages import Inbound
from tests.integration.test_telegram_handoff import GROUP, sent_to, tg  # noqa: F401
from tests.support import eventually


async def test_a_web_persons_long_message_reaches_the_topic_split_at_telegrams_limit(tg):  # noqa: F811
    env = tg
    router = env.channel.router
    web = "web-lunga"
    await router.handle(Inbound(channel="web", user_key=web, text="centri estivi a Corbetta"))
    await router.handle(Inbound(channel="web", user_key=web, text="posso parlare con una persona?"))
    [topic] = await sent_to(env, GROUP, "createForumTopic")
    thread = topic["result"]["message_thread_id"]
    words = [f"parola{i}" for i in range(500)]
    long_text = " ".join(words)[:4090].rsplit(" ", 1)[
        0
    ]  # as long as a message can be: with the name, too long
    last = long_text.rsplit(" ", 1)[1]

    assert (await router.handle(Inbound(channel="web", user_key=web, text=long_text))).replies == []

    def relayed() -> list[str]:
        texts = [
            m.get("text", "") for m in env.fake.api.messages(GROUP) if m.get("message_thread_id") == thread
        ]
        parts = [t for t in texts if t.startswith("Persona dal sito: parola0") or t.startswith("parola")]
        return parts if " ".join(parts).endswith(last) else []

    parts = await eventually(relayed, timeout=15, what="the relayed parts")
    assert len(parts) == 2
    assert all(utf16_length(p) <= MAX_MESSAGE_LENGTH for p in parts)
    assert " ".join(parts) == "Persona dal sito: " + long_text  # nothing lost, in order

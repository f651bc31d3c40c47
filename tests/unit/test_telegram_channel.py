"""The Telegram channel through PTB's real dispatcher, with a request class that records every call.

No network: ``RecordingRequest`` answers canned Bot API JSON (model: python-telegram-bot's
tests/auxil/networking.py). Updates are built as Telegram sends them and go through
``Application.process_update``, so filters, handlers, the error handler and rendering are the real ones.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram.build import build_telegram
from bot.channels.telegram.callbacks import KEY_PREFIX
from bot.channels.telegram.people import TEXT_BUTTON_EXPIRED, TEXT_SOMETHING_WRONG, TelegramChannel
from bot.channels.telegram.updates import PerChatUpdateProcessor
from bot.core.messages import Button, Inbound, Reply, Turn

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Concilia", "username": "concilia_test_bot"}
USER = {"id": 4242, "is_bot": False, "first_name": "Giulia", "language_code": "it"}
CHAT = {"id": 4242, "type": "private", "first_name": "Giulia"}


@dataclass
class Recorded:
    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    """Records every Bot API call and answers it with canned JSON; ``errors`` make chosen calls fail."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.errors: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._ids = itertools.count(100)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def fail_next(self, method: str, status: int, description: str) -> None:
        self.errors.setdefault(method, []).append(
            (status, {"ok": False, "error_code": status, "description": description})
        )

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            return []
        if method == "sendMessage":
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT,
                "text": params["text"],
            }
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        return True

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = json.loads(json.dumps(request_data.parameters)) if request_data else {}
        self.calls.append(Recorded(endpoint, params))
        queued = self.errors.get(endpoint)
        if queued:
            status, body = queued.pop(0)
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(endpoint, params)}).encode()

    def methods(self) -> list[str]:
        return [c.method for c in self.calls if c.method != "getMe"]

    def sent_messages(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "sendMessage"]


Answer = Callable[[Inbound], "Turn | Awaitable[Turn]"]


class FakeRouter:
    """Records the Inbound messages and answers with a canned Turn."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.seen: list[Inbound] = []
        self._answer = answer or (lambda msg: Turn(replies=[Reply("Ciao!")]))

    async def handle(self, msg: Inbound) -> Turn:
        self.seen.append(msg)
        result = self._answer(msg)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, Turn)
        return result


def make_channel(
    router: FakeRouter, *, telegram_messages_per_second: float = 30.0, **options: Any
) -> tuple[TelegramChannel, RecordingRequest]:
    settings = SimpleNamespace(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_mode="polling",
        telegram_api_base=None,
        telegram_messages_per_second=telegram_messages_per_second,
    )
    request = RecordingRequest()
    channel = build_telegram(
        settings, router, request=request, get_updates_request=RecordingRequest(), **options
    )
    return channel, request


_update_ids = itertools.count(500_000)


def message_update(**content: Any) -> dict[str, Any]:
    message = {"message_id": 7, "date": int(time.time()), "chat": CHAT, "from": USER, **content}
    return {"update_id": next(_update_ids), "message": message}


def command_update(text: str) -> dict[str, Any]:
    command = text.split()[0]
    return message_update(text=text, entities=[{"type": "bot_command", "offset": 0, "length": len(command)}])


def callback_update(data: str, chat: dict[str, Any] = CHAT) -> dict[str, Any]:
    bot_message = {"message_id": 8, "date": int(time.time()), "chat": chat, "from": BOT, "text": "Scegli:"}
    query = {"id": "cbq-1", "from": USER, "chat_instance": "ci-1", "message": bot_message, "data": data}
    return {"update_id": next(_update_ids), "callback_query": query}


async def process(channel: TelegramChannel, *updates: dict[str, Any]) -> None:
    app = channel.application
    async with app:
        for data in updates:
            await app.process_update(Update.de_json(data, app.bot))


def buttons_of(params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return params.get("reply_markup", {}).get("inline_keyboard", [])


MENU = Turn(
    replies=[
        Reply(
            "Ciao, sono Concilia. Scegli un argomento.",
            buttons=(
                Button("Centri estivi", '/ask_topic{"topic": "chiusure"}'),
                Button("Nidi serali", '/ask_topic{"topic": "nidi"}'),
                Button("Parla con una persona", "/request_human"),
            ),
        )
    ]
)


async def test_start_reaches_the_router_as_a_command_and_the_menu_comes_back_as_inline_keyboard() -> None:
    router = FakeRouter(lambda msg: MENU)
    channel, request = make_channel(router)
    update = command_update("/start")

    await process(channel, update)

    assert len(router.seen) == 1
    msg = router.seen[0]
    assert (msg.channel, msg.user_key, msg.command, msg.text) == ("telegram", "4242", "start", None)
    assert msg.update_id == update["update_id"]
    assert msg.first_name == "Giulia"
    sent = request.sent_messages()
    assert len(sent) == 1
    assert sent[0]["chat_id"] == 4242
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["text"] == "Ciao, sono Concilia. Scegli un argomento."
    rows = buttons_of(sent[0])
    titles = [b["text"] for row in rows for b in row]
    assert titles == ["Centri estivi", "Nidi serali", "Parla con una persona"]
    assert all(len(row) == 1 for row in rows)  # one title is long: one button per row
    assert rows[2][0]["callback_data"] == "/request_human"


@pytest.mark.parametrize("command", ["help", "menu", "privacy", "cancella"])
async def test_every_registered_command_is_a_command(command: str) -> None:
    router = FakeRouter()
    channel, _ = make_channel(router)

    await process(channel, command_update(f"/{command}@concilia_test_bot"))

    assert [m.command for m in router.seen] == [command]


async def test_text_goes_to_the_router_as_text_with_typing_first() -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply("A Magenta il centro estivo apre il 15 giugno.")]))
    channel, request = make_channel(router, typing_delay=0)

    await process(channel, message_update(text="centri estivi a Magenta?"))

    assert [(m.text, m.command, m.payload) for m in router.seen] == [("centri estivi a Magenta?", None, None)]
    assert request.methods() == ["sendChatAction", "sendMessage"]
    assert request.calls[1].params == {"chat_id": 4242, "action": "typing"}
    assert request.sent_messages()[0]["text"] == "A Magenta il centro estivo apre il 15 giugno."


async def test_a_quick_answer_goes_out_without_typing() -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply("Eccomi.")]))
    channel, request = make_channel(router, typing_delay=0.3)

    await process(channel, message_update(text="ciao"))

    assert request.methods() == ["sendMessage"]


async def test_typing_starts_once_the_answer_is_later_than_the_delay() -> None:
    async def slow(msg: Inbound) -> Turn:
        await asyncio.sleep(0.4)
        return Turn(replies=[Reply("Eccomi.")])

    channel, request = make_channel(FakeRouter(slow), typing_delay=0.1, typing_interval=10)

    await process(channel, message_update(text="ciao"))

    assert request.methods() == ["sendChatAction", "sendMessage"]


async def test_an_unknown_command_goes_on_as_text() -> None:
    router = FakeRouter()
    channel, _ = make_channel(router)

    await process(channel, command_update("/operatore ABC123"))

    assert [(m.text, m.command) for m in router.seen] == [("/operatore ABC123", None)]


async def test_typing_is_kept_alive_while_the_router_is_slow() -> None:
    async def slow(msg: Inbound) -> Turn:
        await asyncio.sleep(0.35)
        return Turn(replies=[Reply("Eccomi.")])

    router = FakeRouter(slow)
    channel, request = make_channel(router, typing_interval=0.1, typing_delay=0)

    await process(channel, message_update(text="ciao"))

    methods = request.methods()
    assert methods[-1] == "sendMessage"
    assert methods.count("sendChatAction") >= 3
    assert set(methods[:-1]) == {"sendChatAction"}


async def test_a_long_payload_round_trips_through_the_64_byte_mapping() -> None:
    long_payload = '/ask_service{"comune": "San Vittore Olona", "topic": "nidi", "fascia": "serale e sabato"}'
    short_payload = "/affirm"
    assert len(long_payload.encode()) > 64
    router = FakeRouter(
        lambda msg: (
            Turn(
                replies=[Reply("Vuoi i dettagli?", (Button("Sì", long_payload), Button("No", short_payload)))]
            )
            if msg.text
            else Turn(replies=[Reply("Ecco i dettagli.")])
        )
    )
    channel, request = make_channel(router, typing_delay=0)

    await process(channel, message_update(text="nidi serali"))
    rows = buttons_of(request.sent_messages()[0])
    data = [b["callback_data"] for row in rows for b in row]
    assert all(len(d.encode("utf-8")) <= 64 for d in data)
    assert data[0].startswith(KEY_PREFIX) and data[1] == short_payload
    assert [len(row) for row in rows] == [2]  # short titles: two per row

    await process(channel, callback_update(data[0]), callback_update(data[1]))

    assert [m.payload for m in router.seen[1:]] == [long_payload, short_payload]
    assert router.seen[1].user_key == "4242" and router.seen[1].first_name == "Giulia"
    answered = [c for c in request.calls if c.method == "answerCallbackQuery"]
    assert len(answered) == 2 and answered[0].params["callback_query_id"] == "cbq-1"
    # the spinner is stopped before the router is asked
    first_press = request.methods().index("answerCallbackQuery")
    assert request.methods()[first_press + 1] == "sendChatAction"


async def test_an_expired_long_button_asks_kindly_to_repeat() -> None:
    router = FakeRouter()
    channel, request = make_channel(router)

    await process(channel, callback_update(KEY_PREFIX + "0123456789"))

    assert router.seen == []
    assert "answerCallbackQuery" in request.methods()
    assert [m["text"] for m in request.sent_messages()] == [TEXT_BUTTON_EXPIRED]


STICKER = {
    "file_id": "S1",
    "file_unique_id": "US1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
MEDIA = {
    "sticker": {"sticker": STICKER},
    "voice": {"voice": {"file_id": "V1", "file_unique_id": "UV1", "duration": 3}},
    "photo": {
        "photo": [{"file_id": "P1", "file_unique_id": "UP1", "width": 90, "height": 90}],
        "caption": "x",
    },
    "document": {"document": {"file_id": "D1", "file_unique_id": "UD1", "file_name": "a.pdf"}},
    "animation": {
        "animation": {"file_id": "A1", "file_unique_id": "UA1", "width": 1, "height": 1, "duration": 1},
        "document": {"file_id": "A1", "file_unique_id": "UA1"},
    },
    "video_note": {"video_note": {"file_id": "N1", "file_unique_id": "UN1", "length": 240, "duration": 4}},
    "contact": {"contact": {"phone_number": "+390000", "first_name": "Anna"}},
}


@pytest.mark.parametrize("kind", sorted(MEDIA))
async def test_content_we_cannot_read_is_unsupported(kind: str) -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply("Per ora leggo solo i messaggi scritti.")]))
    channel, request = make_channel(router)

    await process(channel, message_update(**MEDIA[kind]))

    assert [(m.unsupported, m.text) for m in router.seen] == [(kind, None)]
    assert [m["text"] for m in request.sent_messages()] == ["Per ora leggo solo i messaggi scritti."]


async def test_a_shared_location_becomes_coordinates() -> None:
    router = FakeRouter()
    channel, _ = make_channel(router)

    await process(channel, message_update(location={"latitude": 45.4647, "longitude": 8.8819}))

    assert [m.location for m in router.seen] == [(45.4647, 8.8819)]


async def test_a_10000_character_answer_is_split_cleanly_with_buttons_on_the_last_part() -> None:
    paragraph = ("Il centro estivo comunale accoglie bambini dai sei agli undici anni. " * 12).strip()
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(13))
    assert len(text) > 10_000
    router = FakeRouter(lambda msg: Turn(replies=[Reply(text, (Button("Altro", "/more"),))]))
    channel, request = make_channel(router)

    await process(channel, message_update(text="dimmi tutto"))

    sent = request.sent_messages()
    assert len(sent) == 4  # four paragraphs fit in 4,096 characters, five do not
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert " ".join(m["text"] for m in sent).split() == text.split()
    assert all(m["text"].endswith("anni.") for m in sent)  # cut at paragraph ends, never mid-word
    assert [bool(buttons_of(m)) for m in sent] == [False, False, False, True]


async def test_html_in_the_text_is_escaped() -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply(f"Hai scritto: {msg.text}")]))
    channel, request = make_channel(router)

    await process(channel, message_update(text="<b>ciao</b> & 3 < 4"))

    assert request.sent_messages()[0]["text"] == "Hai scritto: &lt;b&gt;ciao&lt;/b&gt; &amp; 3 &lt; 4"


async def test_a_router_failure_gets_a_plain_answer_and_the_next_update_still_works() -> None:
    def explode_once(msg: Inbound) -> Turn:
        if msg.text == "boom":
            raise RuntimeError("database on fire")
        return Turn(replies=[Reply("Tutto bene.")])

    router = FakeRouter(explode_once)
    channel, request = make_channel(router)

    await process(channel, message_update(text="boom"), message_update(text="ciao"))

    assert [m["text"] for m in request.sent_messages()] == [TEXT_SOMETHING_WRONG, "Tutto bene."]


async def test_an_unexpected_error_in_a_handler_is_logged_and_does_not_stop_the_bot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(msg: Inbound) -> Turn:
        if msg.text == "rompi":
            return Turn(replies=[Reply(text=None)])  # type: ignore[arg-type]  # a bug upstream
        return Turn(replies=[Reply("Ancora qui.")])

    router = FakeRouter(broken)
    channel, request = make_channel(router)

    await process(channel, message_update(text="rompi"), message_update(text="ciao"))

    assert "error while handling Telegram update" in caplog.text
    assert [m["text"] for m in request.sent_messages()] == ["Ancora qui."]


async def test_telegram_refusing_our_html_falls_back_to_plain_text() -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply("Orari: 8 < 9 & oltre")]))
    channel, request = make_channel(router)
    request.fail_next("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag")

    await process(channel, message_update(text="orari"))

    sent = request.sent_messages()
    assert len(sent) == 2
    assert sent[0]["parse_mode"] == "HTML" and sent[0]["text"] == "Orari: 8 &lt; 9 &amp; oltre"
    assert "parse_mode" not in sent[1] and sent[1]["text"] == "Orari: 8 < 9 & oltre"


async def test_a_person_who_blocked_the_bot_does_not_break_anything() -> None:
    router = FakeRouter(lambda msg: Turn(replies=[Reply("uno"), Reply("due")]))
    channel, request = make_channel(router)
    request.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")

    await process(channel, message_update(text="ciao"), message_update(text="ancora"))

    # first turn: stops at the refused message; second turn: delivered
    assert [m["text"] for m in request.sent_messages()] == ["uno", "uno", "due"]


async def test_a_network_error_is_retried_and_the_message_sent_once() -> None:
    router = FakeRouter()
    channel, request = make_channel(router, retry_backoff=0.01)
    request.fail_next("sendMessage", 502, "Bad Gateway")

    await process(channel, message_update(text="ciao"))

    assert [m["text"] for m in request.sent_messages()] == ["Ciao!", "Ciao!"]  # one failed, one delivered


async def test_group_chats_and_edits_are_not_for_the_assistant() -> None:
    router = FakeRouter()
    channel, request = make_channel(router)
    group = {"id": -100123, "type": "supergroup", "title": "Operatori"}
    in_group = message_update(text="ciao a tutti", chat=group)
    edited = {"update_id": next(_update_ids), "edited_message": {**message_update(text="x")["message"]}}
    edited["edited_message"]["edit_date"] = int(time.time())

    await process(channel, in_group, edited)

    assert router.seen == []
    assert request.sent_messages() == []


async def test_an_empty_turn_sends_nothing() -> None:
    router = FakeRouter(lambda msg: Turn())
    channel, request = make_channel(router)

    await process(channel, message_update(text="doppione"))

    assert request.sent_messages() == []


async def test_button_presses_in_groups_are_left_to_the_operators_side() -> None:
    router = FakeRouter()
    channel, request = make_channel(router)
    group = {"id": -100123, "type": "supergroup", "title": "Operatori"}

    await process(channel, callback_update("/claim", chat=group))

    assert router.seen == []
    assert request.methods() == []


async def test_updates_of_one_chat_are_processed_in_order_and_chats_concurrently() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=8)
    log: list[str] = []

    async def work(name: str, delay: float) -> None:
        log.append(f"{name}>")
        await asyncio.sleep(delay)
        log.append(f"<{name}")

    def update_of(chat_id: int) -> Update:
        data = message_update(text="x", chat={"id": chat_id, "type": "private"})
        return Update.de_json(data, None)

    await asyncio.gather(
        processor.process_update(update_of(1), work("a1", 0.05)),
        processor.process_update(update_of(1), work("a2", 0.0)),
        processor.process_update(update_of(2), work("b1", 0.0)),
    )

    assert log.index("<a1") < log.index("a2>")  # same chat: one after the other
    assert log.index("<b1") < log.index("<a1")  # another chat does not wait
    assert processor._locks == {}  # nothing left behind


def test_the_gateways_share_of_telegrams_rate_is_a_setting() -> None:
    settings = SimpleNamespace(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_mode="polling",
        telegram_api_base=None,
        telegram_messages_per_second=15.0,
    )
    channel = build_telegram(settings, FakeRouter(), request=RecordingRequest())
    limiter = channel.application.bot.rate_limiter
    assert limiter._base_limiter.max_rate == 15.0  # PTB's AIORateLimiter keeps no public accessor
    default, _ = make_channel(FakeRouter())
    assert default.application.bot.rate_limiter._base_limiter.max_rate == 30.0

"""POST /api/chat, GET /, GET /healthz through aiohttp's test client, with the fake Rasa behind."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.assistant.rasa import RasaClient
from bot.channels.web.chat import WebChannel
from bot.conversation.router import ConversationRouter
from bot.core.messages import META_FIELDS
from bot.core.ratelimit import RateLimiter
from tests.fakes import fake_rasa
from tests.fakes.stores import memory_store


@pytest.fixture
async def http(rasa):
    store = memory_store()
    client = RasaClient(rasa.url, rasa.token, timeout=1.0)
    router = ConversationRouter(store, client, limiter=RateLimiter(10_000))
    channel = WebChannel(router, health_checks={"db": store.ping, "rasa": client.ping})
    async with TestClient(TestServer(channel.make_app())) as test_client:
        test_client.store = store  # type: ignore[attr-defined]
        yield test_client
    await client.aclose()
    store.close()


async def chat(http, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return await http.post("/api/chat", data=data, headers={"Content-Type": content_type})


async def test_question_answers_replies_buttons_and_full_meta(http):
    res = await chat(http, {"user": "web-1", "text": "Ci sono centri estivi a Corbetta?"})

    assert res.status == 200
    body = await res.json()
    assert body == {
        "replies": [{"text": fake_rasa.CAMP_TEXT, "buttons": [fake_rasa.CAMP_BUTTON]}],
        "meta": fake_rasa.CAMP_META,
    }
    assert list(body["meta"]) == list(META_FIELDS)


async def test_button_payload_gives_the_next_answer(http, rasa):
    res = await chat(http, {"user": "web-1", "payload": fake_rasa.CAMP_BUTTON["payload"]})

    body = await res.json()
    assert body["replies"][0]["text"] == fake_rasa.DETAIL_TEXT
    assert body["meta"]["intent"] == "show_service"
    assert rasa.calls[-1][1] == fake_rasa.CAMP_BUTTON["payload"]


async def test_unknown_meta_fields_are_null(http):
    body = await (await chat(http, {"user": "web-1", "text": "che tempo fa?"})).json()

    assert body["meta"] == {
        "intent": "out_of_scope",
        "confidence": 0.41,
        "topic": None,
        "territory": None,
        "comune": None,
        "service_ids": None,
        "handoff": None,
        "fallback": True,
        "referral": None,
        "clarify": None,
    }


async def test_start_typed_on_the_page_is_the_start_command(http, rasa):
    body = await (await chat(http, {"user": "web-1", "text": "/start"})).json()

    assert body["replies"][0]["text"].startswith("Ciao! Sono Concilia")
    assert len(body["replies"][0]["buttons"]) == 5
    assert rasa.calls == []


async def test_rasa_down_is_a_200_with_the_plain_message(http, rasa):
    await rasa.stop()

    res = await chat(http, {"user": "web-1", "text": "centri estivi?"})

    assert res.status == 200
    body = await res.json()
    assert body["replies"] == [
        {"text": "L'assistente non è disponibile in questo momento. Riprova tra poco.", "buttons": []}
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{not json", 400, "JSON non valido"),
        ("[" * 50_000, 400, "JSON non valido"),
        ("", 400, "JSON non valido"),
        ("[1, 2]", 422, "Il corpo deve essere un oggetto JSON con il campo text."),
        ('"ciao"', 422, "Il corpo deve essere un oggetto JSON con il campo text."),
        ({"user": "web-1"}, 422, "Manca il campo text (oppure payload, per un pulsante)."),
        ({"user": "web-1", "text": None}, 422, "Manca il campo text"),
        ({"user": "web-1", "text": ["ciao"]}, 422, "Il campo text deve essere una stringa."),
        ({"user": "web-1", "text": 3.5}, 422, "Il campo text deve essere una stringa."),
        ({"user": "web-1", "text": "   \n"}, 422, "Il campo text è vuoto."),
        ({"user": "web-1", "text": "a" * 4097}, 422, "Il testo è troppo lungo: al massimo 4096 caratteri."),
        (
            {"user": "web-1", "text": "ciao", "payload": "/greet"},
            422,
            "Manda text oppure payload, non tutti e due.",
        ),
        ({"user": "web-1", "payload": {"a": 1}}, 422, "Il campo payload deve essere una stringa."),
        ({"user": "web-1", "payload": "/" * 1025}, 422, "Il campo payload è troppo lungo"),
        ('{"user": "web-1", "text": "\\ud800"}', 422, "Il campo text contiene caratteri non validi."),
    ],
)
async def test_bad_requests_get_a_4xx_that_says_what_is_wrong(http, body, status, error):
    res = await chat(http, body)

    assert res.status == status
    assert res.content_type == "application/json"
    assert (await res.json())["error"].startswith(error)


async def test_text_of_exactly_4096_characters_is_accepted(http):
    res = await chat(http, {"user": "web-1", "text": "a" * 4096})

    assert res.status == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_wrong_content_type_is_415(http, content_type):
    res = await chat(http, {"user": "web-1", "text": "ciao"}, content_type=content_type)

    assert res.status == 415
    assert (await res.json()) == {"error": "Content-Type deve essere application/json."}


async def test_missing_content_type_is_415(http):
    res = await http.post("/api/chat", data=b'{"user": "web-1", "text": "ciao"}')

    assert res.status == 415


async def test_json_with_charset_is_fine(http):
    res = await chat(http, {"user": "web-1", "text": "ciao"}, content_type="application/json; charset=utf-8")

    assert res.status == 200


async def test_body_not_utf8_is_400(http):
    res = await chat(http, '{"user": "web-1", "text": "caff\xe8"}'.encode("latin-1"))

    assert res.status == 400
    assert (await res.json())["error"] == "Il corpo della richiesta non è testo UTF-8 valido."


async def test_huge_body_is_413(http):
    res = await chat(http, json.dumps({"user": "web-1", "text": "a" * 200_000}))

    assert res.status == 413
    assert (await res.json())["error"].startswith("La richiesta è troppo grande")


async def test_wrong_method_is_a_json_405(http):
    res = await http.get("/api/chat")

    assert res.status == 405
    assert (await res.json()) == {"error": "Metodo non ammesso: usa POST."}


async def test_unknown_api_path_is_a_json_404(http):
    res = await http.post("/api/nothing", json={})

    assert res.status == 404
    assert (await res.json()) == {"error": "Indirizzo sconosciuto."}


async def test_page_is_served_with_its_assets_and_no_external_ones(http):
    res = await http.get("/")
    html = await res.text()

    assert res.status == 200 and res.content_type == "text/html"
    assert 'lang="it"' in html and 'aria-live="polite"' in html and '<label for="text">' in html
    assert "http://" not in html and "https://" not in html
    assert "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert res.headers["Content-Security-Policy"].endswith("; frame-ancestors 'self'")
    for asset in ("static/chat.js", "static/chat.css"):
        assert asset in html
        got = await http.get("/" + asset)
        assert got.status == 200
        body = await got.text()
        assert "http://" not in body.replace("https?:\\/\\/", "")
    js = await (await http.get("/static/chat.js")).text()
    assert ".innerHTML" not in js and "localStorage" in js and "api/chat" in js
    assert "user=" not in js and "body.user" not in js  # the session is the cookie, never in a URL


async def test_only_known_assets_are_served(http):
    assert (await http.get("/static/../settings.py")).status == 404
    assert (await http.get("/static/index.html")).status == 404


async def test_healthz_reports_db_and_rasa(http, rasa):
    res = await http.get("/healthz")
    assert res.status == 200
    assert await res.json() == {"status": "ok", "db": True, "rasa": True}

    await rasa.stop()
    assert await (await http.get("/healthz")).json() == {"status": "ok", "db": True, "rasa": False}

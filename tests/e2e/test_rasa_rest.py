"""The assistant behind Rasa's REST channel, as `make run` starts it: real Rasa server, real action
server, trained model, real knowledge base."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import httpx

from bot.assistant.rasa import RasaClient, rasa_auth_headers, rasa_jwt
from knowledge import load

KB = load()


def ask(stack, sender: str, text: str) -> tuple[list[dict], dict]:
    r = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    r.raise_for_status()
    items = r.json()
    texts = [i for i in items if "text" in i]
    metas = [i["custom"]["meta"] for i in items if "custom" in i and "meta" in i["custom"]]
    assert texts and metas, items
    return texts, metas[-1]


def test_summer_camp_question_gets_a_knowledge_based_answer_with_meta(rasa_stack):
    sender = uuid.uuid4().hex
    texts, meta = ask(
        rasa_stack, sender, "ciao, ci sono centri estivi a Corbetta per luglio? mia figlia ha 7 anni"
    )
    assert meta["intent"] == "ask_summer_camp" and meta["topic"] == "school_closure"
    assert meta["comune"] == "Corbetta" and meta["territory"] == "magentino"
    assert meta["service_ids"]
    for sid in meta["service_ids"]:
        assert KB.service(sid).title in texts[0]["text"]
    assert texts[0].get("buttons")

    texts, meta2 = ask(rasa_stack, sender, "e quanto costa?")
    assert meta2["topic"] == "school_closure" and meta2["service_ids"] == meta["service_ids"]
    assert KB.service(meta["service_ids"][0]).cost in texts[0]["text"]


def test_saturday_nursery_then_the_town(rasa_stack):
    sender = uuid.uuid4().hex
    texts, meta = ask(rasa_stack, sender, "il nido è aperto il sabato?")
    assert meta["topic"] == "evening_nursery" and "comune" in texts[0]["text"]
    texts, meta = ask(rasa_stack, sender, "Abbiategrasso")
    assert meta["comune"] == "Abbiategrasso" and meta["service_ids"]
    assert all(KB.service(s).kind == "saturday_nursery" for s in meta["service_ids"])


def test_out_of_scope_twice_offers_a_person(rasa_stack):
    sender = uuid.uuid4().hex
    _, meta = ask(rasa_stack, sender, "che tempo fa domani?")
    assert meta["fallback"] is True and meta["topic"] is None
    texts, meta = ask(rasa_stack, sender, "chi ha vinto lo scudetto nel 1990?")  # not a referral
    assert meta["fallback"] is True and meta["handoff"] is True
    assert any(b["payload"] == "/request_human" for b in texts[0]["buttons"])


def test_api_refuses_requests_without_the_token(rasa_stack):
    r = httpx.get(f"{rasa_stack.rasa_url}/status", timeout=5)
    assert r.status_code == 401
    r = httpx.put(f"{rasa_stack.rasa_url}/model", json={"model_file": "/tmp/x.tar.gz"}, timeout=5)
    assert r.status_code == 401


def test_api_takes_the_token_only_as_a_bearer_jwt_signed_with_the_secret(rasa_stack):
    status = f"{rasa_stack.rasa_url}/status"
    r = httpx.get(status, headers=rasa_auth_headers(rasa_stack.token), timeout=5)
    assert r.status_code == 200 and "model_file" in r.json()
    # the secret itself in a query string, as before: refused (it would sit in access logs)
    assert httpx.get(status, params={"token": rasa_stack.token}, timeout=5).status_code == 401
    # a JWT signed with another secret, or one that has expired
    forged = rasa_auth_headers(secrets.token_hex(32))
    assert httpx.get(status, headers=forged, timeout=5).status_code == 401
    old = {"Authorization": f"Bearer {rasa_jwt(rasa_stack.token, now=time.time() - 3600)}"}
    assert httpx.get(status, headers=old, timeout=5).status_code == 401


def test_the_gateway_erases_a_conversation_in_rasa_with_its_header(rasa_stack):
    sender = uuid.uuid4().hex
    ask(rasa_stack, sender, "ci sono centri estivi a Corbetta?")
    tracker = f"{rasa_stack.rasa_url}/conversations/{sender}/tracker"
    headers = rasa_auth_headers(rasa_stack.token)
    assert any(e["event"] == "user" for e in httpx.get(tracker, headers=headers, timeout=10).json()["events"])

    asyncio.run(_erase(rasa_stack.rasa_url, rasa_stack.token, sender))

    events = httpx.get(tracker, headers=headers, timeout=10).json()["events"]
    assert not any(e["event"] == "user" for e in events), events


async def _erase(url: str, token: str, sender: str) -> None:
    client = RasaClient(url, token)
    try:
        await client.erase(sender)
    finally:
        await client.aclose()

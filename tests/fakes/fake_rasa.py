"""A small fake of the Rasa server's HTTP API, enough for the gateway's tests.

It speaks the same protocol as Rasa 3.6: ``POST /webhooks/rest/webhook`` (REST channel) answers a JSON list
of bot messages, text items followed by a ``custom`` item with the ``meta`` payload; ``PUT
/conversations/{id}/tracker/events`` replaces a conversation's events (401 without a Bearer JWT signed with
the token, as Rasa started with ``--jwt-secret``; a ``?token=`` is refused, as Rasa started without
``--auth-token`` does); ``GET /`` says hello. Knobs: ``delay`` (seconds before answering),
``fail_status`` (answer with this HTTP status), ``stop()``/``start()`` on the same port to be "down" and
back, and ``script`` to change answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from bot.assistant.rasa import JWT_METHOD

TOKEN = "fake-rasa-token-0123456789abcdef"  # 32 characters, as RFC 7518 asks of an HS256 key

CAMP_META = {
    "intent": "ask_summer_camp",
    "confidence": 0.97,
    "topic": "school_closure",
    "territory": "magentino",
    "comune": "Corbetta",
    "service_ids": ["cre-corbetta-estate-2027"],
    "handoff": False,
    "fallback": False,
    "referral": None,
    "clarify": [],
}
CAMP_BUTTON = {
    "title": "Centro estivo di Corbetta",
    "payload": '/show_service{"service_id": "cre-corbetta-estate-2027"}',
}
CAMP_TEXT = "A Corbetta a luglio c'è il Centro estivo comunale, per bambini dai 6 agli 11 anni."
DETAIL_TEXT = (
    "Centro estivo comunale di Corbetta: dal lunedì al venerdì, 8:30-16:30. Costo: 85 € a settimana."
)


def default_script(sender: str, message: str) -> list[dict[str, Any]]:
    """Canned answers: summer camps, a service's details, a town, anything else as "not understood"."""
    if message.startswith("/show_service"):
        meta = {**CAMP_META, "intent": "show_service", "confidence": 1.0}
        return [
            {"recipient_id": sender, "text": DETAIL_TEXT},
            {"recipient_id": sender, "custom": {"meta": meta}},
        ]
    if message.startswith("/inform"):
        town = json.loads(message[len("/inform") :])["town"]
        meta = {"intent": "inform", "confidence": 1.0, "comune": town, "territory": "magentino"}
        return [
            {
                "recipient_id": sender,
                "text": f"Va bene, guardo i servizi di {town}.",
                "custom": {"meta": meta},
            }
        ]
    if "centri estivi" in message.lower() or message.startswith("/choose_topic"):
        return [
            {"recipient_id": sender, "text": CAMP_TEXT, "buttons": [CAMP_BUTTON]},
            {"recipient_id": sender, "custom": {"meta": CAMP_META}},
        ]
    meta = {"intent": "out_of_scope", "confidence": 0.41, "fallback": True}
    return [
        {"recipient_id": sender, "text": "Scusa, non ho capito bene."},
        {"recipient_id": sender, "custom": {"meta": meta}},
    ]


@dataclass
class FakeRasa:
    token: str = TOKEN
    delay: float = 0.0
    fail_status: int | None = None
    script: Callable[[str, str], list[dict[str, Any]]] = default_script
    calls: list[tuple[str, str]] = field(default_factory=list)  # (sender, message)
    trackers: dict[str, list[str]] = field(default_factory=dict)  # sender -> messages it was told
    erased: list[str] = field(default_factory=list)
    # sender -> slots: set with POST .../tracker/events (slot events), read with GET .../tracker
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_urls: list[str] = field(default_factory=list)  # path and query string of each tracker API call
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._hello)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_put("/conversations/{sender}/tracker/events", self._replace_events)
        app.router.add_post("/conversations/{sender}/tracker/events", self._append_events)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeRasa:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _authorised(self, request: web.Request) -> bool:
        """As Rasa started with ``--jwt-secret``: a Bearer JWT signed with the secret, for the admin role."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            payload = jwt.decode(token, self.token, algorithms=[JWT_METHOD])
        except jwt.InvalidTokenError:
            return False
        return scheme == "Bearer" and payload.get("user", {}).get("role") == "admin"

    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, message = body["sender"], body["message"]
        self.calls.append((sender, message))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status:
            return web.json_response({"error": "boom"}, status=self.fail_status)
        self.trackers.setdefault(sender, []).append(message)
        return web.json_response(self.script(sender, message))

    async def _replace_events(self, request: web.Request) -> web.Response:
        self.api_urls.append(request.path_qs)
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        events = await request.json()
        if not isinstance(events, list):
            return web.json_response({"status": "failure", "reason": "BadRequest"}, status=400)
        sender = request.match_info["sender"]
        self.erased.append(sender)
        self.trackers[sender] = []
        self.slots.pop(sender, None)
        return web.json_response({"sender_id": sender, "events": events})

    async def _append_events(self, request: web.Request) -> web.Response:
        """As Rasa: the events are appended (after a session start for a new conversation); only slot
        events are kept here. An empty list is a bad request, as in Rasa."""
        self.api_urls.append(request.path_qs)
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        if self.fail_status:
            return web.json_response({"error": "boom"}, status=self.fail_status)
        events = await request.json()
        if not isinstance(events, list) or not events:
            return web.json_response({"status": "failure", "reason": "BadRequest"}, status=400)
        sender = request.match_info["sender"]
        slots = self.slots.setdefault(sender, {})
        for event in events:
            if event.get("event") == "slot":
                slots[event["name"]] = event["value"]
        return web.json_response({"sender_id": sender, "slots": slots})

    async def _tracker(self, request: web.Request) -> web.Response:
        """The tracker's current state; every slot of the domain is there, None when not set."""
        self.api_urls.append(request.path_qs)
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        if self.fail_status:
            return web.json_response({"error": "boom"}, status=self.fail_status)
        sender = request.match_info["sender"]
        slots = {"comune": None, "territory": None, "session_started_metadata": None}
        slots.update(self.slots.get(sender, {}))
        events = None if request.query.get("include_events") == "NONE" else []
        return web.json_response({"sender_id": sender, "slots": slots, "events": events})

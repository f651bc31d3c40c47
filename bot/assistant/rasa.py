"""Client of the Rasa server's HTTP API (REST channel and tracker API).

Rasa's REST channel answers ``POST /webhooks/rest/webhook`` with a JSON list of bot messages::

    [{"recipient_id": "c-…", "text": "…", "buttons": [{"title": "…", "payload": "/intent{…}"}]},
     {"recipient_id": "c-…", "custom": {"meta": {"intent": "…", …}}}]

A ``custom`` item carrying ``meta`` belongs to the text before it (or to the text in the same item). The
turn's meta is the last one sent, which the actions attach to the reply that ends the turn.

Several Rasa servers (``RASA_URL`` a comma-separated list): each conversation always goes to the same one,
chosen from a hash of its sender id, so each server's in-memory lock store sees every turn of the
conversations it holds and no Redis is needed on one machine; the servers may share one tracker store.

One ``aiohttp.ClientSession`` is kept for the life of the gateway (connections are reused). aiohttp rather
than httpx: the gateway already runs aiohttp's server, and its client took about half the CPU of httpx's
per call to Rasa (bench/RESULTS.md, "Gateway and action server CPU per message"). Every call has a total
deadline (``timeout``): a slow Rasa is as good as a down one, and the person must hear so in seconds.

Rasa's HTTP API (``/conversations/...``, ``/status``, ``/model``) is protected by a JSON Web Token: Rasa runs
with ``--jwt-secret`` (set inside its process by ``scripts/rasa_server.py``, never on a command line) and
every call here carries ``Authorization: Bearer <JWT>``, signed with the shared secret (``RASA_TOKEN``) for
the ``admin`` role and valid for a few minutes. Nothing puts the secret or the JWT in a URL, where access
logs would keep it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt

from bot.assistant.answers import AssistantAnswer, AssistantUnavailable, parse_rest_answer

log = logging.getLogger(__name__)

# Rasa 3.6 starts sanic-jwt with this algorithm unless told otherwise (``--jwt-method``)
JWT_METHOD = "HS256"
JWT_LIFETIME = 600.0  # seconds; a new one is made a minute before it expires


def rasa_jwt(secret: str, lifetime: float = JWT_LIFETIME, now: float | None = None) -> str:
    """A JWT that Rasa started with ``--jwt-secret <secret>`` accepts for every endpoint (role ``admin``)."""
    issued = int(time.time() if now is None else now)
    payload = {"user": {"username": "concilia-gateway", "role": "admin"}, "iat": issued}
    payload["exp"] = issued + int(lifetime)
    return jwt.encode(payload, secret, algorithm=JWT_METHOD)


def rasa_auth_headers(secret: str) -> dict[str, str]:
    """The header of one call to Rasa's HTTP API (for scripts and tests; the client reuses its JWT)."""
    return {"Authorization": f"Bearer {rasa_jwt(secret)}"}


@dataclass(frozen=True)
class RasaResponse:
    status_code: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.base_urls = [u.strip().rstrip("/") for u in base_url.split(",") if u.strip()]
        self.base_url = self.base_urls[0]
        self._token = token
        self.timeout = timeout
        self._client: aiohttp.ClientSession | None = None
        self._jwt, self._jwt_expires = "", 0.0

    def __repr__(self) -> str:
        return f"RasaClient({','.join(self.base_urls)!r}, token=***, timeout={self.timeout})"

    @property
    def client(self) -> aiohttp.ClientSession:
        """Made on first use, in the running event loop; proxies from the environment are not used."""
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=50, keepalive_timeout=30),
                trust_env=False,
            )
        return self._client

    def _auth(self) -> dict[str, str]:
        now = time.time()
        if now > self._jwt_expires - 60:
            self._jwt, self._jwt_expires = rasa_jwt(self._token, JWT_LIFETIME, now), now + JWT_LIFETIME
        return {"Authorization": f"Bearer {self._jwt}"}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def url_for(self, sender_id: str) -> str:
        """The Rasa server of this conversation: always the same one for the same sender id."""
        if len(self.base_urls) == 1:
            return self.base_url
        digest = hashlib.blake2b(sender_id.encode("utf-8"), digest_size=8).digest()
        return self.base_urls[int.from_bytes(digest, "big") % len(self.base_urls)]

    async def _request(self, method: str, path: str, base: str | None = None, **kwargs: Any) -> RasaResponse:
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.request(
                    method, (base or self.base_url) + path, headers=self._auth(), **kwargs
                ) as answer:
                    response = RasaResponse(answer.status, await answer.read())
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise AssistantUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise AssistantUnavailable(f"{method} {path}: HTTP {response.status_code}")
        return response

    async def send(self, sender_id: str, text: str) -> AssistantAnswer:
        """Send one message (text, or a ``/intent{"entity": "value"}`` payload) and collect the answer."""
        response = await self._request(
            "POST",
            "/webhooks/rest/webhook",
            self.url_for(sender_id),
            json={"sender": sender_id, "message": text},
        )
        try:
            data = response.json()
        except ValueError:
            raise AssistantUnavailable("Rasa answered with something that is not JSON") from None
        return parse_rest_answer(data)

    async def erase(self, sender_id: str) -> None:
        """Replace the conversation's tracker with no events: Rasa forgets what it was told."""
        path = f"/conversations/{quote(sender_id, safe='')}/tracker/events"
        await self._request("PUT", path, self.url_for(sender_id), json=[])

    async def slots(self, sender_id: str) -> dict[str, Any]:
        """The conversation's slots that have a value (its tracker without the events)."""
        path = f"/conversations/{quote(sender_id, safe='')}/tracker"
        response = await self._request(
            "GET", path, self.url_for(sender_id), params={"include_events": "NONE"}
        )
        try:
            slots = response.json().get("slots") or {}
        except (ValueError, AttributeError):
            raise AssistantUnavailable("Rasa's tracker is not a JSON object") from None
        return {name: value for name, value in slots.items() if value is not None}

    async def set_slots(self, sender_id: str, slots: dict[str, Any]) -> None:
        """Start the conversation (Rasa runs its session start first) with these slots set."""
        events = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
        path = f"/conversations/{quote(sender_id, safe='')}/tracker/events"
        await self._request("POST", path, self.url_for(sender_id), json=events)

    async def ping(self) -> bool:
        """Every Rasa server answers."""
        try:
            for base in self.base_urls:
                await self._request("GET", "/", base)
        except AssistantUnavailable:
            return False
        return True

"""Client of the Rasa server's HTTP API (REST channel and tracker API).

Rasa's REST channel answers ``POST /webhooks/rest/webhook`` with a JSON list of bot messages::

    [{"recipient_id": "c-…", "text": "…", "buttons": [{"title": "…", "payload": "/intent{…}"}]},
     {"recipient_id": "c-…", "custom": {"meta": {"intent": "…", …}}}]

A ``custom`` item carrying ``meta`` belongs to the text before it (or to the text in the same item). The
turn's meta is the last one sent, which the actions attach to the reply that ends the turn.

One ``httpx.AsyncClient`` is kept for the life of the gateway (connections are reused). Every call has a
total deadline (``timeout``): a slow Rasa is as good as a down one, and the person must hear so in seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx

from bot.assistant.answers import AssistantAnswer, AssistantUnavailable, parse_rest_answer
from bot.logs import RedactSecrets

log = logging.getLogger(__name__)


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        # httpx logs each request URL at INFO, and the tracker API's URL carries the token
        self._redact = RedactSecrets([token])
        logging.getLogger("httpx").addFilter(self._redact)

    def __repr__(self) -> str:
        return f"RasaClient({self.base_url!r}, token=***, timeout={self.timeout})"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        logging.getLogger("httpx").removeFilter(self._redact)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.request(method, self.base_url + path, **kwargs)
        except (TimeoutError, httpx.HTTPError) as exc:
            # never log the URL: the tracker API carries the token in its query string
            raise AssistantUnavailable(f"{method} {path.split('?')[0]}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise AssistantUnavailable(f"{method} {path.split('?')[0]}: HTTP {response.status_code}")
        return response

    async def send(self, sender_id: str, text: str) -> AssistantAnswer:
        """Send one message (text, or a ``/intent{"entity": "value"}`` payload) and collect the answer."""
        response = await self._request(
            "POST", "/webhooks/rest/webhook", json={"sender": sender_id, "message": text}
        )
        try:
            data = response.json()
        except ValueError:
            raise AssistantUnavailable("Rasa answered with something that is not JSON") from None
        return parse_rest_answer(data)

    async def erase(self, sender_id: str) -> None:
        """Replace the conversation's tracker with no events: Rasa forgets what it was told."""
        path = (
            f"/conversations/{quote(sender_id, safe='')}/tracker/events?token={quote(self._token, safe='')}"
        )
        await self._request("PUT", path, json=[])

    async def ping(self) -> bool:
        try:
            await self._request("GET", "/")
        except AssistantUnavailable:
            return False
        return True

"""The web channel: a JSON chat API and a small chat page, served by aiohttp.

``POST /api/chat`` with ``Content-Type: application/json`` and a body

    {"user": "<opaque id>", "text": "ci sono centri estivi a Corbetta?"}

or, when the person presses a button of an earlier reply, the button's payload instead of the text:

    {"user": "<opaque id>", "payload": "/choose_topic{\\"topic\\": \\"school_closure\\"}"}

answers ``200`` with (the meta fields are those of knowledge/contract.py)

    {"replies": [{"text": "...", "buttons": [{"title": "...", "payload": "..."}]}],
     "meta": {"intent": ..., "confidence": ..., "topic": ..., "territory": ..., "comune": ...,
              "service_ids": ..., "handoff": ..., "fallback": ..., "referral": ..., "clarify": ...}}

``meta`` always has every field (null when unknown). A text that is exactly a command (``/start``,
``/help``, ``/menu``, ``/privacy``, ``/cancella``) is handled as that command. ``user`` is 1 to 128
characters among letters, digits, ``.``, ``_``, ``:`` and ``-`` (the page makes a random one and keeps it in
``localStorage``). Bad requests get a 4xx with ``{"error": "<what is wrong, in Italian>"}``: 400 invalid
JSON or not UTF-8, 405 wrong method, 413 body over 64 KiB, 415 not JSON, 422 missing or wrong fields (text
over 4,096 characters included). The page and the API share the origin, so there is no CORS and no
OPTIONS handling.

``GET /api/chat/updates?user=<id>&after=<n>`` answers what reached the person since: the messages of an
operator (when the chat was handed over to one) and of the handoff (an operator joined, the chat was
closed, a rating to give), ``{"replies": [{"id": n, "text": ..., "buttons": [...]}], "last": m}``, oldest
first; ask again with ``after=m``. ``after`` defaults to 0 (everything still kept). The page polls it every
few seconds.

``GET /`` is the chat page (``static/``: HTML, CSS and JS, no external assets). ``GET /healthz`` answers
``{"status": "ok", "db": true|false, "rasa": true|false}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.core import commands
from bot.core.messages import MAX_TEXT_CHARS, Inbound, Turn

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_BODY_BYTES = 64 * 1024
MAX_PAYLOAD_CHARS = 1024
USER_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATIC_FILES = {"chat.css": "text/css", "chat.js": "text/javascript"}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

HealthCheck = Callable[[], Awaitable[bool]]
# (channel, user key, after) -> (messages pushed to the person since, the cursor to ask with next)
Updates = Callable[[str, str, int], Awaitable[tuple[list[Any], int]]]


class Router(Protocol):
    async def handle(self, msg: Inbound) -> Turn: ...


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ChatRequest:
    user: str
    text: str | None
    payload: str | None

    def to_inbound(self) -> Inbound:
        if self.text is not None:
            stripped = self.text.strip()
            if stripped.startswith("/") and stripped[1:].lower() in commands.NAMES:
                return Inbound(channel="web", user_key=self.user, command=stripped[1:].lower())
        return Inbound(channel="web", user_key=self.user, text=self.text, payload=self.payload)


def _valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\\ud800"-style escapes
        return False
    return True


def parse_chat_request(content_type: str, body: bytes) -> ChatRequest:
    """Validate a ``POST /api/chat`` request; raise :class:`BadRequest` saying what is wrong."""
    if content_type != "application/json":
        raise BadRequest(415, "Content-Type deve essere application/json.")
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, f"La richiesta è troppo grande: al massimo {MAX_BODY_BYTES} byte.")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "Il corpo della richiesta non è testo UTF-8 valido.") from None
    try:
        data = json.loads(decoded)
    except RecursionError:
        raise BadRequest(400, "JSON non valido: troppi livelli annidati.") from None
    except ValueError as exc:
        raise BadRequest(400, f"JSON non valido: {exc}.") from None
    if not isinstance(data, dict):
        raise BadRequest(422, "Il corpo deve essere un oggetto JSON con i campi user e text.")

    user = data.get("user")
    if user is None:
        raise BadRequest(422, "Manca il campo user.")
    if not isinstance(user, str):
        raise BadRequest(422, "Il campo user deve essere una stringa.")
    if not user:
        raise BadRequest(422, "Il campo user è vuoto.")
    if len(user) > 128:
        raise BadRequest(422, "Il campo user è troppo lungo: al massimo 128 caratteri.")
    if not USER_ID.fullmatch(user):
        raise BadRequest(422, "Il campo user può contenere solo lettere, cifre e i segni . _ : -")

    text = data.get("text")
    payload = data.get("payload")
    if text is None and payload is None:
        raise BadRequest(422, "Manca il campo text (oppure payload, per un pulsante).")
    if text is not None and payload is not None:
        raise BadRequest(422, "Manda text oppure payload, non tutti e due.")
    if text is not None:
        if not isinstance(text, str):
            raise BadRequest(422, "Il campo text deve essere una stringa.")
        if len(text) > MAX_TEXT_CHARS:
            raise BadRequest(422, f"Il testo è troppo lungo: al massimo {MAX_TEXT_CHARS} caratteri.")
        if not text.strip():
            raise BadRequest(422, "Il campo text è vuoto.")
        if not _valid_unicode(text):
            raise BadRequest(422, "Il campo text contiene caratteri non validi.")
    if payload is not None:
        if not isinstance(payload, str):
            raise BadRequest(422, "Il campo payload deve essere una stringa.")
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise BadRequest(
                422, f"Il campo payload è troppo lungo: al massimo {MAX_PAYLOAD_CHARS} caratteri."
            )
        if not payload.strip():
            raise BadRequest(422, "Il campo payload è vuoto.")
        if not _valid_unicode(payload):
            raise BadRequest(422, "Il campo payload contiene caratteri non validi.")
    return ChatRequest(user=user, text=text, payload=payload)


def turn_to_json(turn: Turn) -> dict[str, Any]:
    return {
        "replies": [
            {"text": r.text, "buttons": [{"title": b.title, "payload": b.payload} for b in r.buttons]}
            for r in turn.replies
        ],
        "meta": turn.meta,
    }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={"Cache-Control": "no-store"})


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors of the API as JSON (405, 404, ...). An unexpected error is logged and answered as a JSON 500:
    the validation in front of the router is there so that no request can get this far."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        allowed = "GET" if request.path == "/api/chat/updates" else "POST"
        message = {404: "Indirizzo sconosciuto.", 405: f"Metodo non ammesso: usa {allowed}."}.get(
            exc.status, exc.reason
        )
        return _error(exc.status, message)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, "Errore interno. Riprova tra poco.")


class WebChannel:
    def __init__(
        self,
        router: Router,
        health_checks: Mapping[str, HealthCheck] | None = None,
        updates: Updates | None = None,
    ) -> None:
        self.router = router
        self.health_checks = dict(health_checks or {})
        self.updates_source = updates
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self.page)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/chat/updates", self.updates)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (port 0 = any free port) and return the page's address."""
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses  # the bound socket tells the real port when port is 0
        bound = addresses[0][1] if addresses else port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers -----------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"La richiesta è troppo grande: al massimo {MAX_BODY_BYTES} byte.")
        try:
            chat = parse_chat_request(request.content_type, body)
        except BadRequest as exc:
            return _error(exc.status, exc.message)
        turn = await self.router.handle(chat.to_inbound())
        return web.json_response(turn_to_json(turn), headers={"Cache-Control": "no-store"})

    async def updates(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not USER_ID.fullmatch(user):
            return _error(422, "Il parametro user manca o non è valido.")
        raw_after = request.query.get("after", "0") or "0"
        if not raw_after.isdigit() or len(raw_after) > 18:
            return _error(422, "Il parametro after deve essere un numero intero non negativo.")
        after = int(raw_after)
        if self.updates_source is None:
            return web.json_response({"replies": [], "last": after}, headers={"Cache-Control": "no-store"})
        try:
            found, last = await self.updates_source("web", user, after)
        except Exception:
            log.exception("cannot read the updates of a web user")
            return _error(503, "Non riesco a leggere i messaggi nuovi. Riprovo tra poco.")
        replies = [
            {"id": m.id, "text": m.text or "", "buttons": list(m.buttons or [])}
            for m in found
            if m.text or m.buttons
        ]
        return web.json_response({"replies": replies, "last": last}, headers={"Cache-Control": "no-store"})

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={**PAGE_HEADERS, "Content-Type": "text/html"})

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers={**PAGE_HEADERS, "Content-Type": _STATIC_FILES[name]})

    async def healthz(self, request: web.Request) -> web.Response:
        async def check(fn: HealthCheck) -> bool:
            try:
                return bool(await asyncio.wait_for(fn(), timeout=3))
            except Exception:
                return False

        names = list(self.health_checks)
        results = await asyncio.gather(*(check(self.health_checks[n]) for n in names))
        return web.json_response({"status": "ok", **dict(zip(names, results, strict=True))})

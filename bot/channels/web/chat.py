"""The web channel: a JSON chat API and a small chat page, served by aiohttp.

``POST /api/chat`` with ``Content-Type: application/json`` and a body

    {"text": "ci sono centri estivi a Corbetta?"}

or, when the person presses a button of an earlier reply, the button's payload instead of the text:

    {"payload": "/choose_topic{\\"topic\\": \\"school_closure\\"}"}

answers ``200`` with (the meta fields are those of knowledge/contract.py)

    {"replies": [{"text": "...", "buttons": [{"title": "...", "payload": "..."}]}],
     "meta": {"intent": ..., "confidence": ..., "topic": ..., "territory": ..., "comune": ...,
              "service_ids": ..., "handoff": ..., "fallback": ..., "referral": ..., "clarify": ...}}

Who is writing is the session in the ``concilia_session`` cookie, which the server issues to a request
without one (:mod:`bot.channels.web.sessions`). A ``user`` field from a browser is ignored; a server-side
client presenting ``Authorization: Bearer <WEB_API_KEY>`` names its person with ``user`` instead (1 to 120
characters among letters, digits, ``.``, ``_``, ``:`` and ``-``). ``meta`` always has every field (null
when unknown). A text that is exactly a command (``/start``, ``/help``, ``/menu``, ``/privacy``,
``/cancella``) is handled as that command. Bad requests get a 4xx with ``{"error": "<what is wrong, in
Italian>"}``: 400 invalid JSON or not UTF-8, 401 wrong API key, 405 wrong method, 413 body over 64 KiB,
415 not JSON, 422 missing or wrong fields (text over 4,096 characters included), 429 too many messages or
new sessions from one address or from everyone (:mod:`bot.channels.web.limits`). The page and the API
share the origin, so there is no CORS and no OPTIONS handling.

``GET /api/chat/updates?after=<n>`` answers what reached the session's person since: the messages of an
operator (when the chat was handed over to one) and of the handoff (an operator joined, the chat was
closed, a rating to give), ``{"replies": [{"id": n, "text": ..., "buttons": [...]}], "last": m}``, oldest
first; ask again with ``after=m``. ``after`` defaults to 0 (everything still kept). Without a live
session: 401 (a server-side client names the person in the ``X-Concilia-User`` header). The page polls
it every few seconds. ``DELETE /api/chat/session`` ends the session (the page's "Nuova conversazione").

``GET /`` is the chat page (``static/``: HTML, CSS and JS, no external assets), whose
``frame-ancestors`` is ``WEB_FRAME_ANCESTORS``. ``GET /healthz`` answers
``{"status": "ok", "db": true|false, "rasa": true|false}``. docs/web-api.md is the guide for a town's site.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.channels.web.access_log import PathOnlyAccessLogger
from bot.channels.web.api import (
    MAX_BODY_BYTES,
    NAMED_PREFIX,
    BadRequest,
    named_user,
    parse_chat_request,
    turn_to_json,
)
from bot.channels.web.limits import FloodLimits, Limits, Networks, client_address, forwarded_https
from bot.channels.web.sessions import (
    COOKIE,
    Sessions,
    SessionState,
    SessionStore,
    TooManySessions,
    user_key_of,
)
from bot.core.messages import Inbound, Turn

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_STATIC_FILES = {"chat.css": "text/css", "chat.js": "text/javascript"}
_ALLOWED = {"/api/chat/updates": "GET", "/api/chat/session": "DELETE"}  # else POST

TOO_MANY_MESSAGES = "Stai mandando troppi messaggi da questa connessione. Aspetta un minuto e riprova."
TOO_MANY_SESSIONS = "Da questa connessione sono state aperte troppe conversazioni. Riprova tra un po'."
BUSY = "In questo momento scrivono in tanti. Riprova tra un minuto."
RENEWED = "La conversazione di prima è scaduta perché è rimasta ferma a lungo: ne comincio una nuova."
EXPIRED = "La conversazione è scaduta perché è rimasta ferma a lungo. Scrivi per cominciarne una nuova."
NO_SESSION = "Nessuna conversazione aperta: scrivi un messaggio per cominciare."
WRONG_KEY = "Chiave API non valida."

HealthCheck = Callable[[], Awaitable[bool]]
# (channel, user key, after) -> (messages pushed to the person since, the cursor to ask with next)
Updates = Callable[[str, str, int], Awaitable[tuple[list[Any], int]]]


class Router(Protocol):
    async def handle(self, msg: Inbound) -> Turn: ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class WebConfig:
    """The web chat's settings (bot/settings.py's ``WEB_*``)."""

    limits: Limits = field(default_factory=Limits)
    trusted_proxies: Networks = ()
    api_key: str | None = None
    frame_ancestors: str = "'self'"
    session_idle: timedelta = timedelta(minutes=120)
    access_log: bool = False


def page_headers(frame_ancestors: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
            f"frame-ancestors {frame_ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={"Cache-Control": "no-store"})


def _ok(data: Any) -> web.Response:
    return web.json_response(data, headers={"Cache-Control": "no-store"})


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors of the API as JSON (405, 404, ...). An unexpected error is logged and answered as a JSON 500:
    the validation in front of the router is there so that no request can get this far."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        allowed = _ALLOWED.get(request.path, "POST")
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
        *,
        config: WebConfig | None = None,
        sessions: SessionStore | None = None,
        clock: Callable[[], datetime] = _utcnow,
        mounts: Sequence[Callable[[web.Application], None]] = (),
    ) -> None:
        self.router = router
        self.mounts = tuple(mounts)  # more routes on the same server (the partners' console)
        self.health_checks = dict(health_checks or {})
        self.updates_source = updates
        self.config = config or WebConfig()
        self.limits = FloodLimits(self.config.limits)
        self.sessions = Sessions(sessions, self.config.session_idle, clock)
        self._page_headers = page_headers(self.config.frame_ancestors)
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self.page)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/chat/updates", self.updates)
        app.router.add_delete("/api/chat/session", self.end_session)
        app.router.add_get("/healthz", self.healthz)
        for mount in self.mounts:
            mount(app)
        return app

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (port 0 = any free port) and return the page's address."""
        if self.config.access_log:  # method, path (never the query string), status and time
            access = logging.getLogger("concilia.web.access")
            self._runner = web.AppRunner(
                self.make_app(), access_log_class=PathOnlyAccessLogger, access_log=access
            )
        else:
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

    # --- who is asking ------------------------------------------------------------------------------

    def _server_client(self, request: web.Request) -> bool:
        """True for a server-side client with the right API key, False without one; a wrong key (or a
        key when none is configured) raises a 401."""
        given = request.headers.get("Authorization")
        if given is None:
            return False
        scheme, _, key = given.strip().partition(" ")
        expected = self.config.api_key
        if expected is None or scheme.lower() != "bearer":
            raise BadRequest(401, WRONG_KEY)
        if not hmac.compare_digest(key.strip().encode("utf-8", "replace"), expected.encode()):
            raise BadRequest(401, WRONG_KEY)
        return True

    def _address(self, request: web.Request) -> str:
        forwarded: Sequence[str] = request.headers.getall("X-Forwarded-For", [])
        return client_address(request.remote, forwarded, self.config.trusted_proxies)

    def _secure(self, request: web.Request) -> bool:
        proto = request.headers.get("X-Forwarded-Proto")
        return request.secure or forwarded_https(request.remote, proto, self.config.trusted_proxies)

    def _set_cookie(self, request: web.Request, response: web.StreamResponse, token: str) -> None:
        secure = True if self._secure(request) else None
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/")

    def _drop_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        secure = True if self._secure(request) else None
        response.del_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure)

    # --- handlers -----------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        try:
            named = self._server_client(request)
        except BadRequest as exc:
            return _error(exc.status, exc.message)
        address = None if named else self._address(request)
        refused = self.limits.message(address)
        if refused is not None:
            return _error(429, TOO_MANY_MESSAGES if refused == "address" else BUSY)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"La richiesta è troppo grande: al massimo {MAX_BODY_BYTES} byte.")
        try:
            chat = parse_chat_request(request.content_type, body, named=named)
        except BadRequest as exc:
            return _error(exc.status, exc.message)
        token: str | None = None
        renewed = False
        if chat.user is not None:
            user_key = NAMED_PREFIX + chat.user
        else:
            origin = address or ""
            try:
                session = await self.sessions.current(
                    request.cookies.get(COOKIE), lambda: self.limits.session(origin)
                )
            except TooManySessions as exc:
                return _error(429, TOO_MANY_SESSIONS if exc.reason == "address" else BUSY)
            user_key, token, renewed = session.user_key, session.token, session.renewed
        turn = await self.router.handle(chat.to_inbound(user_key, address))
        response = _ok(turn_to_json(turn, RENEWED if renewed else None))
        if token is not None:
            self._set_cookie(request, response, token)
        return response

    async def _updates_key(self, request: web.Request) -> str | web.Response:
        """Whose updates: the person named by a server-side client, else the cookie's live session."""
        try:
            if self._server_client(request):
                header = "X-Concilia-User"
                user = request.headers.get(header)
                where, missing = f"L'intestazione {header}", f"Manca l'intestazione {header}."
                return NAMED_PREFIX + named_user(user, where, missing)
        except BadRequest as exc:
            return _error(exc.status, exc.message)
        token = request.cookies.get(COOKIE)
        state = await self.sessions.state(token)
        if state is SessionState.LIVE and token is not None:
            return user_key_of(token)
        response = _error(401, EXPIRED if state is SessionState.EXPIRED else NO_SESSION)
        if token is not None:
            self._drop_cookie(request, response)
        return response

    async def updates(self, request: web.Request) -> web.Response:
        raw_after = request.query.get("after", "0") or "0"
        if not raw_after.isdigit() or len(raw_after) > 18:
            return _error(422, "Il parametro after deve essere un numero intero non negativo.")
        after = int(raw_after)
        key = await self._updates_key(request)
        if isinstance(key, web.Response):
            return key
        if self.updates_source is None:
            return _ok({"replies": [], "last": after})
        try:
            found, last = await self.updates_source("web", key, after)
        except Exception:
            log.exception("cannot read the updates of a web user")
            return _error(503, "Non riesco a leggere i messaggi nuovi. Riprovo tra poco.")
        replies = [
            {"id": m.id, "text": m.text or "", "buttons": list(m.buttons or [])}
            for m in found
            if m.text or m.buttons
        ]
        return _ok({"replies": replies, "last": last})

    async def end_session(self, request: web.Request) -> web.Response:
        """The "Nuova conversazione" button: the session is forgotten here and on the device."""
        token = request.cookies.get(COOKIE)
        await self.sessions.forget(token)
        response = _ok({"ended": token is not None})
        self._drop_cookie(request, response)
        return response

    async def page(self, request: web.Request) -> web.StreamResponse:
        headers = {**self._page_headers, "Content-Type": "text/html"}
        return web.FileResponse(STATIC / "index.html", headers=headers)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC_FILES:
            raise web.HTTPNotFound()
        headers = {**self._page_headers, "Content-Type": _STATIC_FILES[name]}
        return web.FileResponse(STATIC / name, headers=headers)

    async def healthz(self, request: web.Request) -> web.Response:
        async def check(fn: HealthCheck) -> bool:
            try:
                return bool(await asyncio.wait_for(fn(), timeout=3))
            except Exception:
                return False

        names = list(self.health_checks)
        results = await asyncio.gather(*(check(self.health_checks[n]) for n in names))
        return web.json_response({"status": "ok", **dict(zip(names, results, strict=True))})

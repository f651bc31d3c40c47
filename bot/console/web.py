"""The partners' console on the gateway's web server: ``/console/login``, the one-time invite page
``/console/invito?t=...``, the queue ``/console/`` and a ticket's page ``/console/ticket/{n}`` with its
forms (claim, release, close, hand back, reply, note, reveal). Pages come from :mod:`bot.console.pages`.
The queue's script polls ``/console/coda/versione?ente=...`` every few seconds (a short JSON: the queue's
version, :func:`~bot.store.ticket_rows.queue_version`) and fetches the page again only when it changed:
the database is the only thing shared, so it works the same with several gateways.

* The session is a cookie (``concilia_console``: HttpOnly, SameSite=Strict, Secure over HTTPS, as the web
  chat's), checked against the database on every request; signing out or ``concilia console revoke``
  ends it.
* Every form carries a CSRF token: the session's (:func:`~bot.console.accounts.csrf_token`) or, before
  signing in, one that must match a second cookie. A form without it is refused with 403 and logged.
* A partner's staff see that partner's tickets only (the ``alliance`` role sees all, and acts on none);
  any other ticket is refused with 403 and logged. Actions go through the handoff service, like a
  Telegram topic's buttons.
* Text shown from the chat is masked (:mod:`bot.insights.masking`), unless the operator who has the
  ticket reveals it; the reveal is logged.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot.channels.web.limits import Networks, client_address, forwarded_https
from bot.console import pages
from bot.console.accounts import BadPassword, ConsoleAccounts, SignInRefused, csrf_token
from bot.console.views import TicketViews
from bot.store.console import AccountView

log = logging.getLogger(__name__)

COOKIE = "concilia_console"
FORM_COOKIE = "concilia_console_form"
STATIC = Path(__file__).with_name("static")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
WRONG = "Nome utente o password sbagliati."
SLOW = "Troppi tentativi sbagliati. Aspetta qualche minuto prima di riprovare."
FORM_EXPIRED = "Il modulo non è valido o è scaduto. Ricarica la pagina e riprova."
FORBIDDEN = "Questa richiesta non è del tuo ente: non puoi vederla."


def _json(data: dict[str, str], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=HEADERS)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


class ConsoleWeb:
    def __init__(
        self,
        accounts: ConsoleAccounts,
        views: TicketViews,
        *,
        trusted_proxies: Networks = (),
        clock: Callable[[], datetime],
    ) -> None:
        self.accounts = accounts
        self.audit = accounts.store.audit
        self.views = views
        self.trusted_proxies = trusted_proxies
        self.clock = clock

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/console", self.to_queue)
        app.router.add_get("/console/", self.queue)
        app.router.add_get("/console/static/{name:console\\.css|queue\\.js}", self.static)
        app.router.add_get("/console/coda/versione", self.queue_version)
        app.router.add_get("/console/login", self.login_form)
        app.router.add_post("/console/login", self.login)
        app.router.add_post("/console/logout", self.logout)
        app.router.add_get("/console/invito", self.invite_form)
        app.router.add_post("/console/invito", self.invite)
        app.router.add_get("/console/ticket/{id:[0-9]{1,12}}", self.ticket)
        app.router.add_post(
            "/console/ticket/{id:[0-9]{1,12}}/{what:azione|risposta|nota|mostra|prepara}", self.ticket_form
        )

    # --- who is asking ------------------------------------------------------------------------------

    def _address(self, request: web.Request) -> str:
        forwarded: Sequence[str] = request.headers.getall("X-Forwarded-For", [])
        return client_address(request.remote, forwarded, self.trusted_proxies)

    def _cookie(self, request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
        proto = request.headers.get("X-Forwarded-Proto")
        secure = request.secure or forwarded_https(request.remote, proto, self.trusted_proxies)
        response.set_cookie(
            name, value, httponly=True, samesite="Strict", secure=True if secure else None, path="/console"
        )

    async def _signed_in(self, request: web.Request) -> tuple[AccountView, str] | None:
        token = request.cookies.get(COOKIE)
        account = await self.accounts.session(token)
        return (account, token) if account is not None and token is not None else None

    def _viewer(self, account: AccountView, token: str) -> pages.Viewer:
        return pages.Viewer(
            account.name or account.login,
            account.role,
            self.views.partner_name(account.partner_id),
            csrf_token(token),
        )

    def _form_token(self, request: web.Request) -> str:
        return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)

    async def _refuse_form(
        self, request: web.Request, account: AccountView | None, where: str
    ) -> web.Response:
        log.warning("console: a form without a valid CSRF token refused (%s)", where)
        await self.audit(
            "csrf", "refused", self.clock(), account=account, address=self._address(request), detail=where
        )
        return _html(pages.simple_page("Modulo non valido", FORM_EXPIRED), 403)

    # --- pages --------------------------------------------------------------------------------------

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return web.FileResponse(STATIC / name, headers={**HEADERS, "Content-Type": kind})

    async def to_queue(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/console/")

    async def login_form(
        self, request: web.Request, *, error: str | None = None, info: str | None = None, status: int = 200
    ) -> web.Response:
        form = self._form_token(request)
        response = _html(pages.login_page(form, error, info), status)
        self._cookie(request, response, FORM_COOKIE, form)
        return response

    async def login(self, request: web.Request) -> web.Response:
        data = await request.post()
        if not _same(data.get("csrf"), request.cookies.get(FORM_COOKIE)):
            return await self._refuse_form(request, None, "login")
        try:
            token, account = await self.accounts.sign_in(
                str(data.get("login", ""))[:64], str(data.get("password", ""))[:1024], self._address(request)
            )
        except SignInRefused as exc:
            slow = exc.reason == "slow"
            return await self.login_form(request, error=SLOW if slow else WRONG, status=429 if slow else 401)
        response = web.HTTPSeeOther("/console/")
        self._cookie(request, response, COOKIE, token)
        log.info("console: account %d signed in", account.id)
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        found = await self._signed_in(request)
        data = await request.post()
        if found is None:
            raise web.HTTPSeeOther("/console/login")
        account, token = found
        if not _same(data.get("csrf"), csrf_token(token)):
            return await self._refuse_form(request, account, "logout")
        await self.accounts.sign_out(token, account, self._address(request))
        response = web.HTTPSeeOther("/console/login")
        response.del_cookie(COOKIE, path="/console")
        raise response

    async def invite_form(self, request: web.Request, *, error: str | None = None) -> web.Response:
        token = request.query.get("t", "")
        account = await self.accounts.invite_for(token)
        if account is None:
            text = "Questo link non vale più: è già stato usato o è scaduto. Chiedi un nuovo invito."
            return _html(pages.simple_page("Invito non valido", text, link="/console/login"), 410)
        form = self._form_token(request)
        response = _html(pages.invite_page(form, token, account.login, error), 400 if error else 200)
        self._cookie(request, response, FORM_COOKIE, form)
        return response

    async def invite(self, request: web.Request) -> web.Response:
        data = await request.post()
        if not _same(data.get("csrf"), request.cookies.get(FORM_COOKIE)):
            return await self._refuse_form(request, None, "invite")
        token, password = str(data.get("token", "")), str(data.get("password", ""))
        if password != str(data.get("again", "")):
            return await self._invite_again(request, token, "Le due password non sono uguali.")
        try:
            account = await self.accounts.set_password(token, password[:1024], self._address(request))
        except BadPassword as exc:
            return await self._invite_again(request, token, str(exc))
        if account is None:
            text = "Questo link non vale più: è già stato usato o è scaduto. Chiedi un nuovo invito."
            return _html(pages.simple_page("Invito non valido", text, link="/console/login"), 410)
        return await self.login_form(request, info="Password salvata. Ora puoi entrare.")

    async def _invite_again(self, request: web.Request, token: str, error: str) -> web.Response:
        account = await self.accounts.invite_for(token)
        if account is None:
            return _html(
                pages.simple_page("Invito non valido", "Questo link non vale più.", link="/console/login"),
                410,
            )
        form = self._form_token(request)
        response = _html(pages.invite_page(form, token, account.login, error), 400)
        self._cookie(request, response, FORM_COOKIE, form)
        return response

    async def queue(self, request: web.Request) -> web.Response:
        found = await self._signed_in(request)
        if found is None:
            raise web.HTTPSeeOther("/console/login")
        account, token = found
        version = await self.views.queue_version(account)  # before the rows: at worst one reload too many
        rows = await self.views.queue(account)
        live = pages.Live(f"/console/coda/versione?ente={quote(account.partner_id)}", version)
        return _html(pages.queue_page(self._viewer(account, token), rows, live=live))

    async def queue_version(self, request: web.Request) -> web.Response:
        """The queue's version, for its script. Like the page: signed in only, the account's own partner
        only (``ente``, from the page: another partner's is refused with 403 and logged). A granted poll
        is not logged (one every few seconds per open page; the page itself is not either)."""
        found = await self._signed_in(request)
        if found is None:
            return _json({"error": "signed out"}, 401)
        account, _ = found
        asked = request.query.get("ente", account.partner_id)
        if asked != account.partner_id:
            log.warning("console: account %d refused the queue of another partner", account.id)
            await self.audit(
                "queue_version",
                "refused",
                self.clock(),
                account=account,
                address=self._address(request),
                detail=f"another partner: {asked[:64]}",
            )
            return _json({"error": "forbidden"}, 403)
        return _json({"version": await self.views.queue_version(account)})

    async def ticket(self, request: web.Request) -> web.Response:
        return await self._ticket(request, None)

    async def ticket_form(self, request: web.Request) -> web.Response:
        return await self._ticket(request, request.match_info["what"])

    async def _ticket(self, request: web.Request, what: str | None) -> web.Response:
        found = await self._signed_in(request)
        if found is None:
            raise web.HTTPSeeOther("/console/login")
        account, token = found
        viewer = self._viewer(account, token)
        ticket_id = int(request.match_info["id"])
        address = self._address(request)
        ticket = await self.views.ticket(ticket_id)
        if ticket is None:
            return _html(
                pages.simple_page("Richiesta non trovata", "Questa richiesta non c'è più.", viewer), 404
            )
        if not self.views.may_see(account, ticket):
            log.warning("console: account %d refused ticket %d of another partner", account.id, ticket_id)
            await self.audit(
                "view" if what is None else what,
                "refused",
                self.clock(),
                account=account,
                ticket_id=ticket_id,
                address=address,
                detail="another partner",
            )
            return _html(pages.simple_page("Accesso negato", FORBIDDEN, viewer), 403)
        info = error = None
        done = None
        if what is not None:
            data = await request.post()
            if not _same(data.get("csrf"), viewer.csrf):
                return await self._refuse_form(request, account, f"ticket {ticket_id} {what}")
            done = await self.views.act(account, ticket, what, data)
            await self.audit(
                f"{what}:{data.get('action', '')}" if what == "azione" else what,
                "ok" if done.ok else "refused",
                self.clock(),
                account=account,
                ticket_id=ticket_id,
                address=address,
            )
            info, error = (done.text, None) if done.ok else (None, done.text)
        else:
            await self.audit(
                "view", "ok", self.clock(), account=account, ticket_id=ticket_id, address=address
            )
        page = await self.views.page(
            account, ticket_id, revealed=bool(done and done.revealed), draft=done.draft if done else None
        )
        return _html(pages.ticket_page(viewer, page, info, error))


def _same(given: object, expected: str | None) -> bool:
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))

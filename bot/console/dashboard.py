"""The needs dashboard of the console (manager and alliance roles): ``/console/cruscotto`` shows the
tables of :mod:`bot.insights.aggregates` for the last weeks (with the ages and periods people asked about,
:mod:`bot.insights.asked`), ``/console/cruscotto/{table}.csv`` exports one.
A manager sees her partner's territories, topics and tickets; the alliance sees everything; anyone else
is refused with 403, and logged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from bot.console import pages
from bot.console.web import HEADERS, ConsoleWeb, _html
from bot.handoff.service import HandoffService
from bot.insights.aggregates import Scope, Table, tables
from bot.insights.asked import covered, with_asked
from bot.store.console import AccountView
from bot.store.insights import AnswerMeta, InsightsStore

WEEKS = 12


class DashboardWeb:
    def __init__(self, console: ConsoleWeb, handoff: HandoffService, insights: InsightsStore) -> None:
        self.console = console
        self.handoff = handoff
        self.insights = insights
        # how many messages of her review queue wait for a label (set by bot.console.review.ReviewWeb)
        self.waiting: Callable[[AccountView], Awaitable[int]] | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/console/cruscotto", self.page)
        app.router.add_get("/console/cruscotto/{name:[a-z_]{1,40}}.csv", self.csv)

    def scope(self, account: AccountView) -> Scope | None:
        if account.role == "alliance":
            return None
        partner = self.handoff.partner(account.partner_id)
        if partner is None:
            return Scope(account.partner_id, frozenset(), frozenset())
        return Scope(partner.id, frozenset(partner.territories), frozenset(partner.topics))

    def _namer(self, table: str) -> Callable[[str | None], str]:
        def name(key: str | None) -> str:
            if not key:
                return "non indicato"
            try:
                records = getattr(self.handoff.knowledge(), table)
            except Exception:
                return key
            if isinstance(records, dict):
                found = records.get(key)
            else:  # the referrals: a tuple
                found = next((r for r in records if getattr(r, "id", None) == key), None)
            return str(getattr(found, "name", None) or key)

        return name

    async def _tables(self, account: AccountView) -> list[Table]:
        since = self.handoff.clock() - timedelta(weeks=WEEKS)
        answers = with_asked(await self.insights.answers(since), await self.insights.questions(since))
        try:
            kb = self.handoff.knowledge()
            fits: Callable[[AnswerMeta], bool] = lambda a: covered(kb, a)  # noqa: E731
        except Exception:  # no knowledge base to hand: the services shown are all there is to go by
            fits = lambda a: True  # noqa: E731
        return tables(
            answers,
            await self.insights.tickets(since),
            self.scope(account),
            self._namer("topics"),
            self._namer("territories"),
            self._namer("referrals"),
            self.handoff.partner_name,
            fits,
        )

    async def _allowed(self, request: web.Request, what: str) -> tuple[AccountView, str] | web.Response:
        found = await self.console._signed_in(request)
        if found is None:
            raise web.HTTPSeeOther("/console/login")
        account, token = found
        if account.role not in pages.DASHBOARD_ROLES:
            await self.console.audit(
                what,
                "refused",
                self.console.clock(),
                account=account,
                address=self.console._address(request),
                detail="role",
            )
            text = "Il cruscotto è per i responsabili e per l'alleanza."
            return _html(pages.simple_page("Accesso negato", text, self.console._viewer(account, token)), 403)
        return account, token

    async def page(self, request: web.Request) -> web.Response:
        allowed = await self._allowed(request, "dashboard")
        if isinstance(allowed, web.Response):
            return allowed
        account, token = allowed
        found = await self._tables(account)
        waiting = await self.waiting(account) if self.waiting is not None else None
        await self.console.audit(
            "dashboard", "ok", self.console.clock(), account=account, address=self.console._address(request)
        )
        return _html(pages.dashboard_page(self.console._viewer(account, token), found, WEEKS, waiting))

    async def csv(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        allowed = await self._allowed(request, f"csv:{name}")
        if isinstance(allowed, web.Response):
            return allowed
        account, _ = allowed
        table = next((t for t in await self._tables(account) if t.name == name), None)
        if table is None:
            raise web.HTTPNotFound()
        await self.console.audit(
            f"csv:{name}", "ok", self.console.clock(), account=account, address=self.console._address(request)
        )
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}.csv"'}
        return web.Response(text=table.csv(), content_type="text/csv", charset="utf-8", headers=headers)

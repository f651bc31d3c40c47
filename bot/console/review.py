"""The review queue of the console (manager and alliance roles): ``/console/revisione`` lists the
person's messages the assistant did not understand, asked to clarify, or answered with confidence before
a bad rating (:mod:`bot.insights.review`), in the dashboard's scope, with personal data masked; a manager
labels each one (``POST /console/revisione/{message}``, with the session's CSRF token) with the right
topic intent, "new need" or "out of scope". The alliance sees every partner's queue and labels none. Any
other role, and a label on a message outside her queue, is refused with 403 and logged; every label is in
the audit log. ``concilia review export`` (:mod:`bot.review_cli`) writes the labels out for training."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.console import pages
from bot.console.dashboard import WEEKS, DashboardWeb
from bot.console.web import _html, _same
from bot.insights import review
from bot.insights.masking import ITALIAN_LABELS, mask
from bot.store.console import AccountView
from bot.store.review import ReviewStore

SHOWN = 200
FORBIDDEN = "Questo messaggio non è nella tua coda di revisione."
ALLIANCE = "Con il ruolo alleanza puoi guardare la coda, non etichettarla."


class ReviewWeb:
    def __init__(self, dashboard: DashboardWeb, store: ReviewStore) -> None:
        self.dashboard = dashboard
        self.console = dashboard.console
        self.store = store
        self._choices: tuple[str, ...] | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        """The labels (read from nlu/domain.yml the first time they are needed)."""
        if self._choices is None:
            self._choices = review.choices()
        return self._choices

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/console/revisione", self.page)
        app.router.add_post("/console/revisione/{id:[0-9]{1,12}}", self.label)

    async def items(self, account: AccountView) -> list[review.Item]:
        since = self.dashboard.handoff.clock() - timedelta(weeks=WEEKS)
        turns = await self.store.turns(since)
        rated = await self.store.low_ratings(since, review.BAD_RATING)
        return review.select(turns, rated, self.dashboard.scope(account))

    async def waiting(self, account: AccountView) -> int:
        """How many messages of her queue are waiting for a label."""
        return (await self._rows(account))[1]

    async def _rows(self, account: AccountView) -> tuple[list[pages.ReviewRow], int]:
        """The newest :data:`SHOWN` messages of her queue, and how many of all wait for a label."""
        labels = await self.store.labels()
        items = await self.items(account)
        rows = []
        for item in items[:SHOWN]:
            found = labels.get(item.turn.message_id)
            rows.append(
                pages.ReviewRow(
                    item.turn.message_id,
                    item.turn.at,
                    mask(item.turn.text, ITALIAN_LABELS),
                    review.REASONS[item.reason],
                    item.turn.meta.get("intent") or "—",
                    found.label if found else None,
                    found.labelled_by if found else None,
                    found is not None and found.exported_at is not None,
                )
            )
        return rows, sum(1 for i in items if i.turn.message_id not in labels)

    async def page(
        self, request: web.Request, *, info: str | None = None, error: str | None = None, status: int = 200
    ) -> web.Response:
        allowed = await self.dashboard._allowed(request, "review")
        if isinstance(allowed, web.Response):
            return allowed
        account, token = allowed
        rows, waiting = await self._rows(account)
        await self.console.audit(
            "review", "ok", self.console.clock(), account=account, address=self.console._address(request)
        )
        viewer = self.console._viewer(account, token)
        editable = account.role == "manager"
        return _html(pages.review_page(viewer, rows, self.choices, editable, waiting, info, error), status)

    async def label(self, request: web.Request) -> web.Response:
        allowed = await self.dashboard._allowed(request, "review_label")
        if isinstance(allowed, web.Response):
            return allowed
        account, token = allowed
        message_id = int(request.match_info["id"])
        data = await request.post()
        if not _same(data.get("csrf"), self.console._viewer(account, token).csrf):
            return await self.console._refuse_form(request, account, f"review {message_id}")
        address = self.console._address(request)
        label = str(data.get("label", ""))
        item = next((i for i in await self.items(account) if i.turn.message_id == message_id), None)
        if account.role != "manager" or item is None:
            why = "alliance" if account.role == "alliance" and item is not None else "not in her queue"
            await self.console.audit(
                "review_label",
                "refused",
                self.console.clock(),
                account=account,
                address=address,
                detail=f"message {message_id}: {why}",
            )
            viewer = self.console._viewer(account, token)
            text = ALLIANCE if why == "alliance" else FORBIDDEN
            return _html(pages.simple_page("Accesso negato", text, viewer, link="/console/revisione"), 403)
        if label not in self.choices:
            return await self.page(request, error="Scegli un'etichetta dall'elenco.", status=400)
        now = self.console.clock()
        saved = await self.store.set_label(
            message_id, item.turn.user_id, label, account.id, account.name or account.login, now
        )
        await self.console.audit(
            "review_label",
            "ok" if saved else "refused",
            now,
            account=account,
            address=address,
            detail=f"message {message_id}: {label}" if saved else f"message {message_id}: already exported",
        )
        if not saved:
            return await self.page(request, error="Questo messaggio è già stato esportato.", status=409)
        return await self.page(request, info="Etichetta salvata.")

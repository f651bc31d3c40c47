"""``concilia operators ...``: the administrator's commands for the handoff (no code or SQL to edit).

* ``invite --partner ID`` prints a one-time code; the operator sends ``/operatore CODICE`` to the bot.
* ``group-code --partner ID`` prints a one-time code; an administrator of the partner's forum supergroup
  sends ``/collega CODICE`` in the group.
* ``list`` shows, partner by partner, the linked group and the operators.
* ``remove --operator N`` deactivates an operator (their tickets stay, their buttons stop working).

Only ``DATABASE_URL`` is read (from the environment or ``.env``); the schema is brought up to date first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.handoff.office_hours import ROME
from bot.handoff.service import HandoffService
from bot.handoff.texts import day

if TYPE_CHECKING:
    from bot.settings import DatabaseSettings
    from bot.store import Store
    from knowledge import KnowledgeBase


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ops = sub.add_parser("operators", help="partner operators and their Telegram groups")
    ops_sub = ops.add_subparsers(dest="operators_command", required=True)
    for name, what in (
        ("invite", "print a one-time code that registers an operator"),
        ("group-code", "print a one-time code that links a Telegram group to a partner"),
    ):
        p = ops_sub.add_parser(name, help=what)
        p.add_argument("--partner", required=True, help="partner id, as in knowledge/data/partners.yml")
        p.add_argument("--hours", type=float, default=None, help="validity in hours (default 72)")
        p.add_argument("--code-only", action="store_true", help="print only the code")
    ops_sub.add_parser("list", help="partners, their groups and operators")
    rm = ops_sub.add_parser("remove", help="deactivate an operator")
    rm.add_argument("--operator", type=int, required=True, help="operator number, as `list` shows it")


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def open_for_admin() -> tuple[KnowledgeBase, DatabaseSettings, Store] | None:
    """The knowledge base, the settings and the database brought up to date, for an administrator's
    command; None (with the reason printed) when one of them cannot be had."""
    from bot.settings import DatabaseSettings
    from bot.store import Store, make_engine, upgrade
    from knowledge import KnowledgeBaseInvalid, load

    try:
        kb = load()
    except KnowledgeBaseInvalid as exc:
        print(f"La base di conoscenza ha errori: {exc}", file=sys.stderr)
        return None
    settings = DatabaseSettings()
    try:
        engine = make_engine(settings.database_url)
        await asyncio.to_thread(upgrade, engine)
    except Exception as exc:
        print(f"Non riesco ad aprire il database: {exc}", file=sys.stderr)
        return None
    return kb, settings, Store(engine)


async def _main(args: argparse.Namespace) -> int:
    opened = await open_for_admin()
    if opened is None:
        return 1
    kb, settings, store = opened
    service = HandoffService(store, lambda: kb, clock=settings.clock())
    try:
        command = args.operators_command
        if command in ("invite", "group-code"):
            return await _code(service, args, kind="operator" if command == "invite" else "group")
        if command == "list":
            return await _list(service)
        if command == "remove":
            if await service.operators.deactivate_operator(args.operator):
                print(f"Operatore n. {args.operator} disattivato.")
                return 0
            print(f"Nessun operatore attivo con il numero {args.operator}.", file=sys.stderr)
            return 1
        return 2
    finally:
        await asyncio.to_thread(store.close)


async def _code(service: HandoffService, args: argparse.Namespace, kind: str) -> int:
    partner = service.partner(args.partner)
    if partner is None:
        known = ", ".join(sorted(service.knowledge().partners))
        print(f"Ente sconosciuto: {args.partner}. Gli enti sono: {known}", file=sys.stderr)
        return 2
    ttl = timedelta(hours=args.hours) if args.hours else None
    code, expires = await service.create_invite(kind, partner.id, ttl)
    if args.code_only:
        print(code)
        return 0
    local = expires.astimezone(ROME)
    until = f"{day(local.date())} alle {local.hour}:{local.minute:02d}"
    if kind == "operator":
        print(f"Codice per un operatore di {partner.name}: {code}")
        print(f"Vale una volta sola, fino a {until}.")
        print(f"L'operatore lo manda al bot in una chat privata:  /operatore {code}")
    else:
        print(f"Codice per collegare il gruppo degli operatori di {partner.name}: {code}")
        print(f"Vale una volta sola, fino a {until}.")
        print(
            "Nel gruppo (un supergruppo con gli argomenti attivi, con il bot amministratore) "
            f"scrivi:  /collega {code}"
        )
    return 0


async def _list(service: HandoffService) -> int:
    groups = {g.partner_id: g for g in await service.operators.groups()}
    operators = await service.operators.operators()
    for partner in service.knowledge().partners.values():
        group = groups.get(partner.id)
        where = f"gruppo «{group.title or '?'}» ({group.chat_id})" if group else "nessun gruppo collegato"
        print(f"{partner.id} — {partner.name}: {where}")
        mine = [o for o in operators if o.partner_id == partner.id]
        for o in mine:
            state = "attivo" if o.active else "disattivato"
            print(f"    operatore n. {o.id}: {o.first_name or '?'} (Telegram {o.telegram_user_id}), {state}")
        if not mine:
            print("    nessun operatore")
    return 0

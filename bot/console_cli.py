"""``concilia console ...``: the administrator's commands for the partners' web console.

* ``invite --partner ID --role operator|manager|alliance --login NAME [--name "Marco"]`` prints a
  one-time link (valid ``--hours``, 72 by default) where the person sets her password.
* ``revoke --login NAME`` ends every session of the account; with ``--deactivate`` the account can no
  longer sign in, and its operator's registration stops working.
* ``list`` shows the accounts.

Reads ``DATABASE_URL`` and ``CONSOLE_URL`` (the address the staff open, for the link; default
http://127.0.0.1:8080), from the environment or ``.env``; the schema is brought up to date first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from bot.handoff.office_hours import ROME
from bot.handoff.texts import day


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    console = sub.add_parser("console", help="accounts of the partners' web console")
    console_sub = console.add_subparsers(dest="console_command", required=True)
    invite = console_sub.add_parser("invite", help="print a one-time link to set a console password")
    invite.add_argument("--partner", required=True, help="partner id, as in knowledge/data/partners.yml")
    invite.add_argument("--role", required=True, choices=("operator", "manager", "alliance"))
    invite.add_argument("--login", required=True, help="the user name she signs in with")
    invite.add_argument("--name", default=None, help="the first name operators and people see")
    invite.add_argument("--hours", type=float, default=72.0, help="validity in hours (default 72)")
    invite.add_argument("--link-only", action="store_true", help="print only the link")
    revoke = console_sub.add_parser("revoke", help="end every session of an account")
    revoke.add_argument("--login", required=True)
    revoke.add_argument("--deactivate", action="store_true", help="and let the account sign in no more")
    console_sub.add_parser("list", help="the console's accounts")


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from bot.console.accounts import ConsoleAccounts
    from bot.operators_cli import open_for_admin
    from bot.store.console import ConsoleStore, LoginTaken

    opened = await open_for_admin()
    if opened is None:
        return 1
    kb, settings, store = opened
    accounts = ConsoleAccounts(ConsoleStore(store), clock=settings.clock())
    try:
        command = args.console_command
        if command == "invite":
            partner = kb.partners.get(args.partner)
            if partner is None:
                known = ", ".join(sorted(kb.partners))
                print(f"Ente sconosciuto: {args.partner}. Gli enti sono: {known}", file=sys.stderr)
                return 2
            if not 0 < args.hours <= 24 * 30:
                print("--hours va da poco più di 0 a 720 (30 giorni).", file=sys.stderr)
                return 2
            try:
                token, expires = await accounts.invite(
                    partner.id, args.role, args.login, args.name, timedelta(hours=args.hours)
                )
            except LoginTaken:
                print(f"Il nome utente {args.login} è già in uso.", file=sys.stderr)
                return 1
            except ValueError as exc:
                print(f"Invito non creato: {exc}.", file=sys.stderr)
                return 2
            link = f"{settings.console_url.rstrip('/')}/console/invito?t={token}"
            if args.link_only:
                print(link)
                return 0
            local = expires.astimezone(ROME)
            print(f"Invito per {args.login} ({args.role}) di {partner.name}:")
            print(f"  {link}")
            print(f"Vale una volta sola, fino a {day(local.date())} alle {local.hour}:{local.minute:02d}.")
            return 0
        if command == "revoke":
            ended = await accounts.revoke(args.login, deactivate=args.deactivate)
            if ended is None:
                print(f"Nessun account con il nome utente {args.login}.", file=sys.stderr)
                return 1
            what = " e account disattivato" if args.deactivate else ""
            print(f"Sessioni chiuse: {ended}{what}.")
            return 0
        if command == "list":
            for a in await accounts.store.accounts():
                state = "attivo" if a.active else "disattivato"
                password = "" if a.has_password else ", invito non ancora usato"
                print(f"{a.login}: {a.role} di {a.partner_id} ({a.name or '?'}), {state}{password}")
            return 0
        return 2
    finally:
        await asyncio.to_thread(store.close)

"""The ``concilia`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="concilia", description="Concilia: assistente per la conciliazione")
    sub = parser.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate the knowledge base")
    check.add_argument(
        "path", nargs="?", default=None, help="knowledge data folder (default: the bundled one)"
    )
    lookups = kb_sub.add_parser(
        "lookups", help="write the Rasa lookup tables generated from the knowledge base"
    )
    lookups.add_argument("--out", default="nlu/data/generated_lookups.yml")

    sub.add_parser("run", help="start the gateway (Telegram and web chat)")

    from bot import console_cli, operators_cli, review_cli

    operators_cli.add_parser(sub)
    console_cli.add_parser(sub)
    review_cli.add_parser(sub)

    args = parser.parse_args(argv)
    if args.command == "kb":
        from knowledge import cli as kb_cli

        if args.kb_command == "check":
            return kb_cli.check(args.path)
        return kb_cli.write_lookups(args.out)
    if args.command == "run":
        from bot import app

        return app.main()
    if args.command == "operators":
        return operators_cli.main(args)
    if args.command == "console":
        return console_cli.main(args)
    if args.command == "review":
        return review_cli.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""``concilia review export [--out nlu/data/review_<date>.yml]``: the labels of the console's review queue
not exported yet, as Rasa training data (:mod:`bot.insights.rasa_export`), for the next training; prints
how many examples per intent and the file. An existing file is never overwritten: without ``--out`` the
day's second export goes to ``review_<date>_2.yml``. Reads ``DATABASE_URL`` like ``concilia console``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

DATA = Path("nlu/data")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    review = sub.add_parser("review", help="the console's review queue")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    export = review_sub.add_parser("export", help="write the labelled messages as Rasa training data")
    export.add_argument("--out", default=None, help="the file to write (default nlu/data/review_<date>.yml)")


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from bot.insights.rasa_export import default_path, export
    from bot.operators_cli import open_for_admin
    from bot.store.review import ReviewStore

    opened = await open_for_admin()
    if opened is None:
        return 1
    _, settings, store = opened
    now = settings.clock()()
    out = Path(args.out) if args.out else default_path(DATA, now)
    try:
        done = await export(ReviewStore(store), out, now)
    except FileExistsError:
        print(f"{out} esiste già: scegli un altro file con --out.", file=sys.stderr)
        return 2
    finally:
        await asyncio.to_thread(store.close)
    if done.path is None:
        print("Nessun messaggio etichettato da esportare.")
        return 0
    total = sum(done.counts.values())
    print(f"Scritti {total} esempi in {done.path}:")
    for intent, n in done.counts.items():
        print(f"  {intent}: {n}")
    return 0

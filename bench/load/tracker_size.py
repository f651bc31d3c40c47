"""What one tracker held in Rasa's tracker cache costs in memory (rasa_addons/tracker_cache.py).

Reads the conversations of a tracker store file that a benchmark left (default: bench/memory.py's,
bench/out/memory-logs/rasa-conversations.db), rebuilds up to ``--count`` of them as Rasa does on a cache
miss, keeps them all, and prints the memory they take (tracemalloc: what Python allocated for them) per
tracker and per event. Run it in the Rasa environment::

    .venv-rasa/bin/python bench/load/tracker_size.py [--db FILE] [--count 300]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.shared.core.domain import Domain  # noqa: E402
from sqlalchemy import text  # noqa: E402

from rasa_addons.tracker_store import ErasableSQLTrackerStore  # noqa: E402


async def measure(db: Path, count: int) -> None:
    store = ErasableSQLTrackerStore(
        Domain.from_path(str(ROOT / "nlu" / "domain.yml")), dialect="sqlite", db=str(db), cache_size=0
    )
    with store.engine.connect() as conn:
        senders = [
            row[0]
            for row in conn.execute(text("SELECT DISTINCT sender_id FROM events LIMIT :n"), {"n": count})
        ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [await store.retrieve(s) for s in senders]
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    events = sum(len(t.events) for t in kept if t is not None)
    users = sum(1 for t in kept if t is not None for e in t.events if e.type_name == "user")
    print(
        f"{len(kept)} trackers, {events / len(kept):.0f} events and {users / len(kept):.1f} messages each: "
        f"{used / len(kept) / 1024:.0f} KB a tracker, {used / events / 1024:.2f} KB an event"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--db", type=Path, default=ROOT / "bench" / "out" / "memory-logs" / "rasa-conversations.db"
    )
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    if not args.db.exists():
        print(f"no tracker store file at {args.db}: run bench/load/memory.py first", file=sys.stderr)
        return 2
    asyncio.run(measure(args.db, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The knowledge base off the event loop: request paths read the cached copy (no parsing, no stat), and a
change of the YAML files is picked up by a reload in a worker thread."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

from bot.core.knowledge import KnowledgeCache, watch_knowledge
from knowledge import KnowledgeHolder, load
from tests.support import eventually

DATA = Path(__file__).resolve().parents[2] / "knowledge" / "data"
KB = load()


class CountingHolder:
    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def get(self):
        self.threads.append(threading.current_thread())
        return KB


async def test_request_paths_read_the_cached_copy_and_reloads_run_in_a_worker_thread() -> None:
    holder = CountingHolder()
    cache = KnowledgeCache(holder)  # type: ignore[arg-type]

    await cache.refresh()
    assert [cache.current() for _ in range(100)] == [KB] * 100

    assert len(holder.threads) == 1  # one look at the files, none per request
    assert holder.threads[0] is not threading.main_thread()


async def test_an_edited_file_is_reloaded_in_the_background(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    cache = KnowledgeCache(KnowledgeHolder(data, check_every=0))
    watcher = asyncio.create_task(watch_knowledge(cache, every=0.05))
    try:
        first = await eventually(lambda: cache._kb, what="the first load")
        partners = data / "partners.yml"
        partners.write_text(partners.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        os.utime(partners, (1, 1))  # a new signature even on a coarse clock

        assert await eventually(lambda: cache.current() is not first, what="the reload")
        assert cache.current().partners.keys() == first.partners.keys()
    finally:
        watcher.cancel()

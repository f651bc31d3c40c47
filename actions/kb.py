"""The knowledge-access layer shared by every action.

One KnowledgeHolder per action-server process, created on first use (not at import time). It
reloads the YAML files when they change and keeps serving the last valid version when a new one
is broken (the holder logs why it refused it).
"""

from __future__ import annotations

import os
import threading

from knowledge import KnowledgeBase, KnowledgeHolder

_lock = threading.Lock()
_holder: KnowledgeHolder | None = None


def knowledge() -> KnowledgeBase:
    """The current valid knowledge base."""
    global _holder
    if _holder is None:
        with _lock:
            if _holder is None:
                _holder = KnowledgeHolder(path=os.environ.get("CONCILIA_KB_PATH") or None)
    return _holder.get()


def use_holder(holder: KnowledgeHolder | None) -> None:
    """Replace the process-wide holder (tests use this to point at a temporary knowledge base)."""
    global _holder
    with _lock:
        _holder = holder

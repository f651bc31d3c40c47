"""Loading the knowledge base: once (:func:`load`) or kept fresh in a long-running process
(:class:`KnowledgeHolder`)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path

from knowledge.model import KnowledgeBase
from knowledge.records import KnowledgeBaseInvalid
from knowledge.validate import analyse, resolve_dir, tree_files
from knowledge.validate.referrals import referrals_of

log = logging.getLogger("knowledge")


def load(path: str | Path | None = None, today: date | None = None) -> KnowledgeBase:
    """Check the files at ``path`` (default: the bundled data) and build the knowledge base.

    Raises :class:`KnowledgeBaseInvalid` listing every problem when there is any error; warnings
    (for example an expired service) end up in ``kb.warnings``.
    """
    result = analyse(path, today)
    if result.errors or result.school_year is None:
        raise KnowledgeBaseInvalid(result.problems)
    return KnowledgeBase(
        territories=dict(result.territories),
        towns=dict(result.towns),
        partners=dict(result.partners),
        topics=dict(result.topics),
        services=tuple(result.services),
        school_year=result.school_year,
        closures=tuple(sorted(result.closures, key=lambda c: (c.start, c.id))),
        welfare=result.welfare,
        digest=result.digest,
        warnings=tuple(result.warnings),
        path=result.root,
        referrals=referrals_of(result),
    )


Signature = tuple[tuple[str, int, int], ...]


def signature(path: str | Path | None = None) -> Signature:
    """A cheap fingerprint of the files (name, mtime, size): it changes when any file does."""
    root = resolve_dir(path)
    found = []
    for file in tree_files(root):
        try:
            stat = file.stat()
        except OSError:
            continue
        found.append((file.relative_to(root).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class KnowledgeHolder:
    """The current knowledge base for a long-running process, reloaded when the files change.

    ``get()`` looks at the files' modification times and sizes at most every ``check_every``
    seconds and reloads when they changed. A new version with errors is refused: the last valid
    knowledge base stays in use and every problem is logged as a warning. If the very first load
    fails, ``get()`` raises :class:`KnowledgeBaseInvalid`. Safe to share between threads.
    Nothing is read until the first ``get()``.
    """

    def __init__(self, path: str | Path | None = None, check_every: float = 2.0) -> None:
        self.path = resolve_dir(path)
        self.check_every = check_every
        self._monotonic = time.monotonic
        self._lock = threading.Lock()
        self._kb: KnowledgeBase | None = None
        self._signature: Signature | None = None  # of the last version tried, valid or not
        self._checked_at = 0.0

    def get(self) -> KnowledgeBase:
        kb = self._kb
        if kb is not None and self._monotonic() - self._checked_at < self.check_every:
            return kb
        with self._lock:
            if self._kb is None:
                self._first_load()
            elif self._monotonic() - self._checked_at >= self.check_every:
                self._refresh()
            assert self._kb is not None
            return self._kb

    def reload(self) -> bool:
        """Check the files now, whatever the time; True when a new version was loaded."""
        with self._lock:
            if self._kb is None:
                self._first_load()
                return True
            return self._refresh()

    def _first_load(self) -> None:
        sig = signature(self.path)
        self._kb = load(self.path)  # raises on the first load
        self._signature = sig
        self._checked_at = self._monotonic()
        log.info("knowledge base loaded from %s (%d services)", self.path, len(self._kb.services))

    def _refresh(self) -> bool:
        self._checked_at = self._monotonic()
        sig = signature(self.path)
        if sig == self._signature:
            return False
        self._signature = sig
        try:
            kb = load(self.path)
        except KnowledgeBaseInvalid as exc:
            lines = "\n".join(f"  {p}" for p in exc.problems)
            log.warning(
                "knowledge base at %s changed but has %d error(s); still using the previous version:\n%s",
                self.path,
                len(exc.errors),
                lines,
            )
            return False
        except OSError as exc:
            log.warning(
                "knowledge base at %s could not be read (%s); still using the previous version",
                self.path,
                exc,
            )
            self._signature = None  # try again next time
            return False
        self._kb = kb
        log.info("knowledge base reloaded from %s (%d services)", self.path, len(kb.services))
        return True

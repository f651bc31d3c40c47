"""One-time invite codes: an operator registers with one, an operators' group is linked with one. The
database keeps only a code's SHA-256; wrong codes are limited per Telegram user."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_CODE_FAILURES = 5  # wrong codes per Telegram user per hour


def new_code() -> str:
    """A one-time code such as ``K7QX-M2PA`` (40 bits of randomness)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """What the database keeps of a code: its SHA-256."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


@dataclass
class CodeFailures:
    """Wrong codes per key (a Telegram user) in a sliding window."""

    window: float = 3600.0
    hits: dict[int, deque[float]] = field(default_factory=dict)

    def blocked(self, key: int) -> bool:
        now = time.monotonic()
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return len(hits) >= MAX_CODE_FAILURES

    def add(self, key: int) -> None:
        self.hits.setdefault(key, deque()).append(time.monotonic())

"""Helpers shared by every test tier: wait for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str = "the condition",
) -> T:
    """Call ``check`` (sync or async) until it returns something true without raising AssertionError;
    return that value. Fails the test after ``timeout`` seconds with the last error, if any."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            value: Any = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[no-any-return]
            last_error = None
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            message = f"{what} did not hold within {timeout} s"
            raise AssertionError(message) from last_error
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T], *, timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> T:
    """:func:`eventually` for code that is not async (the end-to-end tier drives real processes)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            value = check()
            if value:
                return value
            last_error = None
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or 'the condition'} did not hold within {timeout} s") from last_error
        time.sleep(interval)


def rasa_launcher() -> Any:
    """scripts/rasa_server.py as a module (it is a script, not a package), for the tests of its patches."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "rasa_server.py"
    spec = importlib.util.spec_from_file_location("rasa_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

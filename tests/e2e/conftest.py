"""End-to-end fixtures: real processes talking over loopback.

The action server and the Rasa server (Python 3.10 environment, trained model in models/), the fake
Telegram Bot API server (harness/fake_telegram) and the gateway (`concilia run`) are started once per
session on free ports; the tests drive them over HTTP as a parent (and later an operator) would.
How the processes are started and stopped is in harness/stack.py (the load benchmark uses it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stack import (  # noqa: F401  (re-exported for the tests)
    BOT_TOKEN,
    MODEL,
    RASA_BIN,
    ROOT,
    Gateway,
    Proc,
    RasaStack,
    free_port,
    start,
    start_gateway,
    start_rasa_stack,
    wait_until,
)


@pytest.fixture(scope="session")
def logdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def rasa_stack(logdir: Path) -> Iterator[RasaStack]:
    if not MODEL.exists() or not RASA_BIN.exists():
        pytest.fail("the Rasa environment or the trained model is missing: run `make test`")
    # conversations in a SQLite file through the erasable tracker store, so erasure can be checked there
    stack = start_rasa_stack(logdir, tracker_db=logdir / "rasa-tracker.db")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def gateway(rasa_stack: RasaStack, logdir: Path, tmp_path_factory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("e2e-db") / "gateway.db"
    g = start_gateway(rasa_stack.rasa_url, rasa_stack.token, logdir, db)
    try:
        yield g
    finally:
        g.stop()

"""scripts/supervise.py, `make run`'s supervisor, with small real processes: a part that keeps stopping is
started again after a pause that doubles, up to a ceiling, and reported each time; the part next to it
keeps running; stopping all stops both. (tests/e2e/test_supervised_run.py does the same with Rasa, the
action server and the gateway.)"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def supervise() -> Iterator[Any]:
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["supervise"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["supervise"]


def test_a_part_that_keeps_stopping_is_restarted_with_growing_pauses(supervise, tmp_path, capsys) -> None:
    supervise.MAX_BACKOFF = 0.4
    crashing = supervise.Part(
        "crashing",
        "The crashing part",
        [sys.executable, "-c", "raise SystemExit(3)"],
        {},
        lambda: False,
        tmp_path / "crashing.log",
        backoff=0.05,
    )
    steady = supervise.Part(
        "steady",
        "The steady part",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        {},
        lambda: True,
        tmp_path / "steady.log",
    )
    sup = supervise.Supervisor([steady, crashing], tmp_path / "supervisor.log")
    sup.start(steady)
    sup.start(crashing)
    steady_pid = steady.popen.pid
    try:
        deadline = time.monotonic() + 20
        while crashing.restarts < 5 and time.monotonic() < deadline:
            sup.watch_once()
            time.sleep(0.01)
        assert steady.running and steady.popen.pid == steady_pid and steady.restarts == 0
    finally:
        sup.stop_all()

    log = (tmp_path / "supervisor.log").read_text()
    pauses = re.findall(r"The crashing part stopped \(exit code 3\): starting it again in ([\d.]+) s", log)
    assert [float(p) for p in pauses[:5]] == [0.05, 0.1, 0.2, 0.4, 0.4]
    assert "the other parts keep running" in log
    assert "The crashing part stopped (exit code 3)" in capsys.readouterr().out  # the terminal too
    assert not steady.running and not crashing.running and "Stopped." in log


def test_the_endpoints_file_of_a_run_names_its_var_folder_port_and_retention(supervise, tmp_path):
    endpoints_file = supervise.endpoints_file
    path = endpoints_file(tmp_path, 5099, "30")

    text = path.read_text("utf-8")
    assert path.parent == tmp_path
    assert "http://127.0.0.1:5099/webhook" in text
    assert f'db: "{tmp_path.resolve() / "rasa-conversations.db"}"' in text
    assert "retention_days: 30\n" in text
    assert "rasa_addons.tracker_store.ErasableSQLTrackerStore" in text
    with pytest.raises(SystemExit):
        endpoints_file(tmp_path, 5099, "sei mesi")

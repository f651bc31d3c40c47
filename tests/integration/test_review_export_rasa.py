"""The file `concilia review export` writes is valid Rasa data: Rasa 3.6's own loader reads every example
with its intent and metadata, and `rasa data validate` passes with it beside the project's data, domain
and config. Run in the Rasa venv by subprocess; skipped when there is none."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from bot import cli
from bot.handoff.office_hours import ROME
from tests.unit.test_review_cli import db  # noqa: F401  (the fixture: a SQLite file with four labels)

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
LOAD = """
import sys
from rasa.shared.nlu.training_data.loading import load_data
data = load_data(sys.argv[1])
for m in data.intent_examples:
    print(m.get("intent"), "|", m.get("text"), "|", sorted(m.get("metadata", {}).get("example", {})))
"""

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="no Rasa venv (.venv-rasa)")


def test_the_exported_file_is_valid_rasa_training_data(db, tmp_path):  # noqa: F811
    assert cli.main(["review", "export"]) == 0
    [written] = (tmp_path / "nlu" / "data").iterdir()
    assert written.name == f"review_{datetime.now(ROME).date().isoformat()}.yml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}

    loaded = subprocess.run(
        [str(RASA_PYTHON), "-c", LOAD, str(written)], capture_output=True, text=True, timeout=300, env=env
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.splitlines() == [
        "ask_nursery | bimbi la sera, chiamatemi al <telefono> | ['date', 'review']",
        "ask_caregiver | chi mi aiuta con la nonna? | ['date', 'review']",
        "out_of_scope | mi prestate una bici? | ['date', 'review']",
    ]

    validated = subprocess.run(
        [
            str(RASA_PYTHON.with_name("rasa")),
            "data",
            "validate",
            "--fail-on-warnings",
            "--config",
            str(ROOT / "config.yml"),
            "--domain",
            str(ROOT / "nlu" / "domain.yml"),
            "--data",
            str(ROOT / "nlu" / "data"),  # with the project's data, as the next training reads it
            str(written),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]

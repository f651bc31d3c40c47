"""A broken knowledge base never takes the assistant down: the actions keep answering from the last
valid version and the reason for refusing the new one is logged; a fixed file is picked up."""

from __future__ import annotations

import logging
import shutil

import pytest

from actions import kb as kb_access
from knowledge import DEFAULT_DATA_DIR, KnowledgeHolder
from tests.actions.conftest import Conversation, ent


@pytest.fixture
def data_dir(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    kb_access.use_holder(KnowledgeHolder(path=target, check_every=0))
    yield target
    kb_access.use_holder(None)


def test_broken_file_keeps_last_valid_version(data_dir, caplog):
    first = Conversation().say(
        "centri estivi a Magenta per 8 anni", "ask_summer_camp", [ent("town", "Magenta"), ent("age", "8")]
    )
    assert first.meta["service_ids"]

    services = data_dir / "services" / "school_closure.yml"
    good = services.read_text("utf-8")
    services.write_text(good + "\n  - id: [broken\n", "utf-8")
    with caplog.at_level(logging.WARNING):
        again = Conversation().say(
            "centri estivi a Magenta per 8 anni", "ask_summer_camp", [ent("town", "Magenta"), ent("age", "8")]
        )
    assert again.meta["service_ids"] == first.meta["service_ids"]
    assert "school_closure.yml" in caplog.text

    # a valid change is picked up without a restart
    services.write_text(
        good.replace("Centro estivo comunale di Corbetta", "Estate ragazzi a Corbetta"), "utf-8"
    )
    after = Conversation().say(
        "centri estivi a Corbetta per 8 anni", "ask_summer_camp", [ent("town", "Corbetta"), ent("age", "8")]
    )
    assert "Estate ragazzi a Corbetta" in after.text

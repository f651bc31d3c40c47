"""scripts/rasa_server.py replaces Rasa's validation of the action server's answers with one that builds the
validator once: it must accept and refuse exactly what Rasa's own validation does."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

ROOT = Path(__file__).resolve().parents[2]

VALID: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "comune", "value": "Corbetta"}], "responses": [{"text": "ciao"}]},
    {"responses": [{"text": "x", "buttons": [{"title": "Dettagli", "payload": "/show_service"}]}]},
]
INVALID: list[dict[str, Any]] = [
    {"events": "not a list"},
    {"events": [{"name": "comune"}]},  # an event without its type
    {"events": [{"event": 3}]},
    {"responses": "ciao"},
]


def _launcher() -> Any:
    spec = importlib.util.spec_from_file_location("rasa_server", ROOT / "scripts" / "rasa_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stock_and_cached() -> Iterator[tuple[RemoteAction, Any]]:
    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))
    original = RemoteAction._validate_action_result
    try:
        _launcher().install()
        assert RemoteAction._validate_action_result is not original
        yield action, original
    finally:
        RemoteAction._validate_action_result = original  # type: ignore[method-assign]


@pytest.mark.parametrize("answer", VALID)
def test_valid_answers_pass_both(stock_and_cached: tuple[RemoteAction, Any], answer: dict[str, Any]) -> None:
    action, original = stock_and_cached
    assert original(action, answer) is True
    assert action._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", INVALID)
def test_invalid_answers_are_still_refused(
    stock_and_cached: tuple[RemoteAction, Any], answer: dict[str, Any]
) -> None:
    action, original = stock_and_cached
    with pytest.raises(ValidationError) as stock:
        original(action, answer)
    with pytest.raises(ValidationError) as cached:
        action._validate_action_result(answer)
    assert cached.value.message == stock.value.message
    assert "Failed to validate Action server response" in cached.value.message

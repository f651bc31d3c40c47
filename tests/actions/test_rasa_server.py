"""scripts/rasa_server.py replaces Rasa's validation of the action server's answers with one that builds the
validator once: it must accept and refuse exactly what Rasa's own validation does."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.cli.arguments.run import add_server_arguments
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

ROOT = Path(__file__).resolve().parents[2]

VALID: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"responses": []},
    {
        "events": [
            {"event": "user", "text": "ciao", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
            {"event": "action", "name": "action_answer", "timestamp": None},
            {"event": "bot", "text": "ciao", "data": {"custom": {"meta": {"topic": None}}}},
            {"event": "followup", "name": "action_listen"},
        ]
    },
    {"events": [{"event": "slot", "name": "comune", "value": "Corbetta"}], "responses": [{"text": "ciao"}]},
    {"responses": [{"text": "x", "buttons": [{"title": "Dettagli", "payload": "/show_service"}]}]},
]
INVALID: list[dict[str, Any]] = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": "comune", "value": "Corbetta", "timestamp": "later"}]},
    {"events": [{"event": "user", "text": "ciao", "parse_data": {"entities": [{"entity": "town"}]}}]},
    {"events": [{"event": "slot", "name": "comune", "value": "Corbetta"}, "not an event"]},
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


@pytest.mark.parametrize(("answer", "valid"), [(a, True) for a in VALID] + [(a, False) for a in INVALID])
def test_the_quick_check_agrees_with_the_whole_schema(answer: dict[str, Any], valid: bool) -> None:
    quick = _launcher().quick_check(RemoteAction.action_response_format_spec())
    assert quick(answer) is valid


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


SECRET = "0123456789abcdef0123456789abcdef"


def test_the_secret_comes_from_the_environment_and_becomes_rasas_jwt_secret() -> None:
    args = _launcher().rasa_argv(["run", "--enable-api", "-p", "5005"], {"RASA_TOKEN": SECRET})
    assert args == [
        "rasa",
        "run",
        "--enable-api",
        "-p",
        "5005",
        "--jwt-secret",
        SECRET,
        "--jwt-method",
        "HS256",
    ]
    # Rasa's own parser takes them: the secret reaches Rasa's server, not the process's command line
    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    parsed, _ = parser.parse_known_args(args[2:])
    assert parsed.jwt_secret == SECRET and parsed.auth_token is None


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--enable-api", "--auth-token", SECRET],
        ["run", "--enable-api", f"--auth-token={SECRET}"],
        ["run", "--enable-api", "--jwt-secret", SECRET],
    ],
)
def test_a_secret_on_the_command_line_is_refused(argv: list[str]) -> None:
    launcher = _launcher()
    with pytest.raises(launcher.LaunchError, match="on the command line: put the secret in RASA_TOKEN"):
        launcher.rasa_argv(argv, {"RASA_TOKEN": SECRET})


@pytest.mark.parametrize("environ", [{}, {"RASA_TOKEN": ""}, {"RASA_TOKEN": "short-secret"}])
def test_the_api_never_starts_open(environ: dict[str, str]) -> None:
    launcher = _launcher()
    with pytest.raises(launcher.LaunchError, match="RASA_TOKEN is missing or shorter than 32"):
        launcher.rasa_argv(["run", "--enable-api"], environ)

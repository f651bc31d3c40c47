"""scripts/rasa_server.py replaces Rasa's validation of the action server's answers with one that builds the
validator once: it must accept and refuse exactly what Rasa's own validation does."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.cli.arguments.run import add_server_arguments
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from tests.support import rasa_launcher

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


@pytest.fixture
def stock_and_cached() -> Iterator[tuple[RemoteAction, Any]]:
    from rasa import server
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.events import Event

    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))
    original = RemoteAction._validate_action_result
    others = (
        server.validate_events_in_request_body,
        Event.__dict__["resolve_by_type"],
        RulePolicy._prediction_states,
    )
    endpoint = EndpointConfig.session, EndpointConfig.request
    try:
        rasa_launcher().install()  # every patch: the others are undone below, tested on their own
        assert RemoteAction._validate_action_result is not original
        yield action, original
    finally:
        RemoteAction._validate_action_result = original  # type: ignore[method-assign]
        server.validate_events_in_request_body, Event.resolve_by_type, RulePolicy._prediction_states = others
        EndpointConfig.session, EndpointConfig.request = endpoint  # type: ignore[method-assign]


@pytest.mark.parametrize("answer", VALID)
def test_valid_answers_pass_both(stock_and_cached: tuple[RemoteAction, Any], answer: dict[str, Any]) -> None:
    action, original = stock_and_cached
    assert original(action, answer) is True
    assert action._validate_action_result(answer) is True


@pytest.mark.parametrize(("answer", "valid"), [(a, True) for a in VALID] + [(a, False) for a in INVALID])
def test_the_quick_check_agrees_with_the_whole_schema(answer: dict[str, Any], valid: bool) -> None:
    quick = rasa_launcher().quick_check(RemoteAction.action_response_format_spec())
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
    args = rasa_launcher().rasa_argv(["run", "--enable-api", "-p", "5005"], {"RASA_TOKEN": SECRET})
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
    launcher = rasa_launcher()
    with pytest.raises(launcher.LaunchError, match="on the command line: put the secret in RASA_TOKEN"):
        launcher.rasa_argv(argv, {"RASA_TOKEN": SECRET})


@pytest.mark.parametrize("environ", [{}, {"RASA_TOKEN": ""}, {"RASA_TOKEN": "short-secret"}])
def test_the_api_never_starts_open(environ: dict[str, str]) -> None:
    launcher = rasa_launcher()
    with pytest.raises(launcher.LaunchError, match="RASA_TOKEN is missing or shorter than 32"):
        launcher.rasa_argv(["run", "--enable-api"], environ)


class _Request:
    def __init__(self, body: Any) -> None:
        self.json = body


API_EVENTS_VALID: list[Any] = [
    [],
    [{"event": "slot", "name": "comune", "value": "Corbetta"}, {"event": "slot", "name": "age", "value": 7}],
    {"event": "slot", "name": "comune", "value": None},
]
API_EVENTS_INVALID: list[Any] = [
    [{"name": "comune"}],
    [{"event": "slot", "name": "comune", "value": "Corbetta", "timestamp": "later"}],
    "not events",
]


@pytest.fixture
def rasa_api_patched() -> Iterator[tuple[Any, Any]]:
    from rasa import server
    from rasa.shared.core.events import Event

    original = server.validate_events_in_request_body, Event.__dict__["resolve_by_type"]
    try:
        launcher = rasa_launcher()
        launcher.validate_api_events_once()
        launcher.events_by_type_once()
        yield original
    finally:
        server.validate_events_in_request_body = original[0]
        Event.resolve_by_type = original[1]  # type: ignore[method-assign]


@pytest.mark.parametrize("body", API_EVENTS_VALID)
def test_the_apis_valid_events_pass_both(rasa_api_patched: tuple[Any, Any], body: Any) -> None:
    from rasa import server

    assert server.validate_events_in_request_body is not rasa_api_patched[0]
    rasa_api_patched[0](_Request(body))
    server.validate_events_in_request_body(_Request(body))


@pytest.mark.parametrize("body", API_EVENTS_INVALID)
def test_the_apis_invalid_events_get_rasas_own_error(rasa_api_patched: tuple[Any, Any], body: Any) -> None:
    from rasa import server

    with pytest.raises(server.ErrorResponse) as stock:
        rasa_api_patched[0](_Request(body))
    with pytest.raises(server.ErrorResponse) as patched:
        server.validate_events_in_request_body(_Request(body))
    assert patched.value.status == stock.value.status == 400
    assert patched.value.error_info == stock.value.error_info


def test_every_event_type_resolves_to_rasas_own_class(rasa_api_patched: tuple[Any, Any]) -> None:
    from rasa.shared.core.events import Event, SlotSet
    from rasa.shared.utils.common import all_subclasses

    stock = rasa_api_patched[1].__func__
    for cls in all_subclasses(Event):
        name = getattr(cls, "type_name", None)
        if isinstance(name, str):
            assert Event.resolve_by_type(name) is stock(name)
            assert Event.resolve_by_type(name) is stock(name)  # the second time from the table
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")


@pytest.fixture
def kept_connections() -> Iterator[None]:
    original = EndpointConfig.session, EndpointConfig.request
    try:
        rasa_launcher().keep_connections()
        yield
    finally:
        EndpointConfig.session, EndpointConfig.request = original  # type: ignore[method-assign]


async def _action_server(port: int, peers: list[Any]) -> Any:
    from aiohttp import web

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"echo": (await request.json())["n"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def test_calls_share_one_connection_and_survive_a_restart_of_the_server(kept_connections: None) -> None:
    import asyncio
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])

    async def scenario() -> None:
        peers: list[Any] = []
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        runner = await _action_server(port, peers)
        answers = [await endpoint.request(json={"n": n}, method="post") for n in range(3)]
        assert answers == [{"echo": 0}, {"echo": 1}, {"echo": 2}]
        assert len(set(peers)) == 1  # one client port: one connection for the three calls
        await runner.cleanup()  # the action server restarts: the kept connection is closed under us
        runner = await _action_server(port, peers)
        assert await endpoint.request(json={"n": 3}, method="post") == {"echo": 3}
        assert len(set(peers)) == 2
        await runner.cleanup()
        await endpoint.session().session.close()

    asyncio.run(scenario())

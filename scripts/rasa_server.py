"""Start Rasa (the same arguments as the ``rasa`` command) with the secret of its HTTP API taken from the
environment, and the action server's answers validated by a validator built once. `make run`
(scripts/run.sh), the systemd unit, the Docker image and the end-to-end tests start Rasa through this file.

The secret: Rasa protects its HTTP API (``/conversations``, ``/status``, ``/model``...) with a JSON Web
Token when started with ``--jwt-secret``; the gateway signs one with the same secret and sends it in an
``Authorization: Bearer`` header (bot/assistant/rasa.py). A secret on a command line can be read by every
local user with ``ps``, so here it is read from ``RASA_TOKEN`` in the environment (systemd: the unit's
``EnvironmentFile``, mode 600; `make run`: ``var/rasa_token``, mode 600) and handed to Rasa's argument
parser inside this process; ``/proc/<pid>/cmdline`` never holds it. ``--auth-token`` (a token in the query
string, which access logs keep) and ``--jwt-secret`` on the command line are refused.

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate(result, schema)``
(``RemoteAction._validate_action_result``). That function first checks the *schema itself* against the
JSON Schema meta-schema, on every call, and then builds a new validator. The schema never changes, so the
check is wasted work, and it was the biggest single cost of a Rasa turn here: py-spy on the Rasa server
under load put 53 % of its busy samples in ``check_schema`` (bench/load/run.py, profile section).

Here the validator is built (and the schema checked) once, and every answer is still validated the same
way, with the same error message when it does not match (tests/actions/test_rasa_server.py); a valid
answer is recognised sooner by :func:`quick_check`, each event against the alternative for its own type.
Rasa's CPU per message went from about 85 ms to about 32 ms (bench/load/rasa_validation_ab.py,
bench/RESULTS.md). Usage,
in the Rasa environment::

    RASA_TOKEN=... .venv-rasa/bin/python scripts/rasa_server.py run --enable-api --model models/...

``--plain`` first (``scripts/rasa_server.py --plain run ...``): Rasa's own validation, for the benchmarks'
"before".

If a Rasa upgrade renames what is replaced here, :func:`install` fails loudly at start-up rather than
silently running unvalidated.
"""

from __future__ import annotations

import functools
import os
import sys
from http import HTTPStatus
from typing import Any

SECRET_ENV = "RASA_TOKEN"
JWT_METHOD = "HS256"  # what the gateway signs with (bot/assistant/rasa.py)
SECRET_OPTIONS = ("--auth-token", "--jwt-secret", "--jwt-private-key")


class LaunchError(Exception):
    """Rasa must not start this way; the message says why."""


def rasa_argv(argv: list[str], environ: dict[str, str]) -> list[str]:
    """The ``rasa`` command's arguments for ``argv``, with the API's secret from ``environ`` added."""
    for arg in argv:
        if arg.split("=", 1)[0] in SECRET_OPTIONS:
            raise LaunchError(f"{arg.split('=', 1)[0]} on the command line: put the secret in {SECRET_ENV}")
    if argv[:1] != ["run"] or "--enable-api" not in argv:
        return ["rasa", *argv]
    secret = environ.get(SECRET_ENV, "").strip()
    if len(secret) < 32:  # RFC 7518: an HS256 key of at least 256 bits
        raise LaunchError(f"{SECRET_ENV} is missing or shorter than 32 characters (openssl rand -hex 32)")
    return ["rasa", *argv, "--jwt-secret", secret, "--jwt-method", JWT_METHOD]


def checked_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator of ``schema``, the schema itself checked against its meta-schema once."""
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def install() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.core.actions import action as rasa_action
    from rasa.shared.constants import DOCS_BASE_URL

    for name in ("_validate_action_result", "action_response_format_spec"):
        if not hasattr(rasa_action.RemoteAction, name):
            raise RuntimeError(f"this Rasa has no RemoteAction.{name}: update scripts/rasa_server.py")

    @functools.lru_cache(maxsize=1)
    def validator() -> Any:
        return checked_validator(rasa_action.RemoteAction.action_response_format_spec())

    quick = quick_check(rasa_action.RemoteAction.action_response_format_spec())

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        if quick(result):
            return True
        error = best_match(validator().iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    rasa_action.RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    validate_api_events_once()
    events_by_type_once()
    rules_on_recent_turns()
    keep_connections()


def validate_api_events_once() -> None:
    """Rasa's HTTP API checks the events of ``POST`` and ``PUT /conversations/<id>/tracker/events`` with
    ``jsonschema.validate``, which checks the schema itself against the meta-schema on every call: 70-80 %
    of those calls' CPU (py-spy), and the gateway makes both when it starts a person's new conversation
    (bot/conversation/conversations.py). Here the validator is built once; the same events are refused with
    the same error."""
    import jsonschema
    from jsonschema.exceptions import best_match
    from rasa import server

    if not hasattr(server, "validate_events_in_request_body") or not hasattr(server, "EVENTS_SCHEMA"):
        raise RuntimeError("this Rasa has no server.validate_events_in_request_body: update rasa_server.py")
    validator = checked_validator(server.EVENTS_SCHEMA)

    def validate_events_in_request_body(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        error = best_match(validator.iter_errors(events))
        if error is None:
            return
        assert isinstance(error, jsonschema.ValidationError)
        raise server.ErrorResponse(
            HTTPStatus.BAD_REQUEST,
            "BadRequest",
            f"Failed to validate the events format. "
            f"For more information about the format visit the docs. Error: {error}",
            help_url=server._docs("/pages/http-api"),
        ) from error

    server.validate_events_in_request_body = validate_events_in_request_body


def events_by_type_once() -> None:
    """Rasa finds an event's class by walking every subclass of ``Event`` for each event it reads (from
    the database, from the action server): a third of the CPU of reading a conversation back (py-spy).
    Here each type's class is looked up once; a type not seen yet still goes through Rasa's own walk."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def rules_on_recent_turns() -> None:
    """Rasa's RulePolicy turns a conversation's whole session into states on every prediction, two or three
    times a message, to match rules of two or three turns: the cost grew with the conversation (19 % of
    Rasa's busy samples at 60 messages). A rule is matched against the last states only (past a rule's
    length, ``_is_rule_applicable`` accepts any state), so here the states are made from the conversation's
    last few turns: the rules' longest, and two more, cut at an ``action_listen`` as Rasa's own
    MemoizationPolicy cuts (``_trim_tracker_by_max_history``). Only where the recent turns decide: no
    active loop (form) and no slot that steers the conversation; otherwise the whole session, as Rasa
    does. The server only: training is Rasa's own. tests/assistant/test_rules_on_recent_turns.py compares
    the predictions with Rasa's on long conversations."""
    from rasa.core.policies import memoization, rule_policy

    policy = rule_policy.RulePolicy
    for name in ("_prediction_states", "_rule_key_to_state"):
        if not hasattr(policy, name):
            raise RuntimeError(f"this Rasa has no RulePolicy.{name}: update scripts/rasa_server.py")
    if not hasattr(memoization, "_trim_tracker_by_max_history"):
        raise RuntimeError("this Rasa has no memoization._trim_tracker_by_max_history: update rasa_server.py")
    original = policy._prediction_states

    def window(self: Any) -> int:
        """The rules' longest, in turns, and two more; 0 (every turn) when there are no rules."""
        lookups = [lookup for lookup in (self.lookup or {}).values() if isinstance(lookup, dict)]
        longest = max((len(self._rule_key_to_state(key)) for lookup in lookups for key in lookup), default=0)
        return longest + 2 if longest else 0

    def _prediction_states(
        self: Any,
        tracker: Any,
        domain: Any,
        use_text_for_last_user_input: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> Any:
        turns = self.__dict__.get("_recent_turns")
        if turns is None:
            steering = any(slot.influence_conversation for slot in domain.slots)
            turns = self.__dict__["_recent_turns"] = 0 if steering else window(self)
        if turns and tracker.active_loop_name is None:
            tracker = memoization._trim_tracker_by_max_history(tracker, turns)
        return original(self, tracker, domain, use_text_for_last_user_input, rule_only_data)

    policy._prediction_states = _prediction_states  # type: ignore[method-assign]


# Under the action server's keep-alive (Sanic's KEEP_ALIVE_TIMEOUT, 5 s), so that the client never
# reuses a connection the server is closing.
KEEPALIVE_SECONDS = 4.0


class _Kept:
    """``async with endpoint.session() as s`` on a session that outlives the block."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: object) -> bool:
        return False


def keep_connections() -> None:
    """Rasa opens a new HTTP session, so a new TCP connection, for every call to the action server
    (``EndpointConfig.request``): 7 % of Rasa's busy samples under load went to making connections. Here
    each endpoint keeps one session per event loop, its connections kept alive a little less than the
    server keeps them. A call that finds its kept connection closed by the server (it restarted) is sent
    once more, on a new one."""
    import asyncio

    import aiohttp
    from rasa.utils import endpoints

    for name in ("session", "request"):
        if not hasattr(endpoints.EndpointConfig, name):
            raise RuntimeError(f"this Rasa has no EndpointConfig.{name}: update scripts/rasa_server.py")
    original_request = endpoints.EndpointConfig.request

    def session(self: Any) -> _Kept:
        loop = asyncio.get_running_loop()
        kept = self.__dict__.get("_kept_session")
        if kept is None or kept[0] is not loop or kept[1].closed:
            basic = self.basic_auth
            made = aiohttp.ClientSession(
                headers=self.headers,
                auth=aiohttp.BasicAuth(basic["username"], basic["password"]) if basic else None,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            )
            kept = self.__dict__["_kept_session"] = (loop, made)
        return _Kept(kept[1])

    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original_request(self, *args, **kwargs)
        except aiohttp.ServerDisconnectedError:
            return await original_request(self, *args, **kwargs)

    endpoints.EndpointConfig.session = session  # type: ignore[method-assign]
    endpoints.EndpointConfig.request = request  # type: ignore[method-assign]


def quick_check(schema: dict[str, Any]) -> Any:
    """The same verdict as the whole schema on a valid answer, in a seventh of the time.

    Each event must match exactly one of the schema's ``oneOf`` alternatives, and each alternative names
    its event type (``"event": {"const": "slot"}``): an alternative of another type cannot match. So an
    event is checked against the alternatives of its own type only (and any that names none), and the rest
    of the answer against the schema without the ``oneOf``. An answer this refuses is checked again by
    the whole schema, which has the last word and gives Rasa's error message. With the linear model,
    jsonschema walking the 23 alternatives for every event was 14 % of Rasa's busy samples under load."""
    import copy

    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    rest = copy.deepcopy(schema)
    try:
        alternatives = rest["properties"]["events"]["items"].pop("oneOf")
    except (KeyError, TypeError) as exc:
        raise RuntimeError("Rasa's action answer schema changed: update scripts/rasa_server.py") from exc
    whole = cls(rest)
    by_type: dict[Any, list[Any]] = {}
    for alternative in alternatives:
        named = alternative.get("properties", {}).get("event", {})
        by_type.setdefault(named.get("const") if "const" in named else None, []).append(cls(alternative))
    unnamed = by_type.pop(None, [])

    def check(result: Any) -> bool:
        if not whole.is_valid(result):
            return False
        for event in result.get("events") or []:
            fits = by_type.get(event.get("event"), []) + unnamed
            if sum(1 for alternative in fits if alternative.is_valid(event)) != 1:
                return False
        return True

    return check


def main() -> None:
    argv = sys.argv[1:]
    plain = argv[:1] == ["--plain"]
    try:
        args = rasa_argv(argv[1:] if plain else argv, dict(os.environ))
    except LaunchError as exc:
        sys.exit(f"scripts/rasa_server.py: {exc}")
    os.environ.pop(SECRET_ENV, None)  # nothing Rasa starts inherits it
    if not plain:
        install()
    from rasa.__main__ import main as rasa_main

    sys.argv = args  # Rasa's argument parser reads these; /proc/<pid>/cmdline keeps what was exec'd
    rasa_main()


if __name__ == "__main__":
    main()

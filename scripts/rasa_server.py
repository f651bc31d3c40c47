"""Start Rasa (the same arguments as the ``rasa`` command) with the action server's answers validated by a
validator built once. `make run` (scripts/run.sh) and the end-to-end tests start Rasa through this file.

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate(result, schema)``
(``RemoteAction._validate_action_result``). That function first checks the *schema itself* against the
JSON Schema meta-schema, on every call, and then builds a new validator. The schema never changes, so the
check is wasted work, and it was the biggest single cost of a Rasa turn here: py-spy on the Rasa server
under load put 53 % of its busy samples in ``check_schema`` (bench/load/run.py, profile section).

Here the validator is built (and the schema checked) once, and every answer is still validated the same
way, with the same error message when it does not match (tests/actions/test_rasa_server.py). Rasa's CPU per
message went from about 85 ms to about 32 ms (bench/load/rasa_validation_ab.py, bench/RESULTS.md). Usage,
in the Rasa environment::

    .venv-rasa/bin/python scripts/rasa_server.py run --enable-api --auth-token ... --model models/...

If a Rasa upgrade renames what is replaced here, :func:`install` fails loudly at start-up rather than
silently running unvalidated.
"""

from __future__ import annotations

import functools
import sys
from typing import Any


def install() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions import action as rasa_action
    from rasa.shared.constants import DOCS_BASE_URL

    for name in ("_validate_action_result", "action_response_format_spec"):
        if not hasattr(rasa_action.RemoteAction, name):
            raise RuntimeError(f"this Rasa has no RemoteAction.{name}: update scripts/rasa_server.py")

    @functools.lru_cache(maxsize=1)
    def validator() -> Any:
        schema = rasa_action.RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
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


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()

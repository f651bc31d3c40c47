"""What the gateway (``bot/``, Python 3.11) and the Rasa actions (``actions/``, Python 3.10) agree on.

The standard library only: both environments import it.

* The reply ``meta``: every answer of the actions carries ``{"meta": {...}}`` in its custom payload,
  with the fields of :data:`FIELDS`. The actions build it with :func:`build_meta`; the gateway reads it
  with :func:`read_meta`.
* The names both sides spell: the intent that asks for a person, and its button payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

META_KEY = "meta"  # the key of the custom payload that carries the meta

REQUEST_HUMAN_INTENT = "request_human"  # the intent (nlu/domain.yml) that asks for a person
REQUEST_HUMAN_PAYLOAD = f"/{REQUEST_HUMAN_INTENT}"  # the payload of the button that asks for one


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[type, ...]  # the types its value may have; NoneType when it may be null
    default: Any  # its value when an action does not give it
    means: str


_NULL = type(None)
FIELDS: tuple[Field, ...] = (
    Field("intent", (str, _NULL), None, "the intent Rasa predicted for the message"),
    Field("confidence", (float, int, _NULL), None, "its confidence, 0-1"),
    Field("topic", (str, _NULL), None, "topic id (knowledge/data/topics.yml) of the answer"),
    Field("territory", (str, _NULL), None, "territory id the conversation is about"),
    Field("comune", (str, _NULL), None, "canonical name of the town the conversation is about"),
    Field("service_ids", (list,), [], "ids of the services the answer shows"),
    Field("handoff", (bool,), False, "the answer hands the chat to a person"),
    Field("fallback", (bool,), False, "the assistant did not understand"),
    Field("referral", (str, _NULL), None, "id of the referral (referrals.yml) the answer gives"),
    Field("clarify", (list,), [], "topic ids a clarifying question offers"),
)
META_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
_BY_NAME = {f.name: f for f in FIELDS}
_TEXT_LISTS = ("service_ids", "clarify")  # lists of texts


def _fits(name: str, value: Any) -> bool:
    types = _BY_NAME[name].types
    if isinstance(value, bool) and bool not in types:
        return False  # True is an int in Python, not a confidence
    if not isinstance(value, types):
        return False
    if name in _TEXT_LISTS:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return True


def build_meta(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The meta of one answer: every field of the contract, in its order, those not given at their
    default (null, an empty list, false). A name outside the contract, or a value of the wrong type,
    raises ValueError: the actions' tests catch it before the gateway sees it."""
    unknown = [name for name in fields if name not in _BY_NAME]
    if unknown:
        raise ValueError(f"not fields of the reply meta: {', '.join(unknown)}")
    meta: dict[str, Any] = {}
    for spec in FIELDS:
        value = fields.get(spec.name, spec.default)
        if not _fits(spec.name, value):
            raise ValueError(f"meta field {spec.name!r}: {value!r} is not of the contract's type")
        meta[spec.name] = list(value) if isinstance(value, list) else value
    return meta


def read_meta(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The meta as the gateway received it: the fields given, each contract field of the wrong type
    set to null; fields the contract does not know are kept (a newer action server may send more)."""
    meta = dict(raw)
    for name, value in raw.items():
        if name in _BY_NAME and value is not None and not _fits(name, value):
            meta[name] = None
    return meta

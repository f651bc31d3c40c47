"""Support for family caregivers: respite services and help desks."""

from __future__ import annotations

from actions.context import Request
from actions.reply import Answer
from actions.services import list_answer
from knowledge import KnowledgeBase

TOPIC = "caregiver_support"


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    return list_answer(kb, req)

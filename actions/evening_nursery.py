"""Nurseries open in the evening and on Saturday morning."""

from __future__ import annotations

from actions.context import Request
from actions.reply import Answer
from actions.services import list_answer
from knowledge import KnowledgeBase

TOPIC = "evening_nursery"


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    # Nurseries are all for 0-3 years: the child's age does not narrow them, so it is never asked.
    return list_answer(kb, req)

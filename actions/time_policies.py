"""Time-saving services (errands, ironing, deliveries, company concierge) and town time plans."""

from __future__ import annotations

from actions.context import Request
from actions.reply import Answer
from actions.services import list_answer
from knowledge import KnowledgeBase

TOPIC = "time_policies"


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    if not req.kinds:
        req.kinds = ("time_saving",)
    return list_answer(kb, req)

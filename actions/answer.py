"""action_answer: every question about services, dates, welfare and the project, and every
follow-up ("e quanto costa?", "Abbiategrasso", "ha 7 anni")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import (
    caregiver_support,
    company_welfare,
    evening_nursery,
    project_info,
    school_closure,
    time_policies,
)
from actions.clarify import ask_or_none, settle_topic
from actions.context import Request, read_request
from actions.kb import knowledge
from actions.referrals import exclusive_referral
from actions.reply import Answer, send
from actions.services import attribute_answer, detail_answer, page_answer, place_label
from knowledge import KnowledgeBase

TOPICS: dict[str, Callable[[KnowledgeBase, Request], Answer]] = {
    "school_closure": school_closure.answer,
    "evening_nursery": evening_nursery.answer,
    "caregiver_support": caregiver_support.answer,
    "time_policies": time_policies.answer,
    "company_welfare": company_welfare.answer,
    "project_info": project_info.answer,
}


def decide(kb: KnowledgeBase, req: Request) -> Answer:
    if req.intent == "show_service":
        service = kb.service(req.service_id or "")
        if service is not None:
            return detail_answer(kb, service)
        return Answer(
            text="Questo servizio non è più nell'elenco. Dimmi cosa cerchi e ti mostro quelli di adesso.",
            buttons=project_info.menu_buttons(),
        )

    if req.intent == "show_more":
        return more_answer(kb, req)

    if (
        req.attribute
        and not req.topic_from_message
        and not req.place_from_message
        and not req.age_from_message
        and not req.period_from_message
    ):
        services = [s for s in (kb.service(i) for i in req.previous_service_ids) if s is not None]
        if services:
            return attribute_answer(kb, req, services)

    if req.topic in TOPICS:
        return TOPICS[req.topic](kb, req)

    # Only a town, an age or a period, and nothing to attach it to yet.
    what = place_label(kb, req) if (req.comune or req.territories) else ""
    text = f"Cosa cerchi {what}?" if what else "Cosa cerchi? Scegli un argomento o scrivimelo con parole tue."
    return Answer(
        text=text,
        buttons=project_info.menu_buttons(),
        events=[
            SlotSet("comune", req.comune),
            SlotSet("territory", req.territory),
            SlotSet("age", req.age),
            SlotSet("period", req.period.encode() if req.period else None),
            SlotSet("attribute", req.attribute),
            SlotSet("pending", "topic"),
        ],
    )


def more_answer(kb: KnowledgeBase, req: Request) -> Answer:
    results = list(req.results)
    services = [s for s in (kb.service(i) for i in results) if s is not None]
    if not services or req.shown >= len(services):
        return Answer(
            text="Non ho altri servizi da mostrarti per questa ricerca. Vuoi cercare qualcos'altro?",
            buttons=project_info.menu_buttons(),
            topic=req.topic,
        )
    return page_answer(kb, req, services, req.shown, [], [])


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        kb = knowledge()
        referral = exclusive_referral(kb, tracker)
        if referral is not None:  # "il bonus nido vale per il nido serale?" is for INPS
            return send(dispatcher, tracker, referral)
        req = read_request(kb, tracker)
        question = ask_or_none(req, tracker)
        if question is not None:
            return send(dispatcher, tracker, question)
        settle_topic(req, tracker)
        return send(dispatcher, tracker, decide(kb, req))

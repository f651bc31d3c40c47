"""What the alliance is, who runs what in the person's territory, and what the assistant can do."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.context import Request
from actions.reply import Answer, button
from actions.services import contacts
from knowledge import KnowledgeBase

TOPIC = "project_info"

CAN_DO = (
    "Posso aiutarti con:\n"
    "- centri estivi e servizi quando le scuole sono chiuse, e le date delle vacanze scolastiche;\n"
    "- nidi aperti la sera e il sabato mattina;\n"
    "- aiuti per chi assiste un familiare anziano o disabile;\n"
    "- servizi salvatempo;\n"
    "- welfare aziendale per dipendenti e piccole imprese.\n"
    "Scrivimi cosa cerchi e il tuo comune, per esempio: «centri estivi a Magenta per luglio»."
)


def menu_buttons() -> list[dict[str, str]]:
    return [
        button("Centri estivi", "choose_topic", topic="ask_summer_camp"),
        button("Vacanze scolastiche", "choose_topic", topic="ask_school_calendar"),
        button("Nido sera e sabato", "choose_topic", topic="ask_nursery"),
        button("Caregiver", "choose_topic", topic="ask_caregiver"),
        button("Welfare aziendale", "choose_topic", topic="ask_welfare_employee"),
        button("Parla con una persona", "request_human"),
    ]


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    infos = [s for s in kb.services if s.topic == TOPIC]
    parts = [s.description or s.title for s in infos[:1]]
    ids = [s.id for s in infos[:1]]
    if req.territory and req.territory in kb.territories:
        territory = kb.territories[req.territory]
        partners = [p for p in kb.partners.values() if req.territory in p.territories and not p.default]
        if partners:
            parts.append(f"Nel {territory.name}:\n" + "\n".join(f"- {p.name}: {p.role}" for p in partners))
    parts.append(CAN_DO)
    default = kb.default_partner
    if default:
        parts.append(f"Per informazioni sul progetto: {default.name}, {contacts(default.contacts)}.")
    return Answer(
        text="\n\n".join(p.strip() for p in parts if p),
        buttons=menu_buttons(),
        topic=TOPIC,
        service_ids=ids,
        events=[SlotSet("topic", TOPIC), SlotSet("kind", "project_info"), SlotSet("pending", None)],
    )

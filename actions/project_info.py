"""What the alliance is, who runs what in the person's territory, and what the assistant can do."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.context import Request
from actions.parsing import has_word, named_place
from actions.reply import Answer, button
from actions.services import contacts
from knowledge import KnowledgeBase
from knowledge import italian as fmt
from knowledge.contract import REQUEST_HUMAN_INTENT

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
        button("Parla con una persona", REQUEST_HUMAN_INTENT),
    ]


# "Il progetto vale anche per chi abita a …?", "quali comuni coprite?"
COVERAGE_WORDS = (
    "vale anche", "vale per", "anche per chi", "per chi abita", "per chi vive", "abito", "abita", "abitiamo",
    "vivo", "residente", "residenti", "copre", "coprite", "coperto", "coperta", "rientra", "rientro",
    "fa parte", "quali comuni", "che comuni", "quali paesi", "che zona", "quale zona", "dove operate",
    "dove siete", "zone",
)


def ambiti(kb: KnowledgeBase) -> str:
    return fmt.join_and([t.name for t in kb.territories.values()])


def coverage_line(kb: KnowledgeBase, req: Request) -> str:
    """Yes, with the ambito, for a town or ambito the message names; for any other place named, or
    a question about where the project works, the four ambiti it covers."""
    territory = kb.territories.get(req.territory or "") if req.place_from_message else None
    if territory is not None and req.comune:
        return f"Sì, il progetto vale anche {fmt.to_place(req.comune)}, che è {fmt.in_area(territory.name)}."
    if territory is not None:
        of_area = fmt.in_area(territory.name).replace("nel", "del", 1)
        return f"Sì, il progetto vale in tutti i comuni {of_area}."
    n = len(kb.territories)
    covered = f"Il progetto vale per chi vive o lavora nei comuni di {n} ambiti: {ambiti(kb)}."
    place = named_place(req.raw_text) if req.raw_text else None
    if place is not None and not req.place_from_message:
        return f"No, {place} non è tra i comuni dell'Alleanza. {covered}"
    if has_word(req.text, COVERAGE_WORDS):
        return covered
    return ""


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    infos = [s for s in kb.services if s.topic == TOPIC]
    coverage = coverage_line(kb, req)
    parts = [coverage] if coverage else []
    parts += [s.description or s.title for s in infos[:1]]
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

"""Lists of services for a topic, a place, an age and a period: the shared logic behind summer
camps, nurseries, caregiver support and time-saving services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rasa_sdk.events import SlotSet

from actions.context import AGE_KINDS, Request
from actions.reply import Answer, button
from knowledge import KnowledgeBase
from knowledge import italian as fmt
from knowledge.contract import REQUEST_HUMAN_INTENT
from knowledge.service_text import (  # noqa: F401  (contacts: imported from here by other actions)
    SAMPLE_NOTE,
    contacts,
    describe_long,
    describe_short,
    enrolment,
    when,
    where,
)

PAGE = 3


def kind_label(kb: KnowledgeBase, topic: str | None, kinds: Sequence[str]) -> str:
    """'centri estivi', 'nidi serali e nidi del sabato'."""
    names = []
    for k in kinds:
        t = kb.topics.get(topic or "")
        kind = t.kinds.get(k) if t else None
        if kind is not None:
            names.append(kind.name.lower())
    return fmt.join_and(names) or "servizi"


def place_label(kb: KnowledgeBase, req: Request) -> str:
    if req.comune:
        t = kb.territories.get(req.territory or "")
        return fmt.to_place(req.comune) + (" e " + fmt.in_area(t.name) if t else "")
    if req.territories:
        names = [kb.territories[t].name for t in req.territories if t in kb.territories]
        return fmt.join_and([fmt.in_area(n) for n in names])
    return "in tutti i territori"


def search(kb: KnowledgeBase, req: Request, *, use_age: bool = True, use_period: bool = True) -> list:
    kinds = [k for k in req.kinds if k in _service_kinds(kb, req.topic)]
    between = (req.period.start, req.period.end) if (use_period and req.period) else None
    # The child's age narrows services for children; for nurseries only when given with the question
    # (a parent may ask for the summer camp of one child and the nursery of another).
    for_children = bool(set(req.kinds) & AGE_KINDS) or (
        req.age_from_message and bool(set(req.kinds) & {"evening_nursery", "saturday_nursery"})
    )
    age = int(req.age) if (use_age and for_children and req.age is not None) else None
    territories: Sequence[str | None] = req.territories or (None,)
    found: dict[str, object] = {}
    for territory in territories:
        for s in kb.find_services(
            topic=req.topic,
            kinds=kinds or None,
            territory=territory,
            town=req.comune if territory == req.territory else None,
            age=age,
            between=between,
        ):
            found.setdefault(s.id, s)
    today = date.today()
    current = [s for s in found.values() if s.period.end >= today]
    return current


def _service_kinds(kb: KnowledgeBase, topic: str | None) -> set[str]:
    t = kb.topics.get(topic or "")
    return set(t.kinds) if t else set()


def ask_town(kb: KnowledgeBase, req: Request) -> Answer:
    what = kind_label(kb, req.topic, req.kinds)
    return Answer(
        text=f"Per cercarti {what} mi serve il comune: in quale comune abiti o lavori?",
        topic=req.topic,
        events=_context_events(req) + [SlotSet("pending", "town"), SlotSet("asked", req.asked + ["town"])],
    )


def ask_age(kb: KnowledgeBase, req: Request) -> Answer:
    buttons = [
        button("Fino a 5 anni", "inform", age=4),
        button("6-10 anni", "inform", age=8),
        button("11-14 anni", "inform", age=12),
    ]
    return Answer(
        text="Quanti anni ha tuo figlio o tua figlia? Così ti mostro solo i servizi adatti.",
        buttons=buttons,
        topic=req.topic,
        events=_context_events(req) + [SlotSet("pending", "age"), SlotSet("asked", req.asked + ["age"])],
    )


def _context_events(req: Request) -> list:
    return [
        SlotSet("topic", req.topic),
        SlotSet("kind", ",".join(req.kinds) if req.kinds else None),
        SlotSet("comune", req.comune),
        SlotSet("territory", req.territory),
        SlotSet("age", req.age),
        SlotSet("period", req.period.encode() if req.period else None),
        SlotSet("attribute", req.attribute),
    ]


ATTRIBUTE_LINES = {
    "cost": lambda kb, s: s.cost,
    "dates": lambda kb, s: fmt.day_range(s.period.start, s.period.end),
    "hours": lambda kb, s: ", ".join(
        p for p in (fmt.days(s.schedule.days), fmt.hours(s.schedule.hours), s.schedule.notes) if p
    ),
    "enrolment": lambda kb, s: enrolment(s),
    "ages": lambda kb, s: fmt.ages(s.ages.min, s.ages.max) if s.ages else "per tutte le età",
    "contacts": lambda kb, s: contacts(s.contacts),
    "where": lambda kb, s: where(kb, s),
}
ATTRIBUTE_INTRO = {
    "cost": "Ecco quanto costa",
    "dates": "Ecco le date",
    "hours": "Ecco giorni e orari",
    "enrolment": "Ecco come iscriversi",
    "ages": "Ecco le età",
    "contacts": "Ecco i contatti",
    "where": "Ecco dove si svolge",
}


ATTRIBUTE_INTRO_FOUND = {
    "cost": "ecco quanto costano",
    "dates": "ecco le date",
    "hours": "ecco giorni e orari",
    "enrolment": "ecco come iscriversi",
    "ages": "ecco le età",
    "contacts": "ecco i contatti",
    "where": "ecco dove si svolgono",
}
ATTRIBUTE_MAX = 5  # services answered in one attribute answer; the rest through "Mostra l'elenco"


def attribute_answer(
    kb: KnowledgeBase,
    req: Request,
    services: list,
    head: str | None = None,
    events: list | None = None,
    note: str = "",
) -> Answer:
    """One attribute (cost, dates, ...) of the services: those just shown, or those a search found
    (then `head` names what and where, and "Mostra l'elenco" pages through all of them)."""
    attr = req.attribute or "cost"
    found = list(services)
    services = found[:ATTRIBUTE_MAX]
    if head is not None and len(services) > 1:
        intro = f"{head}, {ATTRIBUTE_INTRO_FOUND[attr]}:"
    else:  # one service: its title says what and where
        intro = ATTRIBUTE_INTRO[attr] + (":" if len(services) > 1 else f" — {services[0].title}:")
    intro = note + intro
    if len(services) == 1:
        text = f"{intro} {ATTRIBUTE_LINES[attr](kb, services[0])}"
    else:
        text = intro + "\n" + "\n".join(f"- {s.title}: {ATTRIBUTE_LINES[attr](kb, s)}" for s in services)
    if any(s.sample for s in services):
        text += "\n" + SAMPLE_NOTE
    buttons = [button(f"Dettagli: {s.title}", "show_service", service_id=s.id) for s in services[:PAGE]]
    slots = [SlotSet("service_ids", [s.id for s in services]), SlotSet("pending", None)]
    slots.append(SlotSet("attribute", attr))
    if head is not None:
        slots += [SlotSet("results", [s.id for s in found]), SlotSet("shown", 0.0)]
        if len(found) > len(services):
            buttons.append(button(f"Mostra l'elenco ({len(found)})", "show_more"))
    return Answer(
        text=text,
        buttons=buttons,
        topic=services[0].topic,
        service_ids=[s.id for s in services],
        events=(events or []) + slots,
    )


def detail_answer(kb: KnowledgeBase, s) -> Answer:
    return Answer(
        text=describe_long(kb, s),
        buttons=[button("Parla con una persona", REQUEST_HUMAN_INTENT)],
        topic=s.topic,
        service_ids=[s.id],
        events=[SlotSet("service_ids", [s.id]), SlotSet("topic", s.topic), SlotSet("pending", None)],
    )


def relaxed_search(kb: KnowledgeBase, req: Request) -> tuple[list, list[str]]:
    """The services that fit; when none, those that fit without the period, the age, or both, with
    the filters dropped ("a luglio", "per 4 anni")."""
    services = search(kb, req)
    if services:
        return services, []
    period = [req.period.label] if req.period is not None else []
    age = [f"per {int(req.age)} anni"] if req.age is not None else []
    tries = [(False, True, period), (True, False, age), (False, False, period + age)]
    for use_period, use_age, dropped in tries:
        if dropped:
            services = search(kb, req, use_age=use_age, use_period=use_period)
            if services:
                return services, dropped
    return [], []


def list_answer(kb: KnowledgeBase, req: Request) -> Answer:
    """The services that fit, asking once for the town (and the age where it matters)."""
    if not req.territories and "town" not in req.asked:
        return ask_town(kb, req)
    if (
        req.age is None
        and not req.attribute  # "quanto costa?" is answered for every age, service by service
        and "age" not in req.asked
        and set(req.kinds) & AGE_KINDS
        and len({(s.ages.min, s.ages.max) for s in search(kb, req) if s.ages}) > 1
    ):
        return ask_age(kb, req)

    services, relaxed = relaxed_search(kb, req)
    what = kind_label(kb, req.topic, req.kinds)
    where_ = place_label(kb, req)
    events = _context_events(req) + [SlotSet("pending", None)]
    if not services:
        partner = kb.partner_for(req.topic, req.territory) if req.territory else None
        text = f"Non ho trovato {what} {where_}."
        if partner:
            text += f" Puoi chiedere {fmt.to_place(partner.name)}: {contacts(partner.contacts)}."
        return Answer(
            text=text,
            buttons=[
                button("Parla con una persona", REQUEST_HUMAN_INTENT),
                button("Cosa sai fare?", "ask_project_info"),
            ],
            topic=req.topic,
            events=events + [SlotSet("service_ids", []), SlotSet("results", []), SlotSet("shown", 0)],
        )
    if req.attribute in ATTRIBUTE_LINES:
        head = f"{what[:1].upper()}{what[1:]} {filters_label(kb, req, relaxed)}"
        note = f"Non ho trovato {what} {' e '.join(relaxed)}. " if relaxed else ""
        return attribute_answer(kb, req, services, head=head, events=events, note=note)
    return page_answer(kb, req, services, 0, relaxed, events)


def filters_label(kb: KnowledgeBase, req: Request, relaxed: list[str]) -> str:
    """'a Magenta e nel Magentino, per 8 anni a luglio': the filters a search used."""
    filters = [place_label(kb, req)]
    if req.age is not None and not any("anni" in r for r in relaxed) and set(req.kinds) & AGE_KINDS:
        filters.append(f"per {int(req.age)} anni")
    label = ", ".join(filters)
    if req.period is not None and not any(req.period.label in r for r in relaxed):
        label += " " + req.period.label
    return label


def page_answer(
    kb: KnowledgeBase, req: Request, services: list, start: int, relaxed: list[str], events: list
) -> Answer:
    page = services[start : start + PAGE]
    what = kind_label(kb, req.topic, req.kinds)
    filters = [filters_label(kb, req, relaxed)]
    if start:
        head = f"Altri {what} {' '.join(filters)}:"
    elif relaxed:
        head = f"Non ho trovato {what} {' e '.join(relaxed)}, ma {place_label(kb, req)} ci sono questi:"
    else:
        n = len(services)
        head = (
            f"Ho trovato {n} {'servizio' if n == 1 else what} {' '.join(filters)}:"
            if n > 1
            else (f"Ho trovato questo servizio {' '.join(filters)}:")
        )
    body = "\n\n".join(describe_short(kb, s) for s in page)
    text = f"{head}\n\n{body}"
    if any(s.sample for s in page):
        text += f"\n\n{SAMPLE_NOTE}"
    buttons = [button(f"Dettagli: {s.title}", "show_service", service_id=s.id) for s in page]
    remaining = len(services) - (start + len(page))
    if remaining > 0:
        buttons.append(button(f"Mostra altri ({remaining})", "show_more"))
    ids = [s.id for s in page]
    return Answer(
        text=text,
        buttons=buttons,
        topic=req.topic,
        service_ids=ids,
        events=events
        + [
            SlotSet("service_ids", ids),
            SlotSet("results", [s.id for s in services]),
            SlotSet("shown", float(start + len(page))),
        ],
    )

"""Services while schools are closed, and the school calendar (closure dates by rite)."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.context import Request
from actions.reply import Answer, button
from actions.services import list_answer
from knowledge import KnowledgeBase
from knowledge import italian as fmt

TOPIC = "school_closure"


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    if "calendar" in req.kinds:
        return calendar_answer(kb, req)
    if not req.kinds:
        return menu_answer(req)
    return list_answer(kb, req)


def menu_answer(req: Request) -> Answer:
    return Answer(
        text="Quando le scuole sono chiuse: cosa ti interessa?",
        buttons=[
            button("Centri estivi", "choose_topic", topic="ask_summer_camp"),
            button("Vacanze di Natale, Pasqua, Carnevale", "choose_topic", topic="ask_holiday_camp"),
            button("Doposcuola e compiti", "choose_topic", topic="ask_after_school"),
            button("Pre e post scuola", "choose_topic", topic="ask_pre_post_school"),
            button("Date di chiusura delle scuole", "choose_topic", topic="ask_school_calendar"),
        ],
        topic=TOPIC,
        events=[SlotSet("topic", TOPIC), SlotSet("pending", "topic")],
    )


def calendar_answer(kb: KnowledgeBase, req: Request) -> Answer:
    town = kb.towns.get(req.comune or "")
    rite = town.rite if town else "ambrosian"
    year = kb.school_year
    kind = req.period.closure_kind if req.period else None
    closures = [c for c in kb.closures if c.rite in ("all", rite)]
    if kind and kind != "summer":
        chosen = [c for c in closures if c.kind == kind]
        lines = [
            f"- {c.name}: {fmt.day_range(c.start, c.end)}" + (f". {c.notes}" if c.notes else "")
            for c in chosen
        ]
        other = [c for c in kb.closures if c.kind == kind and c.rite not in ("all", rite)]
        head = f"Scuole chiuse {req.period.label} nell'anno {year.id.replace('-', '/')}"
        head += f" (rito {'ambrosiano' if rite == 'ambrosian' else 'romano'}" + (
            f", come {fmt.to_place(town.name)})" if town else ", quello di quasi tutti i comuni della zona)"
        )
        text = head + ":\n" + "\n".join(lines)
        if other:
            text += (
                "\nNei comuni di rito "
                + ("romano" if rite == "ambrosian" else "ambrosiano")
                + ": "
                + "; ".join(fmt.day_range(c.start, c.end) for c in other)
                + "."
            )
    else:
        lines = [
            f"- {c.name}: {fmt.day_range(c.start, c.end)}"
            for c in closures
            if c.kind != "holiday" or c.start.weekday() < 5
        ]
        text = (
            f"Calendario scolastico {year.region} {year.id.replace('-', '/')}:\n"
            f"- Inizio: {fmt.day(year.start)} (scuola dell'infanzia {fmt.day(year.start_infanzia)})\n"
            f"- Fine: {fmt.day(year.end)} (scuola dell'infanzia {fmt.day(year.end_infanzia)})\n"
            + "\n".join(lines)
        )
    text += (
        "\n\nOgni scuola chiude anche per il santo patrono e può decidere fino a 3 giorni in più: "
        "controlla il calendario della tua scuola."
    )
    if year.verify:
        text += " Date calcolate dalle regole regionali, da confermare quando esce il calendario ufficiale."
    buttons = [
        button("Servizi durante le vacanze", "ask_holiday_camp"),
        button("Centri estivi", "ask_summer_camp"),
    ]
    return Answer(
        text=text,
        buttons=buttons,
        topic=TOPIC,
        events=[
            SlotSet("topic", TOPIC),
            SlotSet("kind", "calendar"),
            SlotSet("comune", req.comune),
            SlotSet("territory", req.territory),
            SlotSet("period", req.period.encode() if req.period else None),
            SlotSet("service_ids", []),
            SlotSet("attribute", None),
            SlotSet("pending", None),
        ],
    )

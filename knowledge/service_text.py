"""A service of the knowledge base as text a person reads: the short line of a list, the whole card, and
its parts (when, where, enrolment, contacts). Shared by the actions' answers and the partners' console
(its replies prepared from the knowledge base); the standard library only, as the rest of ``knowledge``."""

from __future__ import annotations

from datetime import date

from knowledge import italian as fmt
from knowledge.model import KnowledgeBase
from knowledge.records import Contacts, Service

SAMPLE_NOTE = "Dati di esempio: verifica sempre con il gestore prima di iscriverti."


def describe_short(kb: KnowledgeBase, s: Service) -> str:
    provider = kb.partners.get(s.provider)
    lines = [f"{s.title}" + (f" ({provider.name})" if provider else "")]
    lines.append("Quando: " + when(s))
    if s.ages is not None:
        lines.append("Età: " + fmt.ages(s.ages.min, s.ages.max))
    lines.append("Costo: " + s.cost)
    lines.append("Iscrizioni: " + enrolment(s))
    return "\n".join(lines)


def when(s: Service) -> str:
    parts = [fmt.day_range(s.period.start, s.period.end)]
    sched = ", ".join(p for p in (fmt.days(s.schedule.days), fmt.hours(s.schedule.hours)) if p)
    if sched:
        parts.append(sched)
    return "; ".join(parts)


def enrolment(s: Service) -> str:
    text = s.enrolment.how.rstrip(".")
    if s.enrolment.opens and s.enrolment.opens > date.today():
        text += f", dal {fmt.day(s.enrolment.opens, weekday=False)}"
    if s.enrolment.deadline:
        text += f", entro {fmt.day(s.enrolment.deadline)}"
    return text + "."


def contacts(c: Contacts) -> str:
    return ", ".join(x for x in (c.phone and f"tel. {c.phone}", c.email, c.web) if x)


def describe_long(kb: KnowledgeBase, s: Service) -> str:
    provider = kb.partners.get(s.provider)
    lines = [s.title]
    if s.description:
        lines.append(s.description)
    if provider:
        lines.append(f"Gestore: {provider.name}")
    lines.append("Dove: " + where(kb, s))
    lines.append("Quando: " + when(s))
    if s.schedule.notes:
        lines.append("Orari: " + s.schedule.notes)
    if s.ages is not None:
        lines.append("Età: " + fmt.ages(s.ages.min, s.ages.max))
    lines.append("Costo: " + s.cost)
    lines.append("Iscrizioni: " + enrolment(s))
    if s.open_to_non_residents is not None:
        lines.append("Aperto anche ai non residenti." if s.open_to_non_residents else "Solo per i residenti.")
    lines.append("Contatti: " + contacts(s.contacts))
    if s.sample:
        lines.append(SAMPLE_NOTE)
    return "\n".join(lines)


def where(kb: KnowledgeBase, s: Service) -> str:
    if s.towns:
        return fmt.join_and(list(s.towns))
    names = [kb.territories[t].name for t in s.territories if t in kb.territories]
    return "tutti i comuni del " + fmt.join_and(names)

"""The needs dashboard's tables: aggregate counts only, and every row that counts fewer than
:data:`MIN_PEOPLE` different people is left out (how many were left out is said), so no row can point
at a person. No ``aiohttp`` and no SQL here: rows in (:mod:`bot.store.insights`), tables out.

* ``conversazioni``: week by week, per topic and territory, people and answers.
* ``domanda_non_soddisfatta``: answers about a topic in a territory (neither a handoff, a referral, a
  clarifying question nor a misunderstanding) that showed no service, or none for the age and the period
  asked (:func:`bot.insights.asked.covered`), ranked by people;
* ``non_soddisfatta_eta_periodo``: the same by territory, age band and period ("centri estivi ad agosto
  nel Magentino, 6-10 anni"), ranked.
* ``non_capiti``: week by week, people who were not understood and people asked to clarify.
* ``rinvii``: referrals to other offices, per referral.
* ``passaggi``: handoffs per partner: tickets, minutes to the claim, to the first reply of an operator and
  to the close (medians), ratings.

A scope limits what a manager sees: her partner's territories and topics, and its tickets; the alliance
sees everything (scope None).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from bot.handoff.office_hours import ROME
from bot.insights.asked import age_band, period_name
from bot.store.insights import AnswerMeta, TicketTimes

MIN_PEOPLE = 5


@dataclass(frozen=True)
class Scope:
    partner_id: str
    territories: frozenset[str]
    topics: frozenset[str]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str | int, ...], ...]
    hidden: int  # rows left out: fewer than MIN_PEOPLE people

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


def week(moment: datetime) -> str:
    year, number, _ = moment.astimezone(ROME).isocalendar()
    return f"{year}-W{number:02d}"


Names = Callable[[str | None], str]


def _grouped(
    name: str,
    title: str,
    columns: Sequence[str],
    answers: Iterable[AnswerMeta],
    key: Callable[[AnswerMeta], tuple[str, ...] | None],
    *,
    rank: bool = False,
) -> Table:
    people: dict[tuple[str, ...], set[int]] = defaultdict(set)
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for a in answers:
        k = key(a)
        if k is None:
            continue
        people[k].add(a.user_id)
        counts[k] += 1
    shown = [(k, len(p), counts[k]) for k, p in people.items() if len(p) >= MIN_PEOPLE]
    shown.sort(key=(lambda r: (-r[1], r[0])) if rank else (lambda r: r[0]))
    rows: tuple[tuple[str | int, ...], ...] = tuple((*k, n, c) for k, n, c in shown)
    return Table(name, title, (*columns, "persone", "risposte"), rows, len(people) - len(shown))


def in_scope(meta: Mapping[str, Any], scope: Scope | None) -> bool:
    """Whether an answer (its meta) is about the scope's territories and topics (always, scope None)."""
    if scope is None:
        return True
    territory, topic = meta.get("territory"), meta.get("topic")
    return territory in scope.territories and (topic is None or topic in scope.topics)


def tables(
    answers: Sequence[AnswerMeta],
    tickets: Sequence[TicketTimes],
    scope: Scope | None,
    topic_name: Names,
    territory_name: Names,
    referral_name: Names,
    partner_name: Callable[[str], str],
    covered: Callable[[AnswerMeta], bool] = lambda a: True,
) -> list[Table]:
    """``covered``: whether the knowledge base has a service for the age and the period the answer's
    person asked about (:func:`bot.insights.asked.covered`)."""
    mine = [a for a in answers if in_scope(a.meta, scope)]
    m = lambda a, f: a.meta.get(f)  # noqa: E731

    def unmet(a: AnswerMeta) -> tuple[str, ...] | None:
        if not m(a, "topic") or not m(a, "territory"):
            return None
        if m(a, "handoff") or m(a, "fallback") or m(a, "referral") or m(a, "clarify"):
            return None
        if m(a, "service_ids") and covered(a):
            return None
        return (topic_name(m(a, "topic")), territory_name(m(a, "territory")))

    def unmet_when(a: AnswerMeta) -> tuple[str, ...] | None:
        found = unmet(a)
        return None if found is None else (*found, age_band(a.age), period_name(a.period))

    out = [
        _grouped(
            "conversazioni",
            "Domande per tema e territorio, settimana per settimana",
            ("settimana", "tema", "territorio"),
            mine,
            lambda a: (week(a.at), topic_name(m(a, "topic")), territory_name(m(a, "territory"))),
        ),
        _grouped(
            "domanda_non_soddisfatta",
            "Domanda non soddisfatta: temi e territori senza un servizio da proporre",
            ("tema", "territorio"),
            mine,
            unmet,
            rank=True,
        ),
        _grouped(
            "non_soddisfatta_eta_periodo",
            "Domanda non soddisfatta per età e periodo: cosa è stato chiesto dove non c'era un servizio",
            ("tema", "territorio", "età", "periodo"),
            mine,
            unmet_when,
            rank=True,
        ),
        _grouped(
            "non_capiti",
            "Messaggi non capiti e domande di chiarimento, settimana per settimana",
            ("settimana", "esito"),
            mine,
            lambda a: (
                (week(a.at), "non capito")
                if m(a, "fallback")
                else (week(a.at), "chiarimento")
                if m(a, "clarify")
                else None
            ),
        ),
        _grouped(
            "rinvii",
            "Rinvii ad altri uffici",
            ("ufficio",),
            mine,
            lambda a: (referral_name(m(a, "referral")),) if m(a, "referral") else None,
            rank=True,
        ),
    ]
    out.append(
        _handoffs([t for t in tickets if scope is None or t.partner_id == scope.partner_id], partner_name)
    )
    return out


def _minutes(pairs: Iterable[tuple[datetime, datetime | None]]) -> str:
    values = [(end - start).total_seconds() / 60 for start, end in pairs if end is not None]
    return f"{median(values):.0f}" if len(values) >= MIN_PEOPLE else "—"


def _handoffs(tickets: Sequence[TicketTimes], partner_name: Callable[[str], str]) -> Table:
    by_partner: dict[str, list[TicketTimes]] = defaultdict(list)
    for t in tickets:
        by_partner[t.partner_id].append(t)
    rows = []
    for partner_id, mine in sorted(by_partner.items()):
        if len({t.user_id for t in mine}) < MIN_PEOPLE:
            continue
        ratings = [t.rating for t in mine if t.rating is not None]
        rated = f"{sum(ratings) / len(ratings):.1f}" if len(ratings) >= MIN_PEOPLE else "—"
        rows.append(
            (
                partner_name(partner_id),
                len(mine),
                _minutes((t.created_at, t.assigned_at) for t in mine),
                _minutes((t.created_at, t.first_reply_at) for t in mine),
                _minutes((t.created_at, t.closed_at) for t in mine),
                rated,
                len(ratings) if len(ratings) >= MIN_PEOPLE else "—",
            )
        )
    return Table(
        "passaggi",
        "Passaggi a un operatore, per ente",
        (
            "ente",
            "richieste",
            "minuti fino alla presa (mediana)",
            "minuti fino alla prima risposta (mediana)",
            "minuti fino alla chiusura (mediana)",
            "voto medio",
            "voti",
        ),
        tuple(rows),
        len(by_partner) - len(rows),
    )
